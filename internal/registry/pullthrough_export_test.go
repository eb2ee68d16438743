package registry

import (
	"context"

	"github.com/ecrd/ecrd/internal/metadata"
)

// PullThroughRuleFor looks up the rule of a repository name as the cache
// does (pullThroughRuleFor over the registry's stored rules).
func (r *Registry) PullThroughRuleFor(ctx context.Context, scope metadata.Scope, name string) (PullThroughCacheRule, string, bool, error) {
	rules, err := pullThroughRules(ctx, r.meta, scope)
	if err != nil {
		return PullThroughCacheRule{}, "", false, err
	}
	rule, upstream, ok := pullThroughRuleFor(rules, name)
	return rule, upstream, ok, nil
}

// ParseUpstreamURL exposes parseUpstreamURL to the fuzz test.
var ParseUpstreamURL = parseUpstreamURL
