package identity

import (
	"encoding/base64"
	"encoding/json"
	"errors"
	"strings"
	"testing"
	"time"

	"github.com/ecrd/ecrd/internal/awserr"
	"github.com/ecrd/ecrd/internal/iampolicy"
	"github.com/ecrd/ecrd/internal/webidentity"
	"github.com/ecrd/ecrd/internal/webidentity/oidctest"
)

// tamper spoils a JWT's signature.
func tamper(t *testing.T, token string) string {
	t.Helper()
	i := strings.LastIndex(token, ".")
	sig, err := base64.RawURLEncoding.DecodeString(token[i+1:])
	if err != nil {
		t.Fatal(err)
	}
	sig[0] ^= 0xff
	return token[:i+1] + base64.RawURLEncoding.EncodeToString(sig)
}

// TestWebIdentityHidesRoles: without a valid token, AssumeRoleWithWebIdentity
// answers the same whether the role exists or not, in an account with the
// issuer registered and in one without.
func TestWebIdentityHidesRoles(t *testing.T) {
	issuer := oidctest.New(t)
	s := newService(t)
	s.SetWebIdentityVerifier(webidentity.NewVerifier(webidentity.Options{RootCAs: issuer.CertPool(), Timeout: 5 * time.Second}))
	rc := NewContext(ctx, asRoot(t, s))
	prov, err := s.CreateOIDCProvider(rc, OIDCProviderInput{URL: issuer.URL(), ClientIDs: []string{"sts.amazonaws.com"}})
	if err != nil {
		t.Fatal(err)
	}
	trust := `{"Version":"2012-10-17","Statement":[{"Effect":"Allow","Principal":{"Federated":"` + prov.ARN + `"},"Action":"sts:AssumeRoleWithWebIdentity"}]}`
	if _, err := s.CreateRole(rc, RoleInput{Name: "ci", TrustPolicy: trust}); err != nil {
		t.Fatal(err)
	}
	good := issuer.GitHubToken("repo:org/app:ref:refs/heads/main", "sts.amazonaws.com", 5*time.Minute)
	assume := func(roleARN, token string) error {
		_, _, err := s.AssumeRoleWithWebIdentity(ctx, AssumeRoleInput{RoleARN: roleARN, SessionName: "GitHubActions"}, token)
		return err
	}
	existing, missing := "arn:aws:iam::"+acct+":role/ci", "arn:aws:iam::"+acct+":role/no-such-role"
	if err := assume(existing, good); err != nil {
		t.Fatalf("a valid token: %v", err)
	}
	for what, token := range map[string]string{
		"not a JWT":              "bogus-web-identity-token",
		"a forged signature":     tamper(t, good),
		"an unregistered issuer": oidctest.New(t).GitHubToken("repo:org/app:ref:refs/heads/main", "sts.amazonaws.com", 5*time.Minute),
	} {
		for _, account := range []string{acct, "210987654321"} {
			errExisting := assume(strings.Replace(existing, acct, account, 1), token)
			errMissing := assume(strings.Replace(missing, acct, account, 1), token)
			var e1, e2 *awserr.Error
			if !errors.As(errExisting, &e1) || !errors.As(errMissing, &e2) || *e1 != *e2 || e1.Code == CodeAccessDenied {
				t.Errorf("%s, account %s: an existing role answers %v, a missing one %v; want the same token error", what, account, errExisting, errMissing)
			}
		}
	}
	// With a valid token, a missing role is refused as the trust policy
	// refuses.
	wantIAMError(t, "a valid token, a missing role", assume(missing, good), CodeAccessDenied, "Not authorized to perform sts:AssumeRoleWithWebIdentity")
}

// TestAssumeRoleConditions: ExternalId, SourceIdentity, session tags and
// their transitivity, as AWS evaluates and carries them.
func TestAssumeRoleConditions(t *testing.T) {
	s := newService(t)
	rc := NewContext(ctx, asRoot(t, s))
	role := func(name, trust string) string {
		t.Helper()
		r, err := s.CreateRole(rc, RoleInput{Name: name, TrustPolicy: trust})
		if err != nil {
			t.Fatal(err)
		}
		if err := s.AttachPolicy(rc, Grantee{Kind: "role", Name: name}, "arn:aws:iam::aws:policy/AdministratorAccess"); err != nil {
			t.Fatal(err)
		}
		return r.ARN
	}
	root := "arn:aws:iam::" + acct + ":root"
	thirdParty := role("third-party", `{"Version":"2012-10-17","Statement":[{"Effect":"Allow","Principal":{"AWS":"`+root+`"},"Action":"sts:AssumeRole",
		"Condition":{"StringEquals":{"sts:ExternalId":"unique-id-123"}}}]}`)
	for _, ext := range []string{"", "wrong-id"} {
		_, err := s.AssumeRole(rc, AssumeRoleInput{RoleARN: thirdParty, SessionName: "s1", ExternalID: ext})
		wantIAMError(t, "external ID "+ext, err, CodeAccessDenied, "User: "+root+" is not authorized to perform: sts:AssumeRole on resource: "+thirdParty+". Encoded authorization failure message: ")
	}
	_, err := s.AssumeRole(rc, AssumeRoleInput{RoleARN: thirdParty, SessionName: "s1", ExternalID: "x"})
	wantIAMError(t, "a one-character external ID", err, CodeValidation, "externalId")
	if _, err := s.AssumeRole(rc, AssumeRoleInput{RoleARN: thirdParty, SessionName: "s1", ExternalID: "unique-id-123"}); err != nil {
		t.Fatalf("the right external ID: %v", err)
	}

	// Session tags need sts:TagSession; transitive ones pass on.
	plain := role("plain", trustAccount(acct))
	_, err = s.AssumeRole(rc, AssumeRoleInput{RoleARN: plain, SessionName: "s1", Tags: []Tag{{"team", "a"}}})
	wantIAMError(t, "tags without sts:TagSession", err, CodeAccessDenied, "is not authorized to perform: sts:TagSession on resource: "+plain)
	tagging := `{"Version":"2012-10-17","Statement":[{"Effect":"Allow","Principal":{"AWS":"` + root + `"},"Action":["sts:AssumeRole","sts:TagSession","sts:SetSourceIdentity"]}]}`
	first := role("first", tagging)
	_, err = s.AssumeRole(rc, AssumeRoleInput{RoleARN: first, SessionName: "s1", Tags: []Tag{{"team", "a"}}, TransitiveTagKeys: []string{"project"}})
	wantIAMError(t, "a transitive key that is not a tag", err, CodeInvalidParameter, "The specified transitive tag key must be included in the requested tags.")
	a, err := s.AssumeRole(rc, AssumeRoleInput{RoleARN: first, SessionName: "s1", SourceIdentity: "alice",
		Tags: []Tag{{"team", "a"}, {"project", "x"}}, TransitiveTagKeys: []string{"Project"}})
	if err != nil {
		t.Fatal(err)
	}
	sess, err := s.VerifySession(ctx, a.Credentials.AccessKeyID, a.Credentials.SessionToken)
	if err != nil || sess.SourceIdentity != "alice" || sess.Tags["team"] != "a" {
		t.Fatalf("the first session = %+v, %v", sess, err)
	}
	as := NewContext(ctx, sess.Principal())
	// The session's source identity is aws:SourceIdentity.
	trustAll := root
	second := role("second", `{"Version":"2012-10-17","Statement":[{"Effect":"Allow","Principal":{"AWS":"`+trustAll+`"},"Action":["sts:AssumeRole","sts:TagSession","sts:SetSourceIdentity"],
		"Condition":{"StringEquals":{"aws:SourceIdentity":"alice","aws:PrincipalTag/project":"x"}}}]}`)
	_, err = s.AssumeRole(as, AssumeRoleInput{RoleARN: second, SessionName: "s2", SourceIdentity: "mallory"})
	wantIAMError(t, "changing the source identity", err, CodeInvalidParameter, "cannot be changed")
	_, err = s.AssumeRole(as, AssumeRoleInput{RoleARN: second, SessionName: "s2", Tags: []Tag{{"PROJECT", "y"}}})
	wantIAMError(t, "overriding a transitive tag", err, CodeInvalidParameter, "conflicts with a transitive tag key from the calling session")
	b, err := s.AssumeRole(as, AssumeRoleInput{RoleARN: second, SessionName: "s2"})
	if err != nil {
		t.Fatalf("the chained session: %v", err)
	}
	sess2, err := s.VerifySession(ctx, b.Credentials.AccessKeyID, b.Credentials.SessionToken)
	if err != nil || sess2.SourceIdentity != "alice" || sess2.Tags["project"] != "x" || sess2.Tags["team"] != "" || len(sess2.Transitive) != 1 {
		t.Fatalf("the chained session carries %+v, %v; want the source identity and the transitive tag only", sess2, err)
	}
	// A role whose trust does not allow sts:SetSourceIdentity cannot be
	// assumed by a session with one.
	_, err = s.AssumeRole(as, AssumeRoleInput{RoleARN: plain, SessionName: "s3"})
	wantIAMError(t, "chaining into a role without sts:SetSourceIdentity", err, CodeAccessDenied, "is not authorized to perform: sts:SetSourceIdentity on resource: "+plain)
	// A policy reading aws:SourceIdentity sees it.
	d, _, err := s.Authorize(NewContext(ctx, sess2.Principal()), Check{Action: "ecr:PutImage", Resource: "*", ResourceAccount: acct,
		Policy: &iampolicy.Named{Name: "repository policy", Policy: mustParse(t, `{"Version":"2012-10-17","Statement":[{"Effect":"Deny","Principal":"*","Action":"ecr:*",
			"Condition":{"StringEquals":{"aws:SourceIdentity":"alice"}}}]}`)}})
	if err != nil || d.Reason != iampolicy.ExplicitDeny {
		t.Fatalf("a deny on aws:SourceIdentity: %+v, %v", d, err)
	}

	// A missing role is refused in the words of a refused one.
	_, errMissing := s.AssumeRole(rc, AssumeRoleInput{RoleARN: "arn:aws:iam::" + acct + ":role/nope", SessionName: "s1"})
	wantIAMError(t, "a missing role", errMissing, CodeAccessDenied, "User: "+root+" is not authorized to perform: sts:AssumeRole on resource: arn:aws:iam::"+acct+":role/nope. Encoded")
}

func mustParse(t *testing.T, doc string) *iampolicy.Policy {
	t.Helper()
	p, err := iampolicy.Parse(doc, iampolicy.Resource)
	if err != nil {
		t.Fatal(err)
	}
	return p
}

// TestGetSessionToken: a user's own session has its permissions; its
// duration is bounded as AWS's; session credentials cannot ask for one.
func TestGetSessionToken(t *testing.T) {
	s := newService(t)
	rc := NewContext(ctx, asRoot(t, s))
	u, err := s.CreateUser(rc, UserInput{Name: "dev"})
	if err != nil {
		t.Fatal(err)
	}
	if err := s.AttachPolicy(rc, Grantee{Kind: "user", Name: "dev"}, "arn:aws:iam::aws:policy/AmazonEC2ContainerRegistryReadOnly"); err != nil {
		t.Fatal(err)
	}
	uc := NewContext(ctx, u.principal(acct))
	_, err = s.GetSessionToken(uc, 100*time.Second, "")
	wantIAMError(t, "100 seconds", err, CodeValidation, "greater than or equal to 900")
	_, err = s.GetSessionToken(uc, 200000*time.Second, "")
	wantIAMError(t, "200000 seconds", err, CodeValidation, "less than or equal to 129600")
	_, err = s.GetSessionToken(uc, 0, "arn:aws:iam::"+acct+":mfa/dev")
	wantIAMError(t, "an MFA serial number", err, CodeAccessDenied, "MultiFactorAuthentication failed")
	c, err := s.GetSessionToken(uc, 0, "")
	if err != nil || time.Until(c.Expiration) < 11*time.Hour || !strings.HasPrefix(c.AccessKeyID, "ASIA") {
		t.Fatalf("GetSessionToken = %+v, %v", c, err)
	}
	sess, err := s.VerifySession(ctx, c.AccessKeyID, c.SessionToken)
	if err != nil || !sess.FromGetSessionToken() {
		t.Fatalf("VerifySession = %+v, %v", sess, err)
	}
	p := sess.Principal()
	if p.ARN != u.ARN || p.UserID != u.ID || p.Type != TypeUser || p.PrincipalARN() != u.ARN {
		t.Fatalf("the session acts as %+v", p)
	}
	sc := NewContext(ctx, p)
	for action, want := range map[string]bool{"ecr:BatchGetImage": true, "ecr:PutImage": false} {
		d, _, err := s.Authorize(sc, Check{Action: action, Resource: "arn:aws:ecr:us-east-1:" + acct + ":repository/app", ResourceAccount: acct})
		if err != nil || d.Allowed != want {
			t.Errorf("%s: %+v, %v; want allowed %v", action, d, err, want)
		}
	}
	_, err = s.GetSessionToken(sc, 0, "")
	wantIAMError(t, "with session credentials", err, CodeAccessDenied, "Cannot call GetSessionToken with session credentials")
	rootCreds, err := s.GetSessionToken(rc, 36*time.Hour, "")
	if err != nil || time.Until(rootCreds.Expiration) > time.Hour+time.Minute {
		t.Fatalf("the root's session lasts until %v (%v); want an hour at most", rootCreds.Expiration, err)
	}
	// The user's session ends with the user.
	if err := s.DetachPolicy(rc, Grantee{Kind: "user", Name: "dev"}, "arn:aws:iam::aws:policy/AmazonEC2ContainerRegistryReadOnly"); err != nil {
		t.Fatal(err)
	}
	if err := s.DeleteUser(rc, "dev"); err != nil {
		t.Fatal(err)
	}
	var se *SessionError
	if _, err := s.VerifySession(ctx, c.AccessKeyID, c.SessionToken); !errors.As(err, &se) || !se.Gone {
		t.Fatalf("the session of a deleted user = %v", err)
	}
}

// TestDecodeAuthorizationMessage: a denial's encoded message decodes, for
// a caller of the denied principal's account allowed to decode, into the
// statement that decided; anything else is refused.
func TestDecodeAuthorizationMessage(t *testing.T) {
	s := newService(t)
	rc := NewContext(ctx, asRoot(t, s))
	u, err := s.CreateUser(rc, UserInput{Name: "dev"})
	if err != nil {
		t.Fatal(err)
	}
	repo := "arn:aws:ecr:us-east-1:" + acct + ":repository/prod/app"
	if err := s.PutInlinePolicy(rc, Grantee{Kind: "user", Name: "dev"}, "guard", `{"Version":"2012-10-17","Statement":[
		{"Effect":"Allow","Action":"ecr:*","Resource":"*"},
		{"Sid":"NoProd","Effect":"Deny","Action":"ecr:PutImage","Resource":"arn:aws:ecr:*:*:repository/prod/*","Condition":{"Bool":{"aws:SecureTransport":"false"}}}]}`); err != nil {
		t.Fatal(err)
	}
	uc := NewContext(WithOrigin(ctx, Origin{SourceIP: "192.0.2.1"}), u.principal(acct))
	d, req, err := s.Authorize(uc, Check{Action: "ecr:PutImage", Resource: repo, ResourceAccount: acct})
	if err != nil || d.Allowed {
		t.Fatalf("Authorize = %+v, %v", d, err)
	}
	msg := s.DenialMessage(d, req)
	text, encoded, ok := strings.Cut(msg, ". Encoded authorization failure message: ")
	if !ok || text != d.Message(req) || len(encoded) > 2000 {
		t.Fatalf("DenialMessage = %q", msg)
	}
	js, err := s.DecodeAuthorizationMessage(rc, encoded)
	if err != nil {
		t.Fatal(err)
	}
	var got struct {
		Allowed           bool `json:"allowed"`
		ExplicitDeny      bool `json:"explicitDeny"`
		MatchedStatements struct {
			Items []struct {
				StatementID, Effect, Policy, PolicyType string
				StatementIndex                          int
			} `json:"items"`
		} `json:"matchedStatements"`
		Context struct {
			Principal  struct{ ID, Name, ARN string }
			Action     string
			Resource   string
			Conditions struct {
				Items []struct {
					Key    string
					Values struct {
						Items []struct{ Value string }
					}
				}
			}
		} `json:"context"`
	}
	if err := json.Unmarshal([]byte(js), &got); err != nil {
		t.Fatalf("%v: %s", err, js)
	}
	m := got.MatchedStatements.Items
	if got.Allowed || !got.ExplicitDeny || len(m) == 0 || m[0].Effect != "DENY" || m[0].StatementID != "NoProd" || m[0].Policy != "guard" ||
		m[0].PolicyType != iampolicy.KindIdentity || m[0].StatementIndex != 2 {
		t.Errorf("decoded %s", js)
	}
	if got.Context.Action != "ecr:PutImage" || got.Context.Resource != repo || got.Context.Principal.ARN != u.ARN || got.Context.Principal.ID != u.ID || got.Context.Principal.Name != "dev" {
		t.Errorf("decoded context %+v", got.Context)
	}
	keys := map[string]string{}
	for _, c := range got.Context.Conditions.Items {
		keys[c.Key] = c.Values.Items[0].Value
	}
	if keys["aws:SecureTransport"] != "false" || keys["aws:username"] != "dev" {
		t.Errorf("decoded context keys %v", keys)
	}

	// Only the account's principals allowed sts:DecodeAuthorizationMessage
	// decode; garbage and other accounts' messages are invalid.
	_, err = s.DecodeAuthorizationMessage(uc, encoded)
	wantIAMError(t, "decoding without sts:DecodeAuthorizationMessage", err, CodeAccessDenied, "is not authorized to perform: sts:DecodeAuthorizationMessage")
	if _, err := s.EnsureAccount(ctx, "210987654321"); err != nil {
		t.Fatal(err)
	}
	_, err = s.DecodeAuthorizationMessage(NewContext(ctx, Root("210987654321")), encoded)
	wantIAMError(t, "another account's message", err, CodeInvalidMessage, "not valid")
	for _, bad := range []string{"garbage", encoded[:len(encoded)-4], "AAAA" + encoded, ""} {
		_, err = s.DecodeAuthorizationMessage(rc, bad)
		wantIAMError(t, "a spoilt message", err, CodeInvalidMessage, "not valid")
	}
	// A nil service, or an anonymous caller, gets AWS's words alone.
	if m := (*Service)(nil).DenialMessage(d, req); m != d.Message(req) {
		t.Errorf("a nil service's denial = %q", m)
	}
}

// FuzzDecodeAuthorizationMessage: nothing but an encoded message decodes,
// and nothing panics.
func FuzzDecodeAuthorizationMessage(f *testing.F) {
	s := newServiceF(f)
	if _, err := s.EnsureAccount(ctx, acct); err != nil {
		f.Fatal(err)
	}
	rc := NewContext(ctx, Root(acct))
	req := iampolicy.Request{Action: "ecr:PutImage", Resource: "*", ResourceAccount: acct,
		Principal: iampolicy.Principal{Type: "User", Account: acct, ARN: "arn:aws:iam::" + acct + ":user/x", UserID: "AIDAX"}}
	_, encoded, _ := strings.Cut(s.DenialMessage(iampolicy.Decision{Reason: iampolicy.NoIdentityAllow}, req), ". Encoded authorization failure message: ")
	f.Add(encoded)
	f.Add("")
	f.Add("AAAA")
	f.Fuzz(func(t *testing.T, msg string) {
		js, err := s.DecodeAuthorizationMessage(rc, msg)
		if err == nil && (strings.TrimSpace(msg) != encoded || !json.Valid([]byte(js))) {
			t.Fatalf("decoded a message that was never encoded: %q", msg)
		}
	})
}
