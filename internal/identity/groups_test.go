package identity

import (
	"testing"

	"github.com/ecrd/ecrd/internal/iampolicy"
	"github.com/ecrd/ecrd/internal/metadata"
)

// TestGroups: a group's inline and attached policies apply to its
// members and stop applying when they leave; a group with members or
// policies, and a user in a group, cannot be deleted; renaming a group
// keeps its members, renaming a user keeps its groups and access keys.
func TestGroups(t *testing.T) {
	s := newService(t)
	rc := NewContext(ctx, asRoot(t, s))
	u, err := s.CreateUser(rc, UserInput{Name: "dev"})
	if err != nil {
		t.Fatal(err)
	}
	g, err := s.CreateGroup(rc, "devs", "/team/")
	if err != nil || g.ARN != "arn:aws:iam::"+acct+":group/team/devs" || g.ID[:4] != "AGPA" || len(g.ID) != 21 {
		t.Fatalf("CreateGroup = %+v, %v", g, err)
	}
	_, err = s.CreateGroup(rc, "DEVS", "")
	wantIAMError(t, "a group name differing in case", err, CodeEntityExists, "Group with name DEVS already exists.")
	repo := "arn:aws:ecr:us-east-1:" + acct + ":repository/app"
	decide := func(user, action string) iampolicy.Decision {
		t.Helper()
		p, err := s.User(rc, user, "iam:GetUser")
		if err != nil {
			t.Fatal(err)
		}
		d, _, err := s.Authorize(NewContext(ctx, p.principal(acct)), Check{Action: action, Resource: repo, ResourceAccount: acct})
		if err != nil {
			t.Fatal(err)
		}
		return d
	}
	group := Grantee{Kind: KindGroup, Name: "devs"}
	if err := s.AttachPolicy(rc, group, "arn:aws:iam::aws:policy/AmazonEC2ContainerRegistryReadOnly"); err != nil {
		t.Fatal(err)
	}
	if err := s.PutInlinePolicy(rc, group, "no-app", `{"Version":"2012-10-17","Statement":[{"Sid":"NoDescribe","Effect":"Deny","Action":"ecr:DescribeImages","Resource":"`+repo+`"}]}`); err != nil {
		t.Fatal(err)
	}
	if d := decide("dev", "ecr:BatchGetImage"); d.Allowed {
		t.Fatal("a user outside the group has its policies")
	}
	if err := s.AddUserToGroup(rc, "devs", "dev"); err != nil {
		t.Fatal(err)
	}
	if err := s.AddUserToGroup(rc, "devs", "dev"); err != nil {
		t.Fatalf("adding a member again: %v", err)
	}
	if d := decide("dev", "ecr:BatchGetImage"); !d.Allowed {
		t.Fatalf("a member lacks the group's attached policy: %+v", d)
	}
	if d := decide("dev", "ecr:DescribeImages"); d.Reason != iampolicy.ExplicitDeny || d.Deny.Policy != "no-app (group devs)" || d.Deny.Sid != "NoDescribe" {
		t.Fatalf("the group's inline deny: %+v", d)
	}
	_, members, err := s.Group(rc, "devs")
	if err != nil || len(members) != 1 || members[0].ID != u.ID {
		t.Fatalf("GetGroup members = %+v, %v", members, err)
	}
	mp, err := s.Policy(rc, "arn:aws:iam::aws:policy/AmazonEC2ContainerRegistryReadOnly", "iam:GetPolicy")
	if err != nil {
		t.Fatal(err)
	}
	counts, _ := s.awsAttachments(rc, acct)
	if counts[mp.ARN] != 1 {
		t.Errorf("AttachmentCount of a policy attached to a group = %d", counts[mp.ARN])
	}
	if _, _, groups, err := s.PolicyEntities(rc, mp.ARN); err != nil || len(groups) != 1 || groups[0].Name != "devs" {
		t.Errorf("PolicyEntities groups = %+v, %v", groups, err)
	}

	wantIAMError(t, "DeleteUser of a member", s.DeleteUser(rc, "dev"), CodeDeleteConflict, "Cannot delete entity, must remove users from group first.")
	wantIAMError(t, "DeleteGroup with members", s.DeleteGroup(rc, "devs"), CodeDeleteConflict, "Cannot delete entity, must remove users from group first.")

	// Renaming the group and the user keeps the membership; the user's
	// key authenticates it under its new name.
	k, _, err := s.CreateUserAccessKey(rc, "dev")
	if err != nil {
		t.Fatal(err)
	}
	if err := s.UpdateGroup(rc, "devs", "developers", "/"); err != nil {
		t.Fatal(err)
	}
	if _, _, err := s.Group(rc, "devs"); !isNoSuchEntity(err) {
		t.Fatalf("the old group name still answers: %v", err)
	}
	wantIAMError(t, "UpdateUser onto an existing name", func() error {
		if _, err := s.CreateUser(rc, UserInput{Name: "taken"}); err != nil {
			return err
		}
		return s.UpdateUser(rc, "dev", "Taken", "")
	}(), CodeEntityExists, "User with name Taken already exists.")
	if err := s.UpdateUser(rc, "dev", "developer", "/people/"); err != nil {
		t.Fatal(err)
	}
	groups, err := s.GroupsForUser(rc, "developer")
	if err != nil || len(groups) != 1 || groups[0].Name != "developers" || groups[0].ARN != "arn:aws:iam::"+acct+":group/developers" {
		t.Fatalf("GroupsForUser after both renames = %+v, %v", groups, err)
	}
	if d := decide("developer", "ecr:BatchGetImage"); !d.Allowed {
		t.Fatalf("the renamed member lost the group's policy: %+v", d)
	}
	if _, p, err := s.LookupAccessKey(ctx, k.ID); err != nil || p.ARN != "arn:aws:iam::"+acct+":user/people/developer" || p.UserID != u.ID {
		t.Fatalf("the key after the rename authenticates %+v, %v", p, err)
	}

	// Leaving the group takes its policies away.
	if err := s.RemoveUserFromGroup(rc, "developers", "developer"); err != nil {
		t.Fatal(err)
	}
	wantIAMError(t, "removing a non-member", s.RemoveUserFromGroup(rc, "developers", "developer"), CodeNoSuchEntity, "The user with name developer cannot be found.")
	if d := decide("developer", "ecr:BatchGetImage"); d.Allowed {
		t.Fatal("a user that left the group keeps its policies")
	}
	wantIAMError(t, "DeleteGroup with inline policies", s.DeleteGroup(rc, "developers"), CodeDeleteConflict, "Cannot delete entity, must delete policies first.")
	if err := s.DeleteInlinePolicy(rc, Grantee{Kind: KindGroup, Name: "developers"}, "no-app"); err != nil {
		t.Fatal(err)
	}
	wantIAMError(t, "DeleteGroup with attached policies", s.DeleteGroup(rc, "developers"), CodeDeleteConflict, "Cannot delete entity, must detach all policies first.")
	if err := s.DetachPolicy(rc, Grantee{Kind: KindGroup, Name: "developers"}, mp.ARN); err != nil {
		t.Fatal(err)
	}
	if err := s.DeleteGroup(rc, "developers"); err != nil {
		t.Fatal(err)
	}
	_, _, err = s.Group(rc, "developers")
	wantIAMError(t, "GetGroup after delete", err, CodeNoSuchEntity, "The group with name developers cannot be found.")
	err = s.LoginProfile(rc, "developer", "iam:GetLoginProfile")
	wantIAMError(t, "GetLoginProfile", err, CodeNoSuchEntity, "Login Profile for User developer cannot be found.")
	err = s.LoginProfile(rc, "nobody", "iam:GetLoginProfile")
	wantIAMError(t, "GetLoginProfile of a missing user", err, CodeNoSuchEntity, "The user with name nobody cannot be found.")
	if _, err := loadEntity[User](ctx, s.meta, acct, metadata.IAMUser, "dev"); !isNoSuchEntity(err) {
		t.Fatalf("the user's old name still exists: %v", err)
	}
}
