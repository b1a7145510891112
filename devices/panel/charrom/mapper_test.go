package charrom

import (
	"fmt"
	"slices"
	"strings"
	"testing"
	"unicode/utf8"
)

var roms = []ROM{A00, A02, Cyrillic}

// visual is what a display with a perfect rendering of s shows: each
// character as the ROM pattern it shares (Latin A for Cyrillic А), padded to
// 20 cells. Punctuation no ROM has is drawn as its ASCII stand-in (… as .).
func visual(rom ROM, s string) string {
	var b strings.Builder
	n := 0
	for _, r := range s {
		if _, ok := GlyphFor(r); !ok {
			if _, ok := rom.Code(r); !ok && approx[r] != 0 {
				r = approx[r]
			}
		}
		if c, ok := rom.Code(r); ok {
			r, _ = rom.Char(c)
		}
		b.WriteRune(r)
		n++
	}
	return b.String() + strings.Repeat(" ", Cols-n)
}

// checkDrawable fails when a cell holds a code the display cannot draw.
func checkDrawable(t *testing.T, rom ROM, codes [Rows][Cols]byte, glyphs []Glyph) {
	t.Helper()
	if len(glyphs) > Slots {
		t.Fatalf("%d glyphs, CGRAM has %d slots", len(glyphs), Slots)
	}
	for i, row := range codes {
		for j, c := range row {
			if c < Slots {
				if int(c) >= len(glyphs) {
					t.Errorf("line %d col %d: CGRAM code %d but only %d glyphs", i, j, c, len(glyphs))
				}
				continue
			}
			if _, ok := rom.Char(c); !ok {
				t.Errorf("line %d col %d: code %#02x is blank or unknown on %s", i, j, c, rom)
			}
		}
	}
}

func TestEveryFlowScreenFitsAndMaps(t *testing.T) {
	for _, rom := range roms {
		for _, s := range flowScreens {
			t.Run(rom.String()+"/"+s.name, func(t *testing.T) {
				for i, l := range s.lines {
					if n := utf8.RuneCountInString(l); n > Cols {
						t.Fatalf("test table: line %d has %d characters", i, n)
					}
				}
				rep := Explain(rom, s.lines)
				checkDrawable(t, rom, rep.Codes, rep.Glyphs)
				if len(rep.Unknown) > 0 || len(rep.Cut) > 0 {
					t.Errorf("unknown %q, cut lines %v", rep.Unknown, rep.Cut)
				}
				for i, l := range rep.Shown {
					if utf8.RuneCountInString(l) != Cols || strings.ContainsRune(l, '?') {
						t.Errorf("line %d shown as %q", i, l)
					}
				}
				lang := s.name[len(s.name)-2:]
				want := map[ROM]map[string][]Degradation{
					// The Cyrillic ROM shows Russian and English as written and
					// has room for the Kazakh letters of any one screen.
					Cyrillic: {"ru": {Exact}, "kk": {Exact}, "en": {Exact}},
					A02:      {"ru": {Exact, Capitals}, "kk": {Exact, Capitals}, "en": {Exact}},
					A00:      {"ru": {Exact, Approximated, Transliterated}, "kk": {Exact, Approximated, Transliterated}, "en": {Exact}},
				}[rom][lang]
				if !slices.Contains(want, rep.Degraded) {
					t.Errorf("degraded %s, want one of %v\n%s", rep.Degraded, want, strings.Join(rep.Shown[:], "\n"))
				}
				if rep.Degraded == Exact {
					for i, l := range s.lines {
						if got, want := rep.Shown[i], visual(rom, l); got != want {
							t.Errorf("line %d shown %q, want %q", i, got, want)
						}
					}
				}
			})
		}
	}
}

func TestMapExamples(t *testing.T) {
	tests := []struct {
		rom   ROM
		lines [Rows]string
		shown [Rows]string
		deg   Degradation
	}{
		{Cyrillic, [Rows]string{"Пополнить кошелёк"}, [Rows]string{"Пoпoлнить кoшeлёк"}, Exact},
		{Cyrillic, [Rows]string{"Қызмет көрсету", "Күте тұрыңыз"}, [Rows]string{"Қызмeт көpceтy", "Kүтe тұpыңыз"}, Exact},
		{Cyrillic, [Rows]string{"200 000 ₸"}, [Rows]string{"200 000 ₸"}, Exact},
		// Ten Kazakh glyphs: two of those seen once drop to their Russian
		// letters (the first in rune order, for a stable choice).
		{Cyrillic, [Rows]string{"ӘәҒғҚқ", "ҢңӨө", "әғқ"}, [Rows]string{"ӘәГғKқ", "ҢңӨө", "әғқ"}, Approximated},
		// Eight lower-case letters A02 lacks fit in CGRAM; eleven do not.
		{A02, [Rows]string{"Пополнить кошелёк"}, [Rows]string{"Пoпoлнить кoшeлëк"}, Exact},
		{A02, [Rows]string{"Пополнить кошелёк", "без комиссии"}, [Rows]string{"ПOПOЛHИTb KOШEЛËK", "БEЗ KOMИCCИИ"}, Capitals},
		{A02, [Rows]string{"Временно"}, [Rows]string{"Bpeмeннo"}, Exact},
		{A02, [Rows]string{"Нөмірді енгізіңіз"}, [Rows]string{"Hөмipдi eнгiзiңiз"}, Exact},
		{A00, [Rows]string{"Пополнить кошелёк", "без комиссии"}, [Rows]string{"Popolnit koshelek", "bez komissii"}, Transliterated},
		{A00, [Rows]string{"Вставьте купюры", "Внесено: 12 500 ₸", "Макс: 200 000 ₸", "OK - оплатить"},
			[Rows]string{"Vstavte kupyury", "Vneseno: 12 500 ₸", "Maks: 200 000 ₸", "OK - oplatit"}, Transliterated},
		// Ten glyphs, two of which have a near letter: Ә becomes А, ₸ T.
		{A00, [Rows]string{"Әмиянды толтыру", "Салынды: 12 500 ₸"}, [Rows]string{"Aмиянды тoлтыpy", "Caлынды: 12 500 T"}, Approximated},
		{A00, [Rows]string{"ЖДИТЕ ОТВЕТА БАНКА", "Щука Шар Юг Фея Ёж"}, [Rows]string{"ZHDITE OTVETA BANKA", "Shuka Shar Ug Fea Ez"}, Transliterated},
		{A00, [Rows]string{"Подождите"}, [Rows]string{"Пoдoждитe"}, Exact},
		{A00, [Rows]string{"Top up — №1 «OK»"}, [Rows]string{"Top up - N1 \"OK\""}, Exact},
	}
	for _, tt := range tests {
		t.Run(tt.rom.String()+"/"+tt.lines[0], func(t *testing.T) {
			rep := Explain(tt.rom, tt.lines)
			checkDrawable(t, tt.rom, rep.Codes, rep.Glyphs)
			for i := range tt.shown {
				want := tt.shown[i] + strings.Repeat(" ", Cols-utf8.RuneCountInString(tt.shown[i]))
				if rep.Shown[i] != want {
					t.Errorf("line %d shown %q, want %q", i, rep.Shown[i], want)
				}
			}
			if rep.Degraded != tt.deg {
				t.Errorf("degraded %s, want %s", rep.Degraded, tt.deg)
			}
		})
	}
}

func TestMapCodes(t *testing.T) {
	// "Пополнить" on the Cyrillic ROM, byte for byte, and the tenge sign
	// in CGRAM slot 0.
	codes, glyphs := Map(Cyrillic, [Rows]string{"Пополнить", "5 ₸"})
	want := []byte{0xa8, 'o', 0xbe, 'o', 0xbb, 0xbd, 0xb8, 0xbf, 0xc4}
	if got := codes[0][:len(want)]; !slices.Equal(got, want) {
		t.Errorf("codes % x, want % x", got, want)
	}
	if got := codes[1][:3]; !slices.Equal(got, []byte{'5', ' ', 0}) {
		t.Errorf("amount codes % x", got)
	}
	tenge := [8]byte{0x1f, 0x00, 0x1f, 0x04, 0x04, 0x04, 0x04, 0x00}
	if len(glyphs) != 1 || glyphs[0].Rune != '₸' || glyphs[0].Rows != tenge {
		t.Errorf("glyphs %v", glyphs)
	}
	// A02 puts Cyrillic capitals at 0x80…: "ДЖЮЯ" and Г as Greek Gamma.
	codes, _ = Map(A02, [Rows]string{"ДЖЮЯГ"})
	if got := codes[0][:5]; !slices.Equal(got, []byte{0x81, 0x82, 0xac, 0xad, 0x92}) {
		t.Errorf("a02 codes % x", got)
	}
	// A00 has the yen sign where ASCII has the backslash.
	codes, _ = Map(A00, [Rows]string{`¥\`})
	if got := codes[0][:2]; !slices.Equal(got, []byte{0x5c, '/'}) {
		t.Errorf("a00 codes % x", got)
	}
}

func TestMapLongAndOddInput(t *testing.T) {
	long := strings.Repeat("Щ", 25)
	for _, rom := range roms {
		rep := Explain(rom, [Rows]string{long, "a\tb\x00c", "и\u0306е\u0308", "日本"})
		checkDrawable(t, rom, rep.Codes, rep.Glyphs)
		if !slices.Equal(rep.Cut, []int{0}) {
			t.Errorf("%s: cut %v, want [0]", rom, rep.Cut)
		}
		if !strings.HasPrefix(rep.Shown[1], "a b c") {
			t.Errorf("%s: controls shown as %q", rom, rep.Shown[1])
		}
		if !slices.Equal(rep.Unknown, []rune("日本")) {
			t.Errorf("%s: unknown %q", rom, rep.Unknown)
		}
	}
	// Decomposed й and ё are composed before mapping.
	if got := Explain(Cyrillic, [Rows]string{"", "", "и\u0306е\u0308"}).Shown[2][:2*2]; got != "йё" {
		t.Errorf("composed %q", got)
	}
}

func TestTransliterationFits(t *testing.T) {
	// Twenty letters that each take several Latin ones.
	line := "ЩщЖжШшЧчЮюЯяЦцХхЩщЖж"
	rep := Explain(A00, [Rows]string{line, "  Щука и жёлудь  "})
	checkDrawable(t, A00, rep.Codes, rep.Glyphs)
	if rep.Degraded != Transliterated {
		t.Fatalf("degraded %s", rep.Degraded)
	}
	if got := strings.TrimSpace(rep.Shown[1]); got != "Shchuka i zhelud" {
		t.Errorf("line 1 %q", got)
	}
	for i, l := range rep.Shown {
		for _, r := range l {
			if r > 0x7e {
				t.Errorf("line %d %q: %q is not ASCII", i, l, r)
			}
		}
	}
}

func TestRenderMarksUndrawable(t *testing.T) {
	var codes [Rows][Cols]byte
	for i := range codes {
		for j := range codes[i] {
			codes[i][j] = ' '
		}
	}
	codes[0][0], codes[0][1], codes[0][2] = 3, 0x80, 0x41
	got := Render(A00, codes, []Glyph{FullBlock})
	if !strings.HasPrefix(got[0], "??A ") {
		t.Errorf("render %q", got[0])
	}
}

func TestParseROM(t *testing.T) {
	for _, rom := range roms {
		got, err := ParseROM(rom.String())
		if err != nil || got != rom {
			t.Errorf("ParseROM(%q) = %v, %v", rom, got, err)
		}
	}
	if _, err := ParseROM("A00"); err == nil || !strings.Contains(err.Error(), "a00, a02 or cyrillic") {
		t.Errorf("ParseROM(A00) = %v", err)
	}
}

func FuzzMap(f *testing.F) {
	for _, s := range flowScreens {
		f.Add(s.lines[0], s.lines[1], s.lines[2], s.lines[3])
	}
	f.Add("ӘәҒғҚқҢңӨөҰұҮүҺһІі₸", "ЁЖЗИЙЛПУФЦЧШЩЪЫЭЮЯ", "бвгджзийклмнптфцчш", "\x00\t\u0306€日")
	f.Fuzz(func(t *testing.T, a, b, c, d string) {
		for _, rom := range roms {
			codes, glyphs := Map(rom, [Rows]string{a, b, c, d})
			checkDrawable(t, rom, codes, glyphs)
		}
	})
}

func ExampleMap() {
	codes, glyphs := Map(Cyrillic, [Rows]string{"Күте тұрыңыз"})
	fmt.Printf("% x\n", codes[0][:12])
	for _, g := range glyphs {
		fmt.Printf("%q ", g.Rune)
	}
	fmt.Println()
	// Output:
	// 4b 01 bf 65 20 bf 02 70 c3 00 c3 b7
	// 'ң' 'ү' 'ұ'
}

// The marks of a payment's state are CGRAM glyphs, and letters when the
// slots run out; the word beside them says the same on every ROM.
func TestPaymentMarks(t *testing.T) {
	for _, name := range []string{"a00", "a02", "cyrillic"} {
		rom, err := ParseROM(name)
		if err != nil {
			t.Fatal(err)
		}
		rep := Explain(rom, [4]string{"✓ Credited", "✗ Rejected", "! Pending", ""})
		if len(rep.Unknown) > 0 {
			t.Errorf("%s: unknown %q", name, string(rep.Unknown))
		}
	}
	if approx['✓'] == 0 || approx['✗'] == 0 {
		t.Error("no fallback for the marks when CGRAM is full")
	}
}
