// Package metadatatest is the conformance suite every metadata.Store
// backend must pass. A backend's test calls Run with a constructor that
// returns a fresh, empty store.
package metadatatest

import (
	"context"
	"errors"
	"fmt"
	"maps"
	"reflect"
	"slices"
	"sync"
	"testing"
	"time"

	"github.com/opencontainers/go-digest"

	"github.com/ecrd/ecrd/internal/metadata"
)

// Run runs every test of the suite against stores made by newStore.
func Run(t *testing.T, newStore func(t *testing.T) metadata.Store) {
	tests := []storeTest{
		{"Repositories", testRepositories},
		{"RepositoriesAreScoped", testScopes},
		{"BlobLinks", testBlobLinks},
		{"ImagesAndTags", testImagesAndTags},
		{"TagPagination", testTagPagination},
		{"DeleteImageRemovesTagsAndRefs", testDeleteImage},
		{"Referrers", testReferrers},
		{"RollbackLeavesNothing", testRollback},
		{"UpdateNoSync", testUpdateNoSync},
		{"WritesAreSerialized", testSerialized},
		{"Uploads", testUploads},
		{"RecordPulls", testRecordPulls},
		{"RepositorySettingsAndTags", testRepositorySettings},
		{"DeleteRepository", testDeleteRepository},
		{"ImageListing", testImageListing},
		{"ImagesByPush", testImagesByPush},
		{"RepositorySummaries", testRepositorySummaries},
		{"RepositoryNameOrder", testRepositoryNameOrder},
		{"AccountsAndAccessKeys", testAccounts},
		{"CreationTemplatesAndSettings", testTemplatesAndSettings},
		{"Ready", func(t *testing.T, s metadata.Store) {
			if err := s.Ready(context.Background()); err != nil {
				t.Fatal(err)
			}
		}},
	}
	runTests(t, newStore, tests)
	runTests(t, newStore, gcTests)
	runTests(t, newStore, lifecycleTests)
	runTests(t, newStore, iamTests)
	runTests(t, newStore, scanTests)
	runTests(t, newStore, replicationTests)
	runTests(t, newStore, auditTests)
	runTests(t, newStore, metricsTests)
}

// storeTest is one test of the suite, run on a new store.
type storeTest struct {
	name string
	fn   func(t *testing.T, s metadata.Store)
}

func runTests(t *testing.T, newStore func(t *testing.T) metadata.Store, tests []storeTest) {
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			s := newStore(t)
			t.Cleanup(func() { s.Close() })
			tt.fn(t, s)
		})
	}
}

var (
	ctx   = context.Background()
	now   = time.Date(2026, 11, 26, 12, 0, 0, 0, time.UTC)
	scope = metadata.Scope{Account: "123456789012", Region: "us-east-1"}
)

func key(name string) metadata.RepoKey { return metadata.RepoKey{Scope: scope, Name: name} }

func update(t *testing.T, s metadata.Store, fn func(tx metadata.Tx) error) {
	t.Helper()
	if err := s.Update(ctx, fn); err != nil {
		t.Fatal(err)
	}
}

func createRepo(t *testing.T, s metadata.Store, k metadata.RepoKey) metadata.Repository {
	t.Helper()
	var repo metadata.Repository
	update(t, s, func(tx metadata.Tx) error {
		var err error
		repo, err = tx.CreateRepository(ctx, metadata.Repository{Key: k, CreatedAt: now})
		return err
	})
	return repo
}

func image(repoID int64, content string) metadata.Image {
	return metadata.Image{
		RepoID:       repoID,
		Digest:       digest.FromString(content),
		MediaType:    "application/vnd.oci.image.manifest.v1+json",
		ArtifactType: "application/vnd.example",
		Size:         int64(len(content)),
		ImageSize:    1000 + int64(len(content)),
		PushedAt:     now,
		Content:      []byte(content),
	}
}

func putImage(t *testing.T, s metadata.Store, img metadata.Image, refs []metadata.Ref, tags ...string) {
	t.Helper()
	update(t, s, func(tx metadata.Tx) error {
		if err := tx.PutImage(ctx, img, refs); err != nil {
			return err
		}
		for _, tag := range tags {
			if err := tx.PutTag(ctx, img.RepoID, tag, img.Digest, now); err != nil {
				return err
			}
		}
		return nil
	})
}

func testRepositories(t *testing.T, s metadata.Store) {
	if _, err := s.Repository(ctx, key("missing")); !errors.Is(err, metadata.ErrNotFound) {
		t.Fatalf("Repository(missing) = %v, want ErrNotFound", err)
	}
	a := createRepo(t, s, key("team/a"))
	if a.ID == 0 || a.Key != key("team/a") || !a.CreatedAt.Equal(now) {
		t.Fatalf("created %+v", a)
	}
	err := s.Update(ctx, func(tx metadata.Tx) error {
		_, err := tx.CreateRepository(ctx, metadata.Repository{Key: key("team/a"), CreatedAt: now})
		return err
	})
	if !errors.Is(err, metadata.ErrExists) {
		t.Fatalf("second create = %v, want ErrExists", err)
	}
	got, err := s.Repository(ctx, key("team/a"))
	if err != nil || got.ID != a.ID || !got.CreatedAt.Equal(now) {
		t.Fatalf("Repository = %+v, %v; want %+v", got, err, a)
	}
	for _, n := range []string{"team/c", "team/b", "aaa"} {
		createRepo(t, s, key(n))
	}
	page, err := s.Repositories(ctx, scope, "", 2)
	if err != nil {
		t.Fatal(err)
	}
	if names := repoNames(page); !slices.Equal(names, []string{"aaa", "team/a"}) {
		t.Fatalf("first page = %v", names)
	}
	page, err = s.Repositories(ctx, scope, "team/a", 10)
	if err != nil {
		t.Fatal(err)
	}
	if names := repoNames(page); !slices.Equal(names, []string{"team/b", "team/c"}) {
		t.Fatalf("page after team/a = %v", names)
	}
}

func repoNames(repos []metadata.Repository) []string {
	var out []string
	for _, r := range repos {
		out = append(out, r.Key.Name)
	}
	return out
}

func testScopes(t *testing.T, s metadata.Store) {
	other := []metadata.RepoKey{
		{Scope: metadata.Scope{Account: "210987654321", Region: scope.Region}, Name: "app"},
		{Scope: metadata.Scope{Account: scope.Account, Region: "eu-west-1"}, Name: "app"},
	}
	mine := createRepo(t, s, key("app"))
	var foreign metadata.Repository
	for _, k := range other {
		foreign = createRepo(t, s, k)
		if foreign.ID == mine.ID {
			t.Fatalf("repositories in different scopes share ID %d", foreign.ID)
		}
	}
	list, err := s.Repositories(ctx, scope, "", 100)
	if err != nil || len(list) != 1 || list[0].ID != mine.ID {
		t.Fatalf("Repositories(scope) = %+v, %v; want only %d", list, err, mine.ID)
	}
	b := metadata.Blob{Digest: digest.FromString("shared"), Size: 6}
	update(t, s, func(tx metadata.Tx) error { return tx.LinkBlob(ctx, foreign.ID, b, now) })
	repos, err := s.BlobRepositories(ctx, scope, b.Digest, 10)
	if err != nil || len(repos) != 0 {
		t.Fatalf("BlobRepositories found a blob linked only in another scope: %+v, %v", repos, err)
	}
}

func testBlobLinks(t *testing.T, s metadata.Store) {
	a := createRepo(t, s, key("a1"))
	b := createRepo(t, s, key("b1"))
	blob := metadata.Blob{Digest: digest.FromString("layer"), Size: 5}
	update(t, s, func(tx metadata.Tx) error {
		if err := tx.LinkBlob(ctx, a.ID, blob, now); err != nil {
			return err
		}
		return tx.LinkBlob(ctx, a.ID, blob, now) // twice is fine
	})
	got, err := s.Blob(ctx, a.ID, blob.Digest)
	if err != nil || got != blob {
		t.Fatalf("Blob = %+v, %v; want %+v", got, err, blob)
	}
	if _, err := s.Blob(ctx, b.ID, blob.Digest); !errors.Is(err, metadata.ErrNotFound) {
		t.Fatalf("blob of a1 is visible in b1: %v", err)
	}
	repos, err := s.BlobRepositories(ctx, scope, blob.Digest, 10)
	if err != nil || len(repos) != 1 || repos[0].ID != a.ID {
		t.Fatalf("BlobRepositories = %+v, %v", repos, err)
	}
	update(t, s, func(tx metadata.Tx) error { return tx.UnlinkBlob(ctx, a.ID, blob.Digest) })
	if _, err := s.Blob(ctx, a.ID, blob.Digest); !errors.Is(err, metadata.ErrNotFound) {
		t.Fatalf("blob still linked after unlink: %v", err)
	}
	err = s.Update(ctx, func(tx metadata.Tx) error { return tx.UnlinkBlob(ctx, a.ID, blob.Digest) })
	if !errors.Is(err, metadata.ErrNotFound) {
		t.Fatalf("second unlink = %v, want ErrNotFound", err)
	}
}

func testImagesAndTags(t *testing.T, s metadata.Store) {
	repo := createRepo(t, s, key("img"))
	img := image(repo.ID, `{"first":true}`)
	img.Annotations = map[string]string{"org.example": "yes"}
	putImage(t, s, img, []metadata.Ref{{Digest: digest.FromString("cfg"), Kind: metadata.RefBlob}}, "v1", "latest")

	got, err := s.Image(ctx, repo.ID, img.Digest)
	if err != nil {
		t.Fatal(err)
	}
	if string(got.Content) != string(img.Content) || got.MediaType != img.MediaType || got.ArtifactType != img.ArtifactType ||
		got.Size != img.Size || got.ImageSize != img.ImageSize || !got.PushedAt.Equal(now) || !got.LastPulledAt.IsZero() || got.Annotations["org.example"] != "yes" {
		t.Fatalf("Image = %+v", got)
	}
	byTag, err := s.Tag(ctx, repo.ID, "latest")
	if err != nil || byTag.Digest != img.Digest || string(byTag.Content) != string(img.Content) {
		t.Fatalf("Tag(latest) = %+v, %v", byTag, err)
	}
	if _, err := s.Tag(ctx, repo.ID, "nope"); !errors.Is(err, metadata.ErrNotFound) {
		t.Fatalf("Tag(nope) = %v, want ErrNotFound", err)
	}

	// Re-putting keeps the first push time.
	again := img
	again.PushedAt = now.Add(time.Hour)
	putImage(t, s, again, nil)
	if got, _ := s.Image(ctx, repo.ID, img.Digest); !got.PushedAt.Equal(now) {
		t.Fatalf("push time changed to %v on a re-put", got.PushedAt)
	}

	// Moving a tag.
	img2 := image(repo.ID, `{"second":true}`)
	putImage(t, s, img2, nil, "latest")
	if byTag, _ := s.Tag(ctx, repo.ID, "latest"); byTag.Digest != img2.Digest {
		t.Fatalf("latest = %s after moving it, want %s", byTag.Digest, img2.Digest)
	}
	// A tag must point into the repository.
	err = s.Update(ctx, func(tx metadata.Tx) error {
		return tx.PutTag(ctx, repo.ID, "dangling", digest.FromString("absent"), now)
	})
	if err == nil {
		t.Fatal("tagging a manifest that is not in the repository succeeded")
	}
	update(t, s, func(tx metadata.Tx) error { return tx.DeleteTag(ctx, repo.ID, "v1") })
	tags, err := s.Tags(ctx, repo.ID, "", 100)
	if err != nil || !slices.Equal(tags, []string{"latest"}) {
		t.Fatalf("Tags = %v, %v", tags, err)
	}
	if err := s.Update(ctx, func(tx metadata.Tx) error { return tx.DeleteTag(ctx, repo.ID, "v1") }); !errors.Is(err, metadata.ErrNotFound) {
		t.Fatalf("deleting a missing tag = %v, want ErrNotFound", err)
	}
}

func testTagPagination(t *testing.T, s metadata.Store) {
	repo := createRepo(t, s, key("pages"))
	img := image(repo.ID, "{}")
	want := []string{"a", "b", "c", "d", "e"}
	putImage(t, s, img, nil, "e", "c", "a", "d", "b")
	var got []string
	after := ""
	for {
		page, err := s.Tags(ctx, repo.ID, after, 2)
		if err != nil {
			t.Fatal(err)
		}
		if len(page) == 0 {
			break
		}
		if len(page) > 2 {
			t.Fatalf("page of %d tags with limit 2", len(page))
		}
		got = append(got, page...)
		after = page[len(page)-1]
	}
	if !slices.Equal(got, want) {
		t.Fatalf("paged tags = %v, want %v", got, want)
	}
}

func testDeleteImage(t *testing.T, s metadata.Store) {
	repo := createRepo(t, s, key("del"))
	child := image(repo.ID, `{"child":1}`)
	index := image(repo.ID, `{"index":1}`)
	putImage(t, s, child, nil, "child")
	putImage(t, s, index, []metadata.Ref{{Digest: child.Digest, Kind: metadata.RefManifest}}, "idx", "idx2")
	parents, err := s.Parents(ctx, repo.ID, child.Digest)
	if err != nil || !slices.Equal(parents, []digest.Digest{index.Digest}) {
		t.Fatalf("Parents = %v, %v", parents, err)
	}
	update(t, s, func(tx metadata.Tx) error { return tx.DeleteImage(ctx, repo.ID, index.Digest) })
	if _, err := s.Image(ctx, repo.ID, index.Digest); !errors.Is(err, metadata.ErrNotFound) {
		t.Fatalf("image still there: %v", err)
	}
	tags, _ := s.Tags(ctx, repo.ID, "", 100)
	if !slices.Equal(tags, []string{"child"}) {
		t.Fatalf("tags after deleting the index = %v, want [child]", tags)
	}
	if parents, _ := s.Parents(ctx, repo.ID, child.Digest); len(parents) != 0 {
		t.Fatalf("references survived their image: %v", parents)
	}
	if err := s.Update(ctx, func(tx metadata.Tx) error { return tx.DeleteImage(ctx, repo.ID, index.Digest) }); !errors.Is(err, metadata.ErrNotFound) {
		t.Fatalf("second delete = %v, want ErrNotFound", err)
	}
}

func testReferrers(t *testing.T, s metadata.Store) {
	repo := createRepo(t, s, key("refs"))
	subject := image(repo.ID, `{"subject":1}`)
	putImage(t, s, subject, nil)
	var want []digest.Digest
	for i := range 3 {
		sig := image(repo.ID, fmt.Sprintf(`{"sig":%d}`, i))
		sig.Subject = subject.Digest
		sig.Annotations = map[string]string{"n": fmt.Sprint(i)}
		putImage(t, s, sig, nil)
		want = append(want, sig.Digest)
	}
	slices.Sort(want)
	refs, err := s.Referrers(ctx, repo.ID, subject.Digest)
	if err != nil {
		t.Fatal(err)
	}
	var got []digest.Digest
	for _, r := range refs {
		got = append(got, r.Digest)
		if r.Subject != subject.Digest || r.Annotations["n"] == "" || r.ArtifactType == "" || r.Size == 0 {
			t.Errorf("referrer %+v lacks fields", r)
		}
	}
	if !slices.Equal(got, want) {
		t.Fatalf("Referrers = %v, want %v", got, want)
	}
	if refs, _ := s.Referrers(ctx, repo.ID, digest.FromString("nobody")); len(refs) != 0 {
		t.Fatalf("Referrers of an unknown subject = %v", refs)
	}
}

func testRollback(t *testing.T, s metadata.Store) {
	boom := errors.New("boom")
	err := s.Update(ctx, func(tx metadata.Tx) error {
		repo, err := tx.CreateRepository(ctx, metadata.Repository{Key: key("rolled"), CreatedAt: now})
		if err != nil {
			return err
		}
		if err := tx.LinkBlob(ctx, repo.ID, metadata.Blob{Digest: digest.FromString("x"), Size: 1}, now); err != nil {
			return err
		}
		return boom
	})
	if !errors.Is(err, boom) {
		t.Fatalf("Update = %v, want the callback's error", err)
	}
	if _, err := s.Repository(ctx, key("rolled")); !errors.Is(err, metadata.ErrNotFound) {
		t.Fatalf("rolled-back repository exists: %v", err)
	}
}

func testUpdateNoSync(t *testing.T, s metadata.Store) {
	u := metadata.Upload{ID: "nosync", Repo: key("up"), StartedAt: now, UpdatedAt: now}
	if err := s.UpdateNoSync(ctx, func(tx metadata.Tx) error { return tx.PutUpload(ctx, u) }); err != nil {
		t.Fatal(err)
	}
	if _, err := s.Upload(ctx, "nosync"); err != nil {
		t.Fatalf("an UpdateNoSync write is not visible: %v", err)
	}
	boom := errors.New("boom")
	err := s.UpdateNoSync(ctx, func(tx metadata.Tx) error {
		if err := tx.DeleteUpload(ctx, "nosync"); err != nil {
			return err
		}
		return boom
	})
	if !errors.Is(err, boom) {
		t.Fatalf("UpdateNoSync = %v, want the callback's error", err)
	}
	if _, err := s.Upload(ctx, "nosync"); err != nil {
		t.Fatalf("a rolled-back UpdateNoSync took effect: %v", err)
	}
	// Durable and non-durable writes interleave freely.
	update(t, s, func(tx metadata.Tx) error { return tx.DeleteUpload(ctx, "nosync") })
	if _, err := s.Upload(ctx, "nosync"); !errors.Is(err, metadata.ErrNotFound) {
		t.Fatalf("upload after a durable delete = %v", err)
	}
}

// testSerialized checks that a rule checked inside Update holds at commit:
// of many concurrent "tag only if untagged" transactions, exactly one wins.
func testSerialized(t *testing.T, s metadata.Store) {
	repo := createRepo(t, s, key("race"))
	img := image(repo.ID, "{}")
	putImage(t, s, img, nil)
	var wg sync.WaitGroup
	for i := range 16 {
		wg.Add(1)
		go func() {
			defer wg.Done()
			err := s.Update(ctx, func(tx metadata.Tx) error {
				tags, err := tx.Tags(ctx, repo.ID, "", 10)
				if err != nil || len(tags) > 0 {
					return err
				}
				return tx.PutTag(ctx, repo.ID, fmt.Sprintf("winner-%d", i), img.Digest, now)
			})
			if err != nil {
				t.Error(err)
			}
		}()
	}
	wg.Wait()
	tags, err := s.Tags(ctx, repo.ID, "", 100)
	if err != nil || len(tags) != 1 {
		t.Fatalf("tags = %v, %v; want exactly one winner", tags, err)
	}
}

func testUploads(t *testing.T, s metadata.Store) {
	u := metadata.Upload{ID: "u1", Repo: key("up"), StartedAt: now, UpdatedAt: now}
	update(t, s, func(tx metadata.Tx) error { return tx.PutUpload(ctx, u) })
	got, err := s.Upload(ctx, "u1")
	if err != nil || got.Repo != u.Repo || got.Size != 0 || !got.StartedAt.Equal(now) {
		t.Fatalf("Upload = %+v, %v", got, err)
	}
	if got.Finishing != "" {
		t.Fatalf("new upload is finishing as %q", got.Finishing)
	}
	u.Size, u.HashState, u.UpdatedAt, u.LastPart = 42, []byte{1, 2, 3}, now.Add(time.Minute), 40
	u.Finishing = digest.FromString("u1's bytes")
	update(t, s, func(tx metadata.Tx) error { return tx.PutUpload(ctx, u) })
	got, _ = s.Upload(ctx, "u1")
	if got.Size != 42 || got.LastPart != 40 || string(got.HashState) != "\x01\x02\x03" || !got.UpdatedAt.Equal(u.UpdatedAt) || !got.StartedAt.Equal(now) || got.Finishing != u.Finishing {
		t.Fatalf("updated upload = %+v", got)
	}
	if all, _ := s.Uploads(ctx); len(all) != 1 || all[0].Finishing != u.Finishing {
		t.Fatalf("Uploads = %+v", all)
	}
	u.Finishing = ""
	update(t, s, func(tx metadata.Tx) error { return tx.PutUpload(ctx, u) })
	if got, _ = s.Upload(ctx, "u1"); got.Finishing != "" {
		t.Fatalf("upload still finishing as %q after it was cleared", got.Finishing)
	}
	update(t, s, func(tx metadata.Tx) error {
		return tx.PutUpload(ctx, metadata.Upload{ID: "u2", Repo: key("up"), StartedAt: now, UpdatedAt: now})
	})
	all, err := s.Uploads(ctx)
	if err != nil || len(all) != 2 {
		t.Fatalf("Uploads = %+v, %v", all, err)
	}
	update(t, s, func(tx metadata.Tx) error { return tx.DeleteUpload(ctx, "u1") })
	update(t, s, func(tx metadata.Tx) error { return tx.DeleteUpload(ctx, "u1") })
	if _, err := s.Upload(ctx, "u1"); !errors.Is(err, metadata.ErrNotFound) {
		t.Fatalf("deleted upload = %v", err)
	}
}

func testRecordPulls(t *testing.T, s metadata.Store) {
	repo := createRepo(t, s, key("pulls"))
	img := image(repo.ID, "{}")
	putImage(t, s, img, nil)
	later, earlier := now.Add(2*time.Hour), now.Add(time.Hour)
	if err := s.RecordPulls(ctx, []metadata.Pull{{RepoID: repo.ID, Digest: img.Digest, At: later}}); err != nil {
		t.Fatal(err)
	}
	if err := s.RecordPulls(ctx, []metadata.Pull{
		{RepoID: repo.ID, Digest: img.Digest, At: earlier},
		{RepoID: repo.ID, Digest: digest.FromString("deleted meanwhile"), At: later},
	}); err != nil {
		t.Fatal(err)
	}
	got, _ := s.Image(ctx, repo.ID, img.Digest)
	if !got.LastPulledAt.Equal(later) {
		t.Fatalf("LastPulledAt = %v, want %v (never lowered)", got.LastPulledAt, later)
	}
}

func testRepositorySettings(t *testing.T, s metadata.Store) {
	repo := metadata.Repository{
		Key:       key("configured"),
		CreatedAt: now,
		Settings: metadata.RepositorySettings{
			TagMutability: "IMMUTABLE_WITH_EXCLUSION", MutabilityExclusions: []string{"latest", "dev-*"},
			EncryptionType: "KMS", KMSKey: "arn:aws:kms:us-east-1:123456789012:key/k", ScanOnPush: true,
		},
		Tags: []metadata.ResourceTag{{Key: "env", Value: "prod"}},
	}
	update(t, s, func(tx metadata.Tx) error {
		var err error
		repo, err = tx.CreateRepository(ctx, repo)
		return err
	})
	got, err := s.Repository(ctx, key("configured"))
	if err != nil || !reflect.DeepEqual(got.Settings, repo.Settings) || !reflect.DeepEqual(got.Tags, repo.Tags) {
		t.Fatalf("Repository = %+v, %v; want %+v", got, err, repo)
	}
	repo.Settings.TagMutability, repo.Settings.MutabilityExclusions = "MUTABLE", nil
	repo.Tags = nil
	update(t, s, func(tx metadata.Tx) error { return tx.UpdateRepository(ctx, repo) })
	got, _ = s.Repository(ctx, key("configured"))
	if got.Settings.TagMutability != "MUTABLE" || got.Settings.MutabilityExclusions != nil || len(got.Tags) != 0 || !got.Settings.ScanOnPush {
		t.Fatalf("after update = %+v", got)
	}
	list, _ := s.Repositories(ctx, scope, "", 10)
	if len(list) != 1 || list[0].Settings.EncryptionType != "KMS" {
		t.Fatalf("Repositories lost settings: %+v", list)
	}
}

func testDeleteRepository(t *testing.T, s metadata.Store) {
	repo := createRepo(t, s, key("doomed"))
	other := createRepo(t, s, key("kept"))
	child := image(repo.ID, `{"c":1}`)
	index := image(repo.ID, `{"i":1}`)
	putImage(t, s, child, []metadata.Ref{{Digest: digest.FromString("l"), Kind: metadata.RefBlob}}, "c")
	putImage(t, s, index, []metadata.Ref{{Digest: child.Digest, Kind: metadata.RefManifest}}, "i")
	blob := metadata.Blob{Digest: digest.FromString("l"), Size: 1}
	update(t, s, func(tx metadata.Tx) error {
		if err := tx.LinkBlob(ctx, repo.ID, blob, now); err != nil {
			return err
		}
		if err := tx.LinkBlob(ctx, other.ID, blob, now); err != nil {
			return err
		}
		return tx.PutUpload(ctx, metadata.Upload{ID: "up-doomed", Repo: key("doomed"), StartedAt: now, UpdatedAt: now})
	})
	if n, err := s.RepositoryImageCount(ctx, repo.ID); err != nil || n != 2 {
		t.Fatalf("RepositoryImageCount = %d, %v; want 2", n, err)
	}
	update(t, s, func(tx metadata.Tx) error { return tx.DeleteRepository(ctx, repo.ID) })
	if _, err := s.Repository(ctx, key("doomed")); !errors.Is(err, metadata.ErrNotFound) {
		t.Fatalf("deleted repository = %v", err)
	}
	if _, err := s.Image(ctx, repo.ID, child.Digest); !errors.Is(err, metadata.ErrNotFound) {
		t.Fatalf("image of a deleted repository = %v", err)
	}
	if _, err := s.Upload(ctx, "up-doomed"); !errors.Is(err, metadata.ErrNotFound) {
		t.Fatalf("upload of a deleted repository = %v", err)
	}
	if _, err := s.Blob(ctx, other.ID, blob.Digest); err != nil {
		t.Fatalf("another repository lost its blob link: %v", err)
	}
	if err := s.Update(ctx, func(tx metadata.Tx) error { return tx.DeleteRepository(ctx, repo.ID) }); !errors.Is(err, metadata.ErrNotFound) {
		t.Fatalf("second delete = %v", err)
	}
}

func testImageListing(t *testing.T, s metadata.Store) {
	repo := createRepo(t, s, key("listing"))
	var all []digest.Digest
	for i := range 5 {
		img := image(repo.ID, fmt.Sprintf(`{"n":%d}`, i))
		var tags []string
		if i%2 == 0 {
			tags = []string{fmt.Sprintf("v%d", i), fmt.Sprintf("a%d", i)}
		}
		putImage(t, s, img, nil, tags...)
		all = append(all, img.Digest)
	}
	slices.Sort(all)
	var got []digest.Digest
	var after digest.Digest
	for {
		page, err := s.Images(ctx, repo.ID, metadata.ImageFilter{}, after, 2)
		if err != nil {
			t.Fatal(err)
		}
		if len(page) == 0 {
			break
		}
		for _, p := range page {
			got = append(got, p.Digest)
			if len(p.Content) != 0 {
				t.Errorf("listing carries content")
			}
			if len(p.Tags) > 0 && !slices.IsSorted(p.Tags) {
				t.Errorf("tags not sorted: %v", p.Tags)
			}
		}
		after = page[len(page)-1].Digest
	}
	if !slices.Equal(got, all) {
		t.Fatalf("paged images = %v, want %v", got, all)
	}
	yes, no := true, false
	tagged, _ := s.Images(ctx, repo.ID, metadata.ImageFilter{Tagged: &yes}, "", 100)
	untagged, _ := s.Images(ctx, repo.ID, metadata.ImageFilter{Tagged: &no}, "", 100)
	if len(tagged) != 3 || len(untagged) != 2 {
		t.Fatalf("tagged %d, untagged %d; want 3 and 2", len(tagged), len(untagged))
	}
	for _, im := range tagged {
		if len(im.Tags) != 2 {
			t.Errorf("tagged image %s has tags %v", im.Digest, im.Tags)
		}
		tags, err := s.ImageTags(ctx, repo.ID, im.Digest)
		if err != nil || !slices.Equal(tags, im.Tags) {
			t.Errorf("ImageTags = %v, %v; want %v", tags, err, im.Tags)
		}
	}
	for _, im := range untagged {
		if len(im.Tags) != 0 {
			t.Errorf("untagged image %s has tags %v", im.Digest, im.Tags)
		}
	}
	// A listing of IDs only: the same images and tags, page by page,
	// under every filter, and nothing else filled.
	for _, f := range []metadata.ImageFilter{{}, {Tagged: &yes}, {Tagged: &no}} {
		full, err := s.Images(ctx, repo.ID, f, "", 100)
		if err != nil {
			t.Fatal(err)
		}
		idf := f
		idf.IDsOnly = true
		var ids []metadata.ImageSummary
		var after digest.Digest
		for {
			page, err := s.Images(ctx, repo.ID, idf, after, 2)
			if err != nil {
				t.Fatal(err)
			}
			if len(page) == 0 {
				break
			}
			ids = append(ids, page...)
			after = page[len(page)-1].Digest
		}
		if len(ids) != len(full) {
			t.Fatalf("IDs only, tagged %v: %d images, want %d", f.Tagged, len(ids), len(full))
		}
		for i := range full {
			if ids[i].Digest != full[i].Digest || !slices.Equal(ids[i].Tags, full[i].Tags) {
				t.Errorf("IDs only, tagged %v: image %d is %s %v, want %s %v", f.Tagged, i, ids[i].Digest, ids[i].Tags, full[i].Digest, full[i].Tags)
			}
			if ids[i].MediaType != "" || ids[i].Size != 0 || !ids[i].PushedAt.IsZero() {
				t.Errorf("IDs only: image %s has fields beside its digest and tags: %+v", ids[i].Digest, ids[i].Image)
			}
		}
	}
}

func testAccounts(t *testing.T, s metadata.Store) {
	update(t, s, func(tx metadata.Tx) error {
		return tx.CreateAccount(ctx, metadata.Account{ID: "210987654321", CreatedAt: now})
	})
	update(t, s, func(tx metadata.Tx) error {
		return tx.CreateAccount(ctx, metadata.Account{ID: "123456789012", CreatedAt: now})
	})
	err := s.Update(ctx, func(tx metadata.Tx) error {
		return tx.CreateAccount(ctx, metadata.Account{ID: "123456789012", CreatedAt: now})
	})
	if !errors.Is(err, metadata.ErrExists) {
		t.Fatalf("second CreateAccount = %v, want ErrExists", err)
	}
	accounts, err := s.Accounts(ctx)
	if err != nil || len(accounts) != 2 || accounts[0].ID != "123456789012" || !accounts[0].CreatedAt.Equal(now) {
		t.Fatalf("Accounts = %+v, %v", accounts, err)
	}
	if _, err := s.Account(ctx, "999999999999"); !errors.Is(err, metadata.ErrNotFound) {
		t.Fatalf("Account(missing) = %v", err)
	}
	k := metadata.AccessKey{ID: "AKIAEXAMPLE1", Account: "123456789012", Principal: "arn:aws:iam::123456789012:root",
		Secret: []byte{1, 2, 3}, Status: "Active", CreatedAt: now}
	update(t, s, func(tx metadata.Tx) error { return tx.PutAccessKey(ctx, k) })
	update(t, s, func(tx metadata.Tx) error {
		return tx.PutAccessKey(ctx, metadata.AccessKey{ID: "AKIAEXAMPLE2", Account: "210987654321", Principal: "arn:aws:iam::210987654321:root",
			Secret: []byte{4}, Status: "Active", CreatedAt: now})
	})
	got, err := s.AccessKey(ctx, "AKIAEXAMPLE1")
	if err != nil || !reflect.DeepEqual(got, k) {
		t.Fatalf("AccessKey = %+v, %v; want %+v", got, err, k)
	}
	mine, _ := s.AccessKeys(ctx, "123456789012")
	all, _ := s.AccessKeys(ctx, "")
	if len(mine) != 1 || len(all) != 2 {
		t.Fatalf("AccessKeys: %d of the account, %d in all", len(mine), len(all))
	}
	err = s.Update(ctx, func(tx metadata.Tx) error {
		return tx.PutAccessKey(ctx, metadata.AccessKey{ID: "AKIAORPHAN", Account: "555555555555", Principal: "x", Secret: []byte{1}, Status: "Active", CreatedAt: now})
	})
	if err == nil {
		t.Fatal("an access key of a missing account was stored")
	}
}

func testTemplatesAndSettings(t *testing.T, s metadata.Store) {
	tpl := metadata.CreationTemplate{Scope: scope, Prefix: "team", Document: []byte(`{"a":1}`), CreatedAt: now, UpdatedAt: now}
	update(t, s, func(tx metadata.Tx) error { return tx.PutCreationTemplate(ctx, tpl) })
	update(t, s, func(tx metadata.Tx) error {
		return tx.PutCreationTemplate(ctx, metadata.CreationTemplate{Scope: scope, Prefix: "ROOT", Document: []byte(`{}`), CreatedAt: now, UpdatedAt: now})
	})
	later := tpl
	later.Document, later.UpdatedAt, later.CreatedAt = []byte(`{"a":2}`), now.Add(time.Hour), now.Add(time.Hour)
	update(t, s, func(tx metadata.Tx) error { return tx.PutCreationTemplate(ctx, later) })
	list, err := s.CreationTemplates(ctx, scope)
	if err != nil || len(list) != 2 || list[0].Prefix != "ROOT" || list[1].Prefix != "team" {
		t.Fatalf("CreationTemplates = %+v, %v", list, err)
	}
	if string(list[1].Document) != `{"a":2}` || !list[1].CreatedAt.Equal(now) || !list[1].UpdatedAt.Equal(now.Add(time.Hour)) {
		t.Fatalf("replaced template = %+v (creation time must stay)", list[1])
	}
	other := metadata.Scope{Account: scope.Account, Region: "eu-west-1"}
	if l, _ := s.CreationTemplates(ctx, other); len(l) != 0 {
		t.Fatalf("templates leak across regions: %+v", l)
	}
	update(t, s, func(tx metadata.Tx) error { return tx.DeleteCreationTemplate(ctx, scope, "team") })
	if err := s.Update(ctx, func(tx metadata.Tx) error { return tx.DeleteCreationTemplate(ctx, scope, "team") }); !errors.Is(err, metadata.ErrNotFound) {
		t.Fatalf("second template delete = %v", err)
	}

	if _, err := s.AccountSetting(ctx, scope, "BLOB_MOUNTING"); !errors.Is(err, metadata.ErrNotFound) {
		t.Fatalf("unset setting = %v", err)
	}
	update(t, s, func(tx metadata.Tx) error { return tx.PutAccountSetting(ctx, scope, "BLOB_MOUNTING", "DISABLED") })
	update(t, s, func(tx metadata.Tx) error { return tx.PutAccountSetting(ctx, scope, "BLOB_MOUNTING", "ENABLED") })
	if v, err := s.AccountSetting(ctx, scope, "BLOB_MOUNTING"); err != nil || v != "ENABLED" {
		t.Fatalf("AccountSetting = %q, %v", v, err)
	}
	if _, err := s.AccountSetting(ctx, other, "BLOB_MOUNTING"); !errors.Is(err, metadata.ErrNotFound) {
		t.Fatalf("settings leak across regions: %v", err)
	}

	// Settings by prefix, and unsetting them. "_" and "%" are no
	// wildcards; a name is matched by its characters, not its bytes.
	update(t, s, func(tx metadata.Tx) error {
		for name, v := range map[string]string{"x:used:a": "1", "x:used:b": "2", "x:usedb": "3", "x_used:c": "4", "é:used:d": "5"} {
			if err := tx.PutAccountSetting(ctx, scope, name, v); err != nil {
				return err
			}
		}
		return tx.PutAccountSetting(ctx, other, "x:used:z", "9")
	})
	for prefix, want := range map[string]map[string]string{
		"x:used:": {"x:used:a": "1", "x:used:b": "2"},
		"x_used:": {"x_used:c": "4"},
		"é:used:": {"é:used:d": "5"},
		"x%":      {},
	} {
		got, err := s.AccountSettings(ctx, scope, prefix)
		if err != nil || !maps.Equal(got, want) {
			t.Errorf("AccountSettings(%q) = %v, %v; want %v", prefix, got, err, want)
		}
	}
	update(t, s, func(tx metadata.Tx) error {
		if err := tx.DeleteAccountSetting(ctx, scope, "x:used:a"); err != nil {
			return err
		}
		return tx.DeleteAccountSetting(ctx, scope, "x:used:missing") // unset already
	})
	if got, err := s.AccountSettings(ctx, scope, "x:used:"); err != nil || !maps.Equal(got, map[string]string{"x:used:b": "2"}) {
		t.Errorf("after a delete: AccountSettings = %v, %v", got, err)
	}
	if v, err := s.AccountSetting(ctx, other, "x:used:z"); err != nil || v != "9" {
		t.Errorf("a delete reached another region: %q, %v", v, err)
	}
}
