package identity

import (
	"errors"
	"strings"
	"testing"
	"testing/synctest"
	"time"
)

// TestCredentialsBoundToUniqueID: a registry token, a download URL and a
// role session of a principal that was deleted stop authenticating, and
// do not come back to life when a principal of the same name (with more
// rights) is created: they name the old unique ID.
func TestCredentialsBoundToUniqueID(t *testing.T) {
	synctest.Test(t, testCredentialsBoundToUniqueID)
}

func testCredentialsBoundToUniqueID(t *testing.T) {
	s := newService(t)
	rc := NewContext(ctx, asRoot(t, s))
	u, err := s.CreateUser(rc, UserInput{Name: "tmpu"})
	if err != nil {
		t.Fatal(err)
	}
	pw, _ := s.IssueRegistryToken(u.principal(acct), "us-east-1")
	q := s.SignDownloadURL(u.principal(acct), "us-east-1", "/v2/app/blobs/sha256:x", time.Minute)
	if _, err := s.VerifyRegistryToken(pw); err != nil {
		t.Fatal(err)
	}
	role, err := s.CreateRole(rc, RoleInput{Name: "r", TrustPolicy: trustAccount(acct)})
	if err != nil {
		t.Fatal(err)
	}
	a, err := s.AssumeRole(rc, AssumeRoleInput{RoleARN: role.ARN, SessionName: "job"})
	if err != nil {
		t.Fatal(err)
	}
	c := a.Credentials
	if _, err := s.VerifySession(ctx, c.AccessKeyID, c.SessionToken); err != nil {
		t.Fatal(err)
	}
	rolePW, _ := s.IssueRegistryToken(a.Principal, "us-east-1")

	if err := s.DeleteUser(rc, "tmpu"); err != nil {
		t.Fatal(err)
	}
	if err := s.DeleteRole(rc, "r"); err != nil {
		t.Fatal(err)
	}
	gone := func(what string, err error, arn string) {
		t.Helper()
		if !errors.Is(err, ErrInvalidToken) || !strings.Contains(err.Error(), "the principal "+arn+" it was issued to no longer exists") {
			t.Errorf("%s: %v, want the principal gone", what, err)
		}
	}
	check := func(when string) {
		t.Helper()
		_, err := s.VerifyRegistryToken(pw)
		gone(when+": the user's registry token", err, u.ARN)
		_, err = s.VerifyDownloadURL("/v2/app/blobs/sha256:x", q)
		gone(when+": the user's download URL", err, u.ARN)
		_, err = s.VerifyRegistryToken(rolePW)
		gone(when+": the role session's registry token", err, a.Principal.ARN)
		_, err = s.VerifySession(ctx, c.AccessKeyID, c.SessionToken)
		var se *SessionError
		if !errors.As(err, &se) || !se.Gone || se.Message != "The security token included in the request is invalid." {
			t.Errorf("%s: the role session = %v, want an invalid token", when, err)
		}
	}
	check("deleted")

	// The same names again, with more rights.
	if _, err := s.CreateUser(rc, UserInput{Name: "tmpu"}); err != nil {
		t.Fatal(err)
	}
	if err := s.AttachPolicy(rc, Grantee{Kind: "user", Name: "tmpu"}, "arn:aws:iam::aws:policy/AdministratorAccess"); err != nil {
		t.Fatal(err)
	}
	if _, err := s.CreateRole(rc, RoleInput{Name: "r", TrustPolicy: trustAccount(acct)}); err != nil {
		t.Fatal(err)
	}
	check("created again")

	// A replica that cached the old principal's grants learns of the
	// change within the cache's lifetime.
	other := guarded(t, s.meta, s.keys)
	u2, err := other.CreateUser(rc, UserInput{Name: "cached"})
	if err != nil {
		t.Fatal(err)
	}
	pw2, _ := other.IssueRegistryToken(u2.principal(acct), "us-east-1")
	if _, err := s.VerifyRegistryToken(pw2); err != nil {
		t.Fatal(err)
	}
	if err := other.DeleteUser(rc, "cached"); err != nil {
		t.Fatal(err)
	}
	if _, err := other.CreateUser(rc, UserInput{Name: "cached"}); err != nil {
		t.Fatal(err)
	}
	time.Sleep(cacheTTL) // the bubble's clock, which the grants cache reads
	_, err = s.VerifyRegistryToken(pw2)
	gone("another replica's change, once the cache's lifetime is over", err, u2.ARN)
}
