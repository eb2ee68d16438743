package scanjob

import (
	"context"
	"encoding/json"
	"errors"
	"fmt"
	"maps"
	"time"

	"github.com/ecrd/ecrd/internal/lease"
	"github.com/ecrd/ecrd/internal/metadata"
	"github.com/ecrd/ecrd/internal/outbox"
	"github.com/ecrd/ecrd/internal/scanner"
)

// runScan runs one claimed job to its outcome, a retry, or (when ctx ends)
// back to the queue.
func (w *Worker) runScan(ctx context.Context, job metadata.ImageScan) {
	jctx, cancel := context.WithCancel(ctx)
	defer cancel()
	renewed := make(chan struct{})
	go func() {
		defer close(renewed)
		w.keepScanLease(jctx, cancel, job)
	}()
	out, err := w.scanImage(jctx, job)
	cancel()
	<-renewed

	wctx, wcancel := context.WithTimeout(context.WithoutCancel(ctx), 30*time.Second)
	defer wcancel()
	now := w.now()
	job.Holder, job.LeaseUntil = "", time.Time{}
	switch {
	case err != nil && ctx.Err() != nil:
		// Shutting down: give the job back as it was.
		job.Status = metadata.ScanPending
	case err != nil:
		job.Attempts++
		if errors.Is(err, errNoScanner) {
			job.Attempts = maxScanAttempts // no retry can help
		}
		if job.Attempts < maxScanAttempts {
			job.Status = metadata.ScanPending
			job.NotBefore = now.Add(scanRetryDelay << (2 * (job.Attempts - 1)))
			w.log.Warn("image scan failed; it will be retried", "repository", job.Repo.Name, "digest", job.Digest, "attempt", job.Attempts, "err", err)
		} else {
			job.Status, job.Description = metadata.ScanFailed, "The scan failed: "+err.Error()
			log := w.log.Error
			if errors.Is(err, errNoScanner) {
				log = w.log.Warn // the operator's choice, said at start-up
			}
			log("image scan failed", "repository", job.Repo.Name, "digest", job.Digest, "attempts", job.Attempts, "err", err)
		}
	default:
		out.RepoID, out.Digest, out.Repo, out.RequestedAt = job.RepoID, job.Digest, job.Repo, job.RequestedAt
		out.Attempts = job.Attempts + 1
		out.CompletedAt = now
		job = out
	}
	err = w.cfg.Store.Update(wctx, func(tx metadata.Tx) error {
		cur, err := tx.ImageScan(wctx, job.RepoID, job.Digest)
		if err != nil || cur.Holder != w.holder || cur.Status != metadata.ScanInProgress {
			return err // deleted, or requeued and taken by another process
		}
		if err := tx.PutImageScan(wctx, job); err != nil {
			return err
		}
		if job.Status == metadata.ScanComplete || job.Status == metadata.ScanUnsupported || job.Status == metadata.ScanFailed {
			return w.recordScanEvent(wctx, tx, job, now)
		}
		return nil
	})
	if errors.Is(err, metadata.ErrNotFound) {
		return // the image was deleted while it was scanned
	}
	if err != nil {
		w.log.Error("recording an image scan", "repository", job.Repo.Name, "digest", job.Digest, "err", err)
		return
	}
	if job.Status == metadata.ScanComplete {
		w.log.Info("image scanned", "repository", job.Repo.Name, "digest", job.Digest, "findings", job.Counts)
	}
}

// keepScanLease renews a job's lease while it runs, and cancels the job if
// another process took it.
func (w *Worker) keepScanLease(ctx context.Context, cancel func(), job metadata.ImageScan) {
	t := time.NewTicker(lease.TTL / 4)
	defer t.Stop()
	for {
		select {
		case <-ctx.Done():
			return
		case <-t.C:
		}
		var held bool
		err := w.cfg.Store.Update(ctx, func(tx metadata.Tx) error {
			var err error
			held, err = tx.RenewImageScan(ctx, job.RepoID, job.Digest, w.holder, w.now().Add(lease.TTL))
			return err
		})
		if err == nil && !held {
			w.log.Warn("an image scan's lease was taken by another process; stopping it", "digest", job.Digest)
			cancel()
			return
		}
	}
}

// scanImage extracts and matches an image's packages (each platform's, for
// an index). It returns the outcome to record.
func (w *Worker) scanImage(ctx context.Context, job metadata.ImageScan) (metadata.ImageScan, error) {
	if !w.hasVulnerabilityData() {
		return metadata.ImageScan{}, errNoScanner
	}
	repo, err := w.cfg.Store.Repository(ctx, job.Repo)
	if err != nil {
		return metadata.ImageScan{}, err
	}
	img, err := w.cfg.Store.Image(ctx, repo.ID, job.Digest)
	if err != nil {
		return metadata.ImageScan{}, err
	}
	targets, err := w.scanTargets(ctx, repo, img)
	if err != nil {
		return metadata.ImageScan{}, err
	}
	var lists [][]byte
	for _, t := range targets {
		// An index's child scanned on its own push has its package list
		// stored already.
		if t.digest != img.Digest {
			if prev, err := w.cfg.Store.ImageScan(ctx, repo.ID, t.digest); err == nil && prev.Status == metadata.ScanComplete && len(prev.Packages) > 0 {
				lists = append(lists, prev.Packages)
				continue
			}
		}
		ex, err := w.cfg.Scanner.Extract(ctx, t.image)
		if err != nil {
			return metadata.ImageScan{}, err
		}
		if ex.Status == scanner.StatusComplete {
			lists = append(lists, ex.Packages)
		}
	}
	if len(lists) == 0 {
		return metadata.ImageScan{Status: metadata.ScanUnsupported, Description: unsupportedDescription}, nil
	}
	packages, err := scanner.Join(lists...)
	if err != nil {
		return metadata.ImageScan{}, err
	}
	found, src, err := w.cfg.Scanner.Match(ctx, [][]byte{packages})
	if err != nil {
		return metadata.ImageScan{}, err
	}
	out := metadata.ImageScan{Status: metadata.ScanComplete, Description: completeDescription, Packages: packages}
	if err := setFindings(&out, found[0], src); err != nil {
		return metadata.ImageScan{}, err
	}
	return out, nil
}

// hasVulnerabilityData reports whether the scanner has data to match
// against, looking at its folder again if it had none: data installed
// since is used at once.
func (w *Worker) hasVulnerabilityData() bool {
	if w.cfg.Scanner == nil {
		return false
	}
	if w.cfg.Scanner.Source().Version != "" {
		return true
	}
	if rl, ok := w.cfg.Scanner.(reloader); ok {
		if _, err := rl.Reload(); err != nil {
			w.log.Error("reloading the vulnerability data", "err", err)
		}
	}
	return w.cfg.Scanner.Source().Version != ""
}

// setFindings records findings matched against the data src.
func setFindings(s *metadata.ImageScan, found []scanner.Finding, src scanner.Source) error {
	if found == nil {
		found = []scanner.Finding{}
	}
	b, err := json.Marshal(found)
	if err != nil {
		return err
	}
	s.Findings = b
	s.SourceVersion, s.SourceUpdatedAt = src.Version, src.UpdatedAt
	s.Counts = map[string]int{}
	for _, f := range found {
		s.Counts[f.Severity]++
	}
	return nil
}

// recordScanEvent records the "ECR Image Scan" event of a scan's outcome,
// in EventBridge's envelope and ECR's detail.
func (w *Worker) recordScanEvent(ctx context.Context, tx metadata.Tx, s metadata.ImageScan, now time.Time) error {
	tags, err := tx.ImageTags(ctx, s.RepoID, s.Digest)
	if err != nil {
		return err
	}
	if tags == nil {
		tags = []string{}
	}
	detail := map[string]any{
		"scan-status":     s.Status,
		"repository-name": s.Repo.Name,
		"image-digest":    s.Digest,
		"image-tags":      tags,
	}
	if s.Status == metadata.ScanComplete {
		counts := map[string]int{}
		maps.Copy(counts, s.Counts)
		detail["finding-severity-counts"] = counts
	}
	e, err := outbox.New(s.Repo.Scope, now, outbox.SourceECR, outbox.TypeImageScan, []string{w.cfg.RepositoryARN(s.Repo)}, detail)
	if err != nil {
		return err
	}
	return tx.AppendEvent(ctx, e)
}

// reloader is a scanner whose vulnerability data can change while it runs.
type reloader interface {
	Reload() (changed bool, err error)
}

// watchVulnerabilityData rematches continuously scanned images whenever the
// scanner's vulnerability data changes, checking every
// Options.ScanDataInterval, until ctx ends.
func (w *Worker) watchVulnerabilityData(ctx context.Context) {
	t := time.NewTicker(w.cfg.DataInterval)
	defer t.Stop()
	done := ""
	for {
		if rl, ok := w.cfg.Scanner.(reloader); ok {
			if _, err := rl.Reload(); err != nil {
				w.log.Error("reloading the vulnerability data", "err", err)
			}
		}
		// No data (version "") is nothing to rematch against.
		if v := w.cfg.Scanner.Source().Version; v != done && v != "" {
			report, err := w.Rematch(ctx)
			switch {
			case err == nil:
				done = v
				if report.Rematched > 0 {
					w.log.Info("continuous scanning matched stored images against new vulnerability data",
						"version", v, "images", report.Rematched, "changed", report.Changed)
				}
			case errors.Is(err, lease.ErrBusy):
				// Another process is on it; check again next time.
			case ctx.Err() == nil:
				w.log.Error("rematching continuously scanned images", "err", err)
			}
		}
		select {
		case <-ctx.Done():
			return
		case <-t.C:
		}
	}
}

// RematchReport says what a rematch did.
type RematchReport struct {
	Rematched int // continuously scanned images matched again
	Changed   int // of which the findings changed
}

// Rematch matches the stored package lists of the images of
// continuously scanned repositories that were matched against older
// vulnerability data than the scanner has now, without reading their
// layers. It holds a lease, so one process does it for each version; it
// returns lease.ErrBusy while another process has it.
func (w *Worker) Rematch(ctx context.Context) (RematchReport, error) {
	var report RematchReport
	if w.cfg.Scanner == nil || w.cfg.Scanner.Source().Version == "" {
		return report, nil
	}
	l, err := w.cfg.Leases.Acquire(ctx, rematchJob)
	if err != nil {
		return report, err
	}
	defer l.Release()
	version := w.cfg.Scanner.Source().Version
	configs := map[metadata.Scope]func(metadata.Repository) bool{}
	continuous := map[metadata.RepoKey]bool{}
	isContinuous := func(s metadata.ImageScan) (bool, error) {
		if c, ok := continuous[s.Repo]; ok {
			return c, nil
		}
		cfg, ok := configs[s.Repo.Scope]
		if !ok {
			var err error
			if cfg, err = w.cfg.Rules.Continuous(ctx, s.Repo.Scope); err != nil {
				return false, err
			}
			configs[s.Repo.Scope] = cfg
		}
		repo, err := w.cfg.Store.Repository(ctx, s.Repo)
		if err != nil {
			return false, err
		}
		c := cfg(repo)
		continuous[s.Repo] = c
		return c, nil
	}
	var after metadata.ScanCursor
	for {
		page, err := w.cfg.Store.StaleImageScans(ctx, version, after, rematchBatch)
		if err != nil || len(page) == 0 {
			return report, err
		}
		last := page[len(page)-1]
		after = metadata.ScanCursor{RepoID: last.RepoID, Digest: last.Digest}
		var batch []metadata.ImageScan
		var lists [][]byte
		for _, s := range page {
			c, err := isContinuous(s)
			if errors.Is(err, metadata.ErrNotFound) {
				continue // deleted meanwhile
			}
			if err != nil {
				return report, err
			}
			if c {
				batch = append(batch, s)
				lists = append(lists, s.Packages)
			}
		}
		if len(batch) == 0 {
			continue
		}
		found, src, err := w.cfg.Scanner.Match(ctx, lists)
		if err != nil {
			return report, err
		}
		if src.Version != version {
			return report, fmt.Errorf("the vulnerability data changed during the rematch; the next check starts again")
		}
		now := w.now()
		err = l.Update(ctx, func(tx metadata.Tx) error {
			for i, s := range batch {
				cur, err := tx.ImageScan(ctx, s.RepoID, s.Digest)
				if errors.Is(err, metadata.ErrNotFound) {
					continue
				}
				if err != nil {
					return err
				}
				if cur.Status != metadata.ScanComplete || cur.SourceVersion != s.SourceVersion || cur.CompletedAt != s.CompletedAt {
					continue // scanned again meanwhile
				}
				next := cur
				if err := setFindings(&next, found[i], src); err != nil {
					return err
				}
				next.CompletedAt = now
				report.Rematched++
				changed := string(next.Findings) != string(cur.Findings)
				if err := tx.PutImageScan(ctx, next); err != nil {
					return err
				}
				if changed {
					report.Changed++
					if err := w.recordScanEvent(ctx, tx, next, now); err != nil {
						return err
					}
				}
			}
			return nil
		})
		if err != nil {
			return report, err
		}
	}
}
