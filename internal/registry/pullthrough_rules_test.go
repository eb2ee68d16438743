package registry_test

import (
	"context"
	"errors"
	"fmt"
	"strings"
	"testing"
	"time"

	"github.com/ecrd/ecrd/internal/identity"
	"github.com/ecrd/ecrd/internal/metadata"
	"github.com/ecrd/ecrd/internal/outbox"
	"github.com/ecrd/ecrd/internal/registry"
)

// secretStore stands in for the Secrets Manager slice behind the
// registry's Secrets interface: values by ARN, or the error to give.
type secretStore struct {
	values map[string]string
	errs   map[string]error
	calls  int
}

func (s *secretStore) ValueForService(_ context.Context, account, arn string) (string, error) {
	s.calls++
	if err := s.errs[arn]; err != nil {
		return "", fmt.Errorf("reading %s: %w", arn, err)
	}
	v, ok := s.values[arn]
	if !ok || !strings.Contains(arn, ":"+account+":") {
		return "", fmt.Errorf("reading %s: %w", arn, registry.ErrSecretNotFound)
	}
	return v, nil
}

const (
	hubSecret = "arn:aws:secretsmanager:us-east-1:123456789012:secret:ecr-pullthroughcache/hub-AbCdEf"
	badSecret = "arn:aws:secretsmanager:us-east-1:123456789012:secret:ecr-pullthroughcache/bad-AbCdEf"
)

func ruleFixture(t *testing.T, check func(context.Context, metadata.Scope, registry.PullThroughCacheRule, string) error) (*fixture, *secretStore) {
	t.Helper()
	s := &secretStore{values: map[string]string{
		hubSecret: `{"username":"u","accessToken":"t"}`,
		badSecret: `not json`,
	}, errs: map[string]error{}}
	if check == nil {
		// No upstream to reach: these tests check the secret alone.
		check = func(context.Context, metadata.Scope, registry.PullThroughCacheRule, string) error { return nil }
	}
	return newFixture(t, registry.Options{Secrets: s, UpstreamCheck: check}), s
}

func TestPullThroughCacheRules(t *testing.T) {
	f, secrets := ruleFixture(t, nil)
	after := lastEvent(t, f)

	quay, err := f.reg.CreatePullThroughCacheRule(ctx, scope, registry.PullThroughCacheRule{Prefix: "quay/", UpstreamRegistryURL: "quay.io"})
	if err != nil {
		t.Fatal(err)
	}
	// The trailing "/" is ECR's assumed one; the upstream is inferred
	// from the URL; a rule without upstreamRepositoryPrefix mirrors ROOT.
	if quay.Prefix != "quay" || quay.UpstreamRegistry != registry.UpstreamQuay || quay.UpstreamRepositoryPrefix != "" || !quay.CreatedAt.Equal(f.clock.Now()) {
		t.Fatalf("created %+v", quay)
	}
	if _, err := f.reg.CreatePullThroughCacheRule(ctx, scope, registry.PullThroughCacheRule{Prefix: "quay", UpstreamRegistryURL: "quay.io"}); true {
		wantCode(t, err, registry.CodePTCRuleAlreadyExists)
	}
	hub, err := f.reg.CreatePullThroughCacheRule(ctx, scope, registry.PullThroughCacheRule{
		Prefix: "hub", UpstreamRegistryURL: "registry-1.docker.io", CredentialARN: hubSecret, UpstreamRepositoryPrefix: "library"})
	if err != nil {
		t.Fatal(err)
	}
	if hub.UpstreamRegistry != registry.UpstreamDockerHub || secrets.calls != 1 {
		t.Fatalf("hub %+v, %d secret reads", hub, secrets.calls)
	}
	local, err := f.reg.CreatePullThroughCacheRule(ctx, scope, registry.PullThroughCacheRule{Prefix: registry.RootPrefix, UpstreamRegistryURL: "http://127.0.0.1:5001"})
	if err != nil || local.UpstreamRegistry != "" {
		t.Fatalf("any OCI registry at the root: %+v, %v", local, err)
	}

	rules, next, err := f.reg.DescribePullThroughCacheRules(ctx, scope, nil, "", 2)
	if err != nil || len(rules) != 2 || rules[0].Prefix != "ROOT" || rules[1].Prefix != "hub" || next == "" {
		t.Fatalf("first page %+v %q %v", rules, next, err)
	}
	rules, next, err = f.reg.DescribePullThroughCacheRules(ctx, scope, nil, next, 2)
	if err != nil || len(rules) != 1 || rules[0].Prefix != "quay" || next != "" {
		t.Fatalf("second page %+v %q %v", rules, next, err)
	}
	rules, _, err = f.reg.DescribePullThroughCacheRules(ctx, scope, []string{"hub/"}, "", 0)
	if err != nil || len(rules) != 1 || rules[0].CredentialARN != hubSecret {
		t.Fatalf("named %+v %v", rules, err)
	}
	_, _, err = f.reg.DescribePullThroughCacheRules(ctx, scope, []string{"hub", "nope"}, "", 0)
	wantCode(t, err, registry.CodePTCRuleNotFound)
	_, _, err = f.reg.DescribePullThroughCacheRules(ctx, scope, nil, "garbage", 0)
	wantCode(t, err, registry.CodeInvalidParameter)

	f.clock.Advance(time.Hour)
	role := "arn:aws:iam::123456789012:role/ptc"
	_, err = f.reg.UpdatePullThroughCacheRule(ctx, scope, "hub", registry.PullThroughCacheRuleUpdate{CustomRoleARN: &role})
	wantCode(t, err, registry.CodeValidation)
	other := "arn:aws:secretsmanager:us-east-1:123456789012:secret:ecr-pullthroughcache/missing"
	_, err = f.reg.UpdatePullThroughCacheRule(ctx, scope, "hub", registry.PullThroughCacheRuleUpdate{CredentialARN: &other})
	wantCode(t, err, registry.CodeSecretNotFound)
	updated, err := f.reg.UpdatePullThroughCacheRule(ctx, scope, "hub", registry.PullThroughCacheRuleUpdate{CredentialARN: ptr(badSecret)})
	if err != nil || updated.CredentialARN != badSecret || !updated.UpdatedAt.Equal(f.clock.Now()) || !updated.CreatedAt.Equal(hub.CreatedAt) {
		t.Fatalf("updated %+v %v", updated, err)
	}
	_, err = f.reg.UpdatePullThroughCacheRule(ctx, scope, "gone", registry.PullThroughCacheRuleUpdate{CredentialARN: ptr(hubSecret)})
	wantCode(t, err, registry.CodePTCRuleNotFound)

	deleted, err := f.reg.DeletePullThroughCacheRule(ctx, scope, "quay")
	if err != nil || deleted.UpstreamRegistryURL != "quay.io" {
		t.Fatalf("deleted %+v %v", deleted, err)
	}
	_, err = f.reg.DeletePullThroughCacheRule(ctx, scope, "quay")
	wantCode(t, err, registry.CodePTCRuleNotFound)

	// Each change recorded its API call; refusals recorded nothing.
	got, _ := outboxSince(t, f.meta, after)
	var names []string
	for _, e := range got {
		if e.Type == outbox.TypeAPICall {
			names = append(names, e.Name)
		}
	}
	want := "CreatePullThroughCacheRule CreatePullThroughCacheRule CreatePullThroughCacheRule UpdatePullThroughCacheRule DeletePullThroughCacheRule"
	if strings.Join(names, " ") != want {
		t.Fatalf("recorded %v, want %s", names, want)
	}
}

func lastEvent(t *testing.T, f *fixture) int64 {
	t.Helper()
	_, after := outboxSince(t, f.meta, 0)
	return after
}

func TestPullThroughCacheRuleChecks(t *testing.T) {
	f, _ := ruleFixture(t, nil)
	role := "arn:aws:iam::123456789012:role/ptc"
	for _, c := range []struct {
		name string
		rule registry.PullThroughCacheRule
		code registry.Code
	}{
		{"hub without credential", registry.PullThroughCacheRule{Prefix: "a1", UpstreamRegistryURL: "registry-1.docker.io"}, registry.CodeUnsupportedUpstream},
		{"github named, no credential", registry.PullThroughCacheRule{Prefix: "a2", UpstreamRegistryURL: "ghcr.io", UpstreamRegistry: registry.UpstreamGitHub}, registry.CodeUnsupportedUpstream},
		{"azure by host", registry.PullThroughCacheRule{Prefix: "a3", UpstreamRegistryURL: "me.azurecr.io"}, registry.CodeUnsupportedUpstream},
		{"gitlab by host", registry.PullThroughCacheRule{Prefix: "a4", UpstreamRegistryURL: "registry.gitlab.com"}, registry.CodeUnsupportedUpstream},
		{"credential for k8s", registry.PullThroughCacheRule{Prefix: "a5", UpstreamRegistryURL: "registry.k8s.io", CredentialARN: hubSecret}, registry.CodeUnsupportedUpstream},
		{"credential for ecr", registry.PullThroughCacheRule{Prefix: "a6", UpstreamRegistryURL: "111122223333.dkr.ecr.us-west-2.amazonaws.com", CredentialARN: hubSecret}, registry.CodeUnsupportedUpstream},
		{"role for quay", registry.PullThroughCacheRule{Prefix: "a7", UpstreamRegistryURL: "quay.io", CustomRoleARN: role}, registry.CodeValidation},
		{"URL with a path", registry.PullThroughCacheRule{Prefix: "a8", UpstreamRegistryURL: "quay.io/x"}, registry.CodeUnsupportedUpstream},
		{"URL of another upstream", registry.PullThroughCacheRule{Prefix: "a9", UpstreamRegistryURL: "quay.io", UpstreamRegistry: registry.UpstreamK8s}, registry.CodeUnsupportedUpstream},
		{"upstream prefix at ROOT", registry.PullThroughCacheRule{Prefix: "ROOT", UpstreamRegistryURL: "quay.io", UpstreamRepositoryPrefix: "x1"}, registry.CodeValidation},
		{"secret not found", registry.PullThroughCacheRule{Prefix: "b1", UpstreamRegistryURL: "ghcr.io", CredentialARN: hubSecret + "x"}, registry.CodeSecretNotFound},
	} {
		t.Run(c.name, func(t *testing.T) {
			_, err := f.reg.CreatePullThroughCacheRule(ctx, scope, c.rule)
			wantCode(t, err, c.code)
		})
	}
	// An ECR upstream takes a role.
	if _, err := f.reg.CreatePullThroughCacheRule(ctx, scope, registry.PullThroughCacheRule{
		Prefix: "ecr", UpstreamRegistryURL: "111122223333.dkr.ecr.us-west-2.amazonaws.com", CustomRoleARN: role}); err != nil {
		t.Fatal(err)
	}
}

func TestPullThroughCacheSecretErrors(t *testing.T) {
	f, secrets := ruleFixture(t, nil)
	for sentinel, code := range map[error]registry.Code{
		registry.ErrSecretNotFound: registry.CodeSecretNotFound,
		registry.ErrSecretAccess:   registry.CodeUnableToAccessSecret,
		registry.ErrSecretDecrypt:  registry.CodeUnableToDecryptSecret,
	} {
		secrets.errs[hubSecret] = sentinel
		_, err := f.reg.CreatePullThroughCacheRule(ctx, scope, registry.PullThroughCacheRule{Prefix: "hub", UpstreamRegistryURL: "registry-1.docker.io", CredentialARN: hubSecret})
		wantCode(t, err, code)
	}
	// Another failure is the server's, not the client's.
	secrets.errs[hubSecret] = errors.New("disk on fire")
	_, err := f.reg.CreatePullThroughCacheRule(ctx, scope, registry.PullThroughCacheRule{Prefix: "hub", UpstreamRegistryURL: "registry-1.docker.io", CredentialARN: hubSecret})
	wantCode(t, err, registry.CodeInternal)

	// Without a Secrets service, no secret can be found.
	g := newFixture(t, registry.Options{})
	_, err = g.reg.CreatePullThroughCacheRule(ctx, scope, registry.PullThroughCacheRule{Prefix: "hub", UpstreamRegistryURL: "registry-1.docker.io", CredentialARN: hubSecret})
	wantCode(t, err, registry.CodeSecretNotFound)
}

func TestPullThroughCacheRuleLimit(t *testing.T) {
	f, _ := ruleFixture(t, nil)
	for i := range registry.MaxPullThroughCacheRules {
		if _, err := f.reg.CreatePullThroughCacheRule(ctx, scope, registry.PullThroughCacheRule{Prefix: fmt.Sprintf("p%02d", i), UpstreamRegistryURL: "quay.io"}); err != nil {
			t.Fatal(err)
		}
	}
	_, err := f.reg.CreatePullThroughCacheRule(ctx, scope, registry.PullThroughCacheRule{Prefix: "one-more", UpstreamRegistryURL: "quay.io"})
	wantCode(t, err, registry.CodeLimitExceeded)
	// Another registry has its own rules.
	other := scope
	other.Region = "eu-west-1"
	if _, err := f.reg.CreatePullThroughCacheRule(ctx, other, registry.PullThroughCacheRule{Prefix: "one-more", UpstreamRegistryURL: "quay.io"}); err != nil {
		t.Fatal(err)
	}
}

func TestValidatePullThroughCacheRule(t *testing.T) {
	var checked []string
	f, secrets := ruleFixture(t, func(_ context.Context, _ metadata.Scope, rule registry.PullThroughCacheRule, credential string) error {
		checked = append(checked, rule.Prefix+"="+credential)
		if rule.Prefix == "refused" {
			return errors.New("401 Unauthorized")
		}
		return nil
	})
	for _, r := range []registry.PullThroughCacheRule{
		{Prefix: "hub", UpstreamRegistryURL: "registry-1.docker.io", CredentialARN: hubSecret},
		{Prefix: "refused", UpstreamRegistryURL: "ghcr.io", CredentialARN: hubSecret},
		{Prefix: "bad", UpstreamRegistryURL: "ghcr.io", CredentialARN: badSecret},
		{Prefix: "quay", UpstreamRegistryURL: "quay.io"},
	} {
		if _, err := f.reg.CreatePullThroughCacheRule(ctx, scope, r); err != nil {
			t.Fatal(err)
		}
	}
	for prefix, want := range map[string]string{
		"hub":     "",
		"quay":    "",
		"refused": "the upstream registry ghcr.io refused the login: 401 Unauthorized",
		"bad":     "secret " + badSecret + ": the secret's value must be a JSON object with a username and an accessToken",
	} {
		v, err := f.reg.ValidatePullThroughCacheRule(ctx, scope, prefix)
		if err != nil || v.Valid != (want == "") || v.Failure != want || v.Rule.Prefix != prefix {
			t.Fatalf("validate %s = %+v, %v; want failure %q", prefix, v, err, want)
		}
	}
	secrets.errs[hubSecret] = registry.ErrSecretAccess
	v, err := f.reg.ValidatePullThroughCacheRule(ctx, scope, "hub")
	if err != nil || v.Valid || v.Failure != "secret "+hubSecret+" cannot be accessed" {
		t.Fatalf("inaccessible secret: %+v %v", v, err)
	}
	_, err = f.reg.ValidatePullThroughCacheRule(ctx, scope, "nope")
	wantCode(t, err, registry.CodePTCRuleNotFound)
	joined := strings.Join(checked, " ")
	if !strings.Contains(joined, `hub={"username":"u","accessToken":"t"}`) || !strings.Contains(joined, "quay=") {
		t.Fatalf("upstream checks: %s", joined)
	}
}

func TestPullThroughRuleFor(t *testing.T) {
	f, _ := ruleFixture(t, nil)
	for _, r := range []registry.PullThroughCacheRule{
		{Prefix: "ROOT", UpstreamRegistryURL: "quay.io"},
		{Prefix: "hub", UpstreamRegistryURL: "registry-1.docker.io", CredentialARN: hubSecret, UpstreamRepositoryPrefix: "library"},
		{Prefix: "hub/team", UpstreamRegistryURL: "ghcr.io", CredentialARN: hubSecret},
	} {
		if _, err := f.reg.CreatePullThroughCacheRule(ctx, scope, r); err != nil {
			t.Fatal(err)
		}
	}
	for name, want := range map[string]string{
		"hub/nginx":        "hub library/nginx",
		"hub/team/app":     "hub/team app",
		"hub/teamx/app":    "hub library/teamx/app",
		"hub":              "ROOT hub",
		"quay-thing/image": "ROOT quay-thing/image",
	} {
		rule, upstream, ok, err := f.reg.PullThroughRuleFor(ctx, scope, name)
		if err != nil || !ok || rule.Prefix+" "+upstream != want {
			t.Errorf("%s: %s %s %v %v, want %s", name, rule.Prefix, upstream, ok, err, want)
		}
	}
	if _, err := f.reg.DeletePullThroughCacheRule(ctx, scope, "ROOT"); err != nil {
		t.Fatal(err)
	}
	if _, _, ok, _ := f.reg.PullThroughRuleFor(ctx, scope, "other/image"); ok {
		t.Fatal("a name no rule covers has a rule")
	}
}

// TestPullThroughCacheRuleAccess: the actions are ECR's, authorized by IAM.
func TestPullThroughCacheRuleAccess(t *testing.T) {
	f, _ := ruleFixture(t, nil)
	stranger := identity.NewContext(context.Background(), identity.Root("210987654321"))
	_, err := f.reg.CreatePullThroughCacheRule(stranger, scope, registry.PullThroughCacheRule{Prefix: "quay", UpstreamRegistryURL: "quay.io"})
	wantCode(t, err, registry.CodeAccessDenied)
	if !strings.Contains(err.Error(), "ecr:CreatePullThroughCacheRule") {
		t.Fatalf("denial %q names no action", err)
	}
	_, _, err = f.reg.DescribePullThroughCacheRules(stranger, scope, nil, "", 0)
	wantCode(t, err, registry.CodeAccessDenied)
}

func FuzzParseUpstreamURL(f *testing.F) {
	for _, s := range []string{"quay.io", "127.0.0.1:5001", "http://[::1]:80", "https://a.b", "a..b", "x:0", "[::1", "::1", "a/b", "-a.b", "h:"} {
		f.Add(s)
	}
	f.Fuzz(func(t *testing.T, s string) {
		host, ok := registry.ParseUpstreamURL(s)
		if ok && (host == "" || strings.ContainsAny(host, "/ ?#")) {
			t.Fatalf("%q accepted as host %q", s, host)
		}
	})
}
