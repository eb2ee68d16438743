package registry

import (
	"bytes"
	"context"
	"errors"

	"github.com/ecrd/ecrd/internal/metadata"
	"github.com/ecrd/ecrd/internal/reference"
)

// The ECR API's layer upload (InitiateLayerUpload, UploadLayerPart,
// CompleteLayerUpload) runs on the same upload sessions as the OCI API's;
// only its rules on parts and its errors (LayerError) differ.

// Layer part sizes, as ECR's.
const (
	MinLayerPartSize = 5 << 20  // every part but the last
	LayerPartSize    = 10 << 20 // what InitiateLayerUpload suggests
)

// LayerAvailability is one layer of BatchCheckLayerAvailability.
type LayerAvailability struct {
	Digest    string
	Available bool
	Size      int64
}

// LayerFailure is a layer BatchCheckLayerAvailability could not check:
// its digest is malformed, or the repository does not hold it.
type LayerFailure struct {
	Digest    string
	Malformed bool
}

// BatchCheckLayerAvailability says which layers the repository holds.
func (r *Registry) BatchCheckLayerAvailability(ctx context.Context, key metadata.RepoKey, digests []string) ([]LayerAvailability, []LayerFailure, error) {
	repo, err := r.repositoryFor(ctx, ActionBatchCheckLayerAvailability, key)
	if err != nil {
		return nil, nil, err
	}
	var (
		layers   []LayerAvailability
		failures []LayerFailure
	)
	for _, s := range digests {
		d, err := reference.ParseDigest(s)
		if err != nil {
			failures = append(failures, LayerFailure{Digest: s, Malformed: true})
			continue
		}
		b, err := r.checkBlob(ctx, repo, d)
		switch {
		case errors.Is(err, metadata.ErrNotFound):
			failures = append(failures, LayerFailure{Digest: s})
		case err != nil:
			return nil, nil, err
		default:
			layers = append(layers, LayerAvailability{Digest: s, Available: true, Size: b.Size})
		}
	}
	return layers, failures, nil
}

// InitiateLayerUpload opens an upload for the ECR layer API.
func (r *Registry) InitiateLayerUpload(ctx context.Context, key metadata.RepoKey) (Upload, error) {
	return r.StartUpload(ctx, key)
}

// UploadLayerPart adds a part to an upload. first and last are the part's
// byte range; every part but the last must be at least MinLayerPartSize.
func (r *Registry) UploadLayerPart(ctx context.Context, key metadata.RepoKey, id string, first, last int64, part []byte) (int64, error) {
	if err := r.uploads.acquire(id); err != nil {
		return 0, err
	}
	defer r.uploads.release(id)
	u, err := r.session(ctx, ActionUploadLayerPart, key, id)
	if err != nil {
		return 0, err
	}
	switch {
	case last < first || last-first+1 != int64(len(part)):
		return 0, &LayerError{Problem: LayerPartLength, Upload: id, First: first, Last: last, Length: int64(len(part)), Held: u.Size}
	case first != u.Size:
		return 0, &LayerError{Problem: LayerPartGap, Upload: id, First: first, Last: last, Length: int64(len(part)), Held: u.Size}
	case u.Size > 0 && u.LastPart < MinLayerPartSize:
		return 0, &LayerError{Problem: LayerPartTooSmall, Upload: id, Held: u.Size, Previous: u.LastPart}
	}
	w, err := r.resumeUpload(ctx, u)
	if err != nil {
		return 0, err
	}
	defer w.Close()
	u, _, err = r.writeChunk(ctx, u, w, int64(len(part)), bytes.NewReader(part), true)
	return u.Size - 1, err
}

// CompleteLayerUpload finishes an upload as the layer dgst, with ECR's
// errors: an empty upload, a digest that does not match (InvalidLayer),
// or a layer the repository already holds (LayerAlreadyExists).
func (r *Registry) CompleteLayerUpload(ctx context.Context, key metadata.RepoKey, id, dgst string) (metadata.Blob, error) {
	u, err := r.UploadStatus(ctx, key, id)
	if err != nil {
		return metadata.Blob{}, err
	}
	if u.Size == 0 {
		return metadata.Blob{}, &LayerError{Problem: LayerEmpty, Upload: id, Digest: dgst}
	}
	if b, err := r.StatBlob(ctx, key, dgst); err == nil {
		r.cancel(ctx, id)
		return b, &ExistsError{Kind: KindLayer, Key: key, ID: dgst}
	}
	b, err := r.FinishUpload(ctx, key, id, dgst, -1, 0, nil)
	if CodeOf(err) == CodeDigestInvalid {
		err = &LayerError{Problem: LayerDigestMismatch, Upload: id, Digest: dgst, Detail: err.Error()}
	}
	return b, err
}

// GetDownloadURLForLayer checks that the repository holds a layer, for
// the ECR API's download URL.
func (r *Registry) GetDownloadURLForLayer(ctx context.Context, key metadata.RepoKey, dgst string) (metadata.Blob, error) {
	b, repo, err := r.statBlob(ctx, ActionGetDownloadURLForLayer, key, dgst)
	if CodeOf(err) == CodeBlobUnknown && repo.ID != 0 {
		// A pull-through cache's repository brings the layer first.
		if cb, _, cached, cerr := r.pullThroughBlob(ctx, key, repo, b.Digest, false); cached || cerr != nil {
			b, err = cb, cerr
		}
	}
	if CodeOf(err) == CodeBlobUnknown {
		err = &NotFoundError{Kind: KindLayer, Key: key, ID: dgst}
	}
	return b, err
}
