package postgres

import (
	"context"
	"errors"
	"fmt"
	"strings"
	"unicode/utf8"

	"github.com/jackc/pgx/v5"
	"github.com/jackc/pgx/v5/pgconn"
	"github.com/jackc/pgx/v5/pgtype"

	"github.com/ecrd/ecrd/internal/metadata"
)

// querier is what a pool and a transaction share.
type querier interface {
	Exec(ctx context.Context, sql string, args ...any) (pgconn.CommandTag, error)
	Query(ctx context.Context, sql string, args ...any) (pgx.Rows, error)
	QueryRow(ctx context.Context, sql string, args ...any) pgx.Row
}

// db runs the store's statements on a pool or in a transaction. It does
// two things on the way:
//
//   - A statement whose text argument PostgreSQL's text type cannot hold
//     (invalid UTF-8, or a NUL byte) is not sent: nothing stored can
//     match such a key, so a lookup finds nothing and a write fails. Sent,
//     it would fail, and a failed statement aborts the transaction it
//     runs in, which must stay usable after a lookup that found nothing.
//   - In a transaction it notes the first failure that calls for a retry
//     (a serialization failure or a deadlock), even if the function
//     running the transaction drops the error: the transaction is aborted
//     then and must run again.
type db struct {
	q querier
	// failed, in a transaction, is the first retryable failure.
	failed *error
}

// errBadText: an argument is not text PostgreSQL can hold.
var errBadText = errors.New("text is not valid UTF-8 or holds a NUL byte")

// checkArgs returns errBadText if a string argument cannot be stored.
func checkArgs(args []any) error {
	bad := func(s string) bool { return !utf8.ValidString(s) || strings.IndexByte(s, 0) >= 0 }
	for _, a := range args {
		switch v := a.(type) {
		case string:
			if bad(v) {
				return errBadText
			}
		case []string:
			for _, s := range v {
				if bad(s) {
					return errBadText
				}
			}
		}
	}
	return nil
}

func (d db) note(err error) {
	if d.failed != nil && *d.failed == nil && retryable(err) {
		*d.failed = err
	}
}

func (d db) Exec(ctx context.Context, sql string, args ...any) (pgconn.CommandTag, error) {
	if err := checkArgs(args); err != nil {
		return pgconn.CommandTag{}, err
	}
	tag, err := d.q.Exec(ctx, sql, args...)
	d.note(err)
	return tag, err
}

func (d db) Query(ctx context.Context, sql string, args ...any) (pgx.Rows, error) {
	if err := checkArgs(args); err != nil {
		return emptyRows{}, nil
	}
	rows, err := d.q.Query(ctx, sql, args...)
	d.note(err)
	if err != nil {
		return nil, err
	}
	return notingRows{rows, d}, nil
}

func (d db) QueryRow(ctx context.Context, sql string, args ...any) pgx.Row {
	if err := checkArgs(args); err != nil {
		return errRow{pgx.ErrNoRows}
	}
	return notingRow{d.q.QueryRow(ctx, sql, args...), d}
}

// notingRows notes a failure met while reading rows.
type notingRows struct {
	pgx.Rows
	d db
}

func (r notingRows) Err() error {
	err := r.Rows.Err()
	r.d.note(err)
	return err
}

func (r notingRows) Scan(dest ...any) error {
	err := r.Rows.Scan(dest...)
	r.d.note(err)
	return err
}

type notingRow struct {
	row pgx.Row
	d   db
}

func (r notingRow) Scan(dest ...any) error {
	err := r.row.Scan(dest...)
	r.d.note(err)
	return err
}

type errRow struct{ err error }

func (r errRow) Scan(...any) error { return r.err }

// emptyRows is a result without rows.
type emptyRows struct{}

func (emptyRows) Close()                                       {}
func (emptyRows) Err() error                                   { return nil }
func (emptyRows) CommandTag() pgconn.CommandTag                { return pgconn.CommandTag{} }
func (emptyRows) FieldDescriptions() []pgconn.FieldDescription { return nil }
func (emptyRows) Next() bool                                   { return false }
func (emptyRows) Scan(...any) error                            { return errors.New("no row") }
func (emptyRows) Values() ([]any, error)                       { return nil, errors.New("no row") }
func (emptyRows) RawValues() [][]byte                          { return nil }
func (emptyRows) Conn() *pgx.Conn                              { return nil }
func (emptyRows) TypeMap() *pgtype.Map                         { return nil }

// PostgreSQL error codes the store acts on.
const (
	codeSerialization = "40001"
	codeDeadlock      = "40P01"
	codeDiskFull      = "53100"
)

func pgCode(err error) string {
	var pe *pgconn.PgError
	if errors.As(err, &pe) {
		return pe.Code
	}
	return ""
}

// retryable reports whether err asks to run the transaction again.
func retryable(err error) bool {
	switch pgCode(err) {
	case codeSerialization, codeDeadlock:
		return true
	}
	return false
}

// noSpace marks a failure for want of disk space, which the registry
// reports as such rather than as a server fault.
func noSpace(err error) error {
	if pgCode(err) == codeDiskFull {
		return fmt.Errorf("%w: %w", metadata.ErrNoSpace, err)
	}
	return err
}
