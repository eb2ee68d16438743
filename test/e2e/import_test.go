package e2e

import (
	"bytes"
	"context"
	"errors"
	"os"
	"os/exec"
	"path/filepath"
	"slices"
	"strings"
	"testing"
	"time"

	"github.com/aws/aws-sdk-go-v2/aws"
	"github.com/aws/aws-sdk-go-v2/service/ecr"
	"github.com/google/go-containerregistry/pkg/authn"
	"github.com/google/go-containerregistry/pkg/name"
	v1 "github.com/google/go-containerregistry/pkg/v1"
	"github.com/google/go-containerregistry/pkg/v1/empty"
	"github.com/google/go-containerregistry/pkg/v1/layout"
	"github.com/google/go-containerregistry/pkg/v1/random"
	"github.com/google/go-containerregistry/pkg/v1/remote"

	"github.com/ecrd/ecrd/test/ecrdtest"
)

// importResult is what one run of `ecrd import` did.
type importResult struct {
	stdout, stderr string
	code           int
}

// ecrdImport runs `ecrd import` against e (AWS_ENDPOINT_URL) with the
// given access key, in an environment cleared of the machine's AWS and
// ecrd settings.
func ecrdImport(t *testing.T, e *ecrd, accessKey, secret string, args ...string) importResult {
	t.Helper()
	cmd := exec.Command(ecrdtest.Bin(), append([]string{"import"}, args...)...)
	for _, kv := range os.Environ() {
		if !strings.HasPrefix(kv, "AWS_") && !strings.HasPrefix(kv, "ECRD_") {
			cmd.Env = append(cmd.Env, kv)
		}
	}
	none := filepath.Join(t.TempDir(), "none")
	cmd.Env = append(cmd.Env, "AWS_ACCESS_KEY_ID="+accessKey, "AWS_SECRET_ACCESS_KEY="+secret, "AWS_REGION="+testRegion,
		"AWS_CONFIG_FILE="+none, "AWS_SHARED_CREDENTIALS_FILE="+none, "AWS_EC2_METADATA_DISABLED=true",
		"AWS_ENDPOINT_URL="+e.URL(), "ECRD_DATA="+t.TempDir())
	var stdout, stderr bytes.Buffer
	cmd.Stdout, cmd.Stderr = &stdout, &stderr
	err := cmd.Run()
	var exit *exec.ExitError
	if err != nil && !errors.As(err, &exit) {
		t.Fatalf("running ecrd import: %v", err)
	}
	return importResult{stdout: stdout.String(), stderr: stderr.String(), code: cmd.ProcessState.ExitCode()}
}

// mustImport runs `ecrd import` as the test root and fails the test if it
// fails.
func mustImport(t *testing.T, e *ecrd, args ...string) importResult {
	t.Helper()
	r := ecrdImport(t, e, testAccessKey, testSecret, args...)
	if r.code != 0 {
		t.Fatalf("ecrd import %s: exit %d\nstdout:\n%s\nstderr:\n%s", strings.Join(args, " "), r.code, r.stdout, r.stderr)
	}
	return r
}

// wantImportError runs an import that must fail with a one-line message
// containing each of parts.
func wantImportError(t *testing.T, e *ecrd, what string, parts []string, args ...string) {
	t.Helper()
	r := ecrdImport(t, e, testAccessKey, testSecret, args...)
	msg := strings.TrimSpace(r.stderr)
	switch {
	case r.code == 0:
		t.Errorf("%s: ecrd import succeeded, want a failure\n%s", what, r.stdout)
	case strings.Contains(msg, "\n"):
		t.Errorf("%s: want a one-line message, got\n%s", what, msg)
	case !strings.HasPrefix(msg, "ecrd import: "):
		t.Errorf("%s: message %q does not start with \"ecrd import: \"", what, msg)
	}
	for _, p := range parts {
		if !strings.Contains(msg, p) {
			t.Errorf("%s: message %q does not say %q", what, msg, p)
		}
	}
}

// layoutItem is an image or an index to write into a test layout, under a
// ref.name annotation (none if refName is empty).
type layoutItem struct {
	refName string
	img     v1.Image
	idx     v1.ImageIndex
}

// writeImportLayout writes an OCI layout of items, as skopeo or crane
// would.
func writeImportLayout(t *testing.T, items ...layoutItem) string {
	t.Helper()
	dir := t.TempDir()
	p, err := layout.Write(dir, empty.Index)
	if err != nil {
		t.Fatal(err)
	}
	for _, it := range items {
		var opts []layout.Option
		if it.refName != "" {
			opts = append(opts, layout.WithAnnotations(map[string]string{"org.opencontainers.image.ref.name": it.refName}))
		}
		if it.idx != nil {
			err = p.AppendIndex(it.idx, opts...)
		} else {
			err = p.AppendImage(it.img, opts...)
		}
		if err != nil {
			t.Fatal(err)
		}
	}
	return dir
}

// importedImage is what DescribeImages says of one image.
type importedImage struct {
	tags           []string
	pushed, pulled time.Time
}

// describeAll returns every image of a repository by digest.
func describeAll(t *testing.T, e *ecrd, repo string) map[string]importedImage {
	t.Helper()
	got := make(map[string]importedImage)
	p := ecr.NewDescribeImagesPaginator(e.ECR(), &ecr.DescribeImagesInput{RepositoryName: aws.String(repo)})
	for p.HasMorePages() {
		out, err := p.NextPage(context.Background())
		if err != nil {
			t.Fatalf("DescribeImages of %s: %v", repo, err)
		}
		for _, d := range out.ImageDetails {
			got[aws.ToString(d.ImageDigest)] = importedImage{tags: ecrSorted(d.ImageTags),
				pushed: aws.ToTime(d.ImagePushedAt), pulled: aws.ToTime(d.LastRecordedPullTime)}
		}
	}
	return got
}

// checkImported checks that repo holds exactly the images of want (digest
// to sorted tags), each pushed and last pulled at the given times (a zero
// time: not checked).
func checkImported(t *testing.T, e *ecrd, repo string, want map[string][]string, pushed, pulled time.Time) {
	t.Helper()
	got := describeAll(t, e, repo)
	for d, tags := range want {
		g, ok := got[d]
		switch {
		case !ok:
			t.Errorf("%s: image %s (tags %q) is missing", repo, d, tags)
			continue
		case !slices.Equal(g.tags, tags):
			t.Errorf("%s: image %s has tags %q, want %q", repo, d, g.tags, tags)
		}
		if !pushed.IsZero() && !g.pushed.Equal(pushed) {
			t.Errorf("%s: image %s imagePushedAt = %s, want %s", repo, d, g.pushed.UTC(), pushed)
		}
		if !pulled.IsZero() && !g.pulled.Equal(pulled) {
			t.Errorf("%s: image %s lastRecordedPullTime = %s, want %s", repo, d, g.pulled.UTC(), pulled)
		}
	}
	for d, g := range got {
		if _, ok := want[d]; !ok {
			t.Errorf("%s: unexpected image %s (tags %q)", repo, d, g.tags)
		}
	}
}

// manifestPushes counts the manifests the server stored so far.
func manifestPushes(e *ecrd) int {
	n := 0
	for _, l := range e.LogLines() {
		if l["msg"] == "manifest pushed" {
			n++
		}
	}
	return n
}

// TestImport imports a layout of tagged, untagged and multi-arch images
// with their times, checks them through the ECR API and pulls them back,
// re-runs the import, and checks the errors a user can make.
func TestImport(t *testing.T) {
	t.Parallel()
	e := startECRD(t, t.TempDir())

	tagged := platformImage(t, "amd64", 2, nil)
	fullRef := platformImage(t, "arm64", 1, nil)
	untagged, err := random.Image(1000, 1)
	if err != nil {
		t.Fatal(err)
	}
	multi, err := random.Index(512, 2, 2)
	if err != nil {
		t.Fatal(err)
	}
	dir := writeImportLayout(t,
		layoutItem{refName: "v1", img: tagged},
		layoutItem{refName: "latest", img: tagged}, // one image, two names
		layoutItem{refName: "registry.example.com:5000/team/app:v2", img: fullRef},
		layoutItem{img: untagged},
		layoutItem{refName: "multi", idx: multi},
	)
	want := map[string][]string{
		mustDigest(t, tagged):   {"latest", "v1"},
		mustDigest(t, fullRef):  {"v2"},
		mustDigest(t, untagged): nil,
		mustDigest(t, multi):    {"multi"},
	}
	im, err := multi.IndexManifest()
	if err != nil {
		t.Fatal(err)
	}
	for _, c := range im.Manifests {
		want[c.Digest.String()] = nil // an index's children are images too
	}
	pushed := time.Date(2024, 1, 2, 3, 4, 5, 0, time.UTC)
	pulled := time.Date(2024, 6, 1, 0, 0, 0, 0, time.UTC)

	// The layout folder first, the flags after it.
	r := mustImport(t, e, dir, "--repository", "imp/app", "--create", "--pushed-at", "2024-01-02T03:04:05Z", "--last-pulled-at", "2024-06-01")
	checkImported(t, e, "imp/app", want, pushed, pulled)
	for _, s := range []string{"imported 4 images", e.Addr + "/imp/app", "pushed at 2024-01-02T03:04:05Z", "last pulled at 2024-06-01T00:00:00Z", mustDigest(t, untagged)} {
		if !strings.Contains(r.stdout, s) {
			t.Errorf("the summary does not say %q:\n%s", s, r.stdout)
		}
	}
	for _, s := range []string{"created repository imp/app", "importing " + mustDigest(t, multi) + " (multi;", "imported " + mustDigest(t, tagged) + " (v1, latest;"} {
		if !strings.Contains(r.stderr, s) {
			t.Errorf("the progress does not say %q:\n%s", s, r.stderr)
		}
	}

	t.Run("again", func(t *testing.T) {
		// A re-run sends no manifest (remote finds each with HEAD) and
		// changes nothing; without times it keeps those set before.
		before := manifestPushes(e)
		if before == 0 {
			t.Fatal("the server logged no manifest push for the first import")
		}
		mustImport(t, e, "--repository", "imp/app", "--pushed-at", "2024-01-02T03:04:05Z", "--last-pulled-at", "2024-06-01", dir)
		mustImport(t, e, "--repository", "imp/app", "--quiet", dir)
		if n := manifestPushes(e) - before; n != 0 {
			t.Errorf("re-running the import pushed %d manifests, want none", n)
		}
		checkImported(t, e, "imp/app", want, pushed, pulled)
	})

	t.Run("pull back", func(t *testing.T) {
		opts := []remote.Option{remote.WithAuth(&authn.Basic{Username: "AWS", Password: e.Password(t)})}
		ref := func(s string) name.Reference {
			r, err := name.ParseReference(e.Addr+"/imp/app"+s, name.Insecure)
			if err != nil {
				t.Fatal(err)
			}
			return r
		}
		idx, err := remote.Index(ref(":multi"), opts...)
		if err != nil {
			t.Fatalf("pulling the index: %v", err)
		}
		if got := mustDigest(t, idx); got != mustDigest(t, multi) {
			t.Errorf("the index pulls back as %s, want %s", got, mustDigest(t, multi))
		}
		for _, c := range im.Manifests {
			img, err := remote.Image(ref("@"+c.Digest.String()), opts...)
			if err != nil {
				t.Fatalf("pulling child %s: %v", c.Digest, err)
			}
			orig, err := multi.Image(c.Digest)
			if err != nil {
				t.Fatal(err)
			}
			if got, want := layerDigests(t, img), layerDigests(t, orig); !slices.Equal(got, want) {
				t.Errorf("child %s pulls back with layers %q, want %q", c.Digest, got, want)
			}
		}
		for _, tc := range []struct {
			ref string
			img v1.Image
		}{{":v1", tagged}, {":latest", tagged}, {":v2", fullRef}, {"@" + mustDigest(t, untagged), untagged}} {
			img, err := remote.Image(ref(tc.ref), opts...)
			if err != nil {
				t.Fatalf("pulling %s: %v", tc.ref, err)
			}
			if got, want := mustDigest(t, img), mustDigest(t, tc.img); got != want {
				t.Errorf("%s pulls back as %s, want %s", tc.ref, got, want)
			}
			if got, want := mustConfigDigest(t, img), mustConfigDigest(t, tc.img); got != want {
				t.Errorf("%s pulls back with config %s, want %s", tc.ref, got, want)
			}
		}
	})

	t.Run("tag flag", func(t *testing.T) {
		img, err := random.Image(300, 1)
		if err != nil {
			t.Fatal(err)
		}
		one := writeImportLayout(t, layoutItem{refName: "ignored", img: img})
		r := mustImport(t, e, "--repository", "imp/tagged", "--create", "--tag", "a", "--tag", "b", "--quiet", "--pushed-at", "2023-03-04", one)
		if r.stderr != "" {
			t.Errorf("--quiet printed\n%s", r.stderr)
		}
		checkImported(t, e, "imp/tagged", map[string][]string{mustDigest(t, img): {"a", "b"}}, time.Date(2023, 3, 4, 0, 0, 0, 0, time.UTC), time.Time{})
		wantImportError(t, e, "--tag with several images", []string{"--tag", "holds 4"}, "--repository", "imp/tagged", "--tag", "x", dir)
	})

	t.Run("errors", func(t *testing.T) {
		bare := t.TempDir()
		wantImportError(t, e, "a missing folder", []string{"is not a folder"}, "--repository", "imp/app", filepath.Join(bare, "nope"))
		wantImportError(t, e, "a folder without index.json", []string{"is not an OCI image layout", "skopeo copy"}, "--repository", "imp/app", bare)
		wantImportError(t, e, "no folder", []string{"give one OCI layout folder"}, "--repository", "imp/app")
		wantImportError(t, e, "no repository", []string{"--repository is required"}, dir)
		wantImportError(t, e, "an unknown repository", []string{`repository "imp/nothing" does not exist`, "--create"}, "--repository", "imp/nothing", dir)
		wantImportError(t, e, "a bad time", []string{"--pushed-at", "RFC 3339"}, "--repository", "imp/app", "--pushed-at", "2024-13-01", dir)
		wantImportError(t, e, "a future time", []string{"--last-pulled-at", "is in the future"}, "--repository", "imp/app", "--last-pulled-at", "2999-01-01", dir)
		wantImportError(t, e, "a pull before the push", []string{"before --pushed-at"}, "--repository", "imp/app", "--pushed-at", "2024-02-01", "--last-pulled-at", "2024-01-01", dir)
		wantImportError(t, e, "a bad tag", []string{`"-x" is not a valid tag`}, "--repository", "imp/app", "--tag", "-x", dir)

		// A layout that lost a layer fails before anything is pushed.
		img := platformImage(t, "amd64", 1, nil)
		broken := writeImportLayout(t, layoutItem{refName: "v1", img: img})
		layer := layerDigests(t, img)[0]
		if err := os.Remove(blobPath(broken, layer)); err != nil {
			t.Fatal(err)
		}
		wantImportError(t, e, "a missing blob", []string{layer, "is missing from the layout"}, "--repository", "imp/broken", "--create", broken)
		if _, err := e.ECR().DescribeRepositories(context.Background(), &ecr.DescribeRepositoriesInput{RepositoryNames: []string{"imp/broken"}}); err == nil {
			t.Error("a broken layout created its repository")
		}
		bad := writeImportLayout(t, layoutItem{refName: "example.com/team/app", img: img})
		wantImportError(t, e, "a ref.name without a tag", []string{`"example.com/team/app" is neither a tag nor a reference with a tag`}, "--repository", "imp/app", bad)
	})

	t.Run("another account", func(t *testing.T) {
		const second = "210987654321"
		key, secret := newAccountKey(t, e, second)
		r := ecrdImport(t, e, key, secret, "--repository", "imp/app", "--registry-id", testAccount, "--pushed-at", "2024-01-01", dir)
		if r.code == 0 || !strings.Contains(r.stderr, "the credentials are account "+second+"'s") {
			t.Errorf("importing into another account's registry: exit %d\n%s", r.code, r.stderr)
		}
		checkImported(t, e, "imp/app", want, pushed, time.Time{})
	})

	t.Run("non-root", func(t *testing.T) {
		// An IAM user imports with what its policy allows: the ECR
		// actions of a push, and ecrd:SetImageTimes to keep the ages.
		c := iamClient(e)
		push := `"ecr:GetAuthorizationToken","ecr:DescribeRepositories","ecr:CreateRepository","ecr:BatchCheckLayerAvailability",` +
			`"ecr:InitiateLayerUpload","ecr:UploadLayerPart","ecr:CompleteLayerUpload","ecr:PutImage","ecr:BatchGetImage"`
		allow := func(actions string) string {
			return `{"Version":"2012-10-17","Statement":[{"Effect":"Allow","Action":[` + actions + `],"Resource":"*"}]}`
		}
		key := func(p aws.CredentialsProvider) (string, string) {
			creds, err := p.Retrieve(context.Background())
			if err != nil {
				t.Fatal(err)
			}
			return creds.AccessKeyID, creds.SecretAccessKey
		}
		id, secret := key(newUser(t, c, "importer", allow(push+`,"ecrd:SetImageTimes"`)))
		r := ecrdImport(t, e, id, secret, "--repository", "imp/user", "--create", "--pushed-at", "2023-05-06", "--last-pulled-at", "2024-06-01", dir)
		if r.code != 0 {
			t.Fatalf("importing as a user allowed to: exit %d\nstdout:\n%s\nstderr:\n%s", r.code, r.stdout, r.stderr)
		}
		userPushed := time.Date(2023, 5, 6, 0, 0, 0, 0, time.UTC)
		checkImported(t, e, "imp/user", want, userPushed, pulled)

		// A user who may push but not set times is refused when the times
		// are set, after the push, and nothing changes.
		id, secret = key(newUser(t, c, "pusher", allow(push)))
		wantDenied := func(what string, r importResult, parts ...string) {
			t.Helper()
			// The last line says why; the lines before are progress.
			msg := strings.TrimSpace(r.stderr)
			last := msg[strings.LastIndex(msg, "\n")+1:]
			if r.code != 1 || !strings.HasPrefix(last, "ecrd import: ") {
				t.Errorf("%s: want exit 1 and an ecrd import: message, got exit %d\n%s", what, r.code, r.stderr)
			}
			for _, p := range parts {
				if !strings.Contains(last, p) {
					t.Errorf("%s: the message %q does not say %q", what, last, p)
				}
			}
		}
		r = ecrdImport(t, e, id, secret, "--repository", "imp/user", "--pushed-at", "2022-01-01", dir)
		wantDenied("setting times without ecrd:SetImageTimes", r, "setting the times of sha256:", "AccessDeniedException",
			"arn:aws:iam::"+testAccount+":user/pusher is not authorized to perform: ecrd:SetImageTimes")
		checkImported(t, e, "imp/user", want, userPushed, pulled)
		// Without times, the same user's import is a push, which it may do.
		if r := ecrdImport(t, e, id, secret, "--repository", "imp/user", "--quiet", dir); r.code != 0 {
			t.Errorf("importing without times as a user allowed to push: exit %d\n%s", r.code, r.stderr)
		}

		// A user without any policy is refused at the start.
		id, secret = key(newUser(t, c, "nobody", ""))
		r = ecrdImport(t, e, id, secret, "--repository", "imp/nobody", "--create", dir)
		wantDenied("a user without permissions", r, "AccessDeniedException", "user/nobody is not authorized to perform: ecr:CreateRepository")
		if _, err := e.ECR().DescribeRepositories(context.Background(), &ecr.DescribeRepositoriesInput{RepositoryNames: []string{"imp/nobody"}}); err == nil {
			t.Error("a user without permissions created a repository")
		}
	})

	noServerErrors(t, e)
}

// TestImportSkopeo imports a layout that skopeo wrote from an image in
// ecrd into another repository, with its age.
func TestImportSkopeo(t *testing.T) {
	skopeo := tool(t, "skopeo")
	e := startECRD(t, t.TempDir())
	ctx, cancel := context.WithTimeout(context.Background(), time.Minute)
	defer cancel()

	home, policy := isolateSkopeo(t)
	e.Login(t)

	img := platformImage(t, "amd64", 2, map[string]string{"org.opencontainers.image.version": "1.0"})
	src, err := name.ParseReference(e.Addr+"/skopeo/src:v1", name.Insecure)
	if err != nil {
		t.Fatal(err)
	}
	if err := remote.Write(src, img, remote.WithAuth(&authn.Basic{Username: "AWS", Password: e.Password(t)})); err != nil {
		t.Fatalf("pushing the source image: %v", err)
	}
	dir := filepath.Join(t.TempDir(), "layout")
	run(t, ctx, skopeo, "--policy", policy, "--tmpdir", home, "copy", "--src-tls-verify=false",
		"docker://"+e.Addr+"/skopeo/src:v1", "oci:"+dir+":v1")

	mustImport(t, e, "--repository", "skopeo/dst", "--create", "--pushed-at", "2022-11-30", dir)
	checkImported(t, e, "skopeo/dst", map[string][]string{mustDigest(t, img): {"v1"}}, time.Date(2022, 11, 30, 0, 0, 0, 0, time.UTC), time.Time{})
	noServerErrors(t, e)
}

// TestImportCrane imports a layout that crane wrote with --annotate-ref,
// whose ref.name annotations are full references.
func TestImportCrane(t *testing.T) {
	crane := tool(t, "crane")
	e := startECRD(t, t.TempDir())
	ctx, cancel := context.WithTimeout(context.Background(), time.Minute)
	defer cancel()
	e.Login(t)

	idx, err := random.Index(256, 1, 2)
	if err != nil {
		t.Fatal(err)
	}
	src, err := name.ParseReference(e.Addr+"/crane/src:multi", name.Insecure)
	if err != nil {
		t.Fatal(err)
	}
	if err := remote.WriteIndex(src, idx, remote.WithAuth(&authn.Basic{Username: "AWS", Password: e.Password(t)})); err != nil {
		t.Fatalf("pushing the source index: %v", err)
	}
	dir := filepath.Join(t.TempDir(), "layout")
	run(t, ctx, crane, "pull", "--insecure", "--format=oci", "--annotate-ref", e.Addr+"/crane/src:multi", dir)
	if got := layoutEntry(t, dir, e.Addr+"/crane/src:multi").Digest.String(); got != mustDigest(t, idx) {
		t.Fatalf("crane wrote %s, want %s", got, mustDigest(t, idx))
	}

	mustImport(t, e, "--repository", "crane/dst", "--create", "--last-pulled-at", "2025-01-15T10:00:00Z", dir)
	want := map[string][]string{mustDigest(t, idx): {"multi"}}
	im, err := idx.IndexManifest()
	if err != nil {
		t.Fatal(err)
	}
	for _, c := range im.Manifests {
		want[c.Digest.String()] = nil
	}
	checkImported(t, e, "crane/dst", want, time.Time{}, time.Date(2025, 1, 15, 10, 0, 0, 0, time.UTC))
	noServerErrors(t, e)
}
