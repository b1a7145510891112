package hd44780

import (
	"errors"
	"strings"
	"testing"
	"time"

	"periph.io/x/conn/v3/i2c/i2ctest"
	"periph.io/x/conn/v3/physic"

	"tolem/devices/panel/charrom"
	"tolem/kiosk"
)

// The backpack's byte: D7 D6 D5 D4 BL E RW RS. Every nibble is three bytes:
// E low, E high, E low. These streams are written out by hand.
func w(b ...byte) i2ctest.IO { return i2ctest.IO{Addr: 0x27, W: b} }

var pcfInit = []i2ctest.IO{
	w(0x08), // outputs low, backlight on
	w(0x38, 0x3c, 0x38),
	w(0x38, 0x3c, 0x38),
	w(0x38, 0x3c, 0x38),
	w(0x28, 0x2c, 0x28),
	w(0x28, 0x2c, 0x28, 0x88, 0x8c, 0x88), // function set 0x28
	w(0x08, 0x0c, 0x08, 0x88, 0x8c, 0x88), // display off 0x08
	w(0x08, 0x0c, 0x08, 0x18, 0x1c, 0x18), // clear 0x01
	w(0x08, 0x0c, 0x08, 0x68, 0x6c, 0x68), // entry mode 0x06
	w(0x08, 0x0c, 0x08, 0xc8, 0xcc, 0xc8), // display on 0x0c
	w(0x08),                               // backlight as configured
}

func TestPCF8574ByteStream(t *testing.T) {
	ops := append([]i2ctest.IO(nil), pcfInit...)
	ops = append(ops,
		// "Hi" at address 0 (the clear left the counter there): one
		// transaction, RS high.
		w(0x49, 0x4d, 0x49, 0x89, 0x8d, 0x89, 0x69, 0x6d, 0x69, 0x99, 0x9d, 0x99),
		// "Ho": set DDRAM 0x81, then 'o' (0x6f).
		w(0x88, 0x8c, 0x88, 0x18, 0x1c, 0x18),
		w(0x69, 0x6d, 0x69, 0xf9, 0xfd, 0xf9),
		// Backlight off: one byte, E low.
		w(0x00),
		// ₸ into CGRAM slot 0 with the backlight off: set CGRAM 0x40, the
		// eight rows, then the cell at 0x82 (set DDRAM, code 0).
		w(0x40, 0x44, 0x40, 0x00, 0x04, 0x00),
		w(0x11, 0x15, 0x11, 0xf1, 0xf5, 0xf1, // 0x1f
			0x01, 0x05, 0x01, 0x01, 0x05, 0x01, // 0x00
			0x11, 0x15, 0x11, 0xf1, 0xf5, 0xf1, // 0x1f
			0x01, 0x05, 0x01, 0x41, 0x45, 0x41, // 0x04
			0x01, 0x05, 0x01, 0x41, 0x45, 0x41,
			0x01, 0x05, 0x01, 0x41, 0x45, 0x41,
			0x01, 0x05, 0x01, 0x41, 0x45, 0x41,
			0x01, 0x05, 0x01, 0x01, 0x05, 0x01), // 0x00
		w(0x80, 0x84, 0x80, 0x00, 0x04, 0x00), // set DDRAM 0x00
		w(0x41, 0x45, 0x41, 0xf1, 0xf5, 0xf1), // 'O' (0x4f)
		w(0x80, 0x84, 0x80, 0x20, 0x24, 0x20), // set DDRAM 0x02
		w(0x01, 0x05, 0x01, 0x01, 0x05, 0x01), // CGRAM code 0
	)
	bus := &i2ctest.Playback{Ops: ops, DontPanic: true}
	p, err := NewPCF8574(bus, DefaultAddr)
	if err != nil {
		t.Fatal(err)
	}
	var slept time.Duration
	d, err := New(p, &Opts{ROM: charrom.Cyrillic, Sleep: func(x time.Duration) { slept += x }})
	if err != nil {
		t.Fatal(err)
	}
	for _, step := range []func() error{
		func() error { return d.Show(kiosk.Screen{Lines: [4]string{"Hi"}}) },
		func() error { return d.Show(kiosk.Screen{Lines: [4]string{"Ho"}}) },
		func() error { return d.SetBacklight(false) },
		func() error { return d.Show(kiosk.Screen{Lines: [4]string{"Oo₸"}}) },
	} {
		if err := step(); err != nil {
			t.Fatal(err)
		}
	}
	if err := bus.Close(); err != nil {
		t.Fatal(err)
	}
	// The bus paces the characters; only the initialisation waits.
	if want := 50*time.Millisecond + 4500*time.Microsecond + 3*150*time.Microsecond + 2*time.Millisecond; slept != want {
		t.Errorf("slept %v, want %v", slept, want)
	}
}

func TestPCF8574Record(t *testing.T) {
	// The recorder sees the same init as the playback, at the configured
	// address (a PCF8574A backpack).
	rec := &i2ctest.Record{}
	p, err := NewPCF8574(rec, 0x3f)
	if err != nil {
		t.Fatal(err)
	}
	if _, err := New(p, &Opts{Sleep: func(time.Duration) {}}); err != nil {
		t.Fatal(err)
	}
	if len(rec.Ops) != len(pcfInit) {
		t.Fatalf("%d transactions, want %d", len(rec.Ops), len(pcfInit))
	}
	for i, op := range rec.Ops {
		if op.Addr != 0x3f || string(op.W) != string(pcfInit[i].W) {
			t.Errorf("op %d: %#02x % x, want %#02x % x", i, op.Addr, op.W, 0x3f, pcfInit[i].W)
		}
	}
}

type deadBus struct{}

func (deadBus) String() string                  { return "I2C1" }
func (deadBus) Tx(uint16, []byte, []byte) error { return errors.New("remote I/O error") }
func (deadBus) SetSpeed(physic.Frequency) error { return nil }

func TestPCF8574Absent(t *testing.T) {
	_, err := NewPCF8574(deadBus{}, DefaultAddr)
	if err == nil || !strings.Contains(err.Error(), "no PCF8574 answers at 0x27 on I2C1") || !strings.Contains(err.Error(), "i2cdetect") {
		t.Fatalf("err = %v", err)
	}
}
