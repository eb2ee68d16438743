package registry

import (
	"context"
	"encoding/json"
	"errors"
	"fmt"
	"slices"
	"strconv"
	"strings"

	"github.com/opencontainers/go-digest"

	"github.com/ecrd/ecrd/internal/awsid"
	"github.com/ecrd/ecrd/internal/lease"
	"github.com/ecrd/ecrd/internal/metadata"
)

// DescribeImageReplicationStatus returns the replication status of an
// image (by tag or digest) to each destination it was queued for, and
// the image's full ID.
func (r *Registry) DescribeImageReplicationStatus(ctx context.Context, key metadata.RepoKey, id ImageID) (ImageID, []ReplicationStatus, error) {
	repo, err := r.repositoryFor(ctx, ActionDescribeReplicationStatus, key)
	if err != nil {
		return id, nil, err
	}
	img, err := imageFor(ctx, r.meta, repo, id)
	if err != nil {
		return id, nil, err
	}
	id.Digest = string(img.Digest)
	tasks, err := r.meta.ReplicationTasks(ctx, repo.ID, img.Digest)
	if err != nil {
		return id, nil, err
	}
	out := make([]ReplicationStatus, 0, len(tasks))
	for _, t := range tasks {
		st := ReplicationStatus{Region: t.Dest.Region, RegistryID: t.Dest.Account, Status: t.Status}
		if t.Status == metadata.ReplicationFailed {
			st.FailureCode = t.FailureCode
		}
		out = append(out, st)
	}
	return id, out, nil
}

// backfillDoc is a backfill as stored: its state and how far it got
// listing the images it copies.
type backfillDoc struct {
	Backfill
	// After is the last repository (and image, within it) whose images
	// were queued.
	AfterRepo   string `json:"afterRepo,omitempty"`
	AfterDigest string `json:"afterDigest,omitempty"`
}

func terminalBackfill(status string) bool {
	return status == BackfillComplete || status == BackfillFailed || status == BackfillStopped
}

func readBackfill(b metadata.ReplicationBackfill) (backfillDoc, error) {
	var d backfillDoc
	err := json.Unmarshal(b.Document, &d)
	return d, err
}

func (r *Registry) putBackfill(ctx context.Context, tx metadata.Tx, scope metadata.Scope, d backfillDoc) error {
	doc, err := json.Marshal(d)
	if err != nil {
		return err
	}
	return tx.PutReplicationBackfill(ctx, metadata.ReplicationBackfill{Scope: scope, ID: d.ID, StartedAt: d.StartedAt,
		Active: !terminalBackfill(d.Status), Document: doc})
}

// StartReplicationBackfill starts copying what the registry holds to a
// destination of its configuration: one backfill per destination region
// at a time, MaxActiveBackfills per registry.
func (r *Registry) StartReplicationBackfill(ctx context.Context, scope metadata.Scope, dest ReplicationDestination) (Backfill, error) {
	if err := r.authorize(ctx, ActionStartReplicationBackfill, scope, nil, "*"); err != nil {
		return Backfill{}, err
	}
	now := r.now()
	b := backfillDoc{Backfill: Backfill{ID: awsid.NewUUID(), Destination: dest, Status: BackfillPreparing, StartedAt: now}}
	err := r.meta.Update(ctx, func(tx metadata.Tx) error {
		cfg, err := replicationConfig(ctx, tx, scope)
		if err != nil {
			return err
		}
		if !cfg.hasDestination(dest.scope()) {
			return paramError("destination", "registry %s in region %s is not a destination of the replication configuration", dest.RegistryID, dest.Region)
		}
		active := 0
		after := ""
		for {
			page, err := tx.ReplicationBackfills(ctx, scope, after, 100)
			if err != nil {
				return err
			}
			for _, rec := range page {
				if !rec.Active {
					continue
				}
				active++
				d, err := readBackfill(rec)
				if err != nil {
					return err
				}
				if d.Destination.Region == dest.Region {
					return &ConflictError{Conflict: ConflictBackfillInProgress, Key: metadata.RepoKey{Scope: scope}, Digest: dest.Region}
				}
			}
			if len(page) < 100 {
				break
			}
			after = page[len(page)-1].ID
		}
		if active >= MaxActiveBackfills {
			return &LimitError{Limit: LimitBackfills, Max: MaxActiveBackfills}
		}
		if err := r.putBackfill(ctx, tx, scope, b); err != nil {
			return err
		}
		return r.record(ctx, tx, scope, now, ActionStartReplicationBackfill, map[string]any{
			"destination": map[string]any{"region": dest.Region, "registryId": dest.RegistryID}})
	})
	if err != nil {
		return Backfill{}, err
	}
	r.replication.Wake()
	return b.Backfill, nil
}

func (r *Registry) backfill(ctx context.Context, rd metadata.Reader, scope metadata.Scope, id string) (backfillDoc, error) {
	rec, err := rd.ReplicationBackfill(ctx, scope, id)
	if errors.Is(err, metadata.ErrNotFound) {
		return backfillDoc{}, &NotFoundError{Kind: KindBackfill, Key: metadata.RepoKey{Scope: scope}, ID: id}
	}
	if err != nil {
		return backfillDoc{}, err
	}
	return readBackfill(rec)
}

// StopReplicationBackfill stops a backfill: STOPPING while copies in
// flight end, then STOPPED.
func (r *Registry) StopReplicationBackfill(ctx context.Context, scope metadata.Scope, id string) (Backfill, error) {
	if err := r.authorize(ctx, ActionStopReplicationBackfill, scope, nil, "*"); err != nil {
		return Backfill{}, err
	}
	now := r.now()
	var b backfillDoc
	err := r.meta.Update(ctx, func(tx metadata.Tx) error {
		var err error
		if b, err = r.backfill(ctx, tx, scope, id); err != nil {
			return err
		}
		switch b.Status {
		case BackfillStopping:
			return nil
		case BackfillComplete, BackfillFailed, BackfillStopped:
			return &ConflictError{Conflict: ConflictBackfillStatus, Key: metadata.RepoKey{Scope: scope}, Digest: id}
		}
		b.Status = BackfillStopping
		if !b.Queued {
			// Nothing in flight was queued by a backfill still preparing.
			if _, err := tx.CancelBackfillTasks(ctx, id, now); err != nil {
				return err
			}
		}
		if err := r.putBackfill(ctx, tx, scope, b); err != nil {
			return err
		}
		return r.record(ctx, tx, scope, now, ActionStopReplicationBackfill, map[string]any{"replicationBackfillId": id})
	})
	if err != nil {
		return Backfill{}, err
	}
	r.replication.Wake()
	return b.Backfill, nil
}

// progress counts a backfill's replications (nil while it prepares).
func (r *Registry) progress(ctx context.Context, b *Backfill) error {
	if b.Status == BackfillPreparing {
		return nil
	}
	counts, err := r.meta.BackfillTaskCounts(ctx, b.ID)
	if err != nil {
		return err
	}
	p := &BackfillProgress{Completed: counts[metadata.ReplicationComplete], Failed: counts[metadata.ReplicationFailed]}
	for _, n := range counts {
		p.Total += n
	}
	if p.Failed > 0 {
		failed, err := r.meta.BackfillTasks(ctx, b.ID, metadata.ReplicationFailed, metadata.ReplicationCursor{}, 100)
		if err != nil {
			return err
		}
		for _, t := range failed {
			code, _, _ := strings.Cut(t.FailureCode, ":")
			if !slices.Contains(p.FailureCodes, code) {
				p.FailureCodes = append(p.FailureCodes, code)
			}
		}
	}
	b.Progress = p
	return nil
}

// ListReplicationBackfills lists a registry's backfills (those that ended
// within BackfillRetention, and those running), max a page.
func (r *Registry) ListReplicationBackfills(ctx context.Context, scope metadata.Scope, token string, max int) ([]Backfill, string, error) {
	if err := r.authorize(ctx, ActionListReplicationBackfills, scope, nil, "*"); err != nil {
		return nil, "", err
	}
	after, err := decodeToken(token)
	if err != nil {
		return nil, "", err
	}
	recs, err := r.meta.ReplicationBackfills(ctx, scope, after, max+1)
	if err != nil {
		return nil, "", err
	}
	next := ""
	if len(recs) > max {
		recs = recs[:max]
		next = encodeToken(recs[max-1].ID)
	}
	out := make([]Backfill, 0, len(recs))
	for _, rec := range recs {
		d, err := readBackfill(rec)
		if err != nil {
			return nil, "", err
		}
		if err := r.progress(ctx, &d.Backfill); err != nil {
			return nil, "", err
		}
		out = append(out, d.Backfill)
	}
	return out, next, nil
}

// DescribeReplicationBackfillResults returns a backfill with its progress
// and, once it has ended, a page of its per-image results (status
// COMPLETE or FAILED, or "" for both).
func (r *Registry) DescribeReplicationBackfillResults(ctx context.Context, scope metadata.Scope, id, status, token string, max int) (Backfill, []BackfillResult, string, error) {
	if err := r.authorize(ctx, ActionDescribeBackfillResults, scope, nil, "*"); err != nil {
		return Backfill{}, nil, "", err
	}
	d, err := r.backfill(ctx, r.meta, scope, id)
	if err != nil {
		return Backfill{}, nil, "", err
	}
	if err := r.progress(ctx, &d.Backfill); err != nil || !terminalBackfill(d.Status) {
		return d.Backfill, nil, "", err
	}
	last, err := decodeToken(token)
	if err != nil {
		return d.Backfill, nil, "", err
	}
	var after metadata.ReplicationCursor
	if last != "" {
		repo, dg, ok := strings.Cut(last, "/")
		n, perr := strconv.ParseInt(repo, 10, 64)
		if !ok || perr != nil {
			return d.Backfill, nil, "", errBadToken
		}
		after = metadata.ReplicationCursor{RepoID: n, Digest: digest.Digest(dg)}
	}
	tasks, err := r.meta.BackfillTasks(ctx, id, status, after, max+1)
	if err != nil {
		return d.Backfill, nil, "", err
	}
	next := ""
	if len(tasks) > max {
		tasks = tasks[:max]
		t := tasks[max-1]
		next = encodeToken(fmt.Sprintf("%d/%s", t.RepoID, t.Digest))
	}
	results := make([]BackfillResult, 0, len(tasks))
	for _, t := range tasks {
		res := BackfillResult{RepositoryName: t.Repo.Name, Image: ImageID{Digest: string(t.Digest)}, Status: t.Status}
		if t.Status == metadata.ReplicationFailed {
			res.FailureCode = t.FailureCode
		}
		results = append(results, res)
	}
	return d.Backfill, results, next, nil
}

// backfillPage is how many images one transaction of a backfill queues.
const backfillPage = 500

// AdvanceBackfills moves every active backfill on under l: a preparing
// one queues its images, page by page, from where it got; one in
// progress ends when no task of it is left to run; a stopping one drops
// its tasks not yet claimed and ends when those in flight have. Finished
// backfills older than BackfillRetention are pruned.
func (v replicationView) AdvanceBackfills(ctx context.Context, l *lease.Lease) (bool, error) {
	r := v.r
	recs, err := r.meta.ActiveReplicationBackfills(ctx)
	if err != nil {
		return false, err
	}
	for _, rec := range recs {
		if err := r.advanceBackfill(ctx, l, rec); err != nil {
			return true, err
		}
	}
	now := r.now()
	err = l.Update(ctx, func(tx metadata.Tx) error {
		_, err := tx.PruneReplicationBackfills(ctx, now.Add(-BackfillRetention), 100)
		return err
	})
	return len(recs) > 0, err
}

func (r *Registry) advanceBackfill(ctx context.Context, l *lease.Lease, rec metadata.ReplicationBackfill) error {
	d, err := readBackfill(rec)
	if err != nil {
		return err
	}
	switch {
	case d.Status == BackfillPreparing:
		return r.queueBackfill(ctx, l, rec.Scope, d)
	case d.Status == BackfillStopping || d.Status == BackfillInProgress:
		now := r.now()
		return l.Update(ctx, func(tx metadata.Tx) error {
			if d.Status == BackfillStopping {
				if _, err := tx.CancelBackfillTasks(ctx, d.ID, now); err != nil {
					return err
				}
			}
			counts, err := tx.BackfillTaskCounts(ctx, d.ID)
			if err != nil || counts[metadata.ReplicationInProgress] > 0 {
				return err
			}
			if d.Status == BackfillStopping {
				d.Status = BackfillStopped
			} else {
				d.Status = BackfillComplete
			}
			d.EndedAt = now
			return r.putBackfill(ctx, tx, rec.Scope, d)
		})
	}
	return nil
}

// queueBackfill queues the next page of a preparing backfill's images,
// and once all are queued, starts it.
func (r *Registry) queueBackfill(ctx context.Context, l *lease.Lease, scope metadata.Scope, d backfillDoc) error {
	cfg, err := replicationConfig(ctx, r.meta, scope)
	if err != nil {
		return err
	}
	dest := d.Destination.scope()
	for {
		if err := l.Keep(ctx); err != nil {
			return err
		}
		repos, err := r.meta.Repositories(ctx, scope, d.AfterRepo, 2)
		if err != nil {
			return err
		}
		// The repository in progress is AfterRepo itself while AfterDigest
		// is set.
		var repo *metadata.Repository
		if d.AfterDigest != "" {
			cur, err := r.meta.Repository(ctx, metadata.RepoKey{Scope: scope, Name: d.AfterRepo})
			if err == nil {
				repo = &cur
			} else if !errors.Is(err, metadata.ErrNotFound) {
				return err
			}
		}
		if repo == nil && len(repos) > 0 {
			repo = &repos[0]
			d.AfterDigest = ""
		}
		now := r.now()
		if repo == nil {
			d.Status, d.Queued = BackfillInProgress, true
			return l.Update(ctx, func(tx metadata.Tx) error { return r.putBackfill(ctx, tx, scope, d) })
		}
		selected := slices.ContainsFunc(cfg.Targets(repo.Key.Name), func(t ReplicationTarget) bool { return t.Dest == dest })
		var page []metadata.ImageSummary
		if selected {
			if page, err = r.meta.Images(ctx, repo.ID, metadata.ImageFilter{}, digest.Digest(d.AfterDigest), backfillPage); err != nil {
				return err
			}
		}
		tasks := make([]metadata.ReplicationTask, 0, len(page))
		for _, img := range page {
			tasks = append(tasks, metadata.ReplicationTask{RepoID: repo.ID, Digest: img.Digest, Dest: dest, NotBefore: now, BackfillID: d.ID})
		}
		next := d
		next.AfterRepo = repo.Key.Name
		if len(page) == backfillPage {
			next.AfterDigest = string(page[len(page)-1].Digest)
		} else {
			next.AfterDigest = ""
		}
		err = l.Update(ctx, func(tx metadata.Tx) error {
			cur, err := r.backfill(ctx, tx, scope, d.ID)
			if err != nil {
				return err
			}
			if cur.Status != BackfillPreparing {
				return errBackfillMoved
			}
			if len(tasks) > 0 {
				if err := tx.QueueReplications(ctx, tasks, now); err != nil {
					return err
				}
			}
			return r.putBackfill(ctx, tx, scope, next)
		})
		if errors.Is(err, errBackfillMoved) {
			return nil // stopped meanwhile: the next round ends it
		}
		if err != nil {
			return err
		}
		d = next
	}
}

var errBackfillMoved = errors.New("the backfill changed state")
