package hd44780_test

import (
	"errors"
	"math/rand/v2"
	"testing"
	"time"

	"tolem/devices/panel/charrom"
	"tolem/devices/panel/hd44780"
	"tolem/devices/panel/hd44780/hd44780test"
	"tolem/kiosk"
)

// After any sequence of screens, whatever the shadow skipped and whichever
// slots were reused, the display shows exactly the last screen as mapped.
func TestDisplayShowsLastScreen(t *testing.T) {
	words := []string{"Пополнить", "кошелёк", "Әмиян", "толтыру", "Нөмірді", "енгізіңіз",
		"200 000 ₸", "12 500 ₸", "OK", "Қызмет", "көрсету", "Күте", "тұрыңыз", "+7 (701)",
		"Вставьте", "купюры", "ЖЁЛУДЬ", "Ғұмыр", "Үміт", "Шығу", "Wallet", "Ұлы", "Һ", "ІІ"}
	rng := rand.New(rand.NewPCG(1, 2))
	for _, rom := range []charrom.ROM{charrom.A00, charrom.A02, charrom.Cyrillic} {
		lcd := hd44780test.New()
		d, err := hd44780.New(lcd, &hd44780.Opts{ROM: rom, Sleep: func(time.Duration) {}})
		if err != nil {
			t.Fatal(err)
		}
		for i := range 300 {
			var s kiosk.Screen
			for l := range s.Lines {
				line := ""
				for rng.IntN(4) != 0 {
					w := words[rng.IntN(len(words))]
					if len([]rune(line))+1+len([]rune(w)) > charrom.Cols {
						break
					}
					if line != "" {
						line += " "
					}
					line += w
				}
				s.Lines[l] = line
			}
			if i%50 == 49 {
				// A glitch on the bus: the next screen re-initialises.
				lcd.Fail(errors.New("NACK"))
				if err := d.Show(s); err == nil {
					t.Fatal("Show on a failing bus succeeded")
				}
				lcd.Fail(nil)
			}
			if err := d.Show(s); err != nil {
				t.Fatal(err)
			}
			want := charrom.Explain(rom, s.Lines).Shown
			if got := lcd.Lines(rom); got != want {
				t.Fatalf("%s screen %d %q:\nshown %q\nwant  %q", rom, i, s.Lines, got, want)
			}
		}
	}
}

// A typed digit costs one address and one character.
func TestTypingADigitWritesTwoBytes(t *testing.T) {
	lcd := hd44780test.New()
	d, err := hd44780.New(lcd, &hd44780.Opts{ROM: charrom.Cyrillic, Sleep: func(time.Duration) {}})
	if err != nil {
		t.Fatal(err)
	}
	screen := func(digits string) kiosk.Screen {
		return kiosk.Screen{Lines: [4]string{"Введите номер", kiosk.FormatPhoneDigits(digits), "BACK - стереть", "OK - далее"}}
	}
	if err := d.Show(screen("701")); err != nil {
		t.Fatal(err)
	}
	before := lcd.Writes()
	if err := d.Show(screen("7012")); err != nil {
		t.Fatal(err)
	}
	if n := lcd.Writes() - before; n != 2 {
		t.Errorf("%d bytes for one digit, want 2", n)
	}
}

func TestRefreshRepairsAScrambledDisplay(t *testing.T) {
	lcd := hd44780test.New()
	d, err := hd44780.New(lcd, &hd44780.Opts{ROM: charrom.Cyrillic, Sleep: func(time.Duration) {}})
	if err != nil {
		t.Fatal(err)
	}
	s := kiosk.Screen{Lines: [4]string{"Қызмет көрсету", "жүріп жатыр", "", "200 000 ₸"}}
	if err := d.Show(s); err != nil {
		t.Fatal(err)
	}
	want := charrom.Explain(charrom.Cyrillic, s.Lines).Shown
	lcd.Scramble()
	if lcd.Lines(charrom.Cyrillic) == want {
		t.Fatal("scramble changed nothing")
	}
	// The shadow still matches the screen: showing it again writes nothing.
	if err := d.Show(s); err != nil {
		t.Fatal(err)
	}
	if lcd.Lines(charrom.Cyrillic) == want {
		t.Fatal("the shadow did not skip the unchanged screen")
	}
	if err := d.Refresh(); err != nil {
		t.Fatal(err)
	}
	if got := lcd.Lines(charrom.Cyrillic); got != want {
		t.Errorf("after Refresh %q, want %q", got, want)
	}
}
