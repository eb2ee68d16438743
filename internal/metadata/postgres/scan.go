package postgres

import (
	"cmp"
	"context"
	"encoding/json"
	"fmt"
	"slices"
	"time"

	"github.com/jackc/pgx/v5/pgtype"
	"github.com/opencontainers/go-digest"

	"github.com/ecrd/ecrd/internal/metadata"
)

// scanColumns are an image scan's columns without its documents, with its
// repository's key.
const scanColumns = `s.repo_id, s.digest, r.account, r.region, r.name, s.status, s.description, s.requested_at,
	s.attempts, s.not_before, s.holder, s.lease_until, s.completed_at, s.source_version, s.source_updated_at, s.counts`

func scanImageScan(sc scanner, extra ...any) (metadata.ImageScan, error) {
	var (
		s                                              metadata.ImageScan
		dig, counts                                    string
		requested, notBefore, lease, completed, source pgtype.Timestamptz
	)
	dest := append([]any{&s.RepoID, &dig, &s.Repo.Account, &s.Repo.Region, &s.Repo.Name, &s.Status, &s.Description, &requested,
		&s.Attempts, &notBefore, &s.Holder, &lease, &completed, &s.SourceVersion, &source, &counts}, extra...)
	if err := sc.Scan(dest...); err != nil {
		return metadata.ImageScan{}, err
	}
	s.Digest = digest.Digest(dig)
	s.RequestedAt, s.NotBefore, s.LeaseUntil = tm(requested), tm(notBefore), tm(lease)
	s.CompletedAt, s.SourceUpdatedAt = tm(completed), tm(source)
	if counts != "" {
		if err := json.Unmarshal([]byte(counts), &s.Counts); err != nil {
			return metadata.ImageScan{}, fmt.Errorf("severity counts of the scan of %s: %w", dig, err)
		}
	}
	return s, nil
}

func scanImageScanOnly(sc scanner) (metadata.ImageScan, error) { return scanImageScan(sc) }

func (r *reader) ImageScan(ctx context.Context, repoID int64, d digest.Digest) (metadata.ImageScan, error) {
	var findings, packages []byte
	row := r.q.QueryRow(ctx, `SELECT `+scanColumns+`, s.findings, s.packages FROM image_scans s
		JOIN repositories r ON r.id = s.repo_id WHERE s.repo_id = $1 AND s.digest = $2`, repoID, string(d))
	s, err := scanImageScan(row, &findings, &packages)
	if err != nil {
		return metadata.ImageScan{}, notFound(err, "scan of image %s", d)
	}
	s.Findings, s.Packages = findings, packages
	return s, nil
}

func (r *reader) ImageScanSummaries(ctx context.Context, repoID int64, digests []digest.Digest) (map[digest.Digest]metadata.ImageScan, error) {
	out := make(map[digest.Digest]metadata.ImageScan, len(digests))
	if len(digests) == 0 {
		return out, nil
	}
	rows, err := r.q.Query(ctx, `SELECT `+scanColumns+` FROM image_scans s JOIN repositories r ON r.id = s.repo_id
		WHERE s.repo_id = $1 AND s.digest = ANY($2)`, repoID, strs(digests))
	scans, err := scanAll(rows, err, scanImageScanOnly)
	if err != nil {
		return nil, err
	}
	for _, s := range scans {
		out[s.Digest] = s
	}
	return out, nil
}

func (r *reader) StaleImageScans(ctx context.Context, version string, after metadata.ScanCursor, limit int) ([]metadata.ImageScan, error) {
	rows, err := r.q.Query(ctx, `SELECT `+scanColumns+`, s.packages FROM image_scans s JOIN repositories r ON r.id = s.repo_id
		WHERE s.status = 'COMPLETE' AND s.packages IS NOT NULL AND s.source_version <> $1 AND (s.repo_id, s.digest) > ($2, $3)
		ORDER BY s.repo_id, s.digest LIMIT $4`, version, after.RepoID, string(after.Digest), limit)
	return scanAll(rows, err, func(sc scanner) (metadata.ImageScan, error) {
		var packages []byte
		s, err := scanImageScan(sc, &packages)
		s.Packages = packages
		return s, err
	})
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
	// The image is checked in the statement rather than left to the
	// foreign key, whose violation would abort the transaction.
	return expectOne(w.q.Exec(ctx, `INSERT INTO image_scans (repo_id, digest, status, description, requested_at, attempts,
			not_before, holder, lease_until, completed_at, source_version, source_updated_at, counts, findings, packages)
		SELECT $1::bigint, $2::text, $3::text, $4::text, $5::timestamptz, $6::integer, $7::timestamptz, $8::text, $9::timestamptz,
			$10::timestamptz, $11::text, $12::timestamptz, $13::text, $14::bytea, $15::bytea
		WHERE EXISTS (SELECT 1 FROM images WHERE repo_id = $1 AND digest = $2)
		ON CONFLICT (repo_id, digest) DO UPDATE SET status = excluded.status, description = excluded.description,
			requested_at = excluded.requested_at, attempts = excluded.attempts, not_before = excluded.not_before,
			holder = excluded.holder, lease_until = excluded.lease_until, completed_at = excluded.completed_at,
			source_version = excluded.source_version, source_updated_at = excluded.source_updated_at,
			counts = excluded.counts, findings = excluded.findings, packages = excluded.packages`,
		s.RepoID, string(s.Digest), s.Status, s.Description, s.RequestedAt, s.Attempts,
		s.NotBefore, s.Holder, s.LeaseUntil, nullTime(s.CompletedAt), s.SourceVersion,
		nullTime(s.SourceUpdatedAt), counts, s.Findings, s.Packages))("scan of image %s", s.Digest)
}

// ClaimImageScans takes the jobs in one statement. SKIP LOCKED passes over
// jobs another process's transaction is claiming at the same moment
// rather than waiting for it and then failing to serialize.
func (w *writeTx) ClaimImageScans(ctx context.Context, holder string, now, until time.Time, limit int) ([]metadata.ImageScan, error) {
	rows, err := w.q.Query(ctx, `WITH claimed AS (
			SELECT repo_id, digest FROM image_scans
			WHERE status IN ('PENDING', 'IN_PROGRESS') AND ((status = 'PENDING' AND not_before <= $1) OR (status = 'IN_PROGRESS' AND lease_until <= $1))
			ORDER BY requested_at, repo_id, digest LIMIT $2
			FOR UPDATE SKIP LOCKED)
		UPDATE image_scans s SET status = 'IN_PROGRESS', holder = $3, lease_until = $4
		FROM claimed c, repositories r
		WHERE s.repo_id = c.repo_id AND s.digest = c.digest AND r.id = s.repo_id
		RETURNING `+scanColumns, now, limit, holder, until)
	scans, err := scanAll(rows, err, scanImageScanOnly)
	if err != nil {
		return nil, err
	}
	// RETURNING has no order: the oldest request first.
	slices.SortFunc(scans, func(a, b metadata.ImageScan) int {
		return cmp.Or(a.RequestedAt.Compare(b.RequestedAt), cmp.Compare(a.RepoID, b.RepoID), cmp.Compare(a.Digest, b.Digest))
	})
	return scans, nil
}

func (w *writeTx) ReleaseImageScans(ctx context.Context, holder string) (int, error) {
	return affected(w.q.Exec(ctx, `UPDATE image_scans SET status = 'PENDING', holder = '', lease_until = $2
		WHERE status = 'IN_PROGRESS' AND holder = $1`, holder, time.Time{}))
}

func (w *writeTx) RenewImageScan(ctx context.Context, repoID int64, d digest.Digest, holder string, until time.Time) (bool, error) {
	n, err := affected(w.q.Exec(ctx, `UPDATE image_scans SET lease_until = $1
		WHERE repo_id = $2 AND digest = $3 AND holder = $4 AND status = 'IN_PROGRESS'`, until, repoID, string(d), holder))
	return n == 1, err
}

func (r *reader) Events(ctx context.Context, after int64, limit int) ([]metadata.Event, error) {
	rows, err := r.q.Query(ctx, `SELECT id, account, region, at, source, type, resource, document FROM events WHERE id > $1 ORDER BY id LIMIT $2`, after, limit)
	return scanAll(rows, err, func(sc scanner) (metadata.Event, error) {
		var (
			e  metadata.Event
			at pgtype.Timestamptz
		)
		err := sc.Scan(&e.ID, &e.Scope.Account, &e.Scope.Region, &at, &e.Source, &e.Type, &e.Resource, &e.Document)
		e.Time = tm(at)
		return e, err
	})
}

func (r *reader) LastEventID(ctx context.Context) (int64, error) {
	var id int64
	err := r.q.QueryRow(ctx, `SELECT coalesce(max(id), 0) FROM events`).Scan(&id)
	return id, err
}

// AppendEvent records an event so that IDs become visible in ID order.
//
// A sequence alone does not give that: two transactions may draw 7 and 8
// and commit 8 first, and a follower that read 8 and then looks only
// after 8 never sees 7. So the transaction first takes the advisory lock
// eventLock, held until it commits or rolls back, and only then draws its
// ID: a second transaction appending an event waits for the first to end,
// and draws a larger ID after the first's events are visible (PostgreSQL
// makes a commit visible before it releases the transaction's locks). A
// transaction that rolls back leaves a gap, which readers skip.
//
// The price is that transactions that append events commit one at a time
// from their first AppendEvent on; most append their events last
// (the change, then its record), which keeps that stretch short.
//
// The same statement notifies eventChannel with the ID: PostgreSQL
// delivers the notification at commit, waking every process's listener
// (see EventAfter).
func (w *writeTx) AppendEvent(ctx context.Context, e metadata.Event) error {
	if _, err := w.q.Exec(ctx, `SELECT pg_advisory_xact_lock($1)`, eventLock); err != nil {
		return err
	}
	_, err := w.q.Exec(ctx, `WITH e AS (
			INSERT INTO events (account, region, at, source, type, resource, document) VALUES ($1, $2, $3, $4, $5, $6, $7) RETURNING id)
		SELECT pg_notify('`+eventChannel+`', id::text) FROM e`,
		e.Scope.Account, e.Scope.Region, e.Time, e.Source, e.Type, e.Resource, e.Document)
	return err
}

func (w *writeTx) PruneEvents(ctx context.Context, before time.Time, limit int) (int, error) {
	return affected(w.q.Exec(ctx, `DELETE FROM events WHERE id IN (SELECT id FROM events WHERE at < $1 ORDER BY id LIMIT $2)`, before, limit))
}
