package e2e

import (
	"io"
	"net/http"
	"os/exec"
	"strings"
	"syscall"
	"testing"
	"time"

	"github.com/ecrd/ecrd/test/ecrdtest"
)

func TestVersionAndUsage(t *testing.T) {
	out, err := exec.Command(ecrdtest.Bin(), "version").Output()
	if err != nil || !strings.HasPrefix(string(out), "ecrd ") {
		t.Fatalf("ecrd version = %q, %v", out, err)
	}
	cmd := exec.Command(ecrdtest.Bin(), "frobnicate")
	if err := cmd.Run(); err == nil || cmd.ProcessState.ExitCode() != 2 {
		t.Fatalf("an unknown command exited %v, want status 2", err)
	}
	help, _ := exec.Command(ecrdtest.Bin(), "serve", "--help").CombinedOutput()
	for _, want := range []string{"--listen", "--data", "ECRD_DATA", "--config", "--upload-ttl"} {
		if !strings.Contains(string(help), strings.TrimPrefix(want, "-")) {
			t.Errorf("serve --help does not mention %s", want)
		}
	}
}

func TestHealthEndpoints(t *testing.T) {
	e := startECRD(t, t.TempDir())
	for _, p := range []string{"/healthz", "/readyz"} {
		resp, err := http.Get(e.URL() + p)
		if err != nil {
			t.Fatal(err)
		}
		resp.Body.Close()
		if resp.StatusCode != http.StatusOK {
			t.Errorf("GET %s = %d", p, resp.StatusCode)
		}
	}
	// The version check answers 401 with the challenge, 200 when logged in.
	resp, err := http.Get(e.URL() + "/v2/")
	if err != nil {
		t.Fatal(err)
	}
	resp.Body.Close()
	if resp.StatusCode != http.StatusUnauthorized || !strings.HasPrefix(resp.Header.Get("WWW-Authenticate"), "Basic realm=") {
		t.Errorf("anonymous GET /v2/ = %d, challenge %q", resp.StatusCode, resp.Header.Get("WWW-Authenticate"))
	}
	resp, err = e.HTTPClient(t).Get(e.URL() + "/v2/")
	if err != nil {
		t.Fatal(err)
	}
	resp.Body.Close()
	if resp.StatusCode != http.StatusOK || resp.Header.Get("Docker-Distribution-API-Version") != "registry/2.0" {
		t.Errorf("authenticated GET /v2/ = %d %v", resp.StatusCode, resp.Header)
	}
}

// dripReader sends a byte, then waits for a signal before finishing.
type dripReader struct {
	sent    bool
	started chan struct{}
	finish  chan struct{}
}

func (r *dripReader) Read(p []byte) (int, error) {
	if !r.sent {
		r.sent = true
		close(r.started)
		p[0] = 'x'
		return 1, nil
	}
	<-r.finish
	return 0, io.EOF
}

// TestGracefulShutdown sends SIGTERM while an upload is streaming: the
// upload finishes and is answered, then ecrd exits cleanly.
func TestGracefulShutdown(t *testing.T) {
	e := startECRD(t, t.TempDir())
	client := e.HTTPClient(t)
	resp, err := client.Post(e.URL()+"/v2/app/blobs/uploads/", "", nil)
	if err != nil {
		t.Fatal(err)
	}
	resp.Body.Close()
	loc := resp.Header.Get("Location")
	body := &dripReader{started: make(chan struct{}), finish: make(chan struct{})}
	req, _ := http.NewRequest("PATCH", e.URL()+loc, body)
	answer := make(chan *http.Response, 1)
	go func() {
		resp, err := client.Do(req)
		if err != nil {
			t.Error(err)
			answer <- nil
			return
		}
		resp.Body.Close()
		answer <- resp
	}()
	<-body.started
	time.Sleep(100 * time.Millisecond) // let the request reach the handler
	e.Signal(syscall.SIGTERM)
	time.Sleep(200 * time.Millisecond)
	select {
	case <-e.Done():
		t.Fatal("ecrd exited with a request in flight")
	default:
	}
	close(body.finish)
	if resp := <-answer; resp == nil || resp.StatusCode != http.StatusAccepted || resp.Header.Get("Range") != "0-0" {
		t.Fatalf("the in-flight PATCH was answered %v", resp)
	}
	select {
	case <-e.Done():
	case <-time.After(10 * time.Second):
		t.Fatal("ecrd did not exit after the last request")
	}
	if code := e.ExitCode(); code != 0 {
		t.Fatalf("ecrd exited with status %d after SIGTERM", code)
	}
}
