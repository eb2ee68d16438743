package registry

import (
	"context"
	"encoding/base64"
	"errors"
	"slices"
	"strings"

	"github.com/ecrd/ecrd/internal/metadata"
)

// lookupRepository returns a repository if it exists, from the cache when
// it can.
func (r *Registry) lookupRepository(ctx context.Context, key metadata.RepoKey) (repo metadata.Repository, found bool, err error) {
	repo, ok, gen := r.cache.repo(key)
	if ok {
		return repo, true, nil
	}
	repo, err = r.meta.Repository(ctx, key)
	if errors.Is(err, metadata.ErrNotFound) {
		return repo, false, nil
	}
	if err != nil {
		return repo, false, err
	}
	r.cache.putRepo(repo, gen)
	return repo, true, nil
}

func repositoryNotFound(key metadata.RepoKey) error {
	return &NotFoundError{Kind: KindRepository, Key: key}
}

// repositoryFor returns an existing repository after checking that the
// caller may perform action on it. Access is decided before existence,
// so that a caller without access learns nothing of what exists.
func (r *Registry) repositoryFor(ctx context.Context, action Action, key metadata.RepoKey) (metadata.Repository, error) {
	if err := validateRepo(key); err != nil {
		return metadata.Repository{}, err
	}
	repo, found, err := r.lookupRepository(ctx, key)
	if err != nil {
		return repo, err
	}
	var rp *metadata.Repository
	if found {
		rp = &repo
	}
	if err := r.authorizeRepo(ctx, action, key, rp); err != nil {
		return repo, err
	}
	if !found {
		return repo, repositoryNotFound(key)
	}
	return repo, nil
}

// CreateRepository creates a repository with its settings and tags.
func (r *Registry) CreateRepository(ctx context.Context, key metadata.RepoKey, settings metadata.RepositorySettings, tags []metadata.ResourceTag) (metadata.Repository, error) {
	if err := validateRepo(key); err != nil {
		return metadata.Repository{}, err
	}
	if err := r.authorizeRepo(ctx, ActionCreateRepository, key, nil); err != nil {
		return metadata.Repository{}, err
	}
	settings, err := normalizeSettings(settings)
	if err != nil {
		return metadata.Repository{}, err
	}
	tags = mergeTags(nil, tags)
	if err := checkResourceTags(tags); err != nil {
		return metadata.Repository{}, err
	}
	if err := r.resolveKey(ctx, key.Scope, &settings); err != nil {
		return metadata.Repository{}, err
	}
	want := metadata.Repository{Key: key, CreatedAt: r.now(), Settings: settings, Tags: tags}
	var repo metadata.Repository
	err = r.meta.Update(ctx, func(tx metadata.Tx) error {
		var err error
		if repo, err = tx.CreateRepository(ctx, want); err != nil {
			return err
		}
		return r.record(ctx, tx, key.Scope, want.CreatedAt, ActionCreateRepository, createParams(repo), RepositoryARN(key))
	})
	if errors.Is(err, metadata.ErrExists) {
		return repo, &ExistsError{Kind: KindRepository, Key: key}
	}
	if err == nil {
		r.log.Info("repository created", "account", key.Account, "region", key.Region, "repository", key.Name)
	}
	return repo, err
}

// DescribeRepositories describes the named repositories, or pages through
// all of a registry's repositories in name order.
func (r *Registry) DescribeRepositories(ctx context.Context, scope metadata.Scope, names []string, token string, max int) ([]metadata.Repository, string, error) {
	if len(names) > 0 {
		out := make([]metadata.Repository, 0, len(names))
		for _, n := range names {
			repo, err := r.repositoryFor(ctx, ActionDescribeRepositories, metadata.RepoKey{Scope: scope, Name: n})
			if err != nil {
				return nil, "", err
			}
			out = append(out, repo)
		}
		return out, "", nil
	}
	if err := r.authorize(ctx, ActionDescribeRepositories, scope, nil, RepositoryARN(metadata.RepoKey{Scope: scope, Name: "*"})); err != nil {
		return nil, "", err
	}
	after, err := decodeToken(token)
	if err != nil {
		return nil, "", err
	}
	max = pageSize(max)
	repos, more, err := r.visibleRepositories(ctx, scope, "", after, max)
	if err != nil {
		return nil, "", err
	}
	next := ""
	if more {
		next = encodeToken(repos[max-1].Key.Name)
	}
	return repos, next, nil
}

// visibleRepositories returns up to n repositories of a registry after
// the name after whose names start with prefix ("" for all), in order,
// leaving out those the caller may not describe (a Deny on one
// repository hides it from listings as it does from a describe by name),
// and whether more follow. A prefix's names are one range of the name
// order: the listing stops at the first name past it.
func (r *Registry) visibleRepositories(ctx context.Context, scope metadata.Scope, prefix, after string, n int) ([]metadata.Repository, bool, error) {
	var out []metadata.Repository
	for {
		batch, err := r.meta.Repositories(ctx, scope, after, n+1)
		if err != nil {
			return nil, false, err
		}
		for _, repo := range batch {
			if !strings.HasPrefix(repo.Key.Name, prefix) {
				if repo.Key.Name < prefix {
					continue // before the range (a caller's after that starts before it)
				}
				return out, false, nil
			}
			err := r.authorizeRepo(ctx, ActionDescribeRepositories, repo.Key, &repo)
			if c := CodeOf(err); c == CodeAccessDenied || c == CodeUnauthenticated {
				continue
			} else if err != nil {
				return nil, false, err
			}
			if len(out) == n {
				return out, true, nil
			}
			out = append(out, repo)
		}
		if len(batch) <= n {
			return out, false, nil
		}
		after = batch[len(batch)-1].Key.Name
	}
}

// DeleteRepository deletes a repository; unless force is set, only an
// empty one. Its blobs' bytes stay while other repositories link them.
func (r *Registry) DeleteRepository(ctx context.Context, key metadata.RepoKey, force bool) (metadata.Repository, int, error) {
	repo, err := r.repositoryFor(ctx, ActionDeleteRepository, key)
	if err != nil {
		return repo, 0, err
	}
	var count int
	var uploads []metadata.Upload
	now := r.now()
	err = r.meta.Update(ctx, func(tx metadata.Tx) error {
		var err error
		if count, err = tx.RepositoryImageCount(ctx, repo.ID); err != nil {
			return err
		}
		if count > 0 && !force {
			return &ConflictError{Conflict: ConflictRepositoryNotEmpty, Key: key}
		}
		all, err := tx.Uploads(ctx)
		if err != nil {
			return err
		}
		uploads = nil // this function may run more than once
		for _, u := range all {
			if u.Repo == key {
				uploads = append(uploads, u)
			}
		}
		if err := tx.DeleteRepository(ctx, repo.ID); err != nil {
			return err
		}
		return r.record(ctx, tx, key.Scope, now, ActionDeleteRepository, map[string]any{"repositoryName": key.Name, "force": force}, RepositoryARN(key))
	})
	r.cache.dropRepo(key, repo.ID)
	if err != nil {
		return repo, 0, err
	}
	// A request writing or finishing one of the uploads meanwhile ends
	// first: it fails for want of the repository (or its session), rather
	// than finding its bytes gone under it.
	wctx := context.WithoutCancel(ctx)
	for _, u := range uploads {
		if r.uploads.end(wctx, u.ID) == nil {
			r.discardUpload(u.ID)
			r.uploads.release(u.ID)
		}
	}
	r.log.Info("repository deleted", "account", key.Account, "region", key.Region, "repository", key.Name, "images", count)
	return repo, count, nil
}

// updateRepository applies change to a repository's record after
// authorizing action, records the change with the request's params, and
// returns the updated record. change runs inside the transaction: it
// only edits the record.
func (r *Registry) updateRepository(ctx context.Context, action Action, key metadata.RepoKey, params map[string]any, change func(*metadata.Repository) error) (metadata.Repository, error) {
	repo, err := r.repositoryFor(ctx, action, key)
	if err != nil {
		return repo, err
	}
	now := r.now()
	err = r.meta.Update(ctx, func(tx metadata.Tx) error {
		// Re-read inside the transaction: the cached record may be stale.
		cur, err := tx.Repository(ctx, key)
		if errors.Is(err, metadata.ErrNotFound) {
			return repositoryNotFound(key)
		}
		if err != nil {
			return err
		}
		if err := change(&cur); err != nil {
			return err
		}
		repo = cur
		if err := tx.UpdateRepository(ctx, cur); err != nil {
			return err
		}
		return r.record(ctx, tx, key.Scope, now, action, params, RepositoryARN(key))
	})
	r.cache.dropRepo(key, 0)
	return repo, err
}

// PutImageTagMutability sets a repository's tag mutability.
func (r *Registry) PutImageTagMutability(ctx context.Context, key metadata.RepoKey, mutability string, exclusions []string) (metadata.Repository, error) {
	if err := checkMutability(mutability, exclusions); err != nil {
		return metadata.Repository{}, err
	}
	params := map[string]any{"repositoryName": key.Name, "imageTagMutability": mutability}
	if len(exclusions) > 0 {
		params["imageTagMutabilityExclusionFilters"] = exclusions
	}
	return r.updateRepository(ctx, ActionPutImageTagMutability, key, params, func(repo *metadata.Repository) error {
		repo.Settings.TagMutability, repo.Settings.MutabilityExclusions = mutability, exclusions
		return nil
	})
}

// PutImageScanningConfiguration sets whether a repository scans on push.
func (r *Registry) PutImageScanningConfiguration(ctx context.Context, key metadata.RepoKey, scanOnPush bool) (metadata.Repository, error) {
	params := map[string]any{"repositoryName": key.Name, "imageScanningConfiguration": map[string]bool{"scanOnPush": scanOnPush}}
	return r.updateRepository(ctx, ActionPutImageScanningConfig, key, params, func(repo *metadata.Repository) error {
		repo.Settings.ScanOnPush = scanOnPush
		return nil
	})
}

// TagResource adds or replaces tags of the repository arn names.
func (r *Registry) TagResource(ctx context.Context, arn string, tags []metadata.ResourceTag) error {
	key, err := ParseRepositoryARN(arn)
	if err != nil {
		return err
	}
	_, err = r.updateRepository(ctx, ActionTagResource, key, map[string]any{"resourceArn": arn, "tags": tags}, func(repo *metadata.Repository) error {
		merged := mergeTags(repo.Tags, tags)
		if err := checkResourceTags(merged); err != nil {
			return err
		}
		repo.Tags = merged
		return nil
	})
	return err
}

// UntagResource removes tags by key; absent keys are ignored, as in ECR.
func (r *Registry) UntagResource(ctx context.Context, arn string, keys []string) error {
	key, err := ParseRepositoryARN(arn)
	if err != nil {
		return err
	}
	_, err = r.updateRepository(ctx, ActionUntagResource, key, map[string]any{"resourceArn": arn, "tagKeys": keys}, func(repo *metadata.Repository) error {
		repo.Tags = slices.DeleteFunc(repo.Tags, func(t metadata.ResourceTag) bool { return slices.Contains(keys, t.Key) })
		return nil
	})
	return err
}

// ListTagsForResource returns the tags of the repository arn names.
func (r *Registry) ListTagsForResource(ctx context.Context, arn string) ([]metadata.ResourceTag, error) {
	key, err := ParseRepositoryARN(arn)
	if err != nil {
		return nil, err
	}
	repo, err := r.repositoryFor(ctx, ActionListTagsForResource, key)
	return repo.Tags, err
}

// encodeToken makes an opaque pagination token from the last key returned.
func encodeToken(last string) string {
	return base64.RawURLEncoding.EncodeToString([]byte("v1:" + last))
}

func decodeToken(token string) (string, error) {
	if token == "" {
		return "", nil
	}
	b, err := base64.RawURLEncoding.DecodeString(token)
	last, ok := strings.CutPrefix(string(b), "v1:")
	if err != nil || !ok {
		return "", errBadToken
	}
	return last, nil
}
