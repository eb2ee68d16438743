package iampolicy

import "strings"

// Request is one authorization question.
type Request struct {
	// Action is the IAM action, "ecr:PutImage"; matched case-insensitively.
	Action string
	// Resource is the resource's ARN, or "*" for actions without
	// resource-level permissions ("" is taken as "*").
	Resource string
	// ResourceAccount owns the resource; "" means the principal's account.
	ResourceAccount string
	Principal       Principal
	// Context holds the request's condition keys (aws:SourceIp,
	// aws:SecureTransport, aws:CurrentTime, aws:RequestTag/K, aws:TagKeys,
	// aws:ResourceTag/K, ecr:ResourceTag/K, OIDC claims such as
	// token.actions.githubusercontent.com:sub ...). Keys are matched
	// case-insensitively. The principal keys (aws:PrincipalArn,
	// aws:PrincipalAccount, aws:PrincipalType, aws:userid, aws:username,
	// aws:PrincipalTag/K) come from Principal and override the same keys
	// here.
	Context map[string][]string
}

// Named is a policy with the name the explanation uses.
type Named struct {
	Name   string
	Policy *Policy
}

// Policies are those that apply to one request.
type Policies struct {
	Identity []Named // identity-based policies (none for root: it may do anything in its account)
	Boundary *Named  // permissions boundary, if any
	Session  []Named // session policies, if any
	Resource *Named  // the resource's policy (repository, registry or trust policy), if any
}

// Reason says what decided a Decision.
type Reason int

const (
	Allow           Reason = iota // allowed
	ExplicitDeny                  // a Deny statement matched
	NoIdentityAllow               // no identity-based policy allows
	NoResourceAllow               // no resource-based policy allows (cross-account, trust, anonymous)
	BoundaryDeny                  // the permissions boundary does not allow
	SessionDeny                   // no session policy allows
)

func (r Reason) String() string {
	switch r {
	case Allow:
		return "Allow"
	case ExplicitDeny:
		return "ExplicitDeny"
	case NoIdentityAllow:
		return "NoIdentityAllow"
	case NoResourceAllow:
		return "NoResourceAllow"
	case BoundaryDeny:
		return "BoundaryDeny"
	case SessionDeny:
		return "SessionDeny"
	}
	return "Reason(?)"
}

// Statement names one statement of one policy.
type Statement struct {
	Policy string // the Named.Name
	Sid    string
	Kind   string // "identity-based", "resource-based", "permissions boundary" or "session"
	// Index is the statement's position in its policy, from 1, which
	// names it when it has no Sid.
	Index int
}

// Statement kinds, as the access-denied message words them.
const (
	KindIdentity = "identity-based"
	KindResource = "resource-based"
	KindBoundary = "permissions boundary"
	KindSession  = "session"
)

// Decision is the outcome of Evaluate, with what decided it.
type Decision struct {
	Allowed bool
	Reason  Reason
	Deny    *Statement // for ExplicitDeny: the matching Deny statement
	// Allows are the statements that allowed, for explanations; for a
	// denial, those that allowed on a side that was not enough (an
	// identity policy's Allow when the resource's account did not allow).
	Allows []Statement
}

// scan is what one policy says about a request.
type scan struct {
	deny  int   // index of the first matching Deny statement, or -1
	allow bool  // some Allow statement matches
	grant grant // the strongest principal grant of the matching Allows
}

// scanPolicy evaluates every statement of pol, appending the allowing
// ones to allows.
func scanPolicy(pol *Policy, e *env, name, kind string, allows *[]Statement) scan {
	r := scan{deny: -1}
	if pol == nil {
		return r
	}
	for i := range pol.stmts {
		s := &pol.stmts[i]
		if s.deny && r.deny >= 0 {
			continue
		}
		g, ok := s.applies(e)
		if !ok {
			continue
		}
		if s.deny {
			r.deny = i
			continue
		}
		r.allow = true
		if g > r.grant {
			r.grant = g
		}
		*allows = append(*allows, Statement{Policy: name, Sid: s.sid, Kind: kind, Index: i + 1})
	}
	return r
}

// applies reports whether the statement matches the request, and how
// its Principal names the caller.
func (s *statement) applies(e *env) (grant, bool) {
	req := e.req
	matched := false
	for i := range s.actions {
		if s.actions[i].match(req.Action, true) {
			matched = true
			break
		}
	}
	if matched == s.notAction {
		return grantNone, false
	}
	if s.hasResource && s.matchResource(e) == s.notResource {
		return grantNone, false
	}
	g := grantDirect
	if s.hasPrincipal {
		g = s.principals.match(&req.Principal, e)
		if s.notPrincipal {
			// AWS: a Deny with NotPrincipal always denies a principal
			// that has a permissions boundary.
			if s.deny && e.hasBoundary && req.Principal.iam() {
				g = grantNone
			}
			if g != grantNone {
				return grantNone, false
			}
			var star principals
			star.any = true
			g = star.match(&req.Principal, e)
		} else if g == grantNone {
			return grantNone, false
		}
	}
	for i := range s.conds {
		if !s.conds[i].eval(e) {
			return grantNone, false
		}
	}
	return g, true
}

func (s *statement) matchResource(e *env) bool {
	res := e.req.Resource
	if res == "" {
		res = "*"
	}
	for i := range s.resources {
		r := &s.resources[i]
		p := r.pat
		if r.tmpl.hasVars() {
			var ok bool
			if p, ok = r.tmpl.render(e, true); !ok {
				continue
			}
		}
		if arnMatch(p, res) {
			return true
		}
	}
	return false
}

// Evaluate decides a request as AWS's policy evaluation logic does (IAM
// user guide, "Policy evaluation logic"): an explicit Deny anywhere wins;
// then, in the resource's own account, a resource-policy Allow or an
// identity Allow (within the boundary and session policies) is enough;
// across accounts both sides must allow.
func Evaluate(req Request, p Policies) Decision {
	e := env{req: &req, hasBoundary: p.Boundary != nil && p.Boundary.Policy != nil}
	pr := &req.Principal
	resAcct := req.ResourceAccount
	if resAcct == "" {
		resAcct = pr.Account
	}

	var allows []Statement
	var d Decision
	deny := func(name string, pol *Policy, i int, kind string) {
		if d.Deny == nil {
			d.Deny = &Statement{Policy: name, Sid: pol.stmts[i].sid, Kind: kind, Index: i + 1}
		}
	}

	idAllow := pr.Type == "Account" // root may do anything in its own account
	for _, n := range p.Identity {
		r := scanPolicy(n.Policy, &e, n.Name, KindIdentity, &allows)
		if r.deny >= 0 {
			deny(n.Name, n.Policy, r.deny, KindIdentity)
		}
		idAllow = idAllow || r.allow
	}
	var rg grant
	isTrust := false
	if n := p.Resource; n != nil && n.Policy != nil {
		isTrust = n.Policy.kind == Trust
		r := scanPolicy(n.Policy, &e, n.Name, KindResource, &allows)
		if r.deny >= 0 {
			deny(n.Name, n.Policy, r.deny, KindResource)
		}
		if r.allow {
			rg = r.grant
		}
	}
	bAllow := true
	if n := p.Boundary; n != nil && n.Policy != nil {
		r := scanPolicy(n.Policy, &e, n.Name, KindBoundary, &allows)
		if r.deny >= 0 {
			deny(n.Name, n.Policy, r.deny, KindBoundary)
		}
		bAllow = r.allow
	}
	sAllow := true
	if len(p.Session) > 0 {
		sAllow = false
		for _, n := range p.Session {
			r := scanPolicy(n.Policy, &e, n.Name, KindSession, &allows)
			if r.deny >= 0 {
				deny(n.Name, n.Policy, r.deny, KindSession)
			}
			sAllow = sAllow || r.allow
		}
	}
	if d.Deny != nil {
		d.Reason = ExplicitDeny
		return d
	}

	allowed := func() Decision { return Decision{Allowed: true, Reason: Allow, Allows: allows} }
	denied := func(r Reason) Decision { return Decision{Reason: r, Allows: allows} }

	// Callers that are not IAM principals of an account (anonymous, web
	// identities before AssumeRoleWithWebIdentity, services) have no
	// identity side: only a resource policy can allow them.
	if !pr.iam() {
		if rg != grantNone {
			return allowed()
		}
		return denied(NoResourceAllow)
	}
	// The root user of the resource's account.
	if pr.Type == "Account" && pr.Account == resAcct && !isTrust {
		return allowed()
	}
	identityOK := idAllow && bAllow && sAllow
	if pr.Account == resAcct {
		switch {
		case rg == grantDirect:
			return allowed()
		case rg == grantRole && bAllow && sAllow:
			return allowed()
		case identityOK && (!isTrust || rg != grantNone):
			return allowed()
		case isTrust && rg == grantNone:
			return denied(NoResourceAllow)
		case !idAllow && rg < grantRole:
			return denied(NoIdentityAllow)
		case !bAllow:
			return denied(BoundaryDeny)
		case !sAllow:
			return denied(SessionDeny)
		}
		return denied(NoIdentityAllow)
	}
	// Cross-account: both sides must allow.
	switch {
	case identityOK && rg != grantNone:
		return allowed()
	case !idAllow:
		return denied(NoIdentityAllow)
	case !bAllow:
		return denied(BoundaryDeny)
	case !sAllow:
		return denied(SessionDeny)
	}
	return denied(NoResourceAllow)
}

// Message is AWS's access-denied text for a denied decision, e.g. "User:
// arn:aws:iam::123456789012:user/dev is not authorized to perform:
// ecr:PutImage on resource: arn:aws:ecr:us-east-1:123456789012:repository/app
// because no identity-based policy allows the ecr:PutImage action". It is
// "" for an allowed decision.
func (d Decision) Message(req Request) string {
	if d.Allowed {
		return ""
	}
	who := "anonymous"
	p := &req.Principal
	switch {
	case p.Type == "WebIdentity" && p.Provider != "":
		who = p.Provider
	case !p.anonymous() && p.ARN != "":
		who = p.ARN
	}
	res := req.Resource
	if res == "" {
		res = "*"
	}
	var b strings.Builder
	b.WriteString("User: ")
	b.WriteString(who)
	b.WriteString(" is not authorized to perform: ")
	b.WriteString(req.Action)
	b.WriteString(" on resource: ")
	b.WriteString(res)
	switch d.Reason {
	case ExplicitDeny:
		b.WriteString(" with an explicit deny in ")
		kind := KindResource
		if d.Deny != nil {
			kind = d.Deny.Kind
		}
		switch kind {
		case KindIdentity:
			b.WriteString("an identity-based policy")
		case KindBoundary:
			b.WriteString("a permissions boundary")
		case KindSession:
			b.WriteString("a session policy")
		default:
			b.WriteString("a resource-based policy")
		}
		return b.String()
	case NoResourceAllow:
		b.WriteString(" because no resource-based policy allows the ")
	case BoundaryDeny:
		b.WriteString(" because no permissions boundary allows the ")
	case SessionDeny:
		b.WriteString(" because no session policy allows the ")
	default:
		b.WriteString(" because no identity-based policy allows the ")
	}
	b.WriteString(req.Action)
	b.WriteString(" action")
	return b.String()
}
