// Package oidctest runs a local OpenID Connect issuer over TLS for tests: it
// serves discovery and JWKS on 127.0.0.1 and mints tokens, including GitHub
// Actions-shaped ones, so web identity federation can be tested without
// reaching a real identity provider.
//
// Each Issuer has its own CA and server certificate (the server sends the
// chain leaf, CA), so issuers do not trust one another and a test can pin the
// CA by thumbprint.
package oidctest

import (
	"crypto"
	"crypto/ecdsa"
	"crypto/elliptic"
	"crypto/rand"
	"crypto/rsa"
	"crypto/sha1"
	"crypto/tls"
	"crypto/x509"
	"crypto/x509/pkix"
	"encoding/hex"
	"encoding/json"
	"encoding/pem"
	"fmt"
	"io"
	"log"
	"math/big"
	"net"
	"net/http"
	"net/http/httptest"
	"strings"
	"sync"
	"testing"
	"time"

	jose "github.com/go-jose/go-jose/v4"
)

// Issuer is a running test OIDC issuer. Its methods are safe for concurrent
// use.
type Issuer struct {
	t   testing.TB
	srv *httptest.Server
	ca  *x509.Certificate

	mu          sync.Mutex
	key         crypto.Signer
	alg         jose.SignatureAlgorithm
	kid         string
	keys        int // keys generated so far, for kids
	unavailable bool
	hits        map[string]int
}

// Paths served.
const (
	DiscoveryPath = "/.well-known/openid-configuration"
	JWKSPath      = "/jwks"
)

// New starts an issuer; t.Cleanup stops it.
func New(t testing.TB) *Issuer {
	t.Helper()
	i := &Issuer{t: t, hits: map[string]int{}}
	caCert, caKey := newCA(t)
	i.ca = caCert
	leaf := newLeaf(t, caCert, caKey)

	mux := http.NewServeMux()
	mux.HandleFunc("GET "+DiscoveryPath, i.serveDiscovery)
	mux.HandleFunc("GET "+JWKSPath, i.serveJWKS)
	i.srv = httptest.NewUnstartedServer(i.count(mux))
	i.srv.TLS = &tls.Config{Certificates: []tls.Certificate{leaf}}
	// Rejected handshakes are expected in trust tests; keep them out of
	// the test log.
	i.srv.Config.ErrorLog = log.New(io.Discard, "", 0)
	i.srv.StartTLS()
	t.Cleanup(i.srv.Close)
	i.RotateKey()
	return i
}

// URL is the issuer, "https://127.0.0.1:PORT"; tokens carry it as iss.
func (i *Issuer) URL() string { return i.srv.URL }

// Host is the issuer without the scheme, "127.0.0.1:PORT": the URL of the
// matching IAM OIDC provider.
func (i *Issuer) Host() string { return strings.TrimPrefix(i.srv.URL, "https://") }

// CertPool trusts this issuer (its CA) and nothing else.
func (i *Issuer) CertPool() *x509.CertPool {
	p := x509.NewCertPool()
	p.AddCert(i.ca)
	return p
}

// CAPEM is the PEM of the certificate that issued the server certificate,
// for a CA bundle file or SSL_CERT_FILE.
func (i *Issuer) CAPEM() []byte {
	return pem.EncodeToMemory(&pem.Block{Type: "CERTIFICATE", Bytes: i.ca.Raw})
}

// Thumbprint is the hex SHA-1 of the CA certificate, the top of the chain the
// server sends: what IAM's CreateOpenIDConnectProvider takes as a thumbprint.
func (i *Issuer) Thumbprint() string {
	sum := sha1.Sum(i.ca.Raw)
	return hex.EncodeToString(sum[:])
}

// Client is an HTTP client trusting this issuer.
func (i *Issuer) Client() *http.Client {
	return &http.Client{Transport: &http.Transport{TLSClientConfig: &tls.Config{RootCAs: i.CertPool()}}}
}

// KeyID is the kid of the current signing key.
func (i *Issuer) KeyID() string {
	i.mu.Lock()
	defer i.mu.Unlock()
	return i.kid
}

// RotateKey replaces the signing key by a new RSA 2048 key (RS256) with a
// new kid. /jwks serves only the new key from then on.
func (i *Issuer) RotateKey() {
	k, err := rsa.GenerateKey(rand.Reader, 2048)
	if err != nil {
		i.t.Fatalf("oidctest: generating RSA key: %v", err)
	}
	i.setKey(k, jose.RS256)
}

// RotateKeyES256 is RotateKey with an ECDSA P-256 key (ES256).
func (i *Issuer) RotateKeyES256() {
	k, err := ecdsa.GenerateKey(elliptic.P256(), rand.Reader)
	if err != nil {
		i.t.Fatalf("oidctest: generating EC key: %v", err)
	}
	i.setKey(k, jose.ES256)
}

func (i *Issuer) setKey(k crypto.Signer, alg jose.SignatureAlgorithm) {
	i.mu.Lock()
	defer i.mu.Unlock()
	i.keys++
	i.key, i.alg, i.kid = k, alg, fmt.Sprintf("oidctest-%d", i.keys)
}

// SetUnavailable makes every endpoint answer 503 (true) or serve again
// (false), to test how verifiers handle an identity provider outage.
func (i *Issuer) SetUnavailable(down bool) {
	i.mu.Lock()
	defer i.mu.Unlock()
	i.unavailable = down
}

// Hits is how many requests path has received (DiscoveryPath, JWKSPath).
func (i *Issuer) Hits(path string) int {
	i.mu.Lock()
	defer i.mu.Unlock()
	return i.hits[path]
}

// Sign signs claims as a JWT with the current key. Nothing is added: set iss,
// aud, exp and the rest yourself (or use GitHubToken).
func (i *Issuer) Sign(claims map[string]any) string {
	i.t.Helper()
	payload, err := json.Marshal(claims)
	if err != nil {
		i.t.Fatalf("oidctest: encoding claims: %v", err)
	}
	i.mu.Lock()
	key, alg, kid := i.key, i.alg, i.kid
	i.mu.Unlock()
	signer, err := jose.NewSigner(
		jose.SigningKey{Algorithm: alg, Key: jose.JSONWebKey{Key: key, KeyID: kid}},
		(&jose.SignerOptions{}).WithType("JWT"))
	if err != nil {
		i.t.Fatalf("oidctest: signer: %v", err)
	}
	jws, err := signer.Sign(payload)
	if err != nil {
		i.t.Fatalf("oidctest: signing: %v", err)
	}
	tok, err := jws.CompactSerialize()
	if err != nil {
		i.t.Fatalf("oidctest: serializing: %v", err)
	}
	return tok
}

// GitHubClaims returns the claims GitHub Actions puts in an OIDC token for
// sub, as GitHubToken signs them; tests can edit them and call Sign.
//
// sub is "repo:ORG/REPO:ref:refs/heads/BRANCH" (or refs/tags/TAG,
// "repo:ORG/REPO:environment:NAME", "repo:ORG/REPO:pull_request"); the
// repository, ref and event claims are derived from it. aud "" means
// GitHub's default, https://github.com/ORG. The token is valid from now for
// ttl; a negative ttl gives an already expired token.
func (i *Issuer) GitHubClaims(sub, aud string, ttl time.Duration) map[string]any {
	repo, ref, event, env := "octo-org/octo-repo", "refs/heads/main", "push", ""
	if rest, ok := strings.CutPrefix(sub, "repo:"); ok {
		r, ctx, _ := strings.Cut(rest, ":")
		if r != "" {
			repo = r
		}
		switch kind, val, _ := strings.Cut(ctx, ":"); kind {
		case "ref":
			ref = val
		case "environment":
			env = val
		case "pull_request":
			event, ref = "pull_request", "refs/pull/1/merge"
		}
	}
	owner, _, _ := strings.Cut(repo, "/")
	if aud == "" {
		aud = "https://github.com/" + owner
	}
	refType := "branch"
	if strings.HasPrefix(ref, "refs/tags/") {
		refType = "tag"
	}
	now := time.Now()
	iat := now
	if ttl <= 0 {
		iat = now.Add(ttl - 5*time.Minute)
	}
	workflowRef := repo + "/.github/workflows/ci.yml@" + ref
	sha := randomHex(20)
	c := map[string]any{
		"iss":                   i.URL(),
		"sub":                   sub,
		"aud":                   aud,
		"exp":                   now.Add(ttl).Unix(),
		"iat":                   iat.Unix(),
		"nbf":                   iat.Unix(),
		"jti":                   randomHex(16),
		"repository":            repo,
		"repository_id":         "123456789",
		"repository_owner":      owner,
		"repository_owner_id":   "987654",
		"repository_visibility": "private",
		"actor":                 owner + "-bot",
		"actor_id":              "4242",
		"ref":                   ref,
		"ref_type":              refType,
		"ref_protected":         "false",
		"sha":                   sha,
		"workflow":              "CI",
		"workflow_ref":          workflowRef,
		"workflow_sha":          sha,
		"job_workflow_ref":      workflowRef,
		"job_workflow_sha":      sha,
		"run_id":                "6543210987",
		"run_number":            "42",
		"run_attempt":           "1",
		"runner_environment":    "github-hosted",
		"event_name":            event,
	}
	if env != "" {
		c["environment"] = env
	}
	if event == "pull_request" {
		c["head_ref"], c["base_ref"] = "feature", "main"
	}
	return c
}

// GitHubToken signs GitHubClaims(sub, aud, ttl).
func (i *Issuer) GitHubToken(sub, aud string, ttl time.Duration) string {
	i.t.Helper()
	return i.Sign(i.GitHubClaims(sub, aud, ttl))
}

func (i *Issuer) count(h http.Handler) http.Handler {
	return http.HandlerFunc(func(w http.ResponseWriter, r *http.Request) {
		i.mu.Lock()
		i.hits[r.URL.Path]++
		down := i.unavailable
		i.mu.Unlock()
		if down {
			http.Error(w, "oidctest: unavailable", http.StatusServiceUnavailable)
			return
		}
		h.ServeHTTP(w, r)
	})
}

func (i *Issuer) serveDiscovery(w http.ResponseWriter, _ *http.Request) {
	writeJSON(w, map[string]any{
		"issuer":                                i.URL(),
		"jwks_uri":                              i.URL() + JWKSPath,
		"response_types_supported":              []string{"id_token"},
		"subject_types_supported":               []string{"public", "pairwise"},
		"id_token_signing_alg_values_supported": []string{"RS256", "ES256"},
		"scopes_supported":                      []string{"openid"},
		"claims_supported":                      []string{"sub", "aud", "exp", "iat", "iss", "jti", "nbf", "ref", "repository", "repository_owner", "run_id", "sha", "workflow", "actor", "event_name", "ref_type", "job_workflow_ref", "environment"},
	})
}

func (i *Issuer) serveJWKS(w http.ResponseWriter, _ *http.Request) {
	i.mu.Lock()
	jwk := jose.JSONWebKey{Key: i.key.Public(), KeyID: i.kid, Algorithm: string(i.alg), Use: "sig"}
	i.mu.Unlock()
	writeJSON(w, map[string]any{"keys": []jose.JSONWebKey{jwk}})
}

func writeJSON(w http.ResponseWriter, v any) {
	w.Header().Set("Content-Type", "application/json")
	_ = json.NewEncoder(w).Encode(v)
}

func randomHex(n int) string {
	b := make([]byte, n)
	_, _ = rand.Read(b)
	return hex.EncodeToString(b)
}

func newCA(t testing.TB) (*x509.Certificate, crypto.Signer) {
	t.Helper()
	key, err := ecdsa.GenerateKey(elliptic.P256(), rand.Reader)
	if err != nil {
		t.Fatalf("oidctest: CA key: %v", err)
	}
	tmpl := &x509.Certificate{
		SerialNumber:          serial(),
		Subject:               pkix.Name{CommonName: "oidctest CA", Organization: []string{"ecrd tests"}},
		NotBefore:             time.Now().Add(-time.Hour),
		NotAfter:              time.Now().Add(24 * time.Hour),
		KeyUsage:              x509.KeyUsageCertSign | x509.KeyUsageCRLSign,
		BasicConstraintsValid: true,
		IsCA:                  true,
	}
	der, err := x509.CreateCertificate(rand.Reader, tmpl, tmpl, key.Public(), key)
	if err != nil {
		t.Fatalf("oidctest: CA certificate: %v", err)
	}
	c, err := x509.ParseCertificate(der)
	if err != nil {
		t.Fatalf("oidctest: CA certificate: %v", err)
	}
	return c, key
}

func newLeaf(t testing.TB, ca *x509.Certificate, caKey crypto.Signer) tls.Certificate {
	t.Helper()
	key, err := ecdsa.GenerateKey(elliptic.P256(), rand.Reader)
	if err != nil {
		t.Fatalf("oidctest: server key: %v", err)
	}
	tmpl := &x509.Certificate{
		SerialNumber: serial(),
		Subject:      pkix.Name{CommonName: "127.0.0.1"},
		NotBefore:    time.Now().Add(-time.Hour),
		NotAfter:     time.Now().Add(24 * time.Hour),
		KeyUsage:     x509.KeyUsageDigitalSignature,
		ExtKeyUsage:  []x509.ExtKeyUsage{x509.ExtKeyUsageServerAuth},
		IPAddresses:  []net.IP{net.IPv4(127, 0, 0, 1), net.IPv6loopback},
		DNSNames:     []string{"localhost"},
	}
	der, err := x509.CreateCertificate(rand.Reader, tmpl, ca, key.Public(), caKey)
	if err != nil {
		t.Fatalf("oidctest: server certificate: %v", err)
	}
	return tls.Certificate{Certificate: [][]byte{der, ca.Raw}, PrivateKey: key}
}

func serial() *big.Int {
	n, _ := rand.Int(rand.Reader, new(big.Int).Lsh(big.NewInt(1), 62))
	return n
}
