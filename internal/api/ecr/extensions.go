package ecr

// ecrd's own operations, beyond ECR's, served on the same endpoint with
// the same protocol and signing (service "ecr") under their own
// X-Amz-Target prefix, so that they can never collide with an operation
// ECR adds later. The ecrd command line is their client.

import (
	"context"
	"time"

	"github.com/ecrd/ecrd/internal/api/awsjson"
	"github.com/ecrd/ecrd/internal/auth"
	"github.com/ecrd/ecrd/internal/events/delivery"
	"github.com/ecrd/ecrd/internal/identity"
	"github.com/ecrd/ecrd/internal/registry"
	"github.com/ecrd/ecrd/internal/reqinfo"
)

// ExtensionPrefix starts the X-Amz-Target of ecrd's own operations.
const ExtensionPrefix = "Ecrd_V20261126."

// PreviewAtInput is ecrd's StartLifecyclePolicyPreview: ECR's request
// with evaluateAt, the time to evaluate the policy at (a future time
// answers "what will this policy act on then?").
type PreviewAtInput struct {
	RegistryId          *string    `json:"registryId,omitempty"`
	RepositoryName      *string    `json:"repositoryName,omitempty"`
	LifecyclePolicyText *string    `json:"lifecyclePolicyText,omitempty"`
	EvaluateAt          *Timestamp `json:"evaluateAt,omitempty"`
}

// RunLifecyclePolicyInput asks to run lifecycle policies now: the named
// repository's, or all of the registry's.
type RunLifecyclePolicyInput struct {
	RegistryId     *string `json:"registryId,omitempty"`
	RepositoryName *string `json:"repositoryName,omitempty"`
}

// RunLifecyclePolicyOutput says what the run did.
type RunLifecyclePolicyOutput struct {
	RepositoryCount    int `json:"repositoryCount"`
	ExpiredImageCount  int `json:"expiredImageCount"`
	ArchivedImageCount int `json:"archivedImageCount"`
	SkippedImageCount  int `json:"skippedImageCount"`
}

// SetImageTimesInput sets an image's push and last pull times, for
// images imported from another registry.
type SetImageTimesInput struct {
	RegistryId           *string          `json:"registryId,omitempty"`
	RepositoryName       *string          `json:"repositoryName,omitempty"`
	ImageId              *ImageIdentifier `json:"imageId,omitempty"`
	ImagePushedAt        *Timestamp       `json:"imagePushedAt,omitempty"`
	LastRecordedPullTime *Timestamp       `json:"lastRecordedPullTime,omitempty"`
	// UpstreamCheckedAt is when a pull-through cached tag (imageId's
	// imageTag) was last checked upstream.
	UpstreamCheckedAt *Timestamp `json:"upstreamCheckedAt,omitempty"`
}

// SetImageTimesOutput is the image's times after the change.
type SetImageTimesOutput struct {
	RegistryId           string           `json:"registryId,omitempty"`
	RepositoryName       string           `json:"repositoryName,omitempty"`
	ImageId              *ImageIdentifier `json:"imageId,omitempty"`
	ImagePushedAt        *Timestamp       `json:"imagePushedAt,omitempty"`
	LastRecordedPullTime *Timestamp       `json:"lastRecordedPullTime,omitempty"`
}

func (in *PreviewAtInput) validate() error {
	return (*StartLifecyclePolicyPreviewInput)(in.ecr()).validate()
}

func (in *PreviewAtInput) ecr() *StartLifecyclePolicyPreviewInput {
	return &StartLifecyclePolicyPreviewInput{RegistryId: in.RegistryId, RepositoryName: in.RepositoryName, LifecyclePolicyText: in.LifecyclePolicyText}
}

func (in *RunLifecyclePolicyInput) validate() error {
	c := new(shapeChecker)
	c.str("registryId", in.RegistryId, optionalMember, shapeRegistryID)
	c.str("repositoryName", in.RepositoryName, optionalMember, shapeRepositoryName)
	return c.result()
}

func (in *SetImageTimesInput) validate() error {
	c := new(shapeChecker)
	c.str("registryId", in.RegistryId, optionalMember, shapeRegistryID)
	c.str("repositoryName", in.RepositoryName, requiredMember, shapeRepositoryName)
	checkStructure(c, "imageId", in.ImageId, requiredMember, (*shapeChecker).imageIdentifier)
	return c.result()
}

func (h *Handler) previewAt(ctx context.Context, c auth.Caller, in *PreviewAtInput) (*StartLifecyclePolicyPreviewOutput, error) {
	var at Timestamp
	if in.EvaluateAt != nil {
		at = *in.EvaluateAt
	}
	return h.startPreview(ctx, c, in.ecr(), at)
}

func (h *Handler) runLifecyclePolicy(ctx context.Context, c auth.Caller, in *RunLifecyclePolicyInput) (*RunLifecyclePolicyOutput, error) {
	rep, err := h.reg.RunLifecyclePolicies(ctx, scope(c, in.RegistryId), deref(in.RepositoryName))
	if err != nil {
		return nil, err
	}
	return &RunLifecyclePolicyOutput{RepositoryCount: rep.Repositories, ExpiredImageCount: rep.Expired,
		ArchivedImageCount: rep.Archived, SkippedImageCount: rep.Skipped}, nil
}

func (h *Handler) setImageTimes(ctx context.Context, c auth.Caller, in *SetImageTimesInput) (*SetImageTimesOutput, error) {
	var pushed, pulled Timestamp
	if in.ImagePushedAt != nil {
		pushed = *in.ImagePushedAt
	}
	if in.LastRecordedPullTime != nil {
		pulled = *in.LastRecordedPullTime
	}
	key := repoKey(c, in.RegistryId, in.RepositoryName)
	id := coreImageIDs([]ImageIdentifier{*in.ImageId})[0]
	var checked Timestamp
	if in.UpstreamCheckedAt != nil {
		checked = *in.UpstreamCheckedAt
	}
	img, err := h.reg.SetImageTimes(ctx, key, id, registry.ImageTimes{PushedAt: pushed.Time, LastPulledAt: pulled.Time, UpstreamCheckedAt: checked.Time})
	if err != nil {
		return nil, err
	}
	return &SetImageTimesOutput{RegistryId: key.Account, RepositoryName: key.Name,
		ImageId:       wireID(registry.ImageID{Digest: string(img.Digest), Tag: id.Tag}),
		ImagePushedAt: awsjson.NewTimestamp(img.PushedAt), LastRecordedPullTime: awsjson.NewTimestamp(img.LastPulledAt)}, nil
}

// CollectGarbageInput asks for a garbage collection now.
type CollectGarbageInput struct{}

// CollectGarbageOutput says what the collection freed.
type CollectGarbageOutput struct {
	LinksRemoved    int     `json:"linksRemoved"`
	BlobsDeleted    int     `json:"blobsDeleted"`
	OrphansDeleted  int     `json:"orphansDeleted"`
	BytesFreed      int64   `json:"bytesFreed"`
	DurationSeconds float64 `json:"durationSeconds"`
}

func (in *CollectGarbageInput) validate() error { return nil }

func (h *Handler) collectGarbage(ctx context.Context, c auth.Caller, _ *CollectGarbageInput) (*CollectGarbageOutput, error) {
	rep, err := h.reg.RunGarbageCollection(ctx, scope(c, nil))
	if err != nil {
		return nil, err
	}
	return &CollectGarbageOutput{LinksRemoved: rep.LinksRemoved, BlobsDeleted: rep.BlobsDeleted, OrphansDeleted: rep.OrphansDeleted,
		BytesFreed: rep.BytesFreed, DurationSeconds: rep.Duration.Seconds()}, nil
}

// ListDeadLettersInput lists the registry's dead letters of event
// delivery: events an EventBridge rule's target gave up on.
type ListDeadLettersInput struct {
	RuleArn    *string `json:"ruleArn,omitempty"`
	NextToken  *string `json:"nextToken,omitempty"`
	MaxResults *int32  `json:"maxResults,omitempty"`
}

// DeadLetter is an event a rule's target gave up on.
type DeadLetter struct {
	DeadLetterId string     `json:"deadLetterId"`
	RuleArn      string     `json:"ruleArn"`
	TargetId     string     `json:"targetId"`
	Event        string     `json:"event"` // the event's JSON, as the target would have received it untransformed
	Attempts     int        `json:"attempts"`
	LastError    string     `json:"lastError"`
	FailedAt     *Timestamp `json:"failedAt,omitempty"`
}

// ListDeadLettersOutput is a page of dead letters.
type ListDeadLettersOutput struct {
	DeadLetters []DeadLetter `json:"deadLetters"`
	NextToken   *string      `json:"nextToken,omitempty"`
}

// RedriveDeadLettersInput asks to deliver dead letters again now.
type RedriveDeadLettersInput struct {
	DeadLetterIds []string `json:"deadLetterIds"`
}

// RedriveFailure is a dead letter that was not delivered, and stays.
type RedriveFailure struct {
	DeadLetterId string `json:"deadLetterId"`
	Reason       string `json:"reason"`
}

// RedriveDeadLettersOutput says which were delivered (and removed).
type RedriveDeadLettersOutput struct {
	Redriven []string         `json:"redriven"`
	Failures []RedriveFailure `json:"failures"`
}

var (
	shapeRuleArn        = stringRule{length: lengthRule{1, 1600}}
	shapeDeadLetterID   = stringRule{length: lengthRule{1, 1024}}
	listDeadLetterIDs   = lengthRule{1, delivery.MaxRedrive}
	defaultDeadLetterPg = 100
)

func (in *ListDeadLettersInput) validate() error {
	c := new(shapeChecker)
	c.str("ruleArn", in.RuleArn, optionalMember, shapeRuleArn)
	c.str("nextToken", in.NextToken, optionalMember, shapeNextToken)
	c.int32("maxResults", in.MaxResults, optionalMember, intRange(1, 100))
	return c.result()
}

func (in *RedriveDeadLettersInput) validate() error {
	c := new(shapeChecker)
	checkList(c, "deadLetterIds", in.DeadLetterIds, requiredMember, listDeadLetterIDs, stringMembers(shapeDeadLetterID))
	return c.result()
}

func (h *Handler) listDeadLetters(ctx context.Context, c auth.Caller, in *ListDeadLettersInput) (*ListDeadLettersOutput, error) {
	list, next, err := h.reg.ListDeadLetters(ctx, scope(c, nil), deref(in.RuleArn), deref(in.NextToken), pageSizeOr(in.MaxResults, defaultDeadLetterPg))
	if err != nil {
		return nil, err
	}
	out := &ListDeadLettersOutput{DeadLetters: make([]DeadLetter, 0, len(list))}
	for _, d := range list {
		out.DeadLetters = append(out.DeadLetters, DeadLetter{DeadLetterId: d.ID, RuleArn: d.Rule, TargetId: d.Target,
			Event: string(d.Event), Attempts: d.Attempts, LastError: d.LastError, FailedAt: awsjson.NewTimestamp(d.Time)})
	}
	if next != "" {
		out.NextToken = &next
	}
	return out, nil
}

func (h *Handler) redriveDeadLetters(ctx context.Context, c auth.Caller, in *RedriveDeadLettersInput) (*RedriveDeadLettersOutput, error) {
	results, err := h.reg.RedriveDeadLetters(ctx, scope(c, nil), in.DeadLetterIds)
	if err != nil {
		return nil, err
	}
	out := &RedriveDeadLettersOutput{Redriven: []string{}, Failures: []RedriveFailure{}}
	for _, r := range results {
		if r.Delivered {
			out.Redriven = append(out.Redriven, r.ID)
		} else {
			out.Failures = append(out.Failures, RedriveFailure{DeadLetterId: r.ID, Reason: r.Error})
		}
	}
	return out, nil
}

// CreateConsoleSignInTokenInput asks for a one-time sign-in token of the
// web console for the caller (`ecrd console-url`).
type CreateConsoleSignInTokenInput struct{}

// CreateConsoleSignInTokenOutput is the token, to be opened as
// <endpoint>/console/signin?token=<signInToken> before expiresAt, once.
type CreateConsoleSignInTokenOutput struct {
	SignInToken string     `json:"signInToken"`
	ExpiresAt   *Timestamp `json:"expiresAt"`
}

func (in *CreateConsoleSignInTokenInput) validate() error { return nil }

// ConsoleSignIn issues console sign-in tokens: a principal, the region
// its request was signed for, and the access key it signed with.
type ConsoleSignIn func(p identity.Principal, region, keyID string) (token string, expires time.Time)

// SetConsoleSignIn makes CreateConsoleSignInToken issue tokens; without
// it the operation answers that the console is off.
func (h *Handler) SetConsoleSignIn(f ConsoleSignIn) { h.consoleSignIn = f }

func (h *Handler) createConsoleSignInToken(ctx context.Context, c auth.Caller, _ *CreateConsoleSignInTokenInput) (*CreateConsoleSignInTokenOutput, error) {
	if h.consoleSignIn == nil {
		return nil, &registry.Error{Code: registry.CodeUnsupported, Message: "this server's web console is turned off"}
	}
	token, expires := h.consoleSignIn(c.Principal, c.Region, reqinfo.From(ctx).AccessKeyID)
	return &CreateConsoleSignInTokenOutput{SignInToken: token, ExpiresAt: awsjson.NewTimestamp(expires)}, nil
}
