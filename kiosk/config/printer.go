package config

import (
	"encoding/hex"
	"net/url"
	"strings"
	"time"
)

// Printer kinds.
const (
	PrinterESCPOS = "escpos"
	PrinterSim    = "sim"
	PrinterNone   = "none"
)

// Printer is the receipt printer (SPEC §8).
type Printer struct {
	Kind string `yaml:"kind"`
	// Port is the printer's serial device or USB printer device
	// (/dev/usb/lp0); kind escpos only.
	Port string `yaml:"port"`
	// Baud is the serial speed (ignored for /dev/usb/…).
	Baud int `yaml:"baud"`
	// Columns is the paper's characters per line: 32 (58 mm), 42 or 48
	// (80 mm).
	Columns int `yaml:"columns"`
	// CodePage is the ESC t number of the printer's CP866 table.
	CodePage int `yaml:"code_page"`
	// QR is native (GS ( k) or raster, for a printer without the command.
	QR string `yaml:"qr"`
	// Eject is the presenter's eject command in hex ("1d6503"), sent after
	// the cut; empty for a printer without a presenter.
	Eject string `yaml:"eject"`
	// ASB turns on the printer's automatic status back (GS a), so a cover
	// opened or paper ended is seen at once rather than at the next poll.
	ASB bool `yaml:"asb"`
	// Header are the receipt's first lines: the bank's and the kiosk's
	// names and the kiosk's address.
	Header []string `yaml:"header"`
	// CheckURL is the QR code's text; {terminal}, {receipt} and {code} are
	// filled in.
	CheckURL string `yaml:"check_url"`
	// Required takes the kiosk out of service while no receipt can be
	// printed; without it the customer is told and cash is still taken.
	Required bool `yaml:"required"`
	// ResumeWithin: a top-up completed this recently whose receipt a power
	// cut prevented is printed at the next start.
	ResumeWithin time.Duration `yaml:"resume_within"`
	// Timezone is the IANA zone of the printed date (Asia/Almaty).
	Timezone string `yaml:"timezone"`
}

// DefaultPrinter is the printer section's defaults: no printer.
func DefaultPrinter() Printer {
	return Printer{
		Kind:         PrinterNone,
		Header:       []string{},
		Baud:         115200,
		Columns:      42,
		CodePage:     17,
		QR:           "native",
		ResumeWithin: 5 * time.Minute,
		Timezone:     "Asia/Almaty",
	}
}

// EjectBytes is Eject decoded; nil when empty or not hex (Validate says so).
func (p Printer) EjectBytes() []byte {
	b, err := hex.DecodeString(strings.ReplaceAll(p.Eject, " ", ""))
	if err != nil {
		return nil
	}
	return b
}

// Location is Timezone loaded; UTC when it cannot be.
func (p Printer) Location() *time.Location {
	if loc, err := time.LoadLocation(p.Timezone); err == nil {
		return loc
	}
	return time.UTC
}

func (p Printer) check(add addFunc) {
	oneOf(add, "printer.kind", p.Kind, PrinterESCPOS, PrinterSim, PrinterNone)
	if p.Kind == PrinterNone {
		if p.Required {
			add("printer.required", "true with printer.kind none: a kiosk without a printer would never take cash; set a printer or required: false")
		}
		return
	}
	if p.Kind == PrinterESCPOS {
		if p.Port == "" {
			add("printer.port", "required with printer.kind escpos: the printer's device, e.g. /dev/usb/lp0 or /dev/ttyS0")
		}
		baud(add, "printer.baud", p.Baud)
	}
	switch p.Columns {
	case 32, 42, 48:
	default:
		add("printer.columns", "got %d, want 32 (58 mm paper), 42 or 48 (80 mm paper)", p.Columns)
	}
	if p.CodePage < 0 || p.CodePage > 255 {
		add("printer.code_page", "got %d, want the ESC t number of the printer's CP866 table, 0 to 255 (17 on most models)", p.CodePage)
	}
	oneOf(add, "printer.qr", p.QR, "native", "raster")
	if p.Eject != "" && p.EjectBytes() == nil {
		add("printer.eject", "got %q, want the presenter's eject command as hex bytes, e.g. \"1d 65 03\"", p.Eject)
	}
	if p.CheckURL != "" {
		u, err := url.Parse(p.CheckURL)
		if err != nil || (u.Scheme != "https" && u.Scheme != "http") || u.Host == "" {
			add("printer.check_url", "got %q, want an http(s) URL with {terminal}, {receipt} and {code}, e.g. https://bank.kz/check?t={terminal}&r={receipt}&c={code}", p.CheckURL)
		} else if !strings.Contains(p.CheckURL, "{code}") {
			add("printer.check_url", "got %q without {code}: the bank cannot check a receipt without its code", p.CheckURL)
		}
	}
	if p.ResumeWithin < 0 {
		add("printer.resume_within", "got %s, want a duration of zero or more, e.g. 5m", p.ResumeWithin)
	}
	if _, err := time.LoadLocation(p.Timezone); err != nil || p.Timezone == "" {
		add("printer.timezone", "got %q, want an IANA time zone such as Asia/Almaty", p.Timezone)
	}
}
