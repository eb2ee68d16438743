package browsertest_test

import (
	"bytes"
	"context"
	"crypto/subtle"
	"errors"
	"fmt"
	"html"
	"image/png"
	"net/http"
	"net/http/httptest"
	"net/url"
	"os"
	"path/filepath"
	"runtime"
	"strings"
	"sync"
	"testing"
	"time"

	"github.com/chromedp/cdproto/network"

	"github.com/ecrd/ecrd/test/browsertest"
)

// site is the page under test: a few pages served on 127.0.0.1 by
// net/http, each showing one thing the harness must see.
func site(t *testing.T) *httptest.Server {
	t.Helper()
	mux := http.NewServeMux()
	page := func(w http.ResponseWriter, status int, body string) {
		w.Header().Set("Content-Type", "text/html; charset=utf-8")
		w.WriteHeader(status)
		fmt.Fprintf(w, "<!doctype html><html><head><title>test</title></head><body>%s</body></html>", body)
	}
	mux.HandleFunc("GET /favicon.ico", http.NotFound)
	mux.HandleFunc("GET /{$}", func(w http.ResponseWriter, r *http.Request) {
		page(w, 200, `<h1 id="title">Hello, browser</h1><p class="hidden" style="display:none">secret</p>
			<a id="next" href="/denied">next</a>`)
	})
	mux.HandleFunc("GET /denied", func(w http.ResponseWriter, r *http.Request) {
		page(w, http.StatusForbidden, `<h1 id="error">AccessDenied</h1>`)
	})
	mux.HandleFunc("GET /form", func(w http.ResponseWriter, r *http.Request) {
		page(w, 200, `<form id="f" method="post" action="/form">
			<input id="name" name="name" value="old">
			<select id="color" name="color"><option value="red">Red</option><option value="green">Green</option></select>
			<button id="save" type="submit" name="action" value="save">Save</button>
			</form>`)
	})
	mux.HandleFunc("POST /form", func(w http.ResponseWriter, r *http.Request) {
		r.ParseForm()
		// Post/redirect/get, as the console does.
		http.Redirect(w, r, "/done?"+r.PostForm.Encode(), http.StatusSeeOther)
	})
	mux.HandleFunc("GET /done", func(w http.ResponseWriter, r *http.Request) {
		q := r.URL.Query()
		page(w, http.StatusCreated, fmt.Sprintf(`<p id="result">name=%s color=%s action=%s</p>`,
			html.EscapeString(q.Get("name")), html.EscapeString(q.Get("color")), html.EscapeString(q.Get("action"))))
	})
	mux.HandleFunc("GET /login", func(w http.ResponseWriter, r *http.Request) {
		http.SetCookie(w, &http.Cookie{Name: "session", Value: "s3cr3t", Path: "/", HttpOnly: true, SameSite: http.SameSiteStrictMode})
		http.SetCookie(w, &http.Cookie{Name: "csrf", Value: "tok", Path: "/"})
		page(w, 200, `<p id="in">signed in</p>`)
	})
	mux.HandleFunc("GET /whoami", func(w http.ResponseWriter, r *http.Request) {
		who := "anonymous"
		if c, err := r.Cookie("session"); err == nil {
			who = c.Value
		}
		page(w, 200, `<p id="who">`+html.EscapeString(who)+`</p>`)
	})
	// A write that wants its form to carry the csrf cookie's value.
	mux.HandleFunc("POST /write", func(w http.ResponseWriter, r *http.Request) {
		c, err := r.Cookie("csrf")
		if err != nil || subtle.ConstantTimeCompare([]byte(r.PostFormValue("csrf")), []byte(c.Value)) != 1 {
			http.Error(w, "CSRF token missing or wrong", http.StatusForbidden)
			return
		}
		fmt.Fprintf(w, "wrote %s", r.PostFormValue("v"))
	})
	csp := func(w http.ResponseWriter) { w.Header().Set("Content-Security-Policy", "script-src 'self'") }
	mux.HandleFunc("GET /csp-inline", func(w http.ResponseWriter, r *http.Request) {
		csp(w)
		// The script is on the page's third line.
		page(w, 200, `<p id="p">inline</p>
<p>.</p>
<script>document.getElementById("p").textContent = "ran";</script>`)
	})
	mux.HandleFunc("GET /csp-clean", func(w http.ResponseWriter, r *http.Request) {
		csp(w)
		page(w, 200, `<p id="p">clean</p><script src="/app.js"></script>`)
	})
	mux.HandleFunc("GET /app.js", func(w http.ResponseWriter, r *http.Request) {
		w.Header().Set("Content-Type", "text/javascript")
		fmt.Fprint(w, `document.getElementById("p").textContent = "script ran"; console.log("hello", 42);`)
	})
	mux.HandleFunc("GET /throws", func(w http.ResponseWriter, r *http.Request) {
		page(w, 200, `<p id="p">throws</p><script src="/throw.js"></script>`)
	})
	mux.HandleFunc("GET /throw.js", func(w http.ResponseWriter, r *http.Request) {
		w.Header().Set("Content-Type", "text/javascript")
		fmt.Fprint(w, `console.error("about to fail"); throw new Error("boom");`)
	})
	hung := make(chan struct{})
	mux.HandleFunc("GET /hang", func(w http.ResponseWriter, r *http.Request) {
		select {
		case <-hung:
		case <-r.Context().Done():
		}
	})
	srv := httptest.NewServer(mux)
	t.Cleanup(func() {
		close(hung)
		srv.Close()
	})
	return srv
}

func TestNavigateAndText(t *testing.T) {
	srv := site(t)
	b := browsertest.Start(t)
	tab := b.NewTab(t)
	if got := browsertest.Navigate(t, tab, srv.URL+"/", "#title"); got != 200 {
		t.Errorf("status %d, want 200", got)
	}
	if got := browsertest.Text(t, tab, "#title"); got != "Hello, browser" {
		t.Errorf("text %q", got)
	}
	if got := browsertest.Count(t, tab, "p.hidden"); got != 1 {
		t.Errorf("%d hidden paragraphs, want 1", got)
	}
	if got := browsertest.Count(t, tab, "#nothing"); got != 0 {
		t.Errorf("%d #nothing, want 0", got)
	}
	if got := browsertest.URL(t, tab); got != srv.URL+"/" {
		t.Errorf("URL %q", got)
	}
	// A link to a 403 page: the status is the new page's.
	if got := browsertest.ClickAndWait(t, tab, "#next"); got != http.StatusForbidden {
		t.Errorf("click status %d, want 403", got)
	}
	if got := browsertest.Text(t, tab, "#error"); got != "AccessDenied" {
		t.Errorf("text %q", got)
	}
	if got := browsertest.Status(t, tab); got != http.StatusForbidden {
		t.Errorf("Status %d after the click, want 403", got)
	}
	if got := browsertest.URL(t, tab); got != srv.URL+"/denied" {
		t.Errorf("URL %q", got)
	}
}

func TestStatus(t *testing.T) {
	srv := site(t)
	b := browsertest.Start(t)
	tab := b.NewTab(t)
	if got := browsertest.Navigate(t, tab, srv.URL+"/denied", "#error"); got != http.StatusForbidden {
		t.Errorf("Navigate status %d, want 403", got)
	}
	if got := browsertest.Status(t, tab); got != http.StatusForbidden {
		t.Errorf("Status %d, want 403", got)
	}
	browsertest.Navigate(t, tab, srv.URL+"/", "#title")
	if got := browsertest.Status(t, tab); got != http.StatusOK {
		t.Errorf("Status %d after the next page, want 200", got)
	}
}

func TestFormSubmit(t *testing.T) {
	srv := site(t)
	b := browsertest.Start(t)
	tab := b.NewTab(t)

	browsertest.Navigate(t, tab, srv.URL+"/form", "#f")
	browsertest.Fill(t, tab, "#name", "Ada <Lovelace>")
	browsertest.Select(t, tab, "#color", "green")
	// The submit button goes with the form, and the redirect is followed.
	if got := browsertest.Submit(t, tab, "#save"); got != http.StatusCreated {
		t.Errorf("submit status %d, want 201", got)
	}
	if got, want := browsertest.Text(t, tab, "#result"), "name=Ada <Lovelace> color=green action=save"; got != want {
		t.Errorf("result %q, want %q", got, want)
	}
	if got := browsertest.Status(t, tab); got != http.StatusCreated {
		t.Errorf("Status %d, want 201", got)
	}
	if u := browsertest.URL(t, tab); !strings.HasPrefix(u, srv.URL+"/done?") {
		t.Errorf("URL %q", u)
	}

	// Submitting the form itself sends no button; clicking does.
	browsertest.Navigate(t, tab, srv.URL+"/form", "#f")
	browsertest.Submit(t, tab, "#f")
	if got, want := browsertest.Text(t, tab, "#result"), "name=old color=red action="; got != want {
		t.Errorf("result %q, want %q", got, want)
	}
	browsertest.Navigate(t, tab, srv.URL+"/form", "#f")
	browsertest.ClickAndWait(t, tab, "#save")
	if got, want := browsertest.Text(t, tab, "#result"), "name=old color=red action=save"; got != want {
		t.Errorf("result %q, want %q", got, want)
	}
}

func TestCookies(t *testing.T) {
	srv := site(t)
	b := browsertest.Start(t)
	tab := b.NewTab(t)
	browsertest.Navigate(t, tab, srv.URL+"/login", "#in")

	c := browsertest.Cookie(t, tab, "session")
	if c == nil {
		t.Fatal("no session cookie")
	}
	if c.Value != "s3cr3t" || !c.HTTPOnly || c.SameSite != network.CookieSameSiteStrict || c.Secure || c.Path != "/" {
		t.Errorf("session cookie %+v, want s3cr3t, HttpOnly, SameSite=Strict, not Secure, Path=/", *c)
	}
	c = browsertest.Cookie(t, tab, "csrf")
	if c == nil {
		t.Fatal("no csrf cookie")
	}
	if c.HTTPOnly || c.SameSite != "" {
		t.Errorf("csrf cookie %+v, want neither HttpOnly nor SameSite", *c)
	}
	if c := browsertest.Cookie(t, tab, "nope"); c != nil {
		t.Errorf("cookie nope: %+v", *c)
	}

	// Tabs of one browser share cookies; an incognito tab has none.
	other := b.NewTab(t)
	browsertest.Navigate(t, other, srv.URL+"/whoami", "#who")
	if got := browsertest.Text(t, other, "#who"); got != "s3cr3t" {
		t.Errorf("second tab is %q, want s3cr3t", got)
	}
	incognito := b.NewIncognito(t)
	browsertest.Navigate(t, incognito, srv.URL+"/whoami", "#who")
	if got := browsertest.Text(t, incognito, "#who"); got != "anonymous" {
		t.Errorf("incognito tab is %q, want anonymous", got)
	}
	// A sibling of the incognito tab shares its (new) cookies only.
	browsertest.Navigate(t, incognito, srv.URL+"/login", "#in")
	sibling := b.NewSiblingTab(t, incognito)
	browsertest.Navigate(t, sibling, srv.URL+"/whoami", "#who")
	if got := browsertest.Text(t, sibling, "#who"); got != "s3cr3t" {
		t.Errorf("sibling of the incognito tab is %q, want s3cr3t", got)
	}
	third := b.NewIncognito(t)
	browsertest.Navigate(t, third, srv.URL+"/whoami", "#who")
	if got := browsertest.Text(t, third, "#who"); got != "anonymous" {
		t.Errorf("second incognito tab is %q, want anonymous", got)
	}
}

func TestPostForm(t *testing.T) {
	srv := site(t)
	b := browsertest.Start(t)
	tab := b.NewTab(t)
	browsertest.Navigate(t, tab, srv.URL+"/login", "#in")

	status, body := browsertest.PostForm(t, tab, "/write", url.Values{"v": {"x"}})
	if status != http.StatusForbidden || !strings.Contains(body, "CSRF token missing") {
		t.Errorf("without a token: %d %q, want 403 and the refusal", status, body)
	}
	status, body = browsertest.PostForm(t, tab, srv.URL+"/write", url.Values{"v": {"x & y"}, "csrf": {"tok"}})
	if status != http.StatusOK || body != "wrote x & y" {
		t.Errorf("with the token: %d %q", status, body)
	}
}

func TestScreenshot(t *testing.T) {
	dir := t.TempDir()
	t.Setenv("ECRD_TEST_ARTIFACTS", dir)
	srv := site(t)
	b := browsertest.Start(t)
	tab := b.NewTab(t)
	browsertest.Navigate(t, tab, srv.URL+"/", "#title")

	p := browsertest.Screenshot(t, tab, "home page")
	if want := filepath.Join(dir, "TestScreenshot-home_page.png"); p != want {
		t.Errorf("path %s, want %s", p, want)
	}
	data, err := os.ReadFile(p)
	if err != nil {
		t.Fatal(err)
	}
	cfg, err := png.DecodeConfig(bytes.NewReader(data))
	if err != nil {
		t.Fatalf("not a PNG (%d bytes): %v", len(data), err)
	}
	if _, err := png.Decode(bytes.NewReader(data)); err != nil {
		t.Fatalf("PNG does not decode: %v", err)
	}
	if cfg.Width != 1280 || cfg.Height < 100 {
		t.Errorf("screenshot is %dx%d, want 1280 wide", cfg.Width, cfg.Height)
	}
}

func TestArtifactsDirDefault(t *testing.T) {
	t.Setenv("ECRD_TEST_ARTIFACTS", "")
	dir, err := browsertest.ArtifactsDir()
	if err != nil {
		t.Fatal(err)
	}
	wd, _ := os.Getwd()
	if want := filepath.Join(filepath.Dir(filepath.Dir(wd)), "test", "artifacts", "screenshots"); dir != want {
		t.Errorf("ArtifactsDir() = %s, want %s", dir, want)
	}
}

func TestJSErrors(t *testing.T) {
	srv := site(t)

	t.Run("CSP violation", func(t *testing.T) {
		b := browsertest.Start(t)
		tab := b.NewTab(t)
		browsertest.Navigate(t, tab, srv.URL+"/csp-inline", "#p")
		if got := browsertest.Text(t, tab, "#p"); got != "inline" {
			t.Errorf("the inline script ran despite the CSP: %q", got)
		}
		errs := waitErrors(b, 1)
		if len(errs) != 1 || errs[0].Source != "security" || !strings.Contains(errs[0].Text, "Content Security Policy") ||
			!strings.Contains(errs[0].Text, "script-src 'self'") {
			t.Fatalf("JSErrors() = %v, want the one CSP violation", errs)
		}
		if m := errs[0]; m.URL != srv.URL+"/csp-inline" || m.Line != 3 {
			t.Errorf("violation at %s:%d, want %s/csp-inline:3", m.URL, m.Line, srv.URL)
		}
	})

	t.Run("exception", func(t *testing.T) {
		b := browsertest.Start(t)
		tab := b.NewTab(t)
		browsertest.Navigate(t, tab, srv.URL+"/throws", "#p")
		errs := waitErrors(b, 2)
		var got []string
		for _, m := range errs {
			got = append(got, m.Type+": "+m.Text)
		}
		want := []string{"error: about to fail", "exception: Uncaught Error: boom"}
		if strings.Join(got, "\n") != strings.Join(want, "\n") {
			t.Errorf("JSErrors() = %q, want %q", got, want)
		}
		if len(errs) == 2 && (errs[1].URL != srv.URL+"/throw.js" || errs[1].Line != 1 || errs[1].Tab != 1) {
			t.Errorf("exception at tab %d %s:%d, want tab 1 %s/throw.js:1", errs[1].Tab, errs[1].URL, errs[1].Line, srv.URL)
		}
	})

	t.Run("clean page", func(t *testing.T) {
		b := browsertest.Start(t)
		tab := b.NewTab(t)
		// A 403 page and a missing favicon log failed loads, which are no
		// script errors.
		browsertest.Navigate(t, tab, srv.URL+"/denied", "#error")
		browsertest.Navigate(t, tab, srv.URL+"/csp-clean", "#p")
		if got := browsertest.Text(t, tab, "#p"); got != "script ran" {
			t.Errorf("the page's script did not run: %q", got)
		}
		b.CheckJSErrors(t)
		var logged, failedLoad bool
		for _, m := range b.Console() {
			logged = logged || m.Type == "log" && m.Source == "console-api" && m.Text == "hello 42"
			failedLoad = failedLoad || m.Source == "network" && m.Type == "error"
		}
		if !logged || !failedLoad {
			t.Errorf("Console() = %v, want console.log's message and a failed load", b.Console())
		}
	})
}

// waitErrors returns JSErrors once it has n messages, or after a few
// seconds: the browser reports some violations just after the load.
func waitErrors(b *browsertest.Browser, n int) []browsertest.Message {
	deadline := time.Now().Add(5 * time.Second)
	for {
		errs := b.JSErrors()
		if len(errs) >= n || time.Now().After(deadline) {
			return errs
		}
		time.Sleep(50 * time.Millisecond)
	}
}

// fatalRecorder stands in for the test in calls that must fail: it records
// the failure and ends the goroutine, as t.Fatal does.
type fatalRecorder struct {
	testing.TB
	mu  sync.Mutex
	msg string
}

func (r *fatalRecorder) Fatal(args ...any) { r.fail(fmt.Sprint(args...)) }
func (r *fatalRecorder) Fatalf(format string, args ...any) {
	r.fail(fmt.Sprintf(format, args...))
}
func (r *fatalRecorder) fail(msg string) {
	r.mu.Lock()
	r.msg = msg
	r.mu.Unlock()
	runtime.Goexit()
}

// failure runs f with a recorder and returns what it failed with, or ""
// with an error if it did not fail.
func failure(t *testing.T, f func(tb testing.TB)) (string, error) {
	r := &fatalRecorder{TB: t}
	done := make(chan struct{})
	go func() {
		defer close(done)
		f(r)
	}()
	<-done
	r.mu.Lock()
	defer r.mu.Unlock()
	if r.msg == "" {
		return "", errors.New("it did not fail")
	}
	return r.msg, nil
}

func TestTimeout(t *testing.T) {
	srv := site(t)
	b := browsertest.Start(t)
	b.Timeout = 2 * time.Second
	tab := b.NewTab(t)

	start := time.Now()
	msg, err := failure(t, func(tb testing.TB) { browsertest.Navigate(tb, tab, srv.URL+"/hang", "") })
	if err != nil {
		t.Fatal("Navigate to a page that never answers:", err)
	}
	if took := time.Since(start); took > 10*time.Second {
		t.Errorf("it failed after %v, want about 2s", took)
	}
	if !strings.Contains(msg, context.DeadlineExceeded.Error()) {
		t.Errorf("failure %q, want a deadline", msg)
	}
	// Waiting for something that never shows is bounded too, and the tab
	// still works afterwards.
	browsertest.Navigate(t, tab, srv.URL+"/", "#title")
	if _, err := failure(t, func(tb testing.TB) { browsertest.Text(tb, tab, "p.hidden") }); err != nil {
		t.Error("Text of a hidden element:", err)
	}
	if got := browsertest.Text(t, tab, "#title"); got != "Hello, browser" {
		t.Errorf("text %q after the timeouts", got)
	}
}

func TestMissingChromium(t *testing.T) {
	t.Setenv("ECRD_CHROMIUM", filepath.Join(t.TempDir(), "chromium"))
	msg, err := failure(t, func(tb testing.TB) { browsertest.Start(tb) })
	if err != nil {
		t.Fatal("Start without a browser:", err)
	}
	if !strings.Contains(msg, "scripts/install-test-tools") {
		t.Errorf("failure %q does not say to run scripts/install-test-tools", msg)
	}
}

// TestBrowserStops checks that nothing of the browser outlives the test
// that started it.
func TestBrowserStops(t *testing.T) {
	var pid int
	var dir string
	t.Run("browse", func(t *testing.T) {
		srv := site(t)
		b := browsertest.Start(t)
		pid, dir = b.PID(), b.UserDataDir()
		tab := b.NewTab(t)
		b.NewIncognito(t)
		browsertest.Navigate(t, tab, srv.URL+"/", "#title")
		if n := len(processes(t, dir)); n < 2 {
			t.Errorf("%d processes with the profile while it runs, want the browser and its children", n)
		}
	})
	if _, err := os.Stat(fmt.Sprintf("/proc/%d", pid)); !errors.Is(err, os.ErrNotExist) {
		t.Errorf("browser process %d still exists: %v", pid, err)
	}
	if p := processes(t, dir); len(p) > 0 {
		t.Errorf("processes %v still run with the profile %s", p, dir)
	}
	if _, err := os.Stat(dir); !errors.Is(err, os.ErrNotExist) {
		t.Errorf("profile folder left behind: %v", err)
	}
}

// processes lists the processes whose command line holds
// --user-data-dir=dir.
func processes(t *testing.T, dir string) []string {
	t.Helper()
	entries, err := os.ReadDir("/proc")
	if err != nil {
		t.Fatal(err)
	}
	want := []byte("=" + filepath.Dir(dir) + "/")
	var found []string
	for _, e := range entries {
		cmdline, err := os.ReadFile(filepath.Join("/proc", e.Name(), "cmdline"))
		if err == nil && bytes.Contains(cmdline, want) {
			found = append(found, e.Name())
		}
	}
	return found
}
