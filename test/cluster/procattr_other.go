//go:build unix && !linux

package cluster

import "syscall"

// sysProcAttr puts the manager in its own process group, so terminal
// signals go to our caller only, which stops it in order. Outside Linux
// there is no parent-death signal: a crashed caller can leave it running.
func sysProcAttr() *syscall.SysProcAttr {
	return &syscall.SysProcAttr{Setpgid: true}
}
