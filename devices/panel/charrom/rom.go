package charrom

import (
	"fmt"
	"slices"
)

// ROM is a character generator ROM of an HD44780 or a clone.
type ROM uint8

// The ROMs a config may name.
const (
	A00 ROM = iota + 1
	A02
	Cyrillic
)

// Size of the screen and of CGRAM.
const (
	Cols  = 20
	Rows  = 4
	Slots = 8
)

// ParseROM reads a ROM name of the config: a00, a02 or cyrillic.
func ParseROM(name string) (ROM, error) {
	for _, r := range []ROM{A00, A02, Cyrillic} {
		if r.String() == name {
			return r, nil
		}
	}
	return 0, fmt.Errorf("display ROM %q: want a00, a02 or cyrillic (the ROM code printed on the controller or in the module's datasheet)", name)
}

func (r ROM) String() string {
	switch r {
	case A00:
		return "a00"
	case A02:
		return "a02"
	case Cyrillic:
		return "cyrillic"
	}
	return fmt.Sprintf("ROM(%d)", uint8(r))
}

// table is one ROM: what it draws at each code, and the code drawing each rune.
type table struct {
	byCode map[byte]rune
	byRune map[rune]byte
}

func newTable() *table {
	return &table{byCode: map[byte]rune{}, byRune: map[rune]byte{}}
}

// set records that the ROM draws r at code.
func (t *table) set(code byte, r rune) {
	if _, dup := t.byCode[code]; dup {
		panic(fmt.Sprintf("charrom: code %#02x set twice", code))
	}
	t.byCode[code] = r
	if _, ok := t.byRune[r]; !ok {
		t.byRune[r] = code
	}
}

// run records consecutive codes from first on.
func (t *table) run(first byte, runes string) {
	c := first
	for _, r := range runes {
		t.set(c, r)
		c++
	}
}

// alias makes r drawn by the code of target, because the two look the same on
// a 5×8 matrix.
func (t *table) alias(r, target rune) {
	if code, ok := t.byRune[target]; ok {
		if _, taken := t.byRune[r]; !taken {
			t.byRune[r] = code
		}
	}
}

// ascii records 0x20…last, except the codes in skip.
func (t *table) ascii(last byte, skip ...byte) {
	for c := byte(0x20); c <= last; c++ {
		if !slices.Contains(skip, c) {
			t.set(c, rune(c))
		}
	}
}

// latinLookalikes are Cyrillic letters whose 5×8 pattern is that of a Latin
// letter (or, for Ь, of b, which the Cyrillic ROM itself uses for Ь).
var latinLookalikes = [][2]rune{
	{'А', 'A'}, {'В', 'B'}, {'Е', 'E'}, {'К', 'K'}, {'М', 'M'}, {'Н', 'H'},
	{'О', 'O'}, {'Р', 'P'}, {'С', 'C'}, {'Т', 'T'}, {'Х', 'X'}, {'Ь', 'b'},
	{'а', 'a'}, {'е', 'e'}, {'о', 'o'}, {'р', 'p'}, {'с', 'c'}, {'у', 'y'},
	{'х', 'x'}, {'І', 'I'}, {'і', 'i'}, {'Һ', 'h'}, {'һ', 'h'}, {'Ү', 'Y'},
	{'Ј', 'J'}, {'ј', 'j'}, {'Ѕ', 'S'}, {'ѕ', 's'},
	// Spaces of other widths are blanks.
	{'\u00a0', ' '}, {'\u202f', ' '}, {'\u2009', ' '}, {'\u2007', ' '},
}

var tables = map[ROM]*table{
	A00:      buildA00(),
	A02:      buildA02(),
	Cyrillic: buildCyrillic(),
}

func buildA00() *table {
	t := newTable()
	t.ascii(0x7d, 0x5c)
	t.set(0x5c, '¥')
	t.set(0x7e, '→')
	t.set(0x7f, '←')
	// 0xA1–0xDF: JIS X 0201 half-width katakana, U+FF61…U+FF9F in order.
	for i := 0; i <= 0x3e; i++ {
		t.set(byte(0xa1+i), rune(0xff61+i))
	}
	// 0xE0–0xFF: only the patterns that are plainly one character. 0xE7, 0xEA,
	// 0xF0, 0xF1 and 0xF9 are descender forms of g j p q y; 0xE9, 0xEB, 0xED,
	// 0xF8 and 0xFE differ between clones.
	t.run(0xe0, "αäβεμσρ")
	t.set(0xe8, '√')
	t.set(0xec, '¢')
	t.run(0xee, "ñö")
	t.run(0xf2, "θ∞ΩüΣπ")
	t.run(0xfa, "千万円÷")
	t.set(0xff, '█')
	t.alias('°', 'ﾟ') // the semi-voiced mark is the degree sign of this ROM
	t.alias('·', '･')
	t.alias('ß', 'β')
	t.alias('µ', 'μ')
	t.alias('Θ', 'θ')
	for _, l := range latinLookalikes {
		t.alias(l[0], l[1])
	}
	return t
}

func buildA02() *table {
	t := newTable()
	// 0x10–0x1F: symbols; only those every A02 chart agrees on.
	t.run(0x12, "“”")
	t.set(0x16, '●')
	t.run(0x18, "↑↓")
	t.run(0x1c, "≤≥▲▼")
	t.ascii(0x7e)
	t.set(0x7f, '⌂')
	t.run(0x80, "БДЖЗИЙЛПУЦЧШЩЪЫЭ")
	// 0x96–0x9F are Greek letters and symbols whose order differs between
	// charts; Γ at 0x92 is the one that matters (it draws Г).
	t.run(0x90, "α♪ΓπΣσ")
	// 0xA1–0xFF: Latin-1, but for the codes A02 gives other patterns.
	for c := 0xa1; c <= 0xff; c++ {
		switch c {
		case 0xa8:
			t.set(byte(c), 'ƒ')
		case 0xac:
			t.set(byte(c), 'Ю')
		case 0xad:
			t.set(byte(c), 'Я')
		case 0xb4:
			t.set(byte(c), '₧')
		case 0xb8:
			t.set(byte(c), 'ω')
		case 0xd8, 0xf8:
			// Ø and ø on some charts, Φ and φ on others: left out.
		default:
			t.set(byte(c), rune(c))
		}
	}
	t.alias('Г', 'Γ')
	t.alias('Ё', 'Ë')
	t.alias('ё', 'ë')
	t.alias('µ', 'μ')
	for _, l := range latinLookalikes {
		t.alias(l[0], l[1])
	}
	return t
}

func buildCyrillic() *table {
	t := newTable()
	// 0x5C and 0x7E–0x7F hold other symbols on this ROM.
	t.ascii(0x7d, 0x5c)
	t.run(0xa0, "БГЁЖЗИЙЛПУФЧШЪЫЭЮЯбвгёжзийклмнптчшъыьэюя«»“”№")
	t.run(0xe0, "ДЦЩдфцщ")
	for _, l := range latinLookalikes {
		t.alias(l[0], l[1])
	}
	return t
}

// Code returns the code at which the ROM draws r, directly or through a
// letter of the same pattern.
func (r ROM) Code(x rune) (byte, bool) {
	t, ok := tables[r]
	if !ok {
		return 0, false
	}
	c, ok := t.byRune[x]
	return c, ok
}

// Char returns what the ROM draws at code, for codes 0x10 and up; CGRAM codes
// (0x00–0x0F) and codes the ROM leaves blank or that differ between clones
// report false.
func (r ROM) Char(code byte) (rune, bool) {
	t, ok := tables[r]
	if !ok {
		return 0, false
	}
	x, ok := t.byCode[code]
	return x, ok
}

// Codes lists, ascending, every code for which Char reports true.
func (r ROM) Codes() []byte {
	t, ok := tables[r]
	if !ok {
		return nil
	}
	out := make([]byte, 0, len(t.byCode))
	for c := range t.byCode {
		out = append(out, c)
	}
	slices.Sort(out)
	return out
}
