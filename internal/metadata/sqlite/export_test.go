package sqlite_test

import (
	"context"
	"database/sql"
	"errors"
	"os"
	"path/filepath"
	"strconv"
	"strings"
	"testing"
	"time"

	"github.com/ecrd/ecrd/internal/metadata"
	"github.com/ecrd/ecrd/internal/metadata/sqlite"
)

// TestExportHoldsTheDatabase: an export is refused while a store has the
// database open, and a store cannot open it while an export reads it;
// the export reads what the store wrote and changes nothing.
func TestExportHoldsTheDatabase(t *testing.T) {
	ctx := context.Background()
	path := filepath.Join(t.TempDir(), "ecrd.db")
	s, err := sqlite.Open(ctx, path)
	if err != nil {
		t.Fatal(err)
	}
	when := time.Date(2025, 3, 4, 5, 6, 7, 891, time.UTC)
	if err := s.Update(ctx, func(tx metadata.Tx) error {
		return tx.CreateAccount(ctx, metadata.Account{ID: "123456789012", CreatedAt: when})
	}); err != nil {
		t.Fatal(err)
	}
	if _, err := sqlite.OpenExport(ctx, path); !errors.Is(err, sqlite.ErrInUse) {
		t.Fatalf("an export while a store has the database open: %v, want ErrInUse", err)
	}
	if err := s.Close(); err != nil {
		t.Fatal(err)
	}
	before, err := os.ReadFile(path)
	if err != nil {
		t.Fatal(err)
	}

	e, err := sqlite.OpenExport(ctx, path)
	if err != nil {
		t.Fatal(err)
	}
	accounts, err := e.Accounts(ctx)
	if err != nil || len(accounts) != 1 || !accounts[0].CreatedAt.Equal(when) {
		t.Fatalf("the export reads %v, %v", accounts, err)
	}
	tables, err := e.Tables(ctx)
	if err != nil || !strings.Contains(strings.Join(tables, " "), "images") {
		t.Fatalf("tables: %v, %v", tables, err)
	}
	if _, err := sqlite.OpenExport(ctx, path); !errors.Is(err, sqlite.ErrInUse) {
		t.Errorf("a second export while one reads: %v, want ErrInUse", err)
	}
	// What a server's connection does first: read, in WAL mode.
	other, err := sql.Open("sqlite", "file:"+path+"?_pragma=busy_timeout(100)&_pragma=journal_mode(WAL)")
	if err != nil {
		t.Fatal(err)
	}
	if _, err := other.Exec(`SELECT count(*) FROM accounts`); err == nil {
		t.Error("another connection read the database while an export held it")
	}
	other.Close()
	if _, err := e.Query(ctx, `DELETE FROM accounts`); err == nil {
		t.Error("the export could write")
	}
	if err := e.Close(); err != nil {
		t.Fatal(err)
	}
	after, err := os.ReadFile(path)
	if err != nil {
		t.Fatal(err)
	}
	if string(after) != string(before) {
		t.Error("the export changed the database file")
	}
	s, err = sqlite.Open(ctx, path)
	if err != nil {
		t.Fatalf("a store after the export: %v", err)
	}
	s.Close()
}

// TestExportRefusesOtherSchemas: a database of an older or newer schema
// is refused, with what to do; a missing one is not created.
func TestExportRefusesOtherSchemas(t *testing.T) {
	ctx := context.Background()
	dir := t.TempDir()
	if _, err := sqlite.OpenExport(ctx, filepath.Join(dir, "missing.db")); err == nil {
		t.Error("an export of a missing database succeeded")
	}
	if _, err := os.Stat(filepath.Join(dir, "missing.db")); err == nil {
		t.Error("an export created the database")
	}
	for _, c := range []struct {
		version int
		want    string
	}{
		{sqlite.SchemaVersion() - 1, "start ecrd once on the data folder to upgrade it"},
		{sqlite.SchemaVersion() + 1, "run a newer ecrd"},
	} {
		path := filepath.Join(dir, "v.db")
		os.Remove(path)
		s, err := sqlite.Open(ctx, path)
		if err != nil {
			t.Fatal(err)
		}
		s.Close()
		db, err := sql.Open("sqlite", path)
		if err != nil {
			t.Fatal(err)
		}
		if _, err := db.Exec("PRAGMA user_version = " + strconv.Itoa(c.version)); err != nil {
			t.Fatal(err)
		}
		db.Close()
		_, err = sqlite.OpenExport(ctx, path)
		if err == nil || !strings.Contains(err.Error(), c.want) {
			t.Errorf("schema version %d: %v, want %q", c.version, err, c.want)
		}
	}
}

// TestExportAfterACrash: a database left with its write-ahead log, as a
// server killed mid-run leaves it, exports what was committed.
func TestExportAfterACrash(t *testing.T) {
	ctx := context.Background()
	dir := t.TempDir()
	path := filepath.Join(dir, "ecrd.db")
	s, err := sqlite.Open(ctx, path)
	if err != nil {
		t.Fatal(err)
	}
	defer s.Close()
	if err := s.Update(ctx, func(tx metadata.Tx) error {
		return tx.CreateAccount(ctx, metadata.Account{ID: "123456789012", CreatedAt: time.Now()})
	}); err != nil {
		t.Fatal(err)
	}
	// The files as a crash leaves them: a copy taken while the store is
	// open, the commit still in the log.
	crashed := filepath.Join(t.TempDir(), "ecrd.db")
	for _, suffix := range []string{"", "-wal"} {
		b, err := os.ReadFile(path + suffix)
		if err != nil {
			t.Fatal(err)
		}
		if suffix == "-wal" && len(b) == 0 {
			t.Fatal("the commit is not in the log")
		}
		if err := os.WriteFile(crashed+suffix, b, 0o600); err != nil {
			t.Fatal(err)
		}
	}
	e, err := sqlite.OpenExport(ctx, crashed)
	if err != nil {
		t.Fatal(err)
	}
	defer e.Close()
	if a, err := e.Accounts(ctx); err != nil || len(a) != 1 {
		t.Fatalf("the export of a crashed database reads %v, %v", a, err)
	}
}
