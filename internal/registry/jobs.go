package registry

import (
	"context"
	"errors"

	"github.com/ecrd/ecrd/internal/lease"
	"github.com/ecrd/ecrd/internal/metadata"
)

// Background jobs (lifecycle runs, garbage collection, rematches, outbox
// pruning) hold a lease while they work: see internal/lease.

// ErrJobBusy is returned when another run holds a job's lease. It has the
// code CodeJobBusy.
var ErrJobBusy = &Error{Code: CodeJobBusy, Message: "another run of this job is in progress: try again when it has finished"}

// jobError is the registry's error for a job's err: ErrJobBusy for a
// lease another run holds.
func jobError(err error) error {
	if errors.Is(err, lease.ErrBusy) {
		return ErrJobBusy
	}
	return err
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
