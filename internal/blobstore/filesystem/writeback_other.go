//go:build !linux

package filesystem

import "os"

// writebackWriter is a plain writer where sync_file_range is unavailable.
type writebackWriter struct {
	f     *os.File
	start int64
	pos   int64
}

func (w *writebackWriter) Write(p []byte) (int, error) { return w.f.Write(p) }

func fdatasync(f *os.File) error { return f.Sync() }
