package console

import (
	"fmt"
	"strconv"
	"strings"
	"time"

	"tolem/kiosk"
)

// fmtTime shows a time as a technician reads it off a log: UTC, to the
// second; "-" for none.
func fmtTime(t time.Time) string {
	if t.IsZero() {
		return "-"
	}
	return t.UTC().Format("2006-01-02 15:04:05 UTC")
}

// fmtDur shows a duration rounded to what matters at a glance.
func fmtDur(d time.Duration) string {
	if d < 0 {
		d = -d
	}
	switch {
	case d < time.Minute:
		return fmt.Sprintf("%ds", int(d/time.Second))
	case d < time.Hour:
		return fmt.Sprintf("%dm%02ds", int(d/time.Minute), int(d%time.Minute/time.Second))
	case d < 48*time.Hour:
		return fmt.Sprintf("%dh%02dm", int(d/time.Hour), int(d%time.Hour/time.Minute))
	}
	return fmt.Sprintf("%dd%02dh", int(d/(24*time.Hour)), int(d%(24*time.Hour)/time.Hour))
}

// ago shows how long ago t was, from now.
func ago(now, t time.Time) string {
	if t.IsZero() {
		return "never"
	}
	if t.After(now) {
		return "in " + fmtDur(t.Sub(now))
	}
	return fmtDur(now.Sub(t)) + " ago"
}

func yesNo(b bool) string {
	if b {
		return "yes"
	}
	return "no"
}

// fmtBills shows bill counts as "1 000 ₸ × 2, 5 000 ₸ × 1".
func fmtBills(bills []kiosk.BillCount) string {
	if len(bills) == 0 {
		return "none"
	}
	parts := make([]string, len(bills))
	for i, b := range bills {
		v := b.Value.String()
		if b.Value == 0 {
			v = "value unknown"
		}
		parts[i] = fmt.Sprintf("%s × %d", v, b.Count)
	}
	return strings.Join(parts, ", ")
}

func fmtMoneyList(vs []kiosk.Money) string {
	if len(vs) == 0 {
		return "none"
	}
	parts := make([]string, len(vs))
	for i, v := range vs {
		parts[i] = v.String()
	}
	return strings.Join(parts, ", ")
}

func orNone(ss []string) string {
	if len(ss) == 0 {
		return "none"
	}
	return strings.Join(ss, ", ")
}

// fmtBytes shows a size in binary units, as df -h does.
func fmtBytes(n uint64) string {
	const unit = 1024
	if n < unit {
		return fmt.Sprintf("%d B", n)
	}
	div, exp := uint64(unit), 0
	for m := n / unit; m >= unit && exp < 4; m /= unit {
		div *= unit
		exp++
	}
	return fmt.Sprintf("%.1f %ciB", float64(n)/float64(div), "KMGTP"[exp])
}

// fillPercent is how full the cassette is, in whole percent; -1 when the
// capacity is unknown.
func fillPercent(c Cassette) int {
	if c.Capacity <= 0 {
		return -1
	}
	return c.Count * 100 / c.Capacity
}

// cassetteWarnAt is the fill from which status warns: time to plan a
// collection before the acceptor reports the cassette full and stops.
const cassetteWarnAt = 90

// plural is "1 attempt", "2 attempts".
func plural(n int, word string) string {
	if n == 1 {
		return "1 " + word
	}
	return strconv.Itoa(n) + " " + word + "s"
}
