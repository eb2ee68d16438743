package testutil

import (
	"context"
	"log/slog"
	"testing"
	"time"

	"github.com/ecrd/ecrd/internal/metadata"
)

// TestSQLiteFolder: two stores opened on one folder share the database,
// as two processes on one data folder do.
func TestSQLiteFolder(t *testing.T) {
	ctx := context.Background()
	dir := t.TempDir()
	a, b := SQLite(t, dir), SQLite(t, dir)
	if err := a.Update(ctx, func(tx metadata.Tx) error {
		return tx.CreateAccount(ctx, metadata.Account{ID: "123456789012", CreatedAt: time.Now()})
	}); err != nil {
		t.Fatal(err)
	}
	if _, err := b.Account(ctx, "123456789012"); err != nil {
		t.Fatalf("the second store does not see the first one's account: %v", err)
	}
	if _, err := SQLite(t, "").Account(ctx, "123456789012"); err == nil {
		t.Fatal("a store in a new folder has another store's account")
	}
}

func TestKeyring(t *testing.T) {
	a, b := Keyring(t), Keyring(t)
	sealed := a.Seal([]byte("secret"), []byte("context"))
	if got, err := a.Open(sealed, []byte("context")); err != nil || string(got) != "secret" {
		t.Fatalf("Open = %q, %v", got, err)
	}
	if _, err := b.Open(sealed, []byte("context")); err == nil {
		t.Fatal("two keyrings share a key")
	}
}

func TestLogger(t *testing.T) {
	if Logger().Enabled(context.Background(), slog.LevelError) {
		t.Fatal("the logger writes errors somewhere")
	}
}
