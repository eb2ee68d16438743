package s3store

import (
	"bytes"
	"context"
	"crypto/rand"
	"encoding/hex"
	"encoding/json"
	"errors"
	"fmt"
	"io"
	"strings"
	"sync"
	"sync/atomic"
	"time"

	"github.com/aws/aws-sdk-go-v2/aws"
	"github.com/aws/aws-sdk-go-v2/service/s3"
	"github.com/aws/aws-sdk-go-v2/service/s3/types"
	"github.com/opencontainers/go-digest"

	"github.com/ecrd/ecrd/internal/blobstore"
)

// Sizes of an upload's pieces (see doc.go). S3 takes at most 10,000
// parts, each but the last of 5 MiB or more: 5,000 parts of 5 MiB then
// 10 MiB ones hold 75,000 MiB, above ECR's 52,000 MiB layer limit, while
// a writer of a blob under 25,000 MiB buffers 5 MiB at most.
const (
	maxParts    = 10000
	maxSegments = 32
	// copyConcurrency bounds the part copies a commit runs at once.
	copyConcurrency = 8
	// closeTimeout bounds what Close does: storing the buffered bytes,
	// even when the request that wrote them has gone.
	closeTimeout = 2 * time.Minute
	// maxStateSize bounds a state object read back (10,000 parts take
	// about 600 KB).
	maxStateSize = 4 << 20
)

func partSize(i int) int {
	if i < 5000 {
		return 5 << 20
	}
	return 10 << 20
}

// state is an upload's state object: JSON at uploads/<id>/state, the
// only place the upload's pieces are read from.
type state struct {
	Created time.Time `json:"created"`
	Updated time.Time `json:"updated"`
	// Size is the bytes of Parts and Segments.
	Size int64 `json:"size"`
	// Parts are full parts: part i holds partSize(i) bytes.
	Parts []piece `json:"parts,omitempty"`
	// Segments follow the parts and hold fewer bytes than the next part
	// would: what requests left that did not fill one.
	Segments []piece `json:"segments,omitempty"`
	// Commit is the multipart upload a commit started, which a commit
	// that failed or a deletion aborts.
	Commit *pendingCommit `json:"commit,omitempty"`
	// Deleting is set before a deletion (a commit's last step included)
	// removes the pieces: an upload being deleted is gone, even if the
	// process deleting it dies half way and leaves the state naming
	// pieces that no longer exist.
	Deleting bool `json:"deleting,omitempty"`
}

// piece is the first Size bytes of object Name of the upload (all of it,
// unless an upload resumed before its end kept only a prefix).
type piece struct {
	Name string `json:"name"`
	Size int64  `json:"size"`
}

type pendingCommit struct {
	Digest   digest.Digest `json:"digest"`
	UploadID string        `json:"uploadId"`
}

// newName names a new data object of an upload. Names are never reused,
// so an object a state refers to never changes.
func newName() string {
	b := make([]byte, 16)
	rand.Read(b)
	return "d-" + hex.EncodeToString(b)
}

func validName(n string) bool {
	h, ok := strings.CutPrefix(n, "d-")
	if !ok || len(h) != 32 {
		return false
	}
	_, err := hex.DecodeString(h)
	return err == nil
}

// check verifies that a state read back is one this package writes.
func (st *state) check() error {
	var sum int64
	if len(st.Parts) > maxParts || len(st.Segments) > maxSegments {
		return errors.New("too many pieces")
	}
	for i, p := range st.Parts {
		if !validName(p.Name) || p.Size != int64(partSize(i)) {
			return fmt.Errorf("part %d is not valid", i)
		}
		sum += p.Size
	}
	var segs int64
	for i, p := range st.Segments {
		if !validName(p.Name) || p.Size <= 0 {
			return fmt.Errorf("segment %d is not valid", i)
		}
		segs += p.Size
	}
	if segs >= int64(partSize(len(st.Parts))) {
		return errors.New("the segments would fill a part")
	}
	if sum+segs != st.Size {
		return fmt.Errorf("the pieces hold %d bytes, not %d", sum+segs, st.Size)
	}
	if c := st.Commit; c != nil && (c.Digest.Validate() != nil || c.UploadID == "") {
		return errors.New("the pending commit is not valid")
	}
	return nil
}

// names returns the objects the state refers to.
func (st *state) names() map[string]bool {
	m := make(map[string]bool, len(st.Parts)+len(st.Segments))
	for _, p := range st.Parts {
		m[p.Name] = true
	}
	for _, p := range st.Segments {
		m[p.Name] = true
	}
	return m
}

// truncate drops the bytes at and after offset (< st.Size). A piece cut
// in the middle is kept as a prefix of its object: a segment, being
// shorter than a part.
func (st *state) truncate(offset int64) {
	var pos int64
	for i, p := range st.Parts {
		if pos+p.Size > offset {
			st.Parts, st.Segments = st.Parts[:i], nil
			if keep := offset - pos; keep > 0 {
				st.Segments = []piece{{p.Name, keep}}
			}
			st.Size = offset
			return
		}
		pos += p.Size
	}
	for j, p := range st.Segments {
		if pos+p.Size > offset {
			st.Segments = st.Segments[:j]
			if keep := offset - pos; keep > 0 {
				st.Segments = append(st.Segments, piece{p.Name, keep})
			}
			st.Size = offset
			return
		}
		pos += p.Size
	}
}

// spans returns the pieces as spans to read.
func (s *Store) spans(id string, st *state) []span {
	out := make([]span, 0, len(st.Parts)+len(st.Segments)+1)
	for _, p := range append(st.Parts[:len(st.Parts):len(st.Parts)], st.Segments...) {
		out = append(out, span{key: s.uploadKey(id, p.Name), size: p.Size})
	}
	return out
}

// getState reads an upload's state and its ETag.
func (s *Store) getState(ctx context.Context, id string) (*state, string, error) {
	key := s.uploadKey(id, stateName)
	out, err := s.b.client.GetObject(ctx, &s3.GetObjectInput{Bucket: &s.b.name, Key: &key})
	if err != nil {
		return nil, "", s.b.fail(err, "upload %s", id)
	}
	defer out.Body.Close()
	data, err := io.ReadAll(io.LimitReader(out.Body, maxStateSize+1))
	if err != nil {
		return nil, "", fmt.Errorf("reading the state of upload %s: %w", id, err)
	}
	var st state
	if len(data) > maxStateSize {
		err = errors.New("it is too large")
	} else if err = json.Unmarshal(data, &st); err == nil {
		err = st.check()
	}
	if err != nil {
		return nil, "", fmt.Errorf("the state of upload %s at %s: %w: %v", id, key, errBadState, err)
	}
	return &st, aws.ToString(out.ETag), nil
}

// liveState is getState for an upload that is to be read or written: one
// being deleted is not found.
func (s *Store) liveState(ctx context.Context, id string) (*state, string, error) {
	st, etag, err := s.getState(ctx, id)
	if err == nil && st.Deleting {
		return nil, "", fmt.Errorf("upload %s is being deleted: %w", id, blobstore.ErrNotFound)
	}
	return st, etag, err
}

// errBadState is returned (wrapped) for a state object this package did
// not write.
var errBadState = errors.New("not a valid upload state")

var errUploadExists = errors.New("upload exists")

// putState writes an upload's state: a new one (etag "") only if none
// exists (else errUploadExists), otherwise only over the version of that
// ETag, so that a writer never overwrites a change it has not seen (a
// deletion gives ErrNotFound). It returns the new ETag.
func (s *Store) putState(ctx context.Context, id string, st *state, etag string) (string, error) {
	data, err := json.Marshal(st)
	if err != nil {
		return "", err
	}
	key := s.uploadKey(id, stateName)
	in := &s3.PutObjectInput{Bucket: &s.b.name, Key: &key, Body: bytes.NewReader(data), ContentType: aws.String("application/json")}
	if etag == "" {
		in.IfNoneMatch = aws.String("*")
	} else {
		in.IfMatch = aws.String(etag)
	}
	out, err := s.b.client.PutObject(ctx, in)
	switch {
	case err == nil:
		return aws.ToString(out.ETag), nil
	case etag == "" && isPreconditionFailed(err):
		return "", fmt.Errorf("creating upload %s: %w", id, errUploadExists)
	case isPreconditionFailed(err):
		return "", fmt.Errorf("upload %s was changed by another writer meanwhile", id)
	}
	return "", s.b.fail(err, "writing the state of upload %s", id)
}

// CreateUpload implements blobstore.Store: it stores the upload's state,
// empty, failing if the upload exists.
func (s *Store) CreateUpload(ctx context.Context, id string) (blobstore.UploadWriter, error) {
	if !validID(id) {
		return nil, fmt.Errorf("upload %q: %w", id, blobstore.ErrNotFound)
	}
	if err := s.folder(ctx, uploadsDir); err != nil {
		return nil, err
	}
	now := time.Now().UTC()
	st := &state{Created: now, Updated: now}
	etag, err := s.putState(ctx, id, st, "")
	if err != nil {
		return nil, err
	}
	return s.newWriter(ctx, id, st, etag), nil
}

// ResumeUpload implements blobstore.Store. Bytes beyond offset are
// dropped from the state; the objects that held only them are deleted
// once the state without them is stored.
func (s *Store) ResumeUpload(ctx context.Context, id string, offset int64) (blobstore.UploadWriter, error) {
	if !validID(id) {
		return nil, fmt.Errorf("upload %q: %w", id, blobstore.ErrNotFound)
	}
	st, etag, err := s.liveState(ctx, id)
	if err != nil {
		return nil, err
	}
	if offset < 0 || st.Size < offset {
		return nil, fmt.Errorf("upload %s holds %d bytes, not %d: %w", id, st.Size, offset, blobstore.ErrOffset)
	}
	w := s.newWriter(ctx, id, st, etag)
	if st.Commit != nil {
		// A commit that failed part way: its multipart upload is not
		// needed any more (the next commit starts another).
		s.abort(ctx, st.Commit)
		st.Commit, w.dirty = nil, true
	}
	if st.Size > offset {
		st.truncate(offset)
		w.dirty = true
	}
	for _, p := range st.Segments {
		w.base += int(p.Size)
	}
	return w, nil
}

func (s *Store) newWriter(ctx context.Context, id string, st *state, etag string) *uploadWriter {
	w := &uploadWriter{s: s, id: id, ctx: ctx, st: st, etag: etag, known: st.names(), loaded: len(st.Segments) == 0}
	s.writers.Store(id, w)
	return w
}

// uploadWriter appends to an upload. Its bytes not yet in an object are
// in buf, after room for the segments (buf[:base], read in only when a
// part or the blob is made of them).
type uploadWriter struct {
	s    *Store
	id   string
	ctx  context.Context // the request's, for the parts stored as it writes
	etag string          // of the state this writer last read or wrote

	mu     sync.Mutex
	st     *state // as it will be stored: the durable pieces only
	buf    []byte
	base   int  // bytes of the segments
	n      int  // bytes written after them, at buf[base:base+n]
	loaded bool // whether buf[:base] holds the segments' bytes
	dirty  bool // whether the state must be stored again
	closed bool
	// known are the objects this writer may have to delete once the
	// state no longer refers to them: those of the state it read and
	// those it stored.
	known map[string]bool
	// deleted is set by DeleteUpload of this process.
	deleted atomic.Bool
}

func (w *uploadWriter) Write(p []byte) (int, error) {
	w.mu.Lock()
	defer w.mu.Unlock()
	if w.closed {
		return 0, fmt.Errorf("upload %s: the writer is closed", w.id)
	}
	total := 0
	for len(p) > 0 {
		if len(w.st.Parts) >= maxParts {
			return total, fmt.Errorf("upload %s: S3 takes at most %d parts in a multipart upload (%d bytes)", w.id, maxParts, w.st.Size+int64(w.n))
		}
		ps := partSize(len(w.st.Parts))
		if c := min(ps-w.base-w.n, len(p)); c > 0 {
			w.reserve(w.base + w.n + c)
			w.buf = append(w.buf[:w.base+w.n], p[:c]...)
			w.n += c
			total += c
			p = p[c:]
			w.dirty = true
		}
		if w.base+w.n == ps {
			if err := w.flushPart(w.ctx); err != nil {
				return total, err
			}
		}
	}
	return total, nil
}

// reserve makes room in buf for need bytes (at most a part's), growing it
// as an upload grows, so that a small blob holds little memory.
func (w *uploadWriter) reserve(need int) {
	if cap(w.buf) < need {
		ps := partSize(len(w.st.Parts))
		c := min(max(need, 2*cap(w.buf), 256<<10), ps)
		nb := make([]byte, len(w.buf), max(c, need))
		copy(nb, w.buf)
		w.buf = nb
	}
	if len(w.buf) < w.base {
		w.buf = w.buf[:w.base]
	}
}

// loadSegments reads the segments' bytes into buf[:base].
func (w *uploadWriter) loadSegments(ctx context.Context) error {
	if w.loaded {
		return nil
	}
	w.reserve(w.base + w.n)
	r := &spanReader{ctx: ctx, b: w.s.b, what: "upload " + w.id, spans: w.s.spans(w.id, &state{Segments: w.st.Segments})}
	defer r.Close()
	if _, err := io.ReadFull(r, w.buf[:w.base]); err != nil {
		return err
	}
	w.loaded = true
	return nil
}

// putData stores b as a new data object of the upload.
func (w *uploadWriter) putData(ctx context.Context, b []byte) (string, error) {
	name := newName()
	key := w.s.uploadKey(w.id, name)
	if _, err := w.s.b.client.PutObject(ctx, &s3.PutObjectInput{Bucket: &w.s.b.name, Key: &key, Body: bytes.NewReader(b)}); err != nil {
		return "", w.s.b.fail(err, "storing %d bytes of upload %s", len(b), w.id)
	}
	w.known[name] = true
	return name, nil
}

// flushPart stores the segments and the buffer, a full part, as one
// object. The state refers to it once stored again (Close, Commit).
func (w *uploadWriter) flushPart(ctx context.Context) error {
	if err := w.loadSegments(ctx); err != nil {
		return err
	}
	ps := w.base + w.n
	name, err := w.putData(ctx, w.buf[:ps])
	if err != nil {
		return err
	}
	w.st.Parts = append(w.st.Parts, piece{name, int64(ps)})
	w.st.Segments = nil
	w.st.Size += int64(w.n)
	w.buf, w.base, w.n, w.loaded = w.buf[:0], 0, 0, true
	return nil
}

func (w *uploadWriter) Size() int64 {
	w.mu.Lock()
	defer w.mu.Unlock()
	return w.st.Size + int64(w.n)
}

// Close implements blobstore.UploadWriter: the buffered bytes become a
// segment and the state is stored, so that any process can resume the
// upload. It does so even if the request's context has ended.
func (w *uploadWriter) Close() error {
	w.mu.Lock()
	defer w.mu.Unlock()
	if w.closed {
		return nil
	}
	w.closed = true
	defer w.release()
	if !w.dirty {
		return nil
	}
	if w.deleted.Load() {
		return fmt.Errorf("upload %s: %w", w.id, blobstore.ErrNotFound)
	}
	ctx, cancel := context.WithTimeout(context.WithoutCancel(w.ctx), closeTimeout)
	defer cancel()
	if w.base+w.n == partSize(len(w.st.Parts)) {
		// A full part whose storing failed in Write: try again.
		if err := w.flushPart(ctx); err != nil {
			return err
		}
	}
	if w.n > 0 {
		if len(w.st.Segments) < maxSegments {
			name, err := w.putData(ctx, w.buf[w.base:w.base+w.n])
			if err != nil {
				return err
			}
			w.st.Segments = append(w.st.Segments, piece{name, int64(w.n)})
		} else {
			// Many small requests: one segment of them all.
			if err := w.loadSegments(ctx); err != nil {
				return err
			}
			name, err := w.putData(ctx, w.buf[:w.base+w.n])
			if err != nil {
				return err
			}
			w.st.Segments = []piece{{name, int64(w.base + w.n)}}
		}
		w.st.Size += int64(w.n)
		w.base, w.n = w.base+w.n, 0
	}
	return w.storeState(ctx)
}

// storeState stores the state, then deletes the objects it no longer
// refers to.
func (w *uploadWriter) storeState(ctx context.Context) error {
	w.st.Updated = time.Now().UTC()
	etag, err := w.s.putState(ctx, w.id, w.st, w.etag)
	if err != nil {
		return err
	}
	w.etag, w.dirty = etag, false
	keep := w.st.names()
	for name := range w.known {
		if !keep[name] {
			// A leftover is removed with the upload, if not now.
			w.s.b.deleteKey(ctx, w.s.uploadKey(w.id, name))
		}
	}
	w.known = keep
	return nil
}

// release forgets the writer's buffer and unregisters it.
func (w *uploadWriter) release() {
	w.buf = nil
	w.s.writers.CompareAndDelete(w.id, w)
}

// Commit implements blobstore.UploadWriter. A blob is one object, which
// appears whole or not at all: a PutObject of the buffered bytes for an
// upload smaller than a part, else a multipart upload that copies each
// part object (in S3, without the bytes passing through here) and sends
// the rest. Both are conditional (If-None-Match: *), so a blob that
// exists is never overwritten: the upload is simply removed.
func (w *uploadWriter) Commit(ctx context.Context, d digest.Digest) error {
	w.mu.Lock()
	defer w.mu.Unlock()
	if w.closed {
		return fmt.Errorf("upload %s: the writer is closed", w.id)
	}
	w.closed = true
	defer w.release()
	key, err := w.s.blobKey(d)
	if err != nil {
		return err
	}
	if w.deleted.Load() {
		return fmt.Errorf("upload %s: %w", w.id, blobstore.ErrNotFound)
	}
	// The upload must still be this writer's: not deleted (its repository
	// was) nor taken over by another writer.
	stateKey := w.s.uploadKey(w.id, stateName)
	_, err = w.s.b.client.HeadObject(ctx, &s3.HeadObjectInput{Bucket: &w.s.b.name, Key: &stateKey, IfMatch: aws.String(w.etag)})
	switch {
	case isPreconditionFailed(err):
		return fmt.Errorf("upload %s was changed by another writer meanwhile", w.id)
	case err != nil:
		return w.s.b.fail(err, "upload %s", w.id)
	}
	exists, err := w.s.exists(ctx, key)
	if err != nil {
		return err
	}
	if !exists {
		if err := w.s.folder(ctx, blobsDir+string(d.Algorithm())+"/"); err != nil {
			return err
		}
		if len(w.st.Parts) == 0 {
			err = w.putBlob(ctx, key)
		} else {
			err = w.multipartBlob(ctx, d, key)
		}
		if err != nil {
			return fmt.Errorf("storing blob %s from upload %s: %w", d, w.id, err)
		}
	}
	// The blob is durable: an upload left over if this fails is swept
	// with the abandoned ones (Uploads).
	w.s.DeleteUpload(context.WithoutCancel(ctx), w.id)
	return nil
}

// exists reports whether an object exists.
func (s *Store) exists(ctx context.Context, key string) (bool, error) {
	_, err := s.b.client.HeadObject(ctx, &s3.HeadObjectInput{Bucket: &s.b.name, Key: &key})
	if isNotFound(err) {
		return false, nil
	}
	return err == nil, err
}

// putBlob stores an upload smaller than a part as the blob.
func (w *uploadWriter) putBlob(ctx context.Context, key string) error {
	if err := w.loadSegments(ctx); err != nil {
		return err
	}
	_, err := w.s.conditional(ctx, key, func() error {
		_, err := w.s.b.client.PutObject(ctx, &s3.PutObjectInput{
			Bucket: &w.s.b.name, Key: &key, Body: bytes.NewReader(w.buf[:w.base+w.n]), IfNoneMatch: aws.String("*"),
		})
		return err
	})
	return err
}

// conditional runs a write made with If-None-Match: *, for which a blob
// that exists is success: it reports whether the blob existed. S3
// answers 409 to a write that raced another to the same key: the write is
// tried again, unless the other made the blob.
func (s *Store) conditional(ctx context.Context, key string, write func() error) (existed bool, err error) {
	for attempt := 0; ; attempt++ {
		err := write()
		if err == nil {
			return false, nil
		}
		if isPreconditionFailed(err) {
			return true, nil
		}
		if errorCode(err) != "ConditionalRequestConflict" || attempt == 4 {
			return false, err
		}
		if ok, herr := s.exists(ctx, key); herr == nil && ok {
			return true, nil
		}
		time.Sleep(time.Duration(attempt+1) * 20 * time.Millisecond)
	}
}

// multipartBlob stores the upload as the blob through a multipart upload,
// recorded in the state first, so that a commit that dies leaves nothing
// that DeleteUpload or the next ResumeUpload does not abort.
func (w *uploadWriter) multipartBlob(ctx context.Context, d digest.Digest, key string) error {
	c := w.s.b.client
	created, err := c.CreateMultipartUpload(ctx, &s3.CreateMultipartUploadInput{Bucket: &w.s.b.name, Key: &key})
	if err != nil {
		return err
	}
	pc := &pendingCommit{Digest: d, UploadID: aws.ToString(created.UploadId)}
	w.st.Commit = pc
	if err := w.storeState(ctx); err != nil {
		w.s.abort(ctx, pc)
		return err
	}
	completed := false
	defer func() {
		if !completed {
			w.s.abort(context.WithoutCancel(ctx), pc)
		}
	}()
	parts := make([]types.CompletedPart, len(w.st.Parts), len(w.st.Parts)+1)
	sem := make(chan struct{}, copyConcurrency)
	errs := make(chan error, len(w.st.Parts))
	var wg sync.WaitGroup
	for i, p := range w.st.Parts {
		wg.Add(1)
		sem <- struct{}{}
		go func() {
			defer func() { <-sem; wg.Done() }()
			num := int32(i + 1)
			out, err := c.UploadPartCopy(ctx, &s3.UploadPartCopyInput{
				Bucket: &w.s.b.name, Key: &key, UploadId: &pc.UploadID, PartNumber: &num,
				CopySource:      aws.String(w.s.b.copySource(w.s.uploadKey(w.id, p.Name))),
				CopySourceRange: aws.String(fmt.Sprintf("bytes=0-%d", p.Size-1)),
			})
			if err != nil {
				errs <- fmt.Errorf("copying part %d: %w", num, err)
				return
			}
			parts[i] = types.CompletedPart{PartNumber: &num, ETag: out.CopyPartResult.ETag}
		}()
	}
	wg.Wait()
	close(errs)
	if err := <-errs; err != nil {
		return err
	}
	if err := w.loadSegments(ctx); err != nil {
		return err
	}
	if last := w.buf[:w.base+w.n]; len(last) > 0 {
		num := int32(len(parts) + 1)
		out, err := c.UploadPart(ctx, &s3.UploadPartInput{
			Bucket: &w.s.b.name, Key: &key, UploadId: &pc.UploadID, PartNumber: &num, Body: bytes.NewReader(last),
		})
		if err != nil {
			return fmt.Errorf("sending the last part: %w", err)
		}
		parts = append(parts, types.CompletedPart{PartNumber: &num, ETag: out.ETag})
	}
	existed, err := w.s.conditional(ctx, key, func() error {
		_, err := c.CompleteMultipartUpload(ctx, &s3.CompleteMultipartUploadInput{
			Bucket: &w.s.b.name, Key: &key, UploadId: &pc.UploadID,
			MultipartUpload: &types.CompletedMultipartUpload{Parts: parts},
			IfNoneMatch:     aws.String("*"),
		})
		return err
	})
	// Refused because the blob exists: the deferred abort removes the
	// parts.
	completed = err == nil && !existed
	return err
}

// abort aborts a commit's multipart upload; one already completed or
// aborted is no error.
func (s *Store) abort(ctx context.Context, pc *pendingCommit) error {
	key, err := s.blobKey(pc.Digest)
	if err != nil {
		return err
	}
	_, err = s.b.client.AbortMultipartUpload(ctx, &s3.AbortMultipartUploadInput{Bucket: &s.b.name, Key: &key, UploadId: &pc.UploadID})
	if err != nil && errorCode(err) != "NoSuchUpload" && !isNotFound(err) {
		return fmt.Errorf("aborting multipart upload of blob %s: %w", pc.Digest, err)
	}
	return nil
}

// ReadUpload implements blobstore.Store. It reads the pieces the state
// names, and, if a writer of this process has the upload open, the
// bytes it holds and has not stored yet: the registry hashes or encrypts
// an upload after writing to it in the same request.
func (s *Store) ReadUpload(ctx context.Context, id string, offset, size int64) (io.ReadCloser, error) {
	if !validID(id) {
		return nil, fmt.Errorf("upload %q: %w", id, blobstore.ErrNotFound)
	}
	var spans []span
	if v, ok := s.writers.Load(id); ok {
		w := v.(*uploadWriter)
		w.mu.Lock()
		if !w.closed {
			spans = s.spans(id, w.st)
			if w.n > 0 {
				spans = append(spans, span{mem: w.buf[w.base : w.base+w.n], size: int64(w.n)})
			}
		}
		w.mu.Unlock()
	}
	if spans == nil {
		st, _, err := s.liveState(ctx, id)
		if err != nil {
			return nil, err
		}
		spans = s.spans(id, st)
	}
	if offset < 0 {
		return nil, fmt.Errorf("reading upload %s from %d: negative offset", id, offset)
	}
	// Keep what lies in [offset, size), copying held bytes, which the
	// writer may change.
	var out []span
	var pos int64
	for _, sp := range spans {
		from, to := max(offset, pos), min(size, pos+sp.size)
		if from < to {
			cut := span{key: sp.key, offset: sp.offset + from - pos, size: to - from}
			if sp.key == "" {
				cut.mem = bytes.Clone(sp.mem[from-pos : to-pos])
			}
			out = append(out, cut)
		}
		pos += sp.size
	}
	return &spanReader{ctx: ctx, b: s.b, what: "upload " + id, spans: out}, nil
}

// DeleteUpload implements blobstore.Store: it aborts a commit's multipart
// upload, deletes the objects the state names, then any other object
// under the upload's prefix (what a writer that died stored before it
// could record it: found by listing, which only this cleanup does), and
// the state last, so that an interrupted deletion is found again.
func (s *Store) DeleteUpload(ctx context.Context, id string) error {
	if !validID(id) {
		return nil
	}
	if v, ok := s.writers.Load(id); ok {
		v.(*uploadWriter).deleted.Store(true)
	}
	st, _, err := s.getState(ctx, id)
	switch {
	case errors.Is(err, blobstore.ErrNotFound):
	case errors.Is(err, errBadState):
		// An unreadable state is deleted with the rest.
	case err != nil:
		return err
	default:
		if !st.Deleting {
			st.Deleting = true
			if err := s.markDeleting(ctx, id, st); err != nil {
				return err
			}
		}
		if st.Commit != nil {
			if err := s.abort(ctx, st.Commit); err != nil {
				return err
			}
		}
		for name := range st.names() {
			if err := s.b.deleteKey(ctx, s.uploadKey(id, name)); err != nil {
				return fmt.Errorf("deleting upload %s: %w", id, err)
			}
		}
	}
	prefix := s.uploadKey(id, "")
	stateKey := prefix + stateName
	p := s3.NewListObjectsV2Paginator(s.b.client, &s3.ListObjectsV2Input{Bucket: &s.b.name, Prefix: &prefix})
	for p.HasMorePages() {
		page, err := p.NextPage(ctx)
		if err != nil {
			return s.b.fail(err, "listing upload %s", id)
		}
		for _, o := range page.Contents {
			if k := aws.ToString(o.Key); k != stateKey {
				if err := s.b.deleteKey(ctx, k); err != nil {
					return fmt.Errorf("deleting upload %s: %w", id, err)
				}
			}
		}
	}
	if err := s.b.deleteKey(ctx, stateKey); err != nil {
		return fmt.Errorf("deleting upload %s: %w", id, err)
	}
	return nil
}

// markDeleting stores an upload's state marked as being deleted, over
// whatever version is there: a writer that stores after it finds the
// version changed and fails.
func (s *Store) markDeleting(ctx context.Context, id string, st *state) error {
	data, err := json.Marshal(st)
	if err != nil {
		return err
	}
	key := s.uploadKey(id, stateName)
	_, err = s.b.client.PutObject(ctx, &s3.PutObjectInput{Bucket: &s.b.name, Key: &key, Body: bytes.NewReader(data), ContentType: aws.String("application/json")})
	if err != nil {
		return s.b.fail(err, "marking upload %s as being deleted", id)
	}
	return nil
}

// Uploads implements blobstore.Store by listing uploads/: the registry's
// sweep of abandoned uploads, never how an upload is found. The size and
// time of each come from its state (its time is when a writer last
// stored it); an upload's objects without a state (left by a writer of
// an upload deleted meanwhile) are listed too, with size 0 and the time
// of the newest, so that the sweep removes them.
func (s *Store) Uploads(ctx context.Context) ([]blobstore.Upload, error) {
	prefix := s.prefix + uploadsDir
	type found struct {
		state    bool
		modified time.Time
	}
	ids := map[string]*found{}
	var order []string
	p := s3.NewListObjectsV2Paginator(s.b.client, &s3.ListObjectsV2Input{Bucket: &s.b.name, Prefix: &prefix})
	for p.HasMorePages() {
		page, err := p.NextPage(ctx)
		if err != nil {
			return nil, s.b.fail(err, "listing uploads")
		}
		for _, o := range page.Contents {
			id, name, ok := strings.Cut(strings.TrimPrefix(aws.ToString(o.Key), prefix), "/")
			if !ok || !validID(id) || (name != stateName && !validName(name)) {
				continue
			}
			f := ids[id]
			if f == nil {
				f = &found{}
				ids[id] = f
				order = append(order, id)
			}
			f.state = f.state || name == stateName
			if t := aws.ToTime(o.LastModified); t.After(f.modified) {
				f.modified = t
			}
		}
	}
	out := make([]blobstore.Upload, len(order))
	keep := make([]bool, len(order))
	sem := make(chan struct{}, 8)
	var wg sync.WaitGroup
	errs := make(chan error, len(order))
	for i, id := range order {
		f := ids[id]
		out[i], keep[i] = blobstore.Upload{ID: id, Modified: f.modified}, true
		if !f.state {
			continue
		}
		wg.Add(1)
		sem <- struct{}{}
		go func() {
			defer func() { <-sem; wg.Done() }()
			st, _, err := s.getState(ctx, id)
			switch {
			case errors.Is(err, blobstore.ErrNotFound):
				// Deleted since the listing; any objects left are
				// found by the next sweep.
				keep[i] = false
			case err == nil:
				out[i].Size, out[i].Modified = st.Size, st.Updated
			case errors.Is(err, errBadState):
				// Listed as found, for removal.
			default:
				errs <- err
			}
		}()
	}
	wg.Wait()
	close(errs)
	if err := <-errs; err != nil {
		return nil, err
	}
	res := out[:0]
	for i, u := range out {
		if keep[i] {
			res = append(res, u)
		}
	}
	return res, nil
}
