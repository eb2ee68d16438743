package registry_test

import (
	"cmp"
	"context"
	"encoding/base64"
	"fmt"
	"slices"
	"testing"
	"time"

	"github.com/opencontainers/go-digest"

	"github.com/ecrd/ecrd/internal/identity"
	"github.com/ecrd/ecrd/internal/metadata"
	"github.com/ecrd/ecrd/internal/registry"
)

// pushSeries pushes n images to repo, image i at the clock's time, which
// then moves on by step(i); each image is tagged "tmp" when pushed (so
// the tag ends on the last) and "t<i>" too when tagged(i).
func (f *fixture) pushSeries(t *testing.T, repo string, n int, step func(i int) time.Duration, tagged func(i int) bool) {
	t.Helper()
	for i := range n {
		m := f.pushImage(t, repo, "tmp", fmt.Sprintf("%s-%d", repo, i))
		if tagged(i) {
			if _, err := f.reg.PutManifest(ctx, key(repo), fmt.Sprintf("t%d", i), nil, ociManifest, m); err != nil {
				t.Fatal(err)
			}
		}
		f.clock.Advance(step(i))
	}
}

// pushOrder sorts images as OrderPushedOldest lists them.
func pushOrder(a, b registry.ImageDetail) int {
	return cmp.Or(a.PushedAt.Compare(b.PushedAt), cmp.Compare(a.Digest, b.Digest))
}

// allPages pages through a repository's images in an order, max a page,
// and returns them with the number of pages.
func allPages(t *testing.T, reg *registry.Registry, repo string, filter registry.ImageFilter, order registry.ImageOrder, max int) ([]registry.ImageDetail, int) {
	t.Helper()
	var all []registry.ImageDetail
	token := ""
	for pages := 1; ; pages++ {
		page, next, err := reg.DescribeImagesOrdered(ctx, key(repo), filter, order, token, max)
		if err != nil {
			t.Fatalf("order %d, page %d: %v", order, pages, err)
		}
		if len(page) > max || (next != "" && len(page) != max) {
			t.Fatalf("order %d, page %d: %d images, next %q", order, pages, len(page), next)
		}
		all = append(all, page...)
		if next == "" {
			return all, pages
		}
		token = next
		if pages > 1000 {
			t.Fatal("paging does not end")
		}
	}
}

func digestsOf(imgs []registry.ImageDetail) []digest.Digest {
	out := make([]digest.Digest, len(imgs))
	for i, img := range imgs {
		out[i] = img.Digest
	}
	return out
}

// Push order, both ways: images pushed at the same time follow their
// digests, each order is the reverse of the other, and every page size
// gives the same listing; the digest order is DescribeImages's.
func TestDescribeImagesOrdered(t *testing.T) {
	f := newFixture(t, registry.Options{})
	// Pairs and a triple pushed at the same time.
	f.pushSeries(t, "app", 13, func(i int) time.Duration {
		if i%2 == 0 || i == 9 {
			return 0
		}
		return time.Minute
	}, func(i int) bool { return i%3 == 0 })
	byDigest, _, err := f.reg.DescribeImages(ctx, key("app"), nil, registry.ImageFilter{Tags: registry.TagStatusAny}, "", 100)
	if err != nil || len(byDigest) != 13 {
		t.Fatalf("DescribeImages = %d images, %v", len(byDigest), err)
	}
	oldest := slices.SortedFunc(slices.Values(byDigest), pushOrder)
	ties := 0
	for i := 1; i < len(oldest); i++ {
		if oldest[i].PushedAt.Equal(oldest[i-1].PushedAt) {
			ties++
		}
	}
	if ties < 5 {
		t.Fatalf("only %d ties of push time: the test needs more", ties)
	}
	newest := slices.Clone(oldest)
	slices.Reverse(newest)
	for _, c := range []struct {
		name  string
		order registry.ImageOrder
		want  []registry.ImageDetail
	}{
		{"newest", registry.OrderPushedNewest, newest},
		{"oldest", registry.OrderPushedOldest, oldest},
		{"digest", registry.OrderDigest, byDigest},
	} {
		for _, max := range []int{1, 2, 5, 13, 100} {
			got, pages := allPages(t, f.reg, "app", registry.ImageFilter{Tags: registry.TagStatusAny}, c.order, max)
			if !slices.Equal(digestsOf(got), digestsOf(c.want)) {
				t.Errorf("%s, %d a page: %v\nwant %v", c.name, max, digestsOf(got), digestsOf(c.want))
			}
			if want := (13 + max - 1) / max; pages != want {
				t.Errorf("%s, %d a page: %d pages, want %d", c.name, max, pages, want)
			}
			for i, img := range got {
				if w := c.want[i]; !slices.Equal(img.Tags, w.Tags) || !img.PushedAt.Equal(w.PushedAt) || img.ImageSize != w.ImageSize {
					t.Errorf("%s: image %d is %+v, want %+v", c.name, i, img.ImageSummary, w.ImageSummary)
				}
			}
		}
	}
}

// 250 images in pages of 50: five pages that make the whole listing, in
// each order.
func TestDescribeImagesOrderedPagesOf50(t *testing.T) {
	f := newFixture(t, registry.Options{})
	repo, err := f.reg.CreateRepository(ctx, key("many"), metadata.RepositorySettings{}, nil)
	if err != nil {
		t.Fatal(err)
	}
	// Written to the store: the push path is not what is tested. Push
	// times repeat (four images a second) and do not follow the digests.
	base := time.Date(2026, 11, 26, 12, 0, 0, 0, time.UTC)
	if err := f.meta.Update(context.Background(), func(tx metadata.Tx) error {
		for i := range 250 {
			content := []byte(fmt.Sprintf(`{"schemaVersion":2,"n":%d}`, i))
			img := metadata.Image{RepoID: repo.ID, Digest: digest.FromBytes(content), MediaType: ociManifest, Size: int64(len(content)),
				ImageSize: int64(i), PushedAt: base.Add(time.Duration((i*37)%250/4) * time.Second), Content: content}
			if err := tx.PutImage(ctx, img, nil); err != nil {
				return err
			}
			if i%2 == 0 {
				if err := tx.PutTag(ctx, repo.ID, fmt.Sprintf("v%d", i), img.Digest, base); err != nil {
					return err
				}
			}
		}
		return nil
	}); err != nil {
		t.Fatal(err)
	}
	byDigest, _, err := f.reg.DescribeImages(ctx, key("many"), nil, registry.ImageFilter{}, "", 1000)
	if err != nil || len(byDigest) != 250 {
		t.Fatalf("DescribeImages = %d images, %v", len(byDigest), err)
	}
	oldest := slices.SortedFunc(slices.Values(byDigest), pushOrder)
	newest := slices.Clone(oldest)
	slices.Reverse(newest)
	for order, want := range map[registry.ImageOrder][]registry.ImageDetail{
		registry.OrderPushedNewest: newest, registry.OrderPushedOldest: oldest, registry.OrderDigest: byDigest,
	} {
		got, pages := allPages(t, f.reg, "many", registry.ImageFilter{}, order, 50)
		if pages != 5 || !slices.Equal(digestsOf(got), digestsOf(want)) {
			t.Errorf("order %d: %d pages of %d images in all, not the whole sorted listing", order, pages, len(got))
		}
	}
}

// The filters select in push order as in digest order.
func TestDescribeImagesOrderedFilters(t *testing.T) {
	f := newFixture(t, registry.Options{})
	f.pushSeries(t, "app", 10, func(i int) time.Duration { return time.Duration(i%3) * time.Second }, func(i int) bool { return i%2 == 0 })
	all, _, err := f.reg.DescribeImages(ctx, key("app"), nil, registry.ImageFilter{Tags: registry.TagStatusAny}, "", 100)
	if err != nil {
		t.Fatal(err)
	}
	archived := map[digest.Digest]bool{}
	for _, img := range all[:3] {
		if _, _, err := f.reg.UpdateImageStorageClass(ctx, key("app"), registry.ImageID{Digest: img.Digest.String()}, registry.TargetArchive); err != nil {
			t.Fatal(err)
		}
		archived[img.Digest] = true
	}
	for _, c := range []struct {
		name   string
		filter registry.ImageFilter
		keep   func(registry.ImageDetail) bool
	}{
		{"active", registry.ImageFilter{}, func(img registry.ImageDetail) bool { return !archived[img.Digest] }},
		{"archived", registry.ImageFilter{Status: metadata.ImageArchived}, func(img registry.ImageDetail) bool { return archived[img.Digest] }},
		{"any", registry.ImageFilter{Status: "ANY"}, func(registry.ImageDetail) bool { return true }},
		{"tagged", registry.ImageFilter{Tags: registry.TagStatusTagged, Status: "ANY"}, func(img registry.ImageDetail) bool { return len(img.Tags) > 0 }},
		{"untagged active", registry.ImageFilter{Tags: registry.TagStatusUntagged}, func(img registry.ImageDetail) bool {
			return len(img.Tags) == 0 && !archived[img.Digest]
		}},
	} {
		want := slices.SortedFunc(slices.Values(slices.DeleteFunc(slices.Clone(all), func(img registry.ImageDetail) bool { return !c.keep(img) })), pushOrder)
		if len(want) == 0 || len(want) == len(all) && c.name != "any" {
			t.Fatalf("%s: %d of %d images pass: the filter selects nothing", c.name, len(want), len(all))
		}
		got, _ := allPages(t, f.reg, "app", c.filter, registry.OrderPushedOldest, 2)
		if !slices.Equal(digestsOf(got), digestsOf(want)) {
			t.Errorf("%s, oldest first: %v, want %v", c.name, digestsOf(got), digestsOf(want))
		}
		slices.Reverse(want)
		got, _ = allPages(t, f.reg, "app", c.filter, registry.OrderPushedNewest, 3)
		if !slices.Equal(digestsOf(got), digestsOf(want)) {
			t.Errorf("%s, newest first: %v, want %v", c.name, digestsOf(got), digestsOf(want))
		}
	}
}

// A token is good only for the order it was made in: another order's
// token, DescribeImages's included, is refused as a bad nextToken, as
// are tokens of nothing and an unknown order.
func TestDescribeImagesOrderedTokens(t *testing.T) {
	f := newFixture(t, registry.Options{})
	f.pushSeries(t, "app", 3, func(int) time.Duration { return time.Second }, func(int) bool { return false })
	tokens := map[registry.ImageOrder]string{}
	for _, order := range []registry.ImageOrder{registry.OrderDigest, registry.OrderPushedNewest, registry.OrderPushedOldest} {
		_, next, err := f.reg.DescribeImagesOrdered(ctx, key("app"), registry.ImageFilter{}, order, "", 1)
		if err != nil || next == "" {
			t.Fatalf("order %d: token %q, %v", order, next, err)
		}
		tokens[order] = next
	}
	_, digestToken, err := f.reg.DescribeImages(ctx, key("app"), nil, registry.ImageFilter{}, "", 1)
	if err != nil || digestToken != tokens[registry.OrderDigest] {
		t.Fatalf("DescribeImages's token %q, %v; the digest order's is %q", digestToken, err, tokens[registry.OrderDigest])
	}
	for made, token := range tokens {
		for _, used := range []registry.ImageOrder{registry.OrderDigest, registry.OrderPushedNewest, registry.OrderPushedOldest} {
			_, _, err := f.reg.DescribeImagesOrdered(ctx, key("app"), registry.ImageFilter{}, used, token, 1)
			if made == used {
				if err != nil {
					t.Errorf("a token of order %d refused in its order: %v", made, err)
				}
				continue
			}
			wantCode(t, err, registry.CodeInvalidParameter)
		}
		if made != registry.OrderDigest {
			_, _, err := f.reg.DescribeImages(ctx, key("app"), nil, registry.ImageFilter{}, token, 1)
			wantCode(t, err, registry.CodeInvalidParameter)
		}
	}
	good := digest.FromString("x").String()
	for _, bad := range []string{"pn:", "pn:123", "pn:x|" + good, "pn:1|sha256:xyz", "pn:1|" + good + "|", "po:1|" + good, "v1:" + good} {
		token := base64.RawURLEncoding.EncodeToString([]byte(bad))
		_, _, err := f.reg.DescribeImagesOrdered(ctx, key("app"), registry.ImageFilter{}, registry.OrderPushedNewest, token, 1)
		wantCode(t, err, registry.CodeInvalidParameter)
	}
	if _, _, err := f.reg.DescribeImagesOrdered(ctx, key("app"), registry.ImageFilter{}, registry.OrderPushedNewest, "garbage!", 1); registry.CodeOf(err) != registry.CodeInvalidParameter {
		t.Errorf("a token that is not base64: %v", err)
	}
	// The same text, well made, is a position.
	if _, _, err := f.reg.DescribeImagesOrdered(ctx, key("app"), registry.ImageFilter{}, registry.OrderPushedNewest,
		base64.RawURLEncoding.EncodeToString([]byte("pn:1|"+good)), 1); err != nil {
		t.Errorf("a well-made token: %v", err)
	}
	_, _, err = f.reg.DescribeImagesOrdered(ctx, key("app"), registry.ImageFilter{}, registry.ImageOrder(7), "", 1)
	wantCode(t, err, registry.CodeInvalidParameter)
}

// DescribeImagesOrdered is authorized as DescribeImages: another
// account's root may call it when the repository policy grants
// ecr:DescribeImages, and not when it grants only ecr:ListImages.
func TestDescribeImagesOrderedAuthorization(t *testing.T) {
	f := newFixture(t, registry.Options{})
	f.pushImage(t, "app", "v1", "a")
	const other = "210987654321"
	otherCtx := identity.NewContext(context.Background(), identity.Root(other))
	call := func() error {
		_, _, err := f.reg.DescribeImagesOrdered(otherCtx, key("app"), registry.ImageFilter{}, registry.OrderPushedNewest, "", 10)
		return err
	}
	wantCode(t, call(), registry.CodeAccessDenied)
	policy := func(action string) string {
		return `{"Version":"2012-10-17","Statement":[{"Effect":"Allow","Principal":{"AWS":"` + other + `"},"Action":"` + action + `"}]}`
	}
	if _, err := f.reg.SetRepositoryPolicy(ctx, key("app"), policy("ecr:ListImages"), false); err != nil {
		t.Fatal(err)
	}
	wantCode(t, call(), registry.CodeAccessDenied)
	if _, err := f.reg.SetRepositoryPolicy(ctx, key("app"), policy("ecr:DescribeImages"), false); err != nil {
		t.Fatal(err)
	}
	if err := call(); err != nil {
		t.Fatalf("with ecr:DescribeImages granted: %v", err)
	}
}
