package scanner

import (
	"archive/tar"
	"archive/zip"
	"bytes"
	"context"
	"encoding/json"
	"io"
	"os"
	"path/filepath"
	"reflect"
	"strings"
	"testing"

	v1 "github.com/google/go-containerregistry/pkg/v1"
	"github.com/google/go-containerregistry/pkg/v1/empty"
	"github.com/google/go-containerregistry/pkg/v1/mutate"
	"github.com/google/go-containerregistry/pkg/v1/tarball"
)

// entry is a tar entry of a test layer: a regular file unless link is set.
type entry struct {
	name    string
	mode    int64
	body    []byte
	symlink string
}

func tarLayer(t testing.TB, entries ...entry) v1.Layer {
	t.Helper()
	var buf bytes.Buffer
	tw := tar.NewWriter(&buf)
	for _, e := range entries {
		hdr := &tar.Header{Typeflag: tar.TypeReg, Name: e.name, Mode: e.mode, Size: int64(len(e.body)), ModTime: dbTime}
		if hdr.Mode == 0 {
			hdr.Mode = 0o644
		}
		if e.symlink != "" {
			hdr.Typeflag, hdr.Linkname, hdr.Size = tar.TypeSymlink, e.symlink, 0
		}
		if err := tw.WriteHeader(hdr); err != nil {
			t.Fatal(err)
		}
		if _, err := tw.Write(e.body); err != nil {
			t.Fatal(err)
		}
	}
	if err := tw.Close(); err != nil {
		t.Fatal(err)
	}
	data := buf.Bytes()
	l, err := tarball.LayerFromOpener(func() (io.ReadCloser, error) { return io.NopCloser(bytes.NewReader(data)), nil })
	if err != nil {
		t.Fatal(err)
	}
	return l
}

func imageOfLayers(t testing.TB, layers ...v1.Layer) v1.Image {
	t.Helper()
	img, err := mutate.AppendLayers(empty.Image, layers...)
	if err != nil {
		t.Fatal(err)
	}
	return img
}

func newOSV(t testing.TB, db string) *OSV {
	t.Helper()
	s, err := New(db)
	if err != nil {
		t.Fatal(err)
	}
	return s
}

func extract(t testing.TB, s *OSV, img v1.Image) Extraction {
	t.Helper()
	ex, err := s.Extract(context.Background(), img)
	if err != nil {
		t.Fatalf("Extract: %v", err)
	}
	return ex
}

func match(t testing.TB, s *OSV, lists ...[]byte) ([][]Finding, Source) {
	t.Helper()
	out, src, err := s.Match(context.Background(), lists)
	if err != nil {
		t.Fatalf("Match: %v", err)
	}
	if len(out) != len(lists) {
		t.Fatalf("Match returned %d lists, want %d", len(out), len(lists))
	}
	return out, src
}

const opensslStatus = "Package: openssl\nStatus: install ok installed\nArchitecture: amd64\nVersion: 3.0.11-1~deb12u1\n\n"

func TestNothingWrittenToDisk(t *testing.T) {
	bin := buildGoBinary(t, "v0.3.5")
	db := writeDB(t, map[string][]map[string]any{"Go": {goAdvisory()}, "Debian": {debianAdvisory()}})
	img := imageOf(t,
		file{Name: "etc/os-release", Body: []byte(debianOSRelease)},
		file{Name: "var/lib/dpkg/status", Body: []byte(opensslStatus)},
		file{Name: "usr/local/bin/xt", Mode: 0o755, Body: bin},
	)
	tmp := t.TempDir()
	t.Setenv("TMPDIR", tmp)
	res := scan(t, db, img)
	if len(findingsFor(res, "CVE-2021-38561")) != 1 || len(findingsFor(res, "CVE-2023-5678")) != 1 {
		t.Errorf("findings %+v", res.Findings)
	}
	left, err := os.ReadDir(tmp)
	if err != nil {
		t.Fatal(err)
	}
	if len(left) != 0 {
		t.Errorf("scan wrote to TMPDIR: %v", left)
	}
}

func TestWhiteout(t *testing.T) {
	db := writeDB(t, map[string][]map[string]any{"Debian": {debianAdvisory()}})
	s := newOSV(t, db)
	base := tarLayer(t,
		entry{name: "etc/os-release", body: []byte(debianOSRelease)},
		entry{name: "var/lib/dpkg/status", body: []byte(opensslStatus)},
	)
	for _, tc := range []struct {
		name   string
		layers []v1.Layer
		want   int
	}{
		{"base", []v1.Layer{base}, 1},
		{"file whiteout", []v1.Layer{base, tarLayer(t, entry{name: "var/lib/dpkg/.wh.status"})}, 0},
		{"dir whiteout", []v1.Layer{base, tarLayer(t, entry{name: "var/lib/.wh.dpkg"})}, 0},
		{"opaque dir", []v1.Layer{base, tarLayer(t, entry{name: "var/lib/dpkg/.wh..wh..opq"})}, 0},
		{"opaque keeps own layer", []v1.Layer{base, tarLayer(t,
			entry{name: "var/lib/dpkg/.wh..wh..opq"},
			entry{name: "var/lib/dpkg/status", body: []byte(opensslStatus)},
		)}, 1},
		{"recreated", []v1.Layer{base,
			tarLayer(t, entry{name: "var/lib/dpkg/.wh.status"}),
			tarLayer(t, entry{name: "var/lib/dpkg/status", body: []byte(opensslStatus)}),
		}, 1},
		{"replaced by other file", []v1.Layer{base, tarLayer(t, entry{name: "var/lib/dpkg/status", body: []byte("\n")})}, 0},
	} {
		t.Run(tc.name, func(t *testing.T) {
			ex := extract(t, s, imageOfLayers(t, tc.layers...))
			if ex.Status != StatusComplete || ex.Count != tc.want {
				t.Errorf("status %s count %d, want COMPLETE %d", ex.Status, ex.Count, tc.want)
			}
		})
	}
	// Without os-release and packages the image is unsupported.
	ex := extract(t, s, imageOfLayers(t, base, tarLayer(t, entry{name: ".wh.etc"}, entry{name: ".wh.var"})))
	if ex.Status != StatusUnsupportedImage {
		t.Errorf("everything whited out: status %s", ex.Status)
	}
}

func TestSymlinkedOSRelease(t *testing.T) {
	db := writeDB(t, map[string][]map[string]any{"Debian": {debianAdvisory()}})
	s := newOSV(t, db)
	img := imageOfLayers(t, tarLayer(t,
		entry{name: "etc/os-release", symlink: "../usr/lib/os-release"},
		entry{name: "usr/lib/os-release", body: []byte(debianOSRelease)},
		entry{name: "var/lib/dpkg/status", body: []byte(opensslStatus)},
	))
	res, err := s.Scan(context.Background(), img)
	if err != nil {
		t.Fatal(err)
	}
	fs := findingsFor(res, "CVE-2023-5678")
	if len(fs) != 1 || fs[0].Ecosystem != "Debian:12" {
		t.Errorf("findings %+v, want CVE-2023-5678 in Debian:12", res.Findings)
	}
	// An OS without packages is supported.
	ex := extract(t, s, imageOfLayers(t, tarLayer(t,
		entry{name: "etc/os-release", symlink: "/usr/lib/os-release"},
		entry{name: "usr/lib/os-release", body: []byte(debianOSRelease)},
	)))
	if ex.Status != StatusComplete || ex.Count != 0 {
		t.Errorf("os-release only: %+v", ex)
	}
}

func npmAdvisory() map[string]any {
	return map[string]any{
		"schema_version": "1.6.0",
		"id":             "GHSA-35jh-r3h4-6jhm",
		"modified":       "2024-01-01T00:00:00Z",
		"aliases":        []string{"CVE-2021-23337"},
		"summary":        "Command Injection in lodash",
		"severity":       []map[string]string{{"type": "CVSS_V3", "score": vectorHigh}},
		"affected": []map[string]any{{
			"package": map[string]string{"name": "lodash", "ecosystem": "npm"},
			"ranges": []map[string]any{{
				"type":   "SEMVER",
				"events": []map[string]string{{"introduced": "0"}, {"fixed": "4.17.21"}},
			}},
		}},
	}
}

func TestNpm(t *testing.T) {
	db := writeDB(t, map[string][]map[string]any{"npm": {npmAdvisory()}})
	pj, _ := json.Marshal(map[string]string{"name": "lodash", "version": "4.17.20"})
	img := imageOf(t, file{Name: "app/node_modules/lodash/package.json", Body: pj})
	res := scan(t, db, img)
	if res.Status != StatusComplete || res.Packages != 1 {
		t.Fatalf("status %s packages %d", res.Status, res.Packages)
	}
	fs := findingsFor(res, "CVE-2021-23337")
	if len(fs) != 1 || fs[0].Package != "lodash" || fs[0].FixedIn != "4.17.21" || fs[0].Severity != "HIGH" {
		t.Errorf("findings %+v", res.Findings)
	}
}

func TestPythonAndJava(t *testing.T) {
	db := writeDB(t, nil)
	var jar bytes.Buffer
	zw := zip.NewWriter(&jar)
	w, _ := zw.Create("META-INF/maven/org.example/demo/pom.properties")
	_, _ = w.Write([]byte("groupId=org.example\nartifactId=demo\nversion=1.2.3\n"))
	if err := zw.Close(); err != nil {
		t.Fatal(err)
	}
	img := imageOf(t,
		file{Name: "usr/lib/python3/dist-packages/requests-2.25.0.dist-info/METADATA", Body: []byte("Metadata-Version: 2.1\nName: requests\nVersion: 2.25.0\n")},
		file{Name: "opt/app/demo-1.2.3.jar", Body: jar.Bytes()},
	)
	s := newOSV(t, db)
	ex := extract(t, s, img)
	pkgs, err := decodeList(ex.Packages)
	if err != nil {
		t.Fatal(err)
	}
	got := map[string]string{}
	for _, p := range pkgs {
		got[string(p.Ecosystem().Ecosystem)+" "+p.Name] = p.Version
	}
	if got["PyPI requests"] != "2.25.0" {
		t.Errorf("python package missing: %v", got)
	}
	if got["Maven org.example:demo"] != "1.2.3" && got["Maven demo"] != "1.2.3" {
		t.Errorf("java package missing: %v", got)
	}
}

func TestExtractMatchEqualsScan(t *testing.T) {
	db := writeDB(t, map[string][]map[string]any{"Debian": {debianAdvisory()}})
	s := newOSV(t, db)
	img := dpkgImage(t, "3.0.11-1~deb12u1")
	res := scan(t, db, img)
	ex := extract(t, s, img)
	out, src := match(t, s, ex.Packages)
	if ex.Status != res.Status || ex.Count != res.Packages || !reflect.DeepEqual(out[0], res.Findings) || !src.UpdatedAt.Equal(res.SourceUpdatedAt) {
		t.Errorf("Extract+Match = %+v %+v %+v, Scan = %+v", ex, out[0], src, res)
	}
	// Extraction is deterministic, so stored lists can be compared.
	if again := extract(t, s, img); !bytes.Equal(again.Packages, ex.Packages) {
		t.Error("two extractions of one image differ")
	}
}

func TestMatchSeveralListsAndJoin(t *testing.T) {
	db := writeDB(t, map[string][]map[string]any{"Debian": {debianAdvisory()}, "Alpine": nil})
	s := newOSV(t, db)
	vuln := extract(t, s, dpkgImage(t, "3.0.11-1~deb12u1")).Packages
	fixed := extract(t, s, dpkgImage(t, "3.0.13-1~deb12u1")).Packages
	alpine := extract(t, s, imageOf(t,
		file{Name: "etc/os-release", Body: []byte(alpineOSRelease)},
		file{Name: "lib/apk/db/installed", Body: []byte(apkInstalled)},
	)).Packages
	out, _ := match(t, s, vuln, fixed, vuln, alpine)
	if len(out[0]) != 1 || len(out[1]) != 0 || !reflect.DeepEqual(out[0], out[2]) || len(out[3]) != 0 {
		t.Errorf("Match = %+v", out)
	}

	j, err := Join(vuln, alpine, vuln, fixed)
	if err != nil {
		t.Fatal(err)
	}
	pkgs, err := decodeList(j)
	if err != nil {
		t.Fatal(err)
	}
	if len(pkgs) != 3 {
		t.Errorf("Join holds %d packages, want 3", len(pkgs))
	}
	out, _ = match(t, s, j)
	if len(out[0]) != 1 || out[0][0].Version != "3.0.11-1~deb12u1" {
		t.Errorf("Match(Join) = %+v", out)
	}
	if j2, _ := Join(fixed, vuln, alpine); !bytes.Equal(j, j2) {
		t.Error("Join depends on the order of its lists")
	}
	if _, err := Join(vuln, []byte("garbage")); err == nil {
		t.Error("Join accepted garbage")
	}
}

// writeExport writes an OSV export zip holding advisories and returns its path.
func writeExport(t testing.TB, advisories ...map[string]any) string {
	t.Helper()
	var buf bytes.Buffer
	zw := zip.NewWriter(&buf)
	for _, adv := range advisories {
		w, err := zw.CreateHeader(&zip.FileHeader{Name: adv["id"].(string) + ".json", Method: zip.Deflate, Modified: dbTime.AddDate(0, 0, 1)})
		if err != nil {
			t.Fatal(err)
		}
		if err := json.NewEncoder(w).Encode(adv); err != nil {
			t.Fatal(err)
		}
	}
	if err := zw.Close(); err != nil {
		t.Fatal(err)
	}
	p := filepath.Join(t.TempDir(), "all.zip")
	if err := os.WriteFile(p, buf.Bytes(), 0o644); err != nil {
		t.Fatal(err)
	}
	return p
}

// Yesterday clean, today vulnerable: a stored list is re-matched after the
// database gained an advisory.
func TestReloadAfterInstall(t *testing.T) {
	db := writeDB(t, nil)
	s := newOSV(t, db)
	stored := extract(t, s, dpkgImage(t, "3.0.11-1~deb12u1")).Packages
	out, before := match(t, s, stored)
	if len(out[0]) != 0 {
		t.Fatalf("findings before install: %+v", out[0])
	}
	if changed, err := s.Reload(); err != nil || changed {
		t.Errorf("Reload without change = %v, %v", changed, err)
	}

	eco, n, err := Install(db, writeExport(t, debianAdvisory()))
	if err != nil || eco != "Debian" || n != 1 {
		t.Fatalf("Install = %q, %d, %v", eco, n, err)
	}
	if got := s.Source(); got != before {
		t.Errorf("Source changed before Reload: %+v", got)
	}
	changed, err := s.Reload()
	if err != nil || !changed {
		t.Fatalf("Reload = %v, %v; want changed", changed, err)
	}
	out, after := match(t, s, stored)
	if len(out[0]) != 1 || out[0][0].ID != "CVE-2023-5678" {
		t.Errorf("findings after install: %+v", out[0])
	}
	if after.Version == before.Version || after != s.Source() {
		t.Errorf("Source.Version did not change: before %+v after %+v", before, after)
	}
	if !after.UpdatedAt.Equal(dbTime.AddDate(0, 0, 1)) {
		t.Errorf("UpdatedAt = %v", after.UpdatedAt)
	}
	// Touching an archive without changing it changes nothing.
	p := filepath.Join(db, "osv-scalibr", "Debian", "all.zip")
	data, _ := os.ReadFile(p)
	if err := os.WriteFile(p, append([]byte(nil), data...), 0o644); err != nil {
		t.Fatal(err)
	}
	_ = os.Chtimes(p, dbTime, dbTime)
	if changed, err := s.Reload(); err != nil || changed {
		t.Errorf("Reload after touch = %v, %v", changed, err)
	}
}

func TestInstall(t *testing.T) {
	alpineAdv := map[string]any{
		"id": "CVE-2023-42366", "modified": "2024-05-01T00:00:00Z",
		"affected": []map[string]any{{"package": map[string]string{"name": "busybox", "ecosystem": "Alpine:v3.19"}}},
	}
	debian11 := debianAdvisory()
	debian11["id"] = "DSA-1-1"
	debian11["affected"] = []map[string]any{{"package": map[string]string{"name": "openssl", "ecosystem": "Debian:11"}}}
	db := t.TempDir() // no osv-scalibr directory yet: Install creates it

	eco, n, err := Install(db, writeExport(t, debianAdvisory(), debian11))
	if err != nil || eco != "Debian" || n != 2 {
		t.Fatalf("Install = %q, %d, %v", eco, n, err)
	}
	if _, err := New(db); err != nil {
		t.Errorf("New after Install: %v", err)
	}

	notZip := filepath.Join(t.TempDir(), "all.zip")
	_ = os.WriteFile(notZip, []byte("not a zip"), 0o644)
	var badJSON bytes.Buffer
	zw := zip.NewWriter(&badJSON)
	w, _ := zw.Create("X-1.json")
	_, _ = w.Write([]byte("{not json"))
	_ = zw.Close()
	badJSONPath := filepath.Join(t.TempDir(), "all.zip")
	_ = os.WriteFile(badJSONPath, badJSON.Bytes(), 0o644)
	dotdot := debianAdvisory()
	dotdot["affected"] = []map[string]any{{"package": map[string]string{"name": "x", "ecosystem": "..:1"}}}

	for name, tc := range map[string]struct {
		path, want string
	}{
		"missing":   {filepath.Join(t.TempDir(), "none.zip"), "no such file"},
		"not a zip": {notZip, "not an OSV export"},
		"bad json":  {badJSONPath, "not an OSV export"},
		"empty":     {writeExport(t), "no advisories"},
		"mixed":     {writeExport(t, debianAdvisory(), alpineAdv), "mixes ecosystems"},
		"dot dot":   {writeExport(t, dotdot), "directory name"},
	} {
		t.Run(name, func(t *testing.T) {
			if _, _, err := Install(db, tc.path); err == nil || !strings.Contains(err.Error(), tc.want) {
				t.Errorf("Install error = %v, want %q", err, tc.want)
			}
		})
	}
	// Failed installs leave the database as it was.
	entries, _ := os.ReadDir(filepath.Join(db, "osv-scalibr"))
	if len(entries) != 1 || entries[0].Name() != "Debian" {
		t.Errorf("database directory holds %v", entries)
	}
	left, _ := os.ReadDir(filepath.Join(db, "osv-scalibr", "Debian"))
	if len(left) != 1 {
		t.Errorf("Debian directory holds %v", left)
	}
}

func TestDecodeGarbage(t *testing.T) {
	s := newOSV(t, writeDB(t, nil))
	for _, b := range [][]byte{nil, {}, {0}, {2}, {listV1, 0xff}, {listV1, 0x0a, 0x05, 1}, {listV1, 0x12, 0}} {
		if _, _, err := s.Match(context.Background(), [][]byte{b}); err == nil {
			t.Errorf("Match(%v) succeeded", b)
		}
	}
	// An empty list is valid.
	if out, _, err := s.Match(context.Background(), [][]byte{{listV1}}); err != nil || len(out[0]) != 0 {
		t.Errorf("Match(empty list) = %v, %v", out, err)
	}
}

// FuzzDecode feeds stored package lists, mutated, to the decoder: garbage
// must be an error, never a panic. Run it with -fuzzminimizetime 0:
// minimizing an input in a binary as large as osv-scalibr's stalls the
// fuzzer.
func FuzzDecode(f *testing.F) {
	s, err := New(writeFuzzDB(f))
	if err != nil {
		f.Fatal(err)
	}
	for _, img := range []v1.Image{
		dpkgImage(f, "3.0.11-1~deb12u1"),
		imageOf(f, file{Name: "etc/os-release", Body: []byte(alpineOSRelease)}, file{Name: "lib/apk/db/installed", Body: []byte(apkInstalled)}),
	} {
		ex, err := s.Extract(context.Background(), img)
		if err != nil {
			f.Fatal(err)
		}
		f.Add(ex.Packages)
	}
	f.Add([]byte{listV1})
	f.Fuzz(func(t *testing.T, b []byte) {
		pkgs, err := decodeList(b)
		if _, jerr := Join(b); (jerr == nil) != (err == nil) {
			t.Errorf("decodeList error %v, Join error %v", err, jerr)
		}
		if err != nil {
			return
		}
		for _, p := range pkgs {
			_ = candidateNames(p)
			_ = matcherEcosystem(p)
		}
	})
}

// writeFuzzDB is an empty database for fuzzing (writeDB needs a *testing.T).
func writeFuzzDB(f *testing.F) string {
	dir := f.TempDir()
	if err := os.MkdirAll(filepath.Join(dir, "osv-scalibr"), 0o755); err != nil {
		f.Fatal(err)
	}
	return dir
}

// Matches running while Reload swaps databases see one database each.
func TestMatchConcurrentWithReload(t *testing.T) {
	db := writeDB(t, nil)
	s := newOSV(t, db)
	stored := extract(t, s, dpkgImage(t, "3.0.11-1~deb12u1")).Packages
	export := writeExport(t, debianAdvisory())
	done := make(chan struct{})
	go func() {
		defer close(done)
		if _, _, err := Install(db, export); err != nil {
			t.Error(err)
		}
		if _, err := s.Reload(); err != nil {
			t.Error(err)
		}
	}()
	for range 50 {
		out, _, err := s.Match(context.Background(), [][]byte{stored, stored})
		if err != nil {
			t.Fatal(err)
		}
		if len(out[0]) != len(out[1]) {
			t.Fatalf("one Match saw two databases: %+v", out)
		}
	}
	<-done
}
