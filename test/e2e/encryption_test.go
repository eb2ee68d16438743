package e2e

import (
	"context"
	"errors"
	"io"
	"os/exec"
	"path/filepath"
	"slices"
	"strings"
	"testing"
	"time"

	"github.com/ecrd/ecrd/internal/blobstore/blobstoretest"

	"github.com/aws/aws-sdk-go-v2/aws"
	"github.com/aws/aws-sdk-go-v2/service/ecr"
	ecrtypes "github.com/aws/aws-sdk-go-v2/service/ecr/types"
	"github.com/aws/aws-sdk-go-v2/service/kms"
	"github.com/google/go-containerregistry/pkg/name"
	"github.com/google/go-containerregistry/pkg/v1/random"
	"github.com/google/go-containerregistry/pkg/v1/tarball"
)

// newKMSKey creates a KMS key on the server, as the test root, and
// returns its ARN.
func newKMSKey(t testing.TB, e *ecrd) string {
	t.Helper()
	out, err := kmsClient(e, static(testAccessKey, testSecret)).CreateKey(context.Background(), &kms.CreateKeyInput{Description: aws.String("e2e repository key")})
	if err != nil {
		t.Fatalf("CreateKey: %v", err)
	}
	return aws.ToString(out.KeyMetadata.Arn)
}

// TestKMSEncryptedRepository pushes to and pulls from a repository
// encrypted with a KMS key made through the KMS API, with crane: the data
// folder holds no plaintext of its layers, and disabling the key stops
// pulls (and pushes) until it is enabled again.
func TestKMSEncryptedRepository(t *testing.T) {
	crane := tool(t, "crane")
	data := t.TempDir()
	e := startECRD(t, data)
	e.Login(t)
	ec, kc := ecrClient(e), kmsClient(e, static(testAccessKey, testSecret))
	ctx, cancel := context.WithTimeout(context.Background(), 2*time.Minute)
	defer cancel()
	c := func(args ...string) string {
		t.Helper()
		return strings.TrimSpace(run(t, ctx, crane, append([]string{"--insecure"}, args...)...))
	}

	keyARN := newKMSKey(t, e)
	created, err := ec.CreateRepository(ctx, &ecr.CreateRepositoryInput{RepositoryName: aws.String("secure/app"),
		EncryptionConfiguration: &ecrtypes.EncryptionConfiguration{EncryptionType: ecrtypes.EncryptionTypeKms, KmsKey: aws.String(keyARN)}})
	ecrMust(t, "CreateRepository with a KMS key", err)
	if got := aws.ToString(created.Repository.EncryptionConfiguration.KmsKey); got != keyARN {
		t.Errorf("CreateRepository: kmsKey %q, want %q", got, keyARN)
	}
	// No key: the account's AWS managed key alias/aws/ecr, made on first use.
	_, err = ec.CreateRepository(ctx, &ecr.CreateRepositoryInput{RepositoryName: aws.String("secure/default"),
		EncryptionConfiguration: &ecrtypes.EncryptionConfiguration{EncryptionType: ecrtypes.EncryptionTypeKms}})
	ecrMust(t, "CreateRepository with KMS and no key", err)
	managed, err := kc.DescribeKey(ctx, &kms.DescribeKeyInput{KeyId: aws.String("alias/aws/ecr")})
	if err != nil {
		t.Fatalf("DescribeKey alias/aws/ecr: %v", err)
	}
	desc, err := ec.DescribeRepositories(ctx, &ecr.DescribeRepositoriesInput{RepositoryNames: []string{"secure/app", "secure/default"}})
	ecrMust(t, "DescribeRepositories", err)
	for i, want := range []string{keyARN, aws.ToString(managed.KeyMetadata.Arn)} {
		enc := desc.Repositories[i].EncryptionConfiguration
		if enc.EncryptionType != ecrtypes.EncryptionTypeKms || aws.ToString(enc.KmsKey) != want {
			t.Errorf("DescribeRepositories %s: encryption %s with key %q, want KMS with %q", aws.ToString(desc.Repositories[i].RepositoryName), enc.EncryptionType, aws.ToString(enc.KmsKey), want)
		}
	}
	// A key that does not exist is refused, as ECR does.
	missing := "arn:aws:kms:" + testRegion + ":" + testAccount + ":key/00000000-0000-4000-8000-000000000000"
	_, err = ec.CreateRepository(ctx, &ecr.CreateRepositoryInput{RepositoryName: aws.String("secure/missing"),
		EncryptionConfiguration: &ecrtypes.EncryptionConfiguration{EncryptionType: ecrtypes.EncryptionTypeKms, KmsKey: aws.String(missing)}})
	wantAPIError(t, "CreateRepository with a missing key", err, "KmsException", 400,
		"KMS key "+missing+" does not exist: name an existing key by its key ID, key ARN, alias name or alias ARN")

	// An image with a layer big enough to span many encryption segments.
	img, err := random.Image(1<<20, 2)
	if err != nil {
		t.Fatal(err)
	}
	layers, err := img.Layers()
	if err != nil {
		t.Fatal(err)
	}
	rc, err := layers[0].Compressed()
	if err != nil {
		t.Fatal(err)
	}
	layer, err := io.ReadAll(rc) // what the registry stores
	rc.Close()
	if err != nil {
		t.Fatal(err)
	}
	src := filepath.Join(t.TempDir(), "src.tar")
	tag, err := name.NewTag(e.Addr+"/secure/app:v1", name.Insecure)
	if err != nil {
		t.Fatal(err)
	}
	if err := tarball.WriteToFile(src, tag, img); err != nil {
		t.Fatal(err)
	}
	want := mustDigest(t, img)
	for _, repo := range []string{"secure/app", "secure/default"} {
		c("push", src, e.Addr+"/"+repo+":v1")
	}
	if files := blobstoretest.FilesHolding(t, data, layer); len(files) != 0 {
		t.Fatalf("files of the data folder hold plaintext of a pushed layer: %v", files)
	}
	pull := func(repo string) string {
		t.Helper()
		out := filepath.Join(t.TempDir(), "pulled.tar")
		c("pull", e.Addr+"/"+repo+":v1", out)
		got, err := tarball.ImageFromPath(out, nil)
		if err != nil {
			t.Fatal(err)
		}
		return mustDigest(t, got)
	}
	for _, repo := range []string{"secure/app", "secure/default"} {
		if got := pull(repo); got != want {
			t.Errorf("pulled %s: digest %s, want %s", repo, got, want)
		}
	}
	// The same image in an AES256 repository is stored as it is (so the
	// scan above does find plaintext where there is some).
	c("copy", e.Addr+"/secure/app:v1", e.Addr+"/plain/app:v1")
	layerDigest, err := layers[0].Digest()
	if err != nil {
		t.Fatal(err)
	}
	if files := blobstoretest.FilesHolding(t, data, layer); !slices.ContainsFunc(files, func(f string) bool { return strings.HasSuffix(f, layerDigest.Hex) }) {
		t.Fatalf("after a copy to an AES256 repository, files holding the layer: %v, want its plaintext blob among them", files)
	}

	// Disabled: pulls fail with the reason, within the registry's key
	// check interval (5 s); so do pushes, and the ECR API says
	// KmsException.
	if _, err := kc.DisableKey(ctx, &kms.DisableKeyInput{KeyId: aws.String(keyARN)}); err != nil {
		t.Fatal(err)
	}
	wantMsg := "KMS key " + keyARN + " is disabled: the repository's images cannot be read until it is enabled"
	var out string
	for deadline := time.Now().Add(20 * time.Second); ; time.Sleep(500 * time.Millisecond) {
		o, err := runCmd(ctx, crane, "--insecure", "pull", e.Addr+"/secure/app:v1", filepath.Join(t.TempDir(), "x.tar"))
		if err != nil {
			out = o
			break
		}
		if time.Now().After(deadline) {
			t.Fatal("crane pull still works 20 s after the key was disabled")
		}
	}
	t.Logf("crane pull with the key disabled: %s", strings.TrimSpace(out))
	if !strings.Contains(out, wantMsg) {
		t.Errorf("crane pull with the key disabled said:\n%s\nwant it to say %q", out, wantMsg)
	}
	_, err = ec.InitiateLayerUpload(ctx, &ecr.InitiateLayerUploadInput{RepositoryName: aws.String("secure/app")})
	wantAPIError(t, "InitiateLayerUpload with the key disabled", err, "KmsException", 400,
		"KMS key "+keyARN+" is disabled: the repository cannot take pushes until it is enabled")
	var kmsErr *ecrtypes.KmsException
	if !errors.As(err, &kmsErr) {
		t.Errorf("InitiateLayerUpload: %T, want *types.KmsException", err)
	}
	// Metadata still answers.
	if got := c("digest", e.Addr+"/secure/app:v1"); got != want {
		t.Errorf("crane digest with the key disabled = %q, want %s", got, want)
	}
	if got := pull("secure/default"); got != want {
		t.Errorf("the aws/ecr repository: digest %s, want %s", got, want)
	}

	if _, err := kc.EnableKey(ctx, &kms.EnableKeyInput{KeyId: aws.String(keyARN)}); err != nil {
		t.Fatal(err)
	}
	for deadline := time.Now().Add(20 * time.Second); ; time.Sleep(500 * time.Millisecond) {
		if _, err := runCmd(ctx, crane, "--insecure", "pull", e.Addr+"/secure/app:v1", filepath.Join(t.TempDir(), "x.tar")); err == nil {
			break
		}
		if time.Now().After(deadline) {
			t.Fatal("crane pull still fails 20 s after the key was enabled")
		}
	}
	if got := pull("secure/app"); got != want {
		t.Errorf("pulled after enabling: digest %s, want %s", got, want)
	}
	c("push", src, e.Addr+"/secure/app:v2")
	noServerErrors(t, e)
}

// runCmd runs a command and returns its combined output and error.
func runCmd(ctx context.Context, name string, args ...string) (string, error) {
	out, err := exec.CommandContext(ctx, name, args...).CombinedOutput()
	return string(out), err
}
