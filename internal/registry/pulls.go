package registry

import (
	"context"
	"sync"
	"time"

	"github.com/opencontainers/go-digest"

	"github.com/ecrd/ecrd/internal/metadata"
)

// pullRecorder batches last-pull times in memory and writes them every
// PullFlushInterval, so that a pull costs no database write. ECR, too,
// records pull times approximately.
type pullRecorder struct {
	mu      sync.Mutex
	pending map[pullKey]time.Time
}

type pullKey struct {
	repoID int64
	digest digest.Digest
}

func (p *pullRecorder) record(repoID int64, d digest.Digest, at time.Time) {
	p.mu.Lock()
	p.pending[pullKey{repoID, d}] = at
	p.mu.Unlock()
}

func (p *pullRecorder) take() []metadata.Pull {
	p.mu.Lock()
	defer p.mu.Unlock()
	if len(p.pending) == 0 {
		return nil
	}
	out := make([]metadata.Pull, 0, len(p.pending))
	for k, at := range p.pending {
		out = append(out, metadata.Pull{RepoID: k.repoID, Digest: k.digest, At: at})
	}
	clear(p.pending)
	return out
}

// flushPulls writes recorded pull times.
func (r *Registry) flushPulls(ctx context.Context) {
	pulls := r.pulls.take()
	if err := r.meta.RecordPulls(ctx, pulls); err != nil {
		r.log.Warn("recording pull times", "count", len(pulls), "err", err)
	}
}

// FlushPulls writes recorded pull times now (tests and shutdown use it).
func (r *Registry) FlushPulls(ctx context.Context) { r.flushPulls(ctx) }
