package ccnettest

import (
	"fmt"
	"maps"
	"time"

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
type Cut struct {
	// Instant is the bill's instant it was armed for; 0 for PowerCut.
	Instant Instant
	// Value is the bill the cut concerned: the one in the head or the
	// stacker, or the one that had just landed in the cassette; 0 for none.
	Value kiosk.Money
	// Place is where the cut left that bill: in the validator's head, half-way
	// into the stacker, or nowhere for a bill already in the cassette (or none).
	Place kiosk.BillPosition
	// Next is a bill already in the head when the cut caught the one before
	// it in the cassette (the stacked instants); 0 for none.
	Next kiosk.Money
	At   time.Time
}

func (c Cut) String() string {
	if c.Value == 0 {
		return fmt.Sprintf("power cut at %s, no bill in the unit", c.Instant)
	}
	place := "in the cassette"
	switch c.Place {
	case kiosk.BillInValidator:
		place = "in the head"
	case kiosk.BillInStacker:
		place = "half-way into the cassette"
	}
	if c.Next != 0 {
		place += fmt.Sprintf(", the next bill (%s) in the head", c.Next)
	}
	return fmt.Sprintf("power cut at %s, bill %s %s", c.Instant, c.Value, place)
}

type armedCut struct {
	at   Instant
	hook func(Cut)
}

// PowerCutAt arms a power cut for the next time a bill reaches instant at;
// an earlier arming that has not fired is replaced. The unit then goes dark
// for PowerOffTime and powers up as the cut left it. hook, when not nil, runs
// at the very instant of the cut, before the unit answers anything again
// (a test SIGKILLs the controller there); it must be quick and must not call
// the Emulator.
func (e *Emulator) PowerCutAt(at Instant, hook func(Cut)) {
	e.mu.Lock()
	defer e.mu.Unlock()
	e.cut = &armedCut{at: at, hook: hook}
	e.cutAfter = false
}

// Disarm cancels an armed power cut; it reports whether one was waiting.
func (e *Emulator) Disarm() bool {
	e.mu.Lock()
	defer e.mu.Unlock()
	armed := e.cut != nil
	e.cut, e.cutAfter = nil, false
	return armed
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

// cutDue reports whether a cut is armed for instant at.
func (e *Emulator) cutDue(at Instant) bool { return e.cut != nil && e.cut.at == at }

// cutOnAnswer makes the answer being built the last one before the power
// goes, when a cut is armed for at.
func (e *Emulator) cutOnAnswer(at Instant) {
	if e.cutDue(at) {
		e.cutAfter = true
	}
}

// answerSent cuts the power once an answer that was to be the last is on
// the wire.
func (e *Emulator) answerSent() {
	e.mu.Lock()
	defer e.mu.Unlock()
	if !e.cutAfter || e.cut == nil {
		return
	}
	// No advance: the cut belongs to the state the answer told of.
	e.cutLocked(time.Now(), e.cut.at)
}

// armMidStack cuts the power half-way through the stacking of b when a cut
// is armed for AtStacking.
func (e *Emulator) armMidStack(b *bill) {
	if !e.cutDue(AtStacking) {
		return
	}
	time.AfterFunc(time.Until(b.until.Add(-e.opts.StackTime/2)), func() {
		e.mu.Lock()
		defer e.mu.Unlock()
		if e.closed || e.bill != b || b.step != stStacking || !e.cutDue(AtStacking) {
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
	var hook func(Cut)
	if e.cut != nil && e.cut.at == at {
		hook = e.cut.hook
		e.cut = nil
	}
	e.cutAfter = false
	e.powerOn(now)
	e.silentUntil = now.Add(e.opts.PowerOffTime)
	e.save()
	e.log.Info("acceptor emulator lost power", "instant", at.String(), "bill", c.Value.String(), "place", c.Place.String())
	if hook != nil {
		hook(c)
	}
	return c
}
