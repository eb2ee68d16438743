package registry

import (
	"testing"

	"github.com/ecrd/ecrd/internal/iampolicy"
)

func TestQuestionAction(t *testing.T) {
	for _, tc := range []struct {
		in   string
		want Action
		ok   bool
	}{
		{"ecr:BatchGetImage", ActionBatchGetImage, true},
		{"ECR:batchgetimage", ActionBatchGetImage, true}, // the anonymous rules must see it
		{"ecrd:collectgarbage", ActionCollectGarbage, true},
		{"ecr:createrepository", ActionCreateRepository, true},
		{"ecr:describeregistry", ActionDescribeRegistry, true},
		{"Ecr:DescribeImageScanFindings", "ecr:DescribeImageScanFindings", true},
		{"ecr:SomethingNew", "ecr:SomethingNew", true}, // decided as IAM decides any action
		{"ecr:*", "", false},
		{"ecr:Batch*", "", false},
		{"ecr:", "", false},
		{"ecr", "", false},
		{"ecr:a:b", "", false},
		{"s3:GetObject", "", false},
		{"iam:SimulatePrincipalPolicy", "", false},
		{"", "", false},
	} {
		got, err := questionAction(tc.in)
		if got != tc.want || (err == nil) != tc.ok {
			t.Errorf("questionAction(%q) = %q, %v; want %q, ok %v", tc.in, got, err, tc.want, tc.ok)
		}
		if err != nil && CodeOf(err) != CodeInvalidParameter {
			t.Errorf("questionAction(%q): error %v is not an invalid parameter", tc.in, err)
		}
	}
}

func TestDecidingAllow(t *testing.T) {
	id := iampolicy.Statement{Policy: "p", Kind: iampolicy.KindIdentity, Index: 1}
	res := iampolicy.Statement{Policy: repositoryPolicyName, Kind: iampolicy.KindResource, Index: 1}
	bound := iampolicy.Statement{Policy: "b", Kind: iampolicy.KindBoundary, Index: 1}
	sess := iampolicy.Statement{Policy: "s", Kind: iampolicy.KindSession, Index: 1}
	for _, tc := range []struct {
		allows []iampolicy.Statement
		want   int
	}{
		{nil, -1},
		{[]iampolicy.Statement{bound, sess}, -1},
		{[]iampolicy.Statement{bound, id}, 1},
		{[]iampolicy.Statement{id, res}, 0},
		{[]iampolicy.Statement{sess, res, id}, 1},
	} {
		if got := decidingAllow(tc.allows); got != tc.want {
			t.Errorf("decidingAllow(%+v) = %d, want %d", tc.allows, got, tc.want)
		}
	}
}

func TestDescribeStatement(t *testing.T) {
	for _, tc := range []struct {
		st   DecidingStatement
		want string
	}{
		{DecidingStatement{Policy: "dev", Kind: iampolicy.KindIdentity, Sid: "Pull", Index: 2}, `statement "Pull" of the identity-based policy "dev"`},
		{DecidingStatement{Policy: "dev", Kind: iampolicy.KindIdentity, Index: 2}, `statement 2 of the identity-based policy "dev"`},
		{DecidingStatement{Policy: "pull-only", Kind: iampolicy.KindBoundary, Sid: "P", Index: 1}, `statement "P" of the permissions boundary "pull-only"`},
		{DecidingStatement{Policy: repositoryPolicyName, Kind: iampolicy.KindResource, Index: 1}, `statement 1 of the resource-based policy "repository policy"`},
		{DecidingStatement{Kind: iampolicy.KindResource}, `a statement of a resource-based policy`},
	} {
		if got := describeStatement(tc.st); got != tc.want {
			t.Errorf("describeStatement(%+v) = %q, want %q", tc.st, got, tc.want)
		}
	}
}
