package gc

import (
	"context"
	"fmt"
	"log/slog"
	"time"

	"github.com/opencontainers/go-digest"

	"github.com/ecrd/ecrd/internal/blobstore"
	"github.com/ecrd/ecrd/internal/lease"
	"github.com/ecrd/ecrd/internal/metadata"
)

// Store is what collections and pushes read and write of the metadata
// store: blob records and links. Writes of a collection go through its
// lease.
type Store interface {
	UnreferencedLinks(ctx context.Context, before time.Time, after metadata.Link, limit int) (links []metadata.Link, next metadata.Link, err error)
	CollectableBlobs(ctx context.Context, before time.Time, after digest.Digest, limit int) (blobs []metadata.BlobRecord, next digest.Digest, err error)
	DeletingBlobs(ctx context.Context, after digest.Digest, limit int) ([]metadata.BlobRecord, error)
	BlobRecords(ctx context.Context, ds []digest.Digest) ([]metadata.BlobRecord, error)
	Link(ctx context.Context, repoID int64, d digest.Digest) (metadata.Link, error)
	Update(ctx context.Context, fn func(metadata.Tx) error) error
	UpdateNoSync(ctx context.Context, fn func(metadata.Tx) error) error
}

// Spaces are the blob stores a digest may be stored in: the plaintext
// store and each key's namespace (blobspace.Spaces).
type Spaces interface {
	All(ctx context.Context) ([]blobstore.Store, error)
}

// Report says what a garbage collection removed.
type Report struct {
	// LinksRemoved counts repositories' links to blobs that nothing
	// referenced.
	LinksRemoved int
	// BlobsDeleted counts blobs deleted because no repository linked them.
	BlobsDeleted int
	// BytesFreed is the size of the blobs and orphans deleted.
	BytesFreed int64
	// OrphansDeleted counts blob files deleted because no record named
	// them.
	OrphansDeleted int
	Duration       time.Duration
}

const (
	job = "gc"
	// batchSize bounds the rows one collection transaction writes, so that a
	// collection over millions of blobs never holds the single SQLite
	// writer for long.
	batchSize = 500
	// waitLimit bounds how long a push waits for a collection to finish
	// deleting the blob it stores.
	waitLimit = 30 * time.Second
)

// Collector collects garbage and takes part in pushes (see the package
// doc). It is safe for concurrent use.
type Collector struct {
	meta   Store
	leases *lease.Leases
	spaces Spaces
	grace  time.Duration
	now    func() time.Time
	log    *slog.Logger
}

// New returns a collector that frees what nothing has referenced for
// grace.
func New(meta Store, leases *lease.Leases, spaces Spaces, grace time.Duration, now func() time.Time, log *slog.Logger) *Collector {
	return &Collector{meta: meta, leases: leases, spaces: spaces, grace: grace, now: now, log: log}
}

// Collect removes the links, blobs and blob files that nothing has
// referenced for the grace period, beside pushes and pulls. It returns
// lease.ErrBusy if another collection is running, and on an error, what
// it removed until then.
func (c *Collector) Collect(ctx context.Context) (Report, error) {
	start := time.Now()
	l, err := c.leases.Acquire(ctx, job)
	if err != nil {
		return Report{}, err
	}
	defer l.Release()
	var report Report
	err = c.collect(ctx, l, &report)
	report.Duration = time.Since(start)
	if err != nil {
		return report, fmt.Errorf("garbage collection: %w", err)
	}
	c.log.Info("garbage collected", "links", report.LinksRemoved, "blobs", report.BlobsDeleted,
		"orphans", report.OrphansDeleted, "bytes", report.BytesFreed, "duration", report.Duration)
	return report, nil
}

func (c *Collector) collect(ctx context.Context, l *lease.Lease, report *Report) error {
	if err := c.finishDeletions(ctx, l, report); err != nil {
		return err
	}
	// Anything a push uses from now on is touched after the cutoff.
	cutoff := c.now().Add(-c.grace)
	if err := c.collectLinks(ctx, l, cutoff, report); err != nil {
		return err
	}
	if err := c.collectBlobs(ctx, l, cutoff, report); err != nil {
		return err
	}
	return c.collectOrphans(ctx, l, cutoff, report)
}
