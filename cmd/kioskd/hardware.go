package main

import (
	"fmt"
	"io"
	"log/slog"

	"tolem/devices/panel"
	"tolem/kiosk"
	"tolem/kiosk/config"
)

// frontPanel is the kiosk's face, whichever kind the config names.
type frontPanel struct {
	display kiosk.Display
	keys    <-chan kiosk.Key
	light   kiosk.Indicator // nil: no bezel LED
	door    <-chan bool     // nil: no door switch
	// doorOpen reads the door switch now; door reports only changes, so
	// without it a door opened while the kiosk was off is never seen.
	doorOpen func() bool
	tester   panel.SelfTester // nil: no hardware to test
	closer   io.Closer
}

// openGPIOPanel opens the display, keypad, buttons, LED and door switch on
// the board's pins. An error names the config key at fault.
func openGPIOPanel(cfg *config.Config, log *slog.Logger) (*frontPanel, error) {
	if cfg.Panel.GPIO == nil {
		return nil, fmt.Errorf("panel.gpio: required with panel.kind gpio")
	}
	p, err := panel.Open(gpioConfig(cfg.Panel.GPIO), log.With("component", "panel"))
	if err != nil {
		return nil, fmt.Errorf("front panel: %w", err)
	}
	return gpioFrontPanel(p), nil
}

// gpioFrontPanel is the kiosk's face on a panel driver.
func gpioFrontPanel(p *panel.Panel) *frontPanel {
	return &frontPanel{display: p, keys: p.Keys(), light: p, door: p.Door(), doorOpen: p.DoorOpen, tester: p, closer: p}
}

// gpioConfig copies the config file's panel wiring into the driver's own
// type; the config package may not import a driver.
func gpioConfig(g *config.GPIOPanel) panel.GPIOConfig {
	var c panel.GPIOConfig
	d := g.Display
	c.Display = panel.DisplayConfig{
		Kind: d.Kind, ROM: d.ROM, I2CBus: d.I2CBus, I2CAddr: d.I2CAddr,
		RS: d.RS, E: d.E, D4: d.D4, D5: d.D5, D6: d.D6, D7: d.D7, Backlight: d.Backlight,
	}
	copy(c.Keypad.Rows[:], g.Keypad.Rows)
	copy(c.Keypad.Cols[:], g.Keypad.Cols)
	c.Buttons = panel.ButtonsConfig{OK: g.Buttons.OK, Cancel: g.Buttons.Cancel, Back: g.Buttons.Back, Lang: g.Buttons.Lang}
	c.LED, c.Door, c.DoorOpenHigh, c.Debounce = g.LED, g.Door, g.DoorOpenHigh, g.Debounce
	return c
}

// noDisplay is the panel of a headless kiosk (panel.kind none): the screens
// go to the log at debug level only.
type noDisplay struct{ log *slog.Logger }

func (n noDisplay) Show(s kiosk.Screen) error {
	n.log.Debug("screen", "state", s.State.String(), "lines", s.Lines)
	return nil
}
