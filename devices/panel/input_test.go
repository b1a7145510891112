package panel

import (
	"slices"
	"testing"
	"time"

	"periph.io/x/conn/v3/gpio"

	"tolem/kiosk"
)

const ms = time.Millisecond

func TestKeypadBouncingPressCountsOnce(t *testing.T) {
	r := newRig(t, nil)
	start := r.clock.Now()
	// Key 5 (row 1, column 1) bounces for 8 ms, then stays closed.
	r.m.press(1, 1, 0, 2*ms, 3*ms, 5*ms, 8*ms)
	r.waitIdle("keypad")
	if got := r.keys(); !slices.Equal(got, []kiosk.Key{"5"}) {
		t.Fatalf("keys %q, want [5]", got)
	}
	// Samples every 6 ms: open at 6, closed at 12 and after. The press counts
	// 30 ms after the first sample that found it closed for good.
	if got := r.clock.Now().Sub(start); got != 42*ms {
		t.Errorf("press counted after %v, want 42ms", got)
	}
	for i, row := range r.m.rows {
		if n := row.highs.Load(); n != 0 {
			t.Errorf("row %d driven high %d times", i, n)
		}
	}
}

func TestKeypadHeldKeyDoesNotRepeat(t *testing.T) {
	r := newRig(t, nil)
	r.m.press(2, 0, 0) // 7, clean
	r.waitIdle("keypad")
	if got := r.keys(); !slices.Equal(got, []kiosk.Key{"7"}) {
		t.Fatalf("keys %q, want [7]", got)
	}
	// Held for 5 s. On the board each scan toggles the held key's column,
	// and those edges come back; they find the columns as the held key
	// leaves them and cost no scan.
	scans := r.m.scans()
	for range 5 {
		r.clock.Advance(time.Second)
		r.m.cols[0].EdgesChan <- gpio.Low
		r.waitIdle("keypad")
	}
	if got := r.keys(); len(got) != 0 {
		t.Errorf("held key typed %q", got)
	}
	if n := r.m.scans() - scans; n != 0 {
		t.Errorf("%d scans while the key was held", n)
	}
	// Released with a bounce (closed, open, closed, open for good at 4 ms),
	// an edge at the first and at the last change: nothing is typed.
	r.m.press(2, 0, 0, 1*ms, 3*ms, 4*ms)
	r.waitIdle("keypad")
	r.clock.Advance(5 * ms)
	r.m.cols[0].EdgesChan <- gpio.High
	r.waitIdle("keypad")
	if got := r.keys(); len(got) != 0 {
		t.Errorf("release typed %q", got)
	}
	// Pressed again: a second 7.
	r.m.press(2, 0, 0)
	r.waitIdle("keypad")
	if got := r.keys(); !slices.Equal(got, []kiosk.Key{"7"}) {
		t.Errorf("second press: keys %q, want [7]", got)
	}
}

func TestKeypadLayout(t *testing.T) {
	r := newRig(t, nil)
	want := []kiosk.Key{"1", "2", "3", "4", "5", "6", "7", "8", "9", kiosk.KeyBack, "0", kiosk.KeyOK}
	for i, k := range want {
		row, col := i/3, i%3
		r.m.press(row, col, 0, 100*ms) // a 100 ms tap
		r.waitIdle("keypad")
		r.clock.Advance(200 * ms)
		r.m.cols[col].EdgesChan <- gpio.High // the release edge
		r.waitIdle("keypad")
		if got := r.keys(); !slices.Equal(got, []kiosk.Key{k}) {
			t.Errorf("row %d col %d: keys %q, want %q", row, col, got, k)
		}
	}
}

func TestKeypadSecondKeyWhileFirstHeld(t *testing.T) {
	r := newRig(t, nil)
	r.m.press(0, 0, 0) // 1, held
	r.waitIdle("keypad")
	r.m.press(1, 1, 0) // 5, while 1 is still held
	r.waitIdle("keypad")
	if got := r.keys(); !slices.Equal(got, []kiosk.Key{"1", "5"}) {
		t.Errorf("keys %q, want [1 5]", got)
	}
}

func TestShortGlitchIsNoPress(t *testing.T) {
	r := newRig(t, nil)
	// A 10 ms contact (a knock on the housing) never holds for 30 ms.
	r.m.press(0, 2, 0, 10*ms)
	r.waitIdle("keypad")
	r.btn[kiosk.KeyOK].script(0, 10*ms)
	r.waitIdle("buttons")
	if got := r.keys(); len(got) != 0 {
		t.Errorf("glitch typed %q", got)
	}
}

func TestKeyHeldAtStartDoesNotType(t *testing.T) {
	r := newRig(t, func(r *rig, o *Options) {
		// Closed before New samples the resting state.
		r.m.keys[4] = contact{start: r.clock.Now(), toggles: []time.Duration{0}}
		r.btn[kiosk.KeyCancel].c = contact{start: r.clock.Now(), toggles: []time.Duration{0}}
	})
	r.m.cols[1].EdgesChan <- gpio.Low
	r.waitIdle("keypad")
	r.btn[kiosk.KeyCancel].EdgesChan <- gpio.Low
	r.waitIdle("buttons")
	if got := r.keys(); len(got) != 0 {
		t.Errorf("keys held at start typed %q", got)
	}
}

func TestButtons(t *testing.T) {
	r := newRig(t, nil)
	start := r.clock.Now()
	// OK bounces for 7 ms, then is held; the sample at 6 ms finds it open,
	// so the press counts once, 30 ms after the sample at 12 ms.
	r.btn[kiosk.KeyOK].script(0, 5*ms, 7*ms)
	r.waitIdle("buttons")
	if got := r.clock.Now().Sub(start); got != 42*ms {
		t.Errorf("OK counted after %v, want 42ms", got)
	}
	// Still held, an edge from noise: no repeat.
	r.clock.Advance(2 * time.Second)
	r.btn[kiosk.KeyOK].EdgesChan <- gpio.Low
	r.waitIdle("buttons")
	for _, k := range []kiosk.Key{kiosk.KeyCancel, kiosk.KeyBack, kiosk.KeyLang} {
		r.btn[k].script(0, 80*ms)
		r.waitIdle("buttons")
		r.clock.Advance(100 * ms)
		r.btn[k].EdgesChan <- gpio.High
		r.waitIdle("buttons")
	}
	want := []kiosk.Key{kiosk.KeyOK, kiosk.KeyCancel, kiosk.KeyBack, kiosk.KeyLang}
	if got := r.keys(); !slices.Equal(got, want) {
		t.Errorf("keys %q, want %q", got, want)
	}
}

func TestDoor(t *testing.T) {
	for _, tt := range []struct {
		name     string
		openHigh bool
		shut     contact         // the switch while the door is shut
		opening  []time.Duration // the switch as the door opens, chattering
	}{
		// A switch closed by the shut door: open reads high.
		{"open reads high", true, contact{toggles: []time.Duration{0}}, []time.Duration{0, 1 * ms, 2 * ms, 3 * ms}},
		// A switch opened by the shut door: open reads low.
		{"open reads low", false, contact{}, []time.Duration{0, 1 * ms, 2 * ms, 3 * ms, 4 * ms}},
	} {
		t.Run(tt.name, func(t *testing.T) {
			r := newRig(t, func(r *rig, o *Options) {
				o.DoorOpenHigh = tt.openHigh
				r.door.c = tt.shut
			})
			if r.p.DoorOpen() {
				t.Fatal("door open at start")
			}
			r.door.script(tt.opening...)
			r.waitIdle("door")
			select {
			case open := <-r.p.Door():
				if !open {
					t.Error("door reported shut")
				}
			default:
				t.Fatal("no door event")
			}
			if !r.p.DoorOpen() {
				t.Error("DoorOpen false")
			}
			select {
			case open := <-r.p.Door():
				t.Errorf("second door event %v: the chatter counted", open)
			default:
			}
		})
	}
}

func TestDoorChannelKeepsLatest(t *testing.T) {
	r := newRig(t, nil)
	// Open, shut, open again, nobody reading: the channel holds "open".
	for _, toggles := range [][]time.Duration{{0, 1}, {0}, {0, 1}} {
		r.door.mu.Lock()
		r.door.c = contact{start: r.clock.Now(), toggles: toggles}
		r.door.mu.Unlock()
		r.door.EdgesChan <- gpio.Low
		r.waitIdle("door")
	}
	if open := <-r.p.Door(); !open {
		t.Error("latest door state shut, want open")
	}
	select {
	case v := <-r.p.Door():
		t.Errorf("stale door state %v", v)
	default:
	}
}
