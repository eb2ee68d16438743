package browsertest

import (
	"context"
	"encoding/json"
	"fmt"
	"net/url"
	"testing"

	"github.com/chromedp/cdproto/cdp"
	"github.com/chromedp/cdproto/network"
	"github.com/chromedp/chromedp"
)

// The functions below act on a tab (a context from NewTab, NewIncognito or
// NewSiblingTab). Selectors are CSS selectors, as for
// document.querySelector. Each call is bounded by the browser's Timeout and
// stops the test (t.Fatal) when it fails; the tab's screenshot is then
// saved as the test ends.

// Run runs a chromedp action on the tab, bounded by the browser's Timeout,
// and returns its value.
func Run[T any](t testing.TB, tab context.Context, a chromedp.Action[T]) T {
	t.Helper()
	return run(t, tab, "running an action", a)
}

// Do runs chromedp actions on the tab in order, all of them within the
// browser's Timeout.
func Do(t testing.TB, tab context.Context, steps ...chromedp.Action[chromedp.Void]) {
	t.Helper()
	run(t, tab, "running actions", chromedp.Steps(steps...))
}

func run[T any](t testing.TB, tab context.Context, what string, a chromedp.Action[T]) T {
	t.Helper()
	s := mustTab(t, tab)
	ctx, cancel := context.WithTimeout(tab, s.b.Timeout)
	defer cancel()
	v, err := chromedp.Run(ctx, a)
	if err != nil {
		t.Fatalf("browsertest: tab %d: %s: %v", s.n, what, err)
	}
	return v
}

func mustTab(t testing.TB, ctx context.Context) *tab {
	t.Helper()
	s := tabOf(ctx)
	if s == nil {
		t.Fatal("browsertest: the context is not a tab (use Browser.NewTab)")
	}
	return s
}

// Navigate loads url in the tab and waits for the page to load and, if
// waitFor is not empty, for an element matching it to be visible. It
// returns the HTTP status of the document.
func Navigate(t testing.TB, tab context.Context, url, waitFor string) int {
	t.Helper()
	resp := run(t, tab, "navigating to "+url, chromedp.NavigateResponse(url))
	if waitFor != "" {
		WaitVisible(t, tab, waitFor)
	}
	if resp == nil {
		return 0
	}
	return int(resp.Status)
}

// WaitVisible waits until an element matching selector is visible.
func WaitVisible(t testing.TB, tab context.Context, selector string) {
	t.Helper()
	run(t, tab, "waiting for "+selector, chromedp.WaitVisible(chromedp.CSS(selector)))
}

// Text waits for an element matching selector to be visible and returns
// its text as rendered (innerText).
func Text(t testing.TB, tab context.Context, selector string) string {
	t.Helper()
	return run(t, tab, "reading the text of "+selector, chromedp.Text(chromedp.CSS(selector), chromedp.NodeVisible))
}

// Count returns how many elements match selector now, without waiting: a
// test asserts with it that something is not on the page.
func Count(t testing.TB, tab context.Context, selector string) int {
	t.Helper()
	return run(t, tab, "counting "+selector, chromedp.Evaluate[int](
		"document.querySelectorAll("+jsString(selector)+").length"))
}

// Fill replaces the value of a text field (input or textarea) matching
// selector by typing value into it.
func Fill(t testing.TB, tab context.Context, selector, value string) {
	t.Helper()
	WaitVisible(t, tab, selector)
	msg := run(t, tab, "clearing "+selector, chromedp.Evaluate[string](`(sel => {
		const el = document.querySelector(sel);
		if (!(el instanceof HTMLInputElement || el instanceof HTMLTextAreaElement)) return "not a text field";
		el.value = "";
		return "";
	})(`+jsString(selector)+`)`))
	if msg != "" {
		t.Fatalf("browsertest: filling %s: %s", selector, msg)
	}
	run(t, tab, "typing into "+selector, chromedp.SendKeys(chromedp.CSS(selector), value))
}

// Select chooses the option with value value in a select element matching
// selector, as a user would (the input and change events fire).
func Select(t testing.TB, tab context.Context, selector, value string) {
	t.Helper()
	WaitVisible(t, tab, selector)
	msg := run(t, tab, "selecting in "+selector, chromedp.Evaluate[string](`((sel, v) => {
		const el = document.querySelector(sel);
		if (!(el instanceof HTMLSelectElement)) return "not a select element";
		el.value = v;
		if (el.value !== v) return "no option " + JSON.stringify(v);
		el.dispatchEvent(new Event("input", {bubbles: true}));
		el.dispatchEvent(new Event("change", {bubbles: true}));
		return "";
	})(`+jsString(selector)+`, `+jsString(value)+`)`))
	if msg != "" {
		t.Fatalf("browsertest: selecting %q in %s: %s", value, selector, msg)
	}
}

// Click clicks the visible element matching selector, with the mouse, and
// does not wait for what follows; see ClickAndWait for a link or a button
// that loads a page.
func Click(t testing.TB, tab context.Context, selector string) {
	t.Helper()
	run(t, tab, "clicking "+selector, chromedp.Click(chromedp.CSS(selector), chromedp.NodeVisible))
}

// ClickAndWait clicks the element matching selector, waits for the page
// the click loads and returns its HTTP status. The click must load a page.
func ClickAndWait(t testing.TB, tab context.Context, selector string) int {
	t.Helper()
	s := mustTab(t, tab)
	ctx, cancel := context.WithTimeout(tab, s.b.Timeout)
	defer cancel()
	resp, err := chromedp.RunResponse(ctx, chromedp.Click(chromedp.CSS(selector), chromedp.NodeVisible))
	if err != nil {
		t.Fatalf("browsertest: tab %d: clicking %s and waiting for a page: %v", s.n, selector, err)
	}
	return status(resp)
}

// Submit submits the form matching selector, or the form of the element
// matching it (a submit button is sent as the submitter, its name and
// value included), the way pressing it does: the submit event fires and
// the browser checks the fields first. It waits for the page the form
// loads and returns its HTTP status.
func Submit(t testing.TB, tab context.Context, selector string) int {
	t.Helper()
	WaitVisible(t, tab, selector)
	s := mustTab(t, tab)
	ctx, cancel := context.WithTimeout(tab, s.b.Timeout)
	defer cancel()
	submit := chromedp.Func(func(ctx context.Context, tgt *chromedp.Target) error {
		msg, err := chromedp.Evaluate[string](`(sel => {
			const el = document.querySelector(sel);
			if (el instanceof HTMLFormElement) { el.requestSubmit(); return ""; }
			if (!el || !el.form) return "not a form, nor in one";
			if (el.type === "submit") el.form.requestSubmit(el); else el.form.requestSubmit();
			return "";
		})(`+jsString(selector)+`)`)(ctx, tgt)
		if err == nil && msg != "" {
			err = fmt.Errorf("%s", msg)
		}
		return err
	})
	resp, err := chromedp.RunResponse(ctx, submit)
	if err != nil {
		t.Fatalf("browsertest: tab %d: submitting %s: %v", s.n, selector, err)
	}
	return status(resp)
}

func status(resp *network.Response) int {
	if resp == nil {
		return 0
	}
	return int(resp.Status)
}

// URL returns the address of the tab's current page.
func URL(t testing.TB, tab context.Context) string {
	t.Helper()
	return run(t, tab, "reading the location", chromedp.Location())
}

// Status returns the HTTP status of the document in the tab's main frame
// (the last page it loaded, however: Navigate, a link, a form, a
// redirect's destination or a script). Wait for something of the new page
// first, if a click loads it.
func Status(t testing.TB, tab context.Context) int {
	t.Helper()
	s := mustTab(t, tab)
	s.sync()
	// The main frame of a page target has the target's id.
	frame := cdp.FrameID(chromedp.FromContext(tab).Target.TargetID)
	s.b.mu.Lock()
	resp := s.docs[frame]
	s.b.mu.Unlock()
	if resp == nil {
		t.Fatalf("browsertest: tab %d has loaded no document", s.n)
	}
	return int(resp.Status)
}

// Cookie returns the cookie named name that the tab's current page
// would send, with its attributes (HTTPOnly, SameSite, Secure, Path,
// Expires...), or nil if there is none.
func Cookie(t testing.TB, tab context.Context, name string) *network.Cookie {
	t.Helper()
	cookies := run(t, tab, "reading cookies", func(ctx context.Context, tgt *chromedp.Target) ([]*network.Cookie, error) {
		res, err := cdp.Call(ctx, tgt, network.GetCookies, network.GetCookiesParams{})
		return res.Cookies, err
	})
	for _, c := range cookies {
		if c.Name == name {
			return c
		}
	}
	return nil
}

// PostForm sends a POST of form (URL-encoded) to addr with fetch() from the
// tab's page, with the page's cookies and origin and nothing else: no
// CSRF token unless form holds one. It follows redirects as a form would,
// and returns the final status and body.
func PostForm(t testing.TB, tab context.Context, addr string, form url.Values) (int, string) {
	t.Helper()
	fields, err := json.Marshal(form)
	if err != nil {
		t.Fatal(err)
	}
	res := run(t, tab, "posting to "+addr, chromedp.Evaluate[struct {
		Status int    `json:"status"`
		Body   string `json:"body"`
	}](`(async (url, fields) => {
		const body = new URLSearchParams();
		for (const [k, vs] of Object.entries(fields || {})) for (const v of vs) body.append(k, v);
		const r = await fetch(url, {method: "POST", body, credentials: "same-origin"});
		return {status: r.status, body: await r.text()};
	})(`+jsString(addr)+`, `+string(fields)+`)`, chromedp.EvalAwaitPromise))
	return res.Status, res.Body
}

// jsString quotes s as a JavaScript string literal.
func jsString(s string) string {
	b, _ := json.Marshal(s) // a string always encodes
	return string(b)
}
