package registry

import (
	"context"
	"errors"
	"sync"
	"time"

	"github.com/opencontainers/go-digest"

	"github.com/ecrd/ecrd/internal/identity"
	"github.com/ecrd/ecrd/internal/metadata"
)

// pullRecorder batches last-pull times in memory and writes them every
// PullFlushInterval, so that a pull costs no database write. ECR, too,
// records pull times approximately.
type pullRecorder struct {
	mu      sync.Mutex
	pending map[pullKey]time.Time
}

type pullKey struct {
	repoID int64
	digest digest.Digest
}

func (p *pullRecorder) record(repoID int64, d digest.Digest, at time.Time) {
	p.mu.Lock()
	p.pending[pullKey{repoID, d}] = at
	p.mu.Unlock()
}

func (p *pullRecorder) take() []metadata.Pull {
	p.mu.Lock()
	defer p.mu.Unlock()
	if len(p.pending) == 0 {
		return nil
	}
	out := make([]metadata.Pull, 0, len(p.pending))
	for k, at := range p.pending {
		out = append(out, metadata.Pull{RepoID: k.repoID, Digest: k.digest, At: at})
	}
	// A new map rather than clear: a map never shrinks, and one burst of
	// pulls of many images would hold its size for good.
	p.pending = make(map[pullKey]time.Time, min(len(out), 1024))
	return out
}

// flushPulls writes recorded pull times.
func (r *Registry) flushPulls(ctx context.Context) {
	pulls := r.pulls.take()
	if err := r.meta.RecordPulls(ctx, pulls); err != nil {
		r.log.Warn("recording pull times", "count", len(pulls), "err", err)
	}
}

// FlushPulls writes recorded pull times now (tests and shutdown use it).
func (r *Registry) FlushPulls(ctx context.Context) { r.flushPulls(ctx) }

// recordPull records a pull of an image, unless the caller is a principal
// the registry excludes from pull-time updates (ECR's pull time update
// exclusions: scanners and replicators that pull without using an image).
func (r *Registry) recordPull(ctx context.Context, repo metadata.Repository, d digest.Digest, now time.Time) {
	if r.opts.Activity != nil {
		r.opts.Activity.Pulled(repo.Key) // every pull counts, excluded principals' too
	}
	if p, ok := identity.FromContext(ctx); ok {
		excluded, err := r.pullExcluded(ctx, repo.Key.Scope, p.PrincipalARN())
		if err != nil {
			r.log.Warn("reading pull time update exclusions", "err", err)
		}
		if excluded {
			return
		}
	}
	r.pulls.record(repo.ID, d, now)
}

// pullExcluded reports whether a principal's pulls leave pull times alone.
// Each registry's exclusions are read once and kept until they change.
func (r *Registry) pullExcluded(ctx context.Context, scope metadata.Scope, arn string) (bool, error) {
	r.exclusions.mu.Lock()
	set, ok := r.exclusions.byScope[scope]
	gen := r.exclusions.gen
	r.exclusions.mu.Unlock()
	if !ok {
		list, err := r.meta.PullTimeExclusions(ctx, scope)
		if err != nil {
			return false, err
		}
		set = make(map[string]bool, len(list))
		for _, e := range list {
			set[e.Principal] = true
		}
		r.exclusions.mu.Lock()
		if r.exclusions.gen == gen { // else a change raced with the read
			r.exclusions.byScope[scope] = set
		}
		r.exclusions.mu.Unlock()
	}
	return set[arn], nil
}

// exclusionCache holds each registry's pull time update exclusions. gen
// counts the changes (rare): a list read before one is not kept after it.
type exclusionCache struct {
	mu      sync.Mutex
	byScope map[metadata.Scope]map[string]bool
	gen     uint64
}

func (c *exclusionCache) forget(scope metadata.Scope) {
	c.mu.Lock()
	delete(c.byScope, scope)
	c.gen++
	c.mu.Unlock()
}

// RegisterPullTimeUpdateExclusion excludes a principal's pulls from
// updating images' last pull times.
func (r *Registry) RegisterPullTimeUpdateExclusion(ctx context.Context, scope metadata.Scope, principal string) (metadata.PullTimeExclusion, error) {
	if err := r.authorize(ctx, ActionRegisterPullTimeExclusion, scope, nil, "*"); err != nil {
		return metadata.PullTimeExclusion{}, err
	}
	e := metadata.PullTimeExclusion{Principal: principal, CreatedAt: r.now()}
	defer r.exclusions.forget(scope)
	err := r.meta.Update(ctx, func(tx metadata.Tx) error {
		if err := tx.PutPullTimeExclusion(ctx, scope, e); err != nil {
			return err
		}
		return r.record(ctx, tx, scope, e.CreatedAt, ActionRegisterPullTimeExclusion, map[string]any{"principalArn": principal})
	})
	if errors.Is(err, metadata.ErrExists) {
		return e, &ExistsError{Kind: KindExclusion, Key: metadata.RepoKey{Scope: scope}, ID: principal}
	}
	return e, err
}

// DeregisterPullTimeUpdateExclusion lets a principal's pulls update pull
// times again.
func (r *Registry) DeregisterPullTimeUpdateExclusion(ctx context.Context, scope metadata.Scope, principal string) error {
	if err := r.authorize(ctx, ActionDeregisterPullTimeExclusion, scope, nil, "*"); err != nil {
		return err
	}
	defer r.exclusions.forget(scope)
	now := r.now()
	err := r.meta.Update(ctx, func(tx metadata.Tx) error {
		if err := tx.DeletePullTimeExclusion(ctx, scope, principal); err != nil {
			return err
		}
		return r.record(ctx, tx, scope, now, ActionDeregisterPullTimeExclusion, map[string]any{"principalArn": principal})
	})
	if errors.Is(err, metadata.ErrNotFound) {
		return &NotFoundError{Kind: KindExclusion, Key: metadata.RepoKey{Scope: scope}, ID: principal}
	}
	return err
}

// PullTimeUpdateExclusions lists a registry's excluded principals, a page
// at a time.
func (r *Registry) PullTimeUpdateExclusions(ctx context.Context, scope metadata.Scope, token string, max int) ([]string, string, error) {
	if err := r.authorize(ctx, ActionListPullTimeExclusions, scope, nil, "*"); err != nil {
		return nil, "", err
	}
	after, err := decodeToken(token)
	if err != nil {
		return nil, "", err
	}
	list, err := r.meta.PullTimeExclusions(ctx, scope)
	if err != nil {
		return nil, "", err
	}
	var out []string
	for _, e := range list {
		if e.Principal > after {
			out = append(out, e.Principal)
		}
	}
	max = pageSize(max)
	next := ""
	if len(out) > max {
		out = out[:max]
		next = encodeToken(out[max-1])
	}
	return out, next, nil
}
