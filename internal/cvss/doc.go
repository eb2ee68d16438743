// Package cvss parses CVSS vector strings, as found in advisories (for
// example OSV "severity" entries of type CVSS_V4, CVSS_V3 or CVSS_V2), computes their
// base score and maps it to the severity ECR reports for image scan findings.
//
// The package is pure: it performs no I/O and keeps no state.
//
// # Supported versions
//
//   - CVSS 4.0 ("CVSS:4.0/..."): the CVSS-B score (base metrics only),
//     computed with the specification's MacroVector method: the six EQ
//     levels select a MacroVector whose score comes from the published
//     lookup table, and the score is interpolated down from it by the
//     vector's severity distance to the MacroVector's highest-severity
//     vectors (specification section 8.2), rounded half up to one decimal
//     as the FIRST reference calculator does.
//   - CVSS 3.0 and 3.1 ("CVSS:3.0/..." and "CVSS:3.1/..."): the base score
//     is computed exactly as in the FIRST specifications, including the
//     scope-changed formulas. CVSS 3.1 uses the specification's Roundup
//     function defined with integer arithmetic (to avoid floating-point
//     artefacts); CVSS 3.0 uses the 3.0 definition (the smallest number with
//     one decimal that is equal to or higher than its input).
//   - CVSS 2.0 ("AV:N/AC:L/Au:N/C:P/I:P/A:P", optionally enclosed in
//     parentheses as NVD sometimes prints it, or prefixed with "CVSS:2.0/").
//
// Any other version is an error.
//
// Non-base metrics may appear in a vector (v2 and v3 temporal and
// environmental metrics; v4 threat, environmental and supplemental
// metrics); their values are validated but they do not affect the base
// score (for v4 the score is computed as if they were all Not Defined, which
// is what CVSS-B means). Every metric may appear at most once, mandatory
// base metrics must all be present, and metric names and values are
// case-sensitive as in the specifications. Metrics may appear in any order;
// Score.Vector is the normalized vector, with the metrics in the order of
// the specification's tables.
//
// # Severity mapping
//
// ECR's severities are CRITICAL, HIGH, MEDIUM, LOW, INFORMATIONAL and
// UNDEFINED. Base scores are mapped as NVD does:
//
//	CVSS 3.x and 4.0      CVSS 2.0
//	9.0–10.0 CRITICAL     7.0–10.0 HIGH
//	7.0–8.9  HIGH         4.0–6.9  MEDIUM
//	4.0–6.9  MEDIUM       0.0–3.9  LOW
//	0.1–3.9  LOW
//	0.0      INFORMATIONAL
//
// NVD calls a CVSS 3.x or 4.0 base score of 0.0 "None"; ECR has no such
// severity, so it is reported as INFORMATIONAL. A score outside [0, 10] (or NaN) or an
// unknown version maps to UNDEFINED.
package cvss
