package main

import (
	"bytes"
	"context"
	"encoding/json"
	"log/slog"
	"strings"
	"sync"
	"testing"
	"time"

	"tolem/kiosk/config"
	"tolem/kiosk/flow"
	"tolem/kiosk/kiosktest"
	"tolem/sync/bankapi"
	"tolem/sync/outbox"
)

// fakeClocks are a wall clock and a monotonic clock the test moves.
type fakeClocks struct {
	mu   sync.Mutex
	wall time.Time
	mono time.Duration
}

func (f *fakeClocks) read() (time.Time, time.Duration) {
	f.mu.Lock()
	defer f.mu.Unlock()
	return f.wall, f.mono
}

// pass moves both clocks on together, as time passing does.
func (f *fakeClocks) pass(d time.Duration) {
	f.mu.Lock()
	f.wall, f.mono = f.wall.Add(d), f.mono+d
	f.mu.Unlock()
}

// set moves only the wall clock, as NTP's step or a technician's date does.
func (f *fakeClocks) set(d time.Duration) {
	f.mu.Lock()
	f.wall = f.wall.Add(d)
	f.mu.Unlock()
}

// A Pi boots at an old time and NTP steps it 3h12m forward; later the
// clock is set 5 minutes back. Each jump is logged with from and to and is
// the last jump reported; a drift under the threshold is not a jump.
func TestClockWatchSeesJumps(t *testing.T) {
	boot := time.Date(2026, 1, 1, 0, 0, 0, 0, time.UTC)
	clocks := &fakeClocks{wall: boot}
	var logs bytes.Buffer
	cw := newClockWatch(clocks.read, clockJumpMin, slog.New(slog.NewTextHandler(&logs, nil)))

	clocks.pass(5 * time.Second)
	cw.check()
	clocks.pass(5 * time.Second)
	clocks.set(90 * time.Second) // slewed drift, not a jump
	cw.check()
	if j, ok := cw.Last(); ok {
		t.Fatalf("jump %+v reported for steady time and a 90 s step", j)
	}

	clocks.pass(5 * time.Second)
	clocks.set(3*time.Hour + 12*time.Minute)
	cw.check()
	j, ok := cw.Last()
	wantFrom := boot.Add(105 * time.Second)
	if !ok || j.DeltaS != 11520 || !j.From.Equal(wantFrom) || !j.To.Equal(wantFrom.Add(3*time.Hour+12*time.Minute)) {
		t.Fatalf("last jump = %+v, %v; want +11520 s from %s", j, ok, wantFrom)
	}
	for _, want := range []string{"jumped", "delta=3h12m0s", "from=2026-01-01T00:01:45Z", "to=2026-01-01T03:13:45Z"} {
		if !strings.Contains(logs.String(), want) {
			t.Errorf("log %q lacks %q", logs.String(), want)
		}
	}

	clocks.pass(5 * time.Second)
	clocks.set(-5 * time.Minute)
	cw.check()
	if j, _ := cw.Last(); j.DeltaS != -300 {
		t.Errorf("last jump = %+v, want -300 s", j)
	}
	// Once past, the clocks agree again: the last jump stays, no new one.
	clocks.pass(5 * time.Second)
	cw.check()
	if j, _ := cw.Last(); j.DeltaS != -300 || strings.Count(logs.String(), "jumped") != 2 {
		t.Errorf("after the jump: last %+v, log %q", j, logs.String())
	}
}

// The watch runs on ticks; the test sends them instead of waiting.
func TestClockWatchRunsOnTicks(t *testing.T) {
	clocks := &fakeClocks{wall: time.Date(2026, 1, 1, 0, 0, 0, 0, time.UTC)}
	cw := newClockWatch(clocks.read, clockJumpMin, slog.New(slog.DiscardHandler))
	ctx, cancel := context.WithCancel(context.Background())
	tick := make(chan time.Time)
	done := make(chan struct{})
	go func() { cw.run(ctx, tick); close(done) }()
	clocks.set(time.Hour)
	tick <- time.Time{}
	tick <- time.Time{} // the first tick has been handled once the second is taken
	cancel()
	<-done
	if j, ok := cw.Last(); !ok || j.DeltaS != 3600 {
		t.Errorf("last jump = %+v, %v; want +3600 s", j, ok)
	}
}

// The heartbeat carries the last jump as clock_jump, and nothing without one.
func TestHeartbeatCarriesTheClockJump(t *testing.T) {
	acc := kiosktest.NewFakeAcceptor(nil)
	w := &wiring{cfg: config.Default(), acceptor: acc}
	w.flow = flow.New(flow.Config{}, flow.Deps{Acceptor: acc})
	clocks := &fakeClocks{wall: time.Date(2026, 1, 1, 0, 0, 5, 0, time.UTC)}
	w.clock = newClockWatch(clocks.read, clockJumpMin, slog.New(slog.DiscardHandler))

	wire := func() string {
		var hb outbox.Heartbeat
		describeKiosk(context.Background(), w, &hb)
		b, err := json.Marshal(bankapi.Heartbeat{ClockJump: clockJumpWire(hb.ClockJump)})
		if err != nil {
			t.Fatal(err)
		}
		return string(b)
	}
	if s := wire(); strings.Contains(s, "clock_jump") {
		t.Errorf("heartbeat without a jump: %s", s)
	}
	clocks.set(3*time.Hour + 12*time.Minute)
	w.clock.check()
	want := `"clock_jump":{"from":"2026-01-01T00:00:05Z","to":"2026-01-01T03:12:05Z","delta_s":11520}`
	if s := wire(); !strings.Contains(s, want) {
		t.Errorf("heartbeat %s lacks %s", s, want)
	}
	if j, ok := (&consoleBackend{w: w}).LastClockJump(); !ok || j.DeltaS != 11520 {
		t.Errorf("the console's status gets %+v, %v", j, ok)
	}
}
