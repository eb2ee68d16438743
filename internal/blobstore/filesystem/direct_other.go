//go:build !linux

package filesystem

import (
	"errors"
	"os"
)

// setDirect is unsupported here: uploads are written through the page
// cache.
func setDirect(*os.File, bool) error { return errors.ErrUnsupported }

func isDirect(*os.File) bool { return false }
