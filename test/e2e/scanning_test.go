package e2e

import (
	"fmt"
	"net/url"
	"os"
	"os/exec"
	"path/filepath"
	"testing"
	"time"

	"github.com/google/go-containerregistry/pkg/name"
	"github.com/google/go-containerregistry/pkg/v1/tarball"

	"github.com/ecrd/ecrd/internal/scanner/scannertest"
)

// TestScanningAWSCLI runs testdata/scanning.sh: images built here, pushed
// with crane and scanned against OSV exports loaded with ecrd vulndb load.
func TestScanningAWSCLI(t *testing.T) {
	aws := awsCLI(t)
	jq := tool(t, "jq")
	bash := tool(t, "bash")
	crane := tool(t, "crane")
	script, err := filepath.Abs(filepath.Join("testdata", "scanning.sh"))
	if err != nil {
		t.Fatal(err)
	}

	dir := t.TempDir()
	images, exports := filepath.Join(dir, "images"), filepath.Join(dir, "exports")
	for _, d := range []string{images, exports} {
		if err := os.Mkdir(d, 0o755); err != nil {
			t.Fatal(err)
		}
	}
	debianPkgs := []scannertest.Package{
		{Name: "openssl", Version: "3.0.11-1~deb12u1"},
		{Name: "zlib1g", Version: "1:1.2.13.dfsg-2"},
	}
	debian := []scannertest.Advisory{
		{ID: "DSA-5621-1", Aliases: []string{"CVE-2023-5678"}, Ecosystem: "Debian:12", Package: "openssl", Fixed: "3.0.13-1~deb12u1", Vector: scannertest.VectorCritical},
		{ID: "DLA-4000-1", Aliases: []string{"CVE-2026-1000"}, Ecosystem: "Debian:12", Package: "zlib1g", Fixed: "1:1.2.13.dfsg-2", Vector: scannertest.VectorHigh},
	}
	for i := range 3 {
		lib := fmt.Sprintf("lib%d", i)
		debianPkgs = append(debianPkgs, scannertest.Package{Name: lib, Version: "1.0"})
		debian = append(debian, scannertest.Advisory{ID: fmt.Sprintf("CVE-2026-%04d", 100+i), Ecosystem: "Debian:12", Package: lib, Fixed: "2.0", Vector: scannertest.VectorMedium})
	}
	alpine := []scannertest.Advisory{{ID: "CVE-2023-42366", Ecosystem: "Alpine:v3.19", Package: "busybox", Fixed: "1.36.1-r16", Severity: "MODERATE"}}
	alpineNew := append(alpine, scannertest.Advisory{ID: "CVE-2026-2222", Ecosystem: "Alpine:v3.19", Package: "musl", Fixed: "1.2.4_git20230717-r5", Vector: scannertest.VectorHigh})

	writeTarball(t, filepath.Join(images, "debian.tar"), scannertest.DebianFiles(debianPkgs...))
	writeTarball(t, filepath.Join(images, "alpine.tar"), scannertest.AlpineFiles(
		scannertest.Package{Name: "busybox", Version: "1.36.1-r15"},
		scannertest.Package{Name: "musl", Version: "1.2.4_git20230717-r4"},
	))
	for file, advs := range map[string][]scannertest.Advisory{"debian.zip": debian, "alpine.zip": alpine, "alpine-new.zip": alpineNew} {
		b, err := scannertest.Export(advs...)
		if err != nil {
			t.Fatal(err)
		}
		if err := os.WriteFile(filepath.Join(exports, file), b, 0o644); err != nil {
			t.Fatal(err)
		}
	}

	// The operator loads the exports before starting the server.
	data := t.TempDir()
	vulndb := filepath.Join(data, "vulndb")
	load := exec.Command(ecrdBin, "vulndb", "load", "--data", data, filepath.Join(exports, "debian.zip"), filepath.Join(exports, "alpine.zip"))
	if out, err := load.CombinedOutput(); err != nil {
		t.Fatalf("ecrd vulndb load: %v\n%s", err, out)
	}
	e := startECRD(t, data, "--vulndb-check-interval", "200ms")

	u, err := url.Parse(e.URL())
	if err != nil {
		t.Fatal(err)
	}
	env, work := scriptEnv(t, e)
	env = append(env, "AWS="+aws, "JQ="+jq, "CRANE="+crane, "ECRD="+ecrdBin, "VULNDB="+vulndb,
		"REGISTRY="+u.Host, "IMAGES="+images, "EXPORTS="+exports)
	runScript(t, bash, script, work, env, 5*time.Minute)
	noServerErrors(t, e)
}

// writeTarball writes a docker tarball of an image of one layer of files.
func writeTarball(t *testing.T, path string, files []scannertest.File) {
	t.Helper()
	img, err := scannertest.Image(files)
	if err != nil {
		t.Fatal(err)
	}
	ref, err := name.NewTag("scan.test/image:latest")
	if err != nil {
		t.Fatal(err)
	}
	if err := tarball.WriteToFile(path, ref, img); err != nil {
		t.Fatal(err)
	}
}
