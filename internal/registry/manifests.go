package registry

import (
	"context"
	"errors"
	"slices"
	"strings"

	"github.com/opencontainers/go-digest"

	"github.com/ecrd/ecrd/internal/manifest"
	"github.com/ecrd/ecrd/internal/metadata"
	"github.com/ecrd/ecrd/internal/outbox"
	"github.com/ecrd/ecrd/internal/reference"
)

// parseReference validates a tag or digest from a request.
func parseReference(s string) (reference.Reference, error) {
	ref, err := reference.ParseReference(s)
	if err != nil {
		code := CodeTagInvalid
		if strings.Contains(s, ":") {
			code = CodeDigestInvalid
		}
		return ref, &Error{Code: code, Message: err.Error()}
	}
	return ref, nil
}

// PutManifest stores a manifest pushed through the OCI API, by tag or by
// digest, and points the tag (if pushed by tag) and the extra tags at it.
// Re-pushing a manifest under a tag that already points to it succeeds,
// even in an immutable repository: CI re-runs do this (ECR refuses it).
func (r *Registry) PutManifest(ctx context.Context, key metadata.RepoKey, refStr string, extraTags []string, contentType string, body []byte) (metadata.Image, error) {
	ref, err := parseReference(refStr)
	if err != nil {
		return metadata.Image{}, err
	}
	tags, err := tagSet(ref.Tag, extraTags)
	if err != nil {
		return metadata.Image{}, err
	}
	return r.putImage(ctx, key, putRequest{digest: ref.Digest, tags: tags, contentType: contentType, body: body})
}

// PutImage stores a manifest pushed through the ECR API (PutImage), with
// ECR's rules: a digest given must match (ImageDigestDoesNotMatch), and a
// push that changes nothing is refused (ImageAlreadyExists).
func (r *Registry) PutImage(ctx context.Context, key metadata.RepoKey, body []byte, mediaType, dgst, tag string) (metadata.Image, error) {
	req := putRequest{contentType: mediaType, body: body, refuseNoop: true, declared: true}
	if dgst != "" {
		d, err := parseDigest(dgst)
		if err != nil {
			return metadata.Image{}, err
		}
		req.digest = d
	}
	if tag != "" {
		tags, err := tagSet(tag, nil)
		if err != nil {
			return metadata.Image{}, err
		}
		req.tags = tags
	}
	return r.putImage(ctx, key, req)
}

// putRequest is a manifest push, from either API.
type putRequest struct {
	digest      digest.Digest // the digest the client expects, if any
	tags        []string
	contentType string
	body        []byte
	refuseNoop  bool // ECR PutImage: a push that changes nothing is an error
	declared    bool // ECR PutImage: contentType is imageManifestMediaType (manifest.ParseDeclared)
}

// putImage stores a manifest. It checks that the manifest parses, that its
// declared media type agrees with its body, that its digest matches one
// given, that everything it references is already in the repository, and
// that no tag it moves is immutable.
func (r *Registry) putImage(ctx context.Context, key metadata.RepoKey, req putRequest) (metadata.Image, error) {
	plan, err := r.planPush(ctx, ActionPutImage, key)
	if err != nil {
		return metadata.Image{}, err
	}
	parse := manifest.Parse
	if req.declared {
		parse = manifest.ParseDeclared
	}
	m, err := parse(req.contentType, req.body)
	if err != nil {
		return metadata.Image{}, manifestError(err)
	}
	alg := digest.Canonical
	if req.digest != "" {
		alg = req.digest.Algorithm()
	}
	d := alg.FromBytes(req.body)
	if req.digest != "" && req.digest != d {
		code := CodeDigestInvalid
		if req.refuseNoop {
			code = CodeImageDigestMismatch
		}
		return metadata.Image{}, errorf(code, "the manifest's digest is %s, not %s as the request says", d, req.digest)
	}
	img := metadata.Image{
		Digest:       d,
		MediaType:    m.MediaType,
		ArtifactType: m.ArtifactType,
		Size:         int64(len(req.body)),
		Annotations:  m.Annotations,
		PushedAt:     r.now(),
		Content:      req.body,
	}
	if m.Subject != nil {
		img.Subject = m.Subject.Digest
	}
	var refs []metadata.Ref
	for _, b := range m.RequiredBlobs() {
		refs = append(refs, metadata.Ref{Digest: b.Digest, Kind: metadata.RefBlob})
	}
	for _, c := range m.RequiredManifests() {
		refs = append(refs, metadata.Ref{Digest: c.Digest, Kind: metadata.RefManifest})
	}
	wctx := context.WithoutCancel(ctx) // a push that passed its checks completes
	queued := false
	_, replica := originOf(ctx)
	pt, cache := pullThroughOf(ctx)
	_, err = r.updatePush(wctx, plan, img.PushedAt, r.meta.Update, func(tx metadata.Tx, repo metadata.Repository) error {
		largestChild, err := checkReferences(wctx, tx, repo, m)
		if err != nil {
			return err
		}
		img.ImageSize = imageSize(m, largestChild)
		moved, kept, err := checkTags(wctx, tx, repo, d, req.tags)
		if err != nil {
			return err
		}
		img.RepoID = repo.ID
		if req.refuseNoop && len(moved) == 0 {
			if _, err := tx.Image(wctx, repo.ID, d); err == nil {
				return imageAlreadyExists(key, d, req.tags)
			}
		}
		if err := tx.PutImage(wctx, img, refs); err != nil {
			return err
		}
		// The scan is queued with the push, so that an acknowledged push
		// is always scanned.
		if queued, err = r.queueScanOnPush(wctx, tx, repo, d, img.PushedAt); err != nil {
			return err
		}
		for _, tag := range moved {
			if err := tx.PutTag(wctx, repo.ID, tag, d, img.PushedAt); err != nil {
				return err
			}
		}
		if err := imageActions(wctx, tx, key, img.PushedAt, string(d), "PUSH", kept); err != nil {
			return err
		}
		if replica {
			return nil // its event is the replication's (imageActions)
		}
		if cache {
			// Not a call of the caller's: the cache action's event.
			tag := ""
			if len(req.tags) > 0 {
				tag = req.tags[0]
			}
			e, err := pullThroughEvent(key, img.PushedAt, pt, tag, d, nil)
			if err != nil {
				return err
			}
			return tx.AppendEvent(wctx, e)
		}
		params := map[string]any{"repositoryName": key.Name, "imageDigest": string(d), "imageManifestMediaType": m.MediaType}
		if len(req.tags) > 0 {
			params["imageTag"] = strings.Join(req.tags, ",")
		}
		return r.record(wctx, tx, key.Scope, img.PushedAt, ActionPutImage, params, RepositoryARN(key))
	})
	if img.RepoID != 0 {
		r.cache.invalidate(img.RepoID) // after the commit: see cache
	}
	if err != nil {
		r.pushFailed(wctx, plan, key, d, req.tags, err)
		return metadata.Image{}, err
	}
	if queued {
		r.scans.Wake()
	}
	if r.opts.Activity != nil {
		r.opts.Activity.Pushed(key)
	}
	r.replication.Wake() // at once, rather than when the outbox follower reads it
	r.log.Info("manifest pushed", "account", key.Account, "region", key.Region, "repository", key.Name,
		"digest", d, "tags", req.tags, "mediaType", m.MediaType)
	return img, nil
}

// checkTags returns the tags of a push that must be written (those not
// already pointing to d), refusing any that would move an immutable tag,
// and those the image will have (kept). A replication drops a tag that
// would move an immutable one instead, as ECR does: the image arrives
// without it.
func checkTags(ctx context.Context, tx metadata.Tx, repo metadata.Repository, d digest.Digest, tags []string) (moved, kept []string, err error) {
	_, replica := originOf(ctx)
	if _, cache := pullThroughOf(ctx); cache {
		replica = true // the upstream's tag does not move an immutable one either
	}
	for _, tag := range tags {
		cur, err := tx.Tag(ctx, repo.ID, tag)
		switch {
		case errors.Is(err, metadata.ErrNotFound):
			moved = append(moved, tag)
		case err != nil:
			return nil, nil, err
		case cur.Digest == d:
			// Already there: nothing to write.
		case tagImmutable(repo.Settings, tag):
			if replica {
				continue
			}
			return nil, nil, &ExistsError{Kind: KindImageTag, Key: repo.Key, Image: ImageID{Digest: string(cur.Digest), Tag: tag}}
		default:
			moved = append(moved, tag)
		}
		kept = append(kept, tag)
	}
	return moved, kept, nil
}

func imageAlreadyExists(key metadata.RepoKey, d digest.Digest, tags []string) error {
	id := ImageID{Digest: string(d)}
	if len(tags) > 0 {
		id.Tag = tags[0]
	}
	return &ExistsError{Kind: KindImage, Key: key, Image: id}
}

// maxTagsPerPush bounds the tags one manifest push may set.
const maxTagsPerPush = 100

// tagSet validates and de-duplicates the tags of a push.
func tagSet(tag string, extra []string) ([]string, error) {
	if len(extra) > maxTagsPerPush {
		return nil, errorf(CodeTagInvalid, "%d tags in one push; the limit is %d", len(extra), maxTagsPerPush)
	}
	var tags []string
	if tag != "" {
		tags = append(tags, tag)
	}
	for _, t := range extra {
		if err := reference.ValidateTag(t); err != nil {
			return nil, &Error{Code: CodeTagInvalid, Message: err.Error()}
		}
		if !slices.Contains(tags, t) {
			tags = append(tags, t)
		}
	}
	return tags, nil
}

// checkReferences makes sure a manifest's blobs and child manifests are in
// the repository, inside the transaction that stores it, and returns the
// image size of its largest child.
func checkReferences(ctx context.Context, tx metadata.Tx, repo metadata.Repository, m *manifest.Manifest) (largestChild int64, err error) {
	for _, b := range m.RequiredBlobs() {
		got, err := tx.Blob(ctx, repo.ID, b.Digest)
		if _, cache := pullThroughOf(ctx); cache && errors.Is(err, metadata.ErrNotFound) {
			continue // fetched on its first pull: see pullthrough_cache.go
		}
		if errors.Is(err, metadata.ErrNotFound) {
			return 0, errorf(CodeManifestBlobUnknown, "the manifest references blob %s, which is not in repository %q: push the blob first", b.Digest, repo.Key.Name)
		}
		if err != nil {
			return 0, err
		}
		if got.Size != b.Size {
			return 0, errorf(CodeManifestInvalid, "the manifest gives blob %s a size of %d bytes, but it has %d", b.Digest, b.Size, got.Size)
		}
	}
	for _, c := range m.RequiredManifests() {
		got, err := tx.Image(ctx, repo.ID, c.Digest)
		if errors.Is(err, metadata.ErrNotFound) {
			return 0, errorf(CodeManifestChildUnknown, "the index references manifest %s, which is not in repository %q: push it first", c.Digest, repo.Key.Name)
		}
		if err != nil {
			return 0, err
		}
		if got.Size != c.Size {
			return 0, errorf(CodeManifestInvalid, "the index gives manifest %s a size of %d bytes, but it has %d", c.Digest, c.Size, got.Size)
		}
		largestChild = max(largestChild, got.ImageSize)
	}
	return largestChild, nil
}

// imageSize is ECR's imageSizeInBytes: the config and layers of an image,
// the largest child of an index.
func imageSize(m *manifest.Manifest, largestChild int64) int64 {
	if m.IsIndex() {
		return largestChild
	}
	var n int64
	if m.Config != nil {
		n += m.Config.Size
	}
	for _, l := range m.Layers {
		n += l.Size
	}
	return n
}

func manifestError(err error) error {
	var me *manifest.Error
	if !errors.As(err, &me) {
		return err
	}
	if me.Kind == manifest.KindTooLarge {
		return errorf(CodeManifestTooLarge, "%s", me.Message)
	}
	// Docker schema 1 is refused as invalid, as ECR's OCI endpoint does.
	return errorf(CodeManifestInvalid, "%s", me.Message)
}

// Manifest returns a manifest by tag or digest, with its content. A pull
// (GET, as opposed to HEAD) is recorded as the image's last pull.
func (r *Registry) Manifest(ctx context.Context, key metadata.RepoKey, refStr string, pull bool) (metadata.Image, error) {
	ref, err := parseReference(refStr)
	if err != nil {
		return metadata.Image{}, err
	}
	repo, err := r.repositoryFor(ctx, ActionBatchGetImage, key)
	if CodeOf(err) == CodeNameUnknown {
		// Not there yet: a pull-through cache rule may bring it.
		img, cached, cerr := r.pullThroughManifest(ctx, key, nil, ref)
		if !cached && cerr == nil {
			return metadata.Image{}, err
		}
		if cerr != nil {
			return metadata.Image{}, cerr
		}
		return r.pulled(ctx, key, img, pull)
	}
	if err != nil {
		return metadata.Image{}, err
	}
	img, ok, gen := r.cache.lookup(repo.ID, ref.Tag, ref.Digest)
	if !ok {
		if ref.Digest != "" {
			img, err = r.meta.Image(ctx, repo.ID, ref.Digest)
		} else {
			img, err = r.meta.Tag(ctx, repo.ID, ref.Tag)
		}
		if errors.Is(err, metadata.ErrNotFound) {
			img, cached, cerr := r.pullThroughManifest(ctx, key, &repo, ref)
			if cerr != nil {
				return metadata.Image{}, cerr
			}
			if cached {
				return r.pulled(ctx, key, img, pull)
			}
			return img, errorf(CodeManifestUnknown, "manifest %s is not in repository %q", ref, key.Name)
		}
		if err != nil {
			return img, err
		}
		r.cache.store(key, repo.ID, gen, ref.Tag, img)
	}
	if ref.Tag != "" {
		img = r.refreshTag(ctx, key, repo, ref.Tag, img)
	}
	if pull {
		now := r.now()
		if err := checkActive(key, img, now); err != nil {
			return metadata.Image{}, err
		}
		r.recordPull(ctx, repo, img.Digest, now)
	}
	return img, nil
}

// pulled records a pull of an image the pull-through cache brought.
func (r *Registry) pulled(ctx context.Context, key metadata.RepoKey, img metadata.Image, pull bool) (metadata.Image, error) {
	if !pull {
		return img, nil
	}
	repo, err := r.meta.Repository(ctx, key)
	if err != nil {
		return metadata.Image{}, err
	}
	r.recordPull(ctx, repo, img.Digest, r.now())
	return img, nil
}

// DeleteManifest deletes a tag (by tag) or an image with all its tags (by
// digest). As in ECR, an image that an index of the repository lists cannot
// be deleted before the index.
func (r *Registry) DeleteManifest(ctx context.Context, key metadata.RepoKey, refStr string) error {
	ref, err := parseReference(refStr)
	if err != nil {
		return err
	}
	repo, err := r.repositoryFor(ctx, ActionBatchDeleteImage, key)
	if err != nil {
		return err
	}
	defer r.cache.invalidate(repo.ID) // after the commit: see cache
	now := r.now()
	err = r.meta.Update(ctx, func(tx metadata.Tx) error {
		id := ImageID{Digest: string(ref.Digest), Tag: ref.Tag}
		var (
			d    = ref.Digest
			tags []string
		)
		if ref.Tag != "" {
			img, err := tx.Tag(ctx, repo.ID, ref.Tag)
			if err != nil {
				return err
			}
			if err := tx.DeleteTag(ctx, repo.ID, ref.Tag); err != nil {
				return err
			}
			d, tags = img.Digest, []string{ref.Tag}
		} else {
			parents, err := tx.Parents(ctx, repo.ID, ref.Digest)
			if err != nil {
				return err
			}
			if len(parents) > 0 {
				return errorf(CodeManifestReferenced, "manifest %s is listed by index %s in repository %q: delete the index first",
					ref.Digest, parents[0], key.Name)
			}
			if tags, err = tx.ImageTags(ctx, repo.ID, ref.Digest); err != nil {
				return err
			}
			if err := tx.DeleteImage(ctx, repo.ID, ref.Digest); err != nil {
				return err
			}
		}
		if err := imageActions(ctx, tx, key, now, string(d), "DELETE", tags); err != nil {
			return err
		}
		params := map[string]any{"repositoryName": key.Name, "imageIds": []map[string]string{wireImageID(id)}}
		return r.record(ctx, tx, key.Scope, now, ActionBatchDeleteImage, params, RepositoryARN(key))
	})
	if errors.Is(err, metadata.ErrNotFound) {
		return errorf(CodeManifestUnknown, "manifest %s is not in repository %q", ref, key.Name)
	}
	if err == nil {
		r.log.Info("manifest deleted", "account", key.Account, "region", key.Region, "repository", key.Name, "reference", ref.String())
	}
	return err
}

// Referrers lists the manifests of a repository whose subject is dgst,
// optionally only those of one artifact type. An unknown repository has
// no referrers.
func (r *Registry) Referrers(ctx context.Context, key metadata.RepoKey, dgst, artifactType string) ([]metadata.Image, error) {
	d, err := parseDigest(dgst)
	if err != nil {
		return nil, err
	}
	repo, err := r.repositoryFor(ctx, ActionBatchGetImage, key)
	if CodeOf(err) == CodeNameUnknown {
		return nil, nil
	}
	if err != nil {
		return nil, err
	}
	imgs, err := r.meta.Referrers(ctx, repo.ID, d)
	if err != nil || artifactType == "" {
		return imgs, err
	}
	out := imgs[:0]
	for _, img := range imgs {
		if img.ArtifactType == artifactType {
			out = append(out, img)
		}
	}
	return out, nil
}

// pushFailed records ECR's "ECR Image Action" PUSH event with result
// FAILURE for a manifest push into an existing repository that its rules
// refused (an immutable tag, content the repository lacks), so that rules
// can watch refused pushes. It is best effort: the push has failed
// either way.
func (r *Registry) pushFailed(ctx context.Context, plan *pushPlan, key metadata.RepoKey, d digest.Digest, tags []string, cause error) {
	switch CodeOf(cause) {
	case CodeTagImmutable, CodeManifestBlobUnknown, CodeManifestChildUnknown:
	default:
		return
	}
	_, cache := pullThroughOf(ctx)
	if _, replica := originOf(ctx); replica || cache || !plan.exists {
		return
	}
	if len(tags) == 0 {
		tags = []string{""}
	}
	now := r.now()
	err := r.meta.Update(ctx, func(tx metadata.Tx) error {
		for _, tag := range tags {
			e, err := outbox.ImageActionFailed(key.Scope, now, RepositoryARN(key), key.Name, string(d), "PUSH", tag)
			if err != nil {
				return err
			}
			if err := tx.AppendEvent(ctx, e); err != nil {
				return err
			}
		}
		return nil
	})
	if err != nil {
		r.log.Warn("recording a refused push's event", "repository", key.Name, "digest", d, "err", err)
	}
}
