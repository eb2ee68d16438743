package cvss

import (
	"errors"
	"fmt"
	"math"
	"strings"
)

// ECR's finding severities.
const (
	SeverityCritical      = "CRITICAL"
	SeverityHigh          = "HIGH"
	SeverityMedium        = "MEDIUM"
	SeverityLow           = "LOW"
	SeverityInformational = "INFORMATIONAL"
	SeverityUndefined     = "UNDEFINED"
)

// ErrInvalidVector is wrapped by every error Parse returns: unknown version
// prefix, malformed, unknown or duplicate metrics, unknown metric values,
// missing mandatory metrics.
var ErrInvalidVector = errors.New("cvss: invalid vector")

// Score is a parsed vector's base score and severity.
type Score struct {
	// Version is the CVSS version: "4.0", "3.1", "3.0" or "2.0".
	Version string
	// Base is the base score, in [0, 10] with one decimal.
	Base float64
	// Severity is ECR's severity for Base (see SeverityOf).
	Severity string
	// Vector is the normalized vector: metrics in the specification's
	// order, with the "CVSS:x.y/" prefix for v3 and v4 and no prefix for
	// v2.
	Vector string
}

// Parse parses a CVSS vector string (with its "CVSS:3.1/" or "CVSS:4.0/"
// prefix for v3 and v4; v2 has none) and computes its base score (for v4,
// the CVSS-B score). Surrounding white space is ignored. Errors wrap
// ErrInvalidVector.
func Parse(vector string) (Score, error) {
	v := strings.TrimSpace(vector)
	if rest, ok := strings.CutPrefix(v, "CVSS:"); ok {
		version, body, found := strings.Cut(rest, "/")
		if !found {
			return Score{}, invalid("missing metrics after %q", "CVSS:"+version)
		}
		switch version {
		case "3.0", "3.1":
			return parseV3(version, body)
		case "4.0":
			return parseV4(body)
		case "2.0":
			return parseV2(body)
		default:
			return Score{}, invalid("unknown CVSS version %q", version)
		}
	}
	if strings.HasPrefix(v, "(") && strings.HasSuffix(v, ")") {
		v = v[1 : len(v)-1]
	}
	return parseV2(v)
}

// SeverityOf maps a base score to ECR's severity for a CVSS version ("3.0",
// "3.1", "4.0", "2.0", or just the major version "3", "4", "2"), as NVD
// does. For v3 and v4 a score of 0.0 is INFORMATIONAL (NVD's "None"). An
// unknown version or a score outside [0, 10] yields UNDEFINED.
func SeverityOf(version string, base float64) string {
	if math.IsNaN(base) || base < 0 || base > 10 {
		return SeverityUndefined
	}
	major, _, _ := strings.Cut(version, ".")
	switch major {
	case "3", "4":
		switch {
		case base >= 9.0:
			return SeverityCritical
		case base >= 7.0:
			return SeverityHigh
		case base >= 4.0:
			return SeverityMedium
		case base > 0:
			return SeverityLow
		default:
			return SeverityInformational
		}
	case "2":
		switch {
		case base >= 7.0:
			return SeverityHigh
		case base >= 4.0:
			return SeverityMedium
		default:
			return SeverityLow
		}
	}
	return SeverityUndefined
}

func invalid(format string, args ...any) error {
	return fmt.Errorf("%w: %s", ErrInvalidVector, fmt.Sprintf(format, args...))
}

// metric describes one metric of a version: its abbreviated name, its
// allowed values and whether it is a mandatory (base) metric.
type metric struct {
	name      string
	values    []string
	mandatory bool
}

// parseMetrics splits a "K:V/K:V..." body against defs. It returns the
// metric values by name and the normalized body (defs order).
func parseMetrics(version, body string, defs []metric) (map[string]string, string, error) {
	byName := make(map[string]*metric, len(defs))
	for i := range defs {
		byName[defs[i].name] = &defs[i]
	}
	got := make(map[string]string, len(defs))
	if body == "" {
		return nil, "", invalid("CVSS %s: no metrics", version)
	}
	for part := range strings.SplitSeq(body, "/") {
		name, value, ok := strings.Cut(part, ":")
		if !ok || name == "" {
			return nil, "", invalid("CVSS %s: malformed metric %q", version, part)
		}
		def, known := byName[name]
		if !known {
			return nil, "", invalid("CVSS %s: unknown metric %q", version, name)
		}
		if _, dup := got[name]; dup {
			return nil, "", invalid("CVSS %s: duplicate metric %q", version, name)
		}
		allowed := false
		for _, v := range def.values {
			if v == value {
				allowed = true
				break
			}
		}
		if !allowed {
			return nil, "", invalid("CVSS %s: unknown value %q for metric %s (want one of %s)",
				version, value, name, strings.Join(def.values, ", "))
		}
		got[name] = value
	}
	var missing []string
	var b strings.Builder
	for _, def := range defs {
		value, ok := got[def.name]
		if !ok {
			if def.mandatory {
				missing = append(missing, def.name)
			}
			continue
		}
		if b.Len() > 0 {
			b.WriteByte('/')
		}
		b.WriteString(def.name)
		b.WriteByte(':')
		b.WriteString(value)
	}
	if len(missing) > 0 {
		return nil, "", invalid("CVSS %s: missing mandatory metric(s) %s", version, strings.Join(missing, ", "))
	}
	return got, b.String(), nil
}
