//go:build !linux

package filesystem

import "os"

const writebackChunk = 256 << 10

// startWriteback does nothing where sync_file_range is unavailable.
func startWriteback(*os.File, int64, int64) {}

func fdatasync(f *os.File) error { return f.Sync() }
