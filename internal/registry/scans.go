package registry

import (
	"context"
	"encoding/json"
	"errors"
	"fmt"
	"strconv"
	"strings"
	"time"

	"github.com/opencontainers/go-digest"

	"github.com/ecrd/ecrd/internal/metadata"
	"github.com/ecrd/ecrd/internal/scanner"
)

// Image scanning: a scan is a job in the metadata store
// (internal/registry/scanjob runs them), queued by a push to a repository that scans on push or
// continuously, or by StartImageScan; its outcome is the image's findings
// and its package list, which continuous scanning matches again when the
// vulnerability data changes.

// The actions of image scanning.
const (
	ActionStartImageScan            Action = "ecr:StartImageScan"
	ActionDescribeImageScanFindings Action = "ecr:DescribeImageScanFindings"
)

// ImageScanner finds the packages of images and the advisories affecting
// them: internal/scanner's OSV, or another engine.
type ImageScanner interface {
	scanner.Scanner
}

// scanQuota is how often an image may be scanned on request: once a day,
// counting its scan on push, as ECR's basic scanning allows.
const scanQuota = 24 * time.Hour

// scanInProgressDescription describes a scan not finished yet, as ECR
// words it (the outcomes' are internal/registry/scanjob's).
const scanInProgressDescription = "The scan is in progress."

// ScanStatus is an image scan's status and its description.
type ScanStatus struct {
	Status      string
	Description string
}

// ScanSummary is an image's latest scan without its findings.
type ScanSummary struct {
	ScanStatus
	CompletedAt     time.Time
	SourceUpdatedAt time.Time
	// Counts are the findings per severity, for severities that occur.
	Counts map[string]int
}

// ScanFindings is a page of an image's scan findings.
type ScanFindings struct {
	Image metadata.Image // without content
	ScanSummary
	Findings  []scanner.Finding
	NextToken string
}

// ImageDetail is an image as DescribeImages gives it: its record, tags and
// latest scan (nil if it was never scanned).
type ImageDetail struct {
	metadata.ImageSummary
	Scan *ScanSummary
}

// apiStatus is how a stored scan's state reads through the API: a job
// waiting for a worker is in progress too.
func apiStatus(s metadata.ImageScan) ScanStatus {
	switch s.Status {
	case metadata.ScanPending, metadata.ScanInProgress:
		return ScanStatus{Status: metadata.ScanInProgress, Description: scanInProgressDescription}
	}
	return ScanStatus{Status: s.Status, Description: s.Description}
}

func summaryOf(s metadata.ImageScan) *ScanSummary {
	sum := &ScanSummary{ScanStatus: apiStatus(s), Counts: map[string]int{}}
	if s.Status == metadata.ScanComplete {
		sum.CompletedAt, sum.SourceUpdatedAt = s.CompletedAt, s.SourceUpdatedAt
		for k, v := range s.Counts {
			sum.Counts[k] = v
		}
	}
	return sum
}

func scanNotFound(key metadata.RepoKey, id ImageID) error {
	return &NotFoundError{Kind: KindScan, Key: key, Image: id}
}

// imageFor resolves an image ID of a request on one image.
func imageFor(ctx context.Context, rd metadata.Reader, repo metadata.Repository, id ImageID) (metadata.Image, error) {
	img, fail := resolve(ctx, rd, repo.ID, id)
	if fail == nil {
		return img, nil
	}
	return img, fail.imageError(repo.Key)
}

// StartImageScan queues a scan of an image and returns its status. An image
// is scanned on request at most once a day (its scan on push counts), unless
// its last scan failed.
func (r *Registry) StartImageScan(ctx context.Context, key metadata.RepoKey, id ImageID) (metadata.Image, ScanStatus, error) {
	repo, err := r.repositoryFor(ctx, ActionStartImageScan, key)
	if err != nil {
		return metadata.Image{}, ScanStatus{}, err
	}
	now := r.now()
	var img metadata.Image
	err = r.meta.Update(ctx, func(tx metadata.Tx) error {
		var err error
		if img, err = imageFor(ctx, tx, repo, id); err != nil {
			return err
		}
		if err := checkActive(key, img, now); err != nil {
			return err
		}
		prev, err := tx.ImageScan(ctx, repo.ID, img.Digest)
		switch {
		case errors.Is(err, metadata.ErrNotFound):
		case err != nil:
			return err
		case prev.Status != metadata.ScanFailed && now.Sub(prev.RequestedAt) < scanQuota:
			return &LimitError{Limit: LimitScansPerImage, Max: 1}
		}
		if err := queueScan(ctx, tx, repo.ID, img.Digest, now); err != nil {
			return err
		}
		return r.record(ctx, tx, key.Scope, now, ActionStartImageScan,
			map[string]any{"repositoryName": key.Name, "imageId": wireImageID(ImageID{Digest: string(img.Digest), Tag: id.Tag})}, RepositoryARN(key))
	})
	if err != nil {
		return metadata.Image{}, ScanStatus{}, err
	}
	r.scans.Wake()
	img.Content = nil
	return img, ScanStatus{Status: metadata.ScanInProgress, Description: scanInProgressDescription}, nil
}

// queueScan (re)starts an image's scan as a new job.
func queueScan(ctx context.Context, tx metadata.Tx, repoID int64, d digest.Digest, now time.Time) error {
	return tx.PutImageScan(ctx, metadata.ImageScan{RepoID: repoID, Digest: d, Status: metadata.ScanPending, RequestedAt: now})
}

// queueScanOnPush queues the scan of an image just pushed, within the
// push's transaction, if its repository scans on push or continuously and
// the image has no scan yet (pushing it again does not scan it again).
func (r *Registry) queueScanOnPush(ctx context.Context, tx metadata.Tx, repo metadata.Repository, d digest.Digest, now time.Time) (bool, error) {
	cfg, err := registryScanning(ctx, tx, repo.Key.Scope)
	if err != nil {
		return false, err
	}
	if f := effectiveScanning(cfg, repo).ScanFrequency; f != ScanOnPush && f != ContinuousScan {
		return false, nil
	}
	if _, err := tx.ImageScan(ctx, repo.ID, d); !errors.Is(err, metadata.ErrNotFound) {
		return false, err
	}
	return true, queueScan(ctx, tx, repo.ID, d, now)
}

// DescribeImageScanFindings returns an image's latest scan: its status,
// and once complete its findings, max a page (1 to 1000, default 100).
func (r *Registry) DescribeImageScanFindings(ctx context.Context, key metadata.RepoKey, id ImageID, token string, max int) (ScanFindings, error) {
	repo, err := r.repositoryFor(ctx, ActionDescribeImageScanFindings, key)
	if err != nil {
		return ScanFindings{}, err
	}
	img, err := imageFor(ctx, r.meta, repo, id)
	if err != nil {
		return ScanFindings{}, err
	}
	img.Content = nil
	s, err := r.meta.ImageScan(ctx, repo.ID, img.Digest)
	if errors.Is(err, metadata.ErrNotFound) {
		return ScanFindings{}, scanNotFound(key, id)
	}
	if err != nil {
		return ScanFindings{}, err
	}
	out := ScanFindings{Image: img, ScanSummary: *summaryOf(s), Findings: []scanner.Finding{}}
	if s.Status != metadata.ScanComplete {
		return out, nil
	}
	if max <= 0 {
		max = 100
	}
	offset, err := findingsOffset(token, s.CompletedAt)
	if err != nil {
		return ScanFindings{}, err
	}
	var all []scanner.Finding
	if len(s.Findings) > 0 {
		if err := json.Unmarshal(s.Findings, &all); err != nil {
			return ScanFindings{}, fmt.Errorf("findings of the scan of %s: %w", img.Digest, err)
		}
	}
	if offset > len(all) {
		offset = len(all)
	}
	end := min(offset+max, len(all))
	out.Findings = append(out.Findings, all[offset:end]...)
	if end < len(all) {
		out.NextToken = encodeToken(fmt.Sprintf("%d/%d", s.CompletedAt.UnixNano(), end))
	}
	return out, nil
}

// findingsOffset reads a findings page token: the scan it was given for
// and where the next page starts. A token of an earlier scan of the image
// is refused rather than mixing two scans' findings.
func findingsOffset(token string, completed time.Time) (int, error) {
	v, err := decodeToken(token)
	if err != nil || v == "" {
		return 0, err
	}
	at, off, ok := strings.Cut(v, "/")
	n, err1 := strconv.Atoi(off)
	stamp, err2 := strconv.ParseInt(at, 10, 64)
	if !ok || err1 != nil || err2 != nil || n < 0 {
		return 0, errBadToken
	}
	if stamp != completed.UnixNano() {
		return 0, paramError("nextToken", "the image was scanned again since the token was given: start again without a nextToken")
	}
	return n, nil
}

// scanSummaries adds the latest scans of images to their details.
func (r *Registry) scanSummaries(ctx context.Context, repoID int64, imgs []metadata.ImageSummary) ([]ImageDetail, error) {
	ds := make([]digest.Digest, len(imgs))
	for i, img := range imgs {
		ds[i] = img.Digest
	}
	scans, err := r.meta.ImageScanSummaries(ctx, repoID, ds)
	if err != nil {
		return nil, err
	}
	out := make([]ImageDetail, len(imgs))
	for i, img := range imgs {
		out[i].ImageSummary = img
		if s, ok := scans[img.Digest]; ok {
			out[i].Scan = summaryOf(s)
		}
	}
	return out, nil
}

// ImagePackages returns the packages an image's latest complete scan
// found (the inventory its findings were matched against), authorized
// as DescribeImageScanFindings: what a scan saw is part of its findings.
func (r *Registry) ImagePackages(ctx context.Context, key metadata.RepoKey, id ImageID) ([]scanner.Package, error) {
	repo, err := r.repositoryFor(ctx, ActionDescribeImageScanFindings, key)
	if err != nil {
		return nil, err
	}
	img, err := imageFor(ctx, r.meta, repo, id)
	if err != nil {
		return nil, err
	}
	s, err := r.meta.ImageScan(ctx, repo.ID, img.Digest)
	if errors.Is(err, metadata.ErrNotFound) {
		return nil, scanNotFound(key, id)
	}
	if err != nil {
		return nil, err
	}
	if s.Status != metadata.ScanComplete || len(s.Packages) == 0 {
		return []scanner.Package{}, nil
	}
	return scanner.Packages(s.Packages)
}
