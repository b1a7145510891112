package panel

import (
	"errors"
	"fmt"
	"strings"
	"time"

	"tolem/devices/panel/charrom"
	"tolem/devices/panel/hd44780"
)

// GPIOConfig is the front panel's wiring, the panel.gpio section of the
// config. Pins are named as periph.io names them on the board: "GPIO17" or,
// on a Raspberry Pi, the header pin "P1_11". An empty name means "not fitted"
// where a part is optional.
type GPIOConfig struct {
	Display DisplayConfig `yaml:"display"`
	Keypad  KeypadConfig  `yaml:"keypad"`
	Buttons ButtonsConfig `yaml:"buttons"`
	// LED is the bezel light, lit (driven high) while cash may go in. Optional.
	LED string `yaml:"led"`
	// Door is the service-door switch. Optional.
	Door string `yaml:"door"`
	// DoorOpenHigh: the door input reads high when the door is open (a switch
	// that closes to ground when the door shuts, with the pull-up). False
	// means open reads low.
	DoorOpenHigh bool `yaml:"door_open_high"`
	// Debounce is how long a key, button or the door must hold still before
	// it counts; zero means 30 ms.
	Debounce time.Duration `yaml:"debounce"`
}

// Display kinds.
const (
	DisplayGPIO4   = "gpio4"
	DisplayPCF8574 = "pcf8574"
)

// DisplayConfig is the LCD's wiring and character ROM.
type DisplayConfig struct {
	// Kind is gpio4 (six GPIO lines) or pcf8574 (I²C backpack).
	Kind string `yaml:"kind"`
	// ROM is the controller's character ROM: a00, a02 or cyrillic.
	ROM string `yaml:"rom"`
	// I2CBus names the bus of the backpack ("1" or "I2C1"); empty means the
	// board's first bus.
	I2CBus string `yaml:"i2c_bus"`
	// I2CAddr is the backpack's address; zero means 0x27.
	I2CAddr uint16 `yaml:"i2c_addr"`
	// RS, E and D4–D7 are the lines of a gpio4 display.
	RS string `yaml:"rs"`
	E  string `yaml:"e"`
	D4 string `yaml:"d4"`
	D5 string `yaml:"d5"`
	D6 string `yaml:"d6"`
	D7 string `yaml:"d7"`
	// Backlight is the line switching a gpio4 display's backlight (through a
	// transistor); empty when the backlight is wired to the supply.
	Backlight string `yaml:"backlight"`
}

// KeypadConfig is a 3×4 matrix keypad. Rows are driven, columns read with
// the pull-up; see the package documentation for the layout.
type KeypadConfig struct {
	Rows [4]string `yaml:"rows"`
	Cols [3]string `yaml:"cols"`
}

// ButtonsConfig is the four buttons beside the display, each a switch to
// ground read with the pull-up.
type ButtonsConfig struct {
	OK     string `yaml:"ok"`
	Cancel string `yaml:"cancel"`
	Back   string `yaml:"back"`
	Lang   string `yaml:"lang"`
}

// Defaults of GPIOConfig.
const (
	DefaultDebounce = 30 * time.Millisecond
	DefaultROM      = "a00"
)

// WithDefaults fills what the config left out.
func (c GPIOConfig) WithDefaults() GPIOConfig {
	if c.Display.Kind == "" {
		c.Display.Kind = DisplayPCF8574
	}
	if c.Display.ROM == "" {
		c.Display.ROM = DefaultROM
	}
	if c.Display.Kind == DisplayPCF8574 && c.Display.I2CAddr == 0 {
		c.Display.I2CAddr = hd44780.DefaultAddr
	}
	if c.Debounce == 0 {
		c.Debounce = DefaultDebounce
	}
	return c
}

// Validate checks the config, with its defaults filled in. known reports
// whether a pin name exists on this board (gpioreg.ByName(name) != nil in
// production); nil skips that check. The error lists every problem, one per
// line, each naming its key.
//
// Two names of one pin (GPIO17 and P1_11) are only caught by Open, which
// resolves them.
func (c GPIOConfig) Validate(known func(name string) bool) error {
	c = c.WithDefaults()
	var errs []error
	add := func(key, format string, a ...any) {
		errs = append(errs, fmt.Errorf("panel.gpio.%s: %s", key, fmt.Sprintf(format, a...)))
	}
	d := c.Display
	switch d.Kind {
	case DisplayGPIO4, DisplayPCF8574:
	default:
		add("display.kind", "got %q, want gpio4 or pcf8574", d.Kind)
	}
	if _, err := charrom.ParseROM(d.ROM); err != nil {
		add("display.rom", "got %q, want a00, a02 or cyrillic (the ROM code in the module's datasheet; a00 is safe on any module)", d.ROM)
	}
	if d.Kind == DisplayPCF8574 && (d.I2CAddr < 0x08 || d.I2CAddr > 0x77) {
		add("display.i2c_addr", "%#x is not a 7-bit device address (0x08–0x77); backpacks use 0x20–0x27 or 0x38–0x3f", d.I2CAddr)
	}
	if d.Kind != DisplayPCF8574 && d.I2CBus != "" {
		add("display.i2c_bus", "only used with kind pcf8574")
	}
	if d.Kind != DisplayPCF8574 && d.I2CAddr != 0 {
		add("display.i2c_addr", "only used with kind pcf8574")
	}

	var pins []namedPin
	pin := func(key, name string, required bool) {
		if name == "" {
			if required {
				add(key, "required")
			}
			return
		}
		pins = append(pins, namedPin{key, name})
	}
	gpioLines := map[string]string{"display.rs": d.RS, "display.e": d.E, "display.d4": d.D4,
		"display.d5": d.D5, "display.d6": d.D6, "display.d7": d.D7, "display.backlight": d.Backlight}
	for _, key := range []string{"display.rs", "display.e", "display.d4", "display.d5", "display.d6", "display.d7", "display.backlight"} {
		switch {
		case d.Kind == DisplayGPIO4:
			pin(key, gpioLines[key], key != "display.backlight")
		case gpioLines[key] != "":
			add(key, "only used with kind gpio4")
		}
	}
	for i, name := range c.Keypad.Rows {
		pin(fmt.Sprintf("keypad.rows[%d]", i), name, true)
	}
	for i, name := range c.Keypad.Cols {
		pin(fmt.Sprintf("keypad.cols[%d]", i), name, true)
	}
	pin("buttons.ok", c.Buttons.OK, true)
	pin("buttons.cancel", c.Buttons.Cancel, true)
	pin("buttons.back", c.Buttons.Back, false)
	pin("buttons.lang", c.Buttons.Lang, false)
	pin("led", c.LED, false)
	pin("door", c.Door, false)

	used := map[string]string{}
	for _, p := range pins {
		if known != nil && !known(p.name) {
			add(p.key, "no pin %q on this board (names are like GPIO17, or P1_11 for header pin 11)", p.name)
			continue
		}
		if other, dup := used[strings.ToUpper(p.name)]; dup {
			add(p.key, "pin %s is already used by panel.gpio.%s", p.name, other)
			continue
		}
		used[strings.ToUpper(p.name)] = p.key
	}
	if c.Debounce < time.Millisecond || c.Debounce > time.Second {
		add("debounce", "%v is out of range: want 1ms to 1s (30ms suits most switches)", c.Debounce)
	}
	return errors.Join(errs...)
}

type namedPin struct{ key, name string }
