package e2e

import (
	"bufio"
	"bytes"
	"context"
	"crypto/sha256"
	"encoding/base64"
	"encoding/hex"
	"errors"
	"fmt"
	"io"
	"net"
	"net/http"
	"strings"
	"syscall"
	"testing"
	"time"

	"github.com/aws/aws-sdk-go-v2/aws"
	v4 "github.com/aws/aws-sdk-go-v2/aws/signer/v4"
)

// rawRequest opens a connection to addr from local (nil: any address)
// and writes head, the request line and headers of a request whose body
// is then not sent.
func rawRequest(t testing.TB, addr string, local net.IP, head string) net.Conn {
	t.Helper()
	d := net.Dialer{Timeout: 5 * time.Second}
	if local != nil {
		d.LocalAddr = &net.TCPAddr{IP: local}
	}
	c, err := d.Dial("tcp", addr)
	if err != nil {
		t.Fatal(err)
	}
	if head != "" {
		if _, err := io.WriteString(c, head); err != nil {
			t.Fatal(err)
		}
	}
	return c
}

// readAnswer reads the answer to a request on c, waiting at most wait.
func readAnswer(t testing.TB, c net.Conn, wait time.Duration) (*http.Response, string, error) {
	t.Helper()
	c.SetReadDeadline(time.Now().Add(wait))
	resp, err := http.ReadResponse(bufio.NewReader(c), nil)
	if err != nil {
		return nil, "", err
	}
	b, _ := io.ReadAll(resp.Body)
	resp.Body.Close()
	return resp, string(b), nil
}

// TestRefusedBeforeTheBody: an AWS API call with no signature, a
// malformed one or an unknown access key is answered at once, from its
// headers, while its 31 MiB body has not been sent, and the connection
// is closed rather than drained. An operation's body over its own limit
// is refused from its Content-Length.
func TestRefusedBeforeTheBody(t *testing.T) {
	e := startECRD(t, t.TempDir())
	const size = 31 << 20
	post := func(target, auth string) string {
		h := "POST / HTTP/1.1\r\nHost: " + e.Addr + "\r\nX-Amz-Target: " + target + "\r\nContent-Type: application/x-amz-json-1.1\r\n"
		if auth != "" {
			h += "X-Amz-Date: " + time.Now().UTC().Format("20060102T150405Z") + "\r\nAuthorization: " + auth + "\r\n"
		}
		return h + fmt.Sprintf("Content-Length: %d\r\n\r\n{", size)
	}
	date := time.Now().UTC().Format("20060102")
	cases := []struct {
		name, target, auth, exception string
		status                        int
	}{
		{"unsigned ECR", ecrTarget + "UploadLayerPart", "", "MissingAuthenticationTokenException", 403},
		{"unsigned KMS", "TrentService.Encrypt", "", "MissingAuthenticationTokenException", 403},
		{"malformed", ecrTarget + "UploadLayerPart", "AWS4-HMAC-SHA256 Credential=nonsense", "IncompleteSignatureException", 400},
		{"unknown key", ecrTarget + "UploadLayerPart", "AWS4-HMAC-SHA256 Credential=AKIAUNKNOWNKEY000000/" + date +
			"/us-east-1/ecr/aws4_request, SignedHeaders=host;x-amz-date, Signature=" + strings.Repeat("0", 64), "UnrecognizedClientException", 400},
	}
	for _, tc := range cases {
		t.Run(tc.name, func(t *testing.T) {
			c := rawRequest(t, e.Addr, nil, post(tc.target, tc.auth))
			defer c.Close()
			resp, body, err := readAnswer(t, c, 10*time.Second)
			if err != nil {
				t.Fatalf("no answer while the body is unsent: %v", err)
			}
			if resp.StatusCode != tc.status || !strings.Contains(body, tc.exception) {
				t.Errorf("%d %s, want %d %s", resp.StatusCode, body, tc.status, tc.exception)
			}
			if !resp.Close {
				t.Errorf("the connection stays open (Connection: %q): the server would drain the body", resp.Header.Get("Connection"))
			}
		})
	}
	// Signed, but over the operation's limit: refused from Content-Length
	// with the JSON protocol's error, before the body.
	// Only the headers are sent: the answer must come without the body,
	// and a client still writing a body the server will not read may see
	// its connection reset rather than the answer.
	body := []byte(strings.Repeat(" ", 300<<10) + `{"repositoryName":"x"}`)
	req, _ := http.NewRequest(http.MethodPost, e.URL()+"/", bytes.NewReader(body))
	req.Header.Set("Content-Type", "application/x-amz-json-1.1")
	req.Header.Set("X-Amz-Target", ecrTarget+"CreateRepository")
	sum := sha256.Sum256(body)
	if err := v4.NewSigner().SignHTTP(context.Background(), aws.Credentials{AccessKeyID: testAccessKey, SecretAccessKey: testSecret},
		req, hex.EncodeToString(sum[:]), "ecr", testRegion, time.Now()); err != nil {
		t.Fatal(err)
	}
	head := fmt.Sprintf("POST / HTTP/1.1\r\nHost: %s\r\nContent-Length: %d\r\n", e.Addr, len(body))
	for k, vs := range req.Header {
		for _, v := range vs {
			head += k + ": " + v + "\r\n"
		}
	}
	c := rawRequest(t, e.Addr, nil, head+"\r\n")
	defer c.Close()
	resp, answer, err := readAnswer(t, c, 10*time.Second)
	if err != nil || resp.StatusCode != 400 || !strings.Contains(answer, "SerializationException") || !strings.Contains(answer, "limit") {
		t.Errorf("a signed 300 KiB CreateRepository: %v %q %v, want SerializationException naming the limit", resp, answer, err)
	}
	noServerErrors(t, e)
}

// TestTricklingBodyIsCut: a body that stops bringing 64 KiB per
// body-timeout is dropped, credentials or not; a slow body that keeps
// that pace is not.
func TestTricklingBodyIsCut(t *testing.T) {
	e := startECRD(t, t.TempDir(), "--body-timeout", "2s")
	hc := e.HTTPClient(t)
	resp, err := hc.Post(e.URL()+"/v2/slow/app/blobs/uploads/", "", nil)
	if err != nil || resp.StatusCode != http.StatusAccepted {
		t.Fatalf("starting an upload: %v %v", resp, err)
	}
	resp.Body.Close()
	loc := resp.Header.Get("Location")
	c := rawRequest(t, e.Addr, nil, "PATCH "+loc+" HTTP/1.1\r\nHost: "+e.Addr+"\r\nAuthorization: Basic "+basicAuth(e.Password(t))+
		"\r\nContent-Type: application/octet-stream\r\nContent-Length: 1048576\r\n\r\n")
	defer c.Close()
	// A byte a second, far below 64 KiB per 2 s, for up to 30 s.
	stop := make(chan struct{})
	defer close(stop)
	go func() {
		for range 30 {
			select {
			case <-stop:
				return
			case <-time.After(time.Second):
			}
			if _, err := c.Write([]byte{'x'}); err != nil {
				return
			}
		}
	}()
	// Cut off means the server ended the connection before the deadline:
	// an orderly close, or a reset because the server closed with the
	// client's bytes unread. Only the deadline expiring is a failure.
	c.SetReadDeadline(time.Now().Add(25 * time.Second))
	if _, err := io.ReadAll(c); err != nil && !errors.Is(err, syscall.ECONNRESET) {
		t.Errorf("the trickling upload was not cut off: %v", err)
	}

	// 64 KiB a second keeps a body alive past several timeouts.
	req, _ := http.NewRequest(http.MethodPatch, e.URL()+loc, &paced{n: 6 * 64 << 10, chunk: 64 << 10, every: time.Second})
	req.Header.Set("Content-Type", "application/octet-stream")
	resp, err = hc.Do(req)
	if err != nil {
		t.Fatalf("a slow but steady body: %v", err)
	}
	resp.Body.Close()
	if resp.StatusCode != http.StatusAccepted {
		t.Errorf("a slow but steady body: %d, want 202", resp.StatusCode)
	}
}

// paced is a body of n bytes sent chunk bytes at a time, every interval.
type paced struct {
	n, chunk int
	every    time.Duration
	sent     int
}

func (p *paced) Read(b []byte) (int, error) {
	if p.sent >= p.n {
		return 0, io.EOF
	}
	if p.sent > 0 && p.sent%p.chunk == 0 {
		time.Sleep(p.every)
	}
	k := min(len(b), p.chunk-p.sent%p.chunk, p.n-p.sent)
	for i := range b[:k] {
		b[i] = 'y'
	}
	p.sent += k
	return k, nil
}

// TestConnectionCaps: one client address may hold max-client-connections
// connections and no more, while others are still served; past 15/16 of
// max-connections, only health checks and requests with credentials are.
func TestConnectionCaps(t *testing.T) {
	e := startECRD(t, t.TempDir(), "--max-client-connections", "4", "--max-connections", "32")
	hold := func(ip string, n int) {
		for range n {
			c := rawRequest(t, e.Addr, net.ParseIP(ip), "")
			t.Cleanup(func() { c.Close() })
		}
	}
	hold("127.0.0.2", 4)
	time.Sleep(100 * time.Millisecond) // let the server accept them
	c := rawRequest(t, e.Addr, net.ParseIP("127.0.0.2"), "GET /healthz HTTP/1.1\r\nHost: x\r\n\r\n")
	resp, body, err := readAnswer(t, c, 10*time.Second)
	c.Close()
	if err != nil || resp.StatusCode != http.StatusServiceUnavailable || !strings.Contains(body, "too many connections") {
		t.Errorf("a fifth connection from one address: %v %v %q, want 503", resp, err, body)
	}
	c = rawRequest(t, e.Addr, net.ParseIP("127.0.0.3"), "GET /healthz HTTP/1.1\r\nHost: x\r\n\r\n")
	resp, _, err = readAnswer(t, c, 10*time.Second)
	c.Close()
	if err != nil || resp.StatusCode != http.StatusOK {
		t.Errorf("another address while the first is at its cap: %v %v", resp, err)
	}

	// 4 held + 24 more = 28 of 32: the reserve (the last 8) is entered.
	for i := range 6 {
		hold(fmt.Sprintf("127.0.1.%d", i+1), 4)
	}
	time.Sleep(100 * time.Millisecond)
	try := func(what, head string, want int) {
		t.Helper()
		c := rawRequest(t, e.Addr, net.ParseIP("127.0.2.1"), head)
		defer c.Close()
		resp, body, err := readAnswer(t, c, 10*time.Second)
		if err != nil || resp.StatusCode != want {
			t.Errorf("%s in the reserve: %v %v %q, want %d", what, resp, err, body, want)
		}
	}
	try("an anonymous request", "GET /v2/ HTTP/1.1\r\nHost: x\r\n\r\n", http.StatusServiceUnavailable)
	try("a health check", "GET /healthz HTTP/1.1\r\nHost: x\r\n\r\n", http.StatusOK)
	try("a request with credentials", "GET /v2/ HTTP/1.1\r\nHost: x\r\nAuthorization: Basic "+basicAuth(e.Password(t))+"\r\n\r\n", http.StatusOK)
}

func basicAuth(password string) string {
	return base64.StdEncoding.EncodeToString([]byte("AWS:" + password))
}
