package config

import (
	"strings"
	"testing"
	"time"
)

func TestPrinterSection(t *testing.T) {
	c, err := Parse([]byte(minimal))
	if err != nil {
		t.Fatal(err)
	}
	if c.Printer.Kind != PrinterNone || c.Printer.ResumeWithin != 5*time.Minute || c.Printer.Columns != 42 {
		t.Fatalf("printer defaults %+v", c.Printer)
	}
	good := "printer:\n  kind: escpos\n  port: /dev/usb/lp0\n  columns: 32\n  eject: 1d 65 03\n" +
		"  header: [АО Банк, Алматы]\n  check_url: https://bank.kz/c?t={terminal}&r={receipt}&c={code}\n  required: true\n"
	c, err = Parse([]byte(minimal + good))
	if err != nil {
		t.Fatal(err)
	}
	if p := c.Printer; !p.Required || len(p.Header) != 2 || string(p.EjectBytes()) != "\x1d\x65\x03" || p.Location().String() != "Asia/Almaty" {
		t.Fatalf("parsed %+v", p)
	}
	for bad, key := range map[string]string{
		"printer: {kind: laser}":                              "printer.kind",
		"printer: {kind: escpos}":                             "printer.port",
		"printer: {kind: sim, columns: 40}":                   "printer.columns",
		"printer: {kind: sim, qr: bitmap}":                    "printer.qr",
		"printer: {kind: sim, eject: zz}":                     "printer.eject",
		"printer: {kind: sim, check_url: 'https://bank.kz/'}": "printer.check_url",
		"printer: {kind: sim, timezone: Mars/Olympus}":        "printer.timezone",
		"printer: {kind: none, required: true}":               "printer.required",
	} {
		_, err := Parse([]byte(minimal + bad + "\n"))
		if err == nil || !strings.Contains(err.Error(), key) {
			t.Errorf("%s: %v, want a problem naming %s", bad, err, key)
		}
	}
}
