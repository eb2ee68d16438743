package sigv4

import (
	"errors"
	"fmt"
	"strings"
)

// Code classifies why a request failed authentication. The protocol adapters
// map each code onto their exception names (for example SignatureMismatch is
// InvalidSignatureException in JSON 1.1 and SignatureDoesNotMatch in Query).
type Code uint8

// The failure codes.
const (
	// MissingAuthentication: no Authorization header and no presigned query.
	MissingAuthentication Code = iota + 1
	// IncompleteSignature: the authentication data is malformed or incomplete.
	IncompleteSignature
	// SignatureMismatch: the signature, or a rule AWS reports as a signature
	// failure (scope date, unsigned x-amz-* headers, 'host' unsigned), failed.
	SignatureMismatch
	// Expired: the request time is too far in the past, or a presigned URL
	// has expired.
	Expired
	// NotYetCurrent: the request time is too far in the future.
	NotYetCurrent
)

var codeNames = [...]string{
	MissingAuthentication: "MissingAuthentication",
	IncompleteSignature:   "IncompleteSignature",
	SignatureMismatch:     "SignatureMismatch",
	Expired:               "Expired",
	NotYetCurrent:         "NotYetCurrent",
}

func (c Code) String() string {
	if int(c) < len(codeNames) && codeNames[c] != "" {
		return codeNames[c]
	}
	return fmt.Sprintf("Code(%d)", uint8(c))
}

// Error is an authentication failure. Message is worded as AWS words it where
// AWS's wording is known; it never contains the secret or a full signature,
// and the request fragments it quotes are truncated.
type Error struct {
	Code    Code
	Message string
}

func (e *Error) Error() string { return "sigv4: " + e.Code.String() + ": " + e.Message }

// CodeOf returns the Code of err if it is (or wraps) an *Error, else 0.
func CodeOf(err error) Code {
	var e *Error
	if errors.As(err, &e) {
		return e.Code
	}
	return 0
}

func errorf(code Code, format string, args ...any) *Error {
	return &Error{Code: code, Message: fmt.Sprintf(format, args...)}
}

// Messages AWS clients and users recognise.
const (
	missingAuthMessage = "Missing Authentication Token"
	mismatchMessage    = "The request signature we calculated does not match the signature you provided. " +
		"Check your AWS Secret Access Key and signing method. Consult the service documentation for details."
	hostUnsignedMessage = "'Host' or ':authority' must be a 'SignedHeader' in the AWS Authorization."
	presignRequired     = "Query-string authentication version 4 requires the X-Amz-Algorithm, X-Amz-Credential, " +
		"X-Amz-Signature, X-Amz-Date, X-Amz-SignedHeaders, and X-Amz-Expires parameters."
	bothAuthMessage = "Only one auth mechanism allowed; only the X-Amz-Algorithm query parameter " +
		"or the Authorization header should be specified"
)

// fragmentBytes bounds how much of a client-supplied value an error quotes.
const fragmentBytes = 64

// fragment makes a client-supplied value safe to quote in a message: at most
// n bytes, printable ASCII only, so messages stay bounded and cannot carry
// control characters into logs or response bodies.
func fragment(s string, n int) string {
	cut := len(s) > n
	if cut {
		s = s[:n]
	}
	var b strings.Builder
	for i := 0; i < len(s); i++ {
		c := s[i]
		if c < 0x20 || c > 0x7e {
			c = '?'
		}
		b.WriteByte(c)
	}
	if cut {
		b.WriteString("...")
	}
	return b.String()
}
