package ecrdtest

import (
	"context"
	"encoding/xml"
	"os"
	"os/exec"
	"path/filepath"
	"testing"
	"time"
)

// Conformance runs the OCI distribution-spec conformance suite against a
// server with every API and every kind of data enabled, except sparse
// manifests (an index or image whose content was not pushed), which ECR
// refuses by design, and fails the test unless it passes in full.
func Conformance(t *testing.T, e *Server) {
	bin := Tool(t, "conformance")
	results := t.TempDir()
	ctx, cancel := context.WithTimeout(context.Background(), 10*time.Minute)
	defer cancel()
	cmd := exec.CommandContext(ctx, bin)
	cmd.Dir = t.TempDir()
	cmd.Env = append(os.Environ(),
		"OCI_REGISTRY="+e.Addr,
		"OCI_USERNAME=AWS",
		"OCI_PASSWORD="+e.Password(t),
		"OCI_TLS=disabled",
		"OCI_VERSION=1.1",
		"OCI_RESULTS_DIR="+results,
		"OCI_REPO1=conformance/repo1",
		"OCI_REPO2=conformance/repo2",
		"OCI_API_BLOBS_UPLOAD_CANCEL=true",
		"OCI_API_BLOBS_DIGEST_HEADER=true",
		"OCI_API_BLOBS_MOUNT_ANONYMOUS=true",
		"OCI_API_MANIFESTS_DIGEST_HEADER=true",
		"OCI_API_MANIFESTS_TAG_PARAM=true",
		"OCI_API_REFERRER=true",
		"OCI_DATA_SPARSE=false",
	)
	out, runErr := cmd.CombinedOutput()

	raw, err := os.ReadFile(filepath.Join(results, "junit.xml"))
	if err != nil {
		t.Fatalf("the conformance suite wrote no junit.xml (%v): %v\n%s", runErr, err, out)
	}
	var suites junitSuites
	if err := xml.Unmarshal(raw, &suites); err != nil {
		t.Fatalf("parsing junit.xml: %v", err)
	}
	var total, failed, skipped int
	for _, s := range suites.Suites {
		total += s.Tests
		failed += s.Failures + s.Errors
		for _, c := range s.Cases {
			switch {
			case c.Failure != nil || c.Error != nil:
				msg := ""
				if c.Failure != nil {
					msg = c.Failure.Message + " " + c.Failure.Text
				} else {
					msg = c.Error.Message + " " + c.Error.Text
				}
				if len(msg) > 2000 {
					msg = msg[:2000]
				}
				t.Errorf("FAIL %s: %s", c.Name, msg)
			case c.Skipped != nil || (c.Status != "" && c.Status != "passed"):
				skipped++
				t.Errorf("SKIPPED %s: every API and data kind but sparse manifests must run", c.Name)
			}
		}
	}
	t.Logf("conformance: %d tests, %d failed, %d skipped", total, failed, skipped)
	if testing.Verbose() {
		t.Logf("%s", out)
	}
	// The August 2026 suite runs 986 cases with this configuration; far
	// fewer means whole groups silently did not run.
	if total < 950 {
		t.Errorf("only %d conformance tests ran, want at least 950", total)
	}
	if failed > 0 {
		t.Errorf("%d conformance tests failed", failed)
	}
	if runErr != nil && failed == 0 {
		t.Errorf("conformance exited with %v but reported no failure:\n%s", runErr, out)
	}
	NoServerErrors(t, e)
}

type junitSuites struct {
	Suites []junitSuite `xml:"testsuite"`
}

type junitSuite struct {
	Tests    int         `xml:"tests,attr"`
	Failures int         `xml:"failures,attr"`
	Errors   int         `xml:"errors,attr"`
	Cases    []junitCase `xml:"testcase"`
}

type junitCase struct {
	Name    string        `xml:"name,attr"`
	Status  string        `xml:"status,attr"`
	Failure *junitMessage `xml:"failure"`
	Error   *junitMessage `xml:"error"`
	Skipped *junitMessage `xml:"skipped"`
}

type junitMessage struct {
	Message string `xml:"message,attr"`
	Text    string `xml:",chardata"`
}
