package scaleout

import (
	"bytes"
	"context"
	"encoding/base64"
	"encoding/json"
	"errors"
	"os"
	"os/exec"
	"path/filepath"
	"regexp"
	"slices"
	"strings"
	"testing"

	"github.com/aws/aws-sdk-go-v2/aws"
	"github.com/aws/aws-sdk-go-v2/credentials"
	"github.com/aws/aws-sdk-go-v2/service/ecr"
	ecrtypes "github.com/aws/aws-sdk-go-v2/service/ecr/types"
	"github.com/aws/aws-sdk-go-v2/service/iam"
	"github.com/aws/aws-sdk-go-v2/service/kms"
	v1 "github.com/google/go-containerregistry/pkg/v1"
	"github.com/google/go-containerregistry/pkg/v1/remote"

	"github.com/ecrd/ecrd/internal/testutil/pgtest"
	"github.com/ecrd/ecrd/internal/testutil/s3test"
	"github.com/ecrd/ecrd/test/ecrdtest"
)

// migrateRun is what one run of ecrd migrate did.
type migrateRun struct {
	code           int
	stdout, stderr string
}

// runMigrate runs ecrd migrate with args, in env.
func runMigrate(t *testing.T, env []string, args ...string) migrateRun {
	t.Helper()
	cmd := exec.Command(ecrdtest.Bin(), append([]string{"migrate"}, args...)...)
	cmd.Env = env
	var stdout, stderr bytes.Buffer
	cmd.Stdout, cmd.Stderr = &stdout, &stderr
	err := cmd.Run()
	r := migrateRun{stdout: stdout.String(), stderr: stderr.String()}
	var exit *exec.ExitError
	switch {
	case err == nil:
	case errors.As(err, &exit):
		r.code = exit.ExitCode()
	default:
		t.Fatalf("running ecrd migrate: %v", err)
	}
	return r
}

const (
	migrateRepoPolicy = `{"Version":"2012-10-17","Statement":[{"Sid":"pull","Effect":"Allow","Principal":{"AWS":"arn:aws:iam::123456789012:root"},"Action":["ecr:BatchGetImage","ecr:GetDownloadUrlForLayer"]}]}`
	migrateLifecycle  = `{"rules":[{"rulePriority":1,"description":"expire untagged","selection":{"tagStatus":"untagged","countType":"sinceImagePushed","countUnit":"days","countNumber":14},"action":{"type":"expire"}}]}`
	migrateUserPolicy = `{"Version":"2012-10-17","Statement":[{"Effect":"Allow","Action":["ecr:DescribeRepositories","ecr:DescribeImages"],"Resource":"*"}]}`
)

// registryState is what the ECR API says of a registry's repositories.
type registryState struct {
	Images    map[string][]ecrtypes.ImageDetail
	Policies  map[string]string
	Lifecycle map[string]string
	Tags      map[string][]ecrtypes.Tag
	Repos     []ecrtypes.Repository
}

func readRegistry(t *testing.T, ec *ecr.Client, repos []string) registryState {
	t.Helper()
	s := registryState{Images: map[string][]ecrtypes.ImageDetail{}, Policies: map[string]string{}, Lifecycle: map[string]string{},
		Tags: map[string][]ecrtypes.Tag{}}
	d, err := ec.DescribeRepositories(bg, &ecr.DescribeRepositoriesInput{RepositoryNames: repos})
	if err != nil {
		t.Fatalf("DescribeRepositories: %v", err)
	}
	s.Repos = d.Repositories
	for _, repo := range repos {
		imgs, err := ec.DescribeImages(bg, &ecr.DescribeImagesInput{RepositoryName: aws.String(repo)})
		if err != nil {
			t.Fatalf("DescribeImages %s: %v", repo, err)
		}
		details := imgs.ImageDetails
		slices.SortFunc(details, func(a, b ecrtypes.ImageDetail) int {
			return strings.Compare(aws.ToString(a.ImageDigest), aws.ToString(b.ImageDigest))
		})
		for i := range details {
			slices.Sort(details[i].ImageTags)
		}
		s.Images[repo] = details
		if p, err := ec.GetRepositoryPolicy(bg, &ecr.GetRepositoryPolicyInput{RepositoryName: aws.String(repo)}); err == nil {
			s.Policies[repo] = aws.ToString(p.PolicyText)
		}
		if l, err := ec.GetLifecyclePolicy(bg, &ecr.GetLifecyclePolicyInput{RepositoryName: aws.String(repo)}); err == nil {
			s.Lifecycle[repo] = aws.ToString(l.LifecyclePolicyText)
		}
		tags, err := ec.ListTagsForResource(bg, &ecr.ListTagsForResourceInput{ResourceArn: s.arn(repo)})
		if err != nil {
			t.Fatalf("ListTagsForResource %s: %v", repo, err)
		}
		s.Tags[repo] = tags.Tags
	}
	return s
}

func asJSON(t *testing.T, v any) string {
	t.Helper()
	b, err := json.MarshalIndent(v, "", " ")
	if err != nil {
		t.Fatal(err)
	}
	return string(b)
}

func (s registryState) arn(repo string) *string {
	for _, r := range s.Repos {
		if aws.ToString(r.RepositoryName) == repo {
			return r.RepositoryArn
		}
	}
	return aws.String("arn:aws:ecr:" + ecrdtest.Region + ":" + ecrdtest.Account + ":repository/" + repo)
}

// TestMigrateDataFolder fills a plain ecrd's data folder through real
// clients (images, a KMS-encrypted repository, policies, an IAM user with
// an access key, resource tags), stops it, runs ecrd migrate into a new
// database and bucket twice (the second copies nothing), and starts a
// replica on the copy with the data folder's server key: everything
// reads back the same and works.
func TestMigrateDataFolder(t *testing.T) {
	data := t.TempDir()
	plain := ecrdtest.Start(t, data)
	ec := plain.ECR()
	root := credentials.NewStaticCredentialsProvider(ecrdtest.AccessKey, ecrdtest.Secret, "")
	opts := remoteOptions(plain.Password(t))

	images := map[string]v1.Image{
		"app/web:v1":    randomImage(t, 1<<20, 2),
		"app/web:v2":    randomImage(t, 6<<20, 1),
		"lib/base:1.0":  randomImage(t, 256<<10, 3),
		"secure/app:v1": randomImage(t, 1<<20, 2),
	}
	kc := kms.New(kms.Options{Region: ecrdtest.Region, BaseEndpoint: aws.String(plain.URL()), Credentials: root})
	key, err := kc.CreateKey(bg, &kms.CreateKeyInput{Description: aws.String("registry key")})
	if err != nil {
		t.Fatalf("CreateKey: %v", err)
	}
	if _, err := ec.CreateRepository(bg, &ecr.CreateRepositoryInput{RepositoryName: aws.String("secure/app"),
		EncryptionConfiguration: &ecrtypes.EncryptionConfiguration{EncryptionType: ecrtypes.EncryptionTypeKms, KmsKey: key.KeyMetadata.Arn}}); err != nil {
		t.Fatalf("CreateRepository with KMS: %v", err)
	}
	for tag, img := range images {
		if err := remote.Write(ref(t, plain, tag), img, opts...); err != nil {
			t.Fatalf("push %s: %v", tag, err)
		}
	}
	repos := []string{"app/web", "lib/base", "secure/app"}
	if _, err := ec.SetRepositoryPolicy(bg, &ecr.SetRepositoryPolicyInput{RepositoryName: aws.String("app/web"), PolicyText: aws.String(migrateRepoPolicy)}); err != nil {
		t.Fatalf("SetRepositoryPolicy: %v", err)
	}
	if _, err := ec.PutLifecyclePolicy(bg, &ecr.PutLifecyclePolicyInput{RepositoryName: aws.String("app/web"), LifecyclePolicyText: aws.String(migrateLifecycle)}); err != nil {
		t.Fatalf("PutLifecyclePolicy: %v", err)
	}
	arn := "arn:aws:ecr:" + ecrdtest.Region + ":" + ecrdtest.Account + ":repository/lib/base"
	if _, err := ec.TagResource(bg, &ecr.TagResourceInput{ResourceArn: aws.String(arn), Tags: []ecrtypes.Tag{{Key: aws.String("team"), Value: aws.String("platform")}}}); err != nil {
		t.Fatalf("TagResource: %v", err)
	}
	ic := iam.New(iam.Options{Region: ecrdtest.Region, BaseEndpoint: aws.String(plain.URL()), Credentials: root})
	if _, err := ic.CreateUser(bg, &iam.CreateUserInput{UserName: aws.String("ci")}); err != nil {
		t.Fatalf("CreateUser: %v", err)
	}
	if _, err := ic.PutUserPolicy(bg, &iam.PutUserPolicyInput{UserName: aws.String("ci"), PolicyName: aws.String("describe"), PolicyDocument: aws.String(migrateUserPolicy)}); err != nil {
		t.Fatalf("PutUserPolicy: %v", err)
	}
	ak, err := ic.CreateAccessKey(bg, &iam.CreateAccessKeyInput{UserName: aws.String("ci")})
	if err != nil {
		t.Fatalf("CreateAccessKey: %v", err)
	}
	userCreds := credentials.NewStaticCredentialsProvider(aws.ToString(ak.AccessKey.AccessKeyId), aws.ToString(ak.AccessKey.SecretAccessKey), "")
	before := readRegistry(t, ec, repos)
	if len(before.Policies) != 1 || len(before.Lifecycle) != 1 || len(before.Tags["lib/base"]) != 1 || len(before.Images["app/web"]) != 2 {
		t.Fatalf("the registry before the move: %+v", before)
	}

	s3 := s3test.Start(t)
	db := pgtest.URL(t)
	blobs := s3.URL(s3.NewBucket(t), "registry")
	var env []string
	for _, kv := range os.Environ() {
		if !strings.HasPrefix(kv, "ECRD_") {
			env = append(env, kv)
		}
	}
	env = append(env, s3.Env()...)
	args := []string{"--data", data, "--to-metadata", db, "--to-blobs", blobs}

	// A running server holds the data folder.
	if r := runMigrate(t, env, args...); r.code != 1 || !strings.Contains(r.stderr, "in use") || strings.Count(strings.TrimSpace(r.stderr), "\n") != 0 {
		t.Fatalf("ecrd migrate while the server runs: %+v, want exit 1 and a one-line error saying the database is in use", r)
	}
	plain.Stop()

	// Keys other than the data folder's would open none of its secrets.
	wrongKey := "ECRD_SERVER_KEY=" + base64.StdEncoding.EncodeToString(bytes.Repeat([]byte{7}, 32))
	if r := runMigrate(t, append(slices.Clone(env), wrongKey), args...); r.code != 1 || !strings.Contains(r.stderr, "open none of the data folder's") {
		t.Fatalf("ecrd migrate with other server keys: %+v, want a refusal", r)
	}

	first := runMigrate(t, env, args...)
	t.Logf("ecrd migrate:\n%s%s", first.stderr, first.stdout)
	if first.code != 0 {
		t.Fatalf("ecrd migrate: %+v", first)
	}
	if !regexp.MustCompile(`(?m)^blobs: [1-9]\d* copied, 0 already there, \d`).MatchString(first.stderr) ||
		!strings.Contains(first.stderr, "metadata: images: 4 rows") {
		t.Errorf("the first run's progress does not tell what it copied:\n%s", first.stderr)
	}
	keyText, err := os.ReadFile(filepath.Join(data, "server.key"))
	if err != nil {
		t.Fatal(err)
	}
	for _, line := range strings.Split(string(keyText), "\n") {
		if line = strings.TrimSpace(line); line != "" && !strings.HasPrefix(line, "#") && strings.Contains(first.stdout+first.stderr, line) {
			t.Error("ecrd migrate printed the server key")
		}
	}
	if !strings.Contains(first.stdout, "same keys") || !strings.Contains(first.stdout, "ecrd serve --metadata") {
		t.Errorf("the summary does not say to run replicas with the same server keys:\n%s", first.stdout)
	}

	second := runMigrate(t, env, args...)
	t.Logf("ecrd migrate again:\n%s%s", second.stderr, second.stdout)
	if second.code != 0 || !regexp.MustCompile(`(?m)^blobs: 0 copied, [1-9]\d* already there`).MatchString(second.stderr) ||
		!strings.Contains(second.stdout, ", 0 of them new,") {
		t.Fatalf("a second ecrd migrate copies again: %+v", second)
	}

	replica := ecrdtest.StartWith(t, ecrdtest.Options{
		Data: t.TempDir(),
		Args: []string{"--metadata", db, "--blobs", blobs, "--server-key-file", filepath.Join(data, "server.key")},
		Env:  s3.Env(),
	})
	after := readRegistry(t, replica.ECR(), repos)
	// Repository URIs name the server's address, which is another.
	if got, want := strings.ReplaceAll(asJSON(t, after), replica.Addr, "HOST"), strings.ReplaceAll(asJSON(t, before), plain.Addr, "HOST"); got != want {
		t.Errorf("the registry after the move differs:\n got %s\nwant %s", got, want)
	}
	ropts := remoteOptions(replica.Password(t))
	for tag, img := range images {
		got, err := remote.Image(ref(t, replica, tag), ropts...)
		if err != nil {
			t.Fatalf("pull %s from the replica: %v", tag, err)
		}
		if digestOf(t, got) != digestOf(t, img) {
			t.Errorf("%s: the replica serves %s, pushed %s", tag, digestOf(t, got), digestOf(t, img))
		}
		layers, err := got.Layers()
		if err != nil {
			t.Fatal(err)
		}
		for _, l := range layers {
			if err := verifyLayer(l); err != nil {
				t.Errorf("%s through the replica: %v", tag, err)
			}
		}
	}
	// The KMS key, and the IAM user's access key, whose secrets are
	// sealed under the data folder's server key.
	rkc := kms.New(kms.Options{Region: ecrdtest.Region, BaseEndpoint: aws.String(replica.URL()), Credentials: root})
	if _, err := rkc.DescribeKey(bg, &kms.DescribeKeyInput{KeyId: key.KeyMetadata.KeyId}); err != nil {
		t.Errorf("DescribeKey on the replica: %v", err)
	}
	enc, err := rkc.Encrypt(bg, &kms.EncryptInput{KeyId: key.KeyMetadata.KeyId, Plaintext: []byte("moved")})
	if err != nil {
		t.Fatalf("Encrypt on the replica: %v", err)
	}
	if dec, err := rkc.Decrypt(bg, &kms.DecryptInput{CiphertextBlob: enc.CiphertextBlob}); err != nil || string(dec.Plaintext) != "moved" {
		t.Errorf("Decrypt on the replica: %v", err)
	}
	user := ecr.New(ecr.Options{Region: ecrdtest.Region, BaseEndpoint: aws.String(replica.URL()), Credentials: userCreds})
	if out, err := user.DescribeRepositories(bg, &ecr.DescribeRepositoriesInput{}); err != nil || len(out.Repositories) != len(repos) {
		t.Errorf("the IAM user's access key on the replica: %v", err)
	}
	if _, err := user.DeleteRepository(context.Background(), &ecr.DeleteRepositoryInput{RepositoryName: aws.String("lib/base"), Force: true}); err == nil {
		t.Error("the IAM user deleted a repository its policy does not allow")
	}
	ecrdtest.NoServerErrors(t, replica)
}
