package ecr

// Lifecycle policies and their previews, the archive storage class and
// pull time update exclusions.

import (
	"context"
	"strings"
	"time"

	"github.com/ecrd/ecrd/internal/api/awsjson"
	"github.com/ecrd/ecrd/internal/auth"
	"github.com/ecrd/ecrd/internal/lifecycle"
	"github.com/ecrd/ecrd/internal/registry"
)

var (
	shapeLifecyclePolicyText = stringRule{length: lengthRule{100, 30720}}
	shapeTargetStorageClass  = stringRule{enum: []string{"STANDARD", "ARCHIVE"}}
	shapePrincipalArn        = stringRule{length: lengthRule{0, 200},
		pattern: newModelPattern(`^arn:aws(-[a-z]+)*:iam::[0-9]{12}:(role|user)/[\w+=,.@-]+(/[\w+=,.@-]+)*$`)}
	shapePreviewMaxResults = intRange(1, 100)
)

// PutLifecyclePolicyInput is the PutLifecyclePolicy request.
type PutLifecyclePolicyInput struct {
	RegistryId          *string `json:"registryId,omitempty"`
	RepositoryName      *string `json:"repositoryName,omitempty"`
	LifecyclePolicyText *string `json:"lifecyclePolicyText,omitempty"`
}

// PutLifecyclePolicyOutput is the PutLifecyclePolicy response.
type PutLifecyclePolicyOutput struct {
	RegistryId          string `json:"registryId,omitempty"`
	RepositoryName      string `json:"repositoryName,omitempty"`
	LifecyclePolicyText string `json:"lifecyclePolicyText,omitempty"`
}

// GetLifecyclePolicyInput is the GetLifecyclePolicy request.
type GetLifecyclePolicyInput struct {
	RegistryId     *string `json:"registryId,omitempty"`
	RepositoryName *string `json:"repositoryName,omitempty"`
}

// GetLifecyclePolicyOutput is the GetLifecyclePolicy response, and the
// DeleteLifecyclePolicy one.
type GetLifecyclePolicyOutput struct {
	RegistryId          string     `json:"registryId,omitempty"`
	RepositoryName      string     `json:"repositoryName,omitempty"`
	LifecyclePolicyText string     `json:"lifecyclePolicyText,omitempty"`
	LastEvaluatedAt     *Timestamp `json:"lastEvaluatedAt,omitempty"`
}

// DeleteLifecyclePolicyInput is the DeleteLifecyclePolicy request.
type DeleteLifecyclePolicyInput GetLifecyclePolicyInput

// StartLifecyclePolicyPreviewInput is the StartLifecyclePolicyPreview
// request.
type StartLifecyclePolicyPreviewInput struct {
	RegistryId          *string `json:"registryId,omitempty"`
	RepositoryName      *string `json:"repositoryName,omitempty"`
	LifecyclePolicyText *string `json:"lifecyclePolicyText,omitempty"`
}

// StartLifecyclePolicyPreviewOutput is the StartLifecyclePolicyPreview
// response.
type StartLifecyclePolicyPreviewOutput struct {
	RegistryId          string     `json:"registryId,omitempty"`
	RepositoryName      string     `json:"repositoryName,omitempty"`
	LifecyclePolicyText string     `json:"lifecyclePolicyText,omitempty"`
	Status              string     `json:"status,omitempty"`
	EvaluateAt          *Timestamp `json:"evaluateAt,omitempty"`
}

// LifecyclePolicyPreviewFilter narrows GetLifecyclePolicyPreview.
type LifecyclePolicyPreviewFilter struct {
	TagStatus *string `json:"tagStatus,omitempty"`
}

// GetLifecyclePolicyPreviewInput is the GetLifecyclePolicyPreview request.
type GetLifecyclePolicyPreviewInput struct {
	RegistryId     *string                       `json:"registryId,omitempty"`
	RepositoryName *string                       `json:"repositoryName,omitempty"`
	ImageIds       []ImageIdentifier             `json:"imageIds,omitempty"`
	NextToken      *string                       `json:"nextToken,omitempty"`
	MaxResults     *int32                        `json:"maxResults,omitempty"`
	Filter         *LifecyclePolicyPreviewFilter `json:"filter,omitempty"`
}

// LifecyclePolicyRuleAction is what a rule does to an image.
type LifecyclePolicyRuleAction struct {
	Type               string `json:"type,omitempty"`
	TargetStorageClass string `json:"targetStorageClass,omitempty"`
}

// LifecyclePolicyPreviewResult is one image a preview acts on.
type LifecyclePolicyPreviewResult struct {
	ImageTags           []string                   `json:"imageTags,omitempty"`
	ImageDigest         string                     `json:"imageDigest,omitempty"`
	ImagePushedAt       *Timestamp                 `json:"imagePushedAt,omitempty"`
	Action              *LifecyclePolicyRuleAction `json:"action,omitempty"`
	AppliedRulePriority *int32                     `json:"appliedRulePriority,omitempty"`
	StorageClass        string                     `json:"storageClass,omitempty"`
}

// TransitioningImageTotalCount counts the images a preview moves to a
// storage class.
type TransitioningImageTotalCount struct {
	TargetStorageClass string `json:"targetStorageClass,omitempty"`
	ImageTotalCount    int32  `json:"imageTotalCount"`
}

// LifecyclePolicyPreviewSummary counts a preview's actions.
type LifecyclePolicyPreviewSummary struct {
	ExpiringImageTotalCount       int32                          `json:"expiringImageTotalCount"`
	TransitioningImageTotalCounts []TransitioningImageTotalCount `json:"transitioningImageTotalCounts,omitempty"`
}

// GetLifecyclePolicyPreviewOutput is the GetLifecyclePolicyPreview response.
type GetLifecyclePolicyPreviewOutput struct {
	RegistryId          string                         `json:"registryId,omitempty"`
	RepositoryName      string                         `json:"repositoryName,omitempty"`
	LifecyclePolicyText string                         `json:"lifecyclePolicyText,omitempty"`
	Status              string                         `json:"status,omitempty"`
	NextToken           string                         `json:"nextToken,omitempty"`
	PreviewResults      []LifecyclePolicyPreviewResult `json:"previewResults"`
	Summary             *LifecyclePolicyPreviewSummary `json:"summary,omitempty"`
	// EvaluateAt is ecrd's own member: the time the preview looked at.
	EvaluateAt *Timestamp `json:"evaluateAt,omitempty"`
}

// UpdateImageStorageClassInput is the UpdateImageStorageClass request.
type UpdateImageStorageClassInput struct {
	RegistryId         *string          `json:"registryId,omitempty"`
	RepositoryName     *string          `json:"repositoryName,omitempty"`
	ImageId            *ImageIdentifier `json:"imageId,omitempty"`
	TargetStorageClass *string          `json:"targetStorageClass,omitempty"`
}

// UpdateImageStorageClassOutput is the UpdateImageStorageClass response.
type UpdateImageStorageClassOutput struct {
	RegistryId     string           `json:"registryId,omitempty"`
	RepositoryName string           `json:"repositoryName,omitempty"`
	ImageId        *ImageIdentifier `json:"imageId,omitempty"`
	ImageStatus    string           `json:"imageStatus,omitempty"`
}

// RegisterPullTimeUpdateExclusionInput is the
// RegisterPullTimeUpdateExclusion request.
type RegisterPullTimeUpdateExclusionInput struct {
	PrincipalArn *string `json:"principalArn,omitempty"`
}

// DeregisterPullTimeUpdateExclusionInput is the
// DeregisterPullTimeUpdateExclusion request.
type DeregisterPullTimeUpdateExclusionInput RegisterPullTimeUpdateExclusionInput

// RegisterPullTimeUpdateExclusionOutput is the
// RegisterPullTimeUpdateExclusion response.
type RegisterPullTimeUpdateExclusionOutput struct {
	PrincipalArn string     `json:"principalArn,omitempty"`
	CreatedAt    *Timestamp `json:"createdAt,omitempty"`
}

// DeregisterPullTimeUpdateExclusionOutput is the
// DeregisterPullTimeUpdateExclusion response.
type DeregisterPullTimeUpdateExclusionOutput struct {
	PrincipalArn string `json:"principalArn,omitempty"`
}

// ListPullTimeUpdateExclusionsInput is the ListPullTimeUpdateExclusions
// request.
type ListPullTimeUpdateExclusionsInput struct {
	MaxResults *int32  `json:"maxResults,omitempty"`
	NextToken  *string `json:"nextToken,omitempty"`
}

// ListPullTimeUpdateExclusionsOutput is the ListPullTimeUpdateExclusions
// response.
type ListPullTimeUpdateExclusionsOutput struct {
	PullTimeUpdateExclusions []string `json:"pullTimeUpdateExclusions"`
	NextToken                string   `json:"nextToken,omitempty"`
}

func (in *PutLifecyclePolicyInput) validate() error {
	c := new(shapeChecker)
	c.str("registryId", in.RegistryId, optionalMember, shapeRegistryID)
	c.str("repositoryName", in.RepositoryName, requiredMember, shapeRepositoryName)
	c.str("lifecyclePolicyText", in.LifecyclePolicyText, requiredMember, shapeLifecyclePolicyText)
	return c.result()
}

func (in *GetLifecyclePolicyInput) validate() error {
	c := new(shapeChecker)
	c.str("registryId", in.RegistryId, optionalMember, shapeRegistryID)
	c.str("repositoryName", in.RepositoryName, requiredMember, shapeRepositoryName)
	return c.result()
}

func (in *DeleteLifecyclePolicyInput) validate() error {
	return (*GetLifecyclePolicyInput)(in).validate()
}

func (in *StartLifecyclePolicyPreviewInput) validate() error {
	c := new(shapeChecker)
	c.str("registryId", in.RegistryId, optionalMember, shapeRegistryID)
	c.str("repositoryName", in.RepositoryName, requiredMember, shapeRepositoryName)
	c.str("lifecyclePolicyText", in.LifecyclePolicyText, optionalMember, shapeLifecyclePolicyText)
	return c.result()
}

func (in *GetLifecyclePolicyPreviewInput) validate() error {
	c := new(shapeChecker)
	c.str("registryId", in.RegistryId, optionalMember, shapeRegistryID)
	c.str("repositoryName", in.RepositoryName, requiredMember, shapeRepositoryName)
	checkList(c, "imageIds", in.ImageIds, optionalMember, listImageIdentifiers, (*shapeChecker).imageIdentifier)
	c.str("nextToken", in.NextToken, optionalMember, shapeNextToken)
	c.int32("maxResults", in.MaxResults, optionalMember, shapePreviewMaxResults)
	checkStructure(c, "filter", in.Filter, optionalMember, func(c *shapeChecker, path string, f *LifecyclePolicyPreviewFilter) {
		c.str(nestedPath(path, "tagStatus"), f.TagStatus, optionalMember, shapeTagStatus)
	})
	return c.result()
}

func (in *UpdateImageStorageClassInput) validate() error {
	c := new(shapeChecker)
	c.str("registryId", in.RegistryId, optionalMember, shapeRegistryID)
	c.str("repositoryName", in.RepositoryName, requiredMember, shapeRepositoryName)
	checkStructure(c, "imageId", in.ImageId, requiredMember, (*shapeChecker).imageIdentifier)
	c.str("targetStorageClass", in.TargetStorageClass, requiredMember, shapeTargetStorageClass)
	return c.result()
}

func (in *RegisterPullTimeUpdateExclusionInput) validate() error {
	c := new(shapeChecker)
	c.str("principalArn", in.PrincipalArn, requiredMember, shapePrincipalArn)
	return c.result()
}

func (in *DeregisterPullTimeUpdateExclusionInput) validate() error {
	return (*RegisterPullTimeUpdateExclusionInput)(in).validate()
}

func (in *ListPullTimeUpdateExclusionsInput) validate() error {
	c := new(shapeChecker)
	c.int32("maxResults", in.MaxResults, optionalMember, shapeMaxResults)
	c.str("nextToken", in.NextToken, optionalMember, shapeNextToken)
	return c.result()
}

func (h *Handler) putLifecyclePolicy(ctx context.Context, c auth.Caller, in *PutLifecyclePolicyInput) (*PutLifecyclePolicyOutput, error) {
	p, err := h.reg.PutLifecyclePolicy(ctx, repoKey(c, in.RegistryId, in.RepositoryName), deref(in.LifecyclePolicyText))
	if err != nil {
		return nil, err
	}
	return &PutLifecyclePolicyOutput{RegistryId: p.Repo.Account, RepositoryName: p.Repo.Name, LifecyclePolicyText: p.Text}, nil
}

// lastEvaluated is a policy's lastEvaluatedAt: ECR answers it always, 0
// for a policy that never ran.
func lastEvaluated(t time.Time) *Timestamp {
	if t.IsZero() {
		return &Timestamp{Time: time.Unix(0, 0).UTC()}
	}
	return &Timestamp{Time: t}
}

func (h *Handler) getLifecyclePolicy(ctx context.Context, c auth.Caller, in *GetLifecyclePolicyInput) (*GetLifecyclePolicyOutput, error) {
	p, err := h.reg.LifecyclePolicy(ctx, repoKey(c, in.RegistryId, in.RepositoryName))
	if err != nil {
		return nil, err
	}
	return &GetLifecyclePolicyOutput{RegistryId: p.Repo.Account, RepositoryName: p.Repo.Name, LifecyclePolicyText: p.Text,
		LastEvaluatedAt: lastEvaluated(p.LastEvaluatedAt)}, nil
}

func (h *Handler) deleteLifecyclePolicy(ctx context.Context, c auth.Caller, in *DeleteLifecyclePolicyInput) (*GetLifecyclePolicyOutput, error) {
	p, err := h.reg.DeleteLifecyclePolicy(ctx, repoKey(c, in.RegistryId, in.RepositoryName))
	if err != nil {
		return nil, err
	}
	return &GetLifecyclePolicyOutput{RegistryId: p.Repo.Account, RepositoryName: p.Repo.Name, LifecyclePolicyText: p.Text,
		LastEvaluatedAt: lastEvaluated(p.LastEvaluatedAt)}, nil
}

func (h *Handler) startLifecyclePolicyPreview(ctx context.Context, c auth.Caller, in *StartLifecyclePolicyPreviewInput) (*StartLifecyclePolicyPreviewOutput, error) {
	return h.startPreview(ctx, c, in, Timestamp{})
}

// startPreview starts a preview evaluated at time at (zero: now).
func (h *Handler) startPreview(ctx context.Context, c auth.Caller, in *StartLifecyclePolicyPreviewInput, at Timestamp) (*StartLifecyclePolicyPreviewOutput, error) {
	p, err := h.reg.StartLifecyclePolicyPreview(ctx, repoKey(c, in.RegistryId, in.RepositoryName), deref(in.LifecyclePolicyText), at.Time)
	if err != nil {
		return nil, err
	}
	out := &StartLifecyclePolicyPreviewOutput{RegistryId: p.Repo.Account, RepositoryName: p.Repo.Name, LifecyclePolicyText: p.Text, Status: p.Status}
	if !at.IsZero() {
		out.EvaluateAt = awsjson.NewTimestamp(p.EvaluateAt)
	}
	return out, nil
}

// wireAction writes a policy action as the API's enums (upper case).
func wireAction(a lifecycle.Action) *LifecyclePolicyRuleAction {
	return &LifecyclePolicyRuleAction{Type: strings.ToUpper(string(a.Type)), TargetStorageClass: strings.ToUpper(string(a.TargetStorageClass))}
}

func (h *Handler) getLifecyclePolicyPreview(ctx context.Context, c auth.Caller, in *GetLifecyclePolicyPreviewInput) (*GetLifecyclePolicyPreviewOutput, error) {
	key := repoKey(c, in.RegistryId, in.RepositoryName)
	filter := registry.PreviewFilter{IDs: coreImageIDs(in.ImageIds)}
	if in.Filter != nil {
		filter.Tags = registry.TagStatus(deref(in.Filter.TagStatus))
	}
	p, sum, next, err := h.reg.LifecyclePolicyPreviewPage(ctx, key, filter, deref(in.NextToken), int(deref(in.MaxResults)))
	if err != nil {
		return nil, err
	}
	out := &GetLifecyclePolicyPreviewOutput{RegistryId: key.Account, RepositoryName: key.Name, LifecyclePolicyText: p.Text,
		Status: p.Status, NextToken: next, PreviewResults: []LifecyclePolicyPreviewResult{}, EvaluateAt: awsjson.NewTimestamp(p.EvaluateAt)}
	if p.Status != registry.PreviewComplete {
		return out, nil
	}
	out.Summary = &LifecyclePolicyPreviewSummary{ExpiringImageTotalCount: int32(sum.Expiring)}
	if sum.Archiving > 0 {
		out.Summary.TransitioningImageTotalCounts = []TransitioningImageTotalCount{{TargetStorageClass: "ARCHIVE", ImageTotalCount: int32(sum.Archiving)}}
	}
	for _, res := range p.Results {
		r := LifecyclePolicyPreviewResult{
			ImageTags: res.Tags, ImageDigest: res.Digest, ImagePushedAt: awsjson.NewTimestamp(res.PushedAt),
			Action: wireAction(res.Action), StorageClass: res.StorageClass,
		}
		// A referrer whose subject is gone is expired by no rule (0): the
		// model allows only priorities from 1, so the member is left out.
		if res.RulePriority > 0 {
			r.AppliedRulePriority = ptr(int32(res.RulePriority))
		}
		out.PreviewResults = append(out.PreviewResults, r)
	}
	return out, nil
}

func (h *Handler) updateImageStorageClass(ctx context.Context, c auth.Caller, in *UpdateImageStorageClassInput) (*UpdateImageStorageClassOutput, error) {
	key := repoKey(c, in.RegistryId, in.RepositoryName)
	id, status, err := h.reg.UpdateImageStorageClass(ctx, key, coreImageIDs([]ImageIdentifier{*in.ImageId})[0], deref(in.TargetStorageClass))
	if err != nil {
		return nil, err
	}
	return &UpdateImageStorageClassOutput{RegistryId: key.Account, RepositoryName: key.Name, ImageId: wireID(id), ImageStatus: status}, nil
}

func (h *Handler) registerPullTimeUpdateExclusion(ctx context.Context, c auth.Caller, in *RegisterPullTimeUpdateExclusionInput) (*RegisterPullTimeUpdateExclusionOutput, error) {
	e, err := h.reg.RegisterPullTimeUpdateExclusion(ctx, scope(c, nil), deref(in.PrincipalArn))
	if err != nil {
		return nil, err
	}
	return &RegisterPullTimeUpdateExclusionOutput{PrincipalArn: e.Principal, CreatedAt: awsjson.NewTimestamp(e.CreatedAt)}, nil
}

func (h *Handler) deregisterPullTimeUpdateExclusion(ctx context.Context, c auth.Caller, in *DeregisterPullTimeUpdateExclusionInput) (*DeregisterPullTimeUpdateExclusionOutput, error) {
	if err := h.reg.DeregisterPullTimeUpdateExclusion(ctx, scope(c, nil), deref(in.PrincipalArn)); err != nil {
		return nil, err
	}
	return &DeregisterPullTimeUpdateExclusionOutput{PrincipalArn: deref(in.PrincipalArn)}, nil
}

func (h *Handler) listPullTimeUpdateExclusions(ctx context.Context, c auth.Caller, in *ListPullTimeUpdateExclusionsInput) (*ListPullTimeUpdateExclusionsOutput, error) {
	list, next, err := h.reg.PullTimeUpdateExclusions(ctx, scope(c, nil), deref(in.NextToken), int(deref(in.MaxResults)))
	if err != nil {
		return nil, err
	}
	if list == nil {
		list = []string{}
	}
	return &ListPullTimeUpdateExclusionsOutput{PullTimeUpdateExclusions: list, NextToken: next}, nil
}
