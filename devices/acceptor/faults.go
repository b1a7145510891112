package acceptor

import (
	"log/slog"
	"slices"
	"sync"
	"time"

	"tolem/kiosk"
)

// Faults is the faults a unit has now, reported at their onset and end. It
// is guarded by the driver's own mutex, passed to NewFaults, so that Info
// reads the faults and the driver's readiness in one critical section.
type Faults struct {
	mu   sync.Locker
	unit string // "bill validator", as the log names the unit
	log  *slog.Logger
	emit func(kiosk.AcceptorEvent)
	list []faultKey
}

type faultKey struct {
	fault  kiosk.Fault
	detail string
}

// NewFaults keeps the faults of unit (as the log names it), telling the
// reader of each change through emit.
func NewFaults(mu sync.Locker, unit string, log *slog.Logger, emit func(kiosk.AcceptorEvent)) *Faults {
	return &Faults{mu: mu, unit: unit, log: log, emit: emit}
}

// Raise reports a fault at its onset; it reports whether it was new. A unit
// is disconnected once, whatever the reason; other faults are new when their
// detail is.
func (f *Faults) Raise(fault kiosk.Fault, detail string) bool {
	f.mu.Lock()
	for _, k := range f.list {
		if k.fault == fault && (fault == kiosk.FaultDisconnected || k.detail == detail) {
			f.mu.Unlock()
			return false
		}
	}
	f.list = append(f.list, faultKey{fault, detail})
	f.mu.Unlock()
	f.log.Warn(f.unit+" fault", "fault", string(fault), "detail", detail)
	f.emit(kiosk.AcceptorEvent{Kind: kiosk.EventFault, Fault: fault, Detail: detail})
	return true
}

// ClearAll ends every fault: the unit answered a working state.
func (f *Faults) ClearAll() {
	f.mu.Lock()
	had := len(f.list) > 0
	f.list = nil
	f.mu.Unlock()
	if had {
		f.emit(kiosk.AcceptorEvent{Kind: kiosk.EventFaultCleared})
	}
}

// Clear ends one fault, reporting FaultCleared if it was the last.
func (f *Faults) Clear(fault kiosk.Fault) {
	f.mu.Lock()
	n := len(f.list)
	for i, k := range f.list {
		if k.fault == fault {
			f.list = append(f.list[:i], f.list[i+1:]...)
			break
		}
	}
	cleared := n > 0 && len(f.list) == 0
	f.mu.Unlock()
	if cleared {
		f.emit(kiosk.AcceptorEvent{Kind: kiosk.EventFaultCleared})
	}
}

// Len is how many faults the unit has; the caller holds the lock.
func (f *Faults) Len() int { return len(f.list) }

// Kinds lists the faults, oldest first; the caller holds the lock.
func (f *Faults) Kinds() []kiosk.Fault {
	var out []kiosk.Fault
	for _, k := range f.list {
		out = append(out, k.fault)
	}
	return out
}

// lastErrorsKept is how many recent errors Info reports.
const lastErrorsKept = 10

// LastErrors is the unit's recent errors, stamped, newest last, as Info
// reports them. The driver guards it with its own mutex.
type LastErrors []string

// Add keeps err, seen at at, dropping the oldest beyond the last ten.
func (l *LastErrors) Add(at time.Time, err error) {
	*l = append(*l, at.UTC().Format(time.RFC3339)+" "+err.Error())
	if len(*l) > lastErrorsKept {
		*l = slices.Delete(*l, 0, len(*l)-lastErrorsKept)
	}
}
