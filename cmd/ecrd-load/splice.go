package main

import (
	"bufio"
	"context"
	"errors"
	"fmt"
	"io"
	"net"
	"net/http"
	"os"
	"strings"
	"time"

	"golang.org/x/sys/unix"
)

// With -splice, a pull's GETs are written on a plain TCP connection and
// each blob's body goes from the socket into a pipe and from the pipe to
// /dev/null with splice(2): the bytes never enter the client's memory.
// Any client that reads a body copies it out of the kernel, and on two
// shared cores that copy takes the CPU the server would use: a 1 MB pull
// through net/http cost the client half of the server's CPU. With the
// copy gone the figure is the server's (and the kernel's loopback), which
// is what the pull targets compare.

// spliceGetter is one worker's connection and pipe.
type spliceGetter struct {
	c        *client
	host     string
	conn     *net.TCPConn
	br       *bufio.Reader
	pr, pw   int // the pipe
	devNull  int
	pipeSize int
}

func newSpliceGetter(c *client) (*spliceGetter, error) {
	if !strings.HasPrefix(c.base, "http://") {
		return nil, errors.New("-splice reads plain http only")
	}
	g := &spliceGetter{c: c, host: strings.TrimPrefix(c.base, "http://")}
	var p [2]int
	if err := unix.Pipe2(p[:], unix.O_CLOEXEC); err != nil {
		return nil, fmt.Errorf("pipe: %w", err)
	}
	g.pr, g.pw = p[0], p[1]
	// A larger pipe takes more of a body per splice; the default is 64 KiB.
	g.pipeSize = 64 << 10
	if n, err := unix.FcntlInt(uintptr(g.pw), unix.F_SETPIPE_SZ, 1<<20); err == nil {
		g.pipeSize = n
	}
	null, err := unix.Open(os.DevNull, unix.O_WRONLY|unix.O_CLOEXEC, 0)
	if err != nil {
		return nil, err
	}
	g.devNull = null
	return g, nil
}

// get GETs the blob at path and returns the bytes its body held.
func (g *spliceGetter) get(ctx context.Context, path string, want int64) (int64, error) {
	if g.conn == nil {
		var d net.Dialer
		conn, err := d.DialContext(ctx, "tcp", g.host)
		if err != nil {
			return 0, err
		}
		g.conn = conn.(*net.TCPConn)
		g.br = bufio.NewReaderSize(g.conn, 4<<10)
	}
	n, err := g.roundTrip(path, want)
	if err != nil && g.conn != nil {
		g.conn.Close()
		g.conn = nil
	}
	return n, err
}

func (g *spliceGetter) roundTrip(path string, want int64) (int64, error) {
	g.c.requests.Add(1)
	g.c.sent.Add(1)
	g.conn.SetDeadline(time.Now().Add(5 * time.Minute))
	req := "GET " + path + " HTTP/1.1\r\nHost: " + g.host + "\r\nUser-Agent: ecrd-load\r\n"
	if g.c.auth != nil {
		req += "Authorization: " + g.c.auth[0] + "\r\n"
	}
	if _, err := io.WriteString(g.conn, req+"\r\n"); err != nil {
		return 0, err
	}
	resp, err := http.ReadResponse(g.br, nil)
	if err != nil {
		return 0, fmt.Errorf("GET blob: %w", err)
	}
	if resp.StatusCode != http.StatusOK {
		msg, _ := io.ReadAll(io.LimitReader(resp.Body, 512))
		return 0, fmt.Errorf("GET blob: status %d: %s", resp.StatusCode, strings.TrimSpace(string(msg)))
	}
	if resp.ContentLength != want {
		return 0, fmt.Errorf("GET blob: Content-Length %d, want %d", resp.ContentLength, want)
	}
	// What the header's read took of the body is dropped from the
	// buffer; the rest goes through the pipe.
	buffered, _ := g.br.Discard(int(min(int64(g.br.Buffered()), want)))
	if err := g.splice(want - int64(buffered)); err != nil {
		return 0, fmt.Errorf("GET blob: %w", err)
	}
	if resp.Close {
		g.conn.Close()
		g.conn = nil // the next GET dials again
	}
	return want, nil
}

// close releases the connection and the pipe.
func (g *spliceGetter) close() {
	if g.conn != nil {
		g.conn.Close()
	}
	unix.Close(g.pr)
	unix.Close(g.pw)
	unix.Close(g.devNull)
}

// splice moves n bytes from the socket to /dev/null through the pipe.
func (g *spliceGetter) splice(n int64) error {
	rc, err := g.conn.SyscallConn()
	if err != nil {
		return err
	}
	for n > 0 {
		var moved int64
		var serr error
		if err := rc.Read(func(fd uintptr) bool {
			moved, serr = unix.Splice(int(fd), nil, g.pw, nil, int(min(n, int64(g.pipeSize))), unix.SPLICE_F_MOVE|unix.SPLICE_F_NONBLOCK)
			return serr != unix.EAGAIN
		}); err != nil {
			return err
		}
		if serr != nil {
			return serr
		}
		if moved == 0 {
			return io.ErrUnexpectedEOF
		}
		for out := int64(0); out < moved; {
			m, err := unix.Splice(g.pr, nil, g.devNull, nil, int(moved-out), unix.SPLICE_F_MOVE)
			if err != nil {
				return err
			}
			out += m
		}
		n -= moved
	}
	return nil
}
