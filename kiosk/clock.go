package kiosk

import "time"

// Clock is the only source of time in the core, so that every timeout (60 s of
// phone entry, 90 s of auto-complete, 5 s of lookup) is tested by advancing a
// fake clock instead of sleeping.
type Clock interface {
	Now() time.Time
	// NewTimer fires once, d after now, on the returned timer's channel.
	NewTimer(d time.Duration) Timer
}

// Timer is a stoppable one-shot timer of a Clock.
type Timer interface {
	C() <-chan time.Time
	// Stop prevents the timer from firing; it reports whether it was still armed.
	Stop() bool
}

// SystemClock is the wall clock.
type SystemClock struct{}

// Now returns time.Now().
func (SystemClock) Now() time.Time { return time.Now() }

// NewTimer wraps time.NewTimer.
func (SystemClock) NewTimer(d time.Duration) Timer { return sysTimer{time.NewTimer(d)} }

type sysTimer struct{ t *time.Timer }

func (t sysTimer) C() <-chan time.Time { return t.t.C }
func (t sysTimer) Stop() bool          { return t.t.Stop() }
