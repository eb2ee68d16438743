package scanner

import (
	"archive/tar"
	"context"
	"errors"
	"fmt"
	"io"
	"io/fs"
	"log/slog"
	"path"
	"strings"
	"testing/fstest"
	"time"

	v1 "github.com/google/go-containerregistry/pkg/v1"
	cpb "github.com/google/osv-scalibr/binary/proto/config_go_proto"
	"github.com/google/osv-scalibr/extractor/filesystem"
	"github.com/google/osv-scalibr/extractor/filesystem/language/golang/gobinary"
	"github.com/google/osv-scalibr/extractor/filesystem/language/java/archive"
	"github.com/google/osv-scalibr/extractor/filesystem/language/javascript/packagejson"
	"github.com/google/osv-scalibr/extractor/filesystem/language/python/wheelegg"
	"github.com/google/osv-scalibr/extractor/filesystem/os/apk"
	"github.com/google/osv-scalibr/extractor/filesystem/os/dpkg"
	"github.com/google/osv-scalibr/extractor/filesystem/os/osrelease"
	"github.com/google/osv-scalibr/extractor/filesystem/os/rpm"
	scalibrfs "github.com/google/osv-scalibr/fs"
	"github.com/google/osv-scalibr/stats"
)

// Limits on what Extract keeps in memory. Files beyond them are skipped
// (a huge jar or binary is not worth exhausting memory for).
const (
	maxKeptFile  = 512 << 20
	maxKeptTotal = 1 << 30
)

// osReleasePaths are always kept: extractors and the unsupported-image
// check read them, and no extractor asks for them.
var osReleasePaths = map[string]bool{"etc/os-release": true, "usr/lib/os-release": true}

// extractors returns fresh instances of the extractors a scan runs. RPM's
// reads its database (rpmdb.sqlite, Packages) through a real file, so
// osv-scalibr copies that one file to a temporary file while it is read;
// nothing else of an image touches the disk.
func extractors() ([]filesystem.Extractor, error) {
	cfg := &cpb.PluginConfig{}
	var out []filesystem.Extractor
	for _, mk := range []func(*cpb.PluginConfig) (filesystem.Extractor, error){
		dpkg.New, apk.New, rpm.New, gobinary.New, packagejson.New, wheelegg.New, archive.New,
	} {
		e, err := mk(cfg)
		if err != nil {
			return nil, fmt.Errorf("scanner: extractor: %w", err)
		}
		out = append(out, e)
	}
	return out, nil
}

// memEntry is a path of the merged image file system: a kept file, or a
// link (symbolic or hard) recorded by target only.
type memEntry struct {
	layer   int
	data    []byte
	mode    fs.FileMode
	modTime time.Time
	link    string // symlink target as written, or hardlink target path
	hard    bool
}

// tarFile is the filesystem.FileAPI of a tar entry, for FileRequired.
type tarFile struct {
	path string
	info fs.FileInfo
}

func (f tarFile) Stat() (fs.FileInfo, error) { return f.info, nil }
func (f tarFile) Path() string               { return f.path }

// memInfo describes a link by its target, for FileRequired.
type memInfo struct {
	name    string
	size    int64
	mode    fs.FileMode
	modTime time.Time
}

func (i memInfo) Name() string       { return i.name }
func (i memInfo) Size() int64        { return i.size }
func (i memInfo) Mode() fs.FileMode  { return i.mode }
func (i memInfo) ModTime() time.Time { return i.modTime }
func (i memInfo) IsDir() bool        { return false }
func (i memInfo) Sys() any           { return nil }

// layerFS merges layers in order, keeping only what extractors need.
type layerFS struct {
	exts    []filesystem.Extractor
	files   map[string]*memEntry
	links   map[string]*memEntry
	wh      map[string]int // path -> highest layer whiting it out
	opaque  map[string]int // dir -> highest layer making it opaque
	total   int64
	skipped int
}

func newLayerFS(exts []filesystem.Extractor) *layerFS {
	return &layerFS{
		exts:   exts,
		files:  map[string]*memEntry{},
		links:  map[string]*memEntry{},
		wh:     map[string]int{},
		opaque: map[string]int{},
	}
}

// cleanName turns a tar entry name into an fs.FS path ("" for the root or
// an unusable name).
func cleanName(name string) string {
	p := path.Clean("/" + name)[1:]
	if p == "" || !fs.ValidPath(p) {
		return ""
	}
	return p
}

func (l *layerFS) required(p string, info fs.FileInfo) bool {
	if osReleasePaths[p] {
		return true
	}
	api := tarFile{path: p, info: info}
	for _, e := range l.exts {
		if e.FileRequired(api) {
			return true
		}
	}
	return false
}

func (l *layerFS) drop(p string) {
	if e, ok := l.files[p]; ok {
		l.total -= int64(len(e.data))
		delete(l.files, p)
	}
	delete(l.links, p)
}

// addLayer reads one layer's uncompressed tar stream.
func (l *layerFS) addLayer(ctx context.Context, idx int, r io.Reader) error {
	tr := tar.NewReader(r)
	for n := 0; ; n++ {
		if n%1024 == 0 {
			if err := ctx.Err(); err != nil {
				return err
			}
		}
		hdr, err := tr.Next()
		if errors.Is(err, io.EOF) {
			return nil
		}
		if err != nil {
			return err
		}
		p := cleanName(hdr.Name)
		if p == "" {
			continue
		}
		dir, base := path.Split(p)
		dir = strings.TrimSuffix(dir, "/")
		if base == ".wh..wh..opq" {
			l.opaque[dir] = max(l.opaque[dir], idx)
			continue
		}
		if name, ok := strings.CutPrefix(base, ".wh."); ok {
			target := path.Join(dir, name)
			l.wh[target] = max(l.wh[target], idx)
			continue
		}
		switch hdr.Typeflag {
		case tar.TypeDir:
			// A directory replaces a file or link of a lower layer.
			l.drop(p)
		case tar.TypeSymlink:
			l.drop(p)
			l.links[p] = &memEntry{layer: idx, link: hdr.Linkname, mode: hdr.FileInfo().Mode(), modTime: hdr.ModTime}
		case tar.TypeLink:
			l.drop(p)
			if t := cleanName(hdr.Linkname); t != "" {
				l.links[p] = &memEntry{layer: idx, link: t, hard: true, mode: hdr.FileInfo().Mode(), modTime: hdr.ModTime}
			}
		case tar.TypeReg:
			l.drop(p)
			info := hdr.FileInfo()
			if !l.required(p, info) {
				continue
			}
			if hdr.Size > maxKeptFile || l.total+hdr.Size > maxKeptTotal {
				l.skipped++
				slog.Debug("scanner: file too large to extract, skipped", "path", p, "size", hdr.Size, "kept", l.total)
				continue
			}
			data, err := io.ReadAll(io.LimitReader(tr, hdr.Size))
			if err != nil {
				return err
			}
			l.total += int64(len(data))
			l.files[p] = &memEntry{layer: idx, data: data, mode: info.Mode(), modTime: hdr.ModTime}
		default:
			// Devices, fifos...: never package data, but they hide a lower file.
			l.drop(p)
		}
	}
}

// removed reports whether a whiteout or opaque directory of a higher layer
// hides the entry at p.
func (l *layerFS) removed(p string, e *memEntry) bool {
	for q := p; ; {
		if wl, ok := l.wh[q]; ok && wl > e.layer {
			return true
		}
		i := strings.LastIndexByte(q, '/')
		parent := ""
		if i >= 0 {
			parent = q[:i]
		}
		if ol, ok := l.opaque[parent]; ok && ol > e.layer {
			return true
		}
		if i < 0 {
			return false
		}
		q = parent
	}
}

// resolve follows symbolic links (in p's directories too) to a kept file,
// up to a bound that also ends loops.
func (l *layerFS) resolve(p string) (*memEntry, bool) {
	for hops := 0; hops < 40; hops++ {
		// Replace the longest linked prefix of p by its target.
		parts := strings.Split(p, "/")
		linked := false
		for i := 1; i <= len(parts); i++ {
			prefix := strings.Join(parts[:i], "/")
			e, ok := l.links[prefix]
			if !ok {
				continue
			}
			var t string
			switch {
			case e.hard:
				t = e.link
			case strings.HasPrefix(e.link, "/"):
				t = cleanName(e.link)
			default:
				t = cleanName(path.Join(path.Dir(prefix), e.link))
			}
			if t == "" {
				return nil, false
			}
			p = path.Join(append([]string{t}, parts[i:]...)...)
			linked = true
			break
		}
		if !linked {
			e, ok := l.files[p]
			return e, ok
		}
	}
	return nil, false
}

// fs returns the merged file system: kept files not whited out, and links
// to them that an extractor needs (so Debian's etc/os-release, a link to
// ../usr/lib/os-release, is found).
func (l *layerFS) fs() fstest.MapFS {
	for p, e := range l.files {
		if l.removed(p, e) {
			delete(l.files, p)
		}
	}
	for p, e := range l.links {
		if l.removed(p, e) {
			delete(l.links, p)
		}
	}
	out := fstest.MapFS{}
	for p, e := range l.files {
		out[p] = &fstest.MapFile{Data: e.data, Mode: e.mode, ModTime: e.modTime}
	}
	for p := range l.links {
		t, ok := l.resolve(p)
		if !ok {
			continue
		}
		f := &fstest.MapFile{Data: t.data, Mode: t.mode, ModTime: t.modTime}
		info := memInfo{name: path.Base(p), size: int64(len(t.data)), mode: t.mode, modTime: t.modTime}
		if _, exists := out[p]; exists || !l.required(p, info) {
			continue
		}
		out[p] = f
	}
	return out
}

// Extract lists img's packages without writing anything to disk: it
// streams the layers, keeping in memory only the files an extractor asks
// for, and runs the extractors on that in-memory file system.
func (s *OSV) Extract(ctx context.Context, img v1.Image) (Extraction, error) {
	unsupported := Extraction{Status: StatusUnsupportedImage}
	layers, err := img.Layers()
	if err != nil {
		return Extraction{}, fmt.Errorf("scanner: reading image: %w", err)
	}
	if len(layers) == 0 {
		return unsupported, nil
	}
	exts, err := extractors()
	if err != nil {
		return Extraction{}, err
	}
	lfs := newLayerFS(exts)
	for i, layer := range layers {
		rc, err := layer.Uncompressed()
		if err != nil {
			return Extraction{}, fmt.Errorf("scanner: reading layer %d: %w", i, err)
		}
		err = lfs.addLayer(ctx, i, rc)
		_ = rc.Close()
		if err != nil {
			if ctx.Err() != nil {
				return Extraction{}, ctx.Err()
			}
			return Extraction{}, fmt.Errorf("scanner: reading layer %d: %w", i, err)
		}
	}
	if lfs.skipped > 0 {
		slog.Debug("scanner: files skipped over the extraction limits", "files", lfs.skipped)
	}
	memfs := lfs.fs()

	// The extractors run through osv-scalibr's file system walk alone: its
	// Scan would add detectors, annotators and enrichers this scan has none
	// of, and link every plugin osv-scalibr has into the binary.
	inv, _, err := filesystem.Run(ctx, &filesystem.Config{
		Extractors: exts,
		// No Path: the root is virtual, so that an extractor that needs a
		// real file (RPM's) gets a temporary copy of the image's, never the
		// host's file of the same name.
		ScanRoots: []*scalibrfs.ScanRoot{{FS: memfs}},
		Stats:     stats.NoopCollector{}, // the walk requires one
	})
	if err := ctx.Err(); err != nil {
		return Extraction{}, err
	}
	if err != nil {
		return Extraction{}, fmt.Errorf("scanner: extracting packages: %w", err)
	}
	pkgs := inv.Packages
	if len(pkgs) == 0 {
		if osr, err := osrelease.GetOSRelease(memfs); err != nil || (osr["ID"] == "" && osr["NAME"] == "") {
			return unsupported, nil
		}
	}
	enc, n, err := encodePackages(pkgs)
	if err != nil {
		return Extraction{}, err
	}
	return Extraction{Status: StatusComplete, Packages: enc, Count: n}, nil
}
