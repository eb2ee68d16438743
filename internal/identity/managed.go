package identity

import (
	"context"
	"errors"
	"fmt"
	"slices"

	"github.com/ecrd/ecrd/internal/awserr"
	"github.com/ecrd/ecrd/internal/awsmanaged"
	"github.com/ecrd/ecrd/internal/iampolicy"
	"github.com/ecrd/ecrd/internal/metadata"
)

// PolicyInput creates a customer managed policy.
type PolicyInput struct {
	Name        string
	Path        string
	Document    string
	Description string
	Tags        []Tag
}

// checkManagedDocument validates a managed policy's document.
func checkManagedDocument(doc string) error {
	if policyChars(doc) > maxManagedPolicySize {
		return awserr.Errorf(CodeLimitExceeded, "Cannot exceed quota for PolicySize: %d", maxManagedPolicySize)
	}
	_, err := parsePolicy(doc, iampolicy.Identity)
	return err
}

// CreatePolicy creates a customer managed policy in the caller's account.
func (s *Service) CreatePolicy(ctx context.Context, in PolicyInput) (ManagedPolicy, error) {
	p, err := caller(ctx)
	if err != nil {
		return ManagedPolicy{}, err
	}
	if err := validName("policyName", in.Name, 128); err != nil {
		return ManagedPolicy{}, err
	}
	path, err := cleanPath(in.Path)
	if err != nil {
		return ManagedPolicy{}, err
	}
	if len(in.Description) > maxDescription {
		return ManagedPolicy{}, awserr.Errorf(CodeValidation, "1 validation error detected: Value at 'description' failed to satisfy constraint: Member must have length less than or equal to %d", maxDescription)
	}
	if err := validTags(in.Tags); err != nil {
		return ManagedPolicy{}, err
	}
	if err := checkManagedDocument(in.Document); err != nil {
		return ManagedPolicy{}, err
	}
	now := s.now().UTC().Truncate(1e6)
	mp := ManagedPolicy{
		Name: in.Name, Path: path, ID: uniqueID("ANPA"), ARN: arnOf(p.Account, "policy", path, in.Name),
		Description: in.Description, CreatedAt: now, UpdatedAt: now, DefaultVersion: "v1",
		Versions: []PolicyVersion{{ID: "v1", Document: in.Document, CreatedAt: now}}, NextVersion: 2, Tags: in.Tags,
	}
	if err := s.allow(ctx, "iam:CreatePolicy", mp.ARN); err != nil {
		return ManagedPolicy{}, err
	}
	c := act("iam:CreatePolicy", "policyName", in.Name, "path", in.Path, "policyDocument", in.Document, "description", in.Description, "tags", in.Tags)
	err = s.update(ctx, c, func(tx metadata.Tx) ([]string, error) {
		return []string{mp.ARN}, saveEntity(ctx, tx, p.Account, metadata.IAMPolicy, mp.Name, mp, true)
	})
	return mp, err
}

// Policy returns a managed policy by ARN: an AWS managed one or one of the
// caller's account.
func (s *Service) Policy(ctx context.Context, arn, action string) (ManagedPolicy, error) {
	if _, err := caller(ctx); err != nil {
		return ManagedPolicy{}, err
	}
	if err := s.allow(ctx, action, arn); err != nil {
		return ManagedPolicy{}, err
	}
	mp, err := managedPolicy(ctx, s.meta, arn)
	if isNoSuchEntity(err) {
		// Attach calls say "does not exist or is not attachable"; the
		// read calls say this.
		return mp, awserr.Errorf(CodeNoSuchEntity, "Policy %s was not found.", arn)
	}
	return mp, err
}

// Policies lists the AWS managed policies (scope "All" or "AWS") and the
// caller's account's own (scope "All" or "Local"), by name, whose path
// starts with prefix; onlyAttached keeps those attached to something.
func (s *Service) Policies(ctx context.Context, scope, prefix string, onlyAttached bool) ([]ManagedPolicy, error) {
	p, err := caller(ctx)
	if err != nil {
		return nil, err
	}
	if err := s.allow(ctx, "iam:ListPolicies", "*"); err != nil {
		return nil, err
	}
	var out []ManagedPolicy
	if scope != "Local" {
		counts, err := s.awsAttachments(ctx, p.Account)
		if err != nil {
			return nil, err
		}
		for _, a := range awsmanaged.All {
			mp := awsManaged(a)
			mp.Attachments = counts[mp.ARN]
			out = append(out, mp)
		}
	}
	if scope != "AWS" {
		local, err := listEntities[ManagedPolicy](ctx, s.meta, p.Account, metadata.IAMPolicy)
		if err != nil {
			return nil, err
		}
		out = append(out, local...)
	}
	out = filterPath(out, prefix, func(m ManagedPolicy) string { return m.Path })
	if onlyAttached {
		out = slices.DeleteFunc(out, func(m ManagedPolicy) bool { return m.Attachments == 0 })
	}
	return out, nil
}

// awsAttachments counts, per AWS managed policy, the users, roles and
// groups of an account it is attached to (IAM's AttachmentCount is per
// account).
func (s *Service) awsAttachments(ctx context.Context, account string) (map[string]int, error) {
	counts := map[string]int{}
	roles, users, groups, err := s.grantees(ctx, s.meta, account)
	for _, r := range roles {
		for _, a := range r.Attached {
			counts[a]++
		}
	}
	for _, u := range users {
		for _, a := range u.Attached {
			counts[a]++
		}
	}
	for _, g := range groups {
		for _, a := range g.Attached {
			counts[a]++
		}
	}
	return counts, err
}

func (s *Service) grantees(ctx context.Context, r metadata.Reader, account string) ([]Role, []User, []Group, error) {
	roles, err := listEntities[Role](ctx, r, account, metadata.IAMRole)
	if err != nil {
		return nil, nil, nil, err
	}
	users, err := listEntities[User](ctx, r, account, metadata.IAMUser)
	if err != nil {
		return nil, nil, nil, err
	}
	groups, err := listEntities[Group](ctx, r, account, KindGroup)
	return roles, users, groups, err
}

// PolicyEntities lists the roles, users and groups of the caller's
// account a managed policy is attached to (ListEntitiesForPolicy).
func (s *Service) PolicyEntities(ctx context.Context, arn string) (roles []Role, users []User, groups []Group, err error) {
	p, err := caller(ctx)
	if err != nil {
		return nil, nil, nil, err
	}
	if _, err := s.Policy(ctx, arn, "iam:ListEntitiesForPolicy"); err != nil {
		return nil, nil, nil, err
	}
	allRoles, allUsers, allGroups, err := s.grantees(ctx, s.meta, p.Account)
	for _, r := range allRoles {
		if slices.Contains(r.Attached, arn) {
			roles = append(roles, r)
		}
	}
	for _, u := range allUsers {
		if slices.Contains(u.Attached, arn) {
			users = append(users, u)
		}
	}
	for _, g := range allGroups {
		if slices.Contains(g.Attached, arn) {
			groups = append(groups, g)
		}
	}
	return roles, users, groups, err
}

// changePolicy authorizes c's action on a customer managed policy of the
// caller's account, lets fn change it and saves it, in one transaction
// that records c (with the policy's ARN); fn returning errKeepDeleted
// means it deleted the policy.
func (s *Service) changePolicy(ctx context.Context, arn string, c change, fn func(tx metadata.Tx, mp *ManagedPolicy) error) error {
	p, err := caller(ctx)
	if err != nil {
		return err
	}
	if err := s.allow(ctx, c.action, arn); err != nil {
		return err
	}
	if _, ok := awsmanaged.Lookup(arn); ok {
		return awserr.Errorf(CodeInvalidInput, "Policy %s is an AWS managed policy: it cannot be changed.", arn)
	}
	account, path, name, ok := splitPolicyARN(arn)
	if !ok || account != p.Account {
		return awserr.Errorf(CodeInvalidInput, "ARN %s is not valid.", arn)
	}
	return s.update(ctx, c.with("policyArn", arn), func(tx metadata.Tx) ([]string, error) {
		mp, err := loadEntity[ManagedPolicy](ctx, tx, account, metadata.IAMPolicy, name)
		if err == nil && mp.Path != path {
			err = noSuchEntity(account, metadata.IAMPolicy, name)
		}
		if err != nil {
			if isNoSuchEntity(err) {
				return nil, awserr.Errorf(CodeNoSuchEntity, "Policy %s was not found.", arn)
			}
			return nil, err
		}
		if err := fn(tx, &mp); errors.Is(err, errKeepDeleted) {
			return []string{arn}, nil
		} else if err != nil {
			return nil, err
		}
		return []string{arn}, saveEntity(ctx, tx, account, metadata.IAMPolicy, mp.Name, mp, false)
	})
}

// errKeepDeleted is how a changePolicy function says it deleted the
// policy, so there is nothing to save.
var errKeepDeleted = errors.New("the policy was deleted")

// CreatePolicyVersion adds a version to a managed policy, making it the
// default if asked.
func (s *Service) CreatePolicyVersion(ctx context.Context, arn, doc string, setDefault bool) (PolicyVersion, error) {
	if err := checkManagedDocument(doc); err != nil {
		return PolicyVersion{}, err
	}
	var v PolicyVersion
	now := s.now().UTC().Truncate(1e6)
	c := act("iam:CreatePolicyVersion", "policyDocument", doc).with("setAsDefault", setDefault)
	err := s.changePolicy(ctx, arn, c, func(_ metadata.Tx, mp *ManagedPolicy) error {
		if len(mp.Versions) >= maxPolicyVersions {
			return awserr.Errorf(CodeLimitExceeded, "A managed policy can have up to %d versions. Before you create a new version, you must delete an existing version.", maxPolicyVersions)
		}
		v = PolicyVersion{ID: fmt.Sprintf("v%d", mp.NextVersion), Document: doc, CreatedAt: now}
		mp.NextVersion++
		mp.Versions = append([]PolicyVersion{v}, mp.Versions...)
		if setDefault {
			mp.DefaultVersion, mp.UpdatedAt = v.ID, now
		}
		return nil
	})
	return v, err
}

// DeletePolicyVersion removes a version that is not the default.
func (s *Service) DeletePolicyVersion(ctx context.Context, arn, id string) error {
	return s.changePolicy(ctx, arn, act("iam:DeletePolicyVersion", "versionId", id), func(_ metadata.Tx, mp *ManagedPolicy) error {
		if id == mp.DefaultVersion {
			return awserr.Errorf(CodeDeleteConflict, "Cannot delete the default version of a policy.")
		}
		for i, v := range mp.Versions {
			if v.ID == id {
				mp.Versions = append(mp.Versions[:i:i], mp.Versions[i+1:]...)
				return nil
			}
		}
		return awserr.Errorf(CodeNoSuchEntity, "Policy %s version %s does not exist or is not attachable.", arn, id)
	})
}

// SetDefaultPolicyVersion makes a version the one in force.
func (s *Service) SetDefaultPolicyVersion(ctx context.Context, arn, id string) error {
	now := s.now().UTC().Truncate(1e6)
	return s.changePolicy(ctx, arn, act("iam:SetDefaultPolicyVersion", "versionId", id), func(_ metadata.Tx, mp *ManagedPolicy) error {
		if _, ok := mp.Version(id); !ok {
			return awserr.Errorf(CodeNoSuchEntity, "Policy %s version %s does not exist or is not attachable.", arn, id)
		}
		mp.DefaultVersion, mp.UpdatedAt = id, now
		return nil
	})
}

// DeletePolicy deletes a managed policy attached to nothing.
func (s *Service) DeletePolicy(ctx context.Context, arn string) error {
	return s.changePolicy(ctx, arn, act("iam:DeletePolicy"), func(tx metadata.Tx, mp *ManagedPolicy) error {
		if mp.Attachments > 0 || mp.BoundaryUses > 0 {
			return awserr.Errorf(CodeDeleteConflict, "Cannot delete a policy attached to entities.")
		}
		if len(mp.Versions) > 1 {
			return awserr.Errorf(CodeDeleteConflict, "This policy has more than one version. Before you delete a policy, you must delete the policy's versions. The default version is deleted with the policy.")
		}
		if err := tx.DeleteIAMEntity(ctx, accountOfARN(arn), metadata.IAMPolicy, mp.Name); err != nil {
			return err
		}
		return errKeepDeleted
	})
}

// TagPolicy and the other tag calls of policies and OIDC providers share
// the user and role ones' rules.
func (s *Service) TagPolicy(ctx context.Context, arn string, add []Tag, remove []string) error {
	c := act("iam:TagPolicy", "tags", add)
	if add == nil {
		c = act("iam:UntagPolicy", "tagKeys", remove)
	}
	if err := validTags(add); err != nil {
		return err
	}
	return s.changePolicy(ctx, arn, c, func(_ metadata.Tx, mp *ManagedPolicy) error {
		mp.Tags = removeTags(mergeTags(mp.Tags, add), remove)
		return validTags(mp.Tags)
	})
}

// countAttachment adds delta to a managed policy's attachment count, or
// checks that an AWS managed policy exists.
func countAttachment(ctx context.Context, tx metadata.Tx, arn string, delta int) error {
	return changeUse(ctx, tx, arn, func(mp *ManagedPolicy) { mp.Attachments = max(0, mp.Attachments+delta) })
}

// useBoundary adds delta to a managed policy's count of boundary uses.
func useBoundary(ctx context.Context, tx metadata.Tx, arn string, delta int) error {
	return changeUse(ctx, tx, arn, func(mp *ManagedPolicy) { mp.BoundaryUses = max(0, mp.BoundaryUses+delta) })
}

func changeUse(ctx context.Context, tx metadata.Tx, arn string, fn func(mp *ManagedPolicy)) error {
	mp, err := managedPolicy(ctx, tx, arn)
	if err != nil {
		return err
	}
	if mp.AWSManaged {
		return nil
	}
	fn(&mp)
	return saveEntity(ctx, tx, accountOfARN(mp.ARN), metadata.IAMPolicy, mp.Name, mp, false)
}

// PolicyDocument is one policy of a principal, for simulation.
type PolicyDocument struct {
	Name string
	Kind string // "inline", "managed", "boundary", "session"
}

// PrincipalPolicies returns the evaluator's view of a user, role or role
// session of the caller's account given by ARN (SimulatePrincipalPolicy's
// PolicySourceArn): its principal and identity policies.
func (s *Service) PrincipalPolicies(ctx context.Context, arn string) (iampolicy.Principal, iampolicy.Policies, error) {
	p, err := caller(ctx)
	if err != nil {
		return iampolicy.Principal{}, iampolicy.Policies{}, err
	}
	if err := s.allow(ctx, ActionSimulatePrincipalPolicy, arn); err != nil {
		return iampolicy.Principal{}, iampolicy.Policies{}, err
	}
	if accountOfARN(arn) != p.Account {
		return iampolicy.Principal{}, iampolicy.Policies{}, awserr.Errorf(CodeInvalidInput, "PolicySourceArn %s is not in your account %s", arn, p.Account)
	}
	w, ok := parsePrincipalARN(arn)
	if !ok {
		return iampolicy.Principal{}, iampolicy.Policies{}, awserr.Errorf(CodeInvalidInput, "PolicySourceArn %s must name a user, a role or the account root", arn)
	}
	who, err := s.principalOf(ctx, w, arn)
	if err != nil {
		return iampolicy.Principal{}, iampolicy.Policies{}, err
	}
	g, err := s.grantsOf(ctx, who)
	if err != nil {
		return iampolicy.Principal{}, iampolicy.Policies{}, err
	}
	return g.principal(who), iampolicy.Policies{Identity: g.identity, Boundary: g.boundary}, nil
}
