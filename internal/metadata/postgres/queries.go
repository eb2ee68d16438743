package postgres

import (
	"context"
	"encoding/json"
	"errors"
	"fmt"
	"strconv"
	"time"

	"github.com/jackc/pgx/v5"
	"github.com/jackc/pgx/v5/pgconn"
	"github.com/jackc/pgx/v5/pgtype"
	"github.com/jackc/pgx/v5/pgxpool"
	"github.com/opencontainers/go-digest"

	"github.com/ecrd/ecrd/internal/metadata"
)

// reader implements metadata.Reader on the read pool or inside a
// transaction.
type reader struct {
	q db
	// pool is the read pool outside a transaction; nil in one.
	pool *pgxpool.Pool
	tx   bool
}

// snapshot runs fn on one snapshot of the database: in the transaction
// when there is one, else in a read-only repeatable read transaction, so
// that a read of several statements is consistent.
func (r *reader) snapshot(ctx context.Context, fn func(q db) error) error {
	if r.tx || r.pool == nil {
		return fn(r.q)
	}
	return pgx.BeginTxFunc(ctx, r.pool, pgx.TxOptions{IsoLevel: pgx.RepeatableRead, AccessMode: pgx.ReadOnly}, func(tx pgx.Tx) error {
		return fn(db{q: tx})
	})
}

// tm reads a stored time: in UTC, zero if NULL.
func tm(v pgtype.Timestamptz) time.Time {
	if !v.Valid {
		return time.Time{}
	}
	return v.Time.UTC()
}

// stored is t as a read gives it back: UTC, to the microsecond.
func stored(t time.Time) time.Time { return t.UTC().Truncate(time.Microsecond) }

// nullTime stores a zero time as NULL.
func nullTime(t time.Time) any {
	if t.IsZero() {
		return nil
	}
	return t
}

func notFound(err error, format string, args ...any) error {
	if errors.Is(err, pgx.ErrNoRows) {
		return fmt.Errorf(format+": %w", append(args, metadata.ErrNotFound)...)
	}
	return fmt.Errorf(format+": %w", append(args, err)...)
}

// expectOne turns a statement that touched no row into ErrNotFound.
func expectOne(tag pgconn.CommandTag, err error) func(format string, args ...any) error {
	return func(format string, args ...any) error {
		if err != nil {
			return err
		}
		if tag.RowsAffected() == 0 {
			return fmt.Errorf(format+": %w", append(args, metadata.ErrNotFound)...)
		}
		return nil
	}
}

// affected returns how many rows a statement changed.
func affected(tag pgconn.CommandTag, err error) (int, error) {
	return int(tag.RowsAffected()), err
}

type scanner interface{ Scan(dest ...any) error }

// scanAll reads every row of a query (rows and err as Query returns them)
// with scan.
func scanAll[T any](rows pgx.Rows, err error, scan func(scanner) (T, error)) ([]T, error) {
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

func scanString(sc scanner) (string, error) {
	var s string
	err := sc.Scan(&s)
	return s, err
}

func scanDigest(sc scanner) (digest.Digest, error) {
	s, err := scanString(sc)
	return digest.Digest(s), err
}

const repoColumns = `id, name, created_at, settings, tags`

func scanRepository(sc scanner, scope metadata.Scope) (metadata.Repository, error) {
	repo := metadata.Repository{Key: metadata.RepoKey{Scope: scope}}
	var (
		created        pgtype.Timestamptz
		settings, tags string
	)
	if err := sc.Scan(&repo.ID, &repo.Key.Name, &created, &settings, &tags); err != nil {
		return repo, err
	}
	repo.CreatedAt = tm(created)
	if err := json.Unmarshal([]byte(settings), &repo.Settings); err != nil {
		return repo, fmt.Errorf("stored settings of repository %s: %w", repo.Key.Name, err)
	}
	if err := json.Unmarshal([]byte(tags), &repo.Tags); err != nil {
		return repo, fmt.Errorf("stored tags of repository %s: %w", repo.Key.Name, err)
	}
	return repo, nil
}

func (r *reader) Repository(ctx context.Context, key metadata.RepoKey) (metadata.Repository, error) {
	repo, err := scanRepository(r.q.QueryRow(ctx, `SELECT `+repoColumns+` FROM repositories WHERE account = $1 AND region = $2 AND name = $3`,
		key.Account, key.Region, key.Name), key.Scope)
	if err != nil {
		return metadata.Repository{}, notFound(err, "repository %s", key.Name)
	}
	return repo, nil
}

func (r *reader) Repositories(ctx context.Context, scope metadata.Scope, after string, limit int) ([]metadata.Repository, error) {
	rows, err := r.q.Query(ctx, `SELECT `+repoColumns+` FROM repositories WHERE account = $1 AND region = $2 AND name > $3 ORDER BY name LIMIT $4`,
		scope.Account, scope.Region, after, limit)
	return scanAll(rows, err, func(sc scanner) (metadata.Repository, error) { return scanRepository(sc, scope) })
}

func (r *reader) RepositoryImageCount(ctx context.Context, repoID int64) (int, error) {
	var n int
	err := r.q.QueryRow(ctx, `SELECT count(*) FROM images WHERE repo_id = $1`, repoID).Scan(&n)
	return n, err
}

// RepositorySummaries reads only the listed repositories' images, through
// an index led by repo_id (a bitmap scan of = ANY), grouped by hash.
func (r *reader) RepositorySummaries(ctx context.Context, repoIDs []int64) (map[int64]metadata.RepositorySummary, error) {
	out := make(map[int64]metadata.RepositorySummary, len(repoIDs))
	if len(repoIDs) == 0 {
		return out, nil
	}
	rows, err := r.q.Query(ctx, `SELECT repo_id, count(*), sum(image_size)::bigint, max(pushed_at) FROM images
		WHERE repo_id = ANY($1) AND storage_class = 'STANDARD' GROUP BY repo_id`, repoIDs)
	if err != nil {
		return nil, err
	}
	defer rows.Close()
	for rows.Next() {
		var (
			id     int64
			s      metadata.RepositorySummary
			pushed pgtype.Timestamptz
		)
		if err := rows.Scan(&id, &s.Images, &s.Bytes, &pushed); err != nil {
			return nil, err
		}
		s.LastPushedAt = tm(pushed)
		out[id] = s
	}
	return out, rows.Err()
}

func (r *reader) Blob(ctx context.Context, repoID int64, d digest.Digest) (metadata.Blob, error) {
	l, err := r.Link(ctx, repoID, d)
	return l.Blob, err
}

func (r *reader) BlobRepositories(ctx context.Context, scope metadata.Scope, d digest.Digest, limit int) ([]metadata.Repository, error) {
	rows, err := r.q.Query(ctx, `SELECT r.id, r.name, r.created_at, r.settings, r.tags FROM repository_blobs b JOIN repositories r ON r.id = b.repo_id
		WHERE b.digest = $1 AND r.account = $2 AND r.region = $3 ORDER BY r.name LIMIT $4`, string(d), scope.Account, scope.Region, limit)
	return scanAll(rows, err, func(sc scanner) (metadata.Repository, error) { return scanRepository(sc, scope) })
}

const imageColumns = `i.repo_id, i.digest, i.media_type, i.artifact_type, i.size, i.image_size, i.subject, i.annotations, i.pushed_at, i.last_pulled_at, i.storage_class, i.archived_at, i.activated_at`

// scanImage reads imageColumns, then the extra destinations.
func scanImage(sc scanner, extra ...any) (metadata.Image, error) {
	var (
		img                 metadata.Image
		dig                 string
		subject, annotation pgtype.Text
		pushed, pulled      pgtype.Timestamptz
		archived, activated pgtype.Timestamptz
	)
	dest := append([]any{&img.RepoID, &dig, &img.MediaType, &img.ArtifactType, &img.Size, &img.ImageSize, &subject, &annotation, &pushed, &pulled,
		&img.StorageClass, &archived, &activated}, extra...)
	if err := sc.Scan(dest...); err != nil {
		return metadata.Image{}, err
	}
	img.Digest = digest.Digest(dig)
	img.Subject = digest.Digest(subject.String)
	img.PushedAt, img.LastPulledAt = tm(pushed), tm(pulled)
	img.LastArchivedAt, img.LastActivatedAt = tm(archived), tm(activated)
	if annotation.Valid && annotation.String != "" {
		if err := json.Unmarshal([]byte(annotation.String), &img.Annotations); err != nil {
			return metadata.Image{}, fmt.Errorf("stored annotations of %s: %w", dig, err)
		}
	}
	return img, nil
}

func scanImageOnly(sc scanner) (metadata.Image, error) { return scanImage(sc) }

func (r *reader) Image(ctx context.Context, repoID int64, d digest.Digest) (metadata.Image, error) {
	var content []byte
	img, err := scanImage(r.q.QueryRow(ctx, `SELECT `+imageColumns+`, i.content FROM images i WHERE i.repo_id = $1 AND i.digest = $2`,
		repoID, string(d)), &content)
	if err != nil {
		return metadata.Image{}, notFound(err, "manifest %s", d)
	}
	img.Content = content
	return img, nil
}

func (r *reader) Tag(ctx context.Context, repoID int64, tag string) (metadata.Image, error) {
	var content []byte
	img, err := scanImage(r.q.QueryRow(ctx, `SELECT `+imageColumns+`, i.content FROM tags t JOIN images i ON i.repo_id = t.repo_id AND i.digest = t.digest
		WHERE t.repo_id = $1 AND t.name = $2`, repoID, tag), &content)
	if err != nil {
		return metadata.Image{}, notFound(err, "tag %s", tag)
	}
	img.Content = content
	return img, nil
}

func (r *reader) Tags(ctx context.Context, repoID int64, after string, limit int) ([]string, error) {
	rows, err := r.q.Query(ctx, `SELECT name FROM tags WHERE repo_id = $1 AND name > $2 ORDER BY name LIMIT $3`, repoID, after, limit)
	return scanAll(rows, err, scanString)
}

func (r *reader) ImageTags(ctx context.Context, repoID int64, d digest.Digest) ([]string, error) {
	rows, err := r.q.Query(ctx, `SELECT name FROM tags WHERE repo_id = $1 AND digest = $2 ORDER BY name`, repoID, string(d))
	return scanAll(rows, err, scanString)
}

func (r *reader) Referrers(ctx context.Context, repoID int64, d digest.Digest) ([]metadata.Image, error) {
	rows, err := r.q.Query(ctx, `SELECT `+imageColumns+` FROM images i WHERE i.repo_id = $1 AND i.subject = $2 ORDER BY i.digest`, repoID, string(d))
	return scanAll(rows, err, scanImageOnly)
}

func (r *reader) Parents(ctx context.Context, repoID int64, d digest.Digest) ([]digest.Digest, error) {
	rows, err := r.q.Query(ctx, `SELECT digest FROM image_refs WHERE repo_id = $1 AND ref = $2 AND kind = 1 ORDER BY digest`, repoID, string(d))
	return scanAll(rows, err, scanDigest)
}

func (r *reader) BlobUsers(ctx context.Context, repoID int64, d digest.Digest, limit int) ([]digest.Digest, error) {
	rows, err := r.q.Query(ctx, `SELECT digest FROM image_refs WHERE repo_id = $1 AND ref = $2 AND kind = 0 ORDER BY digest LIMIT $3`,
		repoID, string(d), limit)
	return scanAll(rows, err, scanDigest)
}

const uploadColumns = `id, account, region, repo, started_at, updated_at, size, hash_state, last_part, finishing`

func scanUpload(sc scanner) (metadata.Upload, error) {
	var (
		u                metadata.Upload
		started, updated pgtype.Timestamptz
	)
	var finishing string
	err := sc.Scan(&u.ID, &u.Repo.Account, &u.Repo.Region, &u.Repo.Name, &started, &updated, &u.Size, &u.HashState, &u.LastPart, &finishing)
	u.StartedAt, u.UpdatedAt, u.Finishing = tm(started), tm(updated), digest.Digest(finishing)
	return u, err
}

func (r *reader) Upload(ctx context.Context, id string) (metadata.Upload, error) {
	u, err := scanUpload(r.q.QueryRow(ctx, `SELECT `+uploadColumns+` FROM uploads WHERE id = $1`, id))
	if err != nil {
		return metadata.Upload{}, notFound(err, "upload %s", id)
	}
	return u, nil
}

func (r *reader) Uploads(ctx context.Context) ([]metadata.Upload, error) {
	rows, err := r.q.Query(ctx, `SELECT `+uploadColumns+` FROM uploads ORDER BY id`)
	return scanAll(rows, err, scanUpload)
}

// imageFilterSQL is the condition an image listing's filter adds to a
// query over images i and their tags t, with its arguments appended to
// args (numbered after them).
func imageFilterSQL(f metadata.ImageFilter, args []any) (string, []any) {
	filter := ""
	if f.Tagged != nil {
		filter = " AND t.tags IS NULL"
		if *f.Tagged {
			filter = " AND t.tags IS NOT NULL"
		}
	}
	switch f.Status {
	case metadata.ImageActive:
		args = append(args, f.Now)
		filter += " AND i.storage_class = 'STANDARD' AND (i.activated_at IS NULL OR i.activated_at <= $" + strconv.Itoa(len(args)) + ")"
	case metadata.ImageArchived:
		filter += " AND i.storage_class = 'ARCHIVE'"
	case metadata.ImageActivating:
		args = append(args, f.Now)
		filter += " AND i.storage_class = 'STANDARD' AND i.activated_at > $" + strconv.Itoa(len(args))
	}
	return filter, args
}

// imagePageSQL is a listing of images i, each joined to its tags (sorted,
// gathered by a probe of the tags' index). A lateral aggregate is
// evaluated per image, in the scan's order, so the LIMIT stops the scan
// (an EXISTS would be planned as a join that reads the repository's tags
// from the first).
const imagePageSQL = `SELECT ` + imageColumns + `, t.tags` + imagePageFrom

// imageIDPageSQL is imagePageSQL for the digests and tags alone.
const imageIDPageSQL = `SELECT i.digest, t.tags` + imagePageFrom

const imagePageFrom = ` FROM images i
		LEFT JOIN LATERAL (SELECT array_agg(t.name ORDER BY t.name) AS tags FROM tags t WHERE t.repo_id = i.repo_id AND t.digest = i.digest) t ON true
		WHERE i.repo_id = $1`

func scanImagePage(rows pgx.Rows, err error) ([]metadata.ImageSummary, error) {
	return scanAll(rows, err, func(sc scanner) (metadata.ImageSummary, error) {
		var s metadata.ImageSummary
		img, err := scanImage(sc, &s.Tags)
		s.Image = img
		return s, err
	})
}

// Images lists a page of images in one index range scan over the images
// in digest order, filtered by whether each has tags: a page costs the
// rows it reads, wherever it starts.
func (r *reader) Images(ctx context.Context, repoID int64, f metadata.ImageFilter, after digest.Digest, limit int) ([]metadata.ImageSummary, error) {
	filter, args := imageFilterSQL(f, []any{repoID, string(after), limit})
	page := imagePageSQL
	if f.IDsOnly {
		page = imageIDPageSQL
	}
	rows, err := r.q.Query(ctx, page+` AND i.digest > $2`+filter+` ORDER BY i.digest LIMIT $3`, args...)
	if f.IDsOnly {
		return scanAll(rows, err, func(sc scanner) (metadata.ImageSummary, error) {
			var s metadata.ImageSummary
			var d string
			err := sc.Scan(&d, &s.Tags)
			s.Digest = digest.Digest(d)
			return s, err
		})
	}
	return scanImagePage(rows, err)
}

// ImagesByPush lists a page of images in push order in one index range
// scan of images_by_push_digest, forwards or backwards from the cursor.
func (r *reader) ImagesByPush(ctx context.Context, repoID int64, f metadata.ImageFilter, newest bool, after metadata.PushCursor, limit int) ([]metadata.ImageSummary, error) {
	cmp, dir := ">", ""
	if newest {
		cmp, dir = "<", " DESC"
	}
	start, args := "", []any{repoID, limit}
	if !after.IsZero() {
		start = " AND (i.pushed_at, i.digest) " + cmp + " ($3, $4)"
		args = append(args, after.PushedAt, string(after.Digest))
	}
	filter, args := imageFilterSQL(f, args)
	rows, err := r.q.Query(ctx, imagePageSQL+start+filter+` ORDER BY i.pushed_at`+dir+`, i.digest`+dir+` LIMIT $2`, args...)
	return scanImagePage(rows, err)
}

func scanAccount(sc scanner) (metadata.Account, error) {
	var (
		a       metadata.Account
		created pgtype.Timestamptz
	)
	err := sc.Scan(&a.ID, &created)
	a.CreatedAt = tm(created)
	return a, err
}

func (r *reader) Account(ctx context.Context, id string) (metadata.Account, error) {
	a, err := scanAccount(r.q.QueryRow(ctx, `SELECT id, created_at FROM accounts WHERE id = $1`, id))
	if err != nil {
		return a, notFound(err, "account %s", id)
	}
	return a, nil
}

func (r *reader) Accounts(ctx context.Context) ([]metadata.Account, error) {
	rows, err := r.q.Query(ctx, `SELECT id, created_at FROM accounts ORDER BY id`)
	return scanAll(rows, err, scanAccount)
}

const accessKeyColumns = `id, account, principal, secret, status, created_at`

func scanAccessKey(sc scanner) (metadata.AccessKey, error) {
	var (
		k       metadata.AccessKey
		created pgtype.Timestamptz
	)
	err := sc.Scan(&k.ID, &k.Account, &k.Principal, &k.Secret, &k.Status, &created)
	k.CreatedAt = tm(created)
	return k, err
}

func (r *reader) AccessKey(ctx context.Context, id string) (metadata.AccessKey, error) {
	k, err := scanAccessKey(r.q.QueryRow(ctx, `SELECT `+accessKeyColumns+` FROM access_keys WHERE id = $1`, id))
	if err != nil {
		return k, notFound(err, "access key %s", id)
	}
	return k, nil
}

func (r *reader) AccessKeys(ctx context.Context, account string) ([]metadata.AccessKey, error) {
	var (
		rows pgx.Rows
		err  error
	)
	if account == "" {
		rows, err = r.q.Query(ctx, `SELECT `+accessKeyColumns+` FROM access_keys ORDER BY id`)
	} else {
		rows, err = r.q.Query(ctx, `SELECT `+accessKeyColumns+` FROM access_keys WHERE account = $1 ORDER BY id`, account)
	}
	return scanAll(rows, err, scanAccessKey)
}

func (r *reader) CreationTemplates(ctx context.Context, scope metadata.Scope) ([]metadata.CreationTemplate, error) {
	rows, err := r.q.Query(ctx, `SELECT prefix, document, created_at, updated_at FROM creation_templates
		WHERE account = $1 AND region = $2 ORDER BY prefix`, scope.Account, scope.Region)
	return scanAll(rows, err, func(sc scanner) (metadata.CreationTemplate, error) {
		t := metadata.CreationTemplate{Scope: scope}
		var (
			doc              string
			created, updated pgtype.Timestamptz
		)
		err := sc.Scan(&t.Prefix, &doc, &created, &updated)
		t.Document, t.CreatedAt, t.UpdatedAt = []byte(doc), tm(created), tm(updated)
		return t, err
	})
}

func (r *reader) AccountSetting(ctx context.Context, scope metadata.Scope, name string) (string, error) {
	var v string
	err := r.q.QueryRow(ctx, `SELECT value FROM account_settings WHERE account = $1 AND region = $2 AND name = $3`,
		scope.Account, scope.Region, name).Scan(&v)
	if err != nil {
		return "", notFound(err, "setting %s", name)
	}
	return v, nil
}

func (r *reader) AccountSettings(ctx context.Context, scope metadata.Scope, prefix string) (map[string]string, error) {
	rows, err := r.q.Query(ctx, `SELECT name, value FROM account_settings WHERE account = $1 AND region = $2 AND substr(name, 1, $3) = $4`,
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

func (r *reader) RegistryPolicy(ctx context.Context, scope metadata.Scope) (string, error) {
	var text string
	err := r.q.QueryRow(ctx, `SELECT text FROM registry_policies WHERE account = $1 AND region = $2`, scope.Account, scope.Region).Scan(&text)
	if err != nil {
		return "", notFound(err, "registry policy of %s in %s", scope.Account, scope.Region)
	}
	return text, nil
}

// writeTx implements metadata.Tx.
type writeTx struct {
	reader
}

func (w *writeTx) CreateAccount(ctx context.Context, a metadata.Account) error {
	tag, err := w.q.Exec(ctx, `INSERT INTO accounts (id, created_at) VALUES ($1, $2) ON CONFLICT (id) DO NOTHING`, a.ID, a.CreatedAt)
	if err == nil && tag.RowsAffected() == 0 {
		return fmt.Errorf("account %s: %w", a.ID, metadata.ErrExists)
	}
	return err
}

func (w *writeTx) PutAccessKey(ctx context.Context, k metadata.AccessKey) error {
	// The account is checked in the statement rather than left to the
	// foreign key, whose violation would abort the transaction.
	return expectOne(w.q.Exec(ctx, `INSERT INTO access_keys (id, account, principal, secret, status, created_at)
		SELECT $1::text, $2::text, $3::text, $4::bytea, $5::text, $6::timestamptz WHERE EXISTS (SELECT 1 FROM accounts WHERE id = $2)
		ON CONFLICT (id) DO UPDATE SET account = excluded.account, principal = excluded.principal, secret = excluded.secret, status = excluded.status`,
		k.ID, k.Account, k.Principal, k.Secret, k.Status, k.CreatedAt))("access key %s names account %s", k.ID, k.Account)
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
	err = w.q.QueryRow(ctx, `INSERT INTO repositories (account, region, name, created_at, settings, tags) VALUES ($1, $2, $3, $4, $5, $6)
		ON CONFLICT (account, region, name) DO NOTHING RETURNING id`,
		repo.Key.Account, repo.Key.Region, repo.Key.Name, repo.CreatedAt, settings, tags).Scan(&repo.ID)
	if errors.Is(err, pgx.ErrNoRows) {
		return repo, fmt.Errorf("repository %s: %w", repo.Key.Name, metadata.ErrExists)
	}
	if err != nil {
		return repo, err
	}
	repo.CreatedAt = stored(repo.CreatedAt)
	return repo, nil
}

func (w *writeTx) UpdateRepository(ctx context.Context, repo metadata.Repository) error {
	settings, tags, err := repoDocuments(repo)
	if err != nil {
		return err
	}
	return expectOne(w.q.Exec(ctx, `UPDATE repositories SET settings = $1, tags = $2 WHERE id = $3`, settings, tags, repo.ID))("repository %s", repo.Key.Name)
}

func (w *writeTx) DeleteRepository(ctx context.Context, repoID int64) error {
	var account, region, name string
	err := w.q.QueryRow(ctx, `DELETE FROM repositories WHERE id = $1 RETURNING account, region, name`, repoID).Scan(&account, &region, &name)
	if err != nil {
		return notFound(err, "repository %d", repoID)
	}
	// Foreign keys delete the rest: images with their tags, references
	// and scans, blob links, lifecycle policy and preview.
	_, err = w.q.Exec(ctx, `DELETE FROM uploads WHERE account = $1 AND region = $2 AND repo = $3`, account, region, name)
	return err
}

func (w *writeTx) PutCreationTemplate(ctx context.Context, t metadata.CreationTemplate) error {
	_, err := w.q.Exec(ctx, `INSERT INTO creation_templates (account, region, prefix, document, created_at, updated_at) VALUES ($1, $2, $3, $4, $5, $6)
		ON CONFLICT (account, region, prefix) DO UPDATE SET document = excluded.document, updated_at = excluded.updated_at`,
		t.Scope.Account, t.Scope.Region, t.Prefix, string(t.Document), t.CreatedAt, t.UpdatedAt)
	return err
}

func (w *writeTx) DeleteCreationTemplate(ctx context.Context, scope metadata.Scope, prefix string) error {
	return expectOne(w.q.Exec(ctx, `DELETE FROM creation_templates WHERE account = $1 AND region = $2 AND prefix = $3`,
		scope.Account, scope.Region, prefix))("creation template %s", prefix)
}

func (w *writeTx) PutRegistryPolicy(ctx context.Context, scope metadata.Scope, text string) error {
	_, err := w.q.Exec(ctx, `INSERT INTO registry_policies (account, region, text) VALUES ($1, $2, $3)
		ON CONFLICT (account, region) DO UPDATE SET text = excluded.text`, scope.Account, scope.Region, text)
	return err
}

func (w *writeTx) DeleteRegistryPolicy(ctx context.Context, scope metadata.Scope) error {
	return expectOne(w.q.Exec(ctx, `DELETE FROM registry_policies WHERE account = $1 AND region = $2`,
		scope.Account, scope.Region))("registry policy of %s in %s", scope.Account, scope.Region)
}

func (w *writeTx) PutAccountSetting(ctx context.Context, scope metadata.Scope, name, value string) error {
	_, err := w.q.Exec(ctx, `INSERT INTO account_settings (account, region, name, value) VALUES ($1, $2, $3, $4)
		ON CONFLICT (account, region, name) DO UPDATE SET value = excluded.value`, scope.Account, scope.Region, name, value)
	return err
}

func (w *writeTx) DeleteAccountSetting(ctx context.Context, scope metadata.Scope, name string) error {
	_, err := w.q.Exec(ctx, `DELETE FROM account_settings WHERE account = $1 AND region = $2 AND name = $3`, scope.Account, scope.Region, name)
	return err
}

func (w *writeTx) LinkBlob(ctx context.Context, repoID int64, b metadata.Blob, now time.Time) error {
	_, err := w.q.Exec(ctx, `INSERT INTO repository_blobs (repo_id, digest, size, linked_at) VALUES ($1, $2, $3, $4)
		ON CONFLICT (repo_id, digest) DO UPDATE SET linked_at = greatest(repository_blobs.linked_at, excluded.linked_at)`,
		repoID, string(b.Digest), b.Size, now)
	return err
}

func (w *writeTx) UnlinkBlob(ctx context.Context, repoID int64, d digest.Digest) error {
	return expectOne(w.q.Exec(ctx, `DELETE FROM repository_blobs WHERE repo_id = $1 AND digest = $2`, repoID, string(d)))("blob %s", d)
}

func (w *writeTx) PutImage(ctx context.Context, img metadata.Image, refs []metadata.Ref) error {
	var annotations *string
	if len(img.Annotations) > 0 {
		b, err := json.Marshal(img.Annotations)
		if err != nil {
			return err
		}
		s := string(b)
		annotations = &s
	}
	var subject *string
	if img.Subject != "" {
		s := string(img.Subject)
		subject = &s
	}
	if _, err := w.q.Exec(ctx, `INSERT INTO images
		(repo_id, digest, media_type, artifact_type, size, image_size, subject, annotations, pushed_at, content)
		VALUES ($1, $2, $3, $4, $5, $6, $7, $8, $9, $10)
		ON CONFLICT (repo_id, digest) DO NOTHING`,
		img.RepoID, string(img.Digest), img.MediaType, img.ArtifactType, img.Size, img.ImageSize, subject, annotations, img.PushedAt, img.Content); err != nil {
		return err
	}
	if len(refs) == 0 {
		return nil
	}
	ds, kinds := make([]string, len(refs)), make([]int16, len(refs))
	for i, ref := range refs {
		ds[i], kinds[i] = string(ref.Digest), int16(ref.Kind)
	}
	_, err := w.q.Exec(ctx, `INSERT INTO image_refs (repo_id, digest, ref, kind)
		SELECT $1::bigint, $2::text, u.ref, u.kind FROM unnest($3::text[], $4::smallint[]) WITH ORDINALITY AS u (ref, kind, n) ORDER BY u.n
		ON CONFLICT DO NOTHING`, img.RepoID, string(img.Digest), ds, kinds)
	return err
}

func (w *writeTx) DeleteImage(ctx context.Context, repoID int64, d digest.Digest) error {
	return expectOne(w.q.Exec(ctx, `DELETE FROM images WHERE repo_id = $1 AND digest = $2`, repoID, string(d)))("manifest %s", d)
}

func (w *writeTx) PutTag(ctx context.Context, repoID int64, tag string, d digest.Digest, now time.Time) error {
	return expectOne(w.q.Exec(ctx, `INSERT INTO tags (repo_id, name, digest, updated_at)
		SELECT $1::bigint, $2::text, $3::text, $4::timestamptz WHERE EXISTS (SELECT 1 FROM images WHERE repo_id = $1 AND digest = $3)
		ON CONFLICT (repo_id, name) DO UPDATE SET digest = excluded.digest, updated_at = excluded.updated_at`,
		repoID, tag, string(d), now))("tag %s points to manifest %s, which is not in the repository", tag, d)
}

func (w *writeTx) DeleteTag(ctx context.Context, repoID int64, tag string) error {
	return expectOne(w.q.Exec(ctx, `DELETE FROM tags WHERE repo_id = $1 AND name = $2`, repoID, tag))("tag %s", tag)
}

func (w *writeTx) PutUpload(ctx context.Context, u metadata.Upload) error {
	_, err := w.q.Exec(ctx, `INSERT INTO uploads (id, account, region, repo, started_at, updated_at, size, hash_state, last_part, finishing)
		VALUES ($1, $2, $3, $4, $5, $6, $7, $8, $9, $10)
		ON CONFLICT (id) DO UPDATE SET updated_at = excluded.updated_at, size = excluded.size, hash_state = excluded.hash_state, last_part = excluded.last_part, finishing = excluded.finishing`,
		u.ID, u.Repo.Account, u.Repo.Region, u.Repo.Name, u.StartedAt, u.UpdatedAt, u.Size, u.HashState, u.LastPart, string(u.Finishing))
	return err
}

func (w *writeTx) DeleteUpload(ctx context.Context, id string) error {
	_, err := w.q.Exec(ctx, `DELETE FROM uploads WHERE id = $1`, id)
	return err
}
