package registry

import (
	"context"
	"errors"
	"strings"
	"sync"

	"github.com/ecrd/ecrd/internal/iampolicy"
	"github.com/ecrd/ecrd/internal/identity"
	"github.com/ecrd/ecrd/internal/metadata"
)

// registryPolicyActions are the only actions a registry policy may grant,
// as ECR documents.
var registryPolicyActions = []string{"ecr:ReplicateImage", "ecr:BatchImportUpstreamImage", "ecr:CreateRepository"}

func noRepositoryPolicy(key metadata.RepoKey) error {
	return errorf(CodeRepositoryPolicyNotFound, "Repository policy does not exist for the repository with name '%s' in the registry with id '%s'", key.Name, key.Account)
}

func noRegistryPolicy(scope metadata.Scope) error {
	return errorf(CodeRegistryPolicyNotFound, "Registry policy does not exist in the registry with id '%s'", scope.Account)
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
		return nil, errorf(CodeInvalidParameter, "Invalid parameter at 'PolicyText' failed to satisfy constraint: 'Invalid repository policy provided'")
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
	return r.updateRepository(ctx, ActionSetRepositoryPolicy, key, func(repo *metadata.Repository) error {
		if !force {
			if r.deniedBy(ctx, ActionSetRepositoryPolicy, *repo, p) {
				return errorf(CodeInvalidParameter, "Invalid parameter at 'PolicyText' failed to satisfy constraint: 'the policy denies you ecr:SetRepositoryPolicy, so you could not change it again: set force to apply it anyway'")
			}
		}
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
	_, err := r.updateRepository(ctx, ActionDeleteRepositoryPolicy, key, func(repo *metadata.Repository) error {
		if repo.Settings.Policy == "" {
			return noRepositoryPolicy(key)
		}
		old, repo.Settings.Policy = repo.Settings.Policy, ""
		return nil
	})
	return old, err
}

// PutRegistryPolicy sets a registry's permissions policy, which may only
// grant replication, pull-through imports and repository creation.
func (r *Registry) PutRegistryPolicy(ctx context.Context, scope metadata.Scope, text string) error {
	if err := r.authorize(ctx, ActionPutRegistryPolicy, scope, nil, "*"); err != nil {
		return err
	}
	p, err := iampolicy.Parse(text, iampolicy.Resource)
	if err == nil && !allActions(p, func(a string) bool {
		for _, ok := range registryPolicyActions {
			if strings.EqualFold(a, ok) {
				return true
			}
		}
		return false
	}) {
		err = errors.New("an action a registry policy cannot grant")
	}
	if err != nil {
		return errorf(CodeInvalidParameter, "Invalid parameter at 'PolicyText' failed to satisfy constraint: 'Invalid registry policy provided'")
	}
	return r.meta.Update(ctx, func(tx metadata.Tx) error { return tx.PutRegistryPolicy(ctx, scope, text) })
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
	err := r.meta.Update(ctx, func(tx metadata.Tx) error {
		var err error
		if text, err = tx.RegistryPolicy(ctx, scope); err != nil {
			return err
		}
		return tx.DeleteRegistryPolicy(ctx, scope)
	})
	if errors.Is(err, metadata.ErrNotFound) {
		return "", noRegistryPolicy(scope)
	}
	return text, err
}

// policyCache keeps each repository's compiled policy, so that a request
// evaluates it without parsing it.
type policyCache struct {
	mu       sync.Mutex
	compiled map[int64]compiledPolicy
}

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

// deniedBy reports whether policy p, as the repository's policy, would
// explicitly deny the request's caller action on the repository.
func (r *Registry) deniedBy(ctx context.Context, action Action, repo metadata.Repository, p *iampolicy.Policy) bool {
	d, _, err := r.ids.Authorize(ctx, identity.Check{
		Action: string(action), Resource: RepositoryARN(repo.Key), ResourceAccount: repo.Key.Account,
		Policy: &iampolicy.Named{Name: "repository policy", Policy: p}, Keys: tagKeys(repo.Tags),
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
