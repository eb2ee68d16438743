package sqlite

import (
	"context"
	"database/sql"
	"encoding/json"
	"fmt"
	"strings"
	"time"

	"github.com/opencontainers/go-digest"

	"github.com/ecrd/ecrd/internal/metadata"
)

// scanColumns are an image scan's columns without its documents, with its
// repository's key.
const scanColumns = `s.repo_id, s.digest, r.account, r.region, r.name, s.status, s.description, s.requested_at,
	s.attempts, s.not_before, s.holder, s.lease_until, s.completed_at, s.source_version, s.source_updated_at, s.counts`

func scanImageScan(sc scanner, extra ...any) (metadata.ImageScan, error) {
	var (
		s                           metadata.ImageScan
		dig, counts                 string
		requested, notBefore, lease int64
		completed, updated          sql.NullInt64
	)
	dest := append([]any{&s.RepoID, &dig, &s.Repo.Account, &s.Repo.Region, &s.Repo.Name, &s.Status, &s.Description, &requested,
		&s.Attempts, &notBefore, &s.Holder, &lease, &completed, &s.SourceVersion, &updated, &counts}, extra...)
	if err := sc.Scan(dest...); err != nil {
		return metadata.ImageScan{}, err
	}
	s.Digest = digest.Digest(dig)
	s.RequestedAt = fromNanos(sql.NullInt64{Int64: requested, Valid: true})
	s.NotBefore = fromNanos(sql.NullInt64{Int64: notBefore, Valid: notBefore != 0})
	s.LeaseUntil = fromNanos(sql.NullInt64{Int64: lease, Valid: lease != 0})
	s.CompletedAt, s.SourceUpdatedAt = fromNanos(completed), fromNanos(updated)
	if counts != "" {
		if err := json.Unmarshal([]byte(counts), &s.Counts); err != nil {
			return metadata.ImageScan{}, fmt.Errorf("severity counts of the scan of %s: %w", dig, err)
		}
	}
	return s, nil
}

func (r *reader) ImageScan(ctx context.Context, repoID int64, d digest.Digest) (metadata.ImageScan, error) {
	var findings, packages []byte
	row := r.q.QueryRowContext(ctx, `SELECT `+scanColumns+`, s.findings, s.packages FROM image_scans s
		JOIN repositories r ON r.id = s.repo_id WHERE s.repo_id = ? AND s.digest = ?`, repoID, string(d))
	s, err := scanImageScan(row, &findings, &packages)
	if err != nil {
		return metadata.ImageScan{}, notFound(err, "scan of image %s", d)
	}
	s.Findings, s.Packages = findings, packages
	return s, nil
}

func (r *reader) ImageScanSummaries(ctx context.Context, repoID int64, digests []digest.Digest) (map[digest.Digest]metadata.ImageScan, error) {
	out := make(map[digest.Digest]metadata.ImageScan, len(digests))
	// SQLite's default limit on parameters is 32,766; a page of images is
	// at most 1,000.
	for len(digests) > 0 {
		n := min(len(digests), 500)
		args := []any{repoID}
		for _, d := range digests[:n] {
			args = append(args, string(d))
		}
		rows, err := r.q.QueryContext(ctx, `SELECT `+scanColumns+` FROM image_scans s JOIN repositories r ON r.id = s.repo_id
			WHERE s.repo_id = ? AND s.digest IN (?`+strings.Repeat(", ?", n-1)+`)`, args...)
		scans, err := scanAll(rows, err, func(sc scanner) (metadata.ImageScan, error) { return scanImageScan(sc) })
		if err != nil {
			return nil, err
		}
		for _, s := range scans {
			out[s.Digest] = s
		}
		digests = digests[n:]
	}
	return out, nil
}

func (r *reader) StaleImageScans(ctx context.Context, version string, after metadata.ScanCursor, limit int) ([]metadata.ImageScan, error) {
	rows, err := r.q.QueryContext(ctx, `SELECT `+scanColumns+`, s.packages FROM image_scans s JOIN repositories r ON r.id = s.repo_id
		WHERE s.status = 'COMPLETE' AND s.packages IS NOT NULL AND s.source_version <> ?
		AND (s.repo_id > ? OR (s.repo_id = ? AND s.digest > ?))
		ORDER BY s.repo_id, s.digest LIMIT ?`, version, after.RepoID, after.RepoID, string(after.Digest), limit)
	return scanAll(rows, err, func(sc scanner) (metadata.ImageScan, error) {
		var packages []byte
		s, err := scanImageScan(sc, &packages)
		s.Packages = packages
		return s, err
	})
}

func (r *reader) Events(ctx context.Context, after int64, limit int) ([]metadata.Event, error) {
	rows, err := r.q.QueryContext(ctx, `SELECT id, account, region, at, source, type, resource, document FROM events WHERE id > ? ORDER BY id LIMIT ?`, after, limit)
	return scanAll(rows, err, func(sc scanner) (metadata.Event, error) {
		var (
			e  metadata.Event
			at int64
		)
		err := sc.Scan(&e.ID, &e.Scope.Account, &e.Scope.Region, &at, &e.Source, &e.Type, &e.Resource, &e.Document)
		e.Time = time.Unix(0, at).UTC()
		return e, err
	})
}

func (r *reader) LastEventID(ctx context.Context) (int64, error) {
	var id sql.NullInt64
	err := r.q.QueryRowContext(ctx, `SELECT max(id) FROM events`).Scan(&id)
	return id.Int64, err
}

// zeroNanos stores a zero time as 0, which reads back as zero.
func zeroNanos(t time.Time) int64 {
	if t.IsZero() {
		return 0
	}
	return nanos(t)
}

func nullNanos(t time.Time) sql.NullInt64 {
	if t.IsZero() {
		return sql.NullInt64{}
	}
	return sql.NullInt64{Int64: nanos(t), Valid: true}
}

func (w *writeTx) PutImageScan(ctx context.Context, s metadata.ImageScan) error {
	counts := ""
	if len(s.Counts) > 0 {
		b, err := json.Marshal(s.Counts)
		if err != nil {
			return err
		}
		counts = string(b)
	}
	_, err := w.tx.ExecContext(ctx, `INSERT INTO image_scans (repo_id, digest, status, description, requested_at, attempts,
			not_before, holder, lease_until, completed_at, source_version, source_updated_at, counts, findings, packages)
		VALUES (?, ?, ?, ?, ?, ?, ?, ?, ?, ?, ?, ?, ?, ?, ?)
		ON CONFLICT (repo_id, digest) DO UPDATE SET status = excluded.status, description = excluded.description,
			requested_at = excluded.requested_at, attempts = excluded.attempts, not_before = excluded.not_before,
			holder = excluded.holder, lease_until = excluded.lease_until, completed_at = excluded.completed_at,
			source_version = excluded.source_version, source_updated_at = excluded.source_updated_at,
			counts = excluded.counts, findings = excluded.findings, packages = excluded.packages`,
		s.RepoID, string(s.Digest), s.Status, s.Description, nanos(s.RequestedAt), s.Attempts,
		zeroNanos(s.NotBefore), s.Holder, zeroNanos(s.LeaseUntil), nullNanos(s.CompletedAt), s.SourceVersion,
		nullNanos(s.SourceUpdatedAt), counts, s.Findings, s.Packages)
	if isConstraint(err) {
		return fmt.Errorf("scan of image %s: %w", s.Digest, metadata.ErrNotFound)
	}
	return err
}

func (w *writeTx) ClaimImageScans(ctx context.Context, holder string, now, until time.Time, limit int) ([]metadata.ImageScan, error) {
	rows, err := w.tx.QueryContext(ctx, `SELECT `+scanColumns+` FROM image_scans s JOIN repositories r ON r.id = s.repo_id
		WHERE (s.status = 'PENDING' AND s.not_before <= ?) OR (s.status = 'IN_PROGRESS' AND s.lease_until <= ?)
		ORDER BY s.requested_at LIMIT ?`, nanos(now), nanos(now), limit)
	scans, err := scanAll(rows, err, func(sc scanner) (metadata.ImageScan, error) { return scanImageScan(sc) })
	if err != nil {
		return nil, err
	}
	for i := range scans {
		s := &scans[i]
		if _, err := w.tx.ExecContext(ctx, `UPDATE image_scans SET status = 'IN_PROGRESS', holder = ?, lease_until = ?
			WHERE repo_id = ? AND digest = ?`, holder, nanos(until), s.RepoID, string(s.Digest)); err != nil {
			return nil, err
		}
		s.Status, s.Holder, s.LeaseUntil = metadata.ScanInProgress, holder, until
	}
	return scans, nil
}

func (w *writeTx) ReleaseImageScans(ctx context.Context, holder string) (int, error) {
	res, err := w.tx.ExecContext(ctx, `UPDATE image_scans SET status = 'PENDING', holder = '', lease_until = 0
		WHERE status = 'IN_PROGRESS' AND holder = ?`, holder)
	if err != nil {
		return 0, err
	}
	n, err := res.RowsAffected()
	return int(n), err
}

func (w *writeTx) RenewImageScan(ctx context.Context, repoID int64, d digest.Digest, holder string, until time.Time) (bool, error) {
	res, err := w.tx.ExecContext(ctx, `UPDATE image_scans SET lease_until = ?
		WHERE repo_id = ? AND digest = ? AND holder = ? AND status = 'IN_PROGRESS'`, nanos(until), repoID, string(d), holder)
	if err != nil {
		return false, err
	}
	n, err := res.RowsAffected()
	return n == 1, err
}

func (w *writeTx) AppendEvent(ctx context.Context, e metadata.Event) error {
	_, err := w.tx.ExecContext(ctx, `INSERT INTO events (account, region, at, source, type, resource, document) VALUES (?, ?, ?, ?, ?, ?, ?)`,
		e.Scope.Account, e.Scope.Region, nanos(e.Time), e.Source, e.Type, e.Resource, e.Document)
	return err
}

func (w *writeTx) PruneEvents(ctx context.Context, before time.Time, limit int) (int, error) {
	res, err := w.tx.ExecContext(ctx, `DELETE FROM events WHERE id IN (SELECT id FROM events WHERE at < ? ORDER BY id LIMIT ?)`, nanos(before), limit)
	if err != nil {
		return 0, err
	}
	n, err := res.RowsAffected()
	return int(n), err
}
