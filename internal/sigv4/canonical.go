package sigv4

import (
	"cmp"
	"crypto/hmac"
	"crypto/sha256"
	"encoding/hex"
	"errors"
	"net/http"
	"net/url"
	"slices"
	"strings"
	"time"
)

// Bounds on the query string, which is canonicalized on every request.
const (
	maxQueryBytes = 64 << 10
	maxQueryPairs = 1024
)

// queryPair is one decoded query parameter.
type queryPair struct{ name, value string }

// parseQuery decodes a raw query the way net/url does ('+' is a space, empty
// segments are skipped, a missing '=' means an empty value), except that it
// refuses a pair it cannot decode instead of dropping it: a pair the
// canonical query left out would be an unsigned parameter.
func parseQuery(raw string) ([]queryPair, error) {
	if raw == "" {
		return nil, nil
	}
	if len(raw) > maxQueryBytes {
		return nil, errors.New("it is longer than 65536 bytes")
	}
	if strings.Count(raw, "&") >= maxQueryPairs {
		return nil, errors.New("it has more than 1024 parameters")
	}
	var pairs []queryPair
	for raw != "" {
		var seg string
		seg, raw, _ = strings.Cut(raw, "&")
		if seg == "" {
			continue
		}
		name, value, _ := strings.Cut(seg, "=")
		n, err1 := url.QueryUnescape(name)
		v, err2 := url.QueryUnescape(value)
		if err1 != nil || err2 != nil {
			return nil, errors.New("a parameter is not validly percent-encoded")
		}
		pairs = append(pairs, queryPair{n, v})
	}
	return pairs, nil
}

// canonicalQuery re-encodes every name and value with the RFC 3986
// unreserved set and sorts by encoded name, then encoded value ("the sorting
// occurs after encoding"). A presigned request's own X-Amz-Signature is left
// out, since it cannot sign itself.
func canonicalQuery(pairs []queryPair, presigned bool) string {
	enc := make([]queryPair, 0, len(pairs))
	for _, q := range pairs {
		if presigned && q.name == presignParams[qSignature] {
			continue
		}
		enc = append(enc, queryPair{escape(q.name, false), escape(q.value, false)})
	}
	slices.SortFunc(enc, func(a, b queryPair) int {
		return cmp.Or(strings.Compare(a.name, b.name), strings.Compare(a.value, b.value))
	})
	var b strings.Builder
	for i, q := range enc {
		if i > 0 {
			b.WriteByte('&')
		}
		b.WriteString(q.name)
		b.WriteByte('=')
		b.WriteString(q.value)
	}
	return b.String()
}

// escape percent-encodes every byte outside the RFC 3986 unreserved set
// (A-Z a-z 0-9 - . _ ~) with upper-case hex; '/' too unless keepSlash.
func escape(s string, keepSlash bool) string {
	n := 0
	for i := 0; i < len(s); i++ {
		if !unreserved(s[i]) && (s[i] != '/' || !keepSlash) {
			n++
		}
	}
	if n == 0 {
		return s
	}
	const hexDigits = "0123456789ABCDEF"
	b := make([]byte, 0, len(s)+2*n)
	for i := 0; i < len(s); i++ {
		c := s[i]
		if unreserved(c) || c == '/' && keepSlash {
			b = append(b, c)
		} else {
			b = append(b, '%', hexDigits[c>>4], hexDigits[c&15])
		}
	}
	return string(b)
}

func unreserved(c byte) bool {
	return 'A' <= c && c <= 'Z' || isLowerOrDigit(c) || c == '-' || c == '.' || c == '_' || c == '~'
}

// canonicalURI is the path as it appears in the canonical request. Every
// service but S3 encodes the already-escaped path a second time (keeping
// '/'), which is what the SDKs sign; S3 signs the escaped path as sent.
func canonicalURI(path, service string) string {
	if path == "" {
		path = "/"
	}
	if service == "s3" {
		return path
	}
	return escape(path, true)
}

// normalizedURI is the canonical URI after removing dot segments and empty
// segments, which botocore (and the AWS test suite) do for non-S3 services
// while the Go SDK does not. It returns "" when normalizing changes nothing,
// so the verifier tries a second candidate only for unusual paths.
func normalizedURI(path, service string) string {
	if service == "s3" {
		return ""
	}
	n := normalizePath(path)
	if n == path || path == "" && n == "/" {
		return ""
	}
	return escape(n, true)
}

// normalizePath removes "." and ".." segments (RFC 3986 §5.2.4) and
// collapses runs of '/', keeping a trailing '/' when the path had one.
func normalizePath(path string) string {
	var out []string
	for seg := range strings.SplitSeq(path, "/") {
		switch seg {
		case "", ".":
		case "..":
			if len(out) > 0 {
				out = out[:len(out)-1]
			}
		default:
			out = append(out, seg)
		}
	}
	n := "/" + strings.Join(out, "/")
	if len(out) > 0 && strings.HasSuffix(path, "/") {
		n += "/"
	}
	return n
}

// canonicalHeaders renders the signed headers, in the order given (which
// checkSignedHeaders has verified is sorted), one "name:value\n" line each.
// Host comes from Request.Host. Values are trimmed with inner runs of spaces
// collapsed, and the values of a repeated header are joined with ','.
func canonicalHeaders(r *Request, signed []string) (string, error) {
	var b strings.Builder
	for _, name := range signed {
		b.WriteString(name)
		b.WriteByte(':')
		if name == "host" {
			if r.Host == "" {
				return "", absentHeader(name)
			}
			writeCanonicalValue(&b, r.Host)
		} else {
			values, ok := lookupHeader(r.Header, name)
			if !ok {
				return "", absentHeader(name)
			}
			for i, v := range values {
				if i > 0 {
					b.WriteByte(',')
				}
				writeCanonicalValue(&b, v)
			}
		}
		b.WriteByte('\n')
	}
	return b.String(), nil
}

func absentHeader(name string) *Error {
	return errorf(IncompleteSignature, "'%s' is named as a SignedHeader, but it does not exist in the HTTP request.", fragment(name, 32))
}

// lookupHeader finds a header by lowercase name. Servers store canonical
// keys; the fallback scan covers headers built by hand.
func lookupHeader(h http.Header, name string) ([]string, bool) {
	if v, ok := h[http.CanonicalHeaderKey(name)]; ok {
		return v, true
	}
	var values []string
	found := false
	for k, v := range h {
		if strings.EqualFold(k, name) {
			values, found = append(values, v...), true
		}
	}
	return values, found
}

// writeCanonicalValue writes v trimmed, with each inner run of spaces
// collapsed to one. This matches the Go SDK, which trims all white space at
// the ends but collapses only spaces inside.
func writeCanonicalValue(b *strings.Builder, v string) {
	v = strings.TrimSpace(v)
	for {
		i := strings.Index(v, "  ")
		if i < 0 {
			b.WriteString(v)
			return
		}
		b.WriteString(v[:i+1])
		v = strings.TrimLeft(v[i:], " ")
	}
}

// canonical holds the parts of a canonical request that do not depend on
// which URI or payload-hash candidate is being tried.
type canonical struct {
	method, query, headers, signedHeaders string
}

func (c *canonical) request(uri, payloadHash string) string {
	return c.method + "\n" + uri + "\n" + c.query + "\n" + c.headers + "\n" + c.signedHeaders + "\n" + payloadHash
}

func stringToSign(t time.Time, scope, canonicalRequest string) string {
	sum := sha256.Sum256([]byte(canonicalRequest))
	return Algorithm + "\n" + t.UTC().Format(amzDateFormat) + "\n" + scope + "\n" + hex.EncodeToString(sum[:])
}

// deriveKey computes kSigning = HMAC(HMAC(HMAC(HMAC("AWS4"+secret, date), region), service), "aws4_request").
func deriveKey(secret string, c Credential) []byte {
	k := hmacSHA256([]byte("AWS4"+secret), c.Date)
	k = hmacSHA256(k, c.Region)
	k = hmacSHA256(k, c.Service)
	return hmacSHA256(k, terminator)
}

func signature(key []byte, stringToSign string) string {
	return hex.EncodeToString(hmacSHA256(key, stringToSign))
}

func hmacSHA256(key []byte, data string) []byte {
	m := hmac.New(sha256.New, key)
	m.Write([]byte(data))
	return m.Sum(nil)
}

func payloadHash(body []byte) string {
	sum := sha256.Sum256(body)
	return hex.EncodeToString(sum[:])
}
