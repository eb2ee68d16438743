package sqlite

import (
	"context"
	"database/sql"
	"encoding/json"
	"fmt"
	"time"

	"github.com/opencontainers/go-digest"

	"github.com/ecrd/ecrd/internal/metadata"
)

// The collection scans walk primary keys from a cursor, a page at a time,
// and probe an index for each row: a scan never sorts, never reads a table
// whole, and costs the same on the last page as on the first (see
// TestGCQueryPlans).
const (
	unreferencedLinksSQL = `SELECT b.repo_id, b.digest, b.size, b.linked_at,
		b.linked_at < ?3 AND NOT EXISTS (SELECT 1 FROM image_refs r WHERE r.repo_id = b.repo_id AND r.ref = b.digest)
		FROM repository_blobs b WHERE (b.repo_id, b.digest) > (?1, ?2) ORDER BY b.repo_id, b.digest LIMIT ?4`
	collectableBlobsSQL = `SELECT b.digest, b.size, b.touched_at,
		b.deleting = 0 AND b.touched_at < ?2 AND NOT EXISTS (SELECT 1 FROM repository_blobs l WHERE l.digest = b.digest)
		FROM blobs b WHERE b.digest > ?1 ORDER BY b.digest LIMIT ?3`
	deletingBlobsSQL = `SELECT digest, size, touched_at FROM blobs WHERE deleting = 1 AND digest > ? ORDER BY digest LIMIT ?`
	blobRecordsSQL   = `SELECT digest, size, touched_at, deleting FROM blobs WHERE digest IN (SELECT value FROM json_each(?)) ORDER BY digest`
	removeLinkSQL    = `DELETE FROM repository_blobs WHERE repo_id = ?1 AND digest = ?2 AND linked_at < ?3
		AND NOT EXISTS (SELECT 1 FROM image_refs WHERE repo_id = ?1 AND ref = ?2)`
	markBlobSQL = `UPDATE blobs SET deleting = 1 WHERE digest = ?1 AND deleting = 0 AND touched_at < ?2
		AND NOT EXISTS (SELECT 1 FROM repository_blobs WHERE digest = ?1)`
	markOrphanSQL = `INSERT INTO blobs (digest, size, touched_at, deleting)
		SELECT ?1, ?2, ?3, 1 WHERE NOT EXISTS (SELECT 1 FROM repository_blobs WHERE digest = ?1)
		ON CONFLICT (digest) DO NOTHING`
	unmarkBlobsSQL = `UPDATE blobs SET deleting = 0 WHERE digest IN (SELECT value FROM json_each(?))`
	forgetBlobsSQL = `DELETE FROM blobs WHERE deleting = 1 AND digest IN (SELECT value FROM json_each(?))`
)

func (r *reader) Link(ctx context.Context, repoID int64, d digest.Digest) (metadata.Link, error) {
	l := metadata.Link{RepoID: repoID, Blob: metadata.Blob{Digest: d}}
	var linked sql.NullInt64
	err := r.stmt(ctx, r.stmts.blob).QueryRowContext(ctx, repoID, string(d)).Scan(&l.Size, &linked)
	if err != nil {
		return metadata.Link{}, notFound(err, "blob %s", d)
	}
	l.LinkedAt = fromNanos(linked)
	return l, nil
}

func (r *reader) UnreferencedLinks(ctx context.Context, before time.Time, after metadata.Link, limit int) ([]metadata.Link, metadata.Link, error) {
	rows, err := r.q.QueryContext(ctx, unreferencedLinksSQL, after.RepoID, string(after.Digest), nanos(before), limit)
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
			linked sql.NullInt64
			stale  bool
		)
		if err := rows.Scan(&l.RepoID, &d, &l.Size, &linked, &stale); err != nil {
			return nil, metadata.Link{}, err
		}
		l.Digest, l.LinkedAt = digest.Digest(d), fromNanos(linked)
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
	rows, err := r.q.QueryContext(ctx, collectableBlobsSQL, string(after), nanos(before), limit)
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
			touched sql.NullInt64
			garbage bool
		)
		if err := rows.Scan(&d, &b.Size, &touched, &garbage); err != nil {
			return nil, "", err
		}
		b.Digest, b.TouchedAt = digest.Digest(d), fromNanos(touched)
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
	rows, err := r.q.QueryContext(ctx, deletingBlobsSQL, string(after), limit)
	if err != nil {
		return nil, err
	}
	defer rows.Close()
	var out []metadata.BlobRecord
	for rows.Next() {
		b := metadata.BlobRecord{Deleting: true}
		var (
			d       string
			touched sql.NullInt64
		)
		if err := rows.Scan(&d, &b.Size, &touched); err != nil {
			return nil, err
		}
		b.Digest, b.TouchedAt = digest.Digest(d), fromNanos(touched)
		out = append(out, b)
	}
	return out, rows.Err()
}

func (r *reader) BlobRecords(ctx context.Context, ds []digest.Digest) ([]metadata.BlobRecord, error) {
	if len(ds) == 0 {
		return nil, nil
	}
	list, err := json.Marshal(ds)
	if err != nil {
		return nil, err
	}
	rows, err := r.q.QueryContext(ctx, blobRecordsSQL, string(list))
	if err != nil {
		return nil, err
	}
	defer rows.Close()
	var out []metadata.BlobRecord
	for rows.Next() {
		var (
			b       metadata.BlobRecord
			d       string
			touched sql.NullInt64
		)
		if err := rows.Scan(&d, &b.Size, &touched, &b.Deleting); err != nil {
			return nil, err
		}
		b.Digest, b.TouchedAt = digest.Digest(d), fromNanos(touched)
		out = append(out, b)
	}
	return out, rows.Err()
}

func (w *writeTx) RecordBlob(ctx context.Context, b metadata.Blob, now time.Time) error {
	res, err := w.tx.ExecContext(ctx, `INSERT INTO blobs (digest, size, touched_at) VALUES (?, ?, ?)
		ON CONFLICT (digest) DO UPDATE SET touched_at = max(touched_at, excluded.touched_at) WHERE deleting = 0`,
		string(b.Digest), b.Size, nanos(now))
	if err != nil {
		return err
	}
	if n, err := res.RowsAffected(); err != nil || n == 1 {
		return err
	}
	return fmt.Errorf("blob %s: %w", b.Digest, metadata.ErrBlobDeleting)
}

func (w *writeTx) TouchLink(ctx context.Context, repoID int64, d digest.Digest, now time.Time) error {
	return expectOne(w.tx.ExecContext(ctx, `UPDATE repository_blobs SET linked_at = max(linked_at, ?) WHERE repo_id = ? AND digest = ?`,
		nanos(now), repoID, string(d)))("blob %s", d)
}

func (w *writeTx) RemoveStaleLinks(ctx context.Context, links []metadata.Link, before time.Time) (int, error) {
	removed := 0
	err := w.each(ctx, removeLinkSQL, len(links), func(st *sql.Stmt, i int) error {
		ok, err := affected(st.ExecContext(ctx, links[i].RepoID, string(links[i].Digest), nanos(before)))
		if ok {
			removed++
		}
		return err
	})
	return removed, err
}

func (w *writeTx) MarkBlobsDeleting(ctx context.Context, ds []digest.Digest, before time.Time) ([]digest.Digest, error) {
	var marked []digest.Digest
	err := w.each(ctx, markBlobSQL, len(ds), func(st *sql.Stmt, i int) error {
		ok, err := affected(st.ExecContext(ctx, string(ds[i]), nanos(before)))
		if ok {
			marked = append(marked, ds[i])
		}
		return err
	})
	return marked, err
}

func (w *writeTx) MarkOrphansDeleting(ctx context.Context, blobs []metadata.Blob, now time.Time) ([]metadata.Blob, error) {
	var marked []metadata.Blob
	err := w.each(ctx, markOrphanSQL, len(blobs), func(st *sql.Stmt, i int) error {
		ok, err := affected(st.ExecContext(ctx, string(blobs[i].Digest), blobs[i].Size, nanos(now)))
		if ok {
			marked = append(marked, blobs[i])
		}
		return err
	})
	return marked, err
}

func (w *writeTx) UnmarkBlobs(ctx context.Context, ds []digest.Digest) error {
	return w.withDigests(ctx, unmarkBlobsSQL, ds)
}

func (w *writeTx) ForgetBlobs(ctx context.Context, ds []digest.Digest) error {
	return w.withDigests(ctx, forgetBlobsSQL, ds)
}

// each runs fn for 0 to n-1 with query prepared once.
func (w *writeTx) each(ctx context.Context, query string, n int, fn func(st *sql.Stmt, i int) error) error {
	if n == 0 {
		return nil
	}
	st, err := w.tx.PrepareContext(ctx, query)
	if err != nil {
		return err
	}
	defer st.Close()
	for i := range n {
		if err := fn(st, i); err != nil {
			return err
		}
	}
	return nil
}

// withDigests runs a statement whose one parameter is a JSON list of ds.
func (w *writeTx) withDigests(ctx context.Context, query string, ds []digest.Digest) error {
	if len(ds) == 0 {
		return nil
	}
	list, err := json.Marshal(ds)
	if err != nil {
		return err
	}
	_, err = w.tx.ExecContext(ctx, query, string(list))
	return err
}

// affected reports whether a statement changed a row.
func affected(res sql.Result, err error) (bool, error) {
	if err != nil {
		return false, err
	}
	n, err := res.RowsAffected()
	return n > 0, err
}
