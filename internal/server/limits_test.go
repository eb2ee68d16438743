package server

import (
	"io"
	"net"
	"net/http"
	"os"
	"path/filepath"
	"strings"
	"sync/atomic"
	"testing"
)

// countingListener hands out TCP connections that count the ReadFrom
// calls net/http makes on them (it sends files with ReadFrom).
type countingListener struct {
	net.Listener
	readFroms *atomic.Int64
}

func (l countingListener) Accept() (net.Conn, error) {
	c, err := l.Listener.Accept()
	if err != nil {
		return nil, err
	}
	return &countingConn{TCPConn: c.(*net.TCPConn), n: l.readFroms}, nil
}

type countingConn struct {
	*net.TCPConn
	n *atomic.Int64
}

func (c *countingConn) ReadFrom(r io.Reader) (int64, error) {
	c.n.Add(1)
	return c.TCPConn.ReadFrom(r)
}

// TestLimitedConnKeepsSendfile: behind the connection limiter, a
// response copied from a file still reaches the TCP connection's
// ReadFrom (sendfile), not a copy through user space.
func TestLimitedConnKeepsSendfile(t *testing.T) {
	path := filepath.Join(t.TempDir(), "blob")
	body := strings.Repeat("x", 1<<20)
	if err := os.WriteFile(path, []byte(body), 0o644); err != nil {
		t.Fatal(err)
	}
	ln, err := net.Listen("tcp", "127.0.0.1:0")
	if err != nil {
		t.Fatal(err)
	}
	var readFroms atomic.Int64
	srv := &http.Server{Handler: http.HandlerFunc(func(w http.ResponseWriter, r *http.Request) {
		f, err := os.Open(path)
		if err != nil {
			t.Error(err)
			return
		}
		defer f.Close()
		w.Header().Set("Content-Length", "1048576")
		io.Copy(w, f)
	})}
	go srv.Serve(newConnLimiter(countingListener{ln, &readFroms}, Limits{MaxConnections: 10}))
	defer srv.Close()
	resp, err := http.Get("http://" + ln.Addr().String() + "/")
	if err != nil {
		t.Fatal(err)
	}
	got, _ := io.ReadAll(resp.Body)
	resp.Body.Close()
	if string(got) != body {
		t.Fatalf("got %d bytes", len(got))
	}
	if readFroms.Load() == 0 {
		t.Fatal("the file went through user space: the limited connection hid the TCP connection's ReadFrom")
	}
}
