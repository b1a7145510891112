package kiosktest

import (
	"slices"
	"sync"
	"time"

	"tolem/kiosk"
)

// FakeClock is a kiosk.Clock whose time moves only when the test calls
// Advance. Timers fire from Advance, in the order of their deadlines, so a
// test of a 90 s timeout runs in microseconds and never flakes.
type FakeClock struct {
	mu     sync.Mutex
	now    time.Time
	timers []*fakeTimer
	seq    int
}

// NewFakeClock starts a clock at start; a zero start means 2026-01-05 09:00 UTC,
// an arbitrary fixed instant so that logged times are reproducible.
func NewFakeClock(start time.Time) *FakeClock {
	if start.IsZero() {
		start = time.Date(2026, 1, 5, 9, 0, 0, 0, time.UTC)
	}
	return &FakeClock{now: start}
}

// Now returns the clock's current time.
func (c *FakeClock) Now() time.Time {
	c.mu.Lock()
	defer c.mu.Unlock()
	return c.now
}

// NewTimer arms a timer that fires d after the current time. A timer with
// d <= 0 fires at once.
func (c *FakeClock) NewTimer(d time.Duration) kiosk.Timer {
	c.mu.Lock()
	defer c.mu.Unlock()
	c.seq++
	t := &fakeTimer{clock: c, when: c.now.Add(d), seq: c.seq, c: make(chan time.Time, 1)}
	if d <= 0 {
		t.c <- c.now
		return t
	}
	c.timers = append(c.timers, t)
	return t
}

// Advance moves the clock forward by d, firing every timer that falls due on
// the way in deadline order (creation order among equal deadlines). While a
// timer fires, Now reports its deadline.
func (c *FakeClock) Advance(d time.Duration) {
	c.mu.Lock()
	defer c.mu.Unlock()
	end := c.now.Add(d)
	for {
		i := c.nextDueLocked(end)
		if i < 0 {
			break
		}
		t := c.timers[i]
		c.timers = slices.Delete(c.timers, i, i+1)
		if t.when.After(c.now) {
			c.now = t.when
		}
		select {
		case t.c <- c.now:
		default:
		}
	}
	c.now = end
}

func (c *FakeClock) nextDueLocked(end time.Time) int {
	best := -1
	for i, t := range c.timers {
		if t.when.After(end) {
			continue
		}
		if best < 0 || t.when.Before(c.timers[best].when) ||
			(t.when.Equal(c.timers[best].when) && t.seq < c.timers[best].seq) {
			best = i
		}
	}
	return best
}

// Pending reports how many timers are armed and not yet fired.
func (c *FakeClock) Pending() int {
	c.mu.Lock()
	defer c.mu.Unlock()
	return len(c.timers)
}

type fakeTimer struct {
	clock *FakeClock
	when  time.Time
	seq   int
	c     chan time.Time
}

func (t *fakeTimer) C() <-chan time.Time { return t.c }

func (t *fakeTimer) Stop() bool {
	c := t.clock
	c.mu.Lock()
	defer c.mu.Unlock()
	for i, u := range c.timers {
		if u == t {
			c.timers = slices.Delete(c.timers, i, i+1)
			return true
		}
	}
	return false
}
