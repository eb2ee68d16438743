// Package registrytest builds a registry core over the real embedded
// stores in a temporary directory, for the tests of the packages that use
// the core.
package registrytest

import (
	"context"
	"io"
	"log/slog"
	"path/filepath"
	"testing"

	"github.com/ecrd/ecrd/internal/blobstore"
	"github.com/ecrd/ecrd/internal/blobstore/filesystem"
	"github.com/ecrd/ecrd/internal/metadata"
	"github.com/ecrd/ecrd/internal/metadata/sqlite"
	"github.com/ecrd/ecrd/internal/registry"
)

// Scope is the account and region tests use.
var Scope = metadata.Scope{Account: "123456789012", Region: "us-east-1"}

// Stores are the stores behind a test registry.
type Stores struct {
	Meta  metadata.Store
	Blobs blobstore.Store
	Dir   string // the data folder
}

// New returns a registry over SQLite and filesystem stores in a fresh
// temporary directory, closed when the test ends. Without a logger in
// opts, logs are discarded.
func New(tb testing.TB, opts registry.Options) (*registry.Registry, Stores) {
	tb.Helper()
	dir := tb.TempDir()
	meta, err := sqlite.Open(context.Background(), filepath.Join(dir, "ecrd.db"))
	if err != nil {
		tb.Fatal(err)
	}
	tb.Cleanup(func() { meta.Close() })
	blobs, err := filesystem.New(dir)
	if err != nil {
		tb.Fatal(err)
	}
	tb.Cleanup(func() { blobs.Close() })
	if opts.Logger == nil {
		opts.Logger = slog.New(slog.NewTextHandler(io.Discard, nil))
	}
	return registry.New(meta, blobs, opts), Stores{Meta: meta, Blobs: blobs, Dir: dir}
}
