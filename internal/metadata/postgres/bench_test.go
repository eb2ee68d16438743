package postgres

import (
	"fmt"
	"math/rand/v2"
	"slices"
	"testing"
	"time"

	"github.com/opencontainers/go-digest"

	"github.com/ecrd/ecrd/internal/metadata"
)

// loadImages stores n images in one new repository through the store, as
// pushes leave them: each references a config and two layers, every
// second one is tagged, every hundredth is an index of the two before
// it, every tenth has a completed scan. It returns the repository and the
// digests in order.
func loadImages(tb testing.TB, s *Store, n int) (metadata.Repository, []digest.Digest) {
	tb.Helper()
	var repo metadata.Repository
	if err := s.Update(ctx, func(tx metadata.Tx) (err error) {
		repo, err = tx.CreateRepository(ctx, metadata.Repository{Key: metadata.RepoKey{Scope: scope, Name: "big"}, CreatedAt: now})
		return err
	}); err != nil {
		tb.Fatal(err)
	}
	ds := make([]digest.Digest, n)
	for i := range n {
		ds[i] = digest.FromString(fmt.Sprintf("manifest %d", i))
	}
	const batch = 1000
	for start := 0; start < n; start += batch {
		err := s.Update(ctx, func(tx metadata.Tx) error {
			for i := start; i < min(start+batch, n); i++ {
				img := metadata.Image{
					RepoID: repo.ID, Digest: ds[i], MediaType: "application/vnd.oci.image.manifest.v1+json",
					Size: 1200, ImageSize: 50 << 20, PushedAt: now.Add(time.Duration(i) * time.Second),
					Content: fmt.Appendf(nil, `{"schemaVersion":2,"n":%d}`, i),
				}
				refs := []metadata.Ref{
					{Digest: digest.FromString(fmt.Sprintf("config %d", i)), Kind: metadata.RefBlob},
					{Digest: digest.FromString("base layer"), Kind: metadata.RefBlob},
					{Digest: digest.FromString(fmt.Sprintf("layer %d", i)), Kind: metadata.RefBlob},
				}
				if i%100 == 99 {
					img.MediaType = "application/vnd.oci.image.index.v1+json"
					refs = []metadata.Ref{{Digest: ds[i-1], Kind: metadata.RefManifest}, {Digest: ds[i-2], Kind: metadata.RefManifest}}
				}
				if err := tx.PutImage(ctx, img, refs); err != nil {
					return err
				}
				if i%2 == 0 {
					if err := tx.PutTag(ctx, repo.ID, fmt.Sprintf("v%d", i), ds[i], img.PushedAt); err != nil {
						return err
					}
				}
				if i%10 == 0 {
					if err := tx.PutImageScan(ctx, metadata.ImageScan{RepoID: repo.ID, Digest: ds[i], Status: metadata.ScanComplete,
						RequestedAt: img.PushedAt, CompletedAt: img.PushedAt, SourceVersion: "v1", Counts: map[string]int{"HIGH": 1},
						Findings: []byte("[]"), Packages: []byte("[]")}); err != nil {
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
	// What autovacuum does within a minute of such a load.
	if _, err := s.wpool.Exec(ctx, "VACUUM ANALYZE"); err != nil {
		tb.Fatal(err)
	}
	return repo, ds
}

// BenchmarkHundredThousandImages measures the reads that grow with a
// repository, at 100,000 images in one repository: a DescribeImages page
// (Images and the page's scan summaries), pages of other sizes and
// filters and in push order, a tag page, and the whole image graph a
// lifecycle evaluation reads.
//
//	go test ./internal/metadata/postgres -run '^$' -bench HundredThousand -benchtime 200x
func BenchmarkHundredThousandImages(b *testing.B) {
	s := newStore(b)
	began := time.Now()
	repo, ds := loadImages(b, s, 100_000)
	b.Logf("loaded 100,000 images through the store in %v", time.Since(began).Round(time.Second))
	sorted := slices.Sorted(slices.Values(ds))
	after := func() digest.Digest { return sorted[rand.N(len(sorted)-1000)] }
	yes := true
	page := func(limit int, f metadata.ImageFilter) func(b *testing.B) {
		return func(b *testing.B) {
			for b.Loop() {
				imgs, err := s.Images(ctx, repo.ID, f, after(), limit)
				if err != nil || len(imgs) != limit {
					b.Fatalf("%d images, %v", len(imgs), err)
				}
			}
		}
	}
	b.Run("DescribeImagesPage100", func(b *testing.B) {
		for b.Loop() {
			imgs, err := s.Images(ctx, repo.ID, metadata.ImageFilter{}, after(), 101)
			if err != nil || len(imgs) != 101 {
				b.Fatalf("%d images, %v", len(imgs), err)
			}
			page := make([]digest.Digest, 100)
			for i := range page {
				page[i] = imgs[i].Digest
			}
			if _, err := s.ImageScanSummaries(ctx, repo.ID, page); err != nil {
				b.Fatal(err)
			}
		}
	})
	b.Run("ImagesPage100", page(100, metadata.ImageFilter{}))
	b.Run("ImagesPage1000", page(1000, metadata.ImageFilter{}))
	b.Run("ImagesTaggedPage100", page(100, metadata.ImageFilter{Tagged: &yes}))
	b.Run("ImagesActivePage100", page(100, metadata.ImageFilter{Status: metadata.ImageActive, Now: now}))
	// The console's page: 50 active images newest first, from the start
	// and from a random image (image i was pushed at now+i seconds).
	byPush := func(newest, start bool) func(b *testing.B) {
		return func(b *testing.B) {
			for b.Loop() {
				var c metadata.PushCursor
				if !start {
					i := 1000 + rand.N(len(ds)-2000)
					c = metadata.PushCursor{PushedAt: now.Add(time.Duration(i) * time.Second), Digest: ds[i]}
				}
				imgs, err := s.ImagesByPush(ctx, repo.ID, metadata.ImageFilter{Status: metadata.ImageActive, Now: now}, newest, c, 51)
				if err != nil || len(imgs) != 51 {
					b.Fatalf("%d images, %v", len(imgs), err)
				}
			}
		}
	}
	b.Run("ImagesByPushNewestPage50/first", byPush(true, true))
	b.Run("ImagesByPushNewestPage50/inside", byPush(true, false))
	b.Run("ImagesByPushOldestPage50/inside", byPush(false, false))
	b.Run("TagsPage1000", func(b *testing.B) {
		for b.Loop() {
			if tags, err := s.Tags(ctx, repo.ID, fmt.Sprintf("v%d", rand.N(50_000)), 1000); err != nil || len(tags) == 0 {
				b.Fatalf("%d tags, %v", len(tags), err)
			}
		}
	})
	b.Run("ImageGraph", func(b *testing.B) {
		for b.Loop() {
			g, err := s.ImageGraph(ctx, repo.ID)
			if err != nil || len(g) != len(ds) {
				b.Fatalf("%d images, %v", len(g), err)
			}
		}
	})
	b.Run("RepositoryImageCount", func(b *testing.B) {
		for b.Loop() {
			if n, err := s.RepositoryImageCount(ctx, repo.ID); err != nil || n != len(ds) {
				b.Fatalf("%d images, %v", n, err)
			}
		}
	})
}
