package console

import "testing"

func TestDiskNearlyFull(t *testing.T) {
	for _, c := range []struct {
		free, total uint64
		want        bool
	}{
		{free: 21, total: 100, want: false},
		{free: 20, total: 100, want: true},
		{free: 0, total: 100, want: true},
		{free: 200, total: 100, want: false}, // a statfs that raced a resize
		{free: 0, total: 0, want: false},     // unknown
		{free: 3 << 30, total: 16 << 30, want: true},
	} {
		if got := DiskNearlyFull(c.free, c.total); got != c.want {
			t.Errorf("DiskNearlyFull(%d, %d) = %v, want %v", c.free, c.total, got, c.want)
		}
	}
}
