//go:build unix

package pty

import (
	"fmt"
	"os"

	creackpty "github.com/creack/pty"
	"golang.org/x/sys/unix"
	"golang.org/x/term"
)

// Open opens a pseudo-terminal pair. The master is returned non-blocking so
// that read deadlines work and Close interrupts a pending read; the slave is
// kept open by the emulator so the master never sees EIO while the driver has
// the line closed between reconnects.
func Open() (master, slave *os.File, err error) {
	m, s, err := creackpty.Open()
	if err != nil {
		return nil, nil, fmt.Errorf("open pseudo-terminal: %w", err)
	}
	// os.File treats a character device as not pollable; a non-blocking copy of
	// the descriptor makes the runtime poll it.
	var fd int
	rc, err := m.SyscallConn()
	if err == nil {
		cerr := rc.Control(func(f uintptr) { fd, err = unix.Dup(int(f)) })
		if err == nil {
			err = cerr
		}
	}
	m.Close()
	if err != nil {
		s.Close()
		return nil, nil, fmt.Errorf("duplicate pty master: %w", err)
	}
	if err := unix.SetNonblock(fd, true); err != nil {
		unix.Close(fd)
		s.Close()
		return nil, nil, fmt.Errorf("pty master non-blocking: %w", err)
	}
	// Raw from the start: with the default echo the line discipline would send
	// the emulator's own answers back to it before the driver sets termios.
	if _, err := term.MakeRaw(int(s.Fd())); err != nil {
		unix.Close(fd)
		s.Close()
		return nil, nil, fmt.Errorf("pty raw mode: %w", err)
	}
	return os.NewFile(uintptr(fd), "/dev/ptmx"), s, nil
}
