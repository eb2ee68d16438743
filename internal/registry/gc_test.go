package registry_test

import (
	"bytes"
	"context"
	"errors"
	"fmt"
	"io"
	"math/rand/v2"
	"slices"
	"strings"
	"sync"
	"sync/atomic"
	"testing"
	"testing/synctest"
	"time"

	"github.com/opencontainers/go-digest"

	"github.com/ecrd/ecrd/internal/blobstore"
	"github.com/ecrd/ecrd/internal/metadata"
	"github.com/ecrd/ecrd/internal/registry"
	"github.com/ecrd/ecrd/internal/registry/registrytest"
	"github.com/ecrd/ecrd/internal/testutil"
)

// newGCFixture returns a fixture whose clock starts at the real time, so
// that blob files' modification times (real) compare with it.
func newGCFixture(t testing.TB, grace time.Duration) (*fixture, registrytest.Stores) {
	t.Helper()
	c := &clock{now: time.Now().UTC()}
	reg, stores := registrytest.New(t, registry.Options{GCGrace: grace, Now: c.Now})
	registrytest.CreateOnPush(t, reg)
	return &fixture{reg: reg, meta: stores.Meta, blobs: stores.Blobs, clock: c}, stores
}

func (f *fixture) collect(t *testing.T) registry.GCReport {
	t.Helper()
	rep, err := f.reg.CollectGarbage(ctx)
	if err != nil {
		t.Fatalf("CollectGarbage: %v", err)
	}
	return rep
}

// storedBlobs lists the digests the blob store holds.
func storedBlobs(t *testing.T, s blobstore.Store) map[digest.Digest]bool {
	t.Helper()
	out := map[digest.Digest]bool{}
	if err := s.Walk(ctx, func(b blobstore.BlobInfo) error { out[b.Digest] = true; return nil }); err != nil {
		t.Fatal(err)
	}
	return out
}

// storeOrphan writes a blob file that no metadata records.
func storeOrphan(t *testing.T, s blobstore.Store, content []byte) digest.Digest {
	t.Helper()
	w, err := s.CreateUpload(ctx, "orphan-"+digest.FromBytes(content).Encoded()[:12])
	if err != nil {
		t.Fatal(err)
	}
	if _, err := w.Write(content); err != nil {
		t.Fatal(err)
	}
	d := digest.FromBytes(content)
	if err := w.Commit(ctx, d); err != nil {
		t.Fatal(err)
	}
	return d
}

func readAll(t *testing.T, f *fixture, repo string, d digest.Digest) ([]byte, error) {
	t.Helper()
	_, rc, err := f.reg.OpenBlob(ctx, key(repo), d.String())
	if err != nil {
		return nil, err
	}
	defer rc.Close()
	return io.ReadAll(rc)
}

func TestGCRemovesWhatNothingReferences(t *testing.T) {
	f, _ := newGCFixture(t, time.Hour)
	kept := f.pushImage(t, "team/a", "v1", "kept")
	loose := f.pushBlob(t, "team/a", []byte("pushed, never referenced"))
	gone := f.pushImage(t, "team/b", "v1", "gone")
	shared := []byte("layer shared")
	f.pushBlob(t, "team/a", shared) // referenced in b only
	f.pushBlob(t, "team/b", shared)
	config := []byte(`{"uses":"shared"}`)
	f.pushBlob(t, "team/b", config)
	if _, err := f.reg.PutManifest(ctx, key("team/b"), "v2", nil, ociManifest, manifestOf(config, shared)); err != nil {
		t.Fatal(err)
	}
	if err := f.reg.DeleteManifest(ctx, key("team/b"), digest.FromBytes(gone).String()); err != nil {
		t.Fatal(err)
	}

	if rep := f.collect(t); rep.LinksRemoved+rep.BlobsDeleted+rep.OrphansDeleted != 0 {
		t.Fatalf("collection within the grace period removed %+v", rep)
	}
	f.clock.Advance(2 * time.Hour)
	rep := f.collect(t)
	goneConfig, goneLayer := []byte(`{"seed":"gone"}`), []byte("layer gone")
	want := registry.GCReport{LinksRemoved: 4, BlobsDeleted: 3,
		BytesFreed: int64(len("pushed, never referenced") + len(goneConfig) + len(goneLayer))}
	rep.Duration = 0
	if rep != want {
		t.Fatalf("report = %+v, want %+v", rep, want)
	}
	stored := storedBlobs(t, f.blobs)
	for _, d := range []digest.Digest{loose, digest.FromBytes(goneConfig), digest.FromBytes(goneLayer)} {
		if stored[d] {
			t.Errorf("blob %s is still stored", d)
		}
	}
	if _, err := f.reg.StatBlob(ctx, key("team/a"), digest.FromBytes(shared).String()); registry.CodeOf(err) != registry.CodeBlobUnknown {
		t.Errorf("unreferenced link to a shared blob survived: %v", err)
	}
	for repo, blobs := range map[string][][]byte{
		"team/a": {[]byte(`{"seed":"kept"}`), []byte("layer kept")},
		"team/b": {config, shared},
	} {
		for _, content := range blobs {
			got, err := readAll(t, f, repo, digest.FromBytes(content))
			if err != nil || !bytes.Equal(got, content) {
				t.Errorf("blob of a kept image in %s: %q, %v", repo, got, err)
			}
		}
	}
	if _, err := f.reg.Manifest(ctx, key("team/a"), digest.FromBytes(kept).String(), false); err != nil {
		t.Fatal(err)
	}
	if rep := f.collect(t); rep.LinksRemoved+rep.BlobsDeleted+rep.OrphansDeleted != 0 {
		t.Fatalf("a second collection removed %+v", rep)
	}
}

// TestGCCheckedBlobOutlivesThePush is the race a HEAD before a push opens:
// a client finds an old unreferenced blob, skips uploading it, and pushes
// its manifest later.
func TestGCCheckedBlobOutlivesThePush(t *testing.T) {
	f, _ := newGCFixture(t, time.Hour)
	config, layer := []byte(`{"seed":"late"}`), []byte("layer late")
	f.pushBlob(t, "app", config)
	f.pushBlob(t, "app", layer)
	pushedAt := f.clock.Now()

	// A young link is not written on every check.
	f.clock.Advance(10 * time.Minute)
	if _, err := f.reg.StatBlob(ctx, key("app"), digest.FromBytes(config).String()); err != nil {
		t.Fatal(err)
	}
	repo, err := f.meta.Repository(ctx, key("app"))
	if err != nil {
		t.Fatal(err)
	}
	if l, err := f.meta.Link(ctx, repo.ID, digest.FromBytes(config)); err != nil || !l.LinkedAt.Equal(pushedAt) {
		t.Fatalf("a check of a young link moved it to %v (%v); want it left at %v", l.LinkedAt, err, pushedAt)
	}

	f.clock.Advance(40 * time.Minute) // older than grace/2: the checks refresh
	if _, err := f.reg.StatBlob(ctx, key("app"), digest.FromBytes(config).String()); err != nil {
		t.Fatal(err)
	}
	avail, failures, err := f.reg.BatchCheckLayerAvailability(ctx, key("app"), []string{digest.FromBytes(layer).String()})
	if err != nil || len(avail) != 1 || len(failures) != 0 {
		t.Fatalf("BatchCheckLayerAvailability = %v, %v, %v", avail, failures, err)
	}
	f.clock.Advance(40 * time.Minute) // pushed 90 minutes ago, checked 40 ago
	if rep := f.collect(t); rep.LinksRemoved != 0 {
		t.Fatalf("collection removed %d checked links", rep.LinksRemoved)
	}
	if _, err := f.reg.PutManifest(ctx, key("app"), "late", nil, ociManifest, manifestOf(config, layer)); err != nil {
		t.Fatalf("manifest push after the checks: %v", err)
	}

	// Unchecked, the same wait loses the links, and the push says so
	// instead of storing a manifest whose blobs are gone.
	other := []byte("layer unchecked")
	f.pushBlob(t, "app", other)
	f.clock.Advance(90 * time.Minute)
	f.collect(t)
	_, err = f.reg.PutManifest(ctx, key("app"), "unchecked", nil, ociManifest, manifestOf(config, other))
	wantCode(t, err, registry.CodeManifestBlobUnknown)
}

func TestGCDeletesOldOrphans(t *testing.T) {
	f, _ := newGCFixture(t, time.Hour)
	orphan := storeOrphan(t, f.blobs, []byte("crashed before its record"))
	f.pushImage(t, "app", "v1", "recorded")
	recorded := digest.FromBytes([]byte("layer recorded"))
	if rep := f.collect(t); rep.OrphansDeleted != 0 {
		t.Fatalf("a young orphan was deleted: %+v", rep)
	}
	f.clock.Advance(2 * time.Hour)
	rep := f.collect(t)
	if rep.OrphansDeleted != 1 || rep.BytesFreed != int64(len("crashed before its record")) {
		t.Fatalf("report = %+v, want one orphan deleted", rep)
	}
	stored := storedBlobs(t, f.blobs)
	if stored[orphan] || !stored[recorded] {
		t.Fatalf("stored after collection: %v; want %s gone and %s kept", stored, orphan, recorded)
	}
	if recs, err := f.meta.BlobRecords(ctx, []digest.Digest{orphan}); err != nil || len(recs) != 0 {
		t.Fatalf("the orphan's record stayed: %+v, %v", recs, err)
	}
}

// markDeleting marks an unlinked blob as a collection does before it
// deletes its bytes.
func markDeleting(t *testing.T, f *fixture, d digest.Digest) {
	t.Helper()
	err := f.meta.Update(ctx, func(tx metadata.Tx) error {
		marked, err := tx.MarkBlobsDeleting(ctx, []digest.Digest{d}, f.clock.Now())
		if err == nil && len(marked) != 1 {
			err = fmt.Errorf("blob %s could not be marked", d)
		}
		return err
	})
	if err != nil {
		t.Fatal(err)
	}
}

func holdLease(t *testing.T, f *fixture, holder string, d time.Duration) {
	t.Helper()
	now := f.clock.Now()
	err := f.meta.Update(ctx, func(tx metadata.Tx) error {
		held, err := tx.AcquireLease(ctx, "gc", holder, now, now.Add(d))
		if err == nil && !held {
			err = errors.New("lease is taken")
		}
		return err
	})
	if err != nil {
		t.Fatal(err)
	}
}

// unlinkedBlob pushes a blob and deletes its only link, so that it is
// garbage once the grace period is over.
func unlinkedBlob(t *testing.T, f *fixture, content []byte) digest.Digest {
	t.Helper()
	d := f.pushBlob(t, "app", content)
	if err := f.reg.DeleteBlob(ctx, key("app"), d.String()); err != nil {
		t.Fatal(err)
	}
	f.clock.Advance(2 * time.Hour)
	return d
}

// The push tests run in synctest bubbles: the push's pauses between tries
// and the tests' timeouts are on the bubble's fake clock, so they take no
// real time and a timeout passes only while the push is waiting.
func TestGCPushWaitsForADeletion(t *testing.T) {
	synctest.Test(t, testGCPushWaitsForADeletion)
}

func testGCPushWaitsForADeletion(t *testing.T) {
	f, _ := newGCFixture(t, time.Hour)
	content := []byte("pushed again while collected")
	d := unlinkedBlob(t, f, content)
	holdLease(t, f, "collector", 10*time.Minute) // a live collection...
	markDeleting(t, f, d)                        // ...is deleting the blob

	done := make(chan error, 1)
	go func() {
		_, err := f.reg.PutBlob(ctx, key("app"), d.String(), bytes.NewReader(content), int64(len(content)))
		done <- err
	}()
	select {
	case err := <-done:
		t.Fatalf("the push did not wait for the deletion: %v", err)
	case <-time.After(400 * time.Millisecond):
	}
	// The collection deletes the bytes, then the record.
	if err := f.blobs.Delete(ctx, d); err != nil {
		t.Fatal(err)
	}
	if err := f.meta.Update(ctx, func(tx metadata.Tx) error { return tx.ForgetBlobs(ctx, []digest.Digest{d}) }); err != nil {
		t.Fatal(err)
	}
	select {
	case err := <-done:
		if err != nil {
			t.Fatal(err)
		}
	case <-time.After(10 * time.Second):
		t.Fatal("the push still waits after the deletion ended")
	}
	if got, err := readAll(t, f, "app", d); err != nil || !bytes.Equal(got, content) {
		t.Fatalf("blob after the push: %q, %v", got, err)
	}
}

func TestGCPushFinishesADeadCollection(t *testing.T) {
	synctest.Test(t, testGCPushFinishesADeadCollection)
}

func testGCPushFinishesADeadCollection(t *testing.T) {
	f, _ := newGCFixture(t, time.Hour)
	content := []byte("left marked by a collection that died")
	d := unlinkedBlob(t, f, content)
	markDeleting(t, f, d) // and no one holds the lease
	start := time.Now()
	if _, err := f.reg.PutBlob(ctx, key("app"), d.String(), bytes.NewReader(content), int64(len(content))); err != nil {
		t.Fatal(err)
	}
	if waited := time.Since(start); waited > time.Second { // in the bubble's time
		t.Errorf("the push waited %v", waited)
	}
	if got, err := readAll(t, f, "app", d); err != nil || !bytes.Equal(got, content) {
		t.Fatalf("blob after the push: %q, %v", got, err)
	}
	if marks, err := f.meta.DeletingBlobs(ctx, "", 10); err != nil || len(marks) != 0 {
		t.Fatalf("marks left: %v, %v", marks, err)
	}
}

// TestGCFinishesAnInterruptedCollection reopens the stores after a
// collection died at each point of a deletion, as another process would.
func TestGCFinishesAnInterruptedCollection(t *testing.T) {
	f, stores := newGCFixture(t, time.Hour)
	marked := unlinkedBlob(t, f, []byte("marked, bytes still there"))
	bytesGone := unlinkedBlob(t, f, []byte("marked, bytes deleted, record kept"))
	orphan := storeOrphan(t, f.blobs, []byte("orphan marked"))
	markDeleting(t, f, marked)
	markDeleting(t, f, bytesGone)
	if err := f.blobs.Delete(ctx, bytesGone); err != nil {
		t.Fatal(err)
	}
	err := f.meta.Update(ctx, func(tx metadata.Tx) error {
		_, err := tx.MarkOrphansDeleting(ctx, []metadata.Blob{{Digest: orphan, Size: int64(len("orphan marked"))}}, f.clock.Now())
		return err
	})
	if err != nil {
		t.Fatal(err)
	}
	holdLease(t, f, "dead process", 2*time.Minute)

	meta := testutil.SQLite(t, stores.Dir) // a second process's store
	other := registry.New(meta, stores.Blobs, registry.Options{GCGrace: time.Hour, Now: f.clock.Now,
		Logger: testutil.Logger()})
	_, err = other.CollectGarbage(ctx)
	if !errors.Is(err, registry.ErrJobBusy) || registry.CodeOf(err) != registry.CodeJobBusy {
		t.Fatalf("collection while another holds the lease: %v, want ErrJobBusy", err)
	}
	f.clock.Advance(3 * time.Minute) // the dead process's lease expires
	rep, err := other.CollectGarbage(ctx)
	if err != nil {
		t.Fatal(err)
	}
	if rep.BlobsDeleted != 3 {
		t.Errorf("report = %+v, want the 3 marked blobs deleted", rep)
	}
	if stored := storedBlobs(t, stores.Blobs); len(stored) != 0 {
		t.Errorf("still stored: %v", stored)
	}
	if recs, err := meta.BlobRecords(ctx, []digest.Digest{marked, bytesGone, orphan}); err != nil || len(recs) != 0 {
		t.Errorf("records left: %+v, %v", recs, err)
	}
}

func TestGCMountNeedsTheBytes(t *testing.T) {
	f, _ := newGCFixture(t, time.Hour)
	d := f.pushBlob(t, "src", []byte("lost behind the registry's back"))
	f.pushBlob(t, "dst", []byte("dst exists"))
	if err := f.blobs.Delete(ctx, d); err != nil {
		t.Fatal(err)
	}
	from := key("src")
	_, ok, err := f.reg.MountBlob(ctx, key("dst"), &from, d.String())
	if err != nil || ok {
		t.Fatalf("mount of a blob whose bytes are gone = %v, %v; want no mount (the client uploads)", ok, err)
	}
	if _, err := f.reg.StatBlob(ctx, key("dst"), d.String()); registry.CodeOf(err) != registry.CodeBlobUnknown {
		t.Fatalf("the failed mount left a link: %v", err)
	}
}

// hookedStore runs hooks around commits and deletions, to stop a push or
// a collection at a chosen point.
type hookedStore struct {
	blobstore.Store
	mu                        sync.Mutex
	beforeCommit, afterCommit func(digest.Digest)
	beforeDelete              func(digest.Digest)
}

type hookedWriter struct {
	blobstore.UploadWriter
	s *hookedStore
}

func (s *hookedStore) hooks() (before, after, del func(digest.Digest)) {
	s.mu.Lock()
	defer s.mu.Unlock()
	or := func(h func(digest.Digest)) func(digest.Digest) {
		if h == nil {
			return func(digest.Digest) {}
		}
		return h
	}
	return or(s.beforeCommit), or(s.afterCommit), or(s.beforeDelete)
}

func (s *hookedStore) CreateUpload(ctx context.Context, id string) (blobstore.UploadWriter, error) {
	w, err := s.Store.CreateUpload(ctx, id)
	if err != nil {
		return nil, err
	}
	return hookedWriter{w, s}, nil
}

func (w hookedWriter) Commit(ctx context.Context, d digest.Digest) error {
	before, after, _ := w.s.hooks()
	before(d)
	err := w.UploadWriter.Commit(ctx, d)
	after(d)
	return err
}

func (s *hookedStore) Delete(ctx context.Context, d digest.Digest) error {
	_, _, del := s.hooks()
	del(d)
	return s.Store.Delete(ctx, d)
}

// TestGCPushSlowerThanGrace stops a push of a garbage blob between
// recording it and linking it for longer than the grace period, while a
// collection deletes the blob: the push must fail, not link bytes that
// are gone, whether it links during the deletion or after it.
func TestGCPushSlowerThanGrace(t *testing.T) {
	for _, linkAfter := range []bool{false, true} {
		name := "LinkDuringDeletion"
		if linkAfter {
			name = "LinkAfterDeletion"
		}
		t.Run(name, func(t *testing.T) {
			f, stores := newGCFixture(t, time.Hour)
			content := []byte("old garbage, pushed again slowly")
			d := unlinkedBlob(t, f, content)
			hooked := &hookedStore{Store: stores.Blobs}
			reg := registry.New(stores.Meta, hooked, registry.Options{GCGrace: time.Hour, Now: f.clock.Now,
				Logger: testutil.Logger()})

			deleting, release, collected := make(chan struct{}), make(chan struct{}), make(chan error, 1)
			var once sync.Once
			hooked.beforeDelete = func(dd digest.Digest) {
				if dd == d {
					once.Do(func() { close(deleting); <-release })
				}
			}
			hooked.beforeCommit = func(digest.Digest) {
				f.clock.Advance(2 * time.Hour) // the push stalls...
				go func() {                    // ...while a collection marks the blob and deletes its bytes
					_, err := reg.CollectGarbage(ctx)
					collected <- err
				}()
				<-deleting
			}
			if linkAfter {
				hooked.afterCommit = func(digest.Digest) {
					close(release)
					if err := <-collected; err != nil {
						t.Error(err)
					}
				}
			}
			_, err := reg.PutBlob(ctx, key("app"), d.String(), bytes.NewReader(content), int64(len(content)))
			if err == nil || !strings.Contains(err.Error(), "garbage collection") {
				t.Errorf("push of a blob collected while it was pushed = %v, want an error that says so", err)
			}
			if !linkAfter {
				close(release)
				if err := <-collected; err != nil {
					t.Fatal(err)
				}
			}
			hooked.mu.Lock()
			hooked.beforeCommit, hooked.afterCommit = nil, nil
			hooked.mu.Unlock()
			if _, err := reg.StatBlob(ctx, key("app"), d.String()); registry.CodeOf(err) != registry.CodeBlobUnknown {
				t.Fatalf("the failed push left a link: %v", err)
			}
			if _, err := reg.PutBlob(ctx, key("app"), d.String(), bytes.NewReader(content), int64(len(content))); err != nil {
				t.Fatalf("pushing the blob again: %v", err)
			}
			if got, err := readAll(t, f, "app", d); err != nil || !bytes.Equal(got, content) {
				t.Fatalf("blob pushed again: %q, %v", got, err)
			}
		})
	}
}

// gcImage is an image a stress-test worker pushed.
type gcImage struct {
	repo     string
	tag      string
	manifest []byte
	blobs    [][]byte
}

func gcManifest(config []byte, layers ...[]byte) []byte {
	var parts []string
	for _, l := range layers {
		parts = append(parts, fmt.Sprintf(`{"mediaType":"application/vnd.oci.image.layer.v1.tar","digest":"%s","size":%d}`, digest.FromBytes(l), len(l)))
	}
	return []byte(fmt.Sprintf(`{"schemaVersion":2,"mediaType":"application/vnd.oci.image.manifest.v1+json",`+
		`"config":{"mediaType":"application/vnd.oci.image.config.v1+json","digest":"%s","size":%d},"layers":[%s]}`,
		digest.FromBytes(config), len(config), strings.Join(parts, ",")))
}

// checkImage reads an image and every blob it references.
func checkImage(t *testing.T, f *fixture, img gcImage) error {
	d := digest.FromBytes(img.manifest)
	got, err := f.reg.Manifest(ctx, key(img.repo), d.String(), false)
	if err != nil {
		return fmt.Errorf("manifest %s of %s: %w", d, img.repo, err)
	}
	if !bytes.Equal(got.Content, img.manifest) {
		return fmt.Errorf("manifest %s of %s differs", d, img.repo)
	}
	for _, content := range img.blobs {
		b, err := readAll(t, f, img.repo, digest.FromBytes(content))
		if err != nil {
			return fmt.Errorf("blob %s of image %s in %s: %w", digest.FromBytes(content), d, img.repo, err)
		}
		if !bytes.Equal(b, content) {
			return fmt.Errorf("blob %s of image %s in %s has other bytes", digest.FromBytes(content), d, img.repo)
		}
	}
	return nil
}

// TestGCStress pushes images that share layers from many goroutines,
// through every push path (HEAD then skip, mount, monolithic and chunked
// uploads), deletes some and pushes their layers again, while collections
// run back to back with a grace period of a millisecond of a clock that
// races ahead, and files of shared layers appear without records (as
// orphans). Every image whose push was acknowledged and that was not
// deleted must stay whole; at the end, nothing else may be stored.
func TestGCStress(t *testing.T) {
	const grace = time.Millisecond
	f, stores := newGCFixture(t, grace)
	f.clock.Advance(time.Hour) // every blob file is older than the grace period
	run := 3 * time.Second
	if testing.Short() {
		run = 0
	}
	repos := []string{"s/a", "s/b", "s/c"}
	shared := make([][]byte, 8)
	for i := range shared {
		shared[i] = bytes.Repeat([]byte(fmt.Sprintf("shared layer %d;", i)), 50+i)
	}

	var (
		mu        sync.Mutex
		live      = map[string]gcImage{} // acknowledged and not deleted, by repo/tag
		permanent []gcImage              // never deleted: the reader checks them while all runs
		stop      atomic.Bool
		acked     atomic.Int64
		deleted   atomic.Int64
		retried   atomic.Int64
		collected registry.GCReport
		runs      atomic.Int64
	)
	var wg sync.WaitGroup

	// pushBlob pushes one blob the way a client might.
	pushBlob := func(rng *rand.Rand, repo string, content []byte) error {
		d := digest.FromBytes(content)
		switch rng.IntN(4) {
		case 0: // HEAD, and skip the upload if it is there
			if _, err := f.reg.StatBlob(ctx, key(repo), d.String()); err == nil {
				return nil
			}
		case 1: // mount from anywhere, else upload
			if _, ok, err := f.reg.MountBlob(ctx, key(repo), nil, d.String()); err != nil || ok {
				return err
			}
		case 2: // chunked
			u, err := f.reg.StartUpload(ctx, key(repo))
			if err != nil {
				return err
			}
			half := len(content) / 2
			if _, err := f.reg.AppendUpload(ctx, key(repo), u.ID, 0, int64(half), bytes.NewReader(content[:half])); err != nil {
				return err
			}
			_, err = f.reg.FinishUpload(ctx, key(repo), u.ID, d.String(), int64(half), int64(len(content)-half), bytes.NewReader(content[half:]))
			return err
		}
		_, err := f.reg.PutBlob(ctx, key(repo), d.String(), bytes.NewReader(content), int64(len(content)))
		return err
	}

	const workers = 6
	var next [workers]atomic.Int64 // the image each worker pushes
	ownLayer := func(w, n int) []byte { return []byte(fmt.Sprintf("own layer %d/%d", w, n)) }
	for w := range workers {
		wg.Add(1)
		go func() {
			defer wg.Done()
			rng := rand.New(rand.NewPCG(uint64(w), 1))
			var mine []gcImage
			for n := 0; !stop.Load(); n++ {
				next[w].Store(int64(n))
				img := gcImage{repo: repos[rng.IntN(len(repos))], tag: fmt.Sprintf("w%d-%d", w, n)}
				config := []byte(fmt.Sprintf(`{"worker":%d,"n":%d}`, w, n))
				layers := [][]byte{shared[rng.IntN(len(shared))], shared[rng.IntN(len(shared))], ownLayer(w, n)}
				img.blobs = append([][]byte{config}, layers...)
				img.manifest = gcManifest(config, layers...)
				ok := false
				for attempt := 0; attempt < 20 && !ok && !stop.Load(); attempt++ {
					var err error
					for _, b := range img.blobs {
						if err = pushBlob(rng, img.repo, b); err != nil {
							break
						}
					}
					if err == nil {
						_, err = f.reg.PutManifest(ctx, key(img.repo), img.tag, nil, ociManifest, img.manifest)
					}
					switch {
					case err == nil:
						ok = true
					case registry.CodeOf(err) == registry.CodeManifestBlobUnknown,
						err != nil && strings.Contains(err.Error(), "garbage collection"):
						retried.Add(1) // collected between the blobs and the manifest: push again
					default:
						t.Errorf("push of %s:%s: %v", img.repo, img.tag, err)
						return
					}
				}
				if !ok {
					continue
				}
				acked.Add(1)
				mu.Lock()
				live[img.repo+":"+img.tag] = img
				if n%4 == 0 {
					permanent = append(permanent, img)
				}
				mu.Unlock()
				if n%4 != 0 {
					mine = append(mine, img)
				}
				if len(mine) > 2 && rng.IntN(2) == 0 {
					i := rng.IntN(len(mine))
					victim := mine[i]
					mine = append(mine[:i], mine[i+1:]...)
					var err error
					if rng.IntN(2) == 0 {
						err = f.reg.DeleteManifest(ctx, key(victim.repo), digest.FromBytes(victim.manifest).String())
					} else {
						_, failures, derr := f.reg.BatchDeleteImage(ctx, key(victim.repo), []registry.ImageID{{Tag: victim.tag}})
						if err = derr; err == nil && len(failures) > 0 {
							err = &failures[0]
						}
					}
					if err != nil {
						t.Errorf("deleting %s:%s: %v", victim.repo, victim.tag, err)
						return
					}
					deleted.Add(1)
					mu.Lock()
					delete(live, victim.repo+":"+victim.tag)
					mu.Unlock()
				}
			}
		}()
	}
	// Two collectors: they take turns through the lease.
	for range 2 {
		wg.Add(1)
		go func() {
			defer wg.Done()
			for !stop.Load() {
				f.clock.Advance(grace / 4)
				rep, err := f.reg.CollectGarbage(ctx)
				if errors.Is(err, registry.ErrJobBusy) {
					time.Sleep(time.Millisecond)
					continue
				}
				if err != nil {
					t.Errorf("CollectGarbage: %v", err)
					return
				}
				runs.Add(1)
				mu.Lock()
				collected.LinksRemoved += rep.LinksRemoved
				collected.BlobsDeleted += rep.BlobsDeleted
				collected.OrphansDeleted += rep.OrphansDeleted
				mu.Unlock()
			}
		}()
	}
	// Files of shared layers appear without records, as a crash of an
	// older ecrd would leave them, for the collections to find as orphans
	// while pushes use them.
	wg.Add(1)
	go func() {
		defer wg.Done()
		rng := rand.New(rand.NewPCG(7, 1))
		for n := 0; !stop.Load(); n++ {
			content := shared[rng.IntN(len(shared))]
			if rng.IntN(2) == 0 { // or the own layer of an image about to be pushed
				w := rng.IntN(len(next))
				content = ownLayer(w, int(next[w].Load())+rng.IntN(2))
			}
			w, err := stores.Blobs.CreateUpload(ctx, fmt.Sprintf("crashed-%d", n))
			if err == nil {
				_, err = w.Write(content)
			}
			if err == nil {
				err = w.Commit(ctx, digest.FromBytes(content))
			}
			if err != nil {
				t.Errorf("storing an orphan: %v", err)
				return
			}
			time.Sleep(time.Duration(rng.IntN(20)) * time.Millisecond)
		}
	}()
	// A reader pulls the images that are never deleted, all along.
	wg.Add(1)
	go func() {
		defer wg.Done()
		rng := rand.New(rand.NewPCG(99, 1))
		for !stop.Load() {
			mu.Lock()
			var img gcImage
			if len(permanent) > 0 {
				img = permanent[rng.IntN(len(permanent))]
			}
			mu.Unlock()
			if img.manifest == nil {
				time.Sleep(time.Millisecond)
				continue
			}
			if err := checkImage(t, f, img); err != nil {
				t.Errorf("pulling an acknowledged image during collections: %v", err)
				return
			}
		}
	}()

	// Run for a while, and on a slow machine until enough happened.
	time.Sleep(run)
	for deadline := time.Now().Add(30 * time.Second); time.Now().Before(deadline); time.Sleep(10 * time.Millisecond) {
		mu.Lock()
		blobs, orphans := collected.BlobsDeleted, collected.OrphansDeleted
		mu.Unlock()
		if acked.Load() >= 20 && deleted.Load() >= 3 && runs.Load() >= 20 && blobs > 0 && orphans > 0 {
			break
		}
	}
	stop.Store(true)
	wg.Wait()
	t.Logf("%d images acknowledged, %d deleted, %d pushes retried; %d collections removed %d links, %d blobs, %d orphans",
		acked.Load(), deleted.Load(), retried.Load(), runs.Load(), collected.LinksRemoved, collected.BlobsDeleted, collected.OrphansDeleted)
	if t.Failed() {
		return
	}
	if acked.Load() < 20 || runs.Load() < 20 || collected.BlobsDeleted == 0 || collected.OrphansDeleted == 0 {
		t.Fatalf("too little happened to test anything: %d images, %d collections, %d blobs and %d orphans collected",
			acked.Load(), runs.Load(), collected.BlobsDeleted, collected.OrphansDeleted)
	}

	for _, img := range live {
		if err := checkImage(t, f, img); err != nil {
			t.Error(err)
		}
	}
	// With nothing in flight, collections leave exactly what the images
	// reference.
	f.clock.Advance(time.Hour)
	f.collect(t)
	f.collect(t)
	want := map[digest.Digest]bool{}
	for _, img := range live {
		for _, b := range img.blobs {
			want[digest.FromBytes(b)] = true
		}
	}
	stored := storedBlobs(t, stores.Blobs)
	for d := range stored {
		if !want[d] {
			t.Errorf("blob %s is stored, but no image references it", d)
		}
	}
	for d := range want {
		if !stored[d] {
			t.Errorf("blob %s of a live image is not stored", d)
		}
	}
	if marks, err := f.meta.DeletingBlobs(ctx, "", 10); err != nil || len(marks) != 0 {
		t.Errorf("marks left: %v, %v", marks, err)
	}
}

// BenchmarkCollectGarbage measures one collection over 10,000 blobs, half
// of them garbage (an unreferenced link, then the blob): every link and
// record is scanned, 5,000 links and blobs are removed in batches, and the
// blob store is walked for orphans.
func BenchmarkCollectGarbage(b *testing.B) {
	const blobs = 10_000
	f, stores := newGCFixture(b, time.Hour)
	if _, err := f.reg.StartUpload(ctx, key("bench")); err != nil {
		b.Fatal(err)
	}
	repo, err := f.meta.Repository(ctx, key("bench"))
	if err != nil {
		b.Fatal(err)
	}
	// store writes n blobs, linked into the repository, and returns them.
	store := func(prefix string, n int) []metadata.Blob {
		out := make([]metadata.Blob, n)
		var wg sync.WaitGroup
		for w := range 8 { // commits wait for the disk: overlap them
			wg.Add(1)
			go func() {
				defer wg.Done()
				for i := w; i < n; i += 8 {
					content := []byte(fmt.Sprintf("%s blob %d", prefix, i))
					out[i] = metadata.Blob{Digest: digest.FromBytes(content), Size: int64(len(content))}
					u, err := stores.Blobs.CreateUpload(ctx, fmt.Sprintf("%s-%d", prefix, i))
					if err == nil {
						_, err = u.Write(content)
					}
					if err == nil {
						err = u.Commit(ctx, out[i].Digest)
					}
					if err != nil {
						b.Error(err)
						return
					}
				}
			}()
		}
		wg.Wait()
		now := f.clock.Now()
		for batch := range slices.Chunk(out, 1000) {
			err := f.meta.Update(ctx, func(tx metadata.Tx) error {
				for _, blob := range batch {
					if err := tx.RecordBlob(ctx, blob, now); err != nil {
						return err
					}
					if err := tx.LinkBlob(ctx, repo.ID, blob, now); err != nil {
						return err
					}
				}
				return nil
			})
			if err != nil {
				b.Fatal(err)
			}
		}
		return out
	}
	live := store("live", blobs/2)
	for i, refs := range slices.Collect(slices.Chunk(live, 100)) {
		content := []byte(fmt.Sprintf(`{"image":%d}`, i))
		img := metadata.Image{RepoID: repo.ID, Digest: digest.FromBytes(content), MediaType: ociManifest,
			Size: int64(len(content)), PushedAt: f.clock.Now(), Content: content}
		var mrefs []metadata.Ref
		for _, r := range refs {
			mrefs = append(mrefs, metadata.Ref{Digest: r.Digest, Kind: metadata.RefBlob})
		}
		if err := f.meta.Update(ctx, func(tx metadata.Tx) error { return tx.PutImage(ctx, img, mrefs) }); err != nil {
			b.Fatal(err)
		}
	}
	var total time.Duration
	b.ResetTimer()
	for i := 0; i < b.N; i++ {
		b.StopTimer()
		store(fmt.Sprintf("garbage%d", i), blobs/2)
		f.clock.Advance(2 * time.Hour)
		b.StartTimer()
		rep, err := f.reg.CollectGarbage(ctx)
		if err != nil {
			b.Fatal(err)
		}
		if rep.LinksRemoved != blobs/2 || rep.BlobsDeleted != blobs/2 {
			b.Fatalf("report = %+v, want %d links and blobs removed", rep, blobs/2)
		}
		total += rep.Duration
	}
	b.ReportMetric(float64(blobs)*float64(b.N)/total.Seconds(), "blobs/s")
}

// TestRestartTakesBackItsLease: a process killed while collecting
// garbage leaves the gc lease held under its name. Restarted under the
// same name, it takes the lease back at once, while a process of another
// name still waits for the lease to expire.
func TestRestartTakesBackItsLease(t *testing.T) {
	_, stores := registrytest.New(t, registry.Options{Holder: "host:/data"})
	now := time.Now()
	err := stores.Meta.Update(ctx, func(tx metadata.Tx) error {
		_, err := tx.AcquireLease(ctx, "gc", "host:/data/0badcafe", now, now.Add(2*time.Minute))
		return err
	})
	if err != nil {
		t.Fatal(err)
	}
	other := registry.New(stores.Meta, stores.Blobs, registry.Options{Holder: "host:/other"})
	if err := other.Recover(ctx); err != nil {
		t.Fatal(err)
	}
	if _, err := other.CollectGarbage(ctx); !errors.Is(err, registry.ErrJobBusy) {
		t.Fatalf("another process collected while the dead run's lease holds: %v", err)
	}
	restarted := registry.New(stores.Meta, stores.Blobs, registry.Options{Holder: "host:/data"})
	if err := restarted.Recover(ctx); err != nil {
		t.Fatal(err)
	}
	if _, err := restarted.CollectGarbage(ctx); err != nil {
		t.Fatalf("the restarted process could not collect: %v", err)
	}
}
