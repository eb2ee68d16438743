package e2e

import (
	"bytes"
	"context"
	"errors"
	"fmt"
	"os"
	"os/exec"
	"path/filepath"
	"strings"
	"testing"

	"github.com/aws/aws-sdk-go-v2/aws"
	"github.com/aws/aws-sdk-go-v2/service/ecr"

	"github.com/ecrd/ecrd/internal/testutil"
	"github.com/ecrd/ecrd/test/ecrdtest"
)

// cliResult is what one run of the ecrd binary printed and how it ended.
type cliResult struct {
	stdout, stderr string
	code           int
}

// runECRD runs the ecrd binary with args in env (nil: the test's).
func runECRD(t *testing.T, env []string, args ...string) cliResult {
	t.Helper()
	cmd := exec.Command(ecrdtest.Bin(), args...)
	cmd.Env = env
	var stdout, stderr bytes.Buffer
	cmd.Stdout, cmd.Stderr = &stdout, &stderr
	err := cmd.Run()
	var exit *exec.ExitError
	if err != nil && !errors.As(err, &exit) {
		t.Fatalf("running ecrd %s: %v", strings.Join(args, " "), err)
	}
	return cliResult{stdout: stdout.String(), stderr: stderr.String(), code: cmd.ProcessState.ExitCode()}
}

func (r cliResult) String() string {
	return fmt.Sprintf("exit %d\nstdout:\n%s\nstderr:\n%s", r.code, r.stdout, r.stderr)
}

// cliGroups are ecrd's commands that hold commands ("" is ecrd itself),
// with those they hold.
var cliGroups = map[string][]string{
	"":           {"serve", "account", "access-key", "lifecycle", "gc", "import", "migrate", "vulndb", "version", "help"},
	"lifecycle":  {"run", "preview"},
	"account":    {"create", "list"},
	"access-key": {"create", "list"},
	"vulndb":     {"load", "status"},
}

// cliCommands are ecrd's commands that take flags, with a flag each
// lists and, for those that call a server, the client flags.
var cliCommands = []struct {
	name   string
	flag   string
	client bool
}{
	{"serve", "-listen", false},
	{"gc", "-endpoint-url", true},
	{"import", "-repository", true},
	{"image-times", "-upstream-checked-at", true},
	{"console-url", "-endpoint-url", true},
	{"migrate", "-to-metadata", false},
	{"lifecycle run", "-repository", true},
	{"lifecycle preview", "-at", true},
	{"account create", "-id", false},
	{"account list", "-data", false},
	{"access-key create", "-account", false},
	{"access-key list", "-account", false},
	{"vulndb load", "-vulndb", false},
	{"vulndb status", "-vulndb", false},
}

// TestCLIHelp checks that every command's --help, -h and help <command>
// print one usage layout on stdout and exit 0, and that a bad flag or a
// missing or unknown command prints it on stderr and exits 2.
func TestCLIHelp(t *testing.T) {
	t.Parallel()
	// --help must not depend on the machine's settings, nor touch them.
	env := append(cleanEnv(), "HOME="+t.TempDir())

	// helpForms runs each way of asking for a command's usage and checks
	// that they print the same on stdout, and nothing else.
	helpForms := func(t *testing.T, name string) string {
		t.Helper()
		words := strings.Fields(name)
		var first string
		for i, args := range [][]string{
			append(append([]string(nil), words...), "--help"),
			append(append([]string(nil), words...), "-h"),
			append([]string{"help"}, words...),
		} {
			r := runECRD(t, env, args...)
			if r.code != 0 || r.stderr != "" || r.stdout == "" {
				t.Errorf("ecrd %s: want the usage on stdout and exit 0, got %v", strings.Join(args, " "), r)
				continue
			}
			if i == 0 {
				first = r.stdout
			} else if r.stdout != first {
				t.Errorf("ecrd %s prints another usage than ecrd %s --help:\n%s", strings.Join(args, " "), name, r.stdout)
			}
		}
		return first
	}
	// layout checks the first lines: Usage, a blank line, a description.
	layout := func(t *testing.T, text, usage string) {
		t.Helper()
		lines := strings.Split(text, "\n")
		if len(lines) < 4 || !strings.HasPrefix(lines[0], usage) || lines[1] != "" || strings.TrimSpace(lines[2]) == "" {
			t.Errorf("the usage does not start with %q, a blank line and a description:\n%s", usage, text)
		}
	}

	for _, c := range cliCommands {
		t.Run(c.name, func(t *testing.T) {
			t.Parallel()
			text := helpForms(t, c.name)
			layout(t, text, "Usage: ecrd "+c.name+" [flags]")
			flags := strings.Index(text, "\n\nFlags:\n  -")
			if flags < 0 {
				t.Errorf("the usage has no Flags: section:\n%s", text)
			}
			want := []string{"\n  " + c.flag + " "}
			if c.client {
				want = append(want, "\n  -endpoint-url ", "\n  -endpoint ", "\n  -region ", "\n  -profile ", "\n  -data ",
					"AWS_ENDPOINT_URL_ECR", "AWS_ENDPOINT_URL,", "AWS_PROFILE", "AWS_REGION", "AWS_DEFAULT_REGION", "ECRD_ENDPOINT")
			}
			for _, w := range want {
				if !strings.Contains(text, w) && !strings.Contains(text, strings.TrimSuffix(w, " ")+"\n") {
					t.Errorf("the usage does not list %q:\n%s", strings.TrimSpace(w), text)
				}
			}

			r := runECRD(t, env, append(strings.Fields(c.name), "--no-such-flag")...)
			if r.code != 2 || r.stdout != "" || !strings.HasPrefix(r.stderr, "ecrd "+c.name+": flag provided but not defined: -no-such-flag\n\n") ||
				!strings.Contains(r.stderr, "\nUsage: ecrd "+c.name+" [flags]") {
				t.Errorf("an unknown flag: want the error and the usage on stderr and exit 2, got %v", r)
			}
		})
	}

	t.Run("version", func(t *testing.T) {
		t.Parallel()
		text := helpForms(t, "version")
		layout(t, text, "Usage: ecrd version")
		if r := runECRD(t, env, "version", "--no-such-flag"); r.code != 2 || !strings.Contains(r.stderr, "Usage: ecrd version") {
			t.Errorf("ecrd version --no-such-flag: %v", r)
		}
	})

	for group, commands := range cliGroups {
		name := "ecrd"
		if group != "" {
			name += " " + group
		}
		t.Run(name, func(t *testing.T) {
			t.Parallel()
			words := strings.Fields(group)
			text := helpForms(t, group)
			if group == "" {
				// ecrd help help, like ecrd help, prints ecrd's usage.
				if r := runECRD(t, env, "help", "help"); r.code != 0 || r.stdout != text {
					t.Errorf("ecrd help help: %v", r)
				}
			} else if r := runECRD(t, env, group, "help"); r.code != 0 || r.stdout != text {
				t.Errorf("%s help: want its usage, got %v", name, r)
			}
			layout(t, text, "Usage: "+name+" <command> [flags]")
			_, list, ok := strings.Cut(text, "\n\nCommands:\n")
			if !ok {
				t.Fatalf("the usage has no Commands: section:\n%s", text)
			}
			for _, c := range commands {
				if !strings.Contains(list, "\n  "+c+" ") && !strings.HasPrefix(list, "  "+c+" ") {
					t.Errorf("the usage does not list %s:\n%s", c, text)
				}
			}
			for _, args := range [][]string{words, append(append([]string(nil), words...), "no-such-command")} {
				r := runECRD(t, env, args...)
				if r.code != 2 || r.stdout != "" || !strings.Contains(r.stderr, "Usage: "+name+" <command>") {
					t.Errorf("%s: want the usage on stderr and exit 2, got %v", strings.Join(append([]string{"ecrd"}, args...), " "), r)
				}
			}
		})
	}
}

// freeURL returns the URL of a loopback port nothing listens on.
func freeURL(t *testing.T) string {
	t.Helper()
	port, err := testutil.FreePort()
	if err != nil {
		t.Fatal(err)
	}
	return fmt.Sprintf("http://127.0.0.1:%d", port)
}

// TestCLIClientConfig runs ecrd gc and ecrd lifecycle run against a server
// found the ways the AWS CLI finds one: AWS_ENDPOINT_URL with AWS_PROFILE
// and shared files, --endpoint-url, --region and --profile,
// AWS_ENDPOINT_URL_ECR, a profile's endpoint_url, and ecrd's own
// --endpoint and ECRD_ENDPOINT; a profile that does not exist, or a
// server that does not answer, fails with a clear message.
func TestCLIClientConfig(t *testing.T) {
	t.Parallel()
	e := startBareECRD(t, t.TempDir(), "--gc-interval", "-1s", "--lifecycle-interval", "-1s")
	ctx := context.Background()
	_, err := e.ECR().CreateRepository(ctx, &ecr.CreateRepositoryInput{RepositoryName: aws.String("cli/app")})
	ecrMust(t, "CreateRepository", err)
	_, err = e.ECR().PutLifecyclePolicy(ctx, &ecr.PutLifecyclePolicyInput{RepositoryName: aws.String("cli/app"),
		LifecyclePolicyText: aws.String(`{"rules":[{"rulePriority":1,"selection":{"tagStatus":"untagged","countType":"sinceImagePushed","countUnit":"days","countNumber":30},"action":{"type":"expire"}}]}`)})
	ecrMust(t, "PutLifecyclePolicy", err)

	// The default profile holds a key the server does not know, so that
	// only a chosen profile gets in; no data folder key to fall back on.
	dir := t.TempDir()
	configFile, credentialsFile := filepath.Join(dir, "config"), filepath.Join(dir, "credentials")
	writeAWSCLIFile(t, configFile, fmt.Sprintf("[default]\nregion = %[2]s\n\n[profile ecrd]\nregion = %[2]s\n\n[profile ecrd-endpoint]\nregion = %[2]s\nendpoint_url = %[1]s\n", e.URL(), testRegion))
	root := fmt.Sprintf("aws_access_key_id = %s\naws_secret_access_key = %s\n", testAccessKey, testSecret)
	writeAWSCLIFile(t, credentialsFile, "[default]\naws_access_key_id = AKIAUNKNOWNKEY000000\naws_secret_access_key = unknown\n\n[ecrd]\n"+root+"\n[ecrd-endpoint]\n"+root)
	base := append(cleanEnv(), "HOME="+dir, "AWS_CONFIG_FILE="+configFile, "AWS_SHARED_CREDENTIALS_FILE="+credentialsFile,
		"AWS_EC2_METADATA_DISABLED=true", "ECRD_DATA="+t.TempDir())
	dead := freeURL(t)

	collections := func() int {
		n := 0
		for _, l := range e.LogLines() {
			if l["msg"] == "garbage collected" {
				n++
			}
		}
		return n
	}
	// ok runs a command that must reach e: gc collects once more,
	// lifecycle run reports the repositories of the region.
	ok := func(t *testing.T, env []string, args ...string) {
		t.Helper()
		before := collections()
		r := runECRD(t, append(append([]string(nil), base...), env...), args...)
		if r.code != 0 {
			t.Fatalf("ecrd %s with %q: %v", strings.Join(args, " "), env, r)
		}
		switch args[0] {
		case "gc":
			if !strings.Contains(r.stdout, "links removed: ") || collections() != before+1 {
				t.Errorf("ecrd %s with %q did not collect garbage on the server: %v", strings.Join(args, " "), env, r)
			}
		case "lifecycle":
			want := "repositories: 1\n"
			if strings.Contains(strings.Join(args, " "), "--region eu-west-1") {
				want = "repositories: 0\n" // another registry
			}
			if !strings.HasPrefix(r.stdout, want) {
				t.Errorf("ecrd %s with %q: want %q, got %v", strings.Join(args, " "), env, want, r)
			}
		}
	}
	// fails runs a command that must fail with a one-line message saying want.
	fails := func(t *testing.T, env []string, want string, args ...string) {
		t.Helper()
		r := runECRD(t, append(append([]string(nil), base...), env...), args...)
		msg := strings.TrimSpace(r.stderr)
		if r.code != 1 || strings.Contains(msg, "\n") || !strings.HasPrefix(msg, "ecrd "+args[0]) || !strings.Contains(msg, want) {
			t.Errorf("ecrd %s with %q: want exit 1 and one line saying %q, got %v", strings.Join(args, " "), env, want, r)
		}
	}

	t.Run("AWS_ENDPOINT_URL and AWS_PROFILE", func(t *testing.T) {
		env := []string{"AWS_ENDPOINT_URL=" + e.URL(), "AWS_PROFILE=ecrd"}
		ok(t, env, "gc")
		ok(t, env, "lifecycle", "run")
		ok(t, env, "lifecycle", "run", "--repository", "cli/app")
	})
	t.Run("flags", func(t *testing.T) {
		ok(t, nil, "gc", "--endpoint-url", e.URL(), "--region", testRegion, "--profile", "ecrd")
		ok(t, nil, "lifecycle", "run", "--endpoint-url", e.URL(), "--region", testRegion, "--profile", "ecrd")
		// The flags come before the environment and the profile.
		env := []string{"AWS_ENDPOINT_URL=" + dead, "AWS_REGION=" + testRegion, "AWS_PROFILE=nope"}
		ok(t, env, "lifecycle", "run", "--endpoint-url", e.URL(), "--region", "eu-west-1", "--profile", "ecrd")
		ok(t, env, "gc", "--endpoint-url", e.URL(), "--profile", "ecrd")
	})
	t.Run("region", func(t *testing.T) {
		env := []string{"AWS_ENDPOINT_URL=" + e.URL(), "AWS_PROFILE=ecrd"}
		ok(t, append(env, "AWS_DEFAULT_REGION=eu-west-1"), "lifecycle", "run", "--region", "eu-west-1")
		r := runECRD(t, append(append(append([]string(nil), base...), env...), "AWS_DEFAULT_REGION=eu-west-1"), "lifecycle", "run")
		if r.code != 0 || !strings.HasPrefix(r.stdout, "repositories: 0\n") {
			t.Errorf("AWS_DEFAULT_REGION=eu-west-1 ecrd lifecycle run: want the eu-west-1 registry, got %v", r)
		}
	})
	t.Run("AWS_ENDPOINT_URL_ECR", func(t *testing.T) {
		ok(t, []string{"AWS_ENDPOINT_URL=" + dead, "AWS_ENDPOINT_URL_ECR=" + e.URL(), "AWS_PROFILE=ecrd"}, "gc")
	})
	t.Run("profile endpoint_url", func(t *testing.T) {
		ok(t, []string{"AWS_PROFILE=ecrd-endpoint"}, "gc")
		ok(t, nil, "lifecycle", "run", "--profile", "ecrd-endpoint")
		// The environment comes before the profile.
		fails(t, []string{"AWS_ENDPOINT_URL=" + dead}, strings.TrimPrefix(dead, "http://"), "gc", "--profile", "ecrd-endpoint")
	})
	t.Run("ecrd's names", func(t *testing.T) {
		ok(t, []string{"AWS_PROFILE=ecrd"}, "gc", "--endpoint", e.URL())
		ok(t, []string{"AWS_PROFILE=ecrd", "AWS_ENDPOINT_URL=" + dead, "ECRD_ENDPOINT=" + e.URL()}, "lifecycle", "run")
	})
	t.Run("failures", func(t *testing.T) {
		fails(t, nil, `profile "nope" is in neither `+configFile+" nor "+credentialsFile, "gc", "--endpoint-url", e.URL(), "--profile", "nope")
		fails(t, []string{"AWS_ENDPOINT_URL=" + e.URL(), "AWS_PROFILE=nope"}, `profile "nope" is in neither`, "lifecycle", "run")
		// The default profile's key is not the server's.
		fails(t, []string{"AWS_ENDPOINT_URL=" + e.URL()}, "UnrecognizedClientException", "gc")
		fails(t, []string{"AWS_ENDPOINT_URL=" + dead, "AWS_PROFILE=ecrd"}, strings.TrimPrefix(dead, "http://"), "gc")
		r := runECRD(t, base, "gc", "--endpoint-url", "127.0.0.1:5000", "--profile", "ecrd")
		if r.code != 1 || !strings.Contains(r.stderr, `--endpoint-url "127.0.0.1:5000": give the server's URL`) {
			t.Errorf("an endpoint that is no URL: %v", r)
		}
	})
	noServerErrors(t, e)
	if _, err := os.Stat(filepath.Join(dir, ".aws")); err == nil {
		t.Error("the commands wrote into the home folder's .aws")
	}
}
