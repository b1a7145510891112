package hd44780

import (
	"fmt"
	"sync"
	"time"

	"tolem/devices/panel/charrom"
	"tolem/kiosk"
)

// Instructions (datasheet table 6).
const (
	cmdClear       = 0x01
	cmdEntryMode   = 0x06 // increment the address, do not shift the display
	cmdDisplayOff  = 0x08
	cmdDisplayOn   = 0x0c // display on, cursor off, blink off
	cmdFunctionSet = 0x28 // 4-bit interface, 2 lines (the 20×4 is wired as 2), 5×8 dots
	cmdSetCGRAM    = 0x40
	cmdSetDDRAM    = 0x80
)

// Waits of the initialisation by instruction (datasheet figure 24) and of
// the clear instruction, with margin for slow clones.
const (
	powerOnWait  = 50 * time.Millisecond   // > 40 ms after Vcc reaches 2.7 V
	firstWait    = 4500 * time.Microsecond // > 4.1 ms
	resetWait    = 150 * time.Microsecond  // > 100 µs
	clearTime    = 2 * time.Millisecond    // 1.52 ms at 270 kHz
	cols, rows   = charrom.Cols, charrom.Rows
	ddramRowWrap = 0x28 // each of the two DDRAM lines holds 40 cells
)

// rowOffset is the DDRAM address of the first cell of each row of a 20×4:
// rows 0 and 2 share the controller's first line, rows 1 and 3 the second.
var rowOffset = [rows]byte{0x00, 0x40, 0x14, 0x54}

// drawOrder visits the rows in DDRAM address order, so that the end of row 0
// runs on into row 2 without a new address.
var drawOrder = [rows]int{0, 2, 1, 3}

// Opts configures a Dev.
type Opts struct {
	// ROM is the module's character ROM; zero means A00.
	ROM charrom.ROM
	// Sleep waits out execution times; nil means time.Sleep.
	Sleep func(time.Duration)
}

// Dev is a 20×4 display. It implements kiosk.Display.
type Dev struct {
	bus   Bus
	rom   charrom.ROM
	sleep func(time.Duration)

	mu sync.Mutex
	// ready is false until the initialisation ran and after any bus error;
	// the shadow below is then not trusted.
	ready     bool
	shadow    [rows][cols]byte
	slot      [charrom.Slots]charrom.Glyph
	slotValid [charrom.Slots]bool
	// addr is the controller's address counter, -1 after a CGRAM write.
	addr      int
	backlight bool
	// last is the latest screen asked for, for Refresh.
	last       [rows][cols]byte
	lastGlyphs []charrom.Glyph
	hasLast    bool
}

// New initialises the display on bus, clears it and lights the backlight.
func New(bus Bus, opts *Opts) (*Dev, error) {
	d := &Dev{bus: bus, rom: charrom.A00, sleep: time.Sleep, backlight: true}
	if opts != nil {
		if opts.ROM != 0 {
			d.rom = opts.ROM
		}
		if opts.Sleep != nil {
			d.sleep = opts.Sleep
		}
	}
	d.mu.Lock()
	defer d.mu.Unlock()
	if err := d.init(); err != nil {
		return nil, err
	}
	return d, nil
}

func (d *Dev) String() string { return fmt.Sprintf("HD44780 20×4, ROM %s", d.rom) }

// ROM is the character ROM the display was configured with.
func (d *Dev) ROM() charrom.ROM { return d.rom }

// init runs the initialisation by instruction: three times "8-bit mode" so
// that the controller syncs to nibbles whatever state it was left in, then
// 4-bit mode, and the settings. It ends with a blank display.
func (d *Dev) init() error {
	d.ready = false
	d.sleep(powerOnWait)
	for _, step := range []struct {
		nibble byte
		wait   time.Duration
	}{{0x3, firstWait}, {0x3, resetWait}, {0x3, resetWait}, {0x2, resetWait}} {
		if err := d.bus.WriteNibble(step.nibble); err != nil {
			return fmt.Errorf("display init: %w", err)
		}
		d.sleep(step.wait)
	}
	for _, c := range []byte{cmdFunctionSet, cmdDisplayOff, cmdClear, cmdEntryMode, cmdDisplayOn} {
		if err := d.bus.Write(false, []byte{c}); err != nil {
			return fmt.Errorf("display init: %w", err)
		}
		if c == cmdClear {
			d.sleep(clearTime)
		}
	}
	if err := d.bus.SetBacklight(d.backlight); err != nil {
		return fmt.Errorf("display init: %w", err)
	}
	space, _ := d.rom.Code(' ')
	for r := range d.shadow {
		for c := range d.shadow[r] {
			d.shadow[r][c] = space
		}
	}
	// CGRAM is not cleared by the controller and is random after power-up.
	d.slotValid = [charrom.Slots]bool{}
	d.addr = 0
	d.ready = true
	return nil
}

// Show draws s, mapped for the display's ROM. It implements kiosk.Display.
func (d *Dev) Show(s kiosk.Screen) error {
	codes, glyphs := charrom.Map(d.rom, s.Lines)
	return d.Draw(codes, glyphs)
}

// Draw puts codes on the display, loading glyphs into CGRAM; codes 0–7 stand
// for glyphs[0]…glyphs[7], as charrom.Map returns them.
func (d *Dev) Draw(codes [rows][cols]byte, glyphs []charrom.Glyph) error {
	if len(glyphs) > charrom.Slots {
		return fmt.Errorf("display: %d custom characters, the controller holds %d", len(glyphs), charrom.Slots)
	}
	d.mu.Lock()
	defer d.mu.Unlock()
	d.last, d.lastGlyphs, d.hasLast = codes, append([]charrom.Glyph(nil), glyphs...), true
	return d.draw(codes, glyphs)
}

// Refresh initialises the controller again and redraws the latest screen
// from scratch. A display left running for months can be scrambled by a
// discharge into the bezel or a brown-out that the driver never hears of;
// refreshing now and then puts it right without anyone on site.
func (d *Dev) Refresh() error {
	d.mu.Lock()
	defer d.mu.Unlock()
	d.ready = false
	if !d.hasLast {
		return d.init()
	}
	return d.draw(d.last, d.lastGlyphs)
}

func (d *Dev) draw(codes [rows][cols]byte, glyphs []charrom.Glyph) error {
	if !d.ready {
		if err := d.init(); err != nil {
			return err
		}
	}
	slots, err := d.loadGlyphs(glyphs)
	if err != nil {
		d.ready = false
		return err
	}
	if err := d.drawCells(codes, slots); err != nil {
		d.ready = false
		return err
	}
	return nil
}

// loadGlyphs puts the glyphs into CGRAM, keeping each one that is already
// loaded in its slot, and returns the slot of each.
func (d *Dev) loadGlyphs(glyphs []charrom.Glyph) ([]byte, error) {
	slots := make([]byte, len(glyphs))
	var taken [charrom.Slots]bool
	var missing []int
	for i, g := range glyphs {
		found := false
		for s := range charrom.Slots {
			if !taken[s] && d.slotValid[s] && d.slot[s] == g {
				slots[i], taken[s], found = byte(s), true, true
				break
			}
		}
		if !found {
			missing = append(missing, i)
		}
	}
	for _, i := range missing {
		s := 0
		for taken[s] {
			s++
		}
		taken[s] = true
		slots[i] = byte(s)
		// The pattern changes under any cell still showing this slot; the
		// new screen either rewrites that cell or wants this pattern there.
		d.slotValid[s] = false
		buf := append([]byte(nil), glyphs[i].Rows[:]...)
		if err := d.bus.Write(false, []byte{cmdSetCGRAM | byte(s)<<3}); err != nil {
			return nil, fmt.Errorf("display: set CGRAM address: %w", err)
		}
		d.addr = -1
		if err := d.bus.Write(true, buf); err != nil {
			return nil, fmt.Errorf("display: load custom character %q: %w", glyphs[i].Rune, err)
		}
		d.slot[s], d.slotValid[s] = glyphs[i], true
	}
	return slots, nil
}

// drawCells writes the cells that differ from the shadow, in runs.
func (d *Dev) drawCells(codes [rows][cols]byte, slots []byte) error {
	for _, r := range drawOrder {
		run := make([]byte, 0, cols)
		start := 0
		flush := func() error {
			if len(run) == 0 {
				return nil
			}
			addr := int(rowOffset[r]) + start
			if d.addr != addr {
				if err := d.bus.Write(false, []byte{cmdSetDDRAM | byte(addr)}); err != nil {
					return fmt.Errorf("display: set DDRAM address: %w", err)
				}
			}
			if err := d.bus.Write(true, run); err != nil {
				return fmt.Errorf("display: write row %d: %w", r, err)
			}
			for i, c := range run {
				d.shadow[r][start+i] = c
			}
			d.addr = nextAddr(addr, len(run))
			run = run[:0]
			return nil
		}
		for c := range cols {
			want := codes[r][c]
			if want < charrom.Slots {
				if int(want) >= len(slots) {
					return fmt.Errorf("display: row %d col %d: custom character %d of %d", r, c, want, len(slots))
				}
				want = slots[want]
			}
			if want == d.shadow[r][c] {
				if err := flush(); err != nil {
					return err
				}
				continue
			}
			if len(run) == 0 {
				start = c
			}
			run = append(run, want)
		}
		if err := flush(); err != nil {
			return err
		}
	}
	return nil
}

// nextAddr is the address counter after n writes from addr: each of the two
// DDRAM lines is 40 cells long and the counter wraps from the first to the
// second and back.
func nextAddr(addr, n int) int {
	line, off := addr&0x40, addr&^0x40
	off += n
	for off >= ddramRowWrap {
		off -= ddramRowWrap
		line ^= 0x40
	}
	return line | off
}

// SetBacklight switches the backlight.
func (d *Dev) SetBacklight(on bool) error {
	d.mu.Lock()
	defer d.mu.Unlock()
	d.backlight = on
	if err := d.bus.SetBacklight(on); err != nil {
		d.ready = false
		return err
	}
	return nil
}

// Halt blanks the display and turns the backlight off, so that a stopped
// kiosk shows no stale screen.
func (d *Dev) Halt() error {
	d.mu.Lock()
	defer d.mu.Unlock()
	d.ready = false
	if err := d.bus.Write(false, []byte{cmdClear}); err != nil {
		return fmt.Errorf("display halt: %w", err)
	}
	d.sleep(clearTime)
	d.backlight = false
	if err := d.bus.SetBacklight(false); err != nil {
		return fmt.Errorf("display halt: %w", err)
	}
	return nil
}

var _ kiosk.Display = (*Dev)(nil)
