package manifest

import (
	"fmt"
	"unicode/utf8"
)

// Kind classifies why Parse refused a manifest, so that the HTTP layer can
// pick the registry error code without inspecting messages.
type Kind int

const (
	// KindInvalid: the body is not a well-formed manifest of the type it
	// claims (or that could be inferred). Maps to MANIFEST_INVALID.
	KindInvalid Kind = iota
	// KindUnsupported: a well-known but refused format (Docker schema 1)
	// or a media type this registry does not store.
	KindUnsupported
	// KindTooLarge: the body exceeds MaxSize.
	KindTooLarge
)

// String returns a short lower-case name for the kind.
func (k Kind) String() string {
	switch k {
	case KindInvalid:
		return "invalid"
	case KindUnsupported:
		return "unsupported"
	case KindTooLarge:
		return "too large"
	default:
		return fmt.Sprintf("Kind(%d)", int(k))
	}
}

// Error is the only error type Parse returns. Use errors.As to get at Kind.
type Error struct {
	Kind    Kind
	Message string // names the offending field and says how to fix it
}

func (e *Error) Error() string {
	return "manifest " + e.Kind.String() + ": " + e.Message
}

func invalidf(format string, args ...any) error {
	return &Error{Kind: KindInvalid, Message: fmt.Sprintf(format, args...)}
}

func unsupportedf(format string, args ...any) error {
	return &Error{Kind: KindUnsupported, Message: fmt.Sprintf(format, args...)}
}

// quote renders a client-supplied value for an error message, shortened so
// that a multi-megabyte string cannot blow up the response.
func quote(s string) string {
	const limit = 64
	if len(s) <= limit {
		return fmt.Sprintf("%q", s)
	}
	cut := limit
	for cut > 0 && !utf8.RuneStart(s[cut]) {
		cut--
	}
	return fmt.Sprintf("%q...", s[:cut])
}
