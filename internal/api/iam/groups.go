package iam

import (
	"context"

	"github.com/ecrd/ecrd/internal/api/awsquery"
	"github.com/ecrd/ecrd/internal/auth"
	"github.com/ecrd/ecrd/internal/identity"
)

// Group is IAM's description of a group.
type Group struct {
	Path       string
	GroupName  string
	GroupId    string
	Arn        string
	CreateDate string
}

func groupOf(g identity.Group) Group {
	return Group{Path: g.Path, GroupName: g.Name, GroupId: g.ID, Arn: g.ARN, CreateDate: timestamp(g.CreatedAt)}
}

// groupList is a page of groups, as ListGroups and ListGroupsForUser
// answer.
func groupList(f awsquery.Form, groups []identity.Group) (any, error) {
	groups, truncated, marker, err := page(f, groups, func(g identity.Group) string { return g.Name })
	if err != nil {
		return nil, err
	}
	out := struct {
		Groups      []Group `xml:"Groups>member"`
		IsTruncated bool
		Marker      string `xml:",omitempty"`
	}{Groups: []Group{}, IsTruncated: truncated, Marker: marker}
	for _, g := range groups {
		out.Groups = append(out.Groups, groupOf(g))
	}
	return out, nil
}

// membershipCall is AddUserToGroup or RemoveUserFromGroup.
func membershipCall(call func(*identity.Service, context.Context, string, string) error) op {
	return func(h *Handler, ctx context.Context, _ auth.Caller, f awsquery.Form) (any, error) {
		group, err := f.Required("GroupName")
		if err != nil {
			return nil, err
		}
		user, err := f.Required("UserName")
		if err != nil {
			return nil, err
		}
		return nil, call(h.ids, ctx, group, user)
	}
}

var groupOps = map[string]op{
	"CreateGroup": func(h *Handler, ctx context.Context, _ auth.Caller, f awsquery.Form) (any, error) {
		name, err := f.Required("GroupName")
		if err != nil {
			return nil, err
		}
		g, err := h.ids.CreateGroup(ctx, name, f.Get("Path"))
		if err != nil {
			return nil, err
		}
		return struct{ Group Group }{groupOf(g)}, nil
	},
	// GetGroup answers the group and a page of its members.
	"GetGroup": func(h *Handler, ctx context.Context, _ auth.Caller, f awsquery.Form) (any, error) {
		name, err := f.Required("GroupName")
		if err != nil {
			return nil, err
		}
		g, users, err := h.ids.Group(ctx, name)
		if err != nil {
			return nil, err
		}
		users, truncated, marker, err := page(f, users, func(u identity.User) string { return u.Name })
		if err != nil {
			return nil, err
		}
		out := struct {
			Group       Group
			Users       []User `xml:"Users>member"`
			IsTruncated bool
			Marker      string `xml:",omitempty"`
		}{Group: groupOf(g), Users: []User{}, IsTruncated: truncated, Marker: marker}
		for _, u := range users {
			out.Users = append(out.Users, userOf(u, false))
		}
		return out, nil
	},
	"ListGroups": func(h *Handler, ctx context.Context, _ auth.Caller, f awsquery.Form) (any, error) {
		groups, err := h.ids.Groups(ctx, f.Get("PathPrefix"))
		if err != nil {
			return nil, err
		}
		return groupList(f, groups)
	},
	"ListGroupsForUser": func(h *Handler, ctx context.Context, _ auth.Caller, f awsquery.Form) (any, error) {
		user, err := f.Required("UserName")
		if err != nil {
			return nil, err
		}
		groups, err := h.ids.GroupsForUser(ctx, user)
		if err != nil {
			return nil, err
		}
		return groupList(f, groups)
	},
	"UpdateGroup": func(h *Handler, ctx context.Context, _ auth.Caller, f awsquery.Form) (any, error) {
		name, err := f.Required("GroupName")
		if err != nil {
			return nil, err
		}
		return nil, h.ids.UpdateGroup(ctx, name, f.Get("NewGroupName"), f.Get("NewPath"))
	},
	"DeleteGroup": func(h *Handler, ctx context.Context, _ auth.Caller, f awsquery.Form) (any, error) {
		name, err := f.Required("GroupName")
		if err != nil {
			return nil, err
		}
		return nil, h.ids.DeleteGroup(ctx, name)
	},
	"AddUserToGroup":      membershipCall((*identity.Service).AddUserToGroup),
	"RemoveUserFromGroup": membershipCall((*identity.Service).RemoveUserFromGroup),
}
