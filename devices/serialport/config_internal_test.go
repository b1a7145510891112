//go:build linux || windows || cgo

package serialport

import (
	"testing"

	"github.com/tarm/serial"
)

// What the serial library is asked for, since a pty cannot show parity.
func TestTarmConfigParity(t *testing.T) {
	for _, tt := range []struct {
		in   Parity
		want serial.Parity
	}{{ParityNone, serial.ParityNone}, {ParityEven, serial.ParityEven}} {
		c := tarmConfig("/dev/ttyUSB0", 9600, tt.in, 0)
		if c.Parity != tt.want || c.Size != 8 || c.StopBits != serial.Stop1 || c.Baud != 9600 {
			t.Errorf("parity %c: config %+v, want 8%c1 at 9600", tt.in, c, tt.want)
		}
	}
}
