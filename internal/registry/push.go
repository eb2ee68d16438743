package registry

import (
	"context"
	"errors"
	"time"

	"github.com/ecrd/ecrd/internal/metadata"
	"github.com/ecrd/ecrd/internal/registry/blobspace"
)

// A push is planned before its transactions, by planPush (see the
// package doc, "Upload durability"), so that they only read and write
// the metadata store and may run twice (see metadata.Store).

// pushPlan is a planned push to one repository.
type pushPlan struct {
	key    metadata.RepoKey
	action Action
	// exists says the repository existed when the push was planned; its
	// settings are then those of repo. Otherwise create says how the push
	// creates it.
	exists bool
	repo   metadata.Repository
	create *createPlan
	// space is where the push's blobs go, once blobSpace settled it.
	space      blobspace.Space
	spaceKnown bool
}

// createPlan is how a push creates its repository: from a template, with
// the template's settings, its KMS key resolved.
type createPlan struct {
	template CreationTemplate
	settings metadata.RepositorySettings
}

// settings are the repository's settings, as it is or as the push
// creates it.
func (p *pushPlan) settings() metadata.RepositorySettings {
	if p.exists {
		return p.repo.Settings
	}
	return p.create.settings
}

// planPush authorizes a push action on repository key and plans the
// push: the repository must exist, or be creatable by a CREATE_ON_PUSH
// template (ECR's rule), which the caller must then be allowed to use
// (ecr:CreateRepository); otherwise NAME_UNKNOWN. A replication creates
// a missing repository from a REPLICATION template, or with defaults.
func (r *Registry) planPush(ctx context.Context, action Action, key metadata.RepoKey) (*pushPlan, error) {
	p := &pushPlan{key: key, action: action}
	repo, err := r.repositoryFor(ctx, action, key)
	if err == nil {
		p.exists, p.repo = true, repo
		return p, nil
	}
	if CodeOf(err) != CodeNameUnknown {
		return nil, err
	}
	ts, err := templates(ctx, r.meta, key.Scope)
	if err != nil {
		return nil, err
	}
	use := AppliedForCreateOnPush
	_, replica := originOf(ctx)
	_, cache := pullThroughOf(ctx)
	switch {
	case replica:
		use = AppliedForReplication
	case cache:
		use = AppliedForPullThroughCache
	}
	t, ok := templateFor(ts, key.Name, use)
	if !ok && !replica && !cache {
		return nil, errNoTemplate(key)
	}
	// A replication or a pull-through without a template creates the
	// repository with ECR's defaults (the zero template's settings).
	if err := r.authorizeRepo(ctx, ActionCreateRepository, key, nil); err != nil {
		return nil, err
	}
	s, err := r.templateSettings(ctx, key.Scope, t)
	if err != nil {
		return nil, err
	}
	p.create = &createPlan{template: t, settings: s}
	return p, nil
}

// blobSpace settles where the push stores blobs. An encrypted space's
// key must be usable: there is no point receiving a blob that cannot be
// stored.
func (r *Registry) blobSpace(ctx context.Context, p *pushPlan) (blobspace.Space, error) {
	if p.spaceKnown {
		return p.space, nil
	}
	sp, err := r.spaceOf(ctx, p.settings())
	if err == nil && sp.Encrypted() {
		err = r.checkKey(ctx, sp.Key(), blobspace.OpWrite)
	}
	if err != nil {
		return blobspace.Space{}, err
	}
	p.space, p.spaceKnown = sp, true
	return sp, nil
}

// errReplan says the repository a push planned for changed before the
// push's transaction (deleted, or deleted and created again): the push
// is planned again.
var errReplan = errors.New("the repository changed since the push was planned")

// pushRepository returns, inside a push's transaction, the repository the
// push writes to, creating it as planned, and whether it created it. It
// returns errReplan if the repository is no longer the one planned for.
func pushRepository(ctx context.Context, tx metadata.Tx, p *pushPlan, now time.Time) (metadata.Repository, bool, error) {
	repo, err := tx.Repository(ctx, p.key)
	switch {
	case err == nil:
		if p.spaceKnown && repo.Settings.BlobKey != p.space.Key() {
			return repo, false, errReplan // replaced: its blobs live elsewhere
		}
		return repo, false, nil
	case !errors.Is(err, metadata.ErrNotFound):
		return repo, false, err
	case p.create == nil:
		return repo, false, errReplan // deleted since
	}
	repo, err = tx.CreateRepository(ctx, metadata.Repository{Key: p.key, CreatedAt: now, Settings: p.create.settings, Tags: p.create.template.ResourceTags})
	if err == nil && p.create.template.LifecyclePolicy != "" {
		err = tx.PutLifecyclePolicy(ctx, repo.ID, p.create.template.LifecyclePolicy, now)
	}
	return repo, err == nil, err
}

// updateFunc is metadata.Store's Update or UpdateNoSync.
type updateFunc func(context.Context, func(metadata.Tx) error) error

// updatePush runs fn in a write transaction (update) on the repository a push
// writes to (see pushRepository). If the repository changed since the
// plan, it plans again and retries, once; a push whose blobs were stored
// for another blob space than the new plan's fails. On success it says
// when the push created the repository.
func (r *Registry) updatePush(ctx context.Context, p *pushPlan, now time.Time, update updateFunc, fn func(tx metadata.Tx, repo metadata.Repository) error) (metadata.Repository, error) {
	var (
		repo    metadata.Repository
		created bool
	)
	run := func(tx metadata.Tx) error {
		var err error
		repo, created, err = pushRepository(ctx, tx, p, now)
		if err != nil {
			return err
		}
		if created {
			params := createParams(repo)
			params["creationTemplate"] = p.create.template.Prefix
			if err := r.record(ctx, tx, p.key.Scope, now, ActionCreateRepository, params, RepositoryARN(p.key)); err != nil {
				return err
			}
		}
		return fn(tx, repo)
	}
	err := update(ctx, run)
	if errors.Is(err, errReplan) {
		again, perr := r.planPush(ctx, p.action, p.key)
		if perr != nil {
			return repo, perr
		}
		if p.spaceKnown {
			sp, serr := r.blobSpace(ctx, again)
			if serr != nil {
				return repo, serr
			}
			if sp.Key() != p.space.Key() {
				return repo, errorf(CodeBlobUploadUnknown, "repository %q was deleted and created again with another encryption while the push was under way: push again", p.key.Name)
			}
		}
		*p = *again
		err = update(ctx, run)
		if errors.Is(err, errReplan) {
			err = errorf(CodeNameUnknown, "repository %q was deleted or created again while the push was under way: push again", p.key.Name)
		}
	}
	if err == nil && created {
		r.log.Info("repository created on push", "account", p.key.Account, "region", p.key.Region, "repository", p.key.Name, "template", p.create.template.Prefix)
	}
	return repo, err
}
