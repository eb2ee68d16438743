package kms

// The grant operations and the asymmetric-key operations (Sign, Verify,
// GetPublicKey), shapes after the KMS model.

import (
	"context"

	"github.com/ecrd/ecrd/internal/api/awsjson"
	core "github.com/ecrd/ecrd/internal/kms"
)

type grantConstraints struct {
	EncryptionContextSubset map[string]string `json:"EncryptionContextSubset,omitempty"`
	EncryptionContextEquals map[string]string `json:"EncryptionContextEquals,omitempty"`
}

type createGrantInput struct {
	keyIDInput
	GranteePrincipal  *string           `json:"GranteePrincipal"`
	RetiringPrincipal *string           `json:"RetiringPrincipal"`
	Operations        []string          `json:"Operations"`
	Constraints       *grantConstraints `json:"Constraints"`
	GrantTokens       []string          `json:"GrantTokens"`
	Name              *string           `json:"Name"`
	DryRun            *bool             `json:"DryRun"`
}

type createGrantOutput struct {
	GrantToken string `json:"GrantToken"`
	GrantId    string `json:"GrantId"`
}

func (h *Handler) createGrant(ctx context.Context, scope core.Scope, in *createGrantInput) (*createGrantOutput, error) {
	var req awsjson.Required
	req.Check(in.KeyId == nil, "keyId")
	req.Check(in.GranteePrincipal == nil, "granteePrincipal")
	req.Check(in.Operations == nil, "operations")
	if err := req.Err(core.CodeValidation); err != nil {
		return nil, err
	}
	c := core.CreateGrantInput{KeyID: *in.KeyId, GranteePrincipal: *in.GranteePrincipal, RetiringPrincipal: deref(in.RetiringPrincipal),
		Operations: in.Operations, GrantTokens: in.GrantTokens, Name: deref(in.Name), DryRun: deref(in.DryRun)}
	if in.Constraints != nil {
		c.Constraints = &core.GrantConstraints{EncryptionContextSubset: in.Constraints.EncryptionContextSubset,
			EncryptionContextEquals: in.Constraints.EncryptionContextEquals}
	}
	g, err := h.svc.CreateGrant(ctx, scope, c)
	if err != nil {
		return nil, err
	}
	return &createGrantOutput{GrantToken: g.GrantToken, GrantId: g.GrantID}, nil
}

// grantListEntry is GrantListEntry, what ListGrants and
// ListRetirableGrants list and Terraform's aws_kms_grant reads.
type grantListEntry struct {
	KeyId             string             `json:"KeyId"`
	GrantId           string             `json:"GrantId"`
	Name              string             `json:"Name,omitempty"`
	CreationDate      *awsjson.Timestamp `json:"CreationDate,omitempty"`
	GranteePrincipal  string             `json:"GranteePrincipal"`
	RetiringPrincipal string             `json:"RetiringPrincipal,omitempty"`
	IssuingAccount    string             `json:"IssuingAccount"`
	Operations        []string           `json:"Operations"`
	Constraints       *grantConstraints  `json:"Constraints,omitempty"`
}

type listGrantsOutput struct {
	Grants     []grantListEntry `json:"Grants"`
	NextMarker string           `json:"NextMarker,omitempty"`
	Truncated  bool             `json:"Truncated"`
}

func grantsOut(grants []core.Grant, next string) *listGrantsOutput {
	out := &listGrantsOutput{Grants: make([]grantListEntry, len(grants)), NextMarker: next, Truncated: next != ""}
	for i, g := range grants {
		e := grantListEntry{KeyId: g.KeyARN, GrantId: g.ID, Name: g.Name, CreationDate: awsjson.NewTimestamp(g.CreationDate),
			GranteePrincipal: g.GranteePrincipal, RetiringPrincipal: g.RetiringPrincipal, IssuingAccount: g.IssuingAccount,
			Operations: g.Operations}
		if c := g.Constraints; c != nil {
			e.Constraints = &grantConstraints{EncryptionContextSubset: c.EncryptionContextSubset, EncryptionContextEquals: c.EncryptionContextEquals}
		}
		out.Grants[i] = e
	}
	return out
}

type listGrantsInput struct {
	keyIDInput
	pageInput
	GrantId          *string `json:"GrantId"`
	GranteePrincipal *string `json:"GranteePrincipal"`
}

func (h *Handler) listGrants(ctx context.Context, scope core.Scope, in *listGrantsInput) (*listGrantsOutput, error) {
	id, err := in.keyID()
	if err != nil {
		return nil, err
	}
	grants, next, err := h.svc.ListGrants(ctx, scope, core.ListGrantsInput{KeyID: id, Limit: intp(in.Limit), Marker: deref(in.Marker),
		GrantID: deref(in.GrantId), GranteePrincipal: deref(in.GranteePrincipal)})
	if err != nil {
		return nil, err
	}
	return grantsOut(grants, next), nil
}

type listRetirableGrantsInput struct {
	pageInput
	RetiringPrincipal *string `json:"RetiringPrincipal"`
}

func (h *Handler) listRetirableGrants(ctx context.Context, scope core.Scope, in *listRetirableGrantsInput) (*listGrantsOutput, error) {
	var req awsjson.Required
	req.Check(in.RetiringPrincipal == nil, "retiringPrincipal")
	if err := req.Err(core.CodeValidation); err != nil {
		return nil, err
	}
	grants, next, err := h.svc.ListRetirableGrants(ctx, scope, *in.RetiringPrincipal, intp(in.Limit), deref(in.Marker))
	if err != nil {
		return nil, err
	}
	return grantsOut(grants, next), nil
}

type retireGrantInput struct {
	GrantToken *string `json:"GrantToken"`
	KeyId      *string `json:"KeyId"`
	GrantId    *string `json:"GrantId"`
	DryRun     *bool   `json:"DryRun"`
}

func (h *Handler) retireGrant(ctx context.Context, scope core.Scope, in *retireGrantInput) (*empty, error) {
	return &empty{}, h.svc.RetireGrant(ctx, scope, core.RetireGrantInput{GrantToken: deref(in.GrantToken), KeyID: deref(in.KeyId),
		GrantID: deref(in.GrantId), DryRun: deref(in.DryRun)})
}

type revokeGrantInput struct {
	keyIDInput
	GrantId *string `json:"GrantId"`
	DryRun  *bool   `json:"DryRun"`
}

func (h *Handler) revokeGrant(ctx context.Context, scope core.Scope, in *revokeGrantInput) (*empty, error) {
	var req awsjson.Required
	req.Check(in.KeyId == nil, "keyId")
	req.Check(in.GrantId == nil, "grantId")
	if err := req.Err(core.CodeValidation); err != nil {
		return nil, err
	}
	return &empty{}, h.svc.RevokeGrant(ctx, scope, *in.KeyId, *in.GrantId, deref(in.DryRun))
}

type signInput struct {
	keyIDInput
	Message          []byte   `json:"Message"`
	MessageType      *string  `json:"MessageType"`
	GrantTokens      []string `json:"GrantTokens"`
	SigningAlgorithm *string  `json:"SigningAlgorithm"`
	DryRun           *bool    `json:"DryRun"`
}

// signRequest checks the members Sign and Verify require, and the grant
// tokens.
func (h *Handler) signRequest(in *signInput, signature []byte, verify bool) (core.SignInput, error) {
	var req awsjson.Required
	req.Check(in.KeyId == nil, "keyId")
	req.Check(in.Message == nil, "message")
	if verify {
		req.Check(signature == nil, "signature")
	}
	req.Check(in.SigningAlgorithm == nil, "signingAlgorithm")
	if err := req.Err(core.CodeValidation); err != nil {
		return core.SignInput{}, err
	}
	if err := h.svc.CheckGrantTokens(in.GrantTokens); err != nil {
		return core.SignInput{}, err
	}
	return core.SignInput{KeyID: *in.KeyId, Message: in.Message, MessageType: deref(in.MessageType),
		SigningAlgorithm: *in.SigningAlgorithm, Signature: signature, DryRun: deref(in.DryRun)}, nil
}

type signOutput struct {
	KeyId            string `json:"KeyId"`
	Signature        []byte `json:"Signature"`
	SigningAlgorithm string `json:"SigningAlgorithm"`
}

func (h *Handler) sign(ctx context.Context, scope core.Scope, in *signInput) (*signOutput, error) {
	c, err := h.signRequest(in, nil, false)
	if err != nil {
		return nil, err
	}
	s, err := h.svc.Sign(ctx, scope, c)
	if err != nil {
		return nil, err
	}
	return &signOutput{KeyId: s.KeyARN, Signature: s.Signature, SigningAlgorithm: s.SigningAlgorithm}, nil
}

type verifyInput struct {
	signInput
	Signature []byte `json:"Signature"`
}

type verifyOutput struct {
	KeyId            string `json:"KeyId"`
	SignatureValid   bool   `json:"SignatureValid"`
	SigningAlgorithm string `json:"SigningAlgorithm"`
}

func (h *Handler) verify(ctx context.Context, scope core.Scope, in *verifyInput) (*verifyOutput, error) {
	c, err := h.signRequest(&in.signInput, in.Signature, true)
	if err != nil {
		return nil, err
	}
	s, err := h.svc.Verify(ctx, scope, c)
	if err != nil {
		return nil, err
	}
	return &verifyOutput{KeyId: s.KeyARN, SignatureValid: true, SigningAlgorithm: s.SigningAlgorithm}, nil
}

type getPublicKeyInput struct {
	keyIDInput
	GrantTokens []string `json:"GrantTokens"`
}

type getPublicKeyOutput struct {
	KeyId                 string   `json:"KeyId"`
	PublicKey             []byte   `json:"PublicKey"`
	CustomerMasterKeySpec string   `json:"CustomerMasterKeySpec"`
	KeySpec               string   `json:"KeySpec"`
	KeyUsage              string   `json:"KeyUsage"`
	EncryptionAlgorithms  []string `json:"EncryptionAlgorithms,omitempty"`
	SigningAlgorithms     []string `json:"SigningAlgorithms,omitempty"`
}

func (h *Handler) getPublicKey(ctx context.Context, scope core.Scope, in *getPublicKeyInput) (*getPublicKeyOutput, error) {
	id, err := in.keyID()
	if err != nil {
		return nil, err
	}
	if err := h.svc.CheckGrantTokens(in.GrantTokens); err != nil {
		return nil, err
	}
	p, err := h.svc.PublicKey(ctx, scope, id)
	if err != nil {
		return nil, err
	}
	return &getPublicKeyOutput{KeyId: p.ARN, PublicKey: p.PublicKey, CustomerMasterKeySpec: p.KeySpec, KeySpec: p.KeySpec,
		KeyUsage: p.KeyUsage, EncryptionAlgorithms: p.EncryptionAlgorithms(), SigningAlgorithms: p.SigningAlgorithms()}, nil
}
