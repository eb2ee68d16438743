package webidentity

import (
	"context"
	"crypto/sha1"
	"crypto/tls"
	"crypto/x509"
	"encoding/hex"
	"errors"
	"fmt"
	"io"
	"maps"
	"net"
	"net/http"
	"slices"
	"strings"
	"time"

	"github.com/coreos/go-oidc/v3/oidc"
)

// issuerState is what one discovery yields: the key set at jwks_uri.
type issuerState struct {
	jwksURL string
	keys    *oidc.RemoteKeySet
}

// cacheEntry holds the state of one issuer (and thumbprint set: the pins
// decide which servers are trusted, so providers pinning differently for
// the same issuer must not share keys fetched under the other's trust).
type cacheEntry struct {
	issuer string
	pins   map[string]bool
	client *http.Client

	// Guarded by Verifier.mu.
	st        *issuerState
	refreshAt time.Time     // when st is due for rediscovery
	err       error         // last discovery failure
	retryAt   time.Time     // no new discovery before this after a failure
	inflight  chan struct{} // closed when the running discovery ends
	lastUsed  time.Time
}

// issuerState returns the discovered state of iss. The first caller for an
// issuer waits for discovery (shared with concurrent callers); once there is
// a state, a due refresh runs in the background and callers keep using the
// current keys meanwhile, and after a failed refresh (stale-if-error).
func (v *Verifier) issuerState(ctx context.Context, iss string, thumbprints []string) (*issuerState, error) {
	pins := normalizePins(thumbprints)
	key := iss + "\x00" + strings.Join(slices.Sorted(maps.Keys(pins)), ",")
	v.mu.Lock()
	now := time.Now()
	e := v.cache[key]
	if e == nil {
		v.sweep(now)
		e = &cacheEntry{issuer: iss, pins: pins, client: v.newClient(pins)}
		v.cache[key] = e
	}
	e.lastUsed = now
	due := e.inflight == nil && !now.Before(e.retryAt) && (e.st == nil || !now.Before(e.refreshAt))
	if due {
		// In the background, so that a caller giving up does not abort
		// the fetch others are waiting for.
		e.inflight = make(chan struct{})
		go v.discover(context.WithoutCancel(ctx), e, e.inflight)
	}
	if e.st != nil {
		st := e.st
		v.mu.Unlock()
		return st, nil
	}
	if e.inflight == nil {
		err := e.err // failed recently; retried after the backoff
		v.mu.Unlock()
		return nil, err
	}
	ch := e.inflight
	v.mu.Unlock()
	select {
	case <-ch:
	case <-ctx.Done():
		return nil, idpError("Gave up waiting for the OpenID Connect discovery of %s: %v.", iss, ctx.Err())
	}
	v.mu.Lock()
	defer v.mu.Unlock()
	if e.st != nil {
		return e.st, nil
	}
	return nil, e.err
}

// sweep drops entries unused for a while, so changing thumbprints or many
// issuers over time cannot grow the cache without bound. Called with v.mu.
func (v *Verifier) sweep(now time.Time) {
	for k, e := range v.cache {
		if e.inflight == nil && now.Sub(e.lastUsed) > 2*RefreshInterval {
			e.client.CloseIdleConnections()
			delete(v.cache, k)
		}
	}
}

func (v *Verifier) discover(ctx context.Context, e *cacheEntry, done chan struct{}) {
	ctx, cancel := context.WithTimeout(ctx, v.timeout)
	defer cancel()
	st, err := v.fetchState(ctx, e)
	now := time.Now()
	v.mu.Lock()
	defer v.mu.Unlock()
	if err != nil {
		e.err = err
		e.retryAt = now.Add(v.backoff)
	} else {
		e.st, e.err = st, nil
		e.refreshAt = now.Add(RefreshInterval)
	}
	e.inflight = nil
	close(done)
}

func (v *Verifier) fetchState(ctx context.Context, e *cacheEntry) (*issuerState, error) {
	ctx = oidc.ClientContext(ctx, e.client)
	prov, err := oidc.NewProvider(ctx, e.issuer)
	if err != nil {
		var mismatch *oidc.IssuerMismatchError
		if errors.As(err, &mismatch) {
			return nil, idpError("The discovery document of %s names issuer %q; it must equal the token's issuer exactly. Fix the identity provider's issuer setting.", e.issuer, mismatch.Discovered)
		}
		return nil, idpError("Could not fetch the OpenID Connect discovery document %s/.well-known/openid-configuration: %s. Check that ecrd can reach the issuer over HTTPS and trusts its certificate (CA bundle, or a thumbprint on the provider).", strings.TrimSuffix(e.issuer, "/"), v.describe(err))
	}
	var meta struct {
		JWKSURL string `json:"jwks_uri"`
	}
	if err := prov.Claims(&meta); err != nil || !strings.HasPrefix(meta.JWKSURL, "https://") {
		return nil, idpError("The discovery document of %s has no https jwks_uri (got %q); the identity provider must publish its keys over HTTPS.", e.issuer, meta.JWKSURL)
	}
	// The key set keeps this context for its later fetches; only its values
	// (our client) matter, go-oidc ignores its cancellation.
	keys := oidc.NewRemoteKeySet(oidc.ClientContext(context.Background(), e.client), meta.JWKSURL)
	return &issuerState{jwksURL: meta.JWKSURL, keys: keys}, nil
}

// describe words a fetch error; timeouts come in several shapes (client
// timeout, context deadline) that mean the same thing to an operator.
func (v *Verifier) describe(err error) string {
	var ne net.Error
	if errors.Is(err, context.DeadlineExceeded) || (errors.As(err, &ne) && ne.Timeout()) {
		return fmt.Sprintf("no answer within %v (%v)", v.timeout, err)
	}
	return err.Error()
}

// normalizePins keeps well-formed SHA-1 thumbprints, lower-cased; colons as
// printed by openssl are tolerated.
func normalizePins(thumbprints []string) map[string]bool {
	pins := map[string]bool{}
	for _, t := range thumbprints {
		t = strings.ToLower(strings.ReplaceAll(strings.TrimSpace(t), ":", ""))
		if b, err := hex.DecodeString(t); err == nil && len(b) == sha1.Size {
			pins[t] = true
		}
	}
	return pins
}

// newClient returns the HTTP client for one cache entry: TLS verified by
// verifyPeer (roots, else pins), bounded time and body size, https only.
func (v *Verifier) newClient(pins map[string]bool) *http.Client {
	dialer := &net.Dialer{Timeout: v.timeout, KeepAlive: 30 * time.Second}
	tr := &http.Transport{
		Proxy: http.ProxyFromEnvironment,
		// Direct connections: we do the handshake so the verifier knows the
		// host name even for IP-literal issuers (no SNI is sent for those,
		// so tls.ConnectionState.ServerName would be empty).
		DialTLSContext: func(ctx context.Context, network, addr string) (net.Conn, error) {
			host, _, err := net.SplitHostPort(addr)
			if err != nil {
				return nil, err
			}
			conn, err := dialer.DialContext(ctx, network, addr)
			if err != nil {
				return nil, err
			}
			tc := tls.Client(conn, v.tlsConfig(host, pins))
			if err := tc.HandshakeContext(ctx); err != nil {
				conn.Close()
				return nil, err
			}
			return tc, nil
		},
		// Through an HTTPS proxy (CONNECT) the transport does the handshake
		// with this config, and the host name comes from SNI.
		TLSClientConfig:       v.tlsConfig("", pins),
		TLSHandshakeTimeout:   v.timeout,
		ResponseHeaderTimeout: v.timeout,
		IdleConnTimeout:       90 * time.Second,
		MaxIdleConnsPerHost:   2,
	}
	return &http.Client{
		Transport: limitTransport{tr},
		Timeout:   v.timeout,
		CheckRedirect: func(req *http.Request, via []*http.Request) error {
			if req.URL.Scheme != "https" {
				return fmt.Errorf("refusing redirect to non-https URL %s", req.URL.Redacted())
			}
			if len(via) >= 5 {
				return errors.New("too many redirects")
			}
			return nil
		},
	}
}

// tlsConfig verifies the peer itself (InsecureSkipVerify only disables the
// built-in check, which cannot fall back to thumbprints). host "" means
// "take it from the handshake's SNI".
func (v *Verifier) tlsConfig(host string, pins map[string]bool) *tls.Config {
	return &tls.Config{
		ServerName:         host,
		MinVersion:         tls.VersionTLS12,
		InsecureSkipVerify: true,
		VerifyConnection: func(cs tls.ConnectionState) error {
			name := host
			if name == "" {
				name = cs.ServerName
			}
			return verifyPeer(cs.PeerCertificates, name, v.roots, pins)
		},
	}
}

// verifyPeer implements the trust rule in the package doc.
func verifyPeer(certs []*x509.Certificate, host string, roots *x509.CertPool, pins map[string]bool) error {
	if len(certs) == 0 {
		return errors.New("the server sent no certificate")
	}
	if host == "" {
		return errors.New("no host name to verify the certificate against")
	}
	opts := x509.VerifyOptions{Roots: roots, Intermediates: x509.NewCertPool(), DNSName: host}
	for _, c := range certs[1:] {
		opts.Intermediates.AddCert(c)
	}
	_, err := certs[0].Verify(opts)
	if err == nil {
		return nil
	}
	if len(pins) == 0 {
		return fmt.Errorf("certificate of %s is not trusted (%w); add its CA to ecrd's CA bundle or put the SHA-1 thumbprint of its top certificate on the OIDC provider", host, err)
	}
	for _, c := range certs {
		sum := sha1.Sum(c.Raw)
		if !pins[hex.EncodeToString(sum[:])] {
			continue
		}
		pinned := opts
		pinned.Roots = x509.NewCertPool()
		pinned.Roots.AddCert(c)
		_, err = certs[0].Verify(pinned)
		if err == nil {
			return nil
		}
	}
	return fmt.Errorf("certificate of %s is not trusted and no certificate it sends matches a thumbprint of the OIDC provider (%w); update the provider's thumbprints or add the CA to ecrd's CA bundle", host, err)
}

var errBodyTooLarge = fmt.Errorf("response body larger than %d bytes", MaxBodyBytes)

// limitTransport refuses plain http and caps response bodies, since
// go-oidc reads them whole.
type limitTransport struct{ rt http.RoundTripper }

func (l limitTransport) RoundTrip(req *http.Request) (*http.Response, error) {
	if req.URL.Scheme != "https" {
		return nil, fmt.Errorf("refusing to fetch %s: OIDC issuers and keys must be served over https", req.URL.Redacted())
	}
	req = req.Clone(req.Context())
	req.Header.Set("User-Agent", "ecrd-webidentity")
	resp, err := l.rt.RoundTrip(req)
	if err != nil {
		return nil, err
	}
	if resp.ContentLength > MaxBodyBytes {
		resp.Body.Close()
		return nil, errBodyTooLarge
	}
	resp.Body = &limitedBody{rc: resp.Body, left: MaxBodyBytes}
	return resp, nil
}

type limitedBody struct {
	rc   io.ReadCloser
	left int64
}

func (b *limitedBody) Read(p []byte) (int, error) {
	if b.left <= 0 {
		// At the cap: only a clean EOF is acceptable.
		var one [1]byte
		n, err := b.rc.Read(one[:])
		if n > 0 {
			return 0, errBodyTooLarge
		}
		return 0, err
	}
	if int64(len(p)) > b.left {
		p = p[:b.left]
	}
	n, err := b.rc.Read(p)
	b.left -= int64(n)
	return n, err
}

func (b *limitedBody) Close() error { return b.rc.Close() }
