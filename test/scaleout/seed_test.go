package scaleout

import (
	"fmt"
	"strconv"
	"testing"
	"time"

	"github.com/opencontainers/go-digest"

	"github.com/ecrd/ecrd/internal/metadata"
)

// seedOptions say what seedImages writes for each image.
type seedOptions struct {
	// First is the push time of image 0; image i is pushed i minutes later.
	First time.Time
	// Blobs makes each manifest reference a config and a layer of its
	// own and a base layer its repository shares, recorded and linked as
	// a push leaves them (linked and touched when the image was pushed).
	// Without it an image references nothing.
	Blobs bool
	// Batch is how many images one transaction writes (default 10,000).
	Batch int
}

// seededImageSize is every seeded image's size (ECR's imageSizeInBytes).
const seededImageSize = 1 << 20

// seedImages writes images from to to-1 of repository repoID straight
// into the store, through its write API, opts.Batch a transaction: even
// ones tagged v<i>. Neither listing, lifecycle nor garbage collection
// reads the bytes of a blob, so none are stored.
func seedImages(tb testing.TB, store metadata.Store, repoID int64, from, to int, opts seedOptions) {
	tb.Helper()
	batch := opts.Batch
	if batch == 0 {
		batch = 10_000
	}
	const manifestType = "application/vnd.oci.image.manifest.v1+json"
	base := metadata.Blob{Digest: digest.FromString(fmt.Sprintf("base layer of %d", repoID)), Size: 30 << 20}
	type image struct {
		img   metadata.Image
		refs  []metadata.Ref
		blobs []metadata.Blob // its own blobs
		tag   string
	}
	for start := from; start < to; start += batch {
		// Built before the transaction, which may run more than once.
		images := make([]image, 0, min(batch, to-start))
		for i := start; i < min(start+batch, to); i++ {
			var im image
			var content []byte
			if opts.Blobs {
				config := metadata.Blob{Digest: digest.FromString(fmt.Sprintf("config %d/%d", repoID, i)), Size: 1500}
				layer := metadata.Blob{Digest: digest.FromString(fmt.Sprintf("layer %d/%d", repoID, i)), Size: seededImageSize - 1500}
				content = fmt.Appendf(nil, `{"schemaVersion":2,"mediaType":%q,"config":{"mediaType":"application/vnd.oci.image.config.v1+json","digest":%q,"size":%d},"layers":[{"mediaType":"application/vnd.oci.image.layer.v1.tar+gzip","digest":%q,"size":%d},{"mediaType":"application/vnd.oci.image.layer.v1.tar+gzip","digest":%q,"size":%d}]}`,
					manifestType, config.Digest, config.Size, base.Digest, base.Size, layer.Digest, layer.Size)
				im.refs = []metadata.Ref{{Digest: config.Digest, Kind: metadata.RefBlob}, {Digest: base.Digest, Kind: metadata.RefBlob}, {Digest: layer.Digest, Kind: metadata.RefBlob}}
				im.blobs = []metadata.Blob{config, layer}
				if i == 0 {
					im.blobs = append(im.blobs, base)
				}
			} else {
				content = fmt.Appendf(nil, `{"schemaVersion":2,"mediaType":%q,"n":%d}`, manifestType, i)
			}
			im.img = metadata.Image{RepoID: repoID, Digest: digest.FromBytes(content), MediaType: manifestType,
				ArtifactType: "application/vnd.oci.image.config.v1+json", Size: int64(len(content)), ImageSize: seededImageSize,
				PushedAt: opts.First.Add(time.Duration(i) * time.Minute).UTC(), Content: content}
			if i%2 == 0 {
				im.tag = "v" + strconv.Itoa(i)
			}
			images = append(images, im)
		}
		err := store.Update(bg, func(tx metadata.Tx) error {
			for _, im := range images {
				// A push records and links its blobs before its manifest.
				for _, blob := range im.blobs {
					if err := tx.RecordBlob(bg, blob, im.img.PushedAt); err != nil {
						return err
					}
					if err := tx.LinkBlob(bg, repoID, blob, im.img.PushedAt); err != nil {
						return err
					}
				}
				if err := tx.PutImage(bg, im.img, im.refs); err != nil {
					return err
				}
				if im.tag != "" {
					if err := tx.PutTag(bg, repoID, im.tag, im.img.Digest, im.img.PushedAt); err != nil {
						return err
					}
				}
			}
			return nil
		})
		if err != nil {
			tb.Fatal(err)
		}
	}
}
