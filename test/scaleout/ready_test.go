package scaleout

import (
	"io"
	"net/http"
	"os"
	"strings"
	"testing"
	"time"

	"github.com/ecrd/ecrd/internal/testutil/pgtest"
	"github.com/ecrd/ecrd/internal/testutil/s3test"
	"github.com/ecrd/ecrd/test/ecrdtest"
)

// TestReadyzFollowsTheStores: /readyz answers 503, naming the store, while
// the database or the bucket cannot be reached, so that a load balancer
// takes the replica out; /healthz still answers.
func TestReadyzFollowsTheStores(t *testing.T) {
	ready := func(r *ecrdtest.Server) (int, string) {
		resp, err := http.Get(r.URL() + "/readyz")
		if err != nil {
			t.Fatal(err)
		}
		defer resp.Body.Close()
		b, _ := io.ReadAll(resp.Body)
		return resp.StatusCode, string(b)
	}
	notReady := func(r *ecrdtest.Server, store string) {
		t.Helper()
		waitFor(t, 10*time.Second, "/readyz to fail on the "+store, func() bool {
			code, body := ready(r)
			return code == http.StatusServiceUnavailable && strings.Contains(body, store)
		})
		resp, err := http.Get(r.URL() + "/healthz")
		if err != nil || resp.StatusCode != http.StatusOK {
			t.Fatalf("/healthz while the %s is down: %v %v", store, resp, err)
		}
		resp.Body.Close()
	}

	// A bucket that goes away.
	s3 := s3test.Start(t)
	bucket := s3.NewBucket(t)
	c := &ecrdtest.Cluster{Metadata: pgtest.URL(t), Blobs: s3.URL(bucket, ""), Env: append(s3.Env(), "ECRD_SERVER_KEY=AAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAA=")}
	r := c.Add(t)
	if code, body := ready(r); code != http.StatusOK {
		t.Fatalf("/readyz = %d %s", code, body)
	}
	if err := os.RemoveAll(s3.BucketDir(bucket)); err != nil {
		t.Fatal(err)
	}
	notReady(r, "blob store")

	// A database server that stops.
	pg, err := pgtest.NewServer()
	if err != nil {
		t.Fatal(err)
	}
	t.Cleanup(func() { pg.Stop() })
	c = &ecrdtest.Cluster{Metadata: pg.NewDatabase(t), Blobs: s3.URL(s3.NewBucket(t), ""), Env: c.Env}
	r = c.Add(t)
	if code, body := ready(r); code != http.StatusOK {
		t.Fatalf("/readyz = %d %s", code, body)
	}
	if err := pg.Stop(); err != nil {
		t.Fatal(err)
	}
	notReady(r, "metadata store")
}
