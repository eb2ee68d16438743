package secrets

import (
	"testing"

	"github.com/ecrd/ecrd/internal/awserr"
)

// FuzzPolicyAndNames feeds resource policies and secret IDs to the checks
// that read them: each answers a Secrets Manager error or nothing, never
// a panic.
func FuzzPolicyAndNames(f *testing.F) {
	f.Add(`{"Version":"2012-10-17","Statement":[{"Effect":"Allow","Principal":{"AWS":["*"]},"Action":"*","Resource":"*"}]}`)
	f.Add(`{"Statement":{"Effect":"Allow","Principal":"*","Condition":{}}}`)
	f.Add(`arn:aws:secretsmanager:us-east-1:123456789012:secret:a-AbCdEf`)
	f.Add(`name/with+chars=.@-`)
	f.Fuzz(func(t *testing.T, s string) {
		if err := checkPolicy(s, true); err != nil && awserr.Code(err) == "" {
			t.Fatalf("checkPolicy(%q): %v", s, err)
		}
		_ = public(s)
		if err := checkName(s); err != nil && awserr.Code(err) == "" {
			t.Fatalf("checkName(%q): %v", s, err)
		}
		if validName(s) && len(s) > maxNameLength {
			t.Fatalf("validName(%q) is true beyond the limit", s)
		}
	})
}
