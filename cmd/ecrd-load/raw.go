package main

import (
	"bufio"
	"bytes"
	"context"
	"errors"
	"fmt"
	"net"
	"strconv"
	"strings"
	"time"
)

// With -raw, manifest-get's requests are written, ready-made, on a plain
// TCP connection and each response is read by a minimal parser (status,
// Content-Length, Connection) that allocates nothing per request. A GET
// through net/http costs the client as much CPU as the server spends
// answering it, and on two shared cores that CPU, and the client's own
// scheduling, is part of every latency it reports; wrk avoids both, and
// so does -raw, while the result keeps ecrd-load's percentiles and
// setup.

// rawGetter is one worker's connection to one replica.
type rawGetter struct {
	c    *client
	host string
	req  []byte // the request, as sent
	head bool
	conn net.Conn
	br   *bufio.Reader
}

func newRawGetter(c *client, method, path string) (*rawGetter, error) {
	if !strings.HasPrefix(c.base, "http://") {
		return nil, errors.New("-raw speaks plain http only")
	}
	g := &rawGetter{c: c, host: strings.TrimPrefix(c.base, "http://"), head: method == "HEAD"}
	req := method + " " + path + " HTTP/1.1\r\nHost: " + g.host + "\r\nUser-Agent: ecrd-load\r\nAccept: " + manifestAccept + "\r\n"
	if c.auth != nil {
		req += "Authorization: " + c.auth[0] + "\r\n"
	}
	g.req = []byte(req + "\r\n")
	return g, nil
}

// get sends the request and reads the response, whose body must hold
// want bytes; it returns the body's size (0 for HEAD).
func (g *rawGetter) get(ctx context.Context, want int64) (int64, error) {
	if g.conn == nil {
		var d net.Dialer
		conn, err := d.DialContext(ctx, "tcp", g.host)
		if err != nil {
			return 0, err
		}
		g.conn = conn
		g.br = bufio.NewReaderSize(conn, 16<<10)
	}
	n, closeConn, err := g.roundTrip(want)
	if (err != nil || closeConn) && g.conn != nil {
		g.conn.Close()
		g.conn = nil // the next request dials again
	}
	return n, err
}

func (g *rawGetter) roundTrip(want int64) (int64, bool, error) {
	g.c.requests.Add(1)
	g.c.sent.Add(1)
	g.conn.SetDeadline(time.Now().Add(time.Minute))
	if _, err := g.conn.Write(g.req); err != nil {
		return 0, true, err
	}
	status, length, closeConn, err := readResponseHead(g.br)
	if err != nil {
		return 0, true, err
	}
	if g.head {
		if status != 200 {
			return 0, closeConn, fmt.Errorf("HEAD manifest: status %d", status)
		}
		if length != want {
			return 0, closeConn, fmt.Errorf("HEAD manifest: Content-Length %d, want %d", length, want)
		}
		return 0, closeConn, nil
	}
	if length < 0 {
		return 0, true, fmt.Errorf("GET manifest: status %d without a Content-Length", status)
	}
	if status != 200 {
		msg, _ := g.br.Peek(int(min(length, 512, int64(g.br.Size()))))
		_, err := g.br.Discard(int(length))
		return 0, closeConn || err != nil, fmt.Errorf("GET manifest: status %d: %s", status, strings.TrimSpace(string(msg)))
	}
	if length != want {
		return 0, true, fmt.Errorf("GET manifest: Content-Length %d, want %d", length, want)
	}
	if _, err := g.br.Discard(int(length)); err != nil {
		return 0, true, fmt.Errorf("GET manifest: %w", err)
	}
	return length, closeConn, nil
}

func (g *rawGetter) close() {
	if g.conn != nil {
		g.conn.Close()
	}
}

var (
	headerContentLength = []byte("content-length:")
	headerConnection    = []byte("connection:")
)

// readResponseHead reads an HTTP/1.1 response's status line and header,
// and returns its status, its Content-Length (-1 if none) and whether the
// server closes the connection after it.
func readResponseHead(br *bufio.Reader) (status int, length int64, closeConn bool, err error) {
	line, err := br.ReadSlice('\n')
	if err != nil {
		return 0, -1, true, fmt.Errorf("reading the status line: %w", err)
	}
	// HTTP/1.1 200 OK
	if len(line) < 12 || !bytes.HasPrefix(line, []byte("HTTP/1.")) || line[8] != ' ' {
		return 0, -1, true, fmt.Errorf("not an HTTP/1.x status line: %q", line)
	}
	for _, c := range line[9:12] {
		if c < '0' || c > '9' {
			return 0, -1, true, fmt.Errorf("status line %q: no three-digit status", line)
		}
		status = status*10 + int(c-'0')
	}
	closeConn = line[7] == '0' // HTTP/1.0 closes unless told otherwise
	length = -1
	for {
		line, err = br.ReadSlice('\n')
		if err != nil {
			if errors.Is(err, bufio.ErrBufferFull) {
				err = errors.New("a header line longer than the read buffer")
			}
			return 0, -1, true, fmt.Errorf("reading the header: %w", err)
		}
		line = bytes.TrimRight(line, "\r\n")
		if len(line) == 0 {
			return status, length, closeConn, nil
		}
		switch {
		case hasPrefixFold(line, headerContentLength):
			v := bytes.TrimSpace(line[len(headerContentLength):])
			n, perr := strconv.ParseInt(string(v), 10, 64)
			if perr != nil || n < 0 {
				return 0, -1, true, fmt.Errorf("bad Content-Length %q", v)
			}
			length = n
		case hasPrefixFold(line, headerConnection):
			closeConn = bytes.EqualFold(bytes.TrimSpace(line[len(headerConnection):]), []byte("close"))
		}
	}
}

// hasPrefixFold is bytes.HasPrefix without regard to ASCII case.
func hasPrefixFold(s, prefix []byte) bool {
	return len(s) >= len(prefix) && bytes.EqualFold(s[:len(prefix)], prefix)
}
