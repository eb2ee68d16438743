// Package scannertest builds what scanning tests need, in the test: images
// whose layers hold package databases, and OSV advisories packed as the
// scanner's vulnerability data folder (or as osv.dev's per-ecosystem
// exports) reads them.
package scannertest

import (
	"archive/tar"
	"archive/zip"
	"bytes"
	"compress/gzip"
	"encoding/binary"
	"encoding/json"
	"fmt"
	"io"
	"math/rand/v2"
	"os"
	"os/exec"
	"path"
	"path/filepath"
	"runtime"
	"sort"
	"strings"
	"sync"
	"sync/atomic"
	"time"

	v1 "github.com/google/go-containerregistry/pkg/v1"
	"github.com/google/go-containerregistry/pkg/v1/empty"
	"github.com/google/go-containerregistry/pkg/v1/mutate"
	"github.com/google/go-containerregistry/pkg/v1/tarball"
)

// Time is the modification time of fixture advisories and files.
var Time = time.Date(2026, 11, 5, 23, 49, 57, 0, time.UTC)

// CVSS 3.1 vectors of known base scores.
const (
	VectorCritical = "CVSS:3.1/AV:N/AC:L/PR:N/UI:N/S:U/C:H/I:H/A:H" // 9.8
	VectorHigh     = "CVSS:3.1/AV:N/AC:L/PR:N/UI:N/S:U/C:N/I:N/A:H" // 7.5
	VectorMedium   = "CVSS:3.1/AV:N/AC:L/PR:N/UI:R/S:U/C:L/I:L/A:N" // 5.4
	VectorLow      = "CVSS:3.1/AV:N/AC:H/PR:N/UI:R/S:U/C:L/I:N/A:N" // 3.1
)

// Ecosystems get an archive in every fixture folder, empty unless
// advisories are given for them.
var Ecosystems = []string{"Go", "Debian", "Alpine", "PyPI", "npm", "Maven"}

// Advisory is an OSV advisory of one package, fixed in a version.
type Advisory struct {
	ID        string
	Aliases   []string
	Ecosystem string // as OSV writes it, e.g. "Debian:12", "Alpine:v3.19"
	Package   string
	Fixed     string
	Vector    string // CVSS 3.x vector, or ""
	Severity  string // the ecosystem's own severity word, or ""
	Summary   string
}

// Doc is the advisory as an OSV document.
func (a Advisory) Doc() map[string]any {
	doc := map[string]any{
		"schema_version": "1.6.0",
		"id":             a.ID,
		"modified":       Time.Format(time.RFC3339),
		"summary":        a.Summary,
		"affected": []map[string]any{{
			"package": map[string]string{"name": a.Package, "ecosystem": a.Ecosystem},
			"ranges": []map[string]any{{
				"type":   "ECOSYSTEM",
				"events": []map[string]string{{"introduced": "0"}, {"fixed": a.Fixed}},
			}},
		}},
	}
	if a.Summary == "" {
		doc["summary"] = a.Package + " vulnerability " + a.ID
	}
	if len(a.Aliases) > 0 {
		doc["aliases"] = a.Aliases
	}
	if a.Vector != "" {
		doc["severity"] = []map[string]string{{"type": "CVSS_V3", "score": a.Vector}}
	}
	if a.Severity != "" {
		doc["database_specific"] = map[string]any{"severity": a.Severity}
	}
	return doc
}

// Export packs advisories as osv.dev packs one ecosystem: a zip of one
// JSON document per advisory.
func Export(advisories ...Advisory) ([]byte, error) {
	var buf bytes.Buffer
	zw := zip.NewWriter(&buf)
	for _, a := range advisories {
		w, err := zw.CreateHeader(&zip.FileHeader{Name: a.ID + ".json", Method: zip.Deflate, Modified: Time})
		if err != nil {
			return nil, err
		}
		if err := json.NewEncoder(w).Encode(a.Doc()); err != nil {
			return nil, err
		}
	}
	if err := zw.Close(); err != nil {
		return nil, err
	}
	return buf.Bytes(), nil
}

// WriteFolder writes a vulnerability data folder at dir holding the
// advisories, each under its ecosystem (the part of Ecosystem before ':'),
// and an empty archive for every other ecosystem of Ecosystems.
func WriteFolder(dir string, advisories ...Advisory) error {
	by := map[string][]Advisory{}
	for _, a := range advisories {
		base, _, _ := strings.Cut(a.Ecosystem, ":")
		by[base] = append(by[base], a)
	}
	ecos := append([]string{}, Ecosystems...)
	for eco := range by {
		if !contains(ecos, eco) {
			ecos = append(ecos, eco)
		}
	}
	for _, eco := range ecos {
		b, err := Export(by[eco]...)
		if err != nil {
			return err
		}
		p := filepath.Join(dir, "osv-scalibr", eco, "all.zip")
		if err := os.MkdirAll(filepath.Dir(p), 0o755); err != nil {
			return err
		}
		if err := os.WriteFile(p, b, 0o644); err != nil {
			return err
		}
	}
	return nil
}

func contains(xs []string, x string) bool {
	for _, y := range xs {
		if y == x {
			return true
		}
	}
	return false
}

// File is a regular file of a layer.
type File struct {
	Name string // without a leading slash
	Mode int64  // default 0644
	Body []byte
}

// Layer returns an uncompressed layer tar holding files and their parent
// directories.
func Layer(files ...File) ([]byte, error) {
	var buf bytes.Buffer
	tw := tar.NewWriter(&buf)
	dirs := map[string]bool{}
	for _, f := range files {
		for d := path.Dir(f.Name); d != "." && d != "/"; d = path.Dir(d) {
			dirs[d] = true
		}
	}
	var ds []string
	for d := range dirs {
		ds = append(ds, d)
	}
	sort.Strings(ds)
	for _, d := range ds {
		if err := tw.WriteHeader(&tar.Header{Typeflag: tar.TypeDir, Name: d + "/", Mode: 0o755, ModTime: Time}); err != nil {
			return nil, err
		}
	}
	for _, f := range files {
		mode := f.Mode
		if mode == 0 {
			mode = 0o644
		}
		if err := tw.WriteHeader(&tar.Header{Typeflag: tar.TypeReg, Name: f.Name, Mode: mode, Size: int64(len(f.Body)), ModTime: Time}); err != nil {
			return nil, err
		}
		if _, err := tw.Write(f.Body); err != nil {
			return nil, err
		}
	}
	if err := tw.Close(); err != nil {
		return nil, err
	}
	return buf.Bytes(), nil
}

// Image returns an image of one layer per element of layers.
func Image(layers ...[]File) (v1.Image, error) {
	img := empty.Image
	for _, files := range layers {
		data, err := Layer(files...)
		if err != nil {
			return nil, err
		}
		l, err := tarball.LayerFromOpener(func() (io.ReadCloser, error) { return io.NopCloser(bytes.NewReader(data)), nil })
		if err != nil {
			return nil, err
		}
		if img, err = mutate.AppendLayers(img, l); err != nil {
			return nil, err
		}
	}
	return img, nil
}

const debianOSRelease = `PRETTY_NAME="Debian GNU/Linux 12 (bookworm)"
NAME="Debian GNU/Linux"
VERSION_ID="12"
VERSION="12 (bookworm)"
VERSION_CODENAME=bookworm
ID=debian
`

const alpineOSRelease = `NAME="Alpine Linux"
ID=alpine
VERSION_ID=3.19.1
PRETTY_NAME="Alpine Linux v3.19"
`

// Package is an installed package: name and version.
type Package struct{ Name, Version string }

// DebianFiles are the files of a Debian 12 system with packages installed
// (a dpkg status database).
func DebianFiles(pkgs ...Package) []File {
	var status strings.Builder
	for _, p := range pkgs {
		fmt.Fprintf(&status, "Package: %s\nStatus: install ok installed\nPriority: optional\nArchitecture: amd64\nVersion: %s\nDescription: %s\n\n", p.Name, p.Version, p.Name)
	}
	return []File{
		{Name: "etc/os-release", Body: []byte(debianOSRelease)},
		{Name: "var/lib/dpkg/status", Body: []byte(status.String())},
	}
}

// AlpineFiles are the files of an Alpine 3.19 system with packages
// installed (an apk database).
func AlpineFiles(pkgs ...Package) []File {
	var db strings.Builder
	for _, p := range pkgs {
		fmt.Fprintf(&db, "P:%s\nV:%s\nA:x86_64\nT:%s\no:%s\n\n", p.Name, p.Version, p.Name, p.Name)
	}
	return []File{
		{Name: "etc/os-release", Body: []byte(alpineOSRelease)},
		{Name: "lib/apk/db/installed", Body: []byte(db.String())},
	}
}

// GoBinary compiles, in dir, a linux/amd64 program that imports
// golang.org/x/text/language at version (fetched through the Go module
// proxy or read from the module cache), and returns the binary.
func GoBinary(dir, version string) ([]byte, error) {
	gobin, err := exec.LookPath("go")
	if err != nil {
		return nil, err
	}
	files := map[string]string{
		"go.mod":  "module example.com/xt\n\ngo 1.22\n",
		"main.go": "package main\n\nimport (\n\t\"fmt\"\n\n\t\"golang.org/x/text/language\"\n)\n\nfunc main() { fmt.Println(language.English) }\n",
	}
	for name, body := range files {
		if err := os.WriteFile(filepath.Join(dir, name), []byte(body), 0o644); err != nil {
			return nil, err
		}
	}
	for _, args := range [][]string{{"get", "golang.org/x/text@" + version}, {"build", "-o", "xt", "."}} {
		cmd := exec.Command(gobin, args...)
		cmd.Dir = dir
		cmd.Env = append(os.Environ(), "GOWORK=off", "GOFLAGS=-mod=mod -buildvcs=false", "CGO_ENABLED=0", "GOOS=linux", "GOARCH=amd64")
		if out, err := cmd.CombinedOutput(); err != nil {
			return nil, fmt.Errorf("go %s: %v\n%s", strings.Join(args, " "), err, out)
		}
	}
	return os.ReadFile(filepath.Join(dir, "xt"))
}

// HeapGrowth runs fn and returns the largest growth of the Go heap seen
// while it ran (sampled every 2 ms), in MiB: what a benchmark reports as a
// scan's peak memory.
func HeapGrowth(fn func()) float64 {
	runtime.GC()
	var base runtime.MemStats
	runtime.ReadMemStats(&base)
	var peak atomic.Uint64
	stop := make(chan struct{})
	var wg sync.WaitGroup
	wg.Go(func() {
		var ms runtime.MemStats
		t := time.NewTicker(2 * time.Millisecond)
		defer t.Stop()
		for {
			runtime.ReadMemStats(&ms)
			if ms.HeapAlloc > peak.Load() {
				peak.Store(ms.HeapAlloc)
			}
			select {
			case <-stop:
				return
			case <-t.C:
			}
		}
	})
	fn()
	close(stop)
	wg.Wait()
	return float64(peak.Load()-min(peak.Load(), base.HeapAlloc)) / (1 << 20)
}

// WriteLargeLayer writes to path a gzipped layer of about 200 MB: a Debian
// system with a vulnerable openssl (3.0.11-1~deb12u1) and 2,000 files of
// 100 KB of incompressible data, one in a hundred executable (extractors
// of Go binaries look inside those). It returns the layer's uncompressed
// content size.
func WriteLargeLayer(path string) (int64, error) {
	f, err := os.Create(path)
	if err != nil {
		return 0, err
	}
	defer f.Close()
	zw, err := gzip.NewWriterLevel(f, gzip.BestSpeed)
	if err != nil {
		return 0, err
	}
	tw := tar.NewWriter(zw)
	var size int64
	add := func(name string, mode int64, body []byte) error {
		if err := tw.WriteHeader(&tar.Header{Typeflag: tar.TypeReg, Name: name, Mode: mode, Size: int64(len(body)), ModTime: Time}); err != nil {
			return err
		}
		size += int64(len(body))
		_, err := tw.Write(body)
		return err
	}
	for _, file := range DebianFiles(Package{Name: "openssl", Version: "3.0.11-1~deb12u1"}) {
		if err := add(file.Name, 0o644, file.Body); err != nil {
			return 0, err
		}
	}
	rng := rand.New(rand.NewPCG(5, 6))
	chunk := make([]byte, 100<<10)
	for i := range 2000 {
		for j := 0; j < len(chunk); j += 8 {
			binary.LittleEndian.PutUint64(chunk[j:], rng.Uint64())
		}
		mode := int64(0o644)
		if i%100 == 0 {
			mode = 0o755
		}
		if err := add(fmt.Sprintf("usr/share/data/d%d/f%d.dat", i/100, i), mode, chunk); err != nil {
			return 0, err
		}
	}
	if err := tw.Close(); err != nil {
		return 0, err
	}
	if err := zw.Close(); err != nil {
		return 0, err
	}
	return size, f.Sync()
}
