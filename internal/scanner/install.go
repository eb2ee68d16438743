package scanner

import (
	"fmt"
	"os"
	"path/filepath"
	"sort"
	"strings"
)

// Install validates an osv.dev per-ecosystem export (the all.zip of
// https://osv-vulnerabilities.storage.googleapis.com/<Ecosystem>/all.zip)
// and installs it atomically as dbDir/osv-scalibr/<Ecosystem>/all.zip,
// where New and Reload read it. Every .json entry must be an OSV
// advisory, and one base ecosystem (the part before ":", so "Debian:11"
// and "Debian:12" are both "Debian") must be affected by every advisory:
// exports list advisories that also affect other ecosystems, but a zip
// mixing ecosystems' advisories is refused.
func Install(dbDir, zipPath string) (ecosystem string, advisories int, err error) {
	data, err := os.ReadFile(zipPath)
	if err != nil {
		return "", 0, fmt.Errorf("scanner: install: %w", err)
	}
	vulns, _, err := parseArchiveStrict(data, true)
	if err != nil {
		return "", 0, fmt.Errorf("scanner: install: %s is not an OSV export (%v); download the ecosystem's all.zip from https://osv-vulnerabilities.storage.googleapis.com/<Ecosystem>/all.zip", zipPath, err)
	}
	if len(vulns) == 0 {
		return "", 0, fmt.Errorf("scanner: install: %s holds no advisories, so its ecosystem is unknown; install a non-empty osv.dev export", zipPath)
	}
	// common holds the base ecosystems every advisory so far affects.
	var common map[string]bool
	for _, v := range vulns {
		bases := map[string]bool{}
		for _, a := range v.GetAffected() {
			base, _, _ := strings.Cut(a.GetPackage().GetEcosystem(), ":")
			if base != "" {
				bases[base] = true
			}
		}
		if len(bases) == 0 {
			continue // nothing affected (e.g. withdrawn): no say in the ecosystem
		}
		if common == nil {
			common = bases
			continue
		}
		for b := range common {
			if !bases[b] {
				delete(common, b)
			}
		}
		if len(common) == 0 {
			return "", 0, fmt.Errorf("scanner: install: %s mixes ecosystems (advisory %s shares none with those before it); install one osv.dev per-ecosystem export per call", zipPath, v.GetId())
		}
	}
	if len(common) == 0 {
		return "", 0, fmt.Errorf("scanner: install: no advisory in %s names an affected ecosystem; install an osv.dev per-ecosystem export", zipPath)
	}
	if len(common) > 1 {
		names := make([]string, 0, len(common))
		for b := range common {
			names = append(names, b)
		}
		sort.Strings(names)
		return "", 0, fmt.Errorf("scanner: install: every advisory in %s affects all of %s, so its ecosystem is ambiguous; install an osv.dev per-ecosystem export", zipPath, strings.Join(names, ", "))
	}
	for b := range common {
		ecosystem = b
	}
	if !plainDirName(ecosystem) {
		return "", 0, fmt.Errorf("scanner: install: ecosystem %q of %s cannot be a directory name; this is not an osv.dev export", ecosystem, zipPath)
	}

	dir := filepath.Join(dbDir, "osv-scalibr", ecosystem)
	if err := os.MkdirAll(dir, 0o755); err != nil {
		return "", 0, fmt.Errorf("scanner: install: %w (is the database directory writable?)", err)
	}
	if err := writeAtomic(filepath.Join(dir, "all.zip"), data); err != nil {
		return "", 0, fmt.Errorf("scanner: install: %w (is the database directory writable and not full?)", err)
	}
	return ecosystem, len(vulns), nil
}

func plainDirName(s string) bool {
	return s != "" && s != "." && s != ".." && !strings.ContainsAny(s, "/\\\x00:") && filepath.Base(s) == s
}

// writeAtomic replaces name with data so that a reader sees the old or
// the new file, whole, even across a crash.
func writeAtomic(name string, data []byte) (err error) {
	dir := filepath.Dir(name)
	f, err := os.CreateTemp(dir, ".all.zip-*")
	if err != nil {
		return err
	}
	defer func() {
		if err != nil {
			_ = f.Close()
			_ = os.Remove(f.Name())
		}
	}()
	if _, err = f.Write(data); err != nil {
		return err
	}
	if err = f.Chmod(0o644); err != nil {
		return err
	}
	if err = f.Sync(); err != nil {
		return err
	}
	if err = f.Close(); err != nil {
		return err
	}
	if err = os.Rename(f.Name(), name); err != nil {
		return err
	}
	// Persist the rename itself.
	d, err := os.Open(dir)
	if err != nil {
		return err
	}
	defer func() { _ = d.Close() }()
	return d.Sync()
}
