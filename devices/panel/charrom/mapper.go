package charrom

import (
	"slices"
	"strings"
	"unicode"
)

// Degradation says how far Map had to depart from the screen's text.
type Degradation int

// Steps of degradation, mildest first.
const (
	// Exact: every character is drawn as written.
	Exact Degradation = iota
	// Capitals: the a02 ROM has no lower-case Cyrillic; the Cyrillic text is
	// drawn in capitals.
	Capitals
	// Approximated: some letters are drawn as their nearest Russian letter
	// (қ→к, ё→е) or ₸ as T, because the screen needs more than eight CGRAM
	// patterns.
	Approximated
	// CapitalsApproximated: both of the above.
	CapitalsApproximated
	// Transliterated: the Cyrillic text is written in Latin letters.
	Transliterated
)

func (d Degradation) String() string {
	switch d {
	case Exact:
		return "exact"
	case Capitals:
		return "capitals"
	case Approximated:
		return "approximated"
	case CapitalsApproximated:
		return "capitals_approximated"
	case Transliterated:
		return "transliterated"
	}
	return "unknown"
}

// Report is what Map made of a screen, for a check of live screens and for logs.
type Report struct {
	Codes  [Rows][Cols]byte
	Glyphs []Glyph
	// Shown is the screen as the display draws it (see Render).
	Shown    [Rows]string
	Degraded Degradation
	// Unknown lists the characters drawn as '?': neither a ROM, nor a
	// pattern of this package, nor a fallback covers them.
	Unknown []rune
	// Cut lists the lines (0–3) longer than 20 characters, whose end was cut.
	Cut []int
}

// Map turns a screen into ROM codes. Codes 0–7 stand for glyphs[0]…glyphs[7],
// which the driver loads into CGRAM; every other code is one the ROM draws.
// Lines are padded with spaces to 20 cells; longer lines are cut.
func Map(rom ROM, lines [Rows]string) (codes [Rows][Cols]byte, glyphs []Glyph) {
	r := Explain(rom, lines)
	return r.Codes, r.Glyphs
}

// Explain is Map with an account of what was changed on the way.
func Explain(rom ROM, lines [Rows]string) Report {
	var rep Report
	in := prepare(lines, &rep)
	m := mapper{rom: rom}
	rep.Unknown = m.unknown(in)
	out, deg := m.choose(in)
	rep.Degraded = deg
	rep.Codes, rep.Glyphs = m.encode(out, &rep)
	rep.Shown = Render(rom, rep.Codes, rep.Glyphs)
	return rep
}

// Render returns what the display shows for codes: each ROM code as the
// character its pattern draws (Latin A for Cyrillic А), each CGRAM code as
// its glyph's rune, anything else as '?'.
func Render(rom ROM, codes [Rows][Cols]byte, glyphs []Glyph) [Rows]string {
	var out [Rows]string
	for i, row := range codes {
		var b strings.Builder
		for _, c := range row {
			switch {
			case c < Slots && int(c) < len(glyphs):
				b.WriteRune(glyphs[c].Rune)
			case c >= 0x10:
				if r, ok := rom.Char(c); ok {
					b.WriteRune(r)
					continue
				}
				b.WriteByte('?')
			default:
				b.WriteByte('?')
			}
		}
		out[i] = b.String()
	}
	return out
}

// prepare splits the lines into runes: controls become spaces, the two
// decomposed Russian letters are composed, other combining marks dropped,
// and lines are cut at 20 characters.
func prepare(lines [Rows]string, rep *Report) [Rows][]rune {
	var out [Rows][]rune
	for i, s := range lines {
		l := make([]rune, 0, Cols)
		for _, r := range s {
			switch {
			case r == '\u0306' || r == '\u0308':
				if n := len(l); n > 0 {
					if c, ok := composed[[2]rune{l[n-1], r}]; ok {
						l[n-1] = c
					}
				}
				continue
			case unicode.Is(unicode.Mn, r):
				continue
			case unicode.IsControl(r):
				r = ' '
			}
			l = append(l, r)
		}
		if len(l) > Cols {
			l = l[:Cols]
			rep.Cut = append(rep.Cut, i)
		}
		out[i] = l
	}
	return out
}

var composed = map[[2]rune]rune{
	{'и', '\u0306'}: 'й', {'И', '\u0306'}: 'Й',
	{'е', '\u0308'}: 'ё', {'Е', '\u0308'}: 'Ё',
}

// approx is the nearest character of each character a ROM may lack: used at
// once when there is neither a ROM code nor a glyph, and to free a CGRAM
// slot when a screen needs more than eight.
var approx = map[rune]rune{
	'Ә': 'А', 'ә': 'а', 'Ғ': 'Г', 'ғ': 'г', 'Қ': 'К', 'қ': 'к',
	'Ң': 'Н', 'ң': 'н', 'Ө': 'О', 'ө': 'о', 'Ұ': 'У', 'ұ': 'у',
	'Ү': 'У', 'ү': 'у', 'Ё': 'Е', 'ё': 'е',
	'₸': 'T', '✓': 'v', '✗': 'x',
	'—': '-', '–': '-', '−': '-', '‐': '-', '‑': '-',
	'…': '.', '«': '"', '»': '"', '„': '"', '“': '"', '”': '"',
	'‘': '\'', '’': '\'', '№': 'N', '×': 'x', '•': '*', '·': '.',
	'°': 'o', '\\': '/', '~': '-', '¥': 'Y', '€': 'E', '₽': 'P', '$': 'S',
	'ä': 'a', 'ö': 'o', 'ü': 'u', 'ñ': 'n', 'é': 'e', 'è': 'e', 'ë': 'e',
	'Ä': 'A', 'Ö': 'O', 'Ü': 'U', 'É': 'E', 'Ë': 'E',
}

type kind int

const (
	inROM kind = iota
	inCGRAM
	missing
)

type mapper struct{ rom ROM }

func (m mapper) kind(r rune) kind {
	if _, ok := m.rom.Code(r); ok {
		return inROM
	}
	if _, ok := glyphs[r]; ok {
		return inCGRAM
	}
	return missing
}

// settle replaces every character with neither a ROM code nor a glyph by its
// approximation, or by '?'.
func (m mapper) settle(in [Rows][]rune) [Rows][]rune {
	var out [Rows][]rune
	for i, l := range in {
		o := make([]rune, len(l))
		for j, r := range l {
			for range 3 {
				if m.kind(r) != missing {
					break
				}
				a, ok := approx[r]
				if !ok {
					r = '?'
					break
				}
				r = a
			}
			if m.kind(r) == missing {
				r = '?'
			}
			o[j] = r
		}
		out[i] = o
	}
	return out
}

// unknown lists the characters that only '?' can stand for.
func (m mapper) unknown(in [Rows][]rune) []rune {
	var out []rune
	for _, l := range in {
		for _, r := range l {
			x := r
			for range 3 {
				if m.kind(x) != missing {
					break
				}
				x = approx[x]
			}
			if m.kind(x) == missing && !slices.Contains(out, r) {
				out = append(out, r)
			}
		}
	}
	return out
}

// need counts the characters of a screen that take a CGRAM slot.
func (m mapper) need(in [Rows][]rune) map[rune]int {
	n := map[rune]int{}
	for _, l := range in {
		for _, r := range l {
			if m.kind(r) == inCGRAM {
				n[r]++
			}
		}
	}
	return n
}

func (m mapper) fits(in [Rows][]rune) bool { return len(m.need(in)) <= Slots }

// demote frees CGRAM slots by drawing characters as their approximations,
// each time the one whose replacement frees the most slots (the rarest on
// the screen among equals), until the screen fits.
func (m mapper) demote(in [Rows][]rune) ([Rows][]rune, bool) {
	for {
		n := m.need(in)
		if len(n) <= Slots {
			return in, true
		}
		cands := make([]rune, 0, len(n))
		for r := range n {
			if _, ok := approx[r]; ok {
				cands = append(cands, r)
			}
		}
		slices.Sort(cands)
		var best [Rows][]rune
		found, bestNeed, bestCount := false, 0, 0
		for _, r := range cands {
			trial := m.settle(replace(in, r, approx[r]))
			k := len(m.need(trial))
			if k >= len(n) {
				continue
			}
			if !found || k < bestNeed || (k == bestNeed && n[r] < bestCount) {
				found, best, bestNeed, bestCount = true, trial, k, n[r]
			}
		}
		if !found {
			return in, false
		}
		in = best
	}
}

func replace(in [Rows][]rune, from, to rune) [Rows][]rune {
	var out [Rows][]rune
	for i, l := range in {
		o := slices.Clone(l)
		for j, r := range o {
			if r == from {
				o[j] = to
			}
		}
		out[i] = o
	}
	return out
}

// choose picks the mildest rendering of the screen that fits in CGRAM.
func (m mapper) choose(in [Rows][]rune) ([Rows][]rune, Degradation) {
	exact := m.settle(in)
	if m.fits(exact) {
		return exact, Exact
	}
	var capitals [Rows][]rune
	folds := m.rom == A02
	if folds {
		capitals = m.settle(foldCyrillic(in))
		if m.fits(capitals) {
			return capitals, Capitals
		}
	}
	if out, ok := m.demote(exact); ok {
		return out, Approximated
	}
	if folds {
		if out, ok := m.demote(capitals); ok {
			return out, CapitalsApproximated
		}
	}
	latin := m.settle(transliterate(in))
	if out, ok := m.demote(latin); ok {
		return out, Transliterated
	}
	// Only a screen of more than eight distinct characters that have a glyph
	// but no Latin transliteration nor approximation gets here; no such
	// character exists today, so '?' keeps the promise of no blank codes.
	for r := range m.need(latin) {
		latin = replace(latin, r, '?')
	}
	return latin, Transliterated
}

// encode assigns CGRAM slots in rune order and pads lines with spaces.
func (m mapper) encode(in [Rows][]rune, rep *Report) (codes [Rows][Cols]byte, gl []Glyph) {
	need := m.need(in)
	runes := make([]rune, 0, len(need))
	for r := range need {
		runes = append(runes, r)
	}
	slices.Sort(runes)
	slot := map[rune]byte{}
	for i, r := range runes {
		slot[r] = byte(i)
		gl = append(gl, glyphs[r])
	}
	space, _ := m.rom.Code(' ')
	for i := range codes {
		for j := range codes[i] {
			codes[i][j] = space
		}
		for j, r := range in[i] {
			if j >= Cols {
				break
			}
			if c, ok := m.rom.Code(r); ok {
				codes[i][j] = c
			} else {
				codes[i][j] = slot[r]
			}
		}
	}
	return codes, gl
}

func isCyrillic(r rune) bool { return r >= 0x400 && r <= 0x4ff }

func foldCyrillic(in [Rows][]rune) [Rows][]rune {
	var out [Rows][]rune
	for i, l := range in {
		o := slices.Clone(l)
		for j, r := range o {
			if isCyrillic(r) {
				o[j] = unicode.ToUpper(r)
			}
		}
		out[i] = o
	}
	return out
}
