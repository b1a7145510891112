package acceptortest

import (
	"fmt"
	"time"

	"tolem/kiosk"
)

// Instant is what an emulator's Instant type is: each protocol names the
// points of a bill's way in its own words.
type Instant interface {
	comparable
	fmt.Stringer
}

// Cut is a power failure an emulator acted out. I is the emulator's Instant:
// each protocol names the points of a bill's way in its own words, with the
// same values, so that instant n of one protocol leaves the bill where
// instant n of the other does.
type Cut[I fmt.Stringer] struct {
	// Instant is the bill's instant it was armed for; 0 for PowerCut.
	Instant I
	// Value is the bill the cut concerned: the one in the head or the
	// stacker, or the one that had just landed in the cassette, its report
	// not acknowledged; 0 for none.
	Value kiosk.Money
	// Place is where the cut left that bill: in the head, half-way into the
	// stacker, or nowhere for a bill already in the cassette (or none).
	Place kiosk.BillPosition
	// Next is a bill already in the head when the cut caught the one before
	// it in the cassette; 0 for none (always, for a unit that takes no bill
	// before the last one's report is acknowledged).
	Next kiosk.Money
	At   time.Time
}

func (c Cut[I]) String() string {
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

// Fuse is a power cut armed for an instant of a bill's way. Like Port, it is
// guarded by the emulator's mutex: every method is called with it held.
type Fuse[I Instant] struct {
	armed bool
	at    I
	hook  func(Cut[I])
	after bool // cut the power once the answer being sent is out
}

// Arm arms a cut for the next time a bill reaches at, replacing an earlier
// one that has not fired. hook, when not nil, runs at the very instant of
// the cut.
func (f *Fuse[I]) Arm(at I, hook func(Cut[I])) {
	f.armed, f.at, f.hook, f.after = true, at, hook, false
}

// Disarm cancels an armed cut; it reports whether one was waiting.
func (f *Fuse[I]) Disarm() bool {
	armed := f.armed
	var zero I
	f.armed, f.at, f.hook, f.after = false, zero, nil, false
	return armed
}

// Due reports whether a cut is armed for at.
func (f *Fuse[I]) Due(at I) bool { return f.armed && f.at == at }

// OnAnswer makes the answer being built the last one before the power goes,
// when a cut is armed for at.
func (f *Fuse[I]) OnAnswer(at I) {
	if f.Due(at) {
		f.after = true
	}
}

// Pending reports whether the power goes as soon as the answer being sent
// is out.
func (f *Fuse[I]) Pending() bool { return f.after }

// AfterAnswer reports the instant whose cut waits for the answer just sent.
func (f *Fuse[I]) AfterAnswer() (I, bool) {
	return f.at, f.after && f.armed
}

// Blow is the power going at instant at: it takes the hook armed for at, if
// any, and forgets a cut waiting for an answer.
func (f *Fuse[I]) Blow(at I) func(Cut[I]) {
	var hook func(Cut[I])
	if f.armed && f.at == at {
		hook = f.hook
		f.Disarm()
	}
	f.after = false
	return hook
}
