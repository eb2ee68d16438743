package registry

import (
	"context"
	"errors"
	"fmt"
	"slices"
	"strings"
	"sync"

	"github.com/ecrd/ecrd/internal/iampolicy"
	"github.com/ecrd/ecrd/internal/identity"
	"github.com/ecrd/ecrd/internal/metadata"
)

// The registry policy scope (account setting REGISTRY_POLICY_SCOPE), as
// ECR documents it. Under V2, the default, a registry policy may grant any
// ECR action and is evaluated in every request to the registry, beside
// the repository's own policy. Under V1 it may grant only
// v1RegistryPolicyActions, which serve replication and pull-through
// imports, and no request of the API is decided by it.
const (
	settingRegistryPolicyScope = "REGISTRY_POLICY_SCOPE"
	RegistryPolicyScopeV1      = "V1"
	RegistryPolicyScopeV2      = "V2"
)

// v1RegistryPolicyActions are the only actions a V1 registry policy may
// name ("ecr:*" is accepted too, as ECR notes).
var v1RegistryPolicyActions = []string{"ecr:ReplicateImage", "ecr:BatchImportUpstreamImage", "ecr:CreateRepository", "ecr:*"}

func noRepositoryPolicy(key metadata.RepoKey) error {
	return &NotFoundError{Kind: KindRepositoryPolicy, Key: key}
}

func noRegistryPolicy(scope metadata.Scope) error {
	return &NotFoundError{Kind: KindRegistryPolicy, Key: metadata.RepoKey{Scope: scope}}
}

// parseRepositoryPolicy compiles a repository policy, answering what ECR
// answers for one it refuses: a policy IAM would refuse as a resource
// policy, or one that names actions other than ECR's.
func parseRepositoryPolicy(text string) (*iampolicy.Policy, error) {
	p, err := iampolicy.Parse(text, iampolicy.Resource)
	if err == nil && !allActions(p, func(a string) bool { return a == "*" || strings.HasPrefix(strings.ToLower(a), "ecr:") }) {
		err = errors.New("an action is not an ECR action")
	}
	if err != nil {
		return nil, paramError("PolicyText", "Invalid repository policy provided")
	}
	return p, nil
}

// allActions reports whether every action a policy names passes ok.
func allActions(p *iampolicy.Policy, ok func(string) bool) bool {
	for _, a := range p.Actions() {
		if !ok(a) {
			return false
		}
	}
	return true
}

// SetRepositoryPolicy sets a repository's policy. Unless force is set, a
// policy that would deny the caller SetRepositoryPolicy itself, locking
// them out of changing it again, is refused, as ECR does.
func (r *Registry) SetRepositoryPolicy(ctx context.Context, key metadata.RepoKey, text string, force bool) (metadata.Repository, error) {
	p, err := parseRepositoryPolicy(text)
	if err != nil {
		return metadata.Repository{}, err
	}
	if !force {
		// Decided before the transaction, which may run twice: it
		// evaluates policies.
		repo, err := r.repositoryFor(ctx, ActionSetRepositoryPolicy, key)
		if err != nil {
			return repo, err
		}
		if r.deniedBy(ctx, ActionSetRepositoryPolicy, repo, p) {
			return metadata.Repository{}, paramError("PolicyText", "the policy denies you ecr:SetRepositoryPolicy, so you could not change it again: set force to apply it anyway")
		}
	}
	params := map[string]any{"repositoryName": key.Name, "policyText": text, "force": force}
	return r.updateRepository(ctx, ActionSetRepositoryPolicy, key, params, func(repo *metadata.Repository) error {
		repo.Settings.Policy = text
		return nil
	})
}

// RepositoryPolicy returns a repository's policy.
func (r *Registry) RepositoryPolicy(ctx context.Context, key metadata.RepoKey) (string, error) {
	repo, err := r.repositoryFor(ctx, ActionGetRepositoryPolicy, key)
	if err != nil {
		return "", err
	}
	if repo.Settings.Policy == "" {
		return "", noRepositoryPolicy(key)
	}
	return repo.Settings.Policy, nil
}

// DeleteRepositoryPolicy removes a repository's policy and returns it.
func (r *Registry) DeleteRepositoryPolicy(ctx context.Context, key metadata.RepoKey) (string, error) {
	var old string
	_, err := r.updateRepository(ctx, ActionDeleteRepositoryPolicy, key, map[string]any{"repositoryName": key.Name}, func(repo *metadata.Repository) error {
		if repo.Settings.Policy == "" {
			return noRepositoryPolicy(key)
		}
		old, repo.Settings.Policy = repo.Settings.Policy, ""
		return nil
	})
	return old, err
}

// PutRegistryPolicy sets a registry's permissions policy. Under the V2
// scope it may grant any ECR action; under V1 only replication,
// pull-through imports and repository creation. A policy that would deny
// the caller changing or deleting it again is refused: nothing could undo
// it through the API.
func (r *Registry) PutRegistryPolicy(ctx context.Context, scope metadata.Scope, text string) error {
	if err := r.authorize(ctx, ActionPutRegistryPolicy, scope, nil, "*"); err != nil {
		return err
	}
	invalid := paramError("PolicyText", "Invalid registry policy provided")
	p, err := parseRepositoryPolicy(text)
	if err != nil {
		return invalid
	}
	named := &iampolicy.Named{Name: registryPolicyName, Policy: p}
	for _, a := range []Action{ActionPutRegistryPolicy, ActionDeleteRegistryPolicy} {
		d, _, err := r.ids.Authorize(ctx, identity.Check{Action: string(a), Resource: "*", ResourceAccount: scope.Account, Policy: named})
		if err == nil && d.Reason == iampolicy.ExplicitDeny {
			return paramError("PolicyText", "the policy denies you %s, so you could not change it again", a)
		}
	}
	v1 := allActions(p, func(a string) bool {
		return slices.ContainsFunc(v1RegistryPolicyActions, func(ok string) bool { return strings.EqualFold(a, ok) })
	})
	now := r.now()
	err = r.meta.Update(ctx, func(tx metadata.Tx) error {
		version, err := registryPolicyScope(ctx, tx, scope)
		if err != nil {
			return err
		}
		if version == RegistryPolicyScopeV1 && !v1 {
			return invalid
		}
		if err := tx.PutRegistryPolicy(ctx, scope, text); err != nil {
			return err
		}
		return r.record(ctx, tx, scope, now, ActionPutRegistryPolicy, map[string]any{"policyText": text})
	})
	r.forgetRegistryPolicy(scope)
	return err
}

// RegistryPolicy returns a registry's permissions policy.
func (r *Registry) RegistryPolicy(ctx context.Context, scope metadata.Scope) (string, error) {
	if err := r.authorize(ctx, ActionGetRegistryPolicy, scope, nil, "*"); err != nil {
		return "", err
	}
	text, err := r.meta.RegistryPolicy(ctx, scope)
	if errors.Is(err, metadata.ErrNotFound) {
		return "", noRegistryPolicy(scope)
	}
	return text, err
}

// DeleteRegistryPolicy removes a registry's permissions policy and
// returns it.
func (r *Registry) DeleteRegistryPolicy(ctx context.Context, scope metadata.Scope) (string, error) {
	if err := r.authorize(ctx, ActionDeleteRegistryPolicy, scope, nil, "*"); err != nil {
		return "", err
	}
	var text string
	now := r.now()
	err := r.meta.Update(ctx, func(tx metadata.Tx) error {
		var err error
		if text, err = tx.RegistryPolicy(ctx, scope); err != nil {
			return err
		}
		if err := tx.DeleteRegistryPolicy(ctx, scope); err != nil {
			return err
		}
		return r.record(ctx, tx, scope, now, ActionDeleteRegistryPolicy, map[string]any{})
	})
	r.forgetRegistryPolicy(scope)
	if errors.Is(err, metadata.ErrNotFound) {
		return "", noRegistryPolicy(scope)
	}
	return text, err
}

// policyCache keeps each repository's compiled policy, and the registry
// policy in force in each registry, so that a request evaluates them
// without reading or parsing them.
type policyCache struct {
	mu       sync.Mutex
	compiled map[int64]compiledPolicy
	// registries holds each registry's policy in force (nil: none, or the
	// V1 scope). gen counts the changes to registry policies and scopes: a
	// lookup stores what it read only if none happened meanwhile. Like the
	// repository cache, it is per process, coherent while one process
	// writes the metadata.
	registries map[metadata.Scope]*iampolicy.Policy
	gen        uint64
}

// maxCachedRegistries bounds policyCache.registries, which requests name
// (anonymous ones too, by host): past it, the map starts again.
const maxCachedRegistries = 4096

type compiledPolicy struct {
	text   string
	policy *iampolicy.Policy
}

// repositoryPolicy returns a repository's compiled policy, or nil if it
// has none (or a stored one no longer compiles, which is logged).
func (r *Registry) repositoryPolicy(repo metadata.Repository) *iampolicy.Policy {
	if repo.Settings.Policy == "" {
		return nil
	}
	c := &r.policies
	c.mu.Lock()
	defer c.mu.Unlock()
	if e, ok := c.compiled[repo.ID]; ok && e.text == repo.Settings.Policy {
		return e.policy
	}
	p, err := iampolicy.Parse(repo.Settings.Policy, iampolicy.Resource)
	if err != nil {
		r.log.Error("a stored repository policy does not compile: it is ignored", "repository", repo.Key.Name, "err", err)
		return nil
	}
	if c.compiled == nil {
		c.compiled = map[int64]compiledPolicy{}
	}
	c.compiled[repo.ID] = compiledPolicy{repo.Settings.Policy, p}
	return p
}

// registryPolicyScope reads a registry's REGISTRY_POLICY_SCOPE.
func registryPolicyScope(ctx context.Context, rd metadata.Reader, scope metadata.Scope) (string, error) {
	v, err := rd.AccountSetting(ctx, scope, settingRegistryPolicyScope)
	if errors.Is(err, metadata.ErrNotFound) {
		return accountSettings[settingRegistryPolicyScope][0], nil
	}
	return v, err
}

// registryPolicy returns the registry policy that requests to a registry
// are decided with: its compiled policy under the V2 scope, or nil (no
// policy, or the V1 scope).
func (r *Registry) registryPolicy(ctx context.Context, scope metadata.Scope) (*iampolicy.Policy, error) {
	c := &r.policies
	c.mu.Lock()
	p, ok := c.registries[scope]
	gen := c.gen
	c.mu.Unlock()
	if ok {
		return p, nil
	}
	version, err := registryPolicyScope(ctx, r.meta, scope)
	if err != nil {
		return nil, err
	}
	if version == RegistryPolicyScopeV2 {
		text, err := r.meta.RegistryPolicy(ctx, scope)
		switch {
		case errors.Is(err, metadata.ErrNotFound):
		case err != nil:
			return nil, err
		default:
			if p, err = iampolicy.Parse(text, iampolicy.Resource); err != nil {
				// Stored policies were checked when put: fail closed.
				return nil, fmt.Errorf("the stored registry policy of %s in %s does not compile: %w", scope.Account, scope.Region, err)
			}
		}
	}
	c.mu.Lock()
	if c.gen == gen {
		if c.registries == nil || len(c.registries) >= maxCachedRegistries {
			c.registries = map[metadata.Scope]*iampolicy.Policy{}
		}
		c.registries[scope] = p
	}
	c.mu.Unlock()
	return p, nil
}

// forgetRegistryPolicy drops what the cache knows of a registry's policy,
// after a change to it or to its scope (whether it committed or not).
func (r *Registry) forgetRegistryPolicy(scope metadata.Scope) {
	c := &r.policies
	c.mu.Lock()
	c.gen++
	delete(c.registries, scope)
	c.mu.Unlock()
}

// decide evaluates an authorization check as identity's Authorize does,
// with the registry policy in force (V2) as a second resource policy
// beside the repository's (check.Policy): an explicit deny in either
// wins, and otherwise an allow through either is enough. That is IAM's
// evaluation over the union of both policies' statements, since a
// decision without explicit deny only grows with what the resource side
// grants. ecrd's own actions (adminActions) are never granted by a
// resource policy, so the registry policy is not consulted for them.
func (r *Registry) decide(ctx context.Context, action Action, scope metadata.Scope, check identity.Check) (iampolicy.Decision, iampolicy.Request, error) {
	d, req, err := r.ids.Authorize(ctx, check)
	if err != nil || d.Reason == iampolicy.ExplicitDeny || adminActions[action] {
		return d, req, err
	}
	pol, err := r.registryPolicy(ctx, scope)
	if err != nil || pol == nil {
		return d, req, err
	}
	check.Policy = &iampolicy.Named{Name: registryPolicyName, Policy: pol}
	d2, req2, err := r.ids.Authorize(ctx, check)
	if err != nil {
		return d2, req2, err
	}
	if d2.Reason == iampolicy.ExplicitDeny || (d2.Allowed && !d.Allowed) {
		return d2, req2, nil
	}
	return d, req, nil
}

// deniedBy reports whether policy p, as the repository's policy, would
// explicitly deny the request's caller action on the repository.
func (r *Registry) deniedBy(ctx context.Context, action Action, repo metadata.Repository, p *iampolicy.Policy) bool {
	d, _, err := r.ids.Authorize(ctx, identity.Check{
		Action: string(action), Resource: RepositoryARN(repo.Key), ResourceAccount: repo.Key.Account,
		Policy: &iampolicy.Named{Name: repositoryPolicyName, Policy: p}, Keys: tagKeys(repo.Tags),
	})
	return err == nil && d.Reason == iampolicy.ExplicitDeny
}

// tagKeys gives a repository's tags as the condition keys policies test.
func tagKeys(tags []metadata.ResourceTag) func(set func(k, v string)) {
	return func(set func(k, v string)) {
		for _, t := range tags {
			set("aws:ResourceTag/"+t.Key, t.Value)
			set("ecr:ResourceTag/"+t.Key, t.Value)
		}
	}
}
