package iampolicy

import "testing"

var fuzzSeeds = []string{
	pushIdentity, pullIdentity, crossPullRoot, crossPullID,
	powerUserPolicy, readOnlyPolicy, fullAccessPolicy, pullOnlyPolicy,
	`{"Version":"2012-10-17","Statement":{"Effect":"Allow","Principal":"*","Action":"ecr:*","Condition":{"ForAllValues:StringLike":{"aws:TagKeys":["a*"]},"IpAddress":{"aws:SourceIp":"::/0"},"DateLessThan":{"aws:CurrentTime":"2030-01-01"}}}}`,
	`{"Version":"2012-10-17","Statement":{"Effect":"Deny","NotPrincipal":{"AWS":"arn:aws:sts::111111111111:assumed-role/r/s"},"NotAction":"ecr:Get*","NotResource":"arn:aws:ecr:*:*:repository/${aws:username}/*"}}`,
	`{"Statement":[{"Effect":"Allow","Principal":{"Federated":"accounts.google.com"},"Action":"sts:AssumeRoleWithWebIdentity","Condition":{"StringEquals":{"accounts.google.com:aud":"x"}}}]}`,
}

// fuzzRequests exercise every principal type and condition family.
func fuzzRequests() []Request {
	c := map[string][]string{
		"aws:SourceIp": {"10.0.0.1"}, "aws:CurrentTime": {"2026-01-01T00:00:00Z"}, "aws:TagKeys": {"a", "b"},
		"aws:SecureTransport": {"true"}, "k:n": {"5"},
	}
	ps := []Principal{{}, user(acctA, "dev"), session(acctB, "p/", "r", "s"), root(acctA), root(acctB),
		{Type: "WebIdentity", Provider: "accounts.google.com"}, {Type: "Service", ARN: "ecr.amazonaws.com"}}
	var out []Request
	for _, p := range ps {
		out = append(out, Request{Action: "ecr:PutImage", Resource: repo(acctA, "dev/app"), ResourceAccount: acctA, Principal: p, Context: c})
		out = append(out, Request{Action: "sts:AssumeRoleWithWebIdentity", Resource: "*", Principal: p, Context: c})
	}
	return out
}

func FuzzParse(f *testing.F) {
	for _, s := range fuzzSeeds {
		for k := Identity; k <= Trust; k++ {
			f.Add(s, uint8(k))
		}
	}
	reqs := fuzzRequests()
	f.Fuzz(func(t *testing.T, doc string, kind uint8) {
		k := Kind(kind % 3)
		p, err := Parse(doc, k)
		if err != nil {
			if _, ok := err.(*MalformedError); !ok {
				t.Fatalf("error %T", err)
			}
			return
		}
		for _, r := range reqs {
			n := Named{Name: "p", Policy: p}
			pols := Policies{Identity: []Named{n}, Boundary: &n, Session: []Named{n}}
			if k != Identity {
				pols = Policies{Resource: &n}
			}
			d := Evaluate(r, pols)
			_ = d.Message(r)
		}
	})
}

func FuzzEvaluate(f *testing.F) {
	f.Add("ecr:PutImage", "arn:aws:ecr:us-east-1:111111111111:repository/dev/app", "10.0.0.1", "2026-01-01", "a", "dev")
	f.Add("*", "*", "::1", "1700000000", "", "")
	f.Add("ecr:Batch?etImage", "arn:*", "x", "y", "${*}", "**??\\")
	pols := []*Policy{}
	for _, s := range fuzzSeeds {
		for k := Identity; k <= Trust; k++ {
			if p, err := Parse(s, k); err == nil {
				pols = append(pols, p)
			}
		}
	}
	f.Fuzz(func(t *testing.T, action, resource, ip, when, tag, name string) {
		pr := user(acctA, name)
		pr.Tags = map[string]string{"t": tag}
		r := Request{Action: action, Resource: resource, Principal: pr, Context: map[string][]string{
			"aws:SourceIp": {ip}, "aws:CurrentTime": {when}, "aws:TagKeys": {tag, name}, "k:n": {tag},
		}}
		for _, p := range pols {
			n := Named{Name: "p", Policy: p}
			var d Decision
			if p.Kind() == Identity {
				d = Evaluate(r, Policies{Identity: []Named{n}, Boundary: &n})
			} else {
				d = Evaluate(r, Policies{Resource: &n})
			}
			if !d.Allowed && d.Message(r) == "" {
				t.Fatal("denied without a message")
			}
		}
	})
}

func TestWildMatch(t *testing.T) {
	cases := []struct {
		p, s string
		fold bool
		want bool
	}{
		{"*", "", false, true},
		{"a*b*c", "axxbyyc", false, true},
		{"a*b*c", "axxbyy", false, false},
		{"a?c", "abc", false, true},
		{"a?c", "aéc", false, true},
		{"ECR:*", "ecr:PutImage", true, true},
		{`a\*`, "a*", false, true},
		{`a\*`, "ab", false, false},
		{`a\\`, `a\`, false, true},
		{"**a", "bba", false, true},
		{"a*", "A", true, true},
	}
	for _, tc := range cases {
		if got := wildMatch(tc.p, tc.s, tc.fold); got != tc.want {
			t.Errorf("wildMatch(%q, %q) = %v", tc.p, tc.s, got)
		}
	}
}
