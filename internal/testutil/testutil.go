// Package testutil holds the small fixtures the tests of many packages
// share: a SQLite metadata store in a temporary folder, a fresh keyring
// and a logger that discards. Only tests and test helper packages import
// it; it depends on no package above the stores, so that the tests inside
// identity, kms and registry can use it.
package testutil

import (
	"context"
	"log/slog"
	"net"
	"path/filepath"
	"testing"

	"github.com/ecrd/ecrd/internal/keyring"
	"github.com/ecrd/ecrd/internal/metadata/sqlite"
)

// Logger returns a logger that discards everything.
func Logger() *slog.Logger { return slog.New(slog.DiscardHandler) }

// SQLite opens the metadata store of the data folder dir (a new temporary
// folder if dir is empty), as ecrd keeps it there, and closes it when the
// test ends. Opening a folder again gives a second store on the same
// database, as a second process would have.
func SQLite(tb testing.TB, dir string) *sqlite.Store {
	tb.Helper()
	if dir == "" {
		dir = tb.TempDir()
	}
	s, err := sqlite.Open(context.Background(), filepath.Join(dir, "ecrd.db"))
	if err != nil {
		tb.Fatal(err)
	}
	tb.Cleanup(func() { s.Close() })
	return s
}

// Keyring returns a keyring of one new random key.
func Keyring(tb testing.TB) *keyring.Keyring {
	tb.Helper()
	k, err := keyring.New(keyring.Generate())
	if err != nil {
		tb.Fatal(err)
	}
	return k
}

// FreePort returns a loopback TCP port that no one listened on a moment
// ago, for a server a test starts with its address on the command line.
func FreePort() (int, error) {
	l, err := net.Listen("tcp", "127.0.0.1:0")
	if err != nil {
		return 0, err
	}
	defer l.Close()
	return l.Addr().(*net.TCPAddr).Port, nil
}
