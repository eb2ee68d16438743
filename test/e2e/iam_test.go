package e2e

import (
	"context"
	"net/url"
	"slices"
	"strings"
	"testing"

	"github.com/aws/aws-sdk-go-v2/aws"
	"github.com/aws/aws-sdk-go-v2/credentials"
	"github.com/aws/aws-sdk-go-v2/service/iam"
	iamtypes "github.com/aws/aws-sdk-go-v2/service/iam/types"
)

// iamClient returns an IAM client of the server with the root key.
func iamClient(e *ecrd) *iam.Client {
	return iam.New(iam.Options{Region: testRegion, BaseEndpoint: aws.String(e.URL()),
		Credentials: credentials.NewStaticCredentialsProvider(testAccessKey, testSecret, ""), Retryer: closedConnRetryer()})
}

// TestSimulateCustomPolicy asks ecrd's evaluator, through IAM's
// SimulateCustomPolicy, about ECR actions under the AWS managed PowerUser
// policy, a deny, a condition, and a repository policy for another
// account's user.
func TestSimulateCustomPolicy(t *testing.T) {
	e := startECRD(t, t.TempDir())
	c := iamClient(e)
	ctx := context.Background()
	powerUser := `{"Version":"2012-10-17","Statement":[{"Effect":"Allow","Action":["ecr:GetAuthorizationToken","ecr:BatchCheckLayerAvailability",
"ecr:GetDownloadUrlForLayer","ecr:GetRepositoryPolicy","ecr:DescribeRepositories","ecr:ListImages","ecr:DescribeImages","ecr:BatchGetImage",
"ecr:GetLifecyclePolicy","ecr:GetLifecyclePolicyPreview","ecr:ListTagsForResource","ecr:DescribeImageScanFindings","ecr:InitiateLayerUpload",
"ecr:UploadLayerPart","ecr:CompleteLayerUpload","ecr:PutImage"],"Resource":"*"}]}`
	noProd := `{"Version":"2012-10-17","Statement":[{"Sid":"NoProdPush","Effect":"Deny","Action":"ecr:PutImage","Resource":"arn:aws:ecr:*:*:repository/prod/*"}]}`
	decisions := func(out *iam.SimulateCustomPolicyOutput) map[string]iamtypes.PolicyEvaluationDecisionType {
		m := map[string]iamtypes.PolicyEvaluationDecisionType{}
		for _, r := range out.EvaluationResults {
			m[aws.ToString(r.EvalActionName)+" "+aws.ToString(r.EvalResourceName)] = r.EvalDecision
		}
		return m
	}
	out, err := c.SimulateCustomPolicy(ctx, &iam.SimulateCustomPolicyInput{
		PolicyInputList: []string{powerUser, noProd},
		ActionNames:     []string{"ecr:PutImage", "ecr:DeleteRepository"},
		ResourceArns:    []string{repoARN(testAccount, "team/app"), repoARN(testAccount, "prod/app")},
	})
	ecrMust(t, "SimulateCustomPolicy", err)
	want := map[string]iamtypes.PolicyEvaluationDecisionType{
		"ecr:PutImage " + repoARN(testAccount, "team/app"):         iamtypes.PolicyEvaluationDecisionTypeAllowed,
		"ecr:PutImage " + repoARN(testAccount, "prod/app"):         iamtypes.PolicyEvaluationDecisionTypeExplicitDeny,
		"ecr:DeleteRepository " + repoARN(testAccount, "team/app"): iamtypes.PolicyEvaluationDecisionTypeImplicitDeny,
		"ecr:DeleteRepository " + repoARN(testAccount, "prod/app"): iamtypes.PolicyEvaluationDecisionTypeImplicitDeny,
	}
	got := decisions(out)
	for k, v := range want {
		if got[k] != v {
			t.Errorf("%s: %s, want %s", k, got[k], v)
		}
	}
	for _, r := range out.EvaluationResults {
		if r.EvalDecision == iamtypes.PolicyEvaluationDecisionTypeExplicitDeny &&
			(len(r.MatchedStatements) != 1 || aws.ToString(r.MatchedStatements[0].SourcePolicyId) != "PolicyInputList.2") {
			t.Errorf("the explicit deny is not explained by the second policy: %+v", r.MatchedStatements)
		}
	}

	// A condition, with the context given.
	fromOffice := `{"Version":"2012-10-17","Statement":[{"Effect":"Allow","Action":"ecr:BatchGetImage","Resource":"*",
"Condition":{"IpAddress":{"aws:SourceIp":"192.0.2.0/24"}}}]}`
	for ip, decision := range map[string]iamtypes.PolicyEvaluationDecisionType{
		"192.0.2.7": iamtypes.PolicyEvaluationDecisionTypeAllowed, "198.51.100.1": iamtypes.PolicyEvaluationDecisionTypeImplicitDeny} {
		out, err := c.SimulateCustomPolicy(ctx, &iam.SimulateCustomPolicyInput{PolicyInputList: []string{fromOffice}, ActionNames: []string{"ecr:BatchGetImage"},
			ContextEntries: []iamtypes.ContextEntry{{ContextKeyName: aws.String("aws:SourceIp"), ContextKeyValues: []string{ip}, ContextKeyType: iamtypes.ContextKeyTypeEnumIp}}})
		ecrMust(t, "SimulateCustomPolicy with a context", err)
		if d := out.EvaluationResults[0].EvalDecision; d != decision {
			t.Errorf("from %s: %s, want %s", ip, d, decision)
		}
	}

	// Another account's user, allowed by its identity policy: the
	// repository policy decides.
	repoPolicy := `{"Version":"2012-10-17","Statement":[{"Effect":"Allow","Principal":{"AWS":"210987654321"},"Action":"ecr:BatchGetImage"}]}`
	for caller, decision := range map[string]iamtypes.PolicyEvaluationDecisionType{
		"arn:aws:iam::210987654321:user/ci": iamtypes.PolicyEvaluationDecisionTypeAllowed,
		"arn:aws:iam::333333333333:user/ci": iamtypes.PolicyEvaluationDecisionTypeImplicitDeny} {
		out, err := c.SimulateCustomPolicy(ctx, &iam.SimulateCustomPolicyInput{PolicyInputList: []string{powerUser}, ActionNames: []string{"ecr:BatchGetImage"},
			ResourceArns: []string{repoARN(testAccount, "team/app")}, ResourcePolicy: aws.String(repoPolicy), CallerArn: aws.String(caller)})
		ecrMust(t, "SimulateCustomPolicy with a resource policy", err)
		if d := out.EvaluationResults[0].EvalDecision; d != decision {
			t.Errorf("%s: %s, want %s", caller, d, decision)
		}
	}

	_, err = c.SimulateCustomPolicy(ctx, &iam.SimulateCustomPolicyInput{PolicyInputList: []string{`{"Statement":[{"Effect":"Allow","Principal":"*","Action":"ecr:*","Resource":"*"}]}`},
		ActionNames: []string{"ecr:PutImage"}})
	wantAPIError(t, "an identity policy with a principal", err, "MalformedPolicyDocument", 400, "Policy document should not specify a principal.")
	noServerErrors(t, e)
}

// TestAWSManagedPolicies reads the AWS managed ECR policies as
// `data "aws_iam_policy"` does, and lists them page by page.
func TestAWSManagedPolicies(t *testing.T) {
	e := startECRD(t, t.TempDir())
	c := iamClient(e)
	ctx := context.Background()
	const arn = "arn:aws:iam::aws:policy/AmazonEC2ContainerRegistryPowerUser"
	p, err := c.GetPolicy(ctx, &iam.GetPolicyInput{PolicyArn: aws.String(arn)})
	ecrMust(t, "GetPolicy", err)
	if aws.ToString(p.Policy.Arn) != arn || aws.ToString(p.Policy.PolicyName) != "AmazonEC2ContainerRegistryPowerUser" ||
		aws.ToString(p.Policy.DefaultVersionId) != "v3" || p.Policy.CreateDate == nil || !p.Policy.IsAttachable {
		t.Errorf("GetPolicy = %+v", p.Policy)
	}
	v, err := c.GetPolicyVersion(ctx, &iam.GetPolicyVersionInput{PolicyArn: aws.String(arn), VersionId: aws.String("v3")})
	ecrMust(t, "GetPolicyVersion", err)
	doc, err := url.QueryUnescape(aws.ToString(v.PolicyVersion.Document))
	if err != nil || !strings.Contains(doc, `"ecr:PutImage"`) || !strings.Contains(doc, `"Resource":"*"`) || !v.PolicyVersion.IsDefaultVersion {
		t.Errorf("GetPolicyVersion document %q (%v)", doc, err)
	}
	_, err = c.GetPolicy(ctx, &iam.GetPolicyInput{PolicyArn: aws.String("arn:aws:iam::aws:policy/NoSuchPolicy")})
	wantAPIError(t, "GetPolicy of an unknown policy", err, "NoSuchEntity", 404, "Policy arn:aws:iam::aws:policy/NoSuchPolicy was not found.")

	var names []string
	pages := iam.NewListPoliciesPaginator(c, &iam.ListPoliciesInput{Scope: iamtypes.PolicyScopeTypeAws, MaxItems: aws.Int32(2)})
	for pages.HasMorePages() {
		out, err := pages.NextPage(ctx)
		ecrMust(t, "ListPolicies", err)
		for _, p := range out.Policies {
			names = append(names, aws.ToString(p.PolicyName))
		}
	}
	if len(names) != 5 || !slices.IsSorted(names) || !slices.Contains(names, "AmazonEC2ContainerRegistryReadOnly") {
		t.Errorf("ListPolicies pages gave %v", names)
	}
	local, err := c.ListPolicies(ctx, &iam.ListPoliciesInput{Scope: iamtypes.PolicyScopeTypeLocal})
	ecrMust(t, "ListPolicies Local", err)
	if len(local.Policies) != 0 {
		t.Errorf("local policies %+v", local.Policies)
	}
	noServerErrors(t, e)
}
