package scaleout

import (
	"context"
	"net/http"
	"strings"
	"testing"
	"time"

	"github.com/google/go-containerregistry/pkg/authn"
	"github.com/google/go-containerregistry/pkg/name"
	v1 "github.com/google/go-containerregistry/pkg/v1"
	"github.com/google/go-containerregistry/pkg/v1/random"
	"github.com/google/go-containerregistry/pkg/v1/remote"

	"github.com/ecrd/ecrd/test/ecrdtest"
)

// startCluster starts n replicas (each with args too) and adds the ROOT
// CREATE_ON_PUSH template through the first, so that pushes create
// repositories.
func startCluster(t *testing.T, n int, args ...string) *ecrdtest.Cluster {
	t.Helper()
	c := ecrdtest.StartCluster(t, n, args...)
	c.Replicas[0].CreateOnPush(t)
	return c
}

// remoteOptions authenticate go-containerregistry's client to a replica
// with a registry password, which any replica accepts.
func remoteOptions(password string) []remote.Option {
	return []remote.Option{remote.WithAuth(&authn.Basic{Username: "AWS", Password: password})}
}

func ref(t *testing.T, r *ecrdtest.Server, repo string) name.Reference {
	t.Helper()
	ref, err := name.ParseReference(r.Addr+"/"+repo, name.Insecure)
	if err != nil {
		t.Fatal(err)
	}
	return ref
}

func randomImage(t *testing.T, size int64, layers int64) v1.Image {
	t.Helper()
	img, err := random.Image(size, layers)
	if err != nil {
		t.Fatal(err)
	}
	return img
}

func digestOf(t *testing.T, img v1.Image) v1.Hash {
	t.Helper()
	d, err := img.Digest()
	if err != nil {
		t.Fatal(err)
	}
	return d
}

// TestConformanceOnEachReplica: the OCI conformance suite passes in full
// through each of three replicas.
func TestConformanceOnEachReplica(t *testing.T) {
	c := startCluster(t, 3)
	for i, r := range c.Replicas {
		t.Run("replica"+string(rune('1'+i)), func(t *testing.T) { ecrdtest.Conformance(t, r) })
	}
}

// TestPushPullDeleteAcrossReplicas: an image pushed through one replica
// (a chunked upload whose requests go to all three) pulls through
// another and is deleted through the third; after the delete no replica
// serves it. A password from one replica works on every other.
func TestPushPullDeleteAcrossReplicas(t *testing.T) {
	c := startCluster(t, 3)
	a, b, d := c.Replicas[0], c.Replicas[1], c.Replicas[2]
	pw := a.Password(t)
	opts := remoteOptions(pw)

	// A blob uploaded in three chunks, each request to another replica.
	hc := &http.Client{Transport: ecrdtest.AuthTransport{Password: pw, Base: http.DefaultTransport}}
	chunks := [][]byte{make([]byte, 6<<20), make([]byte, 1<<20), make([]byte, 3<<20)}
	for i := range chunks {
		cryptoRead(chunks[i])
	}
	loc := chunkedUpload(t, hc, c.Replicas, "multi/blob", chunks)
	t.Logf("blob %s pushed in chunks through three replicas", loc)

	img := randomImage(t, 3<<20, 3)
	want := digestOf(t, img)
	if err := remote.Write(ref(t, a, "multi/app:v1"), img, opts...); err != nil {
		t.Fatalf("push through replica 1: %v", err)
	}
	got, err := remote.Image(ref(t, b, "multi/app:v1"), opts...)
	if err != nil {
		t.Fatalf("pull through replica 2: %v", err)
	}
	if d := digestOf(t, got); d != want {
		t.Fatalf("replica 2 serves %s, pushed %s", d, want)
	}
	// Every layer reads back whole, and verifies, through replica 2.
	layers, err := got.Layers()
	if err != nil {
		t.Fatal(err)
	}
	for _, l := range layers {
		if err := verifyLayer(l); err != nil {
			t.Fatalf("layer through replica 2: %v", err)
		}
	}

	if err := remote.Delete(ref(t, d, "multi/app@"+want.String()), opts...); err != nil {
		t.Fatalf("delete through replica 3: %v", err)
	}
	for i, r := range c.Replicas {
		waitFor(t, time.Second, "replica "+string(rune('1'+i))+" to stop serving the deleted image", func() bool {
			_, err := remote.Head(ref(t, r, "multi/app:v1"), opts...)
			return err != nil && strings.Contains(err.Error(), "404")
		})
	}
	for _, r := range c.Replicas {
		ecrdtest.NoServerErrors(t, r)
	}
}

// waitFor polls cond every 10 ms until it holds, failing the test if it
// does not within limit. It returns how long it took.
func waitFor(t *testing.T, limit time.Duration, what string, cond func() bool) time.Duration {
	t.Helper()
	start := time.Now()
	for !cond() {
		if time.Since(start) > limit {
			t.Fatalf("waited %s for %s", limit, what)
		}
		time.Sleep(10 * time.Millisecond)
	}
	return time.Since(start)
}

var bg = context.Background()
