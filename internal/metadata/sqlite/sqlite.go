// Package sqlite is the embedded metadata backend: one SQLite database file
// in WAL mode, written through a single connection (SQLite allows one
// writer at a time anyway) and read through a pool.
//
// Commits are durable when Update returns: an acknowledged push survives
// a power cut, not only a process crash. The writer commits without
// syncing and Update then waits for a sync of the log that began after
// its commit, one sync serving every commit made while the last ran
// (walsync.go); UpdateNoSync does not wait.
package sqlite

import (
	"context"
	"database/sql"
	"errors"
	"fmt"
	"net/url"
	"runtime"
	"time"

	"modernc.org/sqlite"
	sqlite3 "modernc.org/sqlite/lib"

	"github.com/ecrd/ecrd/internal/metadata"
)

// Store is a metadata.Store in a SQLite database.
type Store struct {
	reader
	writer *sql.DB
	rdb    *sql.DB
	wstmts *statements
	cache  *stmtCache
	wal    *walSync

	stopCheckpoints chan struct{}
	checkpointsDone chan struct{}
}

// checkpointInterval is how often the write-ahead log is copied into the
// database file. SQLite would do it inside a commit once the log reaches
// 1,000 pages, stalling that commit, and every writer queued behind it,
// for the copy and its fsyncs; a background PASSIVE checkpoint runs beside
// writers instead.
const checkpointInterval = time.Second

var (
	_ metadata.Store  = (*Store)(nil)
	_ metadata.Syncer = (*Store)(nil)
)

// Open opens (creating and migrating if needed) the database at path.
func Open(ctx context.Context, path string) (*Store, error) {
	// The writer commits at synchronous=NORMAL and Update syncs the log
	// itself (walSync); checkpoints, on the read pool, sync at FULL.
	dsn := func(txlock, synchronous string) string {
		q := url.Values{}
		for _, p := range []string{"busy_timeout(10000)", "journal_mode(WAL)", "synchronous(" + synchronous + ")", "foreign_keys(1)",
			"wal_autocheckpoint(0)", "journal_size_limit(67108864)"} {
			q.Add("_pragma", p)
		}
		q.Set("_txlock", txlock)
		return "file:" + path + "?" + q.Encode()
	}
	writer, err := sql.Open("sqlite", dsn("immediate", "NORMAL"))
	if err != nil {
		return nil, err
	}
	writer.SetMaxOpenConns(1)
	writer.SetMaxIdleConns(1)
	writer.SetConnMaxLifetime(0)
	if err := migrate(ctx, writer); err != nil {
		writer.Close()
		return nil, err
	}
	rdb, err := sql.Open("sqlite", dsn("deferred", "FULL"))
	if err != nil {
		writer.Close()
		return nil, err
	}
	n := max(4, 2*runtime.GOMAXPROCS(0))
	rdb.SetMaxOpenConns(n)
	rdb.SetMaxIdleConns(n)
	rdb.SetConnMaxLifetime(0)

	s := &Store{writer: writer, rdb: rdb, cache: newStmtCache(writer), wal: newWALSync(path)}
	if s.wstmts, err = prepare(ctx, writer); err == nil {
		var rstmts *statements
		if rstmts, err = prepare(ctx, rdb); err == nil {
			s.reader = reader{q: rdb, stmts: rstmts}
		}
	}
	if err != nil {
		s.Close()
		return nil, fmt.Errorf("preparing statements: %w", err)
	}
	s.stopCheckpoints, s.checkpointsDone = make(chan struct{}), make(chan struct{})
	go s.checkpoints()
	return s, nil
}

// checkpoints copies the write-ahead log into the database file every
// checkpointInterval until Close.
func (s *Store) checkpoints() {
	defer close(s.checkpointsDone)
	t := time.NewTicker(checkpointInterval)
	defer t.Stop()
	for {
		select {
		case <-s.stopCheckpoints:
			return
		case <-t.C:
			// A failure (the database busy or closing) is retried next tick.
			s.rdb.Exec("PRAGMA wal_checkpoint(PASSIVE)")
		}
	}
}

func migrate(ctx context.Context, db *sql.DB) error {
	tx, err := db.BeginTx(ctx, nil)
	if err != nil {
		return fmt.Errorf("opening metadata database: %w", err)
	}
	defer tx.Rollback()
	var version int
	if err := tx.QueryRowContext(ctx, "PRAGMA user_version").Scan(&version); err != nil {
		return fmt.Errorf("reading schema version: %w", err)
	}
	if version > len(migrations) {
		return fmt.Errorf("metadata database has schema version %d, newer than this ecrd knows (%d): run a newer ecrd", version, len(migrations))
	}
	for i := version; i < len(migrations); i++ {
		if _, err := tx.ExecContext(ctx, migrations[i]); err != nil {
			return fmt.Errorf("migrating metadata schema to version %d: %w", i+1, err)
		}
	}
	if _, err := tx.ExecContext(ctx, fmt.Sprintf("PRAGMA user_version = %d", len(migrations))); err != nil {
		return err
	}
	return tx.Commit()
}

// Update implements metadata.Store: it returns once the commit is
// durable (walSync).
func (s *Store) Update(ctx context.Context, fn func(metadata.Tx) error) error {
	if err := s.UpdateNoSync(ctx, fn); err != nil {
		return err
	}
	return s.wal.commit()
}

// Sync implements metadata.Syncer: it waits for a sync of the log that
// began after the call, as Update does after its commit (walSync).
func (s *Store) Sync(context.Context) error { return s.wal.commit() }

// UpdateNoSync implements metadata.Store: the commit is appended to the
// log without waiting for the disk; the next Update's sync covers it.
func (s *Store) UpdateNoSync(ctx context.Context, fn func(metadata.Tx) error) error {
	tx, err := s.writer.BeginTx(ctx, nil)
	if err != nil {
		return fmt.Errorf("starting transaction: %w", err)
	}
	return s.run(tx, fn)
}

// run runs fn in tx and commits; then it prepares the statements tx ran
// that the cache did not hold (stmtcache.go).
func (s *Store) run(tx *sql.Tx, fn func(metadata.Tx) error) error {
	var missed []string
	q := cachedTx{tx: tx, cache: s.cache, missed: &missed}
	err := fn(&writeTx{reader: reader{q: q, stmts: s.wstmts, tx: tx}, tx: q})
	if err != nil {
		tx.Rollback()
		err = noSpace(err)
	} else if err = tx.Commit(); err != nil {
		err = fmt.Errorf("committing transaction: %w", noSpace(err))
	}
	if len(missed) > 0 {
		s.cache.prepare(context.Background(), missed)
	}
	return err
}

// noSpace marks a failure for want of disk space (SQLITE_FULL), which
// the registry reports as such rather than as a server fault.
func noSpace(err error) error {
	var se *sqlite.Error
	if errors.As(err, &se) && se.Code()&0xff == sqlite3.SQLITE_FULL {
		return fmt.Errorf("%w: %w", metadata.ErrNoSpace, err)
	}
	return err
}

// Ready implements metadata.Store.
func (s *Store) Ready(ctx context.Context) error {
	return s.rdb.PingContext(ctx)
}

// Close implements metadata.Store. It leaves the log checkpointed and
// truncated, so that a stopped server's data folder is just the database.
func (s *Store) Close() error {
	if s.stopCheckpoints != nil {
		close(s.stopCheckpoints)
		<-s.checkpointsDone
	}
	var errs []error
	if s.rdb != nil {
		errs = append(errs, s.rdb.Close())
	}
	if _, err := s.writer.Exec("PRAGMA wal_checkpoint(TRUNCATE)"); err != nil {
		errs = append(errs, err)
	}
	if s.cache != nil {
		s.cache.close()
	}
	errs = append(errs, s.writer.Close())
	return errors.Join(errs...)
}

// isConstraint reports whether err is a uniqueness or key violation.
func isConstraint(err error) bool {
	var se *sqlite.Error
	return errors.As(err, &se) && se.Code()&0xff == sqlite3.SQLITE_CONSTRAINT
}
