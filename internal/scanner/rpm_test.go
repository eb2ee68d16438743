package scanner

import (
	"os"
	"os/exec"
	"path/filepath"
	"strings"
	"testing"
)

const almaOSRelease = `NAME="AlmaLinux"
VERSION="9.3 (Shamrock Pampas Cat)"
ID="almalinux"
ID_LIKE="rhel centos fedora"
VERSION_ID="9.3"
PRETTY_NAME="AlmaLinux 9.3 (Shamrock Pampas Cat)"
`

// rpmDatabase is a real RPM database (SQLite, of a Rocky Linux 9 system) that
// osv-scalibr's module carries as test data, read from the module cache.
func rpmDatabase(t *testing.T) []byte {
	t.Helper()
	out, err := exec.Command("go", "list", "-m", "-f", "{{.Dir}}", "github.com/google/osv-scalibr").Output()
	if err != nil {
		t.Fatalf("go list: %v", err)
	}
	b, err := os.ReadFile(filepath.Join(strings.TrimSpace(string(out)), "extractor", "filesystem", "os", "rpm", "testdata", "rpmdb.sqlite"))
	if err != nil {
		t.Fatal(err)
	}
	return b
}

func TestRPM(t *testing.T) {
	adv := map[string]any{
		"schema_version": "1.6.0",
		"id":             "ALSA-2024:0001",
		"modified":       "2024-01-01T00:00:00Z",
		"aliases":        []string{"CVE-2024-0001"},
		"summary":        "curl security update",
		"severity":       []map[string]string{{"type": "CVSS_V3", "score": vectorCritical}},
		"affected": []map[string]any{{
			"package": map[string]string{"name": "curl-minimal", "ecosystem": "AlmaLinux:9"},
			"ranges": []map[string]any{{
				"type":   "ECOSYSTEM",
				"events": []map[string]string{{"introduced": "0"}, {"fixed": "7.76.1-23.el9_2.2"}},
			}},
		}},
	}
	db := writeDB(t, map[string][]map[string]any{"AlmaLinux": {adv}})
	img := imageOf(t,
		file{Name: "etc/os-release", Body: []byte(almaOSRelease)},
		file{Name: "var/lib/rpm/rpmdb.sqlite", Body: rpmDatabase(t)},
	)
	tmp := t.TempDir()
	t.Setenv("TMPDIR", tmp)
	res := scan(t, db, img)
	if res.Status != StatusComplete || res.Packages == 0 {
		t.Fatalf("status %q, %d packages", res.Status, res.Packages)
	}
	var ids []string
	for _, f := range res.Findings {
		ids = append(ids, f.ID+" "+f.Severity+" "+f.Package+" "+f.Version)
	}
	if len(ids) != 1 || ids[0] != "CVE-2024-0001 CRITICAL curl-minimal 7.76.1-23.el9_2.1" {
		t.Fatalf("findings %v", ids)
	}
	// The database's temporary copy is gone.
	if left, _ := os.ReadDir(tmp); len(left) != 0 {
		t.Errorf("%d files left in TMPDIR", len(left))
	}
}
