package delivery_test

import (
	"encoding/json"
	"fmt"
	"io"
	"net/http"
	"net/http/httptest"
	"net/url"
	"strings"
	"sync"
	"testing"
	"time"

	"github.com/ecrd/ecrd/internal/events/delivery"
	"github.com/ecrd/ecrd/internal/outbox"
)

func TestAPIKeyAndBasicAuthorization(t *testing.T) {
	s := newStore(t, "")
	keyHook, basicHook := newWebhook(t), newWebhook(t)
	k := target("key", keyHook.URL)
	k.Auth = delivery.Auth{Type: delivery.AuthAPIKey, APIKeyName: "X-Api-Key", APIKeyValue: "s3cret-key"}
	b := target("basic", basicHook.URL)
	b.Auth = delivery.Auth{Type: delivery.AuthBasic, Username: "alice", Password: "pa:ss"}
	arn := ruleARN(scopeA, "auth")
	src := &rules{}
	src.set(delivery.Rule{ARN: arn, Scope: scopeA, Targets: []delivery.Target{k, b}})
	e := start(t, fastConfig(s, src, "p1"))
	waitStarted(t, s, arn)
	appendEvent(t, s, scopeA, outbox.TypeImageAction, seq{1})
	e.Wake()
	waitFor(t, "both deliveries", func() bool { return len(keyHook.requests()) == 1 && len(basicHook.requests()) == 1 })
	if got := keyHook.requests()[0].Header.Get("X-Api-Key"); got != "s3cret-key" {
		t.Errorf("API key header %q", got)
	}
	r := http.Request{Header: basicHook.requests()[0].Header}
	if u, p, ok := r.BasicAuth(); !ok || u != "alice" || p != "pa:ss" {
		t.Errorf("basic auth %q %q %v", u, p, ok)
	}
}

// tokenServer is an OAuth authorization server of client credentials.
type tokenServer struct {
	mu       sync.Mutex
	requests []*http.Request
	forms    []url.Values
	n        int
	*httptest.Server
}

func newTokenServer(t *testing.T, expiresIn int) *tokenServer {
	ts := &tokenServer{}
	ts.Server = httptest.NewServer(http.HandlerFunc(func(w http.ResponseWriter, r *http.Request) {
		body, _ := io.ReadAll(r.Body)
		form, _ := url.ParseQuery(string(body))
		ts.mu.Lock()
		ts.requests = append(ts.requests, r)
		ts.forms = append(ts.forms, form)
		ts.n++
		n := ts.n
		ts.mu.Unlock()
		id, secret, ok := r.BasicAuth()
		if !ok || id != "client-1" || secret != "client-secret" {
			w.WriteHeader(http.StatusUnauthorized)
			return
		}
		w.Header().Set("Content-Type", "application/json")
		json.NewEncoder(w).Encode(map[string]any{"access_token": fmt.Sprintf("tok-%d", n), "token_type": "Bearer", "expires_in": expiresIn})
	}))
	t.Cleanup(ts.Close)
	return ts
}

func (ts *tokenServer) count() int {
	ts.mu.Lock()
	defer ts.mu.Unlock()
	return ts.n
}

// clock is a settable clock for the token cache.
type clock struct {
	mu  sync.Mutex
	off time.Duration
}

func (c *clock) Now() time.Time {
	c.mu.Lock()
	defer c.mu.Unlock()
	return time.Now().Add(c.off)
}

func (c *clock) advance(d time.Duration) {
	c.mu.Lock()
	c.off += d
	c.mu.Unlock()
}

func TestOAuthClientCredentials(t *testing.T) {
	s := newStore(t, "")
	ts := newTokenServer(t, 3600)
	hook := newWebhook(t)
	// The webhook takes only the newest token, and refuses tok-2 once
	// (revoked early) to make the engine refresh it.
	var mu sync.Mutex
	valid := "tok-1"
	hook.setRespond(func(r received, _ int) int {
		mu.Lock()
		defer mu.Unlock()
		if r.Header.Get("Authorization") != "Bearer "+valid {
			return http.StatusUnauthorized
		}
		return http.StatusOK
	})
	tg := target("oauth", hook.URL)
	tg.Auth = delivery.Auth{Type: delivery.AuthOAuth, OAuthEndpoint: ts.URL + "/token", OAuthMethod: http.MethodPost,
		ClientID: "client-1", ClientSecret: "client-secret",
		OAuthBody:    map[string]string{"grant_type": "client_credentials", "scope": "events"},
		OAuthQuery:   map[string]string{"audience": "hooks"},
		OAuthHeaders: map[string]string{"X-Tenant": "t1"}}
	tg.MaxAttempts = -1 // no retries: a refresh must happen within one attempt
	arn := ruleARN(scopeA, "oauth")
	src := &rules{}
	src.set(delivery.Rule{ARN: arn, Scope: scopeA, Targets: []delivery.Target{tg}})
	c := &clock{}
	cfg := fastConfig(s, src, "p1")
	cfg.Now = c.Now
	e := start(t, cfg)
	waitStarted(t, s, arn)

	deliver := func(n int) {
		t.Helper()
		id := appendEvent(t, s, scopeA, outbox.TypeImageAction, seq{n})
		e.Wake()
		waitFor(t, "the delivery", func() bool { c, _ := s.Cursor(ctx, delivery.CursorName(arn)); return c == id })
	}
	deliver(1)
	deliver(2)
	if n := ts.count(); n != 1 {
		t.Fatalf("%d token requests for two deliveries, want 1 (cached)", n)
	}
	ts.mu.Lock()
	req, form := ts.requests[0], ts.forms[0]
	ts.mu.Unlock()
	if req.Method != http.MethodPost || req.URL.Path != "/token" || req.URL.Query().Get("audience") != "hooks" || req.Header.Get("X-Tenant") != "t1" ||
		form.Get("grant_type") != "client_credentials" || form.Get("scope") != "events" {
		t.Errorf("token request %s %s %v %v", req.Method, req.URL, req.Header, form)
	}

	// A 401: the token is refreshed and the invocation made again at once.
	mu.Lock()
	valid = "tok-2"
	mu.Unlock()
	deliver(3)
	if n := ts.count(); n != 2 {
		t.Fatalf("%d token requests, want 2", n)
	}
	// Near its expiry, the token is renewed before it is used.
	c.advance(3590 * time.Second)
	mu.Lock()
	valid = "tok-3"
	mu.Unlock()
	deliver(4)
	if n := ts.count(); n != 3 {
		t.Fatalf("%d token requests, want 3", n)
	}
	dead, _, _ := e.DeadLetters(ctx, scopeA, arn, "", 10)
	if len(dead) != 0 {
		t.Fatalf("dead letters: %+v", dead)
	}
	got := hook.requests()
	// 1, 2, 3 refused with tok-1, 3, then 4 with a fresh token.
	if len(got) != 5 || got[2].Header.Get("Authorization") != "Bearer tok-1" || got[3].Header.Get("Authorization") != "Bearer tok-2" ||
		got[4].Header.Get("Authorization") != "Bearer tok-3" {
		for _, r := range got {
			t.Log(r.Seq, r.Header.Get("Authorization"))
		}
		t.Fatal("unexpected invocations")
	}
	// A token that stays refused ends as a 401 dead letter, without the
	// token or the secret in it.
	mu.Lock()
	valid = "none"
	mu.Unlock()
	deliver(5)
	dead, _, _ = e.DeadLetters(ctx, scopeA, arn, "", 10)
	if len(dead) != 1 || dead[0].LastError != "the endpoint answered 401 Unauthorized" {
		t.Fatalf("dead letters: %+v", dead)
	}
	doc, _ := json.Marshal(dead[0])
	for _, secret := range []string{"client-secret", "tok-"} {
		if strings.Contains(string(doc), secret) || strings.Contains(string(dead[0].Event), secret) {
			t.Errorf("the dead letter holds %q", secret)
		}
	}
}
