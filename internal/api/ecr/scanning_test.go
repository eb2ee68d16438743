package ecr

import (
	"strings"
	"testing"
)

// TestRegistryScanningShapes: PutRegistryScanningConfiguration and
// BatchGetRepositoryScanningConfiguration are checked against the ECR
// model's shapes, with ECR's wording, before the core sees them.
func TestRegistryScanningShapes(t *testing.T) {
	s := func(v string) *string { return &v }
	filters := func(fs ...string) []ScanningRepositoryFilter {
		var out []ScanningRepositoryFilter
		for _, f := range fs {
			out = append(out, ScanningRepositoryFilter{Filter: s(f), FilterType: s("WILDCARD")})
		}
		return out
	}
	rule := func(freq string, fs ...ScanningRepositoryFilter) RegistryScanningRule {
		return RegistryScanningRule{ScanFrequency: s(freq), RepositoryFilters: fs}
	}
	tests := []struct {
		name string
		in   interface{ validate() error }
		msg  string
	}{
		{"scan type", &PutRegistryScanningConfigurationInput{ScanType: s("FULL")},
			"Invalid parameter at 'scanType' failed to satisfy constraint: 'must satisfy enum value set: [BASIC, ENHANCED]'"},
		{"three rules", &PutRegistryScanningConfigurationInput{ScanType: s("ENHANCED"), Rules: []RegistryScanningRule{
			rule("MANUAL"), rule("MANUAL"), rule("MANUAL")}},
			"rules"},
		{"frequency", &PutRegistryScanningConfigurationInput{Rules: []RegistryScanningRule{rule("DAILY")}},
			"rules.1.member.scanFrequency"},
		{"too many filters", &PutRegistryScanningConfigurationInput{Rules: []RegistryScanningRule{
			rule("SCAN_ON_PUSH", filters(strings.Split(strings.Repeat("a,", 101)[:201], ",")...)...)}},
			"rules.1.member.repositoryFilters"},
		{"empty filter", &PutRegistryScanningConfigurationInput{Rules: []RegistryScanningRule{rule("SCAN_ON_PUSH", filters("a", "")...)}},
			"rules.1.member.repositoryFilters.2.member.filter"},
		{"long filter", &PutRegistryScanningConfigurationInput{Rules: []RegistryScanningRule{rule("SCAN_ON_PUSH", filters(strings.Repeat("a", 256))...)}},
			"rules.1.member.repositoryFilters.1.member.filter"},
		{"upper case filter", &PutRegistryScanningConfigurationInput{Rules: []RegistryScanningRule{rule("SCAN_ON_PUSH", filters("Prod-*")...)}},
			"rules.1.member.repositoryFilters.1.member.filter"},
		{"filter type", &PutRegistryScanningConfigurationInput{Rules: []RegistryScanningRule{
			{ScanFrequency: s("SCAN_ON_PUSH"), RepositoryFilters: []ScanningRepositoryFilter{{Filter: s("prod"), FilterType: s("PREFIX_MATCH")}}}}},
			"rules.1.member.repositoryFilters.1.member.filterType"},
		{"26 repositories", &BatchGetRepositoryScanningConfigurationInput{RepositoryNames: strings.Split(strings.Repeat("r,", 26)[:51], ",")},
			"repositoryNames"},
		{"no repositories", &BatchGetRepositoryScanningConfigurationInput{}, "repositoryNames"},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			err := tt.in.validate()
			if err == nil {
				t.Fatal("accepted")
			}
			// A full message, or the member the message must name.
			if strings.HasPrefix(tt.msg, "Invalid") && err.Error() != tt.msg ||
				!strings.HasPrefix(tt.msg, "Invalid") && !strings.Contains(err.Error(), "'"+tt.msg+"'") {
				t.Fatalf("got %q, want %q", err, tt.msg)
			}
		})
	}
	ok := &PutRegistryScanningConfigurationInput{ScanType: s("ENHANCED"), Rules: []RegistryScanningRule{
		rule("CONTINUOUS_SCAN", filters("a.b_c-d/e*")...), rule("MANUAL", filters(strings.Repeat("a", 255))...)}}
	if err := ok.validate(); err != nil {
		t.Fatalf("a valid configuration: %v", err)
	}
}
