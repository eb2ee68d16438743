package e2e

import (
	"context"
	"testing"

	"github.com/aws/aws-sdk-go-v2/aws"
	"github.com/aws/aws-sdk-go-v2/credentials"
	"github.com/aws/aws-sdk-go-v2/service/iam"
	iamtypes "github.com/aws/aws-sdk-go-v2/service/iam/types"
)

// iamClient returns an IAM client of the server with the root key.
func iamClient(e *ecrd) *iam.Client {
	return iam.New(iam.Options{Region: testRegion, BaseEndpoint: aws.String(e.URL()),
		Credentials: credentials.NewStaticCredentialsProvider(testAccessKey, testSecret, ""), Retryer: aws.NopRetryer{}})
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
