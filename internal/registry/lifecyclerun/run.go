package lifecyclerun

import (
	"context"
	"errors"
	"fmt"
	"log/slog"
	"slices"
	"time"

	"github.com/opencontainers/go-digest"

	"github.com/ecrd/ecrd/internal/lease"
	"github.com/ecrd/ecrd/internal/lifecycle"
	"github.com/ecrd/ecrd/internal/metadata"
)

// Graph reads a repository's images for evaluation.
type Graph interface {
	ImageGraph(ctx context.Context, repoID int64) ([]metadata.GraphImage, error)
}

// Store is what runs read of the metadata store; they write through
// their lease.
type Store interface {
	Graph
	LifecyclePolicies(ctx context.Context, after int64, limit int) ([]metadata.LifecyclePolicy, error)
	Repository(ctx context.Context, key metadata.RepoKey) (metadata.Repository, error)
}

// Core is what runs need of the registry. Its transaction functions
// only read and write tx: they may run twice.
type Core interface {
	// ParsePolicy validates a stored policy text of a registry (scope)
	// as the registry's settings now say.
	ParsePolicy(ctx context.Context, scope metadata.Scope, text string) (lifecycle.Policy, error)
	// Expire deletes image img of repo, tagged tags, inside tx through
	// the registry's delete path, with its events. held says an index
	// still lists it, and nothing was deleted.
	Expire(ctx context.Context, tx metadata.Tx, repo metadata.Repository, img metadata.Image, tags []string, now time.Time) (held bool, err error)
	// Archive moves image img of repo to archive storage inside tx, with
	// its events.
	Archive(ctx context.Context, tx metadata.Tx, repo metadata.Repository, img metadata.Image, tags []string, now time.Time) error
	// RecordRun appends the record of the actions a run of policy applied
	// to repo inside tx.
	RecordRun(ctx context.Context, tx metadata.Tx, repo metadata.Repository, policy lifecycle.Policy, applied []Applied, now time.Time) error
	// Changed drops what the process cached of a repository; it is called
	// after a transaction that changed it commits.
	Changed(repoID int64)
}

// Applied is a decision a run applied, with the image as it was.
type Applied struct {
	lifecycle.Decision
	Tags     []string
	PushedAt time.Time
}

// Report says what a lifecycle run did.
type Report struct {
	Repositories int
	Expired      int
	Archived     int
	// Skipped counts decisions left for the next run because the image
	// changed (was tagged, pulled back from archive, deleted) after the
	// policy was evaluated.
	Skipped int
}

func (a *Report) add(b Report) {
	a.Repositories += b.Repositories
	a.Expired += b.Expired
	a.Archived += b.Archived
	a.Skipped += b.Skipped
}

const (
	// job names the lease lifecycle runs hold.
	job = "lifecycle"
	// batch is how many decisions one transaction applies, as many as
	// one BatchDeleteImage call may name.
	batch = 100
)

// Runner runs lifecycle policies. It is safe for concurrent use; runs
// exclude each other through their lease.
type Runner struct {
	store    Store
	core     Core
	leases   *lease.Leases
	interval time.Duration
	now      func() time.Time
	log      *slog.Logger
}

// New returns a runner whose scheduled runs (RunDue) run each policy
// every interval.
func New(store Store, core Core, leases *lease.Leases, interval time.Duration, now func() time.Time, log *slog.Logger) *Runner {
	return &Runner{store: store, core: core, leases: leases, interval: interval, now: now, log: log}
}

// RunDue runs the policies whose last run (or, for one that never ran,
// whose setting) is at least an interval ago.
func (r *Runner) RunDue(ctx context.Context) (Report, error) {
	now := r.now()
	return r.Run(ctx, "ecrd lifecycle schedule", func(p metadata.LifecyclePolicy) bool {
		last := p.LastEvaluatedAt
		if last.IsZero() {
			last = p.UpdatedAt
		}
		return now.Sub(last) >= r.interval
	})
}

// Run runs the policies that match on behalf of actor (who the log
// names), holding the lifecycle lease so that no other process runs
// policies meanwhile. It returns lease.ErrBusy if another run holds it.
func (r *Runner) Run(ctx context.Context, actor string, match func(metadata.LifecyclePolicy) bool) (Report, error) {
	l, err := r.leases.Acquire(ctx, job)
	if err != nil {
		return Report{}, err
	}
	defer l.Release()
	var (
		report Report
		after  int64
	)
	for {
		page, err := r.store.LifecyclePolicies(ctx, after, 100)
		if err != nil {
			return report, err
		}
		for _, p := range page {
			after = p.RepoID
			if !match(p) {
				continue
			}
			if err := l.Keep(ctx); err != nil {
				return report, err
			}
			rep, err := r.runPolicy(ctx, l, p, actor)
			if err != nil {
				return report, fmt.Errorf("lifecycle policy of %s: %w", p.Repo.Name, err)
			}
			report.add(rep)
		}
		if len(page) < 100 {
			return report, nil
		}
	}
}

// Evaluate runs a policy over a repository as of time at. It returns the
// images as read, in push order, and the policy's decisions, each naming
// its image's position among them (Decision.Image). The pure package's
// own copy of the images lives only as long as the evaluation: a
// repository of 100,000 images is held once while results are built.
func Evaluate(ctx context.Context, g Graph, repo metadata.Repository, p lifecycle.Policy, at time.Time) ([]metadata.GraphImage, []lifecycle.Decision, error) {
	graph, err := g.ImageGraph(ctx, repo.ID)
	if err != nil {
		return nil, nil, err
	}
	images := make([]lifecycle.Image, len(graph))
	for i, g := range graph {
		img := lifecycle.Image{
			Digest:          string(g.Digest),
			Tags:            g.Tags,
			PushedAt:        g.PushedAt,
			LastPulledAt:    g.LastPulledAt,
			LastActivatedAt: g.LastActivatedAt,
			StorageClass:    lifecycle.StorageStandard,
			ArchivedAt:      g.LastArchivedAt,
			Subject:         string(g.Subject),
		}
		if g.StorageClass == metadata.StorageArchive {
			img.StorageClass = lifecycle.StorageArchive
		}
		if len(g.Children) > 0 {
			img.Children = make([]string, len(g.Children))
			for j, c := range g.Children {
				img.Children[j] = string(c)
			}
		}
		images[i] = img
	}
	return graph, lifecycle.Evaluate(p, images, at), nil
}

// runPolicy evaluates one repository's policy and applies its decisions.
func (r *Runner) runPolicy(ctx context.Context, l *lease.Lease, p metadata.LifecyclePolicy, actor string) (Report, error) {
	report := Report{Repositories: 1}
	repo, err := r.store.Repository(ctx, p.Repo)
	if errors.Is(err, metadata.ErrNotFound) {
		return report, nil // deleted meanwhile
	}
	if err != nil {
		return report, err
	}
	now := r.now()
	policy, err := r.core.ParsePolicy(ctx, repo.Key.Scope, p.Text)
	if err != nil {
		// A policy stored before a setting changed; it stays until fixed.
		r.log.Warn("skipping a lifecycle policy that no longer validates", "repository", repo.Key.Name, "err", err)
		return report, nil
	}
	images, decisions, err := Evaluate(ctx, r.store, repo, policy, now)
	if err != nil {
		return report, err
	}
	// An index goes before what it lists, since a child cannot be deleted
	// while an index holds it; a child that still cannot is tried again
	// after the others (nested indexes).
	slices.SortStableFunc(decisions, func(a, b lifecycle.Decision) int {
		return len(images[b.Image].Children) - len(images[a.Image].Children)
	})
	for pending := decisions; len(pending) > 0; {
		var retry []lifecycle.Decision
		for chunk := range slices.Chunk(pending, batch) {
			rep, again, err := r.apply(ctx, l, repo, policy, images, chunk, now, actor)
			if err != nil {
				return report, err
			}
			report.add(rep)
			retry = append(retry, again...)
		}
		if len(retry) == len(pending) {
			report.Skipped += len(retry)
			break
		}
		pending = retry
	}
	err = l.Update(ctx, func(tx metadata.Tx) error { return tx.SetLifecycleEvaluated(ctx, repo.ID, now) })
	return report, err
}

// apply applies decisions in one transaction, through the registry's
// delete path, while the run holds its lease. A decision whose image
// changed since the evaluation (tags, storage class or push time) is
// skipped: the next run decides again. It returns the decisions to retry
// because an index still holds their image.
func (r *Runner) apply(ctx context.Context, l *lease.Lease, repo metadata.Repository, policy lifecycle.Policy, seen []metadata.GraphImage,
	decisions []lifecycle.Decision, now time.Time, actor string) (Report, []lifecycle.Decision, error) {
	var (
		report  Report
		retry   []lifecycle.Decision
		applied []Applied
	)
	defer r.core.Changed(repo.ID) // after the commit
	err := l.Update(ctx, func(tx metadata.Tx) error {
		report, retry, applied = Report{}, nil, nil
		for _, d := range decisions {
			dg := digest.Digest(d.Digest)
			img, err := tx.Image(ctx, repo.ID, dg)
			if errors.Is(err, metadata.ErrNotFound) {
				continue // deleted meanwhile: nothing to do
			}
			if err != nil {
				return err
			}
			tags, err := tx.ImageTags(ctx, repo.ID, dg)
			if err != nil {
				return err
			}
			was := seen[d.Image]
			if !slices.Equal(tags, was.Tags) || !img.PushedAt.Equal(was.PushedAt) || img.StorageClass != was.StorageClass {
				report.Skipped++
				continue
			}
			switch d.Action.Type {
			case "expire":
				held, err := r.core.Expire(ctx, tx, repo, img, tags, now)
				if err != nil {
					return err
				}
				if held {
					retry = append(retry, d)
					continue
				}
				report.Expired++
			case "transition":
				if err := r.core.Archive(ctx, tx, repo, img, tags, now); err != nil {
					return err
				}
				report.Archived++
			default:
				return fmt.Errorf("lifecycle decision with unknown action %q", d.Action.Type)
			}
			applied = append(applied, Applied{Decision: d, Tags: tags, PushedAt: img.PushedAt})
		}
		if len(applied) == 0 {
			return nil
		}
		return r.core.RecordRun(ctx, tx, repo, policy, applied, now)
	})
	if err != nil {
		return Report{}, nil, err
	}
	for _, d := range applied {
		r.log.Info("lifecycle policy action", "action", d.Action.Type, "account", repo.Key.Account, "region", repo.Key.Region,
			"repository", repo.Key.Name, "digest", d.Digest, "tags", d.Tags,
			"rulePriority", d.RulePriority, "followedSubject", d.FollowedSubject, "actor", actor)
	}
	return report, retry, nil
}
