package sqlite

import (
	"context"
	"fmt"

	"github.com/ecrd/ecrd/internal/metadata"
)

// Group commit. SQLite has one writer, and a durable commit costs an
// fsync of the log; writers that come while one commits would each wait
// for it and then pay an fsync of their own. Instead, Update hands its
// transaction to one committer goroutine, which runs every transaction
// waiting at that moment inside one SQLite transaction, each in a
// savepoint of its own, and commits them with one fsync:
//
//   - A transaction that fails is rolled back to its savepoint: its
//     writes are undone and the others' stay, as if it had run alone
//     between them. Transactions run one after another, each seeing what
//     the ones before it wrote, so the batch is serializable in the order
//     it ran.
//   - Update returns only after the commit (synchronous=FULL), so an
//     acknowledged write is as durable as before; if the commit fails,
//     every transaction of the batch gets that error, since none of them
//     is in the database.
//   - A transaction's closure runs on the committer's goroutine; a panic
//     in it is recovered there and raised again in its caller.
//
// Closures do no I/O beyond the store (the metadata.Store contract), so
// running them on another goroutine changes nothing for them.

// maxGroup bounds a batch, so that one commit never waits on too much work.
const maxGroup = 64

// groupReq is one Update waiting for the committer.
type groupReq struct {
	ctx  context.Context
	fn   func(metadata.Tx) error
	done chan groupResult
}

type groupResult struct {
	err   error
	panic any
}

// commits runs batches of Updates until stop closes.
func (s *Store) commits(stop <-chan struct{}) {
	defer close(s.committerDone)
	batch := make([]*groupReq, 0, maxGroup)
	for {
		var first *groupReq
		select {
		case first = <-s.updates:
		case <-stop:
			return
		}
		batch = append(batch[:0], first)
	more:
		for len(batch) < maxGroup {
			select {
			case r := <-s.updates:
				batch = append(batch, r)
			default:
				break more
			}
		}
		s.runGroup(batch)
	}
}

// runGroup runs a batch of Updates in one transaction.
func (s *Store) runGroup(batch []*groupReq) {
	results := make([]groupResult, len(batch))
	finish := func() {
		for i, r := range batch {
			r.done <- results[i]
		}
	}
	// The transaction is the batch's, not any one caller's: a caller that
	// gives up only loses its own part.
	tx, err := s.writer.BeginTx(context.Background(), nil)
	if err != nil {
		for i := range results {
			results[i].err = fmt.Errorf("starting transaction: %w", err)
		}
		finish()
		return
	}
	ran := 0
	for i, r := range batch {
		if err := r.ctx.Err(); err != nil {
			results[i].err = err
			continue
		}
		if _, err := tx.Exec("SAVEPOINT g"); err != nil {
			results[i].err = fmt.Errorf("starting transaction: %w", noSpace(err))
			continue
		}
		results[i] = runOne(&writeTx{reader: reader{q: tx, stmts: s.wstmts, tx: tx}, tx: tx}, r.fn)
		if results[i].err != nil || results[i].panic != nil {
			if _, err := tx.Exec("ROLLBACK TO g"); err != nil {
				// The transaction cannot go on: nothing of the batch commits.
				tx.Rollback()
				for j := range results {
					if results[j].err == nil && results[j].panic == nil {
						results[j].err = fmt.Errorf("rolling back a failed transaction: %w", err)
					}
				}
				finish()
				return
			}
		} else {
			ran++
		}
		if _, err := tx.Exec("RELEASE g"); err != nil {
			tx.Rollback()
			for j := range results {
				if results[j].err == nil && results[j].panic == nil {
					results[j].err = fmt.Errorf("committing transaction: %w", noSpace(err))
				}
			}
			finish()
			return
		}
	}
	if ran == 0 {
		tx.Rollback()
		finish()
		return
	}
	if err := tx.Commit(); err != nil {
		err = fmt.Errorf("committing transaction: %w", noSpace(err))
		for i := range results {
			if results[i].err == nil && results[i].panic == nil {
				results[i].err = err
			}
		}
	}
	finish()
}

// runOne runs one closure, recovering a panic.
func runOne(w *writeTx, fn func(metadata.Tx) error) (res groupResult) {
	defer func() {
		if p := recover(); p != nil {
			res = groupResult{panic: p}
		}
	}()
	return groupResult{err: noSpace(fn(w))}
}
