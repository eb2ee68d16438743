package s3store_test

import (
	"context"
	"testing"

	"github.com/ecrd/ecrd/internal/blobstore"
	"github.com/ecrd/ecrd/internal/blobstore/blobstoretest"
	"github.com/ecrd/ecrd/internal/blobstore/s3store"
	"github.com/ecrd/ecrd/internal/testutil/s3test"
)

// newStore opens a store on a new bucket of the test server (under
// prefix, if not empty), with the server's credentials in the
// environment, as ecrd gets them.
func newStore(t *testing.T, prefix string) (*s3store.Store, *s3test.Server, string) {
	t.Helper()
	srv := s3test.Start(t)
	srv.Setenv(t)
	bucket := srv.NewBucket(t)
	s, err := s3store.Open(context.Background(), srv.URL(bucket, prefix))
	if err != nil {
		t.Fatal(err)
	}
	t.Cleanup(func() { s.Close() })
	return s, srv, bucket
}

func TestConformance(t *testing.T) {
	blobstoretest.Run(t, func(t *testing.T) blobstore.Store {
		s, _, _ := newStore(t, "")
		return s
	})
}

// TestConformanceUnderPrefix runs the suite on a store that shares its
// bucket under a key prefix.
func TestConformanceUnderPrefix(t *testing.T) {
	blobstoretest.Run(t, func(t *testing.T) blobstore.Store {
		s, _, _ := newStore(t, "registry/one")
		return s
	})
}
