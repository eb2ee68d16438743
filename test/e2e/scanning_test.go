package e2e

import (
	"context"
	"fmt"
	"net/url"
	"os"
	"os/exec"
	"path/filepath"
	"testing"
	"time"

	"github.com/aws/aws-sdk-go-v2/aws"
	"github.com/aws/aws-sdk-go-v2/service/ecr"
	ecrtypes "github.com/aws/aws-sdk-go-v2/service/ecr/types"
	"github.com/google/go-containerregistry/pkg/authn"
	"github.com/google/go-containerregistry/pkg/name"
	"github.com/google/go-containerregistry/pkg/v1/remote"
	"github.com/google/go-containerregistry/pkg/v1/tarball"

	"github.com/ecrd/ecrd/internal/scanner/scannertest"
	"github.com/ecrd/ecrd/test/ecrdtest"
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
	load := exec.Command(ecrdtest.Bin(), "vulndb", "load", "--data", data, filepath.Join(exports, "debian.zip"), filepath.Join(exports, "alpine.zip"))
	if out, err := load.CombinedOutput(); err != nil {
		t.Fatalf("ecrd vulndb load: %v\n%s", err, out)
	}
	e := startECRD(t, data, "--vulndb-check-interval", "200ms")

	u, err := url.Parse(e.URL())
	if err != nil {
		t.Fatal(err)
	}
	env, work := scriptEnv(t, e)
	env = append(env, "AWS="+aws, "AWS_CURRENT="+currentAWSCLI(t), "JQ="+jq, "CRANE="+crane, "ECRD="+ecrdtest.Bin(), "VULNDB="+vulndb,
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

// packedGoAdvisories is where scripts/install-test-tools packs the Go
// advisories (scripts/vulndb) for TestScanningGoAdvisories.
func packedGoAdvisories(t *testing.T) string {
	t.Helper()
	home, err := os.UserHomeDir()
	if err != nil {
		t.Fatal(err)
	}
	dir := filepath.Join(home, ".cache", "ecrd", "vulndb")
	if _, err := os.Stat(filepath.Join(dir, "osv-scalibr", "Go", "all.zip")); err != nil {
		t.Fatalf("no packed Go advisories in %s: run scripts/install-test-tools (it runs scripts/vulndb --out %s): %v", dir, dir, err)
	}
	return dir
}

// TestScanningGoAdvisories scans, with the SDK, an image holding a Go
// binary compiled here against golang.org/x/text v0.3.5, against the real
// Go advisories scripts/vulndb packs: the data ecrd has out of the box.
func TestScanningGoAdvisories(t *testing.T) {
	vulndb := packedGoAdvisories(t)
	bin, err := scannertest.GoBinary(t.TempDir(), "v0.3.5")
	if err != nil {
		t.Fatal(err)
	}
	img, err := scannertest.Image([]scannertest.File{{Name: "usr/local/bin/xt", Mode: 0o755, Body: bin}})
	if err != nil {
		t.Fatal(err)
	}
	e := startECRD(t, t.TempDir(), "--vulndb", vulndb)
	c := ecrClient(e)
	ctx := context.Background()
	ref, err := name.ParseReference(e.Addr+"/tools/xt:v1", name.Insecure)
	if err != nil {
		t.Fatal(err)
	}
	if err := remote.Write(ref, img, remote.WithAuth(&authn.Basic{Username: "AWS", Password: e.Password(t)})); err != nil {
		t.Fatal(err)
	}
	id := &ecrtypes.ImageIdentifier{ImageTag: aws.String("v1")}
	started, err := c.StartImageScan(ctx, &ecr.StartImageScanInput{RepositoryName: aws.String("tools/xt"), ImageId: id})
	ecrMust(t, "StartImageScan", err)
	if started.ImageScanStatus.Status != ecrtypes.ScanStatusInProgress {
		t.Fatalf("StartImageScan: %+v", started.ImageScanStatus)
	}
	w := ecr.NewImageScanCompleteWaiter(c, func(o *ecr.ImageScanCompleteWaiterOptions) {
		o.MinDelay, o.MaxDelay = 100*time.Millisecond, time.Second
	})
	in := &ecr.DescribeImageScanFindingsInput{RepositoryName: aws.String("tools/xt"), ImageId: id}
	out, err := w.WaitForOutput(ctx, in, time.Minute)
	ecrMust(t, "waiting for the scan", err)
	var found *ecrtypes.ImageScanFinding
	for i, f := range out.ImageScanFindings.Findings {
		if aws.ToString(f.Name) == "CVE-2021-38561" {
			found = &out.ImageScanFindings.Findings[i]
		}
	}
	if found == nil {
		t.Fatalf("no CVE-2021-38561 (GO-2021-0113) among %d findings", len(out.ImageScanFindings.Findings))
	}
	attrs := map[string]string{}
	for _, a := range found.Attributes {
		attrs[aws.ToString(a.Key)] = aws.ToString(a.Value)
	}
	// The Go advisories carry no CVSS vector or severity word.
	if found.Severity != ecrtypes.FindingSeverityUndefined || attrs["package_name"] != "golang.org/x/text" ||
		attrs["package_version"] != "0.3.5" || attrs["fixed_in_version"] != "0.3.7" {
		t.Fatalf("finding %s %s %v", aws.ToString(found.Name), found.Severity, attrs)
	}
	// The data's time is the pinned golang.org/x/vulndb commit's
	// (23:49:57), as zip's two-second resolution records it.
	if got := aws.ToTime(out.ImageScanFindings.VulnerabilitySourceUpdatedAt).UTC(); !got.Equal(time.Date(2026, 11, 5, 23, 49, 56, 0, time.UTC)) {
		t.Errorf("vulnerabilitySourceUpdatedAt %v", got)
	}
	noServerErrors(t, e)
}
