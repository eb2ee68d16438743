package e2e

import (
	"context"
	"crypto/sha256"
	"encoding/hex"
	"encoding/json"
	"io"
	"net/http"
	"os"
	"os/exec"
	"path/filepath"
	"strings"
	"syscall"
	"testing"

	"github.com/aws/aws-sdk-go-v2/aws"
	"github.com/aws/aws-sdk-go-v2/service/ecr"
	ecrtypes "github.com/aws/aws-sdk-go-v2/service/ecr/types"
)

// smallDisk mounts a tmpfs of size bytes for the test, or skips the test
// where mounting is not permitted.
func smallDisk(t *testing.T, size string) string {
	t.Helper()
	dir := t.TempDir()
	if out, err := exec.Command("mount", "-t", "tmpfs", "-o", "size="+size, "tmpfs", dir).CombinedOutput(); err != nil {
		t.Skipf("cannot mount a %s tmpfs here (needs root or CAP_SYS_ADMIN): %v %s", size, err, out)
	}
	t.Cleanup(func() {
		if out, err := exec.Command("umount", "-l", dir).CombinedOutput(); err != nil {
			t.Errorf("umount %s: %v %s", dir, err, out)
		}
	})
	return dir
}

func freeBytes(t *testing.T, dir string) int64 {
	t.Helper()
	var st syscall.Statfs_t
	if err := syscall.Statfs(dir, &st); err != nil {
		t.Fatal(err)
	}
	return int64(st.Bavail) * st.Bsize
}

// zeros is n bytes of a repeating pattern, streamed.
type zeros struct{ n int64 }

func (z *zeros) Read(p []byte) (int, error) {
	if z.n <= 0 {
		return 0, io.EOF
	}
	p = p[:min(int64(len(p)), z.n)]
	for i := range p {
		p[i] = byte(i)
	}
	z.n -= int64(len(p))
	return len(p), nil
}

func patternDigest(n int64) string {
	h := sha256.New()
	io.Copy(h, &zeros{n})
	return "sha256:" + hex.EncodeToString(h.Sum(nil))
}

// registryErrorOf decodes an OCI error answer.
func registryErrorOf(t *testing.T, resp *http.Response) (code, message string) {
	t.Helper()
	var body struct {
		Errors []struct{ Code, Message string }
	}
	b, _ := io.ReadAll(resp.Body)
	if json.Unmarshal(b, &body) != nil || len(body.Errors) == 0 {
		t.Fatalf("%d %s: not an OCI error", resp.StatusCode, b)
	}
	return body.Errors[0].Code, body.Errors[0].Message
}

func uploadFiles(t *testing.T, data string) []string {
	t.Helper()
	var out []string
	filepath.WalkDir(data, func(p string, d os.DirEntry, err error) error {
		if err == nil && !d.IsDir() && strings.Contains(p, string(filepath.Separator)+"uploads"+string(filepath.Separator)) {
			out = append(out, p)
		}
		return nil
	})
	return out
}

// TestDiskFull runs ecrd on a 64 MiB filesystem. A 100 MB blob push,
// monolithic or chunked, is answered 507 with a message that names the
// full storage, and leaves nothing behind; with the free space below
// min-free-space, /readyz says so and uploads are refused before they
// start, while deletes still commit; and with no floor at all, a write
// that meets ENOSPC is answered the same way and the database still
// takes writes afterwards.
func TestDiskFull(t *testing.T) {
	disk := smallDisk(t, "64m")
	data := filepath.Join(disk, "data")
	e := startECRD(t, data, "--min-free-space", "8MiB")
	hc, c := e.HTTPClient(t), ecrClient(e)
	ctx := context.Background()
	img := newOCIImage(t, mtOCIManifest, ecrRandom(t, 1024))
	ociPushImage(t, e, hc, "team/app", img, "v1")
	before := freeBytes(t, disk)

	const big = 100 << 20
	wantFull := func(what string, resp *http.Response, err error) {
		t.Helper()
		if err != nil {
			t.Fatalf("%s: %v", what, err)
		}
		defer resp.Body.Close()
		code, msg := registryErrorOf(t, resp)
		if resp.StatusCode != http.StatusInsufficientStorage || code != "UNKNOWN" || !strings.Contains(msg, "storage is full") {
			t.Errorf("%s: %d %s %q, want 507 UNKNOWN naming the full storage", what, resp.StatusCode, code, msg)
		}
	}
	// Monolithic.
	req, _ := http.NewRequest(http.MethodPost, e.URL()+"/v2/team/app/blobs/uploads/?digest="+patternDigest(big), &zeros{big})
	req.ContentLength = big
	resp, err := hc.Do(req)
	wantFull("a 100 MB monolithic push", resp, err)
	// Chunked: the session is ended, its bytes removed.
	resp, err = hc.Post(e.URL()+"/v2/team/app/blobs/uploads/", "", nil)
	if err != nil || resp.StatusCode != http.StatusAccepted {
		t.Fatalf("starting an upload: %v %v", resp, err)
	}
	resp.Body.Close()
	loc := resp.Header.Get("Location")
	req, _ = http.NewRequest(http.MethodPatch, e.URL()+loc, &zeros{big})
	req.Header.Set("Content-Type", "application/octet-stream")
	resp, err = hc.Do(req)
	wantFull("a 100 MB chunk", resp, err)
	if resp, err := hc.Get(e.URL() + loc); err == nil {
		resp.Body.Close()
		if resp.StatusCode != http.StatusNotFound {
			t.Errorf("the full upload's status: %d, want 404 (the session ended)", resp.StatusCode)
		}
	}
	if files := uploadFiles(t, data); len(files) > 0 {
		t.Errorf("upload files left behind: %v", files)
	}
	if after := freeBytes(t, disk); after < before-(1<<20) {
		t.Errorf("free space %d after the refused pushes, %d before: partial data was kept", after, before)
	}
	if resp, err := http.Get(e.URL() + "/readyz"); err != nil || resp.StatusCode != http.StatusOK {
		t.Errorf("/readyz with room again: %v %v", resp, err)
	}

	// Below the floor.
	filler := filepath.Join(disk, "filler")
	f, err := os.Create(filler)
	if err != nil {
		t.Fatal(err)
	}
	io.Copy(f, &zeros{freeBytes(t, disk) - 4<<20})
	f.Close()
	resp, err = http.Get(e.URL() + "/readyz")
	if err != nil {
		t.Fatal(err)
	}
	b, _ := io.ReadAll(resp.Body)
	resp.Body.Close()
	if resp.StatusCode != http.StatusServiceUnavailable || !strings.Contains(string(b), "below the floor") {
		t.Errorf("/readyz below the floor: %d %s", resp.StatusCode, b)
	}
	resp, err = hc.Post(e.URL()+"/v2/team/app/blobs/uploads/", "", nil)
	wantFull("starting an upload below the floor", resp, err)
	_, err = c.InitiateLayerUpload(ctx, &ecr.InitiateLayerUploadInput{RepositoryName: aws.String("team/app")})
	wantAPIError(t, "InitiateLayerUpload below the floor", err, "ServerException", 500, "")
	wantMessagePrefix(t, "InitiateLayerUpload below the floor", err, "the registry's storage is full")
	del, err := c.BatchDeleteImage(ctx, &ecr.BatchDeleteImageInput{RepositoryName: aws.String("team/app"),
		ImageIds: []ecrtypes.ImageIdentifier{{ImageTag: aws.String("v1")}}})
	if err != nil || len(del.Failures) > 0 {
		t.Errorf("deleting an image below the floor: %v %+v", err, del)
	}
	os.Remove(filler)
	noServerErrors(t, e)
	e.Stop()

	// No floor: the push meets ENOSPC itself.
	e = startECRD(t, data, "--min-free-space", "0")
	hc, c = e.HTTPClient(t), ecrClient(e)
	req, _ = http.NewRequest(http.MethodPost, e.URL()+"/v2/team/app/blobs/uploads/?digest="+patternDigest(big), &zeros{big})
	req.ContentLength = big
	resp, err = hc.Do(req)
	wantFull("a 100 MB push with no floor", resp, err)
	if files := uploadFiles(t, data); len(files) > 0 {
		t.Errorf("upload files left behind: %v", files)
	}
	if _, err := c.CreateRepository(ctx, &ecr.CreateRepositoryInput{RepositoryName: aws.String("after/full")}); err != nil {
		t.Errorf("the database takes writes after ENOSPC: %v", err)
	}
	ociPushImage(t, e, hc, "after/full", img, "v1")
	noServerErrors(t, e)
}
