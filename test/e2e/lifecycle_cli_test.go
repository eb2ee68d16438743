package e2e

import (
	"bytes"
	"context"
	"fmt"
	"os"
	"os/exec"
	"path/filepath"
	"strings"
	"syscall"
	"testing"
	"time"

	v1 "github.com/google/go-containerregistry/pkg/v1"
	"github.com/google/go-containerregistry/pkg/v1/empty"
	"github.com/google/go-containerregistry/pkg/v1/layout"
	"github.com/google/go-containerregistry/pkg/v1/random"

	"github.com/ecrd/ecrd/test/ecrdtest"
)

// lifecycleExamples are the repositories of ECR's documented lifecycle
// policy examples E5 to E10: each image's tags, in push order
// (testdata/lifecycle.sh gives their ages).
var lifecycleExamples = map[string][][]string{
	"e5":  {{"beta-1", "prod-1"}, {"beta-2", "prod-2"}, {"beta-3"}},
	"e6":  {{"beta-1", "prod-1"}, {"beta-2", "prod-2"}, {"beta-3"}},
	"e7":  {{"alpha-1"}, {"beta-1"}, {"alpha-2", "beta-2"}, {"alpha-3"}, {"beta-3"}, {"alpha-4", "beta-4"}},
	"e8":  {{"alpha-1", "beta-1", "gamma-1"}, {"alpha-2", "beta-2"}, {"alpha-3", "beta-3", "gamma-2"}},
	"e9":  {{"alpha-1"}, {"beta-1"}, nil, {"alpha-2"}},
	"e10": {{"alpha-1", "beta-1"}, nil, {"alpha-2"}, {"git-hash"}, nil},
}

// writeTaggedLayout writes an OCI image layout holding img under each tag (or
// once, untagged), as skopeo and crane write them.
func writeTaggedLayout(t *testing.T, dir string, img v1.Image, tags []string) {
	t.Helper()
	p, err := layout.Write(dir, empty.Index)
	if err != nil {
		t.Fatal(err)
	}
	if len(tags) == 0 {
		if err := p.AppendImage(img); err != nil {
			t.Fatal(err)
		}
	}
	for _, tag := range tags {
		if err := p.AppendImage(img, layout.WithAnnotations(map[string]string{"org.opencontainers.image.ref.name": tag})); err != nil {
			t.Fatal(err)
		}
	}
}

// TestLifecycleAWSCLI runs testdata/lifecycle.sh: ECR's documented
// lifecycle examples imported with their ages, previewed, waited for and
// run with the AWS CLI v2 and the ecrd command, then every validation
// rule broken once.
func TestLifecycleAWSCLI(t *testing.T) {
	aws := awsCLI(t)
	jq := tool(t, "jq")
	bash := tool(t, "bash")
	script, err := filepath.Abs(filepath.Join("testdata", "lifecycle.sh"))
	if err != nil {
		t.Fatal(err)
	}
	e := startBareECRD(t, t.TempDir(), "--lifecycle-interval", "-1s")

	layouts := filepath.Join(t.TempDir(), "layouts")
	for ex, images := range lifecycleExamples {
		for i, tags := range images {
			img, err := random.Image(256, 1)
			if err != nil {
				t.Fatal(err)
			}
			writeTaggedLayout(t, filepath.Join(layouts, ex, string(rune('a'+i))), img, tags)
		}
	}
	env, work := scriptEnv(t, e)
	env = append(env, "AWS="+aws, "ECRD="+ecrdtest.Bin(), "JQ="+jq, "LAYOUTS="+layouts)
	runScript(t, bash, script, work, env, 5*time.Minute)
	noServerErrors(t, e)
}

// cleanEnv is the test's environment without what configures AWS, docker
// or ecrd clients: scripts get their own.
// scriptEnv prepares a CLI script's run against e: an isolated home, an
// AWS configuration holding the root test key, and an empty scratch
// folder, which it returns with the environment naming them (ENDPOINT,
// WORK, ACCOUNT, REGION and the AWS CLI's variables).
func scriptEnv(t *testing.T, e *ecrd) (env []string, work string) {
	t.Helper()
	dir := t.TempDir()
	home, work := filepath.Join(dir, "home"), filepath.Join(dir, "work")
	for _, d := range []string{home, work} {
		if err := os.Mkdir(d, 0o700); err != nil {
			t.Fatal(err)
		}
	}
	configFile, credentialsFile := filepath.Join(dir, "aws-config"), filepath.Join(dir, "aws-credentials")
	writeAWSCLIFile(t, configFile, fmt.Sprintf("[default]\nregion = %s\noutput = json\ncli_timestamp_format = iso8601\n", testRegion))
	writeAWSCLIFile(t, credentialsFile, fmt.Sprintf("[default]\naws_access_key_id = %s\naws_secret_access_key = %s\n", testAccessKey, testSecret))
	return append(cleanEnv(),
		"HOME="+home,
		"AWS_CONFIG_FILE="+configFile,
		"AWS_SHARED_CREDENTIALS_FILE="+credentialsFile,
		"AWS_DEFAULT_REGION="+testRegion,
		"AWS_ENDPOINT_URL="+e.URL(),
		"AWS_PAGER=",
		"AWS_EC2_METADATA_DISABLED=true",
		"ENDPOINT="+e.URL(), "WORK="+work, "ACCOUNT="+testAccount, "REGION="+testRegion,
	), work
}

func cleanEnv() []string {
	var env []string
	for _, kv := range os.Environ() {
		k, _, _ := strings.Cut(kv, "=")
		if k == "HOME" || strings.HasPrefix(k, "AWS_") || strings.HasPrefix(k, "DOCKER_") || strings.HasPrefix(k, "ECRD_") || k == "REGISTRY_AUTH_FILE" {
			continue
		}
		env = append(env, kv)
	}
	return env
}

// runScript runs a test script with bash in dir and fails the test with
// its output if it fails; on a timeout it kills the script and what it
// runs.
func runScript(t *testing.T, bash, script, dir string, env []string, timeout time.Duration) {
	t.Helper()
	ctx, cancel := context.WithTimeout(context.Background(), timeout)
	defer cancel()
	cmd := exec.CommandContext(ctx, bash, script)
	cmd.Env = env
	cmd.Dir = dir
	var out bytes.Buffer
	cmd.Stdout, cmd.Stderr = &out, &out
	cmd.SysProcAttr = &syscall.SysProcAttr{Setpgid: true}
	cmd.Cancel = func() error { return syscall.Kill(-cmd.Process.Pid, syscall.SIGKILL) }
	cmd.WaitDelay = 5 * time.Second
	start := time.Now()
	err := cmd.Run()
	name := filepath.Base(script)
	t.Logf("testdata/%s ran for %v", name, time.Since(start).Round(time.Millisecond))
	if err != nil {
		if ctx.Err() != nil {
			err = fmt.Errorf("%w (timed out)", err)
		}
		t.Errorf("testdata/%s: %v; its output:\n%s", name, err, out.String())
	} else {
		t.Logf("testdata/%s output:\n%s", name, out.String())
	}
}
