package postgres

import (
	"context"
	"strconv"
	"sync"
	"time"

	"github.com/jackc/pgx/v5"
)

// listener holds one connection that LISTENs on eventChannel, which every
// AppendEvent notifies with its event's ID when its transaction commits,
// and keeps the highest ID it heard of: followers of the outbox in this
// process are woken within milliseconds of a commit in any process,
// instead of at their next poll. When the connection fails it connects
// again (pausing up to 5 s between attempts) and reads the newest ID, so
// nothing committed meanwhile is missed for long; followers poll
// meanwhile.
type listener struct {
	cfg    *pgx.ConnConfig
	cancel context.CancelFunc
	done   chan struct{}

	mu      sync.Mutex
	last    int64         // the highest event ID known to be committed
	changed chan struct{} // closed (and replaced) when last grows
}

func listen(cfg *pgx.ConnConfig) *listener {
	ctx, cancel := context.WithCancel(context.Background())
	l := &listener{cfg: cfg, cancel: cancel, done: make(chan struct{}), changed: make(chan struct{})}
	go l.run(ctx)
	return l
}

func (l *listener) run(ctx context.Context) {
	defer close(l.done)
	const first, most = 100 * time.Millisecond, 5 * time.Second
	wait := first
	for {
		began := time.Now()
		l.session(ctx)
		if ctx.Err() != nil {
			return
		}
		if time.Since(began) > time.Minute {
			wait = first // it had been listening: not a connection that keeps failing
		}
		select {
		case <-ctx.Done():
			return
		case <-time.After(wait):
		}
		wait = min(2*wait, most)
	}
}

// session listens on one connection until it fails or ctx ends.
func (l *listener) session(ctx context.Context) error {
	conn, err := pgx.ConnectConfig(ctx, l.cfg)
	if err != nil {
		return err
	}
	defer func() {
		closing, cancel := context.WithTimeout(context.Background(), time.Second)
		defer cancel()
		conn.Close(closing)
	}()
	if _, err := conn.Exec(ctx, "LISTEN "+eventChannel); err != nil {
		return err
	}
	// Listening from now on: what committed before is in the table.
	var last int64
	if err := conn.QueryRow(ctx, `SELECT coalesce(max(id), 0) FROM events`).Scan(&last); err != nil {
		return err
	}
	l.raise(last)
	for {
		n, err := conn.WaitForNotification(ctx)
		if err != nil {
			return err
		}
		if id, err := strconv.ParseInt(n.Payload, 10, 64); err == nil {
			l.raise(id)
		}
	}
}

func (l *listener) raise(id int64) {
	l.mu.Lock()
	defer l.mu.Unlock()
	if id > l.last {
		l.last = id
		close(l.changed)
		l.changed = make(chan struct{})
	}
}

var closed = func() chan struct{} {
	c := make(chan struct{})
	close(c)
	return c
}()

func (l *listener) after(id int64) <-chan struct{} {
	l.mu.Lock()
	defer l.mu.Unlock()
	if l.last > id {
		return closed
	}
	return l.changed
}

func (l *listener) close() {
	l.cancel()
	<-l.done
}

// EventAfter implements metadata.EventWaiter with PostgreSQL's
// LISTEN/NOTIFY.
func (s *Store) EventAfter(after int64) <-chan struct{} {
	return s.listener.after(after)
}
