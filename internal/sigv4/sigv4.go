// Package sigv4 verifies AWS Signature Version 4 the way AWS services do for
// the ECR, IAM, STS and KMS APIs, and produces signatures for ecrd's own
// clients and presigned download URLs.
//
// It owns the SigV4 wire rules: parsing the Authorization header or the
// presigned query, rebuilding the canonical request from the client's
// SignedHeaders list, the clock-skew and expiry checks, and AWS's wording for
// each failure. It does not own secrets (the caller looks the secret up by
// Credential.AccessKeyID), session-token validity, or the mapping of error
// codes onto each protocol's exception names (the adapters do that).
//
// The package is pure: no network, no disk and no global mutable state. The
// only state is a bounded cache of derived signing keys inside each Verifier.
// That keeps every rule testable and fuzzable in isolation, and lets any
// replica verify any request.
package sigv4

import (
	"net/http"
	"time"
)

// Wire constants of SigV4.
const (
	// Algorithm is the only signing algorithm accepted.
	Algorithm = "AWS4-HMAC-SHA256"
	// UnsignedPayload is the payload hash of a presigned URL, whose body is
	// not known when it is signed.
	UnsignedPayload = "UNSIGNED-PAYLOAD"
	// MaxPresignExpiry is the longest X-Amz-Expires AWS accepts: one week.
	MaxPresignExpiry = 7 * 24 * time.Hour

	amzDateFormat   = "20060102T150405Z"
	scopeDateFormat = "20060102"
	terminator      = "aws4_request"
)

// Request is what the verifier needs from an HTTP request. FromHTTP fills it
// from a server-side *http.Request.
type Request struct {
	Method   string
	Host     string      // r.Host: net/http moves Host out of Header
	Path     string      // escaped path as sent: r.URL.EscapedPath()
	RawQuery string      // r.URL.RawQuery
	Header   http.Header // r.Header
	Body     []byte      // the whole body; the caller bounds its size
	// BodyHash, if set, is the hex SHA-256 of Body, computed by the
	// caller as the body streamed in, so that it is not hashed twice.
	BodyHash string
}

// FromHTTP builds a Request from a request received by a net/http server and
// its body, which the caller has already read (and bounded).
func FromHTTP(r *http.Request, body []byte) *Request {
	return &Request{
		Method:   r.Method,
		Host:     r.Host,
		Path:     r.URL.EscapedPath(),
		RawQuery: r.URL.RawQuery,
		Header:   r.Header,
		Body:     body,
	}
}

// Credential is the parsed credential scope of a signed request.
type Credential struct {
	AccessKeyID string
	Date        string // yyyymmdd
	Region      string
	Service     string
}

// scope is the credential scope as it appears in the string to sign.
func (c Credential) scope() string {
	return c.Date + "/" + c.Region + "/" + c.Service + "/" + terminator
}

// Parsed is a request's authentication data, parsed but not yet verified.
type Parsed struct {
	Credential    Credential
	SignedHeaders []string      // lowercase, sorted, unique; always checked for "host" by Verify
	Signature     string        // 64 lowercase hex digits
	Time          time.Time     // X-Amz-Date (else Date) header, or the X-Amz-Date query parameter
	SecurityToken string        // X-Amz-Security-Token header, or query parameter when presigned
	Presigned     bool          // authenticated by query parameters, not the Authorization header
	Expires       time.Duration // presigned only: X-Amz-Expires
}
