package e2e

import (
	"fmt"
	"os"
	"os/exec"
	"path/filepath"
	"strings"
	"testing"
	"time"
)

// awsCLIPath is Debian's AWS CLI v2 (package awscli). The test names it
// explicitly: the first aws on PATH may be a pip-installed AWS CLI v1.
const awsCLIPath = "/usr/bin/aws"

// TestAWSCLI runs testdata/awscli.sh, which drives a bare ecrd (no
// repository creation template) the way the ECR user guide does: the AWS
// CLI v2 for sts get-caller-identity, repositories and their settings,
// resource tags, images, put-image, creation templates and deletes;
// `aws ecr get-login-password | docker login` for credentials; crane,
// with docker's credentials, for pushes, immutable tags and create on
// push. The script checks every answer and says what it expected.
func TestAWSCLI(t *testing.T) {
	// Both major versions: v1 (pip) still drives many CI systems, and its
	// paginators need every list ECR answers present, even when empty.
	for _, cli := range []struct{ name, path string }{{"v2", awsCLI(t)}, {"v1", currentAWSCLI(t)}} {
		t.Run(cli.name, func(t *testing.T) {
			t.Parallel()
			testAWSCLI(t, cli.path)
		})
	}
}

func testAWSCLI(t *testing.T, aws string) {
	crane := tool(t, "crane")
	jq := tool(t, "jq")
	docker, err := exec.LookPath("docker")
	if err != nil {
		t.Fatal("the docker CLI is not installed (only the client is needed: docker login stores credentials without an engine)")
	}
	bash := tool(t, "bash")
	script, err := filepath.Abs(filepath.Join("testdata", "awscli.sh"))
	if err != nil {
		t.Fatal(err)
	}

	e := startBareECRD(t, t.TempDir())

	// An isolated AWS configuration: the test root key, the test region,
	// no pager, no instance metadata.
	dir := t.TempDir()
	home, work, dockerConfig := filepath.Join(dir, "home"), filepath.Join(dir, "work"), filepath.Join(dir, "docker")
	for _, d := range []string{home, work, dockerConfig} {
		if err := os.Mkdir(d, 0o700); err != nil {
			t.Fatal(err)
		}
	}
	configFile, credentialsFile := filepath.Join(dir, "aws-config"), filepath.Join(dir, "aws-credentials")
	writeAWSCLIFile(t, configFile, fmt.Sprintf("[default]\nregion = %s\noutput = json\ncli_timestamp_format = iso8601\n", testRegion))
	writeAWSCLIFile(t, credentialsFile, fmt.Sprintf("[default]\naws_access_key_id = %s\naws_secret_access_key = %s\n", testAccessKey, testSecret))

	env := []string{
		"HOME=" + home,
		"AWS_CONFIG_FILE=" + configFile,
		"AWS_SHARED_CREDENTIALS_FILE=" + credentialsFile,
		"AWS_DEFAULT_REGION=" + testRegion,
		// The CLI of Debian 12 (2.9) predates AWS_ENDPOINT_URL; the script
		// passes --endpoint-url, and this keeps a newer CLI on ecrd too.
		"AWS_ENDPOINT_URL=" + e.URL(),
		"AWS_PAGER=",
		"AWS_EC2_METADATA_DISABLED=true",
		"DOCKER_CONFIG=" + dockerConfig,
		// What the script is given.
		"AWS=" + aws,
		"AWS_CURRENT=" + currentAWSCLI(t),
		"CRANE=" + crane,
		"DOCKER=" + docker,
		"JQ=" + jq,
		"ENDPOINT=" + e.URL(),
		"REGISTRY=" + e.Addr,
		"ACCOUNT=" + testAccount,
		"REGION=" + testRegion,
		"WORK=" + work,
	}
	env = append(env, cleanEnv()...)
	runScript(t, bash, script, work, env, 3*time.Minute)
	noServerErrors(t, e)
}

// awsCLI returns Debian's AWS CLI v2, failing the test if it is missing or
// is not version 2.
func awsCLI(t *testing.T) string {
	t.Helper()
	if _, err := os.Stat(awsCLIPath); err != nil {
		t.Fatalf("%s is missing: this test drives Debian's AWS CLI v2 (apt-get install awscli; scripts/install-test-tools installs it), not an aws found on PATH: %v", awsCLIPath, err)
	}
	out, err := exec.Command(awsCLIPath, "--version").CombinedOutput()
	if err != nil || !strings.HasPrefix(string(out), "aws-cli/2.") {
		t.Fatalf("%s --version = %q, %v: want the AWS CLI v2 of Debian's awscli package", awsCLIPath, out, err)
	}
	return awsCLIPath
}

func writeAWSCLIFile(t *testing.T, path, content string) {
	t.Helper()
	if err := os.WriteFile(path, []byte(content), 0o600); err != nil {
		t.Fatal(err)
	}
}

// currentAWSCLI returns an AWS CLI recent enough for what Debian's lacks
// (repository creation templates, tag-mutability exclusion filters): the
// pip-installed AWS CLI v1 that this kind of machine comes with.
func currentAWSCLI(t *testing.T) string {
	t.Helper()
	for _, dir := range filepath.SplitList(os.Getenv("PATH")) {
		p := filepath.Join(dir, "aws")
		if p == awsCLIPath {
			continue
		}
		out, err := exec.Command(p, "ecr", "create-repository-creation-template", "help").CombinedOutput()
		if err == nil && strings.Contains(string(out), "applied-for") {
			return p
		}
	}
	t.Fatalf("no AWS CLI on PATH besides %s knows create-repository-creation-template: install a current one (pip install awscli)", awsCLIPath)
	return ""
}
