package s3test

import (
	"os/exec"
	"syscall"
)

// killWithParent has the kernel kill the command when the thread that
// started it exits.
func killWithParent(cmd *exec.Cmd) {
	cmd.SysProcAttr = &syscall.SysProcAttr{Pdeathsig: syscall.SIGKILL}
}
