package registry_test

import (
	"context"
	"fmt"
	"slices"
	"sync/atomic"
	"testing"
	"time"

	"github.com/opencontainers/go-digest"

	"github.com/ecrd/ecrd/internal/identity"
	"github.com/ecrd/ecrd/internal/metadata"
	"github.com/ecrd/ecrd/internal/registry"
	"github.com/ecrd/ecrd/internal/registry/registrytest"
	"github.com/ecrd/ecrd/internal/testutil"
)

// newIdentityFixture is newFixture with an identity service, so that
// tests can act as IAM users with policies.
func newIdentityFixture(t *testing.T, opts registry.Options) (*fixture, *identity.Service) {
	t.Helper()
	stores := registrytest.Open(t)
	ids := identity.New(stores.Meta, testutil.Keyring(t), nil)
	if _, err := ids.EnsureAccount(ctx, scope.Account); err != nil {
		t.Fatal(err)
	}
	c := &clock{now: time.Date(2026, 11, 26, 12, 0, 0, 0, time.UTC)}
	opts.Now, opts.Identity = c.Now, ids
	if opts.Logger == nil {
		opts.Logger = testutil.Logger()
	}
	reg := registry.New(stores.Meta, stores.Blobs, opts)
	registrytest.CreateOnPush(t, reg)
	return &fixture{reg: reg, meta: stores.Meta, blobs: stores.Blobs, clock: c}, ids
}

// iamUser creates a user with one inline policy and returns a context of
// its requests.
func iamUser(t *testing.T, ids *identity.Service, name, policy string) context.Context {
	t.Helper()
	u, err := ids.CreateUser(ctx, identity.UserInput{Name: name})
	if err != nil {
		t.Fatal(err)
	}
	if policy != "" {
		if err := ids.PutInlinePolicy(ctx, identity.Grantee{Kind: metadata.IAMUser, Name: name}, "p", policy); err != nil {
			t.Fatal(err)
		}
	}
	return identity.NewContext(context.Background(), identity.Principal{Account: scope.Account, ARN: u.ARN, UserID: u.ID, Type: identity.TypeUser, Name: name})
}

// allSummaries pages through RepositorySummaries max at a time and
// returns the listings and how many pages it took.
func allSummaries(t *testing.T, reg *registry.Registry, c context.Context, prefix string, max int) ([]registry.RepositoryListing, int) {
	t.Helper()
	var out []registry.RepositoryListing
	token := ""
	for pages := 1; ; pages++ {
		page, next, err := reg.RepositorySummaries(c, scope, prefix, token, max)
		if err != nil {
			t.Fatalf("prefix %q, page %d: %v", prefix, pages, err)
		}
		if len(page) > max || (next != "" && len(page) != max) {
			t.Fatalf("prefix %q, page %d: %d listings with next %q, max %d", prefix, pages, len(page), next, max)
		}
		out = append(out, page...)
		if next == "" {
			return out, pages
		}
		if pages > 100 {
			t.Fatal("the pages do not end")
		}
		token = next
	}
}

func listingNames(ls []registry.RepositoryListing) []string {
	var names []string
	for _, l := range ls {
		names = append(names, l.Key.Name)
	}
	return names
}

// describedSummary sums up what DescribeImages shows of a repository by
// default: what its summary must agree with.
func describedSummary(t *testing.T, f *fixture, c context.Context, name string) metadata.RepositorySummary {
	t.Helper()
	var s metadata.RepositorySummary
	token := ""
	for {
		imgs, next, err := f.reg.DescribeImages(c, key(name), nil, registry.ImageFilter{}, token, 0)
		if err != nil {
			t.Fatal(err)
		}
		for _, img := range imgs {
			s.Images++
			s.Bytes += img.ImageSize
			if img.PushedAt.After(s.LastPushedAt) {
				s.LastPushedAt = img.PushedAt
			}
		}
		if next == "" {
			return s
		}
		token = next
	}
}

func TestRepositorySummaries(t *testing.T) {
	f := newFixture(t, registry.Options{RestoreDelay: time.Hour})
	// Images of different sizes pushed at different times; an index (which
	// weighs its largest child); an image archived and one deleted.
	push := func(repo, tag, seed string) []byte {
		f.clock.Advance(time.Minute)
		return f.pushImage(t, repo, tag, seed)
	}
	push("app", "v1", "a")
	push("app", "v2", "a bigger image")
	old := push("app", "old", "archived")
	gone := push("app", "gone", "deleted")
	c1, c2 := push("team/api", "c1", "child one"), push("team/api", "c2", "child two, larger")
	f.clock.Advance(time.Minute)
	if _, err := f.reg.PutManifest(ctx, key("team/api"), "multi", nil, "application/vnd.oci.image.index.v1+json", indexOf(c1, c2)); err != nil {
		t.Fatal(err)
	}
	push("team/web", "v1", "web")
	push("team/web-old", "v1", "web old")
	push("teams", "v1", "teams")
	push("zeta", "v1", "z")
	if _, err := f.reg.CreateRepository(ctx, key("empty"), metadata.RepositorySettings{}, nil); err != nil {
		t.Fatal(err)
	}
	f.clock.Advance(time.Minute)
	if _, _, err := f.reg.UpdateImageStorageClass(ctx, key("app"), registry.ImageID{Digest: digest.FromBytes(old).String()}, registry.TargetArchive); err != nil {
		t.Fatal(err)
	}
	if err := f.reg.DeleteManifest(ctx, key("app"), digest.FromBytes(gone).String()); err != nil {
		t.Fatal(err)
	}

	all := []string{"app", "empty", "team/api", "team/web", "team/web-old", "teams", "zeta"}
	got, pages := allSummaries(t, f.reg, ctx, "", 2)
	if !slices.Equal(listingNames(got), all) || pages != 4 {
		t.Fatalf("paged by 2: %v in %d pages, want %v in 4", listingNames(got), pages, all)
	}
	for _, l := range got {
		repo, err := f.meta.Repository(ctx, key(l.Key.Name))
		if err != nil || l.ID != repo.ID || !l.CreatedAt.Equal(repo.CreatedAt) {
			t.Errorf("listing of %s: %+v, repository %+v, %v", l.Key.Name, l.Repository, repo, err)
		}
		want := describedSummary(t, f, ctx, l.Key.Name)
		if l.Images != want.Images || l.Bytes != want.Bytes || !l.LastPushedAt.Equal(want.LastPushedAt) {
			t.Errorf("summary of %s = %+v, DescribeImages shows %+v", l.Key.Name, l.RepositorySummary, want)
		}
	}
	// Spot checks of what the cross-check above relies on.
	byName := map[string]registry.RepositoryListing{}
	for _, l := range got {
		byName[l.Key.Name] = l
	}
	if s := byName["app"]; s.Images != 2 || !s.LastPushedAt.Equal(time.Date(2026, 11, 26, 12, 2, 0, 0, time.UTC)) {
		t.Errorf("app (two active images, one archived, one deleted) = %+v", s.RepositorySummary)
	}
	if s := byName["team/api"]; s.Images != 3 || s.Bytes <= 0 {
		t.Errorf("team/api (an index and its two children) = %+v", s.RepositorySummary)
	}
	if s := byName["empty"]; s.RepositorySummary != (metadata.RepositorySummary{}) {
		t.Errorf("empty = %+v", s.RepositorySummary)
	}

	// A prefix is a range of names, paged like the rest.
	for _, c := range []struct {
		prefix string
		max    int
		want   []string
		pages  int
	}{
		{"team/", 1, []string{"team/api", "team/web", "team/web-old"}, 3},
		{"team", 2, []string{"team/api", "team/web", "team/web-old", "teams"}, 2},
		{"team/web", 0, []string{"team/web", "team/web-old"}, 1},
		{"team/web-", 1000, []string{"team/web-old"}, 1},
		{"a", 1, []string{"app"}, 1},
		{"zeta", 5, []string{"zeta"}, 1},
		{"zz", 5, nil, 1},
		{"b", 5, nil, 1},
		{"Team", 5, nil, 1},   // names are lower case
		{"tëam", 5, nil, 1},   // and ASCII
		{"team/*", 5, nil, 1}, // a prefix is not a pattern
	} {
		var got []registry.RepositoryListing
		pages := 1
		if c.max == 0 { // the default page size
			page, next, err := f.reg.RepositorySummaries(ctx, scope, c.prefix, "", 0)
			if err != nil || next != "" {
				t.Fatalf("prefix %q, default page: next %q, %v", c.prefix, next, err)
			}
			got = page
		} else {
			got, pages = allSummaries(t, f.reg, ctx, c.prefix, c.max)
		}
		if !slices.Equal(listingNames(got), c.want) || pages != c.pages {
			t.Errorf("prefix %q by %d: %v in %d pages, want %v in %d", c.prefix, c.max, listingNames(got), pages, c.want, c.pages)
		}
	}
	// A token of another prefix's listing only moves the start.
	_, next, err := f.reg.RepositorySummaries(ctx, scope, "", "", 1)
	if err != nil {
		t.Fatal(err)
	}
	if page, _, err := f.reg.RepositorySummaries(ctx, scope, "team/", next, 10); err != nil || len(page) != 3 {
		t.Errorf("prefix team/ after app: %v, %v", listingNames(page), err)
	}

	for _, bad := range []int{-1, registry.MaxSummaryPage + 1} {
		_, _, err := f.reg.RepositorySummaries(ctx, scope, "", "", bad)
		wantCode(t, err, registry.CodeInvalidParameter)
	}
	_, _, err = f.reg.RepositorySummaries(ctx, scope, "", "not-a-token", 10)
	wantCode(t, err, registry.CodeInvalidParameter)
}

// countingStore counts the listing reads a registry makes of a real
// store.
type countingStore struct {
	metadata.Store
	listings, rows, summaries, perRepository atomic.Int64
}

func (c *countingStore) Repositories(ctx context.Context, scope metadata.Scope, after string, limit int) ([]metadata.Repository, error) {
	repos, err := c.Store.Repositories(ctx, scope, after, limit)
	c.listings.Add(1)
	c.rows.Add(int64(len(repos)))
	return repos, err
}

func (c *countingStore) RepositorySummaries(ctx context.Context, ids []int64) (map[int64]metadata.RepositorySummary, error) {
	c.summaries.Add(1)
	return c.Store.RepositorySummaries(ctx, ids)
}

func (c *countingStore) RepositoryImageCount(ctx context.Context, id int64) (int, error) {
	c.perRepository.Add(1)
	return c.Store.RepositoryImageCount(ctx, id)
}

func (c *countingStore) Images(ctx context.Context, id int64, f metadata.ImageFilter, after digest.Digest, limit int) ([]metadata.ImageSummary, error) {
	c.perRepository.Add(1)
	return c.Store.Images(ctx, id, f, after, limit)
}

// TestRepositorySummariesPageCost checks the page sizes, and that a page
// costs one range read of repositories and one aggregate query, with a
// prefix too: the read stops where the prefix's names end.
func TestRepositorySummariesPageCost(t *testing.T) {
	f := newFixture(t, registry.Options{})
	err := f.meta.Update(ctx, func(tx metadata.Tx) error {
		for i := range 1001 {
			if _, err := tx.CreateRepository(ctx, metadata.Repository{Key: key(fmt.Sprintf("r%04d", i)), CreatedAt: f.clock.Now()}); err != nil {
				return err
			}
		}
		return nil
	})
	if err != nil {
		t.Fatal(err)
	}
	store := &countingStore{Store: f.meta}
	reg := registry.New(store, f.blobs, registry.Options{Now: f.clock.Now, Logger: testutil.Logger()})
	for _, c := range []struct {
		prefix   string
		max      int
		want     int    // listings
		last     string // the page's last name
		more     bool
		maxRows  int64 // repositories read (a page and one more at most)
		listings int64 // reads of a range of repositories
	}{
		{"", 0, registry.DefaultSummaryPage, "r0099", true, 101, 1},
		{"", registry.MaxSummaryPage, 1000, "r0999", true, 1001, 1},
		{"r000", 100, 10, "r0009", false, 101, 1}, // one read of a page's worth
		{"r05", 100, 100, "r0599", false, 101, 1},
		{"r05", 20, 20, "r0519", true, 21, 1},
		{"r1000", 100, 1, "r1000", false, 1, 1}, // the last name
	} {
		store.listings.Store(0)
		store.rows.Store(0)
		store.summaries.Store(0)
		page, next, err := reg.RepositorySummaries(ctx, scope, c.prefix, "", c.max)
		if err != nil || len(page) != c.want || page[len(page)-1].Key.Name != c.last || (next != "") != c.more {
			t.Fatalf("prefix %q, max %d: %d listings, next %q, %v", c.prefix, c.max, len(page), next, err)
		}
		if store.listings.Load() != c.listings || store.rows.Load() > c.maxRows || store.summaries.Load() != 1 {
			t.Errorf("prefix %q, max %d: %d range reads of %d repositories and %d summary queries, want %d of at most %d, and 1",
				c.prefix, c.max, store.listings.Load(), store.rows.Load(), store.summaries.Load(), c.listings, c.maxRows)
		}
	}
	if n := store.perRepository.Load(); n != 0 {
		t.Errorf("%d reads of one repository's images", n)
	}
}

// TestRepositorySummariesAuthorization checks that a listing is decided as
// DescribeRepositories without names is: the same action, refused
// whole without it, and the same repositories left out.
func TestRepositorySummariesAuthorization(t *testing.T) {
	f, ids := newIdentityFixture(t, registry.Options{})
	for _, n := range []string{"app", "team/api", "team/secret", "team/web"} {
		if _, err := f.reg.CreateRepository(ctx, key(n), metadata.RepositorySettings{}, nil); err != nil {
			t.Fatal(err)
		}
	}
	f.pushImage(t, "team/web", "v1", "w")
	arn := func(name string) string { return registry.RepositoryARN(key(name)) }
	principals := []struct {
		name string
		ctx  context.Context
		want []string // nil: denied
	}{
		{"root", ctx, []string{"app", "team/api", "team/secret", "team/web"}},
		{"no-policy", iamUser(t, ids, "nobody", ""), nil},
		{"pull-only", iamUser(t, ids, "puller", `{"Version":"2012-10-17","Statement":[{"Effect":"Allow",
			"Action":["ecr:BatchGetImage","ecr:DescribeImages","ecr:ListImages"],"Resource":"*"}]}`), nil},
		{"describe", iamUser(t, ids, "viewer", `{"Version":"2012-10-17","Statement":[{"Effect":"Allow",
			"Action":"ecr:DescribeRepositories","Resource":"*"}]}`), []string{"app", "team/api", "team/secret", "team/web"}},
		{"describe-but-one", iamUser(t, ids, "partial", `{"Version":"2012-10-17","Statement":[
			{"Effect":"Allow","Action":"ecr:DescribeRepositories","Resource":"*"},
			{"Effect":"Deny","Action":"ecr:DescribeRepositories","Resource":"`+arn("team/secret")+`"}]}`), []string{"app", "team/api", "team/web"}},
		{"team-only", iamUser(t, ids, "team", `{"Version":"2012-10-17","Statement":[{"Effect":"Allow",
			"Action":"ecr:DescribeRepositories","Resource":"`+registry.RepositoryARN(key("team/*"))+`"}]}`), nil},
	}
	for _, p := range principals {
		t.Run(p.name, func(t *testing.T) {
			// What DescribeRepositories answers the same caller.
			var described []string
			token := ""
			var derr error
			for {
				repos, next, err := f.reg.DescribeRepositories(p.ctx, scope, nil, token, 1)
				if err != nil {
					derr = err
					break
				}
				for _, r := range repos {
					described = append(described, r.Key.Name)
				}
				if next == "" {
					break
				}
				token = next
			}
			page, _, err := f.reg.RepositorySummaries(p.ctx, scope, "", "", 10)
			if p.want == nil {
				wantCode(t, err, registry.CodeAccessDenied)
				if registry.CodeOf(derr) != registry.CodeAccessDenied {
					t.Fatalf("DescribeRepositories: %v, the listing was denied", derr)
				}
				_, _, err = f.reg.RepositorySummaries(p.ctx, scope, "team/", "", 10)
				wantCode(t, err, registry.CodeAccessDenied) // a prefix needs the same permission
				return
			}
			if err != nil || derr != nil {
				t.Fatalf("listing: %v; DescribeRepositories: %v", err, derr)
			}
			if got := listingNames(page); !slices.Equal(got, p.want) || !slices.Equal(got, described) {
				t.Fatalf("listed %v, DescribeRepositories %v, want %v", got, described, p.want)
			}
			paged, _ := allSummaries(t, f.reg, p.ctx, "team/", 1)
			if got := listingNames(paged); !slices.Equal(got, slices.DeleteFunc(slices.Clone(p.want), func(n string) bool { return n == "app" })) {
				t.Fatalf("team/ by one: %v", got)
			}
			if i := slices.Index(listingNames(page), "team/web"); page[i].Images != 1 {
				t.Fatalf("team/web: %+v", page[i].RepositorySummary)
			}
		})
	}
	// An anonymous caller is told to sign in, as DescribeRepositories does.
	_, _, err := f.reg.RepositorySummaries(context.Background(), scope, "", "", 10)
	wantCode(t, err, registry.CodeUnauthenticated)
}
