package console_test

import (
	"context"
	"fmt"
	"log/slog"
	"net/http"
	"net/http/httptest"
	"net/url"
	"strings"
	"testing"
	"time"

	"github.com/opencontainers/go-digest"

	"github.com/ecrd/ecrd/internal/console"
	"github.com/ecrd/ecrd/internal/identity"
	"github.com/ecrd/ecrd/internal/metadata"
	"github.com/ecrd/ecrd/internal/registry"
	"github.com/ecrd/ecrd/internal/registry/registrytest"
	"github.com/ecrd/ecrd/internal/testutil"
)

// BenchmarkPages measures the server time of console pages over a
// 10,000-image repository: the repositories page, the repository's first
// page and one deep inside it (newest first, the default order), and an
// image's page. The target is under
// 200 ms a page.
func BenchmarkPages(b *testing.B) {
	const images = 10_000
	ctx := context.Background()
	stores := registrytest.Open(b)
	log := slog.New(slog.DiscardHandler)
	ids := identity.New(stores.Meta, testutil.Keyring(b), log)
	reg := registry.New(stores.Meta, stores.Blobs, registry.Options{Identity: ids, Logger: log})
	if _, err := ids.EnsureAccount(ctx, registrytest.Scope.Account); err != nil {
		b.Fatal(err)
	}
	key, err := ids.CreateAccessKey(ctx, registrytest.Scope.Account)
	if err != nil {
		b.Fatal(err)
	}
	registrytest.CreateOnPush(b, reg)
	big := metadata.RepoKey{Scope: registrytest.Scope, Name: "big"}
	if _, err := reg.StartUpload(registrytest.Context(), big); err != nil {
		b.Fatal(err)
	}
	repo, err := stores.Meta.Repository(ctx, big)
	if err != nil {
		b.Fatal(err)
	}
	start := time.Now().Add(-images * time.Minute)
	var some digest.Digest
	err = stores.Meta.Update(ctx, func(tx metadata.Tx) error {
		for i := range images {
			content := []byte(fmt.Sprintf(`{"schemaVersion":2,"mediaType":"application/vnd.oci.image.manifest.v1+json","config":{"mediaType":"application/vnd.oci.image.config.v1+json","digest":"sha256:%064x","size":2},"layers":[],"n":%d}`, i, i))
			img := metadata.Image{RepoID: repo.ID, Digest: digest.FromBytes(content), MediaType: "application/vnd.oci.image.manifest.v1+json",
				ArtifactType: "application/vnd.oci.image.config.v1+json", Size: int64(len(content)), ImageSize: 1 << 20,
				PushedAt: start.Add(time.Duration(i) * time.Minute), Content: content}
			if err := tx.PutImage(ctx, img, nil); err != nil {
				return err
			}
			if i%2 == 0 {
				if err := tx.PutTag(ctx, repo.ID, fmt.Sprintf("v%d", i), img.Digest, img.PushedAt); err != nil {
					return err
				}
			}
			if i == images/2 {
				some = img.Digest
			}
		}
		return nil
	})
	if err != nil {
		b.Fatal(err)
	}

	h := console.New(console.Options{Registry: reg, Identity: ids, DefaultRegion: registrytest.Scope.Region, Log: log})
	form := url.Values{"access_key_id": {key.ID}, "secret_access_key": {key.Secret}, "region": {registrytest.Scope.Region}}
	req := httptest.NewRequest(http.MethodPost, "/console/signin", strings.NewReader(form.Encode()))
	req.Header.Set("Content-Type", "application/x-www-form-urlencoded")
	rec := httptest.NewRecorder()
	h.ServeHTTP(rec, req)
	cookies := rec.Result().Cookies()
	if rec.Code != http.StatusSeeOther || len(cookies) != 1 {
		b.Fatalf("sign-in: %d %s", rec.Code, rec.Body)
	}
	get := func(b *testing.B, path string) string {
		req := httptest.NewRequest(http.MethodGet, path, nil)
		req.AddCookie(cookies[0])
		rec := httptest.NewRecorder()
		h.ServeHTTP(rec, req)
		if rec.Code != http.StatusOK {
			b.Fatalf("GET %s: %d %s", path, rec.Code, rec.Body)
		}
		return rec.Body.String()
	}
	// A page deep inside the repository: follow next links 100 pages in.
	deep := "/console/repository?name=big"
	for range 100 {
		page := get(b, deep)
		i := strings.Index(page, `id="next-page" href="`)
		if i < 0 {
			b.Fatal("no next page link")
		}
		link := page[i+len(`id="next-page" href="`):]
		deep = strings.ReplaceAll(link[:strings.IndexByte(link, '"')], "&amp;", "&")
	}
	for _, c := range []struct{ name, path string }{
		{"repositories", "/console/repositories"},
		{"repository/first", "/console/repository?name=big"},
		{"repository/deep", deep},
		{"image", "/console/image?name=big&digest=" + some.String()},
	} {
		b.Run(c.name, func(b *testing.B) {
			for b.Loop() {
				get(b, c.path)
			}
		})
	}
}
