// Package scanner finds known vulnerabilities in container images, offline.
//
// Extract streams an image's layers (applying OCI whiteouts), keeps in
// memory only the files osv-scalibr's extractors ask for (Debian/Ubuntu
// dpkg, Alpine apk and RPM databases, Go binaries, npm package.json,
// Python wheel/egg metadata, Java archives, and os-release) and runs the
// extractors on that in-memory file system. Nothing of the image is
// unpacked to disk; only an RPM database is copied to a temporary file
// while osv-scalibr reads it, as its reader needs a real file.
// The package list it returns is encoded for storage, so that Match can
// re-match it whenever the database changes without reading the image
// again.
//
// Match matches package lists against OSV advisories read from a local
// directory laid out as scripts/vulndb writes it and Install adds to:
// DIR/osv-scalibr/<Ecosystem>/all.zip. Each archive is parsed once, on
// first use, and indexed by package name; osv-scalibr's offline matcher
// (osvlocal.VulnerabilitiesAffectingPackage) decides which advisories
// affect a package. Reload swaps in a new database when the directory
// changes. Nothing is ever fetched from the network: the extractors it
// runs have no network code, and run through osv-scalibr's file system
// walk alone (its Scan would bring enrichers that can reach it).
package scanner

import (
	"context"
	"errors"
	"fmt"
	"path/filepath"
	"sync"
	"sync/atomic"
	"time"

	v1 "github.com/google/go-containerregistry/pkg/v1"

	"github.com/ecrd/ecrd/internal/cvss"
)

// Scan statuses, as ECR's imageScanStatus reports them.
const (
	StatusComplete         = "COMPLETE"
	StatusUnsupportedImage = "UNSUPPORTED_IMAGE"
)

// ErrNoDatabase is returned by New when the database directory has no
// osv-scalibr subdirectory.
var ErrNoDatabase = errors.New("scanner: no vulnerability database")

// Finding is one vulnerability affecting one package of an image.
type Finding struct {
	// ID is the advisory's CVE id if it has a CVE alias (or is a CVE),
	// else its OSV id.
	ID string
	// Aliases are the advisory's other ids: its OSV id (when ID is a CVE)
	// and its aliases, without ID.
	Aliases []string
	// Package, Version and Ecosystem describe the affected package, as
	// installed (Ecosystem as OSV names it, e.g. "Go", "Debian:12").
	Package   string
	Version   string
	Ecosystem string
	// FixedIn is the lowest version fixing the advisory above Version, if
	// known.
	FixedIn string
	// Severity is ECR's severity: CRITICAL, HIGH, MEDIUM, LOW,
	// INFORMATIONAL or UNDEFINED.
	Severity string
	// CVSSVector and Score are the CVSS vector Severity was computed from
	// and its base score; empty and 0 when the advisory has none.
	CVSSVector string
	Score      float64
	// Description is the advisory's summary, else its details.
	Description string
	// URI is the advisory's first ADVISORY reference, else its osv.dev page.
	URI string
}

// Result is the outcome of a scan.
type Result struct {
	// Status is StatusComplete, or StatusUnsupportedImage when the image
	// has neither a recognisable OS nor any package.
	Status string
	// Packages is the number of packages found.
	Packages int
	// Findings are sorted by severity (most severe first), then ID,
	// package and version.
	Findings []Finding
	// SourceUpdatedAt is the newest modification time of the advisories
	// in the database (zip entry times), zero when unknown.
	SourceUpdatedAt time.Time
}

// Extraction is an image's package list, before matching.
type Extraction struct {
	Status   string // StatusComplete or StatusUnsupportedImage
	Packages []byte // the packages, encoded for storage; Match and Join read it
	Count    int    // how many packages
}

// Source describes the vulnerability database a match used.
type Source struct {
	// Version changes whenever the database's content changes: a SHA-256
	// over the ecosystems' names and archive hashes; "" when the folder
	// holds no archive at all (no data is installed).
	Version string
	// UpdatedAt is the newest modification time of the advisories (zip
	// entry times), zero if unknown.
	UpdatedAt time.Time
}

// Scanner extracts the packages of images and matches package lists
// against a vulnerability database.
type Scanner interface {
	Extract(ctx context.Context, img v1.Image) (Extraction, error)
	// Match matches package lists (from Extract or Join) against the
	// database now loaded; out[i] are lists[i]'s findings, sorted by
	// severity, then ID, package and version.
	Match(ctx context.Context, lists [][]byte) ([][]Finding, Source, error)
	Source() Source
}

// OSV is an osv-scalibr based Scanner reading an offline OSV database.
type OSV struct {
	dbDir string
	snap  atomic.Pointer[snapshot]
	// reload serialises Reload; Match never takes it.
	reload sync.Mutex
}

var _ Scanner = (*OSV)(nil)

// New returns a Scanner reading the offline database at dbDir, laid out as
// scripts/vulndb writes it (dbDir/osv-scalibr/<Ecosystem>/all.zip). It never
// downloads anything. Ecosystems without an all.zip are not matched (their
// packages are still counted). Archives are hashed now and parsed on first
// use.
func New(dbDir string) (*OSV, error) {
	if dbDir == "" {
		return nil, fmt.Errorf("%w: empty directory name", ErrNoDatabase)
	}
	abs, err := filepath.Abs(dbDir)
	if err != nil {
		return nil, err
	}
	s := &OSV{dbDir: abs}
	snap, err := openSnapshot(abs, nil)
	if err != nil {
		return nil, err
	}
	s.snap.Store(snap)
	return s, nil
}

// Source describes the database Match uses now.
func (s *OSV) Source() Source { return s.snap.Load().source }

// Reload re-reads the database directory if its archives changed (names,
// sizes or modification times) and reports whether the database's content
// did. Matches running meanwhile finish on the database they started with.
func (s *OSV) Reload() (changed bool, err error) {
	s.reload.Lock()
	defer s.reload.Unlock()
	old := s.snap.Load()
	st, err := stampOf(s.dbDir)
	if err != nil {
		return false, err
	}
	if st == old.stamp {
		return false, nil
	}
	snap, err := openSnapshot(s.dbDir, old)
	if err != nil {
		return false, err
	}
	s.snap.Store(snap)
	return snap.source.Version != old.source.Version, nil
}

// Scan extracts img's packages and matches them against the database.
func (s *OSV) Scan(ctx context.Context, img v1.Image) (Result, error) {
	ex, err := s.Extract(ctx, img)
	if err != nil {
		return Result{}, err
	}
	res := Result{Status: ex.Status, Packages: ex.Count, Findings: []Finding{}}
	if ex.Status != StatusComplete {
		return res, nil
	}
	out, src, err := s.Match(ctx, [][]byte{ex.Packages})
	if err != nil {
		return Result{}, err
	}
	res.Findings = out[0]
	res.SourceUpdatedAt = src.UpdatedAt
	return res, nil
}

var severityRank = map[string]int{
	cvss.SeverityCritical:      0,
	cvss.SeverityHigh:          1,
	cvss.SeverityMedium:        2,
	cvss.SeverityLow:           3,
	cvss.SeverityInformational: 4,
	cvss.SeverityUndefined:     5,
}

// findingLess orders findings by severity (most severe first), then ID,
// package and version.
func findingLess(a, b Finding) bool {
	if ra, rb := rank(a.Severity), rank(b.Severity); ra != rb {
		return ra < rb
	}
	if a.ID != b.ID {
		return a.ID < b.ID
	}
	if a.Package != b.Package {
		return a.Package < b.Package
	}
	return a.Version < b.Version
}

func rank(sev string) int {
	if r, ok := severityRank[sev]; ok {
		return r
	}
	return len(severityRank)
}
