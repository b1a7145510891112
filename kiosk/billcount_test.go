package kiosk

import (
	"errors"
	"slices"
	"testing"
)

func TestParseBillCounts(t *testing.T) {
	got, err := ParseBillCounts(" 200:3, 1000:2 200x1\t5000:0")
	if err != nil {
		t.Fatal(err)
	}
	want := []BillCount{{Tenge(200), 4}, {Tenge(1000), 2}, {Tenge(5000), 0}}
	if !slices.Equal(got, want) {
		t.Errorf("got %v, want %v", got, want)
	}
	if s := FormatBillCounts(got); s != "200:4,1000:2,5000:0" {
		t.Errorf("formatted %q", s)
	}
	for _, bad := range []string{"", "1000", "1000:", ":3", "-200:1", "200:-1", "abc:1", "99999999999:1", "200:9999999"} {
		if _, err := ParseBillCounts(bad); !errors.Is(err, ErrBadCount) {
			t.Errorf("ParseBillCounts(%q) = %v, want ErrBadCount", bad, err)
		}
	}
}

// A count typed at the console never panics, and what it reads, written
// back, reads the same.
func FuzzParseBillCounts(f *testing.F) {
	for _, s := range []string{"200:3,1000:2", "5000x1 20000:0", "", "1:1:1", ",,,"} {
		f.Add(s)
	}
	f.Fuzz(func(t *testing.T, s string) {
		cs, err := ParseBillCounts(s)
		if err != nil {
			return
		}
		again, err := ParseBillCounts(FormatBillCounts(cs))
		if err != nil || !slices.Equal(cs, again) {
			t.Fatalf("%q → %v → %q → %v, %v", s, cs, FormatBillCounts(cs), again, err)
		}
	})
}
