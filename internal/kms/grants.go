package kms

// Grants (KMS developer guide, "Grants in AWS KMS"). A grant lets its
// grantee principal call some operations on one key, optionally only
// with an encryption context that matches a constraint; it is an
// additional allow next to the key policy and IAM policies (see
// withGrants in authorize.go), never past an explicit deny ("no principal
// has any permission to a KMS key unless that permission is provided
// explicitly and never denied").
//
// A key's grants are one document of their own in the metadata store
// (kind grantsKind, named as the key is), so that the key's document,
// which every cryptographic call reads, does not grow with them; it is
// read only by the grant operations and when policies alone deny a call.
// ecrd is strongly consistent: a grant takes effect when CreateGrant
// returns, so grant tokens are only checked to be tokens ecrd issued.
// A grant token is the grant's location (account, region, key, grant ID)
// and a random nonce, sealed under the server keyring: unforgeable, and
// different for every CreateGrant call, as on AWS.

import (
	"context"
	"crypto/rand"
	"encoding/base64"
	"encoding/hex"
	"encoding/json"
	"errors"
	"fmt"
	"maps"
	"regexp"
	"slices"
	"strings"
	"time"

	"github.com/ecrd/ecrd/internal/awserr"
	"github.com/ecrd/ecrd/internal/awsid"
	"github.com/ecrd/ecrd/internal/iampolicy"
	"github.com/ecrd/ecrd/internal/identity"
	"github.com/ecrd/ecrd/internal/metadata"
)

// grantsKind is the metadata entity kind of a key's grants document.
const grantsKind = "kms-grants"

const (
	maxGrantsPerKey  = 10000 // AWS allows 50,000; ecrd keeps a key's grants in one document
	maxGrantTokens   = 10
	maxGrantToken    = 8192
	maxPrincipal     = 256
	maxGrantName     = 256
	maxGrantIDLength = 128
	grantTokenPrefix = "ecrd kms grant token\x00"
)

var (
	principalRE = regexp.MustCompile(`^[\w+=,.@:/-]+$`)
	grantNameRE = regexp.MustCompile(`^[a-zA-Z0-9:/_-]+$`)
	grantIDRE   = regexp.MustCompile(`^[0-9a-fA-F]{64}$`)
)

// GrantConstraints limit a grant to requests whose encryption context
// contains (Subset) or equals (Equals) a context. At most one is set.
type GrantConstraints struct {
	EncryptionContextSubset map[string]string `json:"subset,omitempty"`
	EncryptionContextEquals map[string]string `json:"equals,omitempty"`
}

// Grant is one grant on a key.
type Grant struct {
	ID                string            `json:"id"` // 64 hex digits
	Name              string            `json:"name,omitempty"`
	KeyARN            string            `json:"key"`
	GranteePrincipal  string            `json:"grantee"`
	RetiringPrincipal string            `json:"retiring,omitempty"`
	Operations        []string          `json:"ops"`
	Constraints       *GrantConstraints `json:"constraints,omitempty"`
	IssuingAccount    string            `json:"issuer"` // arn:aws:iam::<account>:root
	CreationDate      time.Time         `json:"created"`
}

type grantsDoc struct {
	Grants []Grant `json:"grants"`
}

// The operations that take an encryption context: the only ones a grant
// constraint applies to.
var contextOperations = []string{"Decrypt", "Encrypt", "GenerateDataKey", "GenerateDataKeyWithoutPlaintext",
	"ReEncryptFrom", "ReEncryptTo", "GenerateDataKeyPair", "GenerateDataKeyPairWithoutPlaintext"}

// grantableFor lists the grant operations a key's type allows (KMS
// developer guide, "Grant operations").
func grantableFor(k *Key) []string {
	ops := []string{"CreateGrant", "RetireGrant", "DescribeKey"}
	switch {
	case k.KeyUsage == UsageEncryptDecrypt && k.KeySpec == SpecSymmetric:
		ops = append(ops, contextOperations...)
	case k.KeyUsage == UsageEncryptDecrypt:
		ops = append(ops, "Decrypt", "Encrypt", "ReEncryptFrom", "ReEncryptTo", "GetPublicKey")
	case k.KeyUsage == UsageSignVerify:
		ops = append(ops, "Sign", "Verify", "GetPublicKey")
	}
	return ops
}

// allows reports whether the grant allows operation op with an
// encryption context.
func (g *Grant) allows(op string, encCtx map[string]string) bool {
	if !slices.Contains(g.Operations, op) {
		return false
	}
	c := g.Constraints
	if c == nil || !slices.Contains(contextOperations, op) {
		return true
	}
	if c.EncryptionContextEquals != nil {
		return maps.Equal(c.EncryptionContextEquals, encCtx)
	}
	for k, v := range c.EncryptionContextSubset {
		if got, ok := encCtx[k]; !ok || got != v {
			return false
		}
	}
	return true
}

// sameAs reports whether a grant has the parameters of a CreateGrant
// request: a repeated request with a name returns the grant it made.
func (g *Grant) sameAs(n *Grant) bool {
	return g.Name == n.Name && g.GranteePrincipal == n.GranteePrincipal && g.RetiringPrincipal == n.RetiringPrincipal &&
		sameSet(g.Operations, n.Operations) && constraintsEqual(g.Constraints, n.Constraints)
}

func sameSet(a, b []string) bool {
	a, b = slices.Clone(a), slices.Clone(b)
	slices.Sort(a)
	slices.Sort(b)
	return slices.Equal(slices.Compact(a), slices.Compact(b))
}

func constraintsEqual(a, b *GrantConstraints) bool {
	if a == nil || b == nil {
		return a == b
	}
	return maps.Equal(a.EncryptionContextEquals, b.EncryptionContextEquals) && maps.Equal(a.EncryptionContextSubset, b.EncryptionContextSubset) &&
		(a.EncryptionContextEquals == nil) == (b.EncryptionContextEquals == nil)
}

// atLeastAsStrict reports whether constraint c is equally strict or
// stricter than parent: what a grant made with a grant's CreateGrant
// permission must have.
func atLeastAsStrict(c, parent *GrantConstraints) bool {
	switch {
	case parent == nil:
		return true
	case c == nil:
		return false
	case parent.EncryptionContextEquals != nil:
		return c.EncryptionContextEquals != nil && maps.Equal(c.EncryptionContextEquals, parent.EncryptionContextEquals)
	}
	have := c.EncryptionContextSubset
	if c.EncryptionContextEquals != nil {
		have = c.EncryptionContextEquals
	}
	for k, v := range parent.EncryptionContextSubset {
		if got, ok := have[k]; !ok || got != v {
			return false
		}
	}
	return true
}

// loadGrants reads a key's grants (none if it has no document).
func loadGrants(ctx context.Context, r metadata.Reader, account, region, keyID string) ([]Grant, error) {
	e, err := r.IAMEntity(ctx, account, grantsKind, keyEntity(region, keyID))
	if errors.Is(err, metadata.ErrNotFound) {
		return nil, nil
	}
	if err != nil {
		return nil, err
	}
	var doc grantsDoc
	if err := json.Unmarshal(e.Document, &doc); err != nil {
		return nil, fmt.Errorf("reading the grants of KMS key %s: %w", keyID, err)
	}
	return doc.Grants, nil
}

// saveGrants writes a key's grants, deleting the document when there are
// none left.
func saveGrants(ctx context.Context, tx metadata.Tx, account, region, keyID string, grants []Grant) error {
	name := keyEntity(region, keyID)
	_, err := tx.IAMEntity(ctx, account, grantsKind, name)
	exists := err == nil
	if err != nil && !errors.Is(err, metadata.ErrNotFound) {
		return err
	}
	if len(grants) == 0 {
		if !exists {
			return nil
		}
		return tx.DeleteIAMEntity(ctx, account, grantsKind, name)
	}
	doc, err := json.Marshal(grantsDoc{Grants: grants})
	if err != nil {
		return err
	}
	e := metadata.IAMEntity{Account: account, Kind: grantsKind, Name: name, Document: doc}
	if exists {
		return tx.UpdateIAMEntity(ctx, e)
	}
	return tx.CreateIAMEntity(ctx, e)
}

// grantToken makes a new token for a grant.
func (s *Service) grantToken(k *Key, grantID string) (string, error) {
	nonce := make([]byte, 16)
	if _, err := rand.Read(nonce); err != nil {
		return "", err
	}
	payload := strings.Join([]string{k.Account, k.Region, k.ID, grantID, hex.EncodeToString(nonce)}, "/")
	return base64.RawURLEncoding.EncodeToString(s.keys.Seal([]byte(payload), []byte(grantTokenPrefix))), nil
}

// grantRef is what a grant token names.
type grantRef struct {
	scope   Scope
	keyID   string
	grantID string
}

func invalidGrantToken() error {
	return awserr.Errorf(CodeInvalidGrantToken, "The grant token is not valid: pass a GrantToken that CreateGrant returned.")
}

// parseGrantToken reads a grant token ecrd issued; anything else is
// InvalidGrantTokenException.
func (s *Service) parseGrantToken(token string) (grantRef, error) {
	raw, err := base64.RawURLEncoding.DecodeString(token)
	if err != nil {
		return grantRef{}, invalidGrantToken()
	}
	payload, err := s.keys.Open(raw, []byte(grantTokenPrefix))
	if err != nil {
		return grantRef{}, invalidGrantToken()
	}
	// Sealed by this server: the payload is as grantToken wrote it.
	p := strings.Split(string(payload), "/")
	if len(p) != 5 {
		return grantRef{}, invalidGrantToken()
	}
	return grantRef{scope: Scope{Account: p[0], Region: p[1]}, keyID: p[2], grantID: p[3]}, nil
}

// CheckGrantTokens checks the GrantTokens member of a request: at most
// ten, each one a token CreateGrant returned. ecrd needs no token to use
// a grant (it is strongly consistent), but refuses one it did not issue,
// as KMS does.
func (s *Service) CheckGrantTokens(tokens []string) error {
	var v validation
	if len(tokens) > maxGrantTokens {
		list := "[" + strings.Join(tokens, ", ") + "]"
		v.fail(&list, "grantTokens", fmt.Sprintf("Member must have length less than or equal to %d", maxGrantTokens))
	}
	for i, t := range tokens {
		v.length(t, fmt.Sprintf("grantTokens.%d.member", i+1), 1, maxGrantToken)
	}
	if err := v.err(); err != nil {
		return err
	}
	for _, t := range tokens {
		if _, err := s.parseGrantToken(t); err != nil {
			return err
		}
	}
	return nil
}

func (v *validation) principal(value, member string) {
	v.length(value, member, 1, maxPrincipal)
	if len(value) >= 1 && len(value) <= maxPrincipal {
		v.pattern(value, member, principalRE)
	}
}

func (v *validation) grantID(value, member string) {
	v.length(value, member, 1, maxGrantIDLength)
}

// checkGrantID refuses a grant ID that is not of the form KMS makes.
func checkGrantID(id string) error {
	if !grantIDRE.MatchString(id) {
		return awserr.Errorf(CodeInvalidGrantID, "Invalid grant ID %s: a grant ID is 64 hexadecimal digits, as CreateGrant returns it.", id)
	}
	return nil
}

func grantNotFound(id string) error {
	return awserr.Errorf(CodeNotFound, "Grant ID %s not found", id)
}

// CreateGrantInput is what CreateGrant takes.
type CreateGrantInput struct {
	KeyID             string
	GranteePrincipal  string
	RetiringPrincipal string
	Operations        []string
	Constraints       *GrantConstraints
	GrantTokens       []string
	Name              string
	DryRun            bool
}

// CreatedGrant is what CreateGrant returns.
type CreatedGrant struct {
	GrantID    string
	GrantToken string
}

// normalized drops empty constraint maps: clients (Terraform's provider
// among them) send an empty map for the constraint they do not use.
func (c *GrantConstraints) normalized() *GrantConstraints {
	if c == nil {
		return nil
	}
	out := &GrantConstraints{EncryptionContextSubset: c.EncryptionContextSubset, EncryptionContextEquals: c.EncryptionContextEquals}
	if len(out.EncryptionContextSubset) == 0 {
		out.EncryptionContextSubset = nil
	}
	if len(out.EncryptionContextEquals) == 0 {
		out.EncryptionContextEquals = nil
	}
	if out.EncryptionContextSubset == nil && out.EncryptionContextEquals == nil {
		return nil
	}
	return out
}

// wire is a constraint as CreateGrant's request gives it.
func (c *GrantConstraints) wire() map[string]map[string]string {
	if c.EncryptionContextEquals != nil {
		return map[string]map[string]string{"encryptionContextEquals": c.EncryptionContextEquals}
	}
	return map[string]map[string]string{"encryptionContextSubset": c.EncryptionContextSubset}
}

// context is the encryption context a constraint names (for the
// kms:EncryptionContext condition keys of CreateGrant).
func (c *GrantConstraints) context() map[string]string {
	switch {
	case c == nil:
		return nil
	case c.EncryptionContextEquals != nil:
		return c.EncryptionContextEquals
	}
	return c.EncryptionContextSubset
}

// grantConditions sets CreateGrant's condition keys.
func grantConditions(in *CreateGrantInput, c *GrantConstraints) func(set func(k, v string)) {
	return func(set func(k, v string)) {
		set("kms:GranteePrincipal", in.GranteePrincipal)
		if in.RetiringPrincipal != "" {
			set("kms:RetiringPrincipal", in.RetiringPrincipal)
		}
		for _, op := range in.Operations {
			set("kms:GrantOperations", op)
		}
		if c != nil && c.EncryptionContextEquals != nil {
			set("kms:GrantConstraintType", "EncryptionContextEquals")
		} else if c != nil {
			set("kms:GrantConstraintType", "EncryptionContextSubset")
		}
		// No AWS service calls ecrd's KMS on anyone's behalf.
		set("kms:GrantIsForAWSResource", "false")
	}
}

// CreateGrant adds a grant to a key. The caller needs kms:CreateGrant
// from the key policy (and IAM), or from a grant: then the new grant may
// allow only operations that grant allows, with a constraint at least as
// strict. With a Name, a request repeated with the same parameters
// returns the grant it made (and a new token), as on AWS.
func (s *Service) CreateGrant(ctx context.Context, scope Scope, in CreateGrantInput) (CreatedGrant, error) {
	var v validation
	v.keyRef(in.KeyID, "keyId")
	v.principal(in.GranteePrincipal, "granteePrincipal")
	if in.RetiringPrincipal != "" {
		v.principal(in.RetiringPrincipal, "retiringPrincipal")
	}
	if in.Name != "" {
		v.length(in.Name, "name", 1, maxGrantName)
		if v.err() == nil {
			v.pattern(in.Name, "name", grantNameRE)
		}
	}
	var unknown []string
	for _, op := range in.Operations {
		if !slices.Contains(grantOperations, op) {
			unknown = append(unknown, op)
		}
	}
	if len(unknown) > 0 {
		list := "[" + strings.Join(in.Operations, ", ") + "]"
		v.fail(&list, "operations", "Member must satisfy constraint: [Member must satisfy enum value set: ["+strings.Join(grantOperations, ", ")+"]]")
	}
	if err := v.err(); err != nil {
		return CreatedGrant{}, err
	}
	if err := s.CheckGrantTokens(in.GrantTokens); err != nil {
		return CreatedGrant{}, err
	}
	ops := slices.Compact(slices.Sorted(slices.Values(in.Operations)))
	switch {
	case len(ops) == 0:
		return CreatedGrant{}, awserr.Errorf(CodeValidation, "Grants must contain at least one operation.")
	case len(ops) == 1 && ops[0] == "CreateGrant":
		return CreatedGrant{}, awserr.Errorf(CodeValidation, "Grants must not contain only the CreateGrant operation.")
	}
	if in.Constraints != nil && len(in.Constraints.EncryptionContextEquals) > 0 && len(in.Constraints.EncryptionContextSubset) > 0 {
		return CreatedGrant{}, awserr.Errorf(CodeValidation, "More than one constraint supplied")
	}
	constraints := in.Constraints.normalized()
	actx := withConditions(ctx, grantConditions(&in, constraints))
	var out CreatedGrant
	err := s.decided(func() error {
		d, by, err := s.grantDecision(actx, scope, &in, ops, constraints)
		if err != nil {
			return err
		}
		if in.DryRun {
			return dryRun()
		}
		out, err = s.addGrant(ctx, d, by, &in, ops, constraints)
		return err
	})
	return out, err
}

// grantDecision resolves the key of a CreateGrant and authorizes the
// grant it asks for: the key, and the ID of the grant that allowed it
// ("" when the key policy did).
func (s *Service) grantDecision(ctx context.Context, scope Scope, in *CreateGrantInput, ops []string, constraints *GrantConstraints) (*keyDoc, string, error) {
	d, err := s.key(ctx, scope, in.KeyID, access{action: "kms:CreateGrant", crossAccount: true, state: notPending, encCtx: constraints.context()})
	if err != nil {
		return nil, "", err
	}
	allowed := grantableFor(&d.Key)
	for _, op := range ops {
		if !slices.Contains(allowed, op) {
			return nil, "", awserr.Errorf(CodeValidation, "Grant operation %s is not valid for key %s, whose KeySpec is %s and KeyUsage %s: the operations it allows are %s",
				op, d.ARN, d.KeySpec, d.KeyUsage, strings.Join(allowed, ", "))
		}
		if constraints != nil && !slices.Contains(contextOperations, op) && op != "CreateGrant" && op != "RetireGrant" && op != "DescribeKey" {
			return nil, "", awserr.Errorf(CodeValidation, "Grant constraints are not valid for the %s operation: encryption context constraints apply only to operations that take an encryption context", op)
		}
	}
	by, err := s.grantDerived(ctx, d, ops, constraints)
	return d, by, err
}

// addGrant adds the grant a CreateGrant decided on key d (by: the grant
// that allowed it, "" for the key policy) and returns it with a token.
func (s *Service) addGrant(ctx context.Context, d *keyDoc, by string, in *CreateGrantInput, ops []string, constraints *GrantConstraints) (CreatedGrant, error) {
	idb := make([]byte, 32)
	if _, err := rand.Read(idb); err != nil {
		return CreatedGrant{}, err
	}
	g := Grant{ID: hex.EncodeToString(idb), Name: in.Name, KeyARN: d.ARN, GranteePrincipal: in.GranteePrincipal,
		RetiringPrincipal: in.RetiringPrincipal, Operations: ops, Constraints: constraints,
		IssuingAccount: awsid.Root(callerAccount(ctx)), CreationDate: s.now().UTC()}
	c := onKey("CreateGrant", in.KeyID, "granteePrincipal", in.GranteePrincipal, "operations", ops, "grantId", g.ID)
	if in.RetiringPrincipal != "" {
		c.params["retiringPrincipal"] = in.RetiringPrincipal
	}
	if in.Name != "" {
		c.params["name"] = in.Name
	}
	if constraints != nil {
		c.params["constraints"] = constraints.wire()
	}
	id := g.ID
	err := s.update(ctx, func(tx metadata.Tx, rec record) error {
		id = g.ID
		k, err := s.loadKey(ctx, tx, Scope{Account: d.Account, Region: d.Region}, d.ID)
		if err != nil {
			return err
		}
		if err := decidedOn(&d.Key, &k.Key); err != nil {
			return err
		}
		if err := notPending(&k.Key); err != nil {
			return err
		}
		grants, err := loadGrants(ctx, tx, d.Account, d.Region, d.ID)
		if err != nil {
			return err
		}
		if by != "" && !slices.ContainsFunc(grants, func(o Grant) bool { return o.ID == by }) {
			return &staleError{arn: d.ARN} // the grant that allowed it is gone
		}
		if g.Name != "" {
			if i := slices.IndexFunc(grants, func(o Grant) bool { return o.sameAs(&g) }); i >= 0 {
				id = grants[i].ID
				return nil
			}
		}
		if len(grants) >= maxGrantsPerKey {
			return awserr.Errorf(CodeLimitExceeded, "Key %s has %d grants, the most ecrd keeps for a key: retire or revoke some", d.ARN, maxGrantsPerKey)
		}
		if err := saveGrants(ctx, tx, d.Account, d.Region, d.ID, append(grants, g)); err != nil {
			return err
		}
		return rec(Scope{Account: d.Account, Region: d.Region}, c, d.ARN)
	})
	if err != nil {
		return CreatedGrant{}, err
	}
	token, err := s.grantToken(&d.Key, id)
	if err != nil {
		return CreatedGrant{}, err
	}
	return CreatedGrant{GrantID: id, GrantToken: token}, nil
}

// grantDerived checks a new grant against the grants that gave the
// caller kms:CreateGrant, when the policies alone do not: one of them
// must allow every operation of the new grant, with a constraint no
// stricter than the new grant's. It returns that grant's ID ("" when the
// policies allow).
func (s *Service) grantDerived(ctx context.Context, d *keyDoc, ops []string, c *GrantConstraints) (string, error) {
	byPolicy, req, err := s.policyDecision(ctx, "kms:CreateGrant", &d.Key, c.context())
	if err != nil || byPolicy.Allowed {
		return "", err
	}
	grants, err := s.callerGrants(ctx, "kms:CreateGrant", &d.Key, nil)
	if err != nil {
		return "", err
	}
	for _, g := range grants {
		if atLeastAsStrict(c, g.Constraints) && !slices.ContainsFunc(ops, func(op string) bool { return !slices.Contains(g.Operations, op) }) {
			return g.ID, nil
		}
	}
	return "", awserr.Errorf(CodeAccessDenied, "User: %s is not authorized to perform: kms:CreateGrant on resource: %s with these operations and constraints: "+
		"a grant's CreateGrant permission allows only grants for operations that grant allows, with a constraint at least as strict", req.Principal.ARN, d.ARN)
}

// principalMatches reports whether the caller is a grant's grantee or
// retiring principal: the principal itself, an assumed-role session of
// the role, or the account, which delegates to its IAM principals
// through their identity policies (for action on key k), as with a key
// policy naming an account.
func (s *Service) principalMatches(ctx context.Context, p identity.Principal, arn, action string, k *Key) (bool, error) {
	switch {
	case arn == "":
		return false, nil
	case p.ARN == arn, p.Session != nil && p.Session.RoleARN == arn:
		return true, nil
	case arn != awsid.Root(p.Account):
		return false, nil
	case p.IsRoot():
		return true, nil
	}
	d, _, err := s.identityDecision(ctx, p, action, k)
	return err == nil && d.Allowed, err
}

// identityDecision evaluates the caller's own policies for action on key
// k as if the key were in the caller's account: whether its account lets
// it act on what a grant gives the account.
func (s *Service) identityDecision(ctx context.Context, p identity.Principal, action string, k *Key) (iampolicy.Decision, iampolicy.Request, error) {
	return s.ids.Authorize(ctx, identity.Check{Action: action, Resource: k.ARN, ResourceAccount: p.Account,
		Keys: func(set func(k, v string)) { set("kms:CallerAccount", p.Account) }})
}

// callerGrants returns the grants of key k that allow the caller action
// with an encryption context.
func (s *Service) callerGrants(ctx context.Context, action string, k *Key, encCtx map[string]string) ([]Grant, error) {
	op, ok := strings.CutPrefix(action, "kms:")
	if !ok || !slices.Contains(grantOperations, op) {
		return nil, nil
	}
	p, ok := identity.FromContext(ctx)
	if !ok {
		return nil, nil
	}
	grants, err := loadGrants(ctx, s.meta, k.Account, k.Region, k.ID)
	if err != nil {
		return nil, err
	}
	var out []Grant
	for _, g := range grants {
		if !g.allows(op, encCtx) {
			continue
		}
		ok, err := s.principalMatches(ctx, p, g.GranteePrincipal, action, k)
		if err != nil {
			return nil, err
		}
		if ok {
			out = append(out, g)
		}
	}
	return out, nil
}

// ListGrantsInput is what ListGrants takes.
type ListGrantsInput struct {
	KeyID            string
	Limit            *int // nil: 50; at most 100
	Marker           string
	GrantID          string
	GranteePrincipal string
}

// ListGrants lists a key's grants in grant ID order, optionally only one
// grant or one grantee's, limit at a time, after marker (the last grant
// ID of the previous page).
func (s *Service) ListGrants(ctx context.Context, scope Scope, in ListGrantsInput) (grants []Grant, next string, err error) {
	var v validation
	n := v.limit(in.Limit, 50, 100)
	v.marker(in.Marker)
	if in.GrantID != "" {
		v.grantID(in.GrantID, "grantId")
	}
	if in.GranteePrincipal != "" {
		v.principal(in.GranteePrincipal, "granteePrincipal")
	}
	if err := v.err(); err != nil {
		return nil, "", err
	}
	d, err := s.key(ctx, scope, in.KeyID, access{action: "kms:ListGrants", crossAccount: true})
	if err != nil {
		return nil, "", err
	}
	if in.GrantID != "" {
		if err := checkGrantID(in.GrantID); err != nil {
			return nil, "", err
		}
	}
	all, err := loadGrants(ctx, s.meta, d.Account, d.Region, d.ID)
	if err != nil {
		return nil, "", err
	}
	return page(all, n, in.Marker, func(g *Grant) bool {
		return (in.GrantID == "" || strings.EqualFold(g.ID, in.GrantID)) && (in.GranteePrincipal == "" || g.GranteePrincipal == in.GranteePrincipal)
	})
}

// page returns grants that pass keep, in grant ID order, n after marker.
func page(all []Grant, n int, marker string, keep func(*Grant) bool) ([]Grant, string, error) {
	all = slices.SortedFunc(slices.Values(all), func(a, b Grant) int { return strings.Compare(a.ID, b.ID) })
	var out []Grant
	for i := range all {
		g := &all[i]
		if (marker != "" && g.ID <= marker) || !keep(g) {
			continue
		}
		if len(out) == n {
			return out, out[n-1].ID, nil
		}
		out = append(out, *g)
	}
	return out, "", nil
}

// ListRetirableGrants lists the grants of the scope's keys whose retiring
// principal is the one given, limit at a time (nil: 50, at most 100).
// Identity policies decide (kms:ListRetirableGrants on "*").
func (s *Service) ListRetirableGrants(ctx context.Context, scope Scope, retiringPrincipal string, limit *int, marker string) ([]Grant, string, error) {
	var v validation
	v.principal(retiringPrincipal, "retiringPrincipal")
	n := v.limit(limit, 50, 100)
	v.marker(marker)
	if err := v.err(); err != nil {
		return nil, "", err
	}
	if err := s.authorizeAccount(ctx, "kms:ListRetirableGrants", "*", scope.Account, nil); err != nil {
		return nil, "", err
	}
	es, err := s.meta.IAMEntities(ctx, scope.Account, grantsKind)
	if err != nil {
		return nil, "", err
	}
	var all []Grant
	for _, e := range es {
		region, id, ok := strings.Cut(e.Name, "/")
		if !ok || region != scope.Region {
			continue
		}
		if _, err := s.readKey(ctx, scope, id); awserr.Code(err) == CodeNotFound {
			continue // a deleted key's grants went with it
		} else if err != nil {
			return nil, "", err
		}
		var doc grantsDoc
		if err := json.Unmarshal(e.Document, &doc); err != nil {
			return nil, "", fmt.Errorf("reading the grants of KMS key %s: %w", id, err)
		}
		all = append(all, doc.Grants...)
	}
	return page(all, n, marker, func(g *Grant) bool { return g.RetiringPrincipal == retiringPrincipal })
}

// RetireGrantInput is what RetireGrant takes: a grant token, or a key ID
// (or ARN) and grant ID.
type RetireGrantInput struct {
	GrantToken string
	KeyID      string
	GrantID    string
	DryRun     bool
}

// RetireGrant deletes a grant. The grant decides who may: its retiring
// principal, its grantee if it allows RetireGrant, and the account that
// created it (its root, and the IAM principals its identity policies
// allow kms:RetireGrant). An explicit deny of kms:RetireGrant in the
// caller's identity policies still refuses.
func (s *Service) RetireGrant(ctx context.Context, scope Scope, in RetireGrantInput) error {
	var v validation
	if in.GrantToken != "" {
		v.length(in.GrantToken, "grantToken", 1, maxGrantToken)
	}
	if in.KeyID != "" {
		v.keyRef(in.KeyID, "keyId")
	}
	if in.GrantID != "" {
		v.grantID(in.GrantID, "grantId")
	}
	if err := v.err(); err != nil {
		return err
	}
	var (
		keyScope       Scope
		keyID, grantID string
	)
	switch {
	case in.GrantToken != "":
		ref, err := s.parseGrantToken(in.GrantToken)
		if err != nil {
			return err
		}
		keyScope, keyID, grantID = ref.scope, ref.keyID, ref.grantID
	case in.KeyID != "" && in.GrantID != "":
		rf, err := parseRef(in.KeyID, scope, false)
		if err != nil {
			return err
		}
		if err := checkGrantID(in.GrantID); err != nil {
			return err
		}
		keyScope, keyID, grantID = rf.scope, rf.id, strings.ToLower(in.GrantID)
	default:
		return awserr.Errorf(CodeValidation, "Grant token OR (grant ID, key ID) must be specified")
	}
	d, err := s.readKey(ctx, keyScope, keyID)
	if err != nil {
		return err
	}
	grants, err := loadGrants(ctx, s.meta, d.Account, d.Region, d.ID)
	if err != nil {
		return err
	}
	i := slices.IndexFunc(grants, func(g Grant) bool { return g.ID == grantID })
	if i < 0 {
		return grantNotFound(grantID)
	}
	if err := s.mayRetire(ctx, &grants[i], &d.Key); err != nil {
		return err
	}
	if in.DryRun {
		return dryRun()
	}
	// The record names the grant, never its token.
	return s.removeGrant(ctx, &d.Key, false, grantID, onKey("RetireGrant", d.ID, "grantId", grantID))
}

// mayRetire decides whether the caller may retire a grant.
func (s *Service) mayRetire(ctx context.Context, g *Grant, k *Key) error {
	p, ok := identity.FromContext(ctx)
	if !ok {
		return awserr.Errorf(CodeAccessDenied, "An anonymous caller cannot retire a grant")
	}
	d, req, err := s.identityDecision(ctx, p, "kms:RetireGrant", k)
	if err != nil {
		return err
	}
	if d.Reason == iampolicy.ExplicitDeny {
		return awserr.Errorf(CodeAccessDenied, "%s", s.ids.DenialMessage(d, req))
	}
	retiring, err := s.principalMatches(ctx, p, g.RetiringPrincipal, "kms:RetireGrant", k)
	if err != nil || retiring {
		return err
	}
	if p.ARN == g.GranteePrincipal || p.Session != nil && p.Session.RoleARN == g.GranteePrincipal {
		if slices.Contains(g.Operations, "RetireGrant") {
			return nil
		}
	}
	if g.IssuingAccount == awsid.Root(p.Account) {
		if d.Allowed {
			return nil
		}
		return awserr.Errorf(CodeAccessDenied, "%s", s.ids.DenialMessage(d, req))
	}
	return awserr.Errorf(CodeAccessDenied, "User: %s is not authorized to perform: kms:RetireGrant on resource: %s because it is neither the grant's retiring principal, nor its grantee with the RetireGrant operation, nor in the account that created it", p.ARN, k.ARN)
}

// RevokeGrant deletes a grant of a key. The key policy (and IAM) decide,
// as for other key operations.
func (s *Service) RevokeGrant(ctx context.Context, scope Scope, keyRef, grantID string, dryRunOnly bool) error {
	var v validation
	v.grantID(grantID, "grantId")
	if err := v.err(); err != nil {
		return err
	}
	return s.decided(func() error {
		d, err := s.key(ctx, scope, keyRef, access{action: "kms:RevokeGrant", crossAccount: true})
		if err != nil {
			return err
		}
		if err := checkGrantID(grantID); err != nil {
			return err
		}
		if dryRunOnly {
			grants, err := loadGrants(ctx, s.meta, d.Account, d.Region, d.ID)
			if err != nil {
				return err
			}
			if !slices.ContainsFunc(grants, func(g Grant) bool { return strings.EqualFold(g.ID, grantID) }) {
				return grantNotFound(grantID)
			}
			return dryRun()
		}
		return s.removeGrant(ctx, &d.Key, true, strings.ToLower(grantID), onKey("RevokeGrant", keyRef, "grantId", grantID))
	})
}

// removeGrant deletes a grant of key k, NotFoundException if it is gone,
// and records c. byPolicy says that k's key policy allowed it
// (RevokeGrant): the key must still be as that decision read it (k). A
// retirement is decided by the grant itself, which never changes, only
// goes.
func (s *Service) removeGrant(ctx context.Context, k *Key, byPolicy bool, grantID string, c call) error {
	scope := Scope{Account: k.Account, Region: k.Region}
	return s.update(ctx, func(tx metadata.Tx, rec record) error {
		if byPolicy {
			cur, err := s.loadKey(ctx, tx, scope, k.ID)
			if err != nil {
				return err
			}
			if err := decidedOn(k, &cur.Key); err != nil {
				return err
			}
		}
		grants, err := loadGrants(ctx, tx, k.Account, k.Region, k.ID)
		if err != nil {
			return err
		}
		i := slices.IndexFunc(grants, func(g Grant) bool { return g.ID == grantID })
		if i < 0 {
			return grantNotFound(grantID)
		}
		if err := saveGrants(ctx, tx, k.Account, k.Region, k.ID, slices.Delete(grants, i, i+1)); err != nil {
			return err
		}
		return rec(scope, c, k.ARN)
	})
}

// conditionsKey carries an operation's own condition keys (CreateGrant's
// kms:GrantOperations ...) to the key policy decision.
type conditionsKey struct{}

func withConditions(ctx context.Context, set func(set func(k, v string))) context.Context {
	return context.WithValue(ctx, conditionsKey{}, set)
}

func requestConditions(ctx context.Context) func(set func(k, v string)) {
	f, _ := ctx.Value(conditionsKey{}).(func(set func(k, v string)))
	return f
}
