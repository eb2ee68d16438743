package registry

import (
	"context"
	"fmt"
	"log/slog"
	"sync"
	"time"

	"github.com/ecrd/ecrd/internal/awsid"
	"github.com/ecrd/ecrd/internal/blobstore"
	"github.com/ecrd/ecrd/internal/identity"
	"github.com/ecrd/ecrd/internal/keyring"
	"github.com/ecrd/ecrd/internal/lease"
	"github.com/ecrd/ecrd/internal/metadata"
	"github.com/ecrd/ecrd/internal/reference"
	"github.com/ecrd/ecrd/internal/registry/blobspace"
	"github.com/ecrd/ecrd/internal/registry/gc"
	"github.com/ecrd/ecrd/internal/registry/lifecyclerun"
	"github.com/ecrd/ecrd/internal/registry/replication"
	"github.com/ecrd/ecrd/internal/registry/scanjob"
)

// MaxPageSize bounds one page of tags or repositories.
const MaxPageSize = 1000

// Options tune a Registry. Zero values take the defaults.
type Options struct {
	// UploadTTL is how long an upload may sit untouched before it is
	// removed. Default 24h.
	UploadTTL time.Duration
	// MaxBlobSize bounds one blob. Default 52,000 MiB, ECR's layer limit.
	MaxBlobSize int64
	// PullFlushInterval is how often recorded pull times are written to the
	// metadata store. Default 10s.
	PullFlushInterval time.Duration
	Logger            *slog.Logger
	// RegistryHost returns the host[:port] clients use for a registry, as
	// repository URIs show it. Default "localhost".
	RegistryHost func(metadata.Scope) string
	// CacheSize bounds what the manifests kept in memory for pulls hold
	// (see entryCost); negative turns the cache off. Default 16 MiB.
	CacheSize int64
	// GCGrace is how long a blob or a repository's link to it stays
	// unreferenced before garbage collection frees it, counted from the
	// last push that wrote or used it, so that a push in flight that will
	// reference it never loses it. Default 24h.
	GCGrace time.Duration
	// GCInterval is how often garbage collection runs (0: the default,
	// 6h; negative: only on demand).
	GCInterval time.Duration
	// LifecycleInterval is how often lifecycle policies run (0: the
	// default, 24h, ECR's "within 24 hours"; negative: only on demand).
	LifecycleInterval time.Duration
	// RestoreDelay is how long a restore from archive takes (the image is
	// ACTIVATING meanwhile). Default 0: restores complete at once.
	RestoreDelay time.Duration
	// ServerKey, if set, encrypts the blobs of AES256 repositories created
	// from now on, under data keys these server keys wrap (an opt-in: ECR's
	// AES256 is the storage's own encryption). KMS repositories are
	// encrypted under their KMS key either way.
	ServerKey *keyring.Keyring
	// Identity knows the IAM users and roles whose policies authorization
	// evaluates. Without it, only account roots and repository policies
	// grant access.
	Identity *identity.Service
	// Keys is the KMS key service that encrypts the blobs of repositories
	// created with KMS encryption. Without it (or with a blob store that
	// has no namespaces), those repositories are stored unencrypted.
	Keys Keys
	// Scanner scans images for vulnerabilities. Without it, scans that are
	// asked for fail, saying why.
	Scanner ImageScanner
	// ScanWorkers is how many scans run at once. Default 2.
	ScanWorkers int
	// ScanPollInterval is how often the scan queue is checked for jobs
	// nothing announced (other processes' pushes, retries). Default 5s.
	ScanPollInterval time.Duration
	// ScanDataInterval is how often the scanner's vulnerability data is
	// checked for changes, which continuous scanning then applies.
	// Default 1m.
	ScanDataInterval time.Duration
	// Holder names this process in the leases of background jobs. A name
	// that stays the same across restarts, and differs between processes
	// sharing a database, lets a restarted process take back at once the
	// scans it had in flight; with the default, a random ID, they wait for
	// their leases to expire.
	Holder string
	// EventRetention is how long the outbox keeps an event (see
	// internal/outbox). Default 24h.
	EventRetention time.Duration
	// MinFreeSpace is the free space kept in a blob store that reports
	// it: below it uploads are refused and Ready fails (space.go). 0: no
	// floor.
	MinFreeSpace int64
	// BlobRedirect, when positive, makes blob downloads answer with a
	// redirect to a URL of the blob store valid this long (an S3
	// presigned GET), as ECR's layer downloads do, for blobs stored as
	// they are; 0 streams every blob through the registry (BlobURL).
	BlobRedirect time.Duration
	// Shared says that other processes use the same stores (a shared
	// database and bucket): start-up recovery then leaves upload bytes
	// without a session to their expiry, since another process may be
	// writing them (see Recover).
	Shared bool
	// RemoteTargets gives the clients of destination registries in
	// regions other ecrd deployments serve (the remote-regions setting);
	// nil: every region is this server's.
	RemoteTargets RemoteTargets
	// ReplicationWorkers is how many replications run at once. Default 4.
	ReplicationWorkers int
	// ReplicationPollInterval is how often replication tasks nothing
	// announced (other processes' events, retries) are looked for.
	// Default 1s.
	ReplicationPollInterval time.Duration
	// DeadLetters is event delivery's dead-letter list, which the
	// registry serves to admins (ListDeadLetters, RedriveDeadLetters);
	// nil: none.
	DeadLetters DeadLetterQueue
	// Now is the clock; tests replace it.
	Now func() time.Time
	// Activity, if set, is told of pulls and pushes (metrics).
	Activity Activity
	// Secrets reads the Secrets Manager secrets pull-through cache rules
	// name (credentialArn); nil: a rule with credentials cannot be
	// created, its secret is not found.
	Secrets Secrets
	// UpstreamCheck tries to log in to a rule's upstream registry with
	// the rule's credential (its secret's value, "" for none), for
	// ValidatePullThroughCacheRule; nil: only the secret is checked.
	UpstreamCheck func(ctx context.Context, scope metadata.Scope, rule PullThroughCacheRule, credential string) error
	// InsecureUpstreams are the upstreams of pull-through cache rules
	// (host:port) reached over plain HTTP; every other one over HTTPS.
	InsecureUpstreams []string
	// Self is the base URL at which this server reaches itself over
	// plain HTTP (its listener: http://127.0.0.1:5000). A pull-through
	// cache rule with a customRoleArn pulls from a registry of this
	// deployment through it, as the role; "" leaves such rules without
	// their upstream.
	Self string
	// RemoteRegion reports whether another deployment serves a region
	// (the remote-regions setting); nil: this server serves them all.
	RemoteRegion func(region string) bool
	// UpstreamCredentials reads the secret a pull-through cache rule names
	// (its credentialArn) in an account, returning its value; nil: rules
	// with credentials fail to fetch.
	UpstreamCredentials func(ctx context.Context, account, arn string) (string, error)
}

// Registry is the domain core. It is safe for concurrent use.
type Registry struct {
	meta       metadata.Store
	blobs      blobstore.Store
	opts       Options
	log        *slog.Logger
	uploads    uploadLocks
	pulls      pullRecorder
	exclusions exclusionCache
	previews   previewCache
	policies   policyCache
	cache      *cache
	ids        *identity.Service
	// leases are the job leases of this process (internal/lease).
	leases *lease.Leases
	// gc collects garbage and guards pushes against it
	// (internal/registry/gc).
	gc *gc.Collector
	// spaces are where blobs live, plain or encrypted (encryption.go,
	// internal/registry/blobspace).
	spaces          *blobspace.Spaces
	plainKMSWarning sync.Once
	// lifecycle runs lifecycle policies (internal/registry/lifecyclerun).
	lifecycle *lifecyclerun.Runner
	// scans runs scan jobs (internal/registry/scanjob).
	scans *scanjob.Worker
	// replication feeds and runs replication tasks
	// (internal/registry/replication).
	replication *replication.Engine
	// background counts work started by requests that outlives them
	// (previews); Run waits for it before it returns.
	background sync.WaitGroup
	stats      stats
	// ptc is the pull-through cache's state (pullthrough_cache.go).
	ptc *pullThroughCache
	// syncer syncs the metadata store beside a finishing upload's commit
	// (ingest.go); nil with shared stores or a store that cannot.
	syncer metadata.Syncer
}

// New returns a Registry over the given stores.
func New(meta metadata.Store, blobs blobstore.Store, opts Options) *Registry {
	if opts.UploadTTL <= 0 {
		opts.UploadTTL = 24 * time.Hour
	}
	if opts.MaxBlobSize <= 0 {
		opts.MaxBlobSize = 52000 << 20
	}
	if opts.PullFlushInterval <= 0 {
		opts.PullFlushInterval = 10 * time.Second
	}
	if opts.RegistryHost == nil {
		opts.RegistryHost = func(metadata.Scope) string { return "localhost" }
	}
	if opts.CacheSize == 0 {
		opts.CacheSize = 16 << 20
	}
	if opts.Logger == nil {
		opts.Logger = slog.Default()
	}
	if opts.Now == nil {
		opts.Now = time.Now
	}
	if opts.GCGrace <= 0 {
		opts.GCGrace = 24 * time.Hour
	}
	if opts.GCInterval == 0 {
		opts.GCInterval = 6 * time.Hour
	}
	if opts.LifecycleInterval == 0 {
		opts.LifecycleInterval = 24 * time.Hour
	}
	if opts.Holder == "" {
		opts.Holder = awsid.NewUUID()
	}
	if opts.ScanWorkers <= 0 {
		opts.ScanWorkers = 2
	}
	if opts.ScanPollInterval <= 0 {
		opts.ScanPollInterval = 5 * time.Second
	}
	if opts.ScanDataInterval <= 0 {
		opts.ScanDataInterval = time.Minute
	}
	if opts.EventRetention <= 0 {
		opts.EventRetention = 24 * time.Hour
	}
	r := &Registry{
		meta:       meta,
		blobs:      blobs,
		opts:       opts,
		log:        opts.Logger,
		uploads:    uploadLocks{busy: map[string]*uploadHold{}},
		pulls:      pullRecorder{pending: map[pullKey]time.Time{}},
		exclusions: exclusionCache{byScope: map[metadata.Scope]map[string]bool{}},
		cache:      newCache(opts.CacheSize),
		ids:        opts.Identity,
	}
	r.leases = lease.New(meta, opts.Holder, r.now, opts.Logger)
	r.ptc = newPullThroughCache(opts)
	if !opts.Shared {
		r.syncer = metadata.SyncerOf(meta)
	}
	r.spaces = blobspace.New(blobs, keysOf(opts), r.now, opts.Logger)
	r.gc = gc.New(meta, r.leases, r.spaces, opts.GCGrace, r.now, opts.Logger)
	r.lifecycle = lifecyclerun.New(meta, lifecycleView{r}, r.leases, opts.LifecycleInterval, r.now, opts.Logger)
	r.scans = scanjob.New(scanjob.Config{
		Store: meta, Blobs: scanView{r}, Rules: scanView{r}, Leases: r.leases, Scanner: opts.Scanner,
		Workers: opts.ScanWorkers, PollInterval: opts.ScanPollInterval, DataInterval: opts.ScanDataInterval,
		RepositoryARN: RepositoryARN, Now: r.now, Log: opts.Logger,
	})
	// The cache reads rules' credentials through the secrets the rules
	// API checks, and that API validates an upstream as the cache logs in.
	if r.opts.UpstreamCredentials == nil && r.opts.Secrets != nil {
		r.opts.UpstreamCredentials = r.opts.Secrets.ValueForService
	}
	if r.opts.UpstreamCheck == nil {
		r.opts.UpstreamCheck = r.CheckUpstream
	}
	r.replication = replication.New(replication.Config{
		Store: meta, Core: replicationView{r}, Leases: r.leases, Workers: opts.ReplicationWorkers,
		Poll: opts.ReplicationPollInterval, Now: r.now, Log: opts.Logger,
	})
	return r
}

func (r *Registry) now() time.Time { return r.opts.Now().UTC() }

// Now returns the registry's clock reading, which decides image statuses.
func (r *Registry) Now() time.Time { return r.now() }

// Ready reports whether both stores can serve requests.
func (r *Registry) Ready(ctx context.Context) error {
	if err := r.meta.Ready(ctx); err != nil {
		return fmt.Errorf("metadata store: %w", err)
	}
	if err := r.blobs.Ready(ctx); err != nil {
		return fmt.Errorf("blob store: %w", err)
	}
	free, err := r.freeSpace(ctx)
	if err != nil {
		return fmt.Errorf("blob store: %w", err)
	}
	if free >= 0 && free < r.opts.MinFreeSpace {
		return fmt.Errorf("blob store: %s free, below the floor of %s (min-free-space): uploads are refused", sizeText(free), sizeText(r.opts.MinFreeSpace))
	}
	return nil
}

// Run does the registry's background work until ctx ends: it expires
// abandoned uploads, writes recorded pull times, runs lifecycle policies
// that are due, collects garbage, scans images and rematches continuously
// scanned ones when the vulnerability data changes. On return, pending pull times have
// been written and previews in progress have finished.
func (r *Registry) Run(ctx context.Context) {
	expiry := time.NewTicker(min(max(r.opts.UploadTTL/10, time.Second), 10*time.Minute))
	defer expiry.Stop()
	flush := time.NewTicker(r.opts.PullFlushInterval)
	defer flush.Stop()
	lifecycle := newSchedule(r.opts.LifecycleInterval)
	defer lifecycle.Stop()
	gcTick := newSchedule(r.opts.GCInterval)
	defer gcTick.Stop()
	var lastGC time.Time
	prune := time.NewTicker(min(r.opts.EventRetention/24, time.Hour))
	defer prune.Stop()
	var scans sync.WaitGroup
	defer scans.Wait()
	scans.Go(func() { r.scans.Run(ctx) })
	scans.Go(func() { r.replication.Run(ctx) })
	for {
		select {
		case <-ctx.Done():
			// The request context is gone; give the last flush its own.
			fctx, cancel := context.WithTimeout(context.Background(), 10*time.Second)
			r.flushPulls(fctx)
			cancel()
			r.background.Wait()
			return
		case <-flush.C:
			r.flushPulls(ctx)
		case <-lifecycle.C:
			// Pull times decide sinceImagePulled rules: write them first.
			r.flushPulls(ctx)
			report, err := r.runDueLifecyclePolicies(ctx)
			switch {
			case CodeOf(err) == CodeJobBusy:
				r.log.Debug("lifecycle policies: another process is running them")
			case err != nil && ctx.Err() == nil:
				r.log.Error("running lifecycle policies", "err", err)
			case report.Repositories > 0:
				r.log.Info("lifecycle policies ran", "repositories", report.Repositories, "expired", report.Expired,
					"archived", report.Archived, "skipped", report.Skipped)
			}
		case <-gcTick.C:
			// The schedule ticks often; a collection runs once an interval.
			if time.Since(lastGC) < r.opts.GCInterval {
				continue
			}
			lastGC = time.Now()
			if _, err := r.CollectGarbage(ctx); err != nil && CodeOf(err) != CodeJobBusy && ctx.Err() == nil {
				r.log.Error("collecting garbage", "err", err)
			}
		case <-expiry.C:
			if err := r.ExpireUploads(ctx); err != nil && ctx.Err() == nil {
				r.log.Error("expiring uploads", "err", err)
			}
		case <-prune.C:
			if _, err := r.PruneEvents(ctx); err != nil && CodeOf(err) != CodeJobBusy && ctx.Err() == nil {
				r.log.Error("pruning the outbox", "err", err)
			}
		}
	}
}

// newSchedule returns a ticker that checks for due work often enough to
// run it about on time for a job that runs every interval (a fraction of
// it, between a second and an hour), or never for a negative interval.
func newSchedule(interval time.Duration) *time.Ticker {
	if interval < 0 {
		t := time.NewTicker(time.Hour)
		t.Stop()
		return t
	}
	return time.NewTicker(min(max(interval/24, time.Second), time.Hour))
}

// validateRepo checks a repository name and returns its key.
func validateRepo(key metadata.RepoKey) error {
	if err := reference.ValidateRepository(key.Name); err != nil {
		return &Error{Code: CodeNameInvalid, Message: err.Error()}
	}
	return nil
}

// pageSize turns a requested page size into one within bounds.
func pageSize(n int) int {
	if n <= 0 || n > MaxPageSize {
		return MaxPageSize
	}
	return n
}

// Repositories lists up to n repository names of a scope in order, after
// last, and says whether more follow.
func (r *Registry) Repositories(ctx context.Context, scope metadata.Scope, last string, n int) (names []string, more bool, err error) {
	if err := r.authorize(ctx, ActionDescribeRepositories, scope, nil, RepositoryARN(metadata.RepoKey{Scope: scope, Name: "*"})); err != nil {
		return nil, false, err
	}
	repos, more, err := r.visibleRepositories(ctx, scope, "", last, pageSize(n))
	if err != nil {
		return nil, false, err
	}
	names = make([]string, 0, len(repos))
	for _, repo := range repos {
		names = append(names, repo.Key.Name)
	}
	return names, more, nil
}

// Tags lists up to n tags of a repository in lexical order, after last,
// and says whether more follow.
func (r *Registry) Tags(ctx context.Context, key metadata.RepoKey, last string, n int) (tags []string, more bool, err error) {
	repo, err := r.repositoryFor(ctx, ActionListImages, key)
	if err != nil {
		return nil, false, err
	}
	n = pageSize(n)
	tags, err = r.meta.Tags(ctx, repo.ID, last, n+1)
	if err != nil {
		return nil, false, err
	}
	more = len(tags) > n
	tags = tags[:min(len(tags), n)]
	if tags == nil {
		tags = []string{}
	}
	return tags, more, nil
}
