package scanner

import (
	"os"
	"path/filepath"
	"testing"
)

func TestSourceOfAFolderWithoutData(t *testing.T) {
	dir := t.TempDir()
	if _, err := New(dir); err == nil {
		t.Fatal("New of a folder without osv-scalibr/ succeeded")
	}
	if err := os.Mkdir(filepath.Join(dir, "osv-scalibr"), 0o755); err != nil {
		t.Fatal(err)
	}
	s := newOSV(t, dir)
	if v := s.Source().Version; v != "" {
		t.Fatalf("version of no data = %q, want empty", v)
	}
	// An empty archive is data: an ecosystem with no advisories.
	empty := writeExport(t)
	if err := os.MkdirAll(filepath.Join(dir, "osv-scalibr", "Debian"), 0o755); err != nil {
		t.Fatal(err)
	}
	b, err := os.ReadFile(empty)
	if err != nil {
		t.Fatal(err)
	}
	if err := os.WriteFile(filepath.Join(dir, "osv-scalibr", "Debian", "all.zip"), b, 0o644); err != nil {
		t.Fatal(err)
	}
	if changed, err := s.Reload(); err != nil || !changed || s.Source().Version == "" {
		t.Fatalf("Reload = %v, %v; version %q", changed, err, s.Source().Version)
	}
}
