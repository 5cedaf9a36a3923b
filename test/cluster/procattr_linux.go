package cluster

import "syscall"

// sysProcAttr puts the manager in its own process group (terminal signals
// go to our caller only, which stops it in order) and has the kernel kill
// it if our process dies without cleaning up, for example when go test
// hits its -timeout, so no manager outlives the test or the demo.
//
// Pdeathsig fires when the thread that started the child exits, not the
// process; Go keeps that thread alive unless a goroutine locked to it ends
// while still locked, which nothing here does.
func sysProcAttr() *syscall.SysProcAttr {
	return &syscall.SysProcAttr{Setpgid: true, Pdeathsig: syscall.SIGKILL}
}
