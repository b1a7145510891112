package kiosk

import (
	"errors"
	"testing"
)

func TestMoneyString(t *testing.T) {
	for _, c := range []struct {
		m    Money
		want string
	}{
		{0, "0 ₸"},
		{Tenge(200), "200 ₸"},
		{Tenge(1000), "1 000 ₸"},
		{Tenge(12500), "12 500 ₸"},
		{Tenge(200000), "200 000 ₸"},
		{Tenge(5000000), "5 000 000 ₸"},
		{Money(1250050), "12 500,50 ₸"},
		{Money(5), "0,05 ₸"},
		{-Tenge(1500), "-1 500 ₸"},
	} {
		if got := c.m.String(); got != c.want {
			t.Errorf("Money(%d).String() = %q, want %q", int64(c.m), got, c.want)
		}
	}
}

func TestParsePhone(t *testing.T) {
	for _, c := range []struct {
		in      string
		want    Phone
		wantErr error
	}{
		{"7011234567", "+77011234567", nil},
		{"7771234567", "+77771234567", nil},
		{"701123456", "", ErrPhoneLength},
		{"70112345678", "", ErrPhoneLength},
		{"70112a4567", "", ErrPhoneLength},
		{"7121234567", "", ErrPhonePrefix}, // a landline code
		{"9011234567", "", ErrPhonePrefix},
	} {
		got, err := ParsePhone(c.in, DefaultPhonePrefixes)
		if !errors.Is(err, c.wantErr) || got != c.want {
			t.Errorf("ParsePhone(%q) = %q, %v; want %q, %v", c.in, got, err, c.want, c.wantErr)
		}
	}
}

func TestPhoneFormatting(t *testing.T) {
	p := Phone("+77011234567")
	if got := p.Masked(); got != "+7701***4567" {
		t.Errorf("Masked = %q", got)
	}
	if got := p.Pretty(); got != "+7 (701) 123-45-67" {
		t.Errorf("Pretty = %q", got)
	}
	if got := FormatPhoneDigits("7011"); got != "+7 (701) 1__-__-__" {
		t.Errorf("FormatPhoneDigits = %q", got)
	}
}

func TestStateNamesRoundTrip(t *testing.T) {
	for _, s := range States() {
		got, ok := ParseState(s.String())
		if !ok || got != s {
			t.Errorf("ParseState(%q) = %v, %v", s.String(), got, ok)
		}
	}
	if StateConfirmOffline.String() != "confirm_offline" || StateOutOfService.String() != "out_of_service" {
		t.Error("state names drifted from SPEC §1")
	}
}

func TestLangCycle(t *testing.T) {
	l := LangRU
	var seen []string
	for range 4 {
		seen = append(seen, l.String())
		l = l.Next()
	}
	if got := seen; got[0] != "ru" || got[1] != "kk" || got[2] != "en" || got[3] != "ru" {
		t.Errorf("LANG cycle = %v, want ru kk en ru", got)
	}
}
