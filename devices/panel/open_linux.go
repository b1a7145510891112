//go:build linux

package panel

import (
	"fmt"
	"log/slog"
	"sync"

	"periph.io/x/conn/v3/gpio"
	"periph.io/x/conn/v3/gpio/gpioreg"
	"periph.io/x/conn/v3/i2c"
	"periph.io/x/conn/v3/i2c/i2creg"
	"periph.io/x/host/v3"

	"tolem/devices/panel/charrom"
	"tolem/devices/panel/hd44780"
)

// host.Init registers the board's drivers; a second call would only return
// the first one's result, but must not race it.
var hostInit struct {
	once sync.Once
	err  error
}

func initHost() error {
	hostInit.once.Do(func() { _, hostInit.err = host.Init() })
	return hostInit.err
}

// Open finds the panel's pins on this board and starts it.
func Open(cfg GPIOConfig, log *slog.Logger) (*Panel, error) {
	cfg = cfg.WithDefaults()
	if err := initHost(); err != nil {
		return nil, fmt.Errorf("panel: load the GPIO drivers: %w", err)
	}
	if err := cfg.Validate(func(name string) bool { return gpioreg.ByName(name) != nil }); err != nil {
		return nil, err
	}
	rom, err := charrom.ParseROM(cfg.Display.ROM)
	if err != nil {
		return nil, err
	}
	reserved := map[string]string{}
	var bus i2c.BusCloser
	if cfg.Display.Kind == DisplayPCF8574 {
		bus, err = i2creg.Open(cfg.Display.I2CBus)
		if err != nil {
			return nil, fmt.Errorf("panel: open I²C bus %q for the display (enable I²C, e.g. dtparam=i2c_arm=on on a Raspberry Pi): %w", cfg.Display.I2CBus, err)
		}
		if pins, ok := bus.(i2c.Pins); ok {
			for _, p := range []gpio.PinIO{pins.SDA(), pins.SCL()} {
				if p != nil && p != gpio.INVALID {
					reserved[realName(p)] = "the display's I²C bus " + bus.String()
				}
			}
		}
	}
	fail := func(err error) (*Panel, error) {
		if bus != nil {
			_ = bus.Close()
		}
		return nil, err
	}
	r, err := resolve(cfg, gpioreg.ByName, reserved)
	if err != nil {
		return fail(err)
	}
	hw := r.Hardware
	if bus != nil {
		hw.Display, err = hd44780.NewPCF8574(bus, cfg.Display.I2CAddr)
	} else {
		hw.Display, err = hd44780.NewGPIO(r.rs, r.e, r.d4, r.d5, r.d6, r.d7, pinOut(r.backlight), nil)
	}
	if err != nil {
		return fail(fmt.Errorf("panel: %w", err))
	}
	p, err := New(hw, Options{ROM: rom, Debounce: cfg.Debounce, DoorOpenHigh: cfg.DoorOpenHigh, Log: log})
	if err != nil {
		return fail(err)
	}
	if bus != nil {
		p.closers = append(p.closers, bus)
	}
	return p, nil
}
