package postgres

import (
	"context"
	"errors"
	"fmt"
	"io"
	"log/slog"
	"math/rand/v2"
	"regexp"
	"slices"
	"strconv"
	"strings"
	"sync"
	"testing"
	"time"

	"github.com/jackc/pgx/v5"
	"github.com/jackc/pgx/v5/pgxpool"
	"github.com/opencontainers/go-digest"

	"github.com/ecrd/ecrd/internal/metadata"
	"github.com/ecrd/ecrd/internal/metadata/metadatatest"
	"github.com/ecrd/ecrd/internal/outbox"
	"github.com/ecrd/ecrd/internal/testutil/pgtest"
)

func TestMain(m *testing.M) { pgtest.Main(m) }

var (
	ctx   = context.Background()
	now   = time.Date(2026, 11, 26, 12, 0, 0, 0, time.UTC)
	scope = metadata.Scope{Account: "123456789012", Region: "us-east-1"}
)

// openURL opens a store on url, closed when the test ends.
func openURL(tb testing.TB, url string) *Store {
	tb.Helper()
	s, err := Open(ctx, url)
	if err != nil {
		tb.Fatal(err)
	}
	tb.Cleanup(func() { s.Close() })
	return s
}

// newStore opens a store on a new database.
func newStore(tb testing.TB) *Store {
	tb.Helper()
	return openURL(tb, pgtest.URL(tb))
}

// TestConformance runs the shared suite, and then checks the plan of
// every statement the suite made the store run (see checkPlans).
func TestConformance(t *testing.T) {
	rec := &recorder{seen: map[string][]any{}}
	metadatatest.Run(t, func(t *testing.T) metadata.Store {
		cfg, err := pgxpool.ParseConfig(pgtest.URL(t))
		if err != nil {
			t.Fatal(err)
		}
		cfg.ConnConfig.Tracer = rec
		s, err := open(ctx, cfg)
		if err != nil {
			t.Fatal(err)
		}
		return s
	})
	t.Run("QueryPlans", func(t *testing.T) { checkPlans(t, rec) })
}

// TestConformanceDoubleRun runs the suite with every write transaction's
// function run twice, as a retry after a serialization failure does.
func TestConformanceDoubleRun(t *testing.T) {
	metadatatest.Run(t, func(t *testing.T) metadata.Store {
		s, err := Open(ctx, pgtest.URL(t))
		if err != nil {
			t.Fatal(err)
		}
		return metadatatest.DoubleRun(s)
	})
}

// TestMigrateOnce: stores opened at once on a new database migrate it
// once (the others wait for the advisory lock, then find it current),
// and all of them work.
func TestMigrateOnce(t *testing.T) {
	url := pgtest.URL(t)
	const n = 4
	stores := make([]*Store, n)
	errs := make([]error, n)
	var wg sync.WaitGroup
	for i := range n {
		wg.Go(func() { stores[i], errs[i] = Open(ctx, url) })
	}
	wg.Wait()
	for i, err := range errs {
		if err != nil {
			t.Fatalf("Open %d: %v", i, err)
		}
		defer stores[i].Close()
	}
	var versions []int
	rows, err := stores[0].rpool.Query(ctx, `SELECT version FROM schema_version`)
	if err == nil {
		versions, err = pgx.CollectRows(rows, pgx.RowTo[int])
	}
	if err != nil || !slices.Equal(versions, []int{len(migrations)}) {
		t.Fatalf("schema_version = %v, %v; want one row, %d", versions, err, len(migrations))
	}
	for i, s := range stores {
		key := metadata.RepoKey{Scope: scope, Name: fmt.Sprintf("repo-%d", i)}
		if err := s.Update(ctx, func(tx metadata.Tx) error {
			_, err := tx.CreateRepository(ctx, metadata.Repository{Key: key, CreatedAt: now})
			return err
		}); err != nil {
			t.Fatalf("store %d: %v", i, err)
		}
		if _, err := stores[(i+1)%n].Repository(ctx, key); err != nil {
			t.Fatalf("store %d's repository, read through another: %v", i, err)
		}
	}
	// A later start finds the schema current.
	openURL(t, url)
}

// TestConcurrentUpdates: transactions that read and write the same rows
// at once all commit, after retries, with the result of some serial
// order: each increments a counter it reads, and appends an event.
func TestConcurrentUpdates(t *testing.T) {
	s := newStore(t)
	const workers, each = 8, 10
	var (
		wg       sync.WaitGroup
		attempts sync.Map
	)
	for w := range workers {
		wg.Go(func() {
			for i := range each {
				id := fmt.Sprintf("%d/%d", w, i)
				err := s.Update(ctx, func(tx metadata.Tx) error {
					n, _ := attempts.LoadOrStore(id, new(int))
					*n.(*int)++
					v, err := tx.AccountSetting(ctx, scope, "counter")
					if err != nil && !errors.Is(err, metadata.ErrNotFound) {
						return err
					}
					c, _ := strconv.Atoi(v)
					if err := tx.PutAccountSetting(ctx, scope, "counter", strconv.Itoa(c+1)); err != nil {
						return err
					}
					return tx.AppendEvent(ctx, metadata.Event{Scope: scope, Time: now, Type: "count", Document: []byte(strconv.Itoa(c + 1))})
				})
				if err != nil {
					t.Error(err)
				}
			}
		})
	}
	wg.Wait()
	v, err := s.AccountSetting(ctx, scope, "counter")
	if err != nil || v != strconv.Itoa(workers*each) {
		t.Fatalf("counter = %q, %v; want %d", v, err, workers*each)
	}
	events, err := s.Events(ctx, 0, 1000)
	if err != nil || len(events) != workers*each {
		t.Fatalf("%d events, %v; want %d", len(events), err, workers*each)
	}
	for i, e := range events {
		// Events in ID order carry the counts in order: the increments
		// were serialized, and their events committed in that order.
		if string(e.Document) != strconv.Itoa(i+1) {
			t.Fatalf("event %d (ID %d) records count %s", i, e.ID, e.Document)
		}
	}
	retried := 0
	attempts.Range(func(_, n any) bool {
		retried += *n.(*int) - 1
		return true
	})
	t.Logf("%d transactions ran %d times more than once", workers*each, retried)
}

// TestEventsCommitInIDOrder: a reader that follows the outbox by the last
// ID it saw, while transactions append events at once and hold them
// uncommitted for a while, misses none.
func TestEventsCommitInIDOrder(t *testing.T) {
	s := newStore(t)
	const writers, each = 6, 15
	done := make(chan struct{})
	var seen []int64
	readerDone := make(chan error)
	go func() {
		var last int64
		for {
			// Whether the writers are done is read before the events,
			// so that the last read comes after every commit.
			finished := false
			select {
			case <-done:
				finished = true
			default:
			}
			events, err := s.Events(ctx, last, 100)
			if err != nil {
				readerDone <- err
				return
			}
			for _, e := range events {
				seen = append(seen, e.ID)
				last = e.ID
			}
			if finished && len(events) == 0 {
				readerDone <- nil
				return
			}
		}
	}()
	var wg sync.WaitGroup
	for range writers {
		wg.Go(func() {
			for range each {
				pause := time.Duration(rand.N(3000)) * time.Microsecond
				err := s.Update(ctx, func(tx metadata.Tx) error {
					if err := tx.AppendEvent(ctx, metadata.Event{Scope: scope, Time: now, Type: "t", Document: []byte("{}")}); err != nil {
						return err
					}
					time.Sleep(pause) // a transaction that takes its time to commit
					return nil
				})
				if err != nil {
					t.Error(err)
				}
			}
		})
	}
	wg.Wait()
	close(done)
	if err := <-readerDone; err != nil {
		t.Fatal(err)
	}
	all, err := s.Events(ctx, 0, 1000)
	if err != nil {
		t.Fatal(err)
	}
	var ids []int64
	for _, e := range all {
		ids = append(ids, e.ID)
	}
	if len(ids) != writers*each || !slices.Equal(seen, ids) {
		t.Fatalf("the reader saw %d events, %d are recorded; missed: %v", len(seen), len(ids), missing(ids, seen))
	}
}

func missing(all, seen []int64) []int64 {
	var out []int64
	for _, id := range all {
		if !slices.Contains(seen, id) {
			out = append(out, id)
		}
	}
	return out
}

// TestFollowerWokenByAnotherStore: a follower of one store (one process)
// reads an event appended through another store on the same database (a
// second process) at once, not at its next poll, which here is a minute
// away. A store wrapped by metadatatest.DoubleRun is looked through.
func TestFollowerWokenByAnotherStore(t *testing.T) {
	url := pgtest.URL(t)
	a, b := openURL(t, url), openURL(t, url)
	for name, meta := range map[string]metadata.Reader{"store": a, "wrapped": metadatatest.DoubleRun(a)} {
		t.Run(name, func(t *testing.T) {
			f := outbox.NewFollower(meta, time.Minute, slog.New(slog.NewTextHandler(io.Discard, nil)))
			got := make(chan metadata.Event, 10)
			f.Subscribe(func(e metadata.Event) { got <- e })
			if err := f.Start(ctx); err != nil {
				t.Fatal(err)
			}
			runCtx, cancel := context.WithCancel(ctx)
			defer cancel()
			go f.Run(runCtx)
			time.Sleep(100 * time.Millisecond) // the listener connected
			for i := range 3 {
				doc := []byte(fmt.Sprintf("%s %d", name, i))
				start := time.Now()
				if err := b.Update(ctx, func(tx metadata.Tx) error {
					return tx.AppendEvent(ctx, metadata.Event{Scope: scope, Time: now, Type: "t", Document: doc})
				}); err != nil {
					t.Fatal(err)
				}
				select {
				case e := <-got:
					took := time.Since(start)
					if string(e.Document) != string(doc) {
						t.Fatalf("follower read %q, want %q", e.Document, doc)
					}
					if took > 500*time.Millisecond {
						t.Errorf("the follower read the event after %v", took)
					}
					t.Logf("read %v after the commit began", took)
				case <-time.After(5 * time.Second):
					t.Fatal("the follower did not read an event appended through another store")
				}
			}
		})
	}
}

// TestTextPostgreSQLCannotHold: a key that is not valid UTF-8 (which
// PostgreSQL's text cannot hold, so nothing stored has it) finds nothing,
// inside a transaction too, which stays usable.
func TestTextPostgreSQLCannotHold(t *testing.T) {
	s := newStore(t)
	bad := "v\xff1"
	if _, err := s.Repository(ctx, metadata.RepoKey{Scope: scope, Name: bad}); !errors.Is(err, metadata.ErrNotFound) {
		t.Fatalf("Repository(invalid UTF-8) = %v, want ErrNotFound", err)
	}
	if _, err := s.AccessKey(ctx, "AKIA\x00"); !errors.Is(err, metadata.ErrNotFound) {
		t.Fatalf("AccessKey(NUL) = %v, want ErrNotFound", err)
	}
	if tags, err := s.Tags(ctx, 1, bad, 10); err != nil || len(tags) != 0 {
		t.Fatalf("Tags after an invalid name = %v, %v", tags, err)
	}
	err := s.Update(ctx, func(tx metadata.Tx) error {
		if _, err := tx.Repository(ctx, metadata.RepoKey{Scope: scope, Name: bad}); !errors.Is(err, metadata.ErrNotFound) {
			return fmt.Errorf("in a transaction: %w", err)
		}
		_, err := tx.CreateRepository(ctx, metadata.Repository{Key: metadata.RepoKey{Scope: scope, Name: "good"}, CreatedAt: now})
		return err
	})
	if err != nil {
		t.Fatal(err)
	}
	if _, err := s.Repository(ctx, metadata.RepoKey{Scope: scope, Name: "good"}); err != nil {
		t.Fatal(err)
	}
}

// TestErrorsKeepTheTransaction: the failures the contract names
// (ErrExists, ErrNotFound) leave the transaction usable, as they do on
// SQLite: PostgreSQL aborts a transaction on a failed statement, so they
// must not come from one.
func TestErrorsKeepTheTransaction(t *testing.T) {
	s := newStore(t)
	key := metadata.RepoKey{Scope: scope, Name: "app"}
	var repo metadata.Repository
	if err := s.Update(ctx, func(tx metadata.Tx) (err error) {
		if err := tx.CreateAccount(ctx, metadata.Account{ID: scope.Account, CreatedAt: now}); err != nil {
			return err
		}
		repo, err = tx.CreateRepository(ctx, metadata.Repository{Key: key, CreatedAt: now})
		return err
	}); err != nil {
		t.Fatal(err)
	}
	img := metadata.Image{RepoID: repo.ID, Digest: digest.FromString("m"), MediaType: "m", PushedAt: now, Content: []byte("m")}
	steps := []struct {
		name string
		want error
		fn   func(tx metadata.Tx) error
	}{
		{"CreateAccount", metadata.ErrExists, func(tx metadata.Tx) error {
			return tx.CreateAccount(ctx, metadata.Account{ID: scope.Account, CreatedAt: now})
		}},
		{"CreateRepository", metadata.ErrExists, func(tx metadata.Tx) error {
			_, err := tx.CreateRepository(ctx, metadata.Repository{Key: key, CreatedAt: now})
			return err
		}},
		{"PutAccessKey", metadata.ErrNotFound, func(tx metadata.Tx) error {
			return tx.PutAccessKey(ctx, metadata.AccessKey{ID: "AKIAX", Account: "999999999999", Secret: []byte{1}, CreatedAt: now})
		}},
		{"CreateIAMEntity of no account", metadata.ErrNotFound, func(tx metadata.Tx) error {
			return tx.CreateIAMEntity(ctx, metadata.IAMEntity{Account: "999999999999", Kind: metadata.IAMUser, Name: "u", Document: []byte("{}")})
		}},
		{"PutTag", metadata.ErrNotFound, func(tx metadata.Tx) error {
			return tx.PutTag(ctx, repo.ID, "v1", digest.FromString("absent"), now)
		}},
		{"PutImageScan", metadata.ErrNotFound, func(tx metadata.Tx) error {
			return tx.PutImageScan(ctx, metadata.ImageScan{RepoID: repo.ID, Digest: digest.FromString("absent"), Status: metadata.ScanPending, RequestedAt: now})
		}},
		{"QueueReplications of no repository", metadata.ErrNotFound, func(tx metadata.Tx) error {
			return tx.QueueReplications(ctx, []metadata.ReplicationTask{{RepoID: repo.ID + 1000, Digest: digest.FromString("m"),
				Dest: metadata.Scope{Account: "210987654321", Region: "us-west-2"}}}, now)
		}},
		{"PutPullTimeExclusion", metadata.ErrExists, func(tx metadata.Tx) error {
			e := metadata.PullTimeExclusion{Principal: "p", CreatedAt: now}
			if err := tx.PutPullTimeExclusion(ctx, scope, e); err != nil {
				return err
			}
			return tx.PutPullTimeExclusion(ctx, scope, e)
		}},
		{"RecordBlob", metadata.ErrBlobDeleting, func(tx metadata.Tx) error {
			b := metadata.Blob{Digest: digest.FromString("orphan"), Size: 1}
			if _, err := tx.MarkOrphansDeleting(ctx, []metadata.Blob{b}, now); err != nil {
				return err
			}
			return tx.RecordBlob(ctx, b, now)
		}},
	}
	for _, st := range steps {
		t.Run(st.name, func(t *testing.T) {
			err := s.Update(ctx, func(tx metadata.Tx) error {
				if err := st.fn(tx); !errors.Is(err, st.want) {
					return fmt.Errorf("got %v, want %v", err, st.want)
				}
				// The transaction goes on.
				return tx.PutImage(ctx, img, nil)
			})
			if err != nil {
				t.Fatal(err)
			}
		})
	}
}

// TestConcurrentReplicationClaims: replicas claiming replication tasks at
// once take different tasks, and every task once.
func TestConcurrentReplicationClaims(t *testing.T) {
	s := newStore(t)
	const tasks, workers = 60, 6
	if err := s.Update(ctx, func(tx metadata.Tx) error {
		repo, err := tx.CreateRepository(ctx, metadata.Repository{Key: metadata.RepoKey{Scope: scope, Name: "app"}, CreatedAt: now})
		if err != nil {
			return err
		}
		var queue []metadata.ReplicationTask
		for i := range tasks {
			queue = append(queue, metadata.ReplicationTask{RepoID: repo.ID, Digest: digest.FromString(strconv.Itoa(i)),
				Dest: metadata.Scope{Account: "210987654321", Region: "us-west-2"}, NotBefore: now.Add(time.Duration(i) * time.Millisecond)})
		}
		return tx.QueueReplications(ctx, queue, now)
	}); err != nil {
		t.Fatal(err)
	}
	var (
		wg      sync.WaitGroup
		mu      sync.Mutex
		claimed = map[digest.Digest][]string{}
	)
	for w := range workers {
		wg.Go(func() {
			holder := fmt.Sprintf("replica-%d", w)
			for {
				var got []metadata.ReplicationTask
				err := s.Update(ctx, func(tx metadata.Tx) error {
					var err error
					got, err = tx.ClaimReplications(ctx, holder, now.Add(time.Second), now.Add(time.Hour), 4)
					return err
				})
				if err != nil {
					t.Error(err)
					return
				}
				if len(got) == 0 {
					return
				}
				mu.Lock()
				for _, task := range got {
					claimed[task.Digest] = append(claimed[task.Digest], holder)
				}
				mu.Unlock()
			}
		})
	}
	wg.Wait()
	if len(claimed) != tasks {
		t.Fatalf("%d tasks claimed, want %d", len(claimed), tasks)
	}
	for d, holders := range claimed {
		if len(holders) != 1 {
			t.Errorf("task %s claimed by %v", d, holders)
		}
	}
}

// TestRecordPullsBatch: one batch raises each image's time to its latest
// pull, several pulls of one image included, and never lowers one.
func TestRecordPullsBatch(t *testing.T) {
	s := newStore(t)
	var repo metadata.Repository
	var imgs []metadata.Image
	if err := s.Update(ctx, func(tx metadata.Tx) (err error) {
		imgs = nil
		if repo, err = tx.CreateRepository(ctx, metadata.Repository{Key: metadata.RepoKey{Scope: scope, Name: "p"}, CreatedAt: now}); err != nil {
			return err
		}
		for i := range 3 {
			img := metadata.Image{RepoID: repo.ID, Digest: digest.FromString(strconv.Itoa(i)), MediaType: "m", PushedAt: now, Content: []byte("m")}
			imgs = append(imgs, img)
			if err := tx.PutImage(ctx, img, nil); err != nil {
				return err
			}
		}
		return tx.SetImageTimes(ctx, repo.ID, imgs[2].Digest, time.Time{}, now.Add(time.Hour))
	}); err != nil {
		t.Fatal(err)
	}
	at := func(d time.Duration) time.Time { return now.Add(d) }
	err := s.RecordPulls(ctx, []metadata.Pull{
		{RepoID: repo.ID, Digest: imgs[0].Digest, At: at(time.Minute)},
		{RepoID: repo.ID, Digest: imgs[1].Digest, At: at(3 * time.Minute)},
		{RepoID: repo.ID, Digest: imgs[0].Digest, At: at(2*time.Minute + 123456789)}, // nanoseconds: stored to the microsecond
		{RepoID: repo.ID, Digest: imgs[1].Digest, At: at(time.Minute)},
		{RepoID: repo.ID, Digest: imgs[2].Digest, At: at(time.Minute)},
		{RepoID: repo.ID, Digest: digest.FromString("deleted"), At: at(time.Minute)},
	})
	if err != nil {
		t.Fatal(err)
	}
	for i, want := range []time.Time{at(2*time.Minute + 123456000), at(3 * time.Minute), at(time.Hour)} {
		got, err := s.Image(ctx, repo.ID, imgs[i].Digest)
		if err != nil || !got.LastPulledAt.Equal(want) || got.LastPulledAt.Location() != time.UTC {
			t.Errorf("image %d: last pulled at %v, %v; want %v", i, got.LastPulledAt, err, want)
		}
	}
}

// recorder keeps each statement a store ran, with the arguments of one
// run of it.
type recorder struct {
	mu   sync.Mutex
	seen map[string][]any
}

func (r *recorder) TraceQueryStart(ctx context.Context, _ *pgx.Conn, data pgx.TraceQueryStartData) context.Context {
	r.mu.Lock()
	defer r.mu.Unlock()
	if _, ok := r.seen[data.SQL]; !ok {
		r.seen[data.SQL] = slices.Clone(data.Args)
	}
	return ctx
}

func (r *recorder) TraceQueryEnd(context.Context, *pgx.Conn, pgx.TraceQueryEndData) {}

// sortsAllowed are the statements whose plans may sort: few rows each.
var sortsAllowed = []string{
	"ORDER BY r.name LIMIT",  // BlobRepositories: the repositories that link one blob
	"FOR UPDATE SKIP LOCKED", // ClaimImageScans' join of the claimed jobs
}

// indexesWanted are statements (by a part of their text) the suite must
// have run, each with what its plan must show: a page of images in push
// order is a range scan of images_by_push_digest, forwards or backwards,
// that starts at the cursor (an index condition, not a filter).
var indexesWanted = map[string]*regexp.Regexp{
	"ORDER BY i.pushed_at, i.digest LIMIT":           regexp.MustCompile(`Index Scan using images_by_push_digest `),
	"ORDER BY i.pushed_at DESC, i.digest DESC LIMIT": regexp.MustCompile(`Index Scan Backward using images_by_push_digest `),
	"(i.pushed_at, i.digest) > ($3, $4)":             regexp.MustCompile(`Index Cond: .*ROW\(pushed_at, digest\) > ROW\(`),
	"(i.pushed_at, i.digest) < ($3, $4)":             regexp.MustCompile(`Index Cond: .*ROW\(pushed_at, digest\) < ROW\(`),
}

// checkPlans explains every statement the suite ran, with sequential
// scans and sorts priced out (not forbidden: a plan still has one where
// no index serves), and fails on a plan that reads a table whole or
// sorts: over 100,000 images, either makes a page cost the whole
// repository. The statements of indexesWanted must also use their index.
func checkPlans(t *testing.T, rec *recorder) {
	conn, err := pgx.Connect(ctx, pgtest.URL(t))
	if err != nil {
		t.Fatal(err)
	}
	defer conn.Close(ctx)
	for _, m := range migrations {
		if _, err := conn.Exec(ctx, m); err != nil {
			t.Fatal(err)
		}
	}
	if _, err := conn.Exec(ctx, "SET enable_seqscan = off; SET enable_sort = off"); err != nil {
		t.Fatal(err)
	}
	checked := 0
	wanted := map[string]int{}
	for sql, args := range rec.seen {
		switch first := strings.Fields(sql)[0]; first {
		case "SELECT", "WITH", "UPDATE", "DELETE", "INSERT":
		default:
			continue // BEGIN, LISTEN, migrations, ...
		}
		if strings.Contains(sql, "schema_version") {
			continue
		}
		rows, err := conn.Query(ctx, "EXPLAIN "+sql, args...)
		if err != nil {
			t.Errorf("EXPLAIN %s: %v", sql, err)
			continue
		}
		lines, err := pgx.CollectRows(rows, pgx.RowTo[string])
		if err != nil {
			t.Errorf("EXPLAIN %s: %v", sql, err)
			continue
		}
		plan := strings.Join(lines, "\n")
		checked++
		if strings.Contains(plan, "Seq Scan") {
			t.Errorf("a statement reads a table whole:\n%s\n%s", sql, plan)
		}
		if strings.Contains(plan, "Sort") && !slices.ContainsFunc(sortsAllowed, func(s string) bool { return strings.Contains(sql, s) }) {
			t.Errorf("a statement sorts:\n%s\n%s", sql, plan)
		}
		for part, scan := range indexesWanted {
			if strings.Contains(sql, part) {
				wanted[part]++
				if !scan.MatchString(plan) {
					t.Errorf("a statement does not use %q:\n%s\n%s", scan, sql, plan)
				}
			}
		}
	}
	for part := range indexesWanted {
		if wanted[part] == 0 {
			t.Errorf("the suite ran no statement with %q", part)
		}
	}
	if checked < 50 {
		t.Errorf("only %d statements were explained", checked)
	}
	t.Logf("%d statements explained", checked)
}
