package browsertest

import (
	"bufio"
	"context"
	"fmt"
	"os"
	"path/filepath"
	"regexp"
	"strings"
	"testing"
	"time"

	"github.com/chromedp/chromedp"
)

// Screenshot saves a PNG of the tab's whole page (not only what the
// window shows) as <TestName>-<name>.png in ArtifactsDir, and returns its
// path.
func Screenshot(t testing.TB, tab context.Context, name string) string {
	t.Helper()
	s := mustTab(t, tab)
	p, err := s.screenshot(t, name)
	if err != nil {
		t.Fatalf("browsertest: tab %d: screenshot %s: %v", s.n, name, err)
	}
	t.Logf("browsertest: screenshot %s", p)
	return p
}

func (s *tab) screenshot(t testing.TB, name string) (string, error) {
	dir, err := ArtifactsDir()
	if err != nil {
		return "", err
	}
	timeout := min(s.b.Timeout, 10*time.Second)
	ctx, cancel := context.WithTimeout(s.ctx, timeout)
	defer cancel()
	png, err := chromedp.Run(ctx, chromedp.FullScreenshot(100)) // 100: PNG
	if err != nil {
		return "", err
	}
	p := filepath.Join(dir, fileName(t.Name())+"-"+fileName(name)+".png")
	return p, os.WriteFile(p, png, 0o644)
}

var unsafeChars = regexp.MustCompile(`[^A-Za-z0-9._-]+`)

// fileName turns a test or screenshot name (subtests have slashes) into a
// file name.
func fileName(s string) string {
	return strings.Trim(unsafeChars.ReplaceAllString(s, "_"), "._")
}

// ArtifactsDir returns, creating it, the folder screenshots go to:
// $ECRD_TEST_ARTIFACTS, or test/artifacts/screenshots in the repository
// (found from the working folder, which is a package's folder under go
// test).
func ArtifactsDir() (string, error) {
	dir := os.Getenv("ECRD_TEST_ARTIFACTS")
	if dir == "" {
		root, err := repoRoot()
		if err != nil {
			return "", err
		}
		dir = filepath.Join(root, "test", "artifacts", "screenshots")
	}
	return dir, os.MkdirAll(dir, 0o755)
}

// repoRoot finds the folder of ecrd's go.mod above the working folder.
func repoRoot() (string, error) {
	wd, err := os.Getwd()
	if err != nil {
		return "", err
	}
	for dir := wd; ; dir = filepath.Dir(dir) {
		if isModuleRoot(filepath.Join(dir, "go.mod")) {
			return dir, nil
		}
		if filepath.Dir(dir) == dir {
			return "", fmt.Errorf("no go.mod of github.com/ecrd/ecrd above %s: set ECRD_TEST_ARTIFACTS", wd)
		}
	}
}

func isModuleRoot(goMod string) bool {
	f, err := os.Open(goMod)
	if err != nil {
		return false
	}
	defer f.Close()
	sc := bufio.NewScanner(f)
	for sc.Scan() {
		if line := strings.TrimSpace(sc.Text()); strings.HasPrefix(line, "module ") {
			return strings.TrimSpace(strings.TrimPrefix(line, "module ")) == "github.com/ecrd/ecrd"
		}
	}
	return false
}
