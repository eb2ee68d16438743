package identity

import (
	"errors"
	"strings"
	"testing"
	"time"

	"github.com/ecrd/ecrd/internal/awserr"
	"github.com/ecrd/ecrd/internal/iampolicy"
)

const acct = "123456789012"

// asRoot is a context of the account's root.
func asRoot(t *testing.T, s *Service) Principal {
	t.Helper()
	if _, err := s.EnsureAccount(ctx, acct); err != nil {
		t.Fatal(err)
	}
	return Root(acct)
}

func wantIAMError(t *testing.T, what string, err error, code, message string) {
	t.Helper()
	var e *awserr.Error
	if !errors.As(err, &e) || e.Code != code || (message != "" && !strings.Contains(e.Message, message)) {
		t.Fatalf("%s: got %v, want %s containing %q", what, err, code, message)
	}
}

func trustAccount(account string) string {
	return `{"Version":"2012-10-17","Statement":[{"Effect":"Allow","Principal":{"AWS":"arn:aws:iam::` + account + `:root"},"Action":"sts:AssumeRole"}]}`
}

func TestTrustPolicyPrincipalsMustExist(t *testing.T) {
	s := newService(t)
	rc := NewContext(ctx, asRoot(t, s))
	ghost := `{"Version":"2012-10-17","Statement":[{"Effect":"Allow","Principal":{"AWS":"arn:aws:iam::` + acct + `:role/ghost"},"Action":"sts:AssumeRole"}]}`
	_, err := s.CreateRole(rc, RoleInput{Name: "ci", TrustPolicy: ghost})
	wantIAMError(t, "a trust policy naming a missing role", err, CodeMalformedPolicy, "Invalid principal in policy")
	if _, err := s.CreateRole(rc, RoleInput{Name: "ghost", TrustPolicy: trustAccount(acct)}); err != nil {
		t.Fatal(err)
	}
	if _, err := s.CreateRole(rc, RoleInput{Name: "ci", TrustPolicy: ghost}); err != nil {
		t.Fatalf("once the role exists: %v", err)
	}
	// Another account's principals are not this registry's to check.
	if _, err := s.CreateRole(rc, RoleInput{Name: "x", TrustPolicy: strings.Replace(ghost, acct, "999999999999", 1)}); err != nil {
		t.Fatalf("another account's role: %v", err)
	}
	oidc := `{"Version":"2012-10-17","Statement":[{"Effect":"Allow","Principal":{"Federated":"arn:aws:iam::` + acct + `:oidc-provider/token.actions.githubusercontent.com"},"Action":"sts:AssumeRoleWithWebIdentity"}]}`
	_, err = s.CreateRole(rc, RoleInput{Name: "gha", TrustPolicy: oidc})
	wantIAMError(t, "a trust policy naming a missing provider", err, CodeMalformedPolicy, "Invalid principal in policy")
	if _, err := s.CreateOIDCProvider(rc, OIDCProviderInput{URL: "https://token.actions.githubusercontent.com/", ClientIDs: []string{"sts.amazonaws.com"}}); err != nil {
		t.Fatal(err)
	}
	if _, err := s.CreateRole(rc, RoleInput{Name: "gha", TrustPolicy: oidc}); err != nil {
		t.Fatalf("once the provider exists: %v", err)
	}
	_, err = s.CreateRole(rc, RoleInput{Name: "GHA", TrustPolicy: oidc})
	wantIAMError(t, "a name differing in case", err, CodeEntityExists, "Role with name GHA already exists.")
}

func TestRoleLifecycleAndConflicts(t *testing.T) {
	s := newService(t)
	rc := NewContext(ctx, asRoot(t, s))
	r, err := s.CreateRole(rc, RoleInput{Name: "deploy", Path: "/ci/", TrustPolicy: trustAccount(acct)})
	if err != nil || r.ARN != "arn:aws:iam::"+acct+":role/ci/deploy" || !strings.HasPrefix(r.ID, "AROA") || r.MaxSessionDuration != 3600 {
		t.Fatalf("CreateRole = %+v, %v", r, err)
	}
	g := Grantee{Kind: "role", Name: "deploy"}
	if err := s.AttachPolicy(rc, g, "arn:aws:iam::aws:policy/Nope"); err == nil {
		t.Fatal("attaching an unknown policy succeeded")
	}
	mp, err := s.CreatePolicy(rc, PolicyInput{Name: "push", Document: `{"Version":"2012-10-17","Statement":[{"Effect":"Allow","Action":"ecr:PutImage","Resource":"*"}]}`})
	if err != nil {
		t.Fatal(err)
	}
	if err := s.AttachPolicy(rc, g, mp.ARN); err != nil {
		t.Fatal(err)
	}
	if err := s.DeleteRole(rc, "deploy"); err == nil {
		t.Fatal("deleting a role with an attached policy succeeded")
	} else {
		wantIAMError(t, "DeleteRole", err, CodeDeleteConflict, "must detach all policies first")
	}
	wantIAMError(t, "DeletePolicy while attached", s.DeletePolicy(rc, mp.ARN), CodeDeleteConflict, "attached to entities")
	got, _ := s.Policy(rc, mp.ARN, "iam:GetPolicy")
	if got.Attachments != 1 {
		t.Fatalf("AttachmentCount = %d", got.Attachments)
	}
	for i := 2; i <= 5; i++ {
		if _, err := s.CreatePolicyVersion(rc, mp.ARN, mp.Document(), true); err != nil {
			t.Fatalf("version %d: %v", i, err)
		}
	}
	_, err = s.CreatePolicyVersion(rc, mp.ARN, mp.Document(), false)
	wantIAMError(t, "a sixth version", err, CodeLimitExceeded, "up to 5 versions")
	wantIAMError(t, "deleting the default version", s.DeletePolicyVersion(rc, mp.ARN, "v5"), CodeDeleteConflict, "default version")
	if err := s.DetachPolicy(rc, g, mp.ARN); err != nil {
		t.Fatal(err)
	}
	wantIAMError(t, "DeletePolicy with old versions", s.DeletePolicy(rc, mp.ARN), CodeDeleteConflict, "more than one version")
	for _, v := range []string{"v1", "v2", "v3", "v4"} {
		if err := s.DeletePolicyVersion(rc, mp.ARN, v); err != nil {
			t.Fatal(err)
		}
	}
	if err := s.DeletePolicy(rc, mp.ARN); err != nil {
		t.Fatal(err)
	}
	if err := s.DeleteRole(rc, "deploy"); err != nil {
		t.Fatal(err)
	}
	_, err = s.Role(rc, "deploy")
	wantIAMError(t, "GetRole after delete", err, CodeNoSuchEntity, "The role with name deploy cannot be found.")
}

// TestSessions: AssumeRole issues a session whose token carries it; the
// token verifies with its own key ID only, expires, and its session acts
// as the role within the session policy.
func TestSessions(t *testing.T) {
	s := newService(t)
	rc := NewContext(ctx, asRoot(t, s))
	if _, err := s.CreateRole(rc, RoleInput{Name: "reader", TrustPolicy: trustAccount(acct)}); err != nil {
		t.Fatal(err)
	}
	if err := s.AttachPolicy(rc, Grantee{Kind: "role", Name: "reader"}, "arn:aws:iam::aws:policy/AmazonEC2ContainerRegistryReadOnly"); err != nil {
		t.Fatal(err)
	}
	_, err := s.AssumeRole(rc, AssumeRoleInput{RoleARN: "arn:aws:iam::" + acct + ":role/reader", SessionName: "x"})
	wantIAMError(t, "a one-letter session name", err, CodeValidation, "roleSessionName")
	a, err := s.AssumeRole(rc, AssumeRoleInput{RoleARN: "arn:aws:iam::" + acct + ":role/reader", SessionName: "job-1",
		Policy: `{"Version":"2012-10-17","Statement":[{"Effect":"Allow","Action":"ecr:Describe*","Resource":"*"}]}`})
	if err != nil {
		t.Fatal(err)
	}
	c := a.Credentials
	if !strings.HasPrefix(c.AccessKeyID, "ASIA") || a.Principal.ARN != "arn:aws:sts::"+acct+":assumed-role/reader/job-1" {
		t.Fatalf("AssumeRole = %+v", a)
	}
	if _, err := s.VerifySession(ctx, "ASIAOTHERKEY0000000", c.SessionToken); err == nil {
		t.Fatal("the token verified with another access key ID")
	}
	sess, err := s.VerifySession(ctx, c.AccessKeyID, c.SessionToken)
	if err != nil || sess.Secret != c.SecretAccessKey {
		t.Fatalf("VerifySession = %+v, %v", sess, err)
	}
	as := NewContext(ctx, sess.Principal())
	for action, want := range map[string]bool{"ecr:DescribeImages": true, "ecr:BatchGetImage": false, "ecr:PutImage": false} {
		d, req, err := s.Authorize(as, Check{Action: action, Resource: "arn:aws:ecr:us-east-1:" + acct + ":repository/app", ResourceAccount: acct})
		if err != nil || d.Allowed != want {
			t.Errorf("%s: allowed %v (%s), want %v", action, d.Allowed, d.Message(req), want)
		}
		if action == "ecr:BatchGetImage" && d.Reason != iampolicy.SessionDeny {
			t.Errorf("BatchGetImage denied for %s, want SessionDeny", d.Reason)
		}
	}
	// A registry token of the session carries it, and dies with it.
	pw, exp := s.IssueRegistryToken(sess.Principal(), "us-east-1")
	if !exp.Equal(sess.ExpiresAt()) {
		t.Errorf("registry token expires %v, the session %v", exp, sess.ExpiresAt())
	}
	claims, err := s.VerifyRegistryToken(pw)
	if err != nil || claims.Principal().Session == nil || len(claims.Principal().Session.policies) != 1 {
		t.Fatalf("VerifyRegistryToken = %+v, %v", claims, err)
	}
	s.now = func() time.Time { return time.Now().Add(2 * time.Hour) }
	s.sessions = sessionCache{}
	_, err = s.VerifySession(ctx, c.AccessKeyID, c.SessionToken)
	var se *SessionError
	if !errors.As(err, &se) || !se.Expired {
		t.Fatalf("an expired session = %v", err)
	}
	// Role chaining: a session assumes a role for at most an hour.
	if _, err := s.AssumeRole(as, AssumeRoleInput{RoleARN: "arn:aws:iam::" + acct + ":role/reader", SessionName: "chained", Duration: 2 * time.Hour}); err == nil {
		t.Fatal("a chained session of two hours was issued")
	}
}

// TestUserGrantsAndBoundary: a user's permissions are its policies within
// its permissions boundary, and changes apply at once.
func TestUserGrantsAndBoundary(t *testing.T) {
	s := newService(t)
	rc := NewContext(ctx, asRoot(t, s))
	u, err := s.CreateUser(rc, UserInput{Name: "dev"})
	if err != nil {
		t.Fatal(err)
	}
	as := NewContext(ctx, u.principal(acct))
	repo := "arn:aws:ecr:us-east-1:" + acct + ":repository/app"
	allowed := func(action string) iampolicy.Decision {
		d, _, err := s.Authorize(as, Check{Action: action, Resource: repo, ResourceAccount: acct})
		if err != nil {
			t.Fatal(err)
		}
		return d
	}
	if d := allowed("ecr:PutImage"); d.Allowed || d.Reason != iampolicy.NoIdentityAllow {
		t.Fatalf("without policies: %+v", d)
	}
	g := Grantee{Kind: "user", Name: "dev"}
	if err := s.AttachPolicy(rc, g, "arn:aws:iam::aws:policy/AmazonEC2ContainerRegistryPowerUser"); err != nil {
		t.Fatal(err)
	}
	if d := allowed("ecr:PutImage"); !d.Allowed {
		t.Fatalf("with PowerUser: %+v", d)
	}
	if err := s.SetBoundary(rc, g, "arn:aws:iam::aws:policy/AmazonEC2ContainerRegistryReadOnly"); err != nil {
		t.Fatal(err)
	}
	if d := allowed("ecr:PutImage"); d.Allowed || d.Reason != iampolicy.BoundaryDeny {
		t.Fatalf("outside the boundary: %+v", d)
	}
	if d := allowed("ecr:BatchGetImage"); !d.Allowed {
		t.Fatalf("inside the boundary: %+v", d)
	}
	if err := s.PutInlinePolicy(rc, g, "no-app", `{"Version":"2012-10-17","Statement":[{"Effect":"Deny","Action":"ecr:*","Resource":"`+repo+`"}]}`); err != nil {
		t.Fatal(err)
	}
	if d := allowed("ecr:BatchGetImage"); d.Reason != iampolicy.ExplicitDeny {
		t.Fatalf("under an inline deny: %+v", d)
	}
	// Its access keys authenticate it, and deleting the user is refused
	// while they exist.
	k, _, err := s.CreateUserAccessKey(rc, "dev")
	if err != nil {
		t.Fatal(err)
	}
	if _, p, err := s.LookupAccessKey(ctx, k.ID); err != nil || p.ARN != u.ARN || p.UserID != u.ID || p.Type != TypeUser {
		t.Fatalf("LookupAccessKey = %+v, %v", p, err)
	}
	wantIAMError(t, "DeleteUser with keys", s.DeleteUser(rc, "dev"), CodeDeleteConflict, "access keys")
	if err := s.UpdateAccessKey(rc, "dev", k.ID, "Inactive"); err != nil {
		t.Fatal(err)
	}
	if _, _, err := s.LookupAccessKey(ctx, k.ID); !errors.Is(err, ErrInactiveKey) {
		t.Fatalf("an inactive key = %v", err)
	}
	// Non-root callers need IAM permissions for IAM calls too.
	_, err = s.CreateUser(as, UserInput{Name: "eve"})
	wantIAMError(t, "a user without IAM permissions creates a user", err, CodeAccessDenied,
		"is not authorized to perform: iam:CreateUser on resource: arn:aws:iam::"+acct+":user/eve")
}

// FuzzVerifySession: only a token that was issued, with its own key ID,
// opens; nothing panics.
func FuzzVerifySession(f *testing.F) {
	s := newServiceF(f)
	rc := NewContext(ctx, Root(acct))
	if _, err := s.EnsureAccount(ctx, acct); err != nil {
		f.Fatal(err)
	}
	if _, err := s.CreateRole(rc, RoleInput{Name: "r", TrustPolicy: trustAccount(acct)}); err != nil {
		f.Fatal(err)
	}
	a, err := s.AssumeRole(rc, AssumeRoleInput{RoleARN: "arn:aws:iam::" + acct + ":role/r", SessionName: "fuzz"})
	if err != nil {
		f.Fatal(err)
	}
	c := a.Credentials
	f.Add(c.AccessKeyID, c.SessionToken)
	f.Add(c.AccessKeyID, "ecrd1")
	f.Add("ASIA", "ecrd1AAAA")
	f.Fuzz(func(t *testing.T, keyID, token string) {
		sess, err := s.VerifySession(ctx, keyID, token)
		if err == nil && (keyID != c.AccessKeyID || token != c.SessionToken || sess.Secret != c.SecretAccessKey) {
			t.Fatalf("opened a session that was never issued: %q %q", keyID, token)
		}
	})
}

// TestKeyChangesReachOtherReplicas: a key deactivated through another
// process sharing the database stops working here once the cache's
// lifetime has passed.
func TestKeyChangesReachOtherReplicas(t *testing.T) {
	s := newService(t)
	rc := NewContext(ctx, asRoot(t, s))
	if _, err := s.CreateUser(rc, UserInput{Name: "ci"}); err != nil {
		t.Fatal(err)
	}
	k, _, err := s.CreateUserAccessKey(rc, "ci")
	if err != nil {
		t.Fatal(err)
	}
	if _, _, err := s.LookupAccessKey(ctx, k.ID); err != nil {
		t.Fatal(err)
	}
	other := guarded(t, s.meta, s.keys) // another replica
	if err := other.UpdateAccessKey(rc, "ci", k.ID, "Inactive"); err != nil {
		t.Fatal(err)
	}
	if _, _, err := s.LookupAccessKey(ctx, k.ID); err != nil {
		t.Fatalf("within the cache's lifetime: %v", err)
	}
	s.now = func() time.Time { return time.Now().Add(cacheTTL + time.Second) }
	if _, _, err := s.LookupAccessKey(ctx, k.ID); !errors.Is(err, ErrInactiveKey) {
		t.Fatalf("after the cache's lifetime: %v, want ErrInactiveKey", err)
	}
}
