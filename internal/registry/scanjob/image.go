package scanjob

import (
	"context"
	"fmt"
	"io"

	v1 "github.com/google/go-containerregistry/pkg/v1"
	"github.com/google/go-containerregistry/pkg/v1/partial"
	"github.com/google/go-containerregistry/pkg/v1/types"
	"github.com/opencontainers/go-digest"

	"github.com/ecrd/ecrd/internal/manifest"
	"github.com/ecrd/ecrd/internal/metadata"
)

// Image config media types: a manifest with another config is an artifact
// (a Helm chart, a signature, an SBOM), which scanning does not read.
var imageConfigTypes = map[string]bool{
	"application/vnd.oci.image.config.v1+json":       true,
	"application/vnd.docker.container.image.v1+json": true,
}

// scanTarget is an image manifest a scan reads, streamed from the blob
// store (decrypted for encrypted repositories).
type scanTarget struct {
	digest digest.Digest
	image  v1.Image
}

// scanTargets returns the images a scan of img reads: img itself, or for
// an index its children for real platforms. It returns none for an
// artifact.
func (w *Worker) scanTargets(ctx context.Context, repo metadata.Repository, img metadata.Image) ([]scanTarget, error) {
	open, err := w.cfg.Blobs.Opener(ctx, repo)
	if err != nil {
		return nil, err
	}
	m, err := manifest.Parse(img.MediaType, img.Content)
	if err != nil {
		return nil, fmt.Errorf("manifest %s: %w", img.Digest, err)
	}
	if !m.IsIndex() {
		if m.Config == nil || !imageConfigTypes[m.Config.MediaType] {
			return nil, nil
		}
		return []scanTarget{{img.Digest, storedImage(ctx, open, img, m)}}, nil
	}
	var out []scanTarget
	for _, c := range m.Manifests {
		// BuildKit's attestations are listed as platform unknown/unknown.
		if c.Platform != nil && (c.Platform.OS == "unknown" || c.Platform.Architecture == "unknown") {
			continue
		}
		child, err := w.cfg.Store.Image(ctx, repo.ID, c.Digest)
		if err != nil {
			return nil, fmt.Errorf("child %s of index %s: %w", c.Digest, img.Digest, err)
		}
		cm, err := manifest.Parse(child.MediaType, child.Content)
		if err != nil {
			return nil, fmt.Errorf("manifest %s: %w", child.Digest, err)
		}
		if cm.IsIndex() || cm.Config == nil || !imageConfigTypes[cm.Config.MediaType] {
			continue
		}
		out = append(out, scanTarget{child.Digest, storedImage(ctx, open, child, cm)})
	}
	return out, nil
}

// storedImage is an image manifest of the registry as a go-containerregistry
// image, whose layers are read from the blob store as they are consumed.
func storedImage(ctx context.Context, open OpenFunc, img metadata.Image, m *manifest.Manifest) v1.Image {
	core := &storedCore{ctx: ctx, openBlob: open, img: img, layers: map[v1.Hash]manifest.Descriptor{}}
	for _, l := range m.Layers {
		if h, err := v1.NewHash(string(l.Digest)); err == nil {
			core.layers[h] = l
		}
	}
	core.config = *m.Config
	ci, err := partial.CompressedToImage(core)
	if err != nil {
		// CompressedToImage only fails on a nil core.
		panic(err)
	}
	return ci
}

type storedCore struct {
	ctx      context.Context
	openBlob OpenFunc
	img      metadata.Image
	config   manifest.Descriptor
	layers   map[v1.Hash]manifest.Descriptor
}

func (c *storedCore) open(d digest.Digest, size int64) (io.ReadCloser, error) {
	return c.openBlob(c.ctx, metadata.Blob{Digest: d, Size: size})
}

func (c *storedCore) RawManifest() ([]byte, error) { return c.img.Content, nil }

func (c *storedCore) MediaType() (types.MediaType, error) {
	return types.MediaType(c.img.MediaType), nil
}

func (c *storedCore) RawConfigFile() ([]byte, error) {
	if c.config.Size > 8<<20 {
		return nil, fmt.Errorf("config %s is %d bytes, more than a scan reads", c.config.Digest, c.config.Size)
	}
	if c.config.Data != nil {
		return c.config.Data, nil
	}
	rc, err := c.open(c.config.Digest, c.config.Size)
	if err != nil {
		return nil, err
	}
	defer rc.Close()
	return io.ReadAll(io.LimitReader(rc, c.config.Size))
}

func (c *storedCore) LayerByDigest(h v1.Hash) (partial.CompressedLayer, error) {
	l, ok := c.layers[h]
	if !ok {
		return nil, fmt.Errorf("layer %s is not in manifest %s", h, c.img.Digest)
	}
	return storedLayer{core: c, desc: l}, nil
}

type storedLayer struct {
	core *storedCore
	desc manifest.Descriptor
}

func (l storedLayer) Digest() (v1.Hash, error) { return v1.NewHash(string(l.desc.Digest)) }

func (l storedLayer) Compressed() (io.ReadCloser, error) {
	return l.core.open(l.desc.Digest, l.desc.Size)
}

func (l storedLayer) Size() (int64, error) { return l.desc.Size, nil }

func (l storedLayer) MediaType() (types.MediaType, error) {
	return types.MediaType(l.desc.MediaType), nil
}
