package ecr

// Pull-through cache rules: CreatePullThroughCacheRule,
// DescribePullThroughCacheRules, UpdatePullThroughCacheRule,
// DeletePullThroughCacheRule and ValidatePullThroughCacheRule.

import (
	"context"
	"fmt"

	"github.com/ecrd/ecrd/internal/api/awsjson"
	"github.com/ecrd/ecrd/internal/auth"
	"github.com/ecrd/ecrd/internal/metadata"
	"github.com/ecrd/ecrd/internal/registry"
)

var (
	patternCredentialArn = newModelPattern(`^arn:aws(-\w+)*:secretsmanager:[a-zA-Z0-9-:]+:secret:ecr\-pullthroughcache\/[a-zA-Z0-9\/_+=.@-]+$`)
	enumUpstreamRegistry = []string{"ecr", "ecr-public", "quay", "k8s", "docker-hub", "github-container-registry",
		"azure-container-registry", "gitlab-container-registry", "chainguard"}

	shapePTCPrefix        = stringRule{length: lengthRule{2, 30}, pattern: patternPrefix}
	shapeUrl              = stringRule{}
	shapeCredentialArn    = stringRule{length: lengthRule{50, 612}, pattern: patternCredentialArn}
	shapeUpstreamRegistry = stringRule{enum: enumUpstreamRegistry}
	listPTCPrefixes       = lengthRule{1, 100}
)

// PullThroughCacheRule describes a rule, as DescribePullThroughCacheRules
// lists it.
type PullThroughCacheRule struct {
	EcrRepositoryPrefix      string     `json:"ecrRepositoryPrefix,omitempty"`
	UpstreamRegistryUrl      string     `json:"upstreamRegistryUrl,omitempty"`
	CreatedAt                *Timestamp `json:"createdAt,omitempty"`
	RegistryId               string     `json:"registryId,omitempty"`
	CredentialArn            string     `json:"credentialArn,omitempty"`
	CustomRoleArn            string     `json:"customRoleArn,omitempty"`
	UpstreamRepositoryPrefix string     `json:"upstreamRepositoryPrefix,omitempty"`
	UpstreamRegistry         string     `json:"upstreamRegistry,omitempty"`
	UpdatedAt                *Timestamp `json:"updatedAt,omitempty"`
}

// CreatePullThroughCacheRuleInput is the CreatePullThroughCacheRule request.
type CreatePullThroughCacheRuleInput struct {
	EcrRepositoryPrefix      *string `json:"ecrRepositoryPrefix,omitempty"`
	UpstreamRegistryUrl      *string `json:"upstreamRegistryUrl,omitempty"`
	RegistryId               *string `json:"registryId,omitempty"`
	UpstreamRegistry         *string `json:"upstreamRegistry,omitempty"`
	CredentialArn            *string `json:"credentialArn,omitempty"`
	CustomRoleArn            *string `json:"customRoleArn,omitempty"`
	UpstreamRepositoryPrefix *string `json:"upstreamRepositoryPrefix,omitempty"`
}

// CreatePullThroughCacheRuleOutput is the CreatePullThroughCacheRule
// response: the rule, without updatedAt.
type CreatePullThroughCacheRuleOutput PullThroughCacheRule

// DescribePullThroughCacheRulesInput is the DescribePullThroughCacheRules
// request.
type DescribePullThroughCacheRulesInput struct {
	RegistryId            *string  `json:"registryId,omitempty"`
	EcrRepositoryPrefixes []string `json:"ecrRepositoryPrefixes,omitempty"`
	NextToken             *string  `json:"nextToken,omitempty"`
	MaxResults            *int32   `json:"maxResults,omitempty"`
}

// DescribePullThroughCacheRulesOutput is the DescribePullThroughCacheRules
// response.
type DescribePullThroughCacheRulesOutput struct {
	PullThroughCacheRules []PullThroughCacheRule `json:"pullThroughCacheRules"`
	NextToken             string                 `json:"nextToken,omitempty"`
}

// UpdatePullThroughCacheRuleInput is the UpdatePullThroughCacheRule request.
type UpdatePullThroughCacheRuleInput struct {
	RegistryId          *string `json:"registryId,omitempty"`
	EcrRepositoryPrefix *string `json:"ecrRepositoryPrefix,omitempty"`
	CredentialArn       *string `json:"credentialArn,omitempty"`
	CustomRoleArn       *string `json:"customRoleArn,omitempty"`
}

// UpdatePullThroughCacheRuleOutput is the UpdatePullThroughCacheRule
// response: the rule's prefix, registry, credential, role, upstream
// prefix and updatedAt.
type UpdatePullThroughCacheRuleOutput struct {
	EcrRepositoryPrefix      string     `json:"ecrRepositoryPrefix,omitempty"`
	RegistryId               string     `json:"registryId,omitempty"`
	UpdatedAt                *Timestamp `json:"updatedAt,omitempty"`
	CredentialArn            string     `json:"credentialArn,omitempty"`
	CustomRoleArn            string     `json:"customRoleArn,omitempty"`
	UpstreamRepositoryPrefix string     `json:"upstreamRepositoryPrefix,omitempty"`
}

// PullThroughCacheRuleInput names one rule: the DeletePullThroughCacheRule
// and ValidatePullThroughCacheRule requests.
type PullThroughCacheRuleInput struct {
	EcrRepositoryPrefix *string `json:"ecrRepositoryPrefix,omitempty"`
	RegistryId          *string `json:"registryId,omitempty"`
}

// DeletePullThroughCacheRuleInput is the DeletePullThroughCacheRule request.
type DeletePullThroughCacheRuleInput PullThroughCacheRuleInput

// DeletePullThroughCacheRuleOutput is the DeletePullThroughCacheRule
// response: the rule deleted, without upstreamRegistry and updatedAt.
type DeletePullThroughCacheRuleOutput PullThroughCacheRule

// ValidatePullThroughCacheRuleInput is the ValidatePullThroughCacheRule
// request.
type ValidatePullThroughCacheRuleInput PullThroughCacheRuleInput

// ValidatePullThroughCacheRuleOutput is the ValidatePullThroughCacheRule
// response.
type ValidatePullThroughCacheRuleOutput struct {
	EcrRepositoryPrefix      string `json:"ecrRepositoryPrefix,omitempty"`
	RegistryId               string `json:"registryId,omitempty"`
	UpstreamRegistryUrl      string `json:"upstreamRegistryUrl,omitempty"`
	CredentialArn            string `json:"credentialArn,omitempty"`
	CustomRoleArn            string `json:"customRoleArn,omitempty"`
	UpstreamRepositoryPrefix string `json:"upstreamRepositoryPrefix,omitempty"`
	IsValid                  bool   `json:"isValid"`
	Failure                  string `json:"failure,omitempty"`
}

func (in *CreatePullThroughCacheRuleInput) validate() error {
	c := new(shapeChecker)
	c.str("ecrRepositoryPrefix", in.EcrRepositoryPrefix, requiredMember, shapePTCPrefix)
	c.str("upstreamRegistryUrl", in.UpstreamRegistryUrl, requiredMember, shapeUrl)
	c.str("registryId", in.RegistryId, optionalMember, shapeRegistryID)
	c.str("upstreamRegistry", in.UpstreamRegistry, optionalMember, shapeUpstreamRegistry)
	c.str("credentialArn", in.CredentialArn, optionalMember, shapeCredentialArn)
	c.str("customRoleArn", in.CustomRoleArn, optionalMember, shapeCustomRoleArn)
	c.str("upstreamRepositoryPrefix", in.UpstreamRepositoryPrefix, optionalMember, shapePTCPrefix)
	return c.result()
}

func (in *DescribePullThroughCacheRulesInput) validate() error {
	c := new(shapeChecker)
	c.str("registryId", in.RegistryId, optionalMember, shapeRegistryID)
	checkList(c, "ecrRepositoryPrefixes", in.EcrRepositoryPrefixes, optionalMember, listPTCPrefixes, stringMembers(shapePTCPrefix))
	c.str("nextToken", in.NextToken, optionalMember, shapeNextToken)
	c.int32("maxResults", in.MaxResults, optionalMember, shapeMaxResults)
	return c.result()
}

func (in *UpdatePullThroughCacheRuleInput) validate() error {
	c := new(shapeChecker)
	c.str("registryId", in.RegistryId, optionalMember, shapeRegistryID)
	c.str("ecrRepositoryPrefix", in.EcrRepositoryPrefix, requiredMember, shapePTCPrefix)
	c.str("credentialArn", in.CredentialArn, optionalMember, shapeCredentialArn)
	c.str("customRoleArn", in.CustomRoleArn, optionalMember, shapeCustomRoleArn)
	if err := c.result(); err != nil {
		return err
	}
	if in.CredentialArn == nil && in.CustomRoleArn == nil {
		return &registry.Error{Code: registry.CodeValidation, Message: "Specify a credentialArn, a customRoleArn or both to update the pull through cache rule"}
	}
	return nil
}

func (in *PullThroughCacheRuleInput) validate() error {
	c := new(shapeChecker)
	c.str("ecrRepositoryPrefix", in.EcrRepositoryPrefix, requiredMember, shapePTCPrefix)
	c.str("registryId", in.RegistryId, optionalMember, shapeRegistryID)
	return c.result()
}

func (in *DeletePullThroughCacheRuleInput) validate() error {
	return (*PullThroughCacheRuleInput)(in).validate()
}

func (in *ValidatePullThroughCacheRuleInput) validate() error {
	return (*PullThroughCacheRuleInput)(in).validate()
}

// upstreamPrefix is a rule's upstreamRepositoryPrefix as answers give it:
// ROOT when the request named ROOT, else the prefix ("" when none).
func upstreamPrefix(r registry.PullThroughCacheRule) string {
	if r.UpstreamRepositoryPrefix == "" && r.UpstreamRootGiven {
		return registry.RootPrefix
	}
	return r.UpstreamRepositoryPrefix
}

func ptcRule(s metadata.Scope, r registry.PullThroughCacheRule) PullThroughCacheRule {
	return PullThroughCacheRule{
		EcrRepositoryPrefix:      r.Prefix,
		UpstreamRegistryUrl:      r.UpstreamRegistryURL,
		CreatedAt:                awsjson.NewTimestamp(r.CreatedAt),
		RegistryId:               s.Account,
		CredentialArn:            r.CredentialARN,
		CustomRoleArn:            r.CustomRoleARN,
		UpstreamRepositoryPrefix: upstreamPrefix(r),
		UpstreamRegistry:         r.UpstreamRegistry,
		UpdatedAt:                awsjson.NewTimestamp(r.UpdatedAt),
	}
}

func (h *Handler) createPullThroughCacheRule(ctx context.Context, c auth.Caller, in *CreatePullThroughCacheRuleInput) (*CreatePullThroughCacheRuleOutput, error) {
	s := scope(c, in.RegistryId)
	rule, err := h.reg.CreatePullThroughCacheRule(ctx, s, registry.PullThroughCacheRule{
		Prefix:                   deref(in.EcrRepositoryPrefix),
		UpstreamRegistryURL:      deref(in.UpstreamRegistryUrl),
		UpstreamRegistry:         deref(in.UpstreamRegistry),
		CredentialARN:            deref(in.CredentialArn),
		CustomRoleARN:            deref(in.CustomRoleArn),
		UpstreamRepositoryPrefix: deref(in.UpstreamRepositoryPrefix),
	})
	if err != nil {
		return nil, err
	}
	out := CreatePullThroughCacheRuleOutput(ptcRule(s, rule))
	out.UpdatedAt = nil
	return &out, nil
}

func (h *Handler) describePullThroughCacheRules(ctx context.Context, c auth.Caller, in *DescribePullThroughCacheRulesInput) (*DescribePullThroughCacheRulesOutput, error) {
	s := scope(c, in.RegistryId)
	rules, next, err := h.reg.DescribePullThroughCacheRules(ctx, s, in.EcrRepositoryPrefixes, deref(in.NextToken), pageSize(in.MaxResults))
	if err != nil {
		return nil, err
	}
	out := &DescribePullThroughCacheRulesOutput{PullThroughCacheRules: []PullThroughCacheRule{}, NextToken: next}
	for _, r := range rules {
		out.PullThroughCacheRules = append(out.PullThroughCacheRules, ptcRule(s, r))
	}
	return out, nil
}

func (h *Handler) updatePullThroughCacheRule(ctx context.Context, c auth.Caller, in *UpdatePullThroughCacheRuleInput) (*UpdatePullThroughCacheRuleOutput, error) {
	s := scope(c, in.RegistryId)
	rule, err := h.reg.UpdatePullThroughCacheRule(ctx, s, deref(in.EcrRepositoryPrefix), registry.PullThroughCacheRuleUpdate{
		CredentialARN: in.CredentialArn, CustomRoleARN: in.CustomRoleArn})
	if err != nil {
		return nil, err
	}
	return &UpdatePullThroughCacheRuleOutput{
		EcrRepositoryPrefix:      rule.Prefix,
		RegistryId:               s.Account,
		UpdatedAt:                awsjson.NewTimestamp(rule.UpdatedAt),
		CredentialArn:            rule.CredentialARN,
		CustomRoleArn:            rule.CustomRoleARN,
		UpstreamRepositoryPrefix: upstreamPrefix(rule),
	}, nil
}

func (h *Handler) deletePullThroughCacheRule(ctx context.Context, c auth.Caller, in *DeletePullThroughCacheRuleInput) (*DeletePullThroughCacheRuleOutput, error) {
	s := scope(c, in.RegistryId)
	rule, err := h.reg.DeletePullThroughCacheRule(ctx, s, deref(in.EcrRepositoryPrefix))
	if err != nil {
		return nil, err
	}
	out := DeletePullThroughCacheRuleOutput(ptcRule(s, rule))
	out.UpstreamRegistry, out.UpdatedAt = "", nil
	return &out, nil
}

func (h *Handler) validatePullThroughCacheRule(ctx context.Context, c auth.Caller, in *ValidatePullThroughCacheRuleInput) (*ValidatePullThroughCacheRuleOutput, error) {
	s := scope(c, in.RegistryId)
	v, err := h.reg.ValidatePullThroughCacheRule(ctx, s, deref(in.EcrRepositoryPrefix))
	if err != nil {
		return nil, err
	}
	return &ValidatePullThroughCacheRuleOutput{
		EcrRepositoryPrefix:      v.Rule.Prefix,
		RegistryId:               s.Account,
		UpstreamRegistryUrl:      v.Rule.UpstreamRegistryURL,
		CredentialArn:            v.Rule.CredentialARN,
		CustomRoleArn:            v.Rule.CustomRoleARN,
		UpstreamRepositoryPrefix: upstreamPrefix(v.Rule),
		IsValid:                  v.Valid,
		Failure:                  v.Failure,
	}, nil
}

// upstreamMessage words a rule's refused upstream settings as ECR does.
func upstreamMessage(e *registry.UpstreamError) string {
	switch e.Problem {
	case registry.UpstreamURLInvalid:
		return fmt.Sprintf("The upstream registry URL %s is invalid. Specify a valid upstream registry URL and try again", e.URL)
	case registry.UpstreamURLMismatch:
		return fmt.Sprintf("The upstream registry URL %s is not a URL of the upstream registry %s. Specify a valid upstream registry URL and try again", e.URL, e.Registry)
	case registry.UpstreamNeedsCredential:
		return "The specified upstream registry requires authentication. Specify a valid Secrets Manager ARN"
	case registry.UpstreamRefusesCredential:
		return "The specified upstream registry does not support authentication. Remove the Secrets Manager ARN and try again"
	case registry.UpstreamRoleNotECR:
		return "A custom role ARN can only be specified for a pull through cache rule whose upstream registry is ecr"
	case registry.UpstreamPrefixAtRoot:
		return "An upstream repository prefix can only be specified when the ECR repository prefix is not ROOT"
	}
	return e.Error()
}

// secretMessage words a secret that cannot be read as ECR does.
func secretMessage(e *registry.SecretError) string {
	switch e.Code {
	case registry.CodeUnableToAccessSecret:
		return fmt.Sprintf("The secret %s is unable to be accessed. Verify the resource permissions for the secret and try again", e.ARN)
	case registry.CodeUnableToDecryptSecret:
		return fmt.Sprintf("The secret %s is accessible but is unable to be decrypted. Verify the resource permissions and try again", e.ARN)
	}
	return fmt.Sprintf("The ARN of the secret specified in the pull through cache rule was not found: %s. Update the pull through cache rule with a valid secret ARN and try again", e.ARN)
}
