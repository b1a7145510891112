package kiosk

import (
	"errors"
	"fmt"
	"slices"
	"strconv"
	"strings"
)

// Bounds of a typed count: no note is worth more, no cassette holds more.
const (
	maxNote  = 1_000_000
	maxBills = 100_000
)

// ErrBadCount: a typed bill count could not be read.
var ErrBadCount = errors.New("bad bill count")

// ParseBillCounts reads a physical count typed as value:count pairs in tenge,
// separated by commas or spaces: "200:3, 1000:2". A value may repeat (the
// counts add up); a count may be zero.
func ParseBillCounts(s string) ([]BillCount, error) {
	fields := strings.FieldsFunc(s, func(r rune) bool { return r == ',' || r == ' ' || r == '\t' })
	if len(fields) == 0 {
		return nil, fmt.Errorf("%w: no count given: type value:count pairs in tenge, e.g. 1000:3,5000:2", ErrBadCount)
	}
	sum := map[Money]int{}
	for _, f := range fields {
		v, c, ok := strings.Cut(f, ":")
		if !ok {
			v, c, ok = strings.Cut(f, "x")
		}
		tenge, err1 := strconv.ParseInt(v, 10, 64)
		n, err2 := strconv.Atoi(c)
		if !ok || err1 != nil || err2 != nil || tenge <= 0 || tenge > maxNote || n < 0 || n > maxBills {
			return nil, fmt.Errorf("%w: %q is not value:count (tenge:bills), e.g. 1000:3", ErrBadCount, f)
		}
		sum[Tenge(tenge)] += n
	}
	var out []BillCount
	for v, n := range sum {
		out = append(out, BillCount{Value: v, Count: n})
	}
	slices.SortFunc(out, func(a, b BillCount) int { return int(a.Value - b.Value) })
	return out, nil
}

// FormatBillCounts writes counts the way ParseBillCounts reads them.
func FormatBillCounts(cs []BillCount) string {
	var parts []string
	for _, c := range cs {
		parts = append(parts, fmt.Sprintf("%d:%d", c.Value.Tenge(), c.Count))
	}
	return strings.Join(parts, ",")
}
