package acceptor

import (
	"errors"
	"sync/atomic"
	"time"
)

// ErrClosed is what a driver's line and loops return once Close was called.
var ErrClosed = errors.New("driver closed")

// Reconnect keeps a connection to a unit for as long as done is open.
// connect serves one connection until it fails, and reports whether the
// unit got initialised on it; offline is told why a connection ended. The
// back-off between attempts doubles from least up to most, and starts again
// from least after a connection that worked. activity is stamped at every
// attempt, so that a watchdog sees the driver alive while the unit is away.
// It returns when connect returns ErrClosed or done closes.
func Reconnect(done <-chan struct{}, least, most time.Duration, activity *atomic.Int64,
	connect func() (wasReady bool, err error), offline func(error)) {
	backoff := least
	for {
		activity.Store(time.Now().UnixNano())
		wasReady, err := connect()
		if errors.Is(err, ErrClosed) {
			return
		}
		offline(err)
		if wasReady {
			backoff = least
		}
		t := time.NewTimer(backoff)
		select {
		case <-done:
			t.Stop()
			return
		case <-t.C:
		}
		backoff = min(2*backoff, most)
	}
}

// Wait sleeps for d unless done closes first (ErrClosed). With d ≤ 0 it only
// looks whether done is closed.
func Wait(done <-chan struct{}, d time.Duration) error {
	if d <= 0 {
		select {
		case <-done:
			return ErrClosed
		default:
			return nil
		}
	}
	t := time.NewTimer(d)
	defer t.Stop()
	select {
	case <-done:
		return ErrClosed
	case <-t.C:
		return nil
	}
}
