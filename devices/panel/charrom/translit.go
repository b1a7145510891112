package charrom

import (
	"unicode"
	"unicode/utf8"
)

// latin is the transliteration of Russian and Kazakh letters: the Russian
// in the common BGN-like spelling a reader in Kazakhstan knows from signs
// (ь and ъ dropped, since a cell is dear), the Kazakh letters as the Latin
// letter a reader takes them for. Letters spelt with several Latin ones list
// shorter spellings, used in turn when a line would not fit.
var latin = map[rune][]string{
	'а': {"a"}, 'б': {"b"}, 'в': {"v"}, 'г': {"g"}, 'д': {"d"}, 'е': {"e"}, 'ё': {"e"},
	'ж': {"zh", "z"}, 'з': {"z"}, 'и': {"i"}, 'й': {"y"}, 'к': {"k"}, 'л': {"l"},
	'м': {"m"}, 'н': {"n"}, 'о': {"o"}, 'п': {"p"}, 'р': {"r"}, 'с': {"s"},
	'т': {"t"}, 'у': {"u"}, 'ф': {"f"}, 'х': {"kh", "h"}, 'ц': {"ts", "c"},
	'ч': {"ch", "c"}, 'ш': {"sh", "s"}, 'щ': {"shch", "sh", "s"}, 'ъ': {""},
	'ы': {"y"}, 'ь': {""}, 'э': {"e"}, 'ю': {"yu", "u"}, 'я': {"ya", "a"},
	'ә': {"a"}, 'ғ': {"g"}, 'қ': {"k"}, 'ң': {"n"}, 'ө': {"o"}, 'ұ': {"u"}, 'ү': {"u"},
	'һ': {"h"}, 'і': {"i"},
	'є': {"ye", "e"}, 'ї': {"yi", "i"}, 'ў': {"u"}, 'ј': {"j"}, 'ѕ': {"s"},
}

// piece is what one character of a line becomes.
type piece struct {
	forms []string // spellings, longest first; the first for non-Cyrillic
	level int      // the spelling in use
}

func (p piece) text() string { return p.forms[p.level] }

// transliterate writes the Cyrillic letters of each line in Latin. A line
// that grows past 20 cells first loses its padding (from the end, then from
// the start, in turn, so a centred line stays near the centre), then takes
// the shorter spellings, the longest saving first (ends of lines first among
// equals); since the shortest spelling of every letter is one cell at most,
// the line then fits.
func transliterate(in [Rows][]rune) [Rows][]rune {
	var out [Rows][]rune
	for i, l := range in {
		pieces := make([]piece, len(l))
		for j, r := range l {
			pieces[j] = piece{forms: []string{string(r)}}
			if !isCyrillic(r) {
				continue
			}
			forms, ok := latin[unicode.ToLower(r)]
			if !ok {
				continue
			}
			if unicode.IsUpper(r) {
				forms = capitalize(forms, capsWord(l, j))
			}
			pieces[j] = piece{forms: forms}
		}
		out[i] = fit(pieces)
	}
	return out
}

// capsWord reports whether the capital at l[j] is part of a word written in
// capitals, where Ш is SH rather than Sh.
func capsWord(l []rune, j int) bool {
	if j+1 < len(l) && unicode.IsLetter(l[j+1]) {
		return unicode.IsUpper(l[j+1])
	}
	return j > 0 && unicode.IsLetter(l[j-1]) && unicode.IsUpper(l[j-1])
}

func capitalize(forms []string, all bool) []string {
	out := make([]string, len(forms))
	for i, f := range forms {
		b := []rune(f)
		for k := range b {
			if k == 0 || all {
				b[k] = unicode.ToUpper(b[k])
			}
		}
		out[i] = string(b)
	}
	return out
}

func width(pieces []piece) int {
	n := 0
	for _, p := range pieces {
		n += utf8.RuneCountInString(p.text())
	}
	return n
}

func isSpace(p piece) bool { return p.text() == " " }

func fit(pieces []piece) []rune {
	fromEnd := true
	for width(pieces) > Cols {
		endSpace := len(pieces) > 0 && isSpace(pieces[len(pieces)-1])
		startSpace := len(pieces) > 0 && isSpace(pieces[0])
		if !endSpace && !startSpace {
			break
		}
		if (fromEnd && endSpace) || !startSpace {
			pieces = pieces[:len(pieces)-1]
		} else {
			pieces = pieces[1:]
		}
		fromEnd = !fromEnd
	}
	for width(pieces) > Cols {
		best, saving := -1, 0
		for j := len(pieces) - 1; j >= 0; j-- {
			p := pieces[j]
			if p.level+1 >= len(p.forms) {
				continue
			}
			s := utf8.RuneCountInString(p.text()) - utf8.RuneCountInString(p.forms[p.level+1])
			if s > saving {
				best, saving = j, s
			}
		}
		if best < 0 {
			break
		}
		pieces[best].level++
	}
	var out []rune
	for _, p := range pieces {
		out = append(out, []rune(p.text())...)
	}
	if len(out) > Cols {
		out = out[:Cols]
	}
	return out
}
