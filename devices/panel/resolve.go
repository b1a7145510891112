package panel

import (
	"errors"
	"fmt"

	"periph.io/x/conn/v3/gpio"
)

// resolved is a GPIOConfig's pins, found by name.
type resolved struct {
	Hardware
	rs, e, d4, d5, d6, d7, backlight gpio.PinIO
}

// realName is the name of the line behind an alias (P1_11 → GPIO17), so that
// two names of one pin are caught.
func realName(p gpio.PinIO) string {
	for range 4 {
		r, ok := p.(gpio.RealPin)
		if !ok {
			break
		}
		p = r.Real()
	}
	return p.Name()
}

// resolve finds every pin of cfg with byName (gpioreg.ByName). reserved maps
// the real names of lines already taken (the I²C bus of the backpack) to
// their use.
func resolve(cfg GPIOConfig, byName func(string) gpio.PinIO, reserved map[string]string) (resolved, error) {
	var out resolved
	var errs []error
	used := map[string]string{}
	for name, use := range reserved {
		used[name] = use
	}
	get := func(key, name string) gpio.PinIO {
		if name == "" {
			return nil
		}
		p := byName(name)
		if p == nil {
			errs = append(errs, fmt.Errorf("panel.gpio.%s: no pin %q on this board", key, name))
			return nil
		}
		real := realName(p)
		if other, dup := used[real]; dup {
			errs = append(errs, fmt.Errorf("panel.gpio.%s: %s is %s, already used by %s", key, name, real, other))
			return nil
		}
		used[real] = "panel.gpio." + key
		return p
	}
	d := cfg.Display
	if d.Kind == DisplayGPIO4 {
		out.rs, out.e = get("display.rs", d.RS), get("display.e", d.E)
		out.d4, out.d5 = get("display.d4", d.D4), get("display.d5", d.D5)
		out.d6, out.d7 = get("display.d6", d.D6), get("display.d7", d.D7)
		out.backlight = get("display.backlight", d.Backlight)
	}
	for i, name := range cfg.Keypad.Rows {
		out.Rows[i] = get(fmt.Sprintf("keypad.rows[%d]", i), name)
	}
	for i, name := range cfg.Keypad.Cols {
		if p := get(fmt.Sprintf("keypad.cols[%d]", i), name); p != nil {
			out.Cols[i] = p
		}
	}
	in := func(key, name string) gpio.PinIn {
		if p := get(key, name); p != nil {
			return p
		}
		return nil
	}
	out.OK = in("buttons.ok", cfg.Buttons.OK)
	out.Cancel = in("buttons.cancel", cfg.Buttons.Cancel)
	out.Back = in("buttons.back", cfg.Buttons.Back)
	out.Lang = in("buttons.lang", cfg.Buttons.Lang)
	if p := get("led", cfg.LED); p != nil {
		out.LED = p
	}
	out.Door = in("door", cfg.Door)
	return out, errors.Join(errs...)
}

// pinOut is p as a PinOut, nil staying an untyped nil so that optional
// outputs compare equal to nil.
func pinOut(p gpio.PinIO) gpio.PinOut {
	if p == nil {
		return nil
	}
	return p
}
