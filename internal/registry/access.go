package registry

import (
	"context"

	"github.com/ecrd/ecrd/internal/awsid"
	"github.com/ecrd/ecrd/internal/iampolicy"
	"github.com/ecrd/ecrd/internal/identity"
	"github.com/ecrd/ecrd/internal/metadata"
)

// Action is the IAM action an operation needs, as ECR names it.
type Action string

// The ECR actions the registry core checks. The OCI routes map onto them
// as ECR documents (see docs/authentication-and-iam.md, "Registry routes and ECR actions").
const (
	ActionGetAuthorizationToken       Action = "ecr:GetAuthorizationToken"
	ActionBatchGetImage               Action = "ecr:BatchGetImage"
	ActionBatchCheckLayerAvailability Action = "ecr:BatchCheckLayerAvailability"
	ActionGetDownloadURLForLayer      Action = "ecr:GetDownloadUrlForLayer"
	ActionInitiateLayerUpload         Action = "ecr:InitiateLayerUpload"
	ActionUploadLayerPart             Action = "ecr:UploadLayerPart"
	ActionCompleteLayerUpload         Action = "ecr:CompleteLayerUpload"
	ActionPutImage                    Action = "ecr:PutImage"
	ActionBatchDeleteImage            Action = "ecr:BatchDeleteImage"
	ActionListImages                  Action = "ecr:ListImages"
	ActionDescribeImages              Action = "ecr:DescribeImages"
	ActionDescribeRepositories        Action = "ecr:DescribeRepositories"
	ActionCreateRepository            Action = "ecr:CreateRepository"
	ActionDeleteRepository            Action = "ecr:DeleteRepository"
	ActionPutImageTagMutability       Action = "ecr:PutImageTagMutability"
	ActionPutImageScanningConfig      Action = "ecr:PutImageScanningConfiguration"
	ActionTagResource                 Action = "ecr:TagResource"
	ActionUntagResource               Action = "ecr:UntagResource"
	ActionListTagsForResource         Action = "ecr:ListTagsForResource"
	ActionListImageReferrers          Action = "ecr:ListImageReferrers"
	ActionDescribeRegistry            Action = "ecr:DescribeRegistry"
	ActionGetAccountSetting           Action = "ecr:GetAccountSetting"
	ActionPutAccountSetting           Action = "ecr:PutAccountSetting"
	ActionCreateTemplate              Action = "ecr:CreateRepositoryCreationTemplate"
	ActionDescribeTemplates           Action = "ecr:DescribeRepositoryCreationTemplates"
	ActionUpdateTemplate              Action = "ecr:UpdateRepositoryCreationTemplate"
	ActionDeleteTemplate              Action = "ecr:DeleteRepositoryCreationTemplate"
	ActionPutLifecyclePolicy          Action = "ecr:PutLifecyclePolicy"
	ActionGetLifecyclePolicy          Action = "ecr:GetLifecyclePolicy"
	ActionDeleteLifecyclePolicy       Action = "ecr:DeleteLifecyclePolicy"
	ActionStartLifecyclePreview       Action = "ecr:StartLifecyclePolicyPreview"
	ActionGetLifecyclePreview         Action = "ecr:GetLifecyclePolicyPreview"
	ActionUpdateImageStorageClass     Action = "ecr:UpdateImageStorageClass"
	ActionRegisterPullTimeExclusion   Action = "ecr:RegisterPullTimeUpdateExclusion"
	ActionDeregisterPullTimeExclusion Action = "ecr:DeregisterPullTimeUpdateExclusion"
	ActionListPullTimeExclusions      Action = "ecr:ListPullTimeUpdateExclusions"
	ActionSetRepositoryPolicy         Action = "ecr:SetRepositoryPolicy"
	ActionGetRepositoryPolicy         Action = "ecr:GetRepositoryPolicy"
	ActionDeleteRepositoryPolicy      Action = "ecr:DeleteRepositoryPolicy"
	ActionPutRegistryPolicy           Action = "ecr:PutRegistryPolicy"
	ActionGetRegistryPolicy           Action = "ecr:GetRegistryPolicy"
	ActionDeleteRegistryPolicy        Action = "ecr:DeleteRegistryPolicy"
	ActionPutReplicationConfig        Action = "ecr:PutReplicationConfiguration"
	ActionDescribeReplicationStatus   Action = "ecr:DescribeImageReplicationStatus"
	ActionStartReplicationBackfill    Action = "ecr:StartReplicationBackfill"
	ActionStopReplicationBackfill     Action = "ecr:StopReplicationBackfill"
	ActionListReplicationBackfills    Action = "ecr:ListReplicationBackfills"
	ActionDescribeBackfillResults     Action = "ecr:DescribeReplicationBackfillResults"
	ActionCreatePTCRule               Action = "ecr:CreatePullThroughCacheRule"
	ActionDescribePTCRules            Action = "ecr:DescribePullThroughCacheRules"
	ActionUpdatePTCRule               Action = "ecr:UpdatePullThroughCacheRule"
	ActionDeletePTCRule               Action = "ecr:DeletePullThroughCacheRule"
	ActionValidatePTCRule             Action = "ecr:ValidatePullThroughCacheRule"
	// ActionReplicateImage is what a destination registry's policy grants
	// a source account, for it to replicate into the registry.
	ActionReplicateImage Action = "ecr:ReplicateImage"
	// ActionBatchImportUpstreamImage is what a pull that brings content
	// from a pull-through cache rule's upstream needs, besides
	// ecr:BatchGetImage; the cache's writes are authorized as it.
	ActionBatchImportUpstreamImage Action = "ecr:BatchImportUpstreamImage"

	// ecrd's own actions, beyond ECR's.
	ActionSetImageTimes      Action = "ecrd:SetImageTimes"
	ActionRunLifecyclePolicy Action = "ecrd:RunLifecyclePolicy"
	ActionCollectGarbage     Action = "ecrd:CollectGarbage"
	// Event delivery's dead letters (internal/events/delivery).
	ActionListDeadLetters    Action = "ecrd:ListDeadLetters"
	ActionRedriveDeadLetters Action = "ecrd:RedriveDeadLetters"
)

// adminActions are ecrd's own actions. They rewrite history (image
// times) or act on the whole server, so no repository policy can grant
// them: only the account's root and principals whose identity policies
// allow them (AdministratorAccess does) may take them.
var adminActions = map[Action]bool{
	ActionSetImageTimes:      true,
	ActionRunLifecyclePolicy: true,
	ActionCollectGarbage:     true,
	ActionListDeadLetters:    true,
	ActionRedriveDeadLetters: true,
}

// pullActions are all an anonymous caller may ever do, and only on a
// repository that opts in to anonymous pulls: reading manifests and
// blobs. Listing tags is not among them.
var pullActions = map[Action]bool{
	ActionBatchGetImage:               true,
	ActionBatchCheckLayerAvailability: true,
	ActionGetDownloadURLForLayer:      true,
}

// The names the resource policies have in decisions and their
// explanations.
const (
	repositoryPolicyName = "repository policy"
	registryPolicyName   = "registry policy"
)

// AnonymousPullTag is the repository tag that opts a repository in to
// pulls without credentials, when its value is "true".
const AnonymousPullTag = "ecrd:anonymous-pull"

// RepositoryARN returns a repository's ARN as ECR writes it.
func RepositoryARN(key metadata.RepoKey) string {
	return awsid.ARN("ecr", key.Region, key.Account, "repository/"+key.Name)
}

// authorize decides whether the request's caller may perform action on a
// repository of a registry (repo is nil for registry-level actions, or
// when the repository does not exist yet), and returns nil or a
// *DeniedError. It is the one place where registry access is decided
// (decideAccess says how).
func (r *Registry) authorize(ctx context.Context, action Action, scope metadata.Scope, repo *metadata.Repository, resource string) error {
	a, err := r.decideAccess(ctx, action, scope, repo, resource)
	if err != nil {
		return err
	}
	if a.denied != nil {
		return a.denied
	}
	return nil
}

// access is how a request's access was decided: what authorize acts on,
// and what ExplainAccess explains.
type access struct {
	action Action // the action decided: a replication's or pull-through's writes are decided as theirs
	d      iampolicy.Decision
	req    iampolicy.Request
	// anonymous: the request had no principal; anonymousPull: it is let
	// in by the repository's opt-in tag.
	anonymous, anonymousPull bool
	denied                   *DeniedError // nil when allowed
}

// decideAccess decides a request: IAM's evaluation (internal/identity
// and internal/iampolicy) over the caller's identity policies,
// permissions boundary and session policies and the repository policy,
// the registry policy beside it (decide); beyond it, an anonymous caller
// may pull from repositories that opt in.
func (r *Registry) decideAccess(ctx context.Context, action Action, scope metadata.Scope, repo *metadata.Repository, resource string) (access, error) {
	if _, ok := originOf(ctx); ok && replicaActions[action] {
		// A replication writes with the one permission ECR grants it.
		action = ActionReplicateImage
	}
	if _, ok := pullThroughOf(ctx); ok && pullThroughActions[action] {
		action = ActionBatchImportUpstreamImage
	}
	check := identity.Check{Action: string(action), Resource: resource, ResourceAccount: scope.Account}
	if repo != nil && !adminActions[action] {
		if pol := r.repositoryPolicy(*repo); pol != nil {
			check.Policy = &iampolicy.Named{Name: repositoryPolicyName, Policy: pol}
		}
		check.Keys = tagKeys(repo.Tags)
	}
	d, req, err := r.decide(ctx, action, scope, check)
	if err != nil {
		return access{}, err
	}
	_, authenticated := identity.FromContext(ctx)
	a := access{action: action, d: d, req: req, anonymous: !authenticated}
	switch {
	case d.Allowed && authenticated:
	case authenticated:
		a.denied = &DeniedError{Action: action, Explanation: r.ids.DenialMessage(d, req)}
	// A policy's "*" means any authenticated principal, as on AWS: an
	// Allow never reaches an anonymous caller. Only the opt-in tag lets
	// one in, and only to pull; an explicit Deny still binds it.
	case d.Reason != iampolicy.ExplicitDeny && repo != nil && pullActions[action] && anonymousPull(*repo):
		a.anonymousPull = true
	default:
		a.denied = &DeniedError{Action: action, Anonymous: true}
		if d.Reason == iampolicy.ExplicitDeny {
			a.denied.Explanation = d.Message(req)
		}
	}
	return a, nil
}

// AuthorizeLogin checks that the caller may get a registry token
// (ecr:GetAuthorizationToken, which has no resource).
func (r *Registry) AuthorizeLogin(ctx context.Context, scope metadata.Scope) error {
	return r.authorize(ctx, ActionGetAuthorizationToken, scope, nil, "*")
}

// authorizeRepo authorizes an action on a repository by key, loading the
// repository if it exists.
func (r *Registry) authorizeRepo(ctx context.Context, action Action, key metadata.RepoKey, repo *metadata.Repository) error {
	return r.authorize(ctx, action, key.Scope, repo, RepositoryARN(key))
}

func anonymousPull(repo metadata.Repository) bool {
	for _, t := range repo.Tags {
		if t.Key == AnonymousPullTag {
			return t.Value == "true"
		}
	}
	return false
}
