package console

import "unicode/utf8"

// Control bytes of the line discipline. On a raw tty nothing but this code
// edits the line, so it does what a cooked tty would: echo, erase, kill.
const (
	keyCtrlC     = 0x03
	keyCtrlD     = 0x04
	keyBackspace = 0x08
	keyCtrlU     = 0x15
	keyEsc       = 0x1b
	keyDelete    = 0x7f
)

// lineEvent is what a byte did to the line.
type lineEvent int

const (
	lineMore      lineEvent = iota // keep reading
	lineEnter                      // CR or LF: the line is done
	lineInterrupt                  // Ctrl-C: the line is dropped
	lineEOF                        // Ctrl-D on an empty line
)

// editor is one line being typed. It holds bytes, not runes, so that a
// multi-byte character arriving in two reads is kept whole; backspace
// removes a whole character.
type editor struct {
	buf  []byte
	echo bool
	// esc is the state of an escape sequence being skipped (arrow keys send
	// ESC [ A): 1 after ESC, 2 inside a CSI sequence.
	esc int
}

// feed takes one byte and returns what to echo and what it did.
func (e *editor) feed(b byte) ([]byte, lineEvent) {
	switch e.esc {
	case 1:
		if b == '[' || b == 'O' {
			e.esc = 2
		} else {
			e.esc = 0
		}
		return nil, lineMore
	case 2:
		if b >= 0x40 && b <= 0x7e {
			e.esc = 0
		}
		return nil, lineMore
	}
	switch b {
	case '\r', '\n':
		return []byte("\r\n"), lineEnter
	case keyCtrlC:
		e.buf = e.buf[:0]
		return []byte("^C\r\n"), lineInterrupt
	case keyCtrlD:
		if len(e.buf) == 0 {
			return []byte("\r\n"), lineEOF
		}
		return nil, lineMore
	case keyBackspace, keyDelete:
		if len(e.buf) == 0 {
			return nil, lineMore
		}
		_, n := utf8.DecodeLastRune(e.buf)
		e.buf = e.buf[:len(e.buf)-n]
		return e.erase(1), lineMore
	case keyCtrlU:
		n := utf8.RuneCount(e.buf)
		e.buf = e.buf[:0]
		return e.erase(n), lineMore
	case keyEsc:
		e.esc = 1
		return nil, lineMore
	}
	if b < 0x20 {
		return nil, lineMore // tab and other controls mean nothing here
	}
	if len(e.buf) >= maxLineBytes {
		return []byte{'\a'}, lineMore
	}
	e.buf = append(e.buf, b)
	if !e.echo {
		return nil, lineMore
	}
	return []byte{b}, lineMore
}

// erase returns what wipes n characters off the screen. Nothing was shown
// of a hidden line, so nothing is wiped.
func (e *editor) erase(n int) []byte {
	if !e.echo {
		return nil
	}
	out := make([]byte, 0, 3*n)
	for range n {
		out = append(out, '\b', ' ', '\b')
	}
	return out
}

func (e *editor) line() string { return string(e.buf) }
