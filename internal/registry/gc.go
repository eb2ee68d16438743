package registry

import (
	"context"
	"errors"

	"github.com/opencontainers/go-digest"

	"github.com/ecrd/ecrd/internal/registry/gc"
)

// Garbage collection runs online, beside pushes and pulls; its safety
// argument, and the push side of its protocol that ingest (ingest.go)
// and blob checks (checkBlob) follow, are internal/registry/gc's.

// GCReport says what a garbage collection removed.
type GCReport = gc.Report

// CollectGarbage removes the links, blobs and blob files that nothing
// has referenced for GCGrace, beside pushes and pulls. It returns
// ErrJobBusy if another collection is running, and on an error, what it
// removed until then.
func (r *Registry) CollectGarbage(ctx context.Context) (GCReport, error) {
	report, err := r.gc.Collect(ctx)
	err = jobError(err)
	r.stats.countGC(report, err)
	return report, err
}

// gcError is the registry's error for a push that garbage collection
// kept waiting too long.
func gcError(err error) error {
	var sd *gc.StillDeleting
	if errors.As(err, &sd) {
		return errorf(CodeInternal, "%s", sd.Error())
	}
	return err
}

// blobCollected is the error of a push whose blob was collected between
// being stored and being linked (a push slower than GCGrace).
func blobCollected(d digest.Digest) error {
	return errorf(CodeInternal, "blob %s was deleted by garbage collection while it was being pushed: push it again", d)
}
