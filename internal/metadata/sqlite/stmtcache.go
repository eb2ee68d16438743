package sqlite

import (
	"context"
	"database/sql"
	"sync"
)

// Write transactions run their statements through statements the
// writer's connection prepared once. SQLite compiled each statement of a
// transaction afresh, and in a 1 MB push (an upload record, the blob's
// record, its link with the outbox event) compiling was 6-8% of the
// server's CPU. A statement is prepared after the transaction that first
// ran it ends: until then the writer's one connection is the
// transaction's, and a transaction does no work beyond its statements
// (it may run twice, see metadata.Store).

// stmtCacheSize bounds the statements kept: most writes are a fixed
// text, but some are built for their arguments (lists of IDs, a batch's
// rows), and once the cache is full those simply run unprepared.
const stmtCacheSize = 512

// stmtCache holds the writer's prepared statements by their SQL text.
type stmtCache struct {
	db *sql.DB
	mu sync.RWMutex
	m  map[string]*sql.Stmt
}

func newStmtCache(db *sql.DB) *stmtCache {
	return &stmtCache{db: db, m: make(map[string]*sql.Stmt)}
}

func (c *stmtCache) lookup(query string) *sql.Stmt {
	c.mu.RLock()
	defer c.mu.RUnlock()
	return c.m[query]
}

// prepare prepares the statements a transaction ran unprepared while
// there is room. A statement that fails to prepare keeps running
// unprepared: the transaction that ran it reported any error.
func (c *stmtCache) prepare(ctx context.Context, queries []string) {
	for _, q := range queries {
		c.mu.RLock()
		_, have := c.m[q]
		full := len(c.m) >= stmtCacheSize
		c.mu.RUnlock()
		if full {
			return
		}
		if have {
			continue
		}
		st, err := c.db.PrepareContext(ctx, q)
		if err != nil {
			continue
		}
		c.mu.Lock()
		if _, have := c.m[q]; have || len(c.m) >= stmtCacheSize {
			st.Close()
		} else {
			c.m[q] = st
		}
		c.mu.Unlock()
	}
}

func (c *stmtCache) close() {
	c.mu.Lock()
	defer c.mu.Unlock()
	for q, st := range c.m {
		st.Close()
		delete(c.m, q)
	}
}

// missedLimit bounds the statements one transaction notes for preparing.
const missedLimit = 32

// cachedTx is a write transaction's querier: a statement the cache holds
// runs prepared, any other as SQL text, noted in missed for prepare.
type cachedTx struct {
	tx     *sql.Tx
	cache  *stmtCache
	missed *[]string
}

func (c cachedTx) stmt(ctx context.Context, query string) *sql.Stmt {
	if st := c.cache.lookup(query); st != nil {
		return c.tx.StmtContext(ctx, st)
	}
	if len(*c.missed) < missedLimit {
		*c.missed = append(*c.missed, query)
	}
	return nil
}

func (c cachedTx) ExecContext(ctx context.Context, query string, args ...any) (sql.Result, error) {
	if st := c.stmt(ctx, query); st != nil {
		return st.ExecContext(ctx, args...)
	}
	return c.tx.ExecContext(ctx, query, args...)
}

func (c cachedTx) QueryContext(ctx context.Context, query string, args ...any) (*sql.Rows, error) {
	if st := c.stmt(ctx, query); st != nil {
		return st.QueryContext(ctx, args...)
	}
	return c.tx.QueryContext(ctx, query, args...)
}

func (c cachedTx) QueryRowContext(ctx context.Context, query string, args ...any) *sql.Row {
	if st := c.stmt(ctx, query); st != nil {
		return st.QueryRowContext(ctx, args...)
	}
	return c.tx.QueryRowContext(ctx, query, args...)
}

func (c cachedTx) PrepareContext(ctx context.Context, query string) (*sql.Stmt, error) {
	if st := c.cache.lookup(query); st != nil {
		return c.tx.StmtContext(ctx, st), nil
	}
	return c.tx.PrepareContext(ctx, query)
}
