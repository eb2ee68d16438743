package replication

import (
	"context"
	"errors"
	"log/slog"
	"sync"
	"time"

	"github.com/ecrd/ecrd/internal/lease"
	"github.com/ecrd/ecrd/internal/metadata"
)

// Core is what the engine needs of the registry. Its transaction
// functions only read and write tx: they may run twice.
type Core interface {
	// Queue turns outbox events into replication tasks inside tx and says
	// how many it queued.
	Queue(ctx context.Context, tx metadata.Tx, events []metadata.Event, now time.Time) (int, error)
	// Replicate brings a task's destination in step with its source
	// image. A *Failure ends the task FAILED; another error is retried.
	Replicate(ctx context.Context, t metadata.ReplicationTask) error
	// Failed records, inside tx, the event of a task that failed for good.
	Failed(ctx context.Context, tx metadata.Tx, t metadata.ReplicationTask, now time.Time) error
	// AdvanceBackfills moves backfills on under the lease l and says
	// whether any is still active.
	AdvanceBackfills(ctx context.Context, l *lease.Lease) (active bool, err error)
}

// Failure is a replication that cannot succeed as things stand: its Code
// says why, for a person to act on (ECR's failureCode).
type Failure struct {
	Code string
}

func (f *Failure) Error() string { return f.Code }

// Config configures an Engine.
type Config struct {
	Store  metadata.Store
	Core   Core
	Leases *lease.Leases
	// Workers is how many tasks run at once. Default 4.
	Workers int
	// Poll is how often the outbox and the tasks are looked at without a
	// wake-up. Default 1s.
	Poll time.Duration
	Now  func() time.Time
	Log  *slog.Logger
}

const (
	feedJob     = "replication-feed"
	backfillJob = "replication-backfill"
	// cursorName is the feed's position in the outbox.
	cursorName = "replication-feed"
	feedBatch  = 500

	maxAttempts = 10
	retryBase   = time.Second
	retryMax    = 5 * time.Minute
)

// Engine feeds and runs replication tasks.
type Engine struct {
	cfg    Config
	holder string
	feed   chan struct{}
	work   chan struct{}
}

// New returns an engine.
func New(cfg Config) *Engine {
	if cfg.Workers <= 0 {
		cfg.Workers = 4
	}
	if cfg.Poll <= 0 {
		cfg.Poll = time.Second
	}
	return &Engine{cfg: cfg, holder: cfg.Leases.Holder() + "/replication",
		feed: make(chan struct{}, 1), work: make(chan struct{}, 1)}
}

// Wake says the outbox may hold events to feed.
func (e *Engine) Wake() {
	select {
	case e.feed <- struct{}{}:
	default:
	}
}

func (e *Engine) wakeWorkers() {
	select {
	case e.work <- struct{}{}:
	default:
	}
}

// Run feeds and runs tasks until ctx ends.
func (e *Engine) Run(ctx context.Context) {
	if err := e.cfg.Store.Update(ctx, func(tx metadata.Tx) error {
		_, err := tx.ReleaseReplicationsOf(ctx, e.holder)
		return err
	}); err != nil && ctx.Err() == nil {
		e.cfg.Log.Error("replication: releasing the previous run's tasks", "err", err)
	}
	var wg sync.WaitGroup
	wg.Go(func() { e.runFeed(ctx) })
	wg.Go(func() { e.runBackfills(ctx) })
	wg.Go(func() { e.renew(ctx) })
	for i := range e.cfg.Workers {
		wg.Go(func() { e.runWorker(ctx, i == 0) })
	}
	wg.Wait()
}

func (e *Engine) wait(ctx context.Context, wake <-chan struct{}) bool {
	t := time.NewTimer(e.cfg.Poll)
	defer t.Stop()
	select {
	case <-ctx.Done():
		return false
	case <-wake:
	case <-t.C:
	}
	return true
}

// runFeed holds the feed lease while it can and turns the outbox into
// tasks.
func (e *Engine) runFeed(ctx context.Context) {
	for {
		l, err := e.cfg.Leases.Acquire(ctx, feedJob)
		if err == nil {
			err = e.feedWhileHeld(ctx, l)
			l.Release()
		}
		if err != nil && !errors.Is(err, lease.ErrBusy) && ctx.Err() == nil {
			e.cfg.Log.Error("replication: reading the outbox", "err", err)
		}
		if !e.wait(ctx, e.feed) {
			return
		}
	}
}

func (e *Engine) feedWhileHeld(ctx context.Context, l *lease.Lease) error {
	for {
		n, more, err := e.FeedOnce(ctx, l)
		if err != nil {
			return err
		}
		if n > 0 {
			e.wakeWorkers()
		}
		if more {
			continue
		}
		if !e.wait(ctx, e.feed) {
			return nil
		}
	}
}

// FeedOnce turns the next batch of outbox events into tasks under l and
// says how many it queued and whether more events wait.
func (e *Engine) FeedOnce(ctx context.Context, l *lease.Lease) (queued int, more bool, err error) {
	after, err := e.cfg.Store.Cursor(ctx, cursorName)
	if err != nil {
		return 0, false, err
	}
	events, err := e.cfg.Store.Events(ctx, after, feedBatch)
	if err != nil || len(events) == 0 {
		if err == nil {
			err = l.Keep(ctx)
		}
		return 0, false, err
	}
	now := e.cfg.Now()
	err = l.Update(ctx, func(tx metadata.Tx) error {
		// Another holder may have moved the cursor since it was read.
		if cur, err := tx.Cursor(ctx, cursorName); err != nil || cur != after {
			if err == nil {
				err = lease.ErrLost
			}
			return err
		}
		var err error
		if queued, err = e.cfg.Core.Queue(ctx, tx, events, now); err != nil {
			return err
		}
		return tx.SetCursor(ctx, cursorName, events[len(events)-1].ID)
	})
	return queued, len(events) == feedBatch, err
}

// renew extends this process's claims while it runs.
func (e *Engine) renew(ctx context.Context) {
	t := time.NewTicker(lease.TTL / 4)
	defer t.Stop()
	for {
		select {
		case <-ctx.Done():
			return
		case <-t.C:
		}
		err := e.cfg.Store.Update(ctx, func(tx metadata.Tx) error {
			_, err := tx.RenewReplications(ctx, e.holder, e.cfg.Now().Add(lease.TTL))
			return err
		})
		if err != nil && ctx.Err() == nil {
			e.cfg.Log.Warn("replication: renewing task claims", "err", err)
		}
	}
}

// runWorker runs tasks while there are some. One worker (polls) also
// looks every Poll for tasks nothing announced (retries, other
// processes' feeds); the others wait to be woken, and wake each other
// while there is work.
func (e *Engine) runWorker(ctx context.Context, polls bool) {
	for {
		ran, err := e.RunOne(ctx)
		if err != nil && ctx.Err() == nil {
			e.cfg.Log.Error("replication: claiming a task", "err", err)
		}
		if ran {
			// There may be more: let another worker look too, so that a
			// burst is worked on by all of them.
			e.wakeWorkers()
			continue
		}
		if polls {
			if !e.wait(ctx, e.work) {
				return
			}
			continue
		}
		select {
		case <-ctx.Done():
			return
		case <-e.work:
		}
	}
}

// RunOne claims one due task and runs it; it reports whether there was
// one.
func (e *Engine) RunOne(ctx context.Context) (bool, error) {
	now := e.cfg.Now()
	var tasks []metadata.ReplicationTask
	err := e.cfg.Store.Update(ctx, func(tx metadata.Tx) error {
		var err error
		tasks, err = tx.ClaimReplications(ctx, e.holder, now, now.Add(lease.TTL), 1)
		return err
	})
	if err != nil || len(tasks) == 0 {
		return false, err
	}
	t := tasks[0]
	t.Holder = e.holder
	rerr := e.cfg.Core.Replicate(ctx, t)
	if ctx.Err() != nil {
		return true, nil // the claim is released at the next start, or expires
	}
	status, code, attempts, notBefore := metadata.ReplicationComplete, "", t.Attempts+1, time.Time{}
	var failure *Failure
	switch {
	case rerr == nil:
	case errors.As(rerr, &failure):
		status, code = metadata.ReplicationFailed, failure.Code
	case attempts >= maxAttempts:
		status, code = metadata.ReplicationFailed, "UNAVAILABLE: "+rerr.Error()
	default:
		status, code = metadata.ReplicationInProgress, rerr.Error()
		notBefore = e.cfg.Now().Add(backoff(attempts))
	}
	log := e.cfg.Log.With("repository", t.Repo.Name, "account", t.Repo.Account, "region", t.Repo.Region,
		"digest", t.Digest, "destinationAccount", t.Dest.Account, "destinationRegion", t.Dest.Region)
	switch status {
	case metadata.ReplicationComplete:
		log.Debug("image replicated")
	case metadata.ReplicationFailed:
		log.Warn("image replication failed", "failureCode", code)
	default:
		log.Info("image replication will be retried", "attempt", attempts, "err", rerr)
	}
	fctx, cancel := context.WithTimeout(context.WithoutCancel(ctx), 30*time.Second)
	defer cancel()
	end := e.cfg.Now()
	return true, e.cfg.Store.Update(fctx, func(tx metadata.Tx) error {
		same, err := tx.FinishReplication(fctx, t, status, code, attempts, notBefore, end)
		if err != nil || !same || status != metadata.ReplicationFailed {
			return err
		}
		return e.cfg.Core.Failed(fctx, tx, t, end)
	})
}

// backoff is how long the attempt-th retry waits.
func backoff(attempt int) time.Duration {
	d := retryBase << min(attempt-1, 20)
	return min(d, retryMax)
}

// runBackfills moves backfills on while any is active, and prunes old
// ones hourly; it takes its lease only then, so that an idle registry
// writes nothing.
func (e *Engine) runBackfills(ctx context.Context) {
	var pruned time.Time
	for {
		active, err := e.cfg.Store.ActiveReplicationBackfills(ctx)
		if err == nil && (len(active) > 0 || time.Since(pruned) > time.Hour) {
			var l *lease.Lease
			if l, err = e.cfg.Leases.Acquire(ctx, backfillJob); err == nil {
				var more bool
				more, err = e.cfg.Core.AdvanceBackfills(ctx, l)
				l.Release()
				if err == nil {
					pruned = time.Now()
				}
				if more {
					e.wakeWorkers()
				}
			}
		}
		if err != nil && !errors.Is(err, lease.ErrBusy) && ctx.Err() == nil {
			e.cfg.Log.Error("replication: advancing backfills", "err", err)
		}
		if !e.wait(ctx, nil) {
			return
		}
	}
}
