//go:build linux || windows || cgo

package serialport

import (
	"time"

	"github.com/tarm/serial"
)

type tarmPort struct{ *serial.Port }

func openRaw(path string, baud int, readTimeout time.Duration) (rawPort, error) {
	p, err := serial.OpenPort(&serial.Config{
		Name:        path,
		Baud:        baud,
		Size:        8,
		Parity:      serial.ParityNone,
		StopBits:    serial.Stop1,
		ReadTimeout: readTimeout,
	})
	if err != nil {
		return nil, err
	}
	return tarmPort{p}, nil
}

func (p tarmPort) flush() error { return flushTarm(p.Port) }
