package scanjob

import (
	"context"
	"errors"
	"io"
	"log/slog"
	"sync"
	"time"

	"github.com/opencontainers/go-digest"

	"github.com/ecrd/ecrd/internal/lease"
	"github.com/ecrd/ecrd/internal/metadata"
	"github.com/ecrd/ecrd/internal/scanner"
)

// Store is what scans read and write of the metadata store.
type Store interface {
	Repository(ctx context.Context, key metadata.RepoKey) (metadata.Repository, error)
	Image(ctx context.Context, repoID int64, d digest.Digest) (metadata.Image, error)
	ImageScan(ctx context.Context, repoID int64, d digest.Digest) (metadata.ImageScan, error)
	StaleImageScans(ctx context.Context, version string, after metadata.ScanCursor, limit int) ([]metadata.ImageScan, error)
	Update(ctx context.Context, fn func(metadata.Tx) error) error
}

// OpenFunc opens a blob of a repository for reading its plaintext.
type OpenFunc func(ctx context.Context, b metadata.Blob) (io.ReadCloser, error)

// Blobs gives the worker an image's layers.
type Blobs interface {
	// Opener returns how to open the blobs of repository repo.
	Opener(ctx context.Context, repo metadata.Repository) (OpenFunc, error)
}

// Rules are the registry's scanning rules the worker needs.
type Rules interface {
	// Continuous returns which repositories of a registry (scope) are
	// scanned continuously, under its configuration as it is now.
	Continuous(ctx context.Context, scope metadata.Scope) (func(metadata.Repository) bool, error)
}

// Config is what a Worker works with.
type Config struct {
	Store  Store
	Blobs  Blobs
	Rules  Rules
	Leases *lease.Leases
	// Scanner scans images; nil: scans fail, saying why.
	Scanner scanner.Scanner
	// Workers is how many scans run at once.
	Workers int
	// PollInterval is how often the queue is checked for jobs nothing
	// announced (other processes' pushes, retries).
	PollInterval time.Duration
	// DataInterval is how often the scanner's vulnerability data is
	// checked for changes.
	DataInterval time.Duration
	// RepositoryARN names a repository in events.
	RepositoryARN func(metadata.RepoKey) string
	Now           func() time.Time
	Log           *slog.Logger
}

// Worker runs scan jobs. It is safe for concurrent use.
type Worker struct {
	cfg    Config
	holder string
	log    *slog.Logger
	// wake tells the workers a job was queued.
	wake chan struct{}
}

// New returns a worker; its holder name is the leases' holder followed
// by "/scans".
func New(cfg Config) *Worker {
	return &Worker{cfg: cfg, holder: cfg.Leases.Holder() + "/scans", log: cfg.Log, wake: make(chan struct{}, 1)}
}

// maxScanAttempts is how often a scan that fails is tried before it is
// reported FAILED; retries wait scanRetryDelay, then four times as long.
const (
	maxScanAttempts = 3
	scanRetryDelay  = 10 * time.Second
)

// rematchJob is the lease of continuous scanning's rematch, which one
// process runs for each version of the vulnerability data.
const rematchJob = "scan-rematch"

// rematchBatch is how many stored package lists are matched at once.
const rematchBatch = 500

// Descriptions of scan outcomes, as ECR words them where it is known.
const (
	completeDescription    = "The scan was completed successfully."
	unsupportedDescription = "UnsupportedImageError: The operating system and/or package manager are not supported."
)

// errNoScanner fails the scans of a server that has no vulnerability data.
var errNoScanner = errors.New("no vulnerability data is installed: install it with scripts/vulndb --out <folder> or ecrd vulndb load (see docs/scanning.md), then start the scan again")

// Run runs scan jobs, and rematches continuously scanned images when the
// vulnerability data changes, until ctx ends.
func (w *Worker) Run(ctx context.Context) {
	var wg sync.WaitGroup
	defer wg.Wait()
	wg.Go(func() { w.runJobs(ctx) })
	if w.cfg.Scanner != nil {
		wg.Go(func() { w.watchVulnerabilityData(ctx) })
	}
}

// runJobs runs scan jobs until ctx ends, at most Config.Workers at once,
// looking for new ones when woken by a push or request, when a job ends,
// and every Config.PollInterval (jobs of other processes, and retries
// that came due).
func (w *Worker) runJobs(ctx context.Context) {
	// Jobs held under this process's name are from its previous run,
	// which ended without finishing them.
	var n int
	err := w.cfg.Store.Update(ctx, func(tx metadata.Tx) error {
		var err error
		n, err = tx.ReleaseImageScans(ctx, w.holder)
		return err
	})
	switch {
	case err != nil && ctx.Err() == nil:
		w.log.Error("queueing the previous run's image scans again", "err", err)
	case n > 0:
		w.log.Info("image scans of the previous run queued again", "scans", n)
	}
	slots := make(chan struct{}, w.cfg.Workers)
	var running sync.WaitGroup
	defer running.Wait()
	poll := time.NewTicker(w.cfg.PollInterval)
	defer poll.Stop()
	for {
		if free := cap(slots) - len(slots); free > 0 {
			jobs, err := w.claim(ctx, free)
			if err != nil && ctx.Err() == nil {
				w.log.Error("claiming scan jobs", "err", err)
			}
			for _, job := range jobs {
				slots <- struct{}{}
				running.Add(1)
				go func() {
					defer running.Done()
					w.runScan(ctx, job)
					<-slots
					w.Wake()
				}()
			}
		}
		select {
		case <-ctx.Done():
			return
		case <-w.wake:
		case <-poll.C:
		}
	}
}

// Wake tells the workers there may be a job to claim.
func (w *Worker) Wake() {
	select {
	case w.wake <- struct{}{}:
	default:
	}
}

func (w *Worker) now() time.Time { return w.cfg.Now() }

func (w *Worker) claim(ctx context.Context, n int) ([]metadata.ImageScan, error) {
	var jobs []metadata.ImageScan
	now := w.now()
	err := w.cfg.Store.Update(ctx, func(tx metadata.Tx) error {
		var err error
		jobs, err = tx.ClaimImageScans(ctx, w.holder, now, now.Add(lease.TTL), n)
		return err
	})
	return jobs, err
}
