package printertest

import (
	"strings"
	"sync"

	"tolem/devices/printer"
)

var (
	ocrOnce sync.Once
	// plain and bold map a glyph's rows to its character; bold is the
	// glyph smeared one dot right, as the driver draws emphasis.
	plain, bold map[[printer.GlyphH]byte]rune
)

func loadOCR() {
	plain = map[[printer.GlyphH]byte]rune{}
	bold = map[[printer.GlyphH]byte]rune{}
	for _, r := range printer.FontRunes() {
		g, _ := printer.Glyph(r)
		if _, seen := plain[g]; !seen {
			plain[g] = r
		}
		var b [printer.GlyphH]byte
		for i, row := range g {
			b[i] = row | row>>1
		}
		if _, seen := bold[b]; !seen {
			bold[b] = r
		}
	}
}

// ReadRaster reads a raster line the driver drew back into text: the cell
// is 12×24 dots (24×48 for double size), each cell is sampled back to the
// font's 8×16 and looked up. Latin and Cyrillic letters that look alike
// come back as the Latin one (compare through Fold); a cell that is no
// glyph comes back as '?'. Trailing spaces are dropped.
func ReadRaster(bm *printer.Bitmap) string {
	ocrOnce.Do(loadOCR)
	var cw, ch int
	switch bm.H {
	case 24:
		cw, ch = 12, 24
	case 48:
		cw, ch = 24, 48
	default:
		return "" // not a line of text: the QR code
	}
	var out []rune
	for cx := 0; cx+cw <= bm.W; cx += cw {
		var g [printer.GlyphH]byte
		for y := range printer.GlyphH {
			for x := range printer.GlyphW {
				if bm.At(cx+(x*cw+printer.GlyphW-1)/printer.GlyphW, (y*ch+printer.GlyphH-1)/printer.GlyphH) {
					g[y] |= 0x80 >> x
				}
			}
		}
		r, ok := plain[g]
		if !ok {
			if r, ok = bold[g]; !ok {
				r = '?'
			}
		}
		out = append(out, r)
	}
	return strings.TrimRight(string(out), " ")
}

// lookalikes maps Cyrillic letters to the Latin ones drawn the same.
var lookalikes = strings.NewReplacer(
	"А", "A", "В", "B", "Е", "E", "К", "K", "М", "M", "Н", "H", "О", "O", "Р", "P", "С", "C", "Т", "T", "Х", "X",
	"а", "a", "е", "e", "о", "o", "р", "p", "с", "c", "у", "y", "х", "x", "Ѕ", "S", "І", "I", "і", "i", "Ј", "J", "ј", "j",
)

// Fold maps look-alike letters to one of each, so that text read back from
// a raster line compares with the text that was drawn.
func Fold(s string) string { return lookalikes.Replace(s) }
