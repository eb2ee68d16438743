package identity

import (
	"bytes"
	"context"
	"encoding/json"
	"errors"
	"strings"

	"github.com/ecrd/ecrd/internal/awserr"
	"github.com/ecrd/ecrd/internal/awsid"
	"github.com/ecrd/ecrd/internal/iampolicy"
	"github.com/ecrd/ecrd/internal/metadata"
)

// Questions about what a principal may do (the console's Access page):
// who may ask them, which principal a question is about, and the text of
// the statement that decided. The decision itself is the one every
// request gets (Authorize, and the registry's rules around it).

// ActionSimulatePrincipalPolicy is the permission to learn what another
// principal may do, as IAM's policy simulator requires it.
const ActionSimulatePrincipalPolicy = "iam:SimulatePrincipalPolicy"

// AnonymousARN names an anonymous caller in a question.
const AnonymousARN = "*"

// simulatedSession is the session name a question about a role, and
// SimulatePrincipalPolicy, give the role's session.
const simulatedSession = "simulated"

// Subject authorizes the caller to ask what the principal arn may do,
// and returns the principal a request of it carries (ok false: an
// anonymous caller, arn "*"). Any principal may ask about itself (a role
// session about its role): the answer is then for the caller's own
// principal, session policies included. Asking about another principal
// needs iam:SimulatePrincipalPolicy on it, and about anonymous callers on
// "*" in account, the account whose resources the question is about. The
// ARN is checked first, then the permission, then that the principal
// exists: an AccessDenied says nothing of what exists.
func (s *Service) Subject(ctx context.Context, arn, account string) (p Principal, ok bool, err error) {
	asker, signed := FromContext(ctx)
	if !signed {
		return Principal{}, false, awserr.Errorf(CodeAccessDenied, "asking what a principal may do requires signed credentials")
	}
	if arn == AnonymousARN {
		return Principal{}, false, s.allowIn(ctx, ActionSimulatePrincipalPolicy, "*", account)
	}
	who, ok := parsePrincipalARN(arn)
	if !ok {
		return Principal{}, false, awserr.Errorf(CodeInvalidInput, "Invalid principal ARN %s: give a user, a role, an account root (arn:aws:iam::<account>:root) or * for anonymous callers", arn)
	}
	if who.self(asker.normalized()) {
		return asker, true, nil
	}
	if err := s.allowIn(ctx, ActionSimulatePrincipalPolicy, arn, who.account); err != nil {
		return Principal{}, false, err
	}
	p, err = s.principalOf(ctx, who, arn)
	return p, err == nil, err
}

// allowIn authorizes action on resource, owned by account.
func (s *Service) allowIn(ctx context.Context, action, resource, account string) error {
	d, req, err := s.Authorize(ctx, Check{Action: action, Resource: resource, ResourceAccount: account})
	if err != nil {
		return err
	}
	if !d.Allowed {
		return awserr.Errorf(CodeAccessDenied, "%s", s.DenialMessage(d, req))
	}
	return nil
}

// principalARN is a user, role or account root, as an ARN names it.
type principalARN struct {
	account string
	kind    string // metadata.IAMUser, metadata.IAMRole or TypeRoot
	name    string // a user's or role's name, without its path
}

// parsePrincipalARN reads the ARN of a user, a role or an account root.
func parsePrincipalARN(arn string) (principalARN, bool) {
	a, ok := awsid.Parse(arn)
	if !ok || a.Service != "iam" || a.Region != "" || !awsid.ValidAccountID(a.AccountID) {
		return principalARN{}, false
	}
	out := principalARN{account: a.AccountID}
	switch res := a.Resource; {
	case res == "root":
		out.kind = TypeRoot
	case strings.HasPrefix(res, "user/"):
		out.kind = metadata.IAMUser
	case strings.HasPrefix(res, "role/"):
		out.kind = metadata.IAMRole
	default:
		return principalARN{}, false
	}
	if out.kind != TypeRoot {
		out.name = a.Resource[strings.LastIndex(a.Resource, "/")+1:]
		if out.name == "" {
			return principalARN{}, false
		}
	}
	return out, true
}

// self reports whether the ARN names p: its account's root, its user, or
// for a role session its role. IAM names are case-insensitive.
func (w principalARN) self(p Principal) bool {
	if p.Account != w.account {
		return false
	}
	switch w.kind {
	case TypeRoot:
		return p.Type == TypeRoot
	case metadata.IAMUser:
		return p.Type == TypeUser && strings.EqualFold(p.Name, w.name)
	}
	return p.Type == TypeAssumedRole && strings.EqualFold(p.Name, w.name)
}

// principalOf returns the principal a request of an existing user, role
// (as a session of it) or account root carries. A nil Service knows no
// users or roles.
//
// The user or role must carry exactly the ARN given (its path and its
// name's case included): the permission to ask was checked on that ARN,
// so another ARN that happens to end in the same name must not reach it.
func (s *Service) principalOf(ctx context.Context, w principalARN, arn string) (Principal, error) {
	if s == nil {
		// No IAM: only roots, whose accounts are not kept either.
		if w.kind == TypeRoot {
			return Root(w.account), nil
		}
		return Principal{}, noSuchEntity(w.account, w.kind, w.name)
	}
	switch w.kind {
	case TypeRoot:
		if _, err := s.meta.Account(ctx, w.account); errors.Is(err, metadata.ErrNotFound) {
			return Principal{}, awserr.Errorf(CodeNoSuchEntity, "The account %s cannot be found.", w.account)
		} else if err != nil {
			return Principal{}, err
		}
		return Root(w.account), nil
	case metadata.IAMUser:
		u, err := loadEntity[User](ctx, s.meta, w.account, metadata.IAMUser, w.name)
		if err != nil {
			return Principal{}, err
		}
		if u.ARN != arn {
			return Principal{}, noSuchEntity(w.account, w.kind, w.name)
		}
		return u.principal(w.account), nil
	}
	r, err := loadEntity[Role](ctx, s.meta, w.account, metadata.IAMRole, w.name)
	if err != nil {
		return Principal{}, err
	}
	if r.ARN != arn {
		return Principal{}, noSuchEntity(w.account, w.kind, w.name)
	}
	sess := &Session{Account: w.account, Role: r.Name, RoleARN: r.ARN, RoleID: r.ID, Name: simulatedSession}
	return sess.Principal(), nil
}

// PolicyStatement returns the text of a statement that decided a request
// of p (one of its identity policies, its permissions boundary or its
// session's policies), "" when p's policies no longer hold it (one
// changed since the decision).
func (s *Service) PolicyStatement(ctx context.Context, p Principal, st iampolicy.Statement) (string, error) {
	p = p.normalized()
	g, err := s.grantsOf(ctx, p)
	if err != nil {
		return "", err
	}
	var pols []iampolicy.Named
	switch st.Kind {
	case iampolicy.KindIdentity:
		pols = g.identity
	case iampolicy.KindBoundary:
		if g.boundary != nil {
			pols = []iampolicy.Named{*g.boundary}
		}
	case iampolicy.KindSession:
		if p.Session != nil {
			pols = s.sessionPolicies(ctx, p.Session)
		}
	}
	for _, n := range pols {
		if n.Name != st.Policy || n.Policy == nil {
			continue
		}
		// Two policies may share a name (an inline and a managed one):
		// the statement's Sid tells them apart.
		if text, ok := StatementText(n.Policy.String(), st.Index, st.Sid); ok {
			return text, nil
		}
	}
	return "", nil
}

// StatementText returns statement index (from 1) of a policy document,
// indented, if it is there and its Sid is sid ("" for none).
func StatementText(doc string, index int, sid string) (string, bool) {
	var top struct {
		Statement json.RawMessage
	}
	if json.Unmarshal([]byte(doc), &top) != nil {
		return "", false
	}
	raw := bytes.TrimSpace(top.Statement)
	if len(raw) == 0 {
		return "", false
	}
	if raw[0] == '[' {
		var list []json.RawMessage
		if json.Unmarshal(raw, &list) != nil || index < 1 || index > len(list) {
			return "", false
		}
		raw = list[index-1]
	} else if index != 1 {
		return "", false
	}
	var st struct {
		Sid any
	}
	if json.Unmarshal(raw, &st) != nil {
		return "", false
	}
	if got, _ := st.Sid.(string); got != sid {
		return "", false
	}
	var b bytes.Buffer
	if json.Indent(&b, raw, "", "  ") != nil {
		return "", false
	}
	return b.String(), true
}

// WithoutPrincipal returns a context of an anonymous request: the
// registry's answer to a question about anonymous callers is decided on
// it.
func WithoutPrincipal(ctx context.Context) context.Context {
	return context.WithValue(ctx, principalKey{}, nil)
}

// PlainDenial returns a denial's message without its encoded
// authorization message.
func PlainDenial(msg string) string {
	plain, _, _ := strings.Cut(msg, encodedPrefix)
	return plain
}
