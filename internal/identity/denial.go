package identity

import (
	"bytes"
	"compress/flate"
	"context"
	"encoding/base64"
	"encoding/json"
	"io"
	"maps"
	"slices"
	"strings"

	"github.com/ecrd/ecrd/internal/awserr"
	"github.com/ecrd/ecrd/internal/iampolicy"
)

// An access denial explains itself, as EC2's do: AWS's message, then
// "Encoded authorization failure message: <opaque>", which
// DecodeAuthorizationMessage (sts:DecodeAuthorizationMessage) turns into
// JSON saying which statement of which policy decided, or that none
// allowed, with the principal, action, resource and context keys. The
// opaque part is that JSON, compressed and sealed under the server
// keyring, bound to the denied principal's account: only this server's
// keys open it, and only for that account.

const encodedPrefix = ". Encoded authorization failure message: "

// DenialMessage is the message of an AccessDenied for a denied decision
// and the request Authorize decided: AWS's text, with the encoded
// authorization message appended. A nil Service, or an anonymous
// caller (whose message no account could decode), gets AWS's text alone.
func (s *Service) DenialMessage(d iampolicy.Decision, req iampolicy.Request) string {
	return s.withEncoded(d.Message(req), d, req)
}

// withEncoded appends the encoded explanation of a denial to msg.
func (s *Service) withEncoded(msg string, d iampolicy.Decision, req iampolicy.Request) string {
	if s == nil || s.keys == nil || req.Principal.Account == "" {
		return msg
	}
	b, err := json.Marshal(decodedMessage(d, req))
	if err != nil {
		return msg
	}
	var z bytes.Buffer
	w, _ := flate.NewWriter(&z, flate.BestCompression)
	w.Write(b)
	w.Close()
	sealed := s.keys.Seal(z.Bytes(), messageContext(req.Principal.Account))
	return msg + encodedPrefix + base64.RawURLEncoding.EncodeToString(sealed)
}

// messageContext binds a sealed message to the account that may decode
// it.
func messageContext(account string) []byte { return []byte("authorization-message\x00" + account) }

// maxDecodedMessage bounds what decoding inflates.
const maxDecodedMessage = 1 << 20

// DecodeAuthorizationMessage opens an encoded authorization message for
// the caller, which needs sts:DecodeAuthorizationMessage, and returns its
// JSON. A message this server did not encode for the caller's account is
// InvalidAuthorizationMessageException.
func (s *Service) DecodeAuthorizationMessage(ctx context.Context, encoded string) (string, error) {
	p, ok := FromContext(ctx)
	if !ok {
		return "", awserr.Errorf(CodeAccessDenied, "DecodeAuthorizationMessage requires signed credentials")
	}
	d, req, err := s.Authorize(ctx, Check{Action: "sts:DecodeAuthorizationMessage", Resource: "*", ResourceAccount: p.Account})
	if err != nil {
		return "", err
	}
	if !d.Allowed {
		return "", awserr.Errorf(CodeAccessDenied, "%s", s.DenialMessage(d, req))
	}
	invalid := awserr.Errorf(CodeInvalidMessage, "The encoded authorization message is not valid: it was not issued by this server for account %s.", p.Account)
	sealed, err := base64.RawURLEncoding.Strict().DecodeString(strings.TrimSpace(encoded))
	if err != nil || len(sealed) == 0 {
		return "", invalid
	}
	z, err := s.keys.Open(sealed, messageContext(p.Account))
	if err != nil {
		return "", invalid
	}
	b, err := io.ReadAll(io.LimitReader(flate.NewReader(bytes.NewReader(z)), maxDecodedMessage+1))
	if err != nil || len(b) > maxDecodedMessage || !json.Valid(b) {
		return "", invalid
	}
	return string(b), nil
}

// The decoded message, in the shape of AWS's DecodedMessage.
type (
	decoded struct {
		Allowed           bool         `json:"allowed"`
		ExplicitDeny      bool         `json:"explicitDeny"`
		MatchedStatements items[match] `json:"matchedStatements"`
		Failures          items[value] `json:"failures"`
		Context           decodedCtx   `json:"context"`
	}
	items[T any] struct {
		Items []T `json:"items"`
	}
	value struct {
		Value string `json:"value"`
	}
	// match is a statement that matched: AWS's statementId and effect,
	// and which policy it is in (the policy's name, its kind, and the
	// statement's position, which names a statement without a Sid).
	match struct {
		StatementID    string `json:"statementId"`
		Effect         string `json:"effect"`
		Policy         string `json:"policy,omitempty"`
		PolicyType     string `json:"policyType"`
		StatementIndex int    `json:"statementIndex,omitempty"`
	}
	decodedCtx struct {
		Principal  decodedPrincipal `json:"principal"`
		Action     string           `json:"action"`
		Resource   string           `json:"resource"`
		Conditions items[condition] `json:"conditions"`
	}
	decodedPrincipal struct {
		ID   string `json:"id"`
		Name string `json:"name,omitempty"`
		ARN  string `json:"arn"`
	}
	condition struct {
		Key    string       `json:"key"`
		Values items[value] `json:"values"`
	}
)

// decodedMessage explains a decision: the deny that decided, or the
// statements that allowed on a side that was not enough and the side
// that did not allow; the context keys the request carried.
func decodedMessage(d iampolicy.Decision, req iampolicy.Request) decoded {
	p := &req.Principal
	res := req.Resource
	if res == "" {
		res = "*"
	}
	out := decoded{
		Allowed:           d.Allowed,
		ExplicitDeny:      d.Reason == iampolicy.ExplicitDeny,
		MatchedStatements: items[match]{Items: []match{}},
		Failures:          items[value]{Items: []value{}},
		Context: decodedCtx{
			Principal: decodedPrincipal{ID: p.UserID, Name: p.Username, ARN: p.ARN},
			Action:    req.Action, Resource: res,
			Conditions: items[condition]{Items: conditionsOf(req)},
		},
	}
	// Another account's resource policy is its own: its statements are
	// described without their policy's name and Sid.
	foreign := req.ResourceAccount != "" && req.ResourceAccount != p.Account
	add := func(st iampolicy.Statement, effect string) {
		m := match{StatementID: st.Sid, Effect: effect, Policy: st.Policy, PolicyType: st.Kind, StatementIndex: st.Index}
		if foreign && st.Kind == iampolicy.KindResource {
			m.StatementID, m.Policy, m.StatementIndex = "", "", 0
		}
		out.MatchedStatements.Items = append(out.MatchedStatements.Items, m)
	}
	if d.Deny != nil {
		add(*d.Deny, "DENY")
	}
	for _, st := range d.Allows {
		add(st, "ALLOW")
	}
	if !d.Allowed && d.Reason != iampolicy.ExplicitDeny {
		why := "no identity-based policy allows the " + req.Action + " action"
		switch d.Reason {
		case iampolicy.NoResourceAllow:
			why = "no resource-based policy allows the " + req.Action + " action"
		case iampolicy.BoundaryDeny:
			why = "no permissions boundary allows the " + req.Action + " action"
		case iampolicy.SessionDeny:
			why = "no session policy allows the " + req.Action + " action"
		}
		out.Failures.Items = append(out.Failures.Items, value{why})
	}
	return out
}

// conditionsOf lists the request's context keys: the principal's, and
// those the policies read, sorted.
func conditionsOf(req iampolicy.Request) []condition {
	p := &req.Principal
	kv := map[string][]string{}
	set := func(k string, v ...string) {
		if len(v) > 0 && v[0] != "" {
			kv[k] = v
		}
	}
	set("aws:PrincipalAccount", p.Account)
	set("aws:PrincipalType", p.Type)
	set("aws:userid", p.UserID)
	if p.Type == "User" {
		set("aws:username", p.Username)
	}
	arn := p.ARN
	if p.RoleARN != "" {
		arn = p.RoleARN
	}
	set("aws:PrincipalArn", arn)
	for k, v := range p.Tags {
		set("aws:PrincipalTag/"+k, v)
	}
	set("aws:ResourceAccount", req.ResourceAccount)
	for k, v := range req.Context {
		set(k, v...)
	}
	out := make([]condition, 0, len(kv))
	for _, k := range slices.Sorted(maps.Keys(kv)) {
		c := condition{Key: k}
		for _, v := range kv[k] {
			c.Values.Items = append(c.Values.Items, value{v})
		}
		out = append(out, c)
	}
	return out
}
