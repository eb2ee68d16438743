package filesystem

import (
	"os"

	"golang.org/x/sys/unix"
)

// writebackChunk is how much written data may sit dirty in the page cache
// before we ask the kernel to start writing it out.
const writebackChunk = 8 << 20

// writebackWriter writes to f and, every writebackChunk bytes, starts
// asynchronous write-back of what was written (sync_file_range with
// SYNC_FILE_RANGE_WRITE does not wait). The final fdatasync then finds
// most pages already clean.
type writebackWriter struct {
	f     *os.File
	start int64 // first byte not yet handed to write-back
	pos   int64
}

func (w *writebackWriter) Write(p []byte) (int, error) {
	n, err := w.f.Write(p)
	w.pos += int64(n)
	if w.pos-w.start >= writebackChunk {
		// Best effort: a failure here only loses the overlap, not data.
		_ = unix.SyncFileRange(int(w.f.Fd()), w.start, w.pos-w.start, unix.SYNC_FILE_RANGE_WRITE)
		w.start = w.pos
	}
	return n, err
}

func fdatasync(f *os.File) error {
	return unix.Fdatasync(int(f.Fd()))
}
