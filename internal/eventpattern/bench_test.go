package eventpattern

import (
	"fmt"
	"testing"
)

// scanEvent is an "ECR Image Scan" event as ECR sends it to EventBridge.
const scanEvent = `{
  "version": "0",
  "id": "85fc3613-e913-7fc4-a80c-a3753e4aa9ae",
  "detail-type": "ECR Image Scan",
  "source": "aws.ecr",
  "account": "123456789012",
  "time": "2019-10-29T02:36:48Z",
  "region": "us-east-1",
  "resources": ["arn:aws:ecr:us-east-1:123456789012:repository/my-repository-name"],
  "detail": {
    "scan-status": "COMPLETE",
    "repository-name": "my-repository-name",
    "finding-severity-counts": {"CRITICAL": 10, "HIGH": 2, "MEDIUM": 9, "LOW": 3, "INFORMATIONAL": 0, "UNDEFINED": 0},
    "image-digest": "sha256:7f5b2640fe6fb4f46592dfd3410c4a79dac4f89e4782432e0378abcd1234",
    "image-tags": ["latest", "v1.4.2"]
  }
}`

// rules30 is a rule set of the kinds a registry's users write: by source
// and type, by repository, by tag, by severity counts, and some that never
// match this event.
var rules30 = func() []string {
	rules := []string{
		`{"source":["aws.ecr"],"detail-type":["ECR Image Scan"]}`,
		`{"source":["aws.ecr"],"detail-type":["ECR Image Action"],"detail":{"action-type":["PUSH"],"result":["SUCCESS"]}}`,
		`{"source":["aws.ecr"],"detail":{"scan-status":["COMPLETE"],"finding-severity-counts":{"CRITICAL":[{"numeric":[">",0]}]}}}`,
		`{"source":["aws.ecr"],"detail":{"finding-severity-counts":{"$or":[{"CRITICAL":[{"numeric":[">",0]}]},{"HIGH":[{"numeric":[">=",5]}]}]}}}`,
		`{"detail":{"repository-name":[{"prefix":"my-"}]}}`,
		`{"detail":{"repository-name":[{"wildcard":"team-*/service-*"}]}}`,
		`{"detail":{"image-tags":[{"anything-but":{"prefix":"dev-"}}]}}`,
		`{"detail":{"image-tags":["latest"]}}`,
		`{"detail":{"image-tags":[{"suffix":{"equals-ignore-case":"-RC"}}]}}`,
		`{"resources":[{"wildcard":"arn:aws:ecr:*:123456789012:repository/*"}]}`,
		`{"account":["123456789012"],"region":[{"anything-but":["us-west-2","eu-west-1"]}]}`,
		`{"detail":{"scan-status":["FAILED"]}}`,
		`{"detail":{"finding-severity-counts":{"CRITICAL":[{"exists":false}]}}}`,
		`{"detail":{"image-digest":[{"prefix":"sha256:"}],"image-tags":[{"exists":true}]}}`,
		`{"source":["aws.ecr"],"detail-type":["ECR Replication Action"]}`,
		`{"source":["aws.ecr"],"detail":{"finding-severity-counts":{"MEDIUM":[{"numeric":[">",0,"<=",10]}]}}}`,
	}
	for i := len(rules); i < 30; i++ {
		rules = append(rules, fmt.Sprintf(`{"source":["aws.ecr"],"detail":{"repository-name":["repo-%d",{"prefix":"svc-%d-"}],"scan-status":["COMPLETE"]}}`, i, i))
	}
	return rules
}()

func BenchmarkMatch(b *testing.B) {
	var ps []*Pattern
	for _, r := range rules30 {
		p, err := Compile(r)
		if err != nil {
			b.Fatal(err)
		}
		ps = append(ps, p)
	}
	event := []byte(scanEvent)
	b.Run("decode+30rules", func(b *testing.B) {
		b.ReportAllocs()
		for b.Loop() {
			m, err := Decode(event)
			if err != nil {
				b.Fatal(err)
			}
			n := 0
			for _, p := range ps {
				if p.MatchValue(m) {
					n++
				}
			}
			if n == 0 {
				b.Fatal("no rule matched")
			}
		}
	})
	m, err := Decode(event)
	if err != nil {
		b.Fatal(err)
	}
	b.Run("30rules", func(b *testing.B) {
		b.ReportAllocs()
		for b.Loop() {
			for _, p := range ps {
				p.MatchValue(m)
			}
		}
	})
}

func TestRules30(t *testing.T) {
	m, err := Decode([]byte(scanEvent))
	if err != nil {
		t.Fatal(err)
	}
	want := map[int]bool{0: true, 2: true, 3: true, 4: true, 6: true, 7: true, 9: true, 10: true, 13: true, 15: true}
	for i, r := range rules30 {
		p, err := Compile(r)
		if err != nil {
			t.Fatalf("rule %d: %v", i, err)
		}
		if got := p.MatchValue(m); got != want[i] {
			t.Errorf("rule %d %s: %v, want %v", i, r, got, want[i])
		}
	}
}
