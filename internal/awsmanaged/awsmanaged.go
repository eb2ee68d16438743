// Package awsmanaged holds the AWS managed policies ecrd serves as
// read-only IAM policies (ARN arn:aws:iam::aws:policy/<Name>): the ECR
// ones teams attach to CI roles and people, and AdministratorAccess. Their
// documents are AWS's current versions; they cannot be changed.
package awsmanaged

import (
	"crypto/sha256"
	"encoding/base32"
	"strings"
	"time"

	"github.com/ecrd/ecrd/internal/awsid"
)

// Policy is an AWS managed policy.
type Policy struct {
	Name        string
	Description string
	Version     string // the default version's ID
	// Updated is when AWS last changed it, and Created when the version
	// ecrd serves was created (AWS's history before it is not kept).
	Updated  time.Time
	Document string
}

// ARN returns the policy's ARN.
func (p Policy) ARN() string { return awsid.AWSManagedPolicyPrefix + p.Name }

// ID returns a stable policy ID of IAM's form (ANPA and 17 characters),
// derived from the name: ecrd does not know AWS's own IDs.
func (p Policy) ID() string {
	sum := sha256.Sum256([]byte(p.Name))
	return "ANPA" + base32.StdEncoding.EncodeToString(sum[:])[:17]
}

func day(s string) time.Time {
	t, err := time.Parse(time.DateOnly, s)
	if err != nil {
		panic(err)
	}
	return t
}

const ecrReadOnlyActions = `"ecr:GetAuthorizationToken","ecr:BatchCheckLayerAvailability","ecr:GetDownloadUrlForLayer",` +
	`"ecr:GetRepositoryPolicy","ecr:DescribeRepositories","ecr:ListImages","ecr:DescribeImages","ecr:BatchGetImage",` +
	`"ecr:GetLifecyclePolicy","ecr:GetLifecyclePolicyPreview","ecr:ListTagsForResource","ecr:DescribeImageScanFindings"`

// All are the policies, by name.
var All = []Policy{
	{Name: "AdministratorAccess", Description: "Provides full access to AWS services and resources.", Version: "v1", Updated: day("2015-02-06"),
		Document: `{"Version":"2012-10-17","Statement":[{"Effect":"Allow","Action":"*","Resource":"*"}]}`},
	{Name: "AmazonEC2ContainerRegistryFullAccess", Description: "Provides administrative access to Amazon ECR resources", Version: "v3", Updated: day("2020-12-05"),
		Document: `{"Version":"2012-10-17","Statement":[{"Effect":"Allow","Action":["ecr:*","cloudtrail:LookupEvents"],"Resource":"*"},` +
			`{"Effect":"Allow","Action":["iam:CreateServiceLinkedRole"],"Resource":"*","Condition":{"StringEquals":{"iam:AWSServiceName":["replication.ecr.amazonaws.com"]}}}]}`},
	{Name: "AmazonEC2ContainerRegistryPowerUser", Description: "Provides full access to Amazon EC2 Container Registry repositories, but does not allow repository deletion or policy changes.", Version: "v3", Updated: day("2019-12-10"),
		Document: `{"Version":"2012-10-17","Statement":[{"Effect":"Allow","Action":[` + ecrReadOnlyActions +
			`,"ecr:InitiateLayerUpload","ecr:UploadLayerPart","ecr:CompleteLayerUpload","ecr:PutImage"],"Resource":"*"}]}`},
	{Name: "AmazonEC2ContainerRegistryPullOnly", Description: "Provides permissions to pull images from Amazon ECR repositories.", Version: "v1", Updated: day("2024-10-04"),
		Document: `{"Version":"2012-10-17","Statement":[{"Action":["ecr:GetAuthorizationToken","ecr:BatchGetImage","ecr:GetDownloadUrlForLayer","ecr:BatchImportUpstreamImage"],"Resource":"*","Effect":"Allow"}]}`},
	{Name: "AmazonEC2ContainerRegistryReadOnly", Description: "Provides read-only access to Amazon EC2 Container Registry repositories.", Version: "v3", Updated: day("2019-12-10"),
		Document: `{"Version":"2012-10-17","Statement":[{"Effect":"Allow","Action":[` + ecrReadOnlyActions + `],"Resource":"*"}]}`},
}

// Lookup returns the policy an ARN names.
func Lookup(arn string) (Policy, bool) {
	name, ok := strings.CutPrefix(arn, awsid.AWSManagedPolicyPrefix)
	if !ok {
		return Policy{}, false
	}
	for _, p := range All {
		if p.Name == name {
			return p, true
		}
	}
	return Policy{}, false
}
