package e2e

import (
	"context"
	"encoding/json"
	"os"
	"os/exec"
	"path/filepath"
	"strings"
	"testing"
	"time"

	"github.com/aws/aws-sdk-go-v2/aws"
	"github.com/aws/aws-sdk-go-v2/service/ecr"
	"github.com/aws/aws-sdk-go-v2/service/iam"
	"github.com/google/go-containerregistry/pkg/authn"
	"github.com/google/go-containerregistry/pkg/name"
	"github.com/google/go-containerregistry/pkg/v1/random"
	"github.com/google/go-containerregistry/pkg/v1/remote"

	"github.com/ecrd/ecrd/test/ecrdtest"
)

// TestPullThroughCustomRole: ECR to ECR pull-through within one
// deployment. Account A's rule mirrors account B's registry (its ECR host
// name) as the rule's customRoleArn, a role of A that trusts
// pullthroughcache.ecr.amazonaws.com; B's repository policy lets that
// role pull. crane pulls through A and gets B's image, digest unchanged,
// fetched through the server's own /v2 as the role's session. A
// repository of B without that policy, and a rule whose role does not
// trust the service, fail the pull with the reason;
// ValidatePullThroughCacheRule tells the two rules apart. Two rules that
// mirror each other's repositories fail a pull as not found upstream
// instead of fetching round in a circle.
func TestPullThroughCustomRole(t *testing.T) {
	crane := tool(t, "crane")
	e := startECRD(t, t.TempDir(), "--log-level", "debug")
	ctx, cancel := context.WithTimeout(context.Background(), 3*time.Minute)
	defer cancel()
	const b = "210987654321"
	cb, bPassword := newAccount(t, e, b)
	bHost := b + ".dkr.ecr." + testRegion + ".amazonaws.com"

	// B's images: the registry names B by the password's account.
	bAuth := remote.WithAuth(&authn.Basic{Username: "AWS", Password: bPassword})
	push := func(repo string) string {
		t.Helper()
		img, err := random.Image(64<<10, 2)
		if err != nil {
			t.Fatal(err)
		}
		ref, err := name.NewTag(e.Addr+"/"+repo+":v1", name.Insecure)
		if err != nil {
			t.Fatal(err)
		}
		if err := remote.Write(ref, img, bAuth); err != nil {
			t.Fatal(err)
		}
		d, _ := img.Digest()
		return d.String()
	}
	for _, repo := range []string{"team/app", "team/private"} {
		_, err := cb.CreateRepository(ctx, &ecr.CreateRepositoryInput{RepositoryName: aws.String(repo)})
		ecrMust(t, "CreateRepository "+repo, err)
	}
	shared := push("team/app")
	push("team/private")

	// A's role for the cache, and B's policy letting it pull.
	ic := iamClient(e)
	trust := func(principal string) string {
		return `{"Version":"2012-10-17","Statement":[{"Effect":"Allow","Principal":` + principal + `,"Action":"sts:AssumeRole"}]}`
	}
	pulls := `{"Version":"2012-10-17","Statement":[{"Effect":"Allow","Action":["ecr:BatchGetImage","ecr:GetDownloadUrlForLayer","ecr:BatchCheckLayerAvailability","ecr:GetAuthorizationToken"],"Resource":"*"}]}`
	roleARN := map[string]string{}
	for role, principal := range map[string]string{
		"ptc":     `{"Service":"pullthroughcache.ecr.amazonaws.com"}`,
		"notrust": `{"AWS":"arn:aws:iam::` + testAccount + `:root"}`,
	} {
		out, err := ic.CreateRole(ctx, &iam.CreateRoleInput{RoleName: aws.String(role), AssumeRolePolicyDocument: aws.String(trust(principal))})
		if err != nil {
			t.Fatalf("CreateRole %s: %v", role, err)
		}
		roleARN[role] = aws.ToString(out.Role.Arn)
		if _, err := ic.PutRolePolicy(ctx, &iam.PutRolePolicyInput{RoleName: aws.String(role), PolicyName: aws.String("pulls"), PolicyDocument: aws.String(pulls)}); err != nil {
			t.Fatalf("PutRolePolicy %s: %v", role, err)
		}
	}
	policy := `{"Version":"2012-10-17","Statement":[{"Sid":"Cache","Effect":"Allow","Principal":{"AWS":"` + roleARN["ptc"] + `"},` +
		`"Action":["ecr:BatchGetImage","ecr:GetDownloadUrlForLayer","ecr:BatchCheckLayerAvailability"]}]}`
	_, err := cb.SetRepositoryPolicy(ctx, &ecr.SetRepositoryPolicyInput{RepositoryName: aws.String("team/app"), PolicyText: aws.String(policy)})
	ecrMust(t, "SetRepositoryPolicy", err)

	a := ecrClient(e)
	for prefix, role := range map[string]string{"mirror": "ptc", "untrusted": "notrust"} {
		out, err := a.CreatePullThroughCacheRule(ctx, &ecr.CreatePullThroughCacheRuleInput{
			EcrRepositoryPrefix: aws.String(prefix), UpstreamRegistryUrl: aws.String(bHost), CustomRoleArn: aws.String(roleARN[role])})
		ecrMust(t, "CreatePullThroughCacheRule "+prefix, err)
		if out.UpstreamRegistry != "ecr" {
			t.Errorf("%s: upstream registry %q, want ecr (inferred from the host)", prefix, out.UpstreamRegistry)
		}
	}

	// crane, logged in as A.
	dir := t.TempDir()
	cfg, _ := json.Marshal(map[string]any{"auths": map[string]any{e.Addr: map[string]string{"auth": e.Token(t)}}})
	if err := os.WriteFile(filepath.Join(dir, "config.json"), cfg, 0o600); err != nil {
		t.Fatal(err)
	}
	t.Setenv("DOCKER_CONFIG", dir)
	c := func(args ...string) (string, error) {
		out, err := exec.CommandContext(ctx, crane, append([]string{"--insecure"}, args...)...).CombinedOutput()
		return strings.TrimSpace(string(out)), err
	}

	got, err := c("digest", e.Addr+"/mirror/team/app:v1")
	if err != nil || got != shared {
		t.Fatalf("the cached image: %q %v, want B's %s", got, err, shared)
	}
	if _, err := c("pull", e.Addr+"/mirror/team/app:v1", filepath.Join(dir, "app.tar")); err != nil {
		t.Fatalf("pulling the cached image: %v", err)
	}
	// The fetch went through the server's own /v2, as B's repository,
	// which lets only the role pull.
	if n := e.Gets("/v2/team/app/manifests/"); len(n) == 0 {
		t.Errorf("no manifest fetch from B's repository in the log")
	}

	out, err := c("digest", e.Addr+"/mirror/team/private:v1")
	if err == nil || !strings.Contains(out, "not authorized to perform: ecr:BatchGetImage") {
		t.Errorf("a repository of B without the policy: %q %v, want B's refusal", out, err)
	}
	out, err = c("digest", e.Addr+"/untrusted/team/app:v1")
	if err == nil || !strings.Contains(out, "cannot assume its role") || !strings.Contains(out, "pullthroughcache.ecr.amazonaws.com is not authorized to perform: sts:AssumeRole") {
		t.Errorf("a role that does not trust the service: %q %v", out, err)
	}

	v, err := a.ValidatePullThroughCacheRule(ctx, &ecr.ValidatePullThroughCacheRuleInput{EcrRepositoryPrefix: aws.String("mirror")})
	ecrMust(t, "ValidatePullThroughCacheRule mirror", err)
	if !v.IsValid || aws.ToString(v.CustomRoleArn) != roleARN["ptc"] {
		t.Errorf("mirror: valid %v, failure %q", v.IsValid, aws.ToString(v.Failure))
	}
	v, err = a.ValidatePullThroughCacheRule(ctx, &ecr.ValidatePullThroughCacheRuleInput{EcrRepositoryPrefix: aws.String("untrusted")})
	ecrMust(t, "ValidatePullThroughCacheRule untrusted", err)
	if v.IsValid || !strings.Contains(aws.ToString(v.Failure), "sts:AssumeRole") {
		t.Errorf("untrusted: valid %v, failure %q", v.IsValid, aws.ToString(v.Failure))
	}

	// Two rules mirroring each other's repositories in A's own registry:
	// loop/x mirrors loop2/x, which mirrors loop/x. The cache's fetch of
	// loop2/x is served from what A holds (nothing) and goes no further,
	// so the pull fails at once as not found upstream; without that, the
	// fetch of loop/x would wait on itself until the upstream timeout.
	self := testAccount + ".dkr.ecr." + testRegion + ".amazonaws.com"
	for prefix, up := range map[string]string{"loop": "loop2", "loop2": "loop"} {
		_, err = a.CreatePullThroughCacheRule(ctx, &ecr.CreatePullThroughCacheRuleInput{
			EcrRepositoryPrefix: aws.String(prefix), UpstreamRegistryUrl: aws.String(self),
			UpstreamRepositoryPrefix: aws.String(up), CustomRoleArn: aws.String(roleARN["ptc"])})
		ecrMust(t, "CreatePullThroughCacheRule "+prefix, err)
	}
	out, err = c("digest", e.Addr+"/loop/x:v1")
	if err == nil || !strings.Contains(out, "MANIFEST_UNKNOWN") || !strings.Contains(out, "nor in "+self+"/loop2/x upstream") {
		t.Errorf("a pull through rules that mirror each other: %q %v, want not found upstream", out, err)
	}
	if n := e.Gets("/v2/loop2/x/manifests/")["/v2/loop2/x/manifests/v1"]; n == 0 {
		t.Errorf("no fetch of loop2/x")
	}
	ecrdtest.NoServerErrors(t, e)
}
