package registry

import (
	"context"
	"errors"
	"fmt"
	"io"

	"github.com/ecrd/ecrd/internal/blobstore"
	"github.com/ecrd/ecrd/internal/metadata"
)

// Running out of storage. A blob store that reports its free space (the
// filesystem) is kept above Options.MinFreeSpace: uploads are refused
// when the free space is below it, and an upload that takes it below the
// floor is stopped and removed. The floor is what keeps the metadata
// database, which usually shares the disk, able to commit the deletes an
// operator makes to free space. A write that fails for want of room all
// the same (the floor is 0, or another program filled the disk) is
// answered as storage full, not as a server fault, and what it wrote is
// removed.

// spaceCheckEvery is how many bytes an upload writes between checks of
// the free space: a statfs per 8 MiB costs nothing beside the writes.
const spaceCheckEvery = 8 << 20

// isNoSpace reports whether err is a write that found no room.
func isNoSpace(err error) bool {
	return errors.Is(err, blobstore.ErrNoSpace) || errors.Is(err, metadata.ErrNoSpace) || errors.Is(err, errBelowFloor)
}

// errBelowFloor stops an upload that took the free space below the floor.
var errBelowFloor = errors.New("the free space fell below the floor")

// storageFull is the error of a write refused or failed for want of room.
func (r *Registry) storageFull(free int64) error {
	if free < 0 {
		return errorf(CodeStorageFull, "the registry's storage is full: what this request wrote was removed; free space by deleting images (garbage collection then frees their blobs) and try again")
	}
	return errorf(CodeStorageFull, "the registry's storage is full: %s free, below its floor of %s (min-free-space); uploads are refused until images are deleted and garbage collection frees their blobs",
		sizeText(free), sizeText(r.opts.MinFreeSpace))
}

// freeSpace returns the blob store's free space, or -1 if it does not
// report one.
func (r *Registry) freeSpace(ctx context.Context) (int64, error) {
	sr, ok := r.blobs.(blobstore.SpaceReporter)
	if !ok || r.opts.MinFreeSpace <= 0 {
		return -1, nil
	}
	return sr.FreeSpace(ctx)
}

// checkSpace refuses a new upload when the free space is below the floor.
func (r *Registry) checkSpace(ctx context.Context) error {
	free, err := r.freeSpace(ctx)
	if err != nil {
		return err
	}
	if free >= 0 && free < r.opts.MinFreeSpace {
		return r.storageFull(free)
	}
	return nil
}

// spaceGuard passes writes to an upload and checks the free space every
// spaceCheckEvery bytes, failing with errBelowFloor once it is below the
// floor.
type spaceGuard struct {
	io.Writer
	ctx       context.Context
	r         *Registry
	unchecked int64
}

func (r *Registry) guardSpace(ctx context.Context, w io.Writer) io.Writer {
	if _, ok := r.blobs.(blobstore.SpaceReporter); !ok || r.opts.MinFreeSpace <= 0 {
		return w
	}
	return &spaceGuard{Writer: w, ctx: ctx, r: r}
}

func (g *spaceGuard) Write(p []byte) (int, error) {
	g.unchecked += int64(len(p))
	if g.unchecked >= spaceCheckEvery {
		g.unchecked = 0
		if free, err := g.r.freeSpace(g.ctx); err == nil && free >= 0 && free < g.r.opts.MinFreeSpace {
			return 0, errBelowFloor
		}
	}
	return g.Writer.Write(p)
}

// spaceError turns a failure for want of room into the storage-full
// error, and leaves any other error as it is.
func (r *Registry) spaceError(ctx context.Context, err error) error {
	if err == nil || !isNoSpace(err) {
		return err
	}
	free, ferr := r.freeSpace(ctx)
	if ferr != nil || free >= r.opts.MinFreeSpace {
		free = -1
	}
	r.log.Warn("a write found the storage full", "err", err)
	return r.storageFull(free)
}

func sizeText(n int64) string {
	const unit = 1024
	if n < unit {
		return fmt.Sprintf("%d bytes", n)
	}
	div, exp := int64(unit), 0
	for m := n / unit; m >= unit && exp < 4; m /= unit {
		div *= unit
		exp++
	}
	return fmt.Sprintf("%.1f %ciB", float64(n)/float64(div), "KMGTP"[exp])
}
