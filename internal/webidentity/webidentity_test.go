package webidentity

import (
	"context"
	"crypto/hmac"
	"crypto/sha1"
	"crypto/sha256"
	"crypto/tls"
	"crypto/x509"
	"encoding/base64"
	"encoding/hex"
	"encoding/json"
	"errors"
	"net"
	"net/http"
	"net/http/httptest"
	"reflect"
	"strconv"
	"strings"
	"sync"
	"testing"
	"time"

	"github.com/ecrd/ecrd/internal/webidentity/oidctest"
)

const (
	ghSub  = "repo:octo-org/octo-repo:ref:refs/heads/main"
	stsAud = "sts.amazonaws.com"
)

func provider(iss *oidctest.Issuer) Provider {
	return Provider{URL: iss.Host(), ClientIDs: []string{"other-client", stsAud}}
}

func newVerifier(iss *oidctest.Issuer) *Verifier {
	return NewVerifier(Options{RootCAs: iss.CertPool(), Timeout: 5 * time.Second})
}

// wantErr fails unless err is an *Error with code whose message contains msg.
func wantErr(t *testing.T, err error, code, msg string) {
	t.Helper()
	var e *Error
	if !errors.As(err, &e) {
		t.Fatalf("error = %v (%T), want *Error %s", err, err, code)
	}
	if e.Code != code || !strings.Contains(e.Message, msg) {
		t.Fatalf("error = %s: %q, want %s containing %q", e.Code, e.Message, code, msg)
	}
}

// unsigned builds a compact JWT with the given header and claims and a
// signature of the caller's choosing.
func unsigned(header, claims map[string]any, sig []byte) string {
	h, _ := json.Marshal(header)
	c, _ := json.Marshal(claims)
	enc := base64.RawURLEncoding.EncodeToString
	return enc(h) + "." + enc(c) + "." + enc(sig)
}

func hs256(claims map[string]any, key []byte) string {
	h, _ := json.Marshal(map[string]any{"alg": "HS256", "typ": "JWT"})
	c, _ := json.Marshal(claims)
	enc := base64.RawURLEncoding.EncodeToString
	input := enc(h) + "." + enc(c)
	m := hmac.New(sha256.New, key)
	m.Write([]byte(input))
	return input + "." + enc(m.Sum(nil))
}

func TestVerifyValid(t *testing.T) {
	iss := oidctest.New(t)
	v := newVerifier(iss)
	before := time.Now()
	c, err := v.Verify(context.Background(), provider(iss), iss.GitHubToken(ghSub, stsAud, 10*time.Minute))
	if err != nil {
		t.Fatal(err)
	}
	if c.Issuer != iss.URL() || c.Subject != ghSub || !reflect.DeepEqual(c.Audience, []string{stsAud}) {
		t.Errorf("claims = iss %q sub %q aud %q", c.Issuer, c.Subject, c.Audience)
	}
	if d := c.Expiry.Sub(before); d < 9*time.Minute || d > 11*time.Minute {
		t.Errorf("Expiry %v is not ~10m after %v", c.Expiry, before)
	}
	if c.IssuedAt.IsZero() || c.IssuedAt.After(time.Now().Add(time.Second)) {
		t.Errorf("IssuedAt = %v", c.IssuedAt)
	}
	if c.Raw["repository"] != "octo-org/octo-repo" || c.Raw["ref"] != "refs/heads/main" || c.Raw["ref_type"] != "branch" {
		t.Errorf("Raw = %v", c.Raw)
	}
	// The provider URL may carry IAM-irrelevant decoration the caller kept.
	p := provider(iss)
	p.URL = "https://" + p.URL + "/"
	if _, err := v.Verify(context.Background(), p, iss.GitHubToken(ghSub, stsAud, time.Minute)); err != nil {
		t.Errorf("provider URL with scheme and slash: %v", err)
	}
}

func TestVerifyRejects(t *testing.T) {
	iss := oidctest.New(t)
	other := oidctest.New(t)
	now := time.Now()
	claims := func(edit func(map[string]any)) map[string]any {
		c := iss.GitHubClaims(ghSub, stsAud, 10*time.Minute)
		edit(c)
		return c
	}
	cases := []struct {
		name  string
		p     Provider
		token string
		code  string
		msg   string
	}{
		{"wrong audience", provider(iss), iss.GitHubToken(ghSub, "https://github.com/octo-org", time.Minute),
			CodeInvalidIdentityToken, "Incorrect token audience"},
		{"no client IDs", Provider{URL: iss.Host()}, iss.GitHubToken(ghSub, stsAud, time.Minute),
			CodeInvalidIdentityToken, "Incorrect token audience"},
		{"expired", provider(iss), iss.GitHubToken(ghSub, stsAud, -time.Minute),
			CodeExpiredToken, "Token expired: current date/time "},
		{"not yet valid", provider(iss), iss.Sign(claims(func(c map[string]any) { c["nbf"] = now.Add(time.Hour).Unix() })),
			CodeInvalidIdentityToken, "not valid yet"},
		{"issued in the future", provider(iss), iss.Sign(claims(func(c map[string]any) { c["iat"] = now.Add(time.Hour).Unix() })),
			CodeInvalidIdentityToken, "issued in the future"},
		{"nbf within skew is fine, but aud wrong", provider(iss), iss.Sign(claims(func(c map[string]any) {
			c["nbf"] = now.Add(time.Minute).Unix()
			c["aud"] = "nope"
		})), CodeInvalidIdentityToken, "Incorrect token audience"},
		{"issuer is another provider", provider(other), iss.GitHubToken(ghSub, stsAud, time.Minute),
			CodeInvalidIdentityToken, "does not match the OpenID Connect provider"},
		{"issuer not https", Provider{URL: iss.Host(), ClientIDs: []string{stsAud}}, iss.Sign(claims(func(c map[string]any) { c["iss"] = "http://" + iss.Host() })),
			CodeInvalidIdentityToken, "does not match"},
		{"issuer with query", Provider{URL: iss.Host() + "?x=1", ClientIDs: []string{stsAud}}, iss.Sign(claims(func(c map[string]any) { c["iss"] = iss.URL() + "?x=1" })),
			CodeInvalidIdentityToken, "without query"},
		{"signed by another issuer's key", provider(iss), other.Sign(claims(func(map[string]any) {})),
			CodeInvalidIdentityToken, "signature does not verify"},
		{"no sub", provider(iss), iss.Sign(claims(func(c map[string]any) { delete(c, "sub") })),
			CodeInvalidIdentityToken, "no sub"},
		{"no aud", provider(iss), iss.Sign(claims(func(c map[string]any) { delete(c, "aud") })),
			CodeInvalidIdentityToken, "no aud"},
		{"aud of numbers", provider(iss), iss.Sign(claims(func(c map[string]any) { c["aud"] = []any{1, 2} })),
			CodeInvalidIdentityToken, "aud claim must be"},
		{"no exp", provider(iss), iss.Sign(claims(func(c map[string]any) { delete(c, "exp") })),
			CodeInvalidIdentityToken, "no exp"},
		{"exp a string", provider(iss), iss.Sign(claims(func(c map[string]any) { c["exp"] = "tomorrow" })),
			CodeInvalidIdentityToken, "exp claim must be a number"},
		{"alg none", provider(iss), unsigned(map[string]any{"alg": "none"}, claims(func(map[string]any) {}), nil),
			CodeInvalidIdentityToken, `algorithm "none"`},
		{"HS256 keyed with the public JWKS", provider(iss), hs256(claims(func(map[string]any) {}), []byte("secret")),
			CodeInvalidIdentityToken, `algorithm "HS256"`},
		{"RS256 header, garbage signature", provider(iss), unsigned(map[string]any{"alg": "RS256", "kid": iss.KeyID()}, claims(func(map[string]any) {}), []byte("sig")),
			CodeInvalidIdentityToken, "signature does not verify"},
	}
	v := newVerifier(iss)
	for _, tc := range cases {
		t.Run(tc.name, func(t *testing.T) {
			c, err := v.Verify(context.Background(), tc.p, tc.token)
			if err == nil {
				t.Fatalf("verified: %+v", c)
			}
			wantErr(t, err, tc.code, tc.msg)
		})
	}
}

func TestExpiryUsesClock(t *testing.T) {
	iss := oidctest.New(t)
	tok := iss.GitHubToken(ghSub, stsAud, 10*time.Minute)
	later := time.Now().Add(time.Hour)
	v := NewVerifier(Options{RootCAs: iss.CertPool(), Now: func() time.Time { return later }})
	_, err := v.Verify(context.Background(), provider(iss), tok)
	wantErr(t, err, CodeExpiredToken, "Token expired: current date/time "+strconv.FormatInt(later.Unix(), 10)+" must be before the expiration date/time ")
}

func TestMalformed(t *testing.T) {
	iss := oidctest.New(t)
	v := newVerifier(iss)
	good := iss.GitHubToken(ghSub, stsAud, time.Minute)
	parts := strings.Split(good, ".")
	cases := map[string]string{
		"empty":              "",
		"too short":          "a.b",
		"not a JWT":          "not-a-jwt-at-all",
		"two parts":          parts[0] + "." + parts[1],
		"four parts":         good + ".x",
		"header not base64":  "!!!." + parts[1] + "." + parts[2],
		"header not JSON":    base64.RawURLEncoding.EncodeToString([]byte("nope")) + "." + parts[1] + "." + parts[2],
		"payload not JSON":   parts[0] + "." + base64.RawURLEncoding.EncodeToString([]byte("nope")) + "." + parts[2],
		"payload an array":   parts[0] + "." + base64.RawURLEncoding.EncodeToString([]byte("[1]")) + "." + parts[2],
		"no iss":             iss.Sign(map[string]any{"sub": "x"}),
		"iss not a string":   iss.Sign(map[string]any{"iss": 7}),
		"alg none":           unsigned(map[string]any{"alg": "none"}, map[string]any{"iss": iss.URL()}, nil),
		"HS256":              hs256(map[string]any{"iss": iss.URL()}, []byte("k")),
		"alg missing":        unsigned(map[string]any{"typ": "JWT"}, map[string]any{"iss": iss.URL()}, []byte("s")),
		"JSON serialization": `{"payload":"` + parts[1] + `","protected":"` + parts[0] + `","signature":"` + parts[2] + `"}`,
		"too long":           good + strings.Repeat("A", MaxTokenLength-len(good)+1),
	}
	for name, tok := range cases {
		t.Run(name, func(t *testing.T) {
			if got, err := Issuer(tok); err == nil {
				t.Errorf("Issuer = %q, want error", got)
			} else {
				wantErr(t, err, CodeInvalidIdentityToken, "")
			}
			_, err := v.Verify(context.Background(), provider(iss), tok)
			wantErr(t, err, CodeInvalidIdentityToken, "")
		})
	}
	if got, err := Issuer(good); err != nil || got != iss.URL() {
		t.Errorf("Issuer(good) = %q, %v; want %q", got, err, iss.URL())
	}
}

func TestRotatedKeyIsRefetched(t *testing.T) {
	iss := oidctest.New(t)
	v := newVerifier(iss)
	p := provider(iss)
	old := iss.GitHubToken(ghSub, stsAud, time.Minute)
	if _, err := v.Verify(context.Background(), p, old); err != nil {
		t.Fatal(err)
	}
	if _, err := v.Verify(context.Background(), p, old); err != nil {
		t.Fatal(err)
	}
	if n := iss.Hits(oidctest.JWKSPath); n != 1 {
		t.Fatalf("JWKS fetched %d times for one kid, want 1 (cached)", n)
	}
	iss.RotateKey()
	if _, err := v.Verify(context.Background(), p, iss.GitHubToken(ghSub, stsAud, time.Minute)); err != nil {
		t.Fatalf("token with the new kid: %v", err)
	}
	if n := iss.Hits(oidctest.JWKSPath); n != 2 {
		t.Errorf("JWKS fetched %d times, want 2 (refetch on unknown kid)", n)
	}
	// The old key is gone from the JWKS, so its tokens no longer verify.
	_, err := v.Verify(context.Background(), p, old)
	wantErr(t, err, CodeInvalidIdentityToken, "signature does not verify")
	if n := iss.Hits(oidctest.DiscoveryPath); n != 1 {
		t.Errorf("discovery fetched %d times, want 1", n)
	}

	iss.RotateKeyES256()
	if _, err := v.Verify(context.Background(), p, iss.GitHubToken(ghSub, stsAud, time.Minute)); err != nil {
		t.Fatalf("ES256 token: %v", err)
	}
}

func TestIssuerUnreachable(t *testing.T) {
	iss := oidctest.New(t)
	l, err := net.Listen("tcp", "127.0.0.1:0")
	if err != nil {
		t.Fatal(err)
	}
	host := l.Addr().String()
	l.Close()
	c := iss.GitHubClaims(ghSub, stsAud, time.Minute)
	c["iss"] = "https://" + host
	v := newVerifier(iss)
	_, err = v.Verify(context.Background(), Provider{URL: host, ClientIDs: []string{stsAud}}, iss.Sign(c))
	wantErr(t, err, CodeIDPCommunicationError, "Could not fetch the OpenID Connect discovery document https://"+host+"/.well-known/openid-configuration")
}

func TestOutage(t *testing.T) {
	iss := oidctest.New(t)
	v := newVerifier(iss)
	v.backoff = 0
	p := provider(iss)

	iss.SetUnavailable(true)
	_, err := v.Verify(context.Background(), p, iss.GitHubToken(ghSub, stsAud, time.Minute))
	wantErr(t, err, CodeIDPCommunicationError, "503")

	// The failure is not cached: once the issuer is back, it works.
	iss.SetUnavailable(false)
	if _, err := v.Verify(context.Background(), p, iss.GitHubToken(ghSub, stsAud, time.Minute)); err != nil {
		t.Fatal(err)
	}

	// Keys already fetched keep working through an outage; new keys cannot
	// be fetched and that is the IdP's fault, not the token's.
	iss.SetUnavailable(true)
	if _, err := v.Verify(context.Background(), p, iss.GitHubToken(ghSub, stsAud, time.Minute)); err != nil {
		t.Fatalf("cached key during outage: %v", err)
	}
	iss.RotateKey()
	_, err = v.Verify(context.Background(), p, iss.GitHubToken(ghSub, stsAud, time.Minute))
	wantErr(t, err, CodeIDPCommunicationError, "Could not fetch the signing keys")
}

func TestFailedDiscoveryBackoff(t *testing.T) {
	iss := oidctest.New(t)
	v := newVerifier(iss)
	v.backoff = time.Hour
	p := provider(iss)
	iss.SetUnavailable(true)
	for range 3 {
		_, err := v.Verify(context.Background(), p, iss.GitHubToken(ghSub, stsAud, time.Minute))
		wantErr(t, err, CodeIDPCommunicationError, "503")
	}
	if n := iss.Hits(oidctest.DiscoveryPath); n != 1 {
		t.Errorf("discovery tried %d times within the backoff, want 1", n)
	}
}

func TestDiscoveryIssuerMismatch(t *testing.T) {
	iss := oidctest.New(t)
	c := iss.GitHubClaims(ghSub, stsAud, time.Minute)
	c["iss"] = iss.URL() + "/" // the discovery document says it without the slash
	v := newVerifier(iss)
	_, err := v.Verify(context.Background(), provider(iss), iss.Sign(c))
	wantErr(t, err, CodeIDPCommunicationError, `names issuer "`+iss.URL()+`"`)
}

func leafAndCA(t *testing.T, iss *oidctest.Issuer) []*x509.Certificate {
	t.Helper()
	conn, err := tls.Dial("tcp", iss.Host(), &tls.Config{InsecureSkipVerify: true})
	if err != nil {
		t.Fatal(err)
	}
	defer conn.Close()
	certs := conn.ConnectionState().PeerCertificates
	if len(certs) != 2 {
		t.Fatalf("issuer sent %d certificates, want leaf and CA", len(certs))
	}
	return certs
}

func thumb(c *x509.Certificate) string {
	s := sha1.Sum(c.Raw)
	return hex.EncodeToString(s[:])
}

func TestThumbprints(t *testing.T) {
	iss := oidctest.New(t)
	other := oidctest.New(t)
	leaf := leafAndCA(t, iss)[0]
	cases := []struct {
		name  string
		roots *x509.CertPool
		pins  []string
		code  string // "" for success
	}{
		{"trusted, no pin", iss.CertPool(), nil, ""},
		{"trusted, wrong pin ignored", iss.CertPool(), []string{strings.Repeat("ab", 20)}, ""},
		{"untrusted, no pin", other.CertPool(), nil, CodeIDPCommunicationError},
		{"untrusted, wrong pin", other.CertPool(), []string{other.Thumbprint()}, CodeIDPCommunicationError},
		{"untrusted, malformed pin", other.CertPool(), []string{"xyz"}, CodeIDPCommunicationError},
		{"untrusted, CA pinned", other.CertPool(), []string{iss.Thumbprint()}, ""},
		{"untrusted, CA pinned upper case", other.CertPool(), []string{"00", strings.ToUpper(iss.Thumbprint())}, ""},
		{"untrusted, leaf pinned", x509.NewCertPool(), []string{thumb(leaf)}, ""},
	}
	for _, tc := range cases {
		t.Run(tc.name, func(t *testing.T) {
			v := NewVerifier(Options{RootCAs: tc.roots})
			p := provider(iss)
			p.Thumbprints = tc.pins
			_, err := v.Verify(context.Background(), p, iss.GitHubToken(ghSub, stsAud, time.Minute))
			if tc.code == "" {
				if err != nil {
					t.Fatal(err)
				}
				return
			}
			wantErr(t, err, tc.code, "not trusted")
		})
	}
}

// TestVerifyPeerPinNeedsChain checks that a pin is not satisfied by merely
// sending the pinned certificate: the leaf must chain to it and be valid for
// the host.
func TestVerifyPeerPinNeedsChain(t *testing.T) {
	a, b := oidctest.New(t), oidctest.New(t)
	ca, cb := leafAndCA(t, a), leafAndCA(t, b)
	pins := normalizePins([]string{a.Thumbprint()})
	empty := x509.NewCertPool()
	if err := verifyPeer(ca, "127.0.0.1", empty, pins); err != nil {
		t.Errorf("genuine chain: %v", err)
	}
	if err := verifyPeer([]*x509.Certificate{cb[0], ca[1]}, "127.0.0.1", empty, pins); err == nil {
		t.Error("foreign leaf with the pinned CA appended was accepted")
	}
	if err := verifyPeer(ca, "example.com", empty, pins); err == nil {
		t.Error("pinned chain accepted for a host its leaf does not name")
	}
	if err := verifyPeer(ca, "", empty, pins); err == nil {
		t.Error("accepted without a host name")
	}
	if err := verifyPeer(nil, "127.0.0.1", empty, pins); err == nil {
		t.Error("accepted without certificates")
	}
	if err := verifyPeer(ca, "localhost", a.CertPool(), nil); err != nil {
		t.Errorf("trusted chain by DNS name: %v", err)
	}
}

// TestLimits covers a hostile or broken issuer: huge bodies, a hanging
// server, key sets over plain http.
func TestLimits(t *testing.T) {
	signer := oidctest.New(t)
	var srvURL string
	mux := http.NewServeMux()
	mux.HandleFunc("/huge/.well-known/openid-configuration", func(w http.ResponseWriter, r *http.Request) {
		w.Write([]byte(`{"issuer":"` + srvURL + `/huge","jwks_uri":"` + srvURL + `/jwks","x":"`))
		w.Write([]byte(strings.Repeat("x", MaxBodyBytes)))
		w.Write([]byte(`"}`))
	})
	mux.HandleFunc("/hang/.well-known/openid-configuration", func(w http.ResponseWriter, r *http.Request) {
		select {
		case <-r.Context().Done():
		case <-time.After(10 * time.Second):
		}
	})
	mux.HandleFunc("/plain/.well-known/openid-configuration", func(w http.ResponseWriter, r *http.Request) {
		w.Write([]byte(`{"issuer":"` + srvURL + `/plain","jwks_uri":"http://` + r.Host + `/jwks"}`))
	})
	mux.HandleFunc("/bigjwks/.well-known/openid-configuration", func(w http.ResponseWriter, r *http.Request) {
		w.Write([]byte(`{"issuer":"` + srvURL + `/bigjwks","jwks_uri":"` + srvURL + `/bigjwks/jwks"}`))
	})
	mux.HandleFunc("/hangjwks/.well-known/openid-configuration", func(w http.ResponseWriter, r *http.Request) {
		w.Write([]byte(`{"issuer":"` + srvURL + `/hangjwks","jwks_uri":"` + srvURL + `/hang/.well-known/openid-configuration"}`))
	})
	mux.HandleFunc("/bigjwks/jwks", func(w http.ResponseWriter, r *http.Request) {
		w.Write([]byte(`{"keys":[],"x":"` + strings.Repeat("x", 2*MaxBodyBytes) + `"}`))
	})
	srv := httptest.NewTLSServer(mux)
	defer srv.Close()
	srvURL = srv.URL
	roots := x509.NewCertPool()
	roots.AddCert(srv.Certificate())
	v := NewVerifier(Options{RootCAs: roots, Timeout: 300 * time.Millisecond})

	for _, tc := range []struct{ path, msg string }{
		{"/huge", "larger than"},
		{"/hang", "no answer within 300ms"},
		{"/hangjwks", "no answer within 300ms"},
		{"/plain", "no https jwks_uri"},
		{"/bigjwks", "larger than"},
	} {
		t.Run(tc.path, func(t *testing.T) {
			c := signer.GitHubClaims(ghSub, stsAud, time.Minute)
			c["iss"] = srv.URL + tc.path
			start := time.Now()
			_, err := v.Verify(context.Background(), Provider{URL: ProviderURL(srv.URL + tc.path), ClientIDs: []string{stsAud}}, signer.Sign(c))
			wantErr(t, err, CodeIDPCommunicationError, tc.msg)
			if d := time.Since(start); d > 3*time.Second {
				t.Errorf("took %v despite a 300ms timeout", d)
			}
		})
	}
}

func TestCallerContext(t *testing.T) {
	iss := oidctest.New(t)
	v := newVerifier(iss)
	ctx, cancel := context.WithCancel(context.Background())
	cancel()
	_, err := v.Verify(ctx, provider(iss), iss.GitHubToken(ghSub, stsAud, time.Minute))
	wantErr(t, err, CodeIDPCommunicationError, "context canceled")
	// The abandoned discovery still completes for later callers.
	if _, err := v.Verify(context.Background(), provider(iss), iss.GitHubToken(ghSub, stsAud, time.Minute)); err != nil {
		t.Fatal(err)
	}
	if n := iss.Hits(oidctest.DiscoveryPath); n != 1 {
		t.Errorf("discovery fetched %d times, want 1 (the abandoned one reused)", n)
	}
}

func TestConcurrentFirstUse(t *testing.T) {
	iss := oidctest.New(t)
	v := newVerifier(iss)
	tok := iss.GitHubToken(ghSub, stsAud, time.Minute)
	var wg sync.WaitGroup
	errs := make(chan error, 32)
	for range 32 {
		wg.Go(func() {
			_, err := v.Verify(context.Background(), provider(iss), tok)
			errs <- err
		})
	}
	wg.Wait()
	close(errs)
	for err := range errs {
		if err != nil {
			t.Fatal(err)
		}
	}
	if n := iss.Hits(oidctest.DiscoveryPath); n != 1 {
		t.Errorf("discovery fetched %d times by concurrent callers, want 1", n)
	}
}

func TestConditionKeys(t *testing.T) {
	iss := oidctest.New(t)
	c := iss.GitHubClaims(ghSub, "", time.Minute)
	c["aud"] = []string{stsAud, "https://github.com/octo-org"}
	c["amr"] = []any{"authenticated", "graph", map[string]any{"skip": true}}
	c["email"] = "bot@example.com"
	c["azp"] = "client-1"
	c["email_verified"] = true // not a key AWS exposes
	got, err := newVerifier(iss).Verify(context.Background(), provider(iss), iss.Sign(c))
	if err != nil {
		t.Fatal(err)
	}
	const arn = "arn:aws:iam::123456789012:oidc-provider/"
	keys := got.ConditionKeys(iss.Host(), arn+iss.Host())
	want := map[string][]string{
		iss.Host() + ":aud":     {stsAud, "https://github.com/octo-org"},
		iss.Host() + ":sub":     {ghSub},
		iss.Host() + ":amr":     {"authenticated", "graph"},
		iss.Host() + ":azp":     {"client-1"},
		iss.Host() + ":email":   {"bot@example.com"},
		"aws:FederatedProvider": {arn + iss.Host()},
	}
	if !reflect.DeepEqual(keys, want) {
		t.Errorf("ConditionKeys =\n%v\nwant\n%v", keys, want)
	}
	for _, k := range []string{"repository", "ref", "email_verified", "iss", "oaud"} {
		if _, ok := keys[iss.Host()+":"+k]; ok {
			t.Errorf("claim %q exposed as a condition key", k)
		}
	}

	minimal := (&Claims{Subject: "s", Audience: []string{"a"}, Raw: map[string]any{"sub": "s", "oaud": "o"}}).ConditionKeys("idp.example/x", "")
	wantMin := map[string][]string{"idp.example/x:aud": {"a"}, "idp.example/x:sub": {"s"}, "idp.example/x:oaud": {"o"}}
	if !reflect.DeepEqual(minimal, wantMin) {
		t.Errorf("ConditionKeys without ARN = %v, want %v", minimal, wantMin)
	}
}

func TestProviderURL(t *testing.T) {
	for in, want := range map[string]string{
		"https://token.actions.githubusercontent.com":  "token.actions.githubusercontent.com",
		"https://token.actions.githubusercontent.com/": "token.actions.githubusercontent.com",
		"https://127.0.0.1:8443":                       "127.0.0.1:8443",
		"https://ghes.example.com/_services/token":     "ghes.example.com/_services/token",
		"HTTPS://host/path/":                           "host/path",
		"host/path":                                    "host/path",
		"http://host":                                  "http://host",
	} {
		if got := ProviderURL(in); got != want {
			t.Errorf("ProviderURL(%q) = %q, want %q", in, got, want)
		}
	}
}

func TestErrorString(t *testing.T) {
	e := &Error{Code: CodeInvalidIdentityToken, Message: "Incorrect token audience"}
	if e.Error() != "InvalidIdentityToken: Incorrect token audience" {
		t.Errorf("Error() = %q", e.Error())
	}
}

func FuzzIssuer(f *testing.F) {
	enc := base64.RawURLEncoding.EncodeToString
	f.Add("")
	f.Add("a.b.c")
	f.Add(enc([]byte(`{"alg":"RS256"}`)) + "." + enc([]byte(`{"iss":"https://x"}`)) + "." + enc([]byte("sig")))
	f.Add(enc([]byte(`{"alg":"ES256"}`)) + "." + enc([]byte(`{"iss":["https://x"]}`)) + ".")
	f.Add(enc([]byte(`{"alg":"none"}`)) + "." + enc([]byte(`{"iss":"https://x"}`)) + ".")
	f.Add(enc([]byte(`{"alg":"RS256","crit":["exp"]}`)) + "." + enc([]byte(`null`)) + "." + enc([]byte("s")))
	f.Fuzz(func(t *testing.T, token string) {
		iss, err := Issuer(token)
		if err != nil {
			var e *Error
			if !errors.As(err, &e) || e.Code != CodeInvalidIdentityToken {
				t.Fatalf("Issuer error %v is not InvalidIdentityToken", err)
			}
			return
		}
		if iss == "" || len(token) > MaxTokenLength || len(token) < MinTokenLength {
			t.Fatalf("Issuer(%q) = %q without error", token, iss)
		}
	})
}

// expire makes every cached issuer due for rediscovery now.
func expire(v *Verifier) {
	v.mu.Lock()
	defer v.mu.Unlock()
	for _, e := range v.cache {
		e.refreshAt, e.retryAt = time.Time{}, time.Time{}
	}
}

// settle waits for background discoveries.
func settle(v *Verifier) {
	v.mu.Lock()
	var chans []chan struct{}
	for _, e := range v.cache {
		if e.inflight != nil {
			chans = append(chans, e.inflight)
		}
	}
	v.mu.Unlock()
	for _, ch := range chans {
		<-ch
	}
}

func TestRefresh(t *testing.T) {
	iss := oidctest.New(t)
	v := newVerifier(iss)
	p := provider(iss)
	tok := iss.GitHubToken(ghSub, stsAud, 10*time.Minute)
	verify := func(step string) {
		t.Helper()
		if _, err := v.Verify(context.Background(), p, tok); err != nil {
			t.Fatalf("%s: %v", step, err)
		}
	}
	hits := func(step string, disc, jwks int) {
		t.Helper()
		if d, j := iss.Hits(oidctest.DiscoveryPath), iss.Hits(oidctest.JWKSPath); d != disc || j != jwks {
			t.Fatalf("%s: discovery/JWKS fetched %d/%d times, want %d/%d", step, d, j, disc, jwks)
		}
	}
	verify("first use")
	hits("first use", 1, 1)

	// Due for refresh while the issuer is down: the current keys keep
	// serving, and a failed refresh is retried only after the backoff.
	iss.SetUnavailable(true)
	expire(v)
	verify("refresh during outage")
	settle(v)
	verify("after failed refresh")
	hits("after failed refresh", 2, 1)

	// Back up: the refresh replaces the key set, so keys are fetched anew
	// (retired keys are dropped).
	iss.SetUnavailable(false)
	expire(v)
	verify("refresh")
	settle(v)
	verify("after refresh")
	hits("after refresh", 3, 2)
}
