package acceptortest

import (
	"fmt"
	"log/slog"
	"os"
	"slices"
	"strings"
	"sync"
	"testing"
	"time"

	"tolem/kiosk"
)

// Patience is how long a driver test waits for what must happen. The machine
// running the tests may be busy: waits are generous, and nothing asserts how
// fast a thing happened, only that it did (or did not).
const Patience = 30 * time.Second

// TestLog is the log of a driver or emulator under test: written to stderr
// with -v, discarded otherwise.
func TestLog(t testing.TB) *slog.Logger {
	if testing.Verbose() {
		return slog.New(slog.NewTextHandler(os.Stderr, &slog.HandlerOptions{Level: slog.LevelDebug})).With("test", t.Name())
	}
	return slog.New(slog.DiscardHandler)
}

// Recorder records every event an acceptor emits, for a test to wait for
// and assert on.
type Recorder struct {
	t      testing.TB
	mu     sync.Mutex
	cond   *sync.Cond
	events []kiosk.AcceptorEvent
	closed bool
}

// Record reads events until the channel closes.
func Record(t testing.TB, events <-chan kiosk.AcceptorEvent) *Recorder {
	r := &Recorder{t: t}
	r.cond = sync.NewCond(&r.mu)
	go func() {
		for e := range events {
			r.mu.Lock()
			r.events = append(r.events, e)
			r.cond.Broadcast()
			r.mu.Unlock()
		}
		r.mu.Lock()
		r.closed = true
		r.cond.Broadcast()
		r.mu.Unlock()
	}()
	return r
}

// Await waits until n events of kind were emitted in all, and returns the
// n-th; the test fails when none comes within Patience or the channel closed.
func (r *Recorder) Await(kind kiosk.AcceptorEventKind, n int) kiosk.AcceptorEvent {
	r.t.Helper()
	timer := time.AfterFunc(Patience, func() {
		r.mu.Lock()
		r.closed = true // stop waiting
		r.cond.Broadcast()
		r.mu.Unlock()
	})
	defer timer.Stop()
	r.mu.Lock()
	defer r.mu.Unlock()
	for {
		seen := 0
		for _, e := range r.events {
			if e.Kind == kind {
				if seen++; seen == n {
					return e
				}
			}
		}
		if r.closed {
			r.t.Fatalf("no %d. %s event within %v; events: %s", n, kind, Patience, Describe(r.events))
		}
		r.cond.Wait()
	}
}

// Count is how many events of kind were emitted so far.
func (r *Recorder) Count(kind kiosk.AcceptorEventKind) int {
	r.mu.Lock()
	defer r.mu.Unlock()
	n := 0
	for _, e := range r.events {
		if e.Kind == kind {
			n++
		}
	}
	return n
}

// WantCount fails the test unless exactly n events of kind were emitted.
func (r *Recorder) WantCount(kind kiosk.AcceptorEventKind, n int) {
	r.t.Helper()
	if got := r.Count(kind); got != n {
		r.mu.Lock()
		defer r.mu.Unlock()
		r.t.Errorf("%d %s events, want %d; events: %s", got, kind, n, Describe(r.events))
	}
}

// Kinds lists the events so far, for sequence assertions.
func (r *Recorder) Kinds() []kiosk.AcceptorEventKind {
	r.mu.Lock()
	defer r.mu.Unlock()
	var ks []kiosk.AcceptorEventKind
	for _, e := range r.events {
		ks = append(ks, e.Kind)
	}
	return ks
}

// Events is a copy of the events so far.
func (r *Recorder) Events() []kiosk.AcceptorEvent {
	r.mu.Lock()
	defer r.mu.Unlock()
	return slices.Clone(r.events)
}

// Describe writes events as a failing test shows them.
func Describe(evs []kiosk.AcceptorEvent) string {
	var b strings.Builder
	for _, e := range evs {
		fmt.Fprintf(&b, "%s", e.Kind)
		switch e.Kind {
		case kiosk.EventEscrow, kiosk.EventStacking, kiosk.EventStacked, kiosk.EventReturned:
			fmt.Fprintf(&b, "(%s)", e.Value)
		case kiosk.EventPowerUp:
			fmt.Fprintf(&b, "(%s %s)", e.BillAt, e.Value)
		case kiosk.EventFault:
			fmt.Fprintf(&b, "(%s)", e.Fault)
		case kiosk.EventRejected:
			fmt.Fprintf(&b, "(%s)", e.Reason)
		}
		b.WriteString(" ")
	}
	return b.String()
}
