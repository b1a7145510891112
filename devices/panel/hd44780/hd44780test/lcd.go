// Package hd44780test is an HD44780 that lives in memory: an hd44780.Bus
// that executes what the driver sends the way the controller does, so a
// test can read back what a real display would show.
package hd44780test

import (
	"fmt"
	"sync"

	"tolem/devices/panel/charrom"
	"tolem/devices/panel/hd44780"
)

// LCD emulates a 20×4 module in 4-bit mode: DDRAM with its two 40-cell
// lines, CGRAM, the address counter with its wrap, and the backlight.
type LCD struct {
	mu        sync.Mutex
	ddram     [0x80]byte
	cgram     [64]byte
	addr      int
	inCGRAM   bool
	on        bool
	backlight bool
	nibbles   int
	writes    int
	fail      error
}

var rowOffset = [charrom.Rows]int{0x00, 0x40, 0x14, 0x54}

// New returns a display whose DDRAM holds garbage, as after power-up.
func New() *LCD {
	l := &LCD{}
	for i := range l.ddram {
		l.ddram[i] = 0xff
	}
	return l
}

// Scramble fills DDRAM and CGRAM with garbage, as a discharge or a brown-out
// may leave a module that the driver still believes is showing its screen.
func (l *LCD) Scramble() {
	l.mu.Lock()
	defer l.mu.Unlock()
	for i := range l.ddram {
		l.ddram[i] = byte(0xa0 + i%0x40)
	}
	for i := range l.cgram {
		l.cgram[i] = byte(i) & 0x1f
	}
}

// Fail makes every following write fail with err (nil to stop).
func (l *LCD) Fail(err error) {
	l.mu.Lock()
	defer l.mu.Unlock()
	l.fail = err
}

// WriteNibble implements hd44780.Bus; the reset nibbles only count.
func (l *LCD) WriteNibble(byte) error {
	l.mu.Lock()
	defer l.mu.Unlock()
	if l.fail != nil {
		return l.fail
	}
	l.nibbles++
	return nil
}

// Write implements hd44780.Bus.
func (l *LCD) Write(rs bool, b []byte) error {
	l.mu.Lock()
	defer l.mu.Unlock()
	if l.fail != nil {
		return l.fail
	}
	for _, c := range b {
		l.writes++
		if rs {
			l.data(c)
		} else {
			l.command(c)
		}
	}
	return nil
}

func (l *LCD) command(c byte) {
	switch {
	case c&0x80 != 0:
		l.addr, l.inCGRAM = int(c&0x7f), false
	case c&0x40 != 0:
		l.addr, l.inCGRAM = int(c&0x3f), true
	case c&0x20 != 0: // function set
	case c&0x10 != 0: // cursor or display shift: the driver never shifts
	case c&0x08 != 0:
		l.on = c&0x04 != 0
	case c&0x04 != 0: // entry mode: the driver only uses increment
	case c&0x02 != 0: // home
		l.addr, l.inCGRAM = 0, false
	case c == 0x01:
		for i := range l.ddram {
			l.ddram[i] = ' '
		}
		l.addr, l.inCGRAM = 0, false
	}
}

func (l *LCD) data(c byte) {
	if l.inCGRAM {
		l.cgram[l.addr] = c & 0x1f
		l.addr = (l.addr + 1) & 0x3f
		return
	}
	l.ddram[l.addr] = c
	line, off := l.addr&0x40, l.addr&^0x40+1
	if off >= 0x28 {
		off, line = 0, line^0x40
	}
	l.addr = line | off
}

// SetBacklight implements hd44780.Bus.
func (l *LCD) SetBacklight(on bool) error {
	l.mu.Lock()
	defer l.mu.Unlock()
	if l.fail != nil {
		return l.fail
	}
	l.backlight = on
	return nil
}

// Codes returns the character codes of the 80 visible cells.
func (l *LCD) Codes() [charrom.Rows][charrom.Cols]byte {
	l.mu.Lock()
	defer l.mu.Unlock()
	var out [charrom.Rows][charrom.Cols]byte
	for r, off := range rowOffset {
		copy(out[r][:], l.ddram[off:off+charrom.Cols])
	}
	return out
}

// Glyph returns the pattern in CGRAM slot s (codes s and s+8 show it).
func (l *LCD) Glyph(s int) [8]byte {
	l.mu.Lock()
	defer l.mu.Unlock()
	var g [8]byte
	copy(g[:], l.cgram[8*(s&7):])
	return g
}

// Lines returns what the display shows, as text: ROM codes as the
// character of rom, CGRAM cells as the rune of the charrom pattern they
// hold (or '?' for an unknown pattern), a blank display as spaces.
func (l *LCD) Lines(rom charrom.ROM) [charrom.Rows]string {
	byPattern := map[[8]byte]rune{charrom.FullBlock.Rows: charrom.FullBlock.Rune}
	for _, g := range charrom.Glyphs() {
		byPattern[g.Rows] = g.Rune
	}
	codes := l.Codes()
	var out [charrom.Rows]string
	for r, row := range codes {
		s := make([]rune, 0, charrom.Cols)
		for _, c := range row {
			switch {
			case !l.On():
				s = append(s, ' ')
			case c < 0x10:
				g, ok := byPattern[l.Glyph(int(c))]
				if !ok {
					g = '?'
				}
				s = append(s, g)
			default:
				x, ok := rom.Char(c)
				if !ok {
					x = '?'
				}
				s = append(s, x)
			}
		}
		out[r] = string(s)
	}
	return out
}

// On reports whether the display is switched on.
func (l *LCD) On() bool {
	l.mu.Lock()
	defer l.mu.Unlock()
	return l.on
}

// Backlight reports whether the backlight is lit.
func (l *LCD) Backlight() bool {
	l.mu.Lock()
	defer l.mu.Unlock()
	return l.backlight
}

// Writes counts the bytes written (commands and data) so far.
func (l *LCD) Writes() int {
	l.mu.Lock()
	defer l.mu.Unlock()
	return l.writes
}

func (l *LCD) String() string { return fmt.Sprintf("emulated HD44780 (%d bytes written)", l.Writes()) }

var _ hd44780.Bus = (*LCD)(nil)
