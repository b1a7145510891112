package hd44780

import (
	"errors"
	"fmt"
	"time"

	"periph.io/x/conn/v3/gpio"
	"periph.io/x/conn/v3/i2c"
)

// Bus carries nibbles to the controller's 4-bit interface.
type Bus interface {
	// WriteNibble strobes the low four bits of n with RS low. Only the reset
	// sequence, which runs before the controller is in 4-bit mode, uses it.
	WriteNibble(n byte) error
	// Write strobes each byte as two nibbles, high first, with RS high for
	// data and low for commands, and lets each byte's execution time (37 µs)
	// pass before the next.
	Write(rs bool, b []byte) error
	// SetBacklight switches the backlight, where the wiring can.
	SetBacklight(on bool) error
}

// Timings of the 4-bit interface. The datasheet asks for an E pulse of at
// least 450 ns and 37 µs between instructions at 270 kHz; slow clones run
// their oscillator near 190 kHz, hence the margin.
const (
	enablePulse = time.Microsecond
	execTime    = 60 * time.Microsecond
)

// GPIO is the 4-bit interface on six GPIO lines: RS, E and D4–D7, with R/W
// wired to ground.
type GPIO struct {
	rs, e     gpio.PinOut
	d         [4]gpio.PinOut // D4…D7
	backlight gpio.PinOut
	sleep     func(time.Duration)
}

// NewGPIO sets every line low and returns the bus. backlight may be nil when
// the backlight is wired to the supply; sleep nil means time.Sleep.
func NewGPIO(rs, e, d4, d5, d6, d7, backlight gpio.PinOut, sleep func(time.Duration)) (*GPIO, error) {
	if sleep == nil {
		sleep = time.Sleep
	}
	g := &GPIO{rs: rs, e: e, d: [4]gpio.PinOut{d4, d5, d6, d7}, backlight: backlight, sleep: sleep}
	for _, p := range append([]gpio.PinOut{e, rs}, g.d[:]...) {
		if p == nil {
			return nil, errors.New("hd44780: RS, E and D4–D7 all need a pin")
		}
		if err := p.Out(gpio.Low); err != nil {
			return nil, fmt.Errorf("hd44780: set %s low: %w", p, err)
		}
	}
	return g, nil
}

func (g *GPIO) nibble(rs bool, n byte) error {
	if err := g.rs.Out(gpio.Level(rs)); err != nil {
		return fmt.Errorf("hd44780: RS on %s: %w", g.rs, err)
	}
	for i, p := range g.d {
		if err := p.Out(gpio.Level(n&(1<<i) != 0)); err != nil {
			return fmt.Errorf("hd44780: D%d on %s: %w", 4+i, p, err)
		}
	}
	if err := g.e.Out(gpio.High); err != nil {
		return fmt.Errorf("hd44780: E on %s: %w", g.e, err)
	}
	g.sleep(enablePulse)
	// The controller latches the nibble on this falling edge.
	if err := g.e.Out(gpio.Low); err != nil {
		return fmt.Errorf("hd44780: E on %s: %w", g.e, err)
	}
	return nil
}

// WriteNibble implements Bus.
func (g *GPIO) WriteNibble(n byte) error { return g.nibble(false, n&0x0f) }

// Write implements Bus.
func (g *GPIO) Write(rs bool, b []byte) error {
	for _, c := range b {
		if err := g.nibble(rs, c>>4); err != nil {
			return err
		}
		if err := g.nibble(rs, c&0x0f); err != nil {
			return err
		}
		g.sleep(execTime)
	}
	return nil
}

// SetBacklight implements Bus; without a backlight pin it does nothing.
func (g *GPIO) SetBacklight(on bool) error {
	if g.backlight == nil {
		return nil
	}
	if err := g.backlight.Out(gpio.Level(on)); err != nil {
		return fmt.Errorf("hd44780: backlight on %s: %w", g.backlight, err)
	}
	return nil
}

// Lines of the PCF8574 backpack: P0=RS P1=RW P2=E P3=backlight P4–P7=D4–D7.
// P1 (R/W) stays low: the driver only writes.
const (
	pcfRS        = 0x01
	pcfE         = 0x04
	pcfBacklight = 0x08
)

// DefaultAddr is the address of a PCF8574 backpack with A0–A2 open; a
// PCF8574A backpack answers at 0x3F.
const DefaultAddr = 0x27

// PCF8574 is the 4-bit interface behind a PCF8574 I²C port expander.
//
// Each nibble takes three bus bytes: data with E low (RS settles before E
// rises), the same with E high, and with E low again (the controller
// latches). At the expander's 100 kHz one byte lasts 90 µs, which is both the
// E pulse and, over the six bytes of a character, far more than the 37 µs the
// controller needs, so the bus itself paces the writes and no sleep is taken.
type PCF8574 struct {
	dev       i2c.Dev
	backlight byte
}

// NewPCF8574 drives the expander at addr on bus low with the backlight on,
// which also checks that something answers there.
func NewPCF8574(bus i2c.Bus, addr uint16) (*PCF8574, error) {
	p := &PCF8574{dev: i2c.Dev{Bus: bus, Addr: addr}, backlight: pcfBacklight}
	if err := p.dev.Tx([]byte{p.backlight}, nil); err != nil {
		return nil, fmt.Errorf("hd44780: no PCF8574 answers at %#02x on %s (check the wiring and the address, e.g. with i2cdetect; PCF8574A backpacks use 0x3f): %w", addr, bus, err)
	}
	return p, nil
}

func (p *PCF8574) appendNibble(buf []byte, rs bool, n byte) []byte {
	v := n<<4 | p.backlight
	if rs {
		v |= pcfRS
	}
	return append(buf, v, v|pcfE, v)
}

// WriteNibble implements Bus.
func (p *PCF8574) WriteNibble(n byte) error {
	if err := p.dev.Tx(p.appendNibble(nil, false, n&0x0f), nil); err != nil {
		return fmt.Errorf("hd44780: write to PCF8574 at %#02x: %w", p.dev.Addr, err)
	}
	return nil
}

// Write implements Bus, in a single bus transaction.
func (p *PCF8574) Write(rs bool, b []byte) error {
	buf := make([]byte, 0, 6*len(b))
	for _, c := range b {
		buf = p.appendNibble(buf, rs, c>>4)
		buf = p.appendNibble(buf, rs, c&0x0f)
	}
	if err := p.dev.Tx(buf, nil); err != nil {
		return fmt.Errorf("hd44780: write to PCF8574 at %#02x: %w", p.dev.Addr, err)
	}
	return nil
}

// SetBacklight implements Bus.
func (p *PCF8574) SetBacklight(on bool) error {
	p.backlight = 0
	if on {
		p.backlight = pcfBacklight
	}
	if err := p.dev.Tx([]byte{p.backlight}, nil); err != nil {
		return fmt.Errorf("hd44780: backlight on PCF8574 at %#02x: %w", p.dev.Addr, err)
	}
	return nil
}

var (
	_ Bus = (*GPIO)(nil)
	_ Bus = (*PCF8574)(nil)
)
