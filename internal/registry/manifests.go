package registry

import (
	"context"
	"errors"
	"slices"
	"strings"

	"github.com/opencontainers/go-digest"

	"github.com/ecrd/ecrd/internal/manifest"
	"github.com/ecrd/ecrd/internal/metadata"
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

// PutManifest stores a manifest pushed by tag or by digest, and points the
// tag (if pushed by tag) and the extra tags at it. It checks that the
// manifest parses, that its declared media type agrees with its body, that
// its digest matches when pushed by digest, and that everything it
// references is already in the repository.
func (r *Registry) PutManifest(ctx context.Context, key metadata.RepoKey, refStr string, extraTags []string, contentType string, body []byte) (metadata.Image, error) {
	if err := validateRepo(key); err != nil {
		return metadata.Image{}, err
	}
	ref, err := parseReference(refStr)
	if err != nil {
		return metadata.Image{}, err
	}
	tags, err := tagSet(ref.Tag, extraTags)
	if err != nil {
		return metadata.Image{}, err
	}
	m, err := manifest.Parse(contentType, body)
	if err != nil {
		return metadata.Image{}, manifestError(err)
	}
	alg := digest.Canonical
	if ref.Digest != "" {
		alg = ref.Digest.Algorithm()
	}
	d := alg.FromBytes(body)
	if ref.Digest != "" && ref.Digest != d {
		return metadata.Image{}, errorf(CodeDigestInvalid, "the manifest's digest is %s, not %s as the request says", d, ref.Digest)
	}
	img := metadata.Image{
		Digest:       d,
		MediaType:    m.MediaType,
		ArtifactType: m.ArtifactType,
		Size:         int64(len(body)),
		Annotations:  m.Annotations,
		PushedAt:     r.now(),
		Content:      body,
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
	err = r.meta.Update(wctx, func(tx metadata.Tx) error {
		repo, err := repositoryForPush(wctx, tx, key, img.PushedAt)
		if err != nil {
			return err
		}
		if err := checkReferences(wctx, tx, repo, m); err != nil {
			return err
		}
		img.RepoID = repo.ID
		if err := tx.PutImage(wctx, img, refs); err != nil {
			return err
		}
		for _, tag := range tags {
			if err := tx.PutTag(wctx, repo.ID, tag, d, img.PushedAt); err != nil {
				return err
			}
		}
		return nil
	})
	if img.RepoID != 0 {
		r.cache.invalidate(img.RepoID) // after the commit: see cache
	}
	if err != nil {
		return metadata.Image{}, err
	}
	r.log.Info("manifest pushed", "account", key.Account, "region", key.Region, "repository", key.Name,
		"digest", d, "tags", tags, "mediaType", m.MediaType)
	return img, nil
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
// the repository, inside the transaction that stores it.
func checkReferences(ctx context.Context, tx metadata.Tx, repo metadata.Repository, m *manifest.Manifest) error {
	for _, b := range m.RequiredBlobs() {
		got, err := tx.Blob(ctx, repo.ID, b.Digest)
		if errors.Is(err, metadata.ErrNotFound) {
			return errorf(CodeManifestBlobUnknown, "the manifest references blob %s, which is not in repository %q: push the blob first", b.Digest, repo.Key.Name)
		}
		if err != nil {
			return err
		}
		if got.Size != b.Size {
			return errorf(CodeManifestInvalid, "the manifest gives blob %s a size of %d bytes, but it has %d", b.Digest, b.Size, got.Size)
		}
	}
	for _, c := range m.RequiredManifests() {
		got, err := tx.Image(ctx, repo.ID, c.Digest)
		if errors.Is(err, metadata.ErrNotFound) {
			return errorf(CodeManifestChildUnknown, "the index references manifest %s, which is not in repository %q: push it first", c.Digest, repo.Key.Name)
		}
		if err != nil {
			return err
		}
		if got.Size != c.Size {
			return errorf(CodeManifestInvalid, "the index gives manifest %s a size of %d bytes, but it has %d", c.Digest, c.Size, got.Size)
		}
	}
	return nil
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
	repo, err := r.repository(ctx, key)
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
			return img, errorf(CodeManifestUnknown, "manifest %s is not in repository %q", ref, key.Name)
		}
		if err != nil {
			return img, err
		}
		r.cache.store(repo.ID, gen, ref.Tag, img)
	}
	if pull {
		r.pulls.record(repo.ID, img.Digest, r.now())
	}
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
	repo, err := r.repository(ctx, key)
	if err != nil {
		return err
	}
	defer r.cache.invalidate(repo.ID) // after the commit: see cache
	err = r.meta.Update(ctx, func(tx metadata.Tx) error {
		if ref.Tag != "" {
			return tx.DeleteTag(ctx, repo.ID, ref.Tag)
		}
		parents, err := tx.Parents(ctx, repo.ID, ref.Digest)
		if err != nil {
			return err
		}
		if len(parents) > 0 {
			return errorf(CodeManifestReferenced, "manifest %s is listed by index %s in repository %q: delete the index first",
				ref.Digest, parents[0], key.Name)
		}
		return tx.DeleteImage(ctx, repo.ID, ref.Digest)
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
	repo, err := r.repository(ctx, key)
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
