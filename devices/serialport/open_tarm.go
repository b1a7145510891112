//go:build linux || windows || cgo

package serialport

import (
	"time"

	"github.com/tarm/serial"
)

type tarmPort struct{ *serial.Port }

func openRaw(path string, baud int, parity Parity, readTimeout time.Duration) (rawPort, error) {
	p, err := serial.OpenPort(tarmConfig(path, baud, parity, readTimeout))
	if err != nil {
		return nil, err
	}
	return tarmPort{p}, nil
}

// tarmConfig is the line setting handed to the serial library.
func tarmConfig(path string, baud int, parity Parity, readTimeout time.Duration) *serial.Config {
	par := serial.ParityNone
	if parity == ParityEven {
		par = serial.ParityEven
	}
	return &serial.Config{
		Name:        path,
		Baud:        baud,
		Size:        8,
		Parity:      par,
		StopBits:    serial.Stop1,
		ReadTimeout: readTimeout,
	}
}

func (p tarmPort) flush() error { return flushTarm(p.Port) }
