package scanner

import (
	"archive/zip"
	"bytes"
	"context"
	"encoding/json"
	"errors"
	"flag"
	"net/http"
	"os"
	"path/filepath"
	"reflect"
	"testing"
	"time"

	v1 "github.com/google/go-containerregistry/pkg/v1"
	"github.com/google/go-containerregistry/pkg/v1/empty"

	"github.com/ecrd/ecrd/internal/scanner/scannertest"
)

// dbTime is the entry time of the fixture archives.
var dbTime = time.Date(2026, 11, 5, 23, 49, 57, 0, time.UTC)

// ecosystems gets an archive in every fixture database (empty unless the
// test provides advisories).
var ecosystems = []string{"Go", "Debian", "Alpine", "AlmaLinux", "PyPI", "npm"}

// writeDB writes an osvlocal database into a temporary directory:
// advisories maps an ecosystem to its OSV documents.
func writeDB(t *testing.T, advisories map[string][]map[string]any) string {
	t.Helper()
	dir := t.TempDir()
	for _, eco := range ecosystems {
		p := filepath.Join(dir, "osv-scalibr", eco, "all.zip")
		if err := os.MkdirAll(filepath.Dir(p), 0o755); err != nil {
			t.Fatal(err)
		}
		var buf bytes.Buffer
		zw := zip.NewWriter(&buf)
		for _, adv := range advisories[eco] {
			w, err := zw.CreateHeader(&zip.FileHeader{Name: adv["id"].(string) + ".json", Method: zip.Deflate, Modified: dbTime})
			if err != nil {
				t.Fatal(err)
			}
			if err := json.NewEncoder(w).Encode(adv); err != nil {
				t.Fatal(err)
			}
		}
		if err := zw.Close(); err != nil {
			t.Fatal(err)
		}
		if err := os.WriteFile(p, buf.Bytes(), 0o644); err != nil {
			t.Fatal(err)
		}
	}
	return dir
}

// file is a regular file of a test image's layer.
type file = scannertest.File

// imageOf builds an image of one layer holding files.
func imageOf(t testing.TB, files ...file) v1.Image {
	t.Helper()
	img, err := scannertest.Image(files)
	if err != nil {
		t.Fatal(err)
	}
	return img
}

func TestMain(m *testing.M) {
	flag.Parse()
	if !testing.Verbose() {
		SetLogger(nil)
	}
	os.Exit(m.Run())
}

func scan(t *testing.T, dbDir string, img v1.Image) Result {
	t.Helper()
	s, err := New(dbDir)
	if err != nil {
		t.Fatal(err)
	}
	ctx, cancel := context.WithTimeout(context.Background(), 2*time.Minute)
	defer cancel()
	res, err := s.Scan(ctx, img)
	if err != nil {
		t.Fatalf("Scan: %v", err)
	}
	return res
}

func findingsFor(res Result, id string) []Finding {
	var out []Finding
	for _, f := range res.Findings {
		if f.ID == id {
			out = append(out, f)
		}
	}
	return out
}

// CVSS:3.1 vectors and their scores.
const (
	vectorHigh     = "CVSS:3.1/AV:N/AC:L/PR:N/UI:N/S:U/C:N/I:N/A:H" // 7.5
	vectorCritical = "CVSS:3.1/AV:N/AC:L/PR:N/UI:N/S:U/C:H/I:H/A:H" // 9.8
)

func goAdvisory() map[string]any {
	return map[string]any{
		"schema_version": "1.3.1",
		"id":             "GO-2021-0113",
		"modified":       "2024-05-20T16:03:47Z",
		"published":      "2021-10-06T17:51:21Z",
		"aliases":        []string{"CVE-2021-38561", "GHSA-ppp9-7jff-5vj2"},
		"summary":        "Out-of-bounds read in golang.org/x/text/language",
		"details":        "Due to improper index calculation, an incorrectly formatted language tag can cause Parse to panic via an out of bounds read.",
		"severity":       []map[string]string{{"type": "CVSS_V3", "score": vectorHigh}},
		"affected": []map[string]any{{
			"package": map[string]string{"name": "golang.org/x/text", "ecosystem": "Go"},
			"ranges": []map[string]any{{
				"type":   "SEMVER",
				"events": []map[string]string{{"introduced": "0"}, {"fixed": "0.3.7"}},
			}},
			"ecosystem_specific": map[string]any{"imports": []map[string]any{{"path": "golang.org/x/text/language", "symbols": []string{"Parse"}}}},
		}},
		"references": []map[string]string{
			{"type": "FIX", "url": "https://go.dev/cl/340830"},
			{"type": "ADVISORY", "url": "https://nvd.nist.gov/vuln/detail/CVE-2021-38561"},
		},
	}
}

// buildGoBinary compiles a tiny program importing golang.org/x/text at
// version; it skips the test when the module cannot be fetched.
func buildGoBinary(t *testing.T, version string) []byte {
	t.Helper()
	b, err := scannertest.GoBinary(t.TempDir(), version)
	if err != nil {
		t.Fatalf("building a Go binary against golang.org/x/text@%s (scripts/install-test-tools fetches the module): %v", version, err)
	}
	return b
}

func TestGoBinary(t *testing.T) {
	db := writeDB(t, map[string][]map[string]any{"Go": {goAdvisory()}})

	t.Run("vulnerable", func(t *testing.T) {
		img := imageOf(t, file{Name: "usr/local/bin/xt", Mode: 0o755, Body: buildGoBinary(t, "v0.3.5")})
		res := scan(t, db, img)
		if res.Status != StatusComplete {
			t.Fatalf("status %q", res.Status)
		}
		if res.Packages < 2 { // golang.org/x/text and the Go standard library
			t.Errorf("packages = %d, want >= 2", res.Packages)
		}
		fs := findingsFor(res, "CVE-2021-38561")
		if len(fs) != 1 {
			t.Fatalf("findings %+v, want one CVE-2021-38561", res.Findings)
		}
		f := fs[0]
		want := Finding{
			ID:          "CVE-2021-38561",
			Aliases:     []string{"GO-2021-0113", "GHSA-ppp9-7jff-5vj2"},
			Package:     "golang.org/x/text",
			Version:     "0.3.5",
			Ecosystem:   "Go",
			FixedIn:     "0.3.7",
			Severity:    "HIGH",
			CVSSVector:  vectorHigh,
			Score:       7.5,
			Description: "Out-of-bounds read in golang.org/x/text/language",
			URI:         "https://nvd.nist.gov/vuln/detail/CVE-2021-38561",
		}
		if !equalFinding(f, want) {
			t.Errorf("finding\n got %+v\nwant %+v", f, want)
		}
		if !res.SourceUpdatedAt.Equal(dbTime) {
			t.Errorf("SourceUpdatedAt = %v, want %v", res.SourceUpdatedAt, dbTime)
		}
	})

	t.Run("fixed", func(t *testing.T) {
		img := imageOf(t, file{Name: "usr/local/bin/xt", Mode: 0o755, Body: buildGoBinary(t, "v0.3.7")})
		res := scan(t, db, img)
		if res.Status != StatusComplete || res.Packages < 2 {
			t.Fatalf("status %q packages %d", res.Status, res.Packages)
		}
		if len(res.Findings) != 0 {
			t.Errorf("findings %+v, want none", res.Findings)
		}
	})
}

func equalFinding(a, b Finding) bool {
	return reflect.DeepEqual(a, b)
}

const debianOSRelease = `PRETTY_NAME="Debian GNU/Linux 12 (bookworm)"
NAME="Debian GNU/Linux"
VERSION_ID="12"
VERSION="12 (bookworm)"
VERSION_CODENAME=bookworm
ID=debian
HOME_URL="https://www.debian.org/"
`

func dpkgImage(t testing.TB, version string) v1.Image {
	status := "Package: openssl\nStatus: install ok installed\nPriority: optional\nSection: utils\nInstalled-Size: 2310\nMaintainer: Debian OpenSSL Team <pkg-openssl-devel@alioth-lists.debian.net>\nArchitecture: amd64\nVersion: " + version + "\nDescription: Secure Sockets Layer toolkit - cryptographic utility\n\n"
	return imageOf(t,
		file{Name: "etc/os-release", Body: []byte(debianOSRelease)},
		file{Name: "var/lib/dpkg/status", Body: []byte(status)},
	)
}

func debianAdvisory() map[string]any {
	return map[string]any{
		"schema_version": "1.6.0",
		"id":             "DSA-5621-1",
		"modified":       "2024-02-01T00:00:00Z",
		"aliases":        []string{"CVE-2023-5678"},
		"summary":        "openssl - security update",
		"severity":       []map[string]string{{"type": "CVSS_V3", "score": vectorCritical}},
		"affected": []map[string]any{{
			"package": map[string]string{"name": "openssl", "ecosystem": "Debian:12"},
			"ranges": []map[string]any{{
				"type":   "ECOSYSTEM",
				"events": []map[string]string{{"introduced": "0"}, {"fixed": "3.0.13-1~deb12u1"}},
			}},
		}},
		"references": []map[string]string{{"type": "WEB", "url": "https://security-tracker.debian.org/tracker/DSA-5621-1"}},
	}
}

func TestDpkg(t *testing.T) {
	db := writeDB(t, map[string][]map[string]any{"Debian": {debianAdvisory()}})

	res := scan(t, db, dpkgImage(t, "3.0.11-1~deb12u1"))
	if res.Status != StatusComplete || res.Packages != 1 {
		t.Fatalf("status %q packages %d", res.Status, res.Packages)
	}
	if len(res.Findings) != 1 {
		t.Fatalf("findings %+v, want one", res.Findings)
	}
	want := Finding{
		ID:          "CVE-2023-5678",
		Aliases:     []string{"DSA-5621-1"},
		Package:     "openssl",
		Version:     "3.0.11-1~deb12u1",
		Ecosystem:   "Debian:12",
		FixedIn:     "3.0.13-1~deb12u1",
		Severity:    "CRITICAL",
		CVSSVector:  vectorCritical,
		Score:       9.8,
		Description: "openssl - security update",
		URI:         "https://osv.dev/vulnerability/DSA-5621-1",
	}
	if !equalFinding(res.Findings[0], want) {
		t.Errorf("finding\n got %+v\nwant %+v", res.Findings[0], want)
	}

	res = scan(t, db, dpkgImage(t, "3.0.13-1~deb12u1"))
	if res.Status != StatusComplete || res.Packages != 1 || len(res.Findings) != 0 {
		t.Errorf("fixed version: status %q packages %d findings %+v", res.Status, res.Packages, res.Findings)
	}
}

const alpineOSRelease = `NAME="Alpine Linux"
ID=alpine
VERSION_ID=3.19.1
PRETTY_NAME="Alpine Linux v3.19"
HOME_URL="https://alpinelinux.org/"
BUG_REPORT_URL="https://gitlab.alpinelinux.org/alpine/aports/-/issues"
`

const apkInstalled = `C:Q1yB3CVUFMOjnLOOEAUIUJ7SdEeAo=
P:busybox
V:1.36.1-r15
A:x86_64
S:509308
I:950272
T:Size optimized toolbox of many common UNIX utilities
U:https://busybox.net/
L:GPL-2.0-only
o:busybox
m:Sören Tempel <soeren+alpine@soeren-tempel.net>
t:1707246000
c:ae2ab4ce8d4b3b3a8bb8c3fa1af0d9bb2c58a1e8

`

func TestApk(t *testing.T) {
	adv := map[string]any{
		"schema_version": "1.6.0",
		"id":             "CVE-2023-42366",
		"modified":       "2024-05-01T00:00:00Z",
		"details":        "A heap-buffer-overflow was discovered in BusyBox v.1.36.1 in the next_token function at awk.c:1159.",
		"affected": []map[string]any{{
			"package": map[string]string{"name": "busybox", "ecosystem": "Alpine:v3.19"},
			"ranges": []map[string]any{{
				"type":   "ECOSYSTEM",
				"events": []map[string]string{{"introduced": "0"}, {"fixed": "1.36.1-r16"}},
			}},
		}},
		"database_specific": map[string]any{"severity": "MODERATE"},
	}
	db := writeDB(t, map[string][]map[string]any{"Alpine": {adv}})
	img := imageOf(t,
		file{Name: "etc/os-release", Body: []byte(alpineOSRelease)},
		file{Name: "lib/apk/db/installed", Body: []byte(apkInstalled)},
	)
	res := scan(t, db, img)
	if res.Status != StatusComplete || res.Packages != 1 {
		t.Fatalf("status %q packages %d", res.Status, res.Packages)
	}
	if len(res.Findings) != 1 {
		t.Fatalf("findings %+v, want one", res.Findings)
	}
	want := Finding{
		ID:          "CVE-2023-42366",
		Aliases:     []string{},
		Package:     "busybox",
		Version:     "1.36.1-r15",
		Ecosystem:   "Alpine:v3.19",
		FixedIn:     "1.36.1-r16",
		Severity:    "MEDIUM", // no CVSS vector: database_specific.severity
		Description: "A heap-buffer-overflow was discovered in BusyBox v.1.36.1 in the next_token function at awk.c:1159.",
		URI:         "https://osv.dev/vulnerability/CVE-2023-42366",
	}
	if !equalFinding(res.Findings[0], want) {
		t.Errorf("finding\n got %+v\nwant %+v", res.Findings[0], want)
	}
}

func TestUnsupportedImage(t *testing.T) {
	db := writeDB(t, nil)
	res := scan(t, db, imageOf(t, file{Name: "hello.txt", Body: []byte("hello\n")}))
	if res.Status != StatusUnsupportedImage || res.Packages != 0 || len(res.Findings) != 0 {
		t.Errorf("got %+v, want UNSUPPORTED_IMAGE", res)
	}
	// An empty image too.
	res = scan(t, db, empty.Image)
	if res.Status != StatusUnsupportedImage {
		t.Errorf("empty image: got %+v, want UNSUPPORTED_IMAGE", res)
	}
}

// A database without the archive of an ecosystem: its packages are
// counted but not matched, and other ecosystems still are.
func TestMissingEcosystemArchive(t *testing.T) {
	db := writeDB(t, map[string][]map[string]any{"Debian": {debianAdvisory()}})
	if err := os.Remove(filepath.Join(db, "osv-scalibr", "Go", "all.zip")); err != nil {
		t.Fatal(err)
	}
	res := scan(t, db, dpkgImage(t, "3.0.11-1~deb12u1"))
	if len(res.Findings) != 1 {
		t.Errorf("findings %+v, want one", res.Findings)
	}
	if err := os.Remove(filepath.Join(db, "osv-scalibr", "Debian", "all.zip")); err != nil {
		t.Fatal(err)
	}
	res = scan(t, db, dpkgImage(t, "3.0.11-1~deb12u1"))
	if res.Status != StatusComplete || res.Packages != 1 || len(res.Findings) != 0 {
		t.Errorf("without Debian archive: %+v", res)
	}
}

func TestNewWithoutDatabase(t *testing.T) {
	if _, err := New(t.TempDir()); !errors.Is(err, ErrNoDatabase) {
		t.Errorf("New(empty dir) error = %v, want ErrNoDatabase", err)
	}
	if _, err := New(""); !errors.Is(err, ErrNoDatabase) {
		t.Errorf("New(\"\") error = %v, want ErrNoDatabase", err)
	}
}

type failTransport struct{ t *testing.T }

func (f failTransport) RoundTrip(req *http.Request) (*http.Response, error) {
	f.t.Errorf("network request during scan: %s %s", req.Method, req.URL)
	return nil, errors.New("network disabled by test")
}

// TestNoNetwork checks that a scan makes no HTTP request: the default
// transport fails the test, and the proxy variables point to an
// unroutable address (TEST-NET-1) so that any client built from the
// environment cannot reach anything either. The scanner's own clients
// (given to osvlocal) refuse every request, which errors the scan: a scan
// finishing without error shows none was attempted. Not covered: raw
// sockets opened without net/http (osv-scalibr's extractors used here
// have none).
func TestNoNetwork(t *testing.T) {
	bin := buildGoBinary(t, "v0.3.5") // before cutting the network: may use the module proxy
	saved := http.DefaultTransport
	http.DefaultTransport = failTransport{t}
	t.Cleanup(func() { http.DefaultTransport = saved })
	for _, k := range []string{"HTTPS_PROXY", "HTTP_PROXY", "https_proxy", "http_proxy", "ALL_PROXY"} {
		t.Setenv(k, "http://192.0.2.1:9")
	}
	t.Setenv("NO_PROXY", "")
	t.Setenv("no_proxy", "")

	db := writeDB(t, map[string][]map[string]any{
		"Go":     {goAdvisory()},
		"Debian": {debianAdvisory()},
	})
	img := imageOf(t,
		file{Name: "etc/os-release", Body: []byte(debianOSRelease)},
		file{Name: "var/lib/dpkg/status", Body: []byte("Package: openssl\nStatus: install ok installed\nArchitecture: amd64\nVersion: 3.0.11-1~deb12u1\n\n")},
		file{Name: "usr/local/bin/xt", Mode: 0o755, Body: bin},
	)
	res := scan(t, db, img)
	if len(findingsFor(res, "CVE-2021-38561")) != 1 || len(findingsFor(res, "CVE-2023-5678")) != 1 {
		t.Errorf("findings %+v, want CVE-2021-38561 and CVE-2023-5678", res.Findings)
	}
	if res.Findings[0].Severity != "CRITICAL" {
		t.Errorf("findings not sorted by severity: %+v", res.Findings)
	}
}
