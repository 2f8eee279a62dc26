package faults

import "syscall"

// procAttr makes the kernel kill a server when the process that started it
// dies, so that a test killed by its timeout leaves no redis-server behind.
func procAttr() *syscall.SysProcAttr {
	return &syscall.SysProcAttr{Pdeathsig: syscall.SIGKILL}
}
