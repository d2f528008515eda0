package remotetest

import "syscall"

// hasPdeathsig says the servers die with the test process (Linux's
// parent-death signal).
const hasPdeathsig = true

// serverAttr starts a server in its own process group, killed if the test
// process dies first (its timeout, a kill by hand).
func serverAttr() *syscall.SysProcAttr {
	return &syscall.SysProcAttr{Setpgid: true, Pdeathsig: syscall.SIGKILL}
}
