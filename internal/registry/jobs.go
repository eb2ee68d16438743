package registry

import (
	"context"
	"errors"
	"time"

	"github.com/ecrd/ecrd/internal/awsid"
	"github.com/ecrd/ecrd/internal/metadata"
)

// Background jobs (lifecycle runs, garbage collection) hold a lease in the
// metadata store while they work, so that processes sharing a database,
// and runs of one process (the schedule and an on-demand run), never run
// the same job at once.

// leaseTTL is how long a job's lease lasts without renewal. A job renews
// it as it goes, so a process that dies leaves the job to another within
// this time.
const leaseTTL = 2 * time.Minute

// ErrJobBusy is returned when another run holds a job's lease. It has the
// code CodeJobBusy.
var ErrJobBusy = &Error{Code: CodeJobBusy, Message: "another run of this job is in progress: try again when it has finished"}

// errLeaseLost stops a job whose lease another run took (this one was
// paused longer than the lease, or clocks disagree).
var errLeaseLost = errors.New("another run took the job's lease (this one was paused, or clocks disagree): the next run finishes this one's work")

// lease is a held job lease.
type lease struct {
	r       *Registry
	job     string
	holder  string
	renewed time.Time
}

// acquireLease takes the lease of a job under a holder name unique to this
// run, or returns ErrJobBusy.
func (r *Registry) acquireLease(ctx context.Context, job string) (*lease, error) {
	l := &lease{r: r, job: job, holder: r.opts.Holder + "/" + awsid.NewUUID()[:8]}
	if err := l.update(ctx, func(metadata.Tx) error { return nil }); err != nil {
		if errors.Is(err, errLeaseLost) {
			return nil, ErrJobBusy
		}
		return nil, err
	}
	return l, nil
}

// update runs fn in a transaction that also renews the lease, and fails
// with errLeaseLost if another run has taken it: what fn writes is
// written only while the lease is held.
func (l *lease) update(ctx context.Context, fn func(metadata.Tx) error) error {
	now := l.r.now()
	err := l.r.meta.Update(ctx, func(tx metadata.Tx) error {
		held, err := tx.AcquireLease(ctx, l.job, l.holder, now, now.Add(leaseTTL))
		if err != nil {
			return err
		}
		if !held {
			return errLeaseLost
		}
		return fn(tx)
	})
	if err == nil {
		l.renewed = now
	}
	return err
}

// keep renews the lease if it was last renewed more than a quarter of its
// time ago, so that the holder always has most of it left.
func (l *lease) keep(ctx context.Context) error {
	if l.r.now().Sub(l.renewed) < leaseTTL/4 {
		return nil
	}
	return l.update(ctx, func(metadata.Tx) error { return nil })
}

// release gives the lease up so that the next run need not wait for it to
// expire.
func (l *lease) release() {
	ctx, cancel := context.WithTimeout(context.Background(), 10*time.Second)
	defer cancel()
	if err := l.r.meta.Update(ctx, func(tx metadata.Tx) error { return tx.ReleaseLease(ctx, l.job, l.holder) }); err != nil {
		l.r.log.Warn("releasing a job lease", "job", l.job, "err", err)
	}
}

// RunGarbageCollection collects garbage now on behalf of a caller, who
// must be an account's root. A collection is server-wide, but it only
// frees what nothing has referenced for the grace period, so the root of
// any account may ask for one.
func (r *Registry) RunGarbageCollection(ctx context.Context, scope metadata.Scope) (GCReport, error) {
	if err := r.authorize(ctx, ActionCollectGarbage, scope, nil, "*"); err != nil {
		return GCReport{}, err
	}
	return r.CollectGarbage(ctx)
}
