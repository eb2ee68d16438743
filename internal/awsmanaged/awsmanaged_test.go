package awsmanaged

import (
	"regexp"
	"slices"
	"strings"
	"testing"

	"github.com/ecrd/ecrd/internal/iampolicy"
)

func TestPoliciesParseAndDecide(t *testing.T) {
	if !slices.IsSortedFunc(All, func(a, b Policy) int { return strings.Compare(a.Name, b.Name) }) {
		t.Error("All is not sorted by name (ListPolicies pages through it in order)")
	}
	user := iampolicy.Principal{Type: "User", Account: "123456789012", ARN: "arn:aws:iam::123456789012:user/ci"}
	repo := "arn:aws:ecr:us-east-1:123456789012:repository/app"
	want := map[string]map[string]bool{ // policy -> action -> allowed
		"AmazonEC2ContainerRegistryPowerUser":  {"ecr:PutImage": true, "ecr:BatchGetImage": true, "ecr:DeleteRepository": false, "ecr:SetRepositoryPolicy": false},
		"AmazonEC2ContainerRegistryReadOnly":   {"ecr:PutImage": false, "ecr:BatchGetImage": true, "ecr:GetAuthorizationToken": true},
		"AmazonEC2ContainerRegistryPullOnly":   {"ecr:BatchGetImage": true, "ecr:ListImages": false},
		"AmazonEC2ContainerRegistryFullAccess": {"ecr:DeleteRepository": true, "iam:CreateRole": false},
		"AdministratorAccess":                  {"iam:CreateRole": true},
	}
	idRE := regexp.MustCompile(`^ANPA[A-Z2-7]{17}$`)
	for _, p := range All {
		pol, err := iampolicy.Parse(p.Document, iampolicy.Identity)
		if err != nil {
			t.Fatalf("%s: %v", p.Name, err)
		}
		if got, ok := Lookup(p.ARN()); !ok || got.Name != p.Name || !idRE.MatchString(p.ID()) {
			t.Errorf("%s: Lookup %v, ID %s", p.Name, ok, p.ID())
		}
		for action, allowed := range want[p.Name] {
			req := iampolicy.Request{Action: action, Resource: repo, ResourceAccount: user.Account, Principal: user}
			if d := iampolicy.Evaluate(req, iampolicy.Policies{Identity: []iampolicy.Named{{Name: p.Name, Policy: pol}}}); d.Allowed != allowed {
				t.Errorf("%s allows %s: %v, want %v", p.Name, action, d.Allowed, allowed)
			}
		}
	}
	if _, ok := Lookup("arn:aws:iam::aws:policy/NoSuchPolicy"); ok {
		t.Error("Lookup found a policy that does not exist")
	}
}
