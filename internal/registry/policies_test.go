package registry_test

import (
	"context"
	"strings"
	"testing"

	"github.com/ecrd/ecrd/internal/identity"
	"github.com/ecrd/ecrd/internal/registry"
)

func TestSetRepositoryPolicyForce(t *testing.T) {
	f := newFixture(t, registry.Options{})
	f.pushImage(t, "app", "v1", "a")
	lockout := `{"Version":"2012-10-17","Statement":[{"Sid":"Lock","Effect":"Deny","Principal":"*","Action":"ecr:SetRepositoryPolicy"}]}`
	_, err := f.reg.SetRepositoryPolicy(ctx, key("app"), lockout, false)
	wantCode(t, err, registry.CodeInvalidParameter)
	if _, err := f.reg.RepositoryPolicy(ctx, key("app")); registry.CodeOf(err) != registry.CodeRepositoryPolicyNotFound {
		t.Fatalf("a refused policy was stored: %v", err)
	}
	if _, err := f.reg.SetRepositoryPolicy(ctx, key("app"), lockout, true); err != nil {
		t.Fatalf("with force: %v", err)
	}
	_, err = f.reg.SetRepositoryPolicy(ctx, key("app"), `{"Version":"2012-10-17","Statement":[{"Effect":"Allow","Principal":"*","Action":"ecr:BatchGetImage"}]}`, true)
	wantCode(t, err, registry.CodeAccessDenied)
	if !strings.Contains(err.Error(), "with an explicit deny in a resource-based policy") {
		t.Fatalf("the denial does not say why: %v", err)
	}
}

// TestRegistryPolicyScope: under the V2 scope (the default) a registry
// policy may grant any ECR action and decides requests to every
// repository of the registry beside the repository's own policy, its
// explicit denies binding the registry's own account; under V1 it may
// grant only replication, pull-through imports and repository creation,
// and decides no request. Switching the scope takes effect at once.
func TestRegistryPolicyScope(t *testing.T) {
	f := newFixture(t, registry.Options{})
	f.pushImage(t, "team/app", "v1", "a")
	const other = "210987654321"
	otherCtx := identity.NewContext(context.Background(), identity.Root(other))
	decide := func(c context.Context, action registry.Action, repo string) (bool, string) {
		t.Helper()
		ok, msg, err := f.reg.DecideOnRepository(c, action, key(repo))
		if err != nil {
			t.Fatal(err)
		}
		return ok, msg
	}
	upstream := `{"Version":"2012-10-17","Statement":[{"Sid":"Upstream","Effect":"Allow","Principal":{"AWS":"arn:aws:iam::` + other + `:root"},` +
		`"Action":["ecr:BatchGetImage","ecr:GetDownloadUrlForLayer","ecr:BatchImportUpstreamImage","ecr:GetImageCopyStatus"],` +
		`"Resource":"arn:aws:ecr:us-east-1:123456789012:repository/*"},` +
		`{"Sid":"KeepImages","Effect":"Deny","Principal":"*","Action":"ecr:BatchDeleteImage","Resource":"*"}]}`

	if ok, _ := decide(otherCtx, registry.ActionBatchGetImage, "team/app"); ok {
		t.Fatal("another account pulls with no policy")
	}
	if err := f.reg.PutRegistryPolicy(ctx, scope, upstream); err != nil {
		t.Fatalf("PutRegistryPolicy of an ECR-to-ECR pull-through upstream policy under V2: %v", err)
	}
	if ok, msg := decide(otherCtx, registry.ActionBatchGetImage, "team/app"); !ok {
		t.Errorf("the registry policy does not let the other account pull: %s", msg)
	}
	if ok, _ := decide(otherCtx, registry.ActionBatchGetImage, "not/yet"); !ok {
		t.Error("the registry policy does not cover a repository that does not exist yet")
	}
	if ok, _ := decide(otherCtx, registry.ActionPutImage, "team/app"); ok {
		t.Error("the registry policy lets the other account push")
	}
	ok, msg := decide(ctx, registry.ActionBatchDeleteImage, "team/app")
	if want := "with an explicit deny in a resource-based policy"; ok || !strings.HasSuffix(msg, want) {
		t.Errorf("the owner deletes under the registry policy's deny: %v %q, want a refusal %q", ok, msg, want)
	}
	if ok, msg := decide(ctx, registry.ActionPutImage, "team/app"); !ok {
		t.Errorf("the owner pushes under the registry policy: %s", msg)
	}
	// Both policies count: the repository's grants what the registry's
	// does not, and the registry's deny still binds.
	if _, err := f.reg.SetRepositoryPolicy(ctx, key("team/app"), `{"Version":"2012-10-17","Statement":[{"Effect":"Allow","Principal":{"AWS":"`+other+`"},"Action":["ecr:PutImage","ecr:BatchDeleteImage"]}]}`, false); err != nil {
		t.Fatal(err)
	}
	if ok, msg := decide(otherCtx, registry.ActionPutImage, "team/app"); !ok {
		t.Errorf("the repository policy's grant: %s", msg)
	}
	if ok, _ := decide(otherCtx, registry.ActionBatchGetImage, "team/app"); !ok {
		t.Error("the registry policy's grant beside a repository policy")
	}
	if ok, _ := decide(otherCtx, registry.ActionBatchDeleteImage, "team/app"); ok {
		t.Error("the repository policy's allow beats the registry policy's deny")
	}

	// V1: the policy decides nothing, and may not name pull actions.
	if err := f.reg.PutAccountSetting(ctx, scope, "REGISTRY_POLICY_SCOPE", registry.RegistryPolicyScopeV1); err != nil {
		t.Fatal(err)
	}
	if ok, _ := decide(otherCtx, registry.ActionBatchGetImage, "not/yet"); ok {
		t.Error("a V1 registry policy lets another account pull")
	}
	if ok, msg := decide(ctx, registry.ActionBatchDeleteImage, "team/app"); !ok {
		t.Errorf("a V1 registry policy's deny binds: %s", msg)
	}
	err := f.reg.PutRegistryPolicy(ctx, scope, upstream)
	wantCode(t, err, registry.CodeInvalidParameter)
	if !strings.Contains(err.Error(), "Invalid registry policy provided") {
		t.Errorf("V1 refuses a pull policy with %q", err)
	}
	replication := `{"Version":"2012-10-17","Statement":[{"Effect":"Allow","Principal":{"AWS":"` + other + `"},"Action":["ecr:ReplicateImage","ecr:CreateRepository"],"Resource":"*"}]}`
	if err := f.reg.PutRegistryPolicy(ctx, scope, replication); err != nil {
		t.Fatalf("a replication policy under V1: %v", err)
	}
	if got, err := f.reg.RegistryPolicy(ctx, scope); err != nil || got != replication {
		t.Fatalf("RegistryPolicy = %q, %v", got, err)
	}
	// Back to V2: the stored policy decides at once.
	if err := f.reg.PutAccountSetting(ctx, scope, "REGISTRY_POLICY_SCOPE", registry.RegistryPolicyScopeV2); err != nil {
		t.Fatal(err)
	}
	if ok, msg := decide(otherCtx, registry.ActionCreateRepository, "new/repo"); !ok {
		t.Errorf("V2 again: the registry policy's CreateRepository grant: %s", msg)
	}
	if _, err := f.reg.DeleteRegistryPolicy(ctx, scope); err != nil {
		t.Fatal(err)
	}
	if ok, _ := decide(otherCtx, registry.ActionCreateRepository, "new/repo"); ok {
		t.Error("a deleted registry policy still grants")
	}

	// Not ECR's actions, and a policy that would lock its owner out.
	for _, bad := range []string{
		`{"Version":"2012-10-17","Statement":[{"Effect":"Allow","Principal":"*","Action":"s3:GetObject","Resource":"*"}]}`,
		`{"Version":"2012-10-17","Statement":[{"Effect":"Deny","Principal":"*","Action":"ecr:*","Resource":"*"}]}`,
	} {
		wantCode(t, f.reg.PutRegistryPolicy(ctx, scope, bad), registry.CodeInvalidParameter)
	}
}
