// Package reference validates the names a registry request carries:
// repository names, tags and digests. It is pure (no I/O) so that every
// protocol adapter applies exactly the same rules.
package reference

import (
	_ "crypto/sha256" // registers sha256 with go-digest
	_ "crypto/sha512" // registers sha512 with go-digest
	"fmt"
	"regexp"
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

var (
	repositoryRE = regexp.MustCompile(`^` + RepositoryPattern + `$`)
	tagRE        = regexp.MustCompile(`^[a-zA-Z0-9_][a-zA-Z0-9._-]{0,127}$`)
)

// ValidateRepository reports why name is not an acceptable repository
// name, or nil.
func ValidateRepository(name string) error {
	switch {
	case len(name) < MinRepositoryLength:
		return fmt.Errorf("repository name %q is too short: it must have at least %d characters", name, MinRepositoryLength)
	case len(name) > MaxRepositoryLength:
		return fmt.Errorf("repository name is %d characters long: the limit is %d", len(name), MaxRepositoryLength)
	case !repositoryRE.MatchString(name):
		return fmt.Errorf("repository name %q is invalid: use lower-case letters and digits, separated by '.', '_', '__', '-' within a component and '/' between components", name)
	}
	return nil
}

// ValidateTag reports why tag is not an acceptable tag, or nil.
func ValidateTag(tag string) error {
	if len(tag) > MaxTagLength {
		return fmt.Errorf("tag is %d characters long: the limit is %d", len(tag), MaxTagLength)
	}
	if !tagRE.MatchString(tag) {
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
