package registry_test

import (
	"context"
	"strings"
	"testing"
	"time"

	"github.com/ecrd/ecrd/internal/iampolicy"
	"github.com/ecrd/ecrd/internal/identity"
	"github.com/ecrd/ecrd/internal/metadata"
	"github.com/ecrd/ecrd/internal/registry"
	"github.com/ecrd/ecrd/internal/registry/registrytest"
	"github.com/ecrd/ecrd/internal/testutil"
)

const otherAccount = "210987654321"

// explainFixture is a registry with IAM: the scope's account, another
// account, and images pushed by the scope's root.
type explainFixture struct {
	*fixture
	ids *identity.Service
}

func newExplainFixture(t testing.TB) *explainFixture {
	t.Helper()
	stores := registrytest.Open(t)
	ids := identity.New(stores.Meta, testutil.Keyring(t), testutil.Logger())
	for _, a := range []string{scope.Account, otherAccount} {
		if _, err := ids.EnsureAccount(ctx, a); err != nil {
			t.Fatal(err)
		}
	}
	c := &clock{now: time.Date(2026, 11, 26, 12, 0, 0, 0, time.UTC)}
	reg := registry.New(stores.Meta, stores.Blobs, registry.Options{Identity: ids, Logger: testutil.Logger(), Now: c.Now})
	registrytest.CreateOnPush(t, reg)
	return &explainFixture{fixture: &fixture{reg: reg, meta: stores.Meta, blobs: stores.Blobs, clock: c}, ids: ids}
}

// user creates a user with an inline policy (none if doc is "") and
// returns a context of its requests.
func (f *explainFixture) user(t *testing.T, name, policy, doc string) context.Context {
	t.Helper()
	u, err := f.ids.CreateUser(ctx, identity.UserInput{Name: name})
	if err != nil {
		t.Fatal(err)
	}
	if doc != "" {
		if err := f.ids.PutInlinePolicy(ctx, identity.Grantee{Kind: metadata.IAMUser, Name: name}, policy, doc); err != nil {
			t.Fatal(err)
		}
	}
	return identity.NewContext(context.Background(), identity.Principal{Account: scope.Account, ARN: u.ARN, UserID: u.ID, Type: identity.TypeUser, Name: name})
}

func (f *explainFixture) setPolicy(t *testing.T, repo, doc string) {
	t.Helper()
	if _, err := f.reg.SetRepositoryPolicy(ctx, key(repo), doc, true); err != nil {
		t.Fatal(err)
	}
}

func (f *explainFixture) explain(t *testing.T, asker context.Context, repo, principal, action string) registry.AccessAnswer {
	t.Helper()
	ans, err := f.reg.ExplainAccess(asker, registry.AccessQuestion{Scope: scope, Repository: repo, PrincipalARN: principal, Action: action})
	if err != nil {
		t.Fatalf("ExplainAccess(%s, %s, %s): %v", repo, principal, action, err)
	}
	return ans
}

// agree checks an answer against the real request's outcome: allowed
// both, or denied both with the answer's message.
func agree(t *testing.T, what string, ans registry.AccessAnswer, err error) {
	t.Helper()
	if ans.Allowed != (err == nil) {
		t.Fatalf("%s: the explanation says allowed=%v (%s), the request returned %v", what, ans.Allowed, ans.Message, err)
	}
	if err == nil {
		if ans.Decision != registry.DecisionAllowed {
			t.Fatalf("%s: allowed with decision %q", what, ans.Decision)
		}
		return
	}
	if c := registry.CodeOf(err); c != registry.CodeAccessDenied && c != registry.CodeUnauthenticated {
		t.Fatalf("%s: the request failed otherwise than by a denial: %v", what, err)
	}
	if got := identity.PlainDenial(err.Error()); got != ans.Message {
		t.Fatalf("%s: the request was denied with\n  %q\nthe explanation says\n  %q", what, got, ans.Message)
	}
}

const repoARN = "arn:aws:ecr:us-east-1:123456789012:repository/"

// TestExplainUserDecisions: a user allowed by its identity policy's
// statement, denied by a repository policy's Deny, and denied with no
// statement; each as the real request is decided.
func TestExplainUserDecisions(t *testing.T) {
	f := newExplainFixture(t)
	m := f.pushImage(t, "app", "v1", "a")
	dev := f.user(t, "dev", "dev-ecr", `{"Version":"2012-10-17","Statement":[`+
		`{"Sid":"PullApp","Effect":"Allow","Action":["ecr:BatchGetImage","ecr:GetDownloadUrlForLayer"],"Resource":"`+repoARN+`app"},`+
		`{"Sid":"PushApp","Effect":"Allow","Action":"ecr:PutImage","Resource":"`+repoARN+`app"}]}`)
	devARN := "arn:aws:iam::" + scope.Account + ":user/dev"
	f.setPolicy(t, "app", `{"Version":"2012-10-17","Statement":[{"Sid":"NoPushForDev","Effect":"Deny","Principal":{"AWS":"`+devARN+`"},"Action":"ecr:PutImage"}]}`)

	// Allowed by the identity policy's statement "PullApp".
	ans := f.explain(t, dev, "app", devARN, "ecr:BatchGetImage")
	if !ans.Allowed || ans.Decision != registry.DecisionAllowed || ans.Rule != "" || ans.Statement == nil {
		t.Fatalf("pull: %+v", ans)
	}
	st := *ans.Statement
	if st.Policy != "dev-ecr" || st.Sid != "PullApp" || st.Index != 1 || st.Kind != iampolicy.KindIdentity || st.Effect != "Allow" ||
		!strings.Contains(st.Text, `"Sid": "PullApp"`) || strings.Contains(st.Text, "PushApp") {
		t.Fatalf("pull: deciding statement %+v", st)
	}
	want := `Allowed: ` + devARN + ` may perform: ecr:BatchGetImage on resource: ` + repoARN + `app by statement "PullApp" of the identity-based policy "dev-ecr"`
	if ans.Message != want || ans.Principal != devARN || ans.Resource != repoARN+"app" || ans.Action != "ecr:BatchGetImage" {
		t.Fatalf("pull: %+v\nwant message %q", ans, want)
	}
	_, _, _, err := f.reg.BatchGetImage(dev, key("app"), []registry.ImageID{{Tag: "v1"}}, nil)
	agree(t, "pull", ans, err)

	// Denied by the repository policy's Deny, which dev may not read: its
	// name and Sid are hidden from it, not from the root.
	ans = f.explain(t, dev, "app", devARN, "ecr:PutImage")
	if ans.Allowed || ans.Decision != registry.DecisionExplicitDeny || ans.Statement == nil ||
		*ans.Statement != (registry.DecidingStatement{Kind: iampolicy.KindResource, Effect: "Deny"}) {
		t.Fatalf("push, asked by dev: %+v (statement %+v)", ans, ans.Statement)
	}
	if !strings.HasSuffix(ans.Message, "with an explicit deny in a resource-based policy") {
		t.Fatalf("push: message %q", ans.Message)
	}
	_, err = f.reg.PutImage(dev, key("app"), m, ociManifest, "", "v2")
	agree(t, "push", ans, err)
	byRoot := f.explain(t, ctx, "app", devARN, "ecr:PutImage")
	st = *byRoot.Statement
	if st.Policy != "repository policy" || st.Sid != "NoPushForDev" || st.Index != 1 || st.Effect != "Deny" || !strings.Contains(st.Text, `"Effect": "Deny"`) {
		t.Fatalf("push, asked by the root: statement %+v", st)
	}
	if byRoot.Message != ans.Message || byRoot.Decision != ans.Decision {
		t.Fatalf("the root's answer %+v differs from dev's %+v", byRoot, ans)
	}
	// A Deny decides alone: the identity policy's Allow is not listed.
	if len(byRoot.Also) != 0 {
		t.Fatalf("push: also %+v", byRoot.Also)
	}

	// Denied with no statement: nothing allows dev to delete.
	ans = f.explain(t, dev, "app", devARN, "ecr:BatchDeleteImage")
	want = "User: " + devARN + " is not authorized to perform: ecr:BatchDeleteImage on resource: " + repoARN + "app because no identity-based policy allows the ecr:BatchDeleteImage action"
	if ans.Allowed || ans.Decision != registry.DecisionImplicitDeny || ans.Statement != nil || ans.Rule != "" || ans.Message != want {
		t.Fatalf("delete: %+v\nwant message %q", ans, want)
	}
	_, _, err = f.reg.BatchDeleteImage(dev, key("app"), []registry.ImageID{{Tag: "v1"}})
	agree(t, "delete", ans, err)

	// A repository that does not exist: decided without its policy, as the
	// request is (which then finds no repository).
	ans = f.explain(t, dev, "other", devARN, "ecr:BatchGetImage")
	if ans.Allowed || ans.Decision != registry.DecisionImplicitDeny {
		t.Fatalf("pull from another repository: %+v", ans)
	}
	_, _, _, err = f.reg.BatchGetImage(dev, key("other"), []registry.ImageID{{Tag: "v1"}}, nil)
	agree(t, "pull from another repository", ans, err)

	// A registry-level action, and the root in its own account.
	ans = f.explain(t, ctx, "", "arn:aws:iam::"+scope.Account+":root", "ecr:DescribeRegistry")
	if !ans.Allowed || ans.Rule != registry.RuleRoot || ans.Statement != nil || ans.Resource != "*" ||
		!strings.Contains(ans.Message, "as its account's root user") {
		t.Fatalf("the root's DescribeRegistry: %+v", ans)
	}
	agree(t, "the root's DescribeRegistry", ans, f.reg.DescribeRegistry(ctx, scope))
	ans = f.explain(t, dev, "", devARN, "ecr:DescribeRegistry")
	agree(t, "dev's DescribeRegistry", ans, f.reg.DescribeRegistry(dev, scope))
}

// TestExplainBoundaryAndRole: a permissions boundary that does not allow
// is the reason, the identity policy's Allow beside it; a role is asked
// about as a session of it.
func TestExplainBoundaryAndRole(t *testing.T) {
	f := newExplainFixture(t)
	m := f.pushImage(t, "app", "v1", "a")
	bounded := f.user(t, "bounded", "all", `{"Version":"2012-10-17","Statement":[{"Sid":"All","Effect":"Allow","Action":"ecr:*","Resource":"*"}]}`)
	b, err := f.ids.CreatePolicy(ctx, identity.PolicyInput{Name: "pull-only",
		Document: `{"Version":"2012-10-17","Statement":[{"Sid":"PullOnly","Effect":"Allow","Action":["ecr:BatchGetImage","ecr:GetDownloadUrlForLayer"],"Resource":"*"}]}`})
	if err != nil {
		t.Fatal(err)
	}
	if err := f.ids.SetBoundary(ctx, identity.Grantee{Kind: metadata.IAMUser, Name: "bounded"}, b.ARN); err != nil {
		t.Fatal(err)
	}
	arn := "arn:aws:iam::" + scope.Account + ":user/bounded"
	ans := f.explain(t, bounded, "app", arn, "ecr:PutImage")
	if ans.Allowed || ans.Decision != registry.DecisionImplicitDeny || ans.Statement != nil ||
		!strings.HasSuffix(ans.Message, "because no permissions boundary allows the ecr:PutImage action") ||
		len(ans.Also) != 1 || ans.Also[0].Sid != "All" || !strings.Contains(ans.Also[0].Text, `"ecr:*"`) {
		t.Fatalf("push under the boundary: %+v", ans)
	}
	_, err = f.reg.PutImage(bounded, key("app"), m, ociManifest, "", "v2")
	agree(t, "push under the boundary", ans, err)
	ans = f.explain(t, bounded, "app", arn, "ecr:BatchGetImage")
	if !ans.Allowed || ans.Statement == nil || ans.Statement.Sid != "All" || len(ans.Also) != 1 ||
		ans.Also[0].Kind != iampolicy.KindBoundary || ans.Also[0].Policy != "pull-only" || !strings.Contains(ans.Also[0].Text, "PullOnly") {
		t.Fatalf("pull under the boundary: %+v", ans)
	}
	_, _, _, err = f.reg.BatchGetImage(bounded, key("app"), []registry.ImageID{{Tag: "v1"}}, nil)
	agree(t, "pull under the boundary", ans, err)

	role, err := f.ids.CreateRole(ctx, identity.RoleInput{Name: "ci",
		TrustPolicy: `{"Version":"2012-10-17","Statement":[{"Effect":"Allow","Principal":{"AWS":"arn:aws:iam::` + scope.Account + `:root"},"Action":"sts:AssumeRole"}]}`})
	if err != nil {
		t.Fatal(err)
	}
	if err := f.ids.PutInlinePolicy(ctx, identity.Grantee{Kind: metadata.IAMRole, Name: "ci"}, "push",
		`{"Version":"2012-10-17","Statement":[{"Sid":"Push","Effect":"Allow","Action":["ecr:PutImage","ecr:BatchGetImage"],"Resource":"*"}]}`); err != nil {
		t.Fatal(err)
	}
	session := (&identity.Session{Account: scope.Account, Role: role.Name, RoleARN: role.ARN, RoleID: role.ID, Name: "simulated"}).Principal()
	sctx := identity.NewContext(context.Background(), session)
	for _, action := range []string{"ecr:PutImage", "ecr:BatchDeleteImage"} {
		ans := f.explain(t, ctx, "app", role.ARN, action)
		if ans.Principal != session.ARN {
			t.Fatalf("%s of the role decided for %q, want %q", action, ans.Principal, session.ARN)
		}
		var err error
		if action == "ecr:PutImage" {
			_, err = f.reg.PutImage(sctx, key("app"), m, ociManifest, "", "v3")
			if ans.Statement == nil || ans.Statement.Sid != "Push" || ans.Statement.Policy != "push" {
				t.Fatalf("the role's push: %+v", ans)
			}
		} else {
			_, _, err = f.reg.BatchDeleteImage(sctx, key("app"), []registry.ImageID{{Tag: "v1"}})
		}
		agree(t, "the role's "+action, ans, err)
	}
}

// TestExplainAnotherAccount: another account's root pulls through a
// repository policy's statement naming it; the statement is named to it
// only once the policy lets it read the policy.
func TestExplainAnotherAccount(t *testing.T) {
	f := newExplainFixture(t)
	f.pushImage(t, "shared", "v1", "a")
	otherRoot := "arn:aws:iam::" + otherAccount + ":root"
	other := identity.NewContext(context.Background(), identity.Root(otherAccount))
	pull := `{"Sid":"OtherAccountPull","Effect":"Allow","Principal":{"AWS":"` + otherRoot + `"},"Action":["ecr:BatchGetImage","ecr:GetDownloadUrlForLayer"]}`
	f.setPolicy(t, "shared", `{"Version":"2012-10-17","Statement":[`+pull+`]}`)

	ans := f.explain(t, other, "shared", otherRoot, "ecr:BatchGetImage")
	if !ans.Allowed || ans.Rule != "" || ans.Statement == nil ||
		*ans.Statement != (registry.DecidingStatement{Kind: iampolicy.KindResource, Effect: "Allow"}) ||
		!strings.HasSuffix(ans.Message, "by a statement of a resource-based policy") {
		t.Fatalf("the other root's pull: %+v (statement %+v)", ans, ans.Statement)
	}
	_, _, _, err := f.reg.BatchGetImage(other, key("shared"), []registry.ImageID{{Tag: "v1"}}, nil)
	agree(t, "the other root's pull", ans, err)

	f.setPolicy(t, "shared", `{"Version":"2012-10-17","Statement":[`+pull+`,`+
		`{"Sid":"OtherAccountRead","Effect":"Allow","Principal":{"AWS":"`+otherRoot+`"},"Action":"ecr:GetRepositoryPolicy"}]}`)
	ans = f.explain(t, other, "shared", otherRoot, "ecr:BatchGetImage")
	if st := ans.Statement; st == nil || st.Policy != "repository policy" || st.Sid != "OtherAccountPull" || !strings.Contains(st.Text, otherRoot) ||
		ans.Message != `Allowed: `+otherRoot+` may perform: ecr:BatchGetImage on resource: `+repoARN+`shared by statement "OtherAccountPull" of the resource-based policy "repository policy"` {
		t.Fatalf("the other root's pull, once it may read the policy: %+v (statement %+v)", ans, ans.Statement)
	}
	ans = f.explain(t, other, "shared", otherRoot, "ecr:PutImage")
	want := "User: " + otherRoot + " is not authorized to perform: ecr:PutImage on resource: " + repoARN + "shared because no resource-based policy allows the ecr:PutImage action"
	if ans.Allowed || ans.Decision != registry.DecisionImplicitDeny || ans.Message != want {
		t.Fatalf("the other root's push: %+v", ans)
	}
	_, err = f.reg.PutImage(other, key("shared"), []byte(`{}`), ociManifest, "", "v2")
	agree(t, "the other root's push", ans, err)

	// The registry's account may not ask about another account's
	// principal: it would need the permission in that account.
	_, err = f.reg.ExplainAccess(ctx, registry.AccessQuestion{Scope: scope, Repository: "shared", PrincipalARN: otherRoot, Action: "ecr:BatchGetImage"})
	wantCode(t, err, registry.CodeAccessDenied)
}

// TestExplainAnonymous: no policy lets an anonymous caller push, even one
// allowing "*" every ECR action; it pulls only with the opt-in tag, and an
// explicit Deny still binds it.
func TestExplainAnonymous(t *testing.T) {
	f := newExplainFixture(t)
	m := f.pushImage(t, "pub", "v1", "a")
	f.setPolicy(t, "pub", `{"Version":"2012-10-17","Statement":[{"Sid":"Everyone","Effect":"Allow","Principal":"*","Action":"ecr:*"}]}`)
	anon := context.Background()
	pull := func() error {
		_, _, _, err := f.reg.BatchGetImage(anon, key("pub"), []registry.ImageID{{Tag: "v1"}}, nil)
		return err
	}
	push := func() error {
		_, err := f.reg.PutImage(anon, key("pub"), m, ociManifest, "", "v2")
		return err
	}
	check := func(what, action string, allowed bool, rule string, real func() error) registry.AccessAnswer {
		t.Helper()
		ans := f.explain(t, ctx, "pub", "*", action)
		if ans.Allowed != allowed || ans.Rule != rule || ans.Principal != "" {
			t.Fatalf("%s: %+v", what, ans)
		}
		agree(t, what, ans, real())
		return ans
	}
	ans := check("push", "ecr:PutImage", false, registry.RuleAnonymous, push)
	if ans.Decision != registry.DecisionImplicitDeny || ans.Statement != nil || len(ans.Also) != 1 || ans.Also[0].Sid != "Everyone" ||
		!strings.HasPrefix(ans.Message, "authentication required to perform ecr:PutImage") {
		t.Fatalf("push: %+v", ans)
	}
	check("pull without the tag", "ecr:BatchGetImage", false, registry.RuleAnonymous, pull)

	if err := f.reg.TagResource(ctx, repoARN+"pub", []metadata.ResourceTag{{Key: registry.AnonymousPullTag, Value: "true"}}); err != nil {
		t.Fatal(err)
	}
	ans = check("pull with the tag", "ecr:BatchGetImage", true, registry.RuleAnonymousPull, pull)
	if ans.Decision != registry.DecisionAllowed || !strings.Contains(ans.Message, "tagged ecrd:anonymous-pull=true") {
		t.Fatalf("pull with the tag: %+v", ans)
	}
	check("push with the tag", "ecr:PutImage", false, registry.RuleAnonymous, push)

	f.setPolicy(t, "pub", `{"Version":"2012-10-17","Statement":[{"Sid":"NoPulls","Effect":"Deny","Principal":"*","Action":"ecr:BatchGetImage"}]}`)
	ans = check("pull denied explicitly", "ecr:BatchGetImage", false, "", pull)
	want := "authentication required to perform ecr:BatchGetImage: User: anonymous is not authorized to perform: ecr:BatchGetImage on resource: " + repoARN + "pub with an explicit deny in a resource-based policy"
	if ans.Decision != registry.DecisionExplicitDeny || ans.Statement == nil || ans.Statement.Sid != "NoPulls" || ans.Message != want {
		t.Fatalf("pull denied explicitly: %+v", ans)
	}
}

// TestExplainWhoMayAsk: a principal may ask about itself; about another,
// or about anonymous callers, only with iam:SimulatePrincipalPolicy; an
// anonymous caller asks nothing.
func TestExplainWhoMayAsk(t *testing.T) {
	f := newExplainFixture(t)
	f.pushImage(t, "app", "v1", "a")
	pullAll := `{"Version":"2012-10-17","Statement":[{"Sid":"Pull","Effect":"Allow","Action":"ecr:BatchGetImage","Resource":"*"}]}`
	dev := f.user(t, "dev", "pull", pullAll)
	ops := f.user(t, "ops", "pull", pullAll)
	devARN := "arn:aws:iam::" + scope.Account + ":user/dev"
	opsARN := "arn:aws:iam::" + scope.Account + ":user/ops"
	ask := func(c context.Context, principal string) (registry.AccessAnswer, error) {
		return f.reg.ExplainAccess(c, registry.AccessQuestion{Scope: scope, Repository: "app", PrincipalARN: principal, Action: "ecr:BatchGetImage"})
	}

	self, err := ask(dev, devARN)
	if err != nil || !self.Allowed {
		t.Fatalf("dev about itself: %+v, %v", self, err)
	}
	for _, p := range []string{opsARN, "*", "arn:aws:iam::" + scope.Account + ":user/ghost"} {
		_, err := ask(dev, p)
		wantCode(t, err, registry.CodeAccessDenied)
		if !strings.Contains(err.Error(), "is not authorized to perform: iam:SimulatePrincipalPolicy on resource: ") {
			t.Fatalf("dev about %s: %v", p, err)
		}
	}
	_, err = ask(context.Background(), devARN)
	wantCode(t, err, registry.CodeUnauthenticated)

	if err := f.ids.PutInlinePolicy(ctx, identity.Grantee{Kind: metadata.IAMUser, Name: "dev"}, "simulate",
		`{"Version":"2012-10-17","Statement":[{"Effect":"Allow","Action":"iam:SimulatePrincipalPolicy","Resource":"`+opsARN+`"}]}`); err != nil {
		t.Fatal(err)
	}
	byDev, err := ask(dev, opsARN)
	if err != nil {
		t.Fatalf("dev about ops, with the permission: %v", err)
	}
	byOps, err := ask(ops, opsARN)
	if err != nil || byDev.Allowed != byOps.Allowed || byDev.Message != byOps.Message || byDev.Principal != opsARN || byDev.Statement == nil || byDev.Statement.Sid != "Pull" {
		t.Fatalf("dev's answer about ops %+v, ops's own %+v, %v", byDev, byOps, err)
	}
	_, err = ask(dev, "*")
	wantCode(t, err, registry.CodeAccessDenied)

	// The root may ask about anyone of its account; a principal that does
	// not exist is named as such.
	_, err = ask(ctx, "arn:aws:iam::"+scope.Account+":user/ghost")
	wantCode(t, err, registry.CodePrincipalNotFound)
	if want := "principal arn:aws:iam::" + scope.Account + ":user/ghost does not exist"; err.Error() != want {
		t.Fatalf("a missing user: %q, want %q", err, want)
	}
	_, err = ask(ctx, "arn:aws:iam::"+scope.Account+":role/ghost")
	wantCode(t, err, registry.CodePrincipalNotFound)
}

// TestExplainBadQuestions: questions that name no principal, no ECR
// action, or a repository where there is none to name.
func TestExplainBadQuestions(t *testing.T) {
	f := newExplainFixture(t)
	root := "arn:aws:iam::" + scope.Account + ":root"
	for _, tc := range []struct {
		name string
		q    registry.AccessQuestion
	}{
		{"a group", registry.AccessQuestion{Repository: "app", PrincipalARN: "arn:aws:iam::" + scope.Account + ":group/devs", Action: "ecr:BatchGetImage"}},
		{"no principal", registry.AccessQuestion{Repository: "app", Action: "ecr:BatchGetImage"}},
		{"a session", registry.AccessQuestion{Repository: "app", PrincipalARN: "arn:aws:sts::" + scope.Account + ":assumed-role/ci/x", Action: "ecr:BatchGetImage"}},
		{"another service's action", registry.AccessQuestion{Repository: "app", PrincipalARN: root, Action: "s3:GetObject"}},
		{"a wildcard action", registry.AccessQuestion{Repository: "app", PrincipalARN: root, Action: "ecr:*"}},
		{"no action", registry.AccessQuestion{Repository: "app", PrincipalARN: root}},
		{"a repository action without one", registry.AccessQuestion{PrincipalARN: root, Action: "ecr:BatchGetImage"}},
		{"a registry action on a repository", registry.AccessQuestion{Repository: "app", PrincipalARN: root, Action: "ecr:GetAuthorizationToken"}},
		{"a template's action", registry.AccessQuestion{Repository: "app", PrincipalARN: root, Action: "ecr:CreateRepositoryCreationTemplate"}},
		{"a pull-through cache rule's action", registry.AccessQuestion{PrincipalARN: root, Action: "ecr:deletepullthroughcacherule"}},
		{"a bad repository name", registry.AccessQuestion{Repository: "App!", PrincipalARN: root, Action: "ecr:BatchGetImage"}},
	} {
		tc.q.Scope = scope
		_, err := f.reg.ExplainAccess(ctx, tc.q)
		if c := registry.CodeOf(err); c != registry.CodeInvalidParameter && c != registry.CodeNameInvalid {
			t.Errorf("%s: got %v (code %d), want an invalid parameter", tc.name, err, c)
		}
	}
	// Actions are matched in any case, and answered as the registry spells them.
	ans := f.explain(t, ctx, "", root, "ECR:getauthorizationtoken")
	if ans.Action != "ecr:GetAuthorizationToken" || !ans.Allowed {
		t.Fatalf("a lower-case action: %+v", ans)
	}
}

// FuzzExplainAccess: any question gets an answer or an error the caller
// can act on, never a panic or an internal error.
func FuzzExplainAccess(f *testing.F) {
	fx := newExplainFixture(f)
	fx.pushImage(f, "app", "v1", "a")
	root := "arn:aws:iam::" + scope.Account + ":root"
	f.Add("app", root, "ecr:BatchGetImage")
	f.Add("", "*", "ecr:GetAuthorizationToken")
	f.Add("app", "*", "ecr:BatchGetImage")
	f.Add("x/y", "arn:aws:iam::"+scope.Account+":user/a/b", "ecr:PutImage")
	f.Add("app", "arn:aws:iam::"+otherAccount+":role/r", "ecrd:CollectGarbage")
	f.Add("", root, "ecr:")
	f.Fuzz(func(t *testing.T, repo, principal, action string) {
		ans, err := fx.reg.ExplainAccess(ctx, registry.AccessQuestion{Scope: scope, Repository: repo, PrincipalARN: principal, Action: action})
		if err != nil {
			if registry.CodeOf(err) == registry.CodeInternal {
				t.Fatalf("an internal error: %v", err)
			}
			return
		}
		switch ans.Decision {
		case registry.DecisionAllowed, registry.DecisionExplicitDeny, registry.DecisionImplicitDeny:
		default:
			t.Fatalf("decision %q", ans.Decision)
		}
		if ans.Allowed != (ans.Decision == registry.DecisionAllowed) || ans.Message == "" {
			t.Fatalf("answer %+v", ans)
		}
	})
}
