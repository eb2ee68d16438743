package sigv4

import (
	"net/http"
	"net/url"
	"slices"
	"strconv"
	"strings"
	"time"
)

// Bounds on client-supplied authentication data. AWS's own limits are not
// published; these are far above what any SDK sends.
const (
	maxAuthorizationBytes = 8 << 10
	maxSignedHeaders      = 64
	maxAccessKeyIDBytes   = 128 // the IAM API's limit
	maxScopeNameBytes     = 64  // region and service names
)

// The presigned query parameters. X-Amz-Security-Token is optional.
const (
	qAlgorithm = iota
	qCredential
	qDate
	qExpires
	qSignedHeaders
	qSignature
	qSecurityToken
	numPresignParams
)

var presignParams = [numPresignParams]string{
	"X-Amz-Algorithm", "X-Amz-Credential", "X-Amz-Date", "X-Amz-Expires",
	"X-Amz-SignedHeaders", "X-Amz-Signature", "X-Amz-Security-Token",
}

// Parse reads the Authorization header, or the presigned query parameters,
// without checking the signature. It lets the caller route on
// Credential.Service and look the secret up by Credential.AccessKeyID before
// calling Verify. Every error is an *Error.
func Parse(r *Request) (*Parsed, error) {
	auths := r.Header.Values("Authorization")
	presigned := queryHasAuth(r.RawQuery)
	switch {
	case len(auths) == 0 && !presigned:
		return nil, &Error{Code: MissingAuthentication, Message: missingAuthMessage}
	case len(auths) > 0 && presigned:
		return nil, &Error{Code: IncompleteSignature, Message: bothAuthMessage}
	case len(auths) > 1:
		return nil, errorf(IncompleteSignature, "The request has %d Authorization headers; it must have one.", len(auths))
	case presigned:
		return parsePresigned(r.RawQuery)
	}
	return parseAuthorization(auths[0], r.Header)
}

// queryHasAuth reports whether the query carries presigned authentication.
// It is lenient on purpose: a malformed query that names these parameters is
// still a presign attempt, and parsePresigned reports what is wrong with it.
func queryHasAuth(raw string) bool {
	for raw != "" {
		var pair string
		pair, raw, _ = strings.Cut(raw, "&")
		name, _, _ := strings.Cut(pair, "=")
		if n, err := url.QueryUnescape(name); err == nil {
			name = n
		}
		switch name {
		case presignParams[qAlgorithm], presignParams[qCredential], presignParams[qSignature]:
			return true
		}
	}
	return false
}

// parseAuthorization parses "AWS4-HMAC-SHA256 Credential=..., SignedHeaders=..., Signature=...".
func parseAuthorization(h string, header http.Header) (*Parsed, error) {
	if len(h) > maxAuthorizationBytes {
		return nil, errorf(IncompleteSignature, "The Authorization header is %d bytes long; the limit is %d.", len(h), maxAuthorizationBytes)
	}
	scheme, rest, _ := strings.Cut(strings.TrimLeft(h, " "), " ")
	if scheme != Algorithm {
		if strings.HasPrefix(scheme, "AWS4-") {
			return nil, errorf(IncompleteSignature, "Unsupported AWS 'algorithm': '%s'.", fragment(scheme, fragmentBytes))
		}
		return nil, missingParts(true, true, true, header)
	}
	var vals [3]string // Credential, SignedHeaders, Signature
	var seen [3]bool
	for rest != "" {
		var part string
		part, rest, _ = strings.Cut(rest, ",")
		part = strings.Trim(part, " \t")
		if part == "" {
			continue
		}
		k, v, ok := strings.Cut(part, "=")
		if !ok {
			return nil, errorf(IncompleteSignature, "'%s' not a valid key=value pair (missing equal-sign) in Authorization header.", fragment(part, 32))
		}
		i := slices.Index([]string{"Credential", "SignedHeaders", "Signature"}, k)
		switch {
		case i < 0:
			return nil, errorf(IncompleteSignature, "Authorization header has an unknown parameter '%s'.", fragment(k, 32))
		case seen[i]:
			return nil, errorf(IncompleteSignature, "Authorization header has more than one '%s' parameter.", k)
		}
		vals[i], seen[i] = v, true
	}
	if !seen[0] || !seen[1] || !seen[2] {
		return nil, missingParts(!seen[0], !seen[2], !seen[1], header)
	}
	p := &Parsed{}
	var err error
	if p.Credential, err = parseCredential(vals[0]); err != nil {
		return nil, err
	}
	if p.SignedHeaders, err = parseSignedHeaders(vals[1]); err != nil {
		return nil, err
	}
	if p.Signature = vals[2]; !validSignature(p.Signature) {
		return nil, signatureFormatError()
	}
	if p.Time, err = headerTime(header); err != nil {
		return nil, err
	}
	tokens := header.Values("X-Amz-Security-Token")
	if len(tokens) > 1 {
		return nil, errorf(IncompleteSignature, "The request has %d X-Amz-Security-Token headers; it may have one.", len(tokens))
	}
	if len(tokens) == 1 {
		p.SecurityToken = tokens[0]
	}
	return p, nil
}

// missingParts words a malformed Authorization header as AWS does, listing
// each missing part (AWS also echoes the header; we do not, as it carries the
// signature).
func missingParts(credential, signature, signedHeaders bool, header http.Header) *Error {
	var b strings.Builder
	for _, m := range []struct {
		missing bool
		name    string
	}{{credential, "Credential"}, {signature, "Signature"}, {signedHeaders, "SignedHeaders"}} {
		if m.missing {
			b.WriteString("Authorization header requires '" + m.name + "' parameter. ")
		}
	}
	if len(header.Values("X-Amz-Date")) == 0 && len(header.Values("Date")) == 0 {
		b.WriteString(missingDateMessage)
	}
	return &Error{Code: IncompleteSignature, Message: strings.TrimSuffix(b.String(), " ")}
}

const missingDateMessage = "Authorization header requires existence of either a 'X-Amz-Date' or a 'Date' header."

// parsePresigned parses query-string authentication.
func parsePresigned(raw string) (*Parsed, error) {
	pairs, err := parseQuery(raw)
	if err != nil {
		return nil, errorf(IncompleteSignature, "The query string is malformed: %s.", err)
	}
	var vals [numPresignParams]string
	var seen [numPresignParams]bool
	for _, q := range pairs {
		i := slices.Index(presignParams[:], q.name)
		if i < 0 {
			continue
		}
		if seen[i] {
			return nil, errorf(IncompleteSignature, "The query string has more than one %s parameter.", q.name)
		}
		vals[i], seen[i] = q.value, true
	}
	for i := range qSecurityToken {
		if !seen[i] {
			return nil, &Error{Code: IncompleteSignature, Message: presignRequired}
		}
	}
	if vals[qAlgorithm] != Algorithm {
		return nil, errorf(IncompleteSignature, "X-Amz-Algorithm only supports \"%s\", got '%s'.", Algorithm, fragment(vals[qAlgorithm], 32))
	}
	p := &Parsed{Presigned: true, Signature: vals[qSignature], SecurityToken: vals[qSecurityToken]}
	if p.Credential, err = parseCredential(vals[qCredential]); err != nil {
		return nil, err
	}
	if p.SignedHeaders, err = parseSignedHeaders(vals[qSignedHeaders]); err != nil {
		return nil, err
	}
	if !validSignature(p.Signature) {
		return nil, signatureFormatError()
	}
	if p.Time, err = parseAmzDate(vals[qDate]); err != nil {
		return nil, err
	}
	if p.Expires, err = parseExpires(vals[qExpires]); err != nil {
		return nil, err
	}
	return p, nil
}

// parseCredential parses "AKID/yyyymmdd/region/service/aws4_request".
func parseCredential(s string) (Credential, error) {
	if strings.Count(s, "/") != 4 {
		return Credential{}, errorf(IncompleteSignature,
			"Credential must have exactly 5 slash-delimited elements, e.g. keyid/date/region/service/term, got '%s'", fragment(s, fragmentBytes))
	}
	parts := strings.Split(s, "/")
	if parts[4] != terminator {
		return Credential{}, errorf(IncompleteSignature,
			"Credential should be scoped with a valid terminator: 'aws4_request', not '%s'.", fragment(parts[4], 32))
	}
	c := Credential{AccessKeyID: parts[0], Date: parts[1], Region: parts[2], Service: parts[3]}
	return c, validateCredential(c)
}

// validateCredential checks the shape of each scope element, so that a
// Credential that passes can be echoed, used as a cache key and routed on.
func validateCredential(c Credential) error {
	switch {
	case !validName(c.AccessKeyID, maxAccessKeyIDBytes, isKeyIDChar):
		return errorf(IncompleteSignature, "Credential has an invalid access key ID '%s'.", fragment(c.AccessKeyID, 32))
	case !validScopeDate(c.Date):
		return errorf(IncompleteSignature, "Credential has an invalid date '%s': it must be yyyyMMdd.", fragment(c.Date, 32))
	case !validName(c.Region, maxScopeNameBytes, isScopeChar):
		return errorf(IncompleteSignature, "Credential has an invalid region '%s'.", fragment(c.Region, 32))
	case !validName(c.Service, maxScopeNameBytes, isScopeChar):
		return errorf(IncompleteSignature, "Credential has an invalid service '%s'.", fragment(c.Service, 32))
	}
	return nil
}

func validName(s string, max int, ok func(byte) bool) bool {
	if s == "" || len(s) > max {
		return false
	}
	for i := 0; i < len(s); i++ {
		if !ok(s[i]) {
			return false
		}
	}
	return true
}

// Access key IDs are word characters (the IAM API's pattern is [\w]+).
func isKeyIDChar(c byte) bool { return isLowerOrDigit(c) || 'A' <= c && c <= 'Z' || c == '_' }

// Region and service names are lowercase letters, digits and hyphens.
func isScopeChar(c byte) bool { return isLowerOrDigit(c) || c == '-' }

func isLowerOrDigit(c byte) bool { return 'a' <= c && c <= 'z' || '0' <= c && c <= '9' }

func validScopeDate(s string) bool {
	if len(s) != len(scopeDateFormat) || !allDigits(s) {
		return false
	}
	_, err := time.Parse(scopeDateFormat, s)
	return err == nil
}

func allDigits(s string) bool {
	for i := 0; i < len(s); i++ {
		if s[i] < '0' || s[i] > '9' {
			return false
		}
	}
	return true
}

// parseSignedHeaders parses "host;x-amz-date;...".
func parseSignedHeaders(s string) ([]string, error) {
	if n := strings.Count(s, ";") + 1; n > maxSignedHeaders {
		return nil, errorf(IncompleteSignature, "SignedHeaders names %d headers; the limit is %d.", n, maxSignedHeaders)
	}
	names := strings.Split(s, ";")
	return names, checkSignedHeaders(names)
}

// checkSignedHeaders requires the list to be lowercase header names, sorted
// and without duplicates, as every SDK sends it. A list in any other form is
// not something a conforming signer produced, so it is rejected rather than
// re-sorted (re-sorting would change what the client signed).
func checkSignedHeaders(names []string) error {
	if len(names) > maxSignedHeaders {
		return errorf(IncompleteSignature, "SignedHeaders names %d headers; the limit is %d.", len(names), maxSignedHeaders)
	}
	for i, n := range names {
		if !validName(n, maxAuthorizationBytes, isHeaderNameChar) {
			return errorf(IncompleteSignature, "SignedHeaders has an invalid header name '%s': names must be lowercase.", fragment(n, 32))
		}
		if i > 0 && names[i-1] >= n {
			return &Error{Code: IncompleteSignature, Message: "SignedHeaders must be sorted and must not repeat a header."}
		}
	}
	return nil
}

// isHeaderNameChar is RFC 9110's token character set without upper case.
func isHeaderNameChar(c byte) bool {
	switch c {
	case '!', '#', '$', '%', '&', '\'', '*', '+', '-', '.', '^', '_', '`', '|', '~':
		return true
	}
	return isLowerOrDigit(c)
}

func validSignature(s string) bool {
	if len(s) != 64 {
		return false
	}
	for i := 0; i < len(s); i++ {
		if !isLowerOrDigit(s[i]) || s[i] > 'f' {
			return false
		}
	}
	return true
}

func signatureFormatError() *Error {
	return &Error{Code: IncompleteSignature, Message: "Signature must be 64 lowercase hexadecimal digits."}
}

// headerTime is the request time of header authentication: X-Amz-Date, or
// else the Date header, as AWS documents.
func headerTime(h http.Header) (time.Time, error) {
	if v := h.Values("X-Amz-Date"); len(v) > 0 {
		if len(v) > 1 {
			return time.Time{}, &Error{Code: IncompleteSignature, Message: "The request has more than one X-Amz-Date header."}
		}
		return parseAmzDate(v[0])
	}
	v := h.Values("Date")
	switch len(v) {
	case 0:
		return time.Time{}, &Error{Code: IncompleteSignature, Message: missingDateMessage}
	case 1:
		t, err := time.Parse(http.TimeFormat, v[0])
		if err != nil {
			return time.Time{}, errorf(IncompleteSignature, "Date header must be in RFC 1123 format, e.g. %s. Got '%s'.", http.TimeFormat, fragment(v[0], 40))
		}
		return t, nil
	}
	return time.Time{}, &Error{Code: IncompleteSignature, Message: "The request has more than one Date header."}
}

// parseAmzDate parses the ISO 8601 basic format, strictly: time.Parse alone
// would accept one-digit hours.
func parseAmzDate(s string) (time.Time, error) {
	if len(s) == len(amzDateFormat) && allDigits(s[:8]) && s[8] == 'T' && allDigits(s[9:15]) && s[15] == 'Z' {
		if t, err := time.Parse(amzDateFormat, s); err == nil {
			return t, nil
		}
	}
	return time.Time{}, errorf(IncompleteSignature,
		"Date must be in ISO-8601 'basic format'. Got '%s'. See http://en.wikipedia.org/wiki/ISO_8601", fragment(s, 40))
}

// parseExpires parses X-Amz-Expires: whole seconds, at most a week, as S3.
func parseExpires(s string) (time.Duration, error) {
	if s == "" || len(s) > 7 || !allDigits(s) {
		return 0, errorf(IncompleteSignature, "X-Amz-Expires should be a number of seconds, got '%s'.", fragment(s, 16))
	}
	n, _ := strconv.Atoi(s) // at most 7 digits: cannot fail or overflow
	if d := time.Duration(n) * time.Second; d <= MaxPresignExpiry {
		return d, nil
	}
	return 0, errorf(IncompleteSignature, "X-Amz-Expires must be less than a week (in seconds) that is %d", int(MaxPresignExpiry/time.Second))
}
