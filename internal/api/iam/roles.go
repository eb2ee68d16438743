package iam

import (
	"context"
	"encoding/xml"

	"github.com/ecrd/ecrd/internal/api/awsquery"
	"github.com/ecrd/ecrd/internal/auth"
	"github.com/ecrd/ecrd/internal/identity"
	"github.com/ecrd/ecrd/internal/metadata"
)

// Role is IAM's description of a role.
type Role struct {
	Path                     string
	RoleName                 string
	RoleId                   string
	Arn                      string
	CreateDate               string
	AssumeRolePolicyDocument string
	Description              string `xml:",omitempty"`
	MaxSessionDuration       int
	PermissionsBoundary      *Boundary `xml:",omitempty"`
	Tags                     *TagList  `xml:",omitempty"`
	RoleLastUsed             *LastUsed `xml:",omitempty"`
}

// LastUsed is when a role was last assumed.
type LastUsed struct {
	LastUsedDate string `xml:",omitempty"`
	Region       string `xml:",omitempty"`
}

func roleOf(r identity.Role, full bool) Role {
	out := Role{
		Path: r.Path, RoleName: r.Name, RoleId: r.ID, Arn: r.ARN, CreateDate: timestamp(r.CreatedAt),
		AssumeRolePolicyDocument: encodeDocument(r.TrustPolicy), Description: r.Description, MaxSessionDuration: r.MaxSessionDuration,
	}
	if full {
		out.PermissionsBoundary = boundaryOf(r.Boundary)
		out.Tags = optionalTags(r.Tags)
		out.RoleLastUsed = &LastUsed{}
		if !r.LastUsed.IsZero() {
			out.RoleLastUsed.LastUsedDate = timestamp(r.LastUsed)
			out.RoleLastUsed.Region = r.LastUsedRegion
		}
	}
	return out
}

func roleOf1(r identity.Role, err error) (any, error) {
	if err != nil {
		return nil, err
	}
	return struct{ Role Role }{roleOf(r, true)}, nil
}

// granteeCall is an action on a user, role or group that takes one more
// required parameter and answers nothing.
func granteeCall(kind, param string, call func(*identity.Service, context.Context, identity.Grantee, string) error) op {
	return func(h *Handler, ctx context.Context, _ auth.Caller, f awsquery.Form) (any, error) {
		g, err := grantee(f, kind)
		if err != nil {
			return nil, err
		}
		v, err := f.Required(param)
		if err != nil {
			return nil, err
		}
		return nil, call(h.ids, ctx, g, v)
	}
}

// grantee reads the user, role or group a grant call names.
func grantee(f awsquery.Form, kind string) (identity.Grantee, error) {
	name, err := f.Required(nounOf(kind) + "Name")
	return identity.Grantee{Kind: kind, Name: name}, err
}

var roleOps = map[string]op{
	"CreateRole": func(h *Handler, ctx context.Context, _ auth.Caller, f awsquery.Form) (any, error) {
		name, err := f.Required("RoleName")
		if err != nil {
			return nil, err
		}
		doc, err := f.Required("AssumeRolePolicyDocument")
		if err != nil {
			return nil, err
		}
		maxSession, _, err := f.Int("MaxSessionDuration")
		if err != nil {
			return nil, err
		}
		return roleOf1(h.ids.CreateRole(ctx, identity.RoleInput{
			Name: name, Path: f.Get("Path"), TrustPolicy: doc, Description: f.Get("Description"),
			MaxSessionDuration: maxSession, Boundary: f.Get("PermissionsBoundary"), Tags: f.Tags("Tags"),
		}))
	},
	"GetRole": func(h *Handler, ctx context.Context, _ auth.Caller, f awsquery.Form) (any, error) {
		name, err := f.Required("RoleName")
		if err != nil {
			return nil, err
		}
		return roleOf1(h.ids.Role(ctx, name))
	},
	"ListRoles": func(h *Handler, ctx context.Context, _ auth.Caller, f awsquery.Form) (any, error) {
		roles, err := h.ids.Roles(ctx, f.Get("PathPrefix"))
		if err != nil {
			return nil, err
		}
		roles, truncated, marker, err := page(f, roles, func(r identity.Role) string { return r.Name })
		if err != nil {
			return nil, err
		}
		out := struct {
			Roles       []Role `xml:"Roles>member"`
			IsTruncated bool
			Marker      string `xml:",omitempty"`
		}{Roles: []Role{}, IsTruncated: truncated, Marker: marker}
		for _, r := range roles {
			out.Roles = append(out.Roles, roleOf(r, false))
		}
		return out, nil
	},
	"UpdateRole": func(h *Handler, ctx context.Context, _ auth.Caller, f awsquery.Form) (any, error) {
		name, err := f.Required("RoleName")
		if err != nil {
			return nil, err
		}
		var c identity.RoleChange
		if _, ok := f.Values["Description"]; ok {
			d := f.Get("Description")
			c.Description = &d
		}
		if n, ok, err := f.Int("MaxSessionDuration"); err != nil {
			return nil, err
		} else if ok {
			c.MaxSessionDuration = &n
		}
		_, err = h.ids.UpdateRole(ctx, name, "iam:UpdateRole", c)
		return struct{}{}, err
	},
	"UpdateRoleDescription": func(h *Handler, ctx context.Context, _ auth.Caller, f awsquery.Form) (any, error) {
		name, err := f.Required("RoleName")
		if err != nil {
			return nil, err
		}
		d := f.Get("Description")
		return roleOf1(h.ids.UpdateRole(ctx, name, "iam:UpdateRoleDescription", identity.RoleChange{Description: &d}))
	},
	"UpdateAssumeRolePolicy": func(h *Handler, ctx context.Context, _ auth.Caller, f awsquery.Form) (any, error) {
		name, err := f.Required("RoleName")
		if err != nil {
			return nil, err
		}
		doc, err := f.Required("PolicyDocument")
		if err != nil {
			return nil, err
		}
		_, err = h.ids.UpdateRole(ctx, name, "iam:UpdateAssumeRolePolicy", identity.RoleChange{TrustPolicy: &doc})
		return nil, err
	},
	"DeleteRole": func(h *Handler, ctx context.Context, _ auth.Caller, f awsquery.Form) (any, error) {
		name, err := f.Required("RoleName")
		if err != nil {
			return nil, err
		}
		return nil, h.ids.DeleteRole(ctx, name)
	},
	// ecrd has no instance profiles; Terraform lists them before deleting
	// a role.
	"ListInstanceProfilesForRole": func(h *Handler, ctx context.Context, _ auth.Caller, f awsquery.Form) (any, error) {
		name, err := f.Required("RoleName")
		if err != nil {
			return nil, err
		}
		if _, err := h.ids.Role(ctx, name); err != nil {
			return nil, err
		}
		return struct {
			InstanceProfiles []struct{} `xml:"InstanceProfiles>member"`
			IsTruncated      bool
		}{InstanceProfiles: []struct{}{}}, nil
	},
}

// grantOps adds the inline policy and attachment calls of users, roles
// and groups, and the boundary and tag calls of users and roles, to the
// table (their shapes differ only by the noun).
func grantOps() map[string]op {
	ops := map[string]op{}
	for _, kind := range []string{metadata.IAMRole, metadata.IAMUser, identity.KindGroup} {
		noun := nounOf(kind)
		ops["Put"+noun+"Policy"] = func(h *Handler, ctx context.Context, _ auth.Caller, f awsquery.Form) (any, error) {
			g, err := grantee(f, kind)
			if err != nil {
				return nil, err
			}
			name, err := f.Required("PolicyName")
			if err != nil {
				return nil, err
			}
			doc, err := f.Required("PolicyDocument")
			if err != nil {
				return nil, err
			}
			return nil, h.ids.PutInlinePolicy(ctx, g, name, doc)
		}
		ops["Get"+noun+"Policy"] = func(h *Handler, ctx context.Context, _ auth.Caller, f awsquery.Form) (any, error) {
			g, err := grantee(f, kind)
			if err != nil {
				return nil, err
			}
			name, err := f.Required("PolicyName")
			if err != nil {
				return nil, err
			}
			doc, err := h.ids.InlinePolicy(ctx, g, name)
			if err != nil {
				return nil, err
			}
			return inlinePolicy{noun: noun, owner: g.Name, name: name, doc: encodeDocument(doc)}, nil
		}
		ops["Delete"+noun+"Policy"] = granteeCall(kind, "PolicyName", (*identity.Service).DeleteInlinePolicy)
		ops["List"+noun+"Policies"] = func(h *Handler, ctx context.Context, _ auth.Caller, f awsquery.Form) (any, error) {
			g, err := grantee(f, kind)
			if err != nil {
				return nil, err
			}
			names, err := h.ids.InlinePolicyNames(ctx, g)
			if err != nil {
				return nil, err
			}
			names, truncated, marker, err := page(f, names, func(s string) string { return s })
			if err != nil {
				return nil, err
			}
			return struct {
				PolicyNames []string `xml:"PolicyNames>member"`
				IsTruncated bool
				Marker      string `xml:",omitempty"`
			}{append([]string{}, names...), truncated, marker}, nil
		}
		ops["Attach"+noun+"Policy"] = granteeCall(kind, "PolicyArn", (*identity.Service).AttachPolicy)
		ops["Detach"+noun+"Policy"] = granteeCall(kind, "PolicyArn", (*identity.Service).DetachPolicy)
		ops["ListAttached"+noun+"Policies"] = func(h *Handler, ctx context.Context, _ auth.Caller, f awsquery.Form) (any, error) {
			g, err := grantee(f, kind)
			if err != nil {
				return nil, err
			}
			arns, err := h.ids.AttachedPolicies(ctx, g)
			if err != nil {
				return nil, err
			}
			arns, truncated, marker, err := page(f, arns, func(s string) string { return s })
			if err != nil {
				return nil, err
			}
			type attached struct{ PolicyName, PolicyArn string }
			out := struct {
				AttachedPolicies []attached `xml:"AttachedPolicies>member"`
				IsTruncated      bool
				Marker           string `xml:",omitempty"`
			}{AttachedPolicies: []attached{}, IsTruncated: truncated, Marker: marker}
			for _, a := range arns {
				out.AttachedPolicies = append(out.AttachedPolicies, attached{a[lastSlash(a)+1:], a})
			}
			return out, nil
		}
		if kind == identity.KindGroup {
			continue // groups have no boundary and no tags
		}
		ops["Put"+noun+"PermissionsBoundary"] = granteeCall(kind, "PermissionsBoundary", (*identity.Service).SetBoundary)
		ops["Delete"+noun+"PermissionsBoundary"] = func(h *Handler, ctx context.Context, _ auth.Caller, f awsquery.Form) (any, error) {
			g, err := grantee(f, kind)
			if err != nil {
				return nil, err
			}
			return nil, h.ids.SetBoundary(ctx, g, "")
		}
		ops["Tag"+noun] = func(h *Handler, ctx context.Context, _ auth.Caller, f awsquery.Form) (any, error) {
			g, err := grantee(f, kind)
			if err != nil {
				return nil, err
			}
			return nil, h.ids.Tag(ctx, g, f.Tags("Tags"))
		}
		ops["Untag"+noun] = func(h *Handler, ctx context.Context, _ auth.Caller, f awsquery.Form) (any, error) {
			g, err := grantee(f, kind)
			if err != nil {
				return nil, err
			}
			return nil, h.ids.Untag(ctx, g, f.Members("TagKeys"))
		}
		ops["List"+noun+"Tags"] = func(h *Handler, ctx context.Context, _ auth.Caller, f awsquery.Form) (any, error) {
			g, err := grantee(f, kind)
			if err != nil {
				return nil, err
			}
			tags, err := h.ids.Tags(ctx, g)
			if err != nil {
				return nil, err
			}
			tags, truncated, marker, err := page(f, tags, func(t identity.Tag) string { return t.Key })
			if err != nil {
				return nil, err
			}
			return struct {
				Tags        []Tag `xml:"Tags>member"`
				IsTruncated bool
				Marker      string `xml:",omitempty"`
			}{append([]Tag{}, tagsOf(tags)...), truncated, marker}, nil
		}
	}
	return ops
}

// inlinePolicy is Get{User,Role,Group}Policy's answer: the owner's name
// is an element named after its kind.
type inlinePolicy struct {
	noun, owner, name, doc string
}

func (p inlinePolicy) MarshalXML(e *xml.Encoder, start xml.StartElement) error {
	if err := e.EncodeToken(start); err != nil {
		return err
	}
	for _, kv := range [][2]string{{p.noun + "Name", p.owner}, {"PolicyName", p.name}, {"PolicyDocument", p.doc}} {
		if err := e.EncodeElement(kv[1], xml.StartElement{Name: xml.Name{Local: kv[0]}}); err != nil {
			return err
		}
	}
	return e.EncodeToken(start.End())
}

// nounOf is a grantee kind as IAM's action and parameter names spell it.
func nounOf(kind string) string {
	switch kind {
	case metadata.IAMUser:
		return "User"
	case identity.KindGroup:
		return "Group"
	}
	return "Role"
}

func lastSlash(s string) int {
	for i := len(s) - 1; i >= 0; i-- {
		if s[i] == '/' {
			return i
		}
	}
	return -1
}
