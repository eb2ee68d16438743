package registry

import (
	"fmt"
	"slices"
	"strings"

	"github.com/ecrd/ecrd/internal/awsid"
	"github.com/ecrd/ecrd/internal/metadata"
)

// Tag mutability settings, as ECR names them.
const (
	Mutable                = "MUTABLE"
	Immutable              = "IMMUTABLE"
	ImmutableWithExclusion = "IMMUTABLE_WITH_EXCLUSION"
	MutableWithExclusion   = "MUTABLE_WITH_EXCLUSION"
)

// Encryption types, as ECR names them.
const (
	EncryptionAES256  = "AES256"
	EncryptionKMS     = "KMS"
	EncryptionKMSDSSE = "KMS_DSSE"
)

// Resource tag limits, as ECR's.
const (
	MaxResourceTags   = 50
	maxTagKeyLength   = 128
	maxTagValueLength = 256
)

// normalizeSettings fills defaults and checks the rules that tie settings
// together (the API adapter has already checked each value on its own).
func normalizeSettings(s metadata.RepositorySettings) (metadata.RepositorySettings, error) {
	if s.TagMutability == "" {
		s.TagMutability = Mutable
	}
	if err := checkMutability(s.TagMutability, s.MutabilityExclusions); err != nil {
		return s, err
	}
	if s.EncryptionType == "" {
		s.EncryptionType = EncryptionAES256
	}
	if s.EncryptionType == EncryptionAES256 && s.KMSKey != "" {
		return s, paramError("encryptionConfiguration.kmsKey", "a KMS key can only be given with the KMS or KMS_DSSE encryption type")
	}
	return s, nil
}

// checkMutability enforces that exclusion filters come with, and only
// with, the WITH_EXCLUSION settings.
func checkMutability(mutability string, exclusions []string) error {
	withExclusion := mutability == ImmutableWithExclusion || mutability == MutableWithExclusion
	switch {
	case withExclusion && len(exclusions) == 0:
		return paramError("imageTagMutabilityExclusionFilters", "exclusion filters are required when imageTagMutability is %s", mutability)
	case !withExclusion && len(exclusions) > 0:
		return paramError("imageTagMutabilityExclusionFilters", "exclusion filters can only be used when imageTagMutability is IMMUTABLE_WITH_EXCLUSION or MUTABLE_WITH_EXCLUSION")
	}
	return nil
}

// tagImmutable reports whether a tag may not be moved once it points to
// an image, under a repository's settings. It is the one place where tag
// immutability is decided, for every API that moves tags.
func tagImmutable(s metadata.RepositorySettings, tag string) bool {
	switch s.TagMutability {
	case Immutable:
		return true
	case ImmutableWithExclusion:
		return !matchesAny(s.MutabilityExclusions, tag)
	case MutableWithExclusion:
		return matchesAny(s.MutabilityExclusions, tag)
	}
	return false
}

func matchesAny(filters []string, tag string) bool {
	return slices.ContainsFunc(filters, func(f string) bool { return WildcardMatch(f, tag) })
}

// WildcardMatch reports whether s matches pattern, where '*' stands for
// any run of characters (ECR's WILDCARD filters). It runs in time linear
// in len(pattern)*len(s) at worst, whatever the input.
func WildcardMatch(pattern, s string) bool {
	// Greedy matching with backtracking to the last star only.
	p, i := 0, 0
	star, mark := -1, 0
	for i < len(s) {
		switch {
		case p < len(pattern) && pattern[p] == '*':
			star, mark = p, i
			p++
		case p < len(pattern) && pattern[p] == s[i]:
			p++
			i++
		case star >= 0:
			p = star + 1
			mark++
			i = mark
		default:
			return false
		}
	}
	for p < len(pattern) && pattern[p] == '*' {
		p++
	}
	return p == len(pattern)
}

// checkResourceTags enforces ECR's limits on resource tags.
func checkResourceTags(tags []metadata.ResourceTag) error {
	if len(tags) > MaxResourceTags {
		return &LimitError{Limit: LimitResourceTags, Max: MaxResourceTags, Got: len(tags)}
	}
	for _, t := range tags {
		switch {
		case t.Key == "" || len(t.Key) > maxTagKeyLength:
			return &TagError{Rule: TagKeyLength, Max: maxTagKeyLength}
		case len(t.Value) > maxTagValueLength:
			return &TagError{Rule: TagValueLength, Max: maxTagValueLength}
		case strings.HasPrefix(strings.ToLower(t.Key), "aws:"):
			return &TagError{Rule: TagKeyReserved}
		}
	}
	return nil
}

// mergeTags adds or replaces tags by key and returns them sorted by key.
func mergeTags(have, add []metadata.ResourceTag) []metadata.ResourceTag {
	out := slices.Clone(have)
	for _, t := range add {
		if i := slices.IndexFunc(out, func(o metadata.ResourceTag) bool { return o.Key == t.Key }); i >= 0 {
			out[i].Value = t.Value
		} else {
			out = append(out, t)
		}
	}
	slices.SortFunc(out, func(a, b metadata.ResourceTag) int { return strings.Compare(a.Key, b.Key) })
	return out
}

// ParseRepositoryARN reads arn:aws:ecr:<region>:<account>:repository/<name>.
func ParseRepositoryARN(arn string) (metadata.RepoKey, error) {
	a, ok := awsid.Parse(arn)
	if !ok || a.Service != "ecr" {
		return metadata.RepoKey{}, invalidARN(arn)
	}
	name, ok := strings.CutPrefix(a.Resource, "repository/")
	if !ok {
		return metadata.RepoKey{}, invalidARN(arn)
	}
	key := metadata.RepoKey{Scope: metadata.Scope{Account: a.AccountID, Region: a.Region}, Name: name}
	if validateRepo(key) != nil || key.Region == "" {
		return metadata.RepoKey{}, invalidARN(arn)
	}
	return key, nil
}

func invalidARN(arn string) error {
	return paramError("resourceArn", "Invalid ARN %.200q: use arn:aws:ecr:<region>:<account>:repository/<name>", arn)
}

// RepositoryURI is where clients pull a repository from.
func (r *Registry) RepositoryURI(key metadata.RepoKey) string {
	return fmt.Sprintf("%s/%s", r.opts.RegistryHost(key.Scope), key.Name)
}
