//go:build !linux

package s3test

import "os/exec"

// killWithParent does nothing here: the server may outlive a test binary
// that ends without calling Stop.
func killWithParent(*exec.Cmd) {}
