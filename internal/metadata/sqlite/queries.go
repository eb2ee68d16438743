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
	repository, repositories, blob, blobRepos, image, tag, tags, imageTags, referrers, parents, upload, uploads, accessKey *sql.Stmt
}

const imageColumns = `i.repo_id, i.digest, i.media_type, i.artifact_type, i.size, i.image_size, i.subject, i.annotations, i.pushed_at, i.last_pulled_at, i.storage_class, i.archived_at, i.activated_at`

func prepare(ctx context.Context, db *sql.DB) (*statements, error) {
	var s statements
	for _, p := range []struct {
		dst *(*sql.Stmt)
		sql string
	}{
		{&s.repository, `SELECT id, name, created_at, settings, tags FROM repositories WHERE account = ? AND region = ? AND name = ?`},
		{&s.repositories, `SELECT id, name, created_at, settings, tags FROM repositories WHERE account = ? AND region = ? AND name > ? ORDER BY name LIMIT ?`},
		{&s.blob, `SELECT size, linked_at FROM repository_blobs WHERE repo_id = ? AND digest = ?`},
		{&s.blobRepos, `SELECT r.id, r.name, r.created_at, r.settings, r.tags FROM repository_blobs b JOIN repositories r ON r.id = b.repo_id
			WHERE b.digest = ? AND r.account = ? AND r.region = ? ORDER BY r.name LIMIT ?`},
		{&s.image, `SELECT ` + imageColumns + `, i.content FROM images i WHERE i.repo_id = ? AND i.digest = ?`},
		{&s.tag, `SELECT ` + imageColumns + `, i.content FROM tags t JOIN images i ON i.repo_id = t.repo_id AND i.digest = t.digest
			WHERE t.repo_id = ? AND t.name = ?`},
		{&s.tags, `SELECT name FROM tags WHERE repo_id = ? AND name > ? ORDER BY name LIMIT ?`},
		{&s.imageTags, `SELECT name FROM tags WHERE repo_id = ? AND digest = ? ORDER BY name`},
		{&s.accessKey, `SELECT id, account, principal, secret, status, created_at FROM access_keys WHERE id = ?`},
		{&s.referrers, `SELECT ` + imageColumns + ` FROM images i WHERE i.repo_id = ? AND i.subject = ? ORDER BY i.digest`},
		{&s.parents, `SELECT digest FROM image_refs WHERE repo_id = ? AND ref = ? AND kind = 1 ORDER BY digest`},
		{&s.upload, `SELECT id, account, region, repo, started_at, updated_at, size, hash_state, last_part, finishing FROM uploads WHERE id = ?`},
		{&s.uploads, `SELECT id, account, region, repo, started_at, updated_at, size, hash_state, last_part, finishing FROM uploads ORDER BY id`},
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
	QueryRowContext(ctx context.Context, query string, args ...any) *sql.Row
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
	repo, err := scanRepository(r.stmt(ctx, r.stmts.repository).QueryRowContext(ctx, key.Account, key.Region, key.Name), key.Scope)
	if err != nil {
		return metadata.Repository{}, notFound(err, "repository %s", key.Name)
	}
	return repo, nil
}

func (r *reader) Repositories(ctx context.Context, scope metadata.Scope, after string, limit int) ([]metadata.Repository, error) {
	rows, err := r.stmt(ctx, r.stmts.repositories).QueryContext(ctx, scope.Account, scope.Region, after, limit)
	if err != nil {
		return nil, err
	}
	return scanRepositories(rows, scope)
}

func scanRepository(sc scanner, scope metadata.Scope) (metadata.Repository, error) {
	repo := metadata.Repository{Key: metadata.RepoKey{Scope: scope}}
	var created sql.NullInt64
	var settings, tags string
	if err := sc.Scan(&repo.ID, &repo.Key.Name, &created, &settings, &tags); err != nil {
		return repo, err
	}
	repo.CreatedAt = fromNanos(created)
	if err := json.Unmarshal([]byte(settings), &repo.Settings); err != nil {
		return repo, fmt.Errorf("stored settings of repository %s: %w", repo.Key.Name, err)
	}
	if err := json.Unmarshal([]byte(tags), &repo.Tags); err != nil {
		return repo, fmt.Errorf("stored tags of repository %s: %w", repo.Key.Name, err)
	}
	return repo, nil
}

func scanRepositories(rows *sql.Rows, scope metadata.Scope) ([]metadata.Repository, error) {
	defer rows.Close()
	var out []metadata.Repository
	for rows.Next() {
		repo, err := scanRepository(rows, scope)
		if err != nil {
			return nil, err
		}
		out = append(out, repo)
	}
	return out, rows.Err()
}

func (r *reader) RepositoryImageCount(ctx context.Context, repoID int64) (int, error) {
	var n int
	err := r.q.QueryRowContext(ctx, `SELECT count(*) FROM images WHERE repo_id = ?`, repoID).Scan(&n)
	return n, err
}

// repositorySummariesSQL seeks the images of each repository of the list
// by an index on repo_id (one JSON parameter, however long the list).
const repositorySummariesSQL = `SELECT repo_id, count(*), sum(image_size), max(pushed_at) FROM images
	WHERE repo_id IN (SELECT value FROM json_each(?)) AND storage_class = 'STANDARD' GROUP BY repo_id`

func (r *reader) RepositorySummaries(ctx context.Context, repoIDs []int64) (map[int64]metadata.RepositorySummary, error) {
	out := make(map[int64]metadata.RepositorySummary, len(repoIDs))
	if len(repoIDs) == 0 {
		return out, nil
	}
	list, err := json.Marshal(repoIDs)
	if err != nil {
		return nil, err
	}
	rows, err := r.q.QueryContext(ctx, repositorySummariesSQL, string(list))
	if err != nil {
		return nil, err
	}
	defer rows.Close()
	for rows.Next() {
		var (
			id     int64
			s      metadata.RepositorySummary
			pushed sql.NullInt64
		)
		if err := rows.Scan(&id, &s.Images, &s.Bytes, &pushed); err != nil {
			return nil, err
		}
		s.LastPushedAt = fromNanos(pushed)
		out[id] = s
	}
	return out, rows.Err()
}

func (r *reader) Blob(ctx context.Context, repoID int64, d digest.Digest) (metadata.Blob, error) {
	l, err := r.Link(ctx, repoID, d)
	return l.Blob, err
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
		archived, activated sql.NullInt64
	)
	dest := []any{&img.RepoID, &dig, &img.MediaType, &img.ArtifactType, &img.Size, &img.ImageSize, &subject, &annotation, &pushed, &pulled,
		&img.StorageClass, &archived, &activated}
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
	img.LastArchivedAt = fromNanos(archived)
	img.LastActivatedAt = fromNanos(activated)
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

func (r *reader) BlobUsers(ctx context.Context, repoID int64, d digest.Digest, limit int) ([]digest.Digest, error) {
	rows, err := r.q.QueryContext(ctx, `SELECT digest FROM image_refs WHERE repo_id = ? AND ref = ? AND kind = 0 ORDER BY digest LIMIT ?`,
		repoID, string(d), limit)
	if err != nil {
		return nil, err
	}
	ss, err := scanStrings(rows)
	out := make([]digest.Digest, len(ss))
	for i, s := range ss {
		out[i] = digest.Digest(s)
	}
	return out, err
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
	var finishing string
	err := sc.Scan(&u.ID, &u.Repo.Account, &u.Repo.Region, &u.Repo.Name, &started, &updated, &u.Size, &u.HashState, &u.LastPart, &finishing)
	u.StartedAt, u.UpdatedAt, u.Finishing = fromNanos(started), fromNanos(updated), digest.Digest(finishing)
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
	return scanAll(rows, err, scanUpload)
}

// scanAll reads every row of a query (rows and err as QueryContext
// returns them) with scan.
func scanAll[T any](rows *sql.Rows, err error, scan func(scanner) (T, error)) ([]T, error) {
	if err != nil {
		return nil, err
	}
	defer rows.Close()
	var out []T
	for rows.Next() {
		v, err := scan(rows)
		if err != nil {
			return nil, err
		}
		out = append(out, v)
	}
	return out, rows.Err()
}

func (r *reader) ImageTags(ctx context.Context, repoID int64, d digest.Digest) ([]string, error) {
	rows, err := r.stmt(ctx, r.stmts.imageTags).QueryContext(ctx, repoID, string(d))
	if err != nil {
		return nil, err
	}
	return scanStrings(rows)
}

func scanStrings(rows *sql.Rows) ([]string, error) {
	defer rows.Close()
	var out []string
	for rows.Next() {
		var s string
		if err := rows.Scan(&s); err != nil {
			return nil, err
		}
		out = append(out, s)
	}
	return out, rows.Err()
}

// imageFilterSQL is the condition an image listing's filter adds to a
// query over images i, with ?4 the time image statuses are judged at
// (always used, so that every variant takes the same arguments).
func imageFilterSQL(f metadata.ImageFilter) string {
	filter := ""
	if f.Tagged != nil {
		filter = " AND NOT EXISTS (SELECT 1 FROM tags t WHERE t.repo_id = i.repo_id AND t.digest = i.digest)"
		if *f.Tagged {
			filter = " AND EXISTS (SELECT 1 FROM tags t WHERE t.repo_id = i.repo_id AND t.digest = i.digest)"
		}
	}
	switch f.Status {
	case metadata.ImageActive:
		filter += " AND i.storage_class = 'STANDARD' AND (i.activated_at IS NULL OR i.activated_at <= ?4)"
	case metadata.ImageArchived:
		filter += " AND i.storage_class = 'ARCHIVE' AND ?4 = ?4"
	case metadata.ImageActivating:
		filter += " AND i.storage_class = 'STANDARD' AND i.activated_at > ?4"
	default:
		filter += " AND ?4 = ?4"
	}
	return filter
}

// scanImagePage reads the images of a listing's page, indexed by digest:
// whole rows of imageColumns, or with idsOnly the digest alone.
func scanImagePage(rows *sql.Rows, err error, idsOnly bool) ([]metadata.ImageSummary, map[digest.Digest]int, error) {
	if err != nil {
		return nil, nil, err
	}
	defer rows.Close()
	var out []metadata.ImageSummary
	index := map[digest.Digest]int{}
	for rows.Next() {
		var img metadata.Image
		if idsOnly {
			var d string
			err = rows.Scan(&d)
			img.Digest = digest.Digest(d)
		} else {
			img, err = scanImage(rows, false)
		}
		if err != nil {
			return nil, nil, err
		}
		index[img.Digest] = len(out)
		out = append(out, metadata.ImageSummary{Image: img})
	}
	return out, index, rows.Close()
}

// addTags adds to a page's images the tags that rows (digest, name, in
// that order) list.
func addTags(out []metadata.ImageSummary, index map[digest.Digest]int, rows *sql.Rows, err error) ([]metadata.ImageSummary, error) {
	if err != nil {
		return nil, err
	}
	defer rows.Close()
	for rows.Next() {
		var d, name string
		if err := rows.Scan(&d, &name); err != nil {
			return nil, err
		}
		if i, ok := index[digest.Digest(d)]; ok {
			out[i].Tags = append(out[i].Tags, name)
		}
	}
	return out, rows.Err()
}

// imagesSQL is Images's query: ?1 is the repository, ?2 the digest to
// start after, ?3 the limit, ?4 as in imageFilterSQL.
func imagesSQL(f metadata.ImageFilter) string {
	columns := imageColumns
	if f.IDsOnly {
		columns = "i.digest"
	}
	return `SELECT ` + columns + ` FROM images i
		WHERE i.repo_id = ?1 AND i.digest > ?2 ` + imageFilterSQL(f) + `
		ORDER BY i.digest LIMIT ?3`
}

// rangeTagsSQL lists the tags of the digests from ?2 to ?3.
const rangeTagsSQL = `SELECT digest, name FROM tags WHERE repo_id = ?1 AND digest >= ?2 AND digest <= ?3 ORDER BY digest, name`

// Images lists a page of images in two index range scans: the images in
// digest order (filtered by whether a tag exists), then the tags of the
// page's digest range.
func (r *reader) Images(ctx context.Context, repoID int64, f metadata.ImageFilter, after digest.Digest, limit int) ([]metadata.ImageSummary, error) {
	rows, err := r.q.QueryContext(ctx, imagesSQL(f), repoID, string(after), limit, nanos(f.Now))
	out, index, err := scanImagePage(rows, err, f.IDsOnly)
	if err != nil || len(out) == 0 || (f.Tagged != nil && !*f.Tagged) {
		return out, err
	}
	rows, err = r.q.QueryContext(ctx, rangeTagsSQL, repoID, string(out[0].Digest), string(out[len(out)-1].Digest))
	return addTags(out, index, rows, err)
}

// imagesByPushSQL is ImagesByPush's query: a range scan of
// images_by_push_digest, forwards or backwards, from the cursor (?5, ?2)
// when from is set; ?1 is the repository, ?3 the limit, ?4 as in
// imageFilterSQL. Every variant takes the same five arguments.
func imagesByPushSQL(f metadata.ImageFilter, newest, from bool) string {
	cmp, dir := ">", ""
	if newest {
		cmp, dir = "<", " DESC"
	}
	start := " AND ?2 = ?2 AND ?5 = ?5"
	if from {
		start = " AND (i.pushed_at, i.digest) " + cmp + " (?5, ?2)"
	}
	return `SELECT ` + imageColumns + ` FROM images i
		WHERE i.repo_id = ?1` + start + imageFilterSQL(f) + `
		ORDER BY i.pushed_at` + dir + `, i.digest` + dir + ` LIMIT ?3`
}

// pageTagsSQL lists the tags of a page's images, given as a JSON array
// of digests, by a probe of tags_for_images per digest.
const pageTagsSQL = `SELECT digest, name FROM tags WHERE repo_id = ?1 AND digest IN (SELECT value FROM json_each(?2)) ORDER BY digest, name`

// ImagesByPush lists a page of images in push order in two index scans:
// the images from the cursor (filtered by whether a tag exists), then
// the tags of the page's digests, which push order scatters.
func (r *reader) ImagesByPush(ctx context.Context, repoID int64, f metadata.ImageFilter, newest bool, after metadata.PushCursor, limit int) ([]metadata.ImageSummary, error) {
	rows, err := r.q.QueryContext(ctx, imagesByPushSQL(f, newest, !after.IsZero()),
		repoID, string(after.Digest), limit, nanos(f.Now), nanos(after.PushedAt))
	out, index, err := scanImagePage(rows, err, false)
	if err != nil || len(out) == 0 || (f.Tagged != nil && !*f.Tagged) {
		return out, err
	}
	digests := make([]digest.Digest, len(out))
	for i, img := range out {
		digests[i] = img.Digest
	}
	list, err := json.Marshal(digests)
	if err != nil {
		return nil, err
	}
	rows, err = r.q.QueryContext(ctx, pageTagsSQL, repoID, string(list))
	return addTags(out, index, rows, err)
}

func scanAccount(sc scanner) (metadata.Account, error) {
	var a metadata.Account
	var created sql.NullInt64
	err := sc.Scan(&a.ID, &created)
	a.CreatedAt = fromNanos(created)
	return a, err
}

func (r *reader) Account(ctx context.Context, id string) (metadata.Account, error) {
	a, err := scanAccount(r.q.QueryRowContext(ctx, `SELECT id, created_at FROM accounts WHERE id = ?`, id))
	if err != nil {
		return a, notFound(err, "account %s", id)
	}
	return a, nil
}

func (r *reader) Accounts(ctx context.Context) ([]metadata.Account, error) {
	rows, err := r.q.QueryContext(ctx, `SELECT id, created_at FROM accounts ORDER BY id`)
	if err != nil {
		return nil, err
	}
	defer rows.Close()
	var out []metadata.Account
	for rows.Next() {
		a, err := scanAccount(rows)
		if err != nil {
			return nil, err
		}
		out = append(out, a)
	}
	return out, rows.Err()
}

func scanAccessKey(sc scanner) (metadata.AccessKey, error) {
	var k metadata.AccessKey
	var created sql.NullInt64
	err := sc.Scan(&k.ID, &k.Account, &k.Principal, &k.Secret, &k.Status, &created)
	k.CreatedAt = fromNanos(created)
	return k, err
}

func (r *reader) AccessKey(ctx context.Context, id string) (metadata.AccessKey, error) {
	k, err := scanAccessKey(r.stmt(ctx, r.stmts.accessKey).QueryRowContext(ctx, id))
	if err != nil {
		return k, notFound(err, "access key %s", id)
	}
	return k, nil
}

func (r *reader) AccessKeys(ctx context.Context, account string) ([]metadata.AccessKey, error) {
	rows, err := r.q.QueryContext(ctx, `SELECT id, account, principal, secret, status, created_at FROM access_keys
		WHERE ? = '' OR account = ? ORDER BY id`, account, account)
	if err != nil {
		return nil, err
	}
	defer rows.Close()
	var out []metadata.AccessKey
	for rows.Next() {
		k, err := scanAccessKey(rows)
		if err != nil {
			return nil, err
		}
		out = append(out, k)
	}
	return out, rows.Err()
}

func (r *reader) CreationTemplates(ctx context.Context, scope metadata.Scope) ([]metadata.CreationTemplate, error) {
	rows, err := r.q.QueryContext(ctx, `SELECT prefix, document, created_at, updated_at FROM creation_templates
		WHERE account = ? AND region = ? ORDER BY prefix`, scope.Account, scope.Region)
	if err != nil {
		return nil, err
	}
	defer rows.Close()
	var out []metadata.CreationTemplate
	for rows.Next() {
		t := metadata.CreationTemplate{Scope: scope}
		var doc string
		var created, updated sql.NullInt64
		if err := rows.Scan(&t.Prefix, &doc, &created, &updated); err != nil {
			return nil, err
		}
		t.Document, t.CreatedAt, t.UpdatedAt = []byte(doc), fromNanos(created), fromNanos(updated)
		out = append(out, t)
	}
	return out, rows.Err()
}

func (r *reader) AccountSetting(ctx context.Context, scope metadata.Scope, name string) (string, error) {
	var v string
	err := r.q.QueryRowContext(ctx, `SELECT value FROM account_settings WHERE account = ? AND region = ? AND name = ?`,
		scope.Account, scope.Region, name).Scan(&v)
	if err != nil {
		return "", notFound(err, "setting %s", name)
	}
	return v, nil
}

func (r *reader) AccountSettings(ctx context.Context, scope metadata.Scope, prefix string) (map[string]string, error) {
	rows, err := r.q.QueryContext(ctx, `SELECT name, value FROM account_settings WHERE account = ? AND region = ? AND substr(name, 1, ?) = ?`,
		scope.Account, scope.Region, len([]rune(prefix)), prefix)
	if err != nil {
		return nil, err
	}
	defer rows.Close()
	out := map[string]string{}
	for rows.Next() {
		var name, value string
		if err := rows.Scan(&name, &value); err != nil {
			return nil, err
		}
		out[name] = value
	}
	return out, rows.Err()
}

// writeTx implements metadata.Tx.
type writeTx struct {
	reader
	tx txQuerier
}

// txQuerier is what a write transaction runs its statements through
// (cachedTx).
type txQuerier interface {
	querier
	PrepareContext(ctx context.Context, query string) (*sql.Stmt, error)
}

func (w *writeTx) CreateAccount(ctx context.Context, a metadata.Account) error {
	_, err := w.tx.ExecContext(ctx, `INSERT INTO accounts (id, created_at) VALUES (?, ?)`, a.ID, nanos(a.CreatedAt))
	if isConstraint(err) {
		return fmt.Errorf("account %s: %w", a.ID, metadata.ErrExists)
	}
	return err
}

func (w *writeTx) PutAccessKey(ctx context.Context, k metadata.AccessKey) error {
	_, err := w.tx.ExecContext(ctx, `INSERT INTO access_keys (id, account, principal, secret, status, created_at) VALUES (?, ?, ?, ?, ?, ?)
		ON CONFLICT (id) DO UPDATE SET account = excluded.account, principal = excluded.principal, secret = excluded.secret, status = excluded.status`,
		k.ID, k.Account, k.Principal, k.Secret, k.Status, nanos(k.CreatedAt))
	if isConstraint(err) {
		return fmt.Errorf("access key %s names account %s: %w", k.ID, k.Account, metadata.ErrNotFound)
	}
	return err
}

// repoDocuments encodes a repository's settings and tags for storage.
func repoDocuments(repo metadata.Repository) (settings, tags string, err error) {
	s, err := json.Marshal(repo.Settings)
	if err != nil {
		return "", "", err
	}
	t := repo.Tags
	if t == nil {
		t = []metadata.ResourceTag{}
	}
	tb, err := json.Marshal(t)
	return string(s), string(tb), err
}

func (w *writeTx) CreateRepository(ctx context.Context, repo metadata.Repository) (metadata.Repository, error) {
	settings, tags, err := repoDocuments(repo)
	if err != nil {
		return repo, err
	}
	res, err := w.tx.ExecContext(ctx, `INSERT INTO repositories (account, region, name, created_at, settings, tags) VALUES (?, ?, ?, ?, ?, ?)`,
		repo.Key.Account, repo.Key.Region, repo.Key.Name, nanos(repo.CreatedAt), settings, tags)
	if isConstraint(err) {
		return repo, fmt.Errorf("repository %s: %w", repo.Key.Name, metadata.ErrExists)
	}
	if err != nil {
		return repo, err
	}
	if repo.ID, err = res.LastInsertId(); err != nil {
		return repo, err
	}
	repo.CreatedAt = repo.CreatedAt.UTC()
	return repo, nil
}

func (w *writeTx) UpdateRepository(ctx context.Context, repo metadata.Repository) error {
	settings, tags, err := repoDocuments(repo)
	if err != nil {
		return err
	}
	return expectOne(w.tx.ExecContext(ctx, `UPDATE repositories SET settings = ?, tags = ? WHERE id = ?`, settings, tags, repo.ID))("repository %s", repo.Key.Name)
}

func (w *writeTx) DeleteRepository(ctx context.Context, repoID int64) error {
	var account, region, name string
	err := w.tx.QueryRowContext(ctx, `SELECT account, region, name FROM repositories WHERE id = ?`, repoID).Scan(&account, &region, &name)
	if err != nil {
		return notFound(err, "repository %d", repoID)
	}
	// Tags and references go first: their foreign keys name images.
	for _, q := range []string{
		`DELETE FROM tags WHERE repo_id = ?`,
		`DELETE FROM image_refs WHERE repo_id = ?`,
		`DELETE FROM images WHERE repo_id = ?`,
		`DELETE FROM repository_blobs WHERE repo_id = ?`,
		`DELETE FROM repositories WHERE id = ?`,
	} {
		if _, err := w.tx.ExecContext(ctx, q, repoID); err != nil {
			return err
		}
	}
	_, err = w.tx.ExecContext(ctx, `DELETE FROM uploads WHERE account = ? AND region = ? AND repo = ?`, account, region, name)
	return err
}

func (w *writeTx) PutCreationTemplate(ctx context.Context, t metadata.CreationTemplate) error {
	_, err := w.tx.ExecContext(ctx, `INSERT INTO creation_templates (account, region, prefix, document, created_at, updated_at) VALUES (?, ?, ?, ?, ?, ?)
		ON CONFLICT (account, region, prefix) DO UPDATE SET document = excluded.document, updated_at = excluded.updated_at`,
		t.Scope.Account, t.Scope.Region, t.Prefix, string(t.Document), nanos(t.CreatedAt), nanos(t.UpdatedAt))
	return err
}

func (w *writeTx) DeleteCreationTemplate(ctx context.Context, scope metadata.Scope, prefix string) error {
	return expectOne(w.tx.ExecContext(ctx, `DELETE FROM creation_templates WHERE account = ? AND region = ? AND prefix = ?`,
		scope.Account, scope.Region, prefix))("creation template %s", prefix)
}

func (r *reader) RegistryPolicy(ctx context.Context, scope metadata.Scope) (string, error) {
	var text string
	err := r.q.QueryRowContext(ctx, `SELECT text FROM registry_policies WHERE account = ? AND region = ?`, scope.Account, scope.Region).Scan(&text)
	if err != nil {
		return "", notFound(err, "registry policy of %s in %s", scope.Account, scope.Region)
	}
	return text, nil
}

func (w *writeTx) PutRegistryPolicy(ctx context.Context, scope metadata.Scope, text string) error {
	_, err := w.tx.ExecContext(ctx, `INSERT INTO registry_policies (account, region, text) VALUES (?, ?, ?)
		ON CONFLICT (account, region) DO UPDATE SET text = excluded.text`, scope.Account, scope.Region, text)
	return err
}

func (w *writeTx) DeleteRegistryPolicy(ctx context.Context, scope metadata.Scope) error {
	return expectOne(w.tx.ExecContext(ctx, `DELETE FROM registry_policies WHERE account = ? AND region = ?`,
		scope.Account, scope.Region))("registry policy of %s in %s", scope.Account, scope.Region)
}

func (w *writeTx) PutAccountSetting(ctx context.Context, scope metadata.Scope, name, value string) error {
	_, err := w.tx.ExecContext(ctx, `INSERT INTO account_settings (account, region, name, value) VALUES (?, ?, ?, ?)
		ON CONFLICT (account, region, name) DO UPDATE SET value = excluded.value`, scope.Account, scope.Region, name, value)
	return err
}

func (w *writeTx) DeleteAccountSetting(ctx context.Context, scope metadata.Scope, name string) error {
	_, err := w.tx.ExecContext(ctx, `DELETE FROM account_settings WHERE account = ? AND region = ? AND name = ?`, scope.Account, scope.Region, name)
	return err
}

func (w *writeTx) LinkBlob(ctx context.Context, repoID int64, b metadata.Blob, now time.Time) error {
	_, err := w.tx.ExecContext(ctx, `INSERT INTO repository_blobs (repo_id, digest, size, linked_at) VALUES (?, ?, ?, ?)
		ON CONFLICT (repo_id, digest) DO UPDATE SET linked_at = max(linked_at, excluded.linked_at)`, repoID, string(b.Digest), b.Size, nanos(now))
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
		(repo_id, digest, media_type, artifact_type, size, image_size, subject, annotations, pushed_at, content)
		VALUES (?, ?, ?, ?, ?, ?, ?, ?, ?, ?)
		ON CONFLICT (repo_id, digest) DO NOTHING`,
		img.RepoID, string(img.Digest), img.MediaType, img.ArtifactType, img.Size, img.ImageSize, subject, annotations, nanos(img.PushedAt), img.Content)
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
	_, err := w.tx.ExecContext(ctx, `INSERT INTO uploads (id, account, region, repo, started_at, updated_at, size, hash_state, last_part, finishing)
		VALUES (?, ?, ?, ?, ?, ?, ?, ?, ?, ?)
		ON CONFLICT (id) DO UPDATE SET updated_at = excluded.updated_at, size = excluded.size, hash_state = excluded.hash_state, last_part = excluded.last_part, finishing = excluded.finishing`,
		u.ID, u.Repo.Account, u.Repo.Region, u.Repo.Name, nanos(u.StartedAt), nanos(u.UpdatedAt), u.Size, u.HashState, u.LastPart, string(u.Finishing))
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
	if err := tx.Commit(); err != nil {
		return err
	}
	return s.wal.commit()
}
