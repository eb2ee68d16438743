package iampolicy

import (
	"errors"
	"strings"
	"testing"
)

func TestParseErrors(t *testing.T) {
	const allow = `"Effect":"Allow","Action":"ecr:*","Resource":"*"`
	cases := []struct {
		name string
		doc  string
		kind Kind
		msg  string
	}{
		{"not JSON", `This is not a json document`, Identity, "Syntax errors in policy."},
		{"not an object", `["x"]`, Identity, "Syntax errors in policy."},
		{"trailing data", `{"Statement":{` + allow + `}} {}`, Identity, "Syntax errors in policy."},
		{"unknown top-level field", `{"Version":"2012-10-17","Foo":1,"Statement":{` + allow + `}}`, Identity, "Syntax errors in policy."},
		{"unknown statement field", `{"Version":"2012-10-17","Statement":{` + allow + `,"Foo":"x"}}`, Identity, "Syntax errors in policy."},
		{"duplicate key", `{"Version":"2012-10-17","Statement":{` + allow + `,"Effect":"Deny"}}`, Identity, "Syntax errors in policy."},
		{"no Statement", `{"Version":"2012-10-17"}`, Identity, "Syntax errors in policy."},
		{"empty Statement", `{"Version":"2012-10-17","Statement":[]}`, Identity, "Syntax errors in policy."},
		{"missing Effect", `{"Version":"2012-10-17","Statement":{"Action":"ecr:*","Resource":"*"}}`, Identity, "Syntax errors in policy."},
		{"bad Effect", `{"Version":"2012-10-17","Statement":{"Effect":"Maybe","Action":"ecr:*","Resource":"*"}}`, Identity, "Syntax errors in policy."},
		{"Action and NotAction", `{"Version":"2012-10-17","Statement":{` + allow + `,"NotAction":"s3:*"}}`, Identity, "Syntax errors in policy."},
		{"Resource and NotResource", `{"Version":"2012-10-17","Statement":{` + allow + `,"NotResource":"*"}}`, Identity, "Syntax errors in policy."},
		{"Action not a string", `{"Version":"2012-10-17","Statement":{"Effect":"Allow","Action":[1],"Resource":"*"}}`, Identity, "Syntax errors in policy."},
		{"Sid not a string", `{"Version":"2012-10-17","Statement":{"Sid":1,` + allow + `}}`, Identity, "Syntax errors in policy."},
		{"unknown condition operator", `{"Version":"2012-10-17","Statement":{` + allow + `,"Condition":{"StringEqualz":{"k:a":"b"}}}}`, Identity, "Syntax errors in policy."},
		{"NullIfExists", `{"Version":"2012-10-17","Statement":{` + allow + `,"Condition":{"NullIfExists":{"k:a":"true"}}}}`, Identity, "Syntax errors in policy."},
		{"condition value object", `{"Version":"2012-10-17","Statement":{` + allow + `,"Condition":{"StringEquals":{"k:a":{}}}}}`, Identity, "Syntax errors in policy."},
		{"unknown version", `{"Version":"2013-10-17","Statement":{` + allow + `}}`, Identity, "Policy document must be version 2012-10-17 or greater."},
		{"lower-case Effect", `{"Version":"2012-10-17","Statement":{"Effect":"allow","Action":"ecr:*","Resource":"*"}}`, Identity, "The policy failed legacy parsing"},
		{"bad date", `{"Version":"2012-10-17","Statement":{` + allow + `,"Condition":{"DateLessThan":{"aws:CurrentTime":"tomorrow"}}}}`, Identity, "The policy failed legacy parsing"},
		{"duplicate Sid", `{"Version":"2012-10-17","Statement":[{"Sid":"A",` + allow + `},{"Sid":"A",` + allow + `}]}`, Identity, "Statement IDs (SID) in a single policy must be unique."},
		{"no actions", `{"Version":"2012-10-17","Statement":{"Effect":"Allow","Resource":"*"}}`, Identity, "Policy statement must contain actions."},
		{"empty actions", `{"Version":"2012-10-17","Statement":{"Effect":"Allow","Action":[],"Resource":"*"}}`, Identity, "Policy statement must contain actions."},
		{"resource not an ARN", `{"Version":"2012-10-17","Statement":{"Effect":"Allow","Action":"ecr:*","Resource":"repo"}}`, Identity, `Resource repo must be in ARN format or "*".`},
		{"action without vendor", `{"Version":"2012-10-17","Statement":{"Effect":"Allow","Action":"PutImage","Resource":"*"}}`, Identity, "Actions/Conditions must be prefaced by a vendor, e.g., iam, sdb, ec2, etc."},
		{"action with two colons", `{"Version":"2012-10-17","Statement":{"Effect":"Allow","Action":"ecr:a:b","Resource":"*"}}`, Identity, "Actions/Condition can contain only one colon."},
		{"bad vendor", `{"Version":"2012-10-17","Statement":{"Effect":"Allow","Action":"e c r:x","Resource":"*"}}`, Identity, "Vendor e c r is not valid"},
		{"identity with principal", `{"Version":"2012-10-17","Statement":{` + allow + `,"Principal":"*"}}`, Identity, "Policy document should not specify a principal."},
		{"identity with NotPrincipal", `{"Version":"2012-10-17","Statement":{` + allow + `,"NotPrincipal":{"AWS":"111111111111"}}}`, Identity, "Policy document should not specify a principal."},
		{"identity without resource", `{"Version":"2012-10-17","Statement":{"Effect":"Allow","Action":"ecr:*"}}`, Identity, "Policy statement must contain resources."},
		{"resource policy without principal", `{"Version":"2012-10-17","Statement":{"Effect":"Allow","Action":"ecr:*"}}`, Resource, "Missing required field Principal"},
		{"trust without principal", `{"Version":"2012-10-17","Statement":{"Effect":"Allow","Action":"sts:AssumeRole"}}`, Trust, "Missing required field Principal"},
		{"trust with resource", `{"Version":"2012-10-17","Statement":{"Effect":"Allow","Principal":{"AWS":"111111111111"},"Action":"sts:AssumeRole","Resource":"*"}}`, Trust, "Has prohibited field Resource."},
		{"trust with ecr action", `{"Version":"2012-10-17","Statement":{"Effect":"Allow","Principal":{"AWS":"111111111111"},"Action":"ecr:PutImage"}}`, Trust, "Trust Policy statement actions can only be sts:AssumeRole, sts:AssumeRoleWithSAML,  and sts:AssumeRoleWithWebIdentity"},
		{"invalid AWS principal", `{"Version":"2012-10-17","Statement":{"Effect":"Allow","Principal":{"AWS":"foo"},"Action":"ecr:*"}}`, Resource, `Invalid principal in policy: "AWS":"foo"`},
		{"wildcard in principal ARN", `{"Version":"2012-10-17","Statement":{"Effect":"Allow","Principal":{"AWS":"arn:aws:iam::111111111111:role/*"},"Action":"ecr:*"}}`, Resource, `Invalid principal in policy: "AWS":"arn:aws:iam::111111111111:role/*"`},
		{"short account", `{"Version":"2012-10-17","Statement":{"Effect":"Allow","Principal":{"AWS":"12345"},"Action":"ecr:*"}}`, Resource, `Invalid principal in policy: "AWS":"12345"`},
		{"unknown principal type", `{"Version":"2012-10-17","Statement":{"Effect":"Allow","Principal":{"Bob":"x"},"Action":"ecr:*"}}`, Resource, `Invalid principal in policy: "Bob":"x"`},
		{"bad service principal", `{"Version":"2012-10-17","Statement":{"Effect":"Allow","Principal":{"Service":"ecr"},"Action":"ecr:*"}}`, Resource, `Invalid principal in policy: "Service":"ecr"`},
		{"principal string not *", `{"Version":"2012-10-17","Statement":{"Effect":"Allow","Principal":"111111111111","Action":"ecr:*"}}`, Resource, "Syntax errors in policy."},
		{"too large", `{"Version":"2012-10-17","Statement":{"Sid":"` + strings.Repeat("x", MaxPolicySize) + `",` + allow + `}}`, Identity, "Cannot exceed quota for PolicySize: 10240"},
	}
	for _, tc := range cases {
		t.Run(tc.name, func(t *testing.T) {
			_, err := Parse(tc.doc, tc.kind)
			var me *MalformedError
			if !errors.As(err, &me) {
				t.Fatalf("err = %v, want *MalformedError", err)
			}
			if me.Message != tc.msg {
				t.Errorf("message = %q, want %q", me.Message, tc.msg)
			}
		})
	}
}

func TestParseAccepts(t *testing.T) {
	cases := []struct {
		name string
		doc  string
		kind Kind
	}{
		{"no version", `{"Statement":{"Effect":"Allow","Action":"ecr:*","Resource":"*"}}`, Identity},
		{"white space does not count toward the size", `{"Statement":{"Effect":"Allow","Action":"ecr:*","Resource":"*"}}` + strings.Repeat(" ", 2*MaxPolicySize), Identity},
		{"ECR repository policy without Resource", `{"Version":"2008-10-17","Statement":[{"Sid":"pull","Effect":"Allow","Principal":{"AWS":["arn:aws:iam::222222222222:root","333333333333","arn:aws:iam::222222222222:user/a/b","arn:aws:sts::222222222222:assumed-role/r/s","arn:aws:sts::222222222222:federated-user/f","AIDAEXAMPLEEXAMPLE12"]},"Action":["ecr:BatchGetImage"]}]}`, Resource},
		{"service and federated principals", `{"Version":"2012-10-17","Statement":{"Effect":"Allow","Principal":{"Service":["ecr.amazonaws.com"],"Federated":"cognito-identity.amazonaws.com"},"Action":"sts:AssumeRoleWithWebIdentity"}}`, Trust},
		{"repeated Sids in an ECR policy", `{"Version":"2012-10-17","Statement":[{"Sid":"A","Effect":"Allow","Principal":"*","Action":"ecr:BatchGetImage"},{"Sid":"A","Effect":"Allow","Principal":"*","Action":"ecr:ListImages"}]}`, Resource},
		{"trust for account and TagSession", `{"Version":"2012-10-17","Statement":{"Effect":"Allow","Principal":{"AWS":"arn:aws:iam::111111111111:root"},"Action":["sts:AssumeRole","sts:TagSession"]}}`, Trust},
		{"condition value types", `{"Version":"2012-10-17","Statement":{"Effect":"Allow","Action":"ecr:*","Resource":"*","Condition":{"Bool":{"aws:SecureTransport":true},"NumericLessThan":{"k:n":[1,2.5]},"DateLessThan":{"aws:CurrentTime":"${aws:x}"}}}}`, Identity},
	}
	for _, tc := range cases {
		if _, err := Parse(tc.doc, tc.kind); err != nil {
			t.Errorf("%s: %v", tc.name, err)
		}
	}
	p := mustParse(t, `{"Version":"2012-10-17","Statement":[{"Sid":"a","Effect":"Allow","Action":"ecr:*","Resource":"*"},{"Effect":"Deny","Action":"ecr:*","Resource":"*"}]}`, Identity)
	if got := p.Sids(); len(got) != 2 || got[0] != "a" || got[1] != "" {
		t.Errorf("Sids = %q", got)
	}
	if p.Kind() != Identity || p.Version() != Version2012 || !strings.HasPrefix(p.String(), "{") {
		t.Errorf("accessors: %v %q", p.Kind(), p.Version())
	}
}

// The AWS managed ECR policies (iam.md §3.3).
const (
	powerUserPolicy = `{"Version":"2012-10-17","Statement":[{"Effect":"Allow","Action":[
 "ecr:GetAuthorizationToken","ecr:BatchCheckLayerAvailability","ecr:GetDownloadUrlForLayer",
 "ecr:GetRepositoryPolicy","ecr:DescribeRepositories","ecr:ListImages","ecr:DescribeImages",
 "ecr:BatchGetImage","ecr:GetLifecyclePolicy","ecr:GetLifecyclePolicyPreview",
 "ecr:ListTagsForResource","ecr:DescribeImageScanFindings","ecr:InitiateLayerUpload",
 "ecr:UploadLayerPart","ecr:CompleteLayerUpload","ecr:PutImage"],"Resource":"*"}]}`
	readOnlyPolicy = `{"Version":"2012-10-17","Statement":[{"Effect":"Allow","Action":[
 "ecr:GetAuthorizationToken","ecr:BatchCheckLayerAvailability","ecr:GetDownloadUrlForLayer",
 "ecr:GetRepositoryPolicy","ecr:DescribeRepositories","ecr:ListImages","ecr:DescribeImages",
 "ecr:BatchGetImage","ecr:GetLifecyclePolicy","ecr:GetLifecyclePolicyPreview",
 "ecr:ListTagsForResource","ecr:DescribeImageScanFindings"],"Resource":"*"}]}`
	fullAccessPolicy = `{"Version":"2012-10-17","Statement":[
 {"Effect":"Allow","Action":["ecr:*","cloudtrail:LookupEvents"],"Resource":"*"},
 {"Effect":"Allow","Action":["iam:CreateServiceLinkedRole"],"Resource":"*",
  "Condition":{"StringEquals":{"iam:AWSServiceName":["replication.ecr.amazonaws.com"]}}}]}`
	pullOnlyPolicy = `{"Version":"2012-10-17","Statement":[{"Action":["ecr:GetAuthorizationToken","ecr:BatchGetImage",
 "ecr:GetDownloadUrlForLayer","ecr:BatchImportUpstreamImage"],"Resource":"*","Effect":"Allow"}]}`
)

func TestManagedPolicies(t *testing.T) {
	app := repo(acctA, "app")
	dev := user(acctA, "dev")
	cases := []struct {
		policy, action string
		ctx            map[string][]string
		want           bool
	}{
		{powerUserPolicy, "ecr:PutImage", nil, true},
		{powerUserPolicy, "ecr:BatchGetImage", nil, true},
		{powerUserPolicy, "ecr:DeleteRepository", nil, false},
		{readOnlyPolicy, "ecr:PutImage", nil, false},
		{readOnlyPolicy, "ecr:DescribeImages", nil, true},
		{fullAccessPolicy, "ecr:DeleteRepository", nil, true},
		{fullAccessPolicy, "iam:CreateServiceLinkedRole", ctx("iam:AWSServiceName", "replication.ecr.amazonaws.com"), true},
		{fullAccessPolicy, "iam:CreateServiceLinkedRole", ctx("iam:AWSServiceName", "other.amazonaws.com"), false},
		{pullOnlyPolicy, "ecr:GetDownloadUrlForLayer", nil, true},
		{pullOnlyPolicy, "ecr:BatchCheckLayerAvailability", nil, false},
	}
	for _, tc := range cases {
		p := mustParse(t, tc.policy, Identity)
		r := req(dev, tc.action, app, acctA)
		r.Context = tc.ctx
		if d := Evaluate(r, Policies{Identity: []Named{{Name: "managed", Policy: p}}}); d.Allowed != tc.want {
			t.Errorf("%s: allowed = %v, want %v", tc.action, d.Allowed, tc.want)
		}
	}
}

func TestUsesKey(t *testing.T) {
	p, err := Parse(`{"Version":"2012-10-17","Statement":[{"Effect":"Allow","Principal":"*","Action":"ecr:BatchGetImage",
"Resource":"arn:aws:ecr:*:*:repository/${aws:PrincipalTag/team}/*",
"Condition":{"IpAddress":{"aws:SourceIp":"10.0.0.0/8"},"StringLike":{"aws:userid":"${aws:username}*"}}}]}`, Resource)
	if err != nil {
		t.Fatal(err)
	}
	for key, want := range map[string]bool{"aws:SourceIp": true, "AWS:SOURCEIP": true, "aws:userid": true, "aws:username": true,
		"aws:PrincipalTag/team": true, "aws:CurrentTime": false, "aws:SecureTransport": false} {
		if got := p.UsesKey(key); got != want {
			t.Errorf("UsesKey(%q) = %v, want %v", key, got, want)
		}
	}
}
