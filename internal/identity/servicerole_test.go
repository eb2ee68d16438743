package identity

import (
	"strings"
	"testing"
)

// TestAssumeRoleForService: a service gets a session of a role whose
// trust policy names it, in the account it acts for and under the
// conditions the policy sets; a registry token issued to that session
// names it; every other case is refused alike.
func TestAssumeRoleForService(t *testing.T) {
	s := newService(t)
	rc := NewContext(ctx, asRoot(t, s))
	const svc = "pullthroughcache.ecr.amazonaws.com"
	trust := func(condition string) string {
		return `{"Version":"2012-10-17","Statement":[{"Effect":"Allow","Principal":{"Service":"` + svc + `"},"Action":"sts:AssumeRole"` + condition + `}]}`
	}
	cache, err := s.CreateRole(rc, RoleInput{Name: "ptc", TrustPolicy: trust(`,"Condition":{"StringEquals":{"aws:SourceAccount":"` + acct + `"}}`)})
	if err != nil {
		t.Fatal(err)
	}
	other, err := s.CreateRole(rc, RoleInput{Name: "other", TrustPolicy: trustAccount(acct)})
	if err != nil {
		t.Fatal(err)
	}
	elsewhere, err := s.CreateRole(rc, RoleInput{Name: "elsewhere", TrustPolicy: trust(`,"Condition":{"StringEquals":{"aws:SourceAccount":"999999999999"}}`)})
	if err != nil {
		t.Fatal(err)
	}
	in := ServiceRoleInput{Service: svc, RoleARN: cache.ARN, SessionName: "pull-through-cache", SourceAccount: acct, Region: "us-east-1"}
	p, err := s.AssumeRoleForService(ctx, in)
	if err != nil {
		t.Fatal(err)
	}
	if p.Type != TypeAssumedRole || p.Account != acct || p.ARN != "arn:aws:sts::"+acct+":assumed-role/ptc/pull-through-cache" || p.Session == nil {
		t.Fatalf("principal %+v", p)
	}
	pw, _ := s.IssueRegistryToken(p, "us-east-1")
	c, err := s.VerifyRegistryToken(pw)
	if err != nil {
		t.Fatal(err)
	}
	if got := c.Principal(); got.ARN != p.ARN || got.Session == nil || got.Session.RoleARN != cache.ARN {
		t.Errorf("the registry token names %+v", got)
	}

	refused := func(what string, in ServiceRoleInput) {
		t.Helper()
		_, err := s.AssumeRoleForService(ctx, in)
		want := "User: " + in.Service + " is not authorized to perform: sts:AssumeRole on resource: " + in.RoleARN
		if err == nil || !strings.Contains(err.Error(), want) {
			t.Errorf("%s: %v, want %q", what, err, want)
		}
	}
	bad := in
	bad.Service = "replication.ecr.amazonaws.com"
	refused("another service", bad)
	bad = in
	bad.RoleARN = other.ARN
	refused("a role that trusts the account, not the service", bad)
	bad = in
	bad.RoleARN = elsewhere.ARN
	refused("a condition on another source account", bad)
	bad = in
	bad.RoleARN = "arn:aws:iam::" + acct + ":role/missing"
	refused("a role that does not exist", bad)
	bad = in
	bad.SourceAccount = "999999999999"
	refused("a role outside the account the service acts for", bad)
}
