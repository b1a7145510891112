package panel

import (
	"context"
	"fmt"
	"log/slog"
	"time"

	"periph.io/x/conn/v3/gpio"

	"tolem/kiosk"
)

// group is inputs read and debounced together: the keypad matrix, the four
// buttons, the door. Nothing runs while the inputs rest: the group's
// goroutine sleeps until an edge on one of its pins wakes it, then samples
// every poll interval until the reading has held still for the debounce
// time, reports the change, and sleeps again.
type group struct {
	name string
	// sample reads the inputs now, one bit each, set = active.
	sample func() uint32
	// unchanged, if set, tells cheaply (without disturbing the lines) that a
	// wake-up found the inputs as they were: edges the group caused itself.
	unchanged func(stable uint32) bool
	// changed is told each debounced change.
	changed func(old, new uint32)

	wake     chan struct{}
	clock    kiosk.Clock
	debounce time.Duration
	poll     time.Duration
	stable   uint32
	onIdle   func(string)
}

func newGroup(name string, clock kiosk.Clock, debounce time.Duration) *group {
	return &group{
		name:     name,
		wake:     make(chan struct{}, 1),
		clock:    clock,
		debounce: debounce,
		poll:     max(debounce/5, time.Millisecond),
	}
}

// signal wakes the group; wake-ups while it is busy coalesce into one.
func (g *group) signal() {
	select {
	case g.wake <- struct{}{}:
	default:
	}
}

func (g *group) run(ctx context.Context) {
	for {
		if g.onIdle != nil {
			g.onIdle(g.name)
		}
		select {
		case <-ctx.Done():
			return
		case <-g.wake:
		}
		if g.unchanged != nil && g.unchanged(g.stable) {
			continue
		}
		g.settle(ctx)
	}
}

// settle samples until the reading has held for the debounce time. A
// bouncing contact keeps restarting the wait, so it counts once, when it
// has come to rest.
func (g *group) settle(ctx context.Context) {
	cand := g.sample()
	since := g.clock.Now()
	for {
		t := g.clock.NewTimer(g.poll)
		select {
		case <-ctx.Done():
			t.Stop()
			return
		case <-t.C():
		}
		v := g.sample()
		now := g.clock.Now()
		if v != cand {
			cand, since = v, now
			continue
		}
		if now.Sub(since) >= g.debounce {
			if cand != g.stable {
				old := g.stable
				g.stable = cand
				g.changed(old, cand)
			}
			return
		}
	}
}

// watch turns the edges of one pin into wake-ups of its group. It waits in
// the kernel (WaitForEdge), in bounded slices so that Close is never held up
// by a driver that Halt cannot interrupt.
func watch(ctx context.Context, log *slog.Logger, p gpio.PinIn, g *group, slice time.Duration) {
	warned := false
	for ctx.Err() == nil {
		start := time.Now()
		if p.WaitForEdge(slice) {
			g.signal()
			continue
		}
		if ctx.Err() != nil {
			return
		}
		// A driver that returns at once without an edge (edge detection lost,
		// the line reconfigured behind our back) would make this loop spin;
		// back off and say so once.
		if time.Since(start) < slice/4 {
			if !warned {
				log.Warn("panel input does not wait for edges; polling it once per interval instead", "pin", p.String(), "group", g.name, "interval", slice)
				warned = true
			}
			select {
			case <-ctx.Done():
				return
			case <-time.After(slice):
			}
			g.signal()
		}
	}
}

// keypad is a 3×4 matrix: rows driven, columns read with the pull-up.
//
// At rest every row is driven low, so a key pulls its column low and the
// column's falling edge wakes the scan. A scan releases every row (input
// with pull-up, high impedance) and drives one row low at a time, reading
// the columns: a row is never driven high, so two keys of one column
// pressed together cannot short two outputs. Then all rows go low again.
type keypad struct {
	rows   [4]gpio.PinIO
	cols   [3]gpio.PinIn
	settle func()
	log    *slog.Logger
	failed bool
}

// keyAt is the keypad's layout, row by row; bit r*3+c of a scan.
var keyAt = [12]kiosk.Key{
	"1", "2", "3",
	"4", "5", "6",
	"7", "8", "9",
	kiosk.KeyBack, "0", kiosk.KeyOK, // the * and # keys
}

func (k *keypad) idle() {
	for _, r := range k.rows {
		if err := r.Out(gpio.Low); err != nil {
			k.fail("drive keypad row low", r, err)
		}
	}
}

func (k *keypad) fail(what string, p fmt.Stringer, err error) {
	if !k.failed {
		k.log.Error("keypad line failed; check the keypad cable", "op", what, "pin", p.String(), "err", err)
		k.failed = true
	}
}

// scan returns the keys held, bit r*3+c.
func (k *keypad) scan() uint32 {
	for _, r := range k.rows {
		if err := r.In(gpio.PullUp, gpio.NoEdge); err != nil {
			k.fail("release keypad row", r, err)
		}
	}
	var m uint32
	for i, r := range k.rows {
		if err := r.Out(gpio.Low); err != nil {
			k.fail("drive keypad row low", r, err)
		}
		k.settle()
		for j, c := range k.cols {
			if c.Read() == gpio.Low {
				m |= 1 << (i*3 + j)
			}
		}
		if err := r.In(gpio.PullUp, gpio.NoEdge); err != nil {
			k.fail("release keypad row", r, err)
		}
	}
	k.idle()
	return m
}

// columns reads which columns are low with every row driven low: what the
// keys held pull down, read without moving any line.
func (k *keypad) columns() uint32 {
	var m uint32
	for j, c := range k.cols {
		if c.Read() == gpio.Low {
			m |= 1 << j
		}
	}
	return m
}

// unchanged tells whether the columns are as the keys in stable leave them.
// The scans toggle the columns of held keys, and those edges wake the group
// again; this check answers them without another scan, so a held key costs
// nothing until it is released.
func (k *keypad) unchanged(stable uint32) bool {
	var want uint32
	for b := range 12 {
		if stable&(1<<b) != 0 {
			want |= 1 << (b % 3)
		}
	}
	return k.columns() == want
}
