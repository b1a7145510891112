package printer

import (
	"bufio"
	"bytes"
	_ "embed"
	"encoding/hex"
	"strconv"
	"strings"
	"sync"
)

//go:embed font.hex
var fontHex []byte

// GlyphW and GlyphH are the embedded font's cell in dots.
const (
	GlyphW = 8
	GlyphH = 16
)

var (
	fontOnce sync.Once
	glyphs   map[rune][GlyphH]byte
	runes    []rune // in the file's order: ASCII first
)

func loadFont() {
	glyphs = map[rune][GlyphH]byte{}
	sc := bufio.NewScanner(bytes.NewReader(fontHex))
	for sc.Scan() {
		cp, bits, ok := strings.Cut(sc.Text(), ":")
		if !ok || len(bits) != 2*GlyphH {
			continue // a double-width glyph: none the receipts need
		}
		r, err := strconv.ParseUint(cp, 16, 32)
		if err != nil {
			continue
		}
		b, err := hex.DecodeString(bits)
		if err != nil {
			continue
		}
		var g [GlyphH]byte
		copy(g[:], b)
		glyphs[rune(r)] = g
		runes = append(runes, rune(r))
	}
}

// FontRunes lists the characters the embedded font draws, in code point
// order.
func FontRunes() []rune {
	fontOnce.Do(loadFont)
	return append([]rune(nil), runes...)
}

// Glyph returns the rows of r's glyph, the top row first, the leftmost dot in
// the high bit; ok is false for a character the font lacks.
func Glyph(r rune) (rows [GlyphH]byte, ok bool) {
	fontOnce.Do(loadFont)
	rows, ok = glyphs[r]
	return rows, ok
}

// Bitmap is a 1-bit image, rows of Stride bytes, the leftmost dot in the high
// bit, as ESC/POS raster commands take it.
type Bitmap struct {
	W, H   int
	Stride int
	Bits   []byte
}

// NewBitmap makes a white bitmap of w×h dots.
func NewBitmap(w, h int) *Bitmap {
	s := (w + 7) / 8
	return &Bitmap{W: w, H: h, Stride: s, Bits: make([]byte, s*h)}
}

// Set blackens the dot at x, y.
func (b *Bitmap) Set(x, y int) {
	if x < 0 || y < 0 || x >= b.W || y >= b.H {
		return
	}
	b.Bits[y*b.Stride+x/8] |= 0x80 >> (x % 8)
}

// At reports whether the dot at x, y is black.
func (b *Bitmap) At(x, y int) bool {
	if x < 0 || y < 0 || x >= b.W || y >= b.H {
		return false
	}
	return b.Bits[y*b.Stride+x/8]&(0x80>>(x%8)) != 0
}

// renderLine draws text in a cellW×cellH cell per character, the glyphs
// scaled from 8×16 by nearest neighbour, across a line of width dots placed
// as align says. A character the font lacks is drawn as a box, visibly.
func renderLine(text string, width, cellW, cellH int, align alignment, bold bool) *Bitmap {
	rs := []rune(text)
	bm := NewBitmap(width, cellH)
	// The line starts on a whole cell, as text would, so that every
	// character sits in the printer's column grid.
	x0 := 0
	switch used := len(rs) * cellW; align {
	case alignCenter:
		x0 = max((width-used)/2, 0) / cellW * cellW
	case alignRight:
		x0 = max(width-used, 0) / cellW * cellW
	}
	for i, r := range rs {
		g, ok := Glyph(r)
		if !ok {
			g = [GlyphH]byte{0, 0, 0x7E, 0x42, 0x42, 0x42, 0x42, 0x42, 0x42, 0x42, 0x42, 0x42, 0x7E}
		}
		cx := x0 + i*cellW
		for y := range cellH {
			row := g[y*GlyphH/cellH]
			for x := range cellW {
				if row&(0x80>>(x*GlyphW/cellW)) != 0 {
					bm.Set(cx+x, y)
					if bold {
						bm.Set(cx+x+1, y)
					}
				}
			}
		}
	}
	return bm
}
