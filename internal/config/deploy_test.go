package config

import (
	"bytes"
	"errors"
	"io"
	"os"
	"path/filepath"
	"regexp"
	"slices"
	"testing"

	"gopkg.in/yaml.v3"
)

// TestDeployFilesNameRealSettings: the Dockerfile, the compose file and
// the Kubernetes manifests parse, and every ECRD_ variable they set is
// one ecrd reads, so that a renamed setting cannot leave them behind.
func TestDeployFilesNameRealSettings(t *testing.T) {
	known := []string{"ECRD_CONFIG", "ECRD_SERVER_KEY", "ECRD_ROOT_ACCESS_KEY_ID", "ECRD_ROOT_SECRET_ACCESS_KEY"}
	var c Config
	for _, s := range c.settings() {
		known = append(known, s.env())
	}
	files := []string{"../../Dockerfile", "../../deploy/compose.yaml"}
	manifests, _ := filepath.Glob("../../deploy/kubernetes/*.yaml")
	if len(manifests) == 0 {
		t.Fatal("no Kubernetes manifests in deploy/kubernetes")
	}
	files = append(files, manifests...)
	name := regexp.MustCompile(`\bECRD_[A-Z0-9_]+`)
	for _, f := range files {
		b, err := os.ReadFile(f)
		if err != nil {
			t.Fatal(err)
		}
		if filepath.Ext(f) == ".yaml" {
			dec := yaml.NewDecoder(bytes.NewReader(b))
			for {
				var doc any
				if err := dec.Decode(&doc); err != nil {
					if !errors.Is(err, io.EOF) {
						t.Errorf("%s: %v", f, err)
					}
					break
				}
			}
		}
		seen := 0
		for _, v := range name.FindAllString(string(b), -1) {
			seen++
			if !slices.Contains(known, v) {
				t.Errorf("%s sets %s, which ecrd does not read", f, v)
			}
		}
		if seen == 0 {
			t.Errorf("%s sets no ECRD_ variable", f)
		}
	}
}
