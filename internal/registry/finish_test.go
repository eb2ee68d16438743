package registry_test

import (
	"bytes"
	"context"
	"errors"
	"sync/atomic"
	"testing"
	"time"

	"github.com/opencontainers/go-digest"

	"github.com/ecrd/ecrd/internal/blobstore"
	"github.com/ecrd/ecrd/internal/metadata"
	"github.com/ecrd/ecrd/internal/registry"
	"github.com/ecrd/ecrd/internal/registry/registrytest"
	"github.com/ecrd/ecrd/internal/testutil"
)

// watchedSync is a store whose Sync checks, when a push calls it, that
// the session being finished is marked with its digest: the mark is what
// the sync makes durable for the link that follows without waiting.
type watchedSync struct {
	metadata.Store
	t       *testing.T
	id      *string
	want    *digest.Digest
	syncs   atomic.Int32
	noSyncs atomic.Int32
}

func (w *watchedSync) Unwrap() metadata.Store { return w.Store }

func (w *watchedSync) Sync(ctx context.Context) error {
	w.syncs.Add(1)
	u, err := w.Store.Upload(ctx, *w.id)
	if err != nil || u.Finishing != *w.want {
		w.t.Errorf("at the sync, session %s = %+v, %v; want it finishing as %s", *w.id, u, err, *w.want)
	}
	return metadata.SyncerOf(w.Store).Sync(ctx)
}

func (w *watchedSync) UpdateNoSync(ctx context.Context, fn func(metadata.Tx) error) error {
	w.noSyncs.Add(1)
	return w.Store.UpdateNoSync(ctx, fn)
}

// TestFinishSyncsBesideCommit: finishing an upload marks the session
// with its digest before the store's commit, syncs the metadata store
// once beside the commit, and links without waiting for the disk.
func TestFinishSyncsBesideCommit(t *testing.T) {
	stores := registrytest.Open(t)
	var id string
	var want digest.Digest
	meta := &watchedSync{Store: stores.Meta, t: t, id: &id, want: &want}
	reg := registry.New(meta, stores.Blobs, registry.Options{Logger: testutil.Logger()})
	registrytest.CreateOnPush(t, reg)

	content := []byte("a layer finished in one PUT")
	want = digest.FromBytes(content)
	u, err := reg.StartUpload(ctx, key("app"))
	if err != nil {
		t.Fatal(err)
	}
	id = u.ID
	before := meta.noSyncs.Load()
	if _, err := reg.FinishUpload(ctx, key("app"), u.ID, want.String(), -1, -1, bytes.NewReader(content)); err != nil {
		t.Fatal(err)
	}
	if n := meta.syncs.Load(); n != 1 {
		t.Errorf("finishing synced the metadata store %d times, want once", n)
	}
	// The record and mark, then the link: both without waiting.
	if n := meta.noSyncs.Load() - before; n != 2 {
		t.Errorf("finishing made %d commits without waiting, want 2", n)
	}
	if b, err := reg.StatBlob(ctx, key("app"), want.String()); err != nil || b.Size != int64(len(content)) {
		t.Errorf("StatBlob = %+v, %v", b, err)
	}
	if _, err := stores.Meta.Upload(ctx, u.ID); !errors.Is(err, metadata.ErrNotFound) {
		t.Errorf("the finished session is still recorded: %v", err)
	}
}

// TestRecoverFinishesInterruptedPush: what a crash leaves of a push that
// was finishing (see ingest), with the link lost: the session marked and
// its bytes committed as the blob (the push may have been answered), or
// still in the upload area (it was not), or gone without a blob (it was
// not, and nothing can finish it).
func TestRecoverFinishesInterruptedPush(t *testing.T) {
	f := newFixture(t, registry.Options{UploadTTL: time.Hour})
	f.pushBlob(t, "app", []byte("creates the repository"))

	// A session in the state Recover must repair, built through the
	// stores: the blob recorded and the session marked in one
	// transaction, the bytes committed, no link.
	interrupted := func(content []byte, commit bool) (metadata.Upload, digest.Digest) {
		t.Helper()
		d := digest.FromBytes(content)
		up, err := f.reg.StartUpload(ctx, key("app"))
		if err != nil {
			t.Fatal(err)
		}
		w, err := f.blobs.ResumeUpload(ctx, up.ID, 0)
		if err != nil {
			t.Fatal(err)
		}
		if _, err := w.Write(content); err != nil {
			t.Fatal(err)
		}
		u, err := f.meta.Upload(ctx, up.ID)
		if err != nil {
			t.Fatal(err)
		}
		u.Finishing = d
		err = f.meta.Update(ctx, func(tx metadata.Tx) error {
			if err := tx.RecordBlob(ctx, metadata.Blob{Digest: d, Size: int64(len(content))}, f.clock.Now()); err != nil {
				return err
			}
			return tx.PutUpload(ctx, u)
		})
		if err != nil {
			t.Fatal(err)
		}
		if commit {
			err = w.Commit(ctx, d)
		} else {
			err = w.Close()
		}
		if err != nil {
			t.Fatal(err)
		}
		return u, d
	}
	committed := []byte("committed, link lost")
	done, doneDigest := interrupted(committed, true)
	resumable, resumableDigest := interrupted([]byte("still in the upload area"), false)
	lost, lostDigest := interrupted([]byte("bytes gone, never committed"), false)
	if err := f.blobs.DeleteUpload(ctx, lost.ID); err != nil {
		t.Fatal(err)
	}
	if _, err := f.reg.StatBlob(ctx, key("app"), doneDigest.String()); registry.CodeOf(err) != registry.CodeBlobUnknown {
		t.Fatalf("before recovery, the unlinked blob is found: %v", err)
	}

	if err := f.reg.Recover(ctx); err != nil {
		t.Fatal(err)
	}
	if b, err := f.reg.StatBlob(ctx, key("app"), doneDigest.String()); err != nil || b.Size != int64(len(committed)) {
		t.Errorf("after recovery, StatBlob of the committed blob = %+v, %v", b, err)
	}
	if _, err := f.meta.Upload(ctx, done.ID); !errors.Is(err, metadata.ErrNotFound) {
		t.Errorf("the recovered session is still recorded: %v", err)
	}
	if st, err := f.reg.UploadStatus(ctx, key("app"), resumable.ID); err != nil {
		t.Errorf("recovery ended a session whose bytes are still there: %+v, %v", st, err)
	}
	for _, d := range []digest.Digest{resumableDigest, lostDigest} {
		if _, err := f.reg.StatBlob(ctx, key("app"), d.String()); registry.CodeOf(err) != registry.CodeBlobUnknown {
			t.Errorf("recovery linked %s, whose bytes were never committed: %v", d, err)
		}
	}
	if _, err := f.meta.Upload(ctx, lost.ID); !errors.Is(err, metadata.ErrNotFound) {
		t.Errorf("a session without bytes or blob survived recovery: %v", err)
	}
	if _, err := f.blobs.Stat(ctx, lostDigest); !errors.Is(err, blobstore.ErrNotFound) {
		t.Errorf("Stat of a blob never committed = %v", err)
	}
}
