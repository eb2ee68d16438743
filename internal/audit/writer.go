package audit

import (
	"context"
	"log/slog"
	"sync/atomic"
	"time"

	"github.com/ecrd/ecrd/internal/metadata"
	"github.com/ecrd/ecrd/internal/reqinfo"
)

// writer writes the records of observed requests: a bounded queue, and
// one goroutine that writes what it holds in batches.
type writer struct {
	store     metadata.Store
	log       *slog.Logger
	queue     chan *reqinfo.Info
	batchSize int
	// docs holds the documents of the batch being built: one buffer
	// reused from batch to batch rather than one allocation a record.
	docs []byte
	// retryAfter is how long a failed batch waits before its one retry.
	retryAfter time.Duration

	written, dropped, failed atomic.Uint64
	// reported is the count of lost records the last warning gave.
	reported atomic.Uint64
}

func newWriter(store metadata.Store, log *slog.Logger, queueSize, batchSize int) *writer {
	return &writer{store: store, log: log, queue: make(chan *reqinfo.Info, queueSize), batchSize: batchSize,
		retryAfter: time.Second}
}

// add queues a request's record, or counts it lost if the queue is full.
// It never blocks.
func (w *writer) add(info *reqinfo.Info) {
	select {
	case w.queue <- info:
	default:
		w.dropped.Add(1)
	}
}

// run writes batches until ctx ends, then what is queued. Lost records
// are reported every 10 s from a goroutine of their own, so that a
// store that hangs is reported too.
func (w *writer) run(ctx context.Context) {
	reporting := make(chan struct{})
	go func() {
		defer close(reporting)
		t := time.NewTicker(10 * time.Second)
		defer t.Stop()
		for {
			select {
			case <-ctx.Done():
				return
			case <-t.C:
				w.report()
			}
		}
	}()
	batch := make([]metadata.AuditEvent, 0, w.batchSize)
	for {
		select {
		case <-ctx.Done():
			w.drain(context.WithoutCancel(ctx), batch)
			<-reporting
			w.report()
			return
		case info := <-w.queue:
			batch = w.collect(batch[:0], info)
			batch = w.linger(ctx, batch)
			if ctx.Err() != nil {
				// Shutting down in the middle of a batch: it is written
				// as drain writes what is queued.
				w.write(context.WithoutCancel(ctx), batch)
				continue
			}
			w.write(ctx, batch)
		}
	}
}

// lingerFor is how long a batch that is not full waits for more records:
// under load, one transaction then carries many requests' records.
const lingerFor = 20 * time.Millisecond

// linger adds the records that arrive within lingerFor to a batch that
// is not full yet.
func (w *writer) linger(ctx context.Context, batch []metadata.AuditEvent) []metadata.AuditEvent {
	if len(batch) >= w.batchSize {
		return batch
	}
	t := time.NewTimer(lingerFor)
	defer t.Stop()
	for len(batch) < w.batchSize {
		select {
		case info := <-w.queue:
			batch = w.collect(batch, info)
		case <-t.C:
			return batch
		case <-ctx.Done():
			return batch
		}
	}
	return batch
}

// collect fills a batch with info's record and whatever else is queued,
// up to the batch size.
func (w *writer) collect(batch []metadata.AuditEvent, info *reqinfo.Info) []metadata.AuditEvent {
	for {
		if len(batch) == 0 {
			w.docs = w.docs[:0] // the last batch is written
		}
		var e metadata.AuditEvent
		var ok bool
		if e, w.docs, ok = fromInfo(info, w.docs); ok {
			batch = append(batch, e)
		}
		if len(batch) == w.batchSize {
			return batch
		}
		select {
		case info = <-w.queue:
		default:
			return batch
		}
	}
}

// drain writes what is queued at shutdown.
func (w *writer) drain(ctx context.Context, batch []metadata.AuditEvent) {
	for {
		select {
		case info := <-w.queue:
			batch = w.collect(batch[:0], info)
			w.write(ctx, batch)
		default:
			return
		}
	}
}

// write writes a batch in one transaction, retried once; a batch that
// still fails is counted lost.
func (w *writer) write(ctx context.Context, batch []metadata.AuditEvent) {
	if len(batch) == 0 {
		return
	}
	// Without waiting for the disk: these are records of reads and
	// failures (changes' records are written with the changes), and a
	// machine crash loses what is still queued anyway; the next write
	// that syncs makes them durable.
	err := w.store.UpdateNoSync(ctx, func(tx metadata.Tx) error { return tx.AppendAuditEvents(ctx, batch) })
	if err != nil && ctx.Err() == nil {
		t := time.NewTimer(w.retryAfter)
		select {
		case <-t.C:
			err = w.store.UpdateNoSync(ctx, func(tx metadata.Tx) error { return tx.AppendAuditEvents(ctx, batch) })
		case <-ctx.Done():
			t.Stop()
		}
	}
	if err != nil {
		w.failed.Add(uint64(len(batch)))
		w.log.Warn("audit trail: records could not be written", "records", len(batch), "err", err)
		return
	}
	w.written.Add(uint64(len(batch)))
}

// report warns of records lost since the last warning.
func (w *writer) report() {
	lost := w.dropped.Load() + w.failed.Load()
	if prev := w.reported.Swap(lost); lost > prev {
		w.log.Warn("audit trail: records lost (the queue was full or the store failed)",
			"lost", lost-prev, "total", lost, "dropped", w.dropped.Load(), "failed", w.failed.Load())
	}
}
