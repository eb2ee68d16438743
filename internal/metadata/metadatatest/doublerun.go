package metadatatest

import (
	"bytes"
	"context"
	"errors"
	"runtime"
	"strconv"
	"sync"

	"github.com/ecrd/ecrd/internal/metadata"
)

// DoubleRun wraps a store so that every write transaction's function runs
// twice: once in a transaction that is always rolled back, then again in
// the one that commits. A backend may retry a transaction (PostgreSQL
// does on a serialization failure), so a function that is only correct
// when it runs once (it appends to a slice declared outside, logs, calls
// a service, writes a file) is a bug; code tested over this wrapper shows
// it. The first run's result, error or not, is discarded, as a retried
// attempt's is.
func DoubleRun(s metadata.Store) metadata.Store { return doubleRun{s} }

type doubleRun struct{ metadata.Store }

// errDiscard aborts the first run's transaction.
var errDiscard = errors.New("metadatatest: the first run of a transaction is discarded")

func (d doubleRun) Update(ctx context.Context, fn func(metadata.Tx) error) error {
	return d.twice(ctx, d.Store.Update, fn)
}

func (d doubleRun) UpdateNoSync(ctx context.Context, fn func(metadata.Tx) error) error {
	return d.twice(ctx, d.Store.UpdateNoSync, fn)
}

func (d doubleRun) twice(ctx context.Context, update func(context.Context, func(metadata.Tx) error) error, fn func(metadata.Tx) error) error {
	err := update(ctx, func(tx metadata.Tx) error {
		inside(fn, tx)
		return errDiscard
	})
	if err != nil && !errors.Is(err, errDiscard) && ctx.Err() == nil {
		return err // the store itself failed, not fn
	}
	return update(ctx, func(tx metadata.Tx) error { return inside(fn, tx) })
}

// inTx holds the IDs of the goroutines running a transaction's function
// (runs of one transaction are sequential, on the caller's goroutine).
var inTx sync.Map

// inside runs fn, noting that the goroutine is inside a transaction.
func inside(fn func(metadata.Tx) error, tx metadata.Tx) error {
	id := goroutineID()
	inTx.Store(id, true)
	defer inTx.Delete(id)
	return fn(tx)
}

// InTransaction reports whether the calling goroutine is running the
// function of a write transaction of a DoubleRun store. Test doubles of
// the logger, the blob store and other services call it to catch a
// transaction that does I/O, logs or calls a service: what must not
// happen in a function that may run twice.
func InTransaction() bool {
	_, ok := inTx.Load(goroutineID())
	return ok
}

// goroutineID reads the calling goroutine's ID from its stack header
// ("goroutine 42 [running]:"): slow, and only for tests.
func goroutineID() uint64 {
	var buf [64]byte
	b := buf[:runtime.Stack(buf[:], false)]
	b = bytes.TrimPrefix(b, []byte("goroutine "))
	if i := bytes.IndexByte(b, ' '); i > 0 {
		b = b[:i]
	}
	id, _ := strconv.ParseUint(string(b), 10, 64)
	return id
}

// Unwrap returns the wrapped store.
func (d doubleRun) Unwrap() metadata.Store { return d.Store }
