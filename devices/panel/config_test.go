package panel

import (
	"bytes"
	"os"
	"strconv"
	"strings"
	"testing"
	"time"

	"go.yaml.in/yaml/v3"
	"periph.io/x/conn/v3/gpio"
	"periph.io/x/conn/v3/gpio/gpiotest"
)

// board is a fake pin registry: GPIO0…GPIO27, and header aliases P1_n for a
// few of them, as gpioreg has them on a Raspberry Pi.
type board map[string]gpio.PinIO

type alias struct {
	gpio.PinIO
	name string
}

func (a *alias) Name() string     { return a.name }
func (a *alias) Real() gpio.PinIO { return a.PinIO }
func (a *alias) String() string   { return a.name }

func newBoard() board {
	b := board{}
	for i := range 28 {
		p := &gpiotest.Pin{N: "GPIO" + strconv.Itoa(i), Num: i}
		b[p.N] = p
	}
	for header, n := range map[string]int{"P1_11": 17, "P1_13": 27, "P1_3": 2} {
		b[header] = &alias{PinIO: b["GPIO"+strconv.Itoa(n)], name: header}
	}
	return b
}

func (b board) byName(n string) gpio.PinIO {
	if p, ok := b[n]; ok {
		return p
	}
	return nil
}

func (b board) known(n string) bool { _, ok := b[n]; return ok }

func goodConfig() GPIOConfig {
	return GPIOConfig{
		Display: DisplayConfig{Kind: DisplayPCF8574, ROM: "cyrillic", I2CBus: "1", I2CAddr: 0x27},
		Keypad:  KeypadConfig{Rows: [4]string{"GPIO5", "GPIO6", "GPIO13", "GPIO19"}, Cols: [3]string{"GPIO26", "GPIO16", "GPIO20"}},
		Buttons: ButtonsConfig{OK: "GPIO17", Cancel: "GPIO27", Back: "GPIO22", Lang: "GPIO23"},
		LED:     "GPIO24", Door: "GPIO25", DoorOpenHigh: true, Debounce: 30 * time.Millisecond,
	}
}

func TestValidate(t *testing.T) {
	b := newBoard()
	tests := []struct {
		name   string
		change func(*GPIOConfig)
		errs   []string
	}{
		{"good", func(*GPIOConfig) {}, nil},
		{"defaults fill rom, address and debounce", func(c *GPIOConfig) {
			c.Display.ROM, c.Display.I2CAddr, c.Debounce = "", 0, 0
		}, nil},
		{"gpio4 display", func(c *GPIOConfig) {
			c.Display = DisplayConfig{Kind: DisplayGPIO4, ROM: "a02", RS: "GPIO7", E: "GPIO8", D4: "GPIO9", D5: "GPIO10", D6: "GPIO11", D7: "GPIO12"}
		}, nil},
		{"pin used twice", func(c *GPIOConfig) { c.LED = "GPIO17" },
			[]string{"panel.gpio.led: pin GPIO17 is already used by panel.gpio.buttons.ok"}},
		{"unknown pin", func(c *GPIOConfig) { c.Keypad.Rows[2] = "GPIO99" },
			[]string{`panel.gpio.keypad.rows[2]: no pin "GPIO99" on this board`}},
		{"missing pins", func(c *GPIOConfig) { c.Keypad.Cols[1], c.Buttons.OK = "", "" },
			[]string{"panel.gpio.keypad.cols[1]: required", "panel.gpio.buttons.ok: required"}},
		{"gpio4 without lines", func(c *GPIOConfig) {
			c.Display = DisplayConfig{Kind: DisplayGPIO4, RS: "GPIO7"}
		}, []string{"panel.gpio.display.e: required", "panel.gpio.display.d7: required"}},
		{"lines on a backpack display", func(c *GPIOConfig) { c.Display.RS = "GPIO7" },
			[]string{"panel.gpio.display.rs: only used with kind gpio4"}},
		{"bad kind, rom, address, debounce", func(c *GPIOConfig) {
			c.Display.Kind, c.Display.ROM, c.Debounce = "hd44780", "A00", 5*time.Second
		}, []string{`panel.gpio.display.kind: got "hd44780", want gpio4 or pcf8574`,
			`panel.gpio.display.rom: got "A00"`, "panel.gpio.debounce: 5s is out of range"}},
		{"address out of range", func(c *GPIOConfig) { c.Display.I2CAddr = 0x80 },
			[]string{"panel.gpio.display.i2c_addr: 0x80 is not a 7-bit device address"}},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			c := goodConfig()
			tt.change(&c)
			err := c.Validate(b.known)
			if len(tt.errs) == 0 {
				if err != nil {
					t.Fatalf("unexpected: %v", err)
				}
				return
			}
			if err == nil {
				t.Fatalf("no error, want %q", tt.errs)
			}
			for _, want := range tt.errs {
				if !strings.Contains(err.Error(), want) {
					t.Errorf("error %q lacks %q", err, want)
				}
			}
		})
	}
}

func TestResolveCatchesTwoNamesOfOnePin(t *testing.T) {
	b := newBoard()
	c := goodConfig()
	c.LED = "P1_11" // header pin 11 is GPIO17, the OK button
	if err := c.Validate(b.known); err != nil {
		t.Fatalf("validate sees distinct names: %v", err)
	}
	_, err := resolve(c, b.byName, nil)
	if err == nil || !strings.Contains(err.Error(), "panel.gpio.led: P1_11 is GPIO17, already used by panel.gpio.buttons.ok") {
		t.Fatalf("err = %v", err)
	}
	// The backpack's bus pins are taken too.
	c = goodConfig()
	c.Door = "P1_3"
	_, err = resolve(c, b.byName, map[string]string{"GPIO2": "the display's I²C bus I2C1"})
	if err == nil || !strings.Contains(err.Error(), "panel.gpio.door: P1_3 is GPIO2, already used by the display's I²C bus I2C1") {
		t.Fatalf("err = %v", err)
	}
	r, err := resolve(goodConfig(), b.byName, nil)
	if err != nil {
		t.Fatal(err)
	}
	if r.Rows[3].Name() != "GPIO19" || r.Cols[0].Name() != "GPIO26" || r.Lang.Name() != "GPIO23" || r.Door.Name() != "GPIO25" || r.rs != nil {
		t.Errorf("resolved %+v", r)
	}
}

// The example config for a Pi decodes strictly into GPIOConfig and passes
// Validate: the shape of panel.gpio is what this package reads.
func TestPiConfigExample(t *testing.T) {
	raw, err := os.ReadFile("../../configs/kiosk.pi.yaml")
	if err != nil {
		t.Fatal(err)
	}
	var file struct {
		Panel struct {
			Kind string    `yaml:"kind"`
			GPIO yaml.Node `yaml:"gpio"`
		} `yaml:"panel"`
	}
	if err := yaml.Unmarshal(raw, &file); err != nil {
		t.Fatal(err)
	}
	if file.Panel.Kind != "gpio" {
		t.Errorf("panel.kind %q", file.Panel.Kind)
	}
	section, err := yaml.Marshal(&file.Panel.GPIO)
	if err != nil {
		t.Fatal(err)
	}
	dec := yaml.NewDecoder(bytes.NewReader(section))
	dec.KnownFields(true)
	var c GPIOConfig
	if err := dec.Decode(&c); err != nil {
		t.Fatalf("panel.gpio: %v", err)
	}
	if err := c.Validate(newBoard().known); err != nil {
		t.Fatal(err)
	}
	want := goodConfig()
	if c != want {
		t.Errorf("decoded\n%+v\nwant\n%+v", c, want)
	}
}
