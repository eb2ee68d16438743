// Package upstream is a pull client of another OCI registry, as the
// pull-through cache reads its upstreams: manifests by tag or digest
// (GET and HEAD) with every manifest media type accepted and none
// converted, blobs streamed, and the referrers API where the upstream
// serves it.
//
// Authentication follows the registry's answers: a request goes out
// anonymously, or with a token this client already holds for its scope;
// a 401 naming the Bearer scheme (realm, service, scope) sends the client
// to the token endpoint, anonymously or with the endpoint's Basic
// credentials, and the token is kept until it expires, so that pulls do
// not each log in (Docker Hub counts logins). A 401 naming Basic is
// answered with the credentials, which are then sent up front to that
// host. Docker Hub's single-name repositories get its "library/" prefix,
// as docker does.
//
// An Endpoint with Via is a registry of the cache's own deployment,
// reached at Via with its ECR-shaped host name in each request, and
// marked with FetchHeader so that it does not go upstream in turn.
//
// Failures are typed (*Error with KindNotFound, KindDenied,
// KindTemporary) and carry the upstream's own reason.
package upstream

import (
	"context"
	"crypto/sha256"
	"crypto/tls"
	"encoding/json"
	"errors"
	"fmt"
	"io"
	"net"
	"net/http"
	"net/url"
	"strconv"
	"strings"
	"sync"
	"time"
	"unicode/utf8"

	"github.com/opencontainers/go-digest"
	"golang.org/x/sync/singleflight"
)

// ManifestAccept lists every manifest type the client takes, so that the
// upstream serves what it holds instead of converting it.
var ManifestAccept = []string{
	"application/vnd.oci.image.index.v1+json",
	"application/vnd.oci.image.manifest.v1+json",
	"application/vnd.docker.distribution.manifest.list.v2+json",
	"application/vnd.docker.distribution.manifest.v2+json",
}

// MaxManifestSize bounds a manifest read from an upstream.
const MaxManifestSize = 4 << 20

// FetchHeader marks a request a pull-through cache sends to a registry
// of its own deployment (an Endpoint with Via): that registry serves it
// from what it holds and does not in turn fetch from its own upstreams,
// so that rules pointing at each other cannot loop.
const FetchHeader = "X-Ecrd-Pull-Through-Fetch"

// Endpoint is an upstream registry with the credentials to use on it.
type Endpoint struct {
	// Host is host[:port], as a pull-through cache rule gives it.
	Host     string
	Username string
	Password string
	// Via, when set, is the base URL (http://127.0.0.1:5000) requests
	// are sent to instead of Host's, Host still naming the registry in
	// each request: an ECR-shaped host of the same deployment, which
	// tells the account and region apart by the Host header and need
	// not resolve.
	Via string
}

// Kind classifies an upstream failure.
type Kind int

const (
	// KindTemporary: 429, 5xx, a timeout, an unreachable host; worth
	// trying later.
	KindTemporary Kind = iota
	// KindNotFound: the upstream has no such repository, tag or digest.
	KindNotFound
	// KindDenied: the upstream refuses the credentials (or their absence).
	KindDenied
	// KindInvalid: the upstream answered something this client cannot use
	// (a digest that does not match, an oversized manifest).
	KindInvalid
)

func (k Kind) String() string {
	switch k {
	case KindNotFound:
		return "not found"
	case KindDenied:
		return "denied"
	case KindInvalid:
		return "invalid"
	}
	return "unavailable"
}

// Error is an upstream's failure with its reason.
type Error struct {
	Kind   Kind
	Status int    // the HTTP status, 0 if no answer came
	Reason string // the upstream's own words, or the transport's error
}

func (e *Error) Error() string {
	if e.Status != 0 {
		return fmt.Sprintf("upstream %s (HTTP %d): %s", e.Kind, e.Status, e.Reason)
	}
	return fmt.Sprintf("upstream %s: %s", e.Kind, e.Reason)
}

// KindOf returns the kind of an upstream error; other errors are
// temporary (a context cancelled, a connection reset).
func KindOf(err error) Kind {
	var e *Error
	if errors.As(err, &e) {
		return e.Kind
	}
	return KindTemporary
}

// Client pulls from upstream registries. It is safe for concurrent use.
type Client struct {
	http     *http.Client
	insecure map[string]bool
	now      func() time.Time

	// fetches makes concurrent first requests of one scope share one
	// token fetch.
	fetches singleflight.Group

	mu     sync.Mutex
	tokens map[tokenKey]token
	// schemes remembers what each host asked for on a 401.
	schemes map[string]challenge
}

// tokenKey names a token by the whole credential it was issued to, not
// the username alone: two rules with one username and different passwords
// must not share a token (one whose password the upstream refuses would
// pull with the other's).
type tokenKey struct {
	host  string
	cred  [sha256.Size]byte
	scope string
}

func keyOf(host string, ep Endpoint, scope string) tokenKey {
	return tokenKey{host: host, cred: sha256.Sum256([]byte(ep.Username + "\x00" + ep.Password)), scope: scope}
}

type token struct {
	value   string
	expires time.Time
}

// Options configure a Client.
type Options struct {
	// Insecure lists the hosts (host:port) reached over plain HTTP; every
	// other host is reached over HTTPS.
	Insecure []string
	// Transport replaces the HTTP transport (tests, proxies).
	Transport http.RoundTripper
	// Timeout bounds the wait for an upstream's response headers. Default 30s.
	Timeout time.Duration
	// Now is the clock of token expiry; tests replace it.
	Now func() time.Time
}

// New returns a Client.
func New(opts Options) *Client {
	if opts.Timeout <= 0 {
		opts.Timeout = 30 * time.Second
	}
	if opts.Now == nil {
		opts.Now = time.Now
	}
	tr := opts.Transport
	if tr == nil {
		tr = &http.Transport{
			Proxy:                 http.ProxyFromEnvironment,
			DialContext:           (&net.Dialer{Timeout: 10 * time.Second, KeepAlive: 30 * time.Second}).DialContext,
			TLSClientConfig:       &tls.Config{MinVersion: tls.VersionTLS12},
			TLSHandshakeTimeout:   10 * time.Second,
			ResponseHeaderTimeout: opts.Timeout,
			MaxIdleConnsPerHost:   16,
			IdleConnTimeout:       90 * time.Second,
		}
	}
	c := &Client{
		// No overall timeout: a blob streams as long as it takes; the
		// transport bounds the wait for headers.
		http:     &http.Client{Transport: tr},
		insecure: map[string]bool{},
		now:      opts.Now,
		tokens:   map[tokenKey]token{},
		schemes:  map[string]challenge{},
	}
	for _, h := range opts.Insecure {
		if h = strings.TrimSpace(h); h != "" {
			c.insecure[strings.ToLower(h)] = true
		}
	}
	return c
}

// Insecure reports whether host is reached over plain HTTP.
func (c *Client) Insecure(host string) bool { return c.insecure[strings.ToLower(host)] }

// dockerHub reports whether host is Docker Hub's registry, and the host
// to reach it at.
func dockerHub(host string) (string, bool) {
	switch strings.ToLower(host) {
	case "docker.io", "index.docker.io", "registry-1.docker.io":
		return "registry-1.docker.io", true
	}
	return host, false
}

// RepositoryName returns the name a repository has on the upstream:
// Docker Hub's single-name repositories are under "library/".
func RepositoryName(host, repo string) string {
	if _, hub := dockerHub(host); hub && !strings.Contains(repo, "/") {
		return "library/" + repo
	}
	return repo
}

func (c *Client) baseURL(host string) string {
	h, _ := dockerHub(host)
	if c.Insecure(h) {
		return "http://" + h
	}
	return "https://" + h
}

// Manifest is a manifest as the upstream sent it.
type Manifest struct {
	MediaType string
	Digest    digest.Digest
	Size      int64
	// Body is nil for a HEAD.
	Body []byte
}

// GetManifest reads a manifest by tag or digest. The body is checked
// against a digest reference, and against the upstream's
// Docker-Content-Digest when it sends one.
func (c *Client) GetManifest(ctx context.Context, ep Endpoint, repo, ref string) (Manifest, error) {
	return c.manifest(ctx, ep, repo, ref, http.MethodGet)
}

// HeadManifest reads a manifest's digest, type and size without its body
// (Docker Hub does not count HEADs against its pull limit).
func (c *Client) HeadManifest(ctx context.Context, ep Endpoint, repo, ref string) (Manifest, error) {
	return c.manifest(ctx, ep, repo, ref, http.MethodHead)
}

func (c *Client) manifest(ctx context.Context, ep Endpoint, repo, ref, method string) (Manifest, error) {
	name := RepositoryName(ep.Host, repo)
	resp, err := c.do(ctx, ep, name, method, "/v2/"+name+"/manifests/"+ref, strings.Join(ManifestAccept, ", "))
	if err != nil {
		return Manifest{}, err
	}
	defer resp.Body.Close()
	m := Manifest{MediaType: mediaType(resp.Header.Get("Content-Type")), Size: resp.ContentLength}
	if h := resp.Header.Get("Docker-Content-Digest"); h != "" {
		d, err := digest.Parse(h)
		if err != nil {
			return Manifest{}, &Error{Kind: KindInvalid, Status: resp.StatusCode, Reason: "Docker-Content-Digest " + strconv.Quote(h) + " is not a digest"}
		}
		m.Digest = d
	}
	want, byDigest := digest.Digest(ref), strings.Contains(ref, ":")
	if method == http.MethodHead {
		if m.Digest == "" && byDigest {
			m.Digest = want
		}
		if m.Digest == "" {
			return Manifest{}, &Error{Kind: KindInvalid, Status: resp.StatusCode, Reason: "the upstream answered a HEAD without Docker-Content-Digest"}
		}
		return m, nil
	}
	body, err := io.ReadAll(io.LimitReader(resp.Body, MaxManifestSize+1))
	if err != nil {
		return Manifest{}, transportError(err)
	}
	if len(body) > MaxManifestSize {
		return Manifest{}, &Error{Kind: KindInvalid, Status: resp.StatusCode, Reason: fmt.Sprintf("the manifest is larger than %d bytes", MaxManifestSize)}
	}
	alg := digest.Canonical
	if byDigest {
		if err := want.Validate(); err != nil {
			return Manifest{}, &Error{Kind: KindInvalid, Reason: "bad digest reference: " + err.Error()}
		}
		alg = want.Algorithm()
	} else if m.Digest != "" && m.Digest.Algorithm().Available() {
		alg = m.Digest.Algorithm()
	}
	got := alg.FromBytes(body)
	if (byDigest && got != want) || (m.Digest != "" && m.Digest.Algorithm() == alg && got != m.Digest) {
		return Manifest{}, &Error{Kind: KindInvalid, Status: resp.StatusCode, Reason: fmt.Sprintf("the manifest's digest is %s, not the %s the upstream gave", got, firstOf(want, m.Digest, byDigest))}
	}
	m.Digest, m.Body, m.Size = got, body, int64(len(body))
	if m.MediaType == "" {
		var probe struct {
			MediaType string `json:"mediaType"`
		}
		_ = json.Unmarshal(body, &probe)
		m.MediaType = probe.MediaType
	}
	return m, nil
}

func firstOf(want, header digest.Digest, byDigest bool) digest.Digest {
	if byDigest {
		return want
	}
	return header
}

func mediaType(ct string) string {
	mt, _, _ := strings.Cut(ct, ";")
	return strings.TrimSpace(mt)
}

// GetBlob opens a blob for reading. size is the upstream's
// Content-Length, or -1 if it sent none. The caller closes the reader
// and checks the digest of what it read.
func (c *Client) GetBlob(ctx context.Context, ep Endpoint, repo string, d digest.Digest) (io.ReadCloser, int64, error) {
	name := RepositoryName(ep.Host, repo)
	resp, err := c.do(ctx, ep, name, http.MethodGet, "/v2/"+name+"/blobs/"+string(d), "")
	if err != nil {
		return nil, 0, err
	}
	return resp.Body, resp.ContentLength, nil
}

// Referrers lists the manifests whose subject is d, or nil if the
// upstream does not serve the referrers API.
func (c *Client) Referrers(ctx context.Context, ep Endpoint, repo string, d digest.Digest) ([]Descriptor, error) {
	name := RepositoryName(ep.Host, repo)
	resp, err := c.do(ctx, ep, name, http.MethodGet, "/v2/"+name+"/referrers/"+string(d), "application/vnd.oci.image.index.v1+json")
	if KindOf(err) == KindNotFound {
		return nil, nil
	}
	if err != nil {
		return nil, err
	}
	defer resp.Body.Close()
	if mediaType(resp.Header.Get("Content-Type")) != "application/vnd.oci.image.index.v1+json" {
		return nil, nil // a registry that answers the path with something else does not serve the API
	}
	var idx struct {
		Manifests []Descriptor `json:"manifests"`
	}
	if err := json.NewDecoder(io.LimitReader(resp.Body, MaxManifestSize)).Decode(&idx); err != nil {
		return nil, &Error{Kind: KindInvalid, Status: resp.StatusCode, Reason: "the referrers index does not parse: " + err.Error()}
	}
	return idx.Manifests, nil
}

// Descriptor is an entry of a referrers index.
type Descriptor struct {
	MediaType    string        `json:"mediaType"`
	Digest       digest.Digest `json:"digest"`
	Size         int64         `json:"size"`
	ArtifactType string        `json:"artifactType,omitempty"`
}

// Ping checks that the upstream answers its /v2/ endpoint and accepts the
// endpoint's credentials (getting a token where it asks for one).
func (c *Client) Ping(ctx context.Context, ep Endpoint) error {
	resp, err := c.do(ctx, ep, "", http.MethodGet, "/v2/", "")
	if err != nil {
		return err
	}
	resp.Body.Close()
	return nil
}

// do sends a request, authenticating as the upstream asks, and returns a
// 2xx response or the upstream's error. repo ("" for /v2/) is the scope
// a token is asked for.
func (c *Client) do(ctx context.Context, ep Endpoint, repo, method, path, accept string) (*http.Response, error) {
	u := c.baseURL(ep.Host) + path
	if ep.Via != "" {
		u = strings.TrimSuffix(ep.Via, "/") + path
	}
	host, _ := dockerHub(ep.Host)
	scope := ""
	if repo != "" {
		scope = "repository:" + repo + ":pull"
	}
	send := func(auth string) (*http.Response, error) {
		req, err := http.NewRequestWithContext(ctx, method, u, nil)
		if err != nil {
			return nil, &Error{Kind: KindInvalid, Reason: err.Error()}
		}
		if ep.Via != "" {
			req.Host = ep.Host
			req.Header.Set(FetchHeader, "1")
		}
		if accept != "" {
			req.Header.Set("Accept", accept)
		}
		if auth != "" {
			req.Header.Set("Authorization", auth)
		}
		resp, err := c.http.Do(req)
		if err != nil {
			return nil, transportError(err)
		}
		return resp, nil
	}
	first := c.cachedAuth(host, ep, scope)
	resp, err := send(first)
	if err != nil {
		return nil, err
	}
	if resp.StatusCode == http.StatusUnauthorized {
		ch, ok := parseChallenge(resp.Header.Get("WWW-Authenticate"))
		drain(resp)
		if !ok {
			return nil, &Error{Kind: KindDenied, Status: resp.StatusCode, Reason: "the upstream asks for authentication it does not name (no usable WWW-Authenticate)"}
		}
		c.mu.Lock()
		c.schemes[host] = ch
		c.mu.Unlock()
		auth, err := c.authorization(ctx, host, ep, ch, scope, first)
		if err != nil {
			return nil, err
		}
		if resp, err = send(auth); err != nil {
			return nil, err
		}
	}
	if resp.StatusCode >= 200 && resp.StatusCode < 300 {
		return resp, nil
	}
	defer drain(resp)
	return nil, statusError(resp)
}

// cachedAuth is the Authorization header a request to host can carry
// before any 401: a token held for the scope, or Basic credentials for a
// host that asked for them.
func (c *Client) cachedAuth(host string, ep Endpoint, scope string) string {
	c.mu.Lock()
	defer c.mu.Unlock()
	ch, known := c.schemes[host]
	if !known {
		return ""
	}
	if ch.scheme == "basic" {
		return basicAuth(ep)
	}
	t, ok := c.tokens[keyOf(host, ep, tokenScope(ch, scope))]
	if ok && c.now().Before(t.expires) {
		return "Bearer " + t.value
	}
	return ""
}

func basicAuth(ep Endpoint) string {
	if ep.Username == "" && ep.Password == "" {
		return ""
	}
	req := http.Request{Header: http.Header{}}
	req.SetBasicAuth(ep.Username, ep.Password)
	return req.Header.Get("Authorization")
}

// tokenScope is the scope a token is asked for: the request's, or for
// /v2/ the one the challenge names.
func tokenScope(ch challenge, scope string) string {
	if scope == "" {
		return ch.params["scope"]
	}
	return scope
}

// authorization answers a challenge. rejected is the Authorization the
// challenged request carried: a held token the upstream refused (revoked,
// or signed with a key it no longer trusts) is fetched anew, not resent
// until it expires.
func (c *Client) authorization(ctx context.Context, host string, ep Endpoint, ch challenge, scope, rejected string) (string, error) {
	if ch.scheme == "basic" {
		if a := basicAuth(ep); a != "" {
			return a, nil
		}
		return "", &Error{Kind: KindDenied, Status: http.StatusUnauthorized, Reason: "the upstream requires credentials and none are configured"}
	}
	scope = tokenScope(ch, scope)
	k := keyOf(host, ep, scope)
	c.mu.Lock()
	t, ok := c.tokens[k]
	c.mu.Unlock()
	if ok && c.now().Before(t.expires) && "Bearer "+t.value != rejected {
		return "Bearer " + t.value, nil
	}
	flight := fmt.Sprintf("%s\x00%x\x00%s\x00%s", k.host, k.cred, k.scope, rejected)
	v, err, _ := c.fetches.Do(flight, func() (any, error) {
		t, err := c.fetchToken(ctx, ep, ch, scope)
		if err != nil {
			return nil, err
		}
		c.mu.Lock()
		c.tokens[k] = t
		c.mu.Unlock()
		return t, nil
	})
	if err != nil {
		return "", err
	}
	return "Bearer " + v.(token).value, nil
}

// fetchToken gets a token from the challenge's realm, as the token
// specification of the distribution project describes.
func (c *Client) fetchToken(ctx context.Context, ep Endpoint, ch challenge, scope string) (token, error) {
	realm := ch.params["realm"]
	ru, err := url.Parse(realm)
	if err != nil || (ru.Scheme != "https" && ru.Scheme != "http") || ru.Host == "" {
		return token{}, &Error{Kind: KindDenied, Reason: "the upstream's token realm " + strconv.Quote(realm) + " is not a URL"}
	}
	if ru.Scheme == "http" && !c.Insecure(ru.Host) {
		return token{}, &Error{Kind: KindDenied, Reason: "the upstream's token realm " + realm + " is plain HTTP and its host is not among the insecure upstreams"}
	}
	q := ru.Query()
	if s := ch.params["service"]; s != "" {
		q.Set("service", s)
	}
	if scope != "" {
		q.Set("scope", scope)
	}
	ru.RawQuery = q.Encode()
	req, err := http.NewRequestWithContext(ctx, http.MethodGet, ru.String(), nil)
	if err != nil {
		return token{}, &Error{Kind: KindInvalid, Reason: err.Error()}
	}
	if a := basicAuth(ep); a != "" {
		req.Header.Set("Authorization", a)
	}
	resp, err := c.http.Do(req)
	if err != nil {
		return token{}, transportError(err)
	}
	defer drain(resp)
	if resp.StatusCode != http.StatusOK {
		e := statusError(resp)
		if resp.StatusCode == http.StatusUnauthorized || resp.StatusCode == http.StatusForbidden {
			e.Kind = KindDenied
		}
		e.Reason = "token endpoint: " + e.Reason
		return token{}, e
	}
	var body struct {
		Token       string `json:"token"`
		AccessToken string `json:"access_token"`
		ExpiresIn   int    `json:"expires_in"`
		IssuedAt    string `json:"issued_at"`
	}
	if err := json.NewDecoder(io.LimitReader(resp.Body, 1<<20)).Decode(&body); err != nil {
		return token{}, &Error{Kind: KindInvalid, Status: resp.StatusCode, Reason: "the token endpoint's answer does not parse: " + err.Error()}
	}
	t := token{value: body.Token}
	if t.value == "" {
		t.value = body.AccessToken
	}
	if t.value == "" {
		return token{}, &Error{Kind: KindDenied, Status: resp.StatusCode, Reason: "the token endpoint answered without a token"}
	}
	// The specification's default lifetime is 60 seconds; a margin keeps
	// a token from expiring in flight.
	life := time.Duration(body.ExpiresIn) * time.Second
	if life < 60*time.Second {
		life = 60 * time.Second
	}
	t.expires = c.now().Add(life - 10*time.Second)
	return t, nil
}

// statusError makes an upstream's non-2xx answer an *Error, with the
// reason from its OCI error body where it sent one.
func statusError(resp *http.Response) *Error {
	e := &Error{Status: resp.StatusCode, Reason: reason(resp)}
	switch {
	case resp.StatusCode == http.StatusNotFound:
		e.Kind = KindNotFound
	case resp.StatusCode == http.StatusUnauthorized || resp.StatusCode == http.StatusForbidden:
		e.Kind = KindDenied
	case resp.StatusCode == http.StatusTooManyRequests || resp.StatusCode >= 500 || resp.StatusCode == http.StatusRequestTimeout:
		e.Kind = KindTemporary
	default:
		e.Kind = KindInvalid
	}
	return e
}

// reason reads an OCI error body's first message, or a short text body,
// or the status text.
func reason(resp *http.Response) string {
	var body struct {
		Errors []struct {
			Code    string `json:"code"`
			Message string `json:"message"`
		} `json:"errors"`
	}
	if resp.Body == nil {
		return http.StatusText(resp.StatusCode)
	}
	raw, _ := io.ReadAll(io.LimitReader(resp.Body, 64<<10))
	if json.Unmarshal(raw, &body) == nil && len(body.Errors) > 0 {
		e := body.Errors[0]
		if e.Message == "" {
			return e.Code
		}
		return e.Code + ": " + e.Message
	}
	text := strings.TrimSpace(string(raw))
	if line, _, _ := strings.Cut(text, "\n"); line != "" && len(line) <= 200 && !strings.HasPrefix(line, "<") && utf8.ValidString(line) {
		return line
	}
	return http.StatusText(resp.StatusCode)
}

func transportError(err error) *Error {
	return &Error{Kind: KindTemporary, Reason: err.Error()}
}

func drain(resp *http.Response) {
	io.Copy(io.Discard, io.LimitReader(resp.Body, 64<<10))
	resp.Body.Close()
}
