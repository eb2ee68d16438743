package registry_test

import (
	"strings"
	"testing"

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
