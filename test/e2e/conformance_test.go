package e2e

import (
	"testing"

	"github.com/ecrd/ecrd/test/ecrdtest"
)

// TestOCIConformance runs the OCI distribution-spec conformance suite
// against ecrd with every API and every kind of data enabled, except
// sparse manifests, which ECR refuses by design. It must pass in full.
func TestOCIConformance(t *testing.T) {
	ecrdtest.Conformance(t, startECRD(t, t.TempDir()))
}
