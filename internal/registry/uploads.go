package registry

import (
	"context"
	"crypto/sha256"
	"encoding"
	"errors"
	"fmt"
	"hash"
	"io"
	"slices"
	"sync"
	"time"

	"github.com/opencontainers/go-digest"

	"github.com/ecrd/ecrd/internal/awsid"
	"github.com/ecrd/ecrd/internal/blobstore"
	"github.com/ecrd/ecrd/internal/metadata"
	"github.com/ecrd/ecrd/internal/registry/blobspace"
	"github.com/ecrd/ecrd/internal/registry/gc"
)

// Upload sessions: their bytes in the blob store's upload area, their
// record in the metadata store (see the package doc, "Upload
// durability").

// Upload is the state of an upload session.
type Upload struct {
	ID   string
	Size int64
}

// uploadLocks keeps two requests from writing one upload at once, and a
// repository's deletion from removing an upload's bytes while a request
// writes or finishes it.
type uploadLocks struct {
	mu   sync.Mutex
	busy map[string]*uploadHold
}

// uploadHold is a held upload lock.
type uploadHold struct {
	released chan struct{}
	// ending: the holder is removing the upload with its repository.
	ending bool
}

// acquire takes an upload's lock for a request, or fails at once if
// another holds it: a request writing it, or the deletion of its
// repository, which ends the session.
func (l *uploadLocks) acquire(id string) error {
	l.mu.Lock()
	defer l.mu.Unlock()
	if h := l.busy[id]; h != nil {
		if h.ending {
			return errorf(CodeBlobUploadUnknown, "upload %s ends with its repository, which is being deleted", id)
		}
		return errorf(CodeBlobUploadInvalid, "upload %s is being written by another request: wait for it to finish", id)
	}
	l.busy[id] = &uploadHold{released: make(chan struct{})}
	return nil
}

// end takes an upload's lock to remove it with its repository, waiting
// for the request that holds it.
func (l *uploadLocks) end(ctx context.Context, id string) error {
	for {
		l.mu.Lock()
		held := l.busy[id]
		if held == nil {
			l.busy[id] = &uploadHold{released: make(chan struct{}), ending: true}
			l.mu.Unlock()
			return nil
		}
		l.mu.Unlock()
		select {
		case <-held.released:
		case <-ctx.Done():
			return ctx.Err()
		}
	}
}

func (l *uploadLocks) release(id string) {
	l.mu.Lock()
	if h := l.busy[id]; h != nil {
		close(h.released)
		delete(l.busy, id)
	}
	l.mu.Unlock()
}

// StartUpload opens an upload session in a repository, creating the
// repository on first push.
func (r *Registry) StartUpload(ctx context.Context, key metadata.RepoKey) (Upload, error) {
	plan, err := r.planPush(ctx, ActionInitiateLayerUpload, key)
	if err != nil {
		return Upload{}, err
	}
	if err := r.checkSpace(ctx); err != nil {
		return Upload{}, err
	}
	// A KMS repository whose key cannot be used takes no pushes: say so
	// before the client sends the blob.
	if _, err := r.blobSpace(ctx, plan); err != nil {
		return Upload{}, err
	}
	id := awsid.NewUUID()
	// Bytes first, record second: a crash in between leaves a stray file,
	// which recovery removes, never a record without its bytes.
	w, err := r.blobs.CreateUpload(ctx, id)
	if err != nil {
		return Upload{}, r.spaceError(ctx, err)
	}
	if err := w.Close(); err != nil {
		return Upload{}, err
	}
	now := r.now()
	_, err = r.updatePush(ctx, plan, now, r.meta.UpdateNoSync, func(tx metadata.Tx, _ metadata.Repository) error {
		return tx.PutUpload(ctx, metadata.Upload{ID: id, Repo: key, StartedAt: now, UpdatedAt: now})
	})
	if err != nil {
		r.discardUpload(id)
		return Upload{}, r.spaceError(ctx, err)
	}
	return Upload{ID: id}, nil
}

// session loads an upload record, after checking that the caller may
// perform action on the repository, and checks the session belongs to it.
func (r *Registry) session(ctx context.Context, action Action, key metadata.RepoKey, id string) (metadata.Upload, error) {
	u, _, err := r.sessionIn(ctx, action, key, id)
	return u, err
}

// sessionIn is session, with the repository.
func (r *Registry) sessionIn(ctx context.Context, action Action, key metadata.RepoKey, id string) (metadata.Upload, metadata.Repository, error) {
	repo, err := r.repositoryFor(ctx, action, key)
	if err != nil {
		if CodeOf(err) == CodeNameUnknown {
			err = uploadNotFound(key, id)
		}
		return metadata.Upload{}, repo, err
	}
	u, err := r.meta.Upload(ctx, id)
	if errors.Is(err, metadata.ErrNotFound) || (err == nil && u.Repo != key) {
		return u, repo, uploadNotFound(key, id)
	}
	return u, repo, err
}

func uploadNotFound(key metadata.RepoKey, id string) error {
	return errorf(CodeBlobUploadUnknown, "upload %s does not exist in repository %q: it finished, was cancelled or expired; start a new one", id, key.Name)
}

// UploadStatus returns how much of an upload has been received.
func (r *Registry) UploadStatus(ctx context.Context, key metadata.RepoKey, id string) (Upload, error) {
	u, err := r.session(ctx, ActionUploadLayerPart, key, id)
	if err != nil {
		return Upload{}, err
	}
	// With shared stores a session may outlive its bytes: a process died
	// after making them a blob and before ending the session (in the data
	// folder, Recover ends such sessions at start-up). The session is
	// ended here, as its process would have, rather than reported alive
	// until the client's next chunk finds it dead.
	if r.opts.Shared {
		rc, err := r.blobs.ReadUpload(ctx, u.ID, u.Size, u.Size)
		if errors.Is(err, blobstore.ErrNotFound) {
			return Upload{}, r.lostUpload(ctx, u.ID, err)
		} else if err != nil {
			return Upload{}, err
		}
		rc.Close()
	}
	return Upload{ID: u.ID, Size: u.Size}, nil
}

// AppendUpload adds a chunk to an upload. start is where the client says
// the chunk begins (-1: wherever the upload ends, as for a streamed PATCH);
// length is its declared length (-1: unknown). A chunk that does not start
// where the upload ends is refused with CodeRangeInvalid, and the returned
// Upload says where to resume.
func (r *Registry) AppendUpload(ctx context.Context, key metadata.RepoKey, id string, start, length int64, body io.Reader) (Upload, error) {
	if err := r.uploads.acquire(id); err != nil {
		return Upload{}, err
	}
	defer r.uploads.release(id)
	u, err := r.session(ctx, ActionUploadLayerPart, key, id)
	if err != nil {
		return Upload{}, err
	}
	if start >= 0 && start != u.Size {
		return Upload{ID: id, Size: u.Size}, errorf(CodeRangeInvalid,
			"the chunk starts at byte %d but the upload holds %d bytes: send the chunk that starts at %d", start, u.Size, u.Size)
	}
	w, err := r.resumeUpload(ctx, u)
	if err != nil {
		return Upload{ID: id, Size: u.Size}, err
	}
	defer w.Close()
	u, _, err = r.writeChunk(ctx, u, w, length, body, true)
	return Upload{ID: id, Size: u.Size}, err
}

// resumeUpload opens an upload's bytes for appending where its record
// says they end.
func (r *Registry) resumeUpload(ctx context.Context, u metadata.Upload) (blobstore.UploadWriter, error) {
	w, err := r.blobs.ResumeUpload(ctx, u.ID, u.Size)
	if errors.Is(err, blobstore.ErrNotFound) || errors.Is(err, blobstore.ErrOffset) {
		return nil, r.lostUpload(ctx, u.ID, err)
	}
	if err != nil {
		return nil, err
	}
	return &closeOnce{UploadWriter: w}, nil
}

// closeOnce is an upload writer whose Close may be called again: the
// first call closes it (writeChunk closes it before recording the
// session), later ones do nothing.
type closeOnce struct {
	blobstore.UploadWriter
	closed bool
	err    error
}

func (w *closeOnce) Close() error {
	if !w.closed {
		w.closed, w.err = true, w.UploadWriter.Close()
	}
	return w.err
}

// writeChunk streams a chunk into the upload, hashing as it goes, and
// returns the session with its new size and hash state, and the running
// SHA-256 of everything the upload now holds (nil if the chunk was not
// all stored). It records them if persist is set, and whenever the chunk
// fails part way: if the client goes away mid-chunk, what arrived is
// kept, so it can resume after it. (The last chunk of a finishing upload
// needs no record on success: the upload becomes a blob at once.)
func (r *Registry) writeChunk(ctx context.Context, u metadata.Upload, w blobstore.UploadWriter, length int64, body io.Reader, persist bool) (metadata.Upload, hash.Hash, error) {
	if err := r.checkSpace(ctx); err != nil {
		return u, nil, err
	}
	h, err := r.resumeHash(ctx, u)
	if err != nil {
		return u, nil, err
	}
	var live hash.Hash
	hashed := &countingWriter{w: h}
	_, copyErr := hashCopy(r.guardSpace(ctx, w), r.limitBody(body, u.Size), hashed)
	if isNoSpace(copyErr) {
		// Free what the upload holds: the database shares the disk.
		r.cancel(ctx, u.ID)
		return u, nil, r.spaceError(ctx, copyErr)
	}
	n := w.Size()
	if n > r.opts.MaxBlobSize {
		r.cancel(ctx, u.ID)
		return u, nil, r.tooLarge(n)
	}
	if n == u.Size+hashed.n && n > u.Size {
		// Every byte hashed is in storage: the new state is consistent.
		state, err := h.(encoding.BinaryMarshaler).MarshalBinary()
		if err != nil {
			return u, nil, err
		}
		live = h
		withoutPending(state)
		u.Size, u.HashState, u.UpdatedAt, u.LastPart = n, state, r.now(), n-u.Size
		if persist || copyErr != nil {
			// Even if the client has gone: it may resume. The writer is
			// closed first: a store may hold written bytes (an object
			// store, a part below its minimum size) until Close, and the
			// session must never say more than the store would give
			// another process if this one died now.
			if err := w.Close(); err != nil {
				return u, nil, err
			}
			wctx := context.WithoutCancel(ctx)
			if err := r.meta.UpdateNoSync(wctx, func(tx metadata.Tx) error { return tx.PutUpload(wctx, u) }); err != nil {
				if isNoSpace(err) {
					r.cancel(ctx, u.ID)
				}
				return u, nil, r.spaceError(ctx, err)
			}
		}
	}
	if copyErr != nil {
		return u, nil, bodyError(copyErr)
	}
	if length >= 0 && hashed.n != length {
		return u, nil, errorf(CodeSizeInvalid, "the chunk has %d bytes but its length was declared as %d", hashed.n, length)
	}
	return u, live, nil
}

// copyBuffers hold request body bytes on their way to storage. A large
// buffer lets one read take everything the socket has: with 1 MiB, a
// 100 MB push cost 10% less server CPU than with 256 KiB (measured with
// cmd/ecrd-load on 127.0.0.1).
var copyBuffers = sync.Pool{New: func() any { b := make([]byte, 1<<20); return &b }}

// hashCopy copies r to w and writes what it reads to h too (the digest),
// as io.Copy through an io.TeeReader would, but h takes each buffer on a
// goroutine of its own, beside that buffer's write and the next read.
// Hashing (about 0.5 ms a MiB with SHA-NI) is the largest cost of a
// push: run beside the copying rather than after it, a large push is
// bound by the slower of the two instead of their sum where a core is
// free. Two pooled buffers take turns; a buffer is read into again only
// once h is through with it. h gets exactly the bytes read, in order,
// including those of a chunk whose write failed, and has taken them all
// when hashCopy returns.
func hashCopy(w io.Writer, r io.Reader, h io.Writer) (written int64, err error) {
	bufs := [2]*[]byte{copyBuffers.Get().(*[]byte), copyBuffers.Get().(*[]byte)}
	defer copyBuffers.Put(bufs[0])
	defer copyBuffers.Put(bufs[1])
	chunks := make(chan []byte, len(bufs))
	hashed := make(chan struct{}, len(bufs))
	go func() {
		for c := range chunks {
			h.Write(c) // a hash never fails
			hashed <- struct{}{}
		}
	}()
	pending := 0 // chunks sent to h and not yet hashed, oldest first
	defer func() {
		close(chunks)
		for ; pending > 0; pending-- {
			<-hashed
		}
	}()
	// next is the buffer to read into. It moves on only when a read
	// brought bytes, so the buffers holding pending chunks are always the
	// ones before it, and a read that brings nothing (which io.Reader
	// allows) never lands in a buffer h has yet to take.
	for next := 0; ; {
		if pending == len(bufs) {
			<-hashed // this buffer's last chunk, the oldest pending
			pending--
		}
		buf := *bufs[next%len(bufs)]
		n, rerr := r.Read(buf)
		if n > 0 {
			chunks <- buf[:n]
			pending++
			next++
			nw, werr := w.Write(buf[:n])
			written += int64(nw)
			if werr == nil && nw != n {
				werr = io.ErrShortWrite
			}
			if werr != nil {
				return written, werr
			}
		}
		if rerr == io.EOF {
			return written, nil
		}
		if rerr != nil {
			return written, rerr
		}
	}
}

// resumeHash continues the upload's SHA-256 from its recorded state, or
// recomputes it from the stored bytes when there is none.
func (r *Registry) resumeHash(ctx context.Context, u metadata.Upload) (hash.Hash, error) {
	h := sha256.New()
	if u.Size == 0 {
		return h, nil
	}
	if len(u.HashState) == sha256StateSize {
		state := slices.Clone(u.HashState)
		if err := r.restorePending(ctx, u, state); err != nil {
			return nil, err
		}
		if h.(encoding.BinaryUnmarshaler).UnmarshalBinary(state) == nil {
			return h, nil
		}
	}
	if err := r.hashUpload(ctx, u, h); err != nil {
		return nil, err
	}
	return h, nil
}

// A SHA-256 state, as crypto/sha256 marshals it: a 4-byte magic, the
// eight 32-bit chaining values, the 64-byte block of bytes not yet
// hashed (the length modulo 64 of them), and the 8-byte length.
const (
	sha256StateSize  = 4 + 32 + 64 + 8
	sha256PendingOff = 4 + 32
)

// withoutPending blanks the pending block of a marshaled SHA-256 state.
// Those are the upload's last bytes, in clear: upload records must not
// hold content (a KMS repository's blobs are encrypted at rest, and the
// database is not), and restorePending reads them back from the upload.
func withoutPending(state []byte) {
	if len(state) == sha256StateSize {
		clear(state[sha256PendingOff : sha256PendingOff+64])
	}
}

// restorePending puts an upload's last size%64 bytes back into a state
// withoutPending blanked.
func (r *Registry) restorePending(ctx context.Context, u metadata.Upload, state []byte) error {
	n := u.Size % 64
	if n == 0 {
		return nil
	}
	rc, err := r.blobs.ReadUpload(ctx, u.ID, u.Size-n, u.Size)
	if errors.Is(err, blobstore.ErrNotFound) {
		return r.lostUpload(ctx, u.ID, err)
	}
	if err != nil {
		return fmt.Errorf("reading upload %s to resume its hash: %w", u.ID, err)
	}
	defer rc.Close()
	if _, err := io.ReadFull(rc, state[sha256PendingOff:sha256PendingOff+n]); err != nil {
		return r.lostUpload(ctx, u.ID, fmt.Errorf("its last %d bytes cannot be read: %v", n, err))
	}
	return nil
}

func (r *Registry) hashUpload(ctx context.Context, u metadata.Upload, h hash.Hash) error {
	rc, err := r.blobs.ReadUpload(ctx, u.ID, 0, u.Size)
	if errors.Is(err, blobstore.ErrNotFound) {
		return r.lostUpload(ctx, u.ID, err)
	}
	if err != nil {
		return fmt.Errorf("reading upload %s to hash it: %w", u.ID, err)
	}
	defer rc.Close()
	n, err := io.Copy(h, rc)
	if err == nil && n != u.Size {
		return r.lostUpload(ctx, u.ID, fmt.Errorf("it holds %d bytes, %d were acknowledged", n, u.Size))
	}
	return err
}

// lostUpload ends a session whose bytes are gone or short (a crash of the
// machine can lose bytes acknowledged by a PATCH, which is not fsynced;
// only finished blobs are). The client has to start again.
func (r *Registry) lostUpload(ctx context.Context, id string, cause error) error {
	r.log.Warn("upload data lost; ending the session", "upload", id, "cause", cause)
	r.cancel(ctx, id)
	return errorf(CodeBlobUploadUnknown, "upload %s lost data it had received (the server stopped abnormally): start a new upload", id)
}

// FinishUpload adds an optional last chunk, checks the whole upload
// against the digest the client names, and makes it a durable blob of the
// repository. A mismatch removes the upload.
func (r *Registry) FinishUpload(ctx context.Context, key metadata.RepoKey, id string, dgst string, start, length int64, body io.Reader) (metadata.Blob, error) {
	d, err := parseDigest(dgst)
	if err != nil {
		return metadata.Blob{}, err
	}
	if err := r.uploads.acquire(id); err != nil {
		return metadata.Blob{}, err
	}
	defer r.uploads.release(id)
	u, repo, err := r.sessionIn(ctx, ActionCompleteLayerUpload, key, id)
	if err != nil {
		return metadata.Blob{}, err
	}
	plan := &pushPlan{key: key, action: ActionCompleteLayerUpload, exists: true, repo: repo}
	if start >= 0 && start != u.Size {
		return metadata.Blob{}, errorf(CodeRangeInvalid,
			"the last chunk starts at byte %d but the upload holds %d bytes: send the chunk that starts at %d", start, u.Size, u.Size)
	}
	w, err := r.resumeUpload(ctx, u)
	if err != nil {
		return metadata.Blob{}, err
	}
	committed := false
	defer func() {
		if !committed {
			w.Close()
		}
	}()
	session := u // as recorded: what a finishing mark keeps (see ingest)
	var live hash.Hash
	if body != nil {
		if u, live, err = r.writeChunk(ctx, u, w, length, body, false); err != nil {
			return metadata.Blob{}, err
		}
	}
	var got digest.Digest
	if live != nil && d.Algorithm() == digest.SHA256 {
		got = digest.NewDigest(digest.SHA256, live)
	} else if got, err = r.uploadDigest(ctx, u, d.Algorithm()); err != nil {
		return metadata.Blob{}, err
	}
	if err := checkDigest(d, got); err != nil {
		r.cancel(ctx, u.ID)
		return metadata.Blob{}, err
	}
	b := metadata.Blob{Digest: d, Size: u.Size}
	encrypted := false
	err = r.ingest(ctx, ingestion{plan: plan, blob: b,
		store: func(ctx context.Context, sp blobspace.Space) error {
			committed, encrypted = true, sp.Encrypted()
			if !encrypted {
				return w.Commit(ctx, d)
			}
			// The upload is plaintext: encrypt it into the key's
			// namespace. It is kept until the link commits, so that a
			// failure here leaves a session the client can finish again.
			if err := w.Close(); err != nil {
				return err
			}
			return r.spaces.EncryptUpload(ctx, sp, id, b)
		},
		also:    func(ctx context.Context, tx metadata.Tx) error { return tx.DeleteUpload(ctx, id) },
		session: &session,
	})
	switch {
	case isNoSpace(err):
		r.cancel(ctx, id)
		return metadata.Blob{}, r.spaceError(ctx, err)
	case errors.Is(err, blobstore.ErrNotFound):
		// Its bytes went with its repository, deleted meanwhile (by
		// another process: this one waits for the upload's lock).
		return metadata.Blob{}, uploadNotFound(key, id)
	case errors.Is(err, gc.ErrBlobGone):
		r.cancel(ctx, id) // its bytes became the blob, which is gone
		return metadata.Blob{}, blobCollected(d)
	case err != nil:
		return metadata.Blob{}, err
	}
	if encrypted {
		r.discardUpload(id) // the plaintext: the encrypted blob is linked
	}
	r.log.Info("blob pushed", "account", key.Account, "region", key.Region, "repository", key.Name, "digest", d, "size", u.Size)
	return b, nil
}

// uploadDigest returns the digest of everything the upload holds, from the
// running state when the algorithm is SHA-256, else by reading it again.
func (r *Registry) uploadDigest(ctx context.Context, u metadata.Upload, alg digest.Algorithm) (digest.Digest, error) {
	if alg == digest.SHA256 {
		h, err := r.resumeHash(ctx, u)
		if err != nil {
			return "", err
		}
		return digest.NewDigest(alg, h), nil
	}
	h := alg.Hash()
	if err := r.hashUpload(ctx, u, h); err != nil {
		return "", err
	}
	return digest.NewDigest(alg, h), nil
}

// CancelUpload ends an upload session and removes what it received.
func (r *Registry) CancelUpload(ctx context.Context, key metadata.RepoKey, id string) error {
	if err := r.uploads.acquire(id); err != nil {
		return err
	}
	defer r.uploads.release(id)
	if _, err := r.session(ctx, ActionUploadLayerPart, key, id); err != nil {
		return err
	}
	r.cancel(ctx, id)
	return nil
}

// cancel removes an upload's record, then its bytes.
func (r *Registry) cancel(ctx context.Context, id string) {
	ctx = context.WithoutCancel(ctx)
	if err := r.meta.UpdateNoSync(ctx, func(tx metadata.Tx) error { return tx.DeleteUpload(ctx, id) }); err != nil {
		r.log.Warn("removing an upload record", "upload", id, "err", err)
		return
	}
	r.discardUpload(id)
}

// ExpireUploads removes upload sessions untouched for longer than the
// upload TTL, and upload bytes that have no session (from single-request
// pushes that never finished).
func (r *Registry) ExpireUploads(ctx context.Context) error {
	cutoff := r.now().Add(-r.opts.UploadTTL)
	records, err := r.meta.Uploads(ctx)
	if err != nil {
		return err
	}
	known := make(map[string]bool, len(records))
	for _, u := range records {
		known[u.ID] = true
		if u.UpdatedAt.Before(cutoff) {
			r.log.Info("upload expired", "upload", u.ID, "repository", u.Repo.Name, "size", u.Size)
			r.cancel(ctx, u.ID)
		}
	}
	files, err := r.blobs.Uploads(ctx)
	if err != nil {
		return err
	}
	for _, f := range files {
		if !known[f.ID] && f.Modified.Before(cutoff) {
			r.discardUpload(f.ID)
		}
	}
	_, err = r.sweepNamespaceUploads(ctx, cutoff)
	return err
}

// sweepNamespaceUploads removes the uploads of blob namespaces last
// written before cutoff. Those are encryptions (or copies) in progress,
// which never outlive their request: any left is what a crash or a
// failure left behind.
func (r *Registry) sweepNamespaceUploads(ctx context.Context, cutoff time.Time) (int, error) {
	stores, err := r.spaces.All(ctx)
	if err != nil {
		return 0, err
	}
	removed := 0
	for _, st := range stores[1:] {
		ups, err := st.Uploads(ctx)
		if err != nil {
			return removed, err
		}
		for _, u := range ups {
			if u.Modified.Before(cutoff) {
				if err := st.DeleteUpload(ctx, u.ID); err != nil {
					return removed, err
				}
				removed++
			}
		}
	}
	return removed, nil
}

// Recover removes what a crash left half-done: upload bytes without a
// session (single-request pushes cut short; sessions whose record was never
// written), sessions whose bytes are gone, and the uploads of blob
// namespaces (encryptions cut short); and it links the blob of a session
// that was finishing when the crash came, if its bytes were committed
// (see ingest). It runs at start-up, before requests are served.
// Finished blobs and committed metadata need no other repair: both are
// written atomically.
//
// With shared stores (Options.Shared) what looks half-done may be another
// process's work in flight, so only the job leases are taken back: the
// uploads a crash left are removed by expiry (ExpireUploads), after the
// upload TTL, as those of any process are.
func (r *Registry) Recover(ctx context.Context) error {
	if r.opts.Shared {
		return r.releasePreviousLeases(ctx)
	}
	records, err := r.meta.Uploads(ctx)
	if err != nil {
		return err
	}
	files, err := r.blobs.Uploads(ctx)
	if err != nil {
		return err
	}
	onDisk := make(map[string]bool, len(files))
	for _, f := range files {
		onDisk[f.ID] = true
	}
	known := make(map[string]bool, len(records))
	removed, linked := 0, 0
	for _, u := range records {
		known[u.ID] = true
		if onDisk[u.ID] {
			continue
		}
		if u.Finishing != "" {
			ok, err := r.finishInterrupted(ctx, u)
			if err != nil {
				return err
			}
			if ok {
				linked++
				continue
			}
		}
		if err := r.meta.UpdateNoSync(ctx, func(tx metadata.Tx) error { return tx.DeleteUpload(ctx, u.ID) }); err != nil {
			return err
		}
		removed++
	}
	if linked > 0 {
		r.log.Info("recovery linked the blobs of interrupted pushes", "count", linked)
	}
	for _, f := range files {
		if !known[f.ID] {
			if err := r.blobs.DeleteUpload(ctx, f.ID); err != nil {
				return err
			}
			removed++
		}
	}
	// Nothing is being encrypted before requests are served.
	n, err := r.sweepNamespaceUploads(ctx, time.Now().Add(time.Hour))
	if err != nil {
		return err
	}
	removed += n
	if removed > 0 {
		r.log.Info("recovery removed interrupted uploads", "count", removed)
	}
	return r.releasePreviousLeases(ctx)
}

// finishInterrupted ends a session whose finishing a crash interrupted
// (see ingest): its bytes have left the upload area, so the store's
// commit ran, and if the blob is stored its link, which the crash may
// have lost, is made with the session's end. The finishing mark was
// durable before the client was answered; the link need not have been.
// It reports whether it linked the blob; a session that did not get that
// far is for the caller to remove.
func (r *Registry) finishInterrupted(ctx context.Context, u metadata.Upload) (bool, error) {
	size, err := r.blobs.Stat(ctx, u.Finishing)
	if errors.Is(err, blobstore.ErrNotFound) {
		return false, nil
	}
	if err != nil {
		return false, err
	}
	b := metadata.Blob{Digest: u.Finishing, Size: size}
	now := r.now()
	err = r.meta.Update(ctx, func(tx metadata.Tx) error {
		repo, err := tx.Repository(ctx, u.Repo)
		if err != nil {
			return err
		}
		if err := gc.Link(ctx, tx, repo.ID, b, now); err != nil {
			return err
		}
		return tx.DeleteUpload(ctx, u.ID)
	})
	switch {
	case err == nil:
		return true, nil
	case errors.Is(err, metadata.ErrNotFound), errors.Is(err, gc.ErrBlobGone):
		return false, nil
	}
	return false, err
}

// releasePreviousLeases takes back the job leases held under this
// process's name: its previous run's, which died holding them, now
// rather than after they expire (a collection or lifecycle run left
// half-done is finished by the next one, see internal/registry/gc).
func (r *Registry) releasePreviousLeases(ctx context.Context) error {
	freed, err := r.leases.ReleasePrevious(ctx)
	if err != nil {
		return err
	}
	if freed > 0 {
		r.log.Info("recovery freed the job leases of the previous run", "count", freed)
	}
	return nil
}

type countingWriter struct {
	w io.Writer
	n int64
}

func (c *countingWriter) Write(p []byte) (int, error) {
	n, err := c.w.Write(p)
	c.n += int64(n)
	return n, err
}

// clientBody marks errors that come from reading the request, so that a
// client that hangs up is not reported as a server failure.
type clientBody struct{ r io.Reader }

type clientError struct{ err error }

func (e clientError) Error() string { return e.err.Error() }
func (e clientError) Unwrap() error { return e.err }

func (b clientBody) Read(p []byte) (int, error) {
	n, err := b.r.Read(p)
	if err != nil && err != io.EOF {
		err = clientError{err}
	}
	return n, err
}

// bodyError turns a failure to read the request into a client error.
func bodyError(err error) error {
	var ce clientError
	if errors.As(err, &ce) {
		return errorf(CodeBlobUploadInvalid, "reading the request body failed: %v; check the upload's status and resume", ce.err)
	}
	return err
}
