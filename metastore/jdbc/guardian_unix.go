//go:build unix

package jdbc

import (
	"os/exec"
	"syscall"
)

// detach puts the guardian in a process group of its own, so that a signal
// to the restore's group (Ctrl-C, hang-up) does not reach it.
func detach(cmd *exec.Cmd) {
	if cmd.SysProcAttr == nil {
		cmd.SysProcAttr = &syscall.SysProcAttr{}
	}
	cmd.SysProcAttr.Setpgid = true
}
