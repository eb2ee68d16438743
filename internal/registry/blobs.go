package registry

import (
	"context"
	"errors"
	"io"

	"github.com/opencontainers/go-digest"

	"github.com/ecrd/ecrd/internal/awsid"
	"github.com/ecrd/ecrd/internal/blobstore"
	"github.com/ecrd/ecrd/internal/metadata"
	"github.com/ecrd/ecrd/internal/reference"
	"github.com/ecrd/ecrd/internal/registry/blobspace"
	"github.com/ecrd/ecrd/internal/registry/gc"
)

// parseDigest validates a digest from a request.
func parseDigest(s string) (digest.Digest, error) {
	d, err := reference.ParseDigest(s)
	if err != nil {
		return "", &Error{Code: CodeDigestInvalid, Message: err.Error()}
	}
	return d, nil
}

// StatBlob returns a blob linked into the repository, for a client that
// checks it before a push skips uploading it (OCI HEAD): see checkBlob.
func (r *Registry) StatBlob(ctx context.Context, key metadata.RepoKey, dgst string) (metadata.Blob, error) {
	d, err := parseDigest(dgst)
	if err != nil {
		return metadata.Blob{}, err
	}
	repo, err := r.repositoryFor(ctx, ActionBatchCheckLayerAvailability, key)
	if err != nil {
		return metadata.Blob{}, err
	}
	b, err := r.checkBlob(ctx, repo, d)
	if errors.Is(err, metadata.ErrNotFound) {
		if b, _, cached, err := r.pullThroughBlob(ctx, key, repo, d, false); cached {
			return b, err
		} else if err != nil {
			return b, err
		}
		return b, blobUnknown(key, d)
	}
	return b, err
}

// checkBlob returns the repository's link to blob d for a push that will
// rely on it without uploading the blob, kept alive for the push (see
// gc.Collector.CheckLink).
func (r *Registry) checkBlob(ctx context.Context, repo metadata.Repository, d digest.Digest) (metadata.Blob, error) {
	return r.gc.CheckLink(ctx, repo.ID, d)
}

func blobUnknown(key metadata.RepoKey, d digest.Digest) error {
	return errorf(CodeBlobUnknown, "blob %s is not in repository %q: push it, or mount it from a repository that has it", d, key.Name)
}

func (r *Registry) statBlob(ctx context.Context, action Action, key metadata.RepoKey, dgst string) (metadata.Blob, metadata.Repository, error) {
	d, err := parseDigest(dgst)
	if err != nil {
		return metadata.Blob{}, metadata.Repository{}, err
	}
	repo, err := r.repositoryFor(ctx, action, key)
	if err != nil {
		return metadata.Blob{}, repo, err
	}
	b, err := r.meta.Blob(ctx, repo.ID, d)
	if errors.Is(err, metadata.ErrNotFound) {
		return metadata.Blob{Digest: d}, repo, blobUnknown(key, d)
	}
	return b, repo, err
}

// OpenBlob returns a blob linked into the repository, open for reading.
// The caller closes the reader. A KMS repository's blob is decrypted as
// it is read; a key that cannot be used fails with CodeKMS before
// anything is read.
func (r *Registry) OpenBlob(ctx context.Context, key metadata.RepoKey, dgst string) (metadata.Blob, io.ReadSeekCloser, error) {
	b, repo, err := r.statBlob(ctx, ActionGetDownloadURLForLayer, key, dgst)
	if CodeOf(err) == CodeBlobUnknown && repo.ID != 0 {
		b, rc, cached, cerr := r.pullThroughBlob(ctx, key, repo, b.Digest, true)
		if cached || cerr != nil {
			return b, rc, cerr
		}
	}
	if err != nil {
		return b, nil, err
	}
	sp, err := r.spaceOf(ctx, repo.Settings)
	if err != nil {
		return b, nil, err
	}
	rc, err := r.openObject(ctx, sp, b)
	if errors.Is(err, blobstore.ErrNotFound) {
		// Metadata says it is here, storage says it is not: report it loudly,
		// answer as for any missing blob.
		r.log.Error("blob linked in metadata is missing from blob storage", "repository", key.Name, "digest", b.Digest, "kmsKey", sp.Key())
		return b, nil, errorf(CodeBlobUnknown, "blob %s of repository %q is missing from storage", b.Digest, key.Name)
	}
	return b, rc, err
}

// BlobURL returns the blob, after the same authorization as OpenBlob, and
// a URL from which the caller may read it directly from the blob store:
// "" unless downloads are redirected (Options.BlobRedirect), the store
// presigns, and the repository stores its blobs unencrypted. With "" the
// caller opens the blob (OpenBlob).
func (r *Registry) BlobURL(ctx context.Context, key metadata.RepoKey, dgst string) (metadata.Blob, string, error) {
	if r.opts.BlobRedirect <= 0 {
		return metadata.Blob{}, "", nil
	}
	b, repo, err := r.statBlob(ctx, ActionGetDownloadURLForLayer, key, dgst)
	if CodeOf(err) == CodeBlobUnknown && repo.ID != 0 {
		if _, cached, cerr := r.ruleFor(ctx, key, true); cached || cerr != nil {
			return b, "", cerr // OpenBlob brings it, streaming
		}
	}
	if err != nil {
		return b, "", err
	}
	sp, err := r.spaceOf(ctx, repo.Settings)
	if err != nil {
		return b, "", err
	}
	u, err := r.spaces.PresignGet(ctx, sp, b.Digest, r.opts.BlobRedirect)
	return b, u, err
}

// DeleteBlob unlinks a blob from a repository. The bytes stay while other
// repositories link them; unreferenced bytes are garbage collected.
func (r *Registry) DeleteBlob(ctx context.Context, key metadata.RepoKey, dgst string) error {
	d, err := parseDigest(dgst)
	if err != nil {
		return err
	}
	repo, err := r.repositoryFor(ctx, ActionBatchDeleteImage, key)
	if err != nil {
		return err
	}
	err = r.meta.Update(ctx, func(tx metadata.Tx) error {
		// An image's blob goes with the image: deleting it alone would
		// leave the image unpullable once garbage collection frees it.
		users, err := tx.BlobUsers(ctx, repo.ID, d, 1)
		if err != nil {
			return err
		}
		if len(users) > 0 {
			return errorf(CodeManifestReferenced, "blob %s is used by image %s of repository %q: delete the image, and its blobs go with it", d, users[0], key.Name)
		}
		return tx.UnlinkBlob(ctx, repo.ID, d)
	})
	if errors.Is(err, metadata.ErrNotFound) {
		return errorf(CodeBlobUnknown, "blob %s is not in repository %q", d, key.Name)
	}
	if err == nil {
		r.log.Info("blob deleted", "account", key.Account, "region", key.Region, "repository", key.Name, "digest", d)
	}
	return err
}

// MountBlob links a blob that another repository of the same registry
// holds into repository key, without moving bytes. from names the source
// repository; nil means any repository of the registry that has it. It
// returns ok=false, and no error, when there is nothing to mount: the
// client then uploads the blob.
func (r *Registry) MountBlob(ctx context.Context, key metadata.RepoKey, from *metadata.RepoKey, dgst string) (b metadata.Blob, ok bool, err error) {
	plan, err := r.planPush(ctx, ActionInitiateLayerUpload, key)
	if err != nil {
		return b, false, err
	}
	d, err := parseDigest(dgst)
	if err != nil {
		return b, false, err
	}
	if v, err := r.accountSetting(ctx, key.Scope, "BLOB_MOUNTING"); err != nil || v == "DISABLED" {
		return b, false, err
	}
	var sources []metadata.Repository
	if from != nil {
		// A source the caller may not read, or that is not there, leaves
		// nothing to mount: the client uploads instead.
		src, err := r.repositoryFor(ctx, ActionGetDownloadURLForLayer, *from)
		if err != nil {
			if CodeOf(err) == CodeInternal {
				return b, false, err
			}
			return b, false, nil
		}
		sources = append(sources, src)
	} else if sources, err = r.meta.BlobRepositories(ctx, key.Scope, d, 1); err != nil {
		return b, false, err
	}
	if len(sources) == 0 {
		return b, false, nil
	}
	src := sources[0]
	b, err = r.meta.Blob(ctx, src.ID, d)
	if errors.Is(err, metadata.ErrNotFound) {
		return b, false, nil
	}
	if err != nil {
		return b, false, err
	}
	to, err := r.blobSpace(ctx, plan)
	if err != nil {
		return metadata.Blob{}, false, err
	}
	fromSpace, err := r.spaceOf(ctx, src.Settings)
	if err != nil {
		return metadata.Blob{}, false, nil // the source cannot be read: the client uploads
	}
	in := ingestion{plan: plan, blob: b}
	if fromSpace.Key() != to.Key() {
		// Across spaces the blob is copied, decrypted and encrypted as
		// the spaces require.
		in.store = func(ctx context.Context, sp blobspace.Space) error { return r.spaces.Copy(ctx, b, fromSpace, sp) }
	} else if there, err := to.Has(ctx, d); err != nil || !there {
		// Within one space nothing is written: the bytes must be there
		// (the link transaction then rules out garbage collection).
		if err == nil {
			r.log.Error("blob linked in metadata is missing from blob storage", "repository", src.Key.Name, "digest", d, "kmsKey", to.Key())
		}
		return metadata.Blob{}, false, err
	}
	err = r.ingest(ctx, in)
	switch {
	case err == nil:
	case errors.Is(err, gc.ErrBlobGone):
		return metadata.Blob{}, false, nil // being garbage collected: the client uploads it
	case !isStoreFailure(err):
		return metadata.Blob{}, false, err
	case ctx.Err() != nil:
		return metadata.Blob{}, false, ctx.Err()
	case CodeOf(err) == CodeKMS && to.Encrypted() && r.checkKey(ctx, to.Key(), blobspace.OpWrite) != nil:
		return metadata.Blob{}, false, err // the target's key: an upload would fail the same way
	default:
		r.log.Info("mount needs a copy that failed; the client uploads the blob", "repository", key.Name, "from", src.Key.Name, "digest", d, "err", err)
		return metadata.Blob{}, false, nil
	}
	r.log.Info("blob mounted", "account", key.Account, "region", key.Region, "repository", key.Name, "from", src.Key.Name, "digest", d)
	return b, true, nil
}

// PutBlob stores a whole blob sent in one request (a monolithic upload)
// and links it into the repository. The body is streamed to storage while
// it is hashed; it is never held in memory.
func (r *Registry) PutBlob(ctx context.Context, key metadata.RepoKey, dgst string, body io.Reader, size int64) (metadata.Blob, error) {
	plan, err := r.planPush(ctx, ActionInitiateLayerUpload, key)
	if err != nil {
		return metadata.Blob{}, err
	}
	var exists *metadata.Repository
	if plan.exists {
		exists = &plan.repo
	}
	if err := r.authorizeRepo(ctx, ActionCompleteLayerUpload, key, exists); err != nil {
		return metadata.Blob{}, err
	}
	d, err := parseDigest(dgst)
	if err != nil {
		return metadata.Blob{}, err
	}
	if size > r.opts.MaxBlobSize {
		return metadata.Blob{}, r.tooLarge(size)
	}
	if err := r.checkSpace(ctx); err != nil {
		return metadata.Blob{}, err
	}
	if _, err := r.blobSpace(ctx, plan); err != nil {
		return metadata.Blob{}, err
	}
	id := awsid.NewUUID()
	w, err := r.blobs.CreateUpload(ctx, id)
	if err != nil {
		return metadata.Blob{}, r.spaceError(ctx, err)
	}
	h := d.Algorithm().Hash()
	_, err = hashCopy(r.guardSpace(ctx, w), r.limitBody(body, 0), h)
	err = bodyError(err)
	n := w.Size()
	if err == nil && n > r.opts.MaxBlobSize {
		err = r.tooLarge(n)
	}
	if err == nil {
		err = checkLength(n, size)
	}
	if err == nil {
		err = checkDigest(d, digest.NewDigest(d.Algorithm(), h))
	}
	if err != nil {
		w.Close()
		r.discardUpload(id)
		return metadata.Blob{}, r.spaceError(ctx, err)
	}
	b := metadata.Blob{Digest: d, Size: n}
	if err := r.ingestWhole(ctx, plan, w, id, b); err != nil {
		return metadata.Blob{}, r.spaceError(ctx, err)
	}
	r.log.Info("blob pushed", "account", key.Account, "region", key.Region, "repository", key.Name, "digest", d, "size", n)
	return b, nil
}

// ingestWhole brings a blob written in one go into an upload (a
// monolithic push, a blob fetched from an upstream) through ingest: the
// upload becomes blob b, or for an encrypted space is encrypted into the
// key's namespace, and it is removed either way (gone once committed; the
// plaintext of an encrypted one; what a failure left).
func (r *Registry) ingestWhole(ctx context.Context, plan *pushPlan, w blobstore.UploadWriter, id string, b metadata.Blob) error {
	stored := false
	err := r.ingest(ctx, ingestion{plan: plan, blob: b, store: func(ctx context.Context, sp blobspace.Space) error {
		stored = true
		if !sp.Encrypted() {
			return w.Commit(ctx, b.Digest)
		}
		if err := w.Close(); err != nil {
			return err
		}
		return r.spaces.EncryptUpload(ctx, sp, id, b)
	}})
	if !stored {
		w.Close()
	}
	r.discardUpload(id)
	if errors.Is(err, gc.ErrBlobGone) {
		err = blobCollected(b.Digest)
	}
	return err
}

// limitBody reads at most one byte more than a blob that already holds
// size bytes may still take, so that an oversized blob is detected without
// storing more than the limit.
func (r *Registry) limitBody(body io.Reader, size int64) io.Reader {
	return io.LimitReader(clientBody{body}, r.opts.MaxBlobSize-size+1)
}

func (r *Registry) tooLarge(size int64) error {
	return errorf(CodeSizeInvalid, "the blob has %d bytes or more; the limit is %d bytes", size, r.opts.MaxBlobSize)
}

// checkLength compares the bytes received with a declared length (-1: none).
func checkLength(got, want int64) error {
	if want >= 0 && got != want {
		return errorf(CodeSizeInvalid, "received %d bytes but Content-Length declared %d", got, want)
	}
	return nil
}

func checkDigest(want, got digest.Digest) error {
	if want != got {
		return errorf(CodeDigestInvalid, "the content's digest is %s, not %s: the blob was corrupted in transit or the digest is wrong", got, want)
	}
	return nil
}

// discardUpload removes an upload's bytes after a failure. It runs on a
// fresh context: the request's may already be cancelled.
func (r *Registry) discardUpload(id string) {
	if err := r.blobs.DeleteUpload(context.Background(), id); err != nil {
		r.log.Warn("removing a failed upload", "upload", id, "err", err)
	}
}
