package filesystem

import (
	"os"

	"golang.org/x/sys/unix"
)

// writebackChunk is how much written data may sit dirty in the page cache
// before we ask the kernel to start writing it out.
const writebackChunk = 8 << 20

// startWriteback starts asynchronous write-back of a written range
// (sync_file_range with SYNC_FILE_RANGE_WRITE does not wait). Best effort:
// a failure only loses the overlap, never data, since Commit fdatasyncs.
func startWriteback(f *os.File, off, n int64) {
	_ = unix.SyncFileRange(int(f.Fd()), off, n, unix.SYNC_FILE_RANGE_WRITE)
}

func fdatasync(f *os.File) error {
	return unix.Fdatasync(int(f.Fd()))
}
