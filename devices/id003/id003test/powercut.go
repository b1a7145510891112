package id003test

import (
	"fmt"
	"maps"
	"time"

	"tolem/devices/acceptor/acceptortest"
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
