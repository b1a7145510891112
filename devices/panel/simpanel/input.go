package simpanel

import (
	"unicode/utf8"

	"tolem/kiosk"
)

// termInput is what one keystroke of the terminal panel means.
type termInput struct {
	Key    kiosk.Key   // a panel key
	Bill   kiosk.Money // a banknote pushed into the acceptor
	Fake   bool        // a counterfeit pushed into the acceptor
	Paper  bool        // the sim printer's paper taken out or put back
	Quit   bool
	Redraw bool
}

// billKey is a key of the terminal that inserts a banknote.
type billKey struct {
	Key   rune
	Value kiosk.Money
}

// billKeys are the banknote keys, one per KZT note, on the top letter row so
// that their order follows the notes' values.
var billKeys = []billKey{
	{'q', kiosk.Tenge(200)},
	{'w', kiosk.Tenge(500)},
	{'e', kiosk.Tenge(1000)},
	{'r', kiosk.Tenge(2000)},
	{'t', kiosk.Tenge(5000)},
	{'y', kiosk.Tenge(10000)},
	{'u', kiosk.Tenge(20000)},
}

// cyrillicLayout maps the letters a Russian keyboard layout produces on the
// same physical keys, so that the panel works without switching layouts.
var cyrillicLayout = map[rune]rune{
	'й': 'q', 'ц': 'w', 'у': 'e', 'к': 'r', 'е': 't', 'н': 'y', 'г': 'u',
	'а': 'f', 'д': 'l', 'Й': 'Q', 'з': 'p',
}

func runeInput(r rune) (termInput, bool) {
	if l, ok := cyrillicLayout[r]; ok {
		r = l
	}
	switch {
	case r >= '0' && r <= '9':
		return termInput{Key: kiosk.Key(string(r))}, true
	case r == '\r' || r == '\n':
		return termInput{Key: kiosk.KeyOK}, true
	case r == 0x7f || r == 0x08:
		return termInput{Key: kiosk.KeyBack}, true
	case r == 'l' || r == 'L':
		return termInput{Key: kiosk.KeyLang}, true
	case r == 'f':
		return termInput{Fake: true}, true
	case r == 'p':
		return termInput{Paper: true}, true
	case r == 'Q' || r == 0x03: // Ctrl-C arrives as a byte in raw mode
		return termInput{Quit: true}, true
	case r == 0x0c: // Ctrl-L, as in every full-screen program
		return termInput{Redraw: true}, true
	}
	for _, b := range billKeys {
		if r == b.Key {
			return termInput{Bill: b.Value}, true
		}
	}
	return termInput{}, false
}

// keyDecoder turns the bytes a terminal sends into panel inputs. It keeps
// state across reads: an escape sequence or a UTF-8 letter may be split.
type keyDecoder struct {
	state   decState
	params  []byte // of the CSI sequence being read
	utf     []byte // of the multi-byte letter being read
	afterCR bool   // a '\n' right after '\r' is the same Enter
}

type decState int

const (
	decNormal decState = iota
	decEsc             // after ESC
	decCSI             // after ESC [
	decSS3             // after ESC O
)

const esc = 0x1b

// feed decodes one read's worth of bytes. An ESC that ends the read is a
// lone Esc key: terminals send a whole escape sequence in one write, so an
// arrow key never ends with a bare ESC.
func (d *keyDecoder) feed(b []byte) []termInput {
	var out []termInput
	for _, c := range b {
		out = d.byte(c, out)
	}
	if d.state == decEsc {
		d.state = decNormal
		out = append(out, termInput{Key: kiosk.KeyCancel})
	}
	return out
}

func (d *keyDecoder) byte(c byte, out []termInput) []termInput {
	switch d.state {
	case decEsc:
		switch c {
		case '[':
			d.state, d.params = decCSI, d.params[:0]
			return out
		case 'O':
			d.state = decSS3
			return out
		}
		// ESC then an ordinary byte: the Esc key, then that key.
		d.state = decNormal
		out = append(out, termInput{Key: kiosk.KeyCancel})
		return d.byte(c, out)
	case decCSI:
		switch {
		case c >= 0x20 && c <= 0x3f: // parameters and intermediates
			if len(d.params) < 16 {
				d.params = append(d.params, c)
			}
			return out
		case c >= 0x40 && c <= 0x7e: // the final byte
			d.state = decNormal
			if c == '~' && string(d.params) == "3" { // Delete
				out = append(out, termInput{Key: kiosk.KeyBack})
			}
			// Arrows, Home, F-keys and the rest mean nothing on the panel.
			return out
		}
		// Not a well-formed sequence: drop it and read c afresh.
		d.state = decNormal
		return d.byte(c, out)
	case decSS3:
		d.state = decNormal
		if c == 'M' { // keypad Enter in application mode
			out = append(out, termInput{Key: kiosk.KeyOK})
		}
		return out
	}

	if len(d.utf) > 0 || c >= 0x80 {
		d.utf = append(d.utf, c)
		if !utf8.FullRune(d.utf) {
			return out
		}
		r, _ := utf8.DecodeRune(d.utf)
		d.utf = d.utf[:0]
		if in, ok := runeInput(r); ok {
			out = append(out, in)
		}
		d.afterCR = false
		return out
	}
	if c == esc {
		d.state = decEsc
		d.afterCR = false
		return out
	}
	if c == '\n' && d.afterCR {
		d.afterCR = false
		return out
	}
	d.afterCR = c == '\r'
	if in, ok := runeInput(rune(c)); ok {
		out = append(out, in)
	}
	return out
}
