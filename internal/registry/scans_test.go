package registry_test

import (
	"context"
	"encoding/json"
	"errors"
	"fmt"
	"io"
	"os"
	"path/filepath"
	"slices"
	"strings"
	"sync"
	"testing"
	"testing/synctest"
	"time"

	v1 "github.com/google/go-containerregistry/pkg/v1"
	"github.com/opencontainers/go-digest"

	"github.com/ecrd/ecrd/internal/metadata"
	"github.com/ecrd/ecrd/internal/registry"
	"github.com/ecrd/ecrd/internal/registry/registrytest"
	"github.com/ecrd/ecrd/internal/scanner"
	"github.com/ecrd/ecrd/internal/scanner/scannertest"
	"github.com/ecrd/ecrd/internal/testutil"
)

var (
	opensslAdvisory = scannertest.Advisory{ID: "DSA-5621-1", Aliases: []string{"CVE-2023-5678"}, Ecosystem: "Debian:12",
		Package: "openssl", Fixed: "3.0.13-1~deb12u1", Vector: scannertest.VectorCritical}
	zlibAdvisory = scannertest.Advisory{ID: "DLA-4000-1", Aliases: []string{"CVE-2026-1000"}, Ecosystem: "Debian:12",
		Package: "zlib1g", Fixed: "1:1.2.13.dfsg-2", Vector: scannertest.VectorHigh}
	busyboxAdvisory = scannertest.Advisory{ID: "CVE-2023-42366", Ecosystem: "Alpine:v3.19",
		Package: "busybox", Fixed: "1.36.1-r16", Severity: "MODERATE"}
)

// scanFixture is a registry with a scanner over a vulnerability data folder
// the test writes, running its background work.
type scanFixture struct {
	*fixture
	vulndb string
}

func newScanFixture(t *testing.T, opts registry.Options, advisories ...scannertest.Advisory) *scanFixture {
	t.Helper()
	s, dir := newScanner(t, advisories...)
	opts.Scanner = s
	opts.ScanPollInterval = 50 * time.Millisecond
	opts.ScanDataInterval = 100 * time.Millisecond
	f := newFixture(t, opts)
	runInBackground(t, f.reg)
	return &scanFixture{fixture: f, vulndb: dir}
}

// newScanner returns a scanner over a vulnerability data folder holding
// advisories, and the folder.
func newScanner(t *testing.T, advisories ...scannertest.Advisory) (*scanner.OSV, string) {
	t.Helper()
	scanner.SetLogger(nil)
	dir := filepath.Join(t.TempDir(), "vulndb")
	if err := scannertest.WriteFolder(dir, advisories...); err != nil {
		t.Fatal(err)
	}
	s, err := scanner.New(dir)
	if err != nil {
		t.Fatal(err)
	}
	return s, dir
}

// runInBackground runs the registry's background work until the test ends.
func runInBackground(t *testing.T, reg *registry.Registry) {
	runCtx, cancel := context.WithCancel(context.Background())
	done := make(chan struct{})
	go func() { reg.Run(runCtx); close(done) }()
	t.Cleanup(func() { cancel(); <-done })
}

// pushV1 pushes a go-containerregistry image to repo under tag and returns
// its digest.
func (f *fixture) pushV1(t *testing.T, repo, tag string, img v1.Image) digest.Digest {
	t.Helper()
	cfg, err := img.RawConfigFile()
	if err != nil {
		t.Fatal(err)
	}
	f.pushBlob(t, repo, cfg)
	layers, err := img.Layers()
	if err != nil {
		t.Fatal(err)
	}
	for _, l := range layers {
		rc, err := l.Compressed()
		if err != nil {
			t.Fatal(err)
		}
		b, err := io.ReadAll(rc)
		rc.Close()
		if err != nil {
			t.Fatal(err)
		}
		f.pushBlob(t, repo, b)
	}
	m, err := img.RawManifest()
	if err != nil {
		t.Fatal(err)
	}
	mt, _ := img.MediaType()
	ref := tag
	if ref == "" {
		ref = digest.FromBytes(m).String()
	}
	got, err := f.reg.PutManifest(ctx, key(repo), ref, nil, string(mt), m)
	if err != nil {
		t.Fatal(err)
	}
	return got.Digest
}

func imageOf(t *testing.T, layers ...[]scannertest.File) v1.Image {
	t.Helper()
	img, err := scannertest.Image(layers...)
	if err != nil {
		t.Fatal(err)
	}
	return img
}

// waitScan polls an image's findings until its scan is no longer in
// progress. The scan tests run in synctest bubbles, where the registry's
// workers, their tickers and these sleeps share a fake clock: no real
// waiting, and a poll interval passes only once the workers are idle.
func (f *scanFixture) waitScan(t *testing.T, repo string, id registry.ImageID) registry.ScanFindings {
	t.Helper()
	deadline := time.Now().Add(30 * time.Second)
	for {
		res, err := f.reg.DescribeImageScanFindings(ctx, key(repo), id, "", 1000)
		if err != nil && registry.CodeOf(err) != registry.CodeScanNotFound {
			t.Fatal(err)
		}
		if err == nil && res.Status != metadata.ScanInProgress {
			return res
		}
		if time.Now().After(deadline) {
			t.Fatalf("the scan of %s/%v did not finish: %+v, %v", repo, id, res, err)
		}
		time.Sleep(20 * time.Millisecond)
	}
}

func findingIDs(fs []scanner.Finding) []string {
	var out []string
	for _, f := range fs {
		out = append(out, f.ID+" "+f.Severity+" "+f.Package+" "+f.Version)
	}
	return out
}

func TestScanOnPush(t *testing.T) {
	synctest.Test(t, testScanOnPush)
}

func testScanOnPush(t *testing.T) {
	f := newScanFixture(t, registry.Options{}, opensslAdvisory, zlibAdvisory)
	if _, err := f.reg.CreateRepository(ctx, key("app"), metadata.RepositorySettings{ScanOnPush: true}, nil); err != nil {
		t.Fatal(err)
	}
	img := imageOf(t, scannertest.DebianFiles(
		scannertest.Package{Name: "openssl", Version: "3.0.11-1~deb12u1"}, // vulnerable
		scannertest.Package{Name: "zlib1g", Version: "1:1.2.13.dfsg-2"},   // fixed
		scannertest.Package{Name: "bash", Version: "5.2.15-2+b2"},
	))
	d := f.pushV1(t, "app", "v1", img)

	res := f.waitScan(t, "app", registry.ImageID{Tag: "v1"})
	if res.Status != metadata.ScanComplete || res.Description != "The scan was completed successfully." {
		t.Fatalf("status %+v", res.ScanStatus)
	}
	if got, want := findingIDs(res.Findings), []string{"CVE-2023-5678 CRITICAL openssl 3.0.11-1~deb12u1"}; !slices.Equal(got, want) {
		t.Fatalf("findings %v, want %v (the fixed zlib1g has none)", got, want)
	}
	if !sameCounts(res.Counts, map[string]int{"CRITICAL": 1}) || res.Image.Digest != d || res.CompletedAt.IsZero() ||
		!res.SourceUpdatedAt.Equal(scannertest.Time) {
		t.Fatalf("scan %+v", res.ScanSummary)
	}

	// DescribeImages carries the summary.
	details, _, err := f.reg.DescribeImages(ctx, key("app"), []registry.ImageID{{Tag: "v1"}}, registry.ImageFilter{}, "", 0)
	if err != nil {
		t.Fatal(err)
	}
	if s := details[0].Scan; s == nil || s.Status != metadata.ScanComplete || !sameCounts(s.Counts, map[string]int{"CRITICAL": 1}) {
		t.Fatalf("DescribeImages scan summary %+v", details[0].Scan)
	}

	// The scan on push counts against the daily quota.
	_, _, err = f.reg.StartImageScan(ctx, key("app"), registry.ImageID{Digest: d.String()})
	wantCode(t, err, registry.CodeLimitExceeded)
	f.clock.Advance(25 * time.Hour)
	_, st, err := f.reg.StartImageScan(ctx, key("app"), registry.ImageID{Digest: d.String()})
	if err != nil || st.Status != metadata.ScanInProgress {
		t.Fatalf("StartImageScan a day later: %+v, %v", st, err)
	}
	if res := f.waitScan(t, "app", registry.ImageID{Digest: d.String()}); res.Status != metadata.ScanComplete || len(res.Findings) != 1 {
		t.Fatalf("second scan %+v", res)
	}

	// Each completed scan recorded an ECR Image Scan event (besides the
	// records of the pushes and the scan requests).
	all, err := f.meta.Events(ctx, 0, 100)
	if err != nil {
		t.Fatal(err)
	}
	var events []metadata.Event
	for _, e := range all {
		if e.Type == "ECR Image Scan" {
			events = append(events, e)
		}
	}
	if len(events) != 2 {
		t.Fatalf("%d scan events, want 2", len(events))
	}
	var ev struct {
		DetailType string   `json:"detail-type"`
		Source     string   `json:"source"`
		Account    string   `json:"account"`
		Region     string   `json:"region"`
		Resources  []string `json:"resources"`
		Detail     struct {
			ScanStatus string         `json:"scan-status"`
			Repository string         `json:"repository-name"`
			Digest     string         `json:"image-digest"`
			Tags       []string       `json:"image-tags"`
			Counts     map[string]int `json:"finding-severity-counts"`
		} `json:"detail"`
	}
	if err := json.Unmarshal(events[0].Document, &ev); err != nil {
		t.Fatal(err)
	}
	if ev.DetailType != "ECR Image Scan" || ev.Source != "aws.ecr" || ev.Account != scope.Account || ev.Region != scope.Region ||
		!slices.Equal(ev.Resources, []string{"arn:aws:ecr:us-east-1:123456789012:repository/app"}) ||
		ev.Detail.ScanStatus != "COMPLETE" || ev.Detail.Repository != "app" || ev.Detail.Digest != d.String() ||
		!slices.Equal(ev.Detail.Tags, []string{"v1"}) || !sameCounts(ev.Detail.Counts, map[string]int{"CRITICAL": 1}) {
		t.Fatalf("event %s", events[0].Document)
	}
}

func sameCounts(a, b map[string]int) bool {
	if len(a) != len(b) {
		return false
	}
	for k, v := range a {
		if b[k] != v {
			return false
		}
	}
	return true
}

func TestScanOnDemandAndFindingsPages(t *testing.T) {
	synctest.Test(t, testScanOnDemandAndFindingsPages)
}

func testScanOnDemandAndFindingsPages(t *testing.T) {
	var advs []scannertest.Advisory
	var pkgs []scannertest.Package
	for i := range 7 {
		name := fmt.Sprintf("lib%d", i)
		advs = append(advs, scannertest.Advisory{ID: fmt.Sprintf("CVE-2026-%04d", 100+i), Ecosystem: "Debian:12", Package: name, Fixed: "2.0", Vector: scannertest.VectorMedium})
		pkgs = append(pkgs, scannertest.Package{Name: name, Version: "1.0"})
	}
	f := newScanFixture(t, registry.Options{}, advs...)
	d := f.pushV1(t, "manual", "v1", imageOf(t, scannertest.DebianFiles(pkgs...)))

	// A MANUAL repository scans nothing on push.
	_, err := f.reg.DescribeImageScanFindings(ctx, key("manual"), registry.ImageID{Tag: "v1"}, "", 0)
	wantCode(t, err, registry.CodeScanNotFound)
	if nf := (*registry.NotFoundError)(nil); !errors.As(err, &nf) || *nf != (registry.NotFoundError{Kind: registry.KindScan, Key: key("manual"), Image: registry.ImageID{Tag: "v1"}}) {
		t.Fatalf("error %#v", err)
	}
	_, _, err = f.reg.StartImageScan(ctx, key("manual"), registry.ImageID{Tag: "missing"})
	wantCode(t, err, registry.CodeManifestUnknown)
	if _, _, err := f.reg.StartImageScan(ctx, key("manual"), registry.ImageID{Tag: "v1"}); err != nil {
		t.Fatal(err)
	}
	f.waitScan(t, "manual", registry.ImageID{Tag: "v1"})

	var got []string
	token := ""
	for pages := 0; ; pages++ {
		res, err := f.reg.DescribeImageScanFindings(ctx, key("manual"), registry.ImageID{Digest: d.String()}, token, 3)
		if err != nil {
			t.Fatal(err)
		}
		if len(res.Findings) > 3 || !sameCounts(res.Counts, map[string]int{"MEDIUM": 7}) {
			t.Fatalf("page %d: %d findings, counts %v", pages, len(res.Findings), res.Counts)
		}
		for _, f := range res.Findings {
			got = append(got, f.ID)
		}
		if token = res.NextToken; token == "" {
			if pages != 2 {
				t.Fatalf("%d pages, want 3", pages+1)
			}
			break
		}
	}
	if len(got) != 7 || !slices.IsSorted(got) {
		t.Fatalf("findings over pages: %v", got)
	}
	_, err = f.reg.DescribeImageScanFindings(ctx, key("manual"), registry.ImageID{Digest: d.String()}, "bm90IGEgdG9rZW4", 3)
	wantCode(t, err, registry.CodeInvalidParameter)

	// The inventory the findings were matched against: the seven
	// libraries, in name order.
	inv, err := f.reg.ImagePackages(ctx, key("manual"), registry.ImageID{Tag: "v1"})
	if err != nil {
		t.Fatal(err)
	}
	var names []string
	for _, p := range inv {
		if p.Version != "1.0" || p.Ecosystem != "Debian:12" {
			t.Errorf("package %+v", p)
		}
		names = append(names, p.Name)
	}
	if strings.Join(names, ",") != "lib0,lib1,lib2,lib3,lib4,lib5,lib6" {
		t.Errorf("the scan's packages: %v", names)
	}
}

func TestScanIndexAndUnsupported(t *testing.T) {
	synctest.Test(t, testScanIndexAndUnsupported)
}

func testScanIndexAndUnsupported(t *testing.T) {
	f := newScanFixture(t, registry.Options{}, opensslAdvisory, busyboxAdvisory)
	if _, err := f.reg.PutRegistryScanningConfiguration(ctx, scope, registry.RegistryScanningConfiguration{
		ScanType: registry.ScanTypeBasic,
		Rules: []registry.ScanningRule{{ScanFrequency: registry.ScanOnPush,
			RepositoryFilters: []registry.ScanFilter{{Filter: "multi*", FilterType: registry.ScanFilterWildcard}}}},
	}); err != nil {
		t.Fatal(err)
	}
	deb := f.pushV1(t, "multi", "", imageOf(t, scannertest.DebianFiles(scannertest.Package{Name: "openssl", Version: "3.0.11-1~deb12u1"})))
	alp := f.pushV1(t, "multi", "", imageOf(t, scannertest.AlpineFiles(scannertest.Package{Name: "busybox", Version: "1.36.1-r15"})))
	index := fmt.Sprintf(`{"schemaVersion":2,"mediaType":"application/vnd.oci.image.index.v1+json","manifests":[`+
		`{"mediaType":"application/vnd.oci.image.manifest.v1+json","digest":"%s","size":%d,"platform":{"architecture":"amd64","os":"linux"}},`+
		`{"mediaType":"application/vnd.oci.image.manifest.v1+json","digest":"%s","size":%d,"platform":{"architecture":"arm64","os":"linux"}}]}`,
		deb, f.image(t, "multi", deb).Size, alp, f.image(t, "multi", alp).Size)
	if _, err := f.reg.PutManifest(ctx, key("multi"), "v1", nil, "application/vnd.oci.image.index.v1+json", []byte(index)); err != nil {
		t.Fatal(err)
	}
	res := f.waitScan(t, "multi", registry.ImageID{Tag: "v1"})
	want := []string{"CVE-2023-5678 CRITICAL openssl 3.0.11-1~deb12u1", "CVE-2023-42366 MEDIUM busybox 1.36.1-r15"}
	if got := findingIDs(res.Findings); res.Status != metadata.ScanComplete || !slices.Equal(got, want) {
		t.Fatalf("index scan %s: %v, want both platforms' %v", res.Status, got, want)
	}

	// An image of no known OS or packages, and an artifact that is not an
	// image, are UNSUPPORTED_IMAGE.
	plain := f.pushV1(t, "multi-plain", "v1", imageOf(t, []scannertest.File{{Name: "hello.txt", Body: []byte("hello")}}))
	res = f.waitScan(t, "multi-plain", registry.ImageID{Digest: plain.String()})
	if res.Status != metadata.ScanUnsupported || len(res.Findings) != 0 {
		t.Fatalf("plain image: %+v", res)
	}
	cfg, layer := []byte(`{}`), []byte("chart")
	f.pushBlob(t, "multi-chart", cfg)
	f.pushBlob(t, "multi-chart", layer)
	chart := fmt.Sprintf(`{"schemaVersion":2,"mediaType":"application/vnd.oci.image.manifest.v1+json",`+
		`"config":{"mediaType":"application/vnd.cncf.helm.config.v1+json","digest":"%s","size":%d},`+
		`"layers":[{"mediaType":"application/vnd.cncf.helm.chart.content.v1.tar+gzip","digest":"%s","size":%d}]}`,
		digest.FromBytes(cfg), len(cfg), digest.FromBytes(layer), len(layer))
	if _, err := f.reg.PutManifest(ctx, key("multi-chart"), "1.0.0", nil, ociManifest, []byte(chart)); err != nil {
		t.Fatal(err)
	}
	res = f.waitScan(t, "multi-chart", registry.ImageID{Tag: "1.0.0"})
	if res.Status != metadata.ScanUnsupported || !strings.Contains(res.Description, "not supported") {
		t.Fatalf("chart: %+v", res.ScanStatus)
	}
}

func TestContinuousScanMatchesNewAdvisories(t *testing.T) {
	synctest.Test(t, testContinuousScanMatchesNewAdvisories)
}

func testContinuousScanMatchesNewAdvisories(t *testing.T) {
	f := newScanFixture(t, registry.Options{}, opensslAdvisory)
	if _, err := f.reg.PutRegistryScanningConfiguration(ctx, scope, registry.RegistryScanningConfiguration{
		ScanType: registry.ScanTypeEnhanced,
		Rules: []registry.ScanningRule{
			{ScanFrequency: registry.ContinuousScan, RepositoryFilters: []registry.ScanFilter{{Filter: "prod-*", FilterType: registry.ScanFilterWildcard}}},
			{ScanFrequency: registry.ScanOnPush, RepositoryFilters: []registry.ScanFilter{{Filter: "dev-*", FilterType: registry.ScanFilterWildcard}}},
		},
	}); err != nil {
		t.Fatal(err)
	}
	img := imageOf(t, scannertest.DebianFiles(scannertest.Package{Name: "zlib1g", Version: "1:1.2.13.dfsg-1"}))
	f.pushV1(t, "prod-api", "v1", img)
	f.pushV1(t, "dev-api", "v1", img)
	for _, repo := range []string{"prod-api", "dev-api"} {
		if res := f.waitScan(t, repo, registry.ImageID{Tag: "v1"}); res.Status != metadata.ScanComplete || len(res.Findings) != 0 {
			t.Fatalf("%s before the new advisory: %+v", repo, res)
		}
	}

	// Today's data has an advisory for yesterday's clean image.
	if err := scannertest.WriteFolder(f.vulndb, opensslAdvisory, zlibAdvisory); err != nil {
		t.Fatal(err)
	}
	deadline := time.Now().Add(30 * time.Second)
	for {
		res, err := f.reg.DescribeImageScanFindings(ctx, key("prod-api"), registry.ImageID{Tag: "v1"}, "", 0)
		if err != nil {
			t.Fatal(err)
		}
		if len(res.Findings) > 0 {
			if got := findingIDs(res.Findings); !slices.Equal(got, []string{"CVE-2026-1000 HIGH zlib1g 1:1.2.13.dfsg-1"}) {
				t.Fatalf("after the update: %v", got)
			}
			break
		}
		if time.Now().After(deadline) {
			t.Fatal("the continuously scanned image never showed the new advisory")
		}
		time.Sleep(50 * time.Millisecond)
	}
	// A repository scanned on push only keeps its scan.
	if res := f.waitScan(t, "dev-api", registry.ImageID{Tag: "v1"}); len(res.Findings) != 0 {
		t.Fatalf("dev-api was rescanned: %v", findingIDs(res.Findings))
	}
}

func TestScanJobOfADeadProcessIsTakenOver(t *testing.T) {
	synctest.Test(t, testScanJobOfADeadProcessIsTakenOver)
}

func testScanJobOfADeadProcessIsTakenOver(t *testing.T) {
	f := newScanFixture(t, registry.Options{}, opensslAdvisory)
	d := f.pushV1(t, "app", "v1", imageOf(t, scannertest.DebianFiles(scannertest.Package{Name: "openssl", Version: "3.0.11-1~deb12u1"})))
	// Another process claimed the job and died.
	err := f.meta.Update(ctx, func(tx metadata.Tx) error {
		repo, err := tx.Repository(ctx, key("app"))
		if err != nil {
			return err
		}
		if err := tx.PutImageScan(ctx, metadata.ImageScan{RepoID: repo.ID, Digest: d, Status: metadata.ScanPending, RequestedAt: f.clock.Now()}); err != nil {
			return err
		}
		jobs, err := tx.ClaimImageScans(ctx, "dead-process", f.clock.Now(), f.clock.Now().Add(2*time.Minute), 10)
		if err == nil && len(jobs) != 1 {
			err = fmt.Errorf("claimed %d jobs", len(jobs))
		}
		return err
	})
	if err != nil {
		t.Fatal(err)
	}
	time.Sleep(300 * time.Millisecond) // six polls of the workers, in the bubble's time
	if res, err := f.reg.DescribeImageScanFindings(ctx, key("app"), registry.ImageID{Tag: "v1"}, "", 0); err != nil || res.Status != metadata.ScanInProgress {
		t.Fatalf("while the dead process's lease lasts: %+v, %v", res.ScanStatus, err)
	}
	f.clock.Advance(3 * time.Minute)
	if res := f.waitScan(t, "app", registry.ImageID{Tag: "v1"}); res.Status != metadata.ScanComplete || len(res.Findings) != 1 {
		t.Fatalf("after the lease expired: %+v", res)
	}
}

func TestScanWithoutScannerFails(t *testing.T) {
	synctest.Test(t, testScanWithoutScannerFails)
}

func testScanWithoutScannerFails(t *testing.T) {
	f := newFixture(t, registry.Options{ScanPollInterval: 50 * time.Millisecond})
	runInBackground(t, f.reg)
	f.pushImage(t, "app", "v1", "x")
	if _, _, err := f.reg.StartImageScan(ctx, key("app"), registry.ImageID{Tag: "v1"}); err != nil {
		t.Fatal(err)
	}
	sf := &scanFixture{fixture: f}
	res := sf.waitScan(t, "app", registry.ImageID{Tag: "v1"})
	if res.Status != metadata.ScanFailed || !strings.Contains(res.Description, "vulnerability data") {
		t.Fatalf("%+v", res.ScanStatus)
	}
	// A failed scan may be asked for again at once.
	if _, _, err := f.reg.StartImageScan(ctx, key("app"), registry.ImageID{Tag: "v1"}); err != nil {
		t.Fatal(err)
	}
}

// countingScanner counts the extractions of each image.
type countingScanner struct {
	registry.ImageScanner
	mu    sync.Mutex
	count map[string]int
}

func (c *countingScanner) Extract(ctx context.Context, img v1.Image) (scanner.Extraction, error) {
	d, err := img.Digest()
	if err != nil {
		return scanner.Extraction{}, err
	}
	c.mu.Lock()
	c.count[d.String()]++
	c.mu.Unlock()
	time.Sleep(5 * time.Millisecond) // long enough for the other process to try
	return c.ImageScanner.Extract(ctx, img)
}

func TestTwoProcessesNeverScanAnImageTwice(t *testing.T) {
	synctest.Test(t, testTwoProcessesNeverScanAnImageTwice)
}

func testTwoProcessesNeverScanAnImageTwice(t *testing.T) {
	s, _ := newScanner(t, opensslAdvisory)
	counter := &countingScanner{ImageScanner: s, count: map[string]int{}}
	opts := registry.Options{Scanner: counter, ScanPollInterval: 5 * time.Millisecond, ScanWorkers: 4,
		Logger: testutil.Logger()}
	a, stores := registrytest.New(t, opts)
	registrytest.CreateOnPush(t, a)
	b := registry.New(stores.Meta, stores.Blobs, opts) // a second process on the same stores
	runInBackground(t, a)
	runInBackground(t, b)

	if _, err := a.CreateRepository(ctx, key("app"), metadata.RepositorySettings{ScanOnPush: true}, nil); err != nil {
		t.Fatal(err)
	}
	f := &scanFixture{fixture: &fixture{reg: a}}
	const images = 20
	var ids []registry.ImageID
	for i := range images {
		img := imageOf(t, scannertest.DebianFiles(scannertest.Package{Name: "openssl", Version: fmt.Sprintf("3.0.1-%d", i)}))
		pusher := &fixture{reg: []*registry.Registry{a, b}[i%2]}
		ids = append(ids, registry.ImageID{Digest: pusher.pushV1(t, "app", "", img).String()})
	}
	for _, id := range ids {
		if res := f.waitScan(t, "app", id); res.Status != metadata.ScanComplete || len(res.Findings) != 1 {
			t.Fatalf("scan of %s: %+v", id.Digest, res)
		}
	}
	counter.mu.Lock()
	defer counter.mu.Unlock()
	if len(counter.count) != images {
		t.Fatalf("%d images extracted, want %d", len(counter.count), images)
	}
	for d, n := range counter.count {
		if n != 1 {
			t.Errorf("image %s extracted %d times", d, n)
		}
	}
}

func TestRestartedProcessTakesBackItsScans(t *testing.T) {
	synctest.Test(t, testRestartedProcessTakesBackItsScans)
}

func testRestartedProcessTakesBackItsScans(t *testing.T) {
	s, _ := newScanner(t, opensslAdvisory)
	opts := registry.Options{Scanner: s, ScanPollInterval: 10 * time.Millisecond, Holder: "host-a"}
	f := newFixture(t, opts)
	d := f.pushV1(t, "app", "v1", imageOf(t, scannertest.DebianFiles(scannertest.Package{Name: "openssl", Version: "3.0.11-1~deb12u1"})))
	// The process claimed the scan under its name and died; its lease
	// runs for two more minutes.
	err := f.meta.Update(ctx, func(tx metadata.Tx) error {
		repo, err := tx.Repository(ctx, key("app"))
		if err != nil {
			return err
		}
		if err := tx.PutImageScan(ctx, metadata.ImageScan{RepoID: repo.ID, Digest: d, Status: metadata.ScanPending, RequestedAt: f.clock.Now()}); err != nil {
			return err
		}
		_, err = tx.ClaimImageScans(ctx, "host-a/scans", f.clock.Now(), f.clock.Now().Add(2*time.Minute), 10)
		return err
	})
	if err != nil {
		t.Fatal(err)
	}
	// Started again under the same name, it scans at once, the clock
	// standing still.
	runInBackground(t, f.reg)
	sf := &scanFixture{fixture: f}
	if res := sf.waitScan(t, "app", registry.ImageID{Tag: "v1"}); res.Status != metadata.ScanComplete || len(res.Findings) != 1 {
		t.Fatalf("%+v", res)
	}
}

func TestDataInstalledAfterStartIsUsed(t *testing.T) {
	synctest.Test(t, testDataInstalledAfterStartIsUsed)
}

func testDataInstalledAfterStartIsUsed(t *testing.T) {
	scanner.SetLogger(nil)
	dir := filepath.Join(t.TempDir(), "vulndb")
	if err := os.MkdirAll(filepath.Join(dir, "osv-scalibr"), 0o755); err != nil {
		t.Fatal(err)
	}
	s, err := scanner.New(dir) // an empty folder: no data yet
	if err != nil {
		t.Fatal(err)
	}
	f := newFixture(t, registry.Options{Scanner: s, ScanPollInterval: 10 * time.Millisecond, ScanDataInterval: time.Hour})
	runInBackground(t, f.reg)
	sf := &scanFixture{fixture: f}
	f.pushV1(t, "app", "v1", imageOf(t, scannertest.DebianFiles(scannertest.Package{Name: "openssl", Version: "3.0.11-1~deb12u1"})))

	if _, _, err := f.reg.StartImageScan(ctx, key("app"), registry.ImageID{Tag: "v1"}); err != nil {
		t.Fatal(err)
	}
	if res := sf.waitScan(t, "app", registry.ImageID{Tag: "v1"}); res.Status != metadata.ScanFailed || !strings.Contains(res.Description, "no vulnerability data is installed") {
		t.Fatalf("without data: %+v", res.ScanStatus)
	}
	// Installed meanwhile, long before the next periodic check: the next
	// scan looks again.
	if err := scannertest.WriteFolder(dir, opensslAdvisory); err != nil {
		t.Fatal(err)
	}
	if _, _, err := f.reg.StartImageScan(ctx, key("app"), registry.ImageID{Tag: "v1"}); err != nil {
		t.Fatal(err)
	}
	if res := sf.waitScan(t, "app", registry.ImageID{Tag: "v1"}); res.Status != metadata.ScanComplete || len(res.Findings) != 1 {
		t.Fatalf("with data: %+v", res)
	}
}

func TestIndexScanReusesItsChildrensPackageLists(t *testing.T) {
	synctest.Test(t, testIndexScanReusesItsChildrensPackageLists)
}

func testIndexScanReusesItsChildrensPackageLists(t *testing.T) {
	s, _ := newScanner(t, opensslAdvisory, busyboxAdvisory)
	counter := &countingScanner{ImageScanner: s, count: map[string]int{}}
	f := newFixture(t, registry.Options{Scanner: counter, ScanPollInterval: 10 * time.Millisecond})
	runInBackground(t, f.reg)
	sf := &scanFixture{fixture: f}
	if _, err := f.reg.CreateRepository(ctx, key("multi"), metadata.RepositorySettings{ScanOnPush: true}, nil); err != nil {
		t.Fatal(err)
	}
	deb := f.pushV1(t, "multi", "", imageOf(t, scannertest.DebianFiles(scannertest.Package{Name: "openssl", Version: "3.0.11-1~deb12u1"})))
	alp := f.pushV1(t, "multi", "", imageOf(t, scannertest.AlpineFiles(scannertest.Package{Name: "busybox", Version: "1.36.1-r15"})))
	for _, d := range []digest.Digest{deb, alp} {
		sf.waitScan(t, "multi", registry.ImageID{Digest: d.String()})
	}
	index := fmt.Sprintf(`{"schemaVersion":2,"mediaType":"application/vnd.oci.image.index.v1+json","manifests":[`+
		`{"mediaType":"application/vnd.oci.image.manifest.v1+json","digest":"%s","size":%d,"platform":{"architecture":"amd64","os":"linux"}},`+
		`{"mediaType":"application/vnd.oci.image.manifest.v1+json","digest":"%s","size":%d,"platform":{"architecture":"arm64","os":"linux"}}]}`,
		deb, f.image(t, "multi", deb).Size, alp, f.image(t, "multi", alp).Size)
	if _, err := f.reg.PutManifest(ctx, key("multi"), "v1", nil, "application/vnd.oci.image.index.v1+json", []byte(index)); err != nil {
		t.Fatal(err)
	}
	if res := sf.waitScan(t, "multi", registry.ImageID{Tag: "v1"}); res.Status != metadata.ScanComplete || len(res.Findings) != 2 {
		t.Fatalf("index scan: %+v", res)
	}
	counter.mu.Lock()
	defer counter.mu.Unlock()
	for _, d := range []digest.Digest{deb, alp} {
		if n := counter.count[d.String()]; n != 1 {
			t.Errorf("child %s extracted %d times, want once (on its own push)", d, n)
		}
	}
}
