package sqlite

import (
	"context"
	"database/sql"
	"errors"
	"fmt"
	"net/url"
	"os"

	"modernc.org/sqlite"
	sqlite3 "modernc.org/sqlite/lib"

	"github.com/ecrd/ecrd/internal/metadata"
)

// SchemaVersion is the schema version this ecrd brings a database to.
func SchemaVersion() int { return len(migrations) }

// ErrInUse: another process (a server) has the database open.
var ErrInUse = errors.New("in use by another process (is an ecrd server running on it?): stop it first")

// Export is one consistent read of a database, for copying it into another
// store (ecrd migrate). It holds the database exclusively until Close, so
// that no server can open the data folder and change it meanwhile, and it
// never writes: it is metadata.Reader over one read transaction, and
// reads tables row by row through Query.
type Export struct {
	reader
	db *sql.DB
	tx *sql.Tx
}

var _ metadata.Reader = (*Export)(nil)

// OpenExport opens the database at path for reading only. It fails with
// ErrInUse if another process has it open: in WAL mode every connection
// holds a shared lock on the file as long as it is open, and the
// exclusive locking mode asks for an exclusive one (busy_timeout bounds
// the wait). It refuses a database whose schema is not the one this
// binary writes (older: a server of this version upgrades it at start;
// newer: it needs a newer ecrd), so that what it reads means what the
// code says.
func OpenExport(ctx context.Context, path string) (*Export, error) {
	if _, err := os.Stat(path); err != nil {
		return nil, fmt.Errorf("opening the metadata database: %w", err)
	}
	q := url.Values{}
	for _, p := range []string{"busy_timeout(1000)", "locking_mode(EXCLUSIVE)", "query_only(1)"} {
		q.Add("_pragma", p)
	}
	q.Set("mode", "rw") // never create it
	db, err := sql.Open("sqlite", "file:"+path+"?"+q.Encode())
	if err != nil {
		return nil, err
	}
	// One connection: the lock is the connection's, and the transaction
	// is on it.
	db.SetMaxOpenConns(1)
	db.SetMaxIdleConns(1)
	db.SetConnMaxLifetime(0)
	e := &Export{db: db}
	if err := e.open(ctx); err != nil {
		db.Close()
		return nil, err
	}
	return e, nil
}

func (e *Export) open(ctx context.Context) error {
	var version int
	if err := e.db.QueryRowContext(ctx, "PRAGMA user_version").Scan(&version); err != nil {
		return inUse(fmt.Errorf("reading the metadata database: %w", err))
	}
	// The first read took the lock if it read the schema; this one does.
	if _, err := e.db.ExecContext(ctx, "SELECT count(*) FROM sqlite_master"); err != nil {
		return inUse(fmt.Errorf("reading the metadata database: %w", err))
	}
	switch {
	case version < SchemaVersion():
		return fmt.Errorf("the metadata database has schema version %d, older than this ecrd's (%d): start ecrd once on the data folder to upgrade it", version, SchemaVersion())
	case version > SchemaVersion():
		return fmt.Errorf("the metadata database has schema version %d, newer than this ecrd knows (%d): run a newer ecrd", version, SchemaVersion())
	}
	stmts, err := prepare(ctx, e.db)
	if err != nil {
		return inUse(fmt.Errorf("preparing statements: %w", err))
	}
	tx, err := e.db.BeginTx(ctx, &sql.TxOptions{ReadOnly: true})
	if err != nil {
		return inUse(err)
	}
	e.tx = tx
	e.reader = reader{q: tx, stmts: stmts, tx: tx}
	return nil
}

// inUse turns SQLite's "database is locked" into ErrInUse.
func inUse(err error) error {
	var se *sqlite.Error
	if errors.As(err, &se) && se.Code()&0xff == sqlite3.SQLITE_BUSY {
		return ErrInUse
	}
	return err
}

// Tables lists the database's tables (SQLite's own sqlite_sequence
// included), in name order.
func (e *Export) Tables(ctx context.Context) ([]string, error) {
	rows, err := e.tx.QueryContext(ctx, `SELECT name FROM sqlite_master WHERE type = 'table' ORDER BY name`)
	if err != nil {
		return nil, err
	}
	return scanStrings(rows)
}

// Query runs a query in the export's transaction.
func (e *Export) Query(ctx context.Context, query string, args ...any) (*sql.Rows, error) {
	return e.tx.QueryContext(ctx, query, args...)
}

// QueryRow runs a query of one row in the export's transaction.
func (e *Export) QueryRow(ctx context.Context, query string, args ...any) *sql.Row {
	return e.tx.QueryRowContext(ctx, query, args...)
}

// Strings runs a query of one text column and returns its values.
func (e *Export) Strings(ctx context.Context, query string, args ...any) ([]string, error) {
	rows, err := e.tx.QueryContext(ctx, query, args...)
	if err != nil {
		return nil, err
	}
	return scanStrings(rows)
}

// Close ends the read and frees the database.
func (e *Export) Close() error {
	if e.tx != nil {
		e.tx.Rollback()
	}
	return e.db.Close()
}
