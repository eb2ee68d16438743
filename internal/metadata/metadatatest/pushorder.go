package metadatatest

import (
	"cmp"
	"fmt"
	"slices"
	"testing"
	"time"

	"github.com/opencontainers/go-digest"

	"github.com/ecrd/ecrd/internal/metadata"
)

// testImagesByPush pages a repository's images in push order both ways:
// equal push times fall back on the digest, filters select as Images's
// do, pages meet without gaps or repeats, and a cursor past the end (or
// a repository without images) gives an empty page.
func testImagesByPush(t *testing.T, s metadata.Store) {
	repo := createRepo(t, s, key("pushed"))
	other := createRepo(t, s, key("other"))
	// Twelve images over five push times, three of them shared by several
	// images; one in four tagged (two tags), one archived, one restoring.
	offsets := []time.Duration{0, 0, 0, time.Second, time.Second, time.Hour, -time.Hour, -time.Hour, -time.Hour, 2 * time.Hour, 0, -time.Hour}
	type want struct {
		digest digest.Digest
		pushed time.Time
		tags   []string
		status string
	}
	var all []want
	for i, off := range offsets {
		img := image(repo.ID, fmt.Sprintf(`{"pushed":%d}`, i))
		img.PushedAt = now.Add(off)
		w := want{digest: img.Digest, pushed: img.PushedAt, status: metadata.ImageActive}
		if i%4 == 1 {
			w.tags = []string{fmt.Sprintf("b%d", i), fmt.Sprintf("a%d", i)}
		}
		putImage(t, s, img, nil, w.tags...)
		slices.Sort(w.tags)
		all = append(all, w)
	}
	all[2].status, all[7].status = metadata.ImageArchived, metadata.ImageActivating
	update(t, s, func(tx metadata.Tx) error {
		if err := tx.SetImageStorage(ctx, repo.ID, all[2].digest, metadata.StorageArchive, now, time.Time{}); err != nil {
			return err
		}
		return tx.SetImageStorage(ctx, repo.ID, all[7].digest, metadata.StorageStandard, now.Add(-time.Hour), now.Add(time.Hour))
	})
	putImage(t, s, image(other.ID, `{"elsewhere":1}`), nil, "x")
	slices.SortFunc(all, func(a, b want) int {
		return cmp.Or(a.pushed.Compare(b.pushed), cmp.Compare(a.digest, b.digest))
	})

	yes, no := true, false
	filters := []struct {
		name   string
		filter metadata.ImageFilter
		keep   func(want) bool
	}{
		{"all", metadata.ImageFilter{Now: now}, func(want) bool { return true }},
		{"tagged", metadata.ImageFilter{Tagged: &yes, Now: now}, func(w want) bool { return len(w.tags) > 0 }},
		{"untagged", metadata.ImageFilter{Tagged: &no, Now: now}, func(w want) bool { return len(w.tags) == 0 }},
		{"active", metadata.ImageFilter{Status: metadata.ImageActive, Now: now}, func(w want) bool { return w.status == metadata.ImageActive }},
		{"archived", metadata.ImageFilter{Status: metadata.ImageArchived, Now: now}, func(w want) bool { return w.status == metadata.ImageArchived }},
		{"activating", metadata.ImageFilter{Status: metadata.ImageActivating, Now: now}, func(w want) bool { return w.status == metadata.ImageActivating }},
		{"tagged-active", metadata.ImageFilter{Tagged: &yes, Status: metadata.ImageActive, Now: now}, func(w want) bool {
			return len(w.tags) > 0 && w.status == metadata.ImageActive
		}},
	}
	for _, f := range filters {
		for _, newest := range []bool{false, true} {
			expect := slices.DeleteFunc(slices.Clone(all), func(w want) bool { return !f.keep(w) })
			if newest {
				slices.Reverse(expect)
			}
			for _, limit := range []int{1, 2, 5, 100} {
				name := fmt.Sprintf("%s, newest %v, %d a page", f.name, newest, limit)
				var got []metadata.ImageSummary
				var after metadata.PushCursor
				for pages := 0; ; pages++ {
					page, err := s.ImagesByPush(ctx, repo.ID, f.filter, newest, after, limit)
					if err != nil {
						t.Fatalf("%s: %v", name, err)
					}
					if len(page) > limit {
						t.Fatalf("%s: a page of %d", name, len(page))
					}
					got = append(got, page...)
					if len(page) < limit {
						break
					}
					last := page[len(page)-1]
					after = metadata.PushCursor{PushedAt: last.PushedAt, Digest: last.Digest}
					if pages > len(all) {
						t.Fatalf("%s: paging does not end", name)
					}
				}
				if len(got) != len(expect) {
					t.Fatalf("%s: %d images, want %d", name, len(got), len(expect))
				}
				for i, g := range got {
					w := expect[i]
					if g.Digest != w.digest || !g.PushedAt.Equal(w.pushed) || !slices.Equal(g.Tags, w.tags) || g.Status(now) != w.status || len(g.Content) != 0 {
						t.Fatalf("%s: image %d is %s pushed %v, tags %v, %s (%d bytes of content); want %s pushed %v, tags %v, %s",
							name, i, g.Digest, g.PushedAt, g.Tags, g.Status(now), len(g.Content), w.digest, w.pushed, w.tags, w.status)
					}
				}
			}
		}
	}

	// A cursor need not be an image's: it is a position in the order.
	page, err := s.ImagesByPush(ctx, repo.ID, metadata.ImageFilter{}, false, metadata.PushCursor{PushedAt: now, Digest: "sha256:0"}, 100)
	if err != nil || len(page) == 0 || !page[0].PushedAt.Equal(now) || page[0].Digest != all[slices.IndexFunc(all, func(w want) bool { return w.pushed.Equal(now) })].digest {
		t.Fatalf("from a position between images: %d images, %v", len(page), err)
	}
	page, err = s.ImagesByPush(ctx, repo.ID, metadata.ImageFilter{}, true, metadata.PushCursor{PushedAt: now.Add(-time.Hour), Digest: "sha256:0"}, 100)
	if err != nil || len(page) != 0 {
		t.Fatalf("newest first from before the oldest image: %d images, %v", len(page), err)
	}
	// Past either end, and in a repository without images: empty pages.
	first, last := all[0], all[len(all)-1]
	for _, c := range []struct {
		name   string
		repoID int64
		newest bool
		after  metadata.PushCursor
	}{
		{"after the newest", repo.ID, false, metadata.PushCursor{PushedAt: last.pushed, Digest: last.digest}},
		{"before the oldest", repo.ID, true, metadata.PushCursor{PushedAt: first.pushed, Digest: first.digest}},
		{"an empty repository", createRepo(t, s, key("empty")).ID, true, metadata.PushCursor{}},
		{"an empty repository, oldest first", createRepo(t, s, key("empty2")).ID, false, metadata.PushCursor{}},
	} {
		page, err := s.ImagesByPush(ctx, c.repoID, metadata.ImageFilter{}, c.newest, c.after, 10)
		if err != nil || len(page) != 0 {
			t.Errorf("%s: %d images, %v", c.name, len(page), err)
		}
	}
}
