package panel

import (
	"sync"
	"sync/atomic"
	"testing"
	"time"

	"periph.io/x/conn/v3/gpio"
	"periph.io/x/conn/v3/gpio/gpiotest"

	"tolem/devices/panel/charrom"
	"tolem/devices/panel/hd44780/hd44780test"
	"tolem/kiosk"
)

// autoClock is a virtual clock for the debouncing: a timer fires as soon as
// it is armed, moving the time to its deadline. A group that samples its
// inputs every poll interval thus runs through a whole debounce in
// microseconds, and the scripted contacts below, which are functions of this
// clock, bounce exactly the same way on every run.
type autoClock struct {
	mu      sync.Mutex
	now     time.Time
	onTimer func()
}

func newAutoClock() *autoClock {
	return &autoClock{now: time.Date(2026, 1, 5, 9, 0, 0, 0, time.UTC)}
}

func (c *autoClock) Now() time.Time {
	c.mu.Lock()
	defer c.mu.Unlock()
	return c.now
}

func (c *autoClock) NewTimer(d time.Duration) kiosk.Timer {
	c.mu.Lock()
	hook := c.onTimer
	c.now = c.now.Add(d)
	t := firedTimer{make(chan time.Time, 1)}
	t.c <- c.now
	c.mu.Unlock()
	if hook != nil {
		hook()
	}
	return t
}

// Advance moves the time on while nothing waits: a key held for seconds.
func (c *autoClock) Advance(d time.Duration) {
	c.mu.Lock()
	defer c.mu.Unlock()
	c.now = c.now.Add(d)
}

type firedTimer struct{ c chan time.Time }

func (t firedTimer) C() <-chan time.Time { return t.c }
func (t firedTimer) Stop() bool          { return false }

// contact is a switch whose state is scripted on the clock: open until
// start+toggles[0], closed until start+toggles[1], and so on.
type contact struct {
	start   time.Time
	toggles []time.Duration
}

func (c contact) closed(now time.Time) bool {
	n := 0
	for _, t := range c.toggles {
		if !now.Before(c.start.Add(t)) {
			n++
		}
	}
	return n%2 == 1
}

// switchPin is an input wired to a switch to ground: low while closed.
type switchPin struct {
	*gpiotest.Pin
	clock *autoClock
	mu    sync.Mutex
	c     contact
}

func (p *switchPin) Read() gpio.Level {
	p.mu.Lock()
	defer p.mu.Unlock()
	return gpio.Level(!p.c.closed(p.clock.Now()))
}

// script sets the switch's toggles from now on and sends the edge that the
// first of them makes.
func (p *switchPin) script(toggles ...time.Duration) {
	p.mu.Lock()
	p.c = contact{start: p.clock.Now(), toggles: toggles}
	p.mu.Unlock()
	p.EdgesChan <- gpio.Low
}

// rowPin is a keypad row that counts its releases (one per row per scan)
// and any time it is driven high, which a matrix must never be.
type rowPin struct {
	*gpiotest.Pin
	releases atomic.Int32
	highs    atomic.Int32
}

func (p *rowPin) In(pull gpio.Pull, edge gpio.Edge) error {
	p.releases.Add(1)
	return p.Pin.In(pull, edge)
}

func (p *rowPin) Out(l gpio.Level) error {
	if l == gpio.High {
		p.highs.Add(1)
	}
	return p.Pin.Out(l)
}

// matrix is a 3×4 keypad: a column reads low when a closed key joins it to
// a row driven low (a released row floats high through the pull-up).
type matrix struct {
	clock *autoClock
	rows  [4]*rowPin
	cols  [3]*colPin
	mu    sync.Mutex
	keys  map[int]contact // bit r*3+c
}

type colPin struct {
	*gpiotest.Pin
	m *matrix
	c int
}

func (p *colPin) Read() gpio.Level {
	p.m.mu.Lock()
	defer p.m.mu.Unlock()
	now := p.m.clock.Now()
	for r, row := range p.m.rows {
		if k, ok := p.m.keys[r*3+p.c]; ok && k.closed(now) && row.Pin.Read() == gpio.Low {
			return gpio.Low
		}
	}
	return gpio.High
}

// press scripts the key at row r, column c from now on and sends its
// column's edge.
func (m *matrix) press(r, c int, toggles ...time.Duration) {
	m.mu.Lock()
	m.keys[r*3+c] = contact{start: m.clock.Now(), toggles: toggles}
	m.mu.Unlock()
	m.cols[c].EdgesChan <- gpio.Low
}

func (m *matrix) scans() int { return int(m.rows[0].releases.Load()) }

type rig struct {
	t     *testing.T
	clock *autoClock
	m     *matrix
	btn   map[kiosk.Key]*switchPin
	door  *switchPin
	led   *gpiotest.Pin
	lcd   *hd44780test.LCD
	p     *Panel
	idle  chan string
}

func edgePin(name string, num int) *gpiotest.Pin {
	return &gpiotest.Pin{N: name, Num: num, EdgesChan: make(chan gpio.Level, 16)}
}

// newRig builds a panel on fakes and waits until every input group rests.
func newRig(t *testing.T, tune func(*rig, *Options)) *rig {
	t.Helper()
	r := &rig{t: t, clock: newAutoClock(), btn: map[kiosk.Key]*switchPin{},
		lcd: hd44780test.New(), idle: make(chan string, 64), led: &gpiotest.Pin{N: "LED", Num: 12}}
	r.m = &matrix{clock: r.clock, keys: map[int]contact{}}
	hw := Hardware{Display: r.lcd, LED: r.led}
	for i := range r.m.rows {
		r.m.rows[i] = &rowPin{Pin: &gpiotest.Pin{N: "ROW", Num: 5 + i}}
		hw.Rows[i] = r.m.rows[i]
	}
	for i := range r.m.cols {
		r.m.cols[i] = &colPin{Pin: edgePin("COL", 16+i), m: r.m, c: i}
		hw.Cols[i] = r.m.cols[i]
	}
	sw := func(num int) *switchPin { return &switchPin{Pin: edgePin("SW", num), clock: r.clock} }
	for i, k := range []kiosk.Key{kiosk.KeyOK, kiosk.KeyCancel, kiosk.KeyBack, kiosk.KeyLang} {
		r.btn[k] = sw(20 + i)
	}
	hw.OK, hw.Cancel, hw.Back, hw.Lang = r.btn[kiosk.KeyOK], r.btn[kiosk.KeyCancel], r.btn[kiosk.KeyBack], r.btn[kiosk.KeyLang]
	r.door = sw(26)
	hw.Door = r.door
	opts := Options{
		ROM:          charrom.Cyrillic,
		Clock:        r.clock,
		Sleep:        func(time.Duration) {},
		EdgeSlice:    50 * time.Millisecond,
		Refresh:      -1,   // a periodic timer would run away on the auto clock
		DoorOpenHigh: true, // the switch is closed (low) while the door is shut
		onIdle:       func(g string) { r.idle <- g },
	}
	// The door is shut at start.
	r.door.c = contact{start: r.clock.Now(), toggles: []time.Duration{0}}
	if tune != nil {
		tune(r, &opts)
	}
	p, err := New(hw, opts)
	if err != nil {
		t.Fatal(err)
	}
	r.p = p
	t.Cleanup(func() { _ = p.Close() })
	for range 3 {
		r.waitIdle("")
	}
	return r
}

// waitIdle waits until group (any, if empty) goes back to waiting for edges.
func (r *rig) waitIdle(group string) {
	r.t.Helper()
	deadline := time.After(20 * time.Second)
	for {
		select {
		case g := <-r.idle:
			if group == "" || g == group {
				return
			}
		case <-deadline:
			r.t.Fatalf("input group %q never went idle", group)
		}
	}
}

// keys drains the keys delivered so far.
func (r *rig) keys() []kiosk.Key {
	var out []kiosk.Key
	for {
		select {
		case k := <-r.p.Keys():
			out = append(out, k)
		default:
			return out
		}
	}
}
