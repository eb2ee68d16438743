package cvss

import "math"

// v3Metrics lists the CVSS 3.x metrics in the order of the specification's
// vector string table: base, temporal, environmental.
var v3Metrics = []metric{
	{"AV", []string{"N", "A", "L", "P"}, true},
	{"AC", []string{"L", "H"}, true},
	{"PR", []string{"N", "L", "H"}, true},
	{"UI", []string{"N", "R"}, true},
	{"S", []string{"U", "C"}, true},
	{"C", []string{"H", "L", "N"}, true},
	{"I", []string{"H", "L", "N"}, true},
	{"A", []string{"H", "L", "N"}, true},
	{"E", []string{"X", "H", "F", "P", "U"}, false},
	{"RL", []string{"X", "U", "W", "T", "O"}, false},
	{"RC", []string{"X", "C", "R", "U"}, false},
	{"CR", []string{"X", "H", "M", "L"}, false},
	{"IR", []string{"X", "H", "M", "L"}, false},
	{"AR", []string{"X", "H", "M", "L"}, false},
	{"MAV", []string{"X", "N", "A", "L", "P"}, false},
	{"MAC", []string{"X", "L", "H"}, false},
	{"MPR", []string{"X", "N", "L", "H"}, false},
	{"MUI", []string{"X", "N", "R"}, false},
	{"MS", []string{"X", "U", "C"}, false},
	{"MC", []string{"X", "H", "L", "N"}, false},
	{"MI", []string{"X", "H", "L", "N"}, false},
	{"MA", []string{"X", "H", "L", "N"}, false},
}

// CVSS 3.x base metric weights (specification section 7.4).
var (
	v3AV  = map[string]float64{"N": 0.85, "A": 0.62, "L": 0.55, "P": 0.2}
	v3AC  = map[string]float64{"L": 0.77, "H": 0.44}
	v3UI  = map[string]float64{"N": 0.85, "R": 0.62}
	v3CIA = map[string]float64{"H": 0.56, "L": 0.22, "N": 0}
	// Privileges Required depends on Scope.
	v3PRUnchanged = map[string]float64{"N": 0.85, "L": 0.62, "H": 0.27}
	v3PRChanged   = map[string]float64{"N": 0.85, "L": 0.68, "H": 0.5}
)

func parseV3(version, body string) (Score, error) {
	m, norm, err := parseMetrics(version, body, v3Metrics)
	if err != nil {
		return Score{}, err
	}
	base := v3BaseScore(version, m)
	return Score{
		Version:  version,
		Base:     base,
		Severity: SeverityOf(version, base),
		Vector:   "CVSS:" + version + "/" + norm,
	}, nil
}

// v3BaseScore computes the CVSS 3.x base score (specification section 7.1).
func v3BaseScore(version string, m map[string]string) float64 {
	changed := m["S"] == "C"
	pr := v3PRUnchanged[m["PR"]]
	if changed {
		pr = v3PRChanged[m["PR"]]
	}
	iss := 1 - (1-v3CIA[m["C"]])*(1-v3CIA[m["I"]])*(1-v3CIA[m["A"]])
	var impact float64
	if changed {
		impact = 7.52*(iss-0.029) - 3.25*math.Pow(iss-0.02, 15)
	} else {
		impact = 6.42 * iss
	}
	if impact <= 0 {
		return 0
	}
	exploitability := 8.22 * v3AV[m["AV"]] * v3AC[m["AC"]] * pr * v3UI[m["UI"]]
	sum := impact + exploitability
	if changed {
		sum *= 1.08
	}
	return roundup(version, math.Min(sum, 10))
}

// roundup returns the smallest number, specified to one decimal place, that
// is equal to or higher than x. CVSS 3.1 (Appendix A) defines it with
// integer arithmetic so that floating-point errors such as
// 4.000000000000001 do not round up to 4.1; CVSS 3.0 defines it directly.
// x is never negative here.
func roundup(version string, x float64) float64 {
	if version == "3.0" {
		return math.Ceil(x*10) / 10
	}
	i := int64(math.Round(x * 100000))
	if i%10000 == 0 {
		return float64(i/10000) / 10
	}
	return float64(i/10000+1) / 10
}
