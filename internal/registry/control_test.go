package registry_test

import (
	"bytes"
	"context"
	"errors"
	"fmt"
	"slices"
	"strings"
	"testing"

	"github.com/opencontainers/go-digest"

	"github.com/ecrd/ecrd/internal/blobstore"
	"github.com/ecrd/ecrd/internal/identity"
	"github.com/ecrd/ecrd/internal/metadata"
	"github.com/ecrd/ecrd/internal/registry"
	"github.com/ecrd/ecrd/internal/registry/registrytest"
)

// newBareFixture is a registry without the CREATE_ON_PUSH template.
func newBareFixture(t *testing.T) *fixture {
	t.Helper()
	reg, stores := registrytest.New(t, registry.Options{})
	return &fixture{reg: reg, meta: stores.Meta, blobs: stores.Blobs}
}

func TestAnonymousAccess(t *testing.T) {
	f := newFixture(t, registry.Options{})
	m := f.pushImage(t, "private", "v1", "p")
	f.pushImage(t, "public", "v1", "q")
	anon := context.Background()

	_, err := f.reg.Manifest(anon, key("private"), "v1", true)
	wantCode(t, err, registry.CodeUnauthenticated)
	_, err = f.reg.Manifest(anon, key("does-not-exist"), "v1", true)
	wantCode(t, err, registry.CodeUnauthenticated) // existence is not revealed

	if err := f.reg.TagResource(ctx, registry.RepositoryARN(key("public")), []metadata.ResourceTag{{Key: registry.AnonymousPullTag, Value: "true"}}); err != nil {
		t.Fatal(err)
	}
	img, err := f.reg.Manifest(anon, key("public"), "v1", true)
	if err != nil {
		t.Fatalf("anonymous pull from an opted-in repository: %v", err)
	}
	if _, _, err := f.reg.OpenBlob(anon, key("public"), mustConfigDigest(t, img.Content)); err != nil {
		t.Fatalf("anonymous blob pull: %v", err)
	}
	_, err = f.reg.StartUpload(anon, key("public"))
	wantCode(t, err, registry.CodeUnauthenticated)
	err = f.reg.DeleteManifest(anon, key("public"), "v1")
	wantCode(t, err, registry.CodeUnauthenticated)
	_, _, err = f.reg.Repositories(anon, scope, "", 10)
	wantCode(t, err, registry.CodeUnauthenticated)
	_, _, err = f.reg.Tags(anon, key("public"), "", 10)
	wantCode(t, err, registry.CodeUnauthenticated)

	// A policy granting everything to "*" grants an anonymous caller
	// nothing: "*" means any authenticated principal.
	everyone := `{"Version":"2012-10-17","Statement":[{"Effect":"Allow","Principal":"*","Action":"ecr:*"}]}`
	for _, name := range []string{"public", "private"} {
		if _, err := f.reg.SetRepositoryPolicy(ctx, key(name), everyone, false); err != nil {
			t.Fatal(err)
		}
	}
	_, err = f.reg.StartUpload(anon, key("public"))
	wantCode(t, err, registry.CodeUnauthenticated)
	err = f.reg.DeleteManifest(anon, key("public"), "v1")
	wantCode(t, err, registry.CodeUnauthenticated)
	_, err = f.reg.Manifest(anon, key("private"), "v1", true)
	wantCode(t, err, registry.CodeUnauthenticated)
	if _, err := f.reg.Manifest(anon, key("public"), "v1", true); err != nil {
		t.Errorf("anonymous pull from the opted-in repository under a \"*\" policy: %v", err)
	}
	_ = m
}

func mustConfigDigest(t *testing.T, manifest []byte) string {
	t.Helper()
	i := bytes.Index(manifest, []byte(`"digest":"`))
	if i < 0 {
		t.Fatal("no digest in manifest")
	}
	rest := manifest[i+len(`"digest":"`):]
	return string(rest[:bytes.IndexByte(rest, '"')])
}

func TestCreateOnPushNeedsATemplate(t *testing.T) {
	f := newBareFixture(t)
	_, err := f.reg.StartUpload(ctx, key("team/app"))
	wantCode(t, err, registry.CodeNameUnknown)
	if !strings.Contains(err.Error(), "CREATE_ON_PUSH") {
		t.Fatalf("the NAME_UNKNOWN message does not say how to fix it: %v", err)
	}
	// A template for another prefix does not apply.
	if _, err := f.reg.CreateCreationTemplate(ctx, scope, registry.CreationTemplate{Prefix: "prod", AppliedFor: []string{registry.AppliedForCreateOnPush}, TagMutability: registry.Immutable}); err != nil {
		t.Fatal(err)
	}
	_, err = f.reg.StartUpload(ctx, key("team/app"))
	wantCode(t, err, registry.CodeNameUnknown)
	_, err = f.reg.StartUpload(ctx, key("prod")) // "prod" covers prod/..., not prod itself
	wantCode(t, err, registry.CodeNameUnknown)

	// ROOT covers everything; the longest matching prefix wins.
	for _, tpl := range []registry.CreationTemplate{
		{Prefix: registry.RootPrefix, AppliedFor: []string{registry.AppliedForCreateOnPush}},
		{Prefix: "prod/web/", AppliedFor: []string{registry.AppliedForCreateOnPush}, ResourceTags: []metadata.ResourceTag{{Key: "team", Value: "web"}}},
		{Prefix: "prod/replicated", AppliedFor: []string{registry.AppliedForReplication}, TagMutability: registry.Mutable},
	} {
		if _, err := f.reg.CreateCreationTemplate(ctx, scope, tpl); err != nil {
			t.Fatal(err)
		}
	}
	for name, want := range map[string]metadata.RepositorySettings{
		"team/app":          {TagMutability: registry.Mutable, EncryptionType: registry.EncryptionAES256},
		"prod/api":          {TagMutability: registry.Immutable, EncryptionType: registry.EncryptionAES256},
		"prod/web/frontend": {TagMutability: registry.Mutable, EncryptionType: registry.EncryptionAES256},
		"prod/replicated/x": {TagMutability: registry.Immutable, EncryptionType: registry.EncryptionAES256},
	} {
		if _, err := f.reg.StartUpload(ctx, key(name)); err != nil {
			t.Fatalf("push to %s: %v", name, err)
		}
		repos, _, err := f.reg.DescribeRepositories(ctx, scope, []string{name}, "", 0)
		if err != nil {
			t.Fatal(err)
		}
		got := repos[0].Settings
		if got.TagMutability != want.TagMutability || got.EncryptionType != want.EncryptionType {
			t.Errorf("%s created with %+v, want %+v", name, got, want)
		}
		if name == "prod/web/frontend" && (len(repos[0].Tags) != 1 || repos[0].Tags[0].Value != "web") {
			t.Errorf("%s did not get its template's tags: %+v", name, repos[0].Tags)
		}
	}
	_, err = f.reg.CreateCreationTemplate(ctx, scope, registry.CreationTemplate{Prefix: "prod", AppliedFor: []string{registry.AppliedForCreateOnPush}})
	wantCode(t, err, registry.CodeTemplateAlreadyExists)
	_, err = f.reg.DeleteCreationTemplate(ctx, scope, "nope")
	wantCode(t, err, registry.CodeTemplateNotFound)
}

func TestTagImmutability(t *testing.T) {
	f := newFixture(t, registry.Options{})
	config, layer := []byte("{}"), []byte("l")
	f.pushBlob(t, "app", config)
	f.pushBlob(t, "app", layer)
	manifests := make([][]byte, 3)
	for i := range manifests {
		manifests[i] = bytes.Replace(manifestOf(config, layer), []byte(`{"schemaVersion":2,`), []byte(fmt.Sprintf(`{"schemaVersion":2,"annotations":{"n":"%d"},`, i)), 1)
	}
	put := func(tag string, m []byte) error {
		_, err := f.reg.PutManifest(ctx, key("app"), tag, nil, ociManifest, m)
		return err
	}
	for _, tag := range []string{"v1", "latest", "dev-1"} {
		if err := put(tag, manifests[0]); err != nil {
			t.Fatal(err)
		}
	}
	if _, err := f.reg.PutImageTagMutability(ctx, key("app"), registry.ImmutableWithExclusion, []string{"latest", "dev-*"}); err != nil {
		t.Fatal(err)
	}
	// Immutable tag: refused, naming the tag and the image it keeps; the
	// same digest again is a no-op, as CI re-runs need.
	err := put("v1", manifests[1])
	wantCode(t, err, registry.CodeTagImmutable)
	var exists *registry.ExistsError
	if !errors.As(err, &exists) || exists.Kind != registry.KindImageTag || exists.Key != key("app") ||
		exists.Image != (registry.ImageID{Digest: digest.FromBytes(manifests[0]).String(), Tag: "v1"}) {
		t.Fatalf("error = %#v", err)
	}
	if err := put("v1", manifests[0]); err != nil {
		t.Fatalf("re-pushing the same digest under an immutable tag: %v", err)
	}
	// Excluded tags stay mutable.
	if err := put("latest", manifests[1]); err != nil {
		t.Fatalf("moving an excluded tag: %v", err)
	}
	if err := put("dev-1", manifests[2]); err != nil {
		t.Fatalf("moving a wildcard-excluded tag: %v", err)
	}
	// The ECR API meets the same rule, with its own no-op rule.
	_, err = f.reg.PutImage(ctx, key("app"), manifests[2], ociManifest, "", "v1")
	wantCode(t, err, registry.CodeTagImmutable)
	_, err = f.reg.PutImage(ctx, key("app"), manifests[0], ociManifest, "", "v1")
	wantCode(t, err, registry.CodeImageAlreadyExists)
	_, err = f.reg.PutImage(ctx, key("app"), manifests[0], ociManifest, digest.FromString("x").String(), "v9")
	wantCode(t, err, registry.CodeImageDigestMismatch)
	if _, err := f.reg.PutImage(ctx, key("app"), manifests[0], ociManifest, digest.FromBytes(manifests[0]).String(), "v2"); err != nil {
		t.Fatalf("PutImage with a new tag: %v", err)
	}

	// MUTABLE_WITH_EXCLUSION: only the excluded tags are fixed.
	if _, err := f.reg.PutImageTagMutability(ctx, key("app"), registry.MutableWithExclusion, []string{"v*"}); err != nil {
		t.Fatal(err)
	}
	wantCode(t, put("v2", manifests[1]), registry.CodeTagImmutable)
	if err := put("latest", manifests[2]); err != nil {
		t.Fatalf("moving a mutable tag: %v", err)
	}
	_, err = f.reg.PutImageTagMutability(ctx, key("app"), registry.Immutable, []string{"x"})
	wantCode(t, err, registry.CodeInvalidParameter)
	_, err = f.reg.PutImageTagMutability(ctx, key("app"), registry.ImmutableWithExclusion, nil)
	wantCode(t, err, registry.CodeInvalidParameter)
}

func TestWildcardMatch(t *testing.T) {
	tests := []struct {
		pattern, s string
		want       bool
	}{
		{"latest", "latest", true},
		{"latest", "latest2", false},
		{"dev-*", "dev-", true},
		{"dev-*", "dev-123", true},
		{"dev-*", "prod-1", false},
		{"*", "", true},
		{"*-rc*", "1.0-rc2", true},
		{"*-rc*", "1.0-rel", false},
		{"a*b*c", "aXbYc", true},
		{"a*b*c", "aXbY", false},
		{"**", "anything", true},
		{"v*.*", "v1.2", true},
		{"v*.*", "v12", false},
	}
	for _, tt := range tests {
		if got := registry.WildcardMatch(tt.pattern, tt.s); got != tt.want {
			t.Errorf("WildcardMatch(%q, %q) = %v, want %v", tt.pattern, tt.s, got, tt.want)
		}
	}
}

func FuzzWildcardMatch(f *testing.F) {
	f.Add("dev-*", "dev-1")
	f.Add("*a*b*", "xaybz")
	f.Fuzz(func(t *testing.T, pattern, s string) {
		got := registry.WildcardMatch(pattern, s)
		// Reference: a filter without '*' matches only itself; "*" + p
		// matches any suffix that p matches.
		if !strings.Contains(pattern, "*") && got != (pattern == s) {
			t.Fatalf("WildcardMatch(%q, %q) = %v", pattern, s, got)
		}
		if got && !registry.WildcardMatch("*"+pattern, "x"+s) {
			t.Fatalf("%q matches %q but *%q does not match x%q", pattern, s, pattern, s)
		}
		if got && !registry.WildcardMatch(pattern+"*", s+"y") {
			t.Fatalf("%q matches %q but %q* does not match %qy", pattern, s, pattern, s)
		}
	})
}

func TestBatchDeleteImageByTag(t *testing.T) {
	f := newFixture(t, registry.Options{})
	m := f.pushImage(t, "app", "v1", "x")
	d := digest.FromBytes(m)
	if _, err := f.reg.PutManifest(ctx, key("app"), "v2", nil, ociManifest, m); err != nil {
		t.Fatal(err)
	}
	deleted, failures, err := f.reg.BatchDeleteImage(ctx, key("app"), []registry.ImageID{{Tag: "v1"}, {Tag: "nope"}, {Digest: "sha256:bad"}})
	if err != nil || len(deleted) != 1 || len(failures) != 2 {
		t.Fatalf("BatchDeleteImage = %+v, %+v, %v", deleted, failures, err)
	}
	if failures[0].Code != registry.FailureImageNotFound || failures[1].Code != registry.FailureInvalidImageDigest {
		t.Fatalf("failures = %+v", failures)
	}
	// Another tag remains, so does the image.
	if _, err := f.reg.Manifest(ctx, key("app"), d.String(), false); err != nil {
		t.Fatalf("image gone while it still has a tag: %v", err)
	}
	// Removing the last tag removes the image, as in ECR.
	if _, _, err := f.reg.BatchDeleteImage(ctx, key("app"), []registry.ImageID{{Tag: "v2"}}); err != nil {
		t.Fatal(err)
	}
	_, err = f.reg.Manifest(ctx, key("app"), d.String(), false)
	wantCode(t, err, registry.CodeManifestUnknown)
}

func TestListAndDescribeImagesPages(t *testing.T) {
	f := newFixture(t, registry.Options{})
	var tagged []string
	for i := range 7 {
		tag := ""
		if i%3 != 0 {
			tag = fmt.Sprintf("t%d", i)
			tagged = append(tagged, tag)
		}
		m := f.pushImage(t, "app", "tmp", fmt.Sprint(i))
		if tag != "" {
			if _, err := f.reg.PutManifest(ctx, key("app"), tag, nil, ociManifest, m); err != nil {
				t.Fatal(err)
			}
		}
	}
	f.reg.DeleteManifest(ctx, key("app"), "tmp")
	var got []string
	untagged := 0
	token := ""
	for pages := 0; ; pages++ {
		ids, next, err := f.reg.ListImages(ctx, key("app"), registry.ImageFilter{Tags: registry.TagStatusAny}, token, 2)
		if err != nil {
			t.Fatal(err)
		}
		for _, id := range ids {
			if id.Tag == "" {
				untagged++
			} else {
				got = append(got, id.Tag)
			}
		}
		if next == "" {
			break
		}
		token = next
		if pages > 10 {
			t.Fatal("pagination does not end")
		}
	}
	slices.Sort(got)
	if !slices.Equal(got, tagged) || untagged != 3 {
		t.Fatalf("listed tags %v and %d untagged; want %v and 3", got, untagged, tagged)
	}
	details, _, err := f.reg.DescribeImages(ctx, key("app"), nil, registry.ImageFilter{Tags: registry.TagStatusUntagged}, "", 100)
	if err != nil || len(details) != 3 {
		t.Fatalf("untagged images = %d, %v", len(details), err)
	}
	for _, d := range details {
		if d.ImageSize == 0 || d.PushedAt.IsZero() {
			t.Errorf("image detail lacks size or push time: %+v", d)
		}
	}
	_, _, err = f.reg.DescribeImages(ctx, key("app"), []registry.ImageID{{Tag: "missing"}}, registry.ImageFilter{}, "", 0)
	wantCode(t, err, registry.CodeManifestUnknown)
	_, _, err = f.reg.ListImages(ctx, key("app"), registry.ImageFilter{Tags: registry.TagStatusAny}, "garbage!", 2)
	wantCode(t, err, registry.CodeInvalidParameter)
}

func TestLayerUploadParts(t *testing.T) {
	f := newFixture(t, registry.Options{})
	u, err := f.reg.InitiateLayerUpload(ctx, key("app"))
	if err != nil {
		t.Fatal(err)
	}
	big := bytes.Repeat([]byte("p"), registry.MinLayerPartSize)
	if last, err := f.reg.UploadLayerPart(ctx, key("app"), u.ID, 0, int64(len(big))-1, big); err != nil || last != int64(len(big))-1 {
		t.Fatalf("first part = %d, %v", last, err)
	}
	_, err = f.reg.UploadLayerPart(ctx, key("app"), u.ID, 7, 9, []byte("abc"))
	wantCode(t, err, registry.CodeInvalidLayerPart)
	_, err = f.reg.UploadLayerPart(ctx, key("app"), u.ID, int64(len(big)), int64(len(big))+5, []byte("abc"))
	wantCode(t, err, registry.CodeInvalidLayerPart)
	if _, err := f.reg.UploadLayerPart(ctx, key("app"), u.ID, int64(len(big)), int64(len(big))+2, []byte("end")); err != nil {
		t.Fatal(err)
	}
	// The small part was not the last one after all.
	_, err = f.reg.UploadLayerPart(ctx, key("app"), u.ID, int64(len(big))+3, int64(len(big))+3, []byte("!"))
	wantCode(t, err, registry.CodeLayerPartTooSmall)
	content := append(big, "end"...)
	_, err = f.reg.CompleteLayerUpload(ctx, key("app"), u.ID, digest.FromString("wrong").String())
	wantCode(t, err, registry.CodeInvalidLayer)

	u, _ = f.reg.InitiateLayerUpload(ctx, key("app"))
	_, err = f.reg.CompleteLayerUpload(ctx, key("app"), u.ID, digest.FromBytes(content).String())
	wantCode(t, err, registry.CodeEmptyUpload)
	f.reg.UploadLayerPart(ctx, key("app"), u.ID, 0, int64(len(content))-1, content)
	b, err := f.reg.CompleteLayerUpload(ctx, key("app"), u.ID, digest.FromBytes(content).String())
	if err != nil || b.Size != int64(len(content)) {
		t.Fatalf("CompleteLayerUpload = %+v, %v", b, err)
	}
	u, _ = f.reg.InitiateLayerUpload(ctx, key("app"))
	f.reg.UploadLayerPart(ctx, key("app"), u.ID, 0, int64(len(content))-1, content)
	_, err = f.reg.CompleteLayerUpload(ctx, key("app"), u.ID, digest.FromBytes(content).String())
	wantCode(t, err, registry.CodeLayerAlreadyExists)
	layers, failures, err := f.reg.BatchCheckLayerAvailability(ctx, key("app"), []string{digest.FromBytes(content).String(), digest.FromString("no").String(), "bad"})
	if err != nil || len(layers) != 1 || len(failures) != 2 || failures[0].Malformed || !failures[1].Malformed {
		t.Fatalf("BatchCheckLayerAvailability = %+v, %+v, %v", layers, failures, err)
	}
}

func TestRepositoryLifecycle(t *testing.T) {
	f := newBareFixture(t)
	repo, err := f.reg.CreateRepository(ctx, key("svc"), metadata.RepositorySettings{ScanOnPush: true}, []metadata.ResourceTag{{Key: "b", Value: "2"}, {Key: "a", Value: "1"}})
	if err != nil {
		t.Fatal(err)
	}
	if repo.Settings.TagMutability != registry.Mutable || repo.Settings.EncryptionType != registry.EncryptionAES256 || repo.Tags[0].Key != "a" {
		t.Fatalf("created %+v", repo)
	}
	_, err = f.reg.CreateRepository(ctx, key("svc"), metadata.RepositorySettings{}, nil)
	wantCode(t, err, registry.CodeRepositoryAlreadyExists)
	_, err = f.reg.CreateRepository(ctx, key("kms"), metadata.RepositorySettings{KMSKey: "arn:aws:kms:us-east-1:123456789012:key/x"}, nil)
	wantCode(t, err, registry.CodeInvalidParameter)

	arn := registry.RepositoryARN(key("svc"))
	many := make([]metadata.ResourceTag, 50)
	for i := range many {
		many[i] = metadata.ResourceTag{Key: fmt.Sprintf("k%02d", i)}
	}
	wantCode(t, f.reg.TagResource(ctx, arn, many), registry.CodeTooManyTags)
	wantCode(t, f.reg.TagResource(ctx, arn, []metadata.ResourceTag{{Key: "aws:x"}}), registry.CodeInvalidTagParameter)
	wantCode(t, f.reg.TagResource(ctx, "arn:aws:s3:::bucket", nil), registry.CodeInvalidParameter)
	if err := f.reg.UntagResource(ctx, arn, []string{"a", "zzz"}); err != nil {
		t.Fatal(err)
	}
	tags, err := f.reg.ListTagsForResource(ctx, arn)
	if err != nil || len(tags) != 1 || tags[0].Key != "b" {
		t.Fatalf("tags = %+v, %v", tags, err)
	}

	// Paging through repositories.
	for _, n := range []string{"svc2", "svc3"} {
		f.reg.CreateRepository(ctx, key(n), metadata.RepositorySettings{}, nil)
	}
	var names []string
	token := ""
	for {
		repos, next, err := f.reg.DescribeRepositories(ctx, scope, nil, token, 2)
		if err != nil {
			t.Fatal(err)
		}
		for _, r := range repos {
			names = append(names, r.Key.Name)
		}
		if next == "" {
			break
		}
		token = next
	}
	if !slices.Equal(names, []string{"svc", "svc2", "svc3"}) {
		t.Fatalf("paged repositories = %v", names)
	}

	// Deleting a repository with images needs force.
	registrytest.CreateOnPush(t, f.reg)
	f.pushImage(t, "svc", "v1", "x")
	_, _, err = f.reg.DeleteRepository(ctx, key("svc"), false)
	wantCode(t, err, registry.CodeRepositoryNotEmpty)
	u, _ := f.reg.StartUpload(ctx, key("svc"))
	if _, n, err := f.reg.DeleteRepository(ctx, key("svc"), true); err != nil || n != 1 {
		t.Fatalf("forced delete = %d images, %v", n, err)
	}
	_, _, err = f.reg.DescribeRepositories(ctx, scope, []string{"svc"}, "", 0)
	wantCode(t, err, registry.CodeNameUnknown)
	if ups, _ := f.blobs.Uploads(ctx); slices.ContainsFunc(ups, func(x blobstore.Upload) bool { return x.ID == u.ID }) {
		t.Fatal("the deleted repository's upload is still in storage")
	}
}

func TestAccountSettingsAndMounting(t *testing.T) {
	f := newFixture(t, registry.Options{})
	if v, err := f.reg.AccountSetting(ctx, scope, "BLOB_MOUNTING"); err != nil || v != "ENABLED" {
		t.Fatalf("BLOB_MOUNTING = %q, %v", v, err)
	}
	d := f.pushBlob(t, "src", []byte("shared"))
	if err := f.reg.PutAccountSetting(ctx, scope, "BLOB_MOUNTING", "DISABLED"); err != nil {
		t.Fatal(err)
	}
	if _, ok, err := f.reg.MountBlob(ctx, key("dst"), ptr(key("src")), d.String()); err != nil || ok {
		t.Fatalf("mount with BLOB_MOUNTING disabled = %v, %v", ok, err)
	}
	wantCode(t, f.reg.PutAccountSetting(ctx, scope, "BLOB_MOUNTING", "MAYBE"), registry.CodeValidation)
	_, err := f.reg.AccountSetting(ctx, scope, "NO_SUCH_SETTING")
	wantCode(t, err, registry.CodeValidation)
	other := identity.NewContext(context.Background(), identity.Root("210987654321"))
	wantCode(t, f.reg.PutAccountSetting(other, scope, "BLOB_MOUNTING", "ENABLED"), registry.CodeAccessDenied)
}
