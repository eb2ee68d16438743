package registry_test

import (
	"context"
	"os"
	"path/filepath"
	"testing"
	"time"

	"github.com/google/go-containerregistry/pkg/v1/empty"
	"github.com/google/go-containerregistry/pkg/v1/mutate"
	"github.com/google/go-containerregistry/pkg/v1/tarball"

	"github.com/ecrd/ecrd/internal/metadata"
	"github.com/ecrd/ecrd/internal/registry"
	"github.com/ecrd/ecrd/internal/registry/registrytest"
	"github.com/ecrd/ecrd/internal/scanner"
	"github.com/ecrd/ecrd/internal/scanner/scannertest"
)

// BenchmarkScanPushedImage scans an image of one 200 MB layer (gzipped,
// incompressible data and a dpkg database with a vulnerable openssl) that
// was pushed to the registry: StartImageScan, then the background job
// reads the layer from the blob store, extracts, matches and records the
// findings. peak-heap-MB is the heap's largest growth during a scan.
func BenchmarkScanPushedImage(b *testing.B) {
	scanner.SetLogger(nil)
	dir := b.TempDir()
	vulndb := filepath.Join(dir, "vulndb")
	if err := scannertest.WriteFolder(vulndb, opensslAdvisory); err != nil {
		b.Fatal(err)
	}
	s, err := scanner.New(vulndb)
	if err != nil {
		b.Fatal(err)
	}
	c := &clock{now: time.Date(2026, 11, 26, 12, 0, 0, 0, time.UTC)}
	reg, _ := registrytest.New(b, registry.Options{Scanner: s, ScanPollInterval: 10 * time.Millisecond, Now: c.Now})
	registrytest.CreateOnPush(b, reg)
	runCtx, cancel := context.WithCancel(context.Background())
	done := make(chan struct{})
	go func() { reg.Run(runCtx); close(done) }()
	defer func() { cancel(); <-done }()

	layerPath := filepath.Join(dir, "layer.tar.gz")
	size, err := scannertest.WriteLargeLayer(layerPath)
	if err != nil {
		b.Fatal(err)
	}
	layer, err := tarball.LayerFromFile(layerPath)
	if err != nil {
		b.Fatal(err)
	}
	img, err := mutate.AppendLayers(empty.Image, layer)
	if err != nil {
		b.Fatal(err)
	}
	f := &fixture{reg: reg}
	cfg, _ := img.RawConfigFile()
	f.pushBlob(b, "big", cfg)
	d, _ := layer.Digest()
	lf, err := os.Open(layerPath)
	if err != nil {
		b.Fatal(err)
	}
	if _, err := reg.PutBlob(ctx, key("big"), d.String(), lf, -1); err != nil {
		b.Fatal(err)
	}
	lf.Close()
	m, _ := img.RawManifest()
	mt, _ := img.MediaType()
	if _, err := reg.PutManifest(ctx, key("big"), "v1", nil, string(mt), m); err != nil {
		b.Fatal(err)
	}

	b.SetBytes(size)
	var peak float64
	for b.Loop() {
		c.Advance(25 * time.Hour) // past the daily quota
		peak = max(peak, scannertest.HeapGrowth(func() {
			if _, _, err := reg.StartImageScan(ctx, key("big"), registry.ImageID{Tag: "v1"}); err != nil {
				b.Fatal(err)
			}
			for {
				res, err := reg.DescribeImageScanFindings(ctx, key("big"), registry.ImageID{Tag: "v1"}, "", 0)
				if err != nil {
					b.Fatal(err)
				}
				if res.Status == metadata.ScanComplete && len(res.Findings) == 1 {
					return
				}
				if res.Status != metadata.ScanInProgress {
					b.Fatalf("scan: %+v", res)
				}
				time.Sleep(2 * time.Millisecond)
			}
		}))
	}
	b.ReportMetric(peak, "peak-heap-MB")
}
