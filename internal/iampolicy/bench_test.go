package iampolicy

import "testing"

func BenchmarkEvaluate(b *testing.B) {
	repoPolicy := mustParse(b, `{"Version":"2012-10-17","Statement":[
		{"Sid":"CrossPull","Effect":"Allow","Principal":{"AWS":["arn:aws:iam::222222222222:root","333333333333"]},"Action":["ecr:BatchGetImage","ecr:GetDownloadUrlForLayer","ecr:BatchCheckLayerAvailability"]},
		{"Sid":"CIPush","Effect":"Allow","Principal":{"AWS":"arn:aws:iam::111111111111:role/ci/builder"},"Action":["ecr:PutImage","ecr:InitiateLayerUpload","ecr:UploadLayerPart","ecr:CompleteLayerUpload"]},
		{"Sid":"TLSOnly","Effect":"Deny","Principal":"*","Action":"ecr:*","Condition":{"Bool":{"aws:SecureTransport":"false"}}}]}`, Resource)
	id1 := mustParse(b, `{"Version":"2012-10-17","Statement":[
		{"Effect":"Allow","Action":"ecr:GetAuthorizationToken","Resource":"*"},
		{"Effect":"Allow","Action":["ecr:Batch*","ecr:GetDownloadUrlForLayer"],"Resource":"arn:aws:ecr:*:*:repository/team/*",
		 "Condition":{"StringEquals":{"aws:ResourceTag/team":"${aws:PrincipalTag/team}"},"IpAddress":{"aws:SourceIp":["10.0.0.0/8","2001:db8::/32"]}}}]}`, Identity)
	id2 := mustParse(b, `{"Version":"2012-10-17","Statement":[
		{"Sid":"NoProdDelete","Effect":"Deny","Action":"ecr:BatchDeleteImage","Resource":"*","Condition":{"StringEquals":{"ecr:ResourceTag/env":"prod"}}},
		{"Effect":"Allow","Action":"ecr:Describe*","Resource":"*","Condition":{"DateLessThan":{"aws:CurrentTime":"2030-01-01T00:00:00Z"}}}]}`, Identity)
	pr := session(acctA, "ci/", "builder", "run-1")
	pr.Tags = map[string]string{"team": "blue"}
	r := Request{
		Action: "ecr:BatchGetImage", Resource: repo(acctA, "team/app"), ResourceAccount: acctA, Principal: pr,
		Context: map[string][]string{
			"aws:SourceIp": {"10.1.2.3"}, "aws:SecureTransport": {"true"}, "aws:CurrentTime": {"2026-11-26T10:00:00Z"},
			"aws:ResourceTag/team": {"blue"}, "ecr:ResourceTag/env": {"dev"},
		},
	}
	pols := Policies{
		Identity: []Named{{Name: "pull", Policy: id1}, {Name: "guard", Policy: id2}},
		Resource: &Named{Name: "repo", Policy: repoPolicy},
	}
	if d := Evaluate(r, pols); !d.Allowed {
		b.Fatal(d.Message(r))
	}
	b.ReportAllocs()
	for b.Loop() {
		Evaluate(r, pols)
	}
}
