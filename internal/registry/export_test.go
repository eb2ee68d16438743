package registry

import (
	"context"
	"errors"

	"github.com/ecrd/ecrd/internal/iampolicy"
	"github.com/ecrd/ecrd/internal/identity"
	"github.com/ecrd/ecrd/internal/metadata"
)

// DecideOnRepository decides an action of the context's caller on a
// repository (nil if it does not exist) as authorize builds the check, with
// the registry policy in force beside the repository's (decide). It
// returns whether the action is allowed and AWS's message if it is not.
func (r *Registry) DecideOnRepository(ctx context.Context, action Action, key metadata.RepoKey) (bool, string, error) {
	check := identity.Check{Action: string(action), Resource: RepositoryARN(key), ResourceAccount: key.Account}
	repo, err := r.meta.Repository(ctx, key)
	switch {
	case err == nil:
		if pol := r.repositoryPolicy(repo); pol != nil {
			check.Policy = &iampolicy.Named{Name: "repository policy", Policy: pol}
		}
		check.Keys = tagKeys(repo.Tags)
	case !errors.Is(err, metadata.ErrNotFound):
		return false, "", err
	}
	d, req, err := r.decide(ctx, action, key.Scope, check)
	return d.Allowed, d.Message(req), err
}

// ReplicateNow feeds the outbox to replication and runs every task that is
// due, as the background engine does.
func (r *Registry) ReplicateNow(ctx context.Context) error {
	l, err := r.leases.Acquire(ctx, "replication-feed")
	if err != nil {
		return err
	}
	defer l.Release()
	for {
		_, more, err := r.replication.FeedOnce(ctx, l)
		if err != nil {
			return err
		}
		if !more {
			break
		}
	}
	for {
		ran, err := r.replication.RunOne(ctx)
		if err != nil || !ran {
			return err
		}
	}
}

// SetPullThroughRules replaces a registry's pull-through cache rules, as
// the rules API stores them.
func SetPullThroughRules(ctx context.Context, r *Registry, scope metadata.Scope, rules []PullThroughCacheRule) error {
	return r.meta.Update(ctx, func(tx metadata.Tx) error { return putPullThroughRules(ctx, tx, scope, rules) })
}
