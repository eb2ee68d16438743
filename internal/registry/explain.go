package registry

import (
	"context"
	"errors"
	"fmt"
	"strings"

	"github.com/ecrd/ecrd/internal/awserr"
	"github.com/ecrd/ecrd/internal/iampolicy"
	"github.com/ecrd/ecrd/internal/identity"
	"github.com/ecrd/ecrd/internal/metadata"
)

// AccessQuestion asks whether a principal may perform an action here.
type AccessQuestion struct {
	Scope metadata.Scope
	// Repository is the repository the action is on, "" for a
	// registry-level action (ecr:GetAuthorizationToken,
	// ecr:DescribeRegistry...). A repository that does not exist yet is
	// decided as a request about it would be: ecr:CreateRepository on
	// it, or any other action, without a repository policy.
	Repository string
	// PrincipalARN is a user, a role, an account root
	// (arn:aws:iam::<account>:root), or "*" for an anonymous caller.
	PrincipalARN string
	Action       string // ecr:BatchGetImage, ...
}

// The decisions, as IAM's policy simulator words them (EvalDecision).
const (
	DecisionAllowed      = "allowed"
	DecisionExplicitDeny = "explicitDeny"
	DecisionImplicitDeny = "implicitDeny"
)

// ecrd's own rules, which decide when no statement does.
const (
	// RuleRoot: an account's root may do anything in its own account
	// that no policy explicitly denies it.
	RuleRoot = "root"
	// RuleAnonymousPull: the repository's ecrd:anonymous-pull tag lets
	// anonymous callers pull.
	RuleAnonymousPull = "anonymous-pull"
	// RuleAnonymous: anonymous callers may only pull, and only from a
	// repository that opts in; no policy's Allow reaches them.
	RuleAnonymous = "anonymous"
)

// DecidingStatement is a statement of a policy that took part in a
// decision.
type DecidingStatement struct {
	// Policy is the policy's name: an inline policy's ("name (group g)"
	// for a group's), a managed policy's or boundary's, "repository
	// policy", "registry policy"; "" when hidden.
	Policy string
	Kind   string // iampolicy.KindIdentity, KindResource, KindBoundary or KindSession
	Effect string // "Allow" or "Deny"
	Sid    string
	Index  int // its position in the policy, from 1; 0 when hidden
	// Text is the statement's JSON, "" when hidden (a resource policy
	// the asker may not read) or changed since.
	Text string
}

// AccessAnswer is how the request a question describes is decided.
type AccessAnswer struct {
	Allowed  bool
	Decision string // DecisionAllowed, DecisionExplicitDeny or DecisionImplicitDeny
	// Principal is whom the request was decided for: the principal's ARN
	// (a role's session "simulated", or the asker's own session when it
	// asks about its role), "" for an anonymous caller.
	Principal string
	Action    string
	Resource  string
	// Statement is the statement that decided: the Deny, or the Allow.
	// Nil when none did: an implicit deny, or one of ecrd's rules (Rule).
	Statement *DecidingStatement
	// Also are the other Allow statements that matched: the other side of
	// a cross-account allow, or allows that were not enough.
	Also []DecidingStatement
	Rule string // RuleRoot, RuleAnonymousPull or RuleAnonymous when it decided, else ""
	// Message is, for a denial, the message of the error the request
	// gets (without its encoded authorization message); for an allow, a
	// sentence naming what allowed it.
	Message string
}

// registryResources are the registry-level actions a question may name
// without a repository, with the resource their requests are decided on
// and whether they are also asked of one repository.
var registryResources = map[Action]struct {
	resource func(metadata.Scope) string
	repoToo  bool
}{
	ActionGetAuthorizationToken:       {anyResource, false},
	ActionDescribeRegistry:            {anyResource, false},
	ActionGetAccountSetting:           {anyResource, false},
	ActionPutAccountSetting:           {anyResource, false},
	ActionPutRegistryPolicy:           {anyResource, false},
	ActionGetRegistryPolicy:           {anyResource, false},
	ActionDeleteRegistryPolicy:        {anyResource, false},
	ActionPutReplicationConfig:        {anyResource, false},
	ActionStartReplicationBackfill:    {anyResource, false},
	ActionStopReplicationBackfill:     {anyResource, false},
	ActionListReplicationBackfills:    {anyResource, false},
	ActionDescribeBackfillResults:     {anyResource, false},
	ActionPutRegistryScanningConfig:   {anyResource, false},
	ActionGetRegistryScanningConfig:   {anyResource, false},
	ActionRegisterPullTimeExclusion:   {anyResource, false},
	ActionDeregisterPullTimeExclusion: {anyResource, false},
	ActionListPullTimeExclusions:      {anyResource, false},
	ActionCollectGarbage:              {anyResource, false},
	ActionListDeadLetters:             {anyResource, false},
	ActionRedriveDeadLetters:          {anyResource, false},
	ActionRunLifecyclePolicy:          {anyResource, true},
	ActionDescribeRepositories: {func(s metadata.Scope) string {
		return RepositoryARN(metadata.RepoKey{Scope: s, Name: "*"})
	}, true},
	ActionDescribeTemplates: {func(s metadata.Scope) string { return templateARN(s, "*") }, false},
	ActionDescribePTCRules:  {func(s metadata.Scope) string { return ptcRuleARN(s, "*") }, false},
}

func anyResource(metadata.Scope) string { return "*" }

// unexplained are the actions decided on a repository creation template
// or a pull-through cache rule, which a question cannot name.
var unexplained = map[Action]bool{
	ActionCreateTemplate: true, ActionUpdateTemplate: true, ActionDeleteTemplate: true,
	ActionCreatePTCRule: true, ActionUpdatePTCRule: true, ActionDeletePTCRule: true, ActionValidatePTCRule: true,
}

// ExplainAccess answers whether a principal may perform an action on a
// repository or registry, and which statement of which policy decided,
// by deciding the request as it would be decided (decideAccess) for that
// principal. Asking about another principal than oneself reveals its
// policies: it needs iam:SimulatePrincipalPolicy on it (on "*" in the
// registry's account for anonymous callers), as IAM's policy simulator
// does; see identity.Service.Subject. A resource policy's statements are
// named and shown only to an asker that may read that policy
// (ecr:GetRepositoryPolicy, ecr:GetRegistryPolicy), as a denial's
// decoded message describes another account's resource policy without
// its names.
func (r *Registry) ExplainAccess(ctx context.Context, q AccessQuestion) (AccessAnswer, error) {
	action, err := questionAction(q.Action)
	if err != nil {
		return AccessAnswer{}, err
	}
	if unexplained[action] {
		return AccessAnswer{}, paramError("action", "%s is decided on a repository creation template or pull-through cache rule, which a question cannot name", action)
	}
	var (
		key      = metadata.RepoKey{Scope: q.Scope, Name: q.Repository}
		resource string
	)
	if q.Repository == "" {
		rr, ok := registryResources[action]
		if !ok {
			return AccessAnswer{}, paramError("repository", "%s is decided on a repository: name one", action)
		}
		resource = rr.resource(q.Scope)
	} else {
		if rr, ok := registryResources[action]; ok && !rr.repoToo {
			return AccessAnswer{}, paramError("repository", "%s is a registry-level action: it is decided on no repository", action)
		}
		if err := validateRepo(key); err != nil {
			return AccessAnswer{}, err
		}
		resource = RepositoryARN(key)
	}

	who, signed, err := r.ids.Subject(ctx, q.PrincipalARN, q.Scope.Account)
	if err != nil {
		return AccessAnswer{}, subjectError(ctx, q, err)
	}
	// The request as its caller would make it: the principal (or none),
	// and none of the markers of the registry's own writes.
	rctx := identity.WithoutPrincipal(ctx)
	if signed {
		rctx = identity.NewContext(ctx, who)
	}
	rctx = context.WithValue(context.WithValue(rctx, originKey{}, nil), pullThroughKey{}, nil)

	var repo *metadata.Repository
	if q.Repository != "" && action != ActionCreateRepository {
		// Creating a repository is decided without the policy of one that
		// exists under its name, as CreateRepository and a push decide it.
		rp, found, err := r.lookupRepository(ctx, key)
		if err != nil {
			return AccessAnswer{}, err
		}
		if found {
			repo = &rp
		}
	}
	a, err := r.decideAccess(rctx, action, q.Scope, repo, resource)
	if err != nil {
		return AccessAnswer{}, err
	}
	ans := answer(a, who, signed)
	r.statementTexts(ctx, &ans, a, who, q.Scope, repo, key)
	return ans, nil
}

// questionAction checks a question's action: an ECR action, or one of
// ecrd's own, spelled as the registry spells it.
func questionAction(s string) (Action, error) {
	svc, name, ok := strings.Cut(s, ":")
	svc = strings.ToLower(svc)
	if !ok || (svc != "ecr" && svc != "ecrd") || name == "" || strings.ContainsAny(name, ":*? ") {
		return "", paramError("action", "%q is not an ECR action (ecr:BatchGetImage) or one of ecrd's (ecrd:CollectGarbage)", s)
	}
	a := Action(svc + ":" + name)
	// The rules the registry keeps beside IAM's name actions as ECR
	// spells them; IAM matches actions in any case.
	for _, known := range []map[Action]bool{adminActions, pullActions, {ActionCreateRepository: true}} {
		for k := range known {
			if strings.EqualFold(string(k), string(a)) {
				return k, nil
			}
		}
	}
	for k := range registryResources {
		if strings.EqualFold(string(k), string(a)) {
			return k, nil
		}
	}
	for k := range unexplained {
		if strings.EqualFold(string(k), string(a)) {
			return k, nil
		}
	}
	return a, nil
}

// subjectError turns identity's answer to who a question is about into
// the registry's errors.
func subjectError(ctx context.Context, q AccessQuestion, err error) error {
	var e *awserr.Error
	if !errors.As(err, &e) {
		return err
	}
	switch e.Code {
	case identity.CodeAccessDenied:
		_, signed := identity.FromContext(ctx)
		d := &DeniedError{Action: Action(identity.ActionSimulatePrincipalPolicy), Anonymous: !signed}
		if signed {
			d.Explanation = e.Message
		}
		return d
	case identity.CodeNoSuchEntity:
		return &NotFoundError{Kind: KindPrincipal, Key: metadata.RepoKey{Scope: q.Scope}, ID: q.PrincipalARN}
	case identity.CodeInvalidInput:
		return &ParamError{Field: "principalArn", Constraint: e.Message}
	}
	return err
}

// answer describes a decision.
func answer(a access, who identity.Principal, signed bool) AccessAnswer {
	ans := AccessAnswer{Allowed: a.denied == nil, Action: string(a.action), Resource: a.req.Resource, Decision: DecisionImplicitDeny}
	if ans.Resource == "" {
		ans.Resource = "*"
	}
	if signed {
		ans.Principal = a.req.Principal.ARN
		if ans.Principal == "" {
			ans.Principal = who.ARN // the root in its own account, decided without evaluation
		}
	}
	d := a.d
	allows := make([]DecidingStatement, 0, len(d.Allows))
	for _, st := range d.Allows {
		allows = append(allows, deciding(st, "Allow"))
	}
	switch {
	case d.Reason == iampolicy.ExplicitDeny:
		ans.Decision = DecisionExplicitDeny
		if d.Deny != nil {
			st := deciding(*d.Deny, "Deny")
			ans.Statement = &st
		}
	case a.anonymousPull:
		ans.Decision, ans.Rule = DecisionAllowed, RuleAnonymousPull
	case a.anonymous:
		ans.Rule = RuleAnonymous
	case ans.Allowed && who.Type == identity.TypeRoot && who.Account == a.req.ResourceAccount:
		ans.Decision, ans.Rule = DecisionAllowed, RuleRoot
	case ans.Allowed:
		ans.Decision = DecisionAllowed
		i := decidingAllow(d.Allows)
		if i >= 0 {
			ans.Statement = &allows[i]
			allows = append(allows[:i:i], allows[i+1:]...)
		}
	}
	if len(allows) > 0 {
		ans.Also = allows
	}
	if a.denied != nil {
		ans.Message = identity.PlainDenial(a.denied.Error())
	}
	return ans
}

// decidingAllow picks the Allow that decided: an identity or resource
// policy's (a boundary's or session policy's Allow only lets another
// through), the first in evaluation order.
func decidingAllow(allows []iampolicy.Statement) int {
	for i, st := range allows {
		if st.Kind == iampolicy.KindIdentity || st.Kind == iampolicy.KindResource {
			return i
		}
	}
	return -1
}

func deciding(st iampolicy.Statement, effect string) DecidingStatement {
	return DecidingStatement{Policy: st.Policy, Kind: st.Kind, Effect: effect, Sid: st.Sid, Index: st.Index}
}

// statementTexts fills in the text of each statement of an answer, hides
// the resource policies the asker may not read, and words an allow.
func (r *Registry) statementTexts(ctx context.Context, ans *AccessAnswer, a access, who identity.Principal, scope metadata.Scope, repo *metadata.Repository, key metadata.RepoKey) {
	readable := map[string]bool{}
	mayRead := func(policy string) bool {
		v, ok := readable[policy]
		if !ok {
			switch policy {
			case repositoryPolicyName:
				v = repo != nil && r.authorizeRepo(ctx, ActionGetRepositoryPolicy, key, repo) == nil
			case registryPolicyName:
				v = r.authorize(ctx, ActionGetRegistryPolicy, scope, nil, "*") == nil
			}
			readable[policy] = v
		}
		return v
	}
	fill := func(st *DecidingStatement) {
		if st.Kind != iampolicy.KindResource {
			ref := iampolicy.Statement{Policy: st.Policy, Kind: st.Kind, Sid: st.Sid, Index: st.Index}
			st.Text, _ = r.ids.PolicyStatement(ctx, who, ref)
			return
		}
		if !mayRead(st.Policy) {
			st.Policy, st.Sid, st.Index = "", "", 0
			return
		}
		var doc string
		switch st.Policy {
		case repositoryPolicyName:
			if p := r.repositoryPolicy(*repo); p != nil {
				doc = p.String()
			}
		case registryPolicyName:
			if p, err := r.registryPolicy(ctx, scope); err == nil && p != nil {
				doc = p.String()
			}
		}
		st.Text, _ = identity.StatementText(doc, st.Index, st.Sid)
	}
	if ans.Statement != nil {
		fill(ans.Statement)
	}
	for i := range ans.Also {
		fill(&ans.Also[i])
	}
	if ans.Allowed {
		ans.Message = allowMessage(ans, a)
	}
}

// allowMessage words an allow.
func allowMessage(ans *AccessAnswer, a access) string {
	subject := ans.Principal
	if subject == "" {
		subject = "anonymous"
	}
	what := subject + " may perform: " + ans.Action + " on resource: " + ans.Resource
	switch ans.Rule {
	case RuleRoot:
		return "Allowed: " + what + " as its account's root user, which may do anything in its own account that no policy explicitly denies it"
	case RuleAnonymousPull:
		return "Allowed: " + what + ": anonymous callers may pull from a repository tagged " + AnonymousPullTag + "=true"
	}
	msg := "Allowed: " + what
	if ans.Statement != nil {
		msg += " by " + describeStatement(*ans.Statement)
	}
	for i, st := range ans.Also {
		if i == 0 {
			msg += ", with "
		} else {
			msg += " and "
		}
		msg += describeStatement(st)
	}
	return msg
}

// describeStatement names a statement: `statement "Sid" of the
// identity-based policy "name"`.
func describeStatement(st DecidingStatement) string {
	which := "a statement"
	switch {
	case st.Sid != "":
		which = fmt.Sprintf("statement %q", st.Sid)
	case st.Index > 0:
		which = fmt.Sprintf("statement %d", st.Index)
	}
	if st.Policy == "" {
		return which + " of a " + st.Kind + " policy"
	}
	kind := st.Kind
	if kind == iampolicy.KindBoundary {
		return fmt.Sprintf("%s of the permissions boundary %q", which, st.Policy)
	}
	return fmt.Sprintf("%s of the %s policy %q", which, kind, st.Policy)
}
