package sqlite

import (
	"errors"
	"fmt"
	"os"
	"sync"
	"sync/atomic"

	"golang.org/x/sys/unix"

	"github.com/ecrd/ecrd/internal/metadata"
)

// Durable commits without holding the writer through an fsync.
//
// The writer connection commits with synchronous=NORMAL: a commit appends
// its frames to the write-ahead log and returns without syncing it. Update
// then waits, after the writer is free for the next transaction, for an
// fdatasync of the log that began after its commit returned. The log is
// appended in commit order, so that sync makes this commit durable and
// every commit before it; one sync serves every Update that committed
// while the previous one ran (group commit, without sharing transactions).
//
// What a reader sees: a transaction's changes are visible from its commit,
// a sync before Update returns. A power cut in between loses the commit,
// unacknowledged, and with it anything a reader took from it; but no
// acknowledged write depends on it, since the sync that acknowledges any
// later write covers it too. A process crash loses nothing committed:
// the log is in the kernel's page cache.
//
// Sync (metadata.Syncer) waits the same way without a commit of its own,
// for callers that commit without waiting and sync beside other work.
//
// Checkpoints (PASSIVE, on the read pool at synchronous=FULL) sync the log
// before copying it into the database file and the file after, so a
// commit that a checkpoint moved is durable whatever the log holds later.
type walSync struct {
	path string
	// syncFile syncs the log; tests replace it.
	syncFile func(path string) error

	committed atomic.Uint64 // durable commits that returned from the writer

	mu      sync.Mutex
	cond    *sync.Cond
	synced  uint64 // commits known durable: committed as it was when the last successful sync began
	syncing bool
	err     error // a sync's failure, which fails every commit after it
}

func newWALSync(dbPath string) *walSync {
	w := &walSync{path: dbPath + "-wal", syncFile: fdatasyncPath}
	w.cond = sync.NewCond(&w.mu)
	return w
}

// fdatasyncPath syncs the file at path. It opens the file each time: the
// log may be truncated or recreated between syncs, and syncing through any
// descriptor syncs the file. A log that is gone has nothing to sync:
// SQLite removes it only after a checkpoint has synced all it held into
// the database file.
func fdatasyncPath(path string) error {
	f, err := os.Open(path)
	if errors.Is(err, os.ErrNotExist) {
		return nil
	}
	if err != nil {
		return err
	}
	err = unix.Fdatasync(int(f.Fd()))
	if cerr := f.Close(); err == nil {
		err = cerr
	}
	return err
}

// commit makes the commit that just returned durable: it returns once a
// sync that began after the call has ended, running that sync itself if
// none is running. A failed sync fails every commit from then on: the
// kernel may have dropped the log's unwritten pages, and a log with a gap
// loses every commit after it in recovery, so no later sync can vouch for
// anything (a restart recovers what the log holds).
func (w *walSync) commit() error {
	seq := w.committed.Add(1)
	w.mu.Lock()
	defer w.mu.Unlock()
	for w.synced < seq {
		if w.err != nil {
			return w.err
		}
		if w.syncing {
			w.cond.Wait()
			continue
		}
		w.syncing = true
		target := w.committed.Load()
		w.mu.Unlock()
		err := w.syncFile(w.path)
		w.mu.Lock()
		w.syncing = false
		if err != nil {
			w.err = fmt.Errorf("syncing the metadata log %s failed; commits are no longer made durable until ecrd restarts: %w", w.path, err)
			if errors.Is(err, unix.ENOSPC) || errors.Is(err, unix.EDQUOT) {
				w.err = fmt.Errorf("%w: %w", metadata.ErrNoSpace, w.err)
			}
		} else {
			w.synced = max(w.synced, target)
		}
		w.cond.Broadcast()
	}
	return nil
}
