package outbox

import (
	"context"
	"log/slog"
	"sync"
	"time"

	"github.com/ecrd/ecrd/internal/metadata"
)

// Handler receives the events a Follower reads, in order, one at a time.
// It must not block: it drops what it cached, or queues work.
type Handler func(metadata.Event)

// DefaultPollInterval is how often a Follower looks for events it was
// not woken for: those other processes recorded. A change through one
// process binds every other within it.
const DefaultPollInterval = 200 * time.Millisecond

// followBatch is how many events a Follower reads at once.
const followBatch = 500

// Follower reads the outbox from where it started, and hands each event
// to its handlers: the per-process caches, so that a change made through
// any process sharing the database invalidates them here. It starts at
// the newest event (a process's caches start empty), is woken when this
// process records one, and polls for the others' (or is woken for them
// too, by a store that can: metadata.EventWaiter).
type Follower struct {
	meta     metadata.Reader
	interval time.Duration
	log      *slog.Logger
	wake     chan struct{}

	mu       sync.Mutex
	handlers []Handler
	last     int64
	started  bool
}

// NewFollower returns a follower of meta's outbox that polls every
// interval (0: DefaultPollInterval).
func NewFollower(meta metadata.Reader, interval time.Duration, log *slog.Logger) *Follower {
	if interval <= 0 {
		interval = DefaultPollInterval
	}
	return &Follower{meta: meta, interval: interval, log: log, wake: make(chan struct{}, 1)}
}

// Subscribe adds a handler. Handlers added before Run (or the first
// CatchUp) see every event after Start: a process starts its follower
// before it reads anything it caches, and subscribes as it builds the
// caches.
func (f *Follower) Subscribe(h Handler) {
	f.mu.Lock()
	f.handlers = append(f.handlers, h)
	f.mu.Unlock()
}

// Start sets the follower at the newest event recorded so far.
func (f *Follower) Start(ctx context.Context) error {
	last, err := f.meta.LastEventID(ctx)
	if err != nil {
		return err
	}
	f.mu.Lock()
	f.last, f.started = last, true
	f.mu.Unlock()
	return nil
}

// Wake makes the follower read now (this process recorded an event).
func (f *Follower) Wake() {
	select {
	case f.wake <- struct{}{}:
	default:
	}
}

// Run follows the outbox until ctx ends. If the store can say when an
// event is appended (metadata.EventWaiter: PostgreSQL's LISTEN/NOTIFY),
// the follower also reads as soon as it does, whichever process appended
// it; it polls all the same, in case the store cannot listen for a while.
func (f *Follower) Run(ctx context.Context) {
	t := time.NewTicker(f.interval)
	defer t.Stop()
	waiter := eventWaiter(f.meta)
	// quiet: the last signal brought no event (a newer one was pruned,
	// say), so the next read waits for the ticker rather than for a
	// signal that would fire again at once.
	quiet := false
	for {
		var signal <-chan struct{}
		if waiter != nil && !quiet {
			signal = waiter.EventAfter(f.Last())
		}
		signaled := false
		select {
		case <-ctx.Done():
			return
		case <-t.C:
		case <-f.wake:
		case <-signal:
			signaled = true
		}
		before := f.Last()
		if err := f.CatchUp(ctx); err != nil && ctx.Err() == nil {
			f.log.Warn("reading the outbox", "err", err)
		}
		quiet = signaled && f.Last() == before
	}
}

// eventWaiter returns the store's EventWaiter, looking through wrappers
// that name the store they wrap (Unwrap), or nil.
func eventWaiter(r metadata.Reader) metadata.EventWaiter {
	for range 8 {
		if w, ok := r.(metadata.EventWaiter); ok {
			return w
		}
		u, ok := r.(interface{ Unwrap() metadata.Store })
		if !ok {
			return nil
		}
		r = u.Unwrap()
	}
	return nil
}

// CatchUp hands the handlers every event recorded since the last it read.
func (f *Follower) CatchUp(ctx context.Context) error {
	f.mu.Lock()
	defer f.mu.Unlock()
	if !f.started {
		return nil
	}
	for {
		events, err := f.meta.Events(ctx, f.last, followBatch)
		if err != nil {
			return err
		}
		for _, e := range events {
			for _, h := range f.handlers {
				h(e)
			}
			f.last = e.ID
		}
		if len(events) < followBatch {
			return nil
		}
	}
}

// Last is the ID of the last event the follower handed out.
func (f *Follower) Last() int64 {
	f.mu.Lock()
	defer f.mu.Unlock()
	return f.last
}
