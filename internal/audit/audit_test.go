package audit

import (
	"bytes"
	"context"
	"encoding/json"
	"errors"
	"log/slog"
	"path/filepath"
	"strings"
	"sync"
	"testing"
	"testing/synctest"
	"time"

	"github.com/ecrd/ecrd/internal/lease"
	"github.com/ecrd/ecrd/internal/metadata"
	"github.com/ecrd/ecrd/internal/metadata/metadatatest"
	"github.com/ecrd/ecrd/internal/metadata/sqlite"
	"github.com/ecrd/ecrd/internal/outbox"
	"github.com/ecrd/ecrd/internal/reqinfo"
)

var scope = metadata.Scope{Account: "123456789012", Region: "us-east-1"}

func openStore(t *testing.T) *sqlite.Store {
	t.Helper()
	s, err := sqlite.Open(context.Background(), filepath.Join(t.TempDir(), "meta.db"))
	if err != nil {
		t.Fatal(err)
	}
	return s
}

// gated holds every write transaction until open is closed, or fails it
// with err.
type gated struct {
	metadata.Store
	open chan struct{}
	err  error
}

func (g *gated) Update(ctx context.Context, fn func(metadata.Tx) error) error {
	if g.open != nil {
		<-g.open
	}
	if g.err != nil {
		return g.err
	}
	return g.Store.Update(ctx, fn)
}

// UpdateNoSync is gated as Update is: the writer's batches use it.
func (g *gated) UpdateNoSync(ctx context.Context, fn func(metadata.Tx) error) error {
	if g.open != nil {
		<-g.open
	}
	if g.err != nil {
		return g.err
	}
	return g.Store.UpdateNoSync(ctx, fn)
}

type logBuffer struct {
	mu sync.Mutex
	b  bytes.Buffer
}

func (l *logBuffer) Write(p []byte) (int, error) {
	l.mu.Lock()
	defer l.mu.Unlock()
	return l.b.Write(p)
}

func (l *logBuffer) String() string {
	l.mu.Lock()
	defer l.mu.Unlock()
	return l.b.String()
}

func request(i int) *reqinfo.Info {
	return &reqinfo.Info{Start: time.Now(), RequestID: "r", Service: "ecr.amazonaws.com", Operation: "BatchGetImage",
		ReadOnly: true, Account: scope.Account, Region: scope.Region, Principal: "arn:aws:iam::123456789012:user/dev",
		Type: "IAMUser", UserName: "dev", Repository: "app", Params: map[string]any{"i": i}}
}

func count(t *testing.T, s metadata.Store) int {
	t.Helper()
	events, err := s.AuditEvents(context.Background(), metadata.AuditQuery{Scope: scope, Limit: 1000})
	if err != nil {
		t.Fatal(err)
	}
	return len(events)
}

// A request never waits for the writer: once the queue is full, records
// are counted as dropped, and a warning says how many.
func TestWriterIsBoundedAndCountsDrops(t *testing.T) {
	synctest.Test(t, func(t *testing.T) {
		store := openStore(t)
		defer store.Close()
		g := &gated{Store: store, open: make(chan struct{})}
		var logs logBuffer
		trail := New(Options{Store: g, Log: slog.New(slog.NewTextHandler(&logs, nil)), QueueSize: 4, BatchSize: 2})
		ctx, cancel := context.WithCancel(context.Background())
		done := make(chan struct{})
		go func() { trail.w.run(ctx); close(done) }()

		trail.Observe(request(0))
		time.Sleep(lingerFor) // the batch waits that long for more
		synctest.Wait()       // the writer holds it, blocked in its transaction
		for i := 1; i <= 10; i++ {
			trail.Observe(request(i))
		}
		if s := trail.Stats(); s.Queued != 4 || s.Dropped != 6 || s.Written != 0 {
			t.Fatalf("with the writer blocked: %+v, want 4 queued and 6 dropped", s)
		}
		time.Sleep(11 * time.Second) // the periodic warning
		synctest.Wait()
		if got := logs.String(); !strings.Contains(got, "records lost") || !strings.Contains(got, "lost=6") {
			t.Errorf("no warning of the 6 lost records: %s", got)
		}
		close(g.open)
		synctest.Wait()
		if s := trail.Stats(); s.Written != 5 || s.Queued != 0 {
			t.Errorf("after the store came back: %+v, want 5 written", s)
		}
		cancel()
		<-done
		if n := count(t, store); n != 5 {
			t.Errorf("the trail holds %d records, want 5", n)
		}
	})
}

// A batch the store refuses (twice) is counted as failed, never dropped
// silently.
func TestWriterCountsFailedBatches(t *testing.T) {
	synctest.Test(t, func(t *testing.T) {
		store := openStore(t)
		defer store.Close()
		var logs logBuffer
		trail := New(Options{Store: &gated{Store: store, err: errors.New("disk full")},
			Log: slog.New(slog.NewTextHandler(&logs, nil)), BatchSize: 8})
		ctx, cancel := context.WithCancel(context.Background())
		done := make(chan struct{})
		go func() { trail.w.run(ctx); close(done) }()
		for i := range 3 {
			trail.Observe(request(i))
		}
		time.Sleep(2 * time.Second) // past the retry
		synctest.Wait()
		if s := trail.Stats(); s.Failed != 3 || s.Written != 0 {
			t.Errorf("stats %+v, want 3 failed", s)
		}
		cancel()
		<-done
		if got := logs.String(); !strings.Contains(got, "disk full") || !strings.Contains(got, "lost=3") {
			t.Errorf("the failure is not reported: %s", got)
		}
	})
}

// Observe leaves out what the outbox recorded, and what is no call.
func TestObserveSkipsRecorded(t *testing.T) {
	trail := New(Options{Store: openStore(t)})
	recorded := request(0)
	recorded.Recorded = true
	trail.Observe(recorded)
	trail.Observe(&reqinfo.Info{}) // the /v2/ version check
	if s := trail.Stats(); s.Queued != 0 {
		t.Errorf("queued %d, want none", s.Queued)
	}
}

// Track marks a request whose own call was recorded in a transaction
// that committed, and only then; a retried transaction counts once.
func TestTrackMarksRecordedCalls(t *testing.T) {
	store := Track(metadatatest.DoubleRun(openStore(t)))
	defer store.Close()
	appendCall := func(ctx context.Context, action string, fail bool) error {
		return store.Update(ctx, func(tx metadata.Tx) error {
			e, err := outbox.APICall(scope, time.Now(), outbox.SourceECR, outbox.Call{EventSource: "ecr.amazonaws.com", Action: action})
			if err != nil {
				return err
			}
			if err := tx.AppendEvent(ctx, e); err != nil {
				return err
			}
			if fail {
				return errors.New("refused")
			}
			return nil
		})
	}
	for _, c := range []struct {
		operation, recorded string
		fail                bool
		want                bool
	}{
		{"PutImage", "PutImage", false, true},
		{"PutImage", "PutImage", true, false},
		{"InitiateLayerUpload", "CreateRepository", false, false},
	} {
		info := &reqinfo.Info{Operation: c.operation}
		appendCall(reqinfo.With(context.Background(), info), c.recorded, c.fail)
		if info.Recorded != c.want {
			t.Errorf("%s recording %s (failing %v): Recorded %v, want %v", c.operation, c.recorded, c.fail, info.Recorded, c.want)
		}
	}
}

// The feed copies the outbox's CloudTrail records into the trail once,
// and no other event.
func TestFeedCopiesRecordsOnce(t *testing.T) {
	ctx := context.Background()
	store := openStore(t)
	defer store.Close()
	err := store.Update(ctx, func(tx metadata.Tx) error {
		call, err := outbox.APICall(scope, time.Now(), outbox.SourceECR, outbox.Call{EventSource: "ecr.amazonaws.com",
			Action: "PutLifecyclePolicy", Actor: outbox.Actor{Type: "IAMUser", ARN: "arn:aws:iam::123456789012:user/ops", UserName: "ops"},
			Resources: []string{"arn:aws:ecr:us-east-1:123456789012:repository/team/app"}})
		if err != nil {
			return err
		}
		image, err := outbox.ImageAction(scope, time.Now(), "arn:aws:ecr:us-east-1:123456789012:repository/team/app", "team/app", "sha256:00", "PUSH", "v1")
		if err != nil {
			return err
		}
		if err := tx.AppendEvent(ctx, call); err != nil {
			return err
		}
		return tx.AppendEvent(ctx, image)
	})
	if err != nil {
		t.Fatal(err)
	}
	leases := lease.New(store, "test", time.Now, slog.Default())
	trail := New(Options{Store: store, Leases: leases})
	for range 2 {
		l, err := leases.Acquire(ctx, feedJob)
		if err != nil {
			t.Fatal(err)
		}
		if _, err := trail.FeedOnce(ctx, l); err != nil {
			t.Fatal(err)
		}
		l.Release()
	}
	events, err := store.AuditEvents(ctx, metadata.AuditQuery{Scope: scope, Limit: 10})
	if err != nil {
		t.Fatal(err)
	}
	if len(events) != 1 {
		t.Fatalf("the trail holds %d records, want 1", len(events))
	}
	e := events[0]
	if e.Name != "PutLifecyclePolicy" || e.Username != "ops" || e.ResourceType != "AWS::ECR::Repository" || e.ResourceName != "team/app" {
		t.Errorf("record %+v", e)
	}
}

// The writer builds each batch's documents in one buffer it reuses: every
// record written still holds its own document, batch after batch.
func TestWriterDocumentsSurviveTheNextBatch(t *testing.T) {
	store := openStore(t)
	defer store.Close()
	trail := New(Options{Store: store, Log: slog.New(slog.DiscardHandler), QueueSize: 64, BatchSize: 3})
	ctx, cancel := context.WithCancel(context.Background())
	done := make(chan struct{})
	go func() { trail.w.run(ctx); close(done) }()
	const n = 20
	for i := range n {
		trail.Observe(request(i))
		if i%4 == 0 {
			time.Sleep(lingerFor + 5*time.Millisecond) // batches of different sizes
		}
	}
	cancel()
	<-done
	events, err := store.AuditEvents(context.Background(), metadata.AuditQuery{Scope: scope, Limit: 1000})
	if err != nil {
		t.Fatal(err)
	}
	seen := map[float64]bool{}
	for _, e := range events {
		var rec struct {
			EventID string         `json:"eventID"`
			Params  map[string]any `json:"requestParameters"`
		}
		if err := json.Unmarshal(e.Document, &rec); err != nil {
			t.Fatalf("record %s: %v: %s", e.ID, err, e.Document)
		}
		i, _ := rec.Params["i"].(float64)
		if rec.EventID != e.ID || seen[i] {
			t.Fatalf("record %s holds another's document: %s", e.ID, e.Document)
		}
		seen[i] = true
	}
	if len(seen) != n {
		t.Errorf("%d distinct records, want %d", len(seen), n)
	}
}
