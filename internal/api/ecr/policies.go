package ecr

// Repository and registry permissions policies.

import (
	"context"

	"github.com/ecrd/ecrd/internal/auth"
)

var shapeRegistryPolicyText = stringRule{length: lengthRule{0, 10240}}

// SetRepositoryPolicyInput is the SetRepositoryPolicy request.
type SetRepositoryPolicyInput struct {
	RegistryId     *string `json:"registryId,omitempty"`
	RepositoryName *string `json:"repositoryName,omitempty"`
	PolicyText     *string `json:"policyText,omitempty"`
	Force          *bool   `json:"force,omitempty"`
}

// RepositoryPolicyOutput is the answer of the repository policy
// operations.
type RepositoryPolicyOutput struct {
	RegistryId     string `json:"registryId,omitempty"`
	RepositoryName string `json:"repositoryName,omitempty"`
	PolicyText     string `json:"policyText,omitempty"`
}

// GetRepositoryPolicyInput is the GetRepositoryPolicy request.
type GetRepositoryPolicyInput struct {
	RegistryId     *string `json:"registryId,omitempty"`
	RepositoryName *string `json:"repositoryName,omitempty"`
}

// DeleteRepositoryPolicyInput is the DeleteRepositoryPolicy request.
type DeleteRepositoryPolicyInput GetRepositoryPolicyInput

// PutRegistryPolicyInput is the PutRegistryPolicy request.
type PutRegistryPolicyInput struct {
	PolicyText *string `json:"policyText,omitempty"`
}

// RegistryPolicyOutput is the answer of the registry policy operations.
type RegistryPolicyOutput struct {
	RegistryId string `json:"registryId,omitempty"`
	PolicyText string `json:"policyText,omitempty"`
}

// GetRegistryPolicyInput is the GetRegistryPolicy request, which has no
// members.
type GetRegistryPolicyInput struct{}

// DeleteRegistryPolicyInput is the DeleteRegistryPolicy request, which has
// no members.
type DeleteRegistryPolicyInput struct{}

func (in *SetRepositoryPolicyInput) validate() error {
	c := new(shapeChecker)
	c.str("registryId", in.RegistryId, optionalMember, shapeRegistryID)
	c.str("repositoryName", in.RepositoryName, requiredMember, shapeRepositoryName)
	c.str("policyText", in.PolicyText, requiredMember, shapeRepositoryPolicyText)
	c.boolean("force", in.Force, optionalMember)
	return c.result()
}

func (in *GetRepositoryPolicyInput) validate() error {
	c := new(shapeChecker)
	c.str("registryId", in.RegistryId, optionalMember, shapeRegistryID)
	c.str("repositoryName", in.RepositoryName, requiredMember, shapeRepositoryName)
	return c.result()
}

func (in *DeleteRepositoryPolicyInput) validate() error {
	return (*GetRepositoryPolicyInput)(in).validate()
}

func (in *PutRegistryPolicyInput) validate() error {
	c := new(shapeChecker)
	c.str("policyText", in.PolicyText, requiredMember, shapeRegistryPolicyText)
	return c.result()
}

func (in *GetRegistryPolicyInput) validate() error    { return nil }
func (in *DeleteRegistryPolicyInput) validate() error { return nil }

func (h *Handler) setRepositoryPolicy(ctx context.Context, c auth.Caller, in *SetRepositoryPolicyInput) (*RepositoryPolicyOutput, error) {
	key := repoKey(c, in.RegistryId, in.RepositoryName)
	repo, err := h.reg.SetRepositoryPolicy(ctx, key, deref(in.PolicyText), deref(in.Force))
	if err != nil {
		return nil, err
	}
	return &RepositoryPolicyOutput{RegistryId: repo.Key.Account, RepositoryName: repo.Key.Name, PolicyText: repo.Settings.Policy}, nil
}

func (h *Handler) getRepositoryPolicy(ctx context.Context, c auth.Caller, in *GetRepositoryPolicyInput) (*RepositoryPolicyOutput, error) {
	key := repoKey(c, in.RegistryId, in.RepositoryName)
	text, err := h.reg.RepositoryPolicy(ctx, key)
	if err != nil {
		return nil, err
	}
	return &RepositoryPolicyOutput{RegistryId: key.Account, RepositoryName: key.Name, PolicyText: text}, nil
}

func (h *Handler) deleteRepositoryPolicy(ctx context.Context, c auth.Caller, in *DeleteRepositoryPolicyInput) (*RepositoryPolicyOutput, error) {
	key := repoKey(c, in.RegistryId, in.RepositoryName)
	text, err := h.reg.DeleteRepositoryPolicy(ctx, key)
	if err != nil {
		return nil, err
	}
	return &RepositoryPolicyOutput{RegistryId: key.Account, RepositoryName: key.Name, PolicyText: text}, nil
}

func (h *Handler) putRegistryPolicy(ctx context.Context, c auth.Caller, in *PutRegistryPolicyInput) (*RegistryPolicyOutput, error) {
	s := scope(c, nil)
	if err := h.reg.PutRegistryPolicy(ctx, s, deref(in.PolicyText)); err != nil {
		return nil, err
	}
	return &RegistryPolicyOutput{RegistryId: s.Account, PolicyText: deref(in.PolicyText)}, nil
}

func (h *Handler) getRegistryPolicy(ctx context.Context, c auth.Caller, _ *GetRegistryPolicyInput) (*RegistryPolicyOutput, error) {
	s := scope(c, nil)
	text, err := h.reg.RegistryPolicy(ctx, s)
	if err != nil {
		return nil, err
	}
	return &RegistryPolicyOutput{RegistryId: s.Account, PolicyText: text}, nil
}

func (h *Handler) deleteRegistryPolicy(ctx context.Context, c auth.Caller, _ *DeleteRegistryPolicyInput) (*RegistryPolicyOutput, error) {
	s := scope(c, nil)
	text, err := h.reg.DeleteRegistryPolicy(ctx, s)
	if err != nil {
		return nil, err
	}
	return &RegistryPolicyOutput{RegistryId: s.Account, PolicyText: text}, nil
}
