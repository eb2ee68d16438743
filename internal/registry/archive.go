package registry

import (
	"context"
	"errors"
	"fmt"
	"time"

	"github.com/opencontainers/go-digest"

	"github.com/ecrd/ecrd/internal/manifest"
	"github.com/ecrd/ecrd/internal/metadata"
)

// Target storage classes of UpdateImageStorageClass.
const (
	TargetStandard = metadata.StorageStandard
	TargetArchive  = metadata.StorageArchive
)

// checkActive refuses to serve an image that is archived or still being
// restored: ECR's ImageArchivedException, through either API.
func checkActive(key metadata.RepoKey, img metadata.Image, now time.Time) error {
	switch img.Status(now) {
	case metadata.ImageArchived:
		return &ConflictError{Conflict: ConflictImageArchived, Key: key, Digest: string(img.Digest)}
	case metadata.ImageActivating:
		return &ConflictError{Conflict: ConflictImageRestoring, Key: key, Digest: string(img.Digest)}
	}
	return nil
}

// UpdateImageStorageClass archives an image or restores it from archive,
// and returns its status. An index moves with the manifests it lists, and
// an image with its referrers (signatures, SBOMs), as ECR's lifecycle
// rules move them together. Restoring takes Options.RestoreDelay, during
// which the image is ACTIVATING.
func (r *Registry) UpdateImageStorageClass(ctx context.Context, key metadata.RepoKey, id ImageID, target string) (ImageID, string, error) {
	repo, err := r.repositoryFor(ctx, ActionUpdateImageStorageClass, key)
	if err != nil {
		return id, "", err
	}
	now := r.now()
	var status string
	defer r.cache.invalidate(repo.ID)
	err = r.meta.Update(ctx, func(tx metadata.Tx) error {
		img, fail := resolve(ctx, tx, repo.ID, id)
		if fail != nil {
			return fail.imageError(key)
		}
		id.Digest = string(img.Digest)
		if parents, err := tx.Parents(ctx, repo.ID, img.Digest); err != nil {
			return err
		} else if len(parents) > 0 {
			return &ConflictError{Conflict: ConflictImageInIndex, Key: key, Digest: string(img.Digest), Index: string(parents[0])}
		}
		group, err := imageGroup(ctx, tx, repo.ID, img)
		if err != nil {
			return err
		}
		for _, m := range group {
			archivedAt, activatedAt := m.LastArchivedAt, m.LastActivatedAt
			switch {
			case target == TargetArchive && m.StorageClass != metadata.StorageArchive:
				archivedAt = now
			case target == TargetStandard && m.StorageClass == metadata.StorageArchive:
				activatedAt = now.Add(r.opts.RestoreDelay)
			default:
				continue // already there
			}
			if err := tx.SetImageStorage(ctx, repo.ID, m.Digest, target, archivedAt, activatedAt); err != nil {
				return err
			}
			tags, err := tx.ImageTags(ctx, repo.ID, m.Digest)
			if err != nil {
				return err
			}
			if err := storageClassEvents(ctx, tx, key, m, target, activatedAt, tags, now); err != nil {
				return err
			}
			if m.Digest == img.Digest {
				img.StorageClass, img.LastActivatedAt = target, activatedAt
			}
		}
		status = img.Status(now)
		return r.record(ctx, tx, key.Scope, now, ActionUpdateImageStorageClass,
			map[string]any{"repositoryName": key.Name, "imageId": wireImageID(id), "targetStorageClass": target}, RepositoryARN(key))
	})
	if err != nil {
		return id, "", err
	}
	r.log.Info("image storage class updated", "account", key.Account, "region", key.Region, "repository", key.Name,
		"digest", id.Digest, "storageClass", target, "status", status)
	return id, status, nil
}

// imageGroup returns an image with the manifests it lists and its
// referrers, recursively.
func imageGroup(ctx context.Context, rd metadata.Reader, repoID int64, img metadata.Image) ([]metadata.Image, error) {
	group := []metadata.Image{img}
	seen := map[digest.Digest]bool{img.Digest: true}
	for i := 0; i < len(group); i++ {
		m := group[i]
		refs, err := rd.Referrers(ctx, repoID, m.Digest)
		if err != nil {
			return nil, err
		}
		children, err := childManifests(ctx, rd, repoID, m)
		if err != nil {
			return nil, err
		}
		for _, n := range append(refs, children...) {
			if !seen[n.Digest] {
				seen[n.Digest] = true
				group = append(group, n)
			}
		}
	}
	return group, nil
}

// childManifests returns the manifests an index lists.
func childManifests(ctx context.Context, rd metadata.Reader, repoID int64, img metadata.Image) ([]metadata.Image, error) {
	if len(img.Content) == 0 {
		full, err := rd.Image(ctx, repoID, img.Digest)
		if err != nil {
			return nil, err
		}
		img = full
	}
	m, err := manifest.Parse(img.MediaType, img.Content)
	if err != nil {
		return nil, fmt.Errorf("stored manifest %s: %w", img.Digest, err)
	}
	var out []metadata.Image
	for _, d := range m.Manifests {
		c, err := rd.Image(ctx, repoID, d.Digest)
		if errors.Is(err, metadata.ErrNotFound) {
			continue
		}
		if err != nil {
			return nil, err
		}
		out = append(out, c)
	}
	return out, nil
}

// ImageTimes are the times SetImageTimes sets; a zero time leaves one
// as it is.
type ImageTimes struct {
	PushedAt     time.Time
	LastPulledAt time.Time
	// UpstreamCheckedAt is when a pull-through cached tag was last
	// checked upstream: setting it a day back makes the next pull check.
	UpstreamCheckedAt time.Time
}

// SetImageTimes sets an image's push time and last pull time, so that
// images imported from another registry keep the ages their lifecycle
// rules depend on, and a cached tag's last upstream check, so that a
// refresh can be driven without waiting a day. It is ecrd's own action,
// which only an account's root may take.
func (r *Registry) SetImageTimes(ctx context.Context, key metadata.RepoKey, id ImageID, times ImageTimes) (metadata.Image, error) {
	pushedAt, lastPulledAt, checkedAt := times.PushedAt, times.LastPulledAt, times.UpstreamCheckedAt
	repo, err := r.repositoryFor(ctx, ActionSetImageTimes, key)
	if err != nil {
		return metadata.Image{}, err
	}
	now := r.now()
	for _, t := range []time.Time{pushedAt, lastPulledAt, checkedAt} {
		if t.After(now.Add(time.Minute)) {
			return metadata.Image{}, errorf(CodeInvalidParameter, "time %s is in the future: an image cannot have been pushed, pulled or checked later than now", t.Format(time.RFC3339))
		}
	}
	if !checkedAt.IsZero() {
		if id.Tag == "" {
			return metadata.Image{}, errorf(CodeInvalidParameter, "upstreamCheckedAt needs imageId.imageTag: it is a cached tag's time")
		}
		if _, ok, err := r.ruleFor(ctx, key, true); err != nil {
			return metadata.Image{}, err
		} else if !ok {
			return metadata.Image{}, errorf(CodeInvalidParameter, "repository %q is not under a pull-through cache rule: it has no upstream to check", key.Name)
		}
	}
	var img metadata.Image
	defer r.cache.invalidate(repo.ID)
	err = r.meta.Update(ctx, func(tx metadata.Tx) error {
		var fail *ImageFailure
		if img, fail = resolve(ctx, tx, repo.ID, id); fail != nil {
			return fail.imageError(key)
		}
		if err := tx.SetImageTimes(ctx, repo.ID, img.Digest, pushedAt, lastPulledAt); err != nil {
			return err
		}
		params := map[string]any{"repositoryName": key.Name, "imageId": wireImageID(ImageID{Digest: string(img.Digest), Tag: id.Tag})}
		if !pushedAt.IsZero() {
			params["imagePushedAt"] = pushedAt.UTC().Format(time.RFC3339)
		}
		if !lastPulledAt.IsZero() {
			params["lastRecordedPullTime"] = lastPulledAt.UTC().Format(time.RFC3339)
		}
		if !checkedAt.IsZero() {
			params["upstreamCheckedAt"] = checkedAt.UTC().Format(time.RFC3339)
			if err := tx.PutAccountSetting(ctx, key.Scope, settingTagChecked+key.Name+":"+id.Tag, checkedAt.UTC().Format(time.RFC3339Nano)); err != nil {
				return err
			}
		}
		if err := r.record(ctx, tx, key.Scope, now, ActionSetImageTimes, params, RepositoryARN(key)); err != nil {
			return err
		}
		img, err = tx.Image(ctx, repo.ID, img.Digest)
		return err
	})
	if err != nil {
		return metadata.Image{}, err
	}
	if !checkedAt.IsZero() {
		r.ptc.mu.Lock()
		r.ptc.checked[checkKey{repo.ID, id.Tag}] = checkedAt
		r.ptc.mu.Unlock()
	}
	img.Content = nil
	return img, nil
}
