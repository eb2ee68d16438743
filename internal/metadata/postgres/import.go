package postgres

import (
	"context"
	"errors"
	"fmt"
	"strconv"
	"strings"
	"time"
	"unicode/utf8"

	"github.com/jackc/pgx/v5"
	"github.com/opencontainers/go-digest"

	"github.com/ecrd/ecrd/internal/metadata/sqlite"
)

// ImportCounts say what an import did, over every table.
type ImportCounts struct {
	Tables int
	Rows   int // read from the data folder's database
	Added  int // of those, the rows the target did not have yet
}

// kind is how a SQLite column's values become PostgreSQL's.
type kind int

const (
	text      kind = iota // TEXT NOT NULL -> text
	nullText              // TEXT -> text, NULL kept
	bytes                 // BLOB NOT NULL -> bytea
	nullBytes             // BLOB -> bytea, NULL kept (and told from an empty blob)
	integer               // INTEGER -> bigint, integer or smallint
	nanos                 // INTEGER NOT NULL nanoseconds -> timestamptz
	nullNanos             // the same, NULL kept
	zeroNanos             // the same, 0 (the zero time) -> the zero time, year 1
	boolean               // INTEGER 0 or 1 -> boolean
	real                  // REAL NOT NULL -> double precision
)

// column is one column of a copied table: its name in both schemas (the
// SQLite expression that reads it, if another), and its kind.
type column struct {
	name string
	kind kind
	expr string
}

// table says how one table is copied.
type table struct {
	name    string
	columns []column
	// order is the ORDER BY of the read, an index's order (the primary
	// key's, but for images), so that a run reads the rows in the same
	// order as the one before and SQLite does not sort.
	order string
	// check, if set, is run on each row's converted values.
	check func(vals []any) error
}

// importTables are the tables copied, in foreign-key order: a row comes
// after those it names. TestImportCoversTheSchema fails if a table or a
// column of either schema is missing here (or from skippedTables).
var importTables = []table{
	{name: "accounts", order: "id", columns: []column{{"id", text, ""}, {"created_at", nanos, ""}}},
	{name: "access_keys", order: "id", columns: []column{
		{"id", text, ""}, {"account", text, ""}, {"principal", text, ""}, {"secret", bytes, ""}, {"status", text, ""}, {"created_at", nanos, ""}}},
	{name: "iam_entities", order: "account, kind, name_key", columns: []column{
		{"account", text, ""}, {"kind", text, ""}, {"name_key", text, ""}, {"name", text, ""}, {"document", text, ""}}},
	{name: "repositories", order: "id", columns: []column{
		{"id", integer, ""}, {"account", text, ""}, {"region", text, ""}, {"name", text, ""}, {"created_at", nanos, ""},
		{"settings", text, ""}, {"tags", text, ""}}},
	{name: "repository_blobs", order: "repo_id, digest", columns: []column{
		{"repo_id", integer, ""}, {"digest", text, ""}, {"size", integer, ""}, {"linked_at", nanos, ""}}},
	{name: "blobs", order: "digest", columns: []column{
		{"digest", text, ""}, {"size", integer, ""}, {"touched_at", nanos, ""}, {"deleting", boolean, ""}}},
	// seq, which breaks ties between equal push times in push order
	// (SQLite's rowid does), is the image's rank in the order of push
	// time and rowid: PostgreSQL keeps times to the microsecond only, so
	// images pushed within one microsecond keep SQLite's order by seq.
	// The read follows images_by_push, which holds the rowid.
	{name: "images", order: "repo_id, pushed_at, rowid", columns: []column{
		{"repo_id", integer, ""}, {"digest", text, ""},
		{"seq", integer, "row_number() OVER (ORDER BY repo_id, pushed_at, rowid)"},
		{"media_type", text, ""}, {"artifact_type", text, ""}, {"size", integer, ""}, {"image_size", integer, ""},
		{"subject", nullText, ""}, {"annotations", nullText, ""}, {"pushed_at", nanos, ""}, {"last_pulled_at", nullNanos, ""},
		{"storage_class", text, ""}, {"archived_at", nullNanos, ""}, {"activated_at", nullNanos, ""}, {"content", bytes, ""}},
		check: checkManifest},
	{name: "image_refs", order: "repo_id, digest, ref", columns: []column{
		{"repo_id", integer, ""}, {"digest", text, ""}, {"ref", text, ""}, {"kind", integer, ""}}},
	{name: "tags", order: "repo_id, name", columns: []column{
		{"repo_id", integer, ""}, {"name", text, ""}, {"digest", text, ""}, {"updated_at", nanos, ""}}},
	{name: "creation_templates", order: "account, region, prefix", columns: []column{
		{"account", text, ""}, {"region", text, ""}, {"prefix", text, ""}, {"document", text, ""},
		{"created_at", nanos, ""}, {"updated_at", nanos, ""}}},
	{name: "account_settings", order: "account, region, name", columns: []column{
		{"account", text, ""}, {"region", text, ""}, {"name", text, ""}, {"value", text, ""}}},
	{name: "registry_policies", order: "account, region", columns: []column{
		{"account", text, ""}, {"region", text, ""}, {"text", text, ""}}},
	{name: "lifecycle_policies", order: "repo_id", columns: []column{
		{"repo_id", integer, ""}, {"text", text, ""}, {"updated_at", nanos, ""}, {"last_evaluated_at", nullNanos, ""}}},
	{name: "lifecycle_previews", order: "repo_id", columns: []column{
		{"repo_id", integer, ""}, {"text", text, ""}, {"status", text, ""}, {"started_at", nanos, ""},
		{"evaluate_at", nanos, ""}, {"results", nullBytes, ""}}},
	{name: "pull_time_exclusions", order: "account, region, principal", columns: []column{
		{"account", text, ""}, {"region", text, ""}, {"principal", text, ""}, {"created_at", nanos, ""}}},
	// A scan in progress keeps its holder and lease: a replica takes the
	// job over once the lease has run out, as after a crash.
	{name: "image_scans", order: "repo_id, digest", columns: []column{
		{"repo_id", integer, ""}, {"digest", text, ""}, {"status", text, ""}, {"description", text, ""},
		{"requested_at", nanos, ""}, {"attempts", integer, ""}, {"not_before", zeroNanos, ""}, {"holder", text, ""},
		{"lease_until", zeroNanos, ""}, {"completed_at", nullNanos, ""}, {"source_version", text, ""},
		{"source_updated_at", nullNanos, ""}, {"counts", text, ""}, {"findings", nullBytes, ""}, {"packages", nullBytes, ""}}},
	// Replication tasks keep their claims, as scan jobs do; backfills
	// and cursors (positions in the outbox, whose IDs are kept) are
	// copied as they are.
	{name: "replication_tasks", order: "repo_id, digest, dest_account, dest_region", columns: []column{
		{"repo_id", integer, ""}, {"digest", text, ""}, {"dest_account", text, ""}, {"dest_region", text, ""},
		{"status", text, ""}, {"failure_code", text, ""}, {"attempts", integer, ""}, {"not_before", zeroNanos, ""},
		{"holder", text, ""}, {"lease_until", zeroNanos, ""}, {"generation", integer, ""}, {"backfill_id", text, ""},
		{"updated_at", nanos, ""}}},
	{name: "replication_backfills", order: "account, region, id", columns: []column{
		{"account", text, ""}, {"region", text, ""}, {"id", text, ""}, {"started_at", nanos, ""}, {"active", boolean, ""},
		{"document", bytes, ""}}},
	{name: "cursors", order: "name", columns: []column{{"name", text, ""}, {"value", integer, ""}}},
	// The audit trail keeps its order (seq), as the outbox its IDs.
	{name: "audit_events", order: "seq", columns: []column{
		{"seq", integer, ""}, {"event_id", text, ""}, {"account", text, ""}, {"region", text, ""}, {"at", nanos, ""},
		{"event_name", text, ""}, {"event_source", text, ""}, {"username", text, ""}, {"access_key_id", text, ""},
		{"read_only", boolean, ""}, {"resource_type", text, ""}, {"resource_name", text, ""}, {"document", bytes, ""}}},
	{name: "metric_datapoints", order: "account, region, namespace, metric, dimensions, period, period_start", columns: []column{
		{"account", text, ""}, {"region", text, ""}, {"namespace", text, ""}, {"metric", text, ""}, {"dimensions", text, ""},
		{"period", integer, ""}, {"period_start", nanos, ""}, {"sample_sum", real, ""}, {"sample_count", real, ""},
		{"sample_min", real, ""}, {"sample_max", real, ""}}},
	// The outbox keeps its IDs: the history reads the same, and a new
	// event follows every copied one (see advanceSequences).
	{name: "events", order: "id", columns: []column{
		{"id", integer, ""}, {"account", text, ""}, {"region", text, ""}, {"at", nanos, ""}, {"source", text, ""},
		{"type", text, ""}, {"resource", text, ""}, {"document", bytes, ""}}},
}

// skippedTables are the tables of the SQLite schema that are not copied,
// and why.
var skippedTables = map[string]string{
	// A lease is held by a process of the old server, which is stopped:
	// the replicas take the leases afresh.
	"leases": "held by processes of the stopped server",
	// An upload session's bytes are a file in the data folder's uploads/,
	// which the blob copy leaves behind (it copies finished blobs): a
	// client whose upload is unknown starts it again.
	"uploads": "upload sessions: their partial bytes stay in the data folder",
	// SQLite's own record of AUTOINCREMENT counters: the events' counter
	// moves the events sequence instead (see advanceSequences).
	"sqlite_sequence": "SQLite's counters, which set the events sequence",
}

// ImportSQLite copies the embedded metadata database at path (an ecrd
// data folder's ecrd.db) into the store: every table in foreign-key
// order, converting types, in batches that are committed as they go.
// Each batch inserts with ON CONFLICT DO NOTHING, so a run after an
// interruption, or after a run that finished, skips the rows that are
// there and adds the rest: the import is idempotent and resumable. Then
// it moves the identity sequences (repositories, images, events) past
// the copied values, and checks that every table holds as many rows as
// the source.
//
// The database must be of this ecrd's schema version and not in use (the
// server stopped): it is read in one transaction holding it exclusively,
// and never written (see sqlite.OpenExport). The store must be empty, or
// hold a previous import of the same database: an import refuses a store
// that holds accounts, access keys, repositories or events the database
// does not (a replica already ran on it).
//
// Secrets (access keys' secrets, KMS key material) are copied sealed as
// they are: the replicas must run with the server keys of the data
// folder. progress, if not nil, is told after each batch how many rows
// of a table are done.
func (s *Store) ImportSQLite(ctx context.Context, path string, progress func(table string, rows int)) (ImportCounts, error) {
	var counts ImportCounts
	src, err := sqlite.OpenExport(ctx, path)
	if err != nil {
		return counts, err
	}
	defer src.Close()
	if err := s.checkTarget(ctx, src); err != nil {
		return counts, err
	}
	for _, t := range importTables {
		rows, added, err := s.importTable(ctx, src, t, progress)
		counts.Tables++
		counts.Rows += rows
		counts.Added += added
		if err != nil {
			return counts, fmt.Errorf("copying table %s: %w", t.name, err)
		}
	}
	if err := s.advanceSequences(ctx, src); err != nil {
		return counts, err
	}
	return counts, s.checkCounts(ctx, src)
}

// importBatchBytes bounds the bytes of one batch (manifests and scan
// results can be large), and importBatchRows its rows.
const (
	importBatchBytes = 4 << 20
	importBatchRows  = 1000
)

// importTable copies one table and returns how many rows it read and
// how many of them the store did not have.
func (s *Store) importTable(ctx context.Context, src *sqlite.Export, t table, progress func(string, int)) (read, added int, err error) {
	exprs := make([]string, len(t.columns))
	for i, c := range t.columns {
		exprs[i] = c.name
		if c.expr != "" {
			exprs[i] = c.expr
		}
	}
	rows, err := src.Query(ctx, `SELECT `+strings.Join(exprs, ", ")+` FROM `+t.name+` ORDER BY `+t.order)
	if err != nil {
		return 0, 0, err
	}
	defer rows.Close()
	perBatch := min(importBatchRows, 65535/len(t.columns))
	var (
		batch [][]any
		size  int
	)
	flush := func() error {
		if len(batch) == 0 {
			return nil
		}
		n, err := s.insertRows(ctx, t, batch)
		if err != nil {
			return err
		}
		read += len(batch)
		added += n
		batch, size = batch[:0], 0
		if progress != nil {
			progress(t.name, read)
		}
		return nil
	}
	raw := make([]any, len(t.columns))
	dest := make([]any, len(t.columns))
	for i := range raw {
		dest[i] = &raw[i]
	}
	for rows.Next() {
		if err := rows.Scan(dest...); err != nil {
			return read, added, err
		}
		vals, n, err := convertRow(t, raw)
		if err != nil {
			return read, added, err
		}
		if t.check != nil {
			if err := t.check(vals); err != nil {
				return read, added, err
			}
		}
		batch = append(batch, vals)
		size += n
		if len(batch) == perBatch || size >= importBatchBytes {
			if err := flush(); err != nil {
				return read, added, err
			}
		}
	}
	if err := rows.Err(); err != nil {
		return read, added, err
	}
	if err := flush(); err != nil {
		return read, added, err
	}
	if read == 0 && progress != nil {
		progress(t.name, 0)
	}
	return read, added, nil
}

// insertRows inserts a batch in one statement (committed on its own),
// skipping rows whose key the table holds, and returns how many it
// inserted.
func (s *Store) insertRows(ctx context.Context, t table, batch [][]any) (int, error) {
	names := make([]string, len(t.columns))
	for i, c := range t.columns {
		names[i] = c.name
	}
	var (
		q    strings.Builder
		args = make([]any, 0, len(batch)*len(t.columns))
	)
	q.WriteString("INSERT INTO " + t.name + " (" + strings.Join(names, ", ") + ") VALUES ")
	for i, row := range batch {
		if i > 0 {
			q.WriteString(", ")
		}
		q.WriteByte('(')
		for j, v := range row {
			if j > 0 {
				q.WriteString(", ")
			}
			args = append(args, v)
			q.WriteString("$" + strconv.Itoa(len(args)))
		}
		q.WriteByte(')')
	}
	q.WriteString(" ON CONFLICT DO NOTHING")
	tag, err := s.wpool.Exec(ctx, q.String(), args...)
	if err != nil {
		return 0, noSpace(err)
	}
	return int(tag.RowsAffected()), nil
}

// convertRow turns a row as SQLite gives it into PostgreSQL's values, and
// returns about how many bytes it holds.
func convertRow(t table, raw []any) ([]any, int, error) {
	vals := make([]any, len(raw))
	size := 0
	for i, v := range raw {
		c := t.columns[i]
		out, err := convert(c.kind, v)
		if err != nil {
			return nil, 0, fmt.Errorf("column %s: %w", c.name, err)
		}
		switch x := out.(type) {
		case string:
			size += len(x)
		case []byte:
			size += len(x)
		default:
			size += 8
		}
		vals[i] = out
	}
	return vals, size, nil
}

// convert turns one SQLite value into the PostgreSQL value of its kind.
// SQLite gives NULL as nil, and an empty blob as a nil []byte, which is
// not NULL.
func convert(k kind, v any) (any, error) {
	if v == nil {
		switch k {
		case nullText, nullBytes, nullNanos:
			return nil, nil
		}
		return nil, errors.New("NULL where a value is required")
	}
	switch k {
	case text, nullText:
		var s string
		switch x := v.(type) {
		case string:
			s = x
		case []byte:
			s = string(x)
		default:
			return nil, fmt.Errorf("%T where text is expected", v)
		}
		if !utf8.ValidString(s) || strings.IndexByte(s, 0) >= 0 {
			return nil, errors.New("text that is not valid UTF-8 or holds a NUL byte, which PostgreSQL cannot store")
		}
		return s, nil
	case bytes, nullBytes:
		switch x := v.(type) {
		case []byte:
			if x == nil {
				return []byte{}, nil
			}
			return x, nil
		case string:
			return []byte(x), nil
		}
		return nil, fmt.Errorf("%T where bytes are expected", v)
	}
	if k == real {
		switch x := v.(type) {
		case float64:
			return x, nil
		case int64: // SQLite stores a whole REAL as an integer
			return float64(x), nil
		}
		return nil, fmt.Errorf("%T where a number is expected", v)
	}
	n, ok := v.(int64)
	if !ok {
		return nil, fmt.Errorf("%T where an integer is expected", v)
	}
	switch k {
	case integer:
		return n, nil
	case boolean:
		return n != 0, nil
	case zeroNanos:
		if n == 0 {
			return time.Time{}, nil
		}
	}
	return time.Unix(0, n).UTC(), nil
}

// checkManifest verifies that an image's content is what its digest
// names: what the registry serves for the digest after the move.
func checkManifest(vals []any) error {
	d, err := digest.Parse(vals[1].(string))
	if err != nil {
		return fmt.Errorf("image %s: %w", vals[1], err)
	}
	v := d.Verifier()
	v.Write(vals[len(vals)-1].([]byte))
	if !v.Verified() {
		return fmt.Errorf("image %s of repository %d: its stored manifest does not match its digest: the database is damaged", d, vals[0])
	}
	return nil
}

// checkTarget refuses a store that holds what the database does not: the
// records of a registry that ran on it, which the import would mix with
// the database's (their repository IDs would collide).
func (s *Store) checkTarget(ctx context.Context, src *sqlite.Export) error {
	// Accounts, access keys and repositories are few: each of the
	// target's must be the database's.
	const repoKey = `id || ' (' || account || '/' || region || '/' || name || ')'`
	for _, c := range []struct{ what, key, table string }{
		{"account", "id", "accounts"},
		{"access key", "id", "access_keys"},
		{"repository", repoKey, "repositories"},
	} {
		have, err := src.Strings(ctx, `SELECT `+c.key+` FROM `+c.table)
		if err != nil {
			return err
		}
		known := make(map[string]bool, len(have))
		for _, k := range have {
			known[k] = true
		}
		rows, err := s.rpool.Query(ctx, `SELECT `+c.key+` FROM `+c.table)
		keys, err := scanAll(rows, err, scanString)
		if err != nil {
			return err
		}
		for _, k := range keys {
			if !known[k] {
				return fmt.Errorf("the target database holds %s %s, which the data folder does not: a registry ran on it; import into a new, empty database", c.what, k)
			}
		}
	}
	// The events are copied in ID order, a batch at a time: the target's
	// newest must be the database's event of that ID.
	const eventKey = `id || ' ' || type || ' ' || resource`
	var newest string
	err := s.rpool.QueryRow(ctx, `SELECT `+eventKey+` FROM events ORDER BY id DESC LIMIT 1`).Scan(&newest)
	if errors.Is(err, pgx.ErrNoRows) {
		return nil
	}
	if err != nil {
		return err
	}
	id, _, _ := strings.Cut(newest, " ")
	same, err := src.Strings(ctx, `SELECT `+eventKey+` FROM events WHERE id = ?`, id)
	if err != nil {
		return err
	}
	if len(same) != 1 || same[0] != newest {
		return fmt.Errorf("the target database holds event %s, which the data folder does not: a registry ran on it; import into a new, empty database", newest)
	}
	return nil
}

// advanceSequences moves the identity sequences past the copied values,
// never back: a repository, image or event made after the import gets a
// new ID (or seq) above them. The events' sequence also passes SQLite's
// AUTOINCREMENT counter, the largest ID it ever gave, so that an ID is
// never given twice even if the newest events were pruned.
func (s *Store) advanceSequences(ctx context.Context, src *sqlite.Export) error {
	var eventCounter int64
	err := src.QueryRow(ctx, `SELECT coalesce(max(seq), 0) FROM sqlite_sequence WHERE name = 'events'`).Scan(&eventCounter)
	if err != nil {
		return fmt.Errorf("reading the events' counter: %w", err)
	}
	for _, seq := range []struct {
		table, column string
		atLeast       int64
	}{
		{"repositories", "id", 0},
		{"images", "seq", 0},
		{"events", "id", eventCounter},
		{"audit_events", "seq", 0},
	} {
		var (
			name     string
			last     int64
			called   bool
			maxValue int64
		)
		if err := s.wpool.QueryRow(ctx, `SELECT pg_get_serial_sequence($1, $2)`, seq.table, seq.column).Scan(&name); err != nil {
			return fmt.Errorf("the sequence of %s.%s: %w", seq.table, seq.column, err)
		}
		if err := s.wpool.QueryRow(ctx, `SELECT last_value, is_called FROM `+name).Scan(&last, &called); err != nil {
			return err
		}
		if err := s.wpool.QueryRow(ctx, `SELECT coalesce(max(`+seq.column+`), 0) FROM `+seq.table).Scan(&maxValue); err != nil {
			return err
		}
		used := last
		if !called {
			used = last - 1
		}
		if target := max(maxValue, seq.atLeast); target > used {
			if _, err := s.wpool.Exec(ctx, `SELECT setval($1::regclass, $2, true)`, name, target); err != nil {
				return fmt.Errorf("moving the sequence of %s.%s: %w", seq.table, seq.column, err)
			}
		}
	}
	return nil
}

// checkCounts verifies that every copied table holds as many rows as the
// database's: a row the import skipped for a conflict on another key
// than the one it was read by would show here.
func (s *Store) checkCounts(ctx context.Context, src *sqlite.Export) error {
	for _, t := range importTables {
		var want, got int64
		if err := src.QueryRow(ctx, `SELECT count(*) FROM `+t.name).Scan(&want); err != nil {
			return err
		}
		if err := s.wpool.QueryRow(ctx, `SELECT count(*) FROM `+t.name).Scan(&got); err != nil {
			return err
		}
		if got != want {
			return fmt.Errorf("after the copy, table %s holds %d rows, the data folder's %d: the target database holds other records; import into a new, empty database", t.name, got, want)
		}
	}
	return nil
}
