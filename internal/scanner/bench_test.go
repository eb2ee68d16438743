package scanner

import (
	"context"
	"fmt"
	"io/fs"
	"math/rand/v2"
	"os"
	"path/filepath"
	"testing"

	"github.com/google/go-containerregistry/pkg/v1/tarball"
	scalibr "github.com/google/osv-scalibr"
	"github.com/google/osv-scalibr/artifact/image/layerscanning/image"
	cpb "github.com/google/osv-scalibr/binary/proto/config_go_proto"
	"github.com/google/osv-scalibr/enricher"
	"github.com/google/osv-scalibr/enricher/vulnmatch/osvlocal"
	"github.com/google/osv-scalibr/extractor"
	dpkgmeta "github.com/google/osv-scalibr/extractor/filesystem/os/dpkg/metadata"
	"github.com/google/osv-scalibr/inventory"
	"github.com/google/osv-scalibr/plugin"
	plugincfg "github.com/google/osv-scalibr/plugin/config"
	"github.com/google/osv-scalibr/purl"

	"github.com/ecrd/ecrd/internal/scanner/scannertest"
)

// BenchmarkMatchStored re-matches 10,000 stored lists of 50 packages drawn
// from 400 distinct ones against 4,000 advisories: the registry's job when
// the database changes.
func BenchmarkMatchStored(b *testing.B) {
	const (
		distinct   = 400
		advisories = 4000
		lists      = 10000
		perList    = 50
	)
	var advs []map[string]any
	for i := range advisories {
		name := fmt.Sprintf("pkg%d", i%distinct)
		advs = append(advs, map[string]any{
			"id":       fmt.Sprintf("DEBIAN-CVE-2024-%05d", i),
			"modified": "2024-01-01T00:00:00Z",
			"summary":  "synthetic",
			"affected": []map[string]any{{
				"package": map[string]string{"name": name, "ecosystem": "Debian:12"},
				"ranges": []map[string]any{{
					"type":   "ECOSYSTEM",
					"events": []map[string]string{{"introduced": "0"}, {"fixed": fmt.Sprintf("1.%d-1", i/distinct)}},
				}},
			}},
		})
	}
	s := newOSV(b, writeDBTB(b, map[string][]map[string]any{"Debian": advs}))

	pkgs := make([]*extractor.Package, distinct)
	for i := range pkgs {
		name := fmt.Sprintf("pkg%d", i)
		pkgs[i] = &extractor.Package{
			Name:     name,
			Version:  fmt.Sprintf("1.%d-1", i%12),
			PURLType: purl.TypeDebian,
			Metadata: &dpkgmeta.Metadata{PackageName: name, PackageVersion: "1", OSID: "debian", OSVersionID: "12", Status: "install ok installed"},
			Plugins:  []string{"os/dpkg"},
		}
	}
	rng := rand.New(rand.NewPCG(1, 2))
	stored := make([][]byte, lists)
	for i := range stored {
		var ps []*extractor.Package
		for _, j := range rng.Perm(distinct)[:perList] {
			ps = append(ps, pkgs[j])
		}
		enc, _, err := encodePackages(ps)
		if err != nil {
			b.Fatal(err)
		}
		stored[i] = enc
	}
	// Load the database before timing: that happens once per version.
	out, _, err := s.Match(context.Background(), stored[:1])
	if err != nil {
		b.Fatal(err)
	}
	if len(out[0]) == 0 {
		b.Fatal("no findings: the benchmark matches nothing")
	}
	b.Run("ecrd", func(b *testing.B) {
		for b.Loop() {
			if _, _, err := s.Match(context.Background(), stored); err != nil {
				b.Fatal(err)
			}
		}
		b.ReportMetric(float64(b.Elapsed().Microseconds())/float64(b.N)/lists, "µs/list")
	})
	// The peer: osv-scalibr's offline matcher as a scan uses it, one
	// enrichment per image, which reads the archive each time. It runs
	// over the first 100 lists only (it takes about a second a list).
	b.Run("osvlocal-per-list", func(b *testing.B) {
		const sample = 100
		m, err := osvlocal.New(&plugincfg.PluginConfig{
			ProtoConfig: &cpb.PluginConfig{PluginSpecific: []*cpb.PluginSpecificConfig{{
				Config: &cpb.PluginSpecificConfig_Osvlocal{Osvlocal: &cpb.OSVLocalConfig{LocalPath: s.dbDir, Download: false, RemoteHost: "http://127.0.0.1:0"}},
			}}},
			ClientFactories: offlineClients{},
		})
		if err != nil {
			b.Fatal(err)
		}
		found := 0
		for b.Loop() {
			found = 0
			for _, list := range stored[:sample] {
				pkgs, err := decodeList(list)
				if err != nil {
					b.Fatal(err)
				}
				inv := &inventory.Inventory{Packages: pkgs}
				if err := m.Enrich(context.Background(), &enricher.ScanInput{}, inv); err != nil {
					b.Fatal(err)
				}
				found += len(inv.PackageVulns)
			}
		}
		if found == 0 {
			b.Fatal("osvlocal found nothing")
		}
		b.ReportMetric(float64(b.Elapsed().Microseconds())/float64(b.N)/sample, "µs/list")
	})
}

// writeDBTB is writeDB for benchmarks.
func writeDBTB(b *testing.B, adv map[string][]map[string]any) string {
	dir := b.TempDir()
	if err := os.MkdirAll(filepath.Join(dir, "osv-scalibr"), 0o755); err != nil {
		b.Fatal(err)
	}
	for eco, list := range adv {
		p := writeExport(b, list...)
		if _, _, err := Install(dir, p); err != nil {
			b.Fatalf("%s: %v", eco, err)
		}
	}
	return dir
}

// dirSize is the bytes of the files under dir.
func dirSize(dir string) int64 {
	var n int64
	_ = filepath.WalkDir(dir, func(_ string, d fs.DirEntry, err error) error {
		if err == nil && !d.IsDir() {
			if info, err := d.Info(); err == nil {
				n += info.Size()
			}
		}
		return nil
	})
	return n
}

// BenchmarkScanLargeLayer extracts the packages of an image of one 200 MB
// gzipped layer: ecrd's Extract, which streams the layer and keeps only
// the files extractors want, against osv-scalibr's own container scan
// (layerscanning), which unpacks every file to a temporary file first,
// with the same extractors. peak-heap-MB is the heap's growth during the
// last run; tmp-MB what it left in TMPDIR at its largest.
func BenchmarkScanLargeLayer(b *testing.B) {
	path := filepath.Join(b.TempDir(), "layer.tar.gz")
	size, err := scannertest.WriteLargeLayer(path)
	if err != nil {
		b.Fatal(err)
	}
	layer, err := tarball.LayerFromFile(path)
	if err != nil {
		b.Fatal(err)
	}
	img := imageOfLayers(b, layer)
	s := newOSV(b, writeDBTB(b, nil))

	b.Run("ecrd", func(b *testing.B) {
		tmp := b.TempDir()
		b.Setenv("TMPDIR", tmp)
		b.SetBytes(size)
		var peak float64
		for b.Loop() {
			peak = scannertest.HeapGrowth(func() {
				ex, err := s.Extract(context.Background(), img)
				if err != nil || ex.Count != 1 {
					b.Fatalf("Extract: %d packages, %v", ex.Count, err)
				}
			})
		}
		b.ReportMetric(peak, "peak-heap-MB")
		b.ReportMetric(float64(dirSize(tmp))/(1<<20), "tmp-MB")
	})
	b.Run("osv-scalibr-layerscanning", func(b *testing.B) {
		tmp := b.TempDir()
		b.Setenv("TMPDIR", tmp)
		b.SetBytes(size)
		var peak float64
		var tmpMax int64
		for b.Loop() {
			peak = scannertest.HeapGrowth(func() {
				simg, err := image.FromV1Image(img, image.DefaultConfig())
				if err != nil {
					b.Fatal(err)
				}
				tmpMax = max(tmpMax, dirSize(tmp))
				exts, err := extractors()
				if err != nil {
					b.Fatal(err)
				}
				plugins := make([]plugin.Plugin, len(exts))
				for i, e := range exts {
					plugins[i] = e
				}
				sr, err := scalibr.New().ScanContainer(context.Background(), simg, &scalibr.ScanConfig{
					Plugins:              plugins,
					Capabilities:         &plugin.Capabilities{OS: plugin.OSLinux, Network: plugin.NetworkOffline},
					ExplicitPlugins:      true,
					RequiredPluginConfig: offlinePluginConfig(),
				})
				_ = simg.CleanUp()
				if err != nil || len(sr.Inventory.Packages) != 1 {
					b.Fatalf("ScanContainer: %d packages, %v", len(sr.Inventory.Packages), err)
				}
			})
		}
		b.ReportMetric(peak, "peak-heap-MB")
		b.ReportMetric(float64(tmpMax)/(1<<20), "tmp-MB")
	})
}
