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
// only its rules on parts and its errors differ.

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

// LayerFailure is a layer BatchCheckLayerAvailability could not check.
type LayerFailure struct {
	Digest string
	Code   string // InvalidLayerDigest or MissingLayerDigest
	Reason string
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
			failures = append(failures, LayerFailure{Digest: s, Code: "InvalidLayerDigest", Reason: "Invalid layer digest"})
			continue
		}
		b, err := r.checkBlob(ctx, repo, d)
		switch {
		case errors.Is(err, metadata.ErrNotFound):
			failures = append(failures, LayerFailure{Digest: s, Code: "MissingLayerDigest", Reason: "Could not find layer"})
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
		return 0, errorf(CodeInvalidLayerPart, "The layer part covers bytes %d to %d but carries %d bytes; the last valid byte received is %d", first, last, len(part), u.Size-1)
	case first != u.Size:
		return 0, errorf(CodeInvalidLayerPart, "The layer part starts at byte %d, but the upload holds %d bytes; the last valid byte received is %d", first, u.Size, u.Size-1)
	case u.Size > 0 && u.LastPart < MinLayerPartSize:
		return 0, errorf(CodeLayerPartTooSmall, "All layer parts except the last part should be at least 5MB; the previous part had %d bytes", u.LastPart)
	}
	w, err := r.resumeUpload(ctx, u)
	if err != nil {
		return 0, err
	}
	defer w.Close()
	u, err = r.writeChunk(ctx, u, w, int64(len(part)), bytes.NewReader(part), true)
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
		return metadata.Blob{}, errorf(CodeEmptyUpload, "The upload %s contains no layer parts: upload at least one part first", id)
	}
	if b, err := r.StatBlob(ctx, key, dgst); err == nil {
		r.cancel(ctx, id)
		return b, errorf(CodeLayerAlreadyExists, "The image layer %s already exists in the repository with name '%s' in the registry with id '%s'", dgst, key.Name, key.Account)
	}
	b, err := r.FinishUpload(ctx, key, id, dgst, -1, 0, nil)
	if CodeOf(err) == CodeDigestInvalid {
		err = errorf(CodeInvalidLayer, "The layer digest calculation performed by Amazon ECR upon receipt of the image layer does not match the digest specified: %s", err)
	}
	return b, err
}

// GetDownloadURLForLayer checks that the repository holds a layer, for
// the ECR API's download URL.
func (r *Registry) GetDownloadURLForLayer(ctx context.Context, key metadata.RepoKey, dgst string) (metadata.Blob, error) {
	b, _, err := r.statBlob(ctx, ActionGetDownloadURLForLayer, key, dgst)
	if CodeOf(err) == CodeBlobUnknown {
		err = errorf(CodeLayersNotFound, "The specified layer %s could not be found in the repository with name '%s' in the registry with id '%s'", dgst, key.Name, key.Account)
	}
	return b, err
}
