package ccnet

import (
	"bytes"
	"fmt"
	"strings"
)

// NumTypes is how many bill types a validator's table holds.
const NumTypes = 24

// BillMask is a set of bill types: bit n stands for type n. On the wire it is
// 3 bytes, big-endian, so the last byte carries types 0–7 (A.6).
type BillMask uint32

// AllTypes has every bill type set.
const AllTypes BillMask = 1<<NumTypes - 1

// Bytes is the wire form of m.
func (m BillMask) Bytes() []byte { return []byte{byte(m >> 16), byte(m >> 8), byte(m)} }

// Has reports whether type t is in m.
func (m BillMask) Has(t int) bool { return t >= 0 && t < NumTypes && m&(1<<t) != 0 }

// ParseBillMask reads a 3-byte bitmap.
func ParseBillMask(b []byte) BillMask {
	if len(b) < 3 {
		return 0
	}
	return BillMask(b[0])<<16 | BillMask(b[1])<<8 | BillMask(b[2])
}

// BillType is one entry of the validator's bill table: a bill of value
// Digit × 10^Exp in the currency the firmware calls Country.
type BillType struct {
	Digit byte
	// Country is the firmware's 3-letter code, not always ISO 4217: hryvnia
	// firmware says "UKR", some tenge firmware "KAZ".
	Country string
	Exp     int8
}

// Empty reports an unused table slot.
func (b BillType) Empty() bool { return b.Digit == 0 }

// Minor is the bill's value in minor units of its currency (kopecks, tiyn):
// Digit × 10^(Exp+2). ok is false for an empty slot, a fraction of a minor unit,
// or a value too large to be a banknote.
func (b BillType) Minor() (v int64, ok bool) {
	if b.Empty() {
		return 0, false
	}
	e := int(b.Exp) + 2
	v = int64(b.Digit)
	switch {
	case e > 14: // beyond 10^16 minor units no note exists; stop before int64 overflow
		return 0, false
	case e >= 0:
		for range e {
			v *= 10
		}
		return v, true
	default:
		for range -e {
			if v%10 != 0 {
				return 0, false
			}
			v /= 10
		}
		return v, true
	}
}

func (b BillType) String() string {
	if b.Empty() {
		return "-"
	}
	return fmt.Sprintf("%d×10^%d %s", b.Digit, b.Exp, b.Country)
}

// ParseBillTable reads a GET BILL TABLE answer: 24 entries of D CCC E (A.9).
func ParseBillTable(data []byte) ([NumTypes]BillType, error) {
	var t [NumTypes]BillType
	if len(data) < NumTypes*5 {
		return t, fmt.Errorf("bill table answer of %d bytes, want %d", len(data), NumTypes*5)
	}
	for i := range t {
		e := data[i*5 : i*5+5]
		exp := int8(e[4] & 0x7F)
		if e[4]&0x80 != 0 {
			exp = -exp
		}
		t[i] = BillType{Digit: e[0], Country: strings.TrimRight(string(e[1:4]), "\x00 "), Exp: exp}
		if t[i].Digit == 0 {
			t[i] = BillType{}
		}
	}
	return t, nil
}

// AppendBillTable appends the 120-byte wire form of t.
func AppendBillTable(dst []byte, t [NumTypes]BillType) []byte {
	for _, b := range t {
		if b.Empty() {
			dst = append(dst, 0, 0, 0, 0, 0)
			continue
		}
		var cc [3]byte
		copy(cc[:], b.Country)
		e := byte(b.Exp)
		if b.Exp < 0 {
			e = byte(-b.Exp) | 0x80
		}
		dst = append(dst, b.Digit, cc[0], cc[1], cc[2], e)
	}
	return dst
}

// Identity is the IDENTIFICATION answer (A.10).
type Identity struct {
	PartNumber string // model, country and firmware, e.g. "VU-UA1837AF"
	Serial     string
	Asset      [7]byte
}

// ParseIdentity reads an IDENTIFICATION answer. Newer firmware sends longer
// answers; the first 34 bytes keep their meaning.
func ParseIdentity(data []byte) (Identity, error) {
	var id Identity
	if len(data) < 27 {
		return id, fmt.Errorf("identification answer of %d bytes, want 34", len(data))
	}
	id.PartNumber = cleanASCII(data[0:15])
	id.Serial = cleanASCII(data[15:27])
	if len(data) >= 34 {
		copy(id.Asset[:], data[27:34])
	}
	return id, nil
}

// AppendIdentity appends the 34-byte wire form of id.
func AppendIdentity(dst []byte, id Identity) []byte {
	dst = append(dst, fixedASCII(id.PartNumber, 15)...)
	dst = append(dst, fixedASCII(id.Serial, 12)...)
	return append(dst, id.Asset[:]...)
}

func fixedASCII(s string, n int) []byte {
	b := bytes.Repeat([]byte{' '}, n)
	copy(b, s)
	return b
}

// cleanASCII trims padding and replaces bytes that would garble a log line.
func cleanASCII(b []byte) string {
	b = bytes.TrimRight(b, " \x00")
	out := make([]byte, len(b))
	for i, c := range b {
		if c < 0x20 || c > 0x7E {
			c = '?'
		}
		out[i] = c
	}
	return string(out)
}
