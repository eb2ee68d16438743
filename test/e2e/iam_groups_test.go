package e2e

import (
	"context"
	"slices"
	"testing"
	"time"

	"github.com/aws/aws-sdk-go-v2/aws"
	"github.com/aws/aws-sdk-go-v2/service/ecr"
	"github.com/aws/aws-sdk-go-v2/service/iam"
)

// TestIAMGroups drives groups through the SDK: a group's members are
// listed page by page; its policies decide its members' ECR calls and
// stop when a member leaves; a member cannot be deleted; renames keep
// memberships and keys; GetAccessKeyLastUsed reports the ECR call.
func TestIAMGroups(t *testing.T) {
	e := startECRD(t, t.TempDir())
	ctx := context.Background()
	_, rootIAM, _ := clientsFor(e, static(testAccessKey, testSecret))
	_, err := rootIAM.CreateGroup(ctx, &iam.CreateGroupInput{GroupName: aws.String("readers")})
	ecrMust(t, "CreateGroup", err)
	_, err = rootIAM.AttachGroupPolicy(ctx, &iam.AttachGroupPolicyInput{GroupName: aws.String("readers"),
		PolicyArn: aws.String("arn:aws:iam::aws:policy/AmazonEC2ContainerRegistryReadOnly")})
	ecrMust(t, "AttachGroupPolicy", err)
	names := []string{"ann", "ben", "cat"}
	creds := map[string]*ecr.Client{}
	for _, n := range names {
		c, _, _ := clientsFor(e, newUser(t, rootIAM, n, ""))
		creds[n] = c
		_, err := rootIAM.AddUserToGroup(ctx, &iam.AddUserToGroupInput{GroupName: aws.String("readers"), UserName: aws.String(n)})
		ecrMust(t, "AddUserToGroup "+n, err)
	}
	var members []string
	pages := iam.NewGetGroupPaginator(rootIAM, &iam.GetGroupInput{GroupName: aws.String("readers"), MaxItems: aws.Int32(1)})
	for n := 0; pages.HasMorePages(); n++ {
		out, err := pages.NextPage(ctx)
		ecrMust(t, "GetGroup", err)
		if aws.ToString(out.Group.GroupName) != "readers" || len(out.Users) != 1 {
			t.Fatalf("GetGroup page %d: %+v", n, out)
		}
		members = append(members, aws.ToString(out.Users[0].UserName))
	}
	if !slices.Equal(members, names) {
		t.Errorf("GetGroup pages list %v, want %v", members, names)
	}

	// ReadOnly through the group, and not beyond it.
	_, err = creds["ann"].DescribeRepositories(ctx, &ecr.DescribeRepositoriesInput{})
	ecrMust(t, "ann lists repositories through the group", err)
	_, err = creds["ann"].CreateRepository(ctx, &ecr.CreateRepositoryInput{RepositoryName: aws.String("ann/new")})
	wantAPIError(t, "ann creates a repository", err, "AccessDeniedException", 403, "")
	keys, err := rootIAM.ListAccessKeys(ctx, &iam.ListAccessKeysInput{UserName: aws.String("ann")})
	ecrMust(t, "ListAccessKeys", err)
	last, err := rootIAM.GetAccessKeyLastUsed(ctx, &iam.GetAccessKeyLastUsedInput{AccessKeyId: keys.AccessKeyMetadata[0].AccessKeyId})
	ecrMust(t, "GetAccessKeyLastUsed", err)
	if u := last.AccessKeyLastUsed; aws.ToString(last.UserName) != "ann" || aws.ToString(u.ServiceName) != "ecr" || aws.ToString(u.Region) != testRegion ||
		time.Since(aws.ToTime(u.LastUsedDate)) > time.Minute {
		t.Errorf("GetAccessKeyLastUsed = %s %+v", aws.ToString(last.UserName), u)
	}

	// A member cannot be deleted; renamed, it keeps its group and key.
	_, err = rootIAM.DeleteUser(ctx, &iam.DeleteUserInput{UserName: aws.String("cat")})
	wantCode(t, "DeleteUser of a member", err, "DeleteConflict", "")
	_, err = rootIAM.UpdateUser(ctx, &iam.UpdateUserInput{UserName: aws.String("ben"), NewUserName: aws.String("benjamin")})
	ecrMust(t, "UpdateUser", err)
	_, err = rootIAM.UpdateGroup(ctx, &iam.UpdateGroupInput{GroupName: aws.String("readers"), NewGroupName: aws.String("viewers"), NewPath: aws.String("/ro/")})
	ecrMust(t, "UpdateGroup", err)
	groups, err := rootIAM.ListGroupsForUser(ctx, &iam.ListGroupsForUserInput{UserName: aws.String("benjamin")})
	ecrMust(t, "ListGroupsForUser", err)
	if len(groups.Groups) != 1 || aws.ToString(groups.Groups[0].Arn) != "arn:aws:iam::"+testAccount+":group/ro/viewers" {
		t.Errorf("ListGroupsForUser after the renames = %+v", groups.Groups)
	}
	_, err = creds["ben"].DescribeRepositories(ctx, &ecr.DescribeRepositoriesInput{})
	ecrMust(t, "the renamed member's key", err)
	entities, err := rootIAM.ListEntitiesForPolicy(ctx, &iam.ListEntitiesForPolicyInput{PolicyArn: aws.String("arn:aws:iam::aws:policy/AmazonEC2ContainerRegistryReadOnly")})
	ecrMust(t, "ListEntitiesForPolicy", err)
	if len(entities.PolicyGroups) != 1 || aws.ToString(entities.PolicyGroups[0].GroupName) != "viewers" {
		t.Errorf("ListEntitiesForPolicy groups = %+v", entities.PolicyGroups)
	}

	// Leaving the group takes its policies away.
	_, err = rootIAM.RemoveUserFromGroup(ctx, &iam.RemoveUserFromGroupInput{GroupName: aws.String("viewers"), UserName: aws.String("ann")})
	ecrMust(t, "RemoveUserFromGroup", err)
	_, err = creds["ann"].DescribeRepositories(ctx, &ecr.DescribeRepositoriesInput{})
	wantAPIError(t, "ann lists repositories outside the group", err, "AccessDeniedException", 403,
		"User: arn:aws:iam::"+testAccount+":user/ann is not authorized to perform: ecr:DescribeRepositories on resource: "+repoARN(testAccount, "*")+
			" because no identity-based policy allows the ecr:DescribeRepositories action")
	noServerErrors(t, e)
}
