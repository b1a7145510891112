package main

import (
	"context"
	"log/slog"
	"sync"
	"time"

	"tolem/kiosk/console"
)

// Settings of the clock watch.
const (
	// clockWatchEvery is how often the wall clock is compared with the
	// monotonic one: a reading of each, a few times a minute.
	clockWatchEvery = 5 * time.Second
	// clockJumpMin is the smallest difference reported as a jump. NTP slews
	// small errors; a step of minutes is a Pi that booted at an old time
	// and was set by NTP, or a clock set by hand.
	clockJumpMin = 2 * time.Minute
)

// clockReading is the wall clock and the monotonic clock read at one
// instant; the monotonic one counts from an arbitrary origin.
type clockReading func() (wall time.Time, mono time.Duration)

// systemClockReading reads both clocks of time.Now: Sub between two
// readings uses the monotonic clock, Round(0) drops it.
func systemClockReading() clockReading {
	origin := time.Now()
	return func() (time.Time, time.Duration) {
		now := time.Now()
		return now.Round(0), now.Sub(origin)
	}
}

// clockWatch logs every jump of the wall clock against the monotonic clock
// and keeps the last one for the console's status and the heartbeat. The
// ledger's times come from the wall clock, so a jump explains times out of
// order in it.
type clockWatch struct {
	read clockReading
	min  time.Duration
	log  *slog.Logger

	mu       sync.Mutex
	prevWall time.Time
	prevMono time.Duration
	last     *console.ClockJump
}

func newClockWatch(read clockReading, min time.Duration, log *slog.Logger) *clockWatch {
	c := &clockWatch{read: read, min: min, log: log}
	c.prevWall, c.prevMono = read()
	return c
}

// check compares the clocks once: the wall clock should have moved as far
// as the monotonic one since the last check.
func (c *clockWatch) check() {
	wall, mono := c.read()
	c.mu.Lock()
	expected := c.prevWall.Add(mono - c.prevMono)
	c.prevWall, c.prevMono = wall, mono
	delta := wall.Sub(expected)
	if delta > -c.min && delta < c.min {
		c.mu.Unlock()
		return
	}
	j := console.ClockJump{From: expected.UTC(), To: wall.UTC(), DeltaS: int64(delta / time.Second)}
	c.last = &j
	c.mu.Unlock()
	c.log.Warn("the wall clock jumped; times in the ledger around it are off by the jump",
		"delta", delta.Round(time.Second).String(), "from", j.From.Format(time.RFC3339), "to", j.To.Format(time.RFC3339))
}

// run checks at every tick until ctx ends.
func (c *clockWatch) run(ctx context.Context, tick <-chan time.Time) {
	for {
		select {
		case <-ctx.Done():
			return
		case <-tick:
			c.check()
		}
	}
}

// Last is the last jump seen since start.
func (c *clockWatch) Last() (console.ClockJump, bool) {
	if c == nil {
		return console.ClockJump{}, false
	}
	c.mu.Lock()
	defer c.mu.Unlock()
	if c.last == nil {
		return console.ClockJump{}, false
	}
	return *c.last, true
}

// startClockWatch watches the system clock until ctx ends.
func startClockWatch(ctx context.Context, log *slog.Logger) *clockWatch {
	c := newClockWatch(systemClockReading(), clockJumpMin, log.With("component", "clock"))
	t := time.NewTicker(clockWatchEvery)
	go func() {
		defer t.Stop()
		c.run(ctx, t.C)
	}()
	return c
}

// LastClockJump gives the console's status the last jump.
func (b *consoleBackend) LastClockJump() (console.ClockJump, bool) { return b.w.clock.Last() }
