package metadatatest

import (
	"errors"
	"slices"
	"testing"
	"time"

	"github.com/opencontainers/go-digest"

	"github.com/ecrd/ecrd/internal/metadata"
)

// lifecycleTests are the tests of what lifecycle policies, previews, the
// archive storage class, pull time exclusions and job leases store.
var lifecycleTests = []storeTest{
	{"LifecyclePolicies", testLifecyclePolicies},
	{"LifecyclePreviews", testLifecyclePreviews},
	{"ImageGraph", testImageGraph},
	{"ImageStorageAndStatus", testImageStorage},
	{"ImageTimes", testImageTimes},
	{"BlobUsers", testBlobUsers},
	{"PullTimeExclusions", testPullTimeExclusions},
	{"Leases", testLeases},
	{"RegistryPolicies", testRegistryPolicies},
}

func testLifecyclePolicies(t *testing.T, s metadata.Store) {
	a, b := createRepo(t, s, key("a")), createRepo(t, s, key("b"))
	if _, err := s.LifecyclePolicy(ctx, a.ID); !errors.Is(err, metadata.ErrNotFound) {
		t.Fatalf("LifecyclePolicy before a put = %v, want ErrNotFound", err)
	}
	update(t, s, func(tx metadata.Tx) error { return tx.PutLifecyclePolicy(ctx, a.ID, "policy a", now) })
	update(t, s, func(tx metadata.Tx) error { return tx.PutLifecyclePolicy(ctx, b.ID, "policy b", now) })
	update(t, s, func(tx metadata.Tx) error { return tx.SetLifecycleEvaluated(ctx, a.ID, now.Add(time.Hour)) })
	// A new text keeps the last evaluation time.
	update(t, s, func(tx metadata.Tx) error { return tx.PutLifecyclePolicy(ctx, a.ID, "policy a2", now.Add(2*time.Hour)) })
	p, err := s.LifecyclePolicy(ctx, a.ID)
	if err != nil || p.Text != "policy a2" || p.Repo != key("a") || !p.UpdatedAt.Equal(now.Add(2*time.Hour)) || !p.LastEvaluatedAt.Equal(now.Add(time.Hour)) {
		t.Fatalf("LifecyclePolicy = %+v, %v", p, err)
	}
	all, err := s.LifecyclePolicies(ctx, 0, 10)
	if err != nil || len(all) != 2 || all[0].RepoID >= all[1].RepoID {
		t.Fatalf("LifecyclePolicies = %+v, %v", all, err)
	}
	if page, _ := s.LifecyclePolicies(ctx, all[0].RepoID, 10); len(page) != 1 || page[0].RepoID != all[1].RepoID {
		t.Fatalf("LifecyclePolicies after the first = %+v", page)
	}
	update(t, s, func(tx metadata.Tx) error { return tx.DeleteLifecyclePolicy(ctx, a.ID) })
	if err := s.Update(ctx, func(tx metadata.Tx) error { return tx.DeleteLifecyclePolicy(ctx, a.ID) }); !errors.Is(err, metadata.ErrNotFound) {
		t.Fatalf("deleting twice = %v, want ErrNotFound", err)
	}
	// Deleting the repository deletes its policy.
	update(t, s, func(tx metadata.Tx) error { return tx.DeleteRepository(ctx, b.ID) })
	if all, _ := s.LifecyclePolicies(ctx, 0, 10); len(all) != 0 {
		t.Fatalf("policies left: %+v", all)
	}
}

func testLifecyclePreviews(t *testing.T, s metadata.Store) {
	r := createRepo(t, s, key("a"))
	if _, err := s.LifecyclePreview(ctx, r.ID); !errors.Is(err, metadata.ErrNotFound) {
		t.Fatalf("LifecyclePreview before a put = %v", err)
	}
	p := metadata.LifecyclePreview{RepoID: r.ID, Text: "policy", Status: "IN_PROGRESS", StartedAt: now, EvaluateAt: now.Add(24 * time.Hour)}
	update(t, s, func(tx metadata.Tx) error { return tx.PutLifecyclePreview(ctx, p) })
	p.Status, p.Results = "COMPLETE", []byte(`[{"digest":"x"}]`)
	update(t, s, func(tx metadata.Tx) error { return tx.PutLifecyclePreview(ctx, p) })
	got, err := s.LifecyclePreview(ctx, r.ID)
	if err != nil || got.Status != "COMPLETE" || got.Text != "policy" || !got.StartedAt.Equal(now) || !got.EvaluateAt.Equal(p.EvaluateAt) || got.Results != nil {
		t.Fatalf("LifecyclePreview = %+v, %v (results are read apart)", got, err)
	}
	if res, err := s.LifecyclePreviewResults(ctx, r.ID); err != nil || string(res) != string(p.Results) {
		t.Fatalf("LifecyclePreviewResults = %q, %v", res, err)
	}
}

func testImageGraph(t *testing.T, s metadata.Store) {
	r := createRepo(t, s, key("a"))
	older, child, index := image(r.ID, "older"), image(r.ID, "child"), image(r.ID, "index")
	older.PushedAt = now.Add(-time.Hour)
	putImage(t, s, index, []metadata.Ref{{Digest: child.Digest, Kind: metadata.RefManifest}, {Digest: "sha256:layer", Kind: metadata.RefBlob}}, "v2", "latest")
	putImage(t, s, child, nil)
	putImage(t, s, older, nil, "v1")
	g, err := s.ImageGraph(ctx, r.ID)
	if err != nil {
		t.Fatal(err)
	}
	// Push order: the older image, then index and child (same time) in the
	// order they were put.
	var order []digest.Digest
	for _, img := range g {
		order = append(order, img.Digest)
	}
	if want := []digest.Digest{older.Digest, index.Digest, child.Digest}; !slices.Equal(order, want) {
		t.Fatalf("ImageGraph order = %v, want %v", order, want)
	}
	if !slices.Equal(g[1].Tags, []string{"latest", "v2"}) || !slices.Equal(g[1].Children, []digest.Digest{child.Digest}) || len(g[2].Tags) != 0 ||
		!g[0].PushedAt.Equal(older.PushedAt) || g[0].StorageClass != metadata.StorageStandard || !g[0].LastPulledAt.IsZero() {
		t.Fatalf("ImageGraph = %+v", g)
	}
}

func testImageStorage(t *testing.T, s metadata.Store) {
	r := createRepo(t, s, key("a"))
	active, archived, restoring := image(r.ID, "active"), image(r.ID, "archived"), image(r.ID, "restoring")
	for _, img := range []metadata.Image{active, archived, restoring} {
		putImage(t, s, img, nil)
	}
	update(t, s, func(tx metadata.Tx) error {
		if err := tx.SetImageStorage(ctx, r.ID, archived.Digest, metadata.StorageArchive, now, time.Time{}); err != nil {
			return err
		}
		return tx.SetImageStorage(ctx, r.ID, restoring.Digest, metadata.StorageStandard, now.Add(-time.Hour), now.Add(time.Hour))
	})
	if err := s.Update(ctx, func(tx metadata.Tx) error {
		return tx.SetImageStorage(ctx, r.ID, digest.FromString("missing"), metadata.StorageArchive, now, time.Time{})
	}); !errors.Is(err, metadata.ErrNotFound) {
		t.Fatalf("SetImageStorage of a missing image = %v", err)
	}
	for status, want := range map[string]digest.Digest{metadata.ImageActive: active.Digest, metadata.ImageArchived: archived.Digest, metadata.ImageActivating: restoring.Digest} {
		got, err := s.Images(ctx, r.ID, metadata.ImageFilter{Status: status, Now: now}, "", 10)
		if err != nil || len(got) != 1 || got[0].Digest != want || got[0].Status(now) != status {
			t.Errorf("Images(%s) = %+v, %v", status, got, err)
		}
		ids, err := s.Images(ctx, r.ID, metadata.ImageFilter{Status: status, Now: now, IDsOnly: true}, "", 10)
		if err != nil || len(ids) != 1 || ids[0].Digest != want {
			t.Errorf("Images(%s, IDs only) = %+v, %v", status, ids, err)
		}
	}
	if all, _ := s.Images(ctx, r.ID, metadata.ImageFilter{Now: now}, "", 10); len(all) != 3 {
		t.Errorf("Images(any status) = %d images", len(all))
	}
	img, _ := s.Image(ctx, r.ID, restoring.Digest)
	if img.StorageClass != metadata.StorageStandard || !img.LastArchivedAt.Equal(now.Add(-time.Hour)) || !img.LastActivatedAt.Equal(now.Add(time.Hour)) {
		t.Errorf("restoring image = %+v", img)
	}
	if img.Status(now.Add(2*time.Hour)) != metadata.ImageActive {
		t.Error("a restore is not complete after its time")
	}
}

func testImageTimes(t *testing.T, s metadata.Store) {
	r := createRepo(t, s, key("a"))
	img := image(r.ID, "x")
	putImage(t, s, img, nil)
	pushed, pulled := now.Add(-100*24*time.Hour), now.Add(-30*24*time.Hour)
	update(t, s, func(tx metadata.Tx) error { return tx.SetImageTimes(ctx, r.ID, img.Digest, pushed, pulled) })
	// A zero time leaves the value.
	update(t, s, func(tx metadata.Tx) error { return tx.SetImageTimes(ctx, r.ID, img.Digest, time.Time{}, time.Time{}) })
	got, err := s.Image(ctx, r.ID, img.Digest)
	if err != nil || !got.PushedAt.Equal(pushed) || !got.LastPulledAt.Equal(pulled) {
		t.Fatalf("image times = %v, %v, %v", got.PushedAt, got.LastPulledAt, err)
	}
	if err := s.Update(ctx, func(tx metadata.Tx) error {
		return tx.SetImageTimes(ctx, r.ID, digest.FromString("missing"), pushed, pulled)
	}); !errors.Is(err, metadata.ErrNotFound) {
		t.Fatalf("SetImageTimes of a missing image = %v", err)
	}
}

func testBlobUsers(t *testing.T, s metadata.Store) {
	r := createRepo(t, s, key("a"))
	layer := digest.FromString("layer")
	a, b := image(r.ID, "a"), image(r.ID, "b")
	putImage(t, s, a, []metadata.Ref{{Digest: layer, Kind: metadata.RefBlob}})
	putImage(t, s, b, []metadata.Ref{{Digest: layer, Kind: metadata.RefBlob}, {Digest: a.Digest, Kind: metadata.RefManifest}})
	users, err := s.BlobUsers(ctx, r.ID, layer, 10)
	if want := []digest.Digest{a.Digest, b.Digest}; err != nil || !slices.Equal(users, sortedDigests(want)) {
		t.Fatalf("BlobUsers = %v, %v, want %v", users, err, want)
	}
	if users, _ := s.BlobUsers(ctx, r.ID, a.Digest, 10); len(users) != 0 {
		t.Fatalf("a child manifest counted as a blob use: %v", users)
	}
}

func sortedDigests(ds []digest.Digest) []digest.Digest {
	out := slices.Clone(ds)
	slices.Sort(out)
	return out
}

func testPullTimeExclusions(t *testing.T, s metadata.Store) {
	other := metadata.Scope{Account: "210987654321", Region: scope.Region}
	role := "arn:aws:iam::123456789012:role/scanner"
	update(t, s, func(tx metadata.Tx) error {
		return tx.PutPullTimeExclusion(ctx, scope, metadata.PullTimeExclusion{Principal: role, CreatedAt: now})
	})
	if err := s.Update(ctx, func(tx metadata.Tx) error {
		return tx.PutPullTimeExclusion(ctx, scope, metadata.PullTimeExclusion{Principal: role, CreatedAt: now})
	}); !errors.Is(err, metadata.ErrExists) {
		t.Fatalf("adding twice = %v, want ErrExists", err)
	}
	list, err := s.PullTimeExclusions(ctx, scope)
	if err != nil || len(list) != 1 || list[0].Principal != role || !list[0].CreatedAt.Equal(now) {
		t.Fatalf("PullTimeExclusions = %+v, %v", list, err)
	}
	if list, _ := s.PullTimeExclusions(ctx, other); len(list) != 0 {
		t.Fatalf("another registry's exclusions = %+v", list)
	}
	update(t, s, func(tx metadata.Tx) error { return tx.DeletePullTimeExclusion(ctx, scope, role) })
	if err := s.Update(ctx, func(tx metadata.Tx) error { return tx.DeletePullTimeExclusion(ctx, scope, role) }); !errors.Is(err, metadata.ErrNotFound) {
		t.Fatalf("deleting twice = %v, want ErrNotFound", err)
	}
}

func testLeases(t *testing.T, s metadata.Store) {
	acquire := func(holder string, at time.Time) bool {
		t.Helper()
		var held bool
		update(t, s, func(tx metadata.Tx) error {
			var err error
			held, err = tx.AcquireLease(ctx, "job", holder, at, at.Add(time.Minute))
			return err
		})
		return held
	}
	if !acquire("one", now) {
		t.Fatal("a free lease was not granted")
	}
	if acquire("two", now.Add(30*time.Second)) {
		t.Fatal("a held lease was granted to another holder")
	}
	if !acquire("one", now.Add(30*time.Second)) {
		t.Fatal("the holder could not renew its lease")
	}
	if acquire("two", now.Add(80*time.Second)) {
		t.Fatal("a renewed lease expired at its first term")
	}
	if !acquire("two", now.Add(91*time.Second)) {
		t.Fatal("an expired lease was not granted")
	}
	update(t, s, func(tx metadata.Tx) error { return tx.ReleaseLease(ctx, "job", "one") }) // not its lease: nothing
	if acquire("one", now.Add(92*time.Second)) {
		t.Fatal("a release by a former holder freed the lease")
	}
	update(t, s, func(tx metadata.Tx) error { return tx.ReleaseLease(ctx, "job", "two") })
	if !acquire("one", now.Add(93*time.Second)) {
		t.Fatal("a released lease was not granted")
	}

	// A process's previous run: its leases are freed by its name, those
	// of others (and names it is only a prefix of) are not.
	for _, h := range []string{"host:/data/a1", "host:/data-2/b1"} {
		update(t, s, func(tx metadata.Tx) error {
			_, err := tx.AcquireLease(ctx, "job-"+h, h, now, now.Add(time.Hour))
			return err
		})
	}
	var freed int
	update(t, s, func(tx metadata.Tx) error {
		var err error
		freed, err = tx.ReleaseLeasesOf(ctx, "host:/data/")
		return err
	})
	if freed != 1 {
		t.Errorf("ReleaseLeasesOf freed %d leases, want 1", freed)
	}
	var other bool
	update(t, s, func(tx metadata.Tx) error {
		var err error
		other, err = tx.AcquireLease(ctx, "job-host:/data-2/b1", "someone", now, now.Add(time.Hour))
		return err
	})
	if other {
		t.Error("ReleaseLeasesOf freed the lease of a holder it is not a prefix of")
	}
	var freedOne bool
	update(t, s, func(tx metadata.Tx) error {
		var err error
		freedOne, err = tx.AcquireLease(ctx, "job-host:/data/a1", "someone", now, now.Add(time.Hour))
		return err
	})
	if !freedOne {
		t.Error("a lease ReleaseLeasesOf freed is still held")
	}
}

func testRegistryPolicies(t *testing.T, s metadata.Store) {
	other := metadata.Scope{Account: scope.Account, Region: "eu-west-1"}
	if _, err := s.RegistryPolicy(ctx, scope); !errors.Is(err, metadata.ErrNotFound) {
		t.Fatalf("RegistryPolicy before a put = %v", err)
	}
	update(t, s, func(tx metadata.Tx) error { return tx.PutRegistryPolicy(ctx, scope, "one") })
	update(t, s, func(tx metadata.Tx) error { return tx.PutRegistryPolicy(ctx, scope, "two") })
	if p, err := s.RegistryPolicy(ctx, scope); err != nil || p != "two" {
		t.Fatalf("RegistryPolicy = %q, %v", p, err)
	}
	if _, err := s.RegistryPolicy(ctx, other); !errors.Is(err, metadata.ErrNotFound) {
		t.Fatalf("another region's policy = %v", err)
	}
	update(t, s, func(tx metadata.Tx) error { return tx.DeleteRegistryPolicy(ctx, scope) })
	if err := s.Update(ctx, func(tx metadata.Tx) error { return tx.DeleteRegistryPolicy(ctx, scope) }); !errors.Is(err, metadata.ErrNotFound) {
		t.Fatalf("deleting twice = %v", err)
	}
}
