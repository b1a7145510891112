package ccnettest

import (
	"fmt"
	"maps"
	"time"

	"tolem/devices/acceptor/acceptortest"
	"tolem/kiosk"
)

// Instant is a point of a bill's way through the unit at which a test can
// make the power fail (PowerCutAt).
type Instant int

// The instants of a bill's way, in order. A cut keeps the bill where the
// mechanics had it: in the head (the unit powers up with BILL IN VALIDATOR and
// gives it back at RESET), half-way into the cassette (BILL IN STACKER, then
// STACKED after initialisation) or in the cassette. Whatever the unit had not
// had acknowledged by the controller is lost.
const (
	// AtAccepting: the unit has just drawn the bill in and is scanning it.
	AtAccepting Instant = iota + 1
	// AtEscrow: the unit has just told the controller the bill waits in
	// escrow (the first ESCROW answer is on the wire).
	AtEscrow
	// AtStackAcked: the unit has ACKed STACK; the bill has not moved yet.
	AtStackAcked
	// AtStacking: the bill is half-way into the cassette.
	AtStacking
	// AtStackedUntold: the bill has just landed in the cassette; the unit has
	// not reported STACKED yet.
	AtStackedUntold
	// AtStackedUnacked: the POLL answer carrying STACKED is on the wire and
	// the controller has not ACKed it.
	AtStackedUnacked
)

var instantNames = map[Instant]string{
	AtAccepting: "accepting", AtEscrow: "escrow", AtStackAcked: "stack-acked", AtStacking: "stacking",
	AtStackedUntold: "stacked-untold", AtStackedUnacked: "stacked-unacked",
}

func (i Instant) String() string {
	if n, ok := instantNames[i]; ok {
		return n
	}
	if i == 0 {
		return "now"
	}
	return fmt.Sprintf("instant(%d)", int(i))
}

// Instants lists every instant, in the order a bill meets them.
func Instants() []Instant {
	return []Instant{AtAccepting, AtEscrow, AtStackAcked, AtStacking, AtStackedUntold, AtStackedUnacked}
}

// Cut is a power failure the emulator acted out.
type Cut = acceptortest.Cut[Instant]

// PowerCutAt arms a power cut for the next time a bill reaches instant at;
// an earlier arming that has not fired is replaced. The unit then goes dark
// for PowerOffTime and powers up as the cut left it. hook, when not nil, runs
// at the very instant of the cut, before the unit answers anything again
// (a test SIGKILLs the controller there); it must be quick and must not call
// the Emulator.
func (e *Emulator) PowerCutAt(at Instant, hook func(Cut)) {
	e.mu.Lock()
	defer e.mu.Unlock()
	e.fuse.Arm(at, hook)
}

// Disarm cancels an armed power cut; it reports whether one was waiting.
func (e *Emulator) Disarm() bool {
	e.mu.Lock()
	defer e.mu.Unlock()
	return e.fuse.Disarm()
}

// PowerCut cuts the power now, wherever the bill in flight is, and restores
// it after PowerOffTime.
func (e *Emulator) PowerCut() Cut {
	now := time.Now()
	e.mu.Lock()
	defer e.mu.Unlock()
	e.advance(now)
	return e.cutLocked(now, 0)
}

// Cassette counts the bills in the cassette now, by value in tiyn: what a
// technician would count at the collection. It starts from zero with every
// InsertCassette.
func (e *Emulator) Cassette() map[kiosk.Money]int {
	e.mu.Lock()
	defer e.mu.Unlock()
	e.advance(time.Now())
	return maps.Clone(e.cassette)
}

// answerSent cuts the power once an answer that was to be the last is on
// the wire.
func (e *Emulator) answerSent() {
	e.mu.Lock()
	defer e.mu.Unlock()
	at, ok := e.fuse.AfterAnswer()
	if !ok {
		return
	}
	// No advance: the cut belongs to the state the answer told of.
	e.cutLocked(time.Now(), at)
}

// armMidStack cuts the power half-way through the stacking of b when a cut
// is armed for AtStacking.
func (e *Emulator) armMidStack(b *bill) {
	if !e.fuse.Due(AtStacking) {
		return
	}
	time.AfterFunc(time.Until(b.until.Add(-e.opts.StackTime/2)), func() {
		e.mu.Lock()
		defer e.mu.Unlock()
		if e.port.Closed() || e.bill != b || b.step != stStacking || !e.fuse.Due(AtStacking) {
			return
		}
		e.cutLocked(time.Now(), AtStacking)
	})
}

// cutLocked is the power failing at now: the mechanics stop where they are,
// unacknowledged events are lost, and the unit comes back after PowerOffTime
// reporting what the cut left in it.
func (e *Emulator) cutLocked(now time.Time, at Instant) Cut {
	c := Cut{Instant: at, At: now, Place: kiosk.BillNowhere}
	switch b := e.bill; {
	case (at == AtStackedUntold || at == AtStackedUnacked) && e.landed >= 0:
		// The bill of the instant is the one in the cassette, even when the
		// next is already in the head.
		c.Value = e.value(e.landed)
		if b != nil && b.step != stRejecting {
			c.Next = e.value(b.typ)
		}
	case b != nil && b.step == stStacking:
		c.Value, c.Place = e.value(b.typ), kiosk.BillInStacker
	case b != nil && b.step != stRejecting:
		c.Value, c.Place = e.value(b.typ), kiosk.BillInValidator
	case b != nil:
		e.bill = nil // a refused bill is on its way out whatever happens
	}
	if b := e.bill; b != nil && b.step == stRejecting {
		e.bill = nil
	}
	hook := e.fuse.Blow(at)
	e.powerOn(now)
	e.silentUntil = now.Add(e.opts.PowerOffTime)
	e.save()
	e.log.Info("acceptor emulator lost power", "instant", at.String(), "bill", c.Value.String(), "place", c.Place.String())
	if hook != nil {
		hook(c)
	}
	return c
}
