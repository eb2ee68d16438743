package s3store_test

import (
	"bytes"
	"context"
	"crypto/rand"
	"errors"
	"fmt"
	"io"
	"net/http"
	"net/url"
	"path/filepath"
	"strings"
	"sync"
	"testing"
	"time"

	"github.com/aws/aws-sdk-go-v2/service/s3"
	"github.com/opencontainers/go-digest"

	"github.com/ecrd/ecrd/internal/blobstore"
	"github.com/ecrd/ecrd/internal/blobstore/blobstoretest"
	"github.com/ecrd/ecrd/internal/blobstore/s3store"
	"github.com/ecrd/ecrd/internal/testutil/s3test"
)

// newStore opens a store on a new bucket of the test server (under
// prefix, if not empty), with the server's credentials in the
// environment, as ecrd gets them.
func newStore(t *testing.T, prefix string) (*s3store.Store, *s3test.Server, string) {
	t.Helper()
	srv := s3test.Start(t)
	srv.Setenv(t)
	bucket := srv.NewBucket(t)
	s, err := s3store.Open(context.Background(), srv.URL(bucket, prefix))
	if err != nil {
		t.Fatal(err)
	}
	t.Cleanup(func() { s.Close() })
	return s, srv, bucket
}

func TestConformance(t *testing.T) {
	blobstoretest.Run(t, func(t *testing.T) blobstore.Store {
		s, _, _ := newStore(t, "")
		return s
	})
}

// TestConformanceUnderPrefix runs the suite on a store that shares its
// bucket under a key prefix.
func TestConformanceUnderPrefix(t *testing.T) {
	blobstoretest.Run(t, func(t *testing.T) blobstore.Store {
		s, _, _ := newStore(t, "registry/one")
		return s
	})
}

const mib = 1 << 20

func random(t *testing.T, n int) []byte {
	t.Helper()
	b := make([]byte, n)
	if _, err := rand.Read(b); err != nil {
		t.Fatal(err)
	}
	return b
}

// writeIn writes content to w in writes of the given sizes, in turn.
func writeIn(t *testing.T, w blobstore.UploadWriter, content []byte, sizes ...int) {
	t.Helper()
	for i := 0; len(content) > 0; i++ {
		n := min(sizes[i%len(sizes)], len(content))
		if m, err := w.Write(content[:n]); err != nil || m != n {
			t.Fatalf("Write of %d bytes = %d, %v", n, m, err)
		}
		content = content[n:]
	}
}

func readAll(t *testing.T, s blobstore.Store, d digest.Digest) []byte {
	t.Helper()
	r, err := s.Open(context.Background(), d)
	if err != nil {
		t.Fatal(err)
	}
	defer r.Close()
	b, err := io.ReadAll(r)
	if err != nil {
		t.Fatal(err)
	}
	return b
}

func readUpload(t *testing.T, s blobstore.Store, id string, offset, size int64) []byte {
	t.Helper()
	r, err := s.ReadUpload(context.Background(), id, offset, size)
	if err != nil {
		t.Fatalf("ReadUpload(%s, %d, %d): %v", id, offset, size, err)
	}
	defer r.Close()
	b, err := io.ReadAll(r)
	if err != nil {
		t.Fatalf("ReadUpload(%s, %d, %d): %v", id, offset, size, err)
	}
	return b
}

// sample returns 4 KiB of every MiB of content: enough to find any
// stored piece of it, and quicker to look for than all of it.
func sample(content []byte) []byte {
	var out []byte
	for i := 0; i < len(content); i += mib {
		out = append(out, content[i:min(i+4096, len(content))]...)
	}
	return out
}

// onlyTheBlob checks that, of the bucket's files, only the blob's holds
// content: no part, segment or multipart upload of it is left behind.
func onlyTheBlob(t *testing.T, srv *s3test.Server, bucket string, content []byte, d digest.Digest) {
	t.Helper()
	files := blobstoretest.FilesHolding(t, srv.BucketDir(bucket), sample(content))
	if len(files) != 1 || !strings.HasSuffix(files[0], filepath.Join("blobs", "sha256", d.Encoded())) {
		t.Fatalf("files holding the content: %v, want only the blob's", files)
	}
}

// TestLargeUpload writes a blob of several parts in writes that do not
// fall on part boundaries, over several requests.
func TestLargeUpload(t *testing.T) {
	s, srv, bucket := newStore(t, "")
	ctx := context.Background()
	content := random(t, 12*mib+5)
	w, err := s.CreateUpload(ctx, "big")
	if err != nil {
		t.Fatal(err)
	}
	writeIn(t, w, content[:9*mib], 1*mib, 3*mib)
	if err := w.Close(); err != nil {
		t.Fatal(err)
	}
	if got := readUpload(t, s, "big", 0, 9*mib); !bytes.Equal(got, content[:9*mib]) {
		t.Fatal("the upload read back differs")
	}
	if got := readUpload(t, s, "big", 5*mib-3, 5*mib+3); !bytes.Equal(got, content[5*mib-3:5*mib+3]) {
		t.Fatal("the upload read back across a part's end differs")
	}
	w, err = s.ResumeUpload(ctx, "big", 9*mib)
	if err != nil {
		t.Fatal(err)
	}
	writeIn(t, w, content[9*mib:], 3*mib, 1*mib)
	if w.Size() != int64(len(content)) {
		t.Fatalf("Size = %d, want %d", w.Size(), len(content))
	}
	d := digest.FromBytes(content)
	if err := w.Commit(ctx, d); err != nil {
		t.Fatal(err)
	}
	if size, err := s.Stat(ctx, d); err != nil || size != int64(len(content)) {
		t.Fatalf("Stat = %d, %v", size, err)
	}
	if !bytes.Equal(readAll(t, s, d), content) {
		t.Fatal("the blob differs from what was written")
	}
	onlyTheBlob(t, srv, bucket, content, d)
	if ups, err := s.Uploads(ctx); err != nil || len(ups) != 0 {
		t.Fatalf("Uploads after the commit = %v, %v", ups, err)
	}
}

// TestResumeOnAnotherReplica: one process stores part of an upload and
// dies while writing more (part of which it had stored as a part); a
// second process, with a store of its own, resumes where the first's
// last request ended and finishes the blob.
func TestResumeOnAnotherReplica(t *testing.T) {
	a, srv, bucket := newStore(t, "")
	ctx := context.Background()
	content := random(t, 13*mib)
	w, err := a.CreateUpload(ctx, "moving")
	if err != nil {
		t.Fatal(err)
	}
	writeIn(t, w, content[:7*mib], 1*mib)
	if err := w.Close(); err != nil {
		t.Fatal(err)
	}
	// The request that dies: 4 MiB more fill a part, which is stored, and
	// 1 MiB stays in memory. Neither is acknowledged.
	dying, err := a.ResumeUpload(ctx, "moving", 7*mib)
	if err != nil {
		t.Fatal(err)
	}
	writeIn(t, dying, content[7*mib:12*mib], 1*mib)

	b, err := s3store.Open(ctx, srv.URL(bucket, ""))
	if err != nil {
		t.Fatal(err)
	}
	defer b.Close()
	if got := readUpload(t, b, "moving", 0, 13*mib); !bytes.Equal(got, content[:7*mib]) {
		t.Fatalf("the other store reads %d bytes of the upload, want the 7 MiB acknowledged", len(got))
	}
	if _, err := b.ResumeUpload(ctx, "moving", 8*mib); !errors.Is(err, blobstore.ErrOffset) {
		t.Fatalf("resuming past what was stored = %v, want ErrOffset", err)
	}
	for off := 7 * mib; off < len(content); off += 3 * mib {
		w, err := b.ResumeUpload(ctx, "moving", int64(off))
		if err != nil {
			t.Fatal(err)
		}
		writeIn(t, w, content[off:min(off+3*mib, len(content))], 2*mib)
		if err := w.Close(); err != nil {
			t.Fatal(err)
		}
		if off == 7*mib {
			// The first process comes back and finishes its request: its
			// state is stale, and it must not overwrite the new one.
			if err := dying.Close(); err == nil {
				t.Fatal("a writer whose upload another writer changed closed without error")
			}
		}
	}
	w, err = b.ResumeUpload(ctx, "moving", int64(len(content)))
	if err != nil {
		t.Fatal(err)
	}
	d := digest.FromBytes(content)
	if err := w.Commit(ctx, d); err != nil {
		t.Fatal(err)
	}
	for _, s := range []blobstore.Store{a, b} {
		if !bytes.Equal(readAll(t, s, d), content) {
			t.Fatal("the blob differs from what was written")
		}
	}
	// What the dead request stored went with the upload.
	onlyTheBlob(t, srv, bucket, content, d)
}

// TestResumeInsidePart resumes an upload at an offset inside a stored
// part, as after a request whose end was stored but not acknowledged.
func TestResumeInsidePart(t *testing.T) {
	s, srv, bucket := newStore(t, "p")
	ctx := context.Background()
	first := random(t, 12*mib)
	w, err := s.CreateUpload(ctx, "cut")
	if err != nil {
		t.Fatal(err)
	}
	writeIn(t, w, first, 3*mib)
	if err := w.Close(); err != nil {
		t.Fatal(err)
	}
	content := append(bytes.Clone(first[:7*mib]), random(t, 6*mib)...)
	w, err = s.ResumeUpload(ctx, "cut", 7*mib)
	if err != nil {
		t.Fatal(err)
	}
	if w.Size() != 7*mib {
		t.Fatalf("Size after resuming = %d", w.Size())
	}
	if got := readUpload(t, s, "cut", 0, 12*mib); !bytes.Equal(got, content[:7*mib]) {
		t.Fatalf("the resumed upload reads %d bytes, want the 7 MiB kept", len(got))
	}
	writeIn(t, w, content[7*mib:10*mib], mib)
	if err := w.Close(); err != nil {
		t.Fatal(err)
	}
	// The dropped bytes' own object (the last 2 MiB) is gone.
	if files := blobstoretest.FilesHolding(t, srv.BucketDir(bucket), sample(first[10*mib+1:])); len(files) != 0 {
		t.Fatalf("bytes dropped by the resume are still stored in %v", files)
	}
	w, err = s.ResumeUpload(ctx, "cut", 10*mib)
	if err != nil {
		t.Fatal(err)
	}
	writeIn(t, w, content[10*mib:], 3*mib)
	d := digest.FromBytes(content)
	if err := w.Commit(ctx, d); err != nil {
		t.Fatal(err)
	}
	if !bytes.Equal(readAll(t, s, d), content) {
		t.Fatal("the blob differs")
	}
	onlyTheBlob(t, srv, bucket, content, d)
}

// TestReadUploadSeesOpenWriter: the registry hashes the end of an upload
// it has just written to, before closing the writer.
func TestReadUploadSeesOpenWriter(t *testing.T) {
	s, srv, bucket := newStore(t, "")
	ctx := context.Background()
	content := random(t, 6*mib+100)
	w, err := s.CreateUpload(ctx, "open")
	if err != nil {
		t.Fatal(err)
	}
	writeIn(t, w, content, 2*mib)
	for _, r := range [][2]int64{{0, int64(len(content))}, {int64(len(content)) - 37, int64(len(content))}, {5*mib - 1, 5*mib + 1}} {
		if got := readUpload(t, s, "open", r[0], r[1]); !bytes.Equal(got, content[r[0]:r[1]]) {
			t.Fatalf("ReadUpload(%d, %d) with the writer open differs", r[0], r[1])
		}
	}
	// Another process sees the upload as last stored: empty.
	other, err := s3store.Open(ctx, srv.URL(bucket, ""))
	if err != nil {
		t.Fatal(err)
	}
	if got := readUpload(t, other, "open", 0, int64(len(content))); len(got) != 0 {
		t.Fatalf("another store reads %d bytes of an upload whose writer is open", len(got))
	}
	if err := w.Close(); err != nil {
		t.Fatal(err)
	}
	if got := readUpload(t, other, "open", 0, int64(len(content))); !bytes.Equal(got, content) {
		t.Fatal("another store does not read the upload once closed")
	}
}

// TestLeftoversAreSwept: a writer of an upload deleted meanwhile stores
// a part; Uploads lists what it left, and DeleteUpload removes it.
func TestLeftoversAreSwept(t *testing.T) {
	s, srv, bucket := newStore(t, "")
	ctx := context.Background()
	w, err := s.CreateUpload(ctx, "late")
	if err != nil {
		t.Fatal(err)
	}
	if err := s.DeleteUpload(ctx, "late"); err != nil {
		t.Fatal(err)
	}
	content := random(t, 6*mib)
	writeIn(t, w, content, 6*mib)
	if err := w.Close(); !errors.Is(err, blobstore.ErrNotFound) {
		t.Fatalf("Close of a deleted upload = %v, want ErrNotFound", err)
	}
	ups, err := s.Uploads(ctx)
	if err != nil || len(ups) != 1 || ups[0].ID != "late" || ups[0].Modified.IsZero() {
		t.Fatalf("Uploads = %v, %v; want the leftover of upload late", ups, err)
	}
	if _, err := s.ResumeUpload(ctx, "late", 0); !errors.Is(err, blobstore.ErrNotFound) {
		t.Fatalf("ResumeUpload of leftovers = %v, want ErrNotFound", err)
	}
	if err := s.DeleteUpload(ctx, "late"); err != nil {
		t.Fatal(err)
	}
	if ups, err := s.Uploads(ctx); err != nil || len(ups) != 0 {
		t.Fatalf("Uploads after the sweep = %v, %v", ups, err)
	}
	if files := blobstoretest.FilesHolding(t, srv.BucketDir(bucket), sample(content)); len(files) != 0 {
		t.Fatalf("the leftover is still stored in %v", files)
	}
}

// TestLayout checks where things are, and that another process finds
// them there.
func TestLayout(t *testing.T) {
	s, srv, bucket := newStore(t, "reg/x")
	ctx := context.Background()
	put := func(st blobstore.Store, content string) digest.Digest {
		w, err := st.CreateUpload(ctx, "u")
		if err != nil {
			t.Fatal(err)
		}
		io.WriteString(w, content)
		d := digest.FromString(content)
		if err := w.Commit(ctx, d); err != nil {
			t.Fatal(err)
		}
		return d
	}
	d := put(s, "plain")
	ns, err := s.Namespace(ctx, "kms-x")
	if err != nil {
		t.Fatal(err)
	}
	dn := put(ns, "in a namespace")
	w, err := s.CreateUpload(ctx, "pending")
	if err != nil {
		t.Fatal(err)
	}
	w.Close()
	client := srv.Client()
	for _, key := range []string{
		"reg/x/blobs/sha256/" + d.Encoded(),
		"reg/x/namespaces/kms-x/blobs/sha256/" + dn.Encoded(),
		"reg/x/uploads/pending/state",
	} {
		if _, err := client.HeadObject(ctx, &s3.HeadObjectInput{Bucket: &bucket, Key: &key}); err != nil {
			t.Errorf("%s: %v", key, err)
		}
	}
	// A blob-like key outside the prefix is not the store's.
	outside := "blobs/sha256/" + digest.FromString("outside").Encoded()
	if _, err := client.PutObject(ctx, &s3.PutObjectInput{Bucket: &bucket, Key: &outside, Body: strings.NewReader("outside")}); err != nil {
		t.Fatal(err)
	}

	again, err := s3store.Open(ctx, srv.URL(bucket, "reg/x"))
	if err != nil {
		t.Fatal(err)
	}
	var seen []digest.Digest
	if err := again.Walk(ctx, func(b blobstore.BlobInfo) error { seen = append(seen, b.Digest); return nil }); err != nil {
		t.Fatal(err)
	}
	if len(seen) != 1 || seen[0] != d {
		t.Errorf("Walk of the reopened store = %v, want %s only", seen, d)
	}
	if names, err := again.Namespaces(ctx); err != nil || len(names) != 1 || names[0] != "kms-x" {
		t.Errorf("Namespaces of the reopened store = %v, %v", names, err)
	}
	ns2, err := again.Namespace(ctx, "kms-x")
	if err != nil {
		t.Fatal(err)
	}
	if got := string(readAll(t, ns2, dn)); got != "in a namespace" {
		t.Errorf("the namespace's blob reads %q", got)
	}
}

// TestSeek reads ranges of a blob through Seek, as the HTTP layer
// answers Range requests.
func TestSeek(t *testing.T) {
	s, _, _ := newStore(t, "")
	ctx := context.Background()
	content := random(t, 9*mib+3)
	w, err := s.CreateUpload(ctx, "u")
	if err != nil {
		t.Fatal(err)
	}
	writeIn(t, w, content, 4*mib)
	d := digest.FromBytes(content)
	if err := w.Commit(ctx, d); err != nil {
		t.Fatal(err)
	}
	r, err := s.Open(ctx, d)
	if err != nil {
		t.Fatal(err)
	}
	defer r.Close()
	if end, err := r.Seek(0, io.SeekEnd); err != nil || end != int64(len(content)) {
		t.Fatalf("Seek to the end = %d, %v", end, err)
	}
	if n, err := r.Read(make([]byte, 10)); n != 0 || err != io.EOF {
		t.Fatalf("Read at the end = %d, %v; want 0, EOF", n, err)
	}
	for _, c := range []struct {
		whence      int
		offset, pos int64
		n           int
	}{
		{io.SeekStart, 1000, 1000, 100},
		{io.SeekCurrent, 5 * mib, 5*mib + 1100, 3 * mib}, // across windows
		{io.SeekStart, int64(len(content)) - 5, int64(len(content)) - 5, 5},
		{io.SeekEnd, -2 * mib, int64(len(content)) - 2*mib, 2 * mib}, // to the end
		{io.SeekStart, 0, 0, len(content)},
	} {
		pos, err := r.Seek(c.offset, c.whence)
		if err != nil || pos != c.pos {
			t.Fatalf("Seek(%d, %d) = %d, %v; want %d", c.offset, c.whence, pos, err, c.pos)
		}
		got := make([]byte, c.n)
		if _, err := io.ReadFull(r, got); err != nil || !bytes.Equal(got, content[pos:pos+int64(c.n)]) {
			t.Fatalf("reading %d bytes at %d: %v, equal %v", c.n, pos, err, bytes.Equal(got, content[pos:pos+int64(c.n)]))
		}
	}
	if _, err := r.Seek(-1, io.SeekStart); err == nil {
		t.Fatal("seeking before the start succeeded")
	}
}

// TestReadyExplains checks what Ready says about wrong credentials and a
// missing bucket.
func TestReadyExplains(t *testing.T) {
	srv := s3test.Start(t)
	srv.Setenv(t)
	ctx := context.Background()
	bucket := srv.NewBucket(t)
	t.Setenv("AWS_SECRET_ACCESS_KEY", "not-the-secret")
	s, err := s3store.Open(ctx, srv.URL(bucket, ""))
	if err != nil {
		t.Fatal(err)
	}
	err = s.Ready(ctx)
	if err == nil || !strings.Contains(err.Error(), "HTTP 403") || !strings.Contains(err.Error(), "AWS_ACCESS_KEY_ID") {
		t.Fatalf("Ready with a wrong secret = %v, want a refusal that names the credentials", err)
	}
	t.Log(err)

	srv.Setenv(t)
	s, err = s3store.Open(ctx, srv.URL("no-such-bucket", ""))
	if err != nil {
		t.Fatal(err)
	}
	if err := s.Ready(ctx); err == nil || !strings.Contains(err.Error(), "does not exist") {
		t.Fatalf("Ready on a missing bucket = %v", err)
	}
}

// TestPresignGet fetches a blob from a presigned URL, and checks that the
// server refuses the URL altered or expired.
func TestPresignGet(t *testing.T) {
	s, _, _ := newStore(t, "pre")
	ctx := context.Background()
	content := random(t, 100_000)
	w, err := s.CreateUpload(ctx, "u")
	if err != nil {
		t.Fatal(err)
	}
	w.Write(content)
	d := digest.FromBytes(content)
	if err := w.Commit(ctx, d); err != nil {
		t.Fatal(err)
	}
	get := func(u string) (int, []byte) {
		t.Helper()
		resp, err := http.Get(u)
		if err != nil {
			t.Fatal(err)
		}
		defer resp.Body.Close()
		b, _ := io.ReadAll(resp.Body)
		return resp.StatusCode, b
	}
	u, err := s.PresignGet(ctx, d, time.Minute)
	if err != nil {
		t.Fatal(err)
	}
	if status, body := get(u); status != http.StatusOK || !bytes.Equal(body, content) {
		t.Fatalf("GET of the presigned URL = %d, %d bytes (equal %v)", status, len(body), bytes.Equal(body, content))
	}
	other := digest.FromString("other")
	for name, bad := range map[string]string{
		"signature": tamper(t, u, func(q url.Values) {
			s := q.Get("X-Amz-Signature")
			q.Set("X-Amz-Signature", s[:len(s)-1]+flip(s[len(s)-1]))
		}),
		"expiry": tamper(t, u, func(q url.Values) { q.Set("X-Amz-Expires", "3600") }),
		"key":    strings.Replace(u, d.Encoded(), other.Encoded(), 1),
	} {
		if status, _ := get(bad); status != http.StatusForbidden {
			t.Errorf("GET of the URL with its %s altered = %d, want 403", name, status)
		}
	}
	short, err := s.PresignGet(ctx, d, time.Second)
	if err != nil {
		t.Fatal(err)
	}
	time.Sleep(2100 * time.Millisecond)
	if status, _ := get(short); status != http.StatusForbidden {
		t.Errorf("GET of an expired URL = %d, want 403", status)
	}
	if _, err := s.PresignGet(ctx, d, 8*24*time.Hour); err == nil {
		t.Error("a URL for 8 days was presigned")
	}
}

func tamper(t *testing.T, raw string, f func(url.Values)) string {
	t.Helper()
	u, err := url.Parse(raw)
	if err != nil {
		t.Fatal(err)
	}
	q := u.Query()
	f(q)
	u.RawQuery = q.Encode()
	return u.String()
}

func flip(c byte) string {
	if c == '0' {
		return "1"
	}
	return "0"
}

// TestConcurrentCommitsAndDeletes pushes and deletes blobs and uploads
// from several goroutines at once, as pushes run beside garbage
// collection: none may fail because another emptied a prefix.
func TestConcurrentCommitsAndDeletes(t *testing.T) {
	s, _, _ := newStore(t, "")
	ns, err := s.Namespace(context.Background(), "kms-1")
	if err != nil {
		t.Fatal(err)
	}
	var wg sync.WaitGroup
	errs := make(chan error, 16)
	for g := range 8 {
		st := blobstore.Store(s)
		if g%2 == 1 {
			st = ns
		}
		wg.Add(1)
		go func() {
			defer wg.Done()
			ctx := context.Background()
			for i := range 25 {
				content := []byte(fmt.Sprintf("blob %d of %d", i, g))
				id := fmt.Sprintf("u-%d-%d", g, i)
				w, err := st.CreateUpload(ctx, id)
				if err == nil {
					_, err = w.Write(content)
				}
				d := digest.FromBytes(content)
				if err == nil {
					err = w.Commit(ctx, d)
				}
				if err == nil {
					err = st.Delete(ctx, d)
				}
				if err != nil {
					errs <- fmt.Errorf("goroutine %d, blob %d: %w", g, i, err)
					return
				}
			}
		}()
	}
	wg.Wait()
	close(errs)
	for err := range errs {
		t.Error(err)
	}
}
