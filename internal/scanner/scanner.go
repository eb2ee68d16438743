// Package scanner finds known vulnerabilities in container images, offline.
//
// It is the engine behind image scanning: osv-scalibr extracts the
// installed packages of an image (Debian/Ubuntu dpkg, Alpine apk, RPM
// databases and the modules built into Go binaries) and its offline
// matcher (enricher/vulnmatch/osvlocal, with downloading disabled) matches
// them against OSV advisories read from a local directory laid out as
// scripts/vulndb writes it: DIR/osv-scalibr/<Ecosystem>/all.zip. Nothing
// is ever fetched from the network: the matcher is given an HTTP client
// whose transport refuses every request.
package scanner

import (
	"archive/zip"
	"context"
	"errors"
	"fmt"
	"net/http"
	"os"
	"path/filepath"
	"sort"
	"strings"
	"time"

	v1 "github.com/google/go-containerregistry/pkg/v1"
	scalibr "github.com/google/osv-scalibr"
	"github.com/google/osv-scalibr/artifact/image/layerscanning/image"
	cpb "github.com/google/osv-scalibr/binary/proto/config_go_proto"
	"github.com/google/osv-scalibr/enricher"
	"github.com/google/osv-scalibr/enricher/vulnmatch/osvlocal"
	"github.com/google/osv-scalibr/extractor"
	"github.com/google/osv-scalibr/extractor/filesystem"
	"github.com/google/osv-scalibr/extractor/filesystem/language/golang/gobinary"
	"github.com/google/osv-scalibr/extractor/filesystem/os/apk"
	"github.com/google/osv-scalibr/extractor/filesystem/os/dpkg"
	"github.com/google/osv-scalibr/extractor/filesystem/os/osrelease"
	"github.com/google/osv-scalibr/extractor/filesystem/os/rpm"
	"github.com/google/osv-scalibr/inventory"
	"github.com/google/osv-scalibr/plugin"
	plugincfg "github.com/google/osv-scalibr/plugin/config"
	"google.golang.org/grpc"

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

// errNetworkDisabled is what every HTTP request attempted by a scan gets.
var errNetworkDisabled = errors.New("scanner: network access is disabled")

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

// Scanner scans an image.
type Scanner interface {
	Scan(ctx context.Context, img v1.Image) (Result, error)
}

// OSV is an osv-scalibr based Scanner reading an offline OSV database.
type OSV struct {
	dbDir string
}

var _ Scanner = (*OSV)(nil)

// New returns a Scanner reading the offline database at dbDir, laid out as
// scripts/vulndb writes it (dbDir/osv-scalibr/<Ecosystem>/all.zip). It never
// downloads anything. Ecosystems without an all.zip are not matched (their
// packages are still counted).
func New(dbDir string) (*OSV, error) {
	if dbDir == "" {
		return nil, fmt.Errorf("%w: empty directory name", ErrNoDatabase)
	}
	abs, err := filepath.Abs(dbDir)
	if err != nil {
		return nil, err
	}
	st, err := os.Stat(filepath.Join(abs, "osv-scalibr"))
	if err != nil {
		return nil, fmt.Errorf("%w: %v", ErrNoDatabase, err)
	}
	if !st.IsDir() {
		return nil, fmt.Errorf("%w: %s/osv-scalibr is not a directory", ErrNoDatabase, abs)
	}
	return &OSV{dbDir: abs}, nil
}

// extractors returns fresh instances of the extractors a scan runs.
func extractors() ([]plugin.Plugin, error) {
	cfg := &cpb.PluginConfig{}
	var out []plugin.Plugin
	for _, mk := range []func(*cpb.PluginConfig) (filesystem.Extractor, error){
		dpkg.New, apk.New, rpm.New, gobinary.New,
	} {
		e, err := mk(cfg)
		if err != nil {
			return nil, fmt.Errorf("scanner: extractor: %w", err)
		}
		out = append(out, e)
	}
	return out, nil
}

// Scan extracts img's packages and matches them against the database.
func (s *OSV) Scan(ctx context.Context, img v1.Image) (Result, error) {
	layers, err := img.Layers()
	if err != nil {
		return Result{}, fmt.Errorf("scanner: reading image: %w", err)
	}
	if len(layers) == 0 {
		return Result{Status: StatusUnsupportedImage, Findings: []Finding{}}, nil
	}
	plugins, err := extractors()
	if err != nil {
		return Result{}, err
	}
	simg, err := image.FromV1Image(img, image.DefaultConfig())
	if err != nil {
		return Result{}, fmt.Errorf("scanner: reading image: %w", err)
	}
	defer func() { _ = simg.CleanUp() }()

	offline := offlinePluginConfig()
	cfg := &scalibr.ScanConfig{
		Plugins: plugins,
		Capabilities: &plugin.Capabilities{
			OS:      plugin.OSLinux,
			Network: plugin.NetworkOffline,
		},
		ExplicitPlugins:      true,
		RequiredPluginConfig: offline,
	}
	sr, err := scalibr.New().ScanContainer(ctx, simg, cfg)
	if err != nil {
		return Result{}, fmt.Errorf("scanner: extracting packages: %w", err)
	}
	if err := ctx.Err(); err != nil {
		return Result{}, err
	}
	if sr.Status != nil && sr.Status.Status == plugin.ScanStatusFailed {
		return Result{}, fmt.Errorf("scanner: extracting packages: %s", sr.Status.FailureReason)
	}
	pkgs := sr.Inventory.Packages

	res := Result{Status: StatusComplete, Packages: len(pkgs), Findings: []Finding{}}
	if len(pkgs) == 0 {
		if osr, err := osrelease.GetOSRelease(simg.FS()); err != nil || (osr["ID"] == "" && osr["NAME"] == "") {
			res.Status = StatusUnsupportedImage
			return res, nil
		}
	}

	res.SourceUpdatedAt = s.sourceUpdatedAt()

	// osvlocal gives up on the first ecosystem whose archive is missing:
	// only hand it the packages whose ecosystem has one.
	var matchable []*extractor.Package
	for _, p := range pkgs {
		if s.hasDB(matcherEcosystem(p)) {
			matchable = append(matchable, p)
		}
	}
	if len(matchable) == 0 {
		return res, nil
	}
	m, err := osvlocal.New(&plugincfg.PluginConfig{
		ProtoConfig: &cpb.PluginConfig{
			PluginSpecific: []*cpb.PluginSpecificConfig{{
				Config: &cpb.PluginSpecificConfig_Osvlocal{Osvlocal: &cpb.OSVLocalConfig{
					LocalPath: s.dbDir,
					Download:  false,
					// Never contacted (Download is false and the client
					// refuses all requests); set to make that obvious.
					RemoteHost: "http://127.0.0.1:0",
				}},
			}},
		},
		ClientFactories: offline.ClientFactories,
	})
	if err != nil {
		return Result{}, fmt.Errorf("scanner: matcher: %w", err)
	}
	inv := &inventory.Inventory{Packages: matchable}
	if err := m.Enrich(ctx, &enricher.ScanInput{}, inv); err != nil {
		return Result{}, fmt.Errorf("scanner: matching: %w", err)
	}
	for _, pv := range inv.PackageVulns {
		if pv.Vulnerability == nil || pv.Package == nil {
			continue
		}
		res.Findings = append(res.Findings, toFinding(pv))
	}
	sortFindings(res.Findings)
	return res, nil
}

// matcherEcosystem is the directory osvlocal reads a package's advisories
// from (as its internal osvutil decides).
func matcherEcosystem(p *extractor.Package) string {
	eco := p.Ecosystem()
	if eco.Ecosystem == "" {
		return "GIT"
	}
	return string(eco.Ecosystem)
}

func (s *OSV) hasDB(eco string) bool {
	if eco == "" || strings.ContainsAny(eco, `/\`) || eco == "." || eco == ".." {
		return false
	}
	st, err := os.Stat(filepath.Join(s.dbDir, "osv-scalibr", eco, "all.zip"))
	return err == nil && st.Mode().IsRegular()
}

// sourceUpdatedAt returns the newest entry time of the database's archives.
func (s *OSV) sourceUpdatedAt() time.Time {
	var newest time.Time
	zips, _ := filepath.Glob(filepath.Join(s.dbDir, "osv-scalibr", "*", "all.zip"))
	for _, z := range zips {
		r, err := zip.OpenReader(z)
		if err != nil {
			continue
		}
		for _, f := range r.File {
			if t := f.Modified; t.After(newest) {
				newest = t
			}
		}
		_ = r.Close()
	}
	if !newest.IsZero() {
		newest = newest.UTC()
	}
	return newest
}

// offlinePluginConfig is a plugin configuration whose clients refuse to
// reach the network.
func offlinePluginConfig() *plugincfg.PluginConfig {
	return &plugincfg.PluginConfig{
		ProtoConfig:     &cpb.PluginConfig{DisableGoogleAuth: true},
		ClientFactories: offlineClients{},
	}
}

type refuseTransport struct{}

func (refuseTransport) RoundTrip(req *http.Request) (*http.Response, error) {
	if req.Body != nil {
		_ = req.Body.Close()
	}
	return nil, fmt.Errorf("%w: %s %s", errNetworkDisabled, req.Method, req.URL.Redacted())
}

// offlineClients implements plugincfg.ClientFactories without network.
type offlineClients struct{}

func (offlineClients) HTTPClient() *http.Client {
	return &http.Client{Transport: refuseTransport{}}
}

func (offlineClients) GRPCClientConn(string, ...grpc.DialOption) (grpc.ClientConnInterface, error) {
	return nil, errNetworkDisabled
}

func (offlineClients) GoogleHTTPClient(context.Context, ...string) (*http.Client, error) {
	return nil, errNetworkDisabled
}

var _ plugincfg.ClientFactories = offlineClients{}

var severityRank = map[string]int{
	cvss.SeverityCritical:      0,
	cvss.SeverityHigh:          1,
	cvss.SeverityMedium:        2,
	cvss.SeverityLow:           3,
	cvss.SeverityInformational: 4,
	cvss.SeverityUndefined:     5,
}

func sortFindings(fs []Finding) {
	sort.SliceStable(fs, func(i, j int) bool {
		a, b := fs[i], fs[j]
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
	})
}

func rank(sev string) int {
	if r, ok := severityRank[sev]; ok {
		return r
	}
	return len(severityRank)
}
