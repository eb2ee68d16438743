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

// benchRepositories is how many repositories the summaries benchmark's
// registry holds.
const benchRepositories = 10_000

// BenchmarkRepositorySummaries measures one page of 100 repositories with
// their summaries, in a registry of 10,000 repositories of 0 to 9 images
// each (45,000 images) in the embedded store: the first page, a page
// from the middle of the names, and the page of a prefix that selects
// 100 names in the middle.
func BenchmarkRepositorySummaries(b *testing.B) {
	reg, stores := registrytest.New(b, registry.Options{})
	now := time.Now()
	const batch = 1000
	for start := 0; start < benchRepositories; start += batch {
		err := stores.Meta.Update(ctx, func(tx metadata.Tx) error {
			for i := start; i < start+batch; i++ {
				repo, err := tx.CreateRepository(ctx, metadata.Repository{Key: key(fmt.Sprintf("team%02d/app%04d", i/100, i)), CreatedAt: now})
				if err != nil {
					return err
				}
				for j := range i % 10 {
					content := []byte(fmt.Sprintf(`{"schemaVersion":2,"repo":%d,"n":%d}`, i, j))
					img := metadata.Image{RepoID: repo.ID, Digest: digest.FromBytes(content), MediaType: "application/vnd.oci.image.manifest.v1+json",
						Size: int64(len(content)), ImageSize: int64(j+1) << 20, PushedAt: now.Add(time.Duration(j) * time.Minute), Content: content}
					if err := tx.PutImage(ctx, img, nil); err != nil {
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
	// A token 5,000 names in.
	var middle string
	for range 50 {
		_, next, err := reg.RepositorySummaries(ctx, scope, "", middle, 100)
		if err != nil {
			b.Fatal(err)
		}
		middle = next
	}
	for _, c := range []struct{ name, prefix, token string }{
		{"first", "", ""},
		{"middle", "", middle},
		{"prefix", "team50/", ""},
	} {
		b.Run(c.name, func(b *testing.B) {
			for b.Loop() {
				page, _, err := reg.RepositorySummaries(ctx, scope, c.prefix, c.token, 100)
				if err != nil || len(page) != 100 || page[1].Images == 0 {
					b.Fatalf("page of %d, %v", len(page), err)
				}
			}
		})
	}
}
