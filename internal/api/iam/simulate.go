package iam

import (
	"context"
	"fmt"
	"strconv"
	"strings"

	"github.com/ecrd/ecrd/internal/api/awsquery"
	"github.com/ecrd/ecrd/internal/auth"
	"github.com/ecrd/ecrd/internal/awsid"
	"github.com/ecrd/ecrd/internal/iampolicy"
	"github.com/ecrd/ecrd/internal/identity"
)

var simulateOps = map[string]op{
	"SimulateCustomPolicy":    simulateCustomPolicy,
	"SimulatePrincipalPolicy": simulatePrincipalPolicy,
}

// EvaluationResult is one action on one resource, as IAM answers it.
type EvaluationResult struct {
	EvalActionName       string
	EvalResourceName     string
	EvalDecision         string
	MatchedStatements    []Statement `xml:"MatchedStatements>member"`
	MissingContextValues []string    `xml:"MissingContextValues>member"`
}

// Statement names a statement that decided.
type Statement struct {
	SourcePolicyId   string
	SourcePolicyType string
}

type simulateResult struct {
	EvaluationResults []EvaluationResult `xml:"EvaluationResults>member"`
	IsTruncated       bool
}

// simulateCustomPolicy evaluates each action on each resource under the
// given identity policies (and the optional resource policy and
// permissions boundary), for CallerArn or, without one, for a user of the
// caller's account.
func simulateCustomPolicy(_ *Handler, _ context.Context, c auth.Caller, f awsquery.Form) (any, error) {
	if len(f.Members("PolicyInputList")) == 0 {
		return nil, invalid(identity.CodeInvalidInput, "PolicyInputList must have at least one member")
	}
	principal := iampolicy.Principal{Type: "User", Account: c.Principal.Account, ARN: awsid.IAM(c.Principal.Account, "user/simulated")}
	if arn := f.Get("CallerArn"); arn != "" {
		var err error
		if principal, err = principalOf(arn); err != nil {
			return nil, err
		}
	}
	return simulate(c, f, principal, iampolicy.Policies{})
}

// simulatePrincipalPolicy evaluates under the policies of a user, role or
// the root (PolicySourceArn), plus any given in PolicyInputList.
func simulatePrincipalPolicy(h *Handler, ctx context.Context, c auth.Caller, f awsquery.Form) (any, error) {
	arn, err := f.Required("PolicySourceArn")
	if err != nil {
		return nil, err
	}
	principal, pols, err := h.ids.PrincipalPolicies(ctx, arn)
	if err != nil {
		return nil, err
	}
	if caller := f.Get("CallerArn"); caller != "" {
		if principal, err = principalOf(caller); err != nil {
			return nil, err
		}
	}
	return simulate(c, f, principal, pols)
}

// simulate adds the request's policies to pols and evaluates every action
// on every resource.
func simulate(c auth.Caller, f awsquery.Form, principal iampolicy.Principal, pols iampolicy.Policies) (any, error) {
	actions := f.Members("ActionNames")
	if len(actions) == 0 {
		return nil, invalid(identity.CodeInvalidInput, "ActionNames must have at least one member")
	}
	for i, doc := range f.Members("PolicyInputList") {
		p, err := parse(doc, iampolicy.Identity)
		if err != nil {
			return nil, err
		}
		pols.Identity = append(pols.Identity, iampolicy.Named{Name: fmt.Sprintf("PolicyInputList.%d", i+1), Policy: p})
	}
	if b := f.Members("PermissionsBoundaryPolicyInputList"); len(b) > 0 {
		p, err := parse(b[0], iampolicy.Identity)
		if err != nil {
			return nil, err
		}
		pols.Boundary = &iampolicy.Named{Name: "PermissionsBoundaryPolicyInputList.1", Policy: p}
	}
	if doc := f.Get("ResourcePolicy"); doc != "" {
		if f.Get("CallerArn") == "" && principal.ARN == "" {
			return nil, invalid(identity.CodeInvalidInput, "CallerArn is required when a ResourcePolicy is given")
		}
		p, err := parse(doc, iampolicy.Resource)
		if err != nil {
			return nil, err
		}
		pols.Resource = &iampolicy.Named{Name: "ResourcePolicy", Policy: p}
	}
	owner := c.Principal.Account
	if o := f.Get("ResourceOwner"); o != "" {
		// An account's ARN (arn:aws:iam::ACCOUNT:root), or its ID.
		if a, ok := awsid.Parse(o); ok {
			o = a.AccountID
		}
		owner = o
	}
	context := map[string][]string{}
	for i := 1; ; i++ {
		prefix := "ContextEntries.member." + strconv.Itoa(i) + "."
		name := f.Get(prefix + "ContextKeyName")
		if name == "" {
			break
		}
		context[name] = f.Members(prefix + "ContextKeyValues")
	}
	resources := f.Members("ResourceArns")
	if len(resources) == 0 {
		resources = []string{"*"}
	}
	out := simulateResult{}
	for _, action := range actions {
		for _, res := range resources {
			req := iampolicy.Request{Action: action, Resource: res, ResourceAccount: owner, Principal: principal, Context: context}
			out.EvaluationResults = append(out.EvaluationResults, result(req, iampolicy.Evaluate(req, pols)))
		}
	}
	return out, nil
}

// result writes a decision as IAM's EvaluationResult.
func result(req iampolicy.Request, d iampolicy.Decision) EvaluationResult {
	r := EvaluationResult{EvalActionName: req.Action, EvalResourceName: req.Resource, EvalDecision: "implicitDeny"}
	stmt := func(s iampolicy.Statement) Statement {
		typ := "IAM Policy"
		switch s.Kind {
		case iampolicy.KindResource:
			typ = "resource"
		case iampolicy.KindBoundary:
			typ = "permissions boundary"
		case iampolicy.KindSession:
			typ = "session"
		}
		return Statement{SourcePolicyId: s.Policy, SourcePolicyType: typ}
	}
	switch {
	case d.Allowed:
		r.EvalDecision = "allowed"
		for _, s := range d.Allows {
			r.MatchedStatements = append(r.MatchedStatements, stmt(s))
		}
	case d.Reason == iampolicy.ExplicitDeny && d.Deny != nil:
		r.EvalDecision = "explicitDeny"
		r.MatchedStatements = append(r.MatchedStatements, stmt(*d.Deny))
	}
	return r
}

func parse(doc string, kind iampolicy.Kind) (*iampolicy.Policy, error) {
	p, err := iampolicy.Parse(doc, kind)
	if err != nil {
		if me, ok := err.(*iampolicy.MalformedError); ok {
			return nil, invalid(identity.CodeMalformedPolicy, me.Message)
		}
		return nil, err
	}
	return p, nil
}

// principalOf reads CallerArn: a user, a role session, or an account root.
func principalOf(arn string) (iampolicy.Principal, error) {
	a, ok := awsid.Parse(arn)
	bad := invalid(identity.CodeInvalidInput, "Invalid ARN "+arn+": give a user, role session or account root ARN")
	if !ok {
		return iampolicy.Principal{}, bad
	}
	p := iampolicy.Principal{Account: a.AccountID, ARN: arn}
	switch res := a.Resource; {
	case res == "root":
		p.Type = "Account"
	case strings.HasPrefix(res, "user/"):
		p.Type = "User"
		p.Username = res[strings.LastIndex(res, "/")+1:]
	case a.Service == "sts" && strings.HasPrefix(res, "assumed-role/"):
		p.Type = "AssumedRole"
		role, _, _ := strings.Cut(strings.TrimPrefix(res, "assumed-role/"), "/")
		p.RoleARN = awsid.IAM(a.AccountID, "role/"+role)
	default:
		return iampolicy.Principal{}, bad
	}
	return p, nil
}
