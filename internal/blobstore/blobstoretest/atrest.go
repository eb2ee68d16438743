package blobstoretest

import (
	"io/fs"
	"os"
	"path/filepath"
	"testing"
)

// FilesHolding returns the files under dir that hold any 32-byte run of
// content: what tests of encryption at rest expect to find none of in a
// data folder. Runs of few distinct bytes (an archive header's padding,
// which any file may hold) are not looked for.
func FilesHolding(t testing.TB, dir string, content []byte) []string {
	t.Helper()
	windows := make(map[string]bool, len(content))
	for i := 0; i+32 <= len(content); i++ {
		if w := content[i : i+32]; distinctBytes(w) >= 16 {
			windows[string(w)] = true
		}
	}
	var found []string
	err := filepath.WalkDir(dir, func(p string, e fs.DirEntry, err error) error {
		if err != nil || !e.Type().IsRegular() {
			return err
		}
		b, err := os.ReadFile(p)
		if err != nil {
			return err
		}
		for o := 0; o+32 <= len(b); o++ {
			if windows[string(b[o:o+32])] {
				found = append(found, p)
				break
			}
		}
		return nil
	})
	if err != nil {
		t.Fatal(err)
	}
	return found
}

// distinctBytes counts the different byte values of b.
func distinctBytes(b []byte) int {
	var seen [256]bool
	n := 0
	for _, c := range b {
		if !seen[c] {
			seen[c], n = true, n+1
		}
	}
	return n
}
