package iampolicy

import (
	"strings"
	"testing"
)

const (
	pushIdentity = `{"Version":"2012-10-17","Statement":[
		{"Effect":"Allow","Action":"ecr:GetAuthorizationToken","Resource":"*"},
		{"Sid":"Push","Effect":"Allow","Action":["ecr:PutImage","ecr:InitiateLayerUpload","ecr:UploadLayerPart","ecr:CompleteLayerUpload","ecr:BatchCheckLayerAvailability","ecr:BatchGetImage"],
		 "Resource":"arn:aws:ecr:us-east-1:*:repository/app*"}]}`
	pullIdentity = `{"Version":"2012-10-17","Statement":{"Effect":"Allow","Action":["ecr:BatchGetImage","ecr:GetDownloadUrlForLayer","ecr:BatchCheckLayerAvailability"],"Resource":"*"}}`
	// A repository policy granting pull to another account, in the two
	// spellings of an account principal.
	crossPullRoot = `{"Version":"2008-10-17","Statement":[{"Sid":"CrossPull","Effect":"Allow","Principal":{"AWS":"arn:aws:iam::222222222222:root"},
		"Action":["ecr:BatchGetImage","ecr:GetDownloadUrlForLayer","ecr:BatchCheckLayerAvailability"]}]}`
	crossPullID = `{"Version":"2008-10-17","Statement":[{"Sid":"CrossPull","Effect":"Allow","Principal":{"AWS":["222222222222"]},
		"Action":["ecr:BatchGetImage","ecr:GetDownloadUrlForLayer"]}]}`
)

type evalCase struct {
	name   string
	req    Request
	pols   Policies
	allow  bool
	reason Reason
	msg    string // exact Message, when set
	deny   *Statement
}

func runEval(t *testing.T, cases []evalCase) {
	t.Helper()
	for _, tc := range cases {
		t.Run(tc.name, func(t *testing.T) {
			d := Evaluate(tc.req, tc.pols)
			if d.Allowed != tc.allow || d.Reason != tc.reason {
				t.Fatalf("got allowed=%v reason=%v, want %v %v (%s)", d.Allowed, d.Reason, tc.allow, tc.reason, d.Message(tc.req))
			}
			if tc.msg != "" {
				if got := d.Message(tc.req); got != tc.msg {
					t.Errorf("Message:\n got %s\nwant %s", got, tc.msg)
				}
			}
			if tc.deny != nil && (d.Deny == nil || d.Deny.Policy != tc.deny.Policy || d.Deny.Sid != tc.deny.Sid || d.Deny.Kind != tc.deny.Kind ||
				(tc.deny.Index != 0 && d.Deny.Index != tc.deny.Index)) {
				t.Errorf("Deny = %+v, want %+v", d.Deny, tc.deny)
			}
			if d.Allowed && d.Message(tc.req) != "" {
				t.Errorf("allowed decision has a message")
			}
		})
	}
}

func TestEvaluateAccounts(t *testing.T) {
	dev := user(acctA, "dev")
	app := repo(acctA, "app")
	repoNamingUser := `{"Version":"2012-10-17","Statement":{"Effect":"Allow","Principal":{"AWS":"arn:aws:iam::111111111111:user/dev"},"Action":"ecr:*"}}`
	runEval(t, []evalCase{
		{
			name:  "same account, identity policy allows",
			req:   req(dev, "ecr:PutImage", app, acctA),
			pols:  Policies{Identity: []Named{named(t, "push", pushIdentity, Identity)}},
			allow: true,
		},
		{
			name:  "action matched case-insensitively",
			req:   req(dev, "ECR:putimage", app, acctA),
			pols:  Policies{Identity: []Named{named(t, "push", pushIdentity, Identity)}},
			allow: true,
		},
		{
			name:  "same account, repository policy naming the user, no identity policy",
			req:   req(dev, "ecr:PutImage", app, acctA),
			pols:  Policies{Resource: namedp(t, "repo", repoNamingUser, Resource)},
			allow: true,
		},
		{
			name:   "same account, nothing allows",
			req:    req(dev, "ecr:PutImage", app, acctA),
			pols:   Policies{Identity: []Named{named(t, "pull", pullIdentity, Identity)}},
			reason: NoIdentityAllow,
			msg:    "User: arn:aws:iam::111111111111:user/dev is not authorized to perform: ecr:PutImage on resource: arn:aws:ecr:us-east-1:111111111111:repository/app because no identity-based policy allows the ecr:PutImage action",
		},
		{
			name:   "same account, repository policy naming the account delegates: identity allow still needed",
			req:    req(dev, "ecr:BatchGetImage", app, acctA),
			pols:   Policies{Resource: namedp(t, "repo", strings.ReplaceAll(crossPullRoot, acctB, acctA), Resource)},
			reason: NoIdentityAllow,
		},
		{
			name:  "root of the resource account needs no policy",
			req:   req(root(acctA), "ecr:DeleteRepository", app, acctA),
			allow: true,
		},
		{
			name:   "root is still bound by an explicit deny in the repository policy",
			req:    req(root(acctA), "ecr:DeleteRepository", app, acctA),
			pols:   Policies{Resource: namedp(t, "repo", `{"Version":"2012-10-17","Statement":{"Sid":"NoDelete","Effect":"Deny","Principal":"*","Action":"ecr:Delete*"}}`, Resource)},
			reason: ExplicitDeny,
			deny:   &Statement{Policy: "repo", Sid: "NoDelete", Kind: KindResource},
			msg:    "User: arn:aws:iam::111111111111:root is not authorized to perform: ecr:DeleteRepository on resource: arn:aws:ecr:us-east-1:111111111111:repository/app with an explicit deny in a resource-based policy",
		},
		{
			name:  "cross-account root granted pull (arn:...:root)",
			req:   req(root(acctB), "ecr:BatchGetImage", app, acctA),
			pols:  Policies{Resource: namedp(t, "repo", crossPullRoot, Resource)},
			allow: true,
		},
		{
			name:  "cross-account root granted pull (12-digit ID)",
			req:   req(root(acctB), "ecr:GetDownloadUrlForLayer", app, acctA),
			pols:  Policies{Resource: namedp(t, "repo", crossPullID, Resource)},
			allow: true,
		},
		{
			name: "cross-account user with an identity allow",
			req:  req(user(acctB, "ci"), "ecr:BatchGetImage", app, acctA),
			pols: Policies{Resource: namedp(t, "repo", crossPullRoot, Resource),
				Identity: []Named{named(t, "pull", pullIdentity, Identity)}},
			allow: true,
		},
		{
			name:   "cross-account user without an identity policy",
			req:    req(user(acctB, "ci"), "ecr:BatchGetImage", app, acctA),
			pols:   Policies{Resource: namedp(t, "repo", crossPullRoot, Resource)},
			reason: NoIdentityAllow,
			msg:    "User: arn:aws:iam::222222222222:user/ci is not authorized to perform: ecr:BatchGetImage on resource: arn:aws:ecr:us-east-1:111111111111:repository/app because no identity-based policy allows the ecr:BatchGetImage action",
		},
		{
			name: "cross-account user of an account the repository policy does not name",
			req:  req(user(acctC, "ci"), "ecr:BatchGetImage", app, acctA),
			pols: Policies{Resource: namedp(t, "repo", crossPullRoot, Resource),
				Identity: []Named{named(t, "pull", pullIdentity, Identity)}},
			reason: NoResourceAllow,
			msg:    "User: arn:aws:iam::333333333333:user/ci is not authorized to perform: ecr:BatchGetImage on resource: arn:aws:ecr:us-east-1:111111111111:repository/app because no resource-based policy allows the ecr:BatchGetImage action",
		},
		{
			name:   "cross-account without any repository policy",
			req:    req(session(acctB, "", "runner", "gh"), "ecr:InitiateLayerUpload", app, acctA),
			pols:   Policies{Identity: []Named{named(t, "push", pushIdentity, Identity)}},
			reason: NoResourceAllow,
			msg:    "User: arn:aws:sts::222222222222:assumed-role/runner/gh is not authorized to perform: ecr:InitiateLayerUpload on resource: arn:aws:ecr:us-east-1:111111111111:repository/app because no resource-based policy allows the ecr:InitiateLayerUpload action",
		},
		{
			name:   "cross-account push not in the pull grant",
			req:    req(root(acctB), "ecr:PutImage", app, acctA),
			pols:   Policies{Resource: namedp(t, "repo", crossPullRoot, Resource)},
			reason: NoResourceAllow,
		},
		{
			name:  "GetAuthorizationToken on * from an identity policy",
			req:   req(dev, "ecr:GetAuthorizationToken", "*", ""),
			pols:  Policies{Identity: []Named{named(t, "push", pushIdentity, Identity)}},
			allow: true,
		},
		{
			name:   "a repository-scoped statement does not grant a * action",
			req:    req(dev, "ecr:GetAuthorizationToken", "", ""),
			pols:   Policies{Identity: []Named{named(t, "x", `{"Version":"2012-10-17","Statement":{"Effect":"Allow","Action":"ecr:*","Resource":"arn:aws:ecr:*:*:repository/*"}}`, Identity)}},
			reason: NoIdentityAllow,
			msg:    "User: arn:aws:iam::111111111111:user/dev is not authorized to perform: ecr:GetAuthorizationToken on resource: * because no identity-based policy allows the ecr:GetAuthorizationToken action",
		},
	})
}

func TestEvaluateExplicitDeny(t *testing.T) {
	dev := user(acctA, "dev")
	app := repo(acctA, "app")
	allowAll := named(t, "admin", `{"Version":"2012-10-17","Statement":{"Effect":"Allow","Action":"*","Resource":"*"}}`, Identity)
	denyPut := `{"Version":"2012-10-17","Statement":[{"Sid":"NoPut","Effect":"Deny","Action":"ecr:PutImage","Resource":"*"},{"Effect":"Allow","Action":"*","Resource":"*"}]}`
	denyPutRepo := `{"Version":"2012-10-17","Statement":[{"Sid":"NoPut","Effect":"Deny","Principal":{"AWS":"*"},"Action":"ecr:PutImage"}]}`
	base := "User: arn:aws:iam::111111111111:user/dev is not authorized to perform: ecr:PutImage on resource: arn:aws:ecr:us-east-1:111111111111:repository/app with an explicit deny in "
	runEval(t, []evalCase{
		{
			name:   "identity-based",
			req:    req(dev, "ecr:PutImage", app, acctA),
			pols:   Policies{Identity: []Named{allowAll, named(t, "guard", denyPut, Identity)}},
			reason: ExplicitDeny,
			deny:   &Statement{Policy: "guard", Sid: "NoPut", Kind: KindIdentity, Index: 1},
			msg:    base + "an identity-based policy",
		},
		{
			name:   "resource-based",
			req:    req(dev, "ecr:PutImage", app, acctA),
			pols:   Policies{Identity: []Named{allowAll}, Resource: namedp(t, "repo", denyPutRepo, Resource)},
			reason: ExplicitDeny,
			deny:   &Statement{Policy: "repo", Sid: "NoPut", Kind: KindResource},
			msg:    base + "a resource-based policy",
		},
		{
			name:   "permissions boundary",
			req:    req(dev, "ecr:PutImage", app, acctA),
			pols:   Policies{Identity: []Named{allowAll}, Boundary: namedp(t, "boundary", denyPut, Identity)},
			reason: ExplicitDeny,
			deny:   &Statement{Policy: "boundary", Sid: "NoPut", Kind: KindBoundary},
			msg:    base + "a permissions boundary",
		},
		{
			name:   "session",
			req:    req(dev, "ecr:PutImage", app, acctA),
			pols:   Policies{Identity: []Named{allowAll}, Session: []Named{named(t, "sess", denyPut, Identity)}},
			reason: ExplicitDeny,
			deny:   &Statement{Policy: "sess", Sid: "NoPut", Kind: KindSession},
			msg:    base + "a session policy",
		},
		{
			name: "deny beats a direct resource grant",
			req:  req(dev, "ecr:PutImage", app, acctA),
			pols: Policies{Identity: []Named{named(t, "guard", denyPut, Identity)},
				Resource: namedp(t, "repo", `{"Version":"2012-10-17","Statement":{"Effect":"Allow","Principal":{"AWS":"arn:aws:iam::111111111111:user/dev"},"Action":"ecr:*"}}`, Resource)},
			reason: ExplicitDeny,
		},
		{
			name:   "anonymous",
			req:    req(Principal{}, "ecr:PutImage", app, acctA),
			pols:   Policies{Resource: namedp(t, "repo", denyPutRepo, Resource)},
			reason: ExplicitDeny,
			msg:    "User: anonymous is not authorized to perform: ecr:PutImage on resource: arn:aws:ecr:us-east-1:111111111111:repository/app with an explicit deny in a resource-based policy",
		},
	})
}

func TestEvaluateNotActionNotPrincipal(t *testing.T) {
	dev := user(acctA, "dev")
	app := repo(acctA, "app")
	powerUserStyle := named(t, "PowerUserAccess", `{"Version":"2012-10-17","Statement":[
		{"Effect":"Allow","NotAction":["iam:*","organizations:*","account:*"],"Resource":"*"},
		{"Effect":"Allow","Action":["iam:CreateServiceLinkedRole","iam:ListRoles"],"Resource":"*"}]}`, Identity)
	notPrincipalDeny := `{"Version":"2012-10-17","Statement":[
		{"Sid":"OnlyAdmin","Effect":"Deny","NotPrincipal":{"AWS":["arn:aws:iam::111111111111:user/admin","111111111111"]},"Action":"ecr:DeleteRepository"}]}`
	notPrincipalDenyStrict := `{"Version":"2012-10-17","Statement":[
		{"Sid":"OnlyAdmin","Effect":"Deny","NotPrincipal":{"AWS":"arn:aws:iam::111111111111:user/admin"},"Action":"ecr:DeleteRepository"}]}`
	admin := named(t, "admin", `{"Version":"2012-10-17","Statement":{"Effect":"Allow","Action":"*","Resource":"*"}}`, Identity)
	runEval(t, []evalCase{
		{name: "NotAction allows ecr", req: req(dev, "ecr:PutImage", app, acctA), pols: Policies{Identity: []Named{powerUserStyle}}, allow: true},
		{name: "NotAction excludes iam", req: req(dev, "iam:CreateUser", "arn:aws:iam::111111111111:user/x", acctA), pols: Policies{Identity: []Named{powerUserStyle}}, reason: NoIdentityAllow},
		{name: "NotAction plus Action", req: req(dev, "iam:ListRoles", "*", acctA), pols: Policies{Identity: []Named{powerUserStyle}}, allow: true},
		{
			name:   "NotPrincipal deny hits a principal not listed",
			req:    req(user(acctB, "other"), "ecr:DeleteRepository", app, acctA),
			pols:   Policies{Identity: []Named{admin}, Resource: namedp(t, "repo", notPrincipalDeny, Resource)},
			reason: ExplicitDeny,
		},
		{
			name:  "NotPrincipal deny spares a listed principal",
			req:   req(user(acctA, "admin"), "ecr:DeleteRepository", app, acctA),
			pols:  Policies{Identity: []Named{admin}, Resource: namedp(t, "repo", notPrincipalDenyStrict, Resource)},
			allow: true,
		},
		{
			name:   "NotPrincipal deny does not spare an unlisted user of the same account",
			req:    req(dev, "ecr:DeleteRepository", app, acctA),
			pols:   Policies{Identity: []Named{admin}, Resource: namedp(t, "repo", notPrincipalDenyStrict, Resource)},
			reason: ExplicitDeny,
		},
		{
			name: "NotPrincipal deny always denies a principal with a boundary",
			req:  req(user(acctA, "admin"), "ecr:DeleteRepository", app, acctA),
			pols: Policies{Identity: []Named{admin}, Boundary: &admin,
				Resource: namedp(t, "repo", notPrincipalDenyStrict, Resource)},
			reason: ExplicitDeny,
		},
	})
}

func TestEvaluateBoundaryAndSession(t *testing.T) {
	app := repo(acctA, "app")
	admin := named(t, "admin", `{"Version":"2012-10-17","Statement":{"Effect":"Allow","Action":"*","Resource":"*"}}`, Identity)
	pullOnly := namedp(t, "pull-boundary", pullIdentity, Identity)
	ci := session(acctA, "ci/", "builder", "run-1")
	roleGrant := `{"Version":"2012-10-17","Statement":{"Effect":"Allow","Principal":{"AWS":"arn:aws:iam::111111111111:role/ci/builder"},"Action":"ecr:*"}}`
	sessionGrant := `{"Version":"2012-10-17","Statement":{"Effect":"Allow","Principal":{"AWS":"arn:aws:sts::111111111111:assumed-role/builder/run-1"},"Action":"ecr:*"}}`
	userGrant := `{"Version":"2012-10-17","Statement":{"Effect":"Allow","Principal":{"AWS":"arn:aws:iam::111111111111:user/dev"},"Action":"ecr:*"}}`
	runEval(t, []evalCase{
		{name: "boundary allows pull", req: req(ci, "ecr:BatchGetImage", app, acctA), pols: Policies{Identity: []Named{admin}, Boundary: pullOnly}, allow: true},
		{
			name: "boundary restricts push", req: req(ci, "ecr:PutImage", app, acctA),
			pols: Policies{Identity: []Named{admin}, Boundary: pullOnly}, reason: BoundaryDeny,
			msg: "User: arn:aws:sts::111111111111:assumed-role/builder/run-1 is not authorized to perform: ecr:PutImage on resource: arn:aws:ecr:us-east-1:111111111111:repository/app because no permissions boundary allows the ecr:PutImage action",
		},
		{
			name: "session policy restricts", req: req(ci, "ecr:PutImage", app, acctA),
			pols:   Policies{Identity: []Named{admin}, Session: []Named{named(t, "sess", pullIdentity, Identity)}},
			reason: SessionDeny,
			msg:    "User: arn:aws:sts::111111111111:assumed-role/builder/run-1 is not authorized to perform: ecr:PutImage on resource: arn:aws:ecr:us-east-1:111111111111:repository/app because no session policy allows the ecr:PutImage action",
		},
		{name: "session policy allows within identity", req: req(ci, "ecr:BatchGetImage", app, acctA), pols: Policies{Identity: []Named{admin}, Session: []Named{named(t, "sess", pullIdentity, Identity)}}, allow: true},
		{name: "session policy alone grants nothing", req: req(ci, "ecr:BatchGetImage", app, acctA), pols: Policies{Session: []Named{named(t, "sess", pullIdentity, Identity)}}, reason: NoIdentityAllow},
		{
			name: "role ARN in the repository policy is limited by the boundary", req: req(ci, "ecr:PutImage", app, acctA),
			pols: Policies{Boundary: pullOnly, Resource: namedp(t, "repo", roleGrant, Resource)}, reason: BoundaryDeny,
		},
		{
			name: "role ARN in the repository policy grants without identity policy", req: req(ci, "ecr:PutImage", app, acctA),
			pols: Policies{Resource: namedp(t, "repo", roleGrant, Resource)}, allow: true,
		},
		{
			name: "session ARN in the repository policy is not limited by the boundary", req: req(ci, "ecr:PutImage", app, acctA),
			pols: Policies{Boundary: pullOnly, Resource: namedp(t, "repo", sessionGrant, Resource)}, allow: true,
		},
		{
			name: "session ARN matches only its session", req: req(session(acctA, "ci/", "builder", "run-2"), "ecr:PutImage", app, acctA),
			pols: Policies{Resource: namedp(t, "repo", sessionGrant, Resource)}, reason: NoIdentityAllow,
		},
		{
			name: "role ARN with another path does not match", req: req(session(acctA, "other/", "builder", "run-1"), "ecr:PutImage", app, acctA),
			pols: Policies{Resource: namedp(t, "repo", roleGrant, Resource)}, reason: NoIdentityAllow,
		},
		{
			name: "user ARN in the repository policy is not limited by the boundary", req: req(user(acctA, "dev"), "ecr:PutImage", app, acctA),
			pols: Policies{Boundary: pullOnly, Resource: namedp(t, "repo", userGrant, Resource)}, allow: true,
		},
	})
}

func TestEvaluateAnonymousAndTrust(t *testing.T) {
	app := repo(acctA, "public")
	public := `{"Version":"2012-10-17","Statement":{"Effect":"Allow","Principal":"*","Action":["ecr:BatchGetImage","ecr:GetDownloadUrlForLayer"]}}`
	publicAWS := strings.Replace(public, `"*"`, `{"AWS":"*"}`, 1)
	accountOnly := crossPullRoot
	trust := `{"Version":"2012-10-17","Statement":{"Effect":"Allow",
		"Principal":{"Federated":"arn:aws:iam::111111111111:oidc-provider/token.actions.githubusercontent.com"},
		"Action":"sts:AssumeRoleWithWebIdentity",
		"Condition":{"StringEquals":{"token.actions.githubusercontent.com:aud":"sts.amazonaws.com"},
		             "StringLike":{"token.actions.githubusercontent.com:sub":"repo:org/app:ref:refs/heads/main"}}}}`
	gh := Principal{Type: "WebIdentity", Provider: "arn:aws:iam::111111111111:oidc-provider/token.actions.githubusercontent.com"}
	roleARN := "arn:aws:iam::111111111111:role/ci"
	oidc := func(sub string) Request {
		r := req(gh, "sts:AssumeRoleWithWebIdentity", roleARN, acctA)
		r.Context = map[string][]string{
			"token.actions.githubusercontent.com:aud": {"sts.amazonaws.com"},
			"token.actions.githubusercontent.com:sub": {sub},
		}
		return r
	}
	assumeTrust := `{"Version":"2012-10-17","Statement":{"Effect":"Allow","Principal":{"AWS":"arn:aws:iam::222222222222:root"},"Action":["sts:AssumeRole","sts:TagSession"]}}`
	assumeAll := named(t, "assume", `{"Version":"2012-10-17","Statement":{"Effect":"Allow","Action":"sts:AssumeRole","Resource":"*"}}`, Identity)
	runEval(t, []evalCase{
		{name: "anonymous with Principal *", req: req(Principal{Type: "Anonymous"}, "ecr:BatchGetImage", app, acctA), pols: Policies{Resource: namedp(t, "repo", public, Resource)}, allow: true},
		{name: "anonymous with AWS *", req: req(Principal{}, "ecr:BatchGetImage", app, acctA), pols: Policies{Resource: namedp(t, "repo", publicAWS, Resource)}, allow: true},
		{
			name: "anonymous push", req: req(Principal{}, "ecr:PutImage", app, acctA),
			pols: Policies{Resource: namedp(t, "repo", public, Resource)}, reason: NoResourceAllow,
			msg: "User: anonymous is not authorized to perform: ecr:PutImage on resource: arn:aws:ecr:us-east-1:111111111111:repository/public because no resource-based policy allows the ecr:PutImage action",
		},
		{name: "anonymous not covered by an account principal", req: req(Principal{}, "ecr:BatchGetImage", app, acctA), pols: Policies{Resource: namedp(t, "repo", accountOnly, Resource)}, reason: NoResourceAllow},
		{name: "Principal * lets any user of another account pull (identity allow needed)", req: req(user(acctC, "x"), "ecr:BatchGetImage", app, acctA),
			pols: Policies{Resource: namedp(t, "repo", public, Resource), Identity: []Named{named(t, "pull", pullIdentity, Identity)}}, allow: true},
		{name: "OIDC trust: main branch", req: oidc("repo:org/app:ref:refs/heads/main"), pols: Policies{Resource: namedp(t, "trust", trust, Trust)}, allow: true},
		{name: "OIDC trust: other branch", req: oidc("repo:org/app:ref:refs/heads/dev"), pols: Policies{Resource: namedp(t, "trust", trust, Trust)}, reason: NoResourceAllow},
		{name: "OIDC trust: other provider", req: func() Request {
			r := oidc("repo:org/app:ref:refs/heads/main")
			r.Principal.Provider = "accounts.google.com"
			return r
		}(), pols: Policies{Resource: namedp(t, "trust", trust, Trust)}, reason: NoResourceAllow},
		{name: "OIDC trust: provider from context", req: func() Request {
			r := oidc("repo:org/app:ref:refs/heads/main")
			r.Principal.Provider = ""
			r.Context["aws:FederatedProvider"] = []string{gh.Provider}
			return r
		}(), pols: Policies{Resource: namedp(t, "trust", trust, Trust)}, allow: true},
		{name: "OIDC trust: wrong audience", req: func() Request {
			r := oidc("repo:org/app:ref:refs/heads/main")
			r.Context["token.actions.githubusercontent.com:aud"] = []string{"other"}
			return r
		}(), pols: Policies{Resource: namedp(t, "trust", trust, Trust)}, reason: NoResourceAllow},
		{name: "trust: cross-account user with identity allow", req: req(user(acctB, "ops"), "sts:AssumeRole", roleARN, acctA),
			pols: Policies{Resource: namedp(t, "trust", assumeTrust, Trust), Identity: []Named{assumeAll}}, allow: true},
		{name: "trust: identity allow alone is not enough", req: req(user(acctA, "ops"), "sts:AssumeRole", roleARN, acctA),
			pols: Policies{Resource: namedp(t, "trust", assumeTrust, Trust), Identity: []Named{assumeAll}}, reason: NoResourceAllow},
		{name: "trust: no trust policy at all", req: req(user(acctA, "ops"), "sts:AssumeRole", roleARN, acctA),
			pols: Policies{Identity: []Named{assumeAll}}, allow: true},
	})
}

// TestDecisionStatements: a decision names the deciding statement by its
// position too, and a denial keeps the allows of the side that was not
// enough.
func TestDecisionStatements(t *testing.T) {
	dev := user(acctB, "dev")
	app := repo(acctA, "app")
	id := named(t, "ci", `{"Version":"2012-10-17","Statement":[{"Effect":"Allow","Action":"ecr:*","Resource":"*"},
		{"Effect":"Deny","Action":"ecr:DeleteRepository","Resource":"*"}]}`, Identity)
	d := Evaluate(req(dev, "ecr:DeleteRepository", app, acctA), Policies{Identity: []Named{id}})
	if d.Reason != ExplicitDeny || d.Deny == nil || d.Deny.Index != 2 || d.Deny.Sid != "" {
		t.Errorf("explicit deny: %+v %+v", d, d.Deny)
	}
	d = Evaluate(req(dev, "ecr:PutImage", app, acctA), Policies{Identity: []Named{id}})
	if d.Allowed || d.Reason != NoResourceAllow || len(d.Allows) != 1 || d.Allows[0].Policy != "ci" || d.Allows[0].Index != 1 {
		t.Errorf("cross-account without a resource policy: %+v", d)
	}
}
