package registry_test

import (
	"fmt"
	"testing"
	"time"

	"github.com/opencontainers/go-digest"

	"github.com/ecrd/ecrd/internal/metadata"
	"github.com/ecrd/ecrd/internal/registry"
	"github.com/ecrd/ecrd/internal/registry/registrytest"
)

// benchImages is the size of the repository the listing benchmarks page
// through: ECR's limit of images per repository.
const benchImages = 100_000

// bigRepository makes a repository of benchImages images, half of them
// tagged, written straight to the store (the push path is not what is
// measured).
func bigRepository(b *testing.B) *registry.Registry {
	b.Helper()
	reg, stores := registrytest.New(b, registry.Options{})
	registrytest.CreateOnPush(b, reg)
	if _, err := reg.StartUpload(ctx, key("big")); err != nil {
		b.Fatal(err)
	}
	repo, err := stores.Meta.Repository(ctx, key("big"))
	if err != nil {
		b.Fatal(err)
	}
	now := time.Now()
	const batch = 10_000
	for start := 0; start < benchImages; start += batch {
		err := stores.Meta.Update(ctx, func(tx metadata.Tx) error {
			for i := start; i < start+batch; i++ {
				content := []byte(fmt.Sprintf(`{"schemaVersion":2,"n":%d}`, i))
				img := metadata.Image{RepoID: repo.ID, Digest: digest.FromBytes(content), MediaType: "application/vnd.oci.image.manifest.v1+json",
					ArtifactType: "application/vnd.oci.image.config.v1+json", Size: int64(len(content)), ImageSize: 1 << 20, PushedAt: now, Content: content}
				if err := tx.PutImage(ctx, img, nil); err != nil {
					return err
				}
				if i%2 == 0 {
					if err := tx.PutTag(ctx, repo.ID, fmt.Sprintf("v%d", i), img.Digest, now); err != nil {
						return err
					}
				}
			}
			return nil
		})
		if err != nil {
			b.Fatal(err)
		}
	}
	return reg
}

// BenchmarkListingPages measures one page of DescribeImages (100 images,
// ECR's default) and ListImages (1,000 image IDs, its maximum), at the
// start and deep inside a 100,000-image repository. The target is under
// 20 ms a page.
func BenchmarkListingPages(b *testing.B) {
	reg := bigRepository(b)
	// A token from the middle of the repository, for the deep pages.
	var deep string
	for range 50 {
		_, next, err := reg.ListImages(ctx, key("big"), registry.ImageFilter{Tags: registry.TagStatusAny}, deep, 1000)
		if err != nil {
			b.Fatal(err)
		}
		deep = next
	}
	cases := []struct {
		name string
		run  func(token string) (int, error)
	}{
		{"DescribeImages/100", func(token string) (int, error) {
			imgs, _, err := reg.DescribeImages(ctx, key("big"), nil, registry.ImageFilter{Tags: registry.TagStatusAny}, token, 100)
			return len(imgs), err
		}},
		{"DescribeImages/100/untagged", func(token string) (int, error) {
			imgs, _, err := reg.DescribeImages(ctx, key("big"), nil, registry.ImageFilter{Tags: registry.TagStatusUntagged}, token, 100)
			return len(imgs), err
		}},
		{"ListImages/1000", func(token string) (int, error) {
			ids, _, err := reg.ListImages(ctx, key("big"), registry.ImageFilter{Tags: registry.TagStatusAny}, token, 1000)
			return len(ids), err
		}},
	}
	for _, c := range cases {
		for _, at := range []struct{ name, token string }{{"first", ""}, {"middle", deep}} {
			b.Run(c.name+"/"+at.name, func(b *testing.B) {
				for b.Loop() {
					n, err := c.run(at.token)
					if err != nil || n == 0 {
						b.Fatalf("page of %d, %v", n, err)
					}
				}
			})
		}
	}
}
