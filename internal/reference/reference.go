// Package reference validates the names a registry request carries:
// repository names, tags and digests. It is pure (no I/O) so that every
// protocol adapter applies exactly the same rules.
package reference

import (
	_ "crypto/sha256" // registers sha256 with go-digest
	_ "crypto/sha512" // registers sha512 with go-digest
	"fmt"
	"strings"

	"github.com/opencontainers/go-digest"
)

// Repository name limits and pattern, as in the ECR API model.
const (
	MinRepositoryLength = 2
	MaxRepositoryLength = 256
	RepositoryPattern   = `[a-z0-9]+((\.|_|__|-+)[a-z0-9]+)*(\/[a-z0-9]+((\.|_|__|-+)[a-z0-9]+)*)*`
)

// MaxTagLength is the OCI distribution-spec limit for a tag.
const MaxTagLength = 128

// TagPattern is the OCI distribution-spec grammar of a tag.
const TagPattern = `[a-zA-Z0-9_][a-zA-Z0-9._-]{0,127}`

// Every request names a repository and most a tag, so the two grammars
// are matched by hand rather than by regexp, which cost more than the
// rest of a manifest GET's parsing; FuzzMatchers holds both to
// RepositoryPattern and TagPattern.

// isRepositoryName reports whether name matches RepositoryPattern:
// components separated by '/', each runs of [a-z0-9] joined by '.', '_',
// '__' or one or more '-'.
func isRepositoryName(name string) bool {
	for {
		component, rest, more := strings.Cut(name, "/")
		if !isComponent(component) {
			return false
		}
		if !more {
			return true
		}
		name = rest
	}
}

func isComponent(c string) bool {
	if c == "" || !isLowerAlnum(c[0]) {
		return false
	}
	for i := 0; i < len(c); {
		for i < len(c) && isLowerAlnum(c[i]) {
			i++
		}
		if i == len(c) {
			return true
		}
		switch c[i] {
		case '.':
			i++
		case '_':
			i++
			if i < len(c) && c[i] == '_' {
				i++
			}
		case '-':
			for i < len(c) && c[i] == '-' {
				i++
			}
		default:
			return false
		}
		if i == len(c) || !isLowerAlnum(c[i]) {
			return false
		}
	}
	return true
}

func isLowerAlnum(b byte) bool { return 'a' <= b && b <= 'z' || '0' <= b && b <= '9' }

// isTag reports whether tag matches TagPattern.
func isTag(tag string) bool {
	if tag == "" || len(tag) > MaxTagLength {
		return false
	}
	for i := 0; i < len(tag); i++ {
		b := tag[i]
		if !('a' <= b && b <= 'z' || 'A' <= b && b <= 'Z' || '0' <= b && b <= '9' || b == '_' || i > 0 && (b == '.' || b == '-')) {
			return false
		}
	}
	return true
}

// ValidateRepository reports why name is not an acceptable repository
// name, or nil.
func ValidateRepository(name string) error {
	switch {
	case len(name) < MinRepositoryLength:
		return fmt.Errorf("repository name %q is too short: it must have at least %d characters", name, MinRepositoryLength)
	case len(name) > MaxRepositoryLength:
		return fmt.Errorf("repository name is %d characters long: the limit is %d", len(name), MaxRepositoryLength)
	case !isRepositoryName(name):
		return fmt.Errorf("repository name %q is invalid: use lower-case letters and digits, separated by '.', '_', '__', '-' within a component and '/' between components", name)
	}
	return nil
}

// ValidateTag reports why tag is not an acceptable tag, or nil.
func ValidateTag(tag string) error {
	if len(tag) > MaxTagLength {
		return fmt.Errorf("tag is %d characters long: the limit is %d", len(tag), MaxTagLength)
	}
	if !isTag(tag) {
		return fmt.Errorf("tag %q is invalid: it must start with a letter, digit or '_' and contain only letters, digits, '_', '.' and '-'", tag)
	}
	return nil
}

// ParseDigest parses s as a digest of a supported algorithm (sha256 or
// sha512) with an encoded part of the right length.
func ParseDigest(s string) (digest.Digest, error) {
	d, err := digest.Parse(s)
	if err != nil {
		return "", fmt.Errorf("digest %q is invalid: it must be <algorithm>:<hex>, with algorithm sha256 or sha512 (%v)", truncate(s), err)
	}
	if a := d.Algorithm(); a != digest.SHA256 && a != digest.SHA512 {
		return "", fmt.Errorf("digest %q uses algorithm %q: only sha256 and sha512 are supported", truncate(s), a)
	}
	return d, nil
}

// Reference is the last path element of a manifest request: a tag or a
// digest, never both.
type Reference struct {
	Tag    string
	Digest digest.Digest
}

// String returns the tag or the digest.
func (r Reference) String() string {
	if r.Digest != "" {
		return r.Digest.String()
	}
	return r.Tag
}

// ParseReference tells a digest (it contains ':') from a tag and validates
// whichever it is.
func ParseReference(s string) (Reference, error) {
	if strings.Contains(s, ":") {
		d, err := ParseDigest(s)
		if err != nil {
			return Reference{}, err
		}
		return Reference{Digest: d}, nil
	}
	if err := ValidateTag(s); err != nil {
		return Reference{}, err
	}
	return Reference{Tag: s}, nil
}

// truncate keeps error messages bounded when a client sends a huge value.
func truncate(s string) string {
	const max = 160
	if len(s) <= max {
		return s
	}
	return s[:max] + "..."
}
