package registry_test

import (
	"bytes"
	"context"
	"errors"
	"fmt"
	"io"
	"strings"
	"sync"
	"testing"
	"time"

	"github.com/opencontainers/go-digest"

	"github.com/ecrd/ecrd/internal/blobstore"
	"github.com/ecrd/ecrd/internal/identity"
	"github.com/ecrd/ecrd/internal/metadata"
	"github.com/ecrd/ecrd/internal/registry"
	"github.com/ecrd/ecrd/internal/registry/registrytest"
	"github.com/ecrd/ecrd/internal/testutil"
)

var (
	scope = registrytest.Scope
	// ctx is a request of the scope's account root.
	ctx = identity.NewContext(context.Background(), identity.Root(scope.Account))
)

func key(name string) metadata.RepoKey { return metadata.RepoKey{Scope: scope, Name: name} }

type fixture struct {
	reg   *registry.Registry
	meta  metadata.Store
	blobs blobstore.Store
	clock *clock
}

type clock struct {
	mu  sync.Mutex
	now time.Time
}

func (c *clock) Now() time.Time { c.mu.Lock(); defer c.mu.Unlock(); return c.now }
func (c *clock) Advance(d time.Duration) {
	c.mu.Lock()
	c.now = c.now.Add(d)
	c.mu.Unlock()
}

func newFixture(t *testing.T, opts registry.Options) *fixture {
	t.Helper()
	c := &clock{now: time.Date(2026, 11, 26, 12, 0, 0, 0, time.UTC)}
	opts.Now = c.Now
	reg, stores := registrytest.New(t, opts)
	registrytest.CreateOnPush(t, reg)
	return &fixture{reg: reg, meta: stores.Meta, blobs: stores.Blobs, clock: c}
}

func wantCode(t *testing.T, err error, code registry.Code) {
	t.Helper()
	if err == nil {
		t.Fatalf("got no error, want code %d", code)
	}
	if got := registry.CodeOf(err); got != code {
		t.Fatalf("error %q has code %d, want %d", err, got, code)
	}
}

func (f *fixture) pushBlob(t testing.TB, repo string, content []byte) digest.Digest {
	t.Helper()
	d := digest.FromBytes(content)
	if _, err := f.reg.PutBlob(ctx, key(repo), d.String(), bytes.NewReader(content), int64(len(content))); err != nil {
		t.Fatal(err)
	}
	return d
}

func manifestOf(config, layer []byte) []byte {
	return []byte(fmt.Sprintf(`{"schemaVersion":2,"mediaType":"application/vnd.oci.image.manifest.v1+json",`+
		`"config":{"mediaType":"application/vnd.oci.image.config.v1+json","digest":"%s","size":%d},`+
		`"layers":[{"mediaType":"application/vnd.oci.image.layer.v1.tar","digest":"%s","size":%d}]}`,
		digest.FromBytes(config), len(config), digest.FromBytes(layer), len(layer)))
}

func indexOf(children ...[]byte) []byte {
	var parts []string
	for _, c := range children {
		parts = append(parts, fmt.Sprintf(`{"mediaType":"application/vnd.oci.image.manifest.v1+json","digest":"%s","size":%d}`, digest.FromBytes(c), len(c)))
	}
	return []byte(`{"schemaVersion":2,"mediaType":"application/vnd.oci.image.index.v1+json","manifests":[` + strings.Join(parts, ",") + `]}`)
}

const ociManifest = "application/vnd.oci.image.manifest.v1+json"

func (f *fixture) pushImage(t testing.TB, repo, tag string, seed string) []byte {
	t.Helper()
	config, layer := []byte(`{"seed":"`+seed+`"}`), []byte("layer "+seed)
	f.pushBlob(t, repo, config)
	f.pushBlob(t, repo, layer)
	m := manifestOf(config, layer)
	if _, err := f.reg.PutManifest(ctx, key(repo), tag, nil, ociManifest, m); err != nil {
		t.Fatal(err)
	}
	return m
}

func TestFirstPushCreatesRepository(t *testing.T) {
	f := newFixture(t, registry.Options{})
	_, _, err := f.reg.Tags(ctx, key("team/app"), "", 10)
	wantCode(t, err, registry.CodeNameUnknown)
	if _, err := f.reg.StartUpload(ctx, key("team/app")); err != nil {
		t.Fatal(err)
	}
	tags, more, err := f.reg.Tags(ctx, key("team/app"), "", 10)
	if err != nil || len(tags) != 0 || more {
		t.Fatalf("Tags after first push = %v, %v, %v", tags, more, err)
	}
	_, err = f.reg.StartUpload(ctx, key("Team/App"))
	wantCode(t, err, registry.CodeNameInvalid)
}

func TestBlobsAreScopedToRepositoriesAndRegistries(t *testing.T) {
	f := newFixture(t, registry.Options{})
	d := f.pushBlob(t, "src", []byte("private layer"))
	_, err := f.reg.StatBlob(ctx, key("src"), d.String())
	if err != nil {
		t.Fatal(err)
	}
	f.pushBlob(t, "other", []byte("x"))
	_, err = f.reg.StatBlob(ctx, key("other"), d.String())
	wantCode(t, err, registry.CodeBlobUnknown)

	// Another account cannot mount it, even without naming a source: its
	// registry does not see this one's blobs.
	foreignScope := metadata.Scope{Account: "210987654321", Region: "us-east-1"}
	foreignCtx := identity.NewContext(context.Background(), identity.Root(foreignScope.Account))
	if _, err := f.reg.CreateCreationTemplate(foreignCtx, foreignScope, registry.CreationTemplate{
		Prefix: registry.RootPrefix, AppliedFor: []string{registry.AppliedForCreateOnPush}}); err != nil {
		t.Fatal(err)
	}
	foreign := metadata.RepoKey{Scope: foreignScope, Name: "thief"}
	if _, ok, err := f.reg.MountBlob(foreignCtx, foreign, nil, d.String()); err != nil || ok {
		t.Fatalf("cross-account anonymous mount = %v, %v; want no mount", ok, err)
	}
	// Naming the source does not help: the other account may not read it.
	if _, ok, err := f.reg.MountBlob(foreignCtx, foreign, ptr(key("src")), d.String()); err != nil || ok {
		t.Fatalf("cross-account mount from a named source = %v, %v; want no mount", ok, err)
	}
	// Nor may this account write into the other's registry.
	_, _, err = f.reg.MountBlob(ctx, foreign, nil, d.String())
	wantCode(t, err, registry.CodeAccessDenied)
	// Same registry: mounts.
	if _, ok, err := f.reg.MountBlob(ctx, key("dst"), nil, d.String()); err != nil || !ok {
		t.Fatalf("anonymous mount = %v, %v", ok, err)
	}
}

func TestIndexChildrenAndDeletion(t *testing.T) {
	f := newFixture(t, registry.Options{})
	a := f.pushImage(t, "app", "a", "1")
	b := f.pushImage(t, "app", "b", "2")
	idx := indexOf(a, b)
	_, err := f.reg.PutManifest(ctx, key("app"), "multi", nil, "application/vnd.oci.image.index.v1+json", idx)
	if err != nil {
		t.Fatal(err)
	}
	// An index whose child is missing is refused.
	_, err = f.reg.PutManifest(ctx, key("app"), "broken", nil, "", indexOf(a, []byte(`{"not":"pushed"}`)))
	wantCode(t, err, registry.CodeManifestChildUnknown)
	// A child cannot go before its index.
	err = f.reg.DeleteManifest(ctx, key("app"), digest.FromBytes(a).String())
	wantCode(t, err, registry.CodeManifestReferenced)
	if err := f.reg.DeleteManifest(ctx, key("app"), digest.FromBytes(idx).String()); err != nil {
		t.Fatal(err)
	}
	if err := f.reg.DeleteManifest(ctx, key("app"), digest.FromBytes(a).String()); err != nil {
		t.Fatalf("deleting the child after its index: %v", err)
	}
	_, err = f.reg.Manifest(ctx, key("app"), "a", false)
	wantCode(t, err, registry.CodeManifestUnknown)
	// Deleting by tag removes only the tag.
	if err := f.reg.DeleteManifest(ctx, key("app"), "b"); err != nil {
		t.Fatal(err)
	}
	if _, err := f.reg.Manifest(ctx, key("app"), digest.FromBytes(b).String(), false); err != nil {
		t.Fatalf("untagged image vanished: %v", err)
	}
}

func TestManifestSizeMustMatchBlob(t *testing.T) {
	f := newFixture(t, registry.Options{})
	config, layer := []byte("{}"), []byte("12345")
	f.pushBlob(t, "app", config)
	f.pushBlob(t, "app", layer)
	m := bytes.Replace(manifestOf(config, layer), []byte(`"size":5`), []byte(`"size":6`), 1)
	_, err := f.reg.PutManifest(ctx, key("app"), "v1", nil, ociManifest, m)
	wantCode(t, err, registry.CodeManifestInvalid)
}

func TestPullsAreRecordedInBatches(t *testing.T) {
	f := newFixture(t, registry.Options{})
	m := f.pushImage(t, "app", "v1", "x")
	d := digest.FromBytes(m)
	if _, err := f.reg.Manifest(ctx, key("app"), "v1", false); err != nil { // HEAD
		t.Fatal(err)
	}
	f.reg.FlushPulls(ctx)
	repo, err := f.meta.Repository(ctx, key("app"))
	if err != nil {
		t.Fatal(err)
	}
	img, _ := f.meta.Image(ctx, repo.ID, d)
	if !img.LastPulledAt.IsZero() {
		t.Fatalf("a HEAD was recorded as a pull at %v", img.LastPulledAt)
	}
	f.clock.Advance(time.Hour)
	if _, err := f.reg.Manifest(ctx, key("app"), "v1", true); err != nil {
		t.Fatal(err)
	}
	f.reg.FlushPulls(ctx)
	img, _ = f.meta.Image(ctx, repo.ID, d)
	if !img.LastPulledAt.Equal(f.clock.Now()) {
		t.Fatalf("LastPulledAt = %v, want %v", img.LastPulledAt, f.clock.Now())
	}
}

// failAfter returns data, then fails as a dropped connection does.
type failAfter struct{ data []byte }

func (r *failAfter) Read(p []byte) (int, error) {
	if len(r.data) == 0 {
		return 0, errors.New("connection reset by peer")
	}
	n := copy(p, r.data)
	r.data = r.data[n:]
	return n, nil
}

func TestUploadResumesAfterDroppedConnectionAndRestart(t *testing.T) {
	f := newFixture(t, registry.Options{})
	content := bytes.Repeat([]byte("abcdefgh"), 4096)
	u, err := f.reg.StartUpload(ctx, key("app"))
	if err != nil {
		t.Fatal(err)
	}
	// The connection drops after 10,000 bytes: they are kept.
	got, err := f.reg.AppendUpload(ctx, key("app"), u.ID, 0, -1, &failAfter{data: content[:10000]})
	wantCode(t, err, registry.CodeBlobUploadInvalid)
	if got.Size != 10000 {
		t.Fatalf("after the drop the upload holds %d bytes, want 10000", got.Size)
	}
	// A restart that lost the hash state: the core recomputes it.
	rec, err := f.meta.Upload(ctx, u.ID)
	if err != nil {
		t.Fatal(err)
	}
	rec.HashState = nil
	if err := f.meta.Update(ctx, func(tx metadata.Tx) error { return tx.PutUpload(ctx, rec) }); err != nil {
		t.Fatal(err)
	}
	restarted := registry.New(f.meta, f.blobs, registry.Options{Logger: testutil.Logger()})
	st, err := restarted.UploadStatus(ctx, key("app"), u.ID)
	if err != nil || st.Size != 10000 {
		t.Fatalf("status after restart = %+v, %v", st, err)
	}
	if _, err := restarted.AppendUpload(ctx, key("app"), u.ID, 10000, 10000, bytes.NewReader(content[10000:20000])); err != nil {
		t.Fatal(err)
	}
	d := digest.FromBytes(content)
	b, err := restarted.FinishUpload(ctx, key("app"), u.ID, d.String(), 20000, int64(len(content)-20000), bytes.NewReader(content[20000:]))
	if err != nil || b.Size != int64(len(content)) {
		t.Fatalf("FinishUpload = %+v, %v", b, err)
	}
	_, rc, err := restarted.OpenBlob(ctx, key("app"), d.String())
	if err != nil {
		t.Fatal(err)
	}
	defer rc.Close()
	all, _ := io.ReadAll(rc)
	if !bytes.Equal(all, content) {
		t.Fatal("blob differs from what was uploaded")
	}
}

func TestSHA512Upload(t *testing.T) {
	f := newFixture(t, registry.Options{})
	u, _ := f.reg.StartUpload(ctx, key("app"))
	content := []byte("sha512 content")
	if _, err := f.reg.AppendUpload(ctx, key("app"), u.ID, -1, -1, bytes.NewReader(content)); err != nil {
		t.Fatal(err)
	}
	d := digest.SHA512.FromBytes(content)
	if _, err := f.reg.FinishUpload(ctx, key("app"), u.ID, d.String(), -1, 0, nil); err != nil {
		t.Fatal(err)
	}
	if _, err := f.reg.StatBlob(ctx, key("app"), d.String()); err != nil {
		t.Fatal(err)
	}

	// A finishing PUT that carries the last chunk: the digest is read back
	// from the upload while its writer is still open.
	big := bytes.Repeat([]byte("0123456789abcdef"), 1<<17)
	big = append(big, "odd tail"...)
	u, _ = f.reg.StartUpload(ctx, key("app"))
	if _, err := f.reg.AppendUpload(ctx, key("app"), u.ID, 0, 4096, bytes.NewReader(big[:4096])); err != nil {
		t.Fatal(err)
	}
	d = digest.SHA512.FromBytes(big)
	if _, err := f.reg.FinishUpload(ctx, key("app"), u.ID, d.String(), 4096, int64(len(big)-4096), bytes.NewReader(big[4096:])); err != nil {
		t.Fatal(err)
	}
	_, rc, err := f.reg.OpenBlob(ctx, key("app"), d.String())
	if err != nil {
		t.Fatal(err)
	}
	defer rc.Close()
	if got, _ := io.ReadAll(rc); !bytes.Equal(got, big) {
		t.Fatalf("the blob holds %d bytes, not the %d pushed", len(got), len(big))
	}
}

// blockingReader hands out one byte, then waits until released.
type blockingReader struct {
	started, release chan struct{}
	sent             bool
}

func (r *blockingReader) Read(p []byte) (int, error) {
	if !r.sent {
		r.sent = true
		close(r.started)
		p[0] = 'x'
		return 1, nil
	}
	<-r.release
	return 0, io.EOF
}

func TestOneWriterPerUpload(t *testing.T) {
	f := newFixture(t, registry.Options{})
	u, _ := f.reg.StartUpload(ctx, key("app"))
	br := &blockingReader{started: make(chan struct{}), release: make(chan struct{})}
	done := make(chan error)
	go func() {
		_, err := f.reg.AppendUpload(ctx, key("app"), u.ID, -1, -1, br)
		done <- err
	}()
	<-br.started
	_, err := f.reg.AppendUpload(ctx, key("app"), u.ID, -1, -1, strings.NewReader("y"))
	wantCode(t, err, registry.CodeBlobUploadInvalid)
	close(br.release)
	if err := <-done; err != nil {
		t.Fatal(err)
	}
	if st, _ := f.reg.UploadStatus(ctx, key("app"), u.ID); st.Size != 1 {
		t.Fatalf("upload holds %d bytes, want 1", st.Size)
	}
}

func TestBlobSizeLimit(t *testing.T) {
	f := newFixture(t, registry.Options{MaxBlobSize: 10})
	content := []byte("eleven byte")
	_, err := f.reg.PutBlob(ctx, key("app"), digest.FromBytes(content).String(), bytes.NewReader(content), -1)
	wantCode(t, err, registry.CodeSizeInvalid)
	u, _ := f.reg.StartUpload(ctx, key("app"))
	_, err = f.reg.AppendUpload(ctx, key("app"), u.ID, -1, -1, bytes.NewReader(content))
	wantCode(t, err, registry.CodeSizeInvalid)
	_, err = f.reg.UploadStatus(ctx, key("app"), u.ID)
	wantCode(t, err, registry.CodeBlobUploadUnknown)
	if ups, _ := f.blobs.Uploads(ctx); len(ups) != 0 {
		t.Fatalf("oversized uploads left bytes behind: %v", ups)
	}
}

func TestExpireAndRecover(t *testing.T) {
	f := newFixture(t, registry.Options{UploadTTL: time.Hour})
	old, _ := f.reg.StartUpload(ctx, key("app"))
	f.clock.Advance(50 * time.Minute)
	fresh, _ := f.reg.StartUpload(ctx, key("app"))
	f.clock.Advance(20 * time.Minute)
	if err := f.reg.ExpireUploads(ctx); err != nil {
		t.Fatal(err)
	}
	_, err := f.reg.UploadStatus(ctx, key("app"), old.ID)
	wantCode(t, err, registry.CodeBlobUploadUnknown)
	if _, err := f.reg.UploadStatus(ctx, key("app"), fresh.ID); err != nil {
		t.Fatalf("a fresh upload expired: %v", err)
	}

	// What a crash leaves: bytes without a session, a session without bytes.
	w, err := f.blobs.CreateUpload(ctx, "stray")
	if err != nil {
		t.Fatal(err)
	}
	w.Close()
	orphan := metadata.Upload{ID: "orphan", Repo: key("app"), StartedAt: f.clock.Now(), UpdatedAt: f.clock.Now()}
	if err := f.meta.Update(ctx, func(tx metadata.Tx) error { return tx.PutUpload(ctx, orphan) }); err != nil {
		t.Fatal(err)
	}
	if err := f.reg.Recover(ctx); err != nil {
		t.Fatal(err)
	}
	if _, err := f.blobs.ResumeUpload(ctx, "stray", 0); !errors.Is(err, blobstore.ErrNotFound) {
		t.Errorf("stray upload bytes survived recovery: %v", err)
	}
	if _, err := f.meta.Upload(ctx, "orphan"); !errors.Is(err, metadata.ErrNotFound) {
		t.Errorf("session without bytes survived recovery: %v", err)
	}
	if _, err := f.reg.UploadStatus(ctx, key("app"), fresh.ID); err != nil {
		t.Errorf("recovery removed a live upload: %v", err)
	}
}

// TestSharedRecoverLeavesOthersUploads: with shared stores, a process
// starting up cannot tell what a crash left from another process's push
// in flight (bytes written before their session is recorded), so it
// removes nothing; expiry removes both after the upload TTL.
func TestSharedRecoverLeavesOthersUploads(t *testing.T) {
	f := newFixture(t, registry.Options{UploadTTL: time.Hour})
	w, err := f.blobs.CreateUpload(ctx, "in-flight")
	if err != nil {
		t.Fatal(err)
	}
	w.Close()
	live, _ := f.reg.StartUpload(ctx, key("app"))
	starting := registry.New(f.meta, f.blobs, registry.Options{UploadTTL: time.Hour, Shared: true, Now: f.clock.Now})
	if err := starting.Recover(ctx); err != nil {
		t.Fatal(err)
	}
	if _, err := f.blobs.ResumeUpload(ctx, "in-flight", 0); err != nil {
		t.Errorf("a starting process removed another's upload bytes: %v", err)
	}
	if _, err := f.reg.UploadStatus(ctx, key("app"), live.ID); err != nil {
		t.Errorf("a starting process removed another's upload: %v", err)
	}
	// Upload bytes carry the time of the storage's clock, not the test's.
	later := registry.New(f.meta, f.blobs, registry.Options{UploadTTL: time.Hour, Shared: true, Now: func() time.Time { return time.Now().Add(2 * time.Hour) }})
	if err := later.ExpireUploads(ctx); err != nil {
		t.Fatal(err)
	}
	if _, err := f.blobs.ResumeUpload(ctx, "in-flight", 0); !errors.Is(err, blobstore.ErrNotFound) {
		t.Errorf("upload bytes without a session outlived the upload TTL: %v", err)
	}
	_, err = f.reg.UploadStatus(ctx, key("app"), live.ID)
	wantCode(t, err, registry.CodeBlobUploadUnknown)
}

func TestUploadBelongsToItsRepository(t *testing.T) {
	f := newFixture(t, registry.Options{})
	u, _ := f.reg.StartUpload(ctx, key("one"))
	_, err := f.reg.AppendUpload(ctx, key("two"), u.ID, -1, -1, strings.NewReader("x"))
	wantCode(t, err, registry.CodeBlobUploadUnknown)
	other := metadata.RepoKey{Scope: metadata.Scope{Account: "210987654321", Region: "us-east-1"}, Name: "one"}
	_, err = f.reg.UploadStatus(ctx, other, u.ID)
	wantCode(t, err, registry.CodeAccessDenied)
	otherCtx := identity.NewContext(context.Background(), identity.Root(other.Account))
	_, err = f.reg.UploadStatus(otherCtx, other, u.ID)
	wantCode(t, err, registry.CodeBlobUploadUnknown)
}

func ptr[T any](v T) *T { return &v }

func TestReferrersFilter(t *testing.T) {
	f := newFixture(t, registry.Options{})
	subject := f.pushImage(t, "app", "v1", "s")
	empty := []byte("{}")
	f.pushBlob(t, "app", empty)
	sd := digest.FromBytes(subject)
	for i, at := range []string{"application/vnd.example.sig", "application/vnd.example.sbom"} {
		m := fmt.Sprintf(`{"schemaVersion":2,"mediaType":"application/vnd.oci.image.manifest.v1+json","artifactType":"%s",`+
			`"config":{"mediaType":"application/vnd.oci.empty.v1+json","digest":"%s","size":2},"layers":[],`+
			`"subject":{"mediaType":"application/vnd.oci.image.manifest.v1+json","digest":"%s","size":%d},"annotations":{"i":"%d"}}`,
			at, digest.FromBytes(empty), sd, len(subject), i)
		img, err := f.reg.PutManifest(ctx, key("app"), digest.FromString(m).String(), nil, "", []byte(m))
		if err != nil {
			t.Fatal(err)
		}
		if img.Subject != sd {
			t.Fatalf("subject = %q", img.Subject)
		}
	}
	all, err := f.reg.Referrers(ctx, key("app"), sd.String(), "")
	if err != nil || len(all) != 2 {
		t.Fatalf("Referrers = %d, %v", len(all), err)
	}
	sigs, _ := f.reg.Referrers(ctx, key("app"), sd.String(), "application/vnd.example.sig")
	if len(sigs) != 1 || sigs[0].ArtifactType != "application/vnd.example.sig" || sigs[0].Annotations["i"] != "0" {
		t.Fatalf("filtered referrers = %+v", sigs)
	}
	none, err := f.reg.Referrers(ctx, key("no-such-repo"), sd.String(), "")
	if err != nil || len(none) != 0 {
		t.Fatalf("referrers of an unknown repository = %v, %v", none, err)
	}
}

// TestCacheNeverServesAReplacedTag moves a tag many times while readers
// keep the cache busy; after each push returns, the tag must resolve to
// what was just pushed.
func TestCacheNeverServesAReplacedTag(t *testing.T) {
	f := newFixture(t, registry.Options{})
	config, layer := []byte("{}"), []byte("l")
	f.pushBlob(t, "app", config)
	f.pushBlob(t, "app", layer)
	stop := make(chan struct{})
	var wg sync.WaitGroup
	for range 4 {
		wg.Add(1)
		go func() {
			defer wg.Done()
			for {
				select {
				case <-stop:
					return
				default:
					f.reg.Manifest(ctx, key("app"), "moving", true)
				}
			}
		}()
	}
	for i := range 200 {
		m := manifestOf(config, layer)
		m = bytes.Replace(m, []byte(`{"schemaVersion":2,`), []byte(fmt.Sprintf(`{"schemaVersion":2,"annotations":{"n":"%d"},`, i)), 1)
		if _, err := f.reg.PutManifest(ctx, key("app"), "moving", nil, ociManifest, m); err != nil {
			t.Fatal(err)
		}
		img, err := f.reg.Manifest(ctx, key("app"), "moving", false)
		if err != nil || img.Digest != digest.FromBytes(m) {
			close(stop)
			t.Fatalf("push %d: tag resolves to %s (%v), want %s", i, img.Digest, err, digest.FromBytes(m))
		}
	}
	close(stop)
	wg.Wait()
	if err := f.reg.DeleteManifest(ctx, key("app"), "moving"); err != nil {
		t.Fatal(err)
	}
	_, err := f.reg.Manifest(ctx, key("app"), "moving", false)
	wantCode(t, err, registry.CodeManifestUnknown)
}

// TestLostUploadData: a machine crash can lose a PATCH's bytes (only
// finished blobs are fsynced). The session ends with BLOB_UPLOAD_UNKNOWN,
// never a server error.
func TestLostUploadData(t *testing.T) {
	f := newFixture(t, registry.Options{})
	for _, finish := range []bool{false, true} {
		u, _ := f.reg.StartUpload(ctx, key("app"))
		if _, err := f.reg.AppendUpload(ctx, key("app"), u.ID, 0, 5, strings.NewReader("hello")); err != nil {
			t.Fatal(err)
		}
		// The bytes vanish; an empty file stands in their place.
		f.blobs.DeleteUpload(ctx, u.ID)
		if w, err := f.blobs.CreateUpload(ctx, u.ID); err == nil {
			w.Close()
		}
		var err error
		if finish {
			_, err = f.reg.FinishUpload(ctx, key("app"), u.ID, digest.FromString("hello").String(), -1, 0, nil)
		} else {
			_, err = f.reg.AppendUpload(ctx, key("app"), u.ID, 5, 1, strings.NewReader("!"))
		}
		wantCode(t, err, registry.CodeBlobUploadUnknown)
		_, err = f.reg.UploadStatus(ctx, key("app"), u.ID)
		wantCode(t, err, registry.CodeBlobUploadUnknown)
	}
}

// TestDeleteRepositoryBesideFinishingUploads: a repository deleted while
// uploads into it finish never makes a finish fail as a server fault: it
// either completes first or finds its session (or repository) gone.
func TestDeleteRepositoryBesideFinishingUploads(t *testing.T) {
	f := newFixture(t, registry.Options{})
	for i := range 200 {
		repo := key(fmt.Sprintf("race/%d", i))
		content := []byte(fmt.Sprintf("blob %d", i))
		u, err := f.reg.StartUpload(ctx, repo)
		if err != nil {
			t.Fatal(err)
		}
		if _, err := f.reg.AppendUpload(ctx, repo, u.ID, 0, int64(len(content)), bytes.NewReader(content)); err != nil {
			t.Fatal(err)
		}
		var finishErr, deleteErr error
		var wg sync.WaitGroup
		wg.Go(func() {
			_, finishErr = f.reg.FinishUpload(ctx, repo, u.ID, digest.FromBytes(content).String(), -1, 0, nil)
		})
		wg.Go(func() { _, _, deleteErr = f.reg.DeleteRepository(ctx, repo, true) })
		wg.Wait()
		if deleteErr != nil {
			t.Fatalf("DeleteRepository: %v", deleteErr)
		}
		switch registry.CodeOf(finishErr) {
		case registry.CodeBlobUploadUnknown, registry.CodeNameUnknown:
		case registry.CodeInternal:
			if finishErr != nil {
				t.Fatalf("finishing an upload beside the deletion of its repository: %v", finishErr)
			}
		default:
			t.Fatalf("finishing an upload beside the deletion of its repository: %v", finishErr)
		}
	}
}
