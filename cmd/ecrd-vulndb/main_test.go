package main

import (
	"archive/zip"
	"bytes"
	"io"
	"os"
	"path/filepath"
	"slices"
	"strings"
	"testing"
	"time"
)

const fixtureVersion = "v0.0.0-20261105234957-e22db6528018"

// writeFixture creates a folder with three small OSV advisories (written out
// of name order) plus a file that is not *.json and must be ignored.
func writeFixture(t *testing.T) (dir string, files map[string]string) {
	t.Helper()
	dir = t.TempDir()
	files = map[string]string{
		"GO-2022-1059.json": `{"schema_version":"1.3.1","id":"GO-2022-1059","aliases":["CVE-2022-32149"],"affected":[{"package":{"name":"golang.org/x/text","ecosystem":"Go"},"ranges":[{"type":"SEMVER","events":[{"introduced":"0"},{"fixed":"0.3.8"}]}]}]}`,
		"GO-2021-0113.json": `{"schema_version":"1.3.1","id":"GO-2021-0113","aliases":["CVE-2021-38561"],"affected":[{"package":{"name":"golang.org/x/text","ecosystem":"Go"},"ranges":[{"type":"SEMVER","events":[{"introduced":"0"},{"fixed":"0.3.7"}]}]}]}`,
		"GO-2020-0001.json": `{"schema_version":"1.3.1","id":"GO-2020-0001","affected":[{"package":{"name":"github.com/gin-gonic/gin","ecosystem":"Go"},"ranges":[{"type":"SEMVER","events":[{"introduced":"0"},{"fixed":"1.6.0"}]}]}]}`,
	}
	for _, name := range []string{"GO-2022-1059.json", "GO-2020-0001.json", "GO-2021-0113.json"} {
		writeFile(t, filepath.Join(dir, name), files[name])
	}
	writeFile(t, filepath.Join(dir, "README.txt"), "not an advisory, not *.json")
	return dir, files
}

func writeFile(t *testing.T, path, content string) {
	t.Helper()
	if err := os.WriteFile(path, []byte(content), 0o644); err != nil {
		t.Fatal(err)
	}
}

func pack(t *testing.T, dir string) []byte {
	t.Helper()
	var b bytes.Buffer
	n, err := Pack(&b, dir, ModTimeFor(fixtureVersion))
	if err != nil {
		t.Fatal(err)
	}
	if n != 3 {
		t.Fatalf("packed %d advisories, want 3", n)
	}
	return b.Bytes()
}

func TestPackReproducible(t *testing.T) {
	dir, files := writeFixture(t)
	first := pack(t, dir)

	// Touch the inputs: a different mtime must not change the output.
	later := time.Now().Add(time.Hour)
	for name := range files {
		if err := os.Chtimes(filepath.Join(dir, name), later, later); err != nil {
			t.Fatal(err)
		}
	}
	second := pack(t, dir)
	if !bytes.Equal(first, second) {
		t.Fatal("two packs of the same folder differ")
	}

	zr, err := zip.NewReader(bytes.NewReader(first), int64(len(first)))
	if err != nil {
		t.Fatal(err)
	}
	var names []string
	wantTime := time.Date(2026, 11, 5, 23, 49, 56, 0, time.UTC) // 2-second resolution
	for _, f := range zr.File {
		names = append(names, f.Name)
		if len(f.Extra) != 0 {
			t.Errorf("%s: has %d bytes of extra fields", f.Name, len(f.Extra))
		}
		if f.Method != zip.Deflate {
			t.Errorf("%s: method %d, want deflate", f.Name, f.Method)
		}
		if !f.Modified.Equal(wantTime) {
			t.Errorf("%s: modified %v, want %v", f.Name, f.Modified, wantTime)
		}
		rc, err := f.Open()
		if err != nil {
			t.Fatal(err)
		}
		got, err := io.ReadAll(rc)
		rc.Close()
		if err != nil {
			t.Fatal(err)
		}
		if string(got) != files[f.Name] {
			t.Errorf("%s: content differs from the fixture", f.Name)
		}
	}
	want := []string{"GO-2020-0001.json", "GO-2021-0113.json", "GO-2022-1059.json"}
	if !slices.Equal(names, want) {
		t.Fatalf("zip holds %v, want exactly %v in that order", names, want)
	}
}

func TestPackRejectsNonOSV(t *testing.T) {
	for _, tc := range []struct{ name, content, wantErr string }{
		{"bad.json", "this is not JSON", "not a JSON object"},
		{"array.json", `[{"id":"GO-1"}]`, "not a JSON object"},
		{"noid.json", `{"summary":"no id here"}`, `no "id" field`},
		{"emptyid.json", `{"id":""}`, `"id" is not a non-empty string`},
		{"dup.json", `{"id":"GO-2021-0113"}`, "already used by"},
	} {
		t.Run(tc.name, func(t *testing.T) {
			dir, _ := writeFixture(t)
			writeFile(t, filepath.Join(dir, tc.name), tc.content)
			_, err := Pack(io.Discard, dir, DefaultModTime)
			if err == nil {
				t.Fatalf("%s was accepted", tc.name)
			}
			if !strings.Contains(err.Error(), tc.name) || !strings.Contains(err.Error(), tc.wantErr) {
				t.Fatalf("error %q should name %s and say %q", err, tc.name, tc.wantErr)
			}
		})
	}
}

func TestPackEmptyFolder(t *testing.T) {
	if _, err := Pack(io.Discard, t.TempDir(), DefaultModTime); err == nil {
		t.Fatal("an empty folder was accepted")
	}
}

func TestModTimeFor(t *testing.T) {
	if got, want := ModTimeFor(fixtureVersion), time.Date(2026, 11, 5, 23, 49, 57, 0, time.UTC); !got.Equal(want) {
		t.Errorf("ModTimeFor(%s) = %v, want %v", fixtureVersion, got, want)
	}
	if got := ModTimeFor("v1.2.3"); !got.Equal(DefaultModTime) {
		t.Errorf("ModTimeFor(v1.2.3) = %v, want %v", got, DefaultModTime)
	}
}

func TestRunLayout(t *testing.T) {
	src, _ := writeFixture(t)
	out := t.TempDir()

	// An operator-loaded export must survive; a zero-length file is replaced.
	operator := []byte("PK operator export stand-in")
	for eco, content := range map[string][]byte{"Debian": operator, "Alpine": nil} {
		p := ZipPath(out, eco)
		if err := os.MkdirAll(filepath.Dir(p), 0o755); err != nil {
			t.Fatal(err)
		}
		if err := os.WriteFile(p, content, 0o644); err != nil {
			t.Fatal(err)
		}
	}

	res, err := Run(src, out, fixtureVersion)
	if err != nil {
		t.Fatal(err)
	}
	if res.Advisories != 3 || !slices.Equal(res.Kept, []string{"Debian"}) {
		t.Fatalf("result %+v", res)
	}
	if got, _ := os.ReadFile(ZipPath(out, "Debian")); !bytes.Equal(got, operator) {
		t.Error("the Debian export was overwritten")
	}
	empty := EmptyZip()
	for _, eco := range Ecosystems {
		got, err := os.ReadFile(ZipPath(out, eco))
		if err != nil {
			t.Fatalf("%s: %v", eco, err)
		}
		if eco == "Go" || eco == "Debian" {
			continue
		}
		if !bytes.Equal(got, empty) {
			t.Errorf("%s: not the empty zip", eco)
		}
	}
	if _, err := zip.NewReader(bytes.NewReader(empty), int64(len(empty))); err != nil {
		t.Fatalf("the empty zip does not open: %v", err)
	}

	goZip, _ := os.ReadFile(ZipPath(out, "Go"))
	if want := pack(t, src); !bytes.Equal(goZip, want) {
		t.Error("Go/all.zip differs from Pack's output")
	}
	source, err := os.ReadFile(filepath.Join(out, "SOURCE"))
	if err != nil {
		t.Fatal(err)
	}
	for _, want := range []string{"version: " + fixtureVersion + "\n", "advisories: 3\n", "sha256: " + res.SHA256, Credit} {
		if !strings.Contains(string(source), want) {
			t.Errorf("SOURCE lacks %q:\n%s", want, source)
		}
	}

	// A second run gives the same files.
	res2, err := Run(src, out, fixtureVersion)
	if err != nil {
		t.Fatal(err)
	}
	source2, _ := os.ReadFile(filepath.Join(out, "SOURCE"))
	if res2.SHA256 != res.SHA256 || !bytes.Equal(source, source2) || len(res2.Created) != 0 {
		t.Errorf("second run differs: %+v vs %+v", res2, res)
	}
}
