package cvss

import (
	"errors"
	"math"
	"strings"
	"testing"
)

// Known base scores (NVD / FIRST calculator values). Two are worked out by
// hand from the specification formulas:
//
// CVSS:3.1/AV:N/AC:L/PR:N/UI:N/S:U/C:H/I:H/A:H
//
//	ISS            = 1 - (1-0.56)^3             = 0.914816
//	Impact         = 6.42 × 0.914816            = 5.87311872
//	Exploitability = 8.22 × 0.85 × 0.77 × 0.85 × 0.85 = 3.887042775
//	Base           = Roundup(min(9.760161495, 10)) = 9.8
//
// CVSS:3.1/AV:N/AC:L/PR:N/UI:R/S:C/C:L/I:L/A:N (scope changed)
//
//	ISS            = 1 - (1-0.22)(1-0.22)(1-0) = 0.3916
//	Impact         = 7.52 × (0.3916-0.029) - 3.25 × (0.3916-0.02)^15
//	               = 2.726752 - 0.00000116    ≈ 2.7267508
//	Exploitability = 8.22 × 0.85 × 0.77 × 0.85 × 0.62 = 2.83525473
//	Base           = Roundup(min(1.08 × 5.5620055, 10)) = Roundup(6.00697) = 6.1
var knownScores = []struct {
	vector   string
	base     float64
	severity string
}{
	{"CVSS:3.1/AV:N/AC:L/PR:N/UI:N/S:U/C:H/I:H/A:H", 9.8, SeverityCritical},
	{"CVSS:3.1/AV:N/AC:L/PR:N/UI:R/S:C/C:L/I:L/A:N", 6.1, SeverityMedium},
	{"CVSS:3.1/AV:L/AC:L/PR:L/UI:N/S:U/C:H/I:H/A:H", 7.8, SeverityHigh},
	{"CVSS:3.1/AV:N/AC:H/PR:N/UI:N/S:U/C:H/I:N/A:N", 5.9, SeverityMedium},
	{"CVSS:3.0/AV:N/AC:L/PR:N/UI:N/S:C/C:H/I:H/A:H", 10.0, SeverityCritical},
	{"CVSS:3.1/AV:N/AC:L/PR:N/UI:N/S:C/C:H/I:H/A:H", 10.0, SeverityCritical},
	{"CVSS:3.1/AV:P/AC:H/PR:H/UI:R/S:U/C:N/I:N/A:L", 1.6, SeverityLow},
	{"CVSS:3.1/AV:N/AC:L/PR:N/UI:N/S:U/C:N/I:N/A:N", 0.0, SeverityInformational},
	{"CVSS:3.1/AV:N/AC:L/PR:N/UI:N/S:C/C:N/I:N/A:N", 0.0, SeverityInformational},
	{"CVSS:3.1/AV:N/AC:L/PR:N/UI:N/S:U/C:N/I:N/A:H", 7.5, SeverityHigh},
	{"CVSS:3.0/AV:N/AC:L/PR:N/UI:N/S:U/C:H/I:N/A:N", 7.5, SeverityHigh},
	{"CVSS:3.1/AV:N/AC:L/PR:N/UI:R/S:U/C:H/I:H/A:H", 8.8, SeverityHigh},
	{"CVSS:3.1/AV:N/AC:L/PR:L/UI:N/S:U/C:H/I:H/A:H", 8.8, SeverityHigh},
	{"CVSS:3.0/AV:L/AC:L/PR:N/UI:R/S:U/C:H/I:H/A:H", 7.8, SeverityHigh},
	{"CVSS:3.1/AV:N/AC:L/PR:N/UI:N/S:U/C:L/I:N/A:N", 5.3, SeverityMedium},
	{"CVSS:3.1/AV:N/AC:H/PR:N/UI:N/S:U/C:H/I:H/A:H", 8.1, SeverityHigh},
	{"CVSS:3.1/AV:L/AC:L/PR:L/UI:N/S:U/C:H/I:N/A:N", 5.5, SeverityMedium},
	{"CVSS:3.1/AV:N/AC:L/PR:L/UI:N/S:C/C:L/I:L/A:N", 6.4, SeverityMedium},
	{"CVSS:3.1/AV:N/AC:L/PR:N/UI:R/S:U/C:N/I:H/A:N", 6.5, SeverityMedium},
	{"CVSS:3.1/AV:N/AC:L/PR:N/UI:N/S:U/C:L/I:L/A:L", 7.3, SeverityHigh},
	{"CVSS:3.1/AV:N/AC:L/PR:L/UI:N/S:U/C:L/I:N/A:N", 4.3, SeverityMedium},
	{"CVSS:3.1/AV:N/AC:L/PR:H/UI:N/S:U/C:H/I:H/A:H", 7.2, SeverityHigh},
	{"CVSS:3.1/AV:L/AC:L/PR:L/UI:N/S:C/C:H/I:H/A:H", 8.8, SeverityHigh},
	{"CVSS:3.1/AV:N/AC:L/PR:L/UI:N/S:C/C:H/I:H/A:H", 9.9, SeverityCritical},
	{"CVSS:3.1/AV:N/AC:L/PR:N/UI:N/S:U/C:H/I:H/A:N", 9.1, SeverityCritical},
	{"CVSS:3.1/AV:N/AC:L/PR:L/UI:R/S:C/C:L/I:L/A:N", 5.4, SeverityMedium},
	{"CVSS:3.1/AV:A/AC:L/PR:N/UI:N/S:U/C:H/I:H/A:H", 8.8, SeverityHigh},
	{"CVSS:3.1/AV:L/AC:H/PR:L/UI:N/S:U/C:H/I:H/A:H", 7.0, SeverityHigh},
	{"CVSS:3.1/AV:P/AC:L/PR:N/UI:N/S:U/C:H/I:H/A:H", 6.8, SeverityMedium},
	{"CVSS:3.1/AV:L/AC:L/PR:N/UI:N/S:U/C:N/I:N/A:H", 6.2, SeverityMedium},
	{"CVSS:3.1/AV:N/AC:H/PR:N/UI:R/S:C/C:L/I:L/A:N", 4.7, SeverityMedium},
	{"CVSS:3.1/AV:L/AC:L/PR:L/UI:N/S:U/C:L/I:N/A:N", 3.3, SeverityLow},
	{"CVSS:3.1/AV:L/AC:L/PR:H/UI:N/S:U/C:H/I:H/A:H", 6.7, SeverityMedium},
	{"CVSS:3.1/AV:N/AC:H/PR:N/UI:N/S:U/C:L/I:N/A:N", 3.7, SeverityLow},
	// Temporal and environmental metrics are accepted and ignored.
	{"CVSS:3.1/AV:N/AC:L/PR:N/UI:N/S:U/C:H/I:H/A:H/E:U/RL:O/RC:U/CR:L/MAV:P/MS:C/MA:N", 9.8, SeverityCritical},
	{"CVSS:3.0/AV:N/AC:L/PR:N/UI:R/S:C/C:L/I:L/A:N/E:X/RL:X/RC:X", 6.1, SeverityMedium},
	// CVSS 4.0 (CVSS-B). The first is the specification's example vector;
	// the others are scores of the FIRST reference calculator.
	{"CVSS:4.0/AV:N/AC:L/AT:N/PR:N/UI:N/VC:H/VI:H/VA:H/SC:N/SI:N/SA:N", 9.3, SeverityCritical},
	{"CVSS:4.0/AV:N/AC:L/AT:N/PR:N/UI:N/VC:H/VI:H/VA:H/SC:H/SI:H/SA:H", 10.0, SeverityCritical},
	{"CVSS:4.0/AV:N/AC:L/AT:N/PR:N/UI:N/VC:N/VI:N/VA:N/SC:N/SI:N/SA:N", 0.0, SeverityInformational},
	{"CVSS:4.0/AV:P/AC:H/AT:P/PR:H/UI:A/VC:H/VI:H/VA:H/SC:H/SI:H/SA:H", 7.3, SeverityHigh},
	{"CVSS:4.0/AV:N/AC:L/AT:N/PR:N/UI:N/VC:L/VI:H/VA:L/SC:N/SI:H/SA:L", 9.2, SeverityCritical},
	{"CVSS:4.0/AV:N/AC:L/AT:N/PR:N/UI:N/VC:L/VI:L/VA:L/SC:H/SI:N/SA:L", 7.8, SeverityHigh},
	{"CVSS:4.0/AV:N/AC:L/AT:N/PR:N/UI:N/VC:L/VI:L/VA:N/SC:N/SI:L/SA:N", 6.9, SeverityMedium},
	{"CVSS:4.0/AV:N/AC:L/AT:N/PR:N/UI:P/VC:L/VI:N/VA:N/SC:L/SI:N/SA:L", 5.3, SeverityMedium},
	{"CVSS:4.0/AV:N/AC:L/AT:N/PR:N/UI:A/VC:H/VI:H/VA:H/SC:N/SI:N/SA:N", 8.6, SeverityHigh},
	{"CVSS:4.0/AV:N/AC:L/AT:N/PR:L/UI:A/VC:N/VI:H/VA:H/SC:N/SI:N/SA:L", 6.9, SeverityMedium},
	{"CVSS:4.0/AV:N/AC:L/AT:N/PR:H/UI:P/VC:L/VI:L/VA:N/SC:L/SI:N/SA:N", 4.8, SeverityMedium},
	{"CVSS:4.0/AV:N/AC:L/AT:P/PR:N/UI:N/VC:H/VI:H/VA:H/SC:H/SI:N/SA:H", 9.5, SeverityCritical},
	{"CVSS:4.0/AV:N/AC:L/AT:P/PR:N/UI:A/VC:N/VI:N/VA:N/SC:L/SI:N/SA:N", 2.1, SeverityLow},
	{"CVSS:4.0/AV:N/AC:L/AT:P/PR:H/UI:A/VC:N/VI:L/VA:L/SC:L/SI:N/SA:N", 1.8, SeverityLow},
	{"CVSS:4.0/AV:N/AC:H/AT:N/PR:H/UI:A/VC:N/VI:N/VA:N/SC:N/SI:H/SA:N", 4.0, SeverityMedium},
	{"CVSS:4.0/AV:N/AC:H/AT:N/PR:L/UI:A/VC:N/VI:L/VA:L/SC:H/SI:H/SA:L", 5.0, SeverityMedium},
	{"CVSS:4.0/AV:N/AC:H/AT:P/PR:N/UI:N/VC:H/VI:H/VA:H/SC:H/SI:L/SA:N", 9.5, SeverityCritical},
	// Threat, environmental and supplemental metrics are ignored (CVSS-B).
	{"CVSS:4.0/AV:N/AC:L/AT:N/PR:N/UI:N/VC:H/VI:H/VA:H/SC:N/SI:N/SA:N/E:U/CR:L/MAV:P/MSI:S/S:P/AU:Y/U:Red", 9.3, SeverityCritical},
	{"CVSS:4.0/AV:P/AC:H/AT:P/PR:H/UI:A/VC:H/VI:H/VA:H/SC:H/SI:H/SA:H/S:N/AU:N/R:A/V:D/RE:L/U:Clear", 7.3, SeverityHigh},
	// CVSS 2.0.
	{"AV:N/AC:L/Au:N/C:C/I:C/A:C", 10.0, SeverityHigh},
	{"AV:N/AC:L/Au:N/C:P/I:P/A:P", 7.5, SeverityHigh},
	{"AV:N/AC:M/Au:N/C:N/I:P/A:N", 4.3, SeverityMedium},
	{"AV:N/AC:L/Au:N/C:N/I:N/A:P", 5.0, SeverityMedium},
	{"AV:L/AC:L/Au:N/C:C/I:C/A:C", 7.2, SeverityHigh},
	{"AV:N/AC:M/Au:N/C:P/I:P/A:P", 6.8, SeverityMedium},
	{"AV:N/AC:L/Au:S/C:P/I:P/A:P", 6.5, SeverityMedium},
	{"AV:L/AC:L/Au:N/C:P/I:N/A:N", 2.1, SeverityLow},
	{"AV:N/AC:M/Au:N/C:C/I:C/A:C", 9.3, SeverityHigh},
	{"AV:L/AC:L/Au:N/C:N/I:N/A:C", 4.9, SeverityMedium},
	{"AV:N/AC:L/Au:N/C:N/I:N/A:N", 0.0, SeverityLow},
	{"(AV:N/AC:L/Au:N/C:P/I:P/A:P)", 7.5, SeverityHigh},
	{"CVSS:2.0/AV:N/AC:L/Au:N/C:P/I:P/A:P", 7.5, SeverityHigh},
	{"AV:N/AC:L/Au:N/C:P/I:P/A:P/E:POC/RL:OF/RC:C/CDP:LM/TD:H/CR:M/IR:M/AR:ND", 7.5, SeverityHigh},
}

func TestParseKnownScores(t *testing.T) {
	for _, tc := range knownScores {
		s, err := Parse(tc.vector)
		if err != nil {
			t.Errorf("Parse(%q): %v", tc.vector, err)
			continue
		}
		if s.Base != tc.base || s.Severity != tc.severity {
			t.Errorf("Parse(%q) = %v %s, want %v %s", tc.vector, s.Base, s.Severity, tc.base, tc.severity)
		}
	}
}

func TestParseVersionAndNormalization(t *testing.T) {
	tests := []struct {
		in, version, vector string
	}{
		{"  CVSS:3.1/A:H/I:H/C:H/S:U/UI:N/PR:N/AC:L/AV:N \n", "3.1", "CVSS:3.1/AV:N/AC:L/PR:N/UI:N/S:U/C:H/I:H/A:H"},
		{"CVSS:3.0/MA:N/E:U/AV:N/AC:L/PR:N/UI:N/S:U/C:H/I:H/A:H", "3.0", "CVSS:3.0/AV:N/AC:L/PR:N/UI:N/S:U/C:H/I:H/A:H/E:U/MA:N"},
		{"(A:P/I:P/C:P/Au:N/AC:L/AV:N)", "2.0", "AV:N/AC:L/Au:N/C:P/I:P/A:P"},
		{"CVSS:4.0/U:Amber/SA:N/SI:N/SC:N/VA:H/VI:H/VC:H/UI:N/PR:N/AT:N/AC:L/AV:N/E:P", "4.0", "CVSS:4.0/AV:N/AC:L/AT:N/PR:N/UI:N/VC:H/VI:H/VA:H/SC:N/SI:N/SA:N/E:P/U:Amber"},
		{"CVSS:2.0/AV:N/AC:L/Au:N/C:P/I:P/A:P/E:F", "2.0", "AV:N/AC:L/Au:N/C:P/I:P/A:P/E:F"},
	}
	for _, tc := range tests {
		s, err := Parse(tc.in)
		if err != nil {
			t.Fatalf("Parse(%q): %v", tc.in, err)
		}
		if s.Version != tc.version || s.Vector != tc.vector {
			t.Errorf("Parse(%q) = version %q vector %q, want %q %q", tc.in, s.Version, s.Vector, tc.version, tc.vector)
		}
	}
}

func TestParseErrors(t *testing.T) {
	tests := []struct {
		in      string
		wantErr error
		msg     string
	}{
		{"", ErrInvalidVector, "no metrics"},
		{"CVSS:3.1", ErrInvalidVector, "missing metrics"},
		{"CVSS:3.1/", ErrInvalidVector, "no metrics"},
		{"CVSS:3.2/AV:N/AC:L/PR:N/UI:N/S:U/C:H/I:H/A:H", ErrInvalidVector, "unknown CVSS version"},
		{"CVSS:/AV:N", ErrInvalidVector, "unknown CVSS version"},
		{"CVSS:4.1/AV:N/AC:L/AT:N/PR:N/UI:N/VC:H/VI:H/VA:H/SC:N/SI:N/SA:N", ErrInvalidVector, `unknown CVSS version "4.1"`},
		{"CVSS:4.0/AV:N/AC:L/AT:N/PR:N/UI:N/VC:H/VI:H/VA:H/SC:N/SI:N", ErrInvalidVector, "missing mandatory metric(s) SA"},
		{"CVSS:4.0/AV:N/AC:L/PR:N/UI:N/S:U/C:H/I:H/A:H", ErrInvalidVector, `unknown value "U" for metric S`},
		{"CVSS:4.0/AV:N/AC:L/PR:N/UI:N/S:N/C:H/I:H/A:H", ErrInvalidVector, `unknown metric "C"`},
		{"CVSS:4.0/AV:N/AC:L/AT:N/PR:N/UI:N/VC:H/VI:H/VA:H/SC:N/SI:S/SA:N", ErrInvalidVector, `unknown value "S" for metric SI`},
		{"CVSS:4.0/AV:N/AC:L/AT:N/PR:N/UI:N/VC:H/VI:H/VA:H/SC:N/SI:N/SA:N/U:red", ErrInvalidVector, `unknown value "red" for metric U`},
		{"CVSS:4.0/AV:N/AC:L/AT:N/PR:N/UI:N/VC:H/VI:H/VA:H/SC:N/SI:N/SA:N/E:A/E:U", ErrInvalidVector, `duplicate metric "E"`},
		{"CVSS:3.1/AV:N/AC:L/AT:N/PR:N/UI:N/VC:H/VI:H/VA:H/SC:N/SI:N/SA:N", ErrInvalidVector, `unknown metric "AT"`},
		{"CVSS:3.1/AV:N/AC:L/PR:N/UI:N/S:U/C:H/I:H", ErrInvalidVector, "missing mandatory metric(s) A"},
		{"CVSS:3.1/AV:N/AC:L/UI:N/C:H/I:H/A:H", ErrInvalidVector, "missing mandatory metric(s) PR, S"},
		{"CVSS:3.1/AV:N/AV:N/AC:L/PR:N/UI:N/S:U/C:H/I:H/A:H", ErrInvalidVector, `duplicate metric "AV"`},
		{"CVSS:3.1/AV:X/AC:L/PR:N/UI:N/S:U/C:H/I:H/A:H", ErrInvalidVector, `unknown value "X" for metric AV`},
		{"CVSS:3.1/AV:n/AC:L/PR:N/UI:N/S:U/C:H/I:H/A:H", ErrInvalidVector, `unknown value "n"`},
		{"CVSS:3.1/AV:N/AC:L/PR:N/UI:N/S:U/C:H/I:H/A:H/E:Z", ErrInvalidVector, `unknown value "Z" for metric E`},
		{"CVSS:3.1/AV:N/AC:L/PR:N/UI:N/S:U/C:H/I:H/A:H/Au:N", ErrInvalidVector, `unknown metric "Au"`},
		{"CVSS:3.1/AV:N/AC:L/PR:N/UI:N/S:U/C:H/I:H/A:H/", ErrInvalidVector, "malformed metric"},
		{"CVSS:3.1/AV:N//AC:L/PR:N/UI:N/S:U/C:H/I:H/A:H", ErrInvalidVector, "malformed metric"},
		{"CVSS:3.1/AVN/AC:L/PR:N/UI:N/S:U/C:H/I:H/A:H", ErrInvalidVector, "malformed metric"},
		{"CVSS:3.1/AV:N/AC:L/PR:N/UI:N/S:U/C:H/I:H/A:H:H", ErrInvalidVector, `unknown value "H:H"`},
		{"cvss:3.1/AV:N/AC:L/PR:N/UI:N/S:U/C:H/I:H/A:H", ErrInvalidVector, "CVSS 2.0"},
		{"AV:N/AC:L/PR:N/UI:N/S:U/C:H/I:H/A:H", ErrInvalidVector, `unknown metric "PR"`},
		{"AV:N/AC:L/Au:N/C:P/I:P", ErrInvalidVector, "missing mandatory metric(s) A"},
		{"AV:N/AC:L/Au:N/C:P/I:P/A:H", ErrInvalidVector, `unknown value "H" for metric A`},
		{"AV:N/AC:L/Au:N/C:P/I:P/A:P/E:X", ErrInvalidVector, `unknown value "X" for metric E`},
		{"(AV:N/AC:L/Au:N/C:P/I:P/A:P", ErrInvalidVector, `unknown metric "(AV"`},
	}
	for _, tc := range tests {
		s, err := Parse(tc.in)
		if err == nil {
			t.Errorf("Parse(%q) = %+v, want error", tc.in, s)
			continue
		}
		if !errors.Is(err, tc.wantErr) || !strings.Contains(err.Error(), tc.msg) {
			t.Errorf("Parse(%q) error = %v, want %v containing %q", tc.in, err, tc.wantErr, tc.msg)
		}
	}
}

func TestSeverityOf(t *testing.T) {
	tests := []struct {
		version string
		base    float64
		want    string
	}{
		{"3.1", 10.0, SeverityCritical},
		{"3.1", 9.0, SeverityCritical},
		{"3.1", 8.9, SeverityHigh},
		{"3.1", 7.0, SeverityHigh},
		{"3.1", 6.9, SeverityMedium},
		{"3.1", 4.0, SeverityMedium},
		{"3.1", 3.9, SeverityLow},
		{"3.1", 0.1, SeverityLow},
		{"3.1", 0.0, SeverityInformational},
		{"3.0", 9.0, SeverityCritical},
		{"3", 6.9, SeverityMedium},
		{"4.0", 9.3, SeverityCritical},
		{"4.0", 0.0, SeverityInformational},
		{"2.0", 10.0, SeverityHigh},
		{"2.0", 7.0, SeverityHigh},
		{"2.0", 6.9, SeverityMedium},
		{"2.0", 4.0, SeverityMedium},
		{"2.0", 3.9, SeverityLow},
		{"2", 0.0, SeverityLow},
		{"3.1", 10.1, SeverityUndefined},
		{"3.1", -0.1, SeverityUndefined},
		{"3.1", math.NaN(), SeverityUndefined},
		{"5.0", 5.0, SeverityUndefined},
		{"", 5.0, SeverityUndefined},
	}
	for _, tc := range tests {
		if got := SeverityOf(tc.version, tc.base); got != tc.want {
			t.Errorf("SeverityOf(%q, %v) = %s, want %s", tc.version, tc.base, got, tc.want)
		}
	}
}

func TestRoundup(t *testing.T) {
	tests := []struct {
		version string
		in      float64
		want    float64
	}{
		// Examples from CVSS 3.1 Appendix A.
		{"3.1", 4.02, 4.1},
		{"3.1", 4.00, 4.0},
		// The floating-point artefact 3.1 guards against.
		{"3.1", 4.000000000000001, 4.0},
		{"3.0", 4.000000000000001, 4.1},
		{"3.1", 0, 0},
		{"3.1", 10, 10},
		{"3.1", 9.760161495, 9.8},
		{"3.0", 9.760161495, 9.8},
		{"3.1", 6.99999, 7.0},
		{"3.1", 7.00001, 7.1},
	}
	for _, tc := range tests {
		if got := roundup(tc.version, tc.in); got != tc.want {
			t.Errorf("roundup(%s, %v) = %v, want %v", tc.version, tc.in, got, tc.want)
		}
	}
}

// TestAllV3BaseVectors checks every CVSS 3.x base vector: the score is in
// [0, 10] with one decimal, and zero exactly when there is no impact.
func TestAllV3BaseVectors(t *testing.T) {
	var vecs []string
	var build func(prefix string, i int)
	build = func(prefix string, i int) {
		if i == 8 {
			vecs = append(vecs, prefix)
			return
		}
		for _, v := range v3Metrics[i].values {
			build(prefix+"/"+v3Metrics[i].name+":"+v, i+1)
		}
	}
	build("CVSS:3.1", 0)
	if len(vecs) != 4*2*3*2*2*3*3*3 {
		t.Fatalf("built %d vectors", len(vecs))
	}
	for _, v := range vecs {
		s, err := Parse(v)
		if err != nil {
			t.Fatalf("Parse(%q): %v", v, err)
		}
		checkScore(t, v, s)
		noImpact := strings.HasSuffix(v, "/C:N/I:N/A:N")
		if (s.Base == 0) != noImpact {
			t.Errorf("Parse(%q).Base = %v", v, s.Base)
		}
		if s.Vector != v {
			t.Errorf("Parse(%q).Vector = %q", v, s.Vector)
		}
	}
}

// TestAllV4BaseVectors checks every CVSS 4.0 base vector: the score is in
// [0, 10] with one decimal, zero exactly when there is no impact, and never
// above its MacroVector's score.
func TestAllV4BaseVectors(t *testing.T) {
	if testing.Short() {
		t.Skip("104,976 vectors")
	}
	n := 0
	var build func(prefix string, i int)
	build = func(prefix string, i int) {
		if i == 11 {
			n++
			s, err := Parse(prefix)
			if err != nil {
				t.Fatalf("Parse(%q): %v", prefix, err)
			}
			checkScore(t, prefix, s)
			noImpact := strings.HasSuffix(prefix, "/VC:N/VI:N/VA:N/SC:N/SI:N/SA:N")
			if (s.Base == 0) != noImpact {
				t.Errorf("Parse(%q).Base = %v", prefix, s.Base)
			}
			return
		}
		for _, v := range v4Metrics[i].values {
			build(prefix+"/"+v4Metrics[i].name+":"+v, i+1)
		}
	}
	build("CVSS:4.0", 0)
	if n != 4*2*2*3*3*3*3*3*3*3*3 {
		t.Fatalf("checked %d vectors", n)
	}
}

func TestV4MacroVectorScoreIsUpperBound(t *testing.T) {
	if len(v4Lookup) != 270 {
		t.Fatalf("lookup table has %d entries, want 270", len(v4Lookup))
	}
	for _, tc := range knownScores {
		if !strings.HasPrefix(tc.vector, "CVSS:4.0/") || tc.base == 0 {
			continue
		}
		m, _, err := parseMetrics("4.0", strings.TrimPrefix(tc.vector, "CVSS:4.0/"), v4Metrics)
		if err != nil {
			t.Fatal(err)
		}
		m["E"], m["CR"], m["IR"], m["AR"] = "A", "H", "H", "H"
		if mv := v4LookupScore(v4MacroVector(m)); tc.base > mv {
			t.Errorf("%s: %v above its MacroVector score %v", tc.vector, tc.base, mv)
		}
	}
}

func checkScore(t *testing.T, in string, s Score) {
	t.Helper()
	if s.Base < 0 || s.Base > 10 || math.Round(s.Base*10)/10 != s.Base {
		t.Errorf("Parse(%q).Base = %v, not in [0,10] with one decimal", in, s.Base)
	}
	if s.Severity != SeverityOf(s.Version, s.Base) || s.Severity == SeverityUndefined {
		t.Errorf("Parse(%q).Severity = %q for %s %v", in, s.Severity, s.Version, s.Base)
	}
}

func FuzzParse(f *testing.F) {
	for _, tc := range knownScores {
		f.Add(tc.vector)
	}
	f.Add("CVSS:3.1/AV:N/AV:N")
	f.Add("(AV:N)")
	f.Fuzz(func(t *testing.T, in string) {
		s, err := Parse(in)
		if err != nil {
			if !errors.Is(err, ErrInvalidVector) {
				t.Fatalf("Parse(%q) error %v does not wrap ErrInvalidVector", in, err)
			}
			return
		}
		checkScore(t, in, s)
		again, err := Parse(s.Vector)
		if err != nil {
			t.Fatalf("Parse(%q) normalized to %q which fails: %v", in, s.Vector, err)
		}
		if again != s {
			t.Fatalf("Parse(%q) = %+v, but re-parsing gives %+v", in, s, again)
		}
	})
}
