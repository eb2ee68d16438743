package filesystem

import (
	"os"

	"golang.org/x/sys/unix"
)

// writebackChunk is how much written data may sit dirty in the page cache
// before we ask the kernel to start writing it out. Small, so that the
// disk starts early even on a 1 MB blob: Commit's fdatasync then waits
// for the last chunk or so, not the whole blob: at four clients pushing
// 1 MB, the fdatasync fell from 1.7 to 1.3 ms against 8 MiB
// (docs/benchmarks.md, "One wait for the disk per finished push").
const writebackChunk = 256 << 10

// startWriteback starts asynchronous write-back of a written range
// (sync_file_range with SYNC_FILE_RANGE_WRITE does not wait). Best effort:
// a failure only loses the overlap, never data, since Commit fdatasyncs.
func startWriteback(f *os.File, off, n int64) {
	_ = unix.SyncFileRange(int(f.Fd()), off, n, unix.SYNC_FILE_RANGE_WRITE)
}

func fdatasync(f *os.File) error {
	return unix.Fdatasync(int(f.Fd()))
}
