package awsid

import (
	"strings"
	"testing"

	"github.com/aws/aws-sdk-go-v2/aws/arn"
)

func TestValidAccountID(t *testing.T) {
	for _, tc := range []struct {
		in   string
		want bool
	}{
		{"123456789012", true},
		{"000000000000", true},
		{"12345678901", false},
		{"1234567890123", false},
		{"12345678901a", false},
		{"１23456789012", false}, // a full-width digit
		{"aws", false},
		{"", false},
	} {
		if got := ValidAccountID(tc.in); got != tc.want {
			t.Errorf("ValidAccountID(%q) = %v, want %v", tc.in, got, tc.want)
		}
	}
}

func TestBuild(t *testing.T) {
	for _, tc := range []struct{ got, want string }{
		{ARN("ecr", "us-east-1", "123456789012", "repository/team/app"), "arn:aws:ecr:us-east-1:123456789012:repository/team/app"},
		{ARN("kms", "eu-west-1", "123456789012", "key/1234abcd-12ab-34cd-56ef-1234567890ab"), "arn:aws:kms:eu-west-1:123456789012:key/1234abcd-12ab-34cd-56ef-1234567890ab"},
		{IAM("123456789012", "role/path/name"), "arn:aws:iam::123456789012:role/path/name"},
		{Root("123456789012"), "arn:aws:iam::123456789012:root"},
		{AssumedRole("123456789012", "deploy", "job-1"), "arn:aws:sts::123456789012:assumed-role/deploy/job-1"},
		{AWSManagedPolicyPrefix + "ReadOnlyAccess", "arn:aws:iam::aws:policy/ReadOnlyAccess"},
	} {
		if tc.got != tc.want {
			t.Errorf("got %q, want %q", tc.got, tc.want)
		}
	}
}

func TestParse(t *testing.T) {
	for _, tc := range []struct {
		in   string
		want arn.ARN
		ok   bool
	}{
		{"arn:aws:iam::123456789012:root", arn.ARN{Partition: "aws", Service: "iam", AccountID: "123456789012", Resource: "root"}, true},
		{"arn:aws:kms:us-east-1:123456789012:alias/a:b", arn.ARN{Partition: "aws", Service: "kms", Region: "us-east-1", AccountID: "123456789012", Resource: "alias/a:b"}, true},
		{"arn:aws-us-gov:ecr:us-gov-west-1:123456789012:repository/x", arn.ARN{Partition: "aws-us-gov", Service: "ecr", Region: "us-gov-west-1", AccountID: "123456789012", Resource: "repository/x"}, true},
		{"arn:aws:iam::123456789012:", arn.ARN{Partition: "aws", Service: "iam", AccountID: "123456789012"}, true},
		{"arn:aws:iam::aws:policy/ReadOnlyAccess", arn.ARN{}, false}, // not an account's
		{"arn:awsx:iam::123456789012:root", arn.ARN{}, false},
		{"arn:gcp:iam::123456789012:root", arn.ARN{}, false},
		{"arn:aws:iam::12345678901:root", arn.ARN{}, false},
		{"arn:aws:iam::123456789012", arn.ARN{}, false},
		{"ARN:aws:iam::123456789012:root", arn.ARN{}, false},
		{"123456789012", arn.ARN{}, false},
		{"", arn.ARN{}, false},
	} {
		got, ok := Parse(tc.in)
		if got != tc.want || ok != tc.ok {
			t.Errorf("Parse(%q) = %+v, %v; want %+v, %v", tc.in, got, ok, tc.want, tc.ok)
		}
	}
}

func FuzzParse(f *testing.F) {
	for _, s := range []string{"arn:aws:iam::123456789012:root", "arn:aws-cn:kms:cn-north-1:123456789012:key/k", "arn:aws:::123456789012:", "arn:", "x", "arn:a:b:c:d", "arn:a:b:c:d:e:f"} {
		f.Add(s)
	}
	f.Fuzz(func(t *testing.T, s string) {
		// split reads what the SDK's parser reads.
		want, err := arn.Parse(s)
		if got, ok := split(s); ok != (err == nil) || got != want {
			t.Fatalf("split(%q) = %+v, %v; arn.Parse: %+v, %v", s, got, ok, want, err)
		}
		a, ok := Parse(s)
		if !ok {
			if a != (arn.ARN{}) {
				t.Fatalf("Parse(%q) failed with %+v", s, a)
			}
			return
		}
		if !ValidAccountID(a.AccountID) || a.String() != s {
			t.Fatalf("Parse(%q) = %+v, which reads back as %q", s, a, a.String())
		}
		if a.Partition == Partition && ARN(a.Service, a.Region, a.AccountID, a.Resource) != s {
			t.Fatalf("ARN does not rebuild %q", s)
		}
	})
}

func TestUUID(t *testing.T) {
	seen := map[string]bool{}
	for range 100 {
		id := NewUUID()
		if !ValidUUID(id) || id != strings.ToLower(id) || id[14] != '4' || !strings.ContainsRune("89ab", rune(id[19])) {
			t.Fatalf("NewUUID() = %q, want a lower-case version 4 UUID", id)
		}
		if seen[id] {
			t.Fatalf("NewUUID() repeated %q", id)
		}
		seen[id] = true
	}
	for _, tc := range []struct {
		in   string
		want bool
	}{
		{"0f1e2d3c-4b5a-6978-8796-a5b4c3d2e1f0", true},
		{"0F1E2D3C-4B5A-6978-8796-A5B4C3D2E1F0", true},
		{"0f1e2d3c-4b5a-6978-8796-a5b4c3d2e1f", false},
		{"0f1e2d3c-4b5a-6978-8796-a5b4c3d2e1f00", false},
		{"0f1e2d3c+4b5a-6978-8796-a5b4c3d2e1f0", false},
		{"gf1e2d3c-4b5a-6978-8796-a5b4c3d2e1f0", false},
		{"{0f1e2d3c-4b5a-6978-8796-a5b4c3d2e1f}", false},
		{"0f1e2d3c4b5a697887960a5b4c3d2e1f0aaa", false},
		{"", false},
	} {
		if got := ValidUUID(tc.in); got != tc.want {
			t.Errorf("ValidUUID(%q) = %v, want %v", tc.in, got, tc.want)
		}
	}
}

func TestNewTimeUUIDSortsInOrderMade(t *testing.T) {
	prev := NewTimeUUID()
	for range 1000 {
		id := NewTimeUUID()
		if !ValidUUID(id) || id[14] != '7' {
			t.Fatalf("%q is not a version 7 UUID", id)
		}
		if id <= prev {
			t.Fatalf("%q made after %q sorts before it", id, prev)
		}
		prev = id
	}
}

func TestParseAllocates(t *testing.T) {
	s := "arn:aws:iam::123456789012:user/ci"
	if n := testing.AllocsPerRun(100, func() { Parse(s) }); n != 0 {
		t.Errorf("Parse allocates %v times, want 0", n)
	}
}
