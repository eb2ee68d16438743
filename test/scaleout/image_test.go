package scaleout

import (
	"context"
	"fmt"
	"net"
	"net/http"
	"os"
	"os/exec"
	"path/filepath"
	"strings"
	"syscall"
	"testing"
	"time"

	"github.com/google/go-containerregistry/pkg/v1/remote"

	"github.com/ecrd/ecrd/internal/testutil"
	"github.com/ecrd/ecrd/test/ecrdtest"
)

// TestContainerImage builds the image with scripts/docker-image on a
// Docker engine the test starts, runs it as a replica beside a plain
// one on the test's PostgreSQL and bucket, and pushes through the
// container and pulls through the other.
func TestContainerImage(t *testing.T) {
	dockerd := ecrdtest.Tool(t, "dockerd")
	docker := ecrdtest.Tool(t, "docker")
	host := startDockerd(t, dockerd)
	env := append(os.Environ(), "DOCKER_HOST="+host)
	dockerRun := func(args ...string) string {
		t.Helper()
		cmd := exec.Command(docker, args...)
		cmd.Env = env
		out, err := cmd.CombinedOutput()
		if err != nil {
			t.Fatalf("docker %s: %v\n%s", strings.Join(args, " "), err, out)
		}
		return strings.TrimSpace(string(out))
	}

	tag := "ecrd:scaleout-test"
	build := exec.Command("../../scripts/docker-image", tag)
	build.Env = env
	if out, err := build.CombinedOutput(); err != nil {
		t.Fatalf("scripts/docker-image: %v\n%s", err, out)
	}
	if user := dockerRun("image", "inspect", "--format", "{{.Config.User}}", tag); user != "65532:65532" {
		t.Errorf("the image runs as %q, want the unprivileged 65532:65532", user)
	}

	c := startCluster(t, 1)
	plain := c.Replicas[0]
	addr := freeAddr(t)
	args := []string{"run", "-d", "--network", "host"}
	for _, kv := range append(c.Env, "ECRD_METADATA="+c.Metadata, "ECRD_BLOBS="+c.Blobs, "ECRD_LISTEN="+addr,
		"ECRD_ROOT_ACCESS_KEY_ID="+ecrdtest.AccessKey, "ECRD_ROOT_SECRET_ACCESS_KEY="+ecrdtest.Secret) {
		args = append(args, "-e", kv)
	}
	id := dockerRun(append(args, tag)...)
	t.Cleanup(func() {
		if t.Failed() {
			logs := exec.Command(docker, "logs", id)
			logs.Env = env
			out, _ := logs.CombinedOutput()
			t.Logf("the container's log:\n%s", out)
		}
		exec.Command(docker, "rm", "-f", id).Run()
	})
	waitFor(t, 30*time.Second, "the container to be ready", func() bool {
		resp, err := http.Get("http://" + addr + "/readyz")
		if err != nil {
			return false
		}
		resp.Body.Close()
		return resp.StatusCode == http.StatusOK
	})
	container := &ecrdtest.Server{Addr: addr}
	opts := remoteOptions(plain.Password(t))
	img := randomImage(t, 1<<20, 2)
	if err := remote.Write(ref(t, container, "image/app:v1"), img, opts...); err != nil {
		t.Fatalf("push through the container: %v", err)
	}
	got, err := remote.Image(ref(t, plain, "image/app:v1"), opts...)
	if err != nil {
		t.Fatalf("pull through the plain replica: %v", err)
	}
	if digestOf(t, got) != digestOf(t, img) {
		t.Fatal("the plain replica serves another image than the container took")
	}
}

// startDockerd starts a Docker engine of the test's own (its folders, its
// socket, no bridge network: containers use the host's) and returns its
// DOCKER_HOST.
func startDockerd(t *testing.T, dockerd string) string {
	t.Helper()
	if os.Geteuid() != 0 {
		t.Fatal("the Docker engine needs root: run the scale-out tests as root (CI does)")
	}
	dir, err := os.MkdirTemp("", "ecrd-dockerd-")
	if err != nil {
		t.Fatal(err)
	}
	sock := filepath.Join(dir, "docker.sock")
	cmd := exec.Command(dockerd, "--data-root", filepath.Join(dir, "root"), "--exec-root", filepath.Join(dir, "exec"),
		"--pidfile", filepath.Join(dir, "docker.pid"), "--host", "unix://"+sock, "--bridge", "none", "--iptables=false")
	logf, err := os.Create(filepath.Join(dir, "dockerd.log"))
	if err != nil {
		t.Fatal(err)
	}
	cmd.Stdout, cmd.Stderr = logf, logf
	cmd.SysProcAttr = &syscall.SysProcAttr{Setpgid: true}
	if err := cmd.Start(); err != nil {
		t.Fatal(err)
	}
	done := make(chan struct{})
	go func() { cmd.Wait(); close(done) }()
	t.Cleanup(func() {
		cmd.Process.Signal(syscall.SIGTERM)
		select {
		case <-done:
		case <-time.After(20 * time.Second):
			cmd.Process.Kill()
			<-done
		}
		os.RemoveAll(dir)
	})
	deadline := time.Now().Add(30 * time.Second)
	for {
		hc := &http.Client{Transport: &http.Transport{DialContext: func(ctx context.Context, _, _ string) (net.Conn, error) {
			return (&net.Dialer{}).DialContext(ctx, "unix", sock)
		}}}
		if resp, err := hc.Get("http://docker/_ping"); err == nil {
			resp.Body.Close()
			if resp.StatusCode == http.StatusOK {
				return "unix://" + sock
			}
		}
		select {
		case <-done:
			log, _ := os.ReadFile(filepath.Join(dir, "dockerd.log"))
			t.Fatalf("dockerd exited at start:\n%s", log)
		case <-time.After(100 * time.Millisecond):
		}
		if time.Now().After(deadline) {
			log, _ := os.ReadFile(filepath.Join(dir, "dockerd.log"))
			t.Fatalf("dockerd did not answer within 30s:\n%s", log)
		}
	}
}

// freeAddr returns a loopback address no one listened on a moment ago.
func freeAddr(t testing.TB) string {
	t.Helper()
	port, err := testutil.FreePort()
	if err != nil {
		t.Fatal(err)
	}
	return fmt.Sprintf("127.0.0.1:%d", port)
}
