package ecr

import (
	"encoding/json"
	"strings"
	"testing"
	"time"

	"github.com/ecrd/ecrd/internal/metadata"
	"github.com/ecrd/ecrd/internal/registry"
)

const (
	patCredentialArn = `^arn:aws(-\w+)*:secretsmanager:[a-zA-Z0-9-:]+:secret:ecr\-pullthroughcache\/[a-zA-Z0-9\/_+=.@-]+$`
	enumUpstream     = `[ecr, ecr-public, quay, k8s, docker-hub, github-container-registry, azure-container-registry, gitlab-container-registry, chainguard]`
	validSecretArn   = "arn:aws:secretsmanager:us-east-1:123456789012:secret:ecr-pullthroughcache/hub-AbCdEf"
)

func TestValidateCreatePullThroughCacheRule(t *testing.T) {
	type T = CreatePullThroughCacheRuleInput
	base := func() *T {
		return &T{EcrRepositoryPrefix: new("hub"), UpstreamRegistryUrl: new("registry-1.docker.io")}
	}
	runCases(t, base, []opCase[T]{
		{"prefix null", func(in *T) { in.EcrRepositoryPrefix = nil }, msgNull("ecrRepositoryPrefix")},
		{"prefix short", func(in *T) { in.EcrRepositoryPrefix = new("a") }, msgMin("ecrRepositoryPrefix", "2")},
		{"prefix long", func(in *T) { in.EcrRepositoryPrefix = new(strings.Repeat("a", 31)) }, msgMax("ecrRepositoryPrefix", "30")},
		{"prefix pattern", func(in *T) { in.EcrRepositoryPrefix = new("Hub") }, msgPattern("ecrRepositoryPrefix", patPrefix)},
		{"prefix ROOT", func(in *T) { in.EcrRepositoryPrefix = new("ROOT") }, ""},
		{"prefix with slash", func(in *T) { in.EcrRepositoryPrefix = new("team/hub/") }, ""},
		{"url null", func(in *T) { in.UpstreamRegistryUrl = nil }, msgNull("upstreamRegistryUrl")},
		{"registryId", func(in *T) { in.RegistryId = new("12") }, msgPattern("registryId", `[0-9]{12}`)},
		{"upstream enum", func(in *T) { in.UpstreamRegistry = new("harbor") }, msgEnum("upstreamRegistry", enumUpstream)},
		{"upstream chainguard", func(in *T) { in.UpstreamRegistry = new("chainguard") }, ""},
		{"credential short", func(in *T) { in.CredentialArn = new("arn:aws:secretsmanager:x") }, msgMin("credentialArn", "50")},
		{"credential name", func(in *T) {
			in.CredentialArn = new("arn:aws:secretsmanager:us-east-1:123456789012:secret:dockerhub-credentials")
		}, msgPattern("credentialArn", patCredentialArn)},
		{"credential", func(in *T) { in.CredentialArn = new(validSecretArn) }, ""},
		{"role long", func(in *T) { in.CustomRoleArn = new(strings.Repeat("r", 2049)) }, msgMax("customRoleArn", "2048")},
		{"upstream prefix", func(in *T) { in.UpstreamRepositoryPrefix = new("x") }, msgMin("upstreamRepositoryPrefix", "2")},
		{"upstream prefix ROOT", func(in *T) { in.UpstreamRepositoryPrefix = new("ROOT") }, ""},
	})
}

func TestValidateDescribePullThroughCacheRules(t *testing.T) {
	type T = DescribePullThroughCacheRulesInput
	runCases(t, func() *T { return &T{} }, []opCase[T]{
		{"prefixes empty", func(in *T) { in.EcrRepositoryPrefixes = []string{} }, msgMin("ecrRepositoryPrefixes", "1")},
		{"prefixes many", func(in *T) { in.EcrRepositoryPrefixes = make([]string, 101) }, msgMax("ecrRepositoryPrefixes", "100")},
		{"prefix member", func(in *T) { in.EcrRepositoryPrefixes = []string{"hub", "A"} }, msgMin("ecrRepositoryPrefixes.2.member", "2")},
		{"maxResults 0", func(in *T) { in.MaxResults = new(int32(0)) }, msgGE("maxResults", "1")},
		{"maxResults 1001", func(in *T) { in.MaxResults = new(int32(1001)) }, msgLE("maxResults", "1000")},
		{"maxResults 1000", func(in *T) { in.MaxResults = new(int32(1000)) }, ""},
	})
}

func TestValidateUpdatePullThroughCacheRule(t *testing.T) {
	type T = UpdatePullThroughCacheRuleInput
	base := func() *T { return &T{EcrRepositoryPrefix: new("hub"), CredentialArn: new(validSecretArn)} }
	runCases(t, base, []opCase[T]{
		{"prefix null", func(in *T) { in.EcrRepositoryPrefix = nil }, msgNull("ecrRepositoryPrefix")},
		{"credential pattern", func(in *T) { in.CredentialArn = new(strings.Repeat("a", 50)) }, msgPattern("credentialArn", patCredentialArn)},
		{"role only", func(in *T) { in.CredentialArn, in.CustomRoleArn = nil, new("arn:aws:iam::123456789012:role/r") }, ""},
	})
	// Nothing to change is ECR's ValidationException.
	err := (&T{EcrRepositoryPrefix: new("hub")}).validate()
	if e := exception(err); e == nil || e.Type != "ValidationException" || e.Status != 400 {
		t.Fatalf("empty update: %v -> %+v", err, e)
	}
}

func TestValidateDeleteAndValidatePullThroughCacheRule(t *testing.T) {
	runCases(t, func() *DeletePullThroughCacheRuleInput {
		return &DeletePullThroughCacheRuleInput{EcrRepositoryPrefix: new("hub")}
	},
		[]opCase[DeletePullThroughCacheRuleInput]{
			{"prefix null", func(in *DeletePullThroughCacheRuleInput) { in.EcrRepositoryPrefix = nil }, msgNull("ecrRepositoryPrefix")},
		})
	runCases(t, func() *ValidatePullThroughCacheRuleInput {
		return &ValidatePullThroughCacheRuleInput{EcrRepositoryPrefix: new("hub")}
	},
		[]opCase[ValidatePullThroughCacheRuleInput]{
			{"prefix pattern", func(in *ValidatePullThroughCacheRuleInput) { in.EcrRepositoryPrefix = new("-x") }, msgPattern("ecrRepositoryPrefix", patPrefix)},
			{"registryId", func(in *ValidatePullThroughCacheRuleInput) { in.RegistryId = new("x") }, msgPattern("registryId", `[0-9]{12}`)},
		})
}

func TestPullThroughCacheExceptions(t *testing.T) {
	reg := metadata.RepoKey{Scope: metadata.Scope{Account: "123456789012", Region: "us-east-1"}}
	for _, tt := range []struct {
		err          error
		typ, message string
	}{
		{&registry.NotFoundError{Kind: registry.KindPullThroughCacheRule, Key: reg, ID: "hub"}, "PullThroughCacheRuleNotFoundException",
			"The pull through cache rule with prefix 'hub' does not exist in the registry with id '123456789012'"},
		{&registry.ExistsError{Kind: registry.KindPullThroughCacheRule, Key: reg, ID: "hub"}, "PullThroughCacheRuleAlreadyExistsException",
			"A pull through cache rule with prefix 'hub' already exists in the registry with id '123456789012'"},
		{&registry.LimitError{Limit: registry.LimitPullThroughCacheRules, Max: 50}, "LimitExceededException",
			"The maximum number of pull through cache rules in a registry is 50: delete one before creating another"},
		{&registry.UpstreamError{Problem: registry.UpstreamNeedsCredential, Registry: "docker-hub"}, "UnsupportedUpstreamRegistryException",
			"The specified upstream registry requires authentication. Specify a valid Secrets Manager ARN"},
		{&registry.UpstreamError{Problem: registry.UpstreamURLInvalid, URL: "a/b"}, "UnsupportedUpstreamRegistryException",
			"The upstream registry URL a/b is invalid. Specify a valid upstream registry URL and try again"},
		{&registry.UpstreamError{Problem: registry.UpstreamRefusesCredential, Registry: "quay"}, "UnsupportedUpstreamRegistryException",
			"The specified upstream registry does not support authentication. Remove the Secrets Manager ARN and try again"},
		{&registry.UpstreamError{Problem: registry.UpstreamRoleNotECR, Registry: "quay"}, "ValidationException",
			"A custom role ARN can only be specified for a pull through cache rule whose upstream registry is ecr"},
		{&registry.UpstreamError{Problem: registry.UpstreamPrefixAtRoot}, "ValidationException",
			"An upstream repository prefix can only be specified when the ECR repository prefix is not ROOT"},
		{&registry.SecretError{ARN: "s", Code: registry.CodeSecretNotFound}, "SecretNotFoundException",
			"The ARN of the secret specified in the pull through cache rule was not found: s. Update the pull through cache rule with a valid secret ARN and try again"},
		{&registry.SecretError{ARN: "s", Code: registry.CodeUnableToAccessSecret}, "UnableToAccessSecretException",
			"The secret s is unable to be accessed. Verify the resource permissions for the secret and try again"},
		{&registry.SecretError{ARN: "s", Code: registry.CodeUnableToDecryptSecret}, "UnableToDecryptSecretValueException",
			"The secret s is accessible but is unable to be decrypted. Verify the resource permissions and try again"},
	} {
		got := exception(tt.err)
		if got == nil || got.Type != tt.typ || got.Status != 400 || got.Message != tt.message {
			t.Errorf("exception(%#v)\n = %+v\nwant %s %q", tt.err, got, tt.typ, tt.message)
		}
	}
}

// TestPullThroughCacheShapes: answers carry ECR's members, createdAt as
// epoch seconds, and ROOT back when the request named it.
func TestPullThroughCacheShapes(t *testing.T) {
	s := metadata.Scope{Account: "123456789012", Region: "us-east-1"}
	at := time.Date(2026, 12, 5, 10, 0, 0, 500e6, time.UTC)
	rule := registry.PullThroughCacheRule{Prefix: "quay", UpstreamRegistryURL: "quay.io", UpstreamRegistry: "quay", UpstreamRootGiven: true, CreatedAt: at, UpdatedAt: at}
	out := CreatePullThroughCacheRuleOutput(ptcRule(s, rule))
	out.UpdatedAt = nil
	b, err := json.Marshal(out)
	if err != nil {
		t.Fatal(err)
	}
	want := `{"ecrRepositoryPrefix":"quay","upstreamRegistryUrl":"quay.io","createdAt":1796464800.5,"registryId":"123456789012","upstreamRepositoryPrefix":"ROOT","upstreamRegistry":"quay"}`
	if string(b) != want {
		t.Fatalf("got  %s\nwant %s", b, want)
	}
	rule.UpstreamRootGiven = false
	if got := ptcRule(s, rule); got.UpstreamRepositoryPrefix != "" {
		t.Fatalf("an unnamed upstream prefix answered as %q", got.UpstreamRepositoryPrefix)
	}
	b, _ = json.Marshal(ValidatePullThroughCacheRuleOutput{EcrRepositoryPrefix: "quay"})
	if !strings.Contains(string(b), `"isValid":false`) {
		t.Fatalf("isValid false is left out: %s", b)
	}
}
