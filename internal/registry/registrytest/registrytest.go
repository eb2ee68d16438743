// Package registrytest builds a registry core over the real embedded
// stores in a temporary directory, for the tests of the packages that use
// the core.
package registrytest

import (
	"context"
	"testing"

	"github.com/ecrd/ecrd/internal/blobstore"
	"github.com/ecrd/ecrd/internal/blobstore/filesystem"
	"github.com/ecrd/ecrd/internal/identity"
	"github.com/ecrd/ecrd/internal/metadata"
	"github.com/ecrd/ecrd/internal/metadata/metadatatest"
	"github.com/ecrd/ecrd/internal/registry"
	"github.com/ecrd/ecrd/internal/testutil"
)

// Scope is the account and region tests use.
var Scope = metadata.Scope{Account: "123456789012", Region: "us-east-1"}

// Stores are the stores behind a test registry.
type Stores struct {
	Meta  metadata.Store
	Blobs blobstore.Store
	Dir   string // the data folder
}

// Open opens SQLite and filesystem stores in a fresh temporary directory,
// closed when the test ends.
func Open(tb testing.TB) Stores {
	tb.Helper()
	dir := tb.TempDir()
	// Every write transaction runs twice, as a backend that retries
	// transactions may run it: the core must not depend on running once.
	meta := metadatatest.DoubleRun(testutil.SQLite(tb, dir))
	blobs, err := filesystem.New(dir)
	if err != nil {
		tb.Fatal(err)
	}
	tb.Cleanup(func() { blobs.Close() })
	guarded := guardedBlobs{blobs, tb}
	return Stores{Meta: meta, Blobs: guarded, Dir: dir}
}

// New returns a registry over the stores Open opens. Its logger (which
// discards, unless opts has one), blob store and key service fail the
// test when used inside a metadata transaction (see guard.go).
func New(tb testing.TB, opts registry.Options) (*registry.Registry, Stores) {
	tb.Helper()
	s := Open(tb)
	if opts.Logger == nil {
		opts.Logger = testutil.Logger()
	}
	opts.Logger = metadatatest.Logger(tb, opts.Logger)
	if opts.Keys != nil {
		opts.Keys = guardedKeys{opts.Keys, tb}
	}
	return registry.New(s.Meta, s.Blobs, opts), s
}

// Context returns a context of a request by the root of Scope's account.
func Context() context.Context {
	return identity.NewContext(context.Background(), identity.Root(Scope.Account))
}

// CreateOnPush adds a ROOT repository creation template applied for
// CREATE_ON_PUSH to Scope's registry, so that pushes create repositories.
func CreateOnPush(tb testing.TB, reg *registry.Registry) {
	tb.Helper()
	_, err := reg.CreateCreationTemplate(Context(), Scope, registry.CreationTemplate{
		Prefix:     registry.RootPrefix,
		AppliedFor: []string{registry.AppliedForCreateOnPush},
	})
	if err != nil {
		tb.Fatal(err)
	}
}
