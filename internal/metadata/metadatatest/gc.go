package metadatatest

import (
	"cmp"
	"errors"
	"slices"
	"testing"
	"time"

	"github.com/opencontainers/go-digest"

	"github.com/ecrd/ecrd/internal/metadata"
)

// gcTests are the tests of the records garbage collection keeps.
var gcTests = []storeTest{
	{"GC/BlobRecords", testBlobRecords},
	{"GC/LinkTimes", testLinkTimes},
	{"GC/UnreferencedLinks", testUnreferencedLinks},
	{"GC/CollectableBlobs", testCollectableBlobs},
	{"GC/OrphanMarks", testOrphanMarks},
}

func blobOf(content string) metadata.Blob {
	return metadata.Blob{Digest: digest.FromString(content), Size: int64(len(content))}
}

func record(t *testing.T, s metadata.Store, b metadata.Blob, at time.Time) {
	t.Helper()
	update(t, s, func(tx metadata.Tx) error { return tx.RecordBlob(ctx, b, at) })
}

func link(t *testing.T, s metadata.Store, repoID int64, b metadata.Blob, at time.Time) {
	t.Helper()
	update(t, s, func(tx metadata.Tx) error { return tx.LinkBlob(ctx, repoID, b, at) })
}

// recordOf returns d's record, or fails if it has none.
func recordOf(t *testing.T, s metadata.Store, d digest.Digest) metadata.BlobRecord {
	t.Helper()
	recs, err := s.BlobRecords(ctx, []digest.Digest{d})
	if err != nil || len(recs) != 1 || recs[0].Digest != d {
		t.Fatalf("BlobRecords(%s) = %+v, %v; want its record", d, recs, err)
	}
	return recs[0]
}

func recordDigests(recs []metadata.BlobRecord) []digest.Digest {
	out := make([]digest.Digest, 0, len(recs))
	for _, r := range recs {
		out = append(out, r.Digest)
	}
	return out
}

func testBlobRecords(t *testing.T, s metadata.Store) {
	a, b := blobOf("a"), blobOf("bb")
	record(t, s, a, now)
	if got := recordOf(t, s, a.Digest); got.Blob != a || !got.TouchedAt.Equal(now) || got.Deleting {
		t.Fatalf("record after RecordBlob = %+v, want %+v touched at %v", got, a, now)
	}
	record(t, s, a, now.Add(-time.Hour)) // a clock behind never lowers it
	if got := recordOf(t, s, a.Digest); !got.TouchedAt.Equal(now) {
		t.Fatalf("RecordBlob with an earlier time moved touched_at to %v", got.TouchedAt)
	}
	record(t, s, a, now.Add(time.Hour))
	if got := recordOf(t, s, a.Digest); !got.TouchedAt.Equal(now.Add(time.Hour)) {
		t.Fatalf("RecordBlob with a later time left touched_at at %v", got.TouchedAt)
	}
	record(t, s, b, now)
	recs, err := s.BlobRecords(ctx, []digest.Digest{b.Digest, digest.FromString("none"), a.Digest})
	if err != nil {
		t.Fatal(err)
	}
	want := []digest.Digest{a.Digest, b.Digest}
	slices.Sort(want)
	if got := recordDigests(recs); !slices.Equal(got, want) {
		t.Fatalf("BlobRecords = %v, want %v (digest order, unknown ones left out)", got, want)
	}
	if recs, err := s.BlobRecords(ctx, nil); err != nil || len(recs) != 0 {
		t.Fatalf("BlobRecords(nil) = %v, %v", recs, err)
	}
}

func testLinkTimes(t *testing.T, s metadata.Store) {
	repo := createRepo(t, s, key("links"))
	b := blobOf("layer")
	linkedAt := func() time.Time {
		t.Helper()
		l, err := s.Link(ctx, repo.ID, b.Digest)
		if err != nil || l.Blob != b || l.RepoID != repo.ID {
			t.Fatalf("Link = %+v, %v; want %+v in repository %d", l, err, b, repo.ID)
		}
		return l.LinkedAt
	}
	link(t, s, repo.ID, b, now)
	if got := linkedAt(); !got.Equal(now) {
		t.Fatalf("LinkedAt = %v, want %v", got, now)
	}
	link(t, s, repo.ID, b, now.Add(time.Minute)) // a push that uses the link refreshes it
	if got := linkedAt(); !got.Equal(now.Add(time.Minute)) {
		t.Fatalf("LinkedAt after a second LinkBlob = %v, want it refreshed", got)
	}
	link(t, s, repo.ID, b, now)
	if got := linkedAt(); !got.Equal(now.Add(time.Minute)) {
		t.Fatalf("LinkBlob with an earlier time lowered LinkedAt to %v", got)
	}
	update(t, s, func(tx metadata.Tx) error { return tx.TouchLink(ctx, repo.ID, b.Digest, now.Add(time.Hour)) })
	if got := linkedAt(); !got.Equal(now.Add(time.Hour)) {
		t.Fatalf("LinkedAt after TouchLink = %v", got)
	}
	err := s.Update(ctx, func(tx metadata.Tx) error { return tx.TouchLink(ctx, repo.ID, blobOf("other").Digest, now) })
	if !errors.Is(err, metadata.ErrNotFound) {
		t.Fatalf("TouchLink of a missing link = %v, want ErrNotFound (it must not create one)", err)
	}
	if _, err := s.Link(ctx, repo.ID, blobOf("other").Digest); !errors.Is(err, metadata.ErrNotFound) {
		t.Fatalf("Link of a missing link = %v, want ErrNotFound", err)
	}
	if got, err := s.Blob(ctx, repo.ID, b.Digest); err != nil || got != b {
		t.Fatalf("Blob = %+v, %v", got, err)
	}
}

func testUnreferencedLinks(t *testing.T, s metadata.Store) {
	a := createRepo(t, s, key("gc-a"))
	b := createRepo(t, s, key("gc-b"))
	old, recent, cutoff := now.Add(-2*time.Hour), now, now.Add(-time.Hour)
	stale, used, fresh, child := blobOf("stale"), blobOf("used"), blobOf("fresh"), blobOf("child manifest")
	link(t, s, a.ID, stale, old)
	link(t, s, a.ID, used, old)
	link(t, s, a.ID, fresh, recent)
	link(t, s, a.ID, child, old)
	link(t, s, b.ID, used, old) // used only by an image of a
	img := image(a.ID, "manifest")
	putImage(t, s, img, []metadata.Ref{{Digest: used.Digest, Kind: metadata.RefBlob}, {Digest: child.Digest, Kind: metadata.RefManifest}})

	type linkKey struct {
		repo int64
		d    digest.Digest
	}
	want := []linkKey{{a.ID, stale.Digest}, {b.ID, used.Digest}}
	for _, limit := range []int{1, 2, 3, 100} {
		var (
			got     []linkKey
			after   metadata.Link
			scanned int
		)
		for {
			links, next, err := s.UnreferencedLinks(ctx, cutoff, after, limit)
			if err != nil {
				t.Fatal(err)
			}
			for _, l := range links {
				if !l.LinkedAt.Equal(old) || l.Size == 0 {
					t.Errorf("UnreferencedLinks returned %+v, want it with its size and time", l)
				}
				got = append(got, linkKey{l.RepoID, l.Digest})
			}
			if next == (metadata.Link{}) {
				break
			}
			if scanned++; scanned > 10 {
				t.Fatalf("limit %d: the scan does not end", limit)
			}
			after = next
		}
		slices.SortFunc(got, func(x, y linkKey) int { return cmp.Or(cmp.Compare(x.repo, y.repo), cmp.Compare(x.d, y.d)) })
		if !slices.Equal(got, want) {
			t.Fatalf("limit %d: UnreferencedLinks = %v, want %v", limit, got, want)
		}
	}

	remove := func(before time.Time, links ...metadata.Link) int {
		t.Helper()
		var removed int
		update(t, s, func(tx metadata.Tx) (err error) {
			removed, err = tx.RemoveStaleLinks(ctx, links, before)
			return err
		})
		return removed
	}
	linkOf := func(repoID int64, b metadata.Blob) metadata.Link { return metadata.Link{RepoID: repoID, Blob: b} }
	// RemoveStaleLinks checks again: a link used or referenced since stays.
	link(t, s, b.ID, used, recent)
	if n := remove(cutoff, linkOf(a.ID, used), linkOf(a.ID, child), linkOf(a.ID, fresh), linkOf(b.ID, used)); n != 0 {
		t.Fatalf("RemoveStaleLinks removed %d referenced or recent links", n)
	}
	if n := remove(cutoff, linkOf(a.ID, stale), linkOf(a.ID, fresh), linkOf(a.ID, blobOf("never linked"))); n != 1 {
		t.Fatalf("RemoveStaleLinks removed %d links, want the stale one", n)
	}
	if _, err := s.Link(ctx, a.ID, stale.Digest); !errors.Is(err, metadata.ErrNotFound) {
		t.Fatalf("link still there after RemoveStaleLinks: %v", err)
	}
	if _, err := s.Link(ctx, a.ID, fresh.Digest); err != nil {
		t.Fatalf("a recent link went: %v", err)
	}
	if n := remove(cutoff, linkOf(a.ID, stale)); n != 0 {
		t.Fatal("RemoveStaleLinks of a removed link reported a removal")
	}
	update(t, s, func(tx metadata.Tx) error { return tx.DeleteImage(ctx, a.ID, img.Digest) })
	if n := remove(cutoff, linkOf(a.ID, used)); n != 1 {
		t.Fatal("RemoveStaleLinks kept a link whose image was deleted")
	}
	if n := remove(cutoff); n != 0 {
		t.Fatal("RemoveStaleLinks of nothing removed something")
	}
}

func testCollectableBlobs(t *testing.T, s metadata.Store) {
	repo := createRepo(t, s, key("gc-blobs"))
	old, cutoff := now.Add(-2*time.Hour), now.Add(-time.Hour)
	garbage, linked, fresh, marked := blobOf("garbage"), blobOf("linked"), blobOf("fresh"), blobOf("marked")
	record(t, s, garbage, old)
	record(t, s, linked, old)
	link(t, s, repo.ID, linked, old)
	record(t, s, fresh, now)
	record(t, s, marked, old)
	mark := func(ds ...digest.Digest) []digest.Digest {
		t.Helper()
		var got []digest.Digest
		update(t, s, func(tx metadata.Tx) (err error) {
			got, err = tx.MarkBlobsDeleting(ctx, ds, cutoff)
			return err
		})
		return got
	}
	if got := mark(marked.Digest); !slices.Equal(got, []digest.Digest{marked.Digest}) {
		t.Fatalf("MarkBlobsDeleting of an unlinked old blob = %v", got)
	}
	collectable := func(limit int) []digest.Digest {
		t.Helper()
		var (
			got   []digest.Digest
			after digest.Digest
		)
		for range 10 {
			recs, next, err := s.CollectableBlobs(ctx, cutoff, after, limit)
			if err != nil {
				t.Fatal(err)
			}
			got = append(got, recordDigests(recs)...)
			if next == "" {
				return got
			}
			after = next
		}
		t.Fatalf("limit %d: the scan does not end", limit)
		return nil
	}
	for _, limit := range []int{1, 2, 100} {
		if got := collectable(limit); !slices.Equal(got, []digest.Digest{garbage.Digest}) {
			t.Fatalf("limit %d: CollectableBlobs = %v, want only %s", limit, got, garbage.Digest)
		}
	}

	// Marks check again, and keep pushes away until cleared.
	if got := mark(linked.Digest, fresh.Digest, marked.Digest, garbage.Digest, blobOf("no record").Digest); !slices.Equal(got, []digest.Digest{garbage.Digest}) {
		t.Fatalf("MarkBlobsDeleting = %v, want only the garbage marked (not a linked, recent, marked or unknown blob)", got)
	}
	deleting, err := s.DeletingBlobs(ctx, "", 100)
	if err != nil {
		t.Fatal(err)
	}
	want := []digest.Digest{garbage.Digest, marked.Digest}
	slices.Sort(want)
	if got := recordDigests(deleting); !slices.Equal(got, want) || !deleting[0].Deleting || deleting[0].Size == 0 {
		t.Fatalf("DeletingBlobs = %+v, want %v", deleting, want)
	}
	if page, err := s.DeletingBlobs(ctx, want[0], 1); err != nil || len(page) != 1 || page[0].Digest != want[1] {
		t.Fatalf("DeletingBlobs after %s = %+v, %v", want[0], page, err)
	}
	err = s.Update(ctx, func(tx metadata.Tx) error { return tx.RecordBlob(ctx, garbage, now) })
	if !errors.Is(err, metadata.ErrBlobDeleting) {
		t.Fatalf("RecordBlob of a blob being deleted = %v, want ErrBlobDeleting", err)
	}
	if got := recordOf(t, s, garbage.Digest); !got.Deleting || !got.TouchedAt.Equal(old) {
		t.Fatalf("a refused RecordBlob changed the record: %+v", got)
	}
	update(t, s, func(tx metadata.Tx) error { return tx.UnmarkBlobs(ctx, []digest.Digest{garbage.Digest}) })
	record(t, s, garbage, now)
	if got := recordOf(t, s, garbage.Digest); got.Deleting || !got.TouchedAt.Equal(now) {
		t.Fatalf("record after UnmarkBlob and RecordBlob = %+v", got)
	}

	// ForgetBlobs removes marked records only.
	update(t, s, func(tx metadata.Tx) error { return tx.ForgetBlobs(ctx, []digest.Digest{garbage.Digest, marked.Digest}) })
	recordOf(t, s, garbage.Digest)
	if recs, err := s.BlobRecords(ctx, []digest.Digest{marked.Digest}); err != nil || len(recs) != 0 {
		t.Fatalf("record after ForgetBlobs = %+v, %v", recs, err)
	}
	update(t, s, func(tx metadata.Tx) error { return tx.ForgetBlobs(ctx, nil) })
	record(t, s, marked, now) // pushed again
	if got := recordOf(t, s, marked.Digest); got.Deleting {
		t.Fatalf("a blob pushed again after its deletion is marked: %+v", got)
	}
}

func testOrphanMarks(t *testing.T, s metadata.Store) {
	orphan, known, linked := blobOf("orphan"), blobOf("known"), blobOf("linked, never recorded")
	record(t, s, known, now.Add(-24*time.Hour))
	link(t, s, createRepo(t, s, key("orphans")).ID, linked, now.Add(-24*time.Hour))
	mark := func(blobs ...metadata.Blob) []metadata.Blob {
		t.Helper()
		var got []metadata.Blob
		update(t, s, func(tx metadata.Tx) (err error) {
			got, err = tx.MarkOrphansDeleting(ctx, blobs, now)
			return err
		})
		return got
	}
	if got := mark(known, orphan, linked); !slices.Equal(got, []metadata.Blob{orphan}) {
		t.Fatalf("MarkOrphansDeleting = %v, want only the orphan (not a blob that has a record or a link)", got)
	}
	if got := recordOf(t, s, known.Digest); got.Deleting {
		t.Fatalf("MarkOrphansDeleting changed an existing record: %+v", got)
	}
	if got := recordOf(t, s, orphan.Digest); !got.Deleting || got.Blob != orphan {
		t.Fatalf("orphan's record = %+v, want it marked", got)
	}
	if got := mark(orphan); len(got) != 0 {
		t.Fatal("MarkOrphansDeleting marked an orphan twice")
	}
	err := s.Update(ctx, func(tx metadata.Tx) error { return tx.RecordBlob(ctx, orphan, now) })
	if !errors.Is(err, metadata.ErrBlobDeleting) {
		t.Fatalf("RecordBlob of an orphan being deleted = %v, want ErrBlobDeleting", err)
	}
}
