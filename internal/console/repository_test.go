package console

import (
	"cmp"
	"context"
	"fmt"
	"html"
	"net/http"
	"net/url"
	"regexp"
	"slices"
	"strings"
	"testing"
	"time"

	"github.com/opencontainers/go-digest"

	"github.com/ecrd/ecrd/internal/metadata"
)

var (
	rowDigestRE = regexp.MustCompile(`<tr data-digest="([^"]+)">`)
	nextPageRE  = regexp.MustCompile(`id="next-page" href="([^"]+)"`)
	sortLinkRE  = regexp.MustCompile(`<a id="sort-pushed" href="([^"]+)"`)
)

// The repository page sorts on the server: 120 images, three pushed each
// minute, page 50 at a time newest first (the default), oldest first or
// by digest; the next-page links, the sort menu, the Pushed header's
// link and the caption keep and say the order, and a next-page token is
// good only in the order it was made in.
func TestRepositoryPageSorts(t *testing.T) {
	e := newPagesEnv(t)
	ctx := context.Background()
	repo, err := e.reg.CreateRepository(rootContext(), metadata.RepoKey{Scope: pagesScope, Name: "many"}, metadata.RepositorySettings{}, nil)
	if err != nil {
		t.Fatal(err)
	}
	type pushed struct {
		digest string
		at     time.Time
	}
	var images []pushed
	base := time.Now().Add(-time.Hour).Truncate(time.Minute)
	// Written to the store: the page, not the push path, is tested.
	if err := e.meta.Update(ctx, func(tx metadata.Tx) error {
		images = nil
		for i := range 120 {
			content := []byte(fmt.Sprintf(`{"schemaVersion":2,"mediaType":"application/vnd.oci.image.manifest.v1+json","n":%d}`, i))
			img := metadata.Image{RepoID: repo.ID, Digest: digest.FromBytes(content), MediaType: "application/vnd.oci.image.manifest.v1+json",
				Size: int64(len(content)), ImageSize: 1 << 20, PushedAt: base.Add(time.Duration(i/3) * time.Minute), Content: content}
			if err := tx.PutImage(ctx, img, nil); err != nil {
				return err
			}
			if i%4 == 0 {
				if err := tx.PutTag(ctx, repo.ID, fmt.Sprintf("v%d", i), img.Digest, img.PushedAt); err != nil {
					return err
				}
			}
			images = append(images, pushed{img.Digest.String(), img.PushedAt})
		}
		return nil
	}); err != nil {
		t.Fatal(err)
	}
	oldest := slices.Clone(images)
	slices.SortFunc(oldest, func(a, b pushed) int { return cmp.Or(a.at.Compare(b.at), strings.Compare(a.digest, b.digest)) })
	newest := slices.Clone(oldest)
	slices.Reverse(newest)
	byDigest := slices.Clone(images)
	slices.SortFunc(byDigest, func(a, b pushed) int { return strings.Compare(a.digest, b.digest) })
	digests := func(ps []pushed) []string {
		out := make([]string, len(ps))
		for i, p := range ps {
			out[i] = p.digest
		}
		return out
	}

	b := e.signIn(t, e.root.ID, e.root.Secret)
	for _, c := range []struct {
		name, query, sort, caption, toggle string
		want                               []pushed
	}{
		{"default", "", "pushed-desc", "newest push first", "pushed-asc", newest},
		{"newest first", "&sort=pushed-desc", "pushed-desc", "newest push first", "pushed-asc", newest},
		{"oldest first", "&sort=pushed-asc", "pushed-asc", "oldest push first", "pushed-desc", oldest},
		{"by digest", "&sort=digest", "digest", "in digest order", "pushed-desc", byDigest},
		{"an unknown sort", "&sort=size", "pushed-desc", "newest push first", "pushed-asc", newest},
	} {
		path := "/console/repository?name=many" + c.query
		var got []string
		for pages := 1; ; pages++ {
			a := b.get(path)
			wantPage(t, c.name, a, http.StatusOK, `<label for="sort">Sort</label>`, `<select id="sort" name="sort">`,
				`<option value="`+c.sort+`" selected>`, `<caption class="visually-hidden" id="images-order">Images, `+c.caption+`</caption>`)
			if n := strings.Count(a.body, " selected>"); n != 2 {
				t.Errorf("%s: %d options selected, want the status's and the sort's", c.name, n)
			}
			link := sortLinkRE.FindStringSubmatch(a.body)
			if link == nil {
				t.Fatalf("%s: the Pushed header is not a link", c.name)
			}
			if q := query(t, link[1]); q.Get("sort") != c.toggle || q.Get("name") != "many" || q.Get("status") != "ACTIVE" || q.Has("next") {
				t.Errorf("%s: the Pushed header links to %s, want sort=%s", c.name, link[1], c.toggle)
			}
			rows := rowDigestRE.FindAllStringSubmatch(a.body, -1)
			if len(rows) != 50 && pages < 3 || len(rows) != 20 && pages == 3 {
				t.Fatalf("%s: page %d has %d rows", c.name, pages, len(rows))
			}
			for _, r := range rows {
				got = append(got, r[1])
			}
			next := nextPageRE.FindStringSubmatch(a.body)
			if next == nil {
				if pages != 3 {
					t.Fatalf("%s: %d pages, want 3", c.name, pages)
				}
				break
			}
			path = html.UnescapeString(next[1])
			if q := query(t, path); q.Get("sort") != c.sort || q.Get("status") != "ACTIVE" || q.Get("name") != "many" || q.Get("next") == "" {
				t.Fatalf("%s: the next page is %s", c.name, path)
			}
		}
		if !slices.Equal(got, digests(c.want)) {
			t.Errorf("%s: the pages list\n%v\nwant\n%v", c.name, got, digests(c.want))
		}
	}

	// The Pushed header of the oldest-first page leads to the newest-first
	// page, and the status filter holds through sorting and paging.
	a := b.get("/console/repository?name=many&status=ANY&sort=pushed-asc")
	link := html.UnescapeString(sortLinkRE.FindStringSubmatch(a.body)[1])
	if q := query(t, link); q.Get("status") != "ANY" || q.Get("sort") != "pushed-desc" {
		t.Errorf("the Pushed header links to %s", link)
	}
	a = b.get(link)
	wantPage(t, "after the header's link", a, http.StatusOK, `<option value="ANY" selected>`, `<option value="pushed-desc" selected>`,
		`<tr data-digest="`+newest[0].digest+`">`)
	next := html.UnescapeString(nextPageRE.FindStringSubmatch(a.body)[1])
	if q := query(t, next); q.Get("status") != "ANY" || q.Get("sort") != "pushed-desc" {
		t.Errorf("the next page is %s", next)
	}
	// A newest-first token in another order is refused, not misread.
	q := query(t, next)
	for _, other := range []string{"pushed-asc", "digest"} {
		q.Set("sort", other)
		wantPage(t, "a newest-first token sorted "+other, b.get("/console/repository?"+q.Encode()), http.StatusBadRequest, "nextToken")
	}
}

// query returns a console link's query.
func query(t *testing.T, link string) url.Values {
	t.Helper()
	u, err := url.Parse(html.UnescapeString(link))
	if err != nil {
		t.Fatal(err)
	}
	return u.Query()
}
