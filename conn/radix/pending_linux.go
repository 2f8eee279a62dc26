package radix

import (
	"syscall"
	"unsafe"
)

// socketPending returns the bytes received on the socket fd and not read
// yet (FIONREAD, alias TIOCINQ), or 0 when the kernel does not say.
func socketPending(fd uintptr) int {
	var n int32
	const fionread = 0x541B
	if _, _, errno := syscall.Syscall(syscall.SYS_IOCTL, fd, fionread, uintptr(unsafe.Pointer(&n))); errno != 0 {
		return 0
	}
	return int(n)
}
