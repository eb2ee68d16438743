// Package filesystem stores blobs as content-addressed files under one
// directory:
//
//	<root>/blobs/<algorithm>/<first two hex digits>/<hex>   finished blobs
//	<root>/uploads/<id>                                      uploads in progress
//	<root>/namespaces/<name>/                                a namespace: blobs/ and uploads/ as above
//
// Both trees sit on the same filesystem so that finishing an upload is a
// rename. A blob file appears under blobs/ only after its bytes and its
// directory entry are on disk (fsync), so a crash never exposes a partial
// blob; what a crash leaves in uploads/ is removed by the registry's
// start-up recovery.
package filesystem

import (
	"context"
	"errors"
	"fmt"
	"io"
	"io/fs"
	"os"
	"path/filepath"
	"strings"
	"sync"

	"github.com/opencontainers/go-digest"
	"golang.org/x/sys/unix"

	"github.com/ecrd/ecrd/internal/blobstore"
)

// Store is a blobstore.Store on a local filesystem.
type Store struct {
	root    string
	blobs   string
	uploads string

	// dirs holds an open handle on each fan-out directory that is known to
	// exist durably, so that a commit fsyncs its directory without opening
	// it (at most 256 per digest algorithm).
	dirs sync.Map // string -> *os.File

	spaces sync.Map   // namespace name -> *Store, open
	spaceM sync.Mutex // serializes creating namespaces
}

var (
	_ blobstore.Store         = (*Store)(nil)
	_ blobstore.Namespaced    = (*Store)(nil)
	_ blobstore.SpaceReporter = (*Store)(nil)
)

// New opens (creating if needed) a store rooted at dir.
func New(dir string) (*Store, error) {
	s := &Store{root: dir, blobs: filepath.Join(dir, "blobs"), uploads: filepath.Join(dir, "uploads")}
	for _, d := range []string{dir, s.blobs, s.uploads} {
		if err := os.MkdirAll(d, 0o750); err != nil {
			return nil, fmt.Errorf("creating blob directory: %w", err)
		}
	}
	if err := syncDir(dir); err != nil {
		return nil, err
	}
	return s, nil
}

func (s *Store) blobPath(d digest.Digest) (string, error) {
	if err := d.Validate(); err != nil {
		return "", fmt.Errorf("blob path for %q: %w", d, err)
	}
	hex := d.Encoded()
	return filepath.Join(s.blobs, string(d.Algorithm()), hex[:2], hex), nil
}

func (s *Store) uploadPath(id string) (string, error) {
	// IDs come from URLs: never let one name a path outside uploads/.
	if id == "" || strings.ContainsAny(id, `/\`) || id == "." || id == ".." {
		return "", fmt.Errorf("upload %q: %w", id, blobstore.ErrNotFound)
	}
	return filepath.Join(s.uploads, id), nil
}

// Stat implements blobstore.Store.
func (s *Store) Stat(_ context.Context, d digest.Digest) (int64, error) {
	p, err := s.blobPath(d)
	if err != nil {
		return 0, err
	}
	fi, err := os.Stat(p)
	if err != nil {
		return 0, notFound(err, "blob %s", d)
	}
	return fi.Size(), nil
}

// Open implements blobstore.Store. It returns an *os.File.
func (s *Store) Open(_ context.Context, d digest.Digest) (io.ReadSeekCloser, error) {
	p, err := s.blobPath(d)
	if err != nil {
		return nil, err
	}
	f, err := os.Open(p)
	if err != nil {
		return nil, notFound(err, "blob %s", d)
	}
	return f, nil
}

// Delete implements blobstore.Store.
func (s *Store) Delete(_ context.Context, d digest.Digest) error {
	p, err := s.blobPath(d)
	if err != nil {
		return err
	}
	if err := os.Remove(p); err != nil && !errors.Is(err, fs.ErrNotExist) {
		return fmt.Errorf("deleting blob %s: %w", d, err)
	}
	return nil
}

// Walk implements blobstore.Store. It reports the files of blobs/ that
// are named and placed as a blob's (a stray file is not a blob, and
// deleting it by digest would miss it), in digest order per algorithm.
func (s *Store) Walk(ctx context.Context, fn func(blobstore.BlobInfo) error) error {
	algs, err := os.ReadDir(s.blobs)
	if err != nil {
		return fmt.Errorf("listing blobs: %w", err)
	}
	for _, alg := range algs {
		a := digest.Algorithm(alg.Name())
		if !alg.IsDir() || !a.Available() {
			continue
		}
		fanouts, err := os.ReadDir(filepath.Join(s.blobs, alg.Name()))
		if err != nil {
			return fmt.Errorf("listing blobs: %w", err)
		}
		for _, fanout := range fanouts {
			if !fanout.IsDir() {
				continue
			}
			if err := ctx.Err(); err != nil {
				return err
			}
			dir := filepath.Join(s.blobs, alg.Name(), fanout.Name())
			files, err := os.ReadDir(dir)
			if err != nil {
				return fmt.Errorf("listing blobs: %w", err)
			}
			for _, f := range files {
				d := digest.NewDigestFromEncoded(a, f.Name())
				if !f.Type().IsRegular() || d.Validate() != nil || f.Name()[:2] != fanout.Name() {
					continue
				}
				fi, err := f.Info()
				if errors.Is(err, fs.ErrNotExist) {
					continue // deleted meanwhile
				}
				if err != nil {
					return fmt.Errorf("listing blobs: %w", err)
				}
				if err := fn(blobstore.BlobInfo{Digest: d, Size: fi.Size(), Modified: fi.ModTime()}); err != nil {
					return err
				}
			}
		}
	}
	return nil
}

// CreateUpload implements blobstore.Store.
func (s *Store) CreateUpload(_ context.Context, id string) (blobstore.UploadWriter, error) {
	p, err := s.uploadPath(id)
	if err != nil {
		return nil, err
	}
	f, err := os.OpenFile(p, os.O_RDWR|os.O_CREATE|os.O_EXCL, 0o640)
	if err != nil {
		return nil, fmt.Errorf("creating upload %s: %w", id, noSpace(err))
	}
	return &uploadWriter{s: s, id: id, f: f}, nil
}

// ResumeUpload implements blobstore.Store.
func (s *Store) ResumeUpload(_ context.Context, id string, offset int64) (blobstore.UploadWriter, error) {
	p, err := s.uploadPath(id)
	if err != nil {
		return nil, err
	}
	f, err := os.OpenFile(p, os.O_RDWR, 0)
	if err != nil {
		return nil, notFound(err, "upload %s", id)
	}
	fi, err := f.Stat()
	if err == nil {
		switch size := fi.Size(); {
		case size < offset:
			err = fmt.Errorf("upload %s holds %d bytes, not %d: %w", id, size, offset, blobstore.ErrOffset)
		case size > offset:
			// An interrupted write left bytes nobody acknowledged.
			err = f.Truncate(offset)
		}
	}
	if err == nil {
		_, err = f.Seek(offset, io.SeekStart)
	}
	if err != nil {
		f.Close()
		return nil, err
	}
	return &uploadWriter{s: s, id: id, f: f, size: offset, wbStart: offset}, nil
}

// uploadWriter appends to an upload file. Every writebackChunk bytes it
// asks the kernel to start writing back what it has (see startWriteback),
// so that the fdatasync in Commit has little left to do: the disk works
// while the network delivers, instead of after it.
type uploadWriter struct {
	s       *Store
	id      string
	f       *os.File
	size    int64
	wbStart int64 // first byte not yet handed to write-back
}

func (w *uploadWriter) Write(p []byte) (int, error) {
	n, err := w.f.Write(p)
	w.size += int64(n)
	if w.size-w.wbStart >= writebackChunk {
		startWriteback(w.f, w.wbStart, w.size-w.wbStart)
		w.wbStart = w.size
	}
	return n, noSpace(err)
}

func (w *uploadWriter) Size() int64 { return w.size }

func (w *uploadWriter) Close() error { return w.f.Close() }

// Commit implements blobstore.UploadWriter: fdatasync the data, rename it
// into place, fsync the directory. Only then is the blob acknowledged.
func (w *uploadWriter) Commit(_ context.Context, d digest.Digest) error {
	dst, err := w.s.blobPath(d)
	if err != nil {
		w.f.Close()
		return err
	}
	if _, err := os.Stat(dst); err == nil {
		// Same digest, same bytes: keep the durable copy.
		w.f.Close()
		return removeIfExists(w.f.Name())
	}
	err = fdatasync(w.f)
	if cerr := w.f.Close(); err == nil {
		err = cerr
	}
	if err != nil {
		return fmt.Errorf("making upload %s durable: %w", w.id, noSpace(err))
	}
	dir, err := w.s.fanOutDir(filepath.Dir(dst))
	if err != nil {
		return err
	}
	if err := os.Rename(w.f.Name(), dst); err != nil {
		return notFound(err, "moving upload %s into place as %s", w.id, d)
	}
	// The rename removed an entry from uploads/ too, but losing that in a
	// crash only leaves a stray upload file, which recovery removes.
	if err := dir.Sync(); err != nil {
		return fmt.Errorf("syncing directory %s: %w", dir.Name(), err)
	}
	return nil
}

// ReadUpload implements blobstore.Store.
func (s *Store) ReadUpload(_ context.Context, id string, offset, size int64) (io.ReadCloser, error) {
	p, err := s.uploadPath(id)
	if err != nil {
		return nil, err
	}
	f, err := os.Open(p)
	if err != nil {
		return nil, notFound(err, "upload %s", id)
	}
	return struct {
		io.Reader
		io.Closer
	}{io.NewSectionReader(f, offset, size-offset), f}, nil
}

// fanOutDir returns an open handle on a blob fan-out directory, creating
// the directory durably the first time.
func (s *Store) fanOutDir(dir string) (*os.File, error) {
	if f, ok := s.dirs.Load(dir); ok {
		return f.(*os.File), nil
	}
	parent := filepath.Dir(dir)
	if err := os.MkdirAll(parent, 0o750); err != nil {
		return nil, err
	}
	err := os.Mkdir(dir, 0o750)
	switch {
	case err == nil:
		if err := syncDir(parent); err != nil {
			return nil, err
		}
		if err := syncDir(filepath.Dir(parent)); err != nil {
			return nil, err
		}
	case !errors.Is(err, fs.ErrExist):
		return nil, fmt.Errorf("creating blob directory: %w", err)
	}
	f, err := os.Open(dir)
	if err != nil {
		return nil, err
	}
	if prev, loaded := s.dirs.LoadOrStore(dir, f); loaded {
		f.Close() // another commit opened it first
		return prev.(*os.File), nil
	}
	return f, nil
}

// Close releases the directory handles, the namespaces' too.
func (s *Store) Close() error {
	s.dirs.Range(func(k, v any) bool {
		v.(*os.File).Close()
		s.dirs.Delete(k)
		return true
	})
	s.spaces.Range(func(k, v any) bool {
		v.(*Store).Close()
		s.spaces.Delete(k)
		return true
	})
	return nil
}

// namespaceDir holds the namespaces, each a store of its own. It sits
// beside blobs/ and uploads/, on the same filesystem, so a namespace's
// commits are renames too.
const namespaceDir = "namespaces"

// Namespace implements blobstore.Namespaced: the namespace is a Store
// rooted at <root>/namespaces/<name>.
func (s *Store) Namespace(_ context.Context, name string) (blobstore.Store, error) {
	if v, ok := s.spaces.Load(name); ok {
		return v.(*Store), nil
	}
	if !blobstore.ValidNamespace(name) {
		return nil, fmt.Errorf("invalid blob namespace name %q", name)
	}
	s.spaceM.Lock()
	defer s.spaceM.Unlock()
	if v, ok := s.spaces.Load(name); ok {
		return v.(*Store), nil
	}
	parent := filepath.Join(s.root, namespaceDir)
	_, err := os.Stat(filepath.Join(parent, name))
	existed := err == nil
	ns, err := New(filepath.Join(parent, name))
	if err != nil {
		return nil, err
	}
	if !existed {
		// New made the namespace's own entries durable; its entry in
		// namespaces/, and that of namespaces/ in the root, must be too,
		// before any blob committed there is acknowledged.
		for _, d := range []string{parent, s.root} {
			if err := syncDir(d); err != nil {
				ns.Close()
				return nil, err
			}
		}
	}
	s.spaces.Store(name, ns)
	return ns, nil
}

// Namespaces implements blobstore.Namespaced.
func (s *Store) Namespaces(_ context.Context) ([]string, error) {
	entries, err := os.ReadDir(filepath.Join(s.root, namespaceDir))
	if errors.Is(err, fs.ErrNotExist) {
		return nil, nil
	}
	if err != nil {
		return nil, fmt.Errorf("listing blob namespaces: %w", err)
	}
	var out []string
	for _, e := range entries {
		if e.IsDir() && blobstore.ValidNamespace(e.Name()) {
			out = append(out, e.Name())
		}
	}
	return out, nil
}

// DeleteUpload implements blobstore.Store.
func (s *Store) DeleteUpload(_ context.Context, id string) error {
	p, err := s.uploadPath(id)
	if err != nil {
		return nil
	}
	return removeIfExists(p)
}

// Uploads implements blobstore.Store.
func (s *Store) Uploads(_ context.Context) ([]blobstore.Upload, error) {
	entries, err := os.ReadDir(s.uploads)
	if err != nil {
		return nil, err
	}
	out := make([]blobstore.Upload, 0, len(entries))
	for _, e := range entries {
		fi, err := e.Info()
		if err != nil {
			continue // removed meanwhile
		}
		out = append(out, blobstore.Upload{ID: e.Name(), Size: fi.Size(), Modified: fi.ModTime()})
	}
	return out, nil
}

// Ready implements blobstore.Store: the upload directory must be writable.
func (s *Store) Ready(_ context.Context) error {
	f, err := os.CreateTemp(s.uploads, ".ready-*")
	if err != nil {
		return fmt.Errorf("blob storage is not writable: %w", err)
	}
	name := f.Name()
	f.Close()
	return os.Remove(name)
}

// FreeSpace implements blobstore.SpaceReporter: what an unprivileged
// writer may still use of the filesystem the store is on.
func (s *Store) FreeSpace(_ context.Context) (int64, error) {
	var st unix.Statfs_t
	if err := unix.Statfs(s.root, &st); err != nil {
		return 0, fmt.Errorf("reading the free space of %s: %w", s.root, err)
	}
	return int64(st.Bavail) * int64(st.Bsize), nil
}

// noSpace marks a write that failed for want of room.
func noSpace(err error) error {
	if errors.Is(err, unix.ENOSPC) || errors.Is(err, unix.EDQUOT) {
		return fmt.Errorf("%w: %w", blobstore.ErrNoSpace, err)
	}
	return err
}

func notFound(err error, format string, args ...any) error {
	if errors.Is(err, fs.ErrNotExist) {
		return fmt.Errorf(format+": %w", append(args, blobstore.ErrNotFound)...)
	}
	return fmt.Errorf(format+": %w", append(args, err)...)
}

func removeIfExists(p string) error {
	if err := os.Remove(p); err != nil && !errors.Is(err, fs.ErrNotExist) {
		return err
	}
	return nil
}

func syncDir(dir string) error {
	d, err := os.Open(dir)
	if err != nil {
		return err
	}
	err = d.Sync()
	if cerr := d.Close(); err == nil {
		err = cerr
	}
	if err != nil {
		return fmt.Errorf("syncing directory %s: %w", dir, err)
	}
	return nil
}
