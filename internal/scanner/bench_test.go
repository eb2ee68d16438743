package scanner

import (
	"archive/tar"
	"context"
	"fmt"
	"io"
	"math/rand/v2"
	"os"
	"path/filepath"
	"runtime"
	"sync"
	"sync/atomic"
	"testing"
	"time"

	v1 "github.com/google/go-containerregistry/pkg/v1"
	"github.com/google/go-containerregistry/pkg/v1/types"
	"github.com/google/osv-scalibr/extractor"
	dpkgmeta "github.com/google/osv-scalibr/extractor/filesystem/os/dpkg/metadata"
	"github.com/google/osv-scalibr/purl"
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
	b.ResetTimer()
	for b.Loop() {
		if _, _, err := s.Match(context.Background(), stored); err != nil {
			b.Fatal(err)
		}
	}
	b.ReportMetric(float64(b.Elapsed().Microseconds())/float64(b.N)/lists, "µs/list")
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

// streamLayer is a layer whose uncompressed tar is generated on each read,
// so the benchmark holds no 200 MB buffer of its own.
type streamLayer struct {
	gen  func(w io.Writer) error
	size int64
}

func (l streamLayer) Uncompressed() (io.ReadCloser, error) {
	pr, pw := io.Pipe()
	go func() { pw.CloseWithError(l.gen(pw)) }()
	return pr, nil
}
func (l streamLayer) Digest() (v1.Hash, error) {
	return v1.Hash{Algorithm: "sha256", Hex: fmt.Sprintf("%064x", l.size)}, nil
}
func (l streamLayer) DiffID() (v1.Hash, error)            { return l.Digest() }
func (l streamLayer) Compressed() (io.ReadCloser, error)  { return l.Uncompressed() }
func (l streamLayer) Size() (int64, error)                { return l.size, nil }
func (l streamLayer) MediaType() (types.MediaType, error) { return types.DockerLayer, nil }

// BenchmarkExtractLargeLayer extracts an image of one 200 MB layer of
// mostly ordinary files plus a dpkg status file.
func BenchmarkExtractLargeLayer(b *testing.B) {
	const (
		fileSize = 100 << 10
		files    = 2000 // 200 MB
	)
	chunk := make([]byte, fileSize)
	for i := range chunk {
		chunk[i] = byte(i * 7)
	}
	var total int64
	gen := func(w io.Writer) error {
		tw := tar.NewWriter(w)
		add := func(name string, mode int64, body []byte) error {
			if err := tw.WriteHeader(&tar.Header{Typeflag: tar.TypeReg, Name: name, Mode: mode, Size: int64(len(body)), ModTime: dbTime}); err != nil {
				return err
			}
			_, err := tw.Write(body)
			return err
		}
		if err := add("etc/os-release", 0o644, []byte(debianOSRelease)); err != nil {
			return err
		}
		if err := add("var/lib/dpkg/status", 0o644, []byte(opensslStatus)); err != nil {
			return err
		}
		for i := range files {
			// Executables make gobinary look inside (and give up: not Go).
			mode := int64(0o644)
			if i%100 == 0 {
				mode = 0o755
			}
			if err := add(fmt.Sprintf("usr/share/data/d%d/f%d.dat", i/100, i), mode, chunk); err != nil {
				return err
			}
		}
		return tw.Close()
	}
	cw := &countWriter{}
	if err := gen(cw); err != nil {
		b.Fatal(err)
	}
	total = cw.n
	img := imageOfLayers(b, streamLayer{gen: gen, size: total})
	s := newOSV(b, writeDBTB(b, nil))

	runtime.GC()
	var base runtime.MemStats
	runtime.ReadMemStats(&base)
	var peak atomic.Uint64
	stop := make(chan struct{})
	var wg sync.WaitGroup
	wg.Go(func() {
		var ms runtime.MemStats
		t := time.NewTicker(5 * time.Millisecond)
		defer t.Stop()
		for {
			select {
			case <-stop:
				return
			case <-t.C:
				runtime.ReadMemStats(&ms)
				if ms.HeapAlloc > peak.Load() {
					peak.Store(ms.HeapAlloc)
				}
			}
		}
	})
	b.SetBytes(total)
	b.ResetTimer()
	for b.Loop() {
		ex, err := s.Extract(context.Background(), img)
		if err != nil {
			b.Fatal(err)
		}
		if ex.Count != 1 {
			b.Fatalf("count %d", ex.Count)
		}
	}
	b.StopTimer()
	close(stop)
	wg.Wait()
	b.ReportMetric(float64(peak.Load())/(1<<20), "peak-heap-MB")
	b.ReportMetric(float64(base.HeapAlloc)/(1<<20), "base-heap-MB")
}

type countWriter struct{ n int64 }

func (c *countWriter) Write(p []byte) (int, error) { c.n += int64(len(p)); return len(p), nil }
