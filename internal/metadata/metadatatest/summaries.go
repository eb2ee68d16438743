package metadatatest

import (
	"slices"
	"testing"
	"time"

	"github.com/ecrd/ecrd/internal/metadata"
)

// testRepositorySummaries checks the per-repository aggregates a listing
// of repositories shows: what counts (images in the standard storage
// class), what does not (archived and deleted images), and the IDs that
// have nothing to sum.
func testRepositorySummaries(t *testing.T, s metadata.Store) {
	a, b, empty, other := createRepo(t, s, key("a")), createRepo(t, s, key("b")), createRepo(t, s, key("empty")), createRepo(t, s, key("other"))
	img := func(repoID int64, content string, size int64, pushed time.Time) metadata.Image {
		i := image(repoID, content)
		i.ImageSize, i.PushedAt = size, pushed
		return i
	}
	// Repository a: two active images, one being restored (counted), one
	// archived, pushed last (not counted), and one deleted.
	putImage(t, s, img(a.ID, "a1", 100, now.Add(-3*time.Hour)), nil, "v1")
	putImage(t, s, img(a.ID, "a2", 250, now.Add(-time.Hour)), nil, "v2", "latest")
	restoring, archived, deleted := img(a.ID, "a3", 50, now.Add(-2*time.Hour)), img(a.ID, "a4", 7000, now), img(a.ID, "a5", 9000, now.Add(time.Minute))
	for _, i := range []metadata.Image{restoring, archived, deleted} {
		putImage(t, s, i, nil)
	}
	update(t, s, func(tx metadata.Tx) error {
		if err := tx.SetImageStorage(ctx, a.ID, archived.Digest, metadata.StorageArchive, now, time.Time{}); err != nil {
			return err
		}
		if err := tx.SetImageStorage(ctx, a.ID, restoring.Digest, metadata.StorageStandard, now.Add(-time.Hour), now.Add(time.Hour)); err != nil {
			return err
		}
		return tx.DeleteImage(ctx, a.ID, deleted.Digest)
	})
	// Repository b: one image of a size past 32 bits.
	putImage(t, s, img(b.ID, "b1", 5<<30, now.Add(-30*time.Minute)), nil)
	// Repository other is not asked for.
	putImage(t, s, img(other.ID, "o1", 1, now), nil)
	unknown := max(a.ID, b.ID, empty.ID, other.ID) + 1000

	want := map[int64]metadata.RepositorySummary{
		a.ID: {Images: 3, Bytes: 400, LastPushedAt: now.Add(-time.Hour)},
		b.ID: {Images: 1, Bytes: 5 << 30, LastPushedAt: now.Add(-30 * time.Minute)},
	}
	check := func(what string, r metadata.Reader, ids []int64) {
		t.Helper()
		got, err := r.RepositorySummaries(ctx, ids)
		if err != nil {
			t.Fatalf("%s: %v", what, err)
		}
		if len(got) != len(want) {
			t.Errorf("%s: %d summaries, want %d: %+v", what, len(got), len(want), got)
		}
		for id, w := range want {
			g, ok := got[id]
			if !ok || g.Images != w.Images || g.Bytes != w.Bytes || !g.LastPushedAt.Equal(w.LastPushedAt) {
				t.Errorf("%s: summary of %d = %+v (present %v), want %+v", what, id, g, ok, w)
			}
		}
		for _, id := range []int64{empty.ID, unknown, other.ID} {
			if g, ok := got[id]; ok {
				t.Errorf("%s: summary of %d = %+v, want none", what, id, g)
			}
		}
	}
	check("store", s, []int64{b.ID, empty.ID, unknown, a.ID})
	update(t, s, func(tx metadata.Tx) error {
		check("transaction", tx, []int64{a.ID, b.ID, empty.ID})
		return nil
	})

	// A full page of a listing: a thousand IDs, most of them unknown.
	page := []int64{a.ID}
	for i := int64(1); len(page) < 999; i++ {
		page = append(page, unknown+i)
	}
	check("page", s, append(page, b.ID))

	for _, ids := range [][]int64{nil, {}, {empty.ID, unknown}} {
		if got, err := s.RepositorySummaries(ctx, ids); err != nil || len(got) != 0 {
			t.Errorf("RepositorySummaries(%v) = %+v, %v; want an empty map", ids, got, err)
		}
	}
}

// testRepositoryNameOrder checks that repositories are listed in the byte
// order of their names, and that after may be any text, one that sorts
// after every character a name holds included: the registry lists the
// names under a prefix as one range that starts after such a name.
func testRepositoryNameOrder(t *testing.T, s metadata.Store) {
	names := []string{"team", "team-a", "team.b", "team/c", "team/c/d", "team0", "teamz", "teamz/x"}
	for _, n := range []string{"teamz/x", "team0", "team/c/d", "team", "team.b", "teamz", "team/c", "team-a"} {
		createRepo(t, s, key(n))
	}
	list := func(after string, limit int) []string {
		t.Helper()
		repos, err := s.Repositories(ctx, scope, after, limit)
		if err != nil {
			t.Fatalf("Repositories(%q): %v", after, err)
		}
		var out []string
		for _, r := range repos {
			out = append(out, r.Key.Name)
		}
		return out
	}
	if got := list("", 100); !slices.Equal(got, names) {
		t.Errorf("Repositories = %v, want %v", got, names)
	}
	// The names starting with "team/": after "team." and the highest code
	// point.
	if got := list("team.\U0010FFFF", 3); !slices.Equal(got, []string{"team/c", "team/c/d", "team0"}) {
		t.Errorf("Repositories after the start of team/ = %v", got)
	}
	if got := list("teamz\U0010FFFF", 3); len(got) != 0 {
		t.Errorf("Repositories after the last name = %v", got)
	}
}
