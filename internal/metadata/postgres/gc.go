package postgres

import (
	"context"
	"fmt"
	"time"

	"github.com/jackc/pgx/v5/pgtype"
	"github.com/opencontainers/go-digest"

	"github.com/ecrd/ecrd/internal/metadata"
)

// The collection scans walk primary keys from a cursor, a page at a time,
// and probe an index for each row: a scan never sorts, never reads a table
// whole, and costs the same on the last page as on the first (see
// TestQueryPlans). The batch writes take their lists as arrays: one
// statement per batch.
const (
	unreferencedLinksSQL = `SELECT b.repo_id, b.digest, b.size, b.linked_at,
		b.linked_at < $3 AND NOT EXISTS (SELECT 1 FROM image_refs r WHERE r.repo_id = b.repo_id AND r.ref = b.digest)
		FROM repository_blobs b WHERE (b.repo_id, b.digest) > ($1, $2) ORDER BY b.repo_id, b.digest LIMIT $4`
	collectableBlobsSQL = `SELECT b.digest, b.size, b.touched_at,
		NOT b.deleting AND b.touched_at < $2 AND NOT EXISTS (SELECT 1 FROM repository_blobs l WHERE l.digest = b.digest)
		FROM blobs b WHERE b.digest > $1 ORDER BY b.digest LIMIT $3`
	deletingBlobsSQL = `SELECT digest, size, touched_at FROM blobs WHERE deleting AND digest > $1 ORDER BY digest LIMIT $2`
	blobRecordsSQL   = `SELECT digest, size, touched_at, deleting FROM blobs WHERE digest = ANY($1) ORDER BY digest`
	removeLinksSQL   = `DELETE FROM repository_blobs b USING unnest($1::bigint[], $2::text[]) AS u (repo_id, digest)
		WHERE b.repo_id = u.repo_id AND b.digest = u.digest COLLATE "C" AND b.linked_at < $3
		AND NOT EXISTS (SELECT 1 FROM image_refs r WHERE r.repo_id = b.repo_id AND r.ref = b.digest)`
	markBlobsSQL = `UPDATE blobs b SET deleting = true WHERE b.digest = ANY($1) AND NOT b.deleting AND b.touched_at < $2
		AND NOT EXISTS (SELECT 1 FROM repository_blobs l WHERE l.digest = b.digest) RETURNING b.digest`
	markOrphansSQL = `INSERT INTO blobs (digest, size, touched_at, deleting)
		SELECT u.digest, u.size, $3, true FROM unnest($1::text[], $2::bigint[]) WITH ORDINALITY AS u (digest, size, n)
		WHERE NOT EXISTS (SELECT 1 FROM repository_blobs l WHERE l.digest = u.digest COLLATE "C") ORDER BY u.n
		ON CONFLICT (digest) DO NOTHING RETURNING digest`
	unmarkBlobsSQL = `UPDATE blobs SET deleting = false WHERE digest = ANY($1)`
	forgetBlobsSQL = `DELETE FROM blobs WHERE deleting AND digest = ANY($1)`
)

func strs(ds []digest.Digest) []string {
	out := make([]string, len(ds))
	for i, d := range ds {
		out[i] = string(d)
	}
	return out
}

func (r *reader) Link(ctx context.Context, repoID int64, d digest.Digest) (metadata.Link, error) {
	l := metadata.Link{RepoID: repoID, Blob: metadata.Blob{Digest: d}}
	var linked pgtype.Timestamptz
	err := r.q.QueryRow(ctx, `SELECT size, linked_at FROM repository_blobs WHERE repo_id = $1 AND digest = $2`, repoID, string(d)).Scan(&l.Size, &linked)
	if err != nil {
		return metadata.Link{}, notFound(err, "blob %s", d)
	}
	l.LinkedAt = tm(linked)
	return l, nil
}

func (r *reader) UnreferencedLinks(ctx context.Context, before time.Time, after metadata.Link, limit int) ([]metadata.Link, metadata.Link, error) {
	rows, err := r.q.Query(ctx, unreferencedLinksSQL, after.RepoID, string(after.Digest), before, limit)
	if err != nil {
		return nil, metadata.Link{}, err
	}
	defer rows.Close()
	var (
		out     []metadata.Link
		last    metadata.Link
		scanned int
	)
	for rows.Next() {
		var (
			l      metadata.Link
			d      string
			linked pgtype.Timestamptz
			stale  bool
		)
		if err := rows.Scan(&l.RepoID, &d, &l.Size, &linked, &stale); err != nil {
			return nil, metadata.Link{}, err
		}
		l.Digest, l.LinkedAt = digest.Digest(d), tm(linked)
		if stale {
			out = append(out, l)
		}
		last = l
		scanned++
	}
	if err := rows.Err(); err != nil {
		return nil, metadata.Link{}, err
	}
	if scanned < limit {
		last = metadata.Link{}
	}
	return out, last, nil
}

func (r *reader) CollectableBlobs(ctx context.Context, before time.Time, after digest.Digest, limit int) ([]metadata.BlobRecord, digest.Digest, error) {
	rows, err := r.q.Query(ctx, collectableBlobsSQL, string(after), before, limit)
	if err != nil {
		return nil, "", err
	}
	defer rows.Close()
	var (
		out     []metadata.BlobRecord
		last    digest.Digest
		scanned int
	)
	for rows.Next() {
		var (
			b       metadata.BlobRecord
			d       string
			touched pgtype.Timestamptz
			garbage bool
		)
		if err := rows.Scan(&d, &b.Size, &touched, &garbage); err != nil {
			return nil, "", err
		}
		b.Digest, b.TouchedAt = digest.Digest(d), tm(touched)
		if garbage {
			out = append(out, b)
		}
		last = b.Digest
		scanned++
	}
	if err := rows.Err(); err != nil {
		return nil, "", err
	}
	if scanned < limit {
		last = ""
	}
	return out, last, nil
}

func (r *reader) DeletingBlobs(ctx context.Context, after digest.Digest, limit int) ([]metadata.BlobRecord, error) {
	rows, err := r.q.Query(ctx, deletingBlobsSQL, string(after), limit)
	return scanAll(rows, err, func(sc scanner) (metadata.BlobRecord, error) {
		b := metadata.BlobRecord{Deleting: true}
		var (
			d       string
			touched pgtype.Timestamptz
		)
		err := sc.Scan(&d, &b.Size, &touched)
		b.Digest, b.TouchedAt = digest.Digest(d), tm(touched)
		return b, err
	})
}

func (r *reader) BlobRecords(ctx context.Context, ds []digest.Digest) ([]metadata.BlobRecord, error) {
	if len(ds) == 0 {
		return nil, nil
	}
	rows, err := r.q.Query(ctx, blobRecordsSQL, strs(ds))
	return scanAll(rows, err, func(sc scanner) (metadata.BlobRecord, error) {
		var (
			b       metadata.BlobRecord
			d       string
			touched pgtype.Timestamptz
		)
		err := sc.Scan(&d, &b.Size, &touched, &b.Deleting)
		b.Digest, b.TouchedAt = digest.Digest(d), tm(touched)
		return b, err
	})
}

func (w *writeTx) RecordBlob(ctx context.Context, b metadata.Blob, now time.Time) error {
	n, err := affected(w.q.Exec(ctx, `INSERT INTO blobs (digest, size, touched_at) VALUES ($1, $2, $3)
		ON CONFLICT (digest) DO UPDATE SET touched_at = greatest(blobs.touched_at, excluded.touched_at) WHERE NOT blobs.deleting`,
		string(b.Digest), b.Size, now))
	if err != nil || n == 1 {
		return err
	}
	return fmt.Errorf("blob %s: %w", b.Digest, metadata.ErrBlobDeleting)
}

func (w *writeTx) TouchLink(ctx context.Context, repoID int64, d digest.Digest, now time.Time) error {
	return expectOne(w.q.Exec(ctx, `UPDATE repository_blobs SET linked_at = greatest(linked_at, $1) WHERE repo_id = $2 AND digest = $3`,
		now, repoID, string(d)))("blob %s", d)
}

func (w *writeTx) RemoveStaleLinks(ctx context.Context, links []metadata.Link, before time.Time) (int, error) {
	if len(links) == 0 {
		return 0, nil
	}
	repos, ds := make([]int64, len(links)), make([]string, len(links))
	for i, l := range links {
		repos[i], ds[i] = l.RepoID, string(l.Digest)
	}
	return affected(w.q.Exec(ctx, removeLinksSQL, repos, ds, before))
}

// inOrder returns those of the items whose key is in the set got, in the
// items' order, each key once: what the per-item loop of the SQLite
// backend returns.
func inOrder[T any](items []T, key func(T) string, got []string) []T {
	set := make(map[string]bool, len(got))
	for _, g := range got {
		set[g] = true
	}
	var out []T
	for _, it := range items {
		if k := key(it); set[k] {
			out = append(out, it)
			delete(set, k)
		}
	}
	return out
}

func (w *writeTx) MarkBlobsDeleting(ctx context.Context, ds []digest.Digest, before time.Time) ([]digest.Digest, error) {
	if len(ds) == 0 {
		return nil, nil
	}
	rows, err := w.q.Query(ctx, markBlobsSQL, strs(ds), before)
	got, err := scanAll(rows, err, scanString)
	if err != nil {
		return nil, err
	}
	return inOrder(ds, func(d digest.Digest) string { return string(d) }, got), nil
}

func (w *writeTx) MarkOrphansDeleting(ctx context.Context, blobs []metadata.Blob, now time.Time) ([]metadata.Blob, error) {
	if len(blobs) == 0 {
		return nil, nil
	}
	ds, sizes := make([]string, len(blobs)), make([]int64, len(blobs))
	for i, b := range blobs {
		ds[i], sizes[i] = string(b.Digest), b.Size
	}
	rows, err := w.q.Query(ctx, markOrphansSQL, ds, sizes, now)
	got, err := scanAll(rows, err, scanString)
	if err != nil {
		return nil, err
	}
	return inOrder(blobs, func(b metadata.Blob) string { return string(b.Digest) }, got), nil
}

func (w *writeTx) UnmarkBlobs(ctx context.Context, ds []digest.Digest) error {
	if len(ds) == 0 {
		return nil
	}
	_, err := w.q.Exec(ctx, unmarkBlobsSQL, strs(ds))
	return err
}

func (w *writeTx) ForgetBlobs(ctx context.Context, ds []digest.Digest) error {
	if len(ds) == 0 {
		return nil
	}
	_, err := w.q.Exec(ctx, forgetBlobsSQL, strs(ds))
	return err
}
