package e2e

import (
	"bytes"
	"context"
	"encoding/json"
	"fmt"
	"os/exec"
	"strings"
	"testing"
	"time"

	"github.com/aws/aws-sdk-go-v2/aws"
	"github.com/aws/aws-sdk-go-v2/service/ecr"
	ecrtypes "github.com/aws/aws-sdk-go-v2/service/ecr/types"

	"github.com/ecrd/ecrd/internal/testutil"
)

const ptcSecretARN = "arn:aws:secretsmanager:" + testRegion + ":" + testAccount + ":secret:ecr-pullthroughcache/hub-AbCdEf"

// TestPullThroughCacheRulesAPI: every operation of pull-through cache
// rules through aws-sdk-go-v2, and each refusal with ECR's exception,
// status and message.
func TestPullThroughCacheRulesAPI(t *testing.T) {
	up := startECRD(t, t.TempDir())
	closed := closedPort(t)
	e := startECRD(t, t.TempDir(), "--insecure-upstreams", up.Addr+","+closed)
	c := ecrClient(e)
	ctx := context.Background()
	before := time.Now().Add(-time.Second)

	created, err := c.CreatePullThroughCacheRule(ctx, &ecr.CreatePullThroughCacheRuleInput{
		EcrRepositoryPrefix: aws.String("quay/"), UpstreamRegistryUrl: aws.String("quay.io")})
	ecrMust(t, "CreatePullThroughCacheRule quay", err)
	if aws.ToString(created.EcrRepositoryPrefix) != "quay" || aws.ToString(created.RegistryId) != testAccount ||
		created.UpstreamRegistry != ecrtypes.UpstreamRegistryQuay || aws.ToString(created.UpstreamRegistryUrl) != "quay.io" ||
		created.CreatedAt == nil || created.CreatedAt.Before(before) || created.UpstreamRepositoryPrefix != nil {
		t.Errorf("created %+v", created)
	}
	// Any OCI registry, beyond ECR's list: no upstreamRegistry.
	local, err := c.CreatePullThroughCacheRule(ctx, &ecr.CreatePullThroughCacheRuleInput{
		EcrRepositoryPrefix: aws.String("ROOT"), UpstreamRegistryUrl: aws.String("127.0.0.1:5001")})
	ecrMust(t, "CreatePullThroughCacheRule ROOT", err)
	if local.UpstreamRegistry != "" {
		t.Errorf("an OCI upstream is named %q", local.UpstreamRegistry)
	}
	_, err = c.CreatePullThroughCacheRule(ctx, &ecr.CreatePullThroughCacheRuleInput{
		EcrRepositoryPrefix: aws.String("k8s"), UpstreamRegistryUrl: aws.String("registry.k8s.io"), UpstreamRepositoryPrefix: aws.String("ROOT")})
	ecrMust(t, "CreatePullThroughCacheRule k8s", err)

	refusals := []struct {
		name          string
		in            *ecr.CreatePullThroughCacheRuleInput
		code, message string
	}{
		{"exists", &ecr.CreatePullThroughCacheRuleInput{EcrRepositoryPrefix: aws.String("quay"), UpstreamRegistryUrl: aws.String("quay.io")},
			"PullThroughCacheRuleAlreadyExistsException", "A pull through cache rule with prefix 'quay' already exists in the registry with id '" + testAccount + "'"},
		{"no credential", &ecr.CreatePullThroughCacheRuleInput{EcrRepositoryPrefix: aws.String("hub"), UpstreamRegistryUrl: aws.String("registry-1.docker.io")},
			"UnsupportedUpstreamRegistryException", "The specified upstream registry requires authentication. Specify a valid Secrets Manager ARN"},
		{"bad URL", &ecr.CreatePullThroughCacheRuleInput{EcrRepositoryPrefix: aws.String("bad"), UpstreamRegistryUrl: aws.String("https://quay.io/v2/")},
			"UnsupportedUpstreamRegistryException", "The upstream registry URL https://quay.io/v2/ is invalid. Specify a valid upstream registry URL and try again"},
		{"credential refused", &ecr.CreatePullThroughCacheRuleInput{EcrRepositoryPrefix: aws.String("pub"), UpstreamRegistryUrl: aws.String("public.ecr.aws"), CredentialArn: aws.String(ptcSecretARN)},
			"UnsupportedUpstreamRegistryException", "The specified upstream registry does not support authentication. Remove the Secrets Manager ARN and try again"},
		{"role not ecr", &ecr.CreatePullThroughCacheRuleInput{EcrRepositoryPrefix: aws.String("pub"), UpstreamRegistryUrl: aws.String("public.ecr.aws"), CustomRoleArn: aws.String("arn:aws:iam::" + testAccount + ":role/ptc")},
			"ValidationException", "A custom role ARN can only be specified for a pull through cache rule whose upstream registry is ecr"},
		{"secret missing", &ecr.CreatePullThroughCacheRuleInput{EcrRepositoryPrefix: aws.String("hub"), UpstreamRegistryUrl: aws.String("registry-1.docker.io"), CredentialArn: aws.String(ptcSecretARN)},
			"SecretNotFoundException", "The ARN of the secret specified in the pull through cache rule was not found: " + ptcSecretARN + ". Update the pull through cache rule with a valid secret ARN and try again"},
		{"prefix short", &ecr.CreatePullThroughCacheRuleInput{EcrRepositoryPrefix: aws.String("q"), UpstreamRegistryUrl: aws.String("quay.io")},
			"InvalidParameterException", "Invalid parameter at 'ecrRepositoryPrefix' failed to satisfy constraint: 'must have length greater than or equal to 2'"},
		{"secret name", &ecr.CreatePullThroughCacheRuleInput{EcrRepositoryPrefix: aws.String("hub"), UpstreamRegistryUrl: aws.String("registry-1.docker.io"),
			CredentialArn: aws.String("arn:aws:secretsmanager:us-east-1:123456789012:secret:dockerhub-AbCdEf")},
			"InvalidParameterException", `Invalid parameter at 'credentialArn' failed to satisfy constraint: 'must satisfy regular expression '^arn:aws(-\w+)*:secretsmanager:[a-zA-Z0-9-:]+:secret:ecr\-pullthroughcache\/[a-zA-Z0-9\/_+=.@-]+$''`},
	}
	for _, r := range refusals {
		_, err := c.CreatePullThroughCacheRule(ctx, r.in)
		wantAPIError(t, "CreatePullThroughCacheRule "+r.name, err, r.code, 400, r.message)
	}
	_, err = c.CreatePullThroughCacheRule(ctx, &ecr.CreatePullThroughCacheRuleInput{
		EcrRepositoryPrefix: aws.String("bad"), UpstreamRegistryUrl: aws.String("quay.io"), UpstreamRegistry: "harbor"})
	wantAPIError(t, "CreatePullThroughCacheRule harbor", err, "InvalidParameterException", 400,
		"Invalid parameter at 'upstreamRegistry' failed to satisfy constraint: 'must satisfy enum value set: [ecr, ecr-public, quay, k8s, docker-hub, github-container-registry, azure-container-registry, gitlab-container-registry, chainguard]'")

	// Describe: all, paged, by name; a missing name is an error.
	var prefixes []string
	p := ecr.NewDescribePullThroughCacheRulesPaginator(c, &ecr.DescribePullThroughCacheRulesInput{MaxResults: aws.Int32(2)})
	pages := 0
	for p.HasMorePages() {
		page, err := p.NextPage(ctx)
		ecrMust(t, "DescribePullThroughCacheRules", err)
		pages++
		for _, r := range page.PullThroughCacheRules {
			prefixes = append(prefixes, aws.ToString(r.EcrRepositoryPrefix))
			if r.UpdatedAt == nil || aws.ToString(r.RegistryId) != testAccount {
				t.Errorf("described %+v", r)
			}
		}
	}
	if strings.Join(prefixes, " ") != "ROOT k8s quay" || pages != 2 {
		t.Errorf("described %v in %d pages", prefixes, pages)
	}
	d, err := c.DescribePullThroughCacheRules(ctx, &ecr.DescribePullThroughCacheRulesInput{EcrRepositoryPrefixes: []string{"k8s"}})
	ecrMust(t, "DescribePullThroughCacheRules k8s", err)
	if len(d.PullThroughCacheRules) != 1 || aws.ToString(d.PullThroughCacheRules[0].UpstreamRepositoryPrefix) != "ROOT" ||
		d.PullThroughCacheRules[0].UpstreamRegistry != ecrtypes.UpstreamRegistryK8s {
		t.Errorf("described k8s: %+v", d.PullThroughCacheRules)
	}
	_, err = c.DescribePullThroughCacheRules(ctx, &ecr.DescribePullThroughCacheRulesInput{EcrRepositoryPrefixes: []string{"quay", "nope"}})
	wantAPIError(t, "DescribePullThroughCacheRules nope", err, "PullThroughCacheRuleNotFoundException", 400,
		"The pull through cache rule with prefix 'nope' does not exist in the registry with id '"+testAccount+"'")
	_, err = c.DescribePullThroughCacheRules(ctx, &ecr.DescribePullThroughCacheRulesInput{MaxResults: aws.Int32(1001)})
	wantAPIError(t, "DescribePullThroughCacheRules 1001", err, "InvalidParameterException", 400,
		"Invalid parameter at 'maxResults' failed to satisfy constraint: 'must be less than or equal to 1000'")

	// Update: the rule's own rules hold; a missing rule or secret is named.
	_, err = c.UpdatePullThroughCacheRule(ctx, &ecr.UpdatePullThroughCacheRuleInput{EcrRepositoryPrefix: aws.String("quay"), CredentialArn: aws.String(ptcSecretARN)})
	wantAPIError(t, "UpdatePullThroughCacheRule quay credential", err, "UnsupportedUpstreamRegistryException", 400,
		"The specified upstream registry does not support authentication. Remove the Secrets Manager ARN and try again")
	_, err = c.UpdatePullThroughCacheRule(ctx, &ecr.UpdatePullThroughCacheRuleInput{EcrRepositoryPrefix: aws.String("ROOT"), CredentialArn: aws.String(ptcSecretARN)})
	wantAPIError(t, "UpdatePullThroughCacheRule secret", err, "SecretNotFoundException", 400, "")
	_, err = c.UpdatePullThroughCacheRule(ctx, &ecr.UpdatePullThroughCacheRuleInput{EcrRepositoryPrefix: aws.String("gone"), CustomRoleArn: aws.String("")})
	wantAPIError(t, "UpdatePullThroughCacheRule gone", err, "PullThroughCacheRuleNotFoundException", 400,
		"The pull through cache rule with prefix 'gone' does not exist in the registry with id '"+testAccount+"'")
	_, err = c.UpdatePullThroughCacheRule(ctx, &ecr.UpdatePullThroughCacheRuleInput{EcrRepositoryPrefix: aws.String("quay")})
	wantAPIError(t, "UpdatePullThroughCacheRule nothing", err, "ValidationException", 400,
		"Specify a credentialArn, a customRoleArn or both to update the pull through cache rule")
	u, err := c.UpdatePullThroughCacheRule(ctx, &ecr.UpdatePullThroughCacheRuleInput{EcrRepositoryPrefix: aws.String("quay"), CustomRoleArn: aws.String("")})
	ecrMust(t, "UpdatePullThroughCacheRule", err)
	if u.UpdatedAt == nil || aws.ToString(u.EcrRepositoryPrefix) != "quay" || aws.ToString(u.RegistryId) != testAccount {
		t.Errorf("updated %+v", u)
	}

	// Validate tries the upstream: another ecrd on loopback answers, a
	// port nobody listens on does not.
	for prefix, url := range map[string]string{"mirror": up.Addr, "gone": closed} {
		_, err := c.CreatePullThroughCacheRule(ctx, &ecr.CreatePullThroughCacheRuleInput{
			EcrRepositoryPrefix: aws.String(prefix), UpstreamRegistryUrl: aws.String(url)})
		ecrMust(t, "CreatePullThroughCacheRule "+prefix, err)
	}
	v, err := c.ValidatePullThroughCacheRule(ctx, &ecr.ValidatePullThroughCacheRuleInput{EcrRepositoryPrefix: aws.String("mirror")})
	ecrMust(t, "ValidatePullThroughCacheRule", err)
	if !v.IsValid || v.Failure != nil || aws.ToString(v.UpstreamRegistryUrl) != up.Addr {
		t.Errorf("validated %+v %q", v, aws.ToString(v.Failure))
	}
	v, err = c.ValidatePullThroughCacheRule(ctx, &ecr.ValidatePullThroughCacheRuleInput{EcrRepositoryPrefix: aws.String("gone")})
	ecrMust(t, "ValidatePullThroughCacheRule gone", err)
	if v.IsValid || !strings.Contains(aws.ToString(v.Failure), closed) {
		t.Errorf("validated an upstream nobody serves: %+v %q", v, aws.ToString(v.Failure))
	}
	for _, prefix := range []string{"mirror", "gone"} {
		_, err := c.DeletePullThroughCacheRule(ctx, &ecr.DeletePullThroughCacheRuleInput{EcrRepositoryPrefix: aws.String(prefix)})
		ecrMust(t, "DeletePullThroughCacheRule "+prefix, err)
	}
	_, err = c.ValidatePullThroughCacheRule(ctx, &ecr.ValidatePullThroughCacheRuleInput{EcrRepositoryPrefix: aws.String("nope")})
	wantAPIError(t, "ValidatePullThroughCacheRule nope", err, "PullThroughCacheRuleNotFoundException", 400, "")

	// Delete answers the rule; deleting it again is an error.
	del, err := c.DeletePullThroughCacheRule(ctx, &ecr.DeletePullThroughCacheRuleInput{EcrRepositoryPrefix: aws.String("k8s")})
	ecrMust(t, "DeletePullThroughCacheRule", err)
	if aws.ToString(del.UpstreamRegistryUrl) != "registry.k8s.io" || del.CreatedAt == nil {
		t.Errorf("deleted %+v", del)
	}
	_, err = c.DeletePullThroughCacheRule(ctx, &ecr.DeletePullThroughCacheRuleInput{EcrRepositoryPrefix: aws.String("k8s")})
	wantAPIError(t, "DeletePullThroughCacheRule again", err, "PullThroughCacheRuleNotFoundException", 400, "")

	// The limit: 50 rules a registry.
	for i := 2; i < 50; i++ {
		_, err := c.CreatePullThroughCacheRule(ctx, &ecr.CreatePullThroughCacheRuleInput{EcrRepositoryPrefix: aws.String(fmt.Sprintf("p%02d", i)), UpstreamRegistryUrl: aws.String("quay.io")})
		ecrMust(t, "CreatePullThroughCacheRule", err)
	}
	_, err = c.CreatePullThroughCacheRule(ctx, &ecr.CreatePullThroughCacheRuleInput{EcrRepositoryPrefix: aws.String("p50"), UpstreamRegistryUrl: aws.String("quay.io")})
	wantAPIError(t, "CreatePullThroughCacheRule 51st", err, "LimitExceededException", 400,
		"The maximum number of pull through cache rules in a registry is 50: delete one before creating another")

	// Raw: __type and the error header, as ECR answers them.
	a := rawECR(t, e, "DeletePullThroughCacheRule", []byte(`{"ecrRepositoryPrefix":"none"}`), testAccessKey, testSecret)
	wantRawError(t, "raw DeletePullThroughCacheRule", a, 400, "PullThroughCacheRuleNotFoundException",
		"The pull through cache rule with prefix 'none' does not exist in the registry with id '"+testAccount+"'")
	noServerErrors(t, e)
}

// TestPullThroughCacheRulesAWSCLI: the rules through both AWS CLIs (the
// v2 of Debian predates update- and validate-pull-through-cache-rule).
func TestPullThroughCacheRulesAWSCLI(t *testing.T) {
	for _, cli := range []struct {
		name string
		path string
		all  bool
	}{{"v2", awsCLI(t), false}, {"v1", currentAWSCLI(t), true}} {
		t.Run(cli.name, func(t *testing.T) {
			closed := closedPort(t)
			e := startECRD(t, t.TempDir(), "--insecure-upstreams", closed)
			env, work := scriptEnv(t, e)
			awsRun := func(args ...string) (map[string]any, string, error) {
				ctx, cancel := context.WithTimeout(context.Background(), time.Minute)
				defer cancel()
				cmd := exec.CommandContext(ctx, cli.path, append(args, "--endpoint-url", e.URL(), "--output", "json")...)
				cmd.Env, cmd.Dir = env, work
				var out, errOut bytes.Buffer
				cmd.Stdout, cmd.Stderr = &out, &errOut
				err := cmd.Run()
				var m map[string]any
				if err == nil {
					if jerr := json.Unmarshal(out.Bytes(), &m); jerr != nil {
						t.Fatalf("%v: %v in %s", args, jerr, out.String())
					}
				}
				return m, errOut.String(), err
			}
			out, stderr, err := awsRun("ecr", "create-pull-through-cache-rule", "--ecr-repository-prefix", "quay", "--upstream-registry-url", "quay.io")
			if err != nil || out["ecrRepositoryPrefix"] != "quay" || out["upstreamRegistryUrl"] != "quay.io" {
				t.Fatalf("create: %v %s %v", out, stderr, err)
			}
			_, stderr, err = awsRun("ecr", "create-pull-through-cache-rule", "--ecr-repository-prefix", "hub", "--upstream-registry-url", "registry-1.docker.io")
			if err == nil || !strings.Contains(stderr, "An error occurred (UnsupportedUpstreamRegistryException) when calling the CreatePullThroughCacheRule operation: The specified upstream registry requires authentication. Specify a valid Secrets Manager ARN") {
				t.Errorf("create hub without credential: %v %s", err, stderr)
			}
			out, stderr, err = awsRun("ecr", "describe-pull-through-cache-rules")
			if rules, _ := out["pullThroughCacheRules"].([]any); err != nil || len(rules) != 1 {
				t.Fatalf("describe: %v %s %v", out, stderr, err)
			}
			if cli.all {
				if _, stderr, err := awsRun("ecr", "create-pull-through-cache-rule", "--ecr-repository-prefix", "gone", "--upstream-registry-url", closed); err != nil {
					t.Fatalf("create gone: %s %v", stderr, err)
				}
				out, stderr, err = awsRun("ecr", "validate-pull-through-cache-rule", "--ecr-repository-prefix", "gone")
				if failure, _ := out["failure"].(string); err != nil || out["isValid"] != false || !strings.Contains(failure, closed) {
					t.Errorf("validate: %v %s %v", out, stderr, err)
				}
				_, stderr, err = awsRun("ecr", "update-pull-through-cache-rule", "--ecr-repository-prefix", "quay", "--credential-arn", ptcSecretARN)
				if err == nil || !strings.Contains(stderr, "(UnsupportedUpstreamRegistryException)") {
					t.Errorf("update: %v %s", err, stderr)
				}
			}
			out, stderr, err = awsRun("ecr", "delete-pull-through-cache-rule", "--ecr-repository-prefix", "quay")
			if err != nil || out["ecrRepositoryPrefix"] != "quay" {
				t.Errorf("delete: %v %s %v", out, stderr, err)
			}
			_, stderr, err = awsRun("ecr", "describe-pull-through-cache-rules", "--ecr-repository-prefixes", "quay")
			if err == nil || !strings.Contains(stderr, "An error occurred (PullThroughCacheRuleNotFoundException) when calling the DescribePullThroughCacheRules operation: The pull through cache rule with prefix 'quay' does not exist in the registry with id '"+testAccount+"'") {
				t.Errorf("describe deleted: %v %s", err, stderr)
			}
			noServerErrors(t, e)
		})
	}
}

// TestTerraformPullThroughCacheRule: aws_ecr_pull_through_cache_rule and
// its data source, applied, planned clean, and destroyed; a rule for
// another account's registry with the role Terraform made beside it
// validates.
func TestTerraformPullThroughCacheRule(t *testing.T) {
	e := startBareECRD(t, t.TempDir())
	w := newTFWorkspace(t, e, "ptc")
	w.applyClean()
	out := w.outputs()
	if out["registry_id"] != testAccount || out["read_url"] != "quay.io" || out["read_upstream_prefix"] != "" || out["k8s_upstream_prefix"] != "ROOT" ||
		out["role_rule_role"] != "arn:aws:iam::"+testAccount+":role/ecr-to-ecr-cache" || out["role_rule_upstream"] != "210987654321.dkr.ecr.us-east-1.amazonaws.com" {
		t.Errorf("outputs %v", out)
	}
	c := ecrClient(e)
	d, err := c.DescribePullThroughCacheRules(context.Background(), &ecr.DescribePullThroughCacheRulesInput{})
	ecrMust(t, "DescribePullThroughCacheRules", err)
	if len(d.PullThroughCacheRules) != 4 {
		t.Errorf("Terraform made %d rules, want 4", len(d.PullThroughCacheRules))
	}
	// The role rule is usable as declared: the role trusts the service.
	v, err := c.ValidatePullThroughCacheRule(context.Background(), &ecr.ValidatePullThroughCacheRuleInput{EcrRepositoryPrefix: aws.String("primary")})
	ecrMust(t, "ValidatePullThroughCacheRule", err)
	if !v.IsValid {
		t.Errorf("the role rule is not valid: %s", aws.ToString(v.Failure))
	}
	w.destroy()
	d, err = c.DescribePullThroughCacheRules(context.Background(), &ecr.DescribePullThroughCacheRulesInput{})
	ecrMust(t, "DescribePullThroughCacheRules", err)
	if len(d.PullThroughCacheRules) != 0 {
		t.Errorf("destroy left %d rules", len(d.PullThroughCacheRules))
	}
	noServerErrors(t, e)
}

// closedPort is a loopback host:port nobody listens on.
func closedPort(t *testing.T) string {
	t.Helper()
	port, err := testutil.FreePort()
	if err != nil {
		t.Fatal(err)
	}
	return fmt.Sprintf("127.0.0.1:%d", port)
}
