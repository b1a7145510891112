package console

import (
	"bytes"
	"context"
	"encoding/json"
	"strings"
	"testing"
	"time"

	"tolem/kiosk/kiosktest"
)

// jumpBackend is a backend that saw the wall clock jump.
type jumpBackend struct {
	*fakeBackend
	j ClockJump
}

func (b jumpBackend) LastClockJump() (ClockJump, bool) { return b.j, b.j != (ClockJump{}) }

// The last jump of the wall clock shows in status, forward or back, and in
// its JSON; without one there is no clock line.
func TestStatusShowsTheLastClockJump(t *testing.T) {
	from := time.Date(2026, 1, 1, 0, 0, 5, 0, time.UTC)
	for _, tt := range []struct {
		name string
		j    ClockJump
		want string
	}{
		{"none", ClockJump{}, ""},
		{"forward", ClockJump{From: from, To: from.Add(3*time.Hour + 12*time.Minute), DeltaS: 11520},
			"clock jumped +3h12m at 2026-01-01 03:12:05 UTC (it read 2026-01-01 00:00:05 UTC)"},
		{"back", ClockJump{From: from, To: from.Add(-5 * time.Minute), DeltaS: -300},
			"clock jumped -5m00s at 2025-12-31 23:55:05 UTC"},
	} {
		t.Run(tt.name, func(t *testing.T) {
			c := New(jumpBackend{newFake(t), tt.j}, testOptions(kiosktest.NewFakeClock(time.Time{})))
			var out bytes.Buffer
			c.Exec(context.Background(), "ssh:anna", []string{"status"}, Output(&out))
			text := squash(out.String())
			if tt.want == "" && strings.Contains(text, "clock jumped") || !strings.Contains(text, tt.want) {
				t.Errorf("status:\n%s\nwant %q", out.String(), tt.want)
			}
			out.Reset()
			c.Exec(context.Background(), "ssh:anna", []string{"status", "--json"}, Output(&out))
			var r StatusReport
			if err := json.Unmarshal(out.Bytes(), &r); err != nil {
				t.Fatal(err)
			}
			if (r.ClockJump == nil) != (tt.want == "") || r.ClockJump != nil && r.ClockJump.DeltaS != tt.j.DeltaS {
				t.Errorf("status --json clock_jump = %+v, want %+v", r.ClockJump, tt.j)
			}
		})
	}
}
