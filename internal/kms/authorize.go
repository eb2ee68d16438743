package kms

// Authorization. KMS evaluates IAM policies with one difference from other
// resources (AWS KMS developer guide, "Key policies"): the key policy must
// allow the request. An identity-based policy alone is never enough, not
// even in the key's own account, and not even for the account's root. A
// key policy statement whose principal is the account (its ID or
// arn:aws:iam::ACCOUNT:root, as the default key policy's) delegates to
// IAM: the account's users and roles then also need an identity-based
// allow, and the root, which IAM lets do anything in its account, needs
// nothing more.
//
// identity.Service.Authorize evaluates with the key policy as the
// resource policy; IAM's same-account rule there already requires an
// identity allow when the only resource-policy grant names the account,
// and lets a statement naming the caller directly suffice. What IAM adds
// that KMS does not have is the allow from an identity policy alone (and
// the root's implicit allow), so keyPolicyRule turns an allowed decision
// that no key-policy statement took part in into a denial, with AWS's
// "because no resource-based policy allows ..." message. A grant then
// supplies a missing allow (withGrants; see grants.go).

import (
	"context"
	"errors"
	"fmt"
	"slices"
	"strconv"

	"github.com/ecrd/ecrd/internal/awserr"
	"github.com/ecrd/ecrd/internal/iampolicy"
	"github.com/ecrd/ecrd/internal/identity"
)

// keyPolicyName is how denial explanations and simulations name a key
// policy.
const keyPolicyName = "key policy"

type compiledPolicy struct {
	doc string
	pol *iampolicy.Policy
}

// parseKeyPolicy compiles a key policy: an IAM resource-based policy
// (Principal required). A document IAM would refuse is
// MalformedPolicyDocumentException with IAM's reason.
func parseKeyPolicy(doc string) (*iampolicy.Policy, error) {
	p, err := iampolicy.Parse(doc, iampolicy.Resource)
	var me *iampolicy.MalformedError
	if errors.As(err, &me) {
		return nil, awserr.Errorf(CodeMalformedPolicy, "%s", me.Message)
	}
	return p, err
}

// keyPolicy returns a key's compiled policy, compiled once per text.
func (s *Service) keyPolicy(k *Key) (*iampolicy.Policy, error) {
	if v, ok := s.policies.Load(k.ARN); ok {
		if c := v.(compiledPolicy); c.doc == k.Policy {
			return c.pol, nil
		}
	}
	p, err := parseKeyPolicy(k.Policy)
	if err != nil {
		return nil, fmt.Errorf("the stored key policy of %s does not compile: %w", k.ARN, err)
	}
	s.policies.Store(k.ARN, compiledPolicy{doc: k.Policy, pol: p})
	return p, nil
}

// authorizeKey decides whether the caller may take action on a key under
// its current policy.
func (s *Service) authorizeKey(ctx context.Context, action string, k *Key, encCtx map[string]string) error {
	pol, err := s.keyPolicy(k)
	if err != nil {
		return err
	}
	return s.authorizeWith(ctx, action, k, pol, encCtx)
}

// authorizeWith decides an action on a key under a given key policy.
func (s *Service) authorizeWith(ctx context.Context, action string, k *Key, pol *iampolicy.Policy, encCtx map[string]string) error {
	d, req, err := s.ids.Authorize(ctx, keyCheck(ctx, action, k, pol, encCtx))
	if err != nil {
		return err
	}
	if d, err = s.withGrants(ctx, action, k, encCtx, keyPolicyRule(d)); err != nil {
		return err
	}

	if d = keyPolicyRule(d); !d.Allowed {
		return awserr.Errorf(CodeAccessDenied, "%s", s.ids.DenialMessage(d, req))
	}
	return nil
}

// keyPolicyRule applies KMS's rule to IAM's decision: a request that no
// key-policy statement allowed is denied.
func keyPolicyRule(d iampolicy.Decision) iampolicy.Decision {
	if !d.Allowed {
		return d
	}
	for _, st := range d.Allows {
		if st.Kind == iampolicy.KindResource {
			return d
		}
	}
	return iampolicy.Decision{Reason: iampolicy.NoResourceAllow}
}

// authorizeAccount decides an action that has no key to ask (CreateKey,
// ListKeys, ListAliases, and the alias half of the alias operations): the
// caller's identity policies alone decide, on resource (an alias ARN, or
// "*").
func (s *Service) authorizeAccount(ctx context.Context, action, resource, account string, keys func(set func(k, v string))) error {
	d, req, err := s.ids.Authorize(ctx, identity.Check{Action: action, Resource: resource, ResourceAccount: account, Keys: keys})
	if err != nil {
		return err
	}
	if !d.Allowed {
		return awserr.Errorf(CodeAccessDenied, "%s", s.ids.DenialMessage(d, req))
	}
	return nil
}

// checkLockout is KMS's policy lockout safety check: a new key policy
// must still let the caller change it (kms:PutKeyPolicy), unless the
// caller bypasses the check.
func (s *Service) checkLockout(ctx context.Context, k *Key, pol *iampolicy.Policy) error {
	err := s.authorizeWith(ctx, "kms:PutKeyPolicy", k, pol, nil)
	if awserr.Code(err) == CodeAccessDenied {
		return awserr.Errorf(CodeMalformedPolicy, "The new key policy will not allow you to update the key policy in the future.")
	}
	return err
}

// A change is authorized before its transaction, never inside it: the
// function of a write transaction may run more than once, and Authorize
// reads the store and its caches. What a decision on a key reads of it
// is its key policy and its tags (its ARN, key spec, usage and origin
// never change) and, for a CreateGrant that a grant allows, that grant;
// a change of an alias is decided on the key the alias names. The
// transaction reads the key (and alias) again: if the policy or tags are
// not those decided on (changed meanwhile, through this process or
// another, or read from a cache another process's change had not reached
// yet), the grant is gone, or the alias names another key, the decision
// is stale. Then this process's copy of the key is dropped and the call
// is decided and made once more, which answers as if it had come after
// the other change; a second stale decision in a row answers
// ConflictException, and the client tries again. (A key deleted
// meanwhile needs no second try: NotFoundException is the answer either
// way, as resolving a key comes before authorizing.)

// staleError is how a transaction says that what its change was decided
// on has changed: the key, or alias, of ARN arn.
type staleError struct{ arn string }

func (e *staleError) Error() string {
	return "what a change of " + e.arn + " was authorized on changed before its transaction"
}

// decidedOn checks, in a transaction, that key cur is as a decision read
// it (was).
func decidedOn(was, cur *Key) error {
	if cur.Policy != was.Policy || !slices.Equal(cur.Tags, was.Tags) {
		return &staleError{arn: cur.ARN}
	}
	return nil
}

// decided runs op, a change that is decided and then made in a
// transaction that refuses a stale decision, at most twice.
func (s *Service) decided(op func() error) error {
	var stale *staleError
	for range 2 {
		err := op()
		if !errors.As(err, &stale) {
			return err
		}
		s.docs.Delete(stale.arn)
	}
	return awserr.Errorf(CodeConflict, "The request was rejected because %s changed while the request was being made: another request changed its key policy, tags or grants, or where an alias points. Retry the request.", stale.arn)
}

// keyConditions sets the condition keys a key-policy decision can read.
func keyConditions(ctx context.Context, k *Key, encCtx map[string]string, set func(k, v string)) {
	if p, ok := identity.FromContext(ctx); ok {
		set("kms:CallerAccount", p.Account)
	}
	set("kms:KeySpec", k.KeySpec)
	set("kms:KeyUsage", k.KeyUsage)
	set("kms:KeyOrigin", k.Origin)
	set("kms:MultiRegion", strconv.FormatBool(k.MultiRegion))
	for _, t := range k.Tags {
		set("aws:ResourceTag/"+t.Key, t.Value)
	}
	for key, v := range encCtx {
		set("kms:EncryptionContext:"+key, v)
		set("kms:EncryptionContextKeys", key)
	}
	if extra := requestConditions(ctx); extra != nil {
		extra(set)
	}
}

// requestTags sets the condition keys of tags a request adds.
func requestTags(ctx context.Context, tags []Tag) func(set func(k, v string)) {
	return func(set func(k, v string)) {
		if p, ok := identity.FromContext(ctx); ok {
			set("kms:CallerAccount", p.Account)
		}
		for _, t := range tags {
			set("aws:RequestTag/"+t.Key, t.Value)
			set("aws:TagKeys", t.Key)
		}
	}
}

// callerAccount is the account of the request's principal ("" when
// anonymous).
func callerAccount(ctx context.Context) string {
	p, _ := identity.FromContext(ctx)
	return p.Account
}

// keyCheck is the authorization question of an action on a key, with its
// key policy as the resource policy.
func keyCheck(ctx context.Context, action string, k *Key, pol *iampolicy.Policy, encCtx map[string]string) identity.Check {
	return identity.Check{
		Action:          action,
		Resource:        k.ARN,
		ResourceAccount: k.Account,
		Policy:          &iampolicy.Named{Name: keyPolicyName, Policy: pol},
		Keys:            func(set func(k, v string)) { keyConditions(ctx, k, encCtx, set) },
	}
}

// policyDecision is the decision of the key policy and IAM alone, KMS's
// rule applied, grants left out.
func (s *Service) policyDecision(ctx context.Context, action string, k *Key, encCtx map[string]string) (iampolicy.Decision, iampolicy.Request, error) {
	pol, err := s.keyPolicy(k)
	if err != nil {
		return iampolicy.Decision{}, iampolicy.Request{}, err
	}
	d, req, err := s.ids.Authorize(ctx, keyCheck(ctx, action, k, pol, encCtx))
	return keyPolicyRule(d), req, err
}

// withGrants lets a grant supply the allow that the policies lack: when
// they deny only for want of an allow (from the key policy, or from IAM
// where the key policy delegates to it), a grant of the key that gives
// the caller the operation allows it. An explicit deny, a permissions
// boundary or a session policy still refuse, as KMS has it: a permission
// must be "provided explicitly and never denied". The decision returned
// names the grant as a resource-side allow, which keyPolicyRule accepts.
func (s *Service) withGrants(ctx context.Context, action string, k *Key, encCtx map[string]string, d iampolicy.Decision) (iampolicy.Decision, error) {
	if d.Allowed || (d.Reason != iampolicy.NoIdentityAllow && d.Reason != iampolicy.NoResourceAllow) {
		return d, nil
	}
	grants, err := s.callerGrants(ctx, action, k, encCtx)
	if err != nil || len(grants) == 0 {
		return d, err
	}
	return iampolicy.Decision{Allowed: true, Reason: iampolicy.Allow,
		Allows: []iampolicy.Statement{{Policy: "grant " + grants[0].ID, Kind: iampolicy.KindResource}}}, nil
}
