package cvss

import "math"

// v2Metrics lists the CVSS 2.0 metrics in the order of the specification's
// vector table: base, temporal, environmental.
var v2Metrics = []metric{
	{"AV", []string{"L", "A", "N"}, true},
	{"AC", []string{"H", "M", "L"}, true},
	{"Au", []string{"M", "S", "N"}, true},
	{"C", []string{"N", "P", "C"}, true},
	{"I", []string{"N", "P", "C"}, true},
	{"A", []string{"N", "P", "C"}, true},
	{"E", []string{"U", "POC", "F", "H", "ND"}, false},
	{"RL", []string{"OF", "TF", "W", "U", "ND"}, false},
	{"RC", []string{"UC", "UR", "C", "ND"}, false},
	{"CDP", []string{"N", "L", "LM", "MH", "H", "ND"}, false},
	{"TD", []string{"N", "L", "M", "H", "ND"}, false},
	{"CR", []string{"L", "M", "H", "ND"}, false},
	{"IR", []string{"L", "M", "H", "ND"}, false},
	{"AR", []string{"L", "M", "H", "ND"}, false},
}

// CVSS 2.0 base metric weights (specification section 3.2.1).
var (
	v2AV  = map[string]float64{"L": 0.395, "A": 0.646, "N": 1.0}
	v2AC  = map[string]float64{"H": 0.35, "M": 0.61, "L": 0.71}
	v2Au  = map[string]float64{"M": 0.45, "S": 0.56, "N": 0.704}
	v2CIA = map[string]float64{"N": 0, "P": 0.275, "C": 0.660}
)

func parseV2(body string) (Score, error) {
	m, norm, err := parseMetrics("2.0", body, v2Metrics)
	if err != nil {
		return Score{}, err
	}
	base := v2BaseScore(m)
	return Score{
		Version:  "2.0",
		Base:     base,
		Severity: SeverityOf("2.0", base),
		Vector:   norm,
	}, nil
}

// v2BaseScore computes the CVSS 2.0 base score (specification 3.2.1).
func v2BaseScore(m map[string]string) float64 {
	impact := 10.41 * (1 - (1-v2CIA[m["C"]])*(1-v2CIA[m["I"]])*(1-v2CIA[m["A"]]))
	if impact == 0 {
		return 0 // f(Impact) = 0
	}
	exploitability := 20 * v2AV[m["AV"]] * v2AC[m["AC"]] * v2Au[m["Au"]]
	base := (0.6*impact + 0.4*exploitability - 1.5) * 1.176
	// round_to_1_decimal, half up; snapping to 6 decimals first keeps
	// floating-point noise (x.x4999999…) from flipping a half.
	return math.Round(math.Round(base*1e6)/1e5) / 10
}
