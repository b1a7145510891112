package charrom

import (
	"testing"
)

func TestROMTables(t *testing.T) {
	for _, rom := range roms {
		for _, c := range rom.Codes() {
			if c < 0x10 {
				t.Errorf("%s: code %#02x is CGRAM, not ROM", rom, c)
			}
		}
		// Every letter and digit of ASCII is where ASCII puts it.
		for _, r := range "0123456789ABCDEFGHIJKLMNOPQRSTUVWXYZabcdefghijklmnopqrstuvwxyz +-()_:.,!?" {
			if c, ok := rom.Code(r); !ok || c != byte(r) {
				t.Errorf("%s: %q at %#02x, %v", rom, r, c, ok)
			}
		}
	}
	spots := []struct {
		rom  ROM
		r    rune
		code byte
	}{
		{A00, '¥', 0x5c}, {A00, 'ｱ', 0xb1}, {A00, 'ﾟ', 0xdf}, {A00, '°', 0xdf}, {A00, 'ö', 0xef}, {A00, '→', 0x7e},
		{A02, 'Б', 0x80}, {A02, 'Э', 0x8f}, {A02, 'Ю', 0xac}, {A02, 'Я', 0xad}, {A02, 'Г', 0x92}, {A02, 'ë', 0xeb}, {A02, 'Ё', 0xcb}, {A02, '\\', 0x5c},
		{Cyrillic, 'Б', 0xa0}, {Cyrillic, 'Я', 0xb1}, {Cyrillic, 'б', 0xb2}, {Cyrillic, 'т', 0xbf}, {Cyrillic, 'я', 0xc7},
		{Cyrillic, 'Д', 0xe0}, {Cyrillic, 'щ', 0xe6}, {Cyrillic, 'Ь', 'b'}, {Cyrillic, 'ь', 0xc4}, {Cyrillic, '№', 0xcc},
		{Cyrillic, 'А', 'A'}, {Cyrillic, 'у', 'y'}, {Cyrillic, 'і', 'i'}, {Cyrillic, 'Ү', 'Y'},
	}
	for _, s := range spots {
		if c, ok := s.rom.Code(s.r); !ok || c != s.code {
			t.Errorf("%s: %q at %#02x (%v), want %#02x", s.rom, s.r, c, ok, s.code)
		}
	}
	for _, absent := range []struct {
		rom ROM
		r   rune
	}{{A00, '\\'}, {A00, 'Б'}, {A02, 'б'}, {Cyrillic, '\\'}, {Cyrillic, 'Ә'}, {A02, '₸'}} {
		if c, ok := absent.rom.Code(absent.r); ok {
			t.Errorf("%s: %q at %#02x, want absent", absent.rom, absent.r, c)
		}
	}
}

// Every Russian and Kazakh letter is drawable on every ROM, from the ROM or
// from a glyph of this package, without falling back.
func TestEveryLetterIsDrawable(t *testing.T) {
	letters := "АБВГДЕЁЖЗИЙКЛМНОПРСТУФХЦЧШЩЪЫЬЭЮЯабвгдеёжзийклмнопрстуфхцчшщъыьэюя" +
		"ӘҒҚҢӨҰҮҺІәғқңөұүһі₸"
	for _, rom := range roms {
		for _, r := range letters {
			_, inROM := rom.Code(r)
			_, inCGRAM := GlyphFor(r)
			if !inROM && !inCGRAM {
				t.Errorf("%s: %q has neither a code nor a glyph", rom, r)
			}
		}
	}
}

func TestGlyphsAreDistinct(t *testing.T) {
	seen := map[[8]byte]rune{}
	for _, g := range Glyphs() {
		dots := 0
		for i, row := range g.Rows {
			if row > 0x1f {
				t.Errorf("%q row %d = %#02x: wider than 5 dots", g.Rune, i, row)
			}
			for b := row; b != 0; b &= b - 1 {
				dots++
			}
		}
		if dots < 6 {
			t.Errorf("glyph %q has only %d dots:\n%s", g.Rune, dots, g)
		}
		if other, dup := seen[g.Rows]; dup {
			t.Errorf("glyphs %q and %q are the same pattern:\n%s", other, g.Rune, g)
		}
		seen[g.Rows] = g.Rune
	}
}
