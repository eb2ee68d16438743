// Package webidentity verifies OpenID Connect web identity tokens the way AWS
// STS does for AssumeRoleWithWebIdentity.
//
// The caller reads the token's unverified issuer with [Issuer], maps it to
// IAM's provider URL form with [ProviderURL], looks up the IAM OIDC provider
// registered under that URL, and passes it to [Verifier.Verify]. Verify then
//
//   - requires the token's iss to be the provider's URL with "https://" in
//     front (a trailing "/" on iss is tolerated, as [ProviderURL] drops it);
//   - fetches <iss>/.well-known/openid-configuration over HTTPS, requires its
//     "issuer" to equal iss exactly, and fetches the keys at its jwks_uri
//     (go-oidc's RemoteKeySet: cached, refetched when a token names an unknown
//     kid);
//   - checks the RS256 or ES256 signature, exp (ExpiredTokenException), nbf
//     and iat (with [Skew] for clock drift), and that aud contains one of the
//     provider's client IDs.
//
// Discovery and keys are cached per issuer and rediscovered after
// [RefreshInterval], which also drops keys the issuer has retired. A failed
// discovery is retried after [RetryBackoff]; if a refresh fails, the previous
// keys stay in use until a later refresh succeeds, so a short IdP outage does
// not stop federation (AWS caches keys likewise).
//
// # Certificates and thumbprints
//
// Since July 2023 AWS ignores an IAM OIDC provider's thumbprints when the
// issuer's certificate chains to a CA it trusts. ecrd does the same: a server
// whose chain verifies against Options.RootCAs (the system roots by default)
// for the host name being fetched is accepted whatever the thumbprints say.
// When the chain does not verify, the connection is accepted only if the
// SHA-1 (hex, any case) of a certificate the server sends - the leaf, an
// intermediate or the root at the top of the served chain - is one of the
// provider's thumbprints, and the leaf chains to that certificate and is valid
// for the host name. This lets an operator pin a private issuer without
// adding its CA to ecrd's trust store. A pinned root that the server does not
// send cannot be matched; add such a root to the CA bundle instead.
package webidentity

import (
	"context"
	"crypto/x509"
	"encoding/base64"
	"encoding/json"
	"errors"
	"fmt"
	"math"
	"net/url"
	"slices"
	"strconv"
	"strings"
	"sync"
	"time"

	jose "github.com/go-jose/go-jose/v4"
)

// STS error codes carried by [Error]. Verify never returns
// IDPRejectedClaim (AWS uses it when the IdP itself refuses a claim, which
// does not happen with OIDC ID tokens); it is here for callers mapping codes.
const (
	CodeInvalidIdentityToken  = "InvalidIdentityToken"
	CodeExpiredToken          = "ExpiredTokenException"
	CodeIDPCommunicationError = "IDPCommunicationError"
	CodeIDPRejectedClaim      = "IDPRejectedClaim"
)

// Token length bounds of the WebIdentityToken parameter (STS API reference).
const (
	MinTokenLength = 4
	MaxTokenLength = 20000
)

// Tunables; see the package doc.
const (
	// Skew is the clock drift tolerated on nbf and iat. exp gets none, as in
	// AWS: an expired token fails however recently it expired.
	Skew            = 5 * time.Minute
	RefreshInterval = time.Hour
	RetryBackoff    = 2 * time.Second
	DefaultTimeout  = 10 * time.Second
	// MaxBodyBytes bounds discovery documents and key sets.
	MaxBodyBytes = 1 << 20
)

// Algorithms accepted for token signatures.
var acceptedAlgs = []jose.SignatureAlgorithm{jose.RS256, jose.ES256}

// Provider is a registered IAM OIDC provider, as the verifier needs it.
type Provider struct {
	URL         string   // issuer URL without "https://", as IAM stores it: "token.actions.githubusercontent.com", "127.0.0.1:8443", "host/path"
	ClientIDs   []string // audiences accepted
	Thumbprints []string // hex SHA-1 of certificates (lower or upper case); a pin used only when the TLS chain is not trusted
}

// Error is a verification failure carrying the STS error code.
type Error struct{ Code, Message string }

func (e *Error) Error() string { return e.Code + ": " + e.Message }

func invalid(format string, a ...any) *Error {
	return &Error{Code: CodeInvalidIdentityToken, Message: fmt.Sprintf(format, a...)}
}

func idpError(format string, a ...any) *Error {
	return &Error{Code: CodeIDPCommunicationError, Message: fmt.Sprintf(format, a...)}
}

// Options configures a [Verifier].
type Options struct {
	// RootCAs verifies issuers' TLS certificates. nil means the system roots
	// (which honour SSL_CERT_FILE). A caller with an extra CA bundle adds it
	// to the system pool itself; the pool is used as is.
	RootCAs *x509.CertPool
	// Timeout bounds each HTTP fetch (discovery or key set); 0 means 10s.
	Timeout time.Duration
	// Now is the clock for exp, nbf and iat; nil means time.Now.
	Now func() time.Time
}

// Verifier verifies web identity tokens. It is safe for concurrent use and
// should be long-lived, as it caches issuers' discovery documents and keys.
type Verifier struct {
	roots   *x509.CertPool
	timeout time.Duration
	now     func() time.Time
	backoff time.Duration // RetryBackoff; a field so tests can shorten it

	mu    sync.Mutex
	cache map[string]*cacheEntry
}

// NewVerifier returns a Verifier with an empty cache.
func NewVerifier(o Options) *Verifier {
	v := &Verifier{
		roots:   o.RootCAs,
		timeout: o.Timeout,
		now:     o.Now,
		backoff: RetryBackoff,
		cache:   map[string]*cacheEntry{},
	}
	if v.timeout <= 0 {
		v.timeout = DefaultTimeout
	}
	if v.now == nil {
		v.now = time.Now
	}
	return v
}

// Claims are the verified claims of a token.
type Claims struct {
	Issuer   string
	Subject  string
	Audience []string
	Expiry   time.Time
	IssuedAt time.Time      // zero when the token has no iat
	Raw      map[string]any // all claims, as encoding/json decodes them (numbers are float64)
}

// ProviderURL turns an issuer ("https://host/path") into IAM's provider URL
// form ("host/path"): IAM strips the scheme and a trailing "/".
func ProviderURL(issuer string) string {
	u := issuer
	if len(u) >= len("https://") && strings.EqualFold(u[:len("https://")], "https://") {
		u = u[len("https://"):]
	}
	return strings.TrimSuffix(u, "/")
}

// Issuer returns the unverified "iss" claim of a JWT, so the caller can find
// the Provider. Malformed tokens give an *Error with code InvalidIdentityToken.
func Issuer(token string) (string, error) {
	t, err := parse(token)
	if err != nil {
		return "", err
	}
	return t.iss, nil
}

// parsed is a structurally valid token whose signature is not yet checked.
type parsed struct {
	jws *jose.JSONWebSignature
	iss string
}

// parse checks everything that needs no keys: length, compact JWS shape,
// algorithm and a string iss. Nothing here is trusted beyond routing.
func parse(token string) (*parsed, error) {
	if n := len(token); n < MinTokenLength || n > MaxTokenLength {
		return nil, invalid("The web identity token is %d characters long; it must be %d to %d characters. Pass the OIDC ID token (a JWT) itself.", n, MinTokenLength, MaxTokenLength)
	}
	header, _, ok := strings.Cut(token, ".")
	if !ok || strings.Count(token, ".") != 2 {
		return nil, invalid("The web identity token is not a JWT: it must be three base64url parts separated by dots. Pass the OIDC ID token itself, not an access token or a file name.")
	}
	// Read alg ourselves first so a "none" or HMAC token gets a clear message
	// instead of a parser error.
	hb, err := base64.RawURLEncoding.DecodeString(header)
	if err != nil {
		return nil, invalid("The web identity token's header is not base64url: %v.", err)
	}
	var h struct {
		Alg any `json:"alg"`
	}
	if err := json.Unmarshal(hb, &h); err != nil {
		return nil, invalid("The web identity token's header is not a JSON object: %v.", err)
	}
	alg, _ := h.Alg.(string)
	if !slices.Contains(acceptedAlgs, jose.SignatureAlgorithm(alg)) {
		return nil, invalid("The web identity token is signed with algorithm %q; only RS256 and ES256 are accepted. Configure the identity provider to sign ID tokens with one of them.", fmt.Sprint(h.Alg))
	}
	jws, err := jose.ParseSignedCompact(token, acceptedAlgs)
	if err != nil {
		return nil, invalid("The web identity token is not a well-formed signed JWT: %v.", err)
	}
	if len(jws.Signatures) != 1 {
		return nil, invalid("The web identity token must carry exactly one signature.")
	}
	var c struct {
		Iss any `json:"iss"`
	}
	if err := json.Unmarshal(jws.UnsafePayloadWithoutVerification(), &c); err != nil {
		return nil, invalid("The web identity token's payload is not a JSON object of claims: %v.", err)
	}
	iss, ok := c.Iss.(string)
	if !ok || iss == "" {
		return nil, invalid("The web identity token has no iss (issuer) claim; an OIDC ID token must name its issuer.")
	}
	return &parsed{jws: jws, iss: iss}, nil
}

// checkIssuerURL rejects issuers that IAM could not have registered or that
// would make discovery fetch something other than <issuer>/.well-known/...
func checkIssuerURL(iss string) error {
	u, err := url.Parse(iss)
	if err != nil || u.Scheme != "https" || u.Host == "" || u.User != nil || u.RawQuery != "" || u.Fragment != "" || u.Opaque != "" {
		return invalid("The token issuer %q is not an https URL without query or fragment; OIDC issuers must be of the form https://host[:port][/path].", iss)
	}
	return nil
}

// Verify checks token against p and returns its claims. Failures are *Error
// values whose Code is the STS error code to answer with.
func (v *Verifier) Verify(ctx context.Context, p Provider, token string) (*Claims, error) {
	t, err := parse(token)
	if err != nil {
		return nil, err
	}
	if ProviderURL(t.iss) != ProviderURL(p.URL) || !strings.HasPrefix(t.iss, "https://") {
		return nil, invalid("The token issuer %q does not match the OpenID Connect provider %q (expected issuer https://%s). Use the provider registered for this issuer.", t.iss, p.URL, ProviderURL(p.URL))
	}
	if err := checkIssuerURL(t.iss); err != nil {
		return nil, err
	}

	st, err := v.issuerState(ctx, t.iss, p.Thumbprints)
	if err != nil {
		return nil, err
	}
	payload, err := st.keys.VerifySignature(ctx, token)
	if err != nil {
		return nil, v.classifyKeyError(t.iss, st.jwksURL, err)
	}
	c, err := decodeClaims(payload)
	if err != nil {
		return nil, err
	}
	if c.Issuer != t.iss {
		// Cannot happen (same bytes), but the check is cheap and the issuer
		// is what everything above was keyed on.
		return nil, invalid("The token issuer changed during verification.")
	}
	if err := v.checkTimes(c); err != nil {
		return nil, err
	}
	if !slices.ContainsFunc(c.Audience, func(a string) bool { return slices.Contains(p.ClientIDs, a) }) {
		return nil, invalid("Incorrect token audience")
	}
	return c, nil
}

// classifyKeyError tells a key set that could not be fetched (the IdP's
// fault, retryable) from a signature no published key verifies (the token's
// fault). go-oidc wraps fetch failures as "fetching keys %w".
func (v *Verifier) classifyKeyError(iss, jwksURL string, err error) *Error {
	var ue *url.Error
	if errors.As(err, &ue) || errors.Is(err, context.Canceled) || errors.Is(err, context.DeadlineExceeded) ||
		strings.HasPrefix(err.Error(), "fetching keys") {
		return idpError("Could not fetch the signing keys of %s from %s: %s. Check that ecrd can reach the issuer over HTTPS and trusts its certificate.", iss, jwksURL, v.describe(err))
	}
	return invalid("The web identity token's signature does not verify with any key published by %s. Request a new token from the identity provider.", iss)
}

// decodeClaims decodes a verified payload and checks the claims' types.
func decodeClaims(payload []byte) (*Claims, error) {
	var raw map[string]any
	if err := json.Unmarshal(payload, &raw); err != nil {
		return nil, invalid("The web identity token's payload is not a JSON object of claims: %v.", err)
	}
	c := &Claims{Raw: raw}
	c.Issuer, _ = raw["iss"].(string)
	sub, ok := raw["sub"].(string)
	if !ok || sub == "" {
		return nil, invalid("The web identity token has no sub (subject) claim; an OIDC ID token must name its subject.")
	}
	c.Subject = sub
	switch a := raw["aud"].(type) {
	case string:
		c.Audience = []string{a}
	case []any:
		for _, x := range a {
			s, ok := x.(string)
			if !ok {
				return nil, invalid("The web identity token's aud claim must be a string or an array of strings.")
			}
			c.Audience = append(c.Audience, s)
		}
	case nil:
		return nil, invalid("The web identity token has no aud (audience) claim; request the token with the audience registered as the provider's client ID (sts.amazonaws.com for GitHub Actions).")
	default:
		return nil, invalid("The web identity token's aud claim must be a string or an array of strings.")
	}
	exp, ok, err := numericDate(raw, "exp")
	if err != nil {
		return nil, err
	}
	if !ok {
		return nil, invalid("The web identity token has no exp (expiration) claim; tokens without an expiry are not accepted.")
	}
	c.Expiry = exp
	if c.IssuedAt, _, err = numericDate(raw, "iat"); err != nil {
		return nil, err
	}
	if _, _, err := numericDate(raw, "nbf"); err != nil {
		return nil, err
	}
	return c, nil
}

// numericDate reads a JWT NumericDate (seconds since the epoch, possibly
// fractional). ok is false when the claim is absent.
func numericDate(raw map[string]any, name string) (t time.Time, ok bool, err error) {
	x, present := raw[name]
	if !present {
		return time.Time{}, false, nil
	}
	f, isNum := x.(float64)
	// Bound to what float64 holds exactly; real dates are far inside.
	if !isNum || math.Abs(f) > 1<<53 {
		return time.Time{}, false, invalid("The web identity token's %s claim must be a number of seconds since 1970.", name)
	}
	sec, frac := math.Modf(f)
	return time.Unix(int64(sec), int64(frac*1e9)).UTC(), true, nil
}

func (v *Verifier) checkTimes(c *Claims) error {
	now := v.now()
	if !now.Before(c.Expiry) {
		// AWS's wording, with Unix seconds.
		return &Error{Code: CodeExpiredToken, Message: fmt.Sprintf("Token expired: current date/time %d must be before the expiration date/time %d", now.Unix(), c.Expiry.Unix())}
	}
	if nbf, ok, _ := numericDate(c.Raw, "nbf"); ok && now.Add(Skew).Before(nbf) {
		return invalid("The web identity token is not valid yet: its nbf (not before) date/time %d is after the current date/time %d. Check the clocks of ecrd and the identity provider.", nbf.Unix(), now.Unix())
	}
	if !c.IssuedAt.IsZero() && now.Add(Skew).Before(c.IssuedAt) {
		return invalid("The web identity token was issued in the future: its iat (issued at) date/time %d is after the current date/time %d. Check the clocks of ecrd and the identity provider.", c.IssuedAt.Unix(), now.Unix())
	}
	return nil
}

// conditionClaims are the OIDC claims AWS copies into the request context as
// "<provider URL>:<claim>" (IAM User Guide, "Available keys for AWS OIDC
// federation"). Other claims are dropped, so trust policies that real AWS
// would never match (e.g. on :repository) do not match here either.
var conditionClaims = []string{"aud", "sub", "amr", "azp", "oaud", "email"}

// ConditionKeys returns the trust-policy condition keys AWS supplies for web
// identity federation: "<providerURL>:aud", ":sub", ":amr", ":azp", ":oaud"
// and ":email" where the token has those claims (an array claim gives one
// value per element), plus "aws:FederatedProvider" = providerARN.
func (c *Claims) ConditionKeys(providerURL, providerARN string) map[string][]string {
	keys := map[string][]string{}
	for _, name := range conditionClaims {
		var vals []string
		if name == "aud" {
			vals = slices.Clone(c.Audience)
		} else {
			vals = claimStrings(c.Raw[name])
		}
		if len(vals) > 0 {
			keys[providerURL+":"+name] = vals
		}
	}
	if providerARN != "" {
		keys["aws:FederatedProvider"] = []string{providerARN}
	}
	return keys
}

// claimStrings renders a scalar or an array of scalars as condition values;
// objects have no string form a policy could compare, so they are skipped.
func claimStrings(x any) []string {
	switch x := x.(type) {
	case string:
		return []string{x}
	case bool:
		return []string{strconv.FormatBool(x)}
	case float64:
		return []string{strconv.FormatFloat(x, 'f', -1, 64)}
	case []any:
		var out []string
		for _, e := range x {
			if _, nested := e.([]any); nested {
				continue
			}
			out = append(out, claimStrings(e)...)
		}
		return out
	}
	return nil
}
