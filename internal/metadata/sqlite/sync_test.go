package sqlite

import (
	"context"
	"errors"
	"path/filepath"
	"sync"
	"testing"
	"time"

	"github.com/ecrd/ecrd/internal/metadata"
)

// gatedSyncs replaces a store's log sync with one that reports each call
// and waits to be let through, so that a test sees which commits a sync
// could cover.
type gatedSyncs struct {
	calls   chan uint64 // the commits made when a sync began
	release chan error
}

func gateSyncs(s *Store) *gatedSyncs {
	g := &gatedSyncs{calls: make(chan uint64, 100), release: make(chan error)}
	s.wal.syncFile = func(string) error {
		g.calls <- s.wal.committed.Load()
		return <-g.release
	}
	return g
}

func openTemp(t *testing.T) *Store {
	t.Helper()
	s, err := Open(context.Background(), filepath.Join(t.TempDir(), "meta.db"))
	if err != nil {
		t.Fatal(err)
	}
	t.Cleanup(func() { s.Close() })
	return s
}

var testScope = metadata.Scope{Account: "123456789012", Region: "us-east-1"}

func setSetting(key string) func(metadata.Tx) error {
	return func(tx metadata.Tx) error {
		return tx.PutAccountSetting(context.Background(), testScope, key, "v")
	}
}

// Update returns only after a sync of the log that began after its
// commit; UpdateNoSync does not wait for one.
func TestUpdateWaitsForASyncAfterItsCommit(t *testing.T) {
	ctx := context.Background()
	s := openTemp(t)
	g := gateSyncs(s)

	if err := s.UpdateNoSync(ctx, setSetting("a")); err != nil {
		t.Fatal(err)
	}
	select {
	case <-g.calls:
		t.Fatal("UpdateNoSync synced the log")
	default:
	}

	done := make(chan error, 1)
	go func() { done <- s.Update(ctx, setSetting("b")) }()
	if c := <-g.calls; c != 1 {
		t.Fatalf("the sync began with %d commits made, want 1", c)
	}
	// The change is committed (visible) but Update waits for the sync.
	if v, err := s.AccountSetting(ctx, testScope, "b"); err != nil || v != "v" {
		t.Fatalf("reading the committed change: %q, %v", v, err)
	}
	select {
	case err := <-done:
		t.Fatalf("Update returned (%v) before its sync ended", err)
	case <-time.After(50 * time.Millisecond):
	}
	g.release <- nil
	if err := <-done; err != nil {
		t.Fatal(err)
	}
}

// Commits made while a sync runs wait for the next one, and share it.
func TestUpdatesShareASync(t *testing.T) {
	ctx := context.Background()
	s := openTemp(t)
	g := gateSyncs(s)

	first := make(chan error, 1)
	go func() { first <- s.Update(ctx, setSetting("first")) }()
	<-g.calls // the first sync runs, holding the rest back

	const n = 8
	var wg sync.WaitGroup
	errs := make(chan error, n)
	for i := range n {
		wg.Go(func() { errs <- s.Update(ctx, setSetting(string(rune('a'+i)))) })
	}
	// Wait until all n have committed and are waiting for a sync.
	for s.wal.committed.Load() < n+1 {
		time.Sleep(time.Millisecond)
	}
	g.release <- nil
	if err := <-first; err != nil {
		t.Fatal(err)
	}
	if c := <-g.calls; c != n+1 {
		t.Fatalf("the second sync began with %d commits made, want %d", c, n+1)
	}
	g.release <- nil
	wg.Wait()
	close(errs)
	for err := range errs {
		if err != nil {
			t.Fatal(err)
		}
	}
	select {
	case c := <-g.calls:
		t.Fatalf("a third sync (at %d commits) for commits the second covered", c)
	default:
	}
}

// Sync waits for a sync of the log that began after the call, as Update
// does after its commit, and so covers commits made without waiting
// while an earlier sync ran.
func TestSyncCoversEarlierCommits(t *testing.T) {
	ctx := context.Background()
	s := openTemp(t)
	g := gateSyncs(s)

	first := make(chan error, 1)
	go func() { first <- s.Update(ctx, setSetting("first")) }()
	<-g.calls // a sync runs that cannot cover what follows
	if err := s.UpdateNoSync(ctx, setSetting("later")); err != nil {
		t.Fatal(err)
	}
	synced := make(chan error, 1)
	go func() { synced <- s.Sync(ctx) }()
	for s.wal.committed.Load() < 2 {
		time.Sleep(time.Millisecond)
	}
	g.release <- nil
	if err := <-first; err != nil {
		t.Fatal(err)
	}
	select {
	case err := <-synced:
		t.Fatalf("Sync returned (%v) with the sync that was running when it was called", err)
	case c := <-g.calls:
		if c != 2 {
			t.Fatalf("the second sync began with %d commits made, want 2", c)
		}
	}
	select {
	case err := <-synced:
		t.Fatalf("Sync returned (%v) before its sync ended", err)
	case <-time.After(50 * time.Millisecond):
	}
	g.release <- nil
	if err := <-synced; err != nil {
		t.Fatal(err)
	}
}

// A failed sync fails the commits it was to cover and every later one:
// nothing after a gap in the log survives recovery.
func TestFailedSyncFailsLaterCommits(t *testing.T) {
	ctx := context.Background()
	s := openTemp(t)
	g := gateSyncs(s)
	eio := errors.New("input/output error")

	done := make(chan error, 1)
	go func() { done <- s.Update(ctx, setSetting("a")) }()
	<-g.calls
	g.release <- eio
	if err := <-done; !errors.Is(err, eio) {
		t.Fatalf("Update after a failed sync: %v, want the sync's error", err)
	}
	if err := s.Update(ctx, setSetting("b")); !errors.Is(err, eio) {
		t.Fatalf("a later Update: %v, want the failed sync's error", err)
	}
	select {
	case c := <-g.calls:
		t.Fatalf("synced again (at %d commits) after a failed sync", c)
	default:
	}
}

// The real sync: the log exists beside the database once a commit is
// made, and Update syncs it without error.
func TestUpdateSyncsTheLog(t *testing.T) {
	ctx := context.Background()
	s := openTemp(t)
	for i := range 3 {
		if err := s.Update(ctx, setSetting(string(rune('a'+i)))); err != nil {
			t.Fatal(err)
		}
	}
	if got := s.wal.synced; got != 3 {
		t.Errorf("%d commits known durable, want 3", got)
	}
}

// The real sync of a log that is not there (removed by SQLite after its
// last checkpoint) succeeds; of a path that cannot be opened, fails.
func TestSyncFileWithoutLog(t *testing.T) {
	dir := t.TempDir()
	if err := fdatasyncPath(filepath.Join(dir, "meta.db-wal")); err != nil {
		t.Errorf("syncing a missing log: %v", err)
	}
	if err := fdatasyncPath(filepath.Join(dir, "not-a-dir", "x", "\x00")); err == nil {
		t.Error("syncing an invalid path succeeded")
	}
}
