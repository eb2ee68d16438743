package identity

import (
	"context"
	"slices"
	"strings"

	"github.com/ecrd/ecrd/internal/awserr"
	"github.com/ecrd/ecrd/internal/metadata"
)

// CreateGroup creates a group in the caller's account.
func (s *Service) CreateGroup(ctx context.Context, name, path string) (Group, error) {
	p, err := caller(ctx)
	if err != nil {
		return Group{}, err
	}
	if err := validName("groupName", name, 128); err != nil {
		return Group{}, err
	}
	path, err = cleanPath(path)
	if err != nil {
		return Group{}, err
	}
	g := Group{Name: name, Path: path, ID: uniqueID("AGPA"), ARN: arnOf(p.Account, "group", path, name), CreatedAt: s.now().UTC().Truncate(1e6)}
	if err := s.allow(ctx, "iam:CreateGroup", g.ARN); err != nil {
		return Group{}, err
	}
	err = s.update(ctx, act("iam:CreateGroup", "groupName", name, "path", path), func(tx metadata.Tx) ([]string, error) {
		return []string{g.ARN}, saveEntity(ctx, tx, p.Account, KindGroup, g.Name, g, true)
	})
	return g, err
}

// readGroup authorizes action on a group of the caller's account and
// returns it.
func (s *Service) readGroup(ctx context.Context, name, action string) (Group, error) {
	p, err := caller(ctx)
	if err != nil {
		return Group{}, err
	}
	return readEntity[Group](ctx, s, p.Account, KindGroup, name, action)
}

// Group returns a group and its members, by name.
func (s *Service) Group(ctx context.Context, name string) (Group, []User, error) {
	g, err := s.readGroup(ctx, name, "iam:GetGroup")
	if err != nil {
		return Group{}, nil, err
	}
	p, _ := caller(ctx)
	users, err := listEntities[User](ctx, s.meta, p.Account, metadata.IAMUser)
	return g, slices.DeleteFunc(users, func(u User) bool { return !u.memberOf(g.Name) }), err
}

// memberOf reports whether the user is in the named group (names are
// case-insensitive, as IAM's).
func (u *User) memberOf(group string) bool {
	return slices.IndexFunc(u.Groups, func(g string) bool { return strings.EqualFold(g, group) }) >= 0
}

// Groups lists the caller's account's groups whose path starts with
// prefix.
func (s *Service) Groups(ctx context.Context, prefix string) ([]Group, error) {
	p, err := caller(ctx)
	if err != nil {
		return nil, err
	}
	if err := s.allow(ctx, "iam:ListGroups", arnOf(p.Account, "group", "/", "*")); err != nil {
		return nil, err
	}
	all, err := listEntities[Group](ctx, s.meta, p.Account, KindGroup)
	return filterPath(all, prefix, func(g Group) string { return g.Path }), err
}

// GroupsForUser lists the groups a user is a member of.
func (s *Service) GroupsForUser(ctx context.Context, user string) ([]Group, error) {
	u, err := s.User(ctx, user, "iam:ListGroupsForUser")
	if err != nil {
		return nil, err
	}
	p, _ := caller(ctx)
	out := make([]Group, 0, len(u.Groups))
	for _, name := range u.Groups {
		g, err := loadEntity[Group](ctx, s.meta, p.Account, KindGroup, name)
		if isNoSuchEntity(err) {
			continue
		} else if err != nil {
			return nil, err
		}
		out = append(out, g)
	}
	return out, nil
}

// changeGroup authorizes c's action on a group, loads it, lets fn change
// it and saves it, in one transaction that records c.
func (s *Service) changeGroup(ctx context.Context, name string, c change, fn func(tx metadata.Tx, g *Group) error) error {
	p, err := caller(ctx)
	if err != nil {
		return err
	}
	return editEntity(ctx, s, c, p.Account, KindGroup, name, fn)
}

// UpdateGroup renames a group or moves it to another path (an empty
// newName or newPath keeps it); its members and policies follow it. IAM
// asks for iam:UpdateGroup on both the group and what it becomes.
func (s *Service) UpdateGroup(ctx context.Context, name, newName, newPath string) error {
	p, err := caller(ctx)
	if err != nil {
		return err
	}
	if newName != "" {
		if err := validName("newGroupName", newName, 128); err != nil {
			return err
		}
	}
	if newPath != "" {
		if _, err := cleanPath(newPath); err != nil {
			return err
		}
	}
	// moved is the group as the change leaves it.
	moved := func(g Group) Group {
		g.Name, g.Path, g.ARN = renamed(p.Account, "group", g.Name, g.Path, newName, newPath)
		return g
	}
	decide := func(g Group, arn string) error {
		if err := s.allow(ctx, "iam:UpdateGroup", arn); err != nil || g.ARN == "" {
			return err
		}
		return s.allow(ctx, "iam:UpdateGroup", moved(g).ARN)
	}
	c := act("iam:UpdateGroup", "groupName", name, "newGroupName", newName, "newPath", newPath)
	return changeEntity(ctx, s, c, p.Account, KindGroup, name, decide, func(tx metadata.Tx, g Group) ([]string, error) {
		old, oldARN := g.Name, g.ARN
		g = moved(g)
		changed := []string{oldARN}
		if g.ARN != oldARN {
			changed = append(changed, g.ARN)
		}
		if strings.EqualFold(old, g.Name) {
			return changed, saveEntity(ctx, tx, p.Account, KindGroup, old, g, false)
		}
		if err := saveEntity(ctx, tx, p.Account, KindGroup, g.Name, g, true); err != nil {
			return nil, err
		}
		if err := tx.DeleteIAMEntity(ctx, p.Account, KindGroup, old); err != nil {
			return nil, err
		}
		// The members name the group: they follow it.
		users, err := listEntities[User](ctx, tx, p.Account, metadata.IAMUser)
		if err != nil {
			return nil, err
		}
		for _, u := range users {
			if i := slices.IndexFunc(u.Groups, func(n string) bool { return strings.EqualFold(n, old) }); i >= 0 {
				u.Groups[i] = g.Name
				if err := saveEntity(ctx, tx, p.Account, metadata.IAMUser, u.Name, u, false); err != nil {
					return nil, err
				}
			}
		}
		return changed, nil
	})
}

// DeleteGroup deletes a group that has no members and no policies left.
func (s *Service) DeleteGroup(ctx context.Context, name string) error {
	p, err := caller(ctx)
	if err != nil {
		return err
	}
	c := act("iam:DeleteGroup", "groupName", name)
	return changeEntity(ctx, s, c, p.Account, KindGroup, name, allowOn[Group](ctx, s, c.action), func(tx metadata.Tx, g Group) ([]string, error) {
		users, err := listEntities[User](ctx, tx, p.Account, metadata.IAMUser)
		if err != nil {
			return nil, err
		}
		switch {
		case slices.ContainsFunc(users, func(u User) bool { return u.memberOf(g.Name) }):
			return nil, awserr.Errorf(CodeDeleteConflict, "Cannot delete entity, must remove users from group first.")
		case len(g.Inline) > 0:
			return nil, awserr.Errorf(CodeDeleteConflict, "Cannot delete entity, must delete policies first.")
		case len(g.Attached) > 0:
			return nil, awserr.Errorf(CodeDeleteConflict, "Cannot delete entity, must detach all policies first.")
		}
		return []string{g.ARN}, tx.DeleteIAMEntity(ctx, p.Account, KindGroup, g.Name)
	})
}

// AddUserToGroup makes a user a member of a group (again: no error).
func (s *Service) AddUserToGroup(ctx context.Context, group, user string) error {
	return s.membership(ctx, group, user, "iam:AddUserToGroup", func(u *User, g *Group) error {
		if u.memberOf(g.Name) {
			return nil
		}
		if len(u.Groups) >= maxGroupsPerUser {
			return awserr.Errorf(CodeLimitExceeded, "Cannot exceed quota for GroupsPerUser: %d", maxGroupsPerUser)
		}
		u.Groups = append(u.Groups, g.Name)
		return nil
	})
}

// RemoveUserFromGroup ends a user's membership of a group.
func (s *Service) RemoveUserFromGroup(ctx context.Context, group, user string) error {
	return s.membership(ctx, group, user, "iam:RemoveUserFromGroup", func(u *User, g *Group) error {
		if !u.memberOf(g.Name) {
			return awserr.Errorf(CodeNoSuchEntity, "The user with name %s cannot be found.", u.Name)
		}
		u.Groups = slices.DeleteFunc(u.Groups, func(n string) bool { return strings.EqualFold(n, g.Name) })
		return nil
	})
}

// membership authorizes action on a group, loads the group and the user
// and lets fn change the user's memberships, in one transaction that
// records the change of both.
func (s *Service) membership(ctx context.Context, group, user, action string, fn func(u *User, g *Group) error) error {
	p, err := caller(ctx)
	if err != nil {
		return err
	}
	c := act(action, "groupName", group, "userName", user)
	return changeEntity(ctx, s, c, p.Account, KindGroup, group, allowOn[Group](ctx, s, action), func(tx metadata.Tx, g Group) ([]string, error) {
		u, err := loadEntity[User](ctx, tx, p.Account, metadata.IAMUser, user)
		if err != nil {
			return nil, err
		}
		if err := fn(&u, &g); err != nil {
			return nil, err
		}
		return []string{g.ARN, u.ARN}, saveEntity(ctx, tx, p.Account, metadata.IAMUser, u.Name, u, false)
	})
}
