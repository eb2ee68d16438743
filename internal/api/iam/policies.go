package iam

import (
	"context"

	"github.com/ecrd/ecrd/internal/api/awsquery"
	"github.com/ecrd/ecrd/internal/auth"
	"github.com/ecrd/ecrd/internal/identity"
)

// Policy is IAM's description of a managed policy.
type Policy struct {
	PolicyName                    string
	PolicyId                      string
	Arn                           string
	Path                          string
	DefaultVersionId              string
	AttachmentCount               int
	PermissionsBoundaryUsageCount int
	IsAttachable                  bool
	Description                   string `xml:",omitempty"`
	CreateDate                    string
	UpdateDate                    string
	Tags                          *TagList `xml:",omitempty"`
}

func policyOf(p identity.ManagedPolicy) Policy {
	return Policy{
		PolicyName: p.Name, PolicyId: p.ID, Arn: p.ARN, Path: p.Path, DefaultVersionId: p.DefaultVersion,
		AttachmentCount: p.Attachments, PermissionsBoundaryUsageCount: p.BoundaryUses, IsAttachable: true,
		Description: p.Description, CreateDate: timestamp(p.CreatedAt), UpdateDate: timestamp(p.UpdatedAt), Tags: optionalTags(p.Tags),
	}
}

// PolicyVersion is one version of a managed policy, its document
// URL-encoded as IAM returns documents.
type PolicyVersion struct {
	Document         string `xml:",omitempty"`
	VersionId        string
	IsDefaultVersion bool
	CreateDate       string
}

func versionOf(p identity.ManagedPolicy, v identity.PolicyVersion, withDocument bool) PolicyVersion {
	out := PolicyVersion{VersionId: v.ID, IsDefaultVersion: v.ID == p.DefaultVersion, CreateDate: timestamp(v.CreatedAt)}
	if withDocument {
		out.Document = encodeDocument(v.Document)
	}
	return out
}

func policyARN(f awsquery.Form) (string, error) { return f.Required("PolicyArn") }

// versionCall is an action on a version of a managed policy that answers
// nothing.
func versionCall(call func(*identity.Service, context.Context, string, string) error) op {
	return func(h *Handler, ctx context.Context, _ auth.Caller, f awsquery.Form) (any, error) {
		arn, err := policyARN(f)
		if err != nil {
			return nil, err
		}
		id, err := f.Required("VersionId")
		if err != nil {
			return nil, err
		}
		return nil, call(h.ids, ctx, arn, id)
	}
}

var policyOps = map[string]op{
	"CreatePolicy": func(h *Handler, ctx context.Context, _ auth.Caller, f awsquery.Form) (any, error) {
		name, err := f.Required("PolicyName")
		if err != nil {
			return nil, err
		}
		doc, err := f.Required("PolicyDocument")
		if err != nil {
			return nil, err
		}
		p, err := h.ids.CreatePolicy(ctx, identity.PolicyInput{Name: name, Path: f.Get("Path"), Document: doc, Description: f.Get("Description"), Tags: f.Tags("Tags")})
		if err != nil {
			return nil, err
		}
		return struct{ Policy Policy }{policyOf(p)}, nil
	},
	"GetPolicy": func(h *Handler, ctx context.Context, _ auth.Caller, f awsquery.Form) (any, error) {
		arn, err := policyARN(f)
		if err != nil {
			return nil, err
		}
		p, err := h.ids.Policy(ctx, arn, "iam:GetPolicy")
		if err != nil {
			return nil, err
		}
		return struct{ Policy Policy }{policyOf(p)}, nil
	},
	"GetPolicyVersion": func(h *Handler, ctx context.Context, _ auth.Caller, f awsquery.Form) (any, error) {
		arn, err := policyARN(f)
		if err != nil {
			return nil, err
		}
		id, err := f.Required("VersionId")
		if err != nil {
			return nil, err
		}
		p, err := h.ids.Policy(ctx, arn, "iam:GetPolicyVersion")
		if err != nil {
			return nil, err
		}
		v, ok := p.Version(id)
		if !ok {
			return nil, invalid(identity.CodeNoSuchEntity, "Policy "+arn+" version "+id+" does not exist or is not attachable.")
		}
		return struct{ PolicyVersion PolicyVersion }{versionOf(p, v, true)}, nil
	},
	"ListPolicyVersions": func(h *Handler, ctx context.Context, _ auth.Caller, f awsquery.Form) (any, error) {
		arn, err := policyARN(f)
		if err != nil {
			return nil, err
		}
		p, err := h.ids.Policy(ctx, arn, "iam:ListPolicyVersions")
		if err != nil {
			return nil, err
		}
		vs, truncated, marker, err := page(f, p.Versions, func(v identity.PolicyVersion) string { return v.ID })
		if err != nil {
			return nil, err
		}
		out := struct {
			Versions    []PolicyVersion `xml:"Versions>member"`
			IsTruncated bool
			Marker      string `xml:",omitempty"`
		}{Versions: []PolicyVersion{}, IsTruncated: truncated, Marker: marker}
		for _, v := range vs {
			out.Versions = append(out.Versions, versionOf(p, v, false))
		}
		return out, nil
	},
	"CreatePolicyVersion": func(h *Handler, ctx context.Context, _ auth.Caller, f awsquery.Form) (any, error) {
		arn, err := policyARN(f)
		if err != nil {
			return nil, err
		}
		doc, err := f.Required("PolicyDocument")
		if err != nil {
			return nil, err
		}
		setDefault := f.Get("SetAsDefault") == "true"
		v, err := h.ids.CreatePolicyVersion(ctx, arn, doc, setDefault)
		if err != nil {
			return nil, err
		}
		return struct{ PolicyVersion PolicyVersion }{PolicyVersion{VersionId: v.ID, IsDefaultVersion: setDefault, CreateDate: timestamp(v.CreatedAt)}}, nil
	},
	"DeletePolicyVersion":     versionCall((*identity.Service).DeletePolicyVersion),
	"SetDefaultPolicyVersion": versionCall((*identity.Service).SetDefaultPolicyVersion),
	"DeletePolicy": func(h *Handler, ctx context.Context, _ auth.Caller, f awsquery.Form) (any, error) {
		arn, err := policyARN(f)
		if err != nil {
			return nil, err
		}
		return nil, h.ids.DeletePolicy(ctx, arn)
	},
	"ListPolicies": func(h *Handler, ctx context.Context, _ auth.Caller, f awsquery.Form) (any, error) {
		scope := f.Get("Scope")
		switch scope {
		case "", "All", "AWS", "Local":
		default:
			return nil, invalid(identity.CodeValidation, "1 validation error detected: Value '"+scope+"' at 'scope' failed to satisfy constraint: Member must satisfy enum value set: [All, AWS, Local]")
		}
		ps, err := h.ids.Policies(ctx, scope, f.Get("PathPrefix"), f.Get("OnlyAttached") == "true")
		if err != nil {
			return nil, err
		}
		ps, truncated, marker, err := page(f, ps, func(p identity.ManagedPolicy) string { return p.ARN })
		if err != nil {
			return nil, err
		}
		out := struct {
			Policies    []Policy `xml:"Policies>member"`
			IsTruncated bool
			Marker      string `xml:",omitempty"`
		}{Policies: []Policy{}, IsTruncated: truncated, Marker: marker}
		for _, p := range ps {
			d := policyOf(p)
			d.Tags = nil // ListPolicies does not return tags
			out.Policies = append(out.Policies, d)
		}
		return out, nil
	},
	"ListEntitiesForPolicy": func(h *Handler, ctx context.Context, _ auth.Caller, f awsquery.Form) (any, error) {
		arn, err := policyARN(f)
		if err != nil {
			return nil, err
		}
		roles, users, groups, err := h.ids.PolicyEntities(ctx, arn)
		if err != nil {
			return nil, err
		}
		type role struct{ RoleName, RoleId string }
		type user struct{ UserName, UserId string }
		type group struct{ GroupName, GroupId string }
		out := struct {
			PolicyGroups []group `xml:"PolicyGroups>member"`
			PolicyUsers  []user  `xml:"PolicyUsers>member"`
			PolicyRoles  []role  `xml:"PolicyRoles>member"`
			IsTruncated  bool
		}{PolicyRoles: []role{}, PolicyUsers: []user{}, PolicyGroups: []group{}}
		filter := f.Get("EntityFilter")
		if filter == "" || filter == "Role" {
			for _, r := range roles {
				out.PolicyRoles = append(out.PolicyRoles, role{r.Name, r.ID})
			}
		}
		if filter == "" || filter == "User" {
			for _, u := range users {
				out.PolicyUsers = append(out.PolicyUsers, user{u.Name, u.ID})
			}
		}
		if filter == "" || filter == "Group" {
			for _, g := range groups {
				out.PolicyGroups = append(out.PolicyGroups, group{g.Name, g.ID})
			}
		}
		return out, nil
	},
	"TagPolicy": func(h *Handler, ctx context.Context, _ auth.Caller, f awsquery.Form) (any, error) {
		arn, err := policyARN(f)
		if err != nil {
			return nil, err
		}
		return nil, h.ids.TagPolicy(ctx, arn, f.Tags("Tags"), nil)
	},
	"UntagPolicy": func(h *Handler, ctx context.Context, _ auth.Caller, f awsquery.Form) (any, error) {
		arn, err := policyARN(f)
		if err != nil {
			return nil, err
		}
		return nil, h.ids.TagPolicy(ctx, arn, nil, f.Members("TagKeys"))
	},
	"ListPolicyTags": func(h *Handler, ctx context.Context, _ auth.Caller, f awsquery.Form) (any, error) {
		arn, err := policyARN(f)
		if err != nil {
			return nil, err
		}
		p, err := h.ids.Policy(ctx, arn, "iam:ListPolicyTags")
		if err != nil {
			return nil, err
		}
		return struct {
			Tags        []Tag `xml:"Tags>member"`
			IsTruncated bool
		}{append([]Tag{}, tagsOf(p.Tags)...), false}, nil
	},
}
