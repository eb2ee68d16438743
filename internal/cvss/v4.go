package cvss

import (
	"math"
	"strings"
)

// v4Metrics lists the CVSS 4.0 metrics in the order of the specification's
// vector string: base, threat, environmental, supplemental.
var v4Metrics = []metric{
	{"AV", []string{"N", "A", "L", "P"}, true},
	{"AC", []string{"L", "H"}, true},
	{"AT", []string{"N", "P"}, true},
	{"PR", []string{"N", "L", "H"}, true},
	{"UI", []string{"N", "P", "A"}, true},
	{"VC", []string{"H", "L", "N"}, true},
	{"VI", []string{"H", "L", "N"}, true},
	{"VA", []string{"H", "L", "N"}, true},
	{"SC", []string{"H", "L", "N"}, true},
	{"SI", []string{"H", "L", "N"}, true},
	{"SA", []string{"H", "L", "N"}, true},
	{"E", []string{"X", "A", "P", "U"}, false},
	{"CR", []string{"X", "H", "M", "L"}, false},
	{"IR", []string{"X", "H", "M", "L"}, false},
	{"AR", []string{"X", "H", "M", "L"}, false},
	{"MAV", []string{"X", "N", "A", "L", "P"}, false},
	{"MAC", []string{"X", "L", "H"}, false},
	{"MAT", []string{"X", "N", "P"}, false},
	{"MPR", []string{"X", "N", "L", "H"}, false},
	{"MUI", []string{"X", "N", "P", "A"}, false},
	{"MVC", []string{"X", "H", "L", "N"}, false},
	{"MVI", []string{"X", "H", "L", "N"}, false},
	{"MVA", []string{"X", "H", "L", "N"}, false},
	{"MSC", []string{"X", "H", "L", "N"}, false},
	{"MSI", []string{"X", "S", "H", "L", "N"}, false},
	{"MSA", []string{"X", "S", "H", "L", "N"}, false},
	{"S", []string{"X", "N", "P"}, false},
	{"AU", []string{"X", "N", "Y"}, false},
	{"R", []string{"X", "A", "U", "I"}, false},
	{"V", []string{"X", "D", "C"}, false},
	{"RE", []string{"X", "L", "M", "H"}, false},
	{"U", []string{"X", "Clear", "Green", "Amber", "Red"}, false},
}

// v4Levels gives each metric value's severity level, in steps of 0.1, used
// for the severity distance between a vector and its MacroVector's
// highest-severity vectors (specification section 8.2).
var v4Levels = map[string]map[string]float64{
	"AV": {"N": 0.0, "A": 0.1, "L": 0.2, "P": 0.3},
	"PR": {"N": 0.0, "L": 0.1, "H": 0.2},
	"UI": {"N": 0.0, "P": 0.1, "A": 0.2},
	"AC": {"L": 0.0, "H": 0.1},
	"AT": {"N": 0.0, "P": 0.1},
	"VC": {"H": 0.0, "L": 0.1, "N": 0.2},
	"VI": {"H": 0.0, "L": 0.1, "N": 0.2},
	"VA": {"H": 0.0, "L": 0.1, "N": 0.2},
	"SC": {"H": 0.1, "L": 0.2, "N": 0.3},
	"SI": {"S": 0.0, "H": 0.1, "L": 0.2, "N": 0.3},
	"SA": {"S": 0.0, "H": 0.1, "L": 0.2, "N": 0.3},
	"CR": {"H": 0.0, "M": 0.1, "L": 0.2},
	"IR": {"H": 0.0, "M": 0.1, "L": 0.2},
	"AR": {"H": 0.0, "M": 0.1, "L": 0.2},
}

// v4DistanceOrder is the order in which the per-metric distances are
// checked and summed.
var v4DistanceOrder = []string{"AV", "PR", "UI", "AC", "AT", "VC", "VI", "VA", "SC", "SI", "SA", "CR", "IR", "AR"}

// Highest-severity vectors of each EQ level (EQ3 and EQ6 jointly), as
// published with the specification. They are partial vectors; EQ5 (exploit
// maturity) has no metric taking part in the distance.
var (
	v4MaxEQ1 = [][]string{
		{"AV:N/PR:N/UI:N"},
		{"AV:A/PR:N/UI:N", "AV:N/PR:L/UI:N", "AV:N/PR:N/UI:P"},
		{"AV:P/PR:N/UI:N", "AV:A/PR:L/UI:P"},
	}
	v4MaxEQ2 = [][]string{
		{"AC:L/AT:N"},
		{"AC:H/AT:N", "AC:L/AT:P"},
	}
	// Indexed by EQ3 then EQ6; EQ3=2 only exists with EQ6=1.
	v4MaxEQ3EQ6 = [][][]string{
		{
			{"VC:H/VI:H/VA:H/CR:H/IR:H/AR:H"},
			{"VC:H/VI:H/VA:L/CR:M/IR:M/AR:H", "VC:H/VI:H/VA:H/CR:M/IR:M/AR:M"},
		},
		{
			{"VC:L/VI:H/VA:H/CR:H/IR:H/AR:H", "VC:H/VI:L/VA:H/CR:H/IR:H/AR:H"},
			{
				"VC:L/VI:H/VA:L/CR:H/IR:M/AR:H", "VC:L/VI:H/VA:H/CR:H/IR:M/AR:M",
				"VC:H/VI:L/VA:H/CR:M/IR:H/AR:M", "VC:H/VI:L/VA:L/CR:M/IR:H/AR:H",
				"VC:L/VI:L/VA:H/CR:H/IR:H/AR:M",
			},
		},
		{
			nil,
			{"VC:L/VI:L/VA:L/CR:H/IR:H/AR:H"},
		},
	}
	v4MaxEQ4 = [][]string{
		{"SC:H/SI:S/SA:S"},
		{"SC:H/SI:H/SA:H"},
		{"SC:L/SI:L/SA:L"},
	}
)

// Depth of each MacroVector, in 0.1 steps, per EQ level.
var (
	v4DepthEQ1    = []float64{1, 4, 5}
	v4DepthEQ2    = []float64{1, 2}
	v4DepthEQ3EQ6 = [][]float64{{7, 6}, {8, 8}, {math.NaN(), 10}}
	v4DepthEQ4    = []float64{6, 5, 4}
)

func parseV4(body string) (Score, error) {
	m, norm, err := parseMetrics("4.0", body, v4Metrics)
	if err != nil {
		return Score{}, err
	}
	base := v4BaseScore(m)
	return Score{
		Version:  "4.0",
		Base:     base,
		Severity: SeverityOf("4.0", base),
		Vector:   "CVSS:4.0/" + norm,
	}, nil
}

// v4BaseScore computes the CVSS-B score: the CVSS 4.0 score of the base
// metrics alone, that is with threat and environmental metrics Not Defined
// (E:X scores as E:A, CR/IR/AR:X as H, modified metrics as their base
// metric). It follows the specification's MacroVector interpolation.
func v4BaseScore(base map[string]string) float64 {
	// Effective values: base metrics plus the Not Defined defaults.
	m := make(map[string]string, len(base)+4)
	for k, v := range base {
		m[k] = v
	}
	m["E"], m["CR"], m["IR"], m["AR"] = "A", "H", "H", "H"

	if m["VC"] == "N" && m["VI"] == "N" && m["VA"] == "N" && m["SC"] == "N" && m["SI"] == "N" && m["SA"] == "N" {
		return 0
	}
	eq := v4MacroVector(m)
	value := v4LookupScore(eq)

	// 1a. Maximal scoring difference to the next lower MacroVector of each
	// EQ (NaN when there is none).
	lower := func(i, delta int) [6]int {
		next := eq
		next[i] += delta
		return next
	}
	scoreEQ1 := v4LookupScore(lower(0, 1))
	scoreEQ2 := v4LookupScore(lower(1, 1))
	var scoreEQ3EQ6 float64
	switch eq3, eq6 := eq[2], eq[5]; {
	case eq3 == 0 && eq6 == 0: // 00 -> 01 or 10: the higher of the two
		left := v4LookupScore(lower(5, 1))
		right := v4LookupScore(lower(2, 1))
		if left > right {
			scoreEQ3EQ6 = left
		} else {
			scoreEQ3EQ6 = right
		}
	case eq3 == 1 && eq6 == 0: // 10 -> 11
		scoreEQ3EQ6 = v4LookupScore(lower(5, 1))
	case eq3 == 2 && eq6 == 1: // 21 -> 32, which does not exist
		next := eq
		next[2]++
		next[5]++
		scoreEQ3EQ6 = v4LookupScore(next)
	default: // 01 -> 11, 11 -> 21
		scoreEQ3EQ6 = v4LookupScore(lower(2, 1))
	}
	scoreEQ4 := v4LookupScore(lower(3, 1))
	scoreEQ5 := v4LookupScore(lower(4, 1))

	// 1b. Severity distance from the first highest-severity vector of the
	// MacroVector that is at least as severe in every metric.
	dist := v4Distances(m, eq)
	distEQ1 := dist["AV"] + dist["PR"] + dist["UI"]
	distEQ2 := dist["AC"] + dist["AT"]
	distEQ3EQ6 := dist["VC"] + dist["VI"] + dist["VA"] + dist["CR"] + dist["IR"] + dist["AR"]
	distEQ4 := dist["SC"] + dist["SI"] + dist["SA"]

	// 1c/1d. Proportion of the MacroVector's depth, times the available
	// scoring difference; 2. mean over the EQs that have a lower
	// MacroVector. EQ5's proportion is always 0.
	const step = 0.1
	var sum float64
	n := 0
	add := func(available, distance, depth float64) {
		if math.IsNaN(available) {
			return
		}
		n++
		sum += available * (distance / (depth * step))
	}
	add(value-scoreEQ1, distEQ1, v4DepthEQ1[eq[0]])
	add(value-scoreEQ2, distEQ2, v4DepthEQ2[eq[1]])
	add(value-scoreEQ3EQ6, distEQ3EQ6, v4DepthEQ3EQ6[eq[2]][eq[5]])
	add(value-scoreEQ4, distEQ4, v4DepthEQ4[eq[3]])
	if !math.IsNaN(value - scoreEQ5) {
		n++ // proportion 0: counts in the mean, adds nothing
	}
	if n > 0 {
		value -= sum / float64(n)
	}
	// 3. Clamp and round half up to one decimal; the small epsilon keeps
	// values one ULP below an x.x5 tie from rounding down, as the
	// reference calculator does.
	value = math.Max(0, math.Min(10, value))
	return math.Round((value+1e-6)*10) / 10
}

// v4MacroVector returns the EQ1..EQ6 levels of effective metric values m.
func v4MacroVector(m map[string]string) [6]int {
	var eq [6]int
	av, pr, ui := m["AV"], m["PR"], m["UI"]
	switch {
	case av == "N" && pr == "N" && ui == "N":
		eq[0] = 0
	case (av == "N" || pr == "N" || ui == "N") && av != "P":
		eq[0] = 1
	default:
		eq[0] = 2
	}
	if !(m["AC"] == "L" && m["AT"] == "N") {
		eq[1] = 1
	}
	vc, vi, va := m["VC"], m["VI"], m["VA"]
	switch {
	case vc == "H" && vi == "H":
		eq[2] = 0
	case vc == "H" || vi == "H" || va == "H":
		eq[2] = 1
	default:
		eq[2] = 2
	}
	switch {
	case m["SI"] == "S" || m["SA"] == "S": // only via MSI/MSA, not in base
		eq[3] = 0
	case m["SC"] == "H" || m["SI"] == "H" || m["SA"] == "H":
		eq[3] = 1
	default:
		eq[3] = 2
	}
	switch m["E"] {
	case "P":
		eq[4] = 1
	case "U":
		eq[4] = 2
	}
	if !((m["CR"] == "H" && vc == "H") || (m["IR"] == "H" && vi == "H") || (m["AR"] == "H" && va == "H")) {
		eq[5] = 1
	}
	return eq
}

// v4LookupScore returns the MacroVector's score, or NaN if there is no
// such MacroVector.
func v4LookupScore(eq [6]int) float64 {
	var b [6]byte
	for i, v := range eq {
		if v < 0 || v > 9 {
			return math.NaN()
		}
		b[i] = byte('0' + v)
	}
	if s, ok := v4Lookup[string(b[:])]; ok {
		return s
	}
	return math.NaN()
}

// v4Distances returns the per-metric severity distances of m from the
// first of its MacroVector's highest-severity vectors that no metric of m
// exceeds (if none qualifies, from the last one, as the reference
// calculator does).
func v4Distances(m map[string]string, eq [6]int) map[string]float64 {
	var dist map[string]float64
	for _, e1 := range v4MaxEQ1[eq[0]] {
		for _, e2 := range v4MaxEQ2[eq[1]] {
			for _, e36 := range v4MaxEQ3EQ6[eq[2]][eq[5]] {
				for _, e4 := range v4MaxEQ4[eq[3]] {
					mx := v4ParsePartial(e1 + "/" + e2 + "/" + e36 + "/" + e4)
					dist = make(map[string]float64, len(v4DistanceOrder))
					ok := true
					for _, k := range v4DistanceOrder {
						d := v4Levels[k][m[k]] - v4Levels[k][mx[k]]
						dist[k] = d
						if d < 0 {
							ok = false
						}
					}
					if ok {
						return dist
					}
				}
			}
		}
	}
	return dist
}

func v4ParsePartial(s string) map[string]string {
	out := make(map[string]string, 14)
	for part := range strings.SplitSeq(s, "/") {
		k, v, _ := strings.Cut(part, ":")
		out[k] = v
	}
	return out
}
