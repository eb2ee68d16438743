package sqlite

import (
	"context"
	"errors"
	"fmt"
	"testing"

	"github.com/ecrd/ecrd/internal/metadata"
)

func cached(s *Store) int {
	s.cache.mu.RLock()
	defer s.cache.mu.RUnlock()
	return len(s.cache.m)
}

// A write transaction's statements are prepared once, after the first
// transaction that ran them, and run prepared from then on.
func TestWriteStatementsPreparedOnce(t *testing.T) {
	s := openTemp(t)
	ctx := context.Background()
	var missed []string
	run := func(key string) {
		t.Helper()
		missed = missed[:0]
		tx, err := s.writer.BeginTx(ctx, nil)
		if err != nil {
			t.Fatal(err)
		}
		q := cachedTx{tx: tx, cache: s.cache, missed: &missed}
		w := &writeTx{reader: reader{q: q, stmts: s.wstmts, tx: tx}, tx: q}
		if err := w.PutAccountSetting(ctx, testScope, key, "v"); err != nil {
			t.Fatal(err)
		}
		if err := tx.Commit(); err != nil {
			t.Fatal(err)
		}
		s.cache.prepare(ctx, missed)
	}
	run("a")
	if len(missed) == 0 || cached(s) == 0 {
		t.Fatalf("the first transaction missed %q and the cache holds %d statements", missed, cached(s))
	}
	n := cached(s)
	run("b")
	if len(missed) != 0 || cached(s) != n {
		t.Errorf("the same statements again: missed %q, cache %d (was %d)", missed, cached(s), n)
	}
	got, err := s.AccountSettings(ctx, testScope, "")
	if err != nil || got["a"] != "v" || got["b"] != "v" {
		t.Errorf("settings written through the cache: %v, %v", got, err)
	}
	// A statement that does not compile is reported each time, and not
	// cached.
	for range 2 {
		err := s.UpdateNoSync(ctx, func(tx metadata.Tx) error {
			_, err := tx.(*writeTx).tx.ExecContext(ctx, "NOT SQL")
			return err
		})
		if err == nil {
			t.Fatal("NOT SQL ran")
		}
	}
	if cached(s) != n {
		t.Errorf("after a statement that does not compile the cache holds %d, want %d", cached(s), n)
	}
}

// A cached statement in a transaction that rolls back leaves nothing.
func TestCachedStatementRollsBack(t *testing.T) {
	s := openTemp(t)
	ctx := context.Background()
	if err := s.UpdateNoSync(ctx, setSetting("kept")); err != nil {
		t.Fatal(err)
	}
	fail := errors.New("no")
	err := s.UpdateNoSync(ctx, func(tx metadata.Tx) error {
		if err := setSetting("gone")(tx); err != nil {
			return err
		}
		return fail
	})
	if !errors.Is(err, fail) {
		t.Fatalf("Update = %v, want %v", err, fail)
	}
	got, err := s.AccountSettings(ctx, testScope, "")
	if err != nil || got["kept"] != "v" || got["gone"] != "" {
		t.Errorf("after a rolled-back transaction: %v, %v", got, err)
	}
}

// Statements built for their arguments fill the cache only to its bound;
// past it they run unprepared and still answer.
func TestStatementCacheBound(t *testing.T) {
	s := openTemp(t)
	ctx := context.Background()
	for i := 0; i < stmtCacheSize+3*missedLimit; i += missedLimit {
		err := s.UpdateNoSync(ctx, func(tx metadata.Tx) error {
			w := tx.(*writeTx)
			for j := i; j < i+missedLimit; j++ {
				var got int
				if err := w.tx.QueryRowContext(ctx, fmt.Sprintf("SELECT %d + ?", j), 1).Scan(&got); err != nil || got != j+1 {
					return fmt.Errorf("SELECT %d + 1 = %d, %v", j, got, err)
				}
			}
			return nil
		})
		if err != nil {
			t.Fatal(err)
		}
	}
	if n := cached(s); n != stmtCacheSize {
		t.Errorf("the cache holds %d statements, want its bound %d", n, stmtCacheSize)
	}
}
