package main

import (
	"context"
	"errors"
	"fmt"
	"io"
	"net/url"
	"os"
	"os/signal"
	"path/filepath"
	"strings"
	"syscall"
	"time"

	"github.com/ecrd/ecrd/internal/blobstore"
	"github.com/ecrd/ecrd/internal/blobstore/filesystem"
	"github.com/ecrd/ecrd/internal/blobstore/s3store"
	"github.com/ecrd/ecrd/internal/config"
	"github.com/ecrd/ecrd/internal/keyring"
	"github.com/ecrd/ecrd/internal/metadata/postgres"
	"github.com/ecrd/ecrd/internal/metadata/sqlite"
	"github.com/ecrd/ecrd/internal/storecopy"
)

var migrateCmd = command{
	name:    "migrate",
	summary: "copy a data folder into PostgreSQL and S3, to run replicas on them",
	about: `Copies what a data folder holds into the stores replicas share: the blobs
into an S3 bucket (--to-blobs), then the metadata database into
PostgreSQL (--to-metadata): images, tags, repository settings and
policies, accounts, access keys, IAM users, roles and policies, KMS keys,
scan results, lifecycle policies and the event history. Each blob is
verified against its digest, and read back from the bucket, before it
counts; each manifest is verified against its digest.

Stop the server first: migrate refuses a data folder whose database a
server has open, and holds it while it runs. Run it again after an
interruption, or to check: what the targets hold is skipped, the rest is
copied. The database must be new, or hold an earlier migrate of this data
folder; the bucket may already hold some of its blobs.

Give one target to move one half: --to-blobs alone leaves the metadata in
the data folder (one server, with --blobs); --to-metadata alone leaves
the blobs there (one server, with --metadata). Replicas need both.

The secrets in the database (access keys, KMS key material) and encrypted
blobs are copied sealed under the data folder's server keys: every
replica must run with those same keys (--server-key-file, or
ECRD_SERVER_KEY, as ecrd serve takes them; default <data>/server.key).
Progress goes to stderr; the summary, and how to start replicas, to
stdout.`,
}

// migrateProgressEvery is how often progress is printed, at most.
const migrateProgressEvery = 2 * time.Second

// migrate runs the migrate command.
func migrate(args []string, stdout, stderr io.Writer) int {
	fs := migrateCmd.flagSet()
	dataDir := fs.String("data", envOr("ECRD_DATA", config.DefaultDataDir()), "data folder (env ECRD_DATA)")
	keyFile := fs.String("server-key-file", os.Getenv("ECRD_SERVER_KEY_FILE"), "the data folder's server key file (env ECRD_SERVER_KEY_FILE; default <data>/server.key; ECRD_SERVER_KEY may hold the keys instead)")
	toMeta := fs.String("to-metadata", "", "the PostgreSQL database to copy the metadata into: postgres://user[:password]@host:port/db?sslmode=...")
	toBlobs := fs.String("to-blobs", "", "the S3 bucket to copy the blobs into: s3://BUCKET[/PREFIX]?endpoint=URL&region=REGION&force-path-style=true")
	rest, status, ok := migrateCmd.parse(fs, args, stdout, stderr)
	if !ok {
		return status
	}
	if !migrateCmd.noArgs(fs, rest, stderr) {
		return 2
	}
	if *toMeta == "" && *toBlobs == "" {
		fmt.Fprint(stderr, "ecrd migrate: give --to-metadata, --to-blobs or both\n\n")
		migrateCmd.usage(stderr, fs)
		return 2
	}
	ctx, stop := signal.NotifyContext(context.Background(), syscall.SIGTERM, syscall.SIGINT)
	defer stop()
	m := migration{dataDir: *dataDir, keyFile: *keyFile, toMeta: *toMeta, toBlobs: *toBlobs, stdout: stdout, stderr: stderr}
	if err := m.run(ctx); err != nil {
		if ctx.Err() != nil {
			err = errors.New("interrupted: run it again to go on where it stopped")
		}
		fmt.Fprintf(stderr, "ecrd migrate: %v\n", oneLine(err))
		return 1
	}
	return 0
}

// oneLine keeps an error on one line.
func oneLine(err error) string {
	return strings.Join(strings.Fields(err.Error()), " ")
}

// migration is one run of ecrd migrate.
type migration struct {
	dataDir, keyFile string
	toMeta, toBlobs  string
	stdout, stderr   io.Writer

	keys        *keyring.Keyring
	keysFrom    string // how the keys were given, for the reminder
	blobCounts  storecopy.Counts
	metaCounts  postgres.ImportCounts
	blobsCopied bool
}

func (m *migration) run(ctx context.Context) error {
	if err := m.loadKeys(); err != nil {
		return err
	}
	// The database is held from here until the metadata import takes it
	// over: no server can start on the data folder meanwhile and add
	// blobs or records the copy would miss.
	dbPath := filepath.Join(m.dataDir, "ecrd.db")
	src, err := sqlite.OpenExport(ctx, dbPath)
	if errors.Is(err, os.ErrNotExist) {
		return fmt.Errorf("%s holds no ecrd database (ecrd.db): is it a data folder? (--data, ECRD_DATA)", m.dataDir)
	}
	if err != nil {
		return fmt.Errorf("the data folder's database: %w", err)
	}
	held := true
	defer func() {
		if held {
			src.Close()
		}
	}()
	if err := m.checkKeys(ctx, src); err != nil {
		return err
	}
	// Both targets are opened first, so that one that cannot be reached
	// fails the run before anything is copied.
	var target *postgres.Store
	if m.toMeta != "" {
		if target, err = postgres.Open(ctx, m.toMeta); err != nil {
			return fmt.Errorf("the target database: %w", err)
		}
		defer target.Close()
	}
	if m.toBlobs != "" {
		dst, err := s3store.Open(ctx, m.toBlobs)
		if err != nil {
			return fmt.Errorf("the target bucket: %w", err)
		}
		defer dst.Close()
		if err := m.copyBlobs(ctx, dst); err != nil {
			return err
		}
	}
	if target != nil {
		// The import opens the database itself, holding it the same way.
		src.Close()
		held = false
		if err := m.copyMetadata(ctx, target, dbPath); err != nil {
			return err
		}
	}
	m.summary()
	return nil
}

// loadKeys reads the data folder's server keys: ECRD_SERVER_KEY, else the
// key file, which must exist (a new key would open nothing).
func (m *migration) loadKeys() error {
	if v := os.Getenv("ECRD_SERVER_KEY"); v != "" {
		k, err := keyring.Parse(v)
		if err != nil {
			return fmt.Errorf("ECRD_SERVER_KEY: %w", err)
		}
		m.keys, m.keysFrom = k, "ECRD_SERVER_KEY"
		return nil
	}
	path := m.keyFile
	if path == "" {
		path = filepath.Join(m.dataDir, "server.key")
	}
	b, err := os.ReadFile(path)
	if err != nil {
		return fmt.Errorf("reading the data folder's server keys: %w (give --server-key-file or ECRD_SERVER_KEY)", err)
	}
	k, err := keyring.Parse(string(b))
	if err != nil {
		return fmt.Errorf("server key file %s: %w", path, err)
	}
	m.keys, m.keysFrom = k, path
	return nil
}

// checkKeys makes sure the keys are the data folder's: they must open the
// access keys' secrets, sealed under them. Copying with other keys would
// give replicas a database whose secrets none can read.
func (m *migration) checkKeys(ctx context.Context, src *sqlite.Export) error {
	keys, err := src.AccessKeys(ctx, "")
	if err != nil {
		return fmt.Errorf("reading the access keys: %w", err)
	}
	opened := 0
	for _, k := range keys {
		if _, err := m.keys.Open(k.Secret, []byte(k.ID)); err == nil {
			opened++
		}
	}
	if len(keys) > 0 && opened == 0 {
		return fmt.Errorf("the server keys of %s (key %s) open none of the data folder's %d access keys: give the keys the data folder's server ran with", m.keysFrom, m.keys.PrimaryID(), len(keys))
	}
	if opened < len(keys) {
		fmt.Fprintf(m.stderr, "warning: %d of the data folder's %d access keys cannot be opened with these server keys; they are copied as they are\n", len(keys)-opened, len(keys))
	}
	return nil
}

func (m *migration) copyBlobs(ctx context.Context, dst blobstore.Store) error {
	src, err := filesystem.New(m.dataDir)
	if err != nil {
		return err
	}
	defer src.Close()
	fmt.Fprintf(m.stderr, "blobs: copying %s into %s\n", m.dataDir, redact(m.toBlobs))
	var seen storecopy.Counts
	last := time.Now()
	line := func(c storecopy.Counts) string {
		return fmt.Sprintf("blobs: %d copied, %d already there, %s", c.Copied, c.Skipped, byteSize(c.Bytes))
	}
	c, err := storecopy.Blobs(ctx, src, dst, func(_ string, b blobstore.BlobInfo, copied bool) {
		if copied {
			seen.Copied++
			seen.Bytes += b.Size
		} else {
			seen.Skipped++
		}
		if time.Since(last) >= migrateProgressEvery {
			fmt.Fprintln(m.stderr, line(seen))
			last = time.Now()
		}
	})
	fmt.Fprintln(m.stderr, line(c))
	if err != nil {
		return fmt.Errorf("copying the blobs: %w", err)
	}
	m.blobCounts, m.blobsCopied = c, true
	return nil
}

func (m *migration) copyMetadata(ctx context.Context, target *postgres.Store, dbPath string) error {
	fmt.Fprintf(m.stderr, "metadata: copying %s into %s\n", dbPath, redact(m.toMeta))
	var (
		table string
		rows  int
		last  = time.Now()
	)
	done := func() {
		if table != "" {
			fmt.Fprintf(m.stderr, "metadata: %s: %s\n", table, plural(rows, "row"))
		}
	}
	counts, err := target.ImportSQLite(ctx, dbPath, func(t string, n int) {
		if t != table {
			done()
			table, last = t, time.Now()
		}
		rows = n
		if time.Since(last) >= migrateProgressEvery {
			fmt.Fprintf(m.stderr, "metadata: %s: %s so far\n", table, plural(rows, "row"))
			last = time.Now()
		}
	})
	if err != nil {
		return fmt.Errorf("copying the metadata: %w", err)
	}
	done()
	m.metaCounts = counts
	return nil
}

// summary prints what was copied, and how to run replicas on it.
func (m *migration) summary() {
	w := m.stdout
	fmt.Fprintf(w, "Migrated the data folder %s.\n", m.dataDir)
	if m.blobsCopied {
		c := m.blobCounts
		fmt.Fprintf(w, "  blobs:    %d copied (%s), %d already there, into %s\n", c.Copied, byteSize(c.Bytes), c.Skipped, redact(m.toBlobs))
	} else {
		fmt.Fprintln(w, "  blobs:    not copied (no --to-blobs): they stay in the data folder")
	}
	if m.toMeta != "" {
		c := m.metaCounts
		fmt.Fprintf(w, "  metadata: %d rows of %d tables, %d of them new, into %s\n", c.Rows, c.Tables, c.Added, redact(m.toMeta))
	} else {
		fmt.Fprintln(w, "  metadata: not copied (no --to-metadata): it stays in the data folder")
	}
	fmt.Fprintf(w, `
The copied secrets (access keys, KMS key material) and encrypted blobs are
sealed under the data folder's server keys (primary key %s, from %s).
Every replica must run with these same keys, or it cannot read them: give
each one the key file (--server-key-file, a copy kept secret) or its key
lines in ECRD_SERVER_KEY (comma-separated). Do not make new keys.
`, m.keys.PrimaryID(), m.keysFrom)
	var flags []string
	if m.toMeta != "" {
		flags = append(flags, "--metadata '"+redact(m.toMeta)+"'")
	}
	if m.toBlobs != "" {
		flags = append(flags, "--blobs '"+m.toBlobs+"'")
	}
	fmt.Fprintf(w, "\nStart the replicas (a scratch --data each) with:\n  ecrd serve %s --server-key-file SERVER_KEY_FILE\n", strings.Join(flags, " "))
	switch {
	case m.toMeta == "":
		fmt.Fprintf(w, "and --data %s: the metadata is still there, so run one server only.\n", m.dataDir)
	case m.toBlobs == "":
		fmt.Fprintf(w, "and --data %s: the blobs are still there, so run one server only.\n", m.dataDir)
	default:
		fmt.Fprintln(w, "Keep the data folder, unused, as a backup: a server started on it again would diverge from the copy.")
	}
}

// plural is n things.
func plural(n int, thing string) string {
	if n == 1 {
		return "1 " + thing
	}
	return fmt.Sprintf("%d %ss", n, thing)
}

// redact hides a URL's password.
func redact(raw string) string {
	u, err := url.Parse(raw)
	if err != nil {
		return "(the URL given)"
	}
	return u.Redacted()
}

// byteSize formats a size in bytes with a decimal unit.
func byteSize(n int64) string {
	const unit = 1000
	if n < unit {
		return fmt.Sprintf("%d B", n)
	}
	div, exp := int64(unit), 0
	for v := n / unit; v >= unit; v /= unit {
		div *= unit
		exp++
	}
	return fmt.Sprintf("%.1f %cB", float64(n)/float64(div), "kMGTPE"[exp])
}
