package e2e

import (
	"path/filepath"
	"testing"
	"time"
)

// TestIAMAWSCLI runs testdata/iam.sh: the AWS CLI v2 drives every IAM
// call ecrd serves against a bare ecrd, the way a platform team sets up
// CI access: roles and their settings, trust policies and their errors,
// inline and managed policies with versions and attachments, GitHub's
// OIDC provider, users whose access keys are then used for STS and ECR,
// the policy simulator, and sts assume-role. The script checks every
// answer and says what it expected.
func TestIAMAWSCLI(t *testing.T) {
	aws := awsCLI(t)
	jq := tool(t, "jq")
	bash := tool(t, "bash")
	script, err := filepath.Abs(filepath.Join("testdata", "iam.sh"))
	if err != nil {
		t.Fatal(err)
	}
	e := startBareECRD(t, t.TempDir())

	env, work := scriptEnv(t, e)
	env = append(env, "AWS="+aws, "JQ="+jq)
	runScript(t, bash, script, work, env, 8*time.Minute)
	noServerErrors(t, e)
}
