package registry

import (
	"context"

	"github.com/ecrd/ecrd/internal/metadata"
)

// Page sizes of RepositorySummaries.
const (
	DefaultSummaryPage = 100
	MaxSummaryPage     = MaxPageSize
)

// RepositoryListing is a repository with what it holds, as a listing of
// repositories shows it.
type RepositoryListing struct {
	metadata.Repository
	metadata.RepositorySummary
}

// RepositorySummaries pages through a registry's repositories whose names
// start with prefix ("" for all) in name order, each with its active
// images' count, size and last push (see metadata.RepositorySummary). It
// is authorized as DescribeRepositories without names is, and leaves out
// the same repositories. max is 1 to MaxSummaryPage, 0 for
// DefaultSummaryPage; token is "" or a next token it returned.
//
// A page costs one index range scan of the repositories' names (a
// prefix is the range from itself to its last name; the scan reads on
// past repositories the caller may not describe) and one aggregate query
// over the page's images, however many repositories the registry holds.
func (r *Registry) RepositorySummaries(ctx context.Context, scope metadata.Scope, prefix, token string, max int) ([]RepositoryListing, string, error) {
	switch {
	case max == 0:
		max = DefaultSummaryPage
	case max < 0 || max > MaxSummaryPage:
		return nil, "", paramError("maxResults", "must be from 1 to %d", MaxSummaryPage)
	}
	if err := r.authorize(ctx, ActionDescribeRepositories, scope, nil, RepositoryARN(metadata.RepoKey{Scope: scope, Name: "*"})); err != nil {
		return nil, "", err
	}
	after, err := decodeToken(token)
	if err != nil {
		return nil, "", err
	}
	if !namePrefix(prefix) {
		return []RepositoryListing{}, "", nil // no repository name starts so
	}
	if start := rangeStart(prefix); after < start {
		after = start
	}
	repos, more, err := r.visibleRepositories(ctx, scope, prefix, after, max)
	if err != nil {
		return nil, "", err
	}
	ids := make([]int64, len(repos))
	for i, repo := range repos {
		ids[i] = repo.ID
	}
	sums, err := r.meta.RepositorySummaries(ctx, ids)
	if err != nil {
		return nil, "", err
	}
	out := make([]RepositoryListing, len(repos))
	for i, repo := range repos {
		out[i] = RepositoryListing{Repository: repo, RepositorySummary: sums[repo.ID]}
	}
	next := ""
	if more {
		next = encodeToken(repos[len(repos)-1].Key.Name)
	}
	return out, next, nil
}

// namePrefix reports whether s could start a repository name: it has
// only the characters names are made of.
func namePrefix(s string) bool {
	for _, c := range []byte(s) {
		if !('a' <= c && c <= 'z' || '0' <= c && c <= '9' || c == '.' || c == '_' || c == '-' || c == '/') {
			return false
		}
	}
	return true
}

// rangeStart returns a name that sorts after every name before prefix
// and before prefix itself, for a listing "after" it to start at prefix:
// prefix with its last character lowered by one and followed by the
// highest code point, which sorts after any character a name may hold.
// prefix is a namePrefix, so the result is valid UTF-8.
func rangeStart(prefix string) string {
	if prefix == "" {
		return ""
	}
	n := len(prefix) - 1
	return prefix[:n] + string(rune(prefix[n]-1)) + "\U0010FFFF"
}
