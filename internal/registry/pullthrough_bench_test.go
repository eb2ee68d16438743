package registry_test

import (
	"context"
	"crypto/rand"
	"encoding/json"
	"fmt"
	"io"
	"net/http"
	"net/http/httptest"
	"strings"
	"sync"
	"testing"

	"github.com/opencontainers/go-digest"

	"github.com/ecrd/ecrd/internal/api/oci"
	"github.com/ecrd/ecrd/internal/identity"
	"github.com/ecrd/ecrd/internal/metadata"
	"github.com/ecrd/ecrd/internal/registry"
	"github.com/ecrd/ecrd/internal/registry/registrytest"
	"github.com/ecrd/ecrd/internal/testutil"
	"github.com/ecrd/ecrd/internal/upstream"
)

// BenchmarkPullThrough compares, over loopback HTTP with the same pull
// client, a pull straight from the upstream with a first pull through
// the cache (manifest and three 1 MiB layers), a cached pull, and ten
// clients pulling one new image at once through the cache.
//
//	go test ./internal/registry -run '^$' -bench PullThrough -benchtime 20x
func BenchmarkPullThrough(b *testing.B) {
	up := newUpstream(b)
	reg, _ := registrytest.New(b, registry.Options{InsecureUpstreams: []string{up.host}})
	if err := registry.SetPullThroughRules(ctx, reg, scope, []registry.PullThroughCacheRule{{Prefix: "hub", UpstreamRegistryURL: up.host}}); err != nil {
		b.Fatal(err)
	}
	asRoot := func(*http.Request) (metadata.Scope, *identity.Principal, error) {
		p := identity.Root(scope.Account)
		return scope, &p, nil
	}
	down := httptest.NewServer(oci.New(reg, testutil.Logger(), asRoot, "http://downstream.test/"))
	b.Cleanup(down.Close)
	downHost := strings.TrimPrefix(down.URL, "http://")
	client := upstream.New(upstream.Options{Insecure: []string{up.host, downHost}})

	n := 0
	newImage := func() string {
		n++
		repo := fmt.Sprintf("img%d", n)
		layers := make([][]byte, 3)
		for i := range layers {
			layers[i] = make([]byte, 1<<20)
			rand.Read(layers[i])
		}
		pushImage(b, up.reg, repo, layers)
		return repo
	}
	pull := func(host, repo string) {
		ep := upstream.Endpoint{Host: host}
		m, err := client.GetManifest(context.Background(), ep, repo, "v1")
		if err != nil {
			b.Fatal(err)
		}
		var body struct {
			Config struct{ Digest digest.Digest }
			Layers []struct{ Digest digest.Digest }
		}
		if err := json.Unmarshal(m.Body, &body); err != nil {
			b.Fatal(err)
		}
		ds := []digest.Digest{body.Config.Digest}
		for _, l := range body.Layers {
			ds = append(ds, l.Digest)
		}
		for _, d := range ds {
			rc, _, err := client.GetBlob(context.Background(), ep, repo, d)
			if err != nil {
				b.Fatal(err)
			}
			io.Copy(io.Discard, rc)
			rc.Close()
		}
	}

	fixed := newImage()
	b.Run("direct", func(b *testing.B) {
		for b.Loop() {
			pull(up.host, fixed)
		}
	})
	b.Run("first-through-cache", func(b *testing.B) {
		for i := 0; i < b.N; i++ {
			b.StopTimer()
			repo := newImage()
			b.StartTimer()
			pull(downHost, "hub/"+repo)
		}
	})
	pull(downHost, "hub/"+fixed)
	b.Run("cached", func(b *testing.B) {
		for b.Loop() {
			pull(downHost, "hub/"+fixed)
		}
	})
	b.Run("burst-10-first", func(b *testing.B) {
		for i := 0; i < b.N; i++ {
			b.StopTimer()
			repo := newImage()
			b.StartTimer()
			var wg sync.WaitGroup
			for range 10 {
				wg.Add(1)
				go func() { defer wg.Done(); pull(downHost, "hub/"+repo) }()
			}
			wg.Wait()
		}
	})
}

// pushImage pushes an image of the given layers (and a small config) to
// repo:v1.
func pushImage(tb testing.TB, reg *registry.Registry, repo string, layers [][]byte) {
	tb.Helper()
	config := []byte(fmt.Sprintf(`{"architecture":"amd64","os":"linux","repo":%q}`, repo))
	type desc struct {
		MediaType string        `json:"mediaType"`
		Digest    digest.Digest `json:"digest"`
		Size      int           `json:"size"`
	}
	m := struct {
		SchemaVersion int    `json:"schemaVersion"`
		MediaType     string `json:"mediaType"`
		Config        desc   `json:"config"`
		Layers        []desc `json:"layers"`
	}{2, "application/vnd.oci.image.manifest.v1+json", desc{"application/vnd.oci.image.config.v1+json", digest.FromBytes(config), len(config)}, nil}
	for _, blob := range append([][]byte{config}, layers...) {
		if _, err := reg.PutBlob(ctx, key(repo), digest.FromBytes(blob).String(), strings.NewReader(string(blob)), int64(len(blob))); err != nil {
			tb.Fatal(err)
		}
	}
	for _, l := range layers {
		m.Layers = append(m.Layers, desc{"application/vnd.oci.image.layer.v1.tar+gzip", digest.FromBytes(l), len(l)})
	}
	body, _ := json.Marshal(m)
	if _, err := reg.PutManifest(ctx, key(repo), "v1", nil, m.MediaType, body); err != nil {
		tb.Fatal(err)
	}
}
