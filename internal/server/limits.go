package server

import (
	"context"
	"errors"
	"io"
	"net"
	"net/http"
	"os"
	"strings"
	"sync"
	"syscall"
	"time"
)

// Limits protect the server from clients that hold its resources without
// using them: bodies that trickle, and more connections than the process
// has file descriptors for.
type Limits struct {
	// BodyTimeout is how long a request body may go without bringing
	// MinBodyProgress bytes (or its end); then the request is dropped.
	// Zero: 30 s.
	BodyTimeout time.Duration
	// MaxConnections caps the connections served at once. Zero: the
	// file-descriptor limit less what the process needs for files.
	MaxConnections int
	// MaxClientConnections caps the connections of one client address.
	// Zero: no cap.
	MaxClientConnections int
}

// MinBodyProgress is what a body must bring in every BodyTimeout: 64 KiB
// in 30 s is 2 KiB/s, slower than any real client's link.
const MinBodyProgress = 64 << 10

// fdHeadroom is the file descriptors kept for the database, blob files
// and uploads when the connection cap comes from the descriptor limit.
const fdHeadroom = 256

func (l Limits) bodyTimeout() time.Duration {
	if l.BodyTimeout <= 0 {
		return 30 * time.Second
	}
	return l.BodyTimeout
}

func (l Limits) maxConnections() int {
	if l.MaxConnections > 0 {
		return l.MaxConnections
	}
	var rl syscall.Rlimit
	if err := syscall.Getrlimit(syscall.RLIMIT_NOFILE, &rl); err != nil || rl.Cur > 1<<30 {
		return 1 << 16
	}
	return max(int(rl.Cur)-fdHeadroom, 64)
}

// reserveOf is the part of max connections kept for health checks and
// requests with credentials: a sixteenth, and at least 8.
func reserveOf(n int) int { return max(n/16, min(8, n/2)) }

// errSlowBody is the read error of a body that stopped moving.
var errSlowBody = errors.New("the request body stopped arriving: it must bring 64 KiB, or end, in every body-timeout")

// guardedBody makes a request body keep moving: the connection's read
// deadline is pushed forward each time MinBodyProgress bytes arrive, so
// a trickling client is cut off after one window while a slow real one
// never is. The deadline is cleared when the body ends; if the handler
// stops reading early it stays, so net/http's drain of the rest is
// bounded too.
type guardedBody struct {
	io.ReadCloser
	rc       *http.ResponseController
	window   time.Duration
	progress int64
	ended    bool
}

func newGuardedBody(w http.ResponseWriter, body io.ReadCloser, window time.Duration) *guardedBody {
	g := &guardedBody{ReadCloser: body, rc: http.NewResponseController(w), window: window}
	g.rc.SetReadDeadline(time.Now().Add(window))
	return g
}

func (g *guardedBody) Read(p []byte) (int, error) {
	n, err := g.ReadCloser.Read(p)
	g.progress += int64(n)
	if err != nil {
		if isTimeout(err) {
			return n, errSlowBody
		}
		if err == io.EOF && !g.ended {
			g.ended = true
			g.rc.SetReadDeadline(time.Time{})
		}
		return n, err
	}
	if g.progress >= MinBodyProgress {
		g.progress = 0
		g.rc.SetReadDeadline(time.Now().Add(g.window))
	}
	return n, nil
}

func isTimeout(err error) bool {
	var ne net.Error
	return errors.As(err, &ne) && ne.Timeout() || errors.Is(err, os.ErrDeadlineExceeded)
}

// IsSlowBody reports whether err is a body read that the body timeout
// ended.
func IsSlowBody(err error) bool { return errors.Is(err, errSlowBody) }

// connLimiter is a listener that caps connections, in all and per client
// address. A connection past the cap is answered 503 and closed at once.
// Connections accepted into the last reserveOf(max) places are marked:
// only health checks and requests with credentials are served on them.
type connLimiter struct {
	net.Listener
	max, reserve, perClient int

	mu       sync.Mutex
	total    int
	byClient map[string]int
}

func newConnLimiter(ln net.Listener, l Limits) *connLimiter {
	m := l.maxConnections()
	return &connLimiter{Listener: ln, max: m, reserve: reserveOf(m), perClient: l.MaxClientConnections, byClient: map[string]int{}}
}

func (l *connLimiter) Accept() (net.Conn, error) {
	for {
		c, err := l.Listener.Accept()
		if err != nil {
			return nil, err
		}
		client := clientAddress(c.RemoteAddr())
		l.mu.Lock()
		refused := l.total >= l.max || l.perClient > 0 && l.byClient[client] >= l.perClient
		inReserve := false
		if !refused {
			l.total++
			l.byClient[client]++
			inReserve = l.total > l.max-l.reserve
		}
		l.mu.Unlock()
		if refused {
			refuse(c)
			continue
		}
		return &limitedConn{Conn: c, l: l, client: client, reserve: inReserve}, nil
	}
}

func (l *connLimiter) release(client string) {
	l.mu.Lock()
	l.total--
	if l.byClient[client]--; l.byClient[client] <= 0 {
		delete(l.byClient, client)
	}
	l.mu.Unlock()
}

// refuse answers a connection over the caps without reading from it.
func refuse(c net.Conn) {
	c.SetWriteDeadline(time.Now().Add(100 * time.Millisecond))
	io.WriteString(c, "HTTP/1.1 503 Service Unavailable\r\nConnection: close\r\nContent-Type: text/plain; charset=utf-8\r\nRetry-After: 1\r\nContent-Length: 52\r\n\r\ntoo many connections: close some and try again soon\n")
	c.Close()
}

func clientAddress(a net.Addr) string {
	if ta, ok := a.(*net.TCPAddr); ok {
		return ta.IP.String()
	}
	host, _, err := net.SplitHostPort(a.String())
	if err != nil {
		return a.String()
	}
	return host
}

// limitedConn gives its place back when it closes.
type limitedConn struct {
	net.Conn
	l       *connLimiter
	client  string
	reserve bool
	once    sync.Once
}

func (c *limitedConn) Close() error {
	c.once.Do(func() { c.l.release(c.client) })
	return c.Conn.Close()
}

// ReadFrom passes the TCP connection's own ReadFrom through: net/http
// sends a response copied from a file with it, and so with sendfile(2).
// Embedding net.Conn alone would hide it, and every blob would be copied
// through user space.
func (c *limitedConn) ReadFrom(r io.Reader) (int64, error) {
	if rf, ok := c.Conn.(io.ReaderFrom); ok {
		return rf.ReadFrom(r)
	}
	return io.Copy(struct{ io.Writer }{c.Conn}, r)
}

type reserveKey struct{}

// connContext marks the requests of connections in the reserve.
func connContext(ctx context.Context, c net.Conn) context.Context {
	if lc, ok := c.(*limitedConn); ok && lc.reserve {
		return context.WithValue(ctx, reserveKey{}, true)
	}
	return ctx
}

// servedFromReserve reports whether a request may be served on a
// connection in the reserve: health checks and requests that carry
// credentials (checked later as usual) are.
func servedFromReserve(r *http.Request) bool {
	if r.URL.Path == "/healthz" || r.URL.Path == "/readyz" {
		return true
	}
	if r.Header.Get("Authorization") != "" {
		return true
	}
	q := r.URL.RawQuery
	return strings.Contains(q, "X-Amz-Signature=") || strings.Contains(q, "X-Ecrd-Signature=")
}

// guard applies the limits to each request: a connection in the reserve
// serves only what servedFromReserve allows, and every body must keep
// moving.
func (s *Server) guard(next http.Handler) http.Handler {
	window := s.limits.bodyTimeout()
	return http.HandlerFunc(func(w http.ResponseWriter, r *http.Request) {
		if r.Context().Value(reserveKey{}) != nil && !servedFromReserve(r) {
			w.Header().Set("Connection", "close")
			w.Header().Set("Retry-After", "1")
			http.Error(w, "the server is at its connection limit: only requests with credentials are served", http.StatusServiceUnavailable)
			return
		}
		if r.Body != nil && r.Body != http.NoBody {
			r.Body = newGuardedBody(w, r.Body, window)
		}
		next.ServeHTTP(w, r)
	})
}
