package kiosk

import (
	"errors"
	"fmt"
	"strconv"
)

// Phone is a Kazakh mobile number in E.164 form: "+77011234567".
type Phone string

// DefaultPhonePrefixes are the Kazakh mobile operator prefixes (the three digits
// after +7) accepted when the config names none.
var DefaultPhonePrefixes = []int{700, 701, 702, 705, 706, 707, 708, 747, 771, 775, 776, 777, 778}

// Errors of ParsePhone.
var (
	ErrPhoneLength = errors.New("a phone number needs 10 digits after +7")
	ErrPhonePrefix = errors.New("not a Kazakh mobile prefix")
)

// ParsePhone checks the 10 digits a customer typed after +7 against the allowed
// operator prefixes. Anything else is refused here and never reaches the bank.
func ParsePhone(digits string, prefixes []int) (Phone, error) {
	if len(digits) != 10 {
		return "", ErrPhoneLength
	}
	for _, r := range digits {
		if r < '0' || r > '9' {
			return "", fmt.Errorf("phone %q: %w", digits, ErrPhoneLength)
		}
	}
	p, _ := strconv.Atoi(digits[:3])
	for _, q := range prefixes {
		if p == q {
			return Phone("+7" + digits), nil
		}
	}
	return "", fmt.Errorf("prefix %03d: %w", p, ErrPhonePrefix)
}

// Digits returns the 10 digits after +7.
func (p Phone) Digits() string {
	if len(p) == 12 {
		return string(p[2:])
	}
	return string(p)
}

// Masked hides the middle digits, for logs and audit lines: "+7701***4567".
func (p Phone) Masked() string {
	if len(p) != 12 {
		return "***"
	}
	return string(p[:5]) + "***" + string(p[8:])
}

// Pretty formats the number as the screen shows it: "+7 (701) 123-45-67".
func (p Phone) Pretty() string { return FormatPhoneDigits(p.Digits()) }

// FormatPhoneDigits renders up to 10 typed digits into the template
// "+7 (___) ___-__-__", filling it from the left as the customer types.
func FormatPhoneDigits(digits string) string {
	tmpl := []rune("+7 (___) ___-__-__")
	i := 0
	for j, r := range tmpl {
		if r == '_' && i < len(digits) {
			tmpl[j] = rune(digits[i])
			i++
		}
	}
	return string(tmpl)
}
