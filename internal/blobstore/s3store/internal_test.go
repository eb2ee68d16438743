package s3store

import (
	"bytes"
	"context"
	"crypto/rand"
	"errors"
	"fmt"
	"io"
	"net/http"
	"strings"
	"sync"
	"testing"

	"github.com/aws/aws-sdk-go-v2/aws"
	awshttp "github.com/aws/aws-sdk-go-v2/aws/transport/http"
	"github.com/aws/aws-sdk-go-v2/service/s3"
	"github.com/opencontainers/go-digest"

	"github.com/ecrd/ecrd/internal/blobstore"
	"github.com/ecrd/ecrd/internal/testutil/s3test"
)

// recorder notes the requests the S3 client sends.
// It fails those that fail selects, as a network would.
type recorder struct {
	mu   sync.Mutex
	reqs []string
	fail func(*http.Request) bool
	// answer, if it gives an answer, is sent instead of the request: the
	// error a server answers in a race the test cannot arrange.
	answer func(*http.Request) *http.Response
	next   aws.HTTPClient
}

func (r *recorder) Do(req *http.Request) (*http.Response, error) {
	r.mu.Lock()
	line := req.Method
	if rg := req.Header.Get("Range"); rg != "" {
		line += " " + rg
	}
	r.reqs = append(r.reqs, line)
	fail := r.fail != nil && r.fail(req)
	var answer *http.Response
	if r.answer != nil {
		answer = r.answer(req)
	}
	r.mu.Unlock()
	if fail {
		return nil, errors.New("connection lost")
	}
	if answer != nil {
		return answer, nil
	}
	return r.next.Do(req)
}

func (r *recorder) failWhen(f func(*http.Request) bool) {
	r.mu.Lock()
	r.fail = f
	r.mu.Unlock()
}

func (r *recorder) take() []string {
	r.mu.Lock()
	defer r.mu.Unlock()
	out := r.reqs
	r.reqs = nil
	return out
}

func openRecorded(t *testing.T) (*Store, *recorder, *s3test.Server, string) {
	t.Helper()
	srv := s3test.Start(t)
	srv.Setenv(t)
	bucket := srv.NewBucket(t)
	rec := &recorder{next: awshttp.NewBuildableClient()}
	s, err := open(context.Background(), srv.URL(bucket, ""), rec)
	if err != nil {
		t.Fatal(err)
	}
	return s, rec, srv, bucket
}

func putBlob(t *testing.T, s *Store, content []byte) digest.Digest {
	t.Helper()
	ctx := context.Background()
	w, err := s.CreateUpload(ctx, "put")
	if err != nil {
		t.Fatal(err)
	}
	for b := content; len(b) > 0; b = b[min(len(b), 1<<20):] {
		if _, err := w.Write(b[:min(len(b), 1<<20)]); err != nil {
			t.Fatal(err)
		}
	}
	d := digest.FromBytes(content)
	if err := w.Commit(ctx, d); err != nil {
		t.Fatal(err)
	}
	return d
}

// TestRangedGets checks which requests reading a blob sends: a HEAD to
// open it, nothing to find its size, one GET of the rest when read from
// the start, and after a Seek, GETs of growing windows from there.
func TestRangedGets(t *testing.T) {
	s, rec, _, _ := openRecorded(t)
	ctx := context.Background()
	content := make([]byte, 9<<20)
	rand.Read(content)
	d := putBlob(t, s, content)
	size := len(content)
	rec.take()

	r, err := s.Open(ctx, d)
	if err != nil {
		t.Fatal(err)
	}
	if got := rec.take(); len(got) != 1 || got[0] != "HEAD" {
		t.Fatalf("Open sent %v, want one HEAD", got)
	}
	if got, err := io.ReadAll(r); err != nil || !bytes.Equal(got, content) {
		t.Fatalf("reading the blob: %v", err)
	}
	r.Close()
	if got := rec.take(); len(got) != 1 || got[0] != fmt.Sprintf("GET bytes=0-%d", size-1) {
		t.Fatalf("reading from the start sent %v, want one GET of it all", got)
	}

	r, err = s.Open(ctx, d)
	if err != nil {
		t.Fatal(err)
	}
	defer r.Close()
	rec.take()
	if end, _ := r.Seek(0, io.SeekEnd); end != int64(size) {
		t.Fatalf("Seek to the end = %d", end)
	}
	off := int64(5 << 20)
	r.Seek(off, io.SeekStart)
	if got := rec.take(); len(got) != 0 {
		t.Fatalf("seeking sent %v", got)
	}
	part := make([]byte, 100)
	if _, err := io.ReadFull(r, part); err != nil || !bytes.Equal(part, content[off:off+100]) {
		t.Fatalf("reading after Seek: %v", err)
	}
	if got, want := rec.take(), []string{fmt.Sprintf("GET bytes=%d-%d", off, off+firstWindow-1)}; strings.Join(got, ",") != strings.Join(want, ",") {
		t.Fatalf("a read after Seek sent %v, want %v", got, want)
	}
	rest := make([]byte, 3<<20)
	if _, err := io.ReadFull(r, rest); err != nil || !bytes.Equal(rest, content[off+100:off+100+3<<20]) {
		t.Fatalf("reading on: %v", err)
	}
	want := []string{
		fmt.Sprintf("GET bytes=%d-%d", off+firstWindow, off+3*firstWindow-1),
		fmt.Sprintf("GET bytes=%d-%d", off+3*firstWindow, size-1),
	}
	if got := rec.take(); strings.Join(got, ",") != strings.Join(want, ",") {
		t.Fatalf("reading on sent %v, want %v", got, want)
	}
}

// TestAbandonedCommit: a commit that dies after starting its multipart
// upload leaves it recorded in the state; resuming the upload or
// deleting it aborts it.
func TestAbandonedCommit(t *testing.T) {
	s, _, srv, bucket := openRecorded(t)
	ctx := context.Background()
	content := make([]byte, 6<<20)
	rand.Read(content)
	w, err := s.CreateUpload(ctx, "dies")
	if err != nil {
		t.Fatal(err)
	}
	w.Write(content)
	if err := w.Close(); err != nil {
		t.Fatal(err)
	}
	client := srv.Client()
	pending := func() int {
		t.Helper()
		out, err := client.ListMultipartUploads(ctx, &s3.ListMultipartUploadsInput{Bucket: &bucket})
		if err != nil {
			t.Fatal(err)
		}
		return len(out.Uploads)
	}
	dieCommitting := func() {
		t.Helper()
		wr, err := s.ResumeUpload(ctx, "dies", int64(len(content)))
		if err != nil {
			t.Fatal(err)
		}
		w := wr.(*uploadWriter)
		key, _ := s.blobKey(digest.FromBytes(content))
		created, err := client.CreateMultipartUpload(ctx, &s3.CreateMultipartUploadInput{Bucket: &bucket, Key: &key})
		if err != nil {
			t.Fatal(err)
		}
		w.st.Commit = &pendingCommit{Digest: digest.FromBytes(content), UploadID: *created.UploadId}
		if err := w.storeState(ctx); err != nil {
			t.Fatal(err)
		}
		w.release() // the process dies
		if pending() != 1 {
			t.Fatal("the multipart upload was not started")
		}
	}

	dieCommitting()
	w, err = s.ResumeUpload(ctx, "dies", int64(len(content)))
	if err != nil {
		t.Fatal(err)
	}
	if n := pending(); n != 0 {
		t.Fatalf("%d multipart uploads left after resuming", n)
	}
	if err := w.Close(); err != nil {
		t.Fatal(err)
	}
	if st, _, err := s.getState(ctx, "dies"); err != nil || st.Commit != nil || st.Size != int64(len(content)) {
		t.Fatalf("state after resuming: %+v, %v", st, err)
	}

	dieCommitting()
	if err := s.DeleteUpload(ctx, "dies"); err != nil {
		t.Fatal(err)
	}
	if n := pending(); n != 0 {
		t.Fatalf("%d multipart uploads left after deleting the upload", n)
	}
}

// TestSmallWritesMerge: many small requests leave at most maxSegments
// segments, and the bytes read back whole.
func TestSmallWritesMerge(t *testing.T) {
	s, _, _, _ := openRecorded(t)
	ctx := context.Background()
	var content []byte
	w, err := s.CreateUpload(ctx, "drip")
	if err != nil {
		t.Fatal(err)
	}
	w.Close()
	for i := range 3*maxSegments + 5 {
		chunk := []byte(fmt.Sprintf("chunk %d;", i))
		w, err := s.ResumeUpload(ctx, "drip", int64(len(content)))
		if err != nil {
			t.Fatal(err)
		}
		w.Write(chunk)
		if err := w.Close(); err != nil {
			t.Fatal(err)
		}
		content = append(content, chunk...)
	}
	st, _, err := s.getState(ctx, "drip")
	if err != nil || len(st.Segments) > maxSegments || st.Size != int64(len(content)) {
		t.Fatalf("state after many small requests: %d segments, %d bytes, %v", len(st.Segments), st.Size, err)
	}
	r, err := s.ReadUpload(ctx, "drip", 0, int64(len(content)))
	if err != nil {
		t.Fatal(err)
	}
	defer r.Close()
	if got, err := io.ReadAll(r); err != nil || !bytes.Equal(got, content) {
		t.Fatalf("the upload reads %q, %v", got, err)
	}
}

// TestOpenRegion: AWS S3 needs a region; a server named by endpoint
// gets us-east-1 if none is set.
func TestOpenRegion(t *testing.T) {
	t.Setenv("AWS_REGION", "")
	t.Setenv("AWS_DEFAULT_REGION", "")
	t.Setenv("AWS_CONFIG_FILE", t.TempDir()+"/none")
	t.Setenv("AWS_PROFILE", "")
	ctx := context.Background()
	if _, err := Open(ctx, "s3://bucket"); err == nil || !strings.Contains(err.Error(), "no region") {
		t.Fatalf("Open without a region = %v", err)
	}
	s, err := Open(ctx, "s3://bucket?endpoint=http://127.0.0.1:9")
	if err != nil {
		t.Fatal(err)
	}
	if r := s.b.client.Options().Region; r != "us-east-1" {
		t.Fatalf("region = %q", r)
	}
	t.Setenv("AWS_REGION", "eu-central-1")
	s, err = Open(ctx, "s3://bucket")
	if err != nil || s.b.client.Options().Region != "eu-central-1" {
		t.Fatalf("Open with AWS_REGION = %v", err)
	}
	if _, err := Open(ctx, "s3://bucket?x=1"); err == nil {
		t.Fatal("Open of a bad URL succeeded")
	}
}

// TestPartFailure: storing a full part fails in Write; the bytes stay
// held, counted by Size, and Close stores them.
func TestPartFailure(t *testing.T) {
	s, rec, _, _ := openRecorded(t)
	ctx := context.Background()
	content := make([]byte, 6<<20)
	rand.Read(content)
	w, err := s.CreateUpload(ctx, "flaky")
	if err != nil {
		t.Fatal(err)
	}
	rec.failWhen(func(r *http.Request) bool { return r.Method == http.MethodPut && strings.Contains(r.URL.Path, "/d-") })
	n, err := w.Write(content)
	if err == nil || n != partSize(0) || w.Size() != int64(n) {
		t.Fatalf("Write with parts failing = %d, %v, Size %d; want %d and an error", n, err, w.Size(), partSize(0))
	}
	rec.failWhen(nil)
	if err := w.Close(); err != nil {
		t.Fatal(err)
	}
	r, err := s.ReadUpload(ctx, "flaky", 0, int64(len(content)))
	if err != nil {
		t.Fatal(err)
	}
	defer r.Close()
	if got, err := io.ReadAll(r); err != nil || !bytes.Equal(got, content[:n]) {
		t.Fatalf("the upload holds %d bytes (%v), want the %d written", len(got), err, n)
	}
}

// TestDeletionDiesHalfWay: a deletion (a commit's last step) that dies
// after removing some of an upload's pieces leaves an upload that is
// gone for every reader and writer, not one whose state names missing
// pieces; deleting it again finishes the job.
func TestDeletionDiesHalfWay(t *testing.T) {
	s, rec, _, _ := openRecorded(t)
	ctx := context.Background()
	content := make([]byte, 300<<10)
	rand.Read(content)
	w, err := s.CreateUpload(ctx, "half")
	if err != nil {
		t.Fatal(err)
	}
	w.Write(content)
	if err := w.Close(); err != nil {
		t.Fatal(err)
	}
	// The process dies at its first deletion of a piece.
	rec.failWhen(func(r *http.Request) bool { return r.Method == http.MethodDelete })
	if err := s.DeleteUpload(ctx, "half"); err == nil {
		t.Fatal("the deletion did not fail")
	}
	rec.failWhen(nil)
	if _, err := s.ResumeUpload(ctx, "half", int64(len(content))); !errors.Is(err, blobstore.ErrNotFound) {
		t.Fatalf("resuming an upload whose deletion died: %v, want not found", err)
	}
	if _, err := s.ReadUpload(ctx, "half", 0, int64(len(content))); !errors.Is(err, blobstore.ErrNotFound) {
		t.Fatalf("reading an upload whose deletion died: %v, want not found", err)
	}
	ups, err := s.Uploads(ctx)
	if err != nil || len(ups) != 1 {
		t.Fatalf("the sweep must still find it: %v, %v", ups, err)
	}
	if err := s.DeleteUpload(ctx, "half"); err != nil {
		t.Fatal(err)
	}
	if ups, err := s.Uploads(ctx); err != nil || len(ups) != 0 {
		t.Fatalf("after deleting again: %v, %v", ups, err)
	}
}

// TestWriteRacingAPrefixRemoval: versitygw answers a write below a key
// prefix whose directory another request is removing with 409
// ExistingObjectIsDirectory; nothing was written, and the write is sent
// again instead of failing the push.
func TestWriteRacingAPrefixRemoval(t *testing.T) {
	s, rec, _, _ := openRecorded(t)
	ctx := context.Background()
	refused := 0
	rec.mu.Lock()
	rec.answer = func(r *http.Request) *http.Response {
		if r.Method != http.MethodPut || !strings.HasSuffix(r.URL.Path, "/state") || refused > 0 {
			return nil
		}
		refused++
		body := `<?xml version="1.0" encoding="UTF-8"?><Error><Code>ExistingObjectIsDirectory</Code><Message>Existing Object is a directory.</Message></Error>`
		return &http.Response{StatusCode: http.StatusConflict, Status: "409 Conflict", Proto: "HTTP/1.1", ProtoMajor: 1, ProtoMinor: 1,
			Header: http.Header{"Content-Type": {"application/xml"}}, Body: io.NopCloser(strings.NewReader(body)),
			ContentLength: int64(len(body)), Request: r}
	}
	rec.mu.Unlock()
	w, err := s.CreateUpload(ctx, "racing")
	if err != nil {
		t.Fatalf("creating an upload whose first state write raced a removal: %v", err)
	}
	w.Close()
	if refused != 1 {
		t.Fatalf("the race was answered %d times, want 1", refused)
	}
	if _, _, err := s.getState(ctx, "racing"); err != nil {
		t.Fatalf("the upload's state after the retry: %v", err)
	}
}
