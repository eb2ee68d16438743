package registry

import (
	"sync/atomic"

	"github.com/ecrd/ecrd/internal/metadata"
)

// Activity is told of each image pulled and pushed through this process
// (metrics count them per repository). Its methods are called on the
// request's goroutine and must not block.
type Activity interface {
	// Pulled: a manifest was read to be pulled (a manifest GET, an image
	// of BatchGetImage).
	Pulled(repo metadata.RepoKey)
	// Pushed: a manifest was stored (a manifest PUT, PutImage, a
	// replication into this registry).
	Pushed(repo metadata.RepoKey)
}

// Stats count what this process's background jobs did since it started.
type Stats struct {
	GCRuns, GCFailures               int64
	GCLinksRemoved, GCBlobsDeleted   int64
	GCOrphansDeleted, GCBytesFreed   int64
	LifecycleRuns, LifecycleFailures int64
	LifecycleExpired                 int64
	LifecycleArchived                int64
}

// stats are the counters behind Stats.
type stats struct {
	gcRuns, gcFailures, gcLinks, gcBlobs, gcOrphans, gcBytes atomic.Int64
	lcRuns, lcFailures, lcExpired, lcArchived                atomic.Int64
}

// Stats returns what this process's background jobs did since it
// started: a snapshot for metrics, which never import the registry's
// internals.
func (r *Registry) Stats() Stats {
	s := &r.stats
	return Stats{
		GCRuns: s.gcRuns.Load(), GCFailures: s.gcFailures.Load(), GCLinksRemoved: s.gcLinks.Load(),
		GCBlobsDeleted: s.gcBlobs.Load(), GCOrphansDeleted: s.gcOrphans.Load(), GCBytesFreed: s.gcBytes.Load(),
		LifecycleRuns: s.lcRuns.Load(), LifecycleFailures: s.lcFailures.Load(),
		LifecycleExpired: s.lcExpired.Load(), LifecycleArchived: s.lcArchived.Load(),
	}
}

// countGC counts a collection that ran (one another process was running
// is not counted).
func (s *stats) countGC(report GCReport, err error) {
	if CodeOf(err) == CodeJobBusy {
		return
	}
	s.gcRuns.Add(1)
	if err != nil {
		s.gcFailures.Add(1)
	}
	s.gcLinks.Add(int64(report.LinksRemoved))
	s.gcBlobs.Add(int64(report.BlobsDeleted))
	s.gcOrphans.Add(int64(report.OrphansDeleted))
	s.gcBytes.Add(report.BytesFreed)
}

// countLifecycle counts a lifecycle run, likewise.
func (s *stats) countLifecycle(report LifecycleReport, err error) {
	if CodeOf(err) == CodeJobBusy {
		return
	}
	s.lcRuns.Add(1)
	if err != nil {
		s.lcFailures.Add(1)
	}
	s.lcExpired.Add(int64(report.Expired))
	s.lcArchived.Add(int64(report.Archived))
}
