package registry_test

import (
	"bytes"
	"crypto/rand"
	"errors"
	"io"
	"io/fs"
	"os"
	"path/filepath"
	"strings"
	"sync"
	"testing"
	"time"

	"github.com/ecrd/ecrd/internal/blobstore/blobstoretest"

	"github.com/opencontainers/go-digest"

	"github.com/ecrd/ecrd/internal/blobstore"
	"github.com/ecrd/ecrd/internal/identity"
	"github.com/ecrd/ecrd/internal/kms"
	"github.com/ecrd/ecrd/internal/metadata"
	"github.com/ecrd/ecrd/internal/registry"
	"github.com/ecrd/ecrd/internal/registry/registrytest"
	"github.com/ecrd/ecrd/internal/testutil"
)

// kmsFixture is a registry with the real KMS service, on SQLite and the
// filesystem in one data folder.
type kmsFixture struct {
	*fixture
	kms  *kms.Service
	dir  string
	opts registry.Options
}

func newKMSFixture(t testing.TB, opts registry.Options) *kmsFixture {
	t.Helper()
	stores := registrytest.Open(t)
	meta, blobs, dir := stores.Meta, stores.Blobs, stores.Dir
	ring, log := testutil.Keyring(t), testutil.Logger()
	ids := identity.New(meta, ring, log)
	if _, err := ids.EnsureAccount(ctx, scope.Account); err != nil {
		t.Fatal(err)
	}
	c := &clock{now: time.Now().UTC()}
	if opts.Now == nil {
		opts.Now = c.Now
	}
	opts.Logger = log
	svc := kms.New(meta, ring, ids, log)
	opts.Keys = registry.KMSKeys(svc)
	f := &kmsFixture{fixture: &fixture{meta: meta, blobs: blobs, clock: c}, kms: svc, dir: dir, opts: opts}
	f.reg = registry.New(meta, blobs, opts)
	registrytest.CreateOnPush(t, f.reg)
	return f
}

// restart returns a registry over the same stores, with cold caches.
func (f *kmsFixture) restart() *registry.Registry { return registry.New(f.meta, f.blobs, f.opts) }

func (f *kmsFixture) createKey(t testing.TB) string {
	t.Helper()
	k, err := f.kms.CreateKey(ctx, scope, kms.CreateKeyInput{Description: "registry key"})
	if err != nil {
		t.Fatal(err)
	}
	return k.ARN
}

func (f *kmsFixture) kmsRepo(t testing.TB, name, keyRef string) metadata.Repository {
	t.Helper()
	repo, err := f.reg.CreateRepository(ctx, key(name), metadata.RepositorySettings{EncryptionType: registry.EncryptionKMS, KMSKey: keyRef}, nil)
	if err != nil {
		t.Fatal(err)
	}
	return repo
}

// namespace returns the blob namespace of a KMS key.
func (f *kmsFixture) namespace(t testing.TB, keyARN string) blobstore.Store {
	t.Helper()
	parts := strings.Split(keyARN, ":")
	id := strings.TrimPrefix(parts[5], "key/")
	st, err := f.blobs.(blobstore.Namespaced).Namespace(ctx, "kms-"+parts[4]+"-"+parts[3]+"-"+id)
	if err != nil {
		t.Fatal(err)
	}
	return st
}

func randomLayer(t testing.TB, n int) []byte {
	t.Helper()
	b := make([]byte, n)
	rand.Read(b)
	return b
}

// pushChunked pushes content as a client does with POST, PATCHes and PUT.
func pushChunked(t testing.TB, reg *registry.Registry, repo string, content []byte) digest.Digest {
	t.Helper()
	u, err := reg.StartUpload(ctx, key(repo))
	if err != nil {
		t.Fatal(err)
	}
	half := len(content) / 2
	if _, err := reg.AppendUpload(ctx, key(repo), u.ID, 0, int64(half), bytes.NewReader(content[:half])); err != nil {
		t.Fatal(err)
	}
	if _, err := reg.AppendUpload(ctx, key(repo), u.ID, int64(half), -1, bytes.NewReader(content[half:len(content)-10])); err != nil {
		t.Fatal(err)
	}
	d := digest.FromBytes(content)
	if _, err := reg.FinishUpload(ctx, key(repo), u.ID, d.String(), int64(len(content)-10), 10, bytes.NewReader(content[len(content)-10:])); err != nil {
		t.Fatal(err)
	}
	return d
}

// pull reads a whole blob through the registry.
func pull(reg *registry.Registry, repo string, d digest.Digest) ([]byte, error) {
	_, rc, err := reg.OpenBlob(ctx, key(repo), d.String())
	if err != nil {
		return nil, err
	}
	defer rc.Close()
	return io.ReadAll(rc)
}

func wantPull(t testing.TB, reg *registry.Registry, repo string, want []byte) {
	t.Helper()
	got, err := pull(reg, repo, digest.FromBytes(want))
	if err != nil {
		t.Fatalf("pull from %s: %v", repo, err)
	}
	if !bytes.Equal(got, want) {
		t.Fatalf("pull from %s: %d bytes that differ from the %d pushed", repo, len(got), len(want))
	}
}

func TestKMSRepositoryEncryptsItsBlobs(t *testing.T) {
	f := newKMSFixture(t, registry.Options{})
	keyARN := f.createKey(t)
	repo := f.kmsRepo(t, "enc", keyARN)
	if repo.Settings.KMSKey != keyARN || repo.Settings.BlobKey != keyARN {
		t.Fatalf("settings %+v; want the key's ARN as kmsKey", repo.Settings)
	}
	described, _, err := f.reg.DescribeRepositories(ctx, scope, []string{"enc"}, "", 0)
	if err != nil || described[0].Settings.KMSKey != keyARN || described[0].Settings.EncryptionType != registry.EncryptionKMS {
		t.Fatalf("DescribeRepositories = %+v, %v", described, err)
	}

	layer := randomLayer(t, 3*64<<10+12345) // four segments, the last partial
	config := []byte(`{"architecture":"amd64","os":"linux","note":"a config blob is a blob too"}`)
	d := pushChunked(t, f.reg, "enc", layer)
	f.pushBlob(t, "enc", config) // monolithic
	if _, err := f.reg.PutManifest(ctx, key("enc"), "v1", nil, ociManifest, manifestOf(config, layer)); err != nil {
		t.Fatal(err)
	}

	b, err := f.reg.StatBlob(ctx, key("enc"), d.String())
	if err != nil || b.Size != int64(len(layer)) {
		t.Fatalf("StatBlob = %+v, %v; want the plaintext size %d", b, err, len(layer))
	}
	wantPull(t, f.reg, "enc", layer)
	wantPull(t, f.reg, "enc", config)
	wantPull(t, f.restart(), "enc", layer) // through KMS, not the cache
	f.pushBlob(t, "enc", []byte{})         // the empty blob, which OCI artifacts use
	wantPull(t, f.restart(), "enc", []byte{})

	// Ranges, as HTTP Range requests read them: Seek, then Read.
	_, rc, err := f.reg.OpenBlob(ctx, key("enc"), d.String())
	if err != nil {
		t.Fatal(err)
	}
	defer rc.Close()
	for _, r := range []struct{ off, n int }{{0, 1}, {1, 100}, {65535, 2}, {65536, 65536}, {100000, 100000}, {len(layer) - 1, 1}, {len(layer) - 70000, 70000}} {
		if _, err := rc.Seek(int64(r.off), io.SeekStart); err != nil {
			t.Fatal(err)
		}
		got := make([]byte, r.n)
		if _, err := io.ReadFull(rc, got); err != nil || !bytes.Equal(got, layer[r.off:r.off+r.n]) {
			t.Fatalf("range %d+%d: %v, or bytes that differ", r.off, r.n, err)
		}
	}

	// At rest: only ciphertext, in the key's namespace; nothing in the
	// plaintext store, no upload left behind.
	if files := blobstoretest.FilesHolding(t, f.dir, layer); len(files) != 0 {
		t.Fatalf("files holding plaintext of the layer: %v", files)
	}
	if files := blobstoretest.FilesHolding(t, f.dir, config); len(files) != 0 {
		t.Fatalf("files holding plaintext of the config: %v", files)
	}
	if n := len(storedBlobs(t, f.blobs)); n != 0 {
		t.Fatalf("the plaintext store holds %d blobs", n)
	}
	ns := f.namespace(t, keyARN)
	if got := storedBlobs(t, ns); len(got) != 3 || !got[d] {
		t.Fatalf("the key's namespace holds %v", got)
	}
	if ups, _ := f.blobs.Uploads(ctx); len(ups) != 0 {
		t.Fatalf("uploads left: %+v", ups)
	}
	if ups, _ := ns.Uploads(ctx); len(ups) != 0 {
		t.Fatalf("namespace uploads left: %+v", ups)
	}

	// The same layer in an AES256 repository is stored as it is: the
	// scan above would have seen it.
	f.pushBlob(t, "plain", layer)
	if files := blobstoretest.FilesHolding(t, f.dir, layer); len(files) != 1 {
		t.Fatalf("files holding the layer after an AES256 push: %v, want the plaintext store's", files)
	}

	// Tampering is detected before anything is served.
	p := filepath.Join(f.dir, "namespaces")
	var victim string
	filepath.WalkDir(p, func(path string, e fs.DirEntry, err error) error {
		if err == nil && e.Type().IsRegular() && strings.HasSuffix(path, d.Encoded()) {
			victim = path
		}
		return nil
	})
	data, err := os.ReadFile(victim)
	if err != nil {
		t.Fatal(err)
	}
	data[len(data)-100] ^= 1
	if err := os.WriteFile(victim, data, 0o640); err != nil {
		t.Fatal(err)
	}
	if _, err := pull(f.reg, "enc", d); err == nil || registry.CodeOf(err) != registry.CodeInternal {
		t.Fatalf("pull of a tampered blob: %v, want an internal error", err)
	}
}

func TestKMSOneDigestInThreeSpaces(t *testing.T) {
	f := newKMSFixture(t, registry.Options{})
	k1, k2 := f.createKey(t), f.createKey(t)
	f.kmsRepo(t, "one", k1)
	f.kmsRepo(t, "two", k2)
	layer := randomLayer(t, 100_000)
	d := f.pushBlob(t, "plain", layer)
	pushChunked(t, f.reg, "one", layer)
	f.pushBlob(t, "two", layer)

	var copies [][]byte
	for _, st := range []blobstore.Store{f.blobs, f.namespace(t, k1), f.namespace(t, k2)} {
		rc, err := st.Open(ctx, d)
		if err != nil {
			t.Fatalf("a space lacks the blob: %v", err)
		}
		b, _ := io.ReadAll(rc)
		rc.Close()
		copies = append(copies, b)
	}
	if !bytes.Equal(copies[0], layer) || bytes.Equal(copies[1], copies[2]) || bytes.Contains(copies[1], layer[:64]) {
		t.Fatal("want the plaintext in the plaintext store and two different ciphertexts")
	}
	for _, repo := range []string{"plain", "one", "two"} {
		wantPull(t, f.reg, repo, layer)
	}
	// A second push into a space that has the blob adds nothing.
	pushChunked(t, f.reg, "one", layer)
	if n := len(storedBlobs(t, f.namespace(t, k1))); n != 1 {
		t.Fatalf("key 1's namespace holds %d blobs", n)
	}
}

func TestKMSMountsAcrossSpaces(t *testing.T) {
	f := newKMSFixture(t, registry.Options{})
	k1, k2 := f.createKey(t), f.createKey(t)
	f.kmsRepo(t, "enc", k1)
	f.kmsRepo(t, "enc2", k2)
	f.kmsRepo(t, "enc1b", k1)
	mount := func(to, from string, content []byte) {
		t.Helper()
		src := key(from)
		_, ok, err := f.reg.MountBlob(ctx, key(to), &src, digest.FromBytes(content).String())
		if err != nil || !ok {
			t.Fatalf("mount %s <- %s: %v, %v", to, from, ok, err)
		}
		wantPull(t, f.reg, to, content)
	}
	a := randomLayer(t, 70_000)
	f.pushBlob(t, "plain", a)
	mount("enc", "plain", a) // plaintext -> key 1
	mount("enc2", "enc", a)  // key 1 -> key 2
	mount("enc1b", "enc", a) // within key 1: no copy
	b := randomLayer(t, 70_000)
	pushChunked(t, f.reg, "enc", b)
	mount("plain2", "enc", b) // key 1 -> plaintext (a new repository, created on push)
	e := randomLayer(t, 70_000)
	f.pushBlob(t, "enc2", e)
	if got := storedBlobs(t, f.blobs); !got[digest.FromBytes(a)] || !got[digest.FromBytes(b)] {
		t.Fatalf("plaintext store holds %v", got)
	}
	if got := storedBlobs(t, f.namespace(t, k1)); len(got) != 2 {
		t.Fatalf("key 1's namespace holds %v", got)
	}
	if got := storedBlobs(t, f.namespace(t, k2)); len(got) != 2 {
		t.Fatalf("key 2's namespace holds %v", got)
	}
	// Without a source, any repository that has it serves.
	if _, ok, err := f.reg.MountBlob(ctx, key("enc2"), nil, digest.FromBytes(b).String()); err != nil || !ok {
		t.Fatalf("mount without a source: %v, %v", ok, err)
	}
	wantPull(t, f.reg, "enc2", b)

	// A source whose key is disabled cannot be copied from: the client
	// uploads instead.
	if err := f.kms.DisableKey(ctx, scope, k2); err != nil {
		t.Fatal(err)
	}
	f.clock.Advance(time.Minute)
	c := randomLayer(t, 1000)
	f.pushBlob(t, "plain", c)
	mount("enc1b", "plain", c)
	_, ok, err := f.reg.MountBlob(ctx, key("plain3"), &metadata.RepoKey{Scope: scope, Name: "enc2"}, digest.FromBytes(e).String())
	if err != nil || ok {
		t.Fatalf("mount from a repository whose key is disabled = %v, %v; want nothing mounted", ok, err)
	}
}

func TestKMSDisabledKeyStopsPullsAndPushes(t *testing.T) {
	f := newKMSFixture(t, registry.Options{})
	keyARN := f.createKey(t)
	f.kmsRepo(t, "enc", keyARN)
	layer := randomLayer(t, 100_000)
	d := pushChunked(t, f.reg, "enc", layer)
	wantPull(t, f.reg, "enc", layer)

	if err := f.kms.DisableKey(ctx, scope, keyARN); err != nil {
		t.Fatal(err)
	}
	// The cached data key serves until the key's state is checked again.
	f.clock.Advance(6 * time.Second)
	wantKMS := func(err error, want string) {
		t.Helper()
		wantCode(t, err, registry.CodeKMS)
		if err.Error() != want {
			t.Fatalf("message %q, want %q", err, want)
		}
	}
	readMsg := "KMS key " + keyARN + " is disabled: the repository's images cannot be read until it is enabled"
	_, err := pull(f.reg, "enc", d)
	wantKMS(err, readMsg)
	_, err = pull(f.restart(), "enc", d) // no cache at all
	wantKMS(err, readMsg)
	pushMsg := "KMS key " + keyARN + " is disabled: the repository cannot take pushes until it is enabled"
	_, err = f.reg.StartUpload(ctx, key("enc"))
	wantKMS(err, pushMsg)
	other := []byte("another layer")
	_, err = f.reg.PutBlob(ctx, key("enc"), digest.FromBytes(other).String(), bytes.NewReader(other), int64(len(other)))
	wantKMS(err, pushMsg)
	// Metadata still answers: the blob is there, it cannot be read.
	if _, err := f.reg.StatBlob(ctx, key("enc"), d.String()); err != nil {
		t.Fatal(err)
	}

	if err := f.kms.EnableKey(ctx, scope, keyARN); err != nil {
		t.Fatal(err)
	}
	f.clock.Advance(6 * time.Second)
	wantPull(t, f.reg, "enc", layer)
	f.pushBlob(t, "enc", other)

	if _, err := f.kms.ScheduleKeyDeletion(ctx, scope, keyARN, nil); err != nil {
		t.Fatal(err)
	}
	f.clock.Advance(6 * time.Second)
	_, err = pull(f.reg, "enc", d)
	wantKMS(err, "KMS key "+keyARN+" is pending deletion: the repository's images cannot be read unless its deletion is cancelled and it is enabled")
}

// TestKMSConcurrentPushesAndPulls pushes one digest into a KMS repository
// from several clients at once while others pull it: each push stores a
// whole object (the last rename wins), and every pull reads the blob.
func TestKMSConcurrentPushesAndPulls(t *testing.T) {
	f := newKMSFixture(t, registry.Options{})
	f.kmsRepo(t, "enc", f.createKey(t))
	layer := randomLayer(t, 300_000)
	d := f.pushBlob(t, "enc", layer)
	var wg sync.WaitGroup
	errs := make(chan error, 16)
	for i := range 16 {
		wg.Go(func() {
			if i%2 == 0 {
				_, err := f.reg.PutBlob(ctx, key("enc"), d.String(), bytes.NewReader(layer), int64(len(layer)))
				errs <- err
				return
			}
			got, err := pull(f.reg, "enc", d)
			if err == nil && !bytes.Equal(got, layer) {
				err = errors.New("a concurrent pull read other bytes")
			}
			errs <- err
		})
	}
	wg.Wait()
	close(errs)
	for err := range errs {
		if err != nil {
			t.Error(err)
		}
	}
	wantPull(t, f.restart(), "enc", layer)
}

func TestKMSCreateRepository(t *testing.T) {
	f := newKMSFixture(t, registry.Options{})
	create := func(name, typ, ref string) (metadata.Repository, error) {
		return f.reg.CreateRepository(ctx, key(name), metadata.RepositorySettings{EncryptionType: typ, KMSKey: ref}, nil)
	}
	keyARN := f.createKey(t)
	if err := f.kms.CreateAlias(ctx, scope, "alias/registry", keyARN); err != nil {
		t.Fatal(err)
	}
	id := keyARN[strings.LastIndex(keyARN, "/")+1:]
	for _, ref := range []string{keyARN, id, "alias/registry", "arn:aws:kms:us-east-1:123456789012:alias/registry"} {
		repo, err := create("by/"+strings.NewReplacer(":", "-", "/", "-").Replace(ref), registry.EncryptionKMSDSSE, ref)
		if err != nil || repo.Settings.KMSKey != keyARN || repo.Settings.BlobKey != keyARN {
			t.Fatalf("kmsKey %q: %+v, %v; want the key's ARN", ref, repo.Settings, err)
		}
	}

	// No key: the account's aws/ecr key, made on first use.
	repo, err := create("managed", registry.EncryptionKMS, "")
	if err != nil {
		t.Fatal(err)
	}
	managed, err := f.kms.ECRManagedKey(ctx, scope.Account, scope.Region)
	if err != nil || repo.Settings.KMSKey != managed.ARN || repo.Settings.BlobKey != managed.ARN {
		t.Fatalf("kmsKey %q, want the aws/ecr key %s (%v)", repo.Settings.KMSKey, managed.ARN, err)
	}
	layer := randomLayer(t, 5000)
	f.pushBlob(t, "managed", layer)
	wantPull(t, f.reg, "managed", layer)
	if len(storedBlobs(t, f.namespace(t, managed.ARN))) != 1 {
		t.Fatal("the aws/ecr key's namespace does not hold the blob")
	}

	missing := "arn:aws:kms:us-east-1:123456789012:key/00000000-0000-4000-8000-000000000000"
	_, err = create("missing", registry.EncryptionKMS, missing)
	wantCode(t, err, registry.CodeKMS)
	if want := "KMS key " + missing + " does not exist: name an existing key by its key ID, key ARN, alias name or alias ARN"; err.Error() != want {
		t.Fatalf("message %q, want %q", err, want)
	}
	_, err = create("missing-alias", registry.EncryptionKMS, "alias/nothing")
	wantCode(t, err, registry.CodeKMS)
	if err := f.kms.DisableKey(ctx, scope, keyARN); err != nil {
		t.Fatal(err)
	}
	_, err = create("disabled", registry.EncryptionKMS, keyARN)
	wantCode(t, err, registry.CodeKMS)
	if want := "KMS key " + keyARN + " is disabled: enable it (aws kms enable-key), or name another key"; err.Error() != want {
		t.Fatalf("message %q, want %q", err, want)
	}
	if _, _, err := f.reg.DescribeRepositories(ctx, scope, []string{"disabled"}, "", 0); registry.CodeOf(err) != registry.CodeNameUnknown {
		t.Fatalf("a refused repository exists: %v", err)
	}

	// AES256 repositories have no key.
	repo, err = create("aes", registry.EncryptionAES256, "")
	if err != nil || repo.Settings.KMSKey != "" || repo.Settings.BlobKey != "" {
		t.Fatalf("AES256: %+v, %v", repo.Settings, err)
	}
}

func TestKMSCreateOnPushTemplate(t *testing.T) {
	f := newKMSFixture(t, registry.Options{})
	keyARN := f.createKey(t)
	for prefix, ref := range map[string]string{"managed": "", "own": keyARN} {
		if _, err := f.reg.CreateCreationTemplate(ctx, scope, registry.CreationTemplate{Prefix: prefix,
			AppliedFor: []string{registry.AppliedForCreateOnPush}, EncryptionType: registry.EncryptionKMS, KMSKey: ref}); err != nil {
			t.Fatal(err)
		}
	}
	managed, err := f.kms.ECRManagedKey(ctx, scope.Account, scope.Region)
	if err != nil {
		t.Fatal(err)
	}
	for repo, want := range map[string]string{"managed/app": managed.ARN, "own/app": keyARN} {
		layer := randomLayer(t, 20_000)
		pushChunked(t, f.reg, repo, layer)
		got, _, err := f.reg.DescribeRepositories(ctx, scope, []string{repo}, "", 0)
		if err != nil || got[0].Settings.KMSKey != want || got[0].Settings.BlobKey != want {
			t.Fatalf("%s created on push with %+v, %v; want key %s", repo, got, err, want)
		}
		wantPull(t, f.reg, repo, layer)
		if files := blobstoretest.FilesHolding(t, f.dir, layer); len(files) != 0 {
			t.Fatalf("plaintext of a pushed layer in %v", files)
		}
	}
	// A template whose key is disabled creates nothing.
	if err := f.kms.DisableKey(ctx, scope, keyARN); err != nil {
		t.Fatal(err)
	}
	_, err = f.reg.StartUpload(ctx, key("own/other"))
	wantCode(t, err, registry.CodeKMS)
}

func TestKMSRepositoryWithoutKeyService(t *testing.T) {
	f := newFixture(t, registry.Options{})
	repo, err := f.reg.CreateRepository(ctx, key("kms"), metadata.RepositorySettings{EncryptionType: registry.EncryptionKMS, KMSKey: "alias/anything"}, nil)
	if err != nil || repo.Settings.BlobKey != "" || repo.Settings.KMSKey != "alias/anything" {
		t.Fatalf("%+v, %v; want a repository stored as before, unencrypted", repo.Settings, err)
	}
	layer := []byte("stored as it is")
	d := f.pushBlob(t, "kms", layer)
	if !storedBlobs(t, f.blobs)[d] {
		t.Fatal("the blob is not in the plaintext store")
	}
	wantPull(t, f.reg, "kms", layer)
}

func TestKMSGCCollectsEncryptedBlobs(t *testing.T) {
	f := newKMSFixture(t, registry.Options{GCGrace: time.Hour})
	keyARN := f.createKey(t)
	f.kmsRepo(t, "enc", keyARN)
	ns := f.namespace(t, keyARN)
	kept := f.pushImage(t, "enc", "kept", "kept")
	gone := f.pushImage(t, "enc", "gone", "gone")
	shared := randomLayer(t, 10_000)
	f.pushBlob(t, "enc", shared)
	f.pushBlob(t, "plain", shared) // the same digest, in plain
	if err := f.reg.DeleteManifest(ctx, key("enc"), digest.FromBytes(gone).String()); err != nil {
		t.Fatal(err)
	}
	orphan := storeOrphan(t, ns, []byte("an encryption a crash left without a record"))
	// An encryption a crash cut short: recovery removes it.
	w, err := ns.CreateUpload(ctx, "interrupted")
	if err != nil {
		t.Fatal(err)
	}
	w.Write([]byte("half an object"))
	w.Close()
	if err := f.reg.Recover(ctx); err != nil {
		t.Fatal(err)
	}
	if ups, _ := ns.Uploads(ctx); len(ups) != 0 {
		t.Fatalf("recovery left the namespace's uploads %+v", ups)
	}

	f.clock.Advance(2 * time.Hour)
	rep := f.collect(t)
	if rep.BlobsDeleted != 3 || rep.OrphansDeleted != 1 {
		t.Fatalf("report %+v; want the gone image's 2 blobs, the loose layer, and the orphan", rep)
	}
	got := storedBlobs(t, ns)
	goneConfig, goneLayer := digest.FromBytes([]byte(`{"seed":"gone"}`)), digest.FromBytes([]byte("layer gone"))
	if got[goneConfig] || got[goneLayer] || got[orphan] || got[digest.FromBytes(shared)] {
		t.Fatalf("the namespace still holds collected blobs: %v", got)
	}
	if !got[digest.FromBytes([]byte(`{"seed":"kept"}`))] || !got[digest.FromBytes([]byte("layer kept"))] {
		t.Fatalf("the namespace lost a kept image's blobs: %v", got)
	}
	if storedBlobs(t, f.blobs)[digest.FromBytes(shared)] {
		t.Fatal("the plaintext copy of a collected blob stayed")
	}
	if _, err := f.reg.Manifest(ctx, key("enc"), digest.FromBytes(kept).String(), false); err != nil {
		t.Fatal(err)
	}
	wantPull(t, f.reg, "enc", []byte("layer kept"))
}

// BenchmarkBlob100MB pushes (POST, one PATCH, PUT, as crane does) and
// pulls (OpenBlob, read to the end) a 100 MB blob in an AES256 and a KMS
// repository, for the ratio of the two. Run with:
//
//	go test ./internal/registry -run '^$' -bench Blob100MB -benchtime 10x
func BenchmarkBlob100MB(b *testing.B) {
	const size = 100 << 20
	for _, enc := range []string{registry.EncryptionAES256, registry.EncryptionKMS} {
		f := newKMSFixture(b, registry.Options{})
		repo := strings.ToLower(enc)
		ref := ""
		if enc == registry.EncryptionKMS {
			ref = f.createKey(b)
		}
		if _, err := f.reg.CreateRepository(ctx, key(repo), metadata.RepositorySettings{EncryptionType: enc, KMSKey: ref}, nil); err != nil {
			b.Fatal(err)
		}
		blob := randomLayer(b, size)
		b.Run("push/"+enc, func(b *testing.B) {
			b.SetBytes(size)
			for i := 0; b.Loop(); i++ {
				// A new digest each time; the client's hashing is not
				// the server's work.
				b.StopTimer()
				blob[0], blob[1], blob[2] = byte(i), byte(i>>8), 0xff
				d := digest.FromBytes(blob)
				b.StartTimer()
				u, err := f.reg.StartUpload(ctx, key(repo))
				if err != nil {
					b.Fatal(err)
				}
				if _, err := f.reg.AppendUpload(ctx, key(repo), u.ID, 0, size, bytes.NewReader(blob)); err != nil {
					b.Fatal(err)
				}
				if _, err := f.reg.FinishUpload(ctx, key(repo), u.ID, d.String(), -1, 0, nil); err != nil {
					b.Fatal(err)
				}
			}
		})
		blob[2] = 0
		d := f.pushBlob(b, repo, blob)
		b.Run("pull/"+enc, func(b *testing.B) {
			b.SetBytes(size)
			for b.Loop() {
				_, rc, err := f.reg.OpenBlob(ctx, key(repo), d.String())
				if err != nil {
					b.Fatal(err)
				}
				// Into a writer without ReadFrom, as a socket is reached
				// through http: a file is copied through a buffer, an
				// encrypted blob a segment at a time (WriteTo).
				if _, err := io.Copy(struct{ io.Writer }{io.Discard}, rc); err != nil {
					b.Fatal(err)
				}
				rc.Close()
			}
		})
	}
}

// TestServerKeyEncryptsAES256Repositories: with Options.ServerKey, an
// AES256 repository created from then on keeps its blobs encrypted under
// the server keys; one created before stays as it was; both pull back
// what was pushed, and a mount between them copies across.
func TestServerKeyEncryptsAES256Repositories(t *testing.T) {
	f := newKMSFixture(t, registry.Options{})
	if _, err := f.reg.CreateRepository(ctx, key("before"), metadata.RepositorySettings{}, nil); err != nil {
		t.Fatal(err)
	}
	f.opts.ServerKey = testutil.Keyring(t)
	f.reg = f.restart()
	repo, err := f.reg.CreateRepository(ctx, key("after"), metadata.RepositorySettings{}, nil)
	if err != nil || repo.Settings.BlobKey != registry.ServerKeyARN || repo.Settings.EncryptionType != registry.EncryptionAES256 || repo.Settings.KMSKey != "" {
		t.Fatalf("a new AES256 repository: %+v, %v", repo.Settings, err)
	}
	layer := randomLayer(t, 2*64<<10+7)
	pushChunked(t, f.reg, "after", layer)
	wantPull(t, f.reg, "after", layer)
	wantPull(t, f.restart(), "after", layer)
	if files := blobstoretest.FilesHolding(t, f.dir, layer); len(files) != 0 {
		t.Fatalf("plaintext of the encrypted repository's layer in %v", files)
	}
	// The repository made before keeps its blobs in plain.
	pushChunked(t, f.reg, "before", layer)
	wantPull(t, f.reg, "before", layer)
	if files := blobstoretest.FilesHolding(t, f.dir, layer); len(files) != 1 {
		t.Fatalf("the older repository's layer is in %v, want one plain file", files)
	}
	// Another server key cannot read the objects.
	f.opts.ServerKey = testutil.Keyring(t)
	if _, rc, err := f.restart().OpenBlob(ctx, key("after"), digest.FromBytes(layer).String()); err == nil {
		_, err = io.ReadAll(rc)
		rc.Close()
		if err == nil {
			t.Fatal("the blob opened under other server keys")
		}
	}
}
