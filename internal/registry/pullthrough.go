package registry

import (
	"context"
	"encoding/json"
	"errors"
	"fmt"
	"strings"
	"time"

	"github.com/ecrd/ecrd/internal/metadata"
)

// Pull-through cache rules: a repository prefix of a registry whose
// repositories mirror an upstream registry. The rules and their API live
// in pullthrough_rules.go; the cache itself (fetching on a miss, one
// fetch per blob) in pullthrough_cache.go.

// PullThroughCacheRule is one rule of a registry.
type PullThroughCacheRule struct {
	// Prefix is the ecrRepositoryPrefix: repositories named
	// <Prefix>/<upstream repository> mirror the upstream; "ROOT" mirrors
	// it at the root of the registry.
	Prefix string `json:"ecrRepositoryPrefix"`
	// UpstreamRegistryURL is the upstream's host (and port), as given:
	// registry-1.docker.io, ghcr.io, 127.0.0.1:5001.
	UpstreamRegistryURL string `json:"upstreamRegistryUrl"`
	// UpstreamRegistry is ECR's name of the upstream (docker-hub, ...),
	// or "" for any OCI registry.
	UpstreamRegistry string `json:"upstreamRegistry,omitempty"`
	// CredentialARN is the Secrets Manager secret holding the upstream's
	// credentials, or "".
	CredentialARN string `json:"credentialArn,omitempty"`
	// CustomRoleARN is the role assumed for an ECR upstream, or "".
	CustomRoleARN string `json:"customRoleArn,omitempty"`
	// UpstreamRepositoryPrefix is prepended to the upstream repository
	// name, or "" (ECR's "ROOT").
	UpstreamRepositoryPrefix string `json:"upstreamRepositoryPrefix,omitempty"`
	// UpstreamRootGiven says the request named upstreamRepositoryPrefix
	// ROOT, which answers then repeat (clients that compare what they
	// sent with what they read, such as Terraform, need it).
	UpstreamRootGiven bool      `json:"upstreamRootGiven,omitempty"`
	CreatedAt         time.Time `json:"createdAt"`
	UpdatedAt         time.Time `json:"updatedAt,omitzero"`
}

// RootPrefix is ECR's prefix of a rule that mirrors at the root.
const ptcRootPrefix = "ROOT"

// settingPullThroughCache is the account setting that holds a registry's
// rules (a JSON list), out of reach of GetAccountSetting.
const settingPullThroughCache = "ecrd:pull-through-cache"

// pullThroughRules reads a registry's rules.
func pullThroughRules(ctx context.Context, rd metadata.Reader, scope metadata.Scope) ([]PullThroughCacheRule, error) {
	text, err := rd.AccountSetting(ctx, scope, settingPullThroughCache)
	if errors.Is(err, metadata.ErrNotFound) {
		return nil, nil
	}
	if err != nil {
		return nil, err
	}
	var rules []PullThroughCacheRule
	if err := json.Unmarshal([]byte(text), &rules); err != nil {
		return nil, fmt.Errorf("pull-through cache rules of %s/%s: %w", scope.Account, scope.Region, err)
	}
	return rules, nil
}

// putPullThroughRules writes a registry's rules inside tx.
func putPullThroughRules(ctx context.Context, tx metadata.Tx, scope metadata.Scope, rules []PullThroughCacheRule) error {
	b, err := json.Marshal(rules)
	if err != nil {
		return err
	}
	return tx.PutAccountSetting(ctx, scope, settingPullThroughCache, string(b))
}

// pullThroughRuleFor returns the rule whose prefix a repository name falls
// under (the longest; ROOT last) and the upstream repository it mirrors.
func pullThroughRuleFor(rules []PullThroughCacheRule, name string) (PullThroughCacheRule, string, bool) {
	var (
		best     PullThroughCacheRule
		upstream string
		found    bool
	)
	for _, r := range rules {
		var rest string
		if r.Prefix == ptcRootPrefix {
			rest = name
		} else if after, ok := strings.CutPrefix(name, r.Prefix+"/"); ok && after != "" {
			rest = after
		} else {
			continue
		}
		if found && (r.Prefix == ptcRootPrefix || (best.Prefix != ptcRootPrefix && len(best.Prefix) >= len(r.Prefix))) {
			continue
		}
		best, found = r, true
		upstream = rest
		if r.UpstreamRepositoryPrefix != "" {
			upstream = r.UpstreamRepositoryPrefix + "/" + rest
		}
	}
	return best, upstream, found
}
