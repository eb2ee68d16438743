// Command ecrd-vulndb packs a folder of OSV advisories (the data/osv/*.json
// files of golang.org/x/vulndb) into the vulnerability data folder that
// ecrd's scanner (internal/scanner) reads, osv-scalibr's offline layout:
//
//	<out>/osv-scalibr/Go/all.zip
//	<out>/osv-scalibr/<Ecosystem>/all.zip   (empty, for every other ecosystem)
//	<out>/SOURCE                            (version, count, checksum, credit)
//
// The zip is reproducible: entries are sorted by name, every entry carries
// the same modification time (the module's commit time, taken from its
// pseudo-version), the same permissions and the same compression level, and
// no extra fields are written, so two runs over the same input give
// byte-identical archives.
//
// An empty (valid) zip is written for every other ecosystem osv-scalibr
// knows, showing where an operator's osv.dev export goes (the scanner
// matches nothing for an ecosystem without one), unless a non-empty file
// is already there (a loaded export), which is left alone.
//
// It is normally run by scripts/vulndb; it uses the standard library only.
package main

import (
	"archive/zip"
	"bytes"
	"compress/flate"
	"crypto/sha256"
	"encoding/hex"
	"encoding/json"
	"errors"
	"flag"
	"fmt"
	"hash/crc32"
	"io"
	"os"
	"path/filepath"
	"regexp"
	"sort"
	"strings"
	"time"
)

// Module is the Go module the advisories come from.
const Module = "golang.org/x/vulndb"

// Credit is the attribution the CC-BY-4.0 data licence requires.
const Credit = "Go vulnerability data © the Go Authors, CC-BY-4.0, from golang.org/x/vulndb"

// GoEcosystem is the ecosystem directory the advisories are packed into.
const GoEcosystem = "Go"

// Ecosystems lists the directory names osvlocal may look up: the Ecosystem
// constants of github.com/ossf/osv-schema/bindings/go/osvconstants at the
// version osv-scalibr v0.5.3 requires (v0.0.0-20260424063704-83285ce2a866),
// plus "GIT", which osvlocal uses for packages without an ecosystem.
var Ecosystems = []string{
	"AlmaLinux", "Alpaquita", "Alpine", "Android", "Azure Linux",
	"BellSoft Hardened Containers", "Bioconductor", "Bitnami", "Chainguard",
	"CleanStart", "ConanCenter", "CRAN", "crates.io", "Debian",
	"Docker Hardened Images", "Echo", "FreeBSD", "GHC", "GIT", "GitHub Actions",
	"Go", "Hackage", "Hex", "Julia", "Kubernetes", "Linux", "Mageia", "Maven",
	"MinimOS", "npm", "NuGet", "opam", "openEuler", "openSUSE", "OSS-Fuzz",
	"Packagist", "Photon OS", "Pub", "PyPI", "Red Hat", "Rocky Linux", "Root",
	"RubyGems", "SUSE", "SwiftURL", "TuxCare", "Ubuntu", "VSCode", "Wolfi",
}

// DefaultModTime is used when the version carries no timestamp: the earliest
// time a zip (MS-DOS) timestamp can hold.
var DefaultModTime = time.Date(1980, 1, 1, 0, 0, 0, 0, time.UTC)

// compressionLevel is fixed so that the output does not depend on defaults.
const compressionLevel = flate.BestCompression

var pseudoTime = regexp.MustCompile(`^v[0-9]+\.[0-9]+\.[0-9]+-(?:.*\.)?([0-9]{14})-[0-9a-f]{12}$`)

// ModTimeFor returns the commit time encoded in a Go pseudo-version
// (vX.Y.Z-yyyymmddhhmmss-abcdefabcdef), or DefaultModTime.
func ModTimeFor(version string) time.Time {
	m := pseudoTime.FindStringSubmatch(version)
	if m == nil {
		return DefaultModTime
	}
	t, err := time.Parse("20060102150405", m[1])
	if err != nil || t.Before(DefaultModTime) {
		return DefaultModTime
	}
	return t.UTC()
}

// msDosTime converts t to the MS-DOS date and time fields of a zip header
// (2-second resolution). Setting these directly, rather than
// FileHeader.Modified, keeps archive/zip from adding an extended-timestamp
// extra field.
func msDosTime(t time.Time) (date, tm uint16) {
	date = uint16(t.Day() + int(t.Month())<<5 + (t.Year()-1980)<<9)
	tm = uint16(t.Second()/2 + t.Minute()<<5 + t.Hour()<<11)
	return date, tm
}

// checkOSV verifies that data is a JSON object with a non-empty string "id",
// and returns that id.
func checkOSV(data []byte) (string, error) {
	var doc map[string]json.RawMessage
	if err := json.Unmarshal(data, &doc); err != nil {
		return "", fmt.Errorf("not a JSON object: %v", err)
	}
	raw, ok := doc["id"]
	if !ok {
		return "", errors.New(`no "id" field, not an OSV advisory`)
	}
	var id string
	if err := json.Unmarshal(raw, &id); err != nil || strings.TrimSpace(id) == "" {
		return "", errors.New(`"id" is not a non-empty string, not an OSV advisory`)
	}
	return id, nil
}

// Pack writes every *.json file of srcDir (not recursing; other files are
// skipped) into a reproducible zip on w, sorted by name. Every file must be
// an OSV advisory (a JSON object with an "id"); ids must be unique. It
// returns the number of advisories packed.
func Pack(w io.Writer, srcDir string, modTime time.Time) (int, error) {
	entries, err := os.ReadDir(srcDir)
	if err != nil {
		return 0, err
	}
	var names []string
	for _, e := range entries {
		if e.Type().IsRegular() && strings.HasSuffix(e.Name(), ".json") {
			names = append(names, e.Name())
		}
	}
	if len(names) == 0 {
		return 0, fmt.Errorf("%s: no *.json files", srcDir)
	}
	sort.Strings(names)

	date, tm := msDosTime(modTime)
	zw := zip.NewWriter(w)
	seen := make(map[string]string, len(names))
	var buf bytes.Buffer
	fw, err := flate.NewWriter(&buf, compressionLevel)
	if err != nil {
		return 0, err
	}
	for _, name := range names {
		data, err := os.ReadFile(filepath.Join(srcDir, name))
		if err != nil {
			return 0, err
		}
		id, err := checkOSV(data)
		if err != nil {
			return 0, fmt.Errorf("%s: %v", filepath.Join(srcDir, name), err)
		}
		if prev, dup := seen[id]; dup {
			return 0, fmt.Errorf("%s: id %s already used by %s", filepath.Join(srcDir, name), id, prev)
		}
		seen[id] = name

		buf.Reset()
		fw.Reset(&buf)
		if _, err := fw.Write(data); err != nil {
			return 0, err
		}
		if err := fw.Close(); err != nil {
			return 0, err
		}
		fh := &zip.FileHeader{
			Name:               name,
			Method:             zip.Deflate,
			ReaderVersion:      20, // 2.0: deflate; CreateRaw leaves it 0
			CRC32:              crc32.ChecksumIEEE(data),
			CompressedSize64:   uint64(buf.Len()),
			UncompressedSize64: uint64(len(data)),
		}
		//lint:ignore SA1019 Modified would add an extended-timestamp extra field.
		fh.ModifiedDate, fh.ModifiedTime = date, tm
		fh.SetMode(0o644)
		// CreateRaw with known sizes and CRC: no data descriptor, no extras.
		ew, err := zw.CreateRaw(fh)
		if err != nil {
			return 0, err
		}
		if _, err := ew.Write(buf.Bytes()); err != nil {
			return 0, err
		}
	}
	if err := zw.Close(); err != nil {
		return 0, err
	}
	return len(names), nil
}

// writeAtomic writes a file via a temporary file in the same folder and a
// rename, so readers never see a half-written file.
func writeAtomic(path string, write func(io.Writer) error) error {
	if err := os.MkdirAll(filepath.Dir(path), 0o755); err != nil {
		return err
	}
	f, err := os.CreateTemp(filepath.Dir(path), ".tmp-"+filepath.Base(path)+"-*")
	if err != nil {
		return err
	}
	tmp := f.Name()
	defer os.Remove(tmp) // no-op after a successful rename
	if err := write(f); err != nil {
		f.Close()
		return err
	}
	if err := f.Chmod(0o644); err != nil {
		f.Close()
		return err
	}
	if err := f.Close(); err != nil {
		return err
	}
	return os.Rename(tmp, path)
}

// EmptyZip returns a valid zip archive with no entries.
func EmptyZip() []byte {
	var b bytes.Buffer
	zip.NewWriter(&b).Close()
	return b.Bytes()
}

// Result describes what Run did.
type Result struct {
	Advisories int
	SHA256     string
	ZipSize    int64
	Created    []string // ecosystems given an empty zip
	Kept       []string // ecosystems whose existing non-empty zip was kept
}

// ZipPath returns where the zip of an ecosystem lives under out.
func ZipPath(out, ecosystem string) string {
	return filepath.Join(out, "osv-scalibr", ecosystem, "all.zip")
}

// Run packs srcDir into out/osv-scalibr/Go/all.zip (replacing it), writes
// empty zips for the other ecosystems that have none, and writes out/SOURCE
// last, so an interrupted run is never taken for a finished one.
func Run(srcDir, out, version string) (*Result, error) {
	res := &Result{}
	goZip := ZipPath(out, GoEcosystem)
	h := sha256.New()
	err := writeAtomic(goZip, func(w io.Writer) error {
		cw := &countWriter{w: io.MultiWriter(w, h)}
		n, err := Pack(cw, srcDir, ModTimeFor(version))
		res.Advisories, res.ZipSize = n, cw.n
		return err
	})
	if err != nil {
		return nil, err
	}
	res.SHA256 = hex.EncodeToString(h.Sum(nil))

	empty := EmptyZip()
	for _, eco := range Ecosystems {
		if eco == GoEcosystem {
			continue
		}
		p := ZipPath(out, eco)
		if st, err := os.Stat(p); err == nil && st.Size() > 0 {
			if !bytes.Equal(mustRead(p), empty) {
				res.Kept = append(res.Kept, eco)
			}
			continue
		}
		if err := writeAtomic(p, func(w io.Writer) error { _, err := w.Write(empty); return err }); err != nil {
			return nil, err
		}
		res.Created = append(res.Created, eco)
	}

	source := fmt.Sprintf(`# Offline vulnerability data for ecrd, written by scripts/vulndb.
module: %s
version: %s
advisories: %d
sha256: %s  osv-scalibr/Go/all.zip
licence: %s
`, Module, version, res.Advisories, res.SHA256, Credit)
	err = writeAtomic(filepath.Join(out, "SOURCE"), func(w io.Writer) error {
		_, err := io.WriteString(w, source)
		return err
	})
	if err != nil {
		return nil, err
	}
	return res, nil
}

func mustRead(p string) []byte {
	b, _ := os.ReadFile(p)
	return b
}

type countWriter struct {
	w io.Writer
	n int64
}

func (c *countWriter) Write(p []byte) (int, error) {
	n, err := c.w.Write(p)
	c.n += int64(n)
	return n, err
}

func main() {
	src := flag.String("src", "", "folder of OSV *.json advisories (golang.org/x/vulndb's data/osv)")
	out := flag.String("out", "", "output folder; gets osv-scalibr/<Ecosystem>/all.zip and SOURCE")
	version := flag.String("version", "", "version of "+Module+" the advisories come from")
	flag.Parse()
	if *src == "" || *out == "" || *version == "" || flag.NArg() > 0 {
		fmt.Fprintln(os.Stderr, "usage: ecrd-vulndb -src DIR -out DIR -version VERSION")
		os.Exit(2)
	}
	res, err := Run(*src, *out, *version)
	if err != nil {
		fmt.Fprintln(os.Stderr, "ecrd-vulndb:", err)
		os.Exit(1)
	}
	fmt.Printf("packed %d advisories into %s (%d bytes, sha256 %s)\n",
		res.Advisories, ZipPath(*out, GoEcosystem), res.ZipSize, res.SHA256)
	if len(res.Created) > 0 {
		fmt.Printf("wrote empty zips for %d other ecosystems\n", len(res.Created))
	}
	if len(res.Kept) > 0 {
		fmt.Printf("kept existing zips for: %s\n", strings.Join(res.Kept, ", "))
	}
}
