package postgres

import (
	"cmp"
	"context"
	"fmt"
	"math/rand/v2"
	"slices"
	"time"

	"github.com/jackc/pgx/v5"
	"github.com/jackc/pgx/v5/pgxpool"

	"github.com/ecrd/ecrd/internal/metadata"
)

// Store is a metadata.Store in a PostgreSQL database.
type Store struct {
	reader
	// Reads and writes have pools of their own, so that a read made
	// while transactions hold every write connection never waits for
	// them (as the SQLite backend's reader pool and writer are apart).
	rpool, wpool *pgxpool.Pool
	listener     *listener
}

var (
	_ metadata.Store       = (*Store)(nil)
	_ metadata.EventWaiter = (*Store)(nil)
)

// Open connects to the database at url
// (postgres://user[:password]@host:port/db?sslmode=...), runs the
// migrations under a PostgreSQL advisory lock (so replicas started
// together migrate once) and returns the store. The URL's pool settings
// (pool_max_conns ...) apply to each of the store's two pools; it also
// holds one connection that listens for events.
func Open(ctx context.Context, url string) (*Store, error) {
	cfg, err := pgxpool.ParseConfig(url)
	if err != nil {
		return nil, fmt.Errorf("metadata database URL: %w", err)
	}
	return open(ctx, cfg)
}

func open(ctx context.Context, cfg *pgxpool.Config) (*Store, error) {
	wpool, err := pgxpool.NewWithConfig(ctx, cfg.Copy())
	if err != nil {
		return nil, fmt.Errorf("connecting to the metadata database: %w", err)
	}
	if err := migrate(ctx, wpool); err != nil {
		wpool.Close()
		return nil, err
	}
	rpool, err := pgxpool.NewWithConfig(ctx, cfg.Copy())
	if err != nil {
		wpool.Close()
		return nil, fmt.Errorf("connecting to the metadata database: %w", err)
	}
	s := &Store{reader: reader{q: db{q: rpool}, pool: rpool}, rpool: rpool, wpool: wpool}
	s.listener = listen(cfg.ConnConfig.Copy())
	return s, nil
}

// Transactions run serializable: PostgreSQL then commits only what a
// serial order of the transactions would have given, and fails the rest
// with a serialization failure, which Update runs again. Deadlocks are
// run again too.
var (
	serializable = pgx.TxOptions{IsoLevel: pgx.Serializable}
	// Without waiting for the log to reach the disk: the commit is
	// ordered with every other and visible at once, and the next
	// synchronous commit flushes the log up to itself, this one included.
	serializableNoSync = pgx.TxOptions{BeginQuery: "BEGIN ISOLATION LEVEL SERIALIZABLE; SET LOCAL synchronous_commit = off"}
)

// maxAttempts bounds how many times a transaction runs before its
// serialization failure is returned.
const maxAttempts = 30

// Update implements metadata.Store: fn runs in a serializable
// transaction, again (after a short random pause) when PostgreSQL could
// not serialize it or chose it as a deadlock's victim, as the contract
// allows.
func (s *Store) Update(ctx context.Context, fn func(metadata.Tx) error) error {
	return s.update(ctx, serializable, fn)
}

// UpdateNoSync implements metadata.Store: Update, with the transaction's
// synchronous_commit off.
func (s *Store) UpdateNoSync(ctx context.Context, fn func(metadata.Tx) error) error {
	return s.update(ctx, serializableNoSync, fn)
}

func (s *Store) update(ctx context.Context, opts pgx.TxOptions, fn func(metadata.Tx) error) error {
	for attempt := 1; ; attempt++ {
		err := s.attempt(ctx, opts, fn)
		if err == nil || !retryable(err) || attempt == maxAttempts {
			return err
		}
		if err := pause(ctx, attempt); err != nil {
			return err
		}
	}
}

// pause waits before the next attempt: a random time up to 1 ms, doubled
// per attempt up to 100 ms, so that transactions that collided do not
// collide again.
func pause(ctx context.Context, attempt int) error {
	limit := min(time.Millisecond<<min(attempt-1, 10), 100*time.Millisecond)
	t := time.NewTimer(limit/2 + rand.N(limit/2))
	defer t.Stop()
	select {
	case <-ctx.Done():
		return ctx.Err()
	case <-t.C:
		return nil
	}
}

// attempt runs fn once in a transaction.
func (s *Store) attempt(ctx context.Context, opts pgx.TxOptions, fn func(metadata.Tx) error) error {
	tx, err := s.wpool.BeginTx(ctx, opts)
	if err != nil {
		return fmt.Errorf("starting transaction: %w", noSpace(err))
	}
	var failed error
	d := db{q: tx, failed: &failed}
	err = fn(&writeTx{reader: reader{q: d, tx: true}})
	if err != nil || failed != nil {
		tx.Rollback(context.WithoutCancel(ctx))
		switch {
		case failed == nil:
			return noSpace(err)
		case err == nil:
			// fn went on after a statement failed: the transaction
			// was aborted.
			return failed
		case retryable(err):
			return err
		default:
			return fmt.Errorf("%w (after a statement failed: %w)", err, failed)
		}
	}
	if err := tx.Commit(ctx); err != nil {
		return fmt.Errorf("committing transaction: %w", noSpace(err))
	}
	return nil
}

// RecordPulls implements metadata.Store in one statement: the pulls of
// each image are reduced to the latest, which is set if it is later than
// the recorded one (re-checked on the row's latest version if another
// transaction updated it meanwhile, so a time is never lowered). Rows
// are visited in key order, which makes deadlocks between two batches
// rare; one is retried.
func (s *Store) RecordPulls(ctx context.Context, pulls []metadata.Pull) error {
	if len(pulls) == 0 {
		return nil
	}
	pulls = slices.Clone(pulls)
	slices.SortFunc(pulls, func(a, b metadata.Pull) int {
		return cmp.Or(cmp.Compare(a.RepoID, b.RepoID), cmp.Compare(a.Digest, b.Digest))
	})
	repos, digests, times := make([]int64, len(pulls)), make([]string, len(pulls)), make([]time.Time, len(pulls))
	for i, p := range pulls {
		repos[i], digests[i], times[i] = p.RepoID, string(p.Digest), p.At
	}
	q := db{q: s.wpool}
	for attempt := 1; ; attempt++ {
		_, err := q.Exec(ctx, `UPDATE images i SET last_pulled_at = p.at
			FROM (SELECT repo_id, digest, max(at) AS at FROM unnest($1::bigint[], $2::text[], $3::timestamptz[]) AS u (repo_id, digest, at)
				GROUP BY repo_id, digest) p
			WHERE i.repo_id = p.repo_id AND i.digest = p.digest AND (i.last_pulled_at IS NULL OR i.last_pulled_at < p.at)`,
			repos, digests, times)
		if err == nil || !retryable(err) || attempt == maxAttempts {
			return noSpace(err)
		}
		if err := pause(ctx, attempt); err != nil {
			return err
		}
	}
}

// Ready implements metadata.Store: the database answers.
func (s *Store) Ready(ctx context.Context) error {
	return s.rpool.Ping(ctx)
}

// Close implements metadata.Store.
func (s *Store) Close() error {
	s.listener.close()
	s.rpool.Close()
	s.wpool.Close()
	return nil
}
