// Package s3test runs the S3-compatible server the tests use: versitygw,
// serving S3 over a temporary folder on a loopback port, with real
// signature checks, multipart uploads, ranges, conditional writes and
// presigned URLs. One server runs per test binary, started by the first
// Start; each test takes a bucket of its own (NewBucket).
//
// Credentials reach the code under test as they reach ecrd: through the
// standard AWS chain, from the environment that Setenv sets (or that Env
// lists, for a process a test starts).
//
// versitygw is installed by scripts/install-test-tools; without it
// Start fails the test, saying so.
package s3test

import (
	"context"
	"crypto/rand"
	"encoding/hex"
	"errors"
	"fmt"
	"net/url"
	"os"
	"os/exec"
	"path/filepath"
	"runtime"
	"strconv"
	"strings"
	"sync"
	"sync/atomic"
	"syscall"
	"testing"
	"time"

	"github.com/aws/aws-sdk-go-v2/aws"
	"github.com/aws/aws-sdk-go-v2/credentials"
	"github.com/aws/aws-sdk-go-v2/service/s3"

	"github.com/ecrd/ecrd/internal/testutil"
)

// Region is the region the server answers for.
const Region = "us-east-1"

// Server is the running versitygw.
type Server struct {
	// Endpoint is its URL, http://127.0.0.1:PORT.
	Endpoint string
	// AccessKey and SecretKey are its root user's credentials.
	AccessKey, SecretKey string
	// Root is the folder it serves: a bucket is a folder in it, an object
	// a file in the bucket's (see BucketDir).
	Root string

	dir  string // Root's parent: the server's log and scratch files too
	cmd  *exec.Cmd
	done chan struct{} // closed when the process has exited
}

var (
	startOnce sync.Once
	server    *Server
	startErr  error
	buckets   atomic.Int64
)

// Start returns the test binary's server, starting it on first use. It
// fails the test if versitygw is not installed or does not start.
func Start(tb testing.TB) *Server {
	tb.Helper()
	startOnce.Do(func() { server, startErr = start() })
	if startErr != nil {
		tb.Fatalf("starting the S3 test server: %v", startErr)
	}
	return server
}

// Stop ends the server and removes its folder. A TestMain may call it
// after the tests; without it the process dies with the test binary and
// the next Start removes the folder.
func Stop() {
	if server == nil {
		return
	}
	server.cmd.Process.Kill()
	<-server.done
	os.RemoveAll(server.dir)
}

const dirPrefix = "ecrd-s3test-"

func start() (*Server, error) {
	bin, err := findBinary()
	if err != nil {
		return nil, err
	}
	removeStale()
	dir, err := os.MkdirTemp("", fmt.Sprintf("%s%d-", dirPrefix, os.Getpid()))
	if err != nil {
		return nil, err
	}
	s := &Server{
		AccessKey: "S3TESTACCESSKEY" + randomHex(4),
		SecretKey: "s3test-secret-" + randomHex(16),
		Root:      filepath.Join(dir, "root"),
		dir:       dir,
	}
	if err := os.Mkdir(s.Root, 0o750); err != nil {
		return nil, err
	}
	// The port is found free, then given to the server: another process
	// may take it meanwhile, so try a few.
	for attempt := 0; ; attempt++ {
		err = s.launch(bin)
		if err == nil || attempt == 3 {
			break
		}
	}
	if err != nil {
		os.RemoveAll(dir)
		return nil, err
	}
	return s, nil
}

func (s *Server) launch(bin string) error {
	port, err := testutil.FreePort()
	if err != nil {
		return err
	}
	s.Endpoint = "http://127.0.0.1:" + strconv.Itoa(port)
	logPath := filepath.Join(s.dir, "versitygw.log")
	logFile, err := os.Create(logPath)
	if err != nil {
		return err
	}
	defer logFile.Close()
	cmd := exec.Command(bin,
		"--access", s.AccessKey, "--secret", s.SecretKey,
		"--port", "127.0.0.1:"+strconv.Itoa(port), "--region", Region,
		"--keep-alive", "--quiet",
		"posix", s.Root)
	cmd.Stdout, cmd.Stderr = logFile, logFile
	// The server must not outlive the test binary, which may end without
	// any cleanup running: the kernel kills it when the thread that
	// started it exits, and that thread is held until the process ends.
	killWithParent(cmd)
	started := make(chan error, 1)
	done := make(chan struct{})
	go func() {
		runtime.LockOSThread() // never unlocked: the thread lives as long as the server
		if err := cmd.Start(); err != nil {
			started <- err
			return
		}
		started <- nil
		cmd.Wait()
		close(done)
	}()
	if err := <-started; err != nil {
		return fmt.Errorf("running %s: %w", bin, err)
	}
	s.cmd, s.done = cmd, done
	if err := s.waitReady(done); err != nil {
		cmd.Process.Kill()
		<-done
		log, _ := os.ReadFile(logPath)
		return fmt.Errorf("%w; its output:\n%s", err, log)
	}
	return nil
}

// waitReady waits until the server answers a signed request.
func (s *Server) waitReady(exited <-chan struct{}) error {
	client := s.Client()
	deadline := time.Now().Add(30 * time.Second)
	for {
		ctx, cancel := context.WithTimeout(context.Background(), 2*time.Second)
		_, err := client.ListBuckets(ctx, &s3.ListBucketsInput{})
		cancel()
		if err == nil {
			return nil
		}
		select {
		case <-exited:
			return errors.New("versitygw exited")
		default:
		}
		if time.Now().After(deadline) {
			return fmt.Errorf("versitygw did not answer at %s within 30s: %v", s.Endpoint, err)
		}
		time.Sleep(50 * time.Millisecond)
	}
}

// Client returns an S3 client of the server's root user, for tests that
// look at a bucket directly.
func (s *Server) Client() *s3.Client {
	return s3.New(s3.Options{
		Region:       Region,
		BaseEndpoint: aws.String(s.Endpoint),
		UsePathStyle: true,
		Credentials:  credentials.NewStaticCredentialsProvider(s.AccessKey, s.SecretKey, ""),
	})
}

// Env is the environment that gives a process the server's credentials
// through the standard AWS chain, and keeps the user's own AWS files and
// the instance metadata service out of it.
func (s *Server) Env() []string {
	missing := filepath.Join(s.dir, "no-aws-files")
	return []string{
		"AWS_ACCESS_KEY_ID=" + s.AccessKey,
		"AWS_SECRET_ACCESS_KEY=" + s.SecretKey,
		"AWS_SESSION_TOKEN=",
		"AWS_PROFILE=",
		"AWS_REGION=" + Region,
		"AWS_CONFIG_FILE=" + missing,
		"AWS_SHARED_CREDENTIALS_FILE=" + missing,
		"AWS_EC2_METADATA_DISABLED=true",
	}
}

// Setenv sets Env in the test's environment, for its duration (so the
// test may not run in parallel).
func (s *Server) Setenv(tb testing.TB) {
	tb.Helper()
	for _, kv := range s.Env() {
		k, v, _ := strings.Cut(kv, "=")
		tb.Setenv(k, v)
	}
}

// NewBucket creates an empty bucket for the test and returns its name.
// The bucket and what it holds are removed when the test ends.
func (s *Server) NewBucket(tb testing.TB) string {
	tb.Helper()
	name := fmt.Sprintf("test-%d-%s", buckets.Add(1), randomHex(4))
	ctx, cancel := context.WithTimeout(context.Background(), 30*time.Second)
	defer cancel()
	if _, err := s.Client().CreateBucket(ctx, &s3.CreateBucketInput{Bucket: aws.String(name)}); err != nil {
		tb.Fatalf("creating bucket %s: %v", name, err)
	}
	tb.Cleanup(func() { os.RemoveAll(s.BucketDir(name)) })
	return name
}

// URL returns the blob store URL of a bucket (and key prefix, if not
// empty) on this server.
func (s *Server) URL(bucket, prefix string) string {
	u := "s3://" + bucket
	if prefix != "" {
		u += "/" + prefix
	}
	q := url.Values{"endpoint": {s.Endpoint}, "region": {Region}, "force-path-style": {"true"}}
	return u + "?" + q.Encode()
}

// BucketDir is the folder that holds a bucket's objects: a test of
// encryption at rest looks there for what must not be stored in clear.
func (s *Server) BucketDir(bucket string) string { return filepath.Join(s.Root, bucket) }

func findBinary() (string, error) {
	if p, err := exec.LookPath("versitygw"); err == nil {
		return p, nil
	}
	var dirs []string
	if gobin := os.Getenv("GOBIN"); gobin != "" {
		dirs = append(dirs, gobin)
	}
	if out, err := exec.Command("go", "env", "GOPATH").Output(); err == nil {
		for _, p := range filepath.SplitList(strings.TrimSpace(string(out))) {
			dirs = append(dirs, filepath.Join(p, "bin"))
		}
	}
	for _, d := range dirs {
		p := filepath.Join(d, "versitygw")
		if fi, err := os.Stat(p); err == nil && !fi.IsDir() {
			return p, nil
		}
	}
	return "", errors.New("versitygw is not installed: run scripts/install-test-tools")
}

// removeStale removes the folders of servers whose test binary has died.
func removeStale() {
	dirs, _ := filepath.Glob(filepath.Join(os.TempDir(), dirPrefix+"*"))
	for _, d := range dirs {
		pidStr, _, ok := strings.Cut(strings.TrimPrefix(filepath.Base(d), dirPrefix), "-")
		pid, err := strconv.Atoi(pidStr)
		if !ok || err != nil || pid <= 0 {
			continue
		}
		if err := syscall.Kill(pid, 0); errors.Is(err, syscall.ESRCH) {
			os.RemoveAll(d)
		}
	}
}

func randomHex(n int) string {
	b := make([]byte, n)
	rand.Read(b)
	return hex.EncodeToString(b)
}
