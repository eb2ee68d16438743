package iampolicy

import (
	"fmt"
	"testing"
)

// condCase evaluates one Condition block against a request context.
type condCase struct {
	name    string
	version string // "" means 2012-10-17
	cond    string // the Condition object
	ctx     map[string][]string
	p       *Principal
	want    bool
}

func TestConditions(t *testing.T) {
	dev := user(acctA, "dev")
	dev.Tags = map[string]string{"Team": "blue"}
	cases := []condCase{
		// String
		{name: "StringEquals", cond: `{"StringEquals":{"aws:RequestTag/env":"prod"}}`, ctx: ctx("aws:RequestTag/env", "prod"), want: true},
		{name: "StringEquals case-sensitive value", cond: `{"StringEquals":{"aws:RequestTag/env":"prod"}}`, ctx: ctx("aws:RequestTag/env", "PROD")},
		{name: "key case-insensitive", cond: `{"StringEquals":{"AWS:requesttag/ENV":"prod"}}`, ctx: ctx("aws:RequestTag/env", "prod"), want: true},
		{name: "values ORed", cond: `{"StringEquals":{"aws:RequestTag/env":["dev","prod"]}}`, ctx: ctx("aws:RequestTag/env", "prod"), want: true},
		{name: "keys ANDed", cond: `{"StringEquals":{"k:a":"1","k:b":"2"}}`, ctx: map[string][]string{"k:a": {"1"}, "k:b": {"3"}}},
		{name: "operators ANDed", cond: `{"StringEquals":{"k:a":"1"},"StringLike":{"k:b":"2*"}}`, ctx: map[string][]string{"k:a": {"1"}, "k:b": {"20"}}, want: true},
		{name: "missing key, positive", cond: `{"StringEquals":{"k:a":"1"}}`},
		{name: "missing key, negated", cond: `{"StringNotEquals":{"k:a":"1"}}`, want: true},
		{name: "StringNotEquals none match", cond: `{"StringNotEquals":{"k:a":["1","2"]}}`, ctx: ctx("k:a", "3"), want: true},
		{name: "StringNotEquals one matches", cond: `{"StringNotEquals":{"k:a":["1","2"]}}`, ctx: ctx("k:a", "2")},
		{name: "StringEqualsIgnoreCase", cond: `{"StringEqualsIgnoreCase":{"k:a":"Prod"}}`, ctx: ctx("k:a", "pROD"), want: true},
		{name: "StringNotEqualsIgnoreCase", cond: `{"StringNotEqualsIgnoreCase":{"k:a":"Prod"}}`, ctx: ctx("k:a", "pROD")},
		{name: "StringLike * crosses /", cond: `{"StringLike":{"k:a":"repo:org/*"}}`, ctx: ctx("k:a", "repo:org/app:ref:refs/heads/main"), want: true},
		{name: "StringLike ?", cond: `{"StringLike":{"k:a":"v?"}}`, ctx: ctx("k:a", "v1"), want: true},
		{name: "StringLike ? one char only", cond: `{"StringLike":{"k:a":"v?"}}`, ctx: ctx("k:a", "v12")},
		{name: "StringLike case-sensitive", cond: `{"StringLike":{"k:a":"Repo*"}}`, ctx: ctx("k:a", "repo")},
		{name: "StringNotLike", cond: `{"StringNotLike":{"k:a":["a*","b*"]}}`, ctx: ctx("k:a", "cat"), want: true},
		{name: "StringEqualsIfExists missing", cond: `{"StringEqualsIfExists":{"k:a":"1"}}`, want: true},
		{name: "StringEqualsIfExists present", cond: `{"StringEqualsIfExists":{"k:a":"1"}}`, ctx: ctx("k:a", "2")},
		// Numeric
		{name: "NumericEquals", cond: `{"NumericEquals":{"k:n":"10"}}`, ctx: ctx("k:n", "10.0"), want: true},
		{name: "NumericEquals JSON number", cond: `{"NumericEquals":{"k:n":10}}`, ctx: ctx("k:n", "10"), want: true},
		{name: "NumericNotEquals", cond: `{"NumericNotEquals":{"k:n":"10"}}`, ctx: ctx("k:n", "11"), want: true},
		{name: "NumericLessThan", cond: `{"NumericLessThan":{"k:n":"10"}}`, ctx: ctx("k:n", "9"), want: true},
		{name: "NumericLessThan equal", cond: `{"NumericLessThan":{"k:n":"10"}}`, ctx: ctx("k:n", "10")},
		{name: "NumericLessThanEquals", cond: `{"NumericLessThanEquals":{"k:n":"10"}}`, ctx: ctx("k:n", "10"), want: true},
		{name: "NumericGreaterThan", cond: `{"NumericGreaterThan":{"k:n":"10"}}`, ctx: ctx("k:n", "10.5"), want: true},
		{name: "NumericGreaterThanEquals", cond: `{"NumericGreaterThanEquals":{"k:n":"10"}}`, ctx: ctx("k:n", "9")},
		{name: "Numeric not a number", cond: `{"NumericLessThan":{"k:n":"10"}}`, ctx: ctx("k:n", "ten")},
		// Date
		{name: "DateLessThan ISO", cond: `{"DateLessThan":{"aws:CurrentTime":"2026-12-31T23:59:59Z"}}`, ctx: ctx("aws:CurrentTime", "2026-06-01T00:00:00Z"), want: true},
		{name: "DateGreaterThan ISO date only", cond: `{"DateGreaterThan":{"aws:CurrentTime":"2026-01-01"}}`, ctx: ctx("aws:CurrentTime", "2025-12-31T23:00:00Z")},
		{name: "DateGreaterThan with offset", cond: `{"DateGreaterThan":{"aws:CurrentTime":"2026-01-01T00:00:00+02:00"}}`, ctx: ctx("aws:CurrentTime", "2025-12-31T23:00:00Z"), want: true},
		{name: "DateLessThanEquals epoch policy", cond: `{"DateLessThanEquals":{"aws:EpochTime":"1767225600"}}`, ctx: ctx("aws:EpochTime", "1767225600"), want: true},
		{name: "Date epoch vs ISO", cond: `{"DateEquals":{"aws:CurrentTime":"1767225600"}}`, ctx: ctx("aws:CurrentTime", "2026-01-01T00:00:00Z"), want: true},
		{name: "DateNotEquals", cond: `{"DateNotEquals":{"aws:CurrentTime":"2026-01-01T00:00:00Z"}}`, ctx: ctx("aws:CurrentTime", "2026-01-02T00:00:00Z"), want: true},
		{name: "DateGreaterThanEquals", cond: `{"DateGreaterThanEquals":{"aws:EpochTime":1767225600}}`, ctx: ctx("aws:EpochTime", "1767225599")},
		// Bool, Binary
		{name: "Bool true", cond: `{"Bool":{"aws:SecureTransport":"true"}}`, ctx: ctx("aws:SecureTransport", "true"), want: true},
		{name: "Bool JSON false", cond: `{"Bool":{"aws:SecureTransport":false}}`, ctx: ctx("aws:SecureTransport", "true")},
		{name: "Bool missing", cond: `{"Bool":{"aws:SecureTransport":"false"}}`},
		{name: "BoolIfExists missing", cond: `{"BoolIfExists":{"aws:MultiFactorAuthPresent":"true"}}`, want: true},
		{name: "BinaryEquals", cond: `{"BinaryEquals":{"k:b":"QmluYXJ5"}}`, ctx: ctx("k:b", "QmluYXJ5"), want: true},
		{name: "BinaryEquals differs", cond: `{"BinaryEquals":{"k:b":"QmluYXJ5"}}`, ctx: ctx("k:b", "QmluYXJ6")},
		// IP
		{name: "IpAddress v4", cond: `{"IpAddress":{"aws:SourceIp":["10.0.0.0/8","192.0.2.1"]}}`, ctx: ctx("aws:SourceIp", "10.1.2.3"), want: true},
		{name: "IpAddress single v4", cond: `{"IpAddress":{"aws:SourceIp":"192.0.2.1"}}`, ctx: ctx("aws:SourceIp", "192.0.2.1"), want: true},
		{name: "IpAddress v6", cond: `{"IpAddress":{"aws:SourceIp":"2001:db8::/32"}}`, ctx: ctx("aws:SourceIp", "2001:db8:1::5"), want: true},
		{name: "IpAddress v6 outside", cond: `{"IpAddress":{"aws:SourceIp":"2001:db8::/32"}}`, ctx: ctx("aws:SourceIp", "2001:db9::1")},
		{name: "IpAddress v4-mapped v6", cond: `{"IpAddress":{"aws:SourceIp":"10.0.0.0/8"}}`, ctx: ctx("aws:SourceIp", "::ffff:10.0.0.1"), want: true},
		{name: "NotIpAddress", cond: `{"NotIpAddress":{"aws:SourceIp":"10.0.0.0/8"}}`, ctx: ctx("aws:SourceIp", "203.0.113.9"), want: true},
		{name: "NotIpAddress inside", cond: `{"NotIpAddress":{"aws:SourceIp":"10.0.0.0/8"}}`, ctx: ctx("aws:SourceIp", "10.9.9.9")},
		// ARN
		{name: "ArnLike on PrincipalArn", cond: `{"ArnLike":{"aws:PrincipalArn":"arn:aws:iam::111111111111:user/*"}}`, p: &dev, want: true},
		{name: "ArnEquals accepts wildcards", cond: `{"ArnEquals":{"aws:PrincipalArn":"arn:aws:iam::*:user/dev"}}`, p: &dev, want: true},
		{name: "Arn wildcard stays in its segment", cond: `{"ArnLike":{"k:arn":"arn:aws:ecr:*:repository/x"}}`, ctx: ctx("k:arn", "arn:aws:ecr:us-east-1:111111111111:repository/x")},
		{name: "ArnNotLike", cond: `{"ArnNotLike":{"aws:PrincipalArn":"arn:aws:iam::111111111111:role/*"}}`, p: &dev, want: true},
		{name: "ArnNotEquals same", cond: `{"ArnNotEquals":{"aws:PrincipalArn":"arn:aws:iam::111111111111:user/dev"}}`, p: &dev},
		{name: "Arn not an ARN", cond: `{"ArnLike":{"k:arn":"arn:aws:*:*:*:*"}}`, ctx: ctx("k:arn", "nope")},
		// Null
		{name: "Null true, absent", cond: `{"Null":{"aws:TagKeys":"true"}}`, want: true},
		{name: "Null true, present", cond: `{"Null":{"aws:TagKeys":"true"}}`, ctx: ctx("aws:TagKeys", "a")},
		{name: "Null false, present", cond: `{"Null":{"aws:TagKeys":"false"}}`, ctx: ctx("aws:TagKeys", "a"), want: true},
		{name: "Null false, empty list is absent", cond: `{"Null":{"aws:TagKeys":"false"}}`, ctx: map[string][]string{"aws:TagKeys": {}}},
		// Set operators
		{name: "ForAnyValue one matches", cond: `{"ForAnyValue:StringEquals":{"aws:TagKeys":["env","team"]}}`, ctx: ctx("aws:TagKeys", "x", "team"), want: true},
		{name: "ForAnyValue missing key", cond: `{"ForAnyValue:StringEquals":{"aws:TagKeys":["env"]}}`},
		{name: "ForAnyValue negated", cond: `{"ForAnyValue:StringNotEquals":{"aws:TagKeys":["env"]}}`, ctx: ctx("aws:TagKeys", "env", "x"), want: true},
		{name: "ForAllValues all match", cond: `{"ForAllValues:StringEquals":{"aws:TagKeys":["env","team"]}}`, ctx: ctx("aws:TagKeys", "env", "team"), want: true},
		{name: "ForAllValues one outside", cond: `{"ForAllValues:StringEquals":{"aws:TagKeys":["env","team"]}}`, ctx: ctx("aws:TagKeys", "env", "owner")},
		{name: "ForAllValues missing key is true (pitfall)", cond: `{"ForAllValues:StringEquals":{"aws:TagKeys":["env"]}}`, want: true},
		{name: "ForAllValues empty key is true (pitfall)", cond: `{"ForAllValues:StringEquals":{"aws:TagKeys":["env"]}}`, ctx: map[string][]string{"aws:TagKeys": {}}, want: true},
		{name: "ForAllValues guarded by Null", cond: `{"ForAllValues:StringEquals":{"aws:TagKeys":["env"]},"Null":{"aws:TagKeys":"false"}}`},
		{name: "ForAllValues negated", cond: `{"ForAllValues:StringNotLike":{"aws:TagKeys":["aws:*"]}}`, ctx: ctx("aws:TagKeys", "env", "aws:x")},
		{name: "ForAnyValue IfExists missing", cond: `{"ForAnyValue:StringEqualsIfExists":{"aws:TagKeys":["env"]}}`, want: true},
		{name: "bare operator on a multivalued key: any", cond: `{"StringEquals":{"aws:TagKeys":"env"}}`, ctx: ctx("aws:TagKeys", "x", "env"), want: true},
		{name: "bare negated on a multivalued key: none", cond: `{"StringNotEquals":{"aws:TagKeys":"env"}}`, ctx: ctx("aws:TagKeys", "x", "env")},
		// Principal keys and variables
		{name: "PrincipalTag", cond: `{"StringEquals":{"aws:PrincipalTag/team":"blue"}}`, p: &dev, want: true},
		{name: "PrincipalAccount", cond: `{"StringEquals":{"aws:PrincipalAccount":"111111111111"}}`, p: &dev, want: true},
		{name: "principal keys win over context", cond: `{"StringEquals":{"aws:PrincipalAccount":"999999999999"}}`, p: &dev, ctx: ctx("aws:PrincipalAccount", "999999999999")},
		{name: "PrincipalType", cond: `{"StringEquals":{"aws:PrincipalType":"User"}}`, p: &dev, want: true},
		{name: "variable in value", cond: `{"StringEquals":{"aws:ResourceTag/owner":"${aws:username}"}}`, p: &dev, ctx: ctx("aws:ResourceTag/owner", "dev"), want: true},
		{name: "variable tag in value", cond: `{"StringEquals":{"ecr:ResourceTag/team":"${aws:PrincipalTag/Team}"}}`, p: &dev, ctx: ctx("ecr:ResourceTag/team", "blue"), want: true},
		{name: "variable missing: value does not match", cond: `{"StringEquals":{"k:a":"${aws:PrincipalTag/none}"}}`, p: &dev, ctx: ctx("k:a", "")},
		{name: "variable default", cond: `{"StringEquals":{"k:a":"${aws:PrincipalTag/none, 'nobody'}"}}`, p: &dev, ctx: ctx("k:a", "nobody"), want: true},
		{name: "variable ${*} is a literal star in Like", cond: `{"StringLike":{"k:a":"a${*}"}}`, ctx: ctx("k:a", "abc")},
		{name: "variable ${*} literal matches *", cond: `{"StringLike":{"k:a":"a${*}"}}`, ctx: ctx("k:a", "a*"), want: true},
		{name: "variable ${$}", cond: `{"StringEquals":{"k:a":"${$}{x}"}}`, ctx: ctx("k:a", "${x}"), want: true},
		{name: "substituted value is literal in Like", cond: `{"StringLike":{"k:a":"${k:v}"}}`, ctx: map[string][]string{"k:a": {"abc"}, "k:v": {"*"}}},
		{name: "OIDC claim as variable", cond: `{"StringLike":{"k:a":"team/${token.actions.githubusercontent.com:repository_owner}/*"}}`, ctx: map[string][]string{"k:a": {"team/org/app"}, "token.actions.githubusercontent.com:repository_owner": {"org"}}, want: true},
		{name: "2008 version: variable is literal", version: "2008-10-17", cond: `{"StringEquals":{"k:a":"${aws:username}"}}`, p: &dev, ctx: ctx("k:a", "${aws:username}"), want: true},
		{name: "2008 version: no substitution", version: "2008-10-17", cond: `{"StringEquals":{"k:a":"${aws:username}"}}`, p: &dev, ctx: ctx("k:a", "dev")},
		{name: "variable in ArnLike", cond: `{"ArnLike":{"k:arn":"arn:aws:iam::${aws:PrincipalAccount}:role/*"}}`, p: &dev, ctx: ctx("k:arn", "arn:aws:iam::111111111111:role/x"), want: true},
	}
	for _, tc := range cases {
		t.Run(tc.name, func(t *testing.T) {
			v := tc.version
			if v == "" {
				v = Version2012
			}
			doc := fmt.Sprintf(`{"Version":%q,"Statement":{"Effect":"Allow","Action":"ecr:*","Resource":"*","Condition":%s}}`, v, tc.cond)
			p := mustParse(t, doc, Identity)
			pr := user(acctA, "other")
			if tc.p != nil {
				pr = *tc.p
			}
			r := Request{Action: "ecr:PutImage", Resource: "*", Principal: pr, Context: tc.ctx}
			d := Evaluate(r, Policies{Identity: []Named{{Name: "p", Policy: p}}})
			if d.Allowed != tc.want {
				t.Errorf("allowed = %v, want %v", d.Allowed, tc.want)
			}
		})
	}
}

func ctx(key string, vals ...string) map[string][]string {
	return map[string][]string{key: vals}
}

func TestResourceMatching(t *testing.T) {
	dev := user(acctA, "dev")
	cases := []struct {
		version, resource, target string
		want                      bool
	}{
		{Version2012, "*", "arn:aws:ecr:us-east-1:111111111111:repository/app", true},
		{Version2012, "arn:aws:ecr:us-east-1:111111111111:repository/*", "arn:aws:ecr:us-east-1:111111111111:repository/team/app", true},
		{Version2012, "arn:aws:ecr:*:*:repository/team/*", "arn:aws:ecr:eu-west-1:111111111111:repository/team/app", true},
		{Version2012, "arn:aws:ecr:*:repository/*", "arn:aws:ecr:eu-west-1:111111111111:repository/app", false},
		{Version2012, "arn:aws:ecr:us-east-1:111111111111:repository/App", "arn:aws:ecr:us-east-1:111111111111:repository/app", false},
		{Version2012, "arn:aws:ecr:us-east-?:111111111111:repository/app", "arn:aws:ecr:us-east-2:111111111111:repository/app", true},
		{Version2012, "arn:aws:ecr:*:*:repository/${aws:username}/*", "arn:aws:ecr:us-east-1:111111111111:repository/dev/app", true},
		{Version2012, "arn:aws:ecr:*:*:repository/${aws:username}/*", "arn:aws:ecr:us-east-1:111111111111:repository/ops/app", false},
		{Version2012, "arn:aws:ecr:*:${aws:PrincipalAccount}:repository/*", "arn:aws:ecr:us-east-1:111111111111:repository/x", true},
		{Version2012, "arn:aws:ecr:*:*:repository/${aws:PrincipalTag/missing}", "arn:aws:ecr:us-east-1:111111111111:repository/", false},
		{Version2008, "arn:aws:ecr:*:*:repository/${aws:username}/*", "arn:aws:ecr:us-east-1:111111111111:repository/dev/app", false},
		{Version2008, "arn:aws:ecr:*:*:repository/${aws:username}/*", "arn:aws:ecr:us-east-1:111111111111:repository/${aws:username}/app", true},
		{Version2012, "arn:aws:ecr:*:*:repository/x", "*", false},
	}
	for _, tc := range cases {
		doc := fmt.Sprintf(`{"Version":%q,"Statement":{"Effect":"Allow","Action":"ecr:*","Resource":%q}}`, tc.version, tc.resource)
		p := mustParse(t, doc, Identity)
		d := Evaluate(req(dev, "ecr:BatchGetImage", tc.target, acctA), Policies{Identity: []Named{{Name: "p", Policy: p}}})
		if d.Allowed != tc.want {
			t.Errorf("%s %s vs %s: allowed = %v, want %v", tc.version, tc.resource, tc.target, d.Allowed, tc.want)
		}
		// NotResource is the complement.
		doc = fmt.Sprintf(`{"Version":%q,"Statement":{"Effect":"Allow","Action":"ecr:*","NotResource":%q}}`, tc.version, tc.resource)
		p = mustParse(t, doc, Identity)
		d = Evaluate(req(dev, "ecr:BatchGetImage", tc.target, acctA), Policies{Identity: []Named{{Name: "p", Policy: p}}})
		if d.Allowed == tc.want {
			t.Errorf("NotResource %s vs %s: allowed = %v", tc.resource, tc.target, d.Allowed)
		}
	}
}
