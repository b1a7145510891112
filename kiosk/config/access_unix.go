//go:build unix

package config

import "syscall"

const (
	accessRead  = 0x4
	accessWrite = 0x2
	accessExec  = 0x1
)

// accessible asks the kernel whether this process's user may use path so,
// the same question open() will ask kioskd.
func accessible(path string, mode uint32) bool {
	return syscall.Access(path, mode) == nil
}
