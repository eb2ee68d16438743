package registry

import (
	"context"
	"fmt"

	"github.com/ecrd/ecrd/internal/iampolicy"
	"github.com/ecrd/ecrd/internal/identity"
	"github.com/ecrd/ecrd/internal/metadata"
)

// Action is the IAM action an operation needs, as ECR names it.
type Action string

// The ECR actions the registry core checks. The OCI routes map onto them
// as ECR documents (see the README's table).
const (
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

	// ecrd's own actions, beyond ECR's.
	ActionSetImageTimes      Action = "ecrd:SetImageTimes"
	ActionRunLifecyclePolicy Action = "ecrd:RunLifecyclePolicy"
	ActionCollectGarbage     Action = "ecrd:CollectGarbage"
)

// adminActions may be taken only by an account's root (and, once IAM
// policies exist, its administrators): they rewrite history (image times)
// or act on the whole server.
var adminActions = map[Action]bool{
	ActionSetImageTimes:      true,
	ActionRunLifecyclePolicy: true,
	ActionCollectGarbage:     true,
}

// pullActions are what an anonymous caller may do on a repository that
// opts in to anonymous pulls.
var pullActions = map[Action]bool{
	ActionBatchGetImage:               true,
	ActionBatchCheckLayerAvailability: true,
	ActionGetDownloadURLForLayer:      true,
	ActionListImages:                  true,
}

// AnonymousPullTag is the repository tag that opts a repository in to
// pulls without credentials, when its value is "true".
const AnonymousPullTag = "ecrd:anonymous-pull"

// RepositoryARN returns a repository's ARN as ECR writes it.
func RepositoryARN(key metadata.RepoKey) string {
	return fmt.Sprintf("arn:aws:ecr:%s:%s:repository/%s", key.Region, key.Account, key.Name)
}

// authorize decides whether the request's caller may perform action on a
// repository of a registry (repo is nil for registry-level actions, or
// when the repository does not exist yet). It is the one place where
// access is decided. A repository policy is evaluated as IAM does (see
// internal/iampolicy); beyond what it grants or denies, until identity
// policies exist, a principal may do everything in its own account's
// registries and nothing in another's, and an anonymous caller may only
// pull from repositories that opt in.
func (r *Registry) authorize(ctx context.Context, action Action, scope metadata.Scope, repo *metadata.Repository, resource string) error {
	p, ok := identity.FromContext(ctx)
	if repo != nil && !adminActions[action] {
		// The repository policy: it can grant other accounts (and, with
		// Principal "*", anyone) access, and its explicit denies bind
		// everyone, the repository's own account included.
		if pol := r.repositoryPolicy(*repo); pol != nil {
			req := policyRequest(ctx, action, *repo, pol)
			d := iampolicy.Evaluate(req, iampolicy.Policies{Resource: &iampolicy.Named{Name: "repository policy", Policy: pol}})
			switch {
			case d.Allowed:
				return nil
			case d.Reason == iampolicy.ExplicitDeny && !ok:
				return errorf(CodeUnauthenticated, "authentication required to perform %s: %s", action, d.Message(req))
			case d.Reason == iampolicy.ExplicitDeny:
				return errorf(CodeAccessDenied, "%s", d.Message(req))
			}
		}
	}
	if !ok {
		if repo != nil && pullActions[action] && anonymousPull(*repo) {
			return nil
		}
		return errorf(CodeUnauthenticated, "authentication required to perform %s: log in with `aws ecr get-login-password | docker login --username AWS --password-stdin <registry>`", action)
	}
	if adminActions[action] && p.Account == scope.Account && !p.IsRoot() {
		return errorf(CodeAccessDenied, "User: %s is not authorized to perform: %s on resource: %s: only the account's root may take this action",
			p.ARN, action, resource)
	}
	if p.Account == scope.Account {
		return nil
	}
	return errorf(CodeAccessDenied, "User: %s is not authorized to perform: %s on resource: %s because no resource-based policy allows the %s action",
		p.ARN, action, resource, action)
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
