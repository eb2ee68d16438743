package delivery

import (
	"context"
	"errors"
	"sync"
	"time"

	"github.com/ecrd/ecrd/internal/lease"
	"github.com/ecrd/ecrd/internal/metadata"
)

// worker delivers one rule's events, in order.
type worker struct {
	e     *Engine
	l     *lease.Lease
	arn   string
	stats *ruleCounters
	lost  chan<- error
	wake  chan struct{}

	mu      sync.Mutex
	rule    Rule
	matcher Matcher

	cancel context.CancelFunc
	done   chan struct{}
}

func (e *Engine) newWorker(l *lease.Lease, r Rule, lost chan<- error) *worker {
	w := &worker{e: e, l: l, arn: r.ARN, lost: lost, wake: make(chan struct{}, 1)}
	if !w.set(r) {
		return nil
	}
	w.stats = e.counters(r.ARN)
	return w
}

// set takes a rule's current definition, compiling its pattern if it
// changed, and says whether the rule can be delivered for.
func (w *worker) set(r Rule) bool {
	w.mu.Lock()
	defer w.mu.Unlock()
	if w.matcher != nil && r.Pattern == w.rule.Pattern {
		w.rule = r
		return true
	}
	m, err := w.e.cfg.Compile(r.Pattern)
	if err != nil {
		// Kept on the last pattern that compiled, if any: the rule's API
		// validates patterns, so this is a rule stored by another version.
		w.e.cfg.Log.Error("event delivery: a rule's pattern does not compile", "rule", r.ARN, "err", err)
		return w.matcher != nil
	}
	w.rule, w.matcher = r, m
	return true
}

func (w *worker) current() (Rule, Matcher) {
	w.mu.Lock()
	defer w.mu.Unlock()
	return w.rule, w.matcher
}

func (w *worker) poke() {
	select {
	case w.wake <- struct{}{}:
	default:
	}
}

func (w *worker) start(ctx context.Context) {
	ctx, w.cancel = context.WithCancel(ctx)
	w.done = make(chan struct{})
	go func() {
		defer close(w.done)
		w.run(ctx)
	}()
}

func (w *worker) stop() {
	w.cancel()
	<-w.done
}

func (w *worker) run(ctx context.Context) {
	cursor, err := w.startCursor(ctx)
	for err != nil {
		if w.fail(ctx, err) || !sleep(ctx, w.e.cfg.Poll, w.wake) {
			return
		}
		cursor, err = w.startCursor(ctx)
	}
	w.stats.cursor.Store(cursor)
	for {
		events, err := w.e.cfg.Store.Events(ctx, cursor, readBatch)
		if err != nil {
			if ctx.Err() != nil {
				return
			}
			w.e.cfg.Log.Warn("event delivery: reading the outbox", "rule", w.arn, "err", err)
		}
		if len(events) == 0 {
			if !sleep(ctx, w.e.cfg.Poll, w.wake) {
				return
			}
			continue
		}
		if last := events[len(events)-1].ID; last > w.e.end.Load() {
			w.e.end.Store(last)
		}
		// skipped is the last event passed over without a delivery: the
		// cursor moves past it with the next commit.
		skipped := cursor
		for _, ev := range events {
			rule, m := w.current()
			if !w.matches(rule, m, ev) {
				skipped = ev.ID
				continue
			}
			dead := w.e.deliverEvent(ctx, rule, ev, w.stats)
			if ctx.Err() != nil {
				return
			}
			if !w.commit(ctx, ev.ID, dead) {
				return
			}
			cursor, skipped = ev.ID, ev.ID
		}
		if skipped != cursor {
			if !w.commit(ctx, skipped, nil) {
				return
			}
			cursor = skipped
		}
	}
}

func (w *worker) matches(rule Rule, m Matcher, ev metadata.Event) bool {
	if ev.Scope != rule.Scope {
		return false
	}
	doc, err := w.e.cfg.Decode(ev.Document)
	if err != nil {
		w.e.cfg.Log.Warn("event delivery: an event that does not decode", "event", ev.ID, "err", err)
		return false
	}
	return m.MatchValue(doc)
}

// startCursor returns the rule's cursor, first setting a new rule's at
// the outbox's end.
func (w *worker) startCursor(ctx context.Context) (int64, error) {
	name := CursorName(w.arn)
	cur, err := w.e.cfg.Store.Cursor(ctx, name)
	if err != nil || cur != 0 {
		return cur, err
	}
	end, err := w.e.cfg.Store.LastEventID(ctx)
	if err != nil {
		return 0, err
	}
	// The rule was written a moment ago (the engine looks at rules every
	// Poll): the events recorded since then are its too. They are near
	// the outbox's end; a window of sinceWindow events is looked at.
	if rule, _ := w.current(); !rule.Since.IsZero() {
		since := rule.Since
		evs, err := w.e.cfg.Store.Events(ctx, max(end-sinceWindow, 0), sinceWindow)
		if err != nil {
			return 0, err
		}
		for _, ev := range evs {
			if !ev.Time.Before(since) {
				end = ev.ID - 1
				break
			}
		}
	}
	if end == 0 {
		// An empty outbox: every event is after the rule. 0 would read
		// as "unset" again, so the start is written as -1.
		end = -1
	}
	err = w.e.update(ctx, w.l, func(tx metadata.Tx) error {
		// Another run may have set it since it was read.
		if cur, err := tx.Cursor(ctx, name); err != nil || cur != 0 {
			if err == nil {
				end = cur
			}
			return err
		}
		return tx.SetCursor(ctx, name, end)
	})
	return end, err
}

// commit moves the cursor to id and records dead letters, retrying a
// failed transaction (the deliveries are done: they are not repeated
// unless the process dies). It says whether the worker may go on.
func (w *worker) commit(ctx context.Context, id int64, dead []DeadLetter) bool {
	docs, err := deadLetterEntities(dead)
	if err != nil {
		w.e.cfg.Log.Error("event delivery: encoding a dead letter", "rule", w.arn, "err", err)
		return false
	}
	for {
		err := w.e.update(ctx, w.l, func(tx metadata.Tx) error {
			for _, ent := range docs {
				if err := putEntity(ctx, tx, ent); err != nil {
					return err
				}
			}
			return tx.SetCursor(ctx, CursorName(w.arn), id)
		})
		if err == nil {
			w.stats.cursor.Store(id)
			w.stats.dead.Add(uint64(len(dead)))
			for _, d := range dead {
				w.e.cfg.Log.Warn("event delivery: an event became a dead letter", "rule", w.arn, "target", d.Target,
					"event", d.EventID, "attempts", d.Attempts, "err", d.LastError)
			}
			return true
		}
		if w.fail(ctx, err) || !sleep(ctx, w.e.cfg.Poll, nil) {
			return false
		}
	}
}

// fail logs err and says whether the worker must stop (the lease is lost,
// or ctx ended).
func (w *worker) fail(ctx context.Context, err error) bool {
	if ctx.Err() != nil {
		return true
	}
	if errors.Is(err, lease.ErrLost) {
		select {
		case w.lost <- err:
		default:
		}
		return true
	}
	w.e.cfg.Log.Warn("event delivery: recording progress", "rule", w.arn, "err", err)
	return false
}

// deliverEvent hands ev to every target of rule at once and waits for
// each to accept it or give up on it; it returns the dead letters. If ctx
// ends first, what it returns means nothing.
func (e *Engine) deliverEvent(ctx context.Context, rule Rule, ev metadata.Event, stats *ruleCounters) []DeadLetter {
	dead := make([]*DeadLetter, len(rule.Targets))
	var wg sync.WaitGroup
	for i, t := range rule.Targets {
		wg.Go(func() { dead[i] = e.deliverTarget(ctx, rule, t, ev, stats) })
	}
	wg.Wait()
	var out []DeadLetter
	for _, d := range dead {
		if d != nil {
			out = append(out, *d)
		}
	}
	return out
}

// deliverTarget invokes t with ev until it accepts it, or returns the
// dead letter once it gives up.
func (e *Engine) deliverTarget(ctx context.Context, rule Rule, t Target, ev metadata.Event, stats *ruleCounters) *DeadLetter {
	retries := t.MaxAttempts
	switch {
	case retries == 0:
		retries = defaultMaxAttempts
	case retries < 0:
		retries = 0
	}
	maxAge := t.MaxAge
	if maxAge <= 0 {
		maxAge = defaultMaxAge
	}
	dead := func(attempts int, err error) *DeadLetter {
		return newDeadLetter(rule, t.ID, ev, attempts, err, e.cfg.Now())
	}
	payload, err := Payload(rule, t, ev)
	if err != nil {
		return dead(0, err)
	}
	for attempt := 1; ; attempt++ {
		err := e.invoke(ctx, t, payload)
		if err == nil {
			stats.delivered.Add(1)
			return nil
		}
		if ctx.Err() != nil {
			return nil
		}
		stats.failed.Add(1)
		if !retryable(err) || attempt > retries || e.cfg.Now().Sub(ev.Time) >= maxAge {
			return dead(attempt, err)
		}
		stats.retried.Add(1)
		e.cfg.Log.Info("event delivery: an invocation failed; it is retried", "target", t.ID, "event", ev.ID, "attempt", attempt, "err", err)
		if !sleep(ctx, e.backoff(attempt), nil) {
			return nil
		}
		if e.cfg.Now().Sub(ev.Time) >= maxAge {
			return dead(attempt, err)
		}
	}
}

// backoff is the pause before retry n (from 1): exponential from
// RetryBase up to RetryMax, with jitter over its upper half.
func (e *Engine) backoff(n int) time.Duration {
	d := e.cfg.RetryBase
	for i := 1; i < n && d < e.cfg.RetryMax; i++ {
		d *= 2
	}
	d = min(d, e.cfg.RetryMax)
	return d/2 + jitter(d/2+1)
}
