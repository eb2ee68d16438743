package scanner

import (
	"regexp"
	"strings"

	"github.com/google/osv-scalibr/extractor"
	apkmeta "github.com/google/osv-scalibr/extractor/filesystem/os/apk/metadata"
	dpkgmeta "github.com/google/osv-scalibr/extractor/filesystem/os/dpkg/metadata"
	"github.com/google/osv-scalibr/inventory"
	"github.com/google/osv-scalibr/semantic"
	osvpb "github.com/ossf/osv-schema/bindings/go/osvschema"
	"google.golang.org/protobuf/types/known/structpb"

	"github.com/ecrd/ecrd/internal/cvss"
)

// cveInID finds a CVE id at the start of an advisory id or after a
// distribution prefix ("DEBIAN-CVE-2024-1234", "UBUNTU-CVE-...").
var cveInID = regexp.MustCompile(`(?:^|-)(CVE-\d{4}-\d{4,})$`)

func toFinding(pv *inventory.PackageVuln) Finding {
	v, p := pv.Vulnerability, pv.Package
	eco := p.Ecosystem()
	f := Finding{
		Package:   p.Name,
		Version:   p.Version,
		Ecosystem: eco.String(),
		Severity:  cvss.SeverityUndefined,
	}
	f.ID, f.Aliases = ids(v)

	affected := affectedEntries(v, p, string(eco.Ecosystem))
	f.FixedIn = fixedIn(affected, p.Version, eco.String())
	f.Severity, f.CVSSVector, f.Score = severity(v, affected)

	f.Description = strings.TrimSpace(v.GetSummary())
	if f.Description == "" {
		f.Description = strings.TrimSpace(v.GetDetails())
	}
	for _, r := range v.GetReferences() {
		if r.GetType() == osvpb.Reference_ADVISORY && r.GetUrl() != "" {
			f.URI = r.GetUrl()
			break
		}
	}
	if f.URI == "" {
		f.URI = "https://osv.dev/vulnerability/" + v.GetId()
	}
	return f
}

// ids returns the finding's id (a CVE when there is one) and the other ids.
func ids(v *osvpb.Vulnerability) (string, []string) {
	all := append([]string{v.GetId()}, v.GetAliases()...)
	id := ""
	for _, a := range all {
		if strings.HasPrefix(a, "CVE-") {
			id = a
			break
		}
	}
	if id == "" {
		if m := cveInID.FindStringSubmatch(v.GetId()); m != nil {
			id = m[1]
		}
	}
	if id == "" {
		id = v.GetId()
	}
	aliases := []string{}
	seen := map[string]bool{id: true}
	for _, a := range all {
		if a != "" && !seen[a] {
			seen[a] = true
			aliases = append(aliases, a)
		}
	}
	return id, aliases
}

// affectedEntries returns the advisory's entries for the package: same
// ecosystem (ignoring the release suffix) and name (binary, source or
// origin name). If none has the name, all entries of the ecosystem.
func affectedEntries(v *osvpb.Vulnerability, p *extractor.Package, ecoBase string) []*osvpb.Affected {
	names := map[string]bool{p.Name: true}
	switch m := p.Metadata.(type) {
	case *dpkgmeta.Metadata:
		if m.SourceName != "" {
			names[m.SourceName] = true
		}
	case *apkmeta.Metadata:
		if m.OriginName != "" {
			names[m.OriginName] = true
		}
	}
	if ecoBase == "Go" && p.Name == "go" {
		names["stdlib"] = true
	}
	var byName, byEco []*osvpb.Affected
	for _, a := range v.GetAffected() {
		base, _, _ := strings.Cut(a.GetPackage().GetEcosystem(), ":")
		if base != ecoBase {
			continue
		}
		byEco = append(byEco, a)
		if names[a.GetPackage().GetName()] {
			byName = append(byName, a)
		}
	}
	if len(byName) > 0 {
		return byName
	}
	return byEco
}

// fixedIn returns the lowest "fixed" event above version.
func fixedIn(affected []*osvpb.Affected, version, ecosystem string) string {
	installed, err := semantic.Parse(version, ecosystem)
	if err != nil {
		installed = nil
	}
	best := ""
	var bestV semantic.Version
	for _, a := range affected {
		for _, r := range a.GetRanges() {
			for _, e := range r.GetEvents() {
				fx := e.GetFixed()
				if fx == "" {
					continue
				}
				if installed == nil {
					if best == "" {
						best = fx
					}
					continue
				}
				if c, err := installed.CompareStr(fx); err != nil || c >= 0 {
					continue
				}
				if bestV == nil {
					if fv, err := semantic.Parse(fx, ecosystem); err == nil {
						best, bestV = fx, fv
					}
					continue
				}
				if c, err := bestV.CompareStr(fx); err == nil && c > 0 {
					if fv, err := semantic.Parse(fx, ecosystem); err == nil {
						best, bestV = fx, fv
					}
				}
			}
		}
	}
	return best
}

// severity picks the severity of an advisory for the package: from its
// CVSS vectors (v3.x first, as ECR reports, then v4, then v2; the
// advisory's own, then those of the package's affected entries), else
// from a "severity" word in database_specific or ecosystem_specific, else
// UNDEFINED.
func severity(v *osvpb.Vulnerability, affected []*osvpb.Affected) (sev, vector string, score float64) {
	sevs := append([]*osvpb.Severity{}, v.GetSeverity()...)
	for _, a := range affected {
		sevs = append(sevs, a.GetSeverity()...)
	}
	for _, t := range []osvpb.Severity_Type{osvpb.Severity_CVSS_V3, osvpb.Severity_CVSS_V4, osvpb.Severity_CVSS_V2} {
		for _, s := range sevs {
			if s.GetType() != t {
				continue
			}
			sc, err := cvss.Parse(s.GetScore())
			if err != nil {
				continue
			}
			return sc.Severity, strings.TrimSpace(s.GetScore()), sc.Base
		}
	}
	structs := []*structpb.Struct{v.GetDatabaseSpecific()}
	for _, a := range affected {
		structs = append(structs, a.GetDatabaseSpecific(), a.GetEcosystemSpecific())
	}
	for _, st := range structs {
		if s := wordSeverity(st); s != "" {
			return s, "", 0
		}
	}
	return cvss.SeverityUndefined, "", 0
}

// wordSeverity maps a struct's "severity" or "urgency" word (GHSA's
// MODERATE, Debian's urgency...) to ECR's severity.
func wordSeverity(st *structpb.Struct) string {
	if st == nil {
		return ""
	}
	for _, key := range []string{"severity", "urgency"} {
		val, ok := st.GetFields()[key]
		if !ok {
			continue
		}
		switch strings.ToUpper(strings.TrimSpace(val.GetStringValue())) {
		case "CRITICAL":
			return cvss.SeverityCritical
		case "HIGH", "IMPORTANT":
			return cvss.SeverityHigh
		case "MODERATE", "MEDIUM":
			return cvss.SeverityMedium
		case "LOW", "UNIMPORTANT", "NEGLIGIBLE":
			return cvss.SeverityLow
		}
	}
	return ""
}
