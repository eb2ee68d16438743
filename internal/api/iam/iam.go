// Package iam serves the slice of AWS IAM that ecrd has (query protocol,
// XML). Today that is SimulateCustomPolicy, which runs ecrd's IAM
// evaluator (internal/iampolicy) over policies the caller gives, so that
// `aws iam simulate-custom-policy` explains any decision: allowed, or
// denied by an explicit or an implicit deny, with the statements that
// decided.
package iam

import (
	"fmt"
	"net/http"
	"net/url"
	"strconv"
	"strings"

	"github.com/ecrd/ecrd/internal/api/awsquery"
	"github.com/ecrd/ecrd/internal/auth"
	"github.com/ecrd/ecrd/internal/iampolicy"
)

// XMLNS is IAM's XML namespace.
const XMLNS = "https://iam.amazonaws.com/doc/2010-05-08/"

// Handler serves IAM.
type Handler struct{}

// New returns the IAM handler.
func New() *Handler { return &Handler{} }

// Error is an IAM error answer.
type Error struct {
	Code    string
	Message string
}

func (e *Error) Error() string { return e.Code + ": " + e.Message }

// Serve answers an authenticated IAM request.
func (h *Handler) Serve(w http.ResponseWriter, c auth.Caller, form url.Values, requestID string) {
	var (
		result any
		err    error
	)
	switch action := form.Get("Action"); action {
	case "SimulateCustomPolicy":
		result, err = simulateCustomPolicy(c, form)
	case "GetPolicy":
		result, err = getPolicy(form)
	case "GetPolicyVersion":
		result, err = getPolicyVersion(form)
	case "ListPolicies":
		result, err = listPolicies(form)
	default:
		err = &Error{"InvalidAction", "Could not find operation " + action + " for version " + form.Get("Version")}
	}
	if err != nil {
		e, ok := err.(*Error)
		if !ok {
			e = &Error{"ServiceFailure", err.Error()}
		}
		status := http.StatusBadRequest
		switch e.Code {
		case "NoSuchEntity":
			status = http.StatusNotFound
		case "ServiceFailure":
			status = http.StatusInternalServerError
		}
		awsquery.WriteError(w, XMLNS, e.Code, e.Message, status, requestID)
		return
	}
	awsquery.WriteResult(w, XMLNS, form.Get("Action"), requestID, result)
}

// members returns the values of a query list parameter, name.member.N,
// in order.
func members(form url.Values, name string) []string {
	var out []string
	for i := 1; ; i++ {
		v, ok := form[name+".member."+strconv.Itoa(i)]
		if !ok {
			return out
		}
		out = append(out, v[0])
	}
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
func simulateCustomPolicy(c auth.Caller, form url.Values) (any, error) {
	docs, actions := members(form, "PolicyInputList"), members(form, "ActionNames")
	if len(docs) == 0 || len(actions) == 0 {
		return nil, &Error{"InvalidInput", "PolicyInputList and ActionNames must each have at least one member"}
	}
	var pols iampolicy.Policies
	for i, doc := range docs {
		p, err := parse(doc, iampolicy.Identity)
		if err != nil {
			return nil, err
		}
		pols.Identity = append(pols.Identity, iampolicy.Named{Name: fmt.Sprintf("PolicyInputList.%d", i+1), Policy: p})
	}
	if b := members(form, "PermissionsBoundaryPolicyInputList"); len(b) > 0 {
		p, err := parse(b[0], iampolicy.Identity)
		if err != nil {
			return nil, err
		}
		pols.Boundary = &iampolicy.Named{Name: "PermissionsBoundaryPolicyInputList.1", Policy: p}
	}
	if doc := form.Get("ResourcePolicy"); doc != "" {
		if form.Get("CallerArn") == "" {
			return nil, &Error{"InvalidInput", "CallerArn is required when a ResourcePolicy is given"}
		}
		p, err := parse(doc, iampolicy.Resource)
		if err != nil {
			return nil, err
		}
		pols.Resource = &iampolicy.Named{Name: "ResourcePolicy", Policy: p}
	}
	principal := iampolicy.Principal{Type: "User", Account: c.Principal.Account, ARN: "arn:aws:iam::" + c.Principal.Account + ":user/simulated"}
	if arn := form.Get("CallerArn"); arn != "" {
		var err error
		if principal, err = principalOf(arn); err != nil {
			return nil, err
		}
	}
	owner := c.Principal.Account
	if o := form.Get("ResourceOwner"); o != "" {
		// An account's ARN (arn:aws:iam::ACCOUNT:root), or its ID.
		if parts := strings.Split(o, ":"); len(parts) == 6 && parts[0] == "arn" {
			o = parts[4]
		}
		owner = o
	}
	context := map[string][]string{}
	for i := 1; ; i++ {
		prefix := "ContextEntries.member." + strconv.Itoa(i) + "."
		name := form.Get(prefix + "ContextKeyName")
		if name == "" {
			break
		}
		context[name] = members(form, prefix+"ContextKeyValues")
	}
	resources := members(form, "ResourceArns")
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
		typ := "none"
		if s.Kind == iampolicy.KindResource {
			typ = "resource"
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
			return nil, &Error{"MalformedPolicyDocument", me.Message}
		}
		return nil, err
	}
	return p, nil
}

// principalOf reads CallerArn: a user, a role session, or an account root.
func principalOf(arn string) (iampolicy.Principal, error) {
	parts := strings.SplitN(arn, ":", 6)
	if len(parts) != 6 || parts[0] != "arn" || len(parts[4]) != 12 {
		return iampolicy.Principal{}, &Error{"InvalidInput", "Invalid ARN " + arn + ": give a user, role session or account root ARN"}
	}
	p := iampolicy.Principal{Account: parts[4], ARN: arn}
	switch res := parts[5]; {
	case res == "root":
		p.Type = "Account"
	case strings.HasPrefix(res, "user/"):
		p.Type = "User"
		p.Username = res[strings.LastIndex(res, "/")+1:]
	case parts[2] == "sts" && strings.HasPrefix(res, "assumed-role/"):
		p.Type = "AssumedRole"
		role, _, _ := strings.Cut(strings.TrimPrefix(res, "assumed-role/"), "/")
		p.RoleARN = "arn:aws:iam::" + parts[4] + ":role/" + role
	default:
		return iampolicy.Principal{}, &Error{"InvalidInput", "Invalid ARN " + arn + ": give a user, role session or account root ARN"}
	}
	return p, nil
}
