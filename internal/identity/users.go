package identity

import (
	"context"
	"errors"
	"strings"

	"github.com/ecrd/ecrd/internal/awserr"
	"github.com/ecrd/ecrd/internal/metadata"
)

// UserInput creates a user.
type UserInput struct {
	Name     string
	Path     string
	Boundary string
	Tags     []Tag
}

// CreateUser creates a user in the caller's account.
func (s *Service) CreateUser(ctx context.Context, in UserInput) (User, error) {
	p, err := caller(ctx)
	if err != nil {
		return User{}, err
	}
	if err := validName("userName", in.Name, 64); err != nil {
		return User{}, err
	}
	path, err := cleanPath(in.Path)
	if err != nil {
		return User{}, err
	}
	if err := validTags(in.Tags); err != nil {
		return User{}, err
	}
	u := User{Name: in.Name, Path: path, ID: uniqueID("AIDA"), ARN: arnOf(p.Account, "user", path, in.Name), CreatedAt: s.now().UTC().Truncate(1e6), Tags: in.Tags}
	if err := s.allow(ctx, "iam:CreateUser", u.ARN); err != nil {
		return User{}, err
	}
	u.Boundary = in.Boundary
	c := act("iam:CreateUser", "userName", in.Name, "path", in.Path, "permissionsBoundary", in.Boundary, "tags", in.Tags)
	err = s.update(ctx, c, func(tx metadata.Tx) ([]string, error) {
		if in.Boundary != "" {
			if err := useBoundary(ctx, tx, in.Boundary, 1); err != nil {
				return nil, err
			}
		}
		return []string{u.ARN}, saveEntity(ctx, tx, p.Account, metadata.IAMUser, u.Name, u, true)
	})
	return u, err
}

// User returns a user of the caller's account, authorized as action
// (iam:GetUser and the list calls). No name means the caller itself: a
// user, or the root, which IAM describes as a user with the account's
// ARN.
func (s *Service) User(ctx context.Context, name, action string) (User, error) {
	p, err := caller(ctx)
	if err != nil {
		return User{}, err
	}
	name, root, err := whose(p, name)
	if err != nil {
		return User{}, err
	}
	if root {
		a, err := s.meta.Account(ctx, p.Account)
		return User{ARN: p.ARN, ID: p.Account, CreatedAt: a.CreatedAt}, err
	}
	return readEntity[User](ctx, s, p.Account, metadata.IAMUser, name, action)
}

// whose resolves the user a call names: no name means the caller itself,
// a user, or its account's root (root true).
func whose(p Principal, name string) (user string, root bool, err error) {
	if name != "" {
		return name, false, nil
	}
	switch p.Type {
	case TypeRoot:
		return "", true, nil
	case TypeUser:
		return p.Name, false, nil
	}
	return "", false, awserr.Errorf(CodeValidation, "Must specify userName when calling with non-User credentials")
}

// Users lists the caller's account's users whose path starts with prefix.
func (s *Service) Users(ctx context.Context, prefix string) ([]User, error) {
	p, err := caller(ctx)
	if err != nil {
		return nil, err
	}
	if err := s.allow(ctx, "iam:ListUsers", arnOf(p.Account, "user", "/", "*")); err != nil {
		return nil, err
	}
	all, err := listEntities[User](ctx, s.meta, p.Account, metadata.IAMUser)
	return filterPath(all, prefix, func(u User) string { return u.Path }), err
}

// changeUser authorizes c's action on a user, loads it, lets fn change
// it and saves it, in one transaction that records c.
func (s *Service) changeUser(ctx context.Context, name string, c change, fn func(tx metadata.Tx, u *User) error) error {
	p, err := caller(ctx)
	if err != nil {
		return err
	}
	return editEntity(ctx, s, c, p.Account, metadata.IAMUser, name, fn)
}

// DeleteUser deletes a user that has no access keys, group memberships
// or policies left, as IAM does (Terraform removes them first).
func (s *Service) DeleteUser(ctx context.Context, name string) error {
	p, err := caller(ctx)
	if err != nil {
		return err
	}
	c := act("iam:DeleteUser", "userName", name)
	return changeEntity(ctx, s, c, p.Account, metadata.IAMUser, name, allowOn[User](ctx, s, c.action), func(tx metadata.Tx, u User) ([]string, error) {
		keys, err := userKeys(ctx, tx, p.Account, u.ARN)
		if err != nil {
			return nil, err
		}
		switch {
		case len(keys) > 0:
			return nil, awserr.Errorf(CodeDeleteConflict, "Cannot delete entity, must delete access keys first.")
		case len(u.Groups) > 0:
			return nil, awserr.Errorf(CodeDeleteConflict, "Cannot delete entity, must remove users from group first.")
		case len(u.Attached) > 0:
			return nil, awserr.Errorf(CodeDeleteConflict, "Cannot delete entity, must detach all policies first.")
		case len(u.Inline) > 0:
			return nil, awserr.Errorf(CodeDeleteConflict, "Cannot delete entity, must delete policies first.")
		}
		if u.Boundary != "" {
			if err := useBoundary(ctx, tx, u.Boundary, -1); err != nil && !isNoSuchEntity(err) {
				return nil, err
			}
		}
		return []string{u.ARN}, tx.DeleteIAMEntity(ctx, p.Account, metadata.IAMUser, u.Name)
	})
}

// userKeys lists the access keys of the user with ARN arn.
func userKeys(ctx context.Context, r metadata.Reader, account, arn string) ([]metadata.AccessKey, error) {
	all, err := r.AccessKeys(ctx, account)
	if err != nil {
		return nil, err
	}
	var out []metadata.AccessKey
	for _, k := range all {
		if k.Principal == arn {
			k.Secret = nil
			out = append(out, k)
		}
	}
	return out, nil
}

// CreateUserAccessKey makes an access key for a user (no name: the
// caller itself, a user or the root).
func (s *Service) CreateUserAccessKey(ctx context.Context, name string) (AccessKey, string, error) {
	var (
		k    AccessKey
		rec  metadata.AccessKey
		user string
	)
	err := s.changeKeys(ctx, name, "iam:CreateAccessKey", func(p Principal, u User) change {
		k = AccessKey{ID: newAccessKeyID(), Secret: newSecret(), Principal: u.principal(p.Account), CreatedAt: s.now().UTC()}
		if u.Name == "" {
			k.Principal = Root(p.Account)
		}
		rec = metadata.AccessKey{
			ID: k.ID, Account: p.Account, Principal: k.Principal.ARN,
			Secret: s.keys.Seal([]byte(k.Secret), []byte(k.ID)), Status: "Active", CreatedAt: k.CreatedAt,
		}
		user = u.Name
		// The record names the new key by its ID, never its secret.
		return act("iam:CreateAccessKey", "userName", u.Name, "accessKeyId", k.ID)
	}, func(tx metadata.Tx, u User) ([]string, error) {
		keys, err := userKeys(ctx, tx, rec.Account, rec.Principal)
		if err != nil {
			return nil, err
		}
		if len(keys) >= maxAccessKeysPerUser && u.Name != "" {
			return nil, awserr.Errorf(CodeLimitExceeded, "Cannot exceed quota for AccessKeysPerUser: %d", maxAccessKeysPerUser)
		}
		return []string{rec.Principal}, tx.PutAccessKey(ctx, rec)
	})
	return k, user, err
}

// changeKeys runs a change of the access keys of a user (no name: the
// caller's own, a user's or the root's), authorized as action on the
// user (User) before the transaction: record makes the change to record
// from the user as read then, and fn makes it in a transaction that
// records it, with the user as the transaction reads it (the root: the
// User that User returns for it, of its account's ARN and no name).
func (s *Service) changeKeys(ctx context.Context, name, action string, record func(p Principal, u User) change, fn func(tx metadata.Tx, u User) ([]string, error)) error {
	p, err := caller(ctx)
	if err != nil {
		return err
	}
	var u User
	return s.decideThenUpdate(ctx, func() (change, string, error) {
		var err error
		if u, err = s.User(ctx, name, action); err != nil {
			return change{}, "", err
		}
		return record(p, u), u.ARN, nil
	}, func(tx metadata.Tx, decided string) ([]string, error) {
		cur := u
		if u.Name != "" {
			var err error
			if cur, err = same[User](ctx, tx, p.Account, metadata.IAMUser, u.Name, decided); err != nil {
				return nil, err
			}
		}
		return fn(tx, cur)
	})
}

// UserAccessKeys lists a user's access keys, without secrets.
func (s *Service) UserAccessKeys(ctx context.Context, name string) ([]metadata.AccessKey, string, error) {
	u, err := s.User(ctx, name, "iam:ListAccessKeys")
	if err != nil {
		return nil, "", err
	}
	p, _ := caller(ctx)
	arn := u.ARN
	keys, err := userKeys(ctx, s.meta, p.Account, arn)
	return keys, u.Name, err
}

// UpdateAccessKey activates or deactivates a user's access key.
func (s *Service) UpdateAccessKey(ctx context.Context, name, id, status string) error {
	if status != "Active" && status != "Inactive" {
		return awserr.Errorf(CodeValidation, "1 validation error detected: Value '%s' at 'status' failed to satisfy constraint: Member must satisfy enum value set: [Active, Inactive]", status)
	}
	c := act("iam:UpdateAccessKey", "userName", name, "accessKeyId", id, "status", status)
	return s.changeKey(ctx, name, id, c, func(tx metadata.Tx, k metadata.AccessKey) error {
		k.Status = status
		return tx.PutAccessKey(ctx, k)
	})
}

// DeleteAccessKey deletes a user's access key, and the record of its last
// use.
func (s *Service) DeleteAccessKey(ctx context.Context, name, id string) error {
	c := act("iam:DeleteAccessKey", "userName", name, "accessKeyId", id)
	err := s.changeKey(ctx, name, id, c, func(tx metadata.Tx, k metadata.AccessKey) error {
		if err := tx.DeleteIAMEntity(ctx, k.Account, kindKeyUse, k.ID); err != nil && !errors.Is(err, metadata.ErrNotFound) {
			return err
		}
		return tx.DeleteAccessKey(ctx, k.ID)
	})
	if err == nil {
		s.keyUse.forget(id)
	}
	return err
}

// changeKey authorizes c's action on a user (or the root), and lets fn
// change one of its access keys, in one transaction that records c.
func (s *Service) changeKey(ctx context.Context, name, id string, c change, fn func(tx metadata.Tx, k metadata.AccessKey) error) error {
	record := func(Principal, User) change { return c }
	return s.changeKeys(ctx, name, c.action, record, func(tx metadata.Tx, u User) ([]string, error) {
		k, err := tx.AccessKey(ctx, id)
		if err != nil || k.Principal != u.ARN || k.Account != accountOfARN(u.ARN) {
			return nil, awserr.Errorf(CodeNoSuchEntity, "The Access Key with id %s cannot be found.", id)
		}
		return []string{u.ARN}, fn(tx, k)
	})
}

// UpdateUser renames a user or moves it to another path (an empty newName
// or newPath keeps it). Its access keys, group memberships and policies
// follow it; IAM asks for iam:UpdateUser on both the user and what it
// becomes. The user's unique ID stays, but registry tokens and sessions
// name the user: those issued before a rename end with it.
func (s *Service) UpdateUser(ctx context.Context, name, newName, newPath string) error {
	p, err := caller(ctx)
	if err != nil {
		return err
	}
	if newName != "" {
		if err := validName("newUserName", newName, 64); err != nil {
			return err
		}
	}
	if newPath != "" {
		if _, err := cleanPath(newPath); err != nil {
			return err
		}
	}
	// moved is the user as the change leaves it.
	moved := func(u User) User {
		u.Name, u.Path, u.ARN = renamed(p.Account, "user", u.Name, u.Path, newName, newPath)
		return u
	}
	// IAM asks for iam:UpdateUser on the user and on what it becomes.
	decide := func(u User, arn string) error {
		if err := s.allow(ctx, "iam:UpdateUser", arn); err != nil || u.ARN == "" {
			return err
		}
		return s.allow(ctx, "iam:UpdateUser", moved(u).ARN)
	}
	c := act("iam:UpdateUser", "userName", name, "newUserName", newName, "newPath", newPath)
	return changeEntity(ctx, s, c, p.Account, metadata.IAMUser, name, decide, func(tx metadata.Tx, u User) ([]string, error) {
		old, oldARN := u.Name, u.ARN
		u = moved(u)
		var err error
		if strings.EqualFold(old, u.Name) {
			err = saveEntity(ctx, tx, p.Account, metadata.IAMUser, old, u, false)
		} else if err = saveEntity(ctx, tx, p.Account, metadata.IAMUser, u.Name, u, true); err == nil {
			err = tx.DeleteIAMEntity(ctx, p.Account, metadata.IAMUser, old)
		}
		if err != nil || u.ARN == oldARN {
			return []string{oldARN}, err
		}
		// Its access keys name it: they follow it (and every process
		// reads them again, as after any IAM change).
		keys, err := tx.AccessKeys(ctx, p.Account)
		if err != nil {
			return nil, err
		}
		for _, k := range keys {
			if k.Principal == oldARN {
				k.Principal = u.ARN
				if err := tx.PutAccessKey(ctx, k); err != nil {
					return nil, err
				}
			}
		}
		return []string{oldARN, u.ARN}, nil
	})
}

// LoginProfile answers GetLoginProfile and DeleteLoginProfile (action):
// ecrd has no console, so no user has a password.
func (s *Service) LoginProfile(ctx context.Context, user, action string) error {
	u, err := s.User(ctx, user, action)
	if err != nil {
		return err
	}
	return awserr.Errorf(CodeNoSuchEntity, "Login Profile for User %s cannot be found.", u.Name)
}

// UserCredentials authorizes a listing of a user's other credentials (MFA
// devices, SSH public keys, signing certificates, service-specific
// credentials: action) and checks that the user exists. ecrd issues none
// of them, so the listings are empty.
func (s *Service) UserCredentials(ctx context.Context, user, action string) (string, error) {
	u, err := s.User(ctx, user, action)
	return u.Name, err
}

// VirtualMFADevices authorizes ListVirtualMFADevices; there are none.
func (s *Service) VirtualMFADevices(ctx context.Context) error {
	if _, err := caller(ctx); err != nil {
		return err
	}
	return s.allow(ctx, "iam:ListVirtualMFADevices", "*")
}
