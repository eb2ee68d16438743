package browsertest

import (
	"bytes"
	"context"
	"encoding/json"
	"fmt"
	"os"
	"path/filepath"
	"strconv"
	"strings"
	"sync"
	"syscall"
	"testing"
	"time"

	"github.com/chromedp/cdproto/cdp"
	"github.com/chromedp/cdproto/log"
	"github.com/chromedp/cdproto/network"
	"github.com/chromedp/cdproto/runtime"
	"github.com/chromedp/chromedp"
)

// DefaultTimeout bounds each action of a test on a page, and the start of
// the browser and of each tab.
const DefaultTimeout = 30 * time.Second

// DefaultPath is where Debian's chromium package installs its launcher.
const DefaultPath = "/usr/bin/chromium"

// Browser is one running Chromium with its own profile, stopped by the
// cleanup of the test that started it.
type Browser struct {
	// Timeout bounds each action the functions of this package run on the
	// browser's tabs; Start sets it to DefaultTimeout.
	Timeout time.Duration

	root        context.Context // the browser's first tab, left blank
	userDataDir string
	output      *tailBuffer

	mu      sync.Mutex
	console []Message
	opened  int    // tabs opened, for their numbers
	tabs    []*tab // tabs that have started
}

// tab is what the package keeps about one tab: where it is, and the
// main-frame documents it loaded.
type tab struct {
	b    *Browser
	n    int
	ctx  context.Context
	docs map[cdp.FrameID]*network.Response // guarded by b.mu
}

type tabKey struct{}

// Start launches a headless Chromium for the test. It fails the test when
// the browser is missing or does not start.
func Start(t testing.TB) *Browser {
	t.Helper()
	path := os.Getenv("ECRD_CHROMIUM")
	if path == "" {
		path = DefaultPath
	}
	if fi, err := os.Stat(path); err != nil || fi.IsDir() || fi.Mode()&0o111 == 0 {
		t.Fatalf("browsertest: no Chromium at %s (set ECRD_CHROMIUM or run scripts/install-test-tools)", path)
	}

	// Registered before the browser's own cleanup, so removed after the
	// browser and its children are gone.
	tmp := t.TempDir()
	b := &Browser{
		Timeout:     DefaultTimeout,
		userDataDir: filepath.Join(tmp, "profile"),
		output:      &tailBuffer{max: 64 << 10},
	}
	home := filepath.Join(tmp, "home")
	for _, d := range []string{b.userDataDir, home} {
		if err := os.Mkdir(d, 0o700); err != nil {
			t.Fatal(err)
		}
	}

	opts := append(chromedp.DefaultExecAllocatorOptions[:],
		chromedp.ExecPath(path),
		chromedp.Headless,
		chromedp.NoSandbox,
		chromedp.Flag("disable-gpu", true),
		// Nothing may leave the machine: it has no internet, and a
		// request that hangs on a dead network would slow every test.
		chromedp.Flag("disable-quic", true),
		chromedp.NoFirstRun,
		chromedp.Flag("disable-background-networking", true),
		chromedp.Flag("disable-component-update", true),
		chromedp.Flag("disable-sync", true),
		chromedp.UserDataDir(b.userDataDir),
		chromedp.WindowSize(1280, 900),
		// Keep the real home folder out of it (NSS database, caches).
		chromedp.Env("HOME="+home, "XDG_CONFIG_HOME="+filepath.Join(home, ".config"),
			"XDG_CACHE_HOME="+filepath.Join(home, ".cache")),
		chromedp.CombinedOutput(b.output),
	)
	allocCtx, allocCancel := chromedp.NewExecAllocator(context.Background(), opts...)
	root, rootCancel := chromedp.NewContext(allocCtx)
	b.root = root
	t.Cleanup(func() {
		// A graceful close first, so Chromium ends its children itself;
		// then the allocator kills whatever is left and waits for it.
		ctx, cancel := context.WithTimeout(root, 10*time.Second)
		chromedp.Cancel(ctx)
		cancel()
		rootCancel()
		allocCancel()
		if n := killLeftovers(tmp); n > 0 {
			t.Logf("browsertest: killed %d leftover Chromium processes", n)
		}
	})
	// The first run launches the browser, tied to root for its whole life,
	// so it cannot carry a deadline itself.
	if err := waitFor(b.Timeout, func() error { return chromedp.Do(root) }, rootCancel); err != nil {
		t.Fatalf("browsertest: starting %s: %v\n%s", path, err, b.output.String())
	}
	return b
}

// waitFor runs start, which must not be given a deadline, and gives up
// (calling cancel) if it takes longer than d.
func waitFor(d time.Duration, start func() error, cancel func()) error {
	done := make(chan error, 1)
	go func() { done <- start() }()
	select {
	case err := <-done:
		return err
	case <-time.After(d):
		cancel()
		<-done
		return fmt.Errorf("no answer after %v", d)
	}
}

// PID returns the process id of the browser.
func (b *Browser) PID() int {
	return chromedp.FromContext(b.root).Browser.Process().Pid
}

// UserDataDir returns the browser's profile folder.
func (b *Browser) UserDataDir() string { return b.userDataDir }

// NewTab opens a tab in the browser's default profile: every tab NewTab
// opens shares its cookies with the others. The tab closes when the test
// ends.
func (b *Browser) NewTab(t testing.TB) context.Context {
	t.Helper()
	return b.open(t, b.root)
}

// NewIncognito opens a tab in a new browser context, which has no cookies
// or storage of the others: a second user beside those of NewTab. The
// browser context is disposed of with the tab when the test ends.
func (b *Browser) NewIncognito(t testing.TB) context.Context {
	t.Helper()
	return b.open(t, b.root, chromedp.WithNewBrowserContext())
}

// NewSiblingTab opens another tab in the browser context of tab (one of
// this browser's), sharing its cookies.
func (b *Browser) NewSiblingTab(t testing.TB, tab context.Context) context.Context {
	t.Helper()
	if s := tabOf(tab); s == nil || s.b != b {
		t.Fatal("browsertest: NewSiblingTab needs a tab of this browser")
	}
	return b.open(t, tab)
}

func (b *Browser) open(t testing.TB, parent context.Context, opts ...chromedp.ContextOption) context.Context {
	t.Helper()
	b.mu.Lock()
	b.opened++
	s := &tab{b: b, n: b.opened, docs: map[cdp.FrameID]*network.Response{}}
	b.mu.Unlock()

	// The listener sees every event of the tab from its creation, on the
	// goroutine that reads the tab's messages, in order.
	ctx, cancel := chromedp.NewContext(parent, append(opts, chromedp.WithListener(s.listen))...)
	s.ctx = context.WithValue(ctx, tabKey{}, s)
	t.Cleanup(func() {
		if t.Failed() && ctx.Err() == nil {
			if p, err := s.screenshot(t, "failed-tab"+strconv.Itoa(s.n)); err == nil {
				t.Logf("browsertest: tab %d at failure: %s", s.n, p)
			}
		}
		cancel()
	})
	if err := waitFor(b.Timeout, func() error { return chromedp.Do(ctx) }, cancel); err != nil {
		t.Fatalf("browsertest: opening a tab: %v", err)
	}
	b.mu.Lock()
	b.tabs = append(b.tabs, s) // now ready for sync
	b.mu.Unlock()
	return s.ctx
}

func tabOf(ctx context.Context) *tab {
	s, _ := ctx.Value(tabKey{}).(*tab)
	return s
}

// listen records the console and the responses to main documents. It runs
// on chromedp's reading goroutine: it must be quick and send nothing.
func (s *tab) listen(ev any) {
	var m Message
	switch ev := ev.(type) {
	case *network.EventResponseReceived:
		if ev.Type == network.ResourceTypeDocument && ev.Response != nil {
			s.b.mu.Lock()
			s.docs[ev.FrameID] = ev.Response
			s.b.mu.Unlock()
		}
		return
	case *runtime.EventConsoleAPICalled:
		m = Message{Type: string(ev.Type), Source: "console-api", Text: argsText(ev.Args)}
		if st := ev.StackTrace; st != nil && len(st.CallFrames) > 0 {
			m.URL, m.Line = st.CallFrames[0].URL, st.CallFrames[0].LineNumber+1
		}
	case *runtime.EventExceptionThrown:
		d := ev.ExceptionDetails
		m = Message{Type: "exception", Source: "javascript", Text: d.Text, URL: d.URL, Line: d.LineNumber + 1}
		if d.Exception != nil && d.Exception.Description != "" {
			desc, _, _ := strings.Cut(d.Exception.Description, "\n")
			m.Text += " " + desc
		}
	case *log.EventEntryAdded:
		e := ev.Entry
		m = Message{Type: string(e.Level), Source: string(e.Source), Text: e.Text, URL: e.URL}
		if e.URL != "" && e.Source != log.EntrySourceNetwork { // a failed load has no line
			m.Line = e.LineNumber + 1
		}
	default:
		return
	}
	m.Tab = s.n
	s.b.mu.Lock()
	s.b.console = append(s.b.console, m)
	s.b.mu.Unlock()
}

// Message is one entry of a tab's console.
type Message struct {
	Tab int // the tab, numbered from 1 in the order they opened
	// Type is the console API's call type ("log", "error", "warning",
	// "assert", ...), "exception" for an uncaught exception, or the
	// level ("verbose", "info", "warning", "error") of the browser's log.
	Type string
	// Source is "console-api", "javascript" for an exception, or the
	// browser log's source ("security" for a CSP violation, "network",
	// "violation", ...).
	Source string
	Text   string
	URL    string
	Line   int64 // from 1 (the protocol counts from 0); 0 when unknown
}

func (m Message) String() string {
	s := fmt.Sprintf("tab %d %s %s: %s", m.Tab, m.Source, m.Type, m.Text)
	if m.URL != "" {
		s += fmt.Sprintf(" (%s:%d)", m.URL, m.Line)
	}
	return s
}

// isError reports whether m is a script error or a policy violation:
// an uncaught exception, console.error or console.assert, or an error of
// the browser's log other than a failed load.
func (m Message) isError() bool {
	switch {
	case m.Type == "exception", m.Type == "assert":
		return true
	case m.Type == "error":
		return m.Source != string(log.EntrySourceNetwork)
	}
	return false
}

// Console returns everything the browser's tabs wrote to their consoles
// so far.
func (b *Browser) Console() []Message {
	b.sync()
	b.mu.Lock()
	defer b.mu.Unlock()
	return append([]Message(nil), b.console...)
}

// JSErrors returns the uncaught exceptions, console errors and assertion
// failures, and the browser's errors other than failed loads (such as
// Content-Security-Policy violations), of all the browser's tabs so far.
func (b *Browser) JSErrors() []Message {
	var errs []Message
	for _, m := range b.Console() {
		if m.isError() {
			errs = append(errs, m)
		}
	}
	return errs
}

// CheckJSErrors fails the test (without stopping it) for each message
// JSErrors returns.
func (b *Browser) CheckJSErrors(t testing.TB) {
	t.Helper()
	for _, m := range b.JSErrors() {
		t.Errorf("browsertest: script error: %v", m)
	}
}

// sync makes a round trip to each open tab: the tab's events are handled
// in order with the answers, so what a page logged before is recorded
// after. (It acts on the tabs, so it is for when no other goroutine does.)
func (b *Browser) sync() {
	b.mu.Lock()
	tabs := append([]*tab(nil), b.tabs...)
	b.mu.Unlock()
	for _, s := range tabs {
		s.sync()
	}
}

func (s *tab) sync() {
	if s.ctx == nil || s.ctx.Err() != nil {
		return
	}
	ctx, cancel := context.WithTimeout(s.ctx, 5*time.Second)
	defer cancel()
	chromedp.Do(ctx, chromedp.Evaluate[chromedp.Void]("0"))
}

// argsText renders console API arguments about as DevTools does: strings
// as they are, other values by their description.
func argsText(args []*runtime.RemoteObject) string {
	parts := make([]string, 0, len(args))
	for _, a := range args {
		var s string
		switch {
		case a.Type == runtime.RemoteObjectTypeString && json.Unmarshal(a.Value, &s) == nil:
		case a.UnserializableValue != "":
			s = string(a.UnserializableValue)
		case a.Description != "":
			s = a.Description
		case len(a.Value) > 0:
			s = string(a.Value)
		default:
			s = string(a.Type)
		}
		parts = append(parts, s)
	}
	return strings.Join(parts, " ")
}

// killLeftovers kills the processes still running with a file of the
// browser's temporary folder on their command line, and returns how many
// there were. Chromium passes --user-data-dir to all its children, and its
// crash handlers, which outlive it briefly, name a folder of its HOME.
// (Children rewrite their command line as one string, so it is searched
// as bytes, not as a list of arguments.)
func killLeftovers(tmp string) int {
	killed := 0
	for range 50 {
		pids := processesMentioning("=" + tmp + string(filepath.Separator))
		if len(pids) == 0 {
			return killed
		}
		for _, pid := range pids {
			if syscall.Kill(pid, syscall.SIGKILL) == nil {
				killed++
			}
		}
		time.Sleep(20 * time.Millisecond)
	}
	return killed
}

// processesMentioning lists the processes whose command line holds s (a
// zombie's command line is empty).
func processesMentioning(s string) []int {
	entries, err := os.ReadDir("/proc")
	if err != nil {
		return nil
	}
	var pids []int
	for _, e := range entries {
		pid, err := strconv.Atoi(e.Name())
		if err != nil || pid == os.Getpid() {
			continue
		}
		cmdline, err := os.ReadFile(filepath.Join("/proc", e.Name(), "cmdline"))
		if err == nil && bytes.Contains(cmdline, []byte(s)) {
			pids = append(pids, pid)
		}
	}
	return pids
}

// tailBuffer keeps the last max bytes written to it: the browser's output,
// shown when it fails to start.
type tailBuffer struct {
	mu  sync.Mutex
	max int
	buf []byte
}

func (w *tailBuffer) Write(p []byte) (int, error) {
	w.mu.Lock()
	defer w.mu.Unlock()
	w.buf = append(w.buf, p...)
	if over := len(w.buf) - w.max; over > 0 {
		w.buf = append(w.buf[:0], w.buf[over:]...)
	}
	return len(p), nil
}

func (w *tailBuffer) String() string {
	w.mu.Lock()
	defer w.mu.Unlock()
	return string(w.buf)
}
