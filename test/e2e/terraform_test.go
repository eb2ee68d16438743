package e2e

import (
	"bytes"
	"context"
	"encoding/json"
	"errors"
	"os"
	"os/exec"
	"path/filepath"
	"strings"
	"testing"
	"time"

	"github.com/aws/aws-sdk-go-v2/aws"
	"github.com/aws/aws-sdk-go-v2/service/ecr"
	ecrtypes "github.com/aws/aws-sdk-go-v2/service/ecr/types"
	"github.com/aws/aws-sdk-go-v2/service/iam"
	"github.com/aws/aws-sdk-go-v2/service/kms"
	kmstypes "github.com/aws/aws-sdk-go-v2/service/kms/types"

	"github.com/ecrd/ecrd/internal/webidentity/oidctest"
	"github.com/ecrd/ecrd/test/ecrdtest"
)

// terraformProvider returns the folder holding the Terraform AWS provider
// built by scripts/terraform-provider (which builds it once, into a cache
// outside the repository).
func terraformProvider(t *testing.T) string {
	t.Helper()
	script, err := filepath.Abs(filepath.Join("..", "..", "scripts", "terraform-provider"))
	if err != nil {
		t.Fatal(err)
	}
	out, err := exec.Command(script).Output()
	if err != nil {
		t.Fatalf("scripts/terraform-provider: %v", err)
	}
	return strings.TrimSpace(string(out))
}

// terraformRun runs terraform in dir with env and returns its output and
// exit code.
func terraformRun(t *testing.T, tf, dir string, env []string, args ...string) (string, int) {
	t.Helper()
	ctx, cancel := context.WithTimeout(context.Background(), 10*time.Minute)
	defer cancel()
	cmd := exec.CommandContext(ctx, tf, args...)
	cmd.Dir, cmd.Env = dir, env
	var out bytes.Buffer
	cmd.Stdout, cmd.Stderr = &out, &out
	start := time.Now()
	err := cmd.Run()
	t.Logf("terraform %s: %s", strings.Join(args, " "), time.Since(start).Round(time.Millisecond))
	var ee *exec.ExitError
	if errors.As(err, &ee) {
		return out.String(), ee.ExitCode()
	} else if err != nil {
		t.Fatalf("terraform %s: %v", strings.Join(args, " "), err)
	}
	return out.String(), 0
}

// copyTree copies the files of a folder tree.
func copyTree(t *testing.T, src, dst string) {
	t.Helper()
	err := filepath.WalkDir(src, func(path string, d os.DirEntry, err error) error {
		if err != nil {
			return err
		}
		rel, _ := filepath.Rel(src, path)
		if d.IsDir() {
			return os.MkdirAll(filepath.Join(dst, rel), 0o755)
		}
		b, err := os.ReadFile(path)
		if err != nil {
			return err
		}
		return os.WriteFile(filepath.Join(dst, rel), b, 0o644)
	})
	if err != nil {
		t.Fatal(err)
	}
}

// tfWorkspace is a copy of a Terraform fixture under testdata/terraform,
// set up to run with the cached AWS provider against ecrd by its
// endpoints only, as the root test key. It is destroyed when the test
// ends unless the test destroyed it.
type tfWorkspace struct {
	t         *testing.T
	tf, dir   string
	env       []string
	destroyed bool
}

// newTFWorkspace copies fixture into a temporary folder and gives
// Terraform ecrd's URL as TF_VAR_endpoint, and env besides.
func newTFWorkspace(t *testing.T, e *ecrd, fixture string, env ...string) *tfWorkspace {
	t.Helper()
	tf := tool(t, "terraform")
	providerDir := terraformProvider(t)
	dir := t.TempDir()
	cliConfig := filepath.Join(dir, "terraform.rc")
	if err := os.WriteFile(cliConfig, []byte("provider_installation {\n  dev_overrides {\n    \"hashicorp/aws\" = \""+providerDir+"\"\n  }\n  direct {}\n}\n"), 0o600); err != nil {
		t.Fatal(err)
	}
	home := filepath.Join(dir, "home")
	if err := os.Mkdir(home, 0o700); err != nil {
		t.Fatal(err)
	}
	w := &tfWorkspace{t: t, tf: tf, dir: filepath.Join(dir, fixture)}
	copyTree(t, filepath.Join("testdata", "terraform", fixture), w.dir)
	w.env = append(cleanEnv(),
		"HOME="+home,
		"TF_CLI_CONFIG_FILE="+cliConfig,
		"TF_IN_AUTOMATION=1", "TF_INPUT=0", "CHECKPOINT_DISABLE=1",
		"TF_VAR_endpoint="+e.URL(),
		"AWS_ACCESS_KEY_ID="+testAccessKey, "AWS_SECRET_ACCESS_KEY="+testSecret,
		"AWS_CONFIG_FILE=/dev/null", "AWS_SHARED_CREDENTIALS_FILE=/dev/null",
		"AWS_EC2_METADATA_DISABLED=true",
	)
	w.env = append(w.env, env...)
	t.Cleanup(func() {
		if !w.destroyed {
			w.run("destroy", "-auto-approve", "-no-color")
		}
	})
	return w
}

// run runs terraform in the workspace and returns its output and exit code.
func (w *tfWorkspace) run(args ...string) (string, int) {
	w.t.Helper()
	return terraformRun(w.t, w.tf, w.dir, w.env, args...)
}

// must runs terraform and fails the test unless it succeeds.
func (w *tfWorkspace) must(args ...string) string {
	w.t.Helper()
	out, code := w.run(args...)
	if code != 0 {
		w.t.Fatalf("terraform %s exited with %d:\n%s", strings.Join(args, " "), code, out)
	}
	return out
}

// applyClean applies the configuration and checks that a second plan
// finds nothing to change.
func (w *tfWorkspace) applyClean() {
	w.t.Helper()
	w.must("apply", "-auto-approve", "-no-color")
	if out, code := w.run("plan", "-detailed-exitcode", "-no-color"); code != 0 {
		w.t.Fatalf("a plan after apply is not empty (exit %d):\n%s", code, out)
	}
}

// outputs returns the configuration's outputs.
func (w *tfWorkspace) outputs() map[string]any {
	w.t.Helper()
	var raw map[string]struct{ Value any }
	if err := json.Unmarshal([]byte(w.must("output", "-json")), &raw); err != nil {
		w.t.Fatal(err)
	}
	out := make(map[string]any, len(raw))
	for k, v := range raw {
		out[k] = v.Value
	}
	return out
}

// destroy destroys what the workspace applied.
func (w *tfWorkspace) destroy() {
	w.t.Helper()
	w.must("destroy", "-auto-approve", "-no-color")
	w.destroyed = true
}

// TestTerraformPlatform applies a platform team's ordinary Terraform
// (testdata/terraform/platform: repositories, KMS, the CI role, and users
// in groups) with the real AWS provider pointed at ecrd by its endpoints
// only; a second plan must show no changes. Then CI's
// half runs on it (testdata/terraform/ci.sh: a GitHub-shaped OIDC token
// becomes the role's credentials, docker login, pushes, an immutable tag
// refused, the lifecycle preview), and destroy leaves nothing behind.
func TestTerraformPlatform(t *testing.T) {
	issuer := oidctest.New(t)
	dir := t.TempDir()
	caFile := filepath.Join(dir, "issuer-ca.pem")
	if err := os.WriteFile(caFile, issuer.CAPEM(), 0o600); err != nil {
		t.Fatal(err)
	}
	e := startBareECRD(t, filepath.Join(dir, "data"), "--oidc-ca-file", caFile)
	terraformPlatform(t, issuer, e, e)
}

// TestTerraformPlatformOnReplicas is TestTerraformPlatform against two
// replicas on PostgreSQL and S3: Terraform, the AWS CLI and the SDK call
// one, docker and crane push to and pull from the other.
func TestTerraformPlatformOnReplicas(t *testing.T) {
	issuer := oidctest.New(t)
	caFile := filepath.Join(t.TempDir(), "issuer-ca.pem")
	if err := os.WriteFile(caFile, issuer.CAPEM(), 0o600); err != nil {
		t.Fatal(err)
	}
	c := ecrdtest.StartCluster(t, 2, "--oidc-ca-file", caFile)
	terraformPlatform(t, issuer, c.Replicas[0], c.Replicas[1])
}

// terraformPlatform applies the platform configuration through api (a
// server's AWS APIs), runs CI's script, whose docker login and pushes go
// to registry, reads the image back with a data source, and destroys
// everything.
func terraformPlatform(t *testing.T, issuer *oidctest.Issuer, api, registry *ecrd) {
	awsCLIPath := awsCLI(t)
	jq := tool(t, "jq")
	docker := tool(t, "docker")
	crane := tool(t, "crane")
	bash := tool(t, "bash")
	dir := t.TempDir()
	e := api
	platform := newTFWorkspace(t, e, "platform", "TF_VAR_github_oidc_url="+issuer.URL())
	// Local modules are installed by get; init would look for the
	// provider in the registry, which dev_overrides replaces.
	platform.must("get")
	platform.applyClean()
	outputs := platform.outputs()
	if got := outputs["account_id"]; got != testAccount {
		t.Errorf("account_id output = %v", got)
	}
	roleARN, _ := outputs["ci_role_arn"].(string)

	// Alice has her groups' policies: she reads, and may not create.
	aliceKey, _ := outputs["alice_access_key_id"].(string)
	aliceSecret, _ := outputs["alice_secret_access_key"].(string)
	alice := ecrClientWith(e, aliceKey, aliceSecret)
	_, err := alice.DescribeRepositories(context.Background(), &ecr.DescribeRepositoriesInput{})
	ecrMust(t, "alice lists repositories through her group", err)
	_, err = alice.CreateRepository(context.Background(), &ecr.CreateRepositoryInput{RepositoryName: aws.String("alice/new")})
	wantAPIError(t, "alice creates a repository", err, "AccessDeniedException", 403, "User: arn:aws:iam::"+testAccount+":user/people/alice is not authorized to perform: ecr:CreateRepository on resource: "+
		repoARN(testAccount, "alice/new")+" because no identity-based policy allows the ecr:CreateRepository action")

	// CI's half, with the AWS CLI, docker login and crane: it pushes the
	// commit's image as :<sha> and :latest.
	const ciSHA = "3f7c2a9e41d8b5c6a0e9f1d2c3b4a5968778695a"
	images := filepath.Join(dir, "images")
	if err := os.Mkdir(images, 0o755); err != nil {
		t.Fatal(err)
	}
	token := filepath.Join(dir, "token")
	if err := os.WriteFile(token, []byte(issuer.GitHubToken("repo:org/app:ref:refs/heads/main", "sts.amazonaws.com", 10*time.Minute)), 0o600); err != nil {
		t.Fatal(err)
	}
	for _, name := range []string{"release", "other"} {
		writeRandomImage(t, filepath.Join(images, name+".tar"), registry.Addr+"/app:"+name)
	}
	for i := range 14 {
		writeRandomImage(t, filepath.Join(images, "tagged-"+string(rune('a'+i))+".tar"), registry.Addr+"/app:x")
	}
	script, err := filepath.Abs(filepath.Join("testdata", "terraform", "ci.sh"))
	if err != nil {
		t.Fatal(err)
	}
	ciEnv, ciWork := scriptEnv(t, e)
	ciEnv = append(ciEnv, "AWS="+awsCLIPath, "JQ="+jq, "DOCKER="+docker, "CRANE="+crane,
		"REGISTRY="+registry.Addr, "ROLE_ARN="+roleARN, "TOKEN_FILE="+token, "IMAGES="+images, "SHA="+ciSHA)
	runScript(t, bash, script, ciWork, ciEnv, 5*time.Minute)

	// A deployment's configuration reads the pushed image by its tag.
	lookup := newTFWorkspace(t, e, "lookup", "TF_VAR_tag="+ciSHA)
	lookup.must("apply", "-auto-approve", "-no-color")
	looked := lookup.outputs()
	imgs, err := ecrClient(e).DescribeImages(context.Background(), &ecr.DescribeImagesInput{RepositoryName: aws.String("app"),
		ImageIds: []ecrtypes.ImageIdentifier{{ImageTag: aws.String(ciSHA)}}})
	ecrMust(t, "DescribeImages", err)
	digest := aws.ToString(imgs.ImageDetails[0].ImageDigest)
	if looked["image_digest"] != digest || looked["image_uri"] != e.Addr+"/app@"+digest {
		t.Errorf("aws_ecr_image read %v and %v, want %s", looked["image_digest"], looked["image_uri"], digest)
	}
	if tags, _ := looked["image_tags"].([]any); len(tags) != 2 {
		t.Errorf("aws_ecr_image tags %v, want the sha and latest", looked["image_tags"])
	}

	// The replication configuration copied it to the DR region.
	if s := waitReplication(t, ecrClientRetrying(e), "app", digest, "us-west-2", testAccount); s.Status != ecrtypes.ReplicationStatusComplete {
		t.Errorf("replication of app@%s to us-west-2: %s %q", digest, s.Status, aws.ToString(s.FailureCode))
	}

	// Destroy leaves nothing behind (the lookup reads only).
	platform.destroy()
	ctx := context.Background()
	root, rootIAM, _ := clientsFor(e, static(testAccessKey, testSecret))
	repos, err := root.DescribeRepositories(ctx, &ecr.DescribeRepositoriesInput{})
	ecrMust(t, "DescribeRepositories", err)
	if len(repos.Repositories) != 0 {
		t.Errorf("after destroy, repositories remain: %v", repoNames(repos.Repositories))
	}
	roles, err := rootIAM.ListRoles(ctx, &iam.ListRolesInput{})
	ecrMust(t, "ListRoles", err)
	providers, err := rootIAM.ListOpenIDConnectProviders(ctx, &iam.ListOpenIDConnectProvidersInput{})
	ecrMust(t, "ListOpenIDConnectProviders", err)
	if len(roles.Roles) != 0 || len(providers.OpenIDConnectProviderList) != 0 {
		t.Errorf("after destroy: %d roles, %d OIDC providers remain", len(roles.Roles), len(providers.OpenIDConnectProviderList))
	}
	users, err := rootIAM.ListUsers(ctx, &iam.ListUsersInput{})
	ecrMust(t, "ListUsers", err)
	groups, err := rootIAM.ListGroups(ctx, &iam.ListGroupsInput{})
	ecrMust(t, "ListGroups", err)
	if len(users.Users) != 0 || len(groups.Groups) != 0 {
		t.Errorf("after destroy: %d users, %d groups remain", len(users.Users), len(groups.Groups))
	}
	if _, err := root.GetRegistryPolicy(ctx, &ecr.GetRegistryPolicyInput{}); err == nil {
		t.Error("after destroy, the registry policy remains")
	}
	if reg, err := root.DescribeRegistry(ctx, &ecr.DescribeRegistryInput{}); err != nil || reg.ReplicationConfiguration == nil || len(reg.ReplicationConfiguration.Rules) != 0 {
		t.Errorf("after destroy, the replication configuration remains: %v %+v", err, reg)
	}
	templates, err := root.DescribeRepositoryCreationTemplates(ctx, &ecr.DescribeRepositoryCreationTemplatesInput{})
	ecrMust(t, "DescribeRepositoryCreationTemplates", err)
	if len(templates.RepositoryCreationTemplates) != 0 {
		t.Errorf("after destroy, %d creation templates remain", len(templates.RepositoryCreationTemplates))
	}
	// The KMS key waits out its deletion window, as on AWS; its alias is
	// gone.
	kc := kms.New(kms.Options{Region: testRegion, BaseEndpoint: aws.String(e.URL()), Credentials: static(testAccessKey, testSecret), Retryer: closedConnRetryer()})
	keys, err := kc.ListKeys(ctx, &kms.ListKeysInput{})
	ecrMust(t, "ListKeys", err)
	for _, k := range keys.Keys {
		d, err := kc.DescribeKey(ctx, &kms.DescribeKeyInput{KeyId: k.KeyId})
		ecrMust(t, "DescribeKey", err)
		if m := d.KeyMetadata; m.KeyManager == kmstypes.KeyManagerTypeCustomer && m.KeyState != kmstypes.KeyStatePendingDeletion {
			t.Errorf("after destroy, key %s is %s, want PendingDeletion", aws.ToString(m.KeyId), m.KeyState)
		}
	}
	aliases, err := kc.ListAliases(ctx, &kms.ListAliasesInput{})
	ecrMust(t, "ListAliases", err)
	for _, a := range aliases.Aliases {
		if !strings.HasPrefix(aws.ToString(a.AliasName), "alias/aws/") {
			t.Errorf("after destroy, the alias %s remains", aws.ToString(a.AliasName))
		}
	}
	noServerErrors(t, e)
}

func repoNames(rs []ecrtypes.Repository) []string {
	var out []string
	for _, r := range rs {
		out = append(out, aws.ToString(r.RepositoryName))
	}
	return out
}
