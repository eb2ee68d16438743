package identity

import (
	"context"
	"slices"
	"strings"

	"github.com/ecrd/ecrd/internal/awserr"
	"github.com/ecrd/ecrd/internal/awsid"
	"github.com/ecrd/ecrd/internal/iampolicy"
	"github.com/ecrd/ecrd/internal/metadata"
)

// caller returns the principal an IAM call acts as; IAM calls act in its
// account.
func caller(ctx context.Context) (Principal, error) {
	p, ok := FromContext(ctx)
	if !ok {
		return p, awserr.Errorf(CodeAccessDenied, "IAM calls must be signed")
	}
	return p.normalized(), nil
}

// allow authorizes an IAM action on an IAM resource of the caller's
// account.
func (s *Service) allow(ctx context.Context, action, arn string) error {
	owner := accountOfARN(arn)
	if !awsid.ValidAccountID(owner) {
		// "*", or an AWS managed policy (account "aws"): readable by
		// anyone whose identity policies allow it.
		p, _ := FromContext(ctx)
		owner = p.Account
	}
	d, req, err := s.Authorize(ctx, Check{Action: action, Resource: arn, ResourceAccount: owner})
	if err != nil {
		return err
	}
	if !d.Allowed {
		return awserr.Errorf(CodeAccessDenied, "%s", s.DenialMessage(d, req))
	}
	return nil
}

// RoleInput creates a role.
type RoleInput struct {
	Name               string
	Path               string
	TrustPolicy        string
	Description        string
	MaxSessionDuration int // seconds; 0 for an hour
	Boundary           string
	Tags               []Tag
}

// CreateRole creates a role in the caller's account.
func (s *Service) CreateRole(ctx context.Context, in RoleInput) (Role, error) {
	p, err := caller(ctx)
	if err != nil {
		return Role{}, err
	}
	if err := validName("roleName", in.Name, 64); err != nil {
		return Role{}, err
	}
	path, err := cleanPath(in.Path)
	if err != nil {
		return Role{}, err
	}
	r := Role{
		Name: in.Name, Path: path, ID: uniqueID("AROA"), ARN: arnOf(p.Account, "role", path, in.Name),
		Description: in.Description, CreatedAt: s.now().UTC().Truncate(1e6), MaxSessionDuration: in.MaxSessionDuration,
		TrustPolicy: in.TrustPolicy, Tags: in.Tags,
	}
	if r.MaxSessionDuration == 0 {
		r.MaxSessionDuration = defaultSessionSeconds
	}
	if err := s.allow(ctx, "iam:CreateRole", r.ARN); err != nil {
		return Role{}, err
	}
	if err := checkRole(&r); err != nil {
		return Role{}, err
	}
	r.Boundary = in.Boundary
	c := act("iam:CreateRole", "roleName", in.Name, "path", in.Path, "assumeRolePolicyDocument", in.TrustPolicy,
		"description", in.Description, "maxSessionDuration", in.MaxSessionDuration, "permissionsBoundary", in.Boundary, "tags", in.Tags)
	err = s.update(ctx, c, func(tx metadata.Tx) ([]string, error) {
		if err := s.checkTrust(ctx, tx, r.TrustPolicy); err != nil {
			return nil, err
		}
		if in.Boundary != "" {
			if err := useBoundary(ctx, tx, in.Boundary, 1); err != nil {
				return nil, err
			}
		}
		return []string{r.ARN}, saveEntity(ctx, tx, p.Account, metadata.IAMRole, r.Name, r, true)
	})
	return r, err
}

// checkRole validates a role's settable fields.
func checkRole(r *Role) error {
	if len(r.Description) > maxDescription {
		return awserr.Errorf(CodeValidation, "1 validation error detected: Value at 'description' failed to satisfy constraint: Member must have length less than or equal to %d", maxDescription)
	}
	if r.MaxSessionDuration < defaultSessionSeconds || r.MaxSessionDuration > maxSessionSeconds {
		return awserr.Errorf(CodeValidation, "1 validation error detected: Value '%d' at 'maxSessionDuration' failed to satisfy constraint: Member must have value between %d and %d", r.MaxSessionDuration, defaultSessionSeconds, maxSessionSeconds)
	}
	return validTags(r.Tags)
}

// checkTrust validates a trust policy: its syntax, its size, and that
// every user, role and OIDC provider it names exists (for accounts this
// registry holds; others' are taken on trust), as IAM refuses a trust
// policy naming a principal that does not exist.
func (s *Service) checkTrust(ctx context.Context, r metadata.Reader, doc string) error {
	if doc == "" {
		return awserr.Errorf(CodeValidation, "1 validation error detected: Value null at 'assumeRolePolicyDocument' failed to satisfy constraint: Member must not be null")
	}
	if len(doc) > maxTrustPolicySize {
		return awserr.Errorf(CodeLimitExceeded, "Cannot exceed quota for ACLSizePerRole: %d", maxTrustPolicySize)
	}
	pol, err := parsePolicy(doc, iampolicy.Trust)
	if err != nil {
		return err
	}
	for _, np := range pol.NamedPrincipals() {
		if !s.principalExists(ctx, r, np.ARN) {
			return awserr.Errorf(CodeMalformedPolicy, "Invalid principal in policy: %q:%q", np.Type, np.ARN)
		}
	}
	return nil
}

// principalExists reports whether a principal ARN names something that
// exists, or that this registry cannot know about.
func (s *Service) principalExists(ctx context.Context, r metadata.Reader, arn string) bool {
	account := accountOfARN(arn)
	if _, err := r.Account(ctx, account); err != nil {
		return true // another AWS account's principal: not ours to check
	}
	res := arn[strings.LastIndex(arn, ":")+1:]
	kind, rest, _ := strings.Cut(res, "/")
	name := rest[strings.LastIndex(rest, "/")+1:]
	switch kind {
	case "user":
		u, err := loadEntity[User](ctx, r, account, metadata.IAMUser, name)
		return err == nil && u.ARN == arn // the path must match too
	case "role":
		role, err := loadEntity[Role](ctx, r, account, metadata.IAMRole, name)
		return err == nil && role.ARN == arn
	case "assumed-role":
		roleName, _, _ := strings.Cut(rest, "/")
		_, err := r.IAMEntity(ctx, account, metadata.IAMRole, roleName)
		return err == nil
	case "oidc-provider":
		_, err := r.IAMEntity(ctx, account, metadata.IAMOIDCProvider, rest)
		return err == nil
	}
	return true
}

// Role returns a role of the caller's account.
func (s *Service) Role(ctx context.Context, name string) (Role, error) {
	p, err := caller(ctx)
	if err != nil {
		return Role{}, err
	}
	return readEntity[Role](ctx, s, p.Account, metadata.IAMRole, name, "iam:GetRole")
}

// Roles lists the caller's account's roles whose path starts with prefix.
func (s *Service) Roles(ctx context.Context, prefix string) ([]Role, error) {
	p, err := caller(ctx)
	if err != nil {
		return nil, err
	}
	if err := s.allow(ctx, "iam:ListRoles", arnOf(p.Account, "role", "/", "*")); err != nil {
		return nil, err
	}
	all, err := listEntities[Role](ctx, s.meta, p.Account, metadata.IAMRole)
	return filterPath(all, prefix, func(r Role) string { return r.Path }), err
}

func filterPath[T any](all []T, prefix string, path func(T) string) []T {
	if prefix == "" || prefix == "/" {
		return all
	}
	var out []T
	for _, v := range all {
		if strings.HasPrefix(path(v), prefix) {
			out = append(out, v)
		}
	}
	return out
}

// RoleChange is what UpdateRole, UpdateRoleDescription and
// UpdateAssumeRolePolicy change (nil fields stay).
type RoleChange struct {
	Description        *string
	MaxSessionDuration *int
	TrustPolicy        *string
}

// UpdateRole changes a role's settings.
func (s *Service) UpdateRole(ctx context.Context, name, action string, c RoleChange) (Role, error) {
	ch := act(action, "roleName", name)
	if c.Description != nil {
		ch = ch.with("description", *c.Description)
	}
	if c.MaxSessionDuration != nil {
		ch = ch.with("maxSessionDuration", *c.MaxSessionDuration)
	}
	if c.TrustPolicy != nil {
		ch = ch.with("policyDocument", *c.TrustPolicy)
	}
	var out Role
	err := s.changeRole(ctx, name, ch, func(tx metadata.Tx, r *Role) error {
		if c.Description != nil {
			r.Description = *c.Description
		}
		if c.MaxSessionDuration != nil {
			r.MaxSessionDuration = *c.MaxSessionDuration
		}
		if err := checkRole(r); err != nil {
			return err
		}
		if c.TrustPolicy != nil {
			if err := s.checkTrust(ctx, tx, *c.TrustPolicy); err != nil {
				return err
			}
			r.TrustPolicy = *c.TrustPolicy
		}
		out = *r
		return nil
	})
	return out, err
}

// changeRole authorizes c's action on a role, loads it, lets fn change
// it and saves it, in one transaction that records c.
func (s *Service) changeRole(ctx context.Context, name string, c change, fn func(tx metadata.Tx, r *Role) error) error {
	p, err := caller(ctx)
	if err != nil {
		return err
	}
	return editEntity(ctx, s, c, p.Account, metadata.IAMRole, name, fn)
}

// DeleteRole deletes a role that has no policies left.
func (s *Service) DeleteRole(ctx context.Context, name string) error {
	p, err := caller(ctx)
	if err != nil {
		return err
	}
	c := act("iam:DeleteRole", "roleName", name)
	return changeEntity(ctx, s, c, p.Account, metadata.IAMRole, name, allowOn[Role](ctx, s, c.action), func(tx metadata.Tx, r Role) ([]string, error) {
		if len(r.Attached) > 0 {
			return nil, awserr.Errorf(CodeDeleteConflict, "Cannot delete entity, must detach all policies first.")
		}
		if len(r.Inline) > 0 {
			return nil, awserr.Errorf(CodeDeleteConflict, "Cannot delete entity, must delete policies first.")
		}
		if r.Boundary != "" {
			if err := useBoundary(ctx, tx, r.Boundary, -1); err != nil && !isNoSuchEntity(err) {
				return nil, err
			}
		}
		return []string{r.ARN}, tx.DeleteIAMEntity(ctx, p.Account, metadata.IAMRole, r.Name)
	})
}

func isNoSuchEntity(err error) bool { return awserr.Code(err) == CodeNoSuchEntity }

// Grantee names a user, role or group: what inline policies and
// attachments apply to (boundaries and tags apply to users and roles).
type Grantee struct {
	Kind string // metadata.IAMUser, metadata.IAMRole or KindGroup
	Name string
}

// noun is the grantee's kind as IAM's action names spell it.
func (g Grantee) noun() string {
	switch g.Kind {
	case metadata.IAMUser:
		return "User"
	case KindGroup:
		return "Group"
	}
	return "Role"
}

// nameParam is the request parameter that names the grantee.
func (g Grantee) nameParam() string {
	return strings.ToLower(g.noun()) + "Name"
}

// changeGrants authorizes c's action on a user, role or group, lets fn
// change its grants and tags (a group's are not kept), and saves it, in
// one transaction that records c (with the grantee's name).
func (s *Service) changeGrants(ctx context.Context, g Grantee, c change, fn func(tx metadata.Tx, gr *Grants, tags *[]Tag) error) error {
	c = c.with(g.nameParam(), g.Name)
	switch g.Kind {
	case metadata.IAMRole:
		return s.changeRole(ctx, g.Name, c, func(tx metadata.Tx, r *Role) error { return fn(tx, &r.Grants, &r.Tags) })
	case KindGroup:
		return s.changeGroup(ctx, g.Name, c, func(tx metadata.Tx, gr *Group) error { return fn(tx, &gr.Grants, new([]Tag)) })
	}
	return s.changeUser(ctx, g.Name, c, func(tx metadata.Tx, u *User) error { return fn(tx, &u.Grants, &u.Tags) })
}

// readGrants authorizes action on a user, role or group and returns its
// grants and tags.
func (s *Service) readGrants(ctx context.Context, g Grantee, action string) (Grants, []Tag, error) {
	switch g.Kind {
	case metadata.IAMRole:
		p, err := caller(ctx)
		if err != nil {
			return Grants{}, nil, err
		}
		r, err := readEntity[Role](ctx, s, p.Account, metadata.IAMRole, g.Name, action)
		return r.Grants, r.Tags, err
	case KindGroup:
		gr, err := s.readGroup(ctx, g.Name, action)
		return gr.Grants, nil, err
	}
	u, err := s.User(ctx, g.Name, action)
	return u.Grants, u.Tags, err
}

// PutInlinePolicy adds or replaces an inline policy of a user, role or
// group.
func (s *Service) PutInlinePolicy(ctx context.Context, g Grantee, name, doc string) error {
	if err := validName("policyName", name, 128); err != nil {
		return err
	}
	if _, err := parsePolicy(doc, iampolicy.Identity); err != nil {
		return err
	}
	limit := maxRolePolicySize
	switch g.Kind {
	case metadata.IAMUser:
		limit = maxUserPolicySize
	case KindGroup:
		limit = maxGroupPolicySize
	}
	quota := g.noun() + "PolicySize"
	c := act("iam:Put"+g.noun()+"Policy", "policyName", name, "policyDocument", doc)
	return s.changeGrants(ctx, g, c, func(_ metadata.Tx, gr *Grants, _ *[]Tag) error {
		size := policyChars(doc)
		var kept []InlinePolicy
		for _, in := range gr.Inline {
			if in.Name != name {
				kept = append(kept, in)
				size += policyChars(in.Document)
			}
		}
		if size > limit {
			return awserr.Errorf(CodeLimitExceeded, "Maximum policy size of %d bytes exceeded for %s %s (quota %s).", limit, g.Kind, g.Name, quota)
		}
		gr.Inline = append(kept, InlinePolicy{Name: name, Document: doc})
		return nil
	})
}

// policyChars is a document's size as IAM's quotas count it: without
// white space.
func policyChars(doc string) int {
	n := 0
	for _, r := range doc {
		if r != ' ' && r != '\n' && r != '\t' && r != '\r' {
			n++
		}
	}
	return n
}

// InlinePolicy returns an inline policy's document.
func (s *Service) InlinePolicy(ctx context.Context, g Grantee, name string) (string, error) {
	gr, _, err := s.readGrants(ctx, g, "iam:Get"+g.noun()+"Policy")
	if err != nil {
		return "", err
	}
	for _, in := range gr.Inline {
		if in.Name == name {
			return in.Document, nil
		}
	}
	return "", awserr.Errorf(CodeNoSuchEntity, "The %s policy with name %s cannot be found.", g.Kind, name)
}

// DeleteInlinePolicy removes an inline policy.
func (s *Service) DeleteInlinePolicy(ctx context.Context, g Grantee, name string) error {
	return s.changeGrants(ctx, g, act("iam:Delete"+g.noun()+"Policy", "policyName", name), func(_ metadata.Tx, gr *Grants, _ *[]Tag) error {
		for i, in := range gr.Inline {
			if in.Name == name {
				gr.Inline = append(gr.Inline[:i:i], gr.Inline[i+1:]...)
				return nil
			}
		}
		return awserr.Errorf(CodeNoSuchEntity, "The %s policy with name %s cannot be found.", g.Kind, name)
	})
}

// InlinePolicyNames lists the names of a user's or role's inline
// policies, sorted.
func (s *Service) InlinePolicyNames(ctx context.Context, g Grantee) ([]string, error) {
	gr, _, err := s.readGrants(ctx, g, "iam:List"+g.noun()+"Policies")
	var out []string
	for _, in := range gr.Inline {
		out = append(out, in.Name)
	}
	slices.Sort(out)
	return out, err
}

// AttachPolicy attaches a managed policy to a user, role or group.
func (s *Service) AttachPolicy(ctx context.Context, g Grantee, arn string) error {
	return s.changeGrants(ctx, g, act("iam:Attach"+g.noun()+"Policy", "policyArn", arn), func(tx metadata.Tx, gr *Grants, _ *[]Tag) error {
		for _, a := range gr.Attached {
			if a == arn {
				return nil // attaching twice is not an error
			}
		}
		if len(gr.Attached) >= maxManagedPerEntity {
			return awserr.Errorf(CodeLimitExceeded, "Cannot exceed quota for PoliciesPer%s: %d", g.noun(), maxManagedPerEntity)
		}
		if err := countAttachment(ctx, tx, arn, 1); err != nil {
			return err
		}
		gr.Attached = append(gr.Attached, arn)
		return nil
	})
}

// DetachPolicy detaches a managed policy.
func (s *Service) DetachPolicy(ctx context.Context, g Grantee, arn string) error {
	return s.changeGrants(ctx, g, act("iam:Detach"+g.noun()+"Policy", "policyArn", arn), func(tx metadata.Tx, gr *Grants, _ *[]Tag) error {
		for i, a := range gr.Attached {
			if a == arn {
				gr.Attached = append(gr.Attached[:i:i], gr.Attached[i+1:]...)
				if err := countAttachment(ctx, tx, arn, -1); err != nil && !isNoSuchEntity(err) {
					return err
				}
				return nil
			}
		}
		return awserr.Errorf(CodeNoSuchEntity, "Policy %s was not found.", arn)
	})
}

// AttachedPolicies lists the managed policies attached to a user, role or
// group.
func (s *Service) AttachedPolicies(ctx context.Context, g Grantee) ([]string, error) {
	gr, _, err := s.readGrants(ctx, g, "iam:ListAttached"+g.noun()+"Policies")
	return gr.Attached, err
}

// SetBoundary sets (arn != "") or removes a user's or role's permissions
// boundary.
func (s *Service) SetBoundary(ctx context.Context, g Grantee, arn string) error {
	kind := "Role"
	if g.Kind == metadata.IAMUser {
		kind = "User"
	}
	action := "iam:Put" + kind + "PermissionsBoundary"
	if arn == "" {
		action = "iam:Delete" + kind + "PermissionsBoundary"
	}
	return s.changeGrants(ctx, g, act(action, "permissionsBoundary", arn), func(tx metadata.Tx, gr *Grants, _ *[]Tag) error {
		if arn == "" && gr.Boundary == "" {
			return awserr.Errorf(CodeNoSuchEntity, "The %s %s has no permissions boundary.", g.Kind, g.Name)
		}
		if gr.Boundary != "" {
			if err := useBoundary(ctx, tx, gr.Boundary, -1); err != nil && !isNoSuchEntity(err) {
				return err
			}
		}
		if arn != "" {
			if err := useBoundary(ctx, tx, arn, 1); err != nil {
				return err
			}
		}
		gr.Boundary = arn
		return nil
	})
}

// Tags returns a user's or role's tags.
func (s *Service) Tags(ctx context.Context, g Grantee) ([]Tag, error) {
	action := "iam:ListRoleTags"
	if g.Kind == metadata.IAMUser {
		action = "iam:ListUserTags"
	}
	_, tags, err := s.readGrants(ctx, g, action)
	return tags, err
}

// Tag adds or replaces tags of a user or role.
func (s *Service) Tag(ctx context.Context, g Grantee, tags []Tag) error {
	action := "iam:TagRole"
	if g.Kind == metadata.IAMUser {
		action = "iam:TagUser"
	}
	if err := validTags(tags); err != nil {
		return err
	}
	return s.changeGrants(ctx, g, act(action, "tags", tags), func(_ metadata.Tx, _ *Grants, have *[]Tag) error {
		merged := mergeTags(*have, tags)
		if err := validTags(merged); err != nil {
			return err
		}
		*have = merged
		return nil
	})
}

// Untag removes tags by key.
func (s *Service) Untag(ctx context.Context, g Grantee, keys []string) error {
	action := "iam:UntagRole"
	if g.Kind == metadata.IAMUser {
		action = "iam:UntagUser"
	}
	return s.changeGrants(ctx, g, act(action, "tagKeys", keys), func(_ metadata.Tx, _ *Grants, have *[]Tag) error {
		*have = removeTags(*have, keys)
		return nil
	})
}
