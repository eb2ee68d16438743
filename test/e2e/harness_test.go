// Package e2e tests the real ecrd binary through the clients people use:
// the OCI conformance suite, crane, skopeo and oras. The tools are
// installed by scripts/install-test-tools (which .ci/run calls); a missing
// tool fails the test with the command that installs it.
package e2e

import (
	"bufio"
	"context"
	"encoding/base64"
	"encoding/json"
	"errors"
	"fmt"
	"io"
	"net/http"
	"os"
	"os/exec"
	"path/filepath"
	"slices"
	"strings"
	"sync"
	"syscall"
	"testing"
	"time"

	"github.com/aws/aws-sdk-go-v2/aws"
	"github.com/aws/aws-sdk-go-v2/credentials"
	"github.com/aws/aws-sdk-go-v2/service/ecr"
	ecrtypes "github.com/aws/aws-sdk-go-v2/service/ecr/types"
)

// ecrdBin is the binary under test, built once by TestMain.
var ecrdBin string

func TestMain(m *testing.M) {
	dir, err := os.MkdirTemp("", "ecrd-e2e-bin-")
	if err != nil {
		fmt.Fprintln(os.Stderr, err)
		os.Exit(1)
	}
	ecrdBin = filepath.Join(dir, "ecrd")
	build := exec.Command("go", "build", "-o", ecrdBin, "github.com/ecrd/ecrd/cmd/ecrd")
	build.Env = append(os.Environ(), "CGO_ENABLED=0")
	build.Stdout, build.Stderr = os.Stderr, os.Stderr
	if err := build.Run(); err != nil {
		fmt.Fprintln(os.Stderr, "building ecrd:", err)
		os.Exit(1)
	}
	code := m.Run()
	os.RemoveAll(dir)
	os.Exit(code)
}

// tool finds a client binary on PATH or in Go's bin directory.
func tool(t testing.TB, name string) string {
	t.Helper()
	if p, err := exec.LookPath(name); err == nil {
		return p
	}
	if out, err := exec.Command("go", "env", "GOPATH").Output(); err == nil {
		p := filepath.Join(strings.TrimSpace(string(out)), "bin", name)
		if _, err := os.Stat(p); err == nil {
			return p
		}
	}
	t.Fatalf("%s is not installed: run scripts/install-test-tools", name)
	return ""
}

// The root access key every test server is started with, and the
// account and region it belongs to.
const (
	testAccount   = "123456789012"
	testRegion    = "us-east-1"
	testAccessKey = "AKIAE2ETESTROOTKEY00"
	testSecret    = "e2e-test-secret-key-0123456789abcdefghij"
)

// ecrd is a running ecrd process.
type ecrd struct {
	t    testing.TB
	cmd  *exec.Cmd
	Addr string // host:port it listens on
	Data string
	done chan struct{}

	mu   sync.Mutex
	logs []map[string]any
}

// URL returns the registry's base URL.
func (e *ecrd) URL() string { return "http://" + e.Addr }

// startECRD runs ecrd on a free loopback port with the given data folder,
// with the test root key, waits until it is ready, and adds a ROOT
// repository creation template applied for CREATE_ON_PUSH so that pushes
// create repositories. The process is stopped when the test ends.
func startECRD(t testing.TB, data string, extraArgs ...string) *ecrd {
	t.Helper()
	e := startBareECRD(t, data, extraArgs...)
	e.createOnPush(t)
	return e
}

// startBareECRD is startECRD without the creation template.
func startBareECRD(t testing.TB, data string, extraArgs ...string) *ecrd {
	t.Helper()
	return startECRDUnder(t, nil, data, extraArgs...)
}

// startECRDUnder is startBareECRD with the binary run by a wrapper
// command that execs it (such as prlimit), so that the process is still
// ecrd's.
func startECRDUnder(t testing.TB, wrapper []string, data string, extraArgs ...string) *ecrd {
	t.Helper()
	args := append([]string{"serve", "--listen", "127.0.0.1:0", "--data", data, "--log-format", "json"}, extraArgs...)
	argv := append(append(slices.Clone(wrapper), ecrdBin), args...)
	cmd := exec.Command(argv[0], argv[1:]...)
	cmd.Env = append(os.Environ(), "ECRD_ROOT_ACCESS_KEY_ID="+testAccessKey, "ECRD_ROOT_SECRET_ACCESS_KEY="+testSecret)
	stderr, err := cmd.StderrPipe()
	if err != nil {
		t.Fatal(err)
	}
	if err := cmd.Start(); err != nil {
		t.Fatal(err)
	}
	e := &ecrd{t: t, cmd: cmd, Data: data, done: make(chan struct{})}
	addr := make(chan string, 1)
	go e.readLogs(stderr, addr)
	go func() { cmd.Wait(); close(e.done) }()
	t.Cleanup(func() { e.Stop() })
	select {
	case a := <-addr:
		e.Addr = a
	case <-e.done:
		t.Fatalf("ecrd exited before listening: %v", e.logLines())
	case <-time.After(30 * time.Second):
		t.Fatal("ecrd did not start within 30s")
	}
	e.waitReady()
	return e
}

func (e *ecrd) readLogs(r io.Reader, addr chan<- string) {
	sc := bufio.NewScanner(r)
	sc.Buffer(make([]byte, 1<<20), 1<<20)
	for sc.Scan() {
		var rec map[string]any
		if json.Unmarshal(sc.Bytes(), &rec) != nil {
			rec = map[string]any{"msg": sc.Text()}
		}
		e.mu.Lock()
		e.logs = append(e.logs, rec)
		e.mu.Unlock()
		if rec["msg"] == "listening" {
			if a, ok := rec["addr"].(string); ok {
				addr <- a
			}
		}
	}
}

// logLines returns what the process logged so far.
func (e *ecrd) logLines() []map[string]any {
	e.mu.Lock()
	defer e.mu.Unlock()
	return append([]map[string]any(nil), e.logs...)
}

// errorLogs returns the records logged at ERROR level.
func (e *ecrd) errorLogs() []map[string]any {
	var out []map[string]any
	for _, l := range e.logLines() {
		if l["level"] == "ERROR" {
			out = append(out, l)
		}
	}
	return out
}

// noServerErrors fails the test if the server logged an error (a 500, a
// panic) during it.
func noServerErrors(t testing.TB, e *ecrd) {
	t.Helper()
	for _, l := range e.errorLogs() {
		t.Errorf("ecrd logged an error: %v", l)
	}
}

func (e *ecrd) waitReady() {
	// /readyz needs no credentials.
	deadline := time.Now().Add(10 * time.Second)
	for time.Now().Before(deadline) {
		resp, err := http.Get(e.URL() + "/readyz")
		if err == nil {
			resp.Body.Close()
			if resp.StatusCode == http.StatusOK {
				return
			}
		}
		time.Sleep(20 * time.Millisecond)
	}
	e.t.Fatal("ecrd did not become ready")
}

// Stop sends SIGTERM and waits for a clean exit.
func (e *ecrd) Stop() {
	if e.cmd.ProcessState != nil {
		return
	}
	e.cmd.Process.Signal(syscall.SIGTERM)
	select {
	case <-e.done:
	case <-time.After(30 * time.Second):
		e.cmd.Process.Kill()
		<-e.done
		e.t.Errorf("ecrd did not stop within 30s of SIGTERM")
	}
}

// Kill stops the process at once, as a crash would.
func (e *ecrd) Kill() {
	e.cmd.Process.Signal(syscall.SIGKILL)
	<-e.done
}

// run runs a command, failing the test with its output if it fails.
func run(t *testing.T, ctx context.Context, name string, args ...string) string {
	t.Helper()
	cmd := exec.CommandContext(ctx, name, args...)
	out, err := cmd.CombinedOutput()
	if err != nil {
		t.Fatalf("%s %s: %v\n%s", filepath.Base(name), strings.Join(args, " "), err, out)
	}
	return string(out)
}

// ECR returns an AWS SDK ECR client for the server, signed with the test
// root key.
func (e *ecrd) ECR() *ecr.Client {
	return ecr.New(ecr.Options{
		Region:       testRegion,
		BaseEndpoint: aws.String(e.URL()),
		Credentials:  credentials.NewStaticCredentialsProvider(testAccessKey, testSecret, ""),
	})
}

// createOnPush adds the ROOT CREATE_ON_PUSH template, unless it exists
// (a restart on the same data folder).
func (e *ecrd) createOnPush(t testing.TB) {
	t.Helper()
	_, err := e.ECR().CreateRepositoryCreationTemplate(context.Background(), &ecr.CreateRepositoryCreationTemplateInput{
		Prefix:     aws.String("ROOT"),
		AppliedFor: []ecrtypes.RCTAppliedFor{ecrtypes.RCTAppliedForCreateOnPush},
	})
	var exists *ecrtypes.TemplateAlreadyExistsException
	if err != nil && !errors.As(err, &exists) {
		t.Fatalf("creating the CREATE_ON_PUSH template: %v", err)
	}
}

// Token returns the registry's docker login token (base64 of
// AWS:<password>), from GetAuthorizationToken.
func (e *ecrd) Token(t testing.TB) string {
	t.Helper()
	out, err := e.ECR().GetAuthorizationToken(context.Background(), &ecr.GetAuthorizationTokenInput{})
	if err != nil {
		t.Fatalf("GetAuthorizationToken: %v", err)
	}
	return aws.ToString(out.AuthorizationData[0].AuthorizationToken)
}

// Password returns the registry password GetAuthorizationToken gives.
func (e *ecrd) Password(t testing.TB) string {
	t.Helper()
	b, err := base64.StdEncoding.DecodeString(e.Token(t))
	if err != nil {
		t.Fatal(err)
	}
	_, pw, _ := strings.Cut(string(b), ":")
	return pw
}

// Login writes a docker-format config.json that logs in to the server,
// points DOCKER_CONFIG and REGISTRY_AUTH_FILE at it for the test (so that
// crane, skopeo and oras use it), and returns its path.
func (e *ecrd) Login(t *testing.T) string {
	t.Helper()
	dir := t.TempDir()
	path := filepath.Join(dir, "config.json")
	cfg := map[string]any{"auths": map[string]any{e.Addr: map[string]string{"auth": e.Token(t)}}}
	b, _ := json.Marshal(cfg)
	if err := os.WriteFile(path, b, 0o600); err != nil {
		t.Fatal(err)
	}
	t.Setenv("DOCKER_CONFIG", dir)
	t.Setenv("REGISTRY_AUTH_FILE", path)
	return path
}

// authTransport adds Basic credentials to every request.
type authTransport struct {
	password string
	base     http.RoundTripper
}

// CloseIdleConnections passes through to the base transport.
func (a authTransport) CloseIdleConnections() {
	if c, ok := a.base.(interface{ CloseIdleConnections() }); ok {
		c.CloseIdleConnections()
	}
}

func (a authTransport) RoundTrip(r *http.Request) (*http.Response, error) {
	r = r.Clone(r.Context())
	r.SetBasicAuth("AWS", a.password)
	return a.base.RoundTrip(r)
}

// HTTPClient returns an HTTP client that sends the registry password.
func (e *ecrd) HTTPClient(t testing.TB) *http.Client {
	return &http.Client{Transport: authTransport{password: e.Password(t), base: http.DefaultTransport}}
}
