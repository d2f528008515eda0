//go:build !linux

package remotetest

import "syscall"

// hasPdeathsig says the servers die with the test process: not here (no
// parent-death signal); Stop, Kill and the test's end still kill them.
const hasPdeathsig = false

// serverAttr starts a server in its own process group.
func serverAttr() *syscall.SysProcAttr {
	return &syscall.SysProcAttr{Setpgid: true}
}
