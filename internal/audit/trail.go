package audit

import (
	"context"
	"errors"
	"log/slog"
	"sync"
	"time"

	"github.com/ecrd/ecrd/internal/awserr"
	"github.com/ecrd/ecrd/internal/identity"
	"github.com/ecrd/ecrd/internal/lease"
	"github.com/ecrd/ecrd/internal/metadata"
	"github.com/ecrd/ecrd/internal/reqinfo"
)

// DefaultRetention is how long records are kept unless set otherwise:
// CloudTrail's event history's 90 days.
const DefaultRetention = 90 * 24 * time.Hour

// Jobs and the feed's cursor.
const (
	feedJob    = "audit-feed"
	cursorName = "audit-feed"
	pruneJob   = "audit-prune"
	feedBatch  = 500
	pruneBatch = 1000
)

// Options configure a Trail.
type Options struct {
	Store    metadata.Store
	Identity *identity.Service
	Leases   *lease.Leases
	Log      *slog.Logger
	// Retention is how long records are kept (DefaultRetention if 0).
	Retention time.Duration
	// QueueSize bounds the records waiting to be written (4096 if 0);
	// BatchSize is the most written in one transaction (256 if 0).
	QueueSize, BatchSize int
	// Poll is how often the feed looks at the outbox when nothing woke
	// it (1 s if 0); PruneEvery how often old records are pruned (1 h).
	Poll, PruneEvery time.Duration
	Now              func() time.Time
}

// Trail is the audit trail.
type Trail struct {
	o    Options
	w    *writer
	wake chan struct{}
	// budget overrides searchBudget (tests).
	budget int
}

// New returns the trail over o.Store.
func New(o Options) *Trail {
	if o.Retention <= 0 {
		o.Retention = DefaultRetention
	}
	if o.QueueSize <= 0 {
		o.QueueSize = 4096
	}
	if o.BatchSize <= 0 {
		o.BatchSize = 256
	}
	if o.Poll <= 0 {
		o.Poll = time.Second
	}
	if o.PruneEvery <= 0 {
		o.PruneEvery = time.Hour
	}
	if o.Now == nil {
		o.Now = time.Now
	}
	if o.Log == nil {
		o.Log = slog.Default()
	}
	return &Trail{o: o, w: newWriter(o.Store, o.Log, o.QueueSize, o.BatchSize), wake: make(chan struct{}, 1)}
}

// Observe queues the record of a finished request whose call the outbox
// did not record (reqinfo.Observer). It never blocks.
func (t *Trail) Observe(info *reqinfo.Info) {
	if info.Recorded || info.Operation == "" {
		return
	}
	t.w.add(info)
}

// Stats are the writer's counts since the start.
type Stats struct {
	// Queued records wait to be written; Written were.
	Queued  int
	Written uint64
	// Dropped found the queue full; Failed were in a batch the store
	// refused. Both are lost.
	Dropped, Failed uint64
}

// Stats returns the writer's counts.
func (t *Trail) Stats() Stats {
	return Stats{Queued: len(t.w.queue), Written: t.w.written.Load(), Dropped: t.w.dropped.Load(), Failed: t.w.failed.Load()}
}

// Wake says the outbox may hold new records (an outbox.Follower's
// handler).
func (t *Trail) Wake(metadata.Event) {
	select {
	case t.wake <- struct{}{}:
	default:
	}
}

// Run writes records, follows the outbox and prunes until ctx ends; what
// is queued then is written before it returns.
func (t *Trail) Run(ctx context.Context) {
	var wg sync.WaitGroup
	wg.Go(func() { t.w.run(ctx) })
	wg.Go(func() { t.runFeed(ctx) })
	wg.Go(func() { t.runPrune(ctx) })
	wg.Wait()
}

func (t *Trail) wait(ctx context.Context, d time.Duration, wake <-chan struct{}) bool {
	timer := time.NewTimer(d)
	defer timer.Stop()
	select {
	case <-ctx.Done():
		return false
	case <-wake:
	case <-timer.C:
	}
	return true
}

// runFeed holds the feed lease while it can and copies the outbox's
// CloudTrail records into the trail.
func (t *Trail) runFeed(ctx context.Context) {
	for {
		l, err := t.o.Leases.Acquire(ctx, feedJob)
		if err == nil {
			err = t.feedWhileHeld(ctx, l)
			l.Release()
		}
		if err != nil && !errors.Is(err, lease.ErrBusy) && ctx.Err() == nil {
			t.o.Log.Error("audit trail: reading the outbox", "err", err)
		}
		if !t.wait(ctx, t.o.Poll, t.wake) {
			return
		}
	}
}

func (t *Trail) feedWhileHeld(ctx context.Context, l *lease.Lease) error {
	for {
		more, err := t.FeedOnce(ctx, l)
		if err != nil {
			return err
		}
		if !more && !t.wait(ctx, t.o.Poll, t.wake) {
			return nil
		}
	}
}

// FeedOnce copies the next batch of outbox records into the trail under
// l, moving the cursor in the same transaction, and says whether more
// wait.
func (t *Trail) FeedOnce(ctx context.Context, l *lease.Lease) (more bool, err error) {
	after, err := t.o.Store.Cursor(ctx, cursorName)
	if err != nil {
		return false, err
	}
	events, err := t.o.Store.Events(ctx, after, feedBatch)
	if err != nil || len(events) == 0 {
		if err == nil {
			err = l.Keep(ctx)
		}
		return false, err
	}
	records := make([]metadata.AuditEvent, 0, len(events))
	for _, ev := range events {
		rec, ok, err := fromEvent(ev)
		if err != nil {
			// A record the trail cannot read is skipped, not retried
			// forever: say so.
			t.o.Log.Warn("audit trail: skipping an outbox event", "err", err)
			continue
		}
		if ok {
			records = append(records, rec)
		}
	}
	err = l.Update(ctx, func(tx metadata.Tx) error {
		// Another holder may have moved the cursor since it was read.
		if cur, err := tx.Cursor(ctx, cursorName); err != nil || cur != after {
			if err == nil {
				err = lease.ErrLost
			}
			return err
		}
		if err := tx.AppendAuditEvents(ctx, records); err != nil {
			return err
		}
		return tx.SetCursor(ctx, cursorName, events[len(events)-1].ID)
	})
	return len(events) == feedBatch, err
}

// runPrune deletes records older than the retention period, under a
// lease, every PruneEvery.
func (t *Trail) runPrune(ctx context.Context) {
	for {
		if _, err := t.Prune(ctx); err != nil && !errors.Is(err, lease.ErrBusy) && ctx.Err() == nil {
			t.o.Log.Error("audit trail: pruning", "err", err)
		}
		if !t.wait(ctx, t.o.PruneEvery, nil) {
			return
		}
	}
}

// Prune deletes the records older than the retention period and says how
// many.
func (t *Trail) Prune(ctx context.Context) (int, error) {
	l, err := t.o.Leases.Acquire(ctx, pruneJob)
	if err != nil {
		return 0, err
	}
	defer l.Release()
	before := t.o.Now().Add(-t.o.Retention)
	total := 0
	for {
		var n int
		err := l.Update(ctx, func(tx metadata.Tx) error {
			var err error
			n, err = tx.PruneAuditEvents(ctx, before, pruneBatch)
			return err
		})
		total += n
		if err != nil || n < pruneBatch {
			return total, err
		}
	}
}

// LookupAction is the IAM action that reads the trail.
const LookupAction = "cloudtrail:LookupEvents"

// Lookup lists the records q selects, for the request's principal, who
// may read its own account's trail: the root always, others as their
// policies allow cloudtrail:LookupEvents.
func (t *Trail) Lookup(ctx context.Context, q metadata.AuditQuery) ([]metadata.AuditEvent, error) {
	if err := t.authorizeLookup(ctx, q.Scope); err != nil {
		return nil, err
	}
	return t.o.Store.AuditEvents(ctx, q)
}

// authorizeLookup decides whether the request's principal may read the
// trail of scope (Lookup's rule; Search's too).
func (t *Trail) authorizeLookup(ctx context.Context, scope metadata.Scope) error {
	p, ok := identity.FromContext(ctx)
	if !ok || p.Account != scope.Account {
		return awserr.Errorf(identity.CodeAccessDenied, "the trail of account %s is not the caller's", scope.Account)
	}
	if !p.IsRoot() {
		d, req, err := t.o.Identity.Authorize(ctx, identity.Check{Action: LookupAction, Resource: "*", ResourceAccount: p.Account})
		if err != nil {
			return err
		}
		if !d.Allowed {
			return awserr.Errorf(identity.CodeAccessDenied, "%s", t.o.Identity.DenialMessage(d, req))
		}
	}
	return nil
}
