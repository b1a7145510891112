package id003

import (
	"bytes"
	"fmt"
	"strings"
)

// NumDenoms is how many denomination codes (0x61–0x68) a unit has.
const NumDenoms = DenomLast - DenomFirst + 1

// Denom is one entry of the unit's CURRENCY ASSIGN table (B.6): the bill
// reported as escrow code Code is Base × 10^Exp major units in the currency
// the firmware calls Country (JCM's own one-byte code, not ISO 4217).
type Denom struct {
	Code    byte
	Country byte
	Base    byte
	Exp     byte
}

// Empty reports an unused code (base 0).
func (d Denom) Empty() bool { return d.Base == 0 }

// Minor is the bill's value in minor units (tiyn, cents): Base × 10^(Exp+2).
// ok is false for an empty entry or a value too large to be a banknote.
func (d Denom) Minor() (v int64, ok bool) {
	if d.Empty() || d.Exp > 12 {
		return 0, false
	}
	v = int64(d.Base) * 100
	for range d.Exp {
		v *= 10
	}
	return v, true
}

func (d Denom) String() string {
	if d.Empty() {
		return fmt.Sprintf("%02X:-", d.Code)
	}
	return fmt.Sprintf("%02X:%d×10^%d/%02X", d.Code, d.Base, d.Exp, d.Country)
}

// ParseCurrencyTable reads a CURRENCY ASSIGN answer's data (after the code):
// 4-byte entries of code, country, base, exponent. Entries whose code is not
// a bill denomination (0x61–0x68) are left out.
func ParseCurrencyTable(data []byte) ([]Denom, error) {
	if len(data) == 0 || len(data)%4 != 0 {
		return nil, fmt.Errorf("currency table of %d bytes: want a non-empty multiple of 4 (code, country, base, exponent)", len(data))
	}
	var t []Denom
	for i := 0; i+4 <= len(data); i += 4 {
		d := Denom{Code: data[i], Country: data[i+1], Base: data[i+2], Exp: data[i+3]}
		if d.Code < DenomFirst || d.Code > DenomLast {
			continue
		}
		t = append(t, d)
	}
	return t, nil
}

// AppendCurrencyTable appends the wire form of t.
func AppendCurrencyTable(dst []byte, t []Denom) []byte {
	for _, d := range t {
		dst = append(dst, d.Code, d.Country, d.Base, d.Exp)
	}
	return dst
}

// DenomMask is a set of denomination codes: bit n stands for code 0x61+n.
type DenomMask uint8

// Has reports whether code is in m.
func (m DenomMask) Has(code byte) bool {
	return code >= DenomFirst && code <= DenomLast && m&(1<<(code-DenomFirst)) != 0
}

// MaskOf is the mask holding code alone (0 for a code that is no bill).
func MaskOf(code byte) DenomMask {
	if code < DenomFirst || code > DenomLast {
		return 0
	}
	return 1 << (code - DenomFirst)
}

// EnableLayout is how a model's ENABLE/DISABLE (C0) bitmap holds the codes.
// The notes agree on bit n for code 0x61+n and a set bit inhibiting, but not
// on which of the two bytes carries them nor, for one driver, the polarity:
// the zero value is the common reading, and a model that differs gets its own
// setting.
type EnableLayout struct {
	// SecondByte: codes 0x61–0x68 are in the second data byte.
	SecondByte bool
	// SetEnables: a set bit enables its code instead of inhibiting it.
	SetEnables bool
}

// Bytes is the C0 data that lets exactly the codes in enabled through.
func (l EnableLayout) Bytes(enabled DenomMask) [2]byte {
	b := byte(enabled)
	if !l.SetEnables {
		b = ^b
	}
	if l.SecondByte {
		return [2]byte{0, b}
	}
	return [2]byte{b, 0}
}

// Enabled reads a C0 bitmap back into the codes it lets through.
func (l EnableLayout) Enabled(data []byte) DenomMask {
	if len(data) < 2 {
		return 0
	}
	b := data[0]
	if l.SecondByte {
		b = data[1]
	}
	if !l.SetEnables {
		b = ^b
	}
	return DenomMask(b)
}

// Version is the unit's VERSION REQUEST answer, e.g.
// "i(USA)100-SS ID003-05V266-47 14OCT09 6BA6": the first word names the
// model, the rest is the firmware.
type Version struct {
	Model    string
	Firmware string
}

// ParseVersion reads a VERSION REQUEST answer's data.
func ParseVersion(data []byte) Version {
	s := cleanASCII(data)
	model, fw, _ := strings.Cut(s, " ")
	return Version{Model: model, Firmware: strings.TrimSpace(fw)}
}

// cleanASCII trims padding and replaces bytes that would garble a log line.
func cleanASCII(b []byte) string {
	b = bytes.TrimSpace(bytes.TrimRight(b, "\x00"))
	out := make([]byte, len(b))
	for i, c := range b {
		if c < 0x20 || c > 0x7E {
			c = '?'
		}
		out[i] = c
	}
	return string(out)
}
