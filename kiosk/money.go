package kiosk

import (
	"strconv"
	"strings"
)

// Money is an amount in tiyn (1 ₸ = 100 tiyn). Money is never a float: a float
// cannot hold 0.1 ₸ exactly, and a kiosk that sums thousands of bills must not drift.
type Money int64

// Tenge makes an amount from whole tenge.
func Tenge(t int64) Money { return Money(t * 100) }

// Tenge returns the whole-tenge part of m.
func (m Money) Tenge() int64 { return int64(m) / 100 }

// String formats m the way the kiosk's screens show money: digits grouped by
// thousands with spaces and the tenge sign, "12 500 ₸". A fraction of a tenge,
// which no banknote has, is shown after a comma so that it is never hidden.
func (m Money) String() string {
	neg := m < 0
	if neg {
		m = -m
	}
	whole := strconv.FormatInt(int64(m)/100, 10)
	var b strings.Builder
	if neg {
		b.WriteByte('-')
	}
	for i, r := range whole {
		if i > 0 && (len(whole)-i)%3 == 0 {
			b.WriteByte(' ')
		}
		b.WriteRune(r)
	}
	if frac := int64(m) % 100; frac != 0 {
		b.WriteByte(',')
		if frac < 10 {
			b.WriteByte('0')
		}
		b.WriteString(strconv.FormatInt(frac, 10))
	}
	b.WriteString(" ₸")
	return b.String()
}

// Currency is the ISO 4217 code of the kiosk's money.
const Currency = "KZT"
