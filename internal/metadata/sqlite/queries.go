package sqlite

import (
	"context"
	"database/sql"
	"encoding/json"
	"errors"
	"fmt"
	"time"

	"github.com/opencontainers/go-digest"

	"github.com/ecrd/ecrd/internal/metadata"
)

// statements are prepared once per database handle: the hot read paths
// (tag and blob lookups on every pull) never parse SQL.
type statements struct {
	repository, repositories, blob, blobRepos, image, tag, tags, referrers, parents, upload, uploads *sql.Stmt
}

const imageColumns = `i.repo_id, i.digest, i.media_type, i.artifact_type, i.size, i.subject, i.annotations, i.pushed_at, i.last_pulled_at`

func prepare(ctx context.Context, db *sql.DB) (*statements, error) {
	var s statements
	for _, p := range []struct {
		dst *(*sql.Stmt)
		sql string
	}{
		{&s.repository, `SELECT id, created_at FROM repositories WHERE account = ? AND region = ? AND name = ?`},
		{&s.repositories, `SELECT id, name, created_at FROM repositories WHERE account = ? AND region = ? AND name > ? ORDER BY name LIMIT ?`},
		{&s.blob, `SELECT size FROM repository_blobs WHERE repo_id = ? AND digest = ?`},
		{&s.blobRepos, `SELECT r.id, r.name, r.created_at FROM repository_blobs b JOIN repositories r ON r.id = b.repo_id
			WHERE b.digest = ? AND r.account = ? AND r.region = ? ORDER BY r.name LIMIT ?`},
		{&s.image, `SELECT ` + imageColumns + `, i.content FROM images i WHERE i.repo_id = ? AND i.digest = ?`},
		{&s.tag, `SELECT ` + imageColumns + `, i.content FROM tags t JOIN images i ON i.repo_id = t.repo_id AND i.digest = t.digest
			WHERE t.repo_id = ? AND t.name = ?`},
		{&s.tags, `SELECT name FROM tags WHERE repo_id = ? AND name > ? ORDER BY name LIMIT ?`},
		{&s.referrers, `SELECT ` + imageColumns + ` FROM images i WHERE i.repo_id = ? AND i.subject = ? ORDER BY i.digest`},
		{&s.parents, `SELECT digest FROM image_refs WHERE repo_id = ? AND ref = ? AND kind = 1 ORDER BY digest`},
		{&s.upload, `SELECT id, account, region, repo, started_at, updated_at, size, hash_state FROM uploads WHERE id = ?`},
		{&s.uploads, `SELECT id, account, region, repo, started_at, updated_at, size, hash_state FROM uploads ORDER BY id`},
	} {
		st, err := db.PrepareContext(ctx, p.sql)
		if err != nil {
			return nil, fmt.Errorf("%w in %s", err, p.sql)
		}
		*p.dst = st
	}
	return &s, nil
}

// querier is what *sql.DB and *sql.Tx share.
type querier interface {
	ExecContext(ctx context.Context, query string, args ...any) (sql.Result, error)
	QueryContext(ctx context.Context, query string, args ...any) (*sql.Rows, error)
}

// reader implements metadata.Reader on the pool or inside a transaction.
type reader struct {
	q     querier
	stmts *statements
	tx    *sql.Tx // nil outside a transaction
}

func (r *reader) stmt(ctx context.Context, s *sql.Stmt) *sql.Stmt {
	if r.tx != nil {
		return r.tx.StmtContext(ctx, s)
	}
	return s
}

func nanos(t time.Time) int64 { return t.UnixNano() }

func fromNanos(n sql.NullInt64) time.Time {
	if !n.Valid {
		return time.Time{}
	}
	return time.Unix(0, n.Int64).UTC()
}

func notFound(err error, format string, args ...any) error {
	if errors.Is(err, sql.ErrNoRows) {
		return fmt.Errorf(format+": %w", append(args, metadata.ErrNotFound)...)
	}
	return fmt.Errorf(format+": %w", append(args, err)...)
}

func (r *reader) Repository(ctx context.Context, key metadata.RepoKey) (metadata.Repository, error) {
	repo := metadata.Repository{Key: key}
	var created sql.NullInt64
	err := r.stmt(ctx, r.stmts.repository).QueryRowContext(ctx, key.Account, key.Region, key.Name).Scan(&repo.ID, &created)
	if err != nil {
		return metadata.Repository{}, notFound(err, "repository %s", key.Name)
	}
	repo.CreatedAt = fromNanos(created)
	return repo, nil
}

func (r *reader) Repositories(ctx context.Context, scope metadata.Scope, after string, limit int) ([]metadata.Repository, error) {
	rows, err := r.stmt(ctx, r.stmts.repositories).QueryContext(ctx, scope.Account, scope.Region, after, limit)
	if err != nil {
		return nil, err
	}
	return scanRepositories(rows, scope)
}

func scanRepositories(rows *sql.Rows, scope metadata.Scope) ([]metadata.Repository, error) {
	defer rows.Close()
	var out []metadata.Repository
	for rows.Next() {
		repo := metadata.Repository{Key: metadata.RepoKey{Scope: scope}}
		var created sql.NullInt64
		if err := rows.Scan(&repo.ID, &repo.Key.Name, &created); err != nil {
			return nil, err
		}
		repo.CreatedAt = fromNanos(created)
		out = append(out, repo)
	}
	return out, rows.Err()
}

func (r *reader) Blob(ctx context.Context, repoID int64, d digest.Digest) (metadata.Blob, error) {
	b := metadata.Blob{Digest: d}
	err := r.stmt(ctx, r.stmts.blob).QueryRowContext(ctx, repoID, string(d)).Scan(&b.Size)
	if err != nil {
		return metadata.Blob{}, notFound(err, "blob %s", d)
	}
	return b, nil
}

func (r *reader) BlobRepositories(ctx context.Context, scope metadata.Scope, d digest.Digest, limit int) ([]metadata.Repository, error) {
	rows, err := r.stmt(ctx, r.stmts.blobRepos).QueryContext(ctx, string(d), scope.Account, scope.Region, limit)
	if err != nil {
		return nil, err
	}
	return scanRepositories(rows, scope)
}

type scanner interface{ Scan(dest ...any) error }

func scanImage(sc scanner, withContent bool) (metadata.Image, error) {
	var (
		img                 metadata.Image
		dig                 string
		subject, annotation sql.NullString
		pushed, pulled      sql.NullInt64
	)
	dest := []any{&img.RepoID, &dig, &img.MediaType, &img.ArtifactType, &img.Size, &subject, &annotation, &pushed, &pulled}
	if withContent {
		dest = append(dest, &img.Content)
	}
	if err := sc.Scan(dest...); err != nil {
		return metadata.Image{}, err
	}
	img.Digest = digest.Digest(dig)
	img.Subject = digest.Digest(subject.String)
	img.PushedAt = fromNanos(pushed)
	img.LastPulledAt = fromNanos(pulled)
	if annotation.Valid && annotation.String != "" {
		if err := json.Unmarshal([]byte(annotation.String), &img.Annotations); err != nil {
			return metadata.Image{}, fmt.Errorf("stored annotations of %s: %w", dig, err)
		}
	}
	return img, nil
}

func (r *reader) Image(ctx context.Context, repoID int64, d digest.Digest) (metadata.Image, error) {
	img, err := scanImage(r.stmt(ctx, r.stmts.image).QueryRowContext(ctx, repoID, string(d)), true)
	if err != nil {
		return metadata.Image{}, notFound(err, "manifest %s", d)
	}
	return img, nil
}

func (r *reader) Tag(ctx context.Context, repoID int64, tag string) (metadata.Image, error) {
	img, err := scanImage(r.stmt(ctx, r.stmts.tag).QueryRowContext(ctx, repoID, tag), true)
	if err != nil {
		return metadata.Image{}, notFound(err, "tag %s", tag)
	}
	return img, nil
}

func (r *reader) Tags(ctx context.Context, repoID int64, after string, limit int) ([]string, error) {
	rows, err := r.stmt(ctx, r.stmts.tags).QueryContext(ctx, repoID, after, limit)
	if err != nil {
		return nil, err
	}
	defer rows.Close()
	var out []string
	for rows.Next() {
		var t string
		if err := rows.Scan(&t); err != nil {
			return nil, err
		}
		out = append(out, t)
	}
	return out, rows.Err()
}

func (r *reader) Referrers(ctx context.Context, repoID int64, d digest.Digest) ([]metadata.Image, error) {
	rows, err := r.stmt(ctx, r.stmts.referrers).QueryContext(ctx, repoID, string(d))
	if err != nil {
		return nil, err
	}
	defer rows.Close()
	var out []metadata.Image
	for rows.Next() {
		img, err := scanImage(rows, false)
		if err != nil {
			return nil, err
		}
		out = append(out, img)
	}
	return out, rows.Err()
}

func (r *reader) Parents(ctx context.Context, repoID int64, d digest.Digest) ([]digest.Digest, error) {
	rows, err := r.stmt(ctx, r.stmts.parents).QueryContext(ctx, repoID, string(d))
	if err != nil {
		return nil, err
	}
	defer rows.Close()
	var out []digest.Digest
	for rows.Next() {
		var p string
		if err := rows.Scan(&p); err != nil {
			return nil, err
		}
		out = append(out, digest.Digest(p))
	}
	return out, rows.Err()
}

func scanUpload(sc scanner) (metadata.Upload, error) {
	var u metadata.Upload
	var started, updated sql.NullInt64
	err := sc.Scan(&u.ID, &u.Repo.Account, &u.Repo.Region, &u.Repo.Name, &started, &updated, &u.Size, &u.HashState)
	u.StartedAt, u.UpdatedAt = fromNanos(started), fromNanos(updated)
	return u, err
}

func (r *reader) Upload(ctx context.Context, id string) (metadata.Upload, error) {
	u, err := scanUpload(r.stmt(ctx, r.stmts.upload).QueryRowContext(ctx, id))
	if err != nil {
		return metadata.Upload{}, notFound(err, "upload %s", id)
	}
	return u, nil
}

func (r *reader) Uploads(ctx context.Context) ([]metadata.Upload, error) {
	rows, err := r.stmt(ctx, r.stmts.uploads).QueryContext(ctx)
	if err != nil {
		return nil, err
	}
	defer rows.Close()
	var out []metadata.Upload
	for rows.Next() {
		u, err := scanUpload(rows)
		if err != nil {
			return nil, err
		}
		out = append(out, u)
	}
	return out, rows.Err()
}

// writeTx implements metadata.Tx.
type writeTx struct {
	reader
	tx *sql.Tx
}

func (w *writeTx) CreateRepository(ctx context.Context, key metadata.RepoKey, now time.Time) (metadata.Repository, error) {
	res, err := w.tx.ExecContext(ctx, `INSERT INTO repositories (account, region, name, created_at) VALUES (?, ?, ?, ?)`,
		key.Account, key.Region, key.Name, nanos(now))
	if isConstraint(err) {
		return metadata.Repository{}, fmt.Errorf("repository %s: %w", key.Name, metadata.ErrExists)
	}
	if err != nil {
		return metadata.Repository{}, err
	}
	id, err := res.LastInsertId()
	if err != nil {
		return metadata.Repository{}, err
	}
	return metadata.Repository{ID: id, Key: key, CreatedAt: now.UTC()}, nil
}

func (w *writeTx) LinkBlob(ctx context.Context, repoID int64, b metadata.Blob, now time.Time) error {
	_, err := w.tx.ExecContext(ctx, `INSERT INTO repository_blobs (repo_id, digest, size, linked_at) VALUES (?, ?, ?, ?)
		ON CONFLICT (repo_id, digest) DO NOTHING`, repoID, string(b.Digest), b.Size, nanos(now))
	return err
}

func (w *writeTx) UnlinkBlob(ctx context.Context, repoID int64, d digest.Digest) error {
	return expectOne(w.tx.ExecContext(ctx, `DELETE FROM repository_blobs WHERE repo_id = ? AND digest = ?`, repoID, string(d)))("blob %s", d)
}

func (w *writeTx) PutImage(ctx context.Context, img metadata.Image, refs []metadata.Ref) error {
	var annotations sql.NullString
	if len(img.Annotations) > 0 {
		b, err := json.Marshal(img.Annotations)
		if err != nil {
			return err
		}
		annotations = sql.NullString{String: string(b), Valid: true}
	}
	subject := sql.NullString{String: string(img.Subject), Valid: img.Subject != ""}
	_, err := w.tx.ExecContext(ctx, `INSERT INTO images
		(repo_id, digest, media_type, artifact_type, size, subject, annotations, pushed_at, content)
		VALUES (?, ?, ?, ?, ?, ?, ?, ?, ?)
		ON CONFLICT (repo_id, digest) DO NOTHING`,
		img.RepoID, string(img.Digest), img.MediaType, img.ArtifactType, img.Size, subject, annotations, nanos(img.PushedAt), img.Content)
	if err != nil {
		return err
	}
	for _, ref := range refs {
		if _, err := w.tx.ExecContext(ctx, `INSERT INTO image_refs (repo_id, digest, ref, kind) VALUES (?, ?, ?, ?)
			ON CONFLICT DO NOTHING`, img.RepoID, string(img.Digest), string(ref.Digest), int(ref.Kind)); err != nil {
			return err
		}
	}
	return nil
}

func (w *writeTx) DeleteImage(ctx context.Context, repoID int64, d digest.Digest) error {
	return expectOne(w.tx.ExecContext(ctx, `DELETE FROM images WHERE repo_id = ? AND digest = ?`, repoID, string(d)))("manifest %s", d)
}

func (w *writeTx) PutTag(ctx context.Context, repoID int64, tag string, d digest.Digest, now time.Time) error {
	_, err := w.tx.ExecContext(ctx, `INSERT INTO tags (repo_id, name, digest, updated_at) VALUES (?, ?, ?, ?)
		ON CONFLICT (repo_id, name) DO UPDATE SET digest = excluded.digest, updated_at = excluded.updated_at`,
		repoID, tag, string(d), nanos(now))
	if isConstraint(err) {
		return fmt.Errorf("tag %s points to manifest %s, which is not in the repository: %w", tag, d, metadata.ErrNotFound)
	}
	return err
}

func (w *writeTx) DeleteTag(ctx context.Context, repoID int64, tag string) error {
	return expectOne(w.tx.ExecContext(ctx, `DELETE FROM tags WHERE repo_id = ? AND name = ?`, repoID, tag))("tag %s", tag)
}

func (w *writeTx) PutUpload(ctx context.Context, u metadata.Upload) error {
	_, err := w.tx.ExecContext(ctx, `INSERT INTO uploads (id, account, region, repo, started_at, updated_at, size, hash_state)
		VALUES (?, ?, ?, ?, ?, ?, ?, ?)
		ON CONFLICT (id) DO UPDATE SET updated_at = excluded.updated_at, size = excluded.size, hash_state = excluded.hash_state`,
		u.ID, u.Repo.Account, u.Repo.Region, u.Repo.Name, nanos(u.StartedAt), nanos(u.UpdatedAt), u.Size, u.HashState)
	return err
}

func (w *writeTx) DeleteUpload(ctx context.Context, id string) error {
	_, err := w.tx.ExecContext(ctx, `DELETE FROM uploads WHERE id = ?`, id)
	return err
}

// expectOne turns a DELETE that touched no row into ErrNotFound.
func expectOne(res sql.Result, err error) func(format string, args ...any) error {
	return func(format string, args ...any) error {
		if err != nil {
			return err
		}
		n, err := res.RowsAffected()
		if err != nil {
			return err
		}
		if n == 0 {
			return fmt.Errorf(format+": %w", append(args, metadata.ErrNotFound)...)
		}
		return nil
	}
}

// RecordPulls implements metadata.Store.
func (s *Store) RecordPulls(ctx context.Context, pulls []metadata.Pull) error {
	if len(pulls) == 0 {
		return nil
	}
	tx, err := s.writer.BeginTx(ctx, nil)
	if err != nil {
		return err
	}
	defer tx.Rollback()
	for _, p := range pulls {
		if _, err := tx.ExecContext(ctx, `UPDATE images SET last_pulled_at = ?
			WHERE repo_id = ? AND digest = ? AND (last_pulled_at IS NULL OR last_pulled_at < ?)`,
			nanos(p.At), p.RepoID, string(p.Digest), nanos(p.At)); err != nil {
			return err
		}
	}
	return tx.Commit()
}
