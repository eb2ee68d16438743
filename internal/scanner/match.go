package scanner

import (
	"archive/zip"
	"bytes"
	"context"
	"crypto/sha256"
	"encoding/hex"
	"fmt"
	"io"
	"log/slog"
	"os"
	"path/filepath"
	"regexp"
	"sort"
	"strings"
	"sync"
	"time"

	"github.com/google/osv-scalibr/enricher/vulnmatch/osvlocal"
	"github.com/google/osv-scalibr/extractor"
	javaarchivemeta "github.com/google/osv-scalibr/extractor/filesystem/language/java/archive/metadata"
	javascriptmeta "github.com/google/osv-scalibr/extractor/filesystem/language/javascript/metadata"
	apkmeta "github.com/google/osv-scalibr/extractor/filesystem/os/apk/metadata"
	dpkgmeta "github.com/google/osv-scalibr/extractor/filesystem/os/dpkg/metadata"
	"github.com/google/osv-scalibr/inventory"
	osvpb "github.com/ossf/osv-schema/bindings/go/osvschema"
	"google.golang.org/protobuf/encoding/protojson"
)

// snapshot is one version of the database. It is immutable once built
// (its ecosystems load lazily, once), so Match can use it without locks
// while Reload builds the next.
type snapshot struct {
	stamp  string
	source Source
	ecos   map[string]*ecoDB
}

// ecoDB is one ecosystem's archive, parsed and indexed on first use.
type ecoDB struct {
	name string
	// f stays open so that the archive read later is the one hashed, even
	// if Install renames a new one over it meanwhile.
	f    *os.File
	size int64
	hash string

	once   sync.Once
	byName map[string][]*osvpb.Vulnerability
	err    error
}

func archivePaths(dbDir string) ([]string, error) {
	root := filepath.Join(dbDir, "osv-scalibr")
	st, err := os.Stat(root)
	if err != nil {
		return nil, fmt.Errorf("%w: %v", ErrNoDatabase, err)
	}
	if !st.IsDir() {
		return nil, fmt.Errorf("%w: %s is not a directory", ErrNoDatabase, root)
	}
	zips, err := filepath.Glob(filepath.Join(root, "*", "all.zip"))
	if err != nil {
		return nil, err
	}
	sort.Strings(zips)
	return zips, nil
}

// stampOf summarises the archives' names, sizes and modification times:
// cheap to compute, it tells Reload whether to look closer.
func stampOf(dbDir string) (string, error) {
	zips, err := archivePaths(dbDir)
	if err != nil {
		return "", err
	}
	var b strings.Builder
	for _, z := range zips {
		st, err := os.Stat(z)
		if err != nil || !st.Mode().IsRegular() {
			continue
		}
		fmt.Fprintf(&b, "%s\x00%d\x00%d\n", z, st.Size(), st.ModTime().UnixNano())
	}
	return b.String(), nil
}

// openSnapshot opens and hashes the archives of dbDir. Ecosystems whose
// archive hash is the same as in prev keep prev's (maybe loaded) index.
func openSnapshot(dbDir string, prev *snapshot) (*snapshot, error) {
	stamp, err := stampOf(dbDir)
	if err != nil {
		return nil, err
	}
	zips, err := archivePaths(dbDir)
	if err != nil {
		return nil, err
	}
	snap := &snapshot{stamp: stamp, ecos: map[string]*ecoDB{}}
	version := sha256.New()
	var newest time.Time
	for _, z := range zips {
		eco := filepath.Base(filepath.Dir(z))
		f, err := os.Open(z)
		if err != nil {
			return nil, fmt.Errorf("scanner: opening database: %w", err)
		}
		st, err := f.Stat()
		if err != nil || !st.Mode().IsRegular() {
			_ = f.Close()
			continue
		}
		h := sha256.New()
		if _, err := io.Copy(h, io.NewSectionReader(f, 0, st.Size())); err != nil {
			_ = f.Close()
			return nil, fmt.Errorf("scanner: reading %s: %w", z, err)
		}
		db := &ecoDB{name: eco, f: f, size: st.Size(), hash: hex.EncodeToString(h.Sum(nil))}
		if prev != nil {
			if old, ok := prev.ecos[eco]; ok && old.hash == db.hash {
				_ = f.Close()
				db = old
			}
		}
		snap.ecos[eco] = db
		fmt.Fprintf(version, "%s\x00%s\n", eco, db.hash)
		// Entry times only: the central directory, not the advisories.
		if zr, err := zip.NewReader(io.NewSectionReader(db.f, 0, db.size), db.size); err == nil {
			for _, e := range zr.File {
				if e.Modified.After(newest) {
					newest = e.Modified
				}
			}
		}
	}
	if !newest.IsZero() {
		newest = newest.UTC()
	}
	snap.source = Source{UpdatedAt: newest}
	if len(snap.ecos) > 0 {
		snap.source.Version = hex.EncodeToString(version.Sum(nil))
	}
	return snap, nil
}

// load parses and indexes the archive, once.
func (db *ecoDB) load() (map[string][]*osvpb.Vulnerability, error) {
	db.once.Do(func() {
		data := make([]byte, db.size)
		if _, err := db.f.ReadAt(data, 0); err != nil {
			db.err = fmt.Errorf("scanner: reading %s database: %w", db.name, err)
			return
		}
		sum := sha256.Sum256(data)
		if hex.EncodeToString(sum[:]) != db.hash {
			db.err = fmt.Errorf("scanner: %s database changed while in use; reload the scanner", db.name)
			return
		}
		vulns, err := parseArchive(data)
		if err != nil {
			db.err = fmt.Errorf("scanner: %s database: %w", db.name, err)
			return
		}
		db.byName = indexByName(vulns)
		slog.Debug("scanner: loaded database", "ecosystem", db.name, "advisories", len(vulns))
	})
	return db.byName, db.err
}

// unmarshalAdvisory tolerates fields newer than the bindings, so an
// advisory is not lost to a schema addition.
var unmarshalAdvisory = protojson.UnmarshalOptions{DiscardUnknown: true}

// parseArchive returns the advisories of an OSV export zip, skipping
// .json entries that are not advisories.
func parseArchive(data []byte) ([]*osvpb.Vulnerability, error) {
	vulns, _, err := parseArchiveStrict(data, false)
	return vulns, err
}

// parseArchiveStrict is parseArchive, failing on the first bad entry when
// strict (for Install) and else counting them in skipped.
func parseArchiveStrict(data []byte, strict bool) ([]*osvpb.Vulnerability, int, error) {
	zr, err := zip.NewReader(bytes.NewReader(data), int64(len(data)))
	if err != nil {
		return nil, 0, err
	}
	var vulns []*osvpb.Vulnerability
	skipped := 0
	for _, e := range zr.File {
		if !strings.HasSuffix(e.Name, ".json") {
			continue
		}
		v, err := readAdvisory(e)
		if err != nil {
			if strict {
				return nil, 0, fmt.Errorf("%s: %w", e.Name, err)
			}
			skipped++
			slog.Debug("scanner: skipping advisory", "entry", e.Name, "error", err)
			continue
		}
		vulns = append(vulns, v)
	}
	return vulns, skipped, nil
}

func readAdvisory(e *zip.File) (*osvpb.Vulnerability, error) {
	rc, err := e.Open()
	if err != nil {
		return nil, err
	}
	defer func() { _ = rc.Close() }()
	content, err := io.ReadAll(rc)
	if err != nil {
		return nil, err
	}
	v := &osvpb.Vulnerability{}
	if err := unmarshalAdvisory.Unmarshal(content, v); err != nil {
		return nil, err
	}
	if v.GetId() == "" {
		return nil, fmt.Errorf("no id")
	}
	return v, nil
}

// indexByName maps every affected package name to its advisories, each
// once per name.
func indexByName(vulns []*osvpb.Vulnerability) map[string][]*osvpb.Vulnerability {
	idx := map[string][]*osvpb.Vulnerability{}
	for _, v := range vulns {
		if v.GetWithdrawn() != nil {
			continue
		}
		seen := map[string]bool{}
		for _, a := range v.GetAffected() {
			name := a.GetPackage().GetName()
			if name == "" || seen[name] {
				continue
			}
			seen[name] = true
			idx[name] = append(idx[name], v)
		}
	}
	return idx
}

var pythonSeparators = regexp.MustCompile(`[-_.]+`)

// candidateNames are the names an advisory may list p under: those
// osv-scalibr's matcher derives from a package, and a few more (extra
// candidates cost little: VulnerabilitiesAffectingPackage decides).
func candidateNames(p *extractor.Package) []string {
	names := []string{p.Name}
	add := func(n string) {
		if n != "" {
			names = append(names, n)
		}
	}
	eco := string(p.Ecosystem().Ecosystem)
	if pu := p.PURL(); pu != nil && pu.Namespace != "" {
		add(pu.Namespace + "/" + p.Name)
		add(pu.Namespace + ":" + p.Name)
	}
	switch eco {
	case "Go":
		if p.Name == "go" {
			add("stdlib")
		}
	case "PyPI":
		add(strings.ToLower(pythonSeparators.ReplaceAllLiteralString(p.Name, "-")))
	}
	switch m := p.Metadata.(type) {
	case *dpkgmeta.Metadata:
		add(m.SourceName)
	case *apkmeta.Metadata:
		add(m.OriginName)
	case *javaarchivemeta.Metadata:
		if m.GroupID != "" && m.ArtifactID != "" {
			add(m.GroupID + ":" + m.ArtifactID)
		}
	}
	return names
}

// matcherEcosystem is the directory a package's advisories are read
// from, as osv-scalibr's matcher decides.
func matcherEcosystem(p *extractor.Package) string {
	eco := p.Ecosystem()
	if eco.Ecosystem == "" {
		return "GIT"
	}
	return string(eco.Ecosystem)
}

// isLocal reports a package osv-scalibr never matches: an npm package
// from a local path.
func isLocal(p *extractor.Package) bool {
	m, ok := p.Metadata.(interface {
		PackageSource() javascriptmeta.NPMPackageSource
	})
	return ok && m.PackageSource() == javascriptmeta.Local
}

// matchPackage returns p's findings in snap.
func (snap *snapshot) matchPackage(p *extractor.Package) ([]Finding, error) {
	if isLocal(p) {
		return nil, nil
	}
	db, ok := snap.ecos[matcherEcosystem(p)]
	if !ok {
		return nil, nil
	}
	idx, err := db.load()
	if err != nil {
		return nil, err
	}
	var cands []*osvpb.Vulnerability
	seen := map[*osvpb.Vulnerability]bool{}
	for _, n := range candidateNames(p) {
		for _, v := range idx[n] {
			if !seen[v] {
				seen[v] = true
				cands = append(cands, v)
			}
		}
	}
	if len(cands) == 0 {
		return nil, nil
	}
	var out []Finding
	for _, v := range osvlocal.VulnerabilitiesAffectingPackage(cands, p) {
		out = append(out, toFinding(&inventory.PackageVuln{Vulnerability: v, Package: p}))
	}
	return out, nil
}

// Match matches package lists against the database loaded now; out[i]
// are lists[i]'s findings, sorted. A package present in several lists is
// matched once, and the findings of all lists are sorted once: stored
// lists share most of their packages.
func (s *OSV) Match(ctx context.Context, lists [][]byte) ([][]Finding, Source, error) {
	snap := s.snap.Load()
	// all holds each distinct package's findings; a package's findings
	// are the indexes of all it owns.
	var all []Finding
	cache := map[string][]int{}
	perList := make([][][]int, len(lists))
	for i, l := range lists {
		if err := ctx.Err(); err != nil {
			return nil, Source{}, err
		}
		raw, err := splitList(l)
		if err != nil {
			return nil, Source{}, fmt.Errorf("list %d: %w", i, err)
		}
		refs := make([][]int, 0, len(raw))
		for _, b := range raw {
			idx, ok := cache[string(b)]
			if !ok {
				p, err := decodePackage(b)
				if err != nil {
					return nil, Source{}, fmt.Errorf("list %d: %w", i, err)
				}
				found, err := snap.matchPackage(p)
				if err != nil {
					return nil, Source{}, err
				}
				for _, f := range found {
					idx = append(idx, len(all))
					all = append(all, f)
				}
				cache[string(b)] = idx
			}
			if len(idx) > 0 {
				refs = append(refs, idx)
			}
		}
		perList[i] = refs
	}

	// Rank all findings once; lists then sort integers.
	order := make([]int, len(all))
	for i := range order {
		order[i] = i
	}
	sort.SliceStable(order, func(a, b int) bool { return findingLess(all[order[a]], all[order[b]]) })
	rank := make([]int, len(all))
	for r, i := range order {
		rank[i] = r
	}
	// The same package at two paths gives the same finding twice, and a
	// finding has no path to tell them apart: key them to keep one.
	keyOf := map[string]int{}
	key := make([]int, len(all))
	for i, f := range all {
		k := f.ID + "\x00" + f.Package + "\x00" + f.Version + "\x00" + f.Ecosystem
		id, ok := keyOf[k]
		if !ok {
			id = len(keyOf)
			keyOf[k] = id
		}
		key[i] = id
	}

	out := make([][]Finding, len(lists))
	seen := map[int]bool{}
	var ids []int
	for i, refs := range perList {
		ids = ids[:0]
		clear(seen)
		for _, idx := range refs {
			for _, j := range idx {
				if !seen[key[j]] {
					seen[key[j]] = true
					ids = append(ids, j)
				}
			}
		}
		sort.Slice(ids, func(a, b int) bool { return rank[ids[a]] < rank[ids[b]] })
		fs := make([]Finding, len(ids))
		for n, j := range ids {
			fs[n] = all[j]
		}
		out[i] = fs
	}
	return out, snap.source, nil
}
