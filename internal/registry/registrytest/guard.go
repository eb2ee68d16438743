package registrytest

import (
	"context"
	"io"
	"testing"

	"github.com/opencontainers/go-digest"

	"github.com/ecrd/ecrd/internal/blobstore"
	"github.com/ecrd/ecrd/internal/metadata/metadatatest"
	"github.com/ecrd/ecrd/internal/registry"
)

// The registry's metadata transactions may run more than once (see
// metadata.Store), so the function of one must not log, touch blob
// storage or call the key service. These wrappers fail the test when one
// does: the test stores run every transaction twice
// (metadatatest.DoubleRun), and the wrappers ask whether the calling
// goroutine is inside one.

// guardedBlobs is a blob store that fails the test when used inside a
// transaction. It keeps the optional interfaces of the filesystem store.
type guardedBlobs struct {
	s  blobstore.Store
	tb testing.TB
}

var (
	_ blobstore.Store         = guardedBlobs{}
	_ blobstore.Namespaced    = guardedBlobs{}
	_ blobstore.SpaceReporter = guardedBlobs{}
)

func (g guardedBlobs) check(op string) { metadatatest.OutsideTx(g.tb, "blob storage ("+op+")") }

func (g guardedBlobs) Stat(ctx context.Context, d digest.Digest) (int64, error) {
	g.check("Stat")
	return g.s.Stat(ctx, d)
}

func (g guardedBlobs) Open(ctx context.Context, d digest.Digest) (io.ReadSeekCloser, error) {
	g.check("Open")
	return g.s.Open(ctx, d)
}

func (g guardedBlobs) Delete(ctx context.Context, d digest.Digest) error {
	g.check("Delete")
	return g.s.Delete(ctx, d)
}

func (g guardedBlobs) Walk(ctx context.Context, fn func(blobstore.BlobInfo) error) error {
	g.check("Walk")
	return g.s.Walk(ctx, fn)
}

func (g guardedBlobs) CreateUpload(ctx context.Context, id string) (blobstore.UploadWriter, error) {
	g.check("CreateUpload")
	return g.s.CreateUpload(ctx, id)
}

func (g guardedBlobs) ResumeUpload(ctx context.Context, id string, offset int64) (blobstore.UploadWriter, error) {
	g.check("ResumeUpload")
	return g.s.ResumeUpload(ctx, id, offset)
}

func (g guardedBlobs) ReadUpload(ctx context.Context, id string, offset, size int64) (io.ReadCloser, error) {
	g.check("ReadUpload")
	return g.s.ReadUpload(ctx, id, offset, size)
}

func (g guardedBlobs) DeleteUpload(ctx context.Context, id string) error {
	g.check("DeleteUpload")
	return g.s.DeleteUpload(ctx, id)
}

func (g guardedBlobs) Uploads(ctx context.Context) ([]blobstore.Upload, error) {
	g.check("Uploads")
	return g.s.Uploads(ctx)
}

func (g guardedBlobs) Ready(ctx context.Context) error { return g.s.Ready(ctx) }

func (g guardedBlobs) Close() error { return g.s.Close() }

func (g guardedBlobs) Namespace(ctx context.Context, name string) (blobstore.Store, error) {
	g.check("Namespace")
	ns, err := g.s.(blobstore.Namespaced).Namespace(ctx, name)
	if err != nil {
		return nil, err
	}
	return guardedBlobs{ns, g.tb}, nil
}

func (g guardedBlobs) Namespaces(ctx context.Context) ([]string, error) {
	g.check("Namespaces")
	return g.s.(blobstore.Namespaced).Namespaces(ctx)
}

func (g guardedBlobs) FreeSpace(ctx context.Context) (int64, error) {
	g.check("FreeSpace")
	return g.s.(blobstore.SpaceReporter).FreeSpace(ctx)
}

// guardedKeys is a key service that fails the test when called inside a
// transaction.
type guardedKeys struct {
	k  registry.Keys
	tb testing.TB
}

func (g guardedKeys) DataKey(ctx context.Context, keyARN string, encCtx map[string]string) ([]byte, []byte, error) {
	metadatatest.OutsideTx(g.tb, "the key service (DataKey)")
	return g.k.DataKey(ctx, keyARN, encCtx)
}

func (g guardedKeys) DecryptDataKey(ctx context.Context, ciphertext []byte, encCtx map[string]string) ([]byte, string, error) {
	metadatatest.OutsideTx(g.tb, "the key service (DecryptDataKey)")
	return g.k.DecryptDataKey(ctx, ciphertext, encCtx)
}

func (g guardedKeys) KeyUsable(ctx context.Context, keyRef, account, region string) (string, error) {
	metadatatest.OutsideTx(g.tb, "the key service (KeyUsable)")
	return g.k.KeyUsable(ctx, keyRef, account, region)
}

func (g guardedKeys) ECRManagedKey(ctx context.Context, account, region string) (string, error) {
	metadatatest.OutsideTx(g.tb, "the key service (ECRManagedKey)")
	return g.k.ECRManagedKey(ctx, account, region)
}
