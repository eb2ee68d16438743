package delivery

import (
	"bytes"
	"context"
	"crypto/sha256"
	"encoding/hex"
	"encoding/json"
	"errors"
	"fmt"
	"io"
	"math/rand/v2"
	"net/http"
	"net/url"
	"strconv"
	"strings"
	"sync"
	"time"
)

// userAgent is what EventBridge's API destinations send.
const userAgent = "Amazon/EventBridge/ApiDestinations"

// InvocationError is a failed invocation: a status the endpoint
// answered, or a failure to reach it (Status 0).
type InvocationError struct {
	Status int
	// Reason says what failed, without the endpoint's URL or any secret.
	Reason string
}

func (e *InvocationError) Error() string {
	if e.Status != 0 {
		return fmt.Sprintf("the endpoint answered %d %s", e.Status, http.StatusText(e.Status))
	}
	return e.Reason
}

// retryable says whether EventBridge retries a failed invocation: one
// that did not get an answer (a network failure, a timeout), or got 401,
// 407, 408, 409, 429 or 5xx. Other answers (3xx, other 4xx) are final.
func retryable(err error) bool {
	var ie *InvocationError
	if !errors.As(err, &ie) {
		return false
	}
	switch s := ie.Status; {
	case s == 0, s >= 500:
		return true
	case s == 401, s == 407, s == 408, s == 409, s == 429:
		return true
	}
	return false
}

func jitter(d time.Duration) time.Duration {
	if d <= 0 {
		return 0
	}
	return rand.N(d)
}

// invoke sends payload to t once (twice with an OAuth token refreshed
// after a 401 or 407), within the destination's rate limit.
func (e *Engine) invoke(ctx context.Context, t Target, payload []byte) error {
	if err := e.limiter(t).wait(ctx); err != nil {
		return err
	}
	select {
	case e.sem <- struct{}{}:
	case <-ctx.Done():
		return ctx.Err()
	}
	defer func() { <-e.sem }()
	status, err := e.send(ctx, t, payload, false)
	if t.Auth.Type == AuthOAuth && (status == http.StatusUnauthorized || status == http.StatusProxyAuthRequired) {
		status, err = e.send(ctx, t, payload, true)
	}
	if err != nil {
		return err
	}
	if status < 200 || status > 299 {
		return &InvocationError{Status: status}
	}
	return nil
}

// send makes one request and returns its status, or an error for a
// request that got no answer.
func (e *Engine) send(ctx context.Context, t Target, payload []byte, refresh bool) (int, error) {
	ctx, cancel := context.WithTimeout(ctx, e.cfg.Timeout)
	defer cancel()
	u, err := withQuery(t.Endpoint, t.Query)
	if err != nil {
		return 0, &InvocationError{Reason: "the endpoint is not a valid URL"}
	}
	method := t.Method
	if method == "" {
		method = http.MethodPost
	}
	req, err := http.NewRequestWithContext(ctx, method, u, bytes.NewReader(payload))
	if err != nil {
		return 0, &InvocationError{Reason: "the request cannot be made: " + err.Error()}
	}
	for k, v := range t.Headers {
		req.Header.Set(k, v)
	}
	req.Header.Set("Content-Type", "application/json; charset=utf-8")
	req.Header.Set("User-Agent", userAgent)
	switch t.Auth.Type {
	case AuthAPIKey:
		req.Header.Set(t.Auth.APIKeyName, t.Auth.APIKeyValue)
	case AuthBasic:
		req.SetBasicAuth(t.Auth.Username, t.Auth.Password)
	case AuthOAuth:
		tok, err := e.token(ctx, t.Auth, refresh)
		if err != nil {
			return 0, err
		}
		req.Header.Set("Authorization", "Bearer "+tok)
	}
	resp, err := e.client.Do(req)
	if err != nil {
		return 0, &InvocationError{Reason: requestFailure(err)}
	}
	io.Copy(io.Discard, io.LimitReader(resp.Body, 64<<10))
	resp.Body.Close()
	return resp.StatusCode, nil
}

// requestFailure words a client error without its URL, whose query may
// carry a parameter the user considers secret.
func requestFailure(err error) string {
	var ue *url.Error
	if errors.As(err, &ue) {
		err = ue.Err
	}
	if errors.Is(err, context.DeadlineExceeded) {
		return "the endpoint did not answer in time"
	}
	return "the endpoint could not be reached: " + err.Error()
}

func withQuery(endpoint string, query map[string]string) (string, error) {
	u, err := url.Parse(endpoint)
	if err != nil || (u.Scheme != "http" && u.Scheme != "https") || u.Host == "" {
		return "", errors.New("invalid endpoint")
	}
	if len(query) > 0 {
		q := u.Query()
		for k, v := range query {
			q.Set(k, v)
		}
		u.RawQuery = q.Encode()
	}
	return u.String(), nil
}

// oauthToken is a connection's cached access token.
type oauthToken struct {
	mu      sync.Mutex
	value   string
	expires time.Time // zero: until an endpoint refuses it
}

// token returns the connection's access token, fetching one when none is
// cached, the cached one is about to expire, or refresh asks for a new
// one.
func (e *Engine) token(ctx context.Context, a Auth, refresh bool) (string, error) {
	key := connectionKey(a)
	e.mu.Lock()
	t := e.tokens[key]
	if t == nil {
		t = &oauthToken{}
		e.tokens[key] = t
	}
	e.mu.Unlock()
	t.mu.Lock()
	defer t.mu.Unlock()
	now := e.cfg.Now()
	if t.value != "" && !refresh && (t.expires.IsZero() || now.Before(t.expires)) {
		return t.value, nil
	}
	value, ttl, err := e.fetchToken(ctx, a)
	if err != nil {
		t.value = ""
		return "", err
	}
	t.value, t.expires = value, time.Time{}
	if ttl > 0 {
		// Renewed a little before it expires: a tenth of its life, at
		// most a minute.
		t.expires = now.Add(ttl - min(ttl/10, time.Minute))
	}
	return t.value, nil
}

// connectionKey identifies a connection's authorization without keeping
// its secret in the clear.
func connectionKey(a Auth) string {
	h := sha256.New()
	for _, s := range []string{a.OAuthEndpoint, a.OAuthMethod, a.ClientID, a.ClientSecret} {
		fmt.Fprintf(h, "%d:%s", len(s), s)
	}
	for _, m := range []map[string]string{a.OAuthBody, a.OAuthQuery, a.OAuthHeaders} {
		b, _ := json.Marshal(m) // sorted keys
		fmt.Fprintf(h, "%d:%s", len(b), b)
	}
	return hex.EncodeToString(h.Sum(nil))
}

// fetchToken asks the authorization endpoint for a client-credentials
// token: the client ID and secret in a Basic authorization header, the
// connection's body parameters form-encoded, its query and header
// parameters added.
func (e *Engine) fetchToken(ctx context.Context, a Auth) (string, time.Duration, error) {
	method := a.OAuthMethod
	if method == "" {
		method = http.MethodPost
	}
	u, err := withQuery(a.OAuthEndpoint, a.OAuthQuery)
	if err != nil {
		return "", 0, &InvocationError{Reason: "the OAuth authorization endpoint is not a valid URL"}
	}
	var body io.Reader
	if len(a.OAuthBody) > 0 && method != http.MethodGet {
		form := url.Values{}
		for k, v := range a.OAuthBody {
			form.Set(k, v)
		}
		body = strings.NewReader(form.Encode())
	}
	req, err := http.NewRequestWithContext(ctx, method, u, body)
	if err != nil {
		return "", 0, &InvocationError{Reason: "the OAuth request cannot be made"}
	}
	for k, v := range a.OAuthHeaders {
		req.Header.Set(k, v)
	}
	if body != nil {
		req.Header.Set("Content-Type", "application/x-www-form-urlencoded")
	}
	req.Header.Set("Accept", "application/json")
	req.Header.Set("User-Agent", userAgent)
	req.SetBasicAuth(a.ClientID, a.ClientSecret)
	resp, err := e.client.Do(req)
	if err != nil {
		return "", 0, &InvocationError{Reason: "OAuth authorization: " + requestFailure(err)}
	}
	defer resp.Body.Close()
	if resp.StatusCode < 200 || resp.StatusCode > 299 {
		io.Copy(io.Discard, io.LimitReader(resp.Body, 64<<10))
		// Not retried as the invocation's own answer would be: the token
		// endpoint may come back, so the invocation is tried again.
		return "", 0, &InvocationError{Reason: fmt.Sprintf("OAuth authorization: the authorization endpoint answered %d %s",
			resp.StatusCode, http.StatusText(resp.StatusCode))}
	}
	var out struct {
		AccessToken string          `json:"access_token"`
		ExpiresIn   json.RawMessage `json:"expires_in"`
	}
	if err := json.NewDecoder(io.LimitReader(resp.Body, 1<<20)).Decode(&out); err != nil || out.AccessToken == "" {
		return "", 0, &InvocationError{Reason: "OAuth authorization: the answer has no access_token"}
	}
	var ttl time.Duration
	if s := strings.Trim(string(out.ExpiresIn), `"`); s != "" {
		if n, err := strconv.ParseFloat(s, 64); err == nil && n > 0 {
			ttl = time.Duration(n * float64(time.Second))
		}
	}
	return out.AccessToken, ttl, nil
}

// bucket is a destination's token bucket: rate tokens a second, and room
// for one, so that invocations are spread evenly and no second ever holds
// more than rate of them.
type bucket struct {
	mu     sync.Mutex
	rate   float64
	tokens float64
	last   time.Time
}

// limiter returns the token bucket of t's endpoint (one that never
// waits when it has no limit).
func (e *Engine) limiter(t Target) *bucket {
	if t.RateLimit <= 0 {
		return nil
	}
	e.mu.Lock()
	defer e.mu.Unlock()
	b := e.limiters[t.Endpoint]
	if b == nil || b.rate != float64(t.RateLimit) {
		b = &bucket{rate: float64(t.RateLimit), tokens: 1, last: time.Now()}
		e.limiters[t.Endpoint] = b
	}
	return b
}

// wait takes a token, waiting for one if there is none.
func (b *bucket) wait(ctx context.Context) error {
	if b == nil {
		return nil
	}
	b.mu.Lock()
	now := time.Now()
	b.tokens = min(1, b.tokens+now.Sub(b.last).Seconds()*b.rate)
	b.last = now
	b.tokens--
	var d time.Duration
	if b.tokens < 0 {
		d = time.Duration(-b.tokens / b.rate * float64(time.Second))
	}
	b.mu.Unlock()
	if d == 0 {
		return nil
	}
	t := time.NewTimer(d)
	defer t.Stop()
	select {
	case <-ctx.Done():
		b.mu.Lock()
		b.tokens++ // not taken after all
		b.mu.Unlock()
		return ctx.Err()
	case <-t.C:
		return nil
	}
}
