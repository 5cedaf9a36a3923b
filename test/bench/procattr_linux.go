package main

import "syscall"

// sysProcAttr puts a child in its own process group (a Ctrl-C reaches only
// the harness, which stops it in order) and kills it if the harness dies.
func sysProcAttr() *syscall.SysProcAttr {
	return &syscall.SysProcAttr{Setpgid: true, Pdeathsig: syscall.SIGKILL}
}
