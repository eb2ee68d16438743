package ecrdtest

import (
	"crypto/rand"
	"encoding/base64"
	"testing"

	"github.com/ecrd/ecrd/internal/testutil/pgtest"
	"github.com/ecrd/ecrd/internal/testutil/s3test"
)

// Cluster is n ecrd replicas on one new database and one new bucket,
// sharing server keys, each with a scratch data folder of its own.
type Cluster struct {
	Replicas []*Server
	Metadata string   // the database's URL
	Blobs    string   // the bucket's URL
	Env      []string // what each replica's environment adds: the S3 credentials and the server keys
}

// StartCluster starts n replicas (each with args too) on a new database
// and bucket of the test binary's PostgreSQL and S3 servers.
func StartCluster(t testing.TB, n int, args ...string) *Cluster {
	t.Helper()
	s3 := s3test.Start(t)
	c := &Cluster{Metadata: pgtest.URL(t), Blobs: s3.URL(s3.NewBucket(t), "registry")}
	key := make([]byte, 32)
	rand.Read(key)
	c.Env = append(s3.Env(), "ECRD_SERVER_KEY="+base64.StdEncoding.EncodeToString(key))
	for range n {
		c.Add(t, args...)
	}
	return c
}

// Add starts one more replica.
func (c *Cluster) Add(t testing.TB, args ...string) *Server {
	t.Helper()
	r := StartWith(t, Options{
		Data: t.TempDir(),
		Args: append([]string{"--metadata", c.Metadata, "--blobs", c.Blobs}, args...),
		Env:  c.Env,
	})
	c.Replicas = append(c.Replicas, r)
	return r
}

// Restart starts again replica r, killed or stopped, on its data folder
// (so that it takes back the leases its previous run held), with args,
// and puts it in r's place.
func (c *Cluster) Restart(t testing.TB, r *Server, args ...string) *Server {
	t.Helper()
	n := StartWith(t, Options{
		Data: r.Data,
		Args: append([]string{"--metadata", c.Metadata, "--blobs", c.Blobs}, args...),
		Env:  c.Env,
	})
	for i, old := range c.Replicas {
		if old == r {
			c.Replicas[i] = n
		}
	}
	return n
}
