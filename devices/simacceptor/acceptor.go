package simacceptor

import (
	"context"
	"errors"
	"fmt"
	"io"
	"log/slog"
	"slices"
	"strings"
	"sync"
	"time"

	"tolem/kiosk"
)

// DefaultDenominations are the Kazakh banknotes in circulation, as the bill
// table of a validator set up for KZT holds them.
var DefaultDenominations = []kiosk.Money{
	kiosk.Tenge(200), kiosk.Tenge(500), kiosk.Tenge(1000), kiosk.Tenge(2000),
	kiosk.Tenge(5000), kiosk.Tenge(10000), kiosk.Tenge(20000),
}

// EscrowTimeout is how long a real validator holds a bill in escrow before
// it gives it back by itself.
const EscrowTimeout = 10 * time.Second

// Reasons of EventRejected, as a real validator's reject codes read.
const (
	ReasonInhibited    = "inhibited denomination"
	ReasonHeadOccupied = "previous bill still in the head"
	ReasonVerification = "verification"
)

// ErrFaulted is returned by Insert while a fault keeps the device from
// pulling a bill in: the customer keeps the bill and nothing is reported.
var ErrFaulted = errors.New("bill acceptor has a fault and does not take bills")

// Options configure New. Every field has a default.
type Options struct {
	// StateFile is where the device's memory (escrow, a bill being stacked,
	// the count of stacked bills) survives a restart; kioskd puts it in the
	// data dir. Empty keeps the state in memory only.
	StateFile string
	// Denominations is the bill table; DefaultDenominations when empty.
	Denominations []kiosk.Money
	// Clock drives the escrow timeout; kiosk.SystemClock when nil.
	Clock kiosk.Clock
	// Log receives faults and storage errors; discarded when nil.
	Log *slog.Logger
	// Serial is reported by Info; "SIM-0000001" when empty.
	Serial string
}

// Acceptor is the simulated bill acceptor. It implements kiosk.Acceptor and
// the sim panel's bill feeder (Insert, InsertFake). Its methods are safe for
// concurrent use.
type Acceptor struct {
	clock  kiosk.Clock
	log    *slog.Logger
	store  *store
	denoms []kiosk.Money
	serial string

	mu      sync.Mutex
	st      state
	enabled map[kiosk.Money]bool // nil or empty: every bill is inhibited
	faults  []kiosk.Fault
	errs    []string
	closed  bool
	// escrowGen tells a timer that fires late for a bill that has since been
	// stacked or returned from one that is still waiting.
	escrowGen  uint64
	escrowStop chan struct{}

	queue    []kiosk.AcceptorEvent
	wake     chan struct{}
	out      chan kiosk.AcceptorEvent
	done     chan struct{}
	pumpDone chan struct{}
}

var _ kiosk.Acceptor = (*Acceptor)(nil)

const maxLastErrors = 8

// New powers the simulated device up. Like a real validator after a power
// cut, it first reports where it found a bill (EventPowerUp), then
// EventReady; a bill that had been told to STACK but whose stacked report was
// lost is then reported stacked, once. It starts with every bill inhibited.
func New(opts Options) (*Acceptor, error) {
	a := &Acceptor{
		clock:    opts.Clock,
		log:      opts.Log,
		serial:   opts.Serial,
		wake:     make(chan struct{}, 1),
		out:      make(chan kiosk.AcceptorEvent, 64),
		done:     make(chan struct{}),
		pumpDone: make(chan struct{}),
	}
	if a.clock == nil {
		a.clock = kiosk.SystemClock{}
	}
	if a.log == nil {
		a.log = slog.New(slog.NewTextHandler(io.Discard, nil))
	}
	if a.serial == "" {
		a.serial = "SIM-0000001"
	}
	a.denoms = slices.Clone(opts.Denominations)
	if len(a.denoms) == 0 {
		a.denoms = slices.Clone(DefaultDenominations)
	}
	slices.Sort(a.denoms)
	a.denoms = slices.Compact(a.denoms)
	for _, d := range a.denoms {
		if d <= 0 {
			return nil, fmt.Errorf("simacceptor: denomination %d tiyn is not a banknote; fix the bill table", int64(d))
		}
	}

	a.store = &store{path: opts.StateFile}
	st, err := a.store.load()
	if err != nil {
		return nil, fmt.Errorf("simacceptor: power up: %w", err)
	}
	a.st = st

	a.mu.Lock()
	a.powerUp()
	a.mu.Unlock()
	go a.pump()
	return a, nil
}

// powerUp reports what the device finds in its path, and settles it.
func (a *Acceptor) powerUp() {
	switch {
	case a.st.StackedUnreported != 0:
		v := a.st.StackedUnreported
		a.log.Warn("bill acceptor powered up with a bill in the stacker", "value", v.String())
		a.emit(kiosk.AcceptorEvent{Kind: kiosk.EventPowerUp, BillAt: kiosk.BillInStacker, Value: v})
		a.emit(kiosk.AcceptorEvent{Kind: kiosk.EventReady})
		// The power-up report is the bill's report: the journal counted it
		// when it was stacked, and no EventStacked follows, as with CCNET's
		// credit recovery.
		next := a.st.clone()
		next.StackedUnreported = 0
		next.Escrow = 0
		a.commitAfterReport(next)
	case a.st.Escrow != 0:
		v := a.st.Escrow
		a.log.Warn("bill acceptor powered up with a bill in the head; returning it", "value", v.String())
		a.emit(kiosk.AcceptorEvent{Kind: kiosk.EventPowerUp, BillAt: kiosk.BillInValidator, Value: v})
		a.emit(kiosk.AcceptorEvent{Kind: kiosk.EventReady})
		next := a.st.clone()
		next.Escrow = 0
		a.commitAfterReport(next)
	default:
		a.emit(kiosk.AcceptorEvent{Kind: kiosk.EventPowerUp, BillAt: kiosk.BillNowhere})
		a.emit(kiosk.AcceptorEvent{Kind: kiosk.EventReady})
	}
}

// commitAfterReport records a state whose events have already been emitted.
// The in-memory state moves on even if the write fails, because the events
// cannot be taken back; the next successful write carries it to disk.
func (a *Acceptor) commitAfterReport(next state) {
	a.st = next
	if err := a.store.save(next); err != nil {
		a.noteError(fmt.Sprintf("state file: %v", err))
		a.log.Error("simulated acceptor could not save its state; check the data dir's disk", "err", err)
	}
}

// Enable lets the device take the bills whose value is in values and that
// its bill table holds; every other bill is rejected as inhibited.
func (a *Acceptor) Enable(ctx context.Context, values []kiosk.Money) error {
	if err := ctx.Err(); err != nil {
		return fmt.Errorf("simacceptor: enable: %w", err)
	}
	a.mu.Lock()
	defer a.mu.Unlock()
	if a.closed {
		return fmt.Errorf("simacceptor: enable: %w", kiosk.ErrAcceptorOffline)
	}
	en := make(map[kiosk.Money]bool, len(values))
	for _, v := range values {
		if slices.Contains(a.denoms, v) {
			en[v] = true
		}
	}
	a.enabled = en
	return nil
}

// Disable inhibits every bill; a bill in escrow stays there.
func (a *Acceptor) Disable(ctx context.Context) error {
	if err := ctx.Err(); err != nil {
		return fmt.Errorf("simacceptor: disable: %w", err)
	}
	a.mu.Lock()
	defer a.mu.Unlock()
	if a.closed {
		return fmt.Errorf("simacceptor: disable: %w", kiosk.ErrAcceptorOffline)
	}
	a.enabled = nil
	return nil
}

// Stack moves the bill in escrow into the cassette. The device first writes
// down that the bill is in the stacker and not yet reported, durably, so that
// a kill before the report reaches the kiosk is answered at the next
// power-up with BillInStacker and one Stacked event.
func (a *Acceptor) Stack(ctx context.Context) error {
	if err := ctx.Err(); err != nil {
		return fmt.Errorf("simacceptor: stack: %w", err)
	}
	a.mu.Lock()
	defer a.mu.Unlock()
	if a.closed {
		return fmt.Errorf("simacceptor: stack: %w", kiosk.ErrAcceptorOffline)
	}
	v := a.st.Escrow
	if v == 0 {
		return fmt.Errorf("simacceptor: stack: %w", kiosk.ErrNoEscrow)
	}
	next := a.st.clone()
	next.Escrow = 0
	next.StackedUnreported = v
	next.Stacked[v]++
	if err := a.store.save(next); err != nil {
		a.noteError(fmt.Sprintf("state file: %v", err))
		// The bill stays in escrow: it was not stacked, and the escrow timer
		// will still give it back.
		return fmt.Errorf("simacceptor: stack %s: %w", v, err)
	}
	a.st = next
	a.disarmEscrow()
	a.emit(kiosk.AcceptorEvent{Kind: kiosk.EventStacking, Value: v})
	a.emit(kiosk.AcceptorEvent{Kind: kiosk.EventStacked, Value: v})
	done := a.st.clone()
	done.StackedUnreported = 0
	a.commitAfterReport(done)
	return nil
}

// Return gives the bill in escrow back to the customer.
func (a *Acceptor) Return(ctx context.Context) error {
	if err := ctx.Err(); err != nil {
		return fmt.Errorf("simacceptor: return: %w", err)
	}
	a.mu.Lock()
	defer a.mu.Unlock()
	if a.closed {
		return fmt.Errorf("simacceptor: return: %w", kiosk.ErrAcceptorOffline)
	}
	if a.st.Escrow == 0 {
		return fmt.Errorf("simacceptor: return: %w", kiosk.ErrNoEscrow)
	}
	a.returnEscrow()
	return nil
}

// returnEscrow gives the escrowed bill back; a.mu is held.
func (a *Acceptor) returnEscrow() {
	v := a.st.Escrow
	a.disarmEscrow()
	a.emit(kiosk.AcceptorEvent{Kind: kiosk.EventReturned, Value: v})
	next := a.st.clone()
	next.Escrow = 0
	a.commitAfterReport(next)
}

// Insert is a customer pushing a genuine banknote of value into the slot.
// What the device makes of it arrives as events (Escrow or Rejected). It
// fails only when the device cannot pull the bill in at all: closed, or
// faulted (ErrFaulted).
func (a *Acceptor) Insert(value kiosk.Money) error {
	a.mu.Lock()
	defer a.mu.Unlock()
	if err := a.canTake(); err != nil {
		return fmt.Errorf("simacceptor: insert %s: %w", value, err)
	}
	if a.st.Escrow != 0 || a.st.StackedUnreported != 0 {
		a.emit(kiosk.AcceptorEvent{Kind: kiosk.EventRejected, Value: value, Reason: ReasonHeadOccupied})
		return nil
	}
	if !a.enabled[value] {
		a.emit(kiosk.AcceptorEvent{Kind: kiosk.EventRejected, Value: value, Reason: ReasonInhibited})
		return nil
	}
	next := a.st.clone()
	next.Escrow = value
	if err := a.store.save(next); err != nil {
		a.noteError(fmt.Sprintf("state file: %v", err))
		// A device that cannot remember a bill must not hold it.
		a.emit(kiosk.AcceptorEvent{Kind: kiosk.EventRejected, Value: value, Reason: "storage failure"})
		return fmt.Errorf("simacceptor: insert %s: %w", value, err)
	}
	a.st = next
	a.armEscrow()
	a.emit(kiosk.AcceptorEvent{Kind: kiosk.EventEscrow, Value: value})
	return nil
}

// InsertFake is a customer pushing a counterfeit or a scrap of paper: the
// device refuses it after verification.
func (a *Acceptor) InsertFake() error {
	a.mu.Lock()
	defer a.mu.Unlock()
	if err := a.canTake(); err != nil {
		return fmt.Errorf("simacceptor: insert fake bill: %w", err)
	}
	reason := ReasonVerification
	if a.st.Escrow != 0 || a.st.StackedUnreported != 0 {
		reason = ReasonHeadOccupied
	}
	a.emit(kiosk.AcceptorEvent{Kind: kiosk.EventRejected, Reason: reason})
	return nil
}

// canTake says why the slot cannot pull a bill in; a.mu is held.
func (a *Acceptor) canTake() error {
	if a.closed {
		return kiosk.ErrAcceptorOffline
	}
	if len(a.faults) > 0 {
		return fmt.Errorf("%w (%s)", ErrFaulted, joinFaults(a.faults))
	}
	return nil
}

// armEscrow starts the escrow timeout for the bill just taken; a.mu is held.
func (a *Acceptor) armEscrow() {
	a.disarmEscrow()
	a.escrowGen++
	gen := a.escrowGen
	stop := make(chan struct{})
	a.escrowStop = stop
	t := a.clock.NewTimer(EscrowTimeout)
	go func() {
		select {
		case <-t.C():
			a.escrowExpired(gen)
		case <-stop:
			t.Stop()
		case <-a.done:
			t.Stop()
		}
	}()
}

// disarmEscrow stops the escrow timeout; a.mu is held.
func (a *Acceptor) disarmEscrow() {
	if a.escrowStop != nil {
		close(a.escrowStop)
		a.escrowStop = nil
	}
}

func (a *Acceptor) escrowExpired(gen uint64) {
	a.mu.Lock()
	defer a.mu.Unlock()
	if a.closed || gen != a.escrowGen || a.st.Escrow == 0 {
		return
	}
	a.escrowStop = nil
	a.log.Info("bill left in escrow too long; the acceptor returned it", "value", a.st.Escrow.String())
	a.returnEscrow()
}

// Jam simulates a bill jammed in the validator: EventFault(jammed).
func (a *Acceptor) Jam() { a.setFault(kiosk.FaultJammed, true, "bill jammed in the validator") }

// Clear removes the jam. EventFaultCleared follows once no fault is left
// (a removed cassette still has to be put back with SetCassette(false)).
func (a *Acceptor) Clear() { a.setFault(kiosk.FaultJammed, false, "") }

// SetCassette simulates the technician pulling the cassette out (removed) or
// putting it back.
func (a *Acceptor) SetCassette(removed bool) {
	a.setFault(kiosk.FaultCassetteRemoved, removed, "drop cassette removed")
}

func (a *Acceptor) setFault(f kiosk.Fault, on bool, detail string) {
	a.mu.Lock()
	defer a.mu.Unlock()
	if a.closed {
		return
	}
	has := slices.Contains(a.faults, f)
	switch {
	case on && !has:
		a.faults = append(a.faults, f)
		a.noteError(string(f))
		a.log.Warn("bill acceptor fault", "fault", string(f))
		a.emit(kiosk.AcceptorEvent{Kind: kiosk.EventFault, Fault: f, Detail: detail})
	case !on && has:
		a.faults = slices.DeleteFunc(a.faults, func(g kiosk.Fault) bool { return g == f })
		if len(a.faults) == 0 {
			a.log.Info("bill acceptor faults cleared")
			a.emit(kiosk.AcceptorEvent{Kind: kiosk.EventFaultCleared})
		}
	}
}

// Events delivers the device's reports in order. It is closed by Close.
func (a *Acceptor) Events() <-chan kiosk.AcceptorEvent { return a.out }

// Info is the device's identity and state.
func (a *Acceptor) Info() kiosk.AcceptorInfo {
	a.mu.Lock()
	defer a.mu.Unlock()
	var state string
	switch {
	case a.closed:
		state = "closed"
	case len(a.faults) > 0:
		state = string(a.faults[0])
	case a.st.Escrow != 0:
		state = "escrow"
	case len(a.enabled) > 0:
		state = "idling"
	default:
		state = "disabled"
	}
	return kiosk.AcceptorInfo{
		Protocol:      "sim",
		Port:          a.store.path,
		Model:         "SIM-ACCEPTOR",
		Serial:        a.serial,
		State:         state,
		Denominations: slices.Clone(a.denoms),
		Currency:      kiosk.Currency,
		Faults:        slices.Clone(a.faults),
		LastErrors:    slices.Clone(a.errs),
		Ready:         !a.closed && len(a.faults) == 0,
	}
}

// Stacked counts, per value, every bill the device has ever stacked: what
// its cassette would hold had it never been emptied.
func (a *Acceptor) Stacked() map[kiosk.Money]int {
	a.mu.Lock()
	defer a.mu.Unlock()
	return a.st.clone().Stacked
}

// Close inhibits every bill and closes Events. A bill still in escrow stays
// in the state file and is given back at the next power-up, as a real
// device does when the power goes.
func (a *Acceptor) Close() error {
	a.mu.Lock()
	if a.closed {
		a.mu.Unlock()
		return nil
	}
	a.closed = true
	a.enabled = nil
	a.disarmEscrow()
	a.mu.Unlock()
	close(a.done)
	return nil
}

// emit queues an event for the pump; a.mu is held. The queue is unbounded so
// that a command never waits for the reader of Events, which may be the very
// goroutine that called it.
func (a *Acceptor) emit(ev kiosk.AcceptorEvent) {
	if a.closed {
		return
	}
	ev.At = a.clock.Now()
	a.queue = append(a.queue, ev)
	select {
	case a.wake <- struct{}{}:
	default:
	}
}

func (a *Acceptor) pump() {
	defer close(a.pumpDone)
	defer close(a.out)
	for {
		a.mu.Lock()
		if len(a.queue) == 0 {
			a.mu.Unlock()
			select {
			case <-a.wake:
				continue
			case <-a.done:
				// Closed: nothing more is emitted, and what was queued has
				// been delivered; Events closes.
				return
			}
		}
		ev := a.queue[0]
		a.queue[0] = kiosk.AcceptorEvent{}
		a.queue = a.queue[1:]
		a.mu.Unlock()
		// Delivered even after Close: an event the device reported is never
		// dropped (kiosk.Acceptor's contract); the closer reads Events.
		a.out <- ev
	}
}

// noteError keeps the most recent errors for Info; a.mu is held.
func (a *Acceptor) noteError(msg string) {
	a.errs = append(a.errs, msg)
	if len(a.errs) > maxLastErrors {
		a.errs = slices.Delete(a.errs, 0, len(a.errs)-maxLastErrors)
	}
}

func joinFaults(fs []kiosk.Fault) string {
	s := make([]string, len(fs))
	for i, f := range fs {
		s[i] = string(f)
	}
	return strings.Join(s, ", ")
}
