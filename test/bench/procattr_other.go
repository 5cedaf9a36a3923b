//go:build !linux

package main

import "syscall"

// sysProcAttr puts a child in its own process group. The benchmark reads
// /proc for memory figures, so it is meant for Linux.
func sysProcAttr() *syscall.SysProcAttr {
	return &syscall.SysProcAttr{Setpgid: true}
}
