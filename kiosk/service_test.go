package kiosk

import (
	"errors"
	"strings"
	"testing"
)

const specCatalog = `{"version":"2026-12-01.1","services":[
 {"id":"wallet","kind":"wallet","name":{"ru":"Kaspi кошелёк","kk":"Kaspi әмиян","en":"Kaspi wallet"},
  "account":{"kind":"phone"},"lookup":true,"offline":true},
 {"id":"beeline","kind":"mobile","name":{"ru":"Beeline","kk":"Beeline","en":"Beeline"},
  "account":{"kind":"phone","prefixes":["705","771","776","777"]},"lookup":false,"offline":true,
  "min_amount":10000,"max_amount":5000000},
 {"id":"alseco","kind":"utility","name":{"ru":"Алсеко: коммунальные","kk":"Алсеко: коммуналдық","en":"Alseco utilities"},
  "account":{"kind":"digits","min_len":6,"max_len":12},"lookup":true,"offline":false}]}`

func TestParseCatalogTakesTheSpecExample(t *testing.T) {
	c, err := ParseCatalog([]byte(specCatalog))
	if err != nil {
		t.Fatal(err)
	}
	b, ok := c.Lookup("beeline")
	if !ok || len(b.Account.Prefixes) != 4 || b.Account.Prefixes[0] != 705 || b.MaxAmount != Tenge(50000) {
		t.Errorf("beeline = %+v", b)
	}
	a, _ := c.Lookup("alseco")
	if a.DisplayName(LangKK) != "Алсеко: коммуналдық" || a.CheckAccount("12345") == nil || a.CheckAccount("123456") != nil {
		t.Errorf("alseco = %+v", a)
	}
	m := c.Menu()
	if len(m) != 3 || !m[0].IsWallet() {
		t.Errorf("menu %v, want the wallet first", m)
	}
}

func TestParseCatalogRefusesWhole(t *testing.T) {
	svc := func(s string) string { return `{"version":"v","services":[` + s + `]}` }
	for name, body := range map[string]string{
		"not JSON":             `{"version":`,
		"no version":           `{"services":[]}`,
		"unknown kind":         svc(`{"id":"x","kind":"casino","name":{"ru":"X"},"account":{"kind":"phone"}}`),
		"unknown account kind": svc(`{"id":"x","kind":"mobile","name":{"ru":"X"},"account":{"kind":"iban"}}`),
		"no name":              svc(`{"id":"x","kind":"mobile","name":{"en":"X"},"account":{"kind":"phone"}}`),
		"no id":                svc(`{"kind":"mobile","name":{"ru":"X"},"account":{"kind":"phone"}}`),
		"bad lengths":          svc(`{"id":"x","kind":"utility","name":{"ru":"X"},"account":{"kind":"digits","min_len":8,"max_len":4}}`),
		"bad prefix":           svc(`{"id":"x","kind":"mobile","name":{"ru":"X"},"account":{"kind":"phone","prefixes":[70]}}`),
		"min over max":         svc(`{"id":"x","kind":"loan","name":{"ru":"X"},"account":{"kind":"phone"},"min_amount":5,"max_amount":4}`),
		"twice":                svc(`{"id":"x","kind":"loan","name":{"ru":"X"},"account":{"kind":"phone"}},{"id":"x","kind":"loan","name":{"ru":"Y"},"account":{"kind":"phone"}}`),
	} {
		if _, err := ParseCatalog([]byte(body)); !errors.Is(err, ErrBadCatalog) {
			t.Errorf("%s: %v, want ErrBadCatalog", name, err)
		}
	}
}

func TestMaskAccount(t *testing.T) {
	for in, want := range map[string]string{"+77011234567": "+7701***4567", "123456789": "***6789", "123": "***", "": ""} {
		if got := MaskAccount(in); got != want {
			t.Errorf("MaskAccount(%q) = %q, want %q", in, got, want)
		}
	}
}

// FuzzParseCatalog: whatever the bank sends, ParseCatalog refuses it or
// returns a catalog every screen can use.
func FuzzParseCatalog(f *testing.F) {
	f.Add([]byte(specCatalog))
	f.Add([]byte(`{"version":"v","services":[]}`))
	f.Add([]byte(`{"version":"v","services":[{"id":"x","kind":"utility","name":{"ru":"X"},"account":{"kind":"digits","min_len":1,"max_len":20}}]}`))
	f.Fuzz(func(t *testing.T, data []byte) {
		c, err := ParseCatalog(data)
		if err != nil {
			if !errors.Is(err, ErrBadCatalog) {
				t.Fatalf("error %v is not ErrBadCatalog", err)
			}
			return
		}
		for _, s := range c.Services {
			if s.ID == "" || strings.TrimSpace(s.DisplayName(LangEN)) == "" {
				t.Fatalf("service %+v has no id or name", s)
			}
			if s.Account.Kind == AccountDigits && (s.Account.MinLen < 1 || s.Account.MaxLen > 20) {
				t.Fatalf("service %+v: lengths out of range", s)
			}
		}
		if !c.Menu()[0].IsWallet() {
			t.Fatal("menu does not start with the wallet")
		}
	})
}
