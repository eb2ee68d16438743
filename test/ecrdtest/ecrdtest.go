// Package ecrdtest runs the real ecrd binary for end-to-end tests: it
// builds it once per test binary (Main), starts servers on free loopback
// ports with the test root key (Start), reads their JSON logs, stops or
// kills them, and gives clients signed for them (ECR, HTTPClient, Login).
// The e2e and scale-out test packages share it.
package ecrdtest

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

	"github.com/ecrd/ecrd/internal/testutil/pgtest"
	"github.com/ecrd/ecrd/internal/testutil/s3test"
)

// bin is the binary under test, built once by Main.
var bin string

// Bin returns the path of the ecrd binary Main built.
func Bin() string { return bin }

// Main builds ecrd (without cgo, as it ships), runs the tests and returns
// their exit code: call it from TestMain as os.Exit(ecrdtest.Main(m)).
func Main(m *testing.M) int {
	dir, err := os.MkdirTemp("", "ecrd-e2e-bin-")
	if err != nil {
		fmt.Fprintln(os.Stderr, err)
		return 1
	}
	bin = filepath.Join(dir, "ecrd")
	build := exec.Command("go", "build", "-o", bin, "github.com/ecrd/ecrd/cmd/ecrd")
	build.Env = append(os.Environ(), "CGO_ENABLED=0")
	build.Stdout, build.Stderr = os.Stderr, os.Stderr
	if err := build.Run(); err != nil {
		fmt.Fprintln(os.Stderr, "building ecrd:", err)
		return 1
	}
	code := m.Run()
	os.RemoveAll(dir)
	// The database and S3 servers clusters started, if any.
	pgtest.Stop()
	s3test.Stop()
	return code
}

// Tool finds a client binary on PATH or in Go's bin directory, and fails
// the test, naming the script that installs it, if it is missing.
func Tool(t testing.TB, name string) string {
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
	Account   = "123456789012"
	Region    = "us-east-1"
	AccessKey = "AKIAE2ETESTROOTKEY00"
	Secret    = "e2e-test-secret-key-0123456789abcdefghij"
)

// Server is a running ecrd process.
type Server struct {
	t    testing.TB
	cmd  *exec.Cmd
	Addr string // host:port it listens on
	Data string
	done chan struct{}

	mu   sync.Mutex
	logs []map[string]any
}

// URL returns the registry's base URL.
func (e *Server) URL() string { return "http://" + e.Addr }

// Start runs ecrd on a free loopback port with the given data folder,
// with the test root key, waits until it is ready, and adds a ROOT
// repository creation template applied for CREATE_ON_PUSH so that pushes
// create repositories. The process is stopped when the test ends.
func Start(t testing.TB, data string, extraArgs ...string) *Server {
	t.Helper()
	e := StartBare(t, data, extraArgs...)
	e.CreateOnPush(t)
	return e
}

// StartBare is Start without the creation template.
func StartBare(t testing.TB, data string, extraArgs ...string) *Server {
	t.Helper()
	return StartWith(t, Options{Data: data, Args: extraArgs})
}

// Options say how StartWith runs ecrd.
type Options struct {
	Data string   // the data folder
	Args []string // after serve --listen 127.0.0.1:0 --data DATA --log-format json
	// Wrapper is a command that execs the binary (such as prlimit), so
	// that the process is still ecrd's.
	Wrapper []string
	// Env is added to the test's environment and the test root key.
	Env []string
}

// StartWith is StartBare as the options say.
func StartWith(t testing.TB, o Options) *Server {
	t.Helper()
	args := append([]string{"serve", "--listen", "127.0.0.1:0", "--data", o.Data, "--log-format", "json"}, o.Args...)
	argv := append(append(slices.Clone(o.Wrapper), bin), args...)
	cmd := exec.Command(argv[0], argv[1:]...)
	cmd.Env = append(os.Environ(), "ECRD_ROOT_ACCESS_KEY_ID="+AccessKey, "ECRD_ROOT_SECRET_ACCESS_KEY="+Secret)
	cmd.Env = append(cmd.Env, o.Env...)
	stderr, err := cmd.StderrPipe()
	if err != nil {
		t.Fatal(err)
	}
	if err := cmd.Start(); err != nil {
		t.Fatal(err)
	}
	e := &Server{t: t, cmd: cmd, Data: o.Data, done: make(chan struct{})}
	addr := make(chan string, 1)
	go e.readLogs(stderr, addr)
	go func() { cmd.Wait(); close(e.done) }()
	t.Cleanup(func() { e.Stop() })
	select {
	case a := <-addr:
		e.Addr = a
	case <-e.done:
		t.Fatalf("ecrd exited before listening: %v", e.LogLines())
	case <-time.After(30 * time.Second):
		t.Fatal("ecrd did not start within 30s")
	}
	e.WaitReady()
	return e
}

func (e *Server) readLogs(r io.Reader, addr chan<- string) {
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

// LogLines returns what the process logged so far.
func (e *Server) LogLines() []map[string]any {
	e.mu.Lock()
	defer e.mu.Unlock()
	return append([]map[string]any(nil), e.logs...)
}

// Gets counts the GET requests the process logged (at --log-level
// debug) by path, of the paths that start with prefix.
func (e *Server) Gets(prefix string) map[string]int {
	out := map[string]int{}
	for _, l := range e.LogLines() {
		p, _ := l["path"].(string)
		if l["msg"] == "request" && l["method"] == "GET" && strings.HasPrefix(p, prefix) {
			out[p]++
		}
	}
	return out
}

// ErrorLogs returns the records logged at ERROR level.
func (e *Server) ErrorLogs() []map[string]any {
	var out []map[string]any
	for _, l := range e.LogLines() {
		if l["level"] == "ERROR" {
			out = append(out, l)
		}
	}
	return out
}

// NoServerErrors fails the test if the server logged an error (a 500, a
// panic) during it.
func NoServerErrors(t testing.TB, e *Server) {
	t.Helper()
	for _, l := range e.ErrorLogs() {
		t.Errorf("ecrd logged an error: %v", l)
	}
}

// WaitReady waits up to 10 s for /readyz to answer 200, and fails the
// test otherwise.
func (e *Server) WaitReady() {
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
func (e *Server) Stop() {
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
func (e *Server) Kill() {
	e.cmd.Process.Signal(syscall.SIGKILL)
	<-e.done
}

// Run runs a command, failing the test with its output if it fails.
func Run(t *testing.T, ctx context.Context, name string, args ...string) string {
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
func (e *Server) ECR() *ecr.Client {
	return ecr.New(ecr.Options{
		Region:       Region,
		BaseEndpoint: aws.String(e.URL()),
		Credentials:  credentials.NewStaticCredentialsProvider(AccessKey, Secret, ""),
	})
}

// CreateOnPush adds the ROOT CREATE_ON_PUSH template, unless it exists
// (a restart on the same data folder, or another replica made it).
func (e *Server) CreateOnPush(t testing.TB) {
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
func (e *Server) Token(t testing.TB) string {
	t.Helper()
	out, err := e.ECR().GetAuthorizationToken(context.Background(), &ecr.GetAuthorizationTokenInput{})
	if err != nil {
		t.Fatalf("GetAuthorizationToken: %v", err)
	}
	return aws.ToString(out.AuthorizationData[0].AuthorizationToken)
}

// Password returns the registry password GetAuthorizationToken gives.
func (e *Server) Password(t testing.TB) string {
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
func (e *Server) Login(t *testing.T) string {
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

// AuthTransport adds Basic credentials, user AWS and a registry
// password, to every request.
type AuthTransport struct {
	Password string
	Base     http.RoundTripper
}

// CloseIdleConnections passes through to the base transport.
func (a AuthTransport) CloseIdleConnections() {
	if c, ok := a.Base.(interface{ CloseIdleConnections() }); ok {
		c.CloseIdleConnections()
	}
}

func (a AuthTransport) RoundTrip(r *http.Request) (*http.Response, error) {
	r = r.Clone(r.Context())
	r.SetBasicAuth("AWS", a.Password)
	return a.Base.RoundTrip(r)
}

// HTTPClient returns an HTTP client that sends the registry password.
func (e *Server) HTTPClient(t testing.TB) *http.Client {
	return &http.Client{Transport: AuthTransport{Password: e.Password(t), Base: http.DefaultTransport}}
}

// Pid is the process's ID.
func (e *Server) Pid() int { return e.cmd.Process.Pid }

// Signal sends the process a signal.
func (e *Server) Signal(sig os.Signal) error { return e.cmd.Process.Signal(sig) }

// Done is closed when the process has exited.
func (e *Server) Done() <-chan struct{} { return e.done }

// ExitCode is the process's exit status once Done is closed.
func (e *Server) ExitCode() int { return e.cmd.ProcessState.ExitCode() }
