package delivery

import (
	"context"
	"encoding/json"
	"errors"
	"log/slog"
	"net/http"
	"sort"
	"sync"
	"sync/atomic"
	"time"

	"github.com/ecrd/ecrd/internal/lease"
	"github.com/ecrd/ecrd/internal/metadata"
	"github.com/ecrd/ecrd/internal/outbox"
)

// Rule is an enabled EventBridge rule with API-destination targets.
type Rule struct {
	ARN string
	// Scope is the rule's account and region: it receives that registry's
	// events (event.Scope == Rule.Scope).
	Scope metadata.Scope
	// Pattern is the event pattern text, compiled by Config.Compile.
	Pattern string
	Targets []Target
	// Since is when the rule was last written: a rule the engine has not
	// delivered for starts at the events recorded from then on (zero: at
	// the outbox's end).
	Since time.Time
}

// Target is an API destination a rule sends its events to.
type Target struct {
	ID       string
	Endpoint string // the API destination's invocation endpoint
	Method   string // its HTTP method (default POST)
	// RateLimit is the destination's invocations per second (0: no limit).
	RateLimit int
	Auth      Auth
	// Input is a constant input, if set.
	Input *string
	// InputPath is a JSONPath ($.detail...) selecting part of the event.
	InputPath string
	// InputPathsMap and InputTemplate are an InputTransformer.
	InputPathsMap map[string]string
	InputTemplate string
	// MaxAttempts is RetryPolicy.MaximumRetryAttempts: how many times a
	// failed invocation is retried. 0 means the default, 185; a negative
	// value means none (EventBridge's MaximumRetryAttempts of 0).
	MaxAttempts int
	// MaxAge is RetryPolicy.MaximumEventAgeInSeconds: how long after the
	// event's time retries go on (0: the default, 24h).
	MaxAge  time.Duration
	Headers map[string]string
	Query   map[string]string
}

// Auth is an API destination's connection authorization.
type Auth struct {
	Type                                               string // API_KEY, BASIC, OAUTH_CLIENT_CREDENTIALS
	APIKeyName, APIKeyValue                            string
	Username, Password                                 string
	OAuthEndpoint, OAuthMethod, ClientID, ClientSecret string
	OAuthBody, OAuthQuery, OAuthHeaders                map[string]string
}

// Authorization types.
const (
	AuthAPIKey = "API_KEY"
	AuthBasic  = "BASIC"
	AuthOAuth  = "OAUTH_CLIENT_CREDENTIALS"
)

// Source gives the rules to deliver for.
type Source interface {
	// DeliveryRules returns every ENABLED rule with API-destination
	// targets.
	DeliveryRules(ctx context.Context) ([]Rule, error)
}

// Matcher is a compiled event pattern.
type Matcher interface {
	MatchValue(map[string]any) bool
}

// Config configures an Engine.
type Config struct {
	Store  metadata.Store
	Source Source
	Leases *lease.Leases
	// Compile compiles a rule's pattern. It must return a nil Matcher
	// (not a typed nil) with its error.
	Compile func(pattern string) (Matcher, error)
	// Decode decodes an event's envelope for matching. Default: JSON.
	Decode func([]byte) (map[string]any, error)
	// HTTPClient invokes the destinations and the OAuth endpoints; the
	// engine never follows redirects (EventBridge does not). Default: a
	// client of its own.
	HTTPClient *http.Client
	// Timeout bounds one invocation. Default 5s, EventBridge's.
	Timeout time.Duration
	// Poll is how often the rules and the outbox are looked at without a
	// wake-up. Default 1s.
	Poll time.Duration
	// Concurrency bounds the invocations in flight at once. Default 16.
	Concurrency int
	// RetryBase and RetryMax bound the backoff between retries. Defaults
	// 1s and 3m.
	RetryBase, RetryMax time.Duration
	Now                 func() time.Time
	Log                 *slog.Logger
}

const (
	// Job is the lease the delivering engine holds.
	Job = "events-delivery"
	// cursorPrefix names a rule's cursor: cursorPrefix + rule ARN.
	cursorPrefix = "events-rule/"
	readBatch    = 100
	// sinceWindow is how many of the newest events a new rule's start is
	// looked for in (see startCursor).
	sinceWindow = 1000

	defaultMaxAttempts = 185
	defaultMaxAge      = 24 * time.Hour
)

// CursorName is the name of a rule's cursor in the metadata store.
func CursorName(ruleARN string) string { return cursorPrefix + ruleARN }

// Engine delivers events to rules' targets.
type Engine struct {
	cfg    Config
	client *http.Client
	wake   chan struct{}
	// arrived wakes the rules' workers when events arrive (Notify).
	arrived chan struct{}
	sem     chan struct{}
	// leaseMu serializes the use of the held lease, whose renewal time
	// lease.Lease keeps unguarded.
	leaseMu sync.Mutex
	// end is the newest outbox event ID seen, for the backlog.
	end atomic.Int64

	mu       sync.Mutex
	stats    map[string]*ruleCounters
	limiters map[string]*bucket
	tokens   map[string]*oauthToken
}

type ruleCounters struct {
	delivered, failed, retried, dead atomic.Uint64
	cursor                           atomic.Int64
}

// Stats are the engine's counters since it started, per rule it delivers
// for (only the process holding the lease delivers).
type Stats struct {
	Rules []RuleStats // in ARN order
}

// RuleStats are a rule's counters.
type RuleStats struct {
	Rule string
	// Delivered counts invocations a target accepted (2xx).
	Delivered uint64
	// Failed counts invocations that failed (retried or not).
	Failed uint64
	// Retried counts retries scheduled after a failure.
	Retried uint64
	// DeadLettered counts events a target gave up on.
	DeadLettered uint64
	// Backlog is how many outbox events (of any registry) are recorded
	// after the rule's cursor.
	Backlog int64
}

// New returns an engine.
func New(cfg Config) *Engine {
	if cfg.Decode == nil {
		cfg.Decode = decodeJSON
	}
	if cfg.Timeout <= 0 {
		cfg.Timeout = 5 * time.Second
	}
	if cfg.Poll <= 0 {
		cfg.Poll = time.Second
	}
	if cfg.Concurrency <= 0 {
		cfg.Concurrency = 16
	}
	if cfg.RetryBase <= 0 {
		cfg.RetryBase = time.Second
	}
	if cfg.RetryMax <= 0 {
		cfg.RetryMax = 3 * time.Minute
	}
	if cfg.Now == nil {
		cfg.Now = time.Now
	}
	if cfg.Log == nil {
		cfg.Log = slog.Default()
	}
	client := &http.Client{}
	if cfg.HTTPClient != nil {
		c := *cfg.HTTPClient
		client = &c
	}
	// A redirect is an answer (3xx: not retried), as EventBridge takes it.
	client.CheckRedirect = func(*http.Request, []*http.Request) error { return http.ErrUseLastResponse }
	return &Engine{cfg: cfg, client: client, wake: make(chan struct{}, 1), arrived: make(chan struct{}, 1), sem: make(chan struct{}, cfg.Concurrency),
		stats: map[string]*ruleCounters{}, limiters: map[string]*bucket{}, tokens: map[string]*oauthToken{}}
}

func decodeJSON(b []byte) (map[string]any, error) {
	var m map[string]any
	err := json.Unmarshal(b, &m)
	return m, err
}

// Wake says the outbox may hold new events (this process committed some)
// or the rules may have changed.
func (e *Engine) Wake() {
	select {
	case e.wake <- struct{}{}:
	default:
	}
}

// Notify is told of every event the outbox follower reads: a change of
// EventBridge's (a rule, a target, a connection) has the rules read
// again; any other only wakes the rules' workers, without reading them.
func (e *Engine) Notify(ev metadata.Event) {
	if ev.Source == outbox.SourceEvents {
		e.Wake()
		return
	}
	select {
	case e.arrived <- struct{}{}:
	default:
	}
}

// Stats returns the counters of the rules this engine delivers for.
func (e *Engine) Stats() Stats {
	e.mu.Lock()
	defer e.mu.Unlock()
	end := e.end.Load()
	var s Stats
	for arn, c := range e.stats {
		backlog := end - max(c.cursor.Load(), 0)
		s.Rules = append(s.Rules, RuleStats{Rule: arn, Delivered: c.delivered.Load(), Failed: c.failed.Load(),
			Retried: c.retried.Load(), DeadLettered: c.dead.Load(), Backlog: max(backlog, 0)})
	}
	sort.Slice(s.Rules, func(i, j int) bool { return s.Rules[i].Rule < s.Rules[j].Rule })
	return s
}

func (e *Engine) counters(arn string) *ruleCounters {
	e.mu.Lock()
	defer e.mu.Unlock()
	c := e.stats[arn]
	if c == nil {
		c = &ruleCounters{}
		e.stats[arn] = c
	}
	return c
}

func (e *Engine) dropCounters(arn string) {
	e.mu.Lock()
	delete(e.stats, arn)
	e.mu.Unlock()
}

// Run delivers while this process holds the delivery lease, until ctx
// ends.
func (e *Engine) Run(ctx context.Context) {
	for {
		l, err := e.cfg.Leases.Acquire(ctx, Job)
		if err == nil {
			err = e.runHeld(ctx, l)
			l.Release()
		}
		if err != nil && !errors.Is(err, lease.ErrBusy) && ctx.Err() == nil {
			e.cfg.Log.Error("event delivery", "err", err)
		}
		if !sleep(ctx, e.cfg.Poll, e.wake) {
			return
		}
	}
}

// update runs fn in a transaction under the held lease.
func (e *Engine) update(ctx context.Context, l *lease.Lease, fn func(metadata.Tx) error) error {
	e.leaseMu.Lock()
	defer e.leaseMu.Unlock()
	return l.Update(ctx, fn)
}

func (e *Engine) keep(ctx context.Context, l *lease.Lease) error {
	e.leaseMu.Lock()
	defer e.leaseMu.Unlock()
	return l.Keep(ctx)
}

// runHeld runs a worker per rule while the lease is held, following the
// Source's changes.
func (e *Engine) runHeld(ctx context.Context, l *lease.Lease) error {
	ctx, cancel := context.WithCancel(ctx)
	defer cancel()
	lost := make(chan error, 1)
	workers := map[string]*worker{}
	defer func() {
		for arn, w := range workers {
			w.stop()
			e.dropCounters(arn)
		}
	}()
	for {
		if rules, err := e.cfg.Source.DeliveryRules(ctx); err != nil {
			if ctx.Err() != nil {
				return nil
			}
			e.cfg.Log.Warn("event delivery: reading the rules", "err", err)
		} else {
			e.reconcile(ctx, l, workers, rules, lost)
		}
		if end, err := e.cfg.Store.LastEventID(ctx); err == nil {
			e.end.Store(end)
		}
		if err := e.keep(ctx, l); err != nil {
			if ctx.Err() != nil {
				return nil
			}
			return err
		}
		for _, w := range workers {
			w.poke()
		}
		if err := e.waitHeld(ctx, workers, lost); err != nil || ctx.Err() != nil {
			return err
		}
	}
}

// waitHeld waits for the next look at the rules (a wake-up or Poll),
// poking the workers whenever events arrive meanwhile.
func (e *Engine) waitHeld(ctx context.Context, workers map[string]*worker, lost <-chan error) error {
	t := time.NewTimer(e.cfg.Poll)
	defer t.Stop()
	for {
		select {
		case <-ctx.Done():
			return nil
		case err := <-lost:
			return err
		case <-e.arrived:
			for _, w := range workers {
				w.poke()
			}
			continue
		case <-e.wake:
		case <-t.C:
		}
		return nil
	}
}

// reconcile starts a worker for each new rule, hands the current
// definition to the others, and stops those of rules that are gone,
// resetting their cursors.
func (e *Engine) reconcile(ctx context.Context, l *lease.Lease, workers map[string]*worker, rules []Rule, lost chan<- error) {
	seen := map[string]bool{}
	for _, r := range rules {
		if seen[r.ARN] {
			continue
		}
		seen[r.ARN] = true
		if w := workers[r.ARN]; w != nil {
			w.set(r)
			continue
		}
		w := e.newWorker(l, r, lost)
		if w == nil {
			continue
		}
		workers[r.ARN] = w
		w.start(ctx)
	}
	for arn, w := range workers {
		if seen[arn] {
			continue
		}
		w.stop()
		delete(workers, arn)
		e.dropCounters(arn)
		// Back at the outbox's end when it returns, as a new rule.
		if err := e.update(ctx, l, func(tx metadata.Tx) error { return tx.SetCursor(ctx, CursorName(arn), 0) }); err != nil && ctx.Err() == nil {
			e.cfg.Log.Warn("event delivery: resetting a removed rule's cursor", "rule", arn, "err", err)
		}
	}
}

// sleep waits for d, a wake-up or the end of ctx, and says whether ctx
// is still alive.
func sleep(ctx context.Context, d time.Duration, wake <-chan struct{}) bool {
	t := time.NewTimer(d)
	defer t.Stop()
	select {
	case <-ctx.Done():
		return false
	case <-wake:
	case <-t.C:
	}
	return true
}
