package e2e

import (
	"context"
	"errors"
	"io"
	"os"
	"path/filepath"
	"slices"
	"strings"
	"sync/atomic"
	"testing"

	"github.com/aws/aws-sdk-go-v2/aws"
	"github.com/aws/aws-sdk-go-v2/service/ecr"
	ecrtypes "github.com/aws/aws-sdk-go-v2/service/ecr/types"
	"github.com/google/go-containerregistry/pkg/authn"
	"github.com/google/go-containerregistry/pkg/name"
	v1 "github.com/google/go-containerregistry/pkg/v1"
	"github.com/google/go-containerregistry/pkg/v1/empty"
	"github.com/google/go-containerregistry/pkg/v1/mutate"
	"github.com/google/go-containerregistry/pkg/v1/random"
	ggcrremote "github.com/google/go-containerregistry/pkg/v1/remote"
	"github.com/google/go-containerregistry/pkg/v1/types"
	"github.com/opencontainers/go-digest"

	"github.com/ecrd/ecrd/internal/remote"
)

// remoteCredentials writes a shared credentials file of profiles, and
// keeps the test's own AWS files and variables out of the clients.
func remoteCredentials(t *testing.T, profiles map[string][2]string) string {
	t.Helper()
	dir := t.TempDir()
	t.Setenv("AWS_CONFIG_FILE", filepath.Join(dir, "config"))
	for _, v := range []string{"AWS_SHARED_CREDENTIALS_FILE", "AWS_PROFILE", "AWS_ACCESS_KEY_ID", "AWS_SECRET_ACCESS_KEY", "AWS_SESSION_TOKEN", "AWS_ENDPOINT_URL", "AWS_CA_BUNDLE"} {
		t.Setenv(v, "")
	}
	var b strings.Builder
	for p, key := range profiles {
		b.WriteString("[" + p + "]\naws_access_key_id = " + key[0] + "\naws_secret_access_key = " + key[1] + "\n")
	}
	file := filepath.Join(dir, "credentials")
	if err := os.WriteFile(file, []byte(b.String()), 0o600); err != nil {
		t.Fatal(err)
	}
	return file
}

func newRemote(t *testing.T, target remote.Target) *remote.Client {
	t.Helper()
	c, err := remote.New(target)
	if err != nil {
		t.Fatalf("remote.New: %v", err)
	}
	t.Cleanup(c.Close)
	return c
}

// remotePush pushes img's config and layers, then its manifest under ref,
// as replication does; it returns the image's digest.
func remotePush(t *testing.T, c *remote.Client, repo string, img v1.Image, ref string) digest.Digest {
	t.Helper()
	ctx := context.Background()
	cfgName, err := img.ConfigName()
	if err != nil {
		t.Fatal(err)
	}
	cfg, err := img.RawConfigFile()
	if err != nil {
		t.Fatal(err)
	}
	if err := c.PushBlob(ctx, repo, digest.Digest(cfgName.String()), int64(len(cfg)), func() (io.ReadCloser, error) {
		return io.NopCloser(strings.NewReader(string(cfg))), nil
	}); err != nil {
		t.Fatalf("pushing the config: %v", err)
	}
	layers, err := img.Layers()
	if err != nil {
		t.Fatal(err)
	}
	for _, l := range layers {
		d, _ := l.Digest()
		size, _ := l.Size()
		if err := c.PushBlob(ctx, repo, digest.Digest(d.String()), size, l.Compressed); err != nil {
			t.Fatalf("pushing layer %s: %v", d, err)
		}
	}
	return remotePutManifest(t, c, repo, img, ref)
}

func remotePutManifest(t *testing.T, c *remote.Client, repo string, m interface {
	RawManifest() ([]byte, error)
	MediaType() (types.MediaType, error)
}, ref string) digest.Digest {
	t.Helper()
	raw, err := m.RawManifest()
	if err != nil {
		t.Fatal(err)
	}
	mt, err := m.MediaType()
	if err != nil {
		t.Fatal(err)
	}
	if err := c.PutManifest(context.Background(), repo, ref, string(mt), raw); err != nil {
		t.Fatalf("pushing the manifest %s:%s: %v", repo, ref, err)
	}
	return digest.FromBytes(raw)
}

func remoteRandomImage(t *testing.T, size, layers int64) v1.Image {
	t.Helper()
	img, err := random.Image(size, layers)
	if err != nil {
		t.Fatal(err)
	}
	return img
}

func wantRemoteKind(t *testing.T, what string, err, kind error) {
	t.Helper()
	var e *remote.Error
	if !errors.Is(err, kind) || !errors.As(err, &e) || remote.Temporary(err) {
		t.Fatalf("%s: %v, want a permanent %v", what, err, kind)
	}
	t.Logf("%s: %v", what, err)
}

// TestRemoteClient: internal/remote pushes a random image into a real
// ecrd through its public APIs with a shared-credentials profile, and
// go-containerregistry pulls it back identical; blob checks, tags,
// deletes and every typed error come from the server's real answers.
func TestRemoteClient(t *testing.T) {
	e := startBareECRD(t, t.TempDir())
	ctx := context.Background()
	api := ecrClient(e)
	for repo, mutability := range map[string]ecrtypes.ImageTagMutability{"dr/app": ecrtypes.ImageTagMutabilityMutable, "dr/locked": ecrtypes.ImageTagMutabilityImmutable} {
		_, err := api.CreateRepository(ctx, &ecr.CreateRepositoryInput{RepositoryName: aws.String(repo), ImageTagMutability: mutability})
		ecrMust(t, "CreateRepository "+repo, err)
	}
	const wrongSecret = "not-the-secret-0123456789abcdefghijklmno"
	creds := remoteCredentials(t, map[string][2]string{"dr": {testAccessKey, testSecret}, "wrong": {testAccessKey, wrongSecret}})
	target := remote.Target{URL: e.URL(), Region: testRegion, Account: testAccount, Profile: "dr", CredentialsFile: creds, Source: "111111111111/us-west-2"}
	c := newRemote(t, target)

	// Push: blobs are absent, then present; a pushed blob is not sent again.
	img := remoteRandomImage(t, 1<<20, 3)
	layers, _ := img.Layers()
	first, _ := layers[0].Digest()
	if ok, err := c.BlobExists(ctx, "dr/app", digest.Digest(first.String())); err != nil || ok {
		t.Fatalf("BlobExists before the push = %v, %v", ok, err)
	}
	want := remotePush(t, c, "dr/app", img, "v1")
	if ok, err := c.BlobExists(ctx, "dr/app", digest.Digest(first.String())); err != nil || !ok {
		t.Fatalf("BlobExists after the push = %v, %v", ok, err)
	}
	var opened atomic.Int32
	size, _ := layers[0].Size()
	err := c.PushBlob(ctx, "dr/app", digest.Digest(first.String()), size, func() (io.ReadCloser, error) {
		opened.Add(1)
		return layers[0].Compressed()
	})
	if err != nil || opened.Load() != 0 {
		t.Fatalf("pushing a blob already there: %v, opened %d times", err, opened.Load())
	}
	// A blob another repository holds is mounted, not sent.
	_, err = api.CreateRepository(ctx, &ecr.CreateRepositoryInput{RepositoryName: aws.String("dr/other")})
	ecrMust(t, "CreateRepository dr/other", err)
	err = c.PushBlob(ctx, "dr/other", digest.Digest(first.String()), size, func() (io.ReadCloser, error) {
		opened.Add(1)
		return layers[0].Compressed()
	})
	if err != nil || opened.Load() != 0 {
		t.Fatalf("pushing a blob another repository holds: %v, opened %d times", err, opened.Load())
	}
	if ok, err := c.BlobExists(ctx, "dr/other", digest.Digest(first.String())); err != nil || !ok {
		t.Fatalf("BlobExists after the mount = %v, %v", ok, err)
	}
	if d := remotePutManifest(t, c, "dr/app", img, "v2"); d != want {
		t.Fatalf("the second tag's manifest is %s, the first's %s", d, want)
	}

	// Pull with another client: the same image, every layer intact.
	ref, err := name.ParseReference(e.Addr+"/dr/app:v1", name.Insecure)
	if err != nil {
		t.Fatal(err)
	}
	got, err := ggcrremote.Image(ref, ggcrremote.WithAuth(&authn.Basic{Username: "AWS", Password: e.Password(t)}))
	if err != nil {
		t.Fatalf("pulling what the client pushed: %v", err)
	}
	if d, _ := got.Digest(); d.String() != string(want) {
		t.Fatalf("pulled %s, pushed %s", d, want)
	}
	gotLayers, err := got.Layers()
	if err != nil || len(gotLayers) != len(layers) {
		t.Fatalf("pulled layers: %d, %v", len(gotLayers), err)
	}
	for i, l := range gotLayers {
		rc, err := l.Compressed()
		if err != nil {
			t.Fatal(err)
		}
		h := digest.SHA256.Digester()
		if _, err := io.Copy(h.Hash(), rc); err != nil {
			t.Fatal(err)
		}
		rc.Close()
		if d, _ := layers[i].Digest(); h.Digest().String() != d.String() {
			t.Fatalf("layer %d reads back as %s, pushed %s", i, h.Digest(), d)
		}
	}

	// Tags and deletes, ECR's way.
	tags, err := c.ImageTags(ctx, "dr/app", want)
	if err != nil || !slices.Equal(tags, []string{"v1", "v2"}) {
		t.Fatalf("ImageTags = %v, %v; want [v1 v2]", tags, err)
	}
	if err := c.DeleteTag(ctx, "dr/app", "v1"); err != nil {
		t.Fatalf("DeleteTag v1: %v", err)
	}
	if tags, err := c.ImageTags(ctx, "dr/app", want); err != nil || !slices.Equal(tags, []string{"v2"}) {
		t.Fatalf("ImageTags after deleting v1 = %v, %v; want [v2]", tags, err)
	}
	if err := c.DeleteTag(ctx, "dr/app", "v2"); err != nil { // the last tag: the image goes too
		t.Fatalf("DeleteTag v2: %v", err)
	}
	_, err = c.ImageTags(ctx, "dr/app", want)
	wantRemoteKind(t, "ImageTags of an image whose last tag was deleted", err, remote.ErrNotFound)
	wantRemoteKind(t, "DeleteTag of a tag that is not there", c.DeleteTag(ctx, "dr/app", "v2"), remote.ErrNotFound)

	remotePutManifest(t, c, "dr/app", img, "v3")
	if err := c.DeleteManifest(ctx, "dr/app", want); err != nil {
		t.Fatalf("DeleteManifest: %v", err)
	}
	_, err = c.ImageTags(ctx, "dr/app", want)
	wantRemoteKind(t, "ImageTags after DeleteManifest", err, remote.ErrNotFound)
	wantRemoteKind(t, "DeleteManifest of an image that is not there", c.DeleteManifest(ctx, "dr/app", want), remote.ErrNotFound)

	// An image an index lists cannot be deleted before the index.
	remotePush(t, c, "dr/app", img, string(want))
	idx := mutate.AppendManifests(mutate.IndexMediaType(empty.Index, types.DockerManifestList), mutate.IndexAddendum{Add: img})
	remotePutManifest(t, c, "dr/app", idx, "multi")
	wantRemoteKind(t, "DeleteManifest of an image an index lists", c.DeleteManifest(ctx, "dr/app", want), remote.ErrReferenced)

	// An immutable tag does not move.
	remotePush(t, c, "dr/locked", img, "v1")
	other := remoteRandomImage(t, 1024, 1)
	remotePush(t, c, "dr/locked", other, "stable")
	raw, _ := other.RawManifest()
	mt, _ := other.MediaType()
	// A plain client is refused; a replication (Source set) has the
	// image arrive without the tag, as ECR's replication does.
	plainTarget := target
	plainTarget.Source = ""
	plain := newRemote(t, plainTarget)
	wantRemoteKind(t, "moving an immutable tag", plain.PutManifest(ctx, "dr/locked", "v1", string(mt), raw), remote.ErrTagImmutable)
	if err := c.PutManifest(ctx, "dr/locked", "v1", string(mt), raw); err != nil {
		t.Fatalf("a replication onto an immutable tag: %v", err)
	}
	if tags, err := c.ImageTags(ctx, "dr/locked", want); err != nil || !slices.Equal(tags, []string{"v1"}) {
		t.Fatalf("the immutable tag's image has tags %v, %v", tags, err)
	}

	// A repository that does not exist.
	err = plain.PushBlob(ctx, "dr/absent", digest.Digest(first.String()), size, layers[0].Compressed)
	wantRemoteKind(t, "PushBlob to a missing repository", err, remote.ErrRepositoryNotFound)
	_, err = c.ImageTags(ctx, "dr/absent", want)
	wantRemoteKind(t, "ImageTags of a missing repository", err, remote.ErrRepositoryNotFound)
	wantRemoteKind(t, "DeleteTag in a missing repository", c.DeleteTag(ctx, "dr/absent", "v1"), remote.ErrRepositoryNotFound)
	// A replication creates the repository it pushes to (with defaults,
	// without a REPLICATION creation template).
	if err := c.PushBlob(ctx, "dr/created", digest.Digest(first.String()), size, layers[0].Compressed); err != nil {
		t.Fatalf("a replication into a missing repository: %v", err)
	}

	// A wrong secret: denied, with the remote's message and not the secret.
	wrong := target
	wrong.Profile = "wrong"
	_, err = newRemote(t, wrong).BlobExists(ctx, "dr/app", want)
	wantRemoteKind(t, "a wrong secret", err, remote.ErrDenied)
	if strings.Contains(err.Error(), wrongSecret) || strings.Contains(err.Error(), testSecret) || !strings.Contains(err.Error(), "remote "+testRegion+" at "+e.URL()) {
		t.Fatalf("the denial shows a secret or does not name the remote: %v", err)
	}

	noServerErrors(t, e)

	// A remote that is down: try again later.
	e.Stop()
	_, err = c.BlobExists(ctx, "dr/app", want)
	var re *remote.Error
	if !errors.As(err, &re) || !remote.Temporary(err) {
		t.Fatalf("a stopped remote: %v (temporary %v), want a temporary error", err, remote.Temporary(err))
	}
	t.Logf("a stopped remote: %v", err)
}

// TestRemoteClientCrossAccount: credentials of one account push into
// another account's registry, which the client addresses by an ECR-shaped
// Host; the destination's repository policy decides, as for any caller.
func TestRemoteClientCrossAccount(t *testing.T) {
	e := startBareECRD(t, t.TempDir())
	ctx := context.Background()
	api := ecrClient(e)
	const repo, pusher = "dr/shared", "210987654321"
	_, err := api.CreateRepository(ctx, &ecr.CreateRepositoryInput{RepositoryName: aws.String(repo)})
	ecrMust(t, "CreateRepository", err)
	key, secret := newAccountKey(t, e, pusher)
	creds := remoteCredentials(t, map[string][2]string{"pusher": {key, secret}})
	c := newRemote(t, remote.Target{URL: e.URL(), Region: testRegion, Account: testAccount, Profile: "pusher", CredentialsFile: creds, Source: pusher + "/us-west-2"})

	img := remoteRandomImage(t, 64<<10, 2)
	cfgName, _ := img.ConfigName()
	cfg, _ := img.RawConfigFile()
	err = c.PushBlob(ctx, repo, digest.Digest(cfgName.String()), int64(len(cfg)), func() (io.ReadCloser, error) {
		return io.NopCloser(strings.NewReader(string(cfg))), nil
	})
	wantRemoteKind(t, "a push without the destination's policy", err, remote.ErrDenied)
	if !strings.Contains(err.Error(), "arn:aws:iam::"+pusher+":root is not authorized to perform: ecr:") {
		t.Fatalf("the denial does not carry the remote's explanation: %v", err)
	}

	policy := `{"Version":"2012-10-17","Statement":[{"Sid":"Replication","Effect":"Allow","Principal":{"AWS":"arn:aws:iam::` + pusher + `:root"},
"Action":["ecr:ReplicateImage","ecr:BatchCheckLayerAvailability","ecr:InitiateLayerUpload","ecr:UploadLayerPart","ecr:CompleteLayerUpload","ecr:PutImage",
"ecr:BatchGetImage","ecr:DescribeImages","ecr:BatchDeleteImage"]}]}`
	_, err = api.SetRepositoryPolicy(ctx, &ecr.SetRepositoryPolicyInput{RepositoryName: aws.String(repo), PolicyText: aws.String(policy)})
	ecrMust(t, "SetRepositoryPolicy", err)
	want := remotePush(t, c, repo, img, "v1")

	// It is in the destination account's registry, for that account's own
	// clients.
	out, err := api.DescribeImages(ctx, &ecr.DescribeImagesInput{RepositoryName: aws.String(repo),
		ImageIds: []ecrtypes.ImageIdentifier{{ImageTag: aws.String("v1")}}})
	ecrMust(t, "DescribeImages by the destination account", err)
	if aws.ToString(out.ImageDetails[0].ImageDigest) != string(want) || aws.ToString(out.ImageDetails[0].RegistryId) != testAccount {
		t.Fatalf("the destination has %+v, pushed %s", out.ImageDetails[0], want)
	}
	if tags, err := c.ImageTags(ctx, repo, want); err != nil || !slices.Equal(tags, []string{"v1"}) {
		t.Fatalf("ImageTags across accounts = %v, %v", tags, err)
	}
	if err := c.DeleteTag(ctx, repo, "v1"); err != nil {
		t.Fatalf("DeleteTag across accounts: %v", err)
	}
	_, err = c.ImageTags(ctx, repo, want)
	wantRemoteKind(t, "ImageTags after the last tag went", err, remote.ErrNotFound)
	noServerErrors(t, e)
}
