package delivery_test

import (
	"context"
	"encoding/json"
	"errors"
	"io"
	"net"
	"net/http"
	"net/http/httptest"
	"net/url"
	"strings"
	"sync"
	"testing"
	"time"

	"github.com/ecrd/ecrd/internal/events/delivery"
	"github.com/ecrd/ecrd/internal/lease"
	"github.com/ecrd/ecrd/internal/metadata"
	"github.com/ecrd/ecrd/internal/metadata/sqlite"
	"github.com/ecrd/ecrd/internal/outbox"
	"github.com/ecrd/ecrd/internal/testutil"
)

var (
	ctx    = context.Background()
	scopeA = metadata.Scope{Account: "111122223333", Region: "us-east-1"}
	scopeB = metadata.Scope{Account: "444455556666", Region: "us-east-1"}
)

func ruleARN(s metadata.Scope, name string) string {
	return "arn:aws:events:" + s.Region + ":" + s.Account + ":rule/" + name
}

// typeMatcher is the tests' own pattern language: a pattern is the
// detail-type an event must have, or "" for every event.
type typeMatcher string

func (m typeMatcher) MatchValue(ev map[string]any) bool {
	return m == "" || ev["detail-type"] == string(m)
}

func compile(p string) (delivery.Matcher, error) {
	if strings.HasPrefix(p, "{") {
		return nil, errors.New("not a pattern of the tests")
	}
	return typeMatcher(p), nil
}

// rules is a Source whose rules a test sets.
type rules struct {
	mu sync.Mutex
	rs []delivery.Rule
}

func (r *rules) DeliveryRules(context.Context) ([]delivery.Rule, error) {
	r.mu.Lock()
	defer r.mu.Unlock()
	return append([]delivery.Rule(nil), r.rs...), nil
}

func (r *rules) set(rs ...delivery.Rule) {
	r.mu.Lock()
	r.rs = rs
	r.mu.Unlock()
}

// newStore opens a store with the tests' accounts.
func newStore(t testing.TB, dir string) *sqlite.Store {
	t.Helper()
	s := testutil.SQLite(t, dir)
	for _, a := range []string{scopeA.Account, scopeB.Account} {
		err := s.Update(ctx, func(tx metadata.Tx) error {
			err := tx.CreateAccount(ctx, metadata.Account{ID: a, CreatedAt: time.Now()})
			if errors.Is(err, metadata.ErrExists) {
				return nil
			}
			return err
		})
		if err != nil {
			t.Fatal(err)
		}
	}
	return s
}

// appendEvent records an event as the registry would, and returns its
// ID.
func appendEvent(t testing.TB, s metadata.Store, scope metadata.Scope, detailType string, detail any) int64 {
	t.Helper()
	ev, err := outbox.New(scope, time.Now(), outbox.SourceECR, detailType, nil, detail)
	if err != nil {
		t.Fatal(err)
	}
	if err := s.Update(ctx, func(tx metadata.Tx) error { return tx.AppendEvent(ctx, ev) }); err != nil {
		t.Fatal(err)
	}
	id, err := s.LastEventID(ctx)
	if err != nil {
		t.Fatal(err)
	}
	return id
}

// received is a request the webhook got.
type received struct {
	Method, Path string
	Query        url.Values
	Header       http.Header
	Body         []byte
	Seq          int // the event's "seq" detail field, if any
	At           time.Time
}

// webhook is the user's endpoint: a real HTTP server that records what
// it receives and answers with what respond says (200 by default).
type webhook struct {
	mu      sync.Mutex
	got     []received
	respond func(r received, n int) int // n: requests so far, this one included
	arrived chan struct{}
	srv     *httptest.Server
	URL     string
}

func newWebhook(t testing.TB) *webhook {
	w := &webhook{arrived: make(chan struct{}, 1000)}
	w.srv = httptest.NewServer(w)
	w.URL = w.srv.URL
	t.Cleanup(w.srv.Close)
	return w
}

func (w *webhook) ServeHTTP(rw http.ResponseWriter, r *http.Request) {
	body, _ := io.ReadAll(r.Body)
	rec := received{Method: r.Method, Path: r.URL.Path, Query: r.URL.Query(), Header: r.Header.Clone(), Body: body, At: time.Now()}
	var env struct {
		Detail struct {
			Seq int `json:"seq"`
		} `json:"detail"`
	}
	if json.Unmarshal(body, &env) == nil {
		rec.Seq = env.Detail.Seq
	}
	w.mu.Lock()
	w.got = append(w.got, rec)
	n := len(w.got)
	respond := w.respond
	w.mu.Unlock()
	status := http.StatusOK
	if respond != nil {
		status = respond(rec, n)
	}
	rw.WriteHeader(status)
	select {
	case w.arrived <- struct{}{}:
	default:
	}
}

func (w *webhook) setRespond(f func(r received, n int) int) {
	w.mu.Lock()
	w.respond = f
	w.mu.Unlock()
}

func (w *webhook) requests() []received {
	w.mu.Lock()
	defer w.mu.Unlock()
	return append([]received(nil), w.got...)
}

func (w *webhook) seqs() []int {
	var out []int
	for _, r := range w.requests() {
		out = append(out, r.Seq)
	}
	return out
}

// waitFor polls cond until it holds or the test's patience runs out.
func waitFor(t testing.TB, what string, cond func() bool) {
	t.Helper()
	deadline := time.Now().Add(20 * time.Second)
	for !cond() {
		if time.Now().After(deadline) {
			t.Fatalf("timed out waiting for %s", what)
		}
		time.Sleep(5 * time.Millisecond)
	}
}

// engine is a running delivery engine.
type engine struct {
	*delivery.Engine
	cancel context.CancelFunc
	done   chan struct{}
}

func (e *engine) stop() {
	e.cancel()
	<-e.done
}

func fastConfig(s metadata.Store, src delivery.Source, holder string) delivery.Config {
	log := testutil.Logger()
	return delivery.Config{
		Store: s, Source: src, Leases: lease.New(s, holder, time.Now, log), Compile: compile,
		Poll: 10 * time.Millisecond, RetryBase: 5 * time.Millisecond, RetryMax: 20 * time.Millisecond, Log: log,
	}
}

func start(t testing.TB, cfg delivery.Config) *engine {
	t.Helper()
	c, cancel := context.WithCancel(ctx)
	e := &engine{Engine: delivery.New(cfg), cancel: cancel, done: make(chan struct{})}
	go func() {
		defer close(e.done)
		e.Run(c)
	}()
	t.Cleanup(e.stop)
	return e
}

func (e *engine) stats(arn string) delivery.RuleStats {
	for _, r := range e.Stats().Rules {
		if r.Rule == arn {
			return r
		}
	}
	return delivery.RuleStats{}
}

// waitStarted waits until the engine delivers for the rule (its cursor
// is set), so that events appended after are the rule's.
func waitStarted(t testing.TB, s metadata.Store, arn string) {
	t.Helper()
	waitFor(t, "the rule's cursor", func() bool {
		c, err := s.Cursor(ctx, delivery.CursorName(arn))
		return err == nil && c != 0
	})
}

func target(id, url string) delivery.Target {
	return delivery.Target{ID: id, Endpoint: url, Method: http.MethodPost}
}

// pipeListener is an in-memory listener for a real http.Server inside a
// synctest bubble, where loopback sockets would keep its clock from
// moving.
type pipeListener struct {
	conns  chan net.Conn
	closed chan struct{}
	once   sync.Once
}

func newPipeListener() *pipeListener {
	return &pipeListener{conns: make(chan net.Conn), closed: make(chan struct{})}
}

func (l *pipeListener) Accept() (net.Conn, error) {
	select {
	case c := <-l.conns:
		return c, nil
	case <-l.closed:
		return nil, net.ErrClosed
	}
}

func (l *pipeListener) Close() error {
	l.once.Do(func() { close(l.closed) })
	return nil
}

func (l *pipeListener) Addr() net.Addr { return &net.TCPAddr{IP: net.IPv4(127, 0, 0, 1), Port: 80} }

func (l *pipeListener) dial(ctx context.Context, _, _ string) (net.Conn, error) {
	c, s := net.Pipe()
	select {
	case l.conns <- s:
		return c, nil
	case <-l.closed:
		return nil, net.ErrClosed
	case <-ctx.Done():
		return nil, ctx.Err()
	}
}

// newBubbleWebhook serves a webhook on an in-memory listener and returns
// it with the client that reaches it (at http://webhook).
func newBubbleWebhook(t *testing.T) (*webhook, *http.Client) {
	w := &webhook{arrived: make(chan struct{}, 1000)}
	l := newPipeListener()
	srv := &http.Server{Handler: w}
	go srv.Serve(l)
	tr := &http.Transport{DialContext: l.dial, DisableKeepAlives: true}
	t.Cleanup(func() {
		srv.Close()
		tr.CloseIdleConnections()
	})
	w.URL = "http://webhook"
	return w, &http.Client{Transport: tr}
}
