//go:build linux || darwin || freebsd || netbsd || openbsd || dragonfly

package update

import (
	"errors"
	"fmt"
	"os"
	"syscall"
)

// lockRoot takes an exclusive flock on the root directory itself, so that
// two updates never interleave, without creating a lock file (a refused
// update must leave the disk as it found it). The kernel drops the lock
// when the process dies, so a crash leaves nothing to clean.
func lockRoot(root string) (unlock func(), err error) {
	f, err := os.Open(root)
	if err != nil {
		return nil, fmt.Errorf("lock %s: %w", root, err)
	}
	if err := syscall.Flock(int(f.Fd()), syscall.LOCK_EX|syscall.LOCK_NB); err != nil {
		f.Close()
		if errors.Is(err, syscall.EWOULDBLOCK) {
			return nil, fmt.Errorf("%w on %s; wait for it to finish", ErrLocked, root)
		}
		return nil, fmt.Errorf("lock %s: %w", root, err)
	}
	return func() { f.Close() }, nil
}
