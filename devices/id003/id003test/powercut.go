package id003test

import (
	"fmt"
	"maps"
	"time"

	"tolem/kiosk"
)

// Instant is a point of a bill's way through the unit at which a test can
// make the power fail (PowerCutAt).
//
// The instants have the values, and where ID-003 says the same thing the
// names, of the CCNET emulator's (ccnettest.Instant): instant n of one
// protocol leaves the bill where instant n of the other does, so one table
// of expectations serves both.
type Instant int

// The instants of a bill's way, in order. A cut keeps the bill where the
// mechanics had it: in the head (the unit powers up with BILL IN ACCEPTOR
// and gives it back at RESET), half-way into the stacker or in the cassette
// with its VEND VALID not acknowledged (BILL IN STACKER: the bill stays in the
// cassette, and units with VendAfterPowerUp report VEND VALID for it after
// INITIALIZE). Whatever the controller had not acknowledged is lost: a
// VEND VALID on the wire is not repeated after the power comes back.
const (
	// AtAccepting: the unit has just drawn the bill in and is scanning it.
	AtAccepting Instant = iota + 1
	// AtEscrow: the unit has just told the controller the bill waits in
	// escrow (the first ESCROW status is on the wire).
	AtEscrow
	// AtStackAcked: the unit has ACKed STACK-1 or STACK-2; the bill has not
	// moved yet.
	AtStackAcked
	// AtStacking: the bill is half-way into the stacker.
	AtStacking
	// AtVendValidUntold: the bill has just landed in the cassette; the unit
	// has not reported VEND VALID yet. CCNET's AtStackedUntold.
	AtVendValidUntold
	// AtVendValidUnacked: the status answer carrying VEND VALID is on the
	// wire and the controller has not ACKed it. CCNET's AtStackedUnacked.
	AtVendValidUnacked
)

var instantNames = map[Instant]string{
	AtAccepting: "accepting", AtEscrow: "escrow", AtStackAcked: "stack-acked", AtStacking: "stacking",
	AtVendValidUntold: "vend-valid-untold", AtVendValidUnacked: "vend-valid-unacked",
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
	return []Instant{AtAccepting, AtEscrow, AtStackAcked, AtStacking, AtVendValidUntold, AtVendValidUnacked}
}

// Cut is a power failure the emulator acted out.
type Cut struct {
	// Instant is the bill's instant it was armed for; 0 for PowerCut.
	Instant Instant
	// Value is the bill the cut concerned: the one in the head or the
	// stacker, or the one in the cassette whose VEND VALID the controller
	// had not acknowledged; 0 for none.
	Value kiosk.Money
	// Place is where the cut left that bill: in the acceptor's head, half-way
	// into the stacker, or nowhere for a bill already in the cassette (or
	// none).
	Place kiosk.BillPosition
	// Next is a bill already in the head when the cut caught the one before
	// it in the cassette. An ID-003 unit takes no bill before the last one's
	// VEND VALID is acknowledged, so it is always 0; it is here so that a
	// test reads a cut of either protocol alike.
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
// what the controller had not acknowledged is lost, and the unit comes back
// after PowerOffTime reporting what the cut left in it.
func (e *Emulator) cutLocked(now time.Time, at Instant) Cut {
	c := Cut{Instant: at, At: now, Place: kiosk.BillNowhere}
	switch b := e.bill; {
	case b == nil:
	case b.step == stVendValid:
		// In the cassette, its credit not acknowledged.
		c.Value = e.value(b.code)
	case b.step == stStacking:
		c.Value, c.Place = e.value(b.code), kiosk.BillInStacker
	case b.step == stRejecting || b.step == stStacked:
		// A refused bill is on its way out whatever happens; a stacked one
		// was acknowledged, and STACKED tells nothing more.
		e.bill = nil
	default:
		c.Value, c.Place = e.value(b.code), kiosk.BillInValidator
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
