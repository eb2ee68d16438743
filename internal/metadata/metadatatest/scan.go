package metadatatest

import (
	"errors"
	"reflect"
	"testing"
	"time"

	"github.com/opencontainers/go-digest"

	"github.com/ecrd/ecrd/internal/metadata"
)

var scanTests = []storeTest{
	{"ImageScans", testImageScans},
	{"ClaimImageScans", testClaimImageScans},
	{"StaleImageScans", testStaleImageScans},
	{"Events", testEvents},
}

func putScan(t *testing.T, s metadata.Store, sc metadata.ImageScan) {
	t.Helper()
	update(t, s, func(tx metadata.Tx) error { return tx.PutImageScan(ctx, sc) })
}

func testImageScans(t *testing.T, s metadata.Store) {
	repo := createRepo(t, s, key("app"))
	img := image(repo.ID, "scanned")
	putImage(t, s, img, nil)

	if _, err := s.ImageScan(ctx, repo.ID, img.Digest); !errors.Is(err, metadata.ErrNotFound) {
		t.Fatalf("scan before any: %v, want ErrNotFound", err)
	}
	// A scan of an image that does not exist is refused.
	err := s.Update(ctx, func(tx metadata.Tx) error {
		return tx.PutImageScan(ctx, metadata.ImageScan{RepoID: repo.ID, Digest: digest.FromString("none"), Status: metadata.ScanPending, RequestedAt: now})
	})
	if !errors.Is(err, metadata.ErrNotFound) {
		t.Fatalf("scan of a missing image: %v, want ErrNotFound", err)
	}

	want := metadata.ImageScan{
		RepoID: repo.ID, Digest: img.Digest, Repo: repo.Key,
		Status: metadata.ScanComplete, Description: "done",
		RequestedAt: now, Attempts: 1, CompletedAt: now.Add(time.Minute),
		SourceVersion: "v1", SourceUpdatedAt: now.Add(-time.Hour),
		Counts:   map[string]int{"HIGH": 2, "LOW": 1},
		Findings: []byte(`[1,2,3]`), Packages: []byte("packages"),
	}
	putScan(t, s, want)
	got, err := s.ImageScan(ctx, repo.ID, img.Digest)
	if err != nil {
		t.Fatal(err)
	}
	if !reflect.DeepEqual(got, want) {
		t.Fatalf("scan read back\n got %+v\nwant %+v", got, want)
	}

	sums, err := s.ImageScanSummaries(ctx, repo.ID, []digest.Digest{img.Digest, digest.FromString("other")})
	if err != nil {
		t.Fatal(err)
	}
	sum := want
	sum.Findings, sum.Packages = nil, nil
	if len(sums) != 1 || !reflect.DeepEqual(sums[img.Digest], sum) {
		t.Fatalf("summaries = %+v, want only %+v", sums, sum)
	}

	// Deleting the image deletes its scan.
	update(t, s, func(tx metadata.Tx) error { return tx.DeleteImage(ctx, repo.ID, img.Digest) })
	if _, err := s.ImageScan(ctx, repo.ID, img.Digest); !errors.Is(err, metadata.ErrNotFound) {
		t.Fatalf("scan after the image's deletion: %v, want ErrNotFound", err)
	}
}

func testClaimImageScans(t *testing.T, s metadata.Store) {
	repo := createRepo(t, s, key("app"))
	var ds []digest.Digest
	for i, c := range []string{"a", "b", "c"} {
		img := image(repo.ID, c)
		putImage(t, s, img, nil)
		ds = append(ds, img.Digest)
		putScan(t, s, metadata.ImageScan{RepoID: repo.ID, Digest: img.Digest, Status: metadata.ScanPending,
			RequestedAt: now.Add(time.Duration(i) * time.Second)})
	}
	// c may not run yet (a retry waiting).
	putScan(t, s, metadata.ImageScan{RepoID: repo.ID, Digest: ds[2], Status: metadata.ScanPending, Attempts: 1,
		RequestedAt: now.Add(2 * time.Second), NotBefore: now.Add(time.Minute)})

	claim := func(holder string, at time.Time, limit int) []digest.Digest {
		t.Helper()
		var got []digest.Digest
		update(t, s, func(tx metadata.Tx) error {
			got = nil // the function may run more than once
			scans, err := tx.ClaimImageScans(ctx, holder, at, at.Add(2*time.Minute), limit)
			for _, sc := range scans {
				if sc.Status != metadata.ScanInProgress || sc.Holder != holder || sc.Repo != repo.Key {
					t.Errorf("claimed %+v", sc)
				}
				got = append(got, sc.Digest)
			}
			return err
		})
		return got
	}
	if got := claim("p1", now, 1); !reflect.DeepEqual(got, ds[:1]) {
		t.Fatalf("first claim = %v, want the oldest request %v", got, ds[:1])
	}
	if got := claim("p2", now, 10); !reflect.DeepEqual(got, ds[1:2]) {
		t.Fatalf("second claim = %v, want %v (a is held, c waits)", got, ds[1:2])
	}
	var held bool
	update(t, s, func(tx metadata.Tx) error {
		var err error
		held, err = tx.RenewImageScan(ctx, repo.ID, ds[0], "p2", now.Add(time.Hour))
		return err
	})
	if held {
		t.Fatal("p2 renewed p1's lease")
	}
	update(t, s, func(tx metadata.Tx) error {
		var err error
		held, err = tx.RenewImageScan(ctx, repo.ID, ds[0], "p1", now.Add(10*time.Minute))
		return err
	})
	if !held {
		t.Fatal("p1 could not renew its lease")
	}
	// p1 restarts under its name: its job is pending again, and no one
	// else's is.
	var released int
	update(t, s, func(tx metadata.Tx) error {
		var err error
		released, err = tx.ReleaseImageScans(ctx, "p1")
		return err
	})
	if released != 1 {
		t.Fatalf("released %d jobs of p1, want 1", released)
	}
	if got := claim("p1", now, 10); !reflect.DeepEqual(got, ds[:1]) {
		t.Fatalf("claim after the release = %v, want %v", got, ds[:1])
	}
	update(t, s, func(tx metadata.Tx) error {
		_, err := tx.RenewImageScan(ctx, repo.ID, ds[0], "p1", now.Add(10*time.Minute))
		return err
	})
	// Five minutes on: c's wait is over and b's holder died (its lease
	// expired); a's renewed lease still holds.
	if got := claim("p3", now.Add(5*time.Minute), 10); !reflect.DeepEqual(got, ds[1:]) {
		t.Fatalf("claim after expiry = %v, want %v", got, ds[1:])
	}
}

func testStaleImageScans(t *testing.T, s metadata.Store) {
	a := createRepo(t, s, key("a"))
	b := createRepo(t, s, key("b"))
	var want []digest.Digest
	for _, repo := range []metadata.Repository{a, b} {
		for _, c := range []string{"1", "2", "3"} {
			img := image(repo.ID, repo.Key.Name+c)
			putImage(t, s, img, nil)
			sc := metadata.ImageScan{RepoID: repo.ID, Digest: img.Digest, Status: metadata.ScanComplete,
				RequestedAt: now, SourceVersion: "old", Packages: []byte("p" + c)}
			switch c {
			case "2":
				sc.SourceVersion = "new" // already current
			case "3":
				if repo.ID == b.ID {
					sc.Status, sc.Packages = metadata.ScanUnsupported, nil // nothing to match
				}
			}
			putScan(t, s, sc)
			if sc.SourceVersion == "old" && sc.Packages != nil {
				want = append(want, img.Digest)
			}
		}
	}
	var got []digest.Digest
	var after metadata.ScanCursor
	for {
		page, err := s.StaleImageScans(ctx, "new", after, 2)
		if err != nil {
			t.Fatal(err)
		}
		if len(page) == 0 {
			break
		}
		for _, sc := range page {
			if len(sc.Packages) == 0 || sc.Findings != nil {
				t.Errorf("stale scan %s: packages %q, findings %q", sc.Digest, sc.Packages, sc.Findings)
			}
			got = append(got, sc.Digest)
			after = metadata.ScanCursor{RepoID: sc.RepoID, Digest: sc.Digest}
		}
	}
	if len(got) != len(want) {
		t.Fatalf("stale scans = %v, want %d of them: %v", got, len(want), want)
	}
	seen := map[digest.Digest]bool{}
	for _, d := range got {
		seen[d] = true
	}
	for _, d := range want {
		if !seen[d] {
			t.Errorf("stale scan %s missing", d)
		}
	}
}

func testEvents(t *testing.T, s metadata.Store) {
	for i, typ := range []string{"ECR Image Scan", "ECR Image Action", "ECR Image Scan"} {
		update(t, s, func(tx metadata.Tx) error {
			return tx.AppendEvent(ctx, metadata.Event{Scope: scope, Time: now.Add(time.Duration(i) * time.Second), Type: typ, Document: []byte{byte('0' + i)}})
		})
	}
	// A rolled back transaction records nothing.
	_ = s.Update(ctx, func(tx metadata.Tx) error {
		if err := tx.AppendEvent(ctx, metadata.Event{Scope: scope, Time: now, Type: "lost", Document: []byte("x")}); err != nil {
			return err
		}
		return errors.New("roll back")
	})
	all, err := s.Events(ctx, 0, 10)
	if err != nil {
		t.Fatal(err)
	}
	if len(all) != 3 || all[0].Type != "ECR Image Scan" || string(all[2].Document) != "2" || all[1].Scope != scope ||
		!all[1].Time.Equal(now.Add(time.Second)) || !(all[0].ID < all[1].ID && all[1].ID < all[2].ID) {
		t.Fatalf("events = %+v", all)
	}
	rest, err := s.Events(ctx, all[0].ID, 1)
	if err != nil {
		t.Fatal(err)
	}
	if len(rest) != 1 || rest[0].ID != all[1].ID {
		t.Fatalf("events after the first, one: %+v", rest)
	}
	last, err := s.LastEventID(ctx)
	if err != nil || last != all[2].ID {
		t.Fatalf("LastEventID = %d, %v; want %d", last, err, all[2].ID)
	}

	// Source and resource round-trip.
	update(t, s, func(tx metadata.Tx) error {
		return tx.AppendEvent(ctx, metadata.Event{Scope: scope, Time: now.Add(time.Hour), Source: "aws.ecr", Type: "AWS API Call via CloudTrail",
			Resource: "arn:aws:ecr:us-east-1:123456789012:repository/app", Document: []byte("{}")})
	})
	got, err := s.Events(ctx, all[2].ID, 10)
	if err != nil || len(got) != 1 || got[0].Source != "aws.ecr" || got[0].Resource != "arn:aws:ecr:us-east-1:123456789012:repository/app" {
		t.Fatalf("an event with source and resource read back as %+v, %v", got, err)
	}

	// Pruning removes the oldest before a time, at most limit at once,
	// and IDs keep growing after it.
	var pruned int
	update(t, s, func(tx metadata.Tx) error {
		var err error
		pruned, err = tx.PruneEvents(ctx, now.Add(1500*time.Millisecond), 1)
		return err
	})
	if pruned != 1 {
		t.Fatalf("PruneEvents(limit 1) removed %d", pruned)
	}
	update(t, s, func(tx metadata.Tx) error {
		var err error
		pruned, err = tx.PruneEvents(ctx, now.Add(1500*time.Millisecond), 10)
		return err
	})
	left, err := s.Events(ctx, 0, 10)
	if err != nil || pruned != 1 || len(left) != 2 || left[0].ID != all[2].ID {
		t.Fatalf("after pruning before +1.5s: removed %d, left %+v, %v", pruned, left, err)
	}
	update(t, s, func(tx metadata.Tx) error {
		return tx.AppendEvent(ctx, metadata.Event{Scope: scope, Time: now, Type: "after", Document: []byte("{}")})
	})
	if n, _ := s.LastEventID(ctx); n <= got[0].ID {
		t.Fatalf("an event appended after pruning got ID %d, not above %d", n, got[0].ID)
	}
}
