//go:build !linux && !windows && !cgo

package serialport

import (
	"errors"
	"time"
)

// Without cgo the serial library has no termios code for this system.
func openRaw(string, int, Parity, time.Duration) (rawPort, error) {
	return nil, errors.ErrUnsupported
}
