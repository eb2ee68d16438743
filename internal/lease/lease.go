package lease

import (
	"context"
	"errors"
	"log/slog"
	"time"

	"github.com/ecrd/ecrd/internal/awsid"
	"github.com/ecrd/ecrd/internal/metadata"
)

// TTL is how long a lease lasts without renewal. A job renews it as it
// goes, so a process that dies leaves the job to another within this
// time.
const TTL = 2 * time.Minute

// ErrBusy is returned by Acquire when another run holds the job's lease.
var ErrBusy = errors.New("another run of this job is in progress: try again when it has finished")

// ErrLost stops a job whose lease another run took (this one was paused
// longer than the lease, or clocks disagree).
var ErrLost = errors.New("another run took the job's lease (this one was paused, or clocks disagree): the next run finishes this one's work")

// Leases hands out the job leases of one process.
type Leases struct {
	meta   metadata.Store
	holder string
	now    func() time.Time
	log    *slog.Logger
}

// New returns the leases of the process named holder over meta, with
// clock now.
func New(meta metadata.Store, holder string, now func() time.Time, log *slog.Logger) *Leases {
	return &Leases{meta: meta, holder: holder, now: now, log: log}
}

// Holder is the process's name, which its runs' holder names start with.
func (m *Leases) Holder() string { return m.holder }

// Lease is a held job lease.
type Lease struct {
	m       *Leases
	job     string
	holder  string
	renewed time.Time
}

// Acquire takes the lease of a job under a holder name unique to this
// run, or returns ErrBusy.
func (m *Leases) Acquire(ctx context.Context, job string) (*Lease, error) {
	l := &Lease{m: m, job: job, holder: m.holder + "/" + awsid.NewUUID()[:8]}
	if err := l.Update(ctx, func(metadata.Tx) error { return nil }); err != nil {
		if errors.Is(err, ErrLost) {
			return nil, ErrBusy
		}
		return nil, err
	}
	return l, nil
}

// Update runs fn in a transaction that also renews the lease, and fails
// with ErrLost if another run has taken it: what fn writes is written
// only while the lease is held.
func (l *Lease) Update(ctx context.Context, fn func(metadata.Tx) error) error {
	now := l.m.now()
	err := l.m.meta.Update(ctx, func(tx metadata.Tx) error {
		held, err := tx.AcquireLease(ctx, l.job, l.holder, now, now.Add(TTL))
		if err != nil {
			return err
		}
		if !held {
			return ErrLost
		}
		return fn(tx)
	})
	if err == nil {
		l.renewed = now
	}
	return err
}

// Keep renews the lease if it was last renewed more than a quarter of its
// time ago, so that the holder always has most of it left.
func (l *Lease) Keep(ctx context.Context) error {
	if l.m.now().Sub(l.renewed) < TTL/4 {
		return nil
	}
	return l.Update(ctx, func(metadata.Tx) error { return nil })
}

// Release gives the lease up so that the next run need not wait for it to
// expire.
func (l *Lease) Release() {
	ctx, cancel := context.WithTimeout(context.Background(), 10*time.Second)
	defer cancel()
	if err := l.m.meta.Update(ctx, func(tx metadata.Tx) error { return tx.ReleaseLease(ctx, l.job, l.holder) }); err != nil {
		l.m.log.Warn("releasing a job lease", "job", l.job, "err", err)
	}
}

// ReleasePrevious gives up the leases held under this process's name,
// which are its previous run's: that run died holding them. It returns
// how many it freed.
func (m *Leases) ReleasePrevious(ctx context.Context) (int, error) {
	var freed int
	err := m.meta.Update(ctx, func(tx metadata.Tx) error {
		var err error
		freed, err = tx.ReleaseLeasesOf(ctx, m.holder+"/")
		return err
	})
	return freed, err
}
