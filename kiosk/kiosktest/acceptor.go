package kiosktest

import (
	"context"
	"fmt"
	"slices"
	"sync"
	"time"

	"tolem/kiosk"
)

// KZTDenominations are the tenge banknotes a KZT bill table holds.
var KZTDenominations = []kiosk.Money{
	kiosk.Tenge(200), kiosk.Tenge(500), kiosk.Tenge(1000), kiosk.Tenge(2000),
	kiosk.Tenge(5000), kiosk.Tenge(10000), kiosk.Tenge(20000),
}

// Acceptor command names, as Command.Op reports them.
const (
	OpEnable  = "enable"
	OpDisable = "disable"
	OpStack   = "stack"
	OpReturn  = "return"
)

// Command is one command the code under test gave the FakeAcceptor.
type Command struct {
	Op string
	// Values is the enabled set of an enable command.
	Values []kiosk.Money
	// Value is the bill in escrow when a stack or return was given.
	Value kiosk.Money
	// Err is what the command returned.
	Err error
}

func (c Command) String() string {
	switch c.Op {
	case OpEnable:
		return fmt.Sprintf("enable%v", c.Values)
	case OpStack, OpReturn:
		return fmt.Sprintf("%s(%s)", c.Op, c.Value)
	}
	return c.Op
}

// FakeAcceptor is a kiosk.Acceptor the test drives: it records every command
// and emits the events the test pushes (Escrow, Stacked, Fault…). It keeps
// track of the bill in escrow like a device does, so Stack and Return without
// one fail with kiosk.ErrNoEscrow.
type FakeAcceptor struct {
	mu       sync.Mutex
	events   chan kiosk.AcceptorEvent
	info     kiosk.AcceptorInfo
	cmds     []Command
	enabled  []kiosk.Money
	on       bool
	escrow   kiosk.Money
	inEscrow bool
	fail     map[string]error
	auto     bool
	check    func(kiosk.Money) error
	problems []string
	closed   bool
	now      func() time.Time
}

// NewFakeAcceptor returns a ready acceptor with the KZT bill table. clock
// stamps the events; nil stamps them with the zero time.
func NewFakeAcceptor(clock kiosk.Clock) *FakeAcceptor {
	a := &FakeAcceptor{
		events: make(chan kiosk.AcceptorEvent, 256),
		info: kiosk.AcceptorInfo{
			Protocol: "fake", Port: "fake0", Model: "FAKE-1", Serial: "0001",
			State: "disabled", Denominations: slices.Clone(KZTDenominations),
			Currency: kiosk.Currency, Ready: true,
		},
		fail: map[string]error{},
	}
	if clock != nil {
		a.now = clock.Now
	}
	return a
}

// SetInfo replaces what Info returns.
func (a *FakeAcceptor) SetInfo(info kiosk.AcceptorInfo) {
	a.mu.Lock()
	defer a.mu.Unlock()
	a.info = info
}

// Fail makes the command op (OpEnable, OpDisable, OpStack, OpReturn) return
// err from now on; a nil err makes it succeed again.
func (a *FakeAcceptor) Fail(op string, err error) {
	a.mu.Lock()
	defer a.mu.Unlock()
	if err == nil {
		delete(a.fail, op)
		return
	}
	a.fail[op] = err
}

// SetAuto makes the device finish bills by itself: a Stack is followed by
// EventStacked and a Return by EventReturned, as a healthy device does.
func (a *FakeAcceptor) SetAuto(on bool) {
	a.mu.Lock()
	defer a.mu.Unlock()
	a.auto = on
}

// CheckStack installs a check run on every Stack with the value in escrow
// (for example: "the ledger holds its escrow record"). A failing check is
// kept for Problems; the Stack itself still succeeds, like a device that
// cannot know.
func (a *FakeAcceptor) CheckStack(check func(value kiosk.Money) error) {
	a.mu.Lock()
	defer a.mu.Unlock()
	a.check = check
}

// Problems lists the failed stack checks.
func (a *FakeAcceptor) Problems() []string {
	a.mu.Lock()
	defer a.mu.Unlock()
	return slices.Clone(a.problems)
}

// Enable records the enabled set.
func (a *FakeAcceptor) Enable(_ context.Context, values []kiosk.Money) error {
	a.mu.Lock()
	defer a.mu.Unlock()
	err := a.fail[OpEnable]
	a.cmds = append(a.cmds, Command{Op: OpEnable, Values: slices.Clone(values), Err: err})
	if err != nil {
		return err
	}
	a.on = true
	a.enabled = slices.Clone(values)
	return nil
}

// Disable records that every bill is inhibited.
func (a *FakeAcceptor) Disable(context.Context) error {
	a.mu.Lock()
	defer a.mu.Unlock()
	err := a.fail[OpDisable]
	a.cmds = append(a.cmds, Command{Op: OpDisable, Err: err})
	if err != nil {
		return err
	}
	a.on = false
	a.enabled = nil
	return nil
}

// Stack takes the bill in escrow.
func (a *FakeAcceptor) Stack(context.Context) error {
	a.mu.Lock()
	defer a.mu.Unlock()
	err := a.fail[OpStack]
	if err == nil && !a.inEscrow {
		err = kiosk.ErrNoEscrow
	}
	a.cmds = append(a.cmds, Command{Op: OpStack, Value: a.escrow, Err: err})
	if err != nil {
		return err
	}
	if a.check != nil {
		if cerr := a.check(a.escrow); cerr != nil {
			a.problems = append(a.problems, fmt.Sprintf("stack %s: %v", a.escrow, cerr))
		}
	}
	v := a.escrow
	a.inEscrow, a.escrow = false, 0
	if a.auto {
		a.pushLocked(kiosk.AcceptorEvent{Kind: kiosk.EventStacked, Value: v})
	}
	return nil
}

// Return gives the bill in escrow back.
func (a *FakeAcceptor) Return(context.Context) error {
	a.mu.Lock()
	defer a.mu.Unlock()
	err := a.fail[OpReturn]
	if err == nil && !a.inEscrow {
		err = kiosk.ErrNoEscrow
	}
	a.cmds = append(a.cmds, Command{Op: OpReturn, Value: a.escrow, Err: err})
	if err != nil {
		return err
	}
	v := a.escrow
	a.inEscrow, a.escrow = false, 0
	if a.auto {
		a.pushLocked(kiosk.AcceptorEvent{Kind: kiosk.EventReturned, Value: v})
	}
	return nil
}

// Events delivers the pushed events.
func (a *FakeAcceptor) Events() <-chan kiosk.AcceptorEvent { return a.events }

// Info returns the device's identity, with State and Ready following the
// commands.
func (a *FakeAcceptor) Info() kiosk.AcceptorInfo {
	a.mu.Lock()
	defer a.mu.Unlock()
	info := a.info
	info.Denominations = slices.Clone(a.info.Denominations)
	info.Faults = slices.Clone(a.info.Faults)
	switch {
	case a.inEscrow:
		info.State = "escrow"
	case a.on:
		info.State = "idling"
	default:
		info.State = "disabled"
	}
	return info
}

// Close disables the device and closes the event channel.
func (a *FakeAcceptor) Close() error {
	a.mu.Lock()
	defer a.mu.Unlock()
	a.on = false
	a.enabled = nil
	if !a.closed {
		a.closed = true
		close(a.events)
	}
	return nil
}

// Commands returns every command given so far.
func (a *FakeAcceptor) Commands() []Command {
	a.mu.Lock()
	defer a.mu.Unlock()
	return slices.Clone(a.cmds)
}

// ClearCommands forgets the recorded commands, so that a test looks only at
// what follows.
func (a *FakeAcceptor) ClearCommands() {
	a.mu.Lock()
	defer a.mu.Unlock()
	a.cmds = nil
}

// Enabled reports whether the device takes bills, and which.
func (a *FakeAcceptor) Enabled() (bool, []kiosk.Money) {
	a.mu.Lock()
	defer a.mu.Unlock()
	return a.on, slices.Clone(a.enabled)
}

// InEscrow reports the bill waiting in escrow, if any.
func (a *FakeAcceptor) InEscrow() (kiosk.Money, bool) {
	a.mu.Lock()
	defer a.mu.Unlock()
	return a.escrow, a.inEscrow
}

// Escrow puts a bill of value v in escrow and reports it. Like a device it
// does so whether or not that denomination is enabled: the code under test
// must cope with a bill it did not ask for.
func (a *FakeAcceptor) Escrow(v kiosk.Money) {
	a.mu.Lock()
	defer a.mu.Unlock()
	a.escrow, a.inEscrow = v, true
	a.pushLocked(kiosk.AcceptorEvent{Kind: kiosk.EventEscrow, Value: v})
}

// Stacked reports a bill of value v in the cassette.
func (a *FakeAcceptor) Stacked(v kiosk.Money) {
	a.Push(kiosk.AcceptorEvent{Kind: kiosk.EventStacked, Value: v})
}

// Returned reports a bill of value v given back.
func (a *FakeAcceptor) Returned(v kiosk.Money) {
	a.Push(kiosk.AcceptorEvent{Kind: kiosk.EventReturned, Value: v})
}

// Rejected reports a refused bill.
func (a *FakeAcceptor) Rejected(reason string) {
	a.Push(kiosk.AcceptorEvent{Kind: kiosk.EventRejected, Reason: reason})
}

// Fault reports a fault and adds it to Info().Faults.
func (a *FakeAcceptor) Fault(f kiosk.Fault) {
	a.mu.Lock()
	defer a.mu.Unlock()
	a.info.Faults = append(a.info.Faults, f)
	a.pushLocked(kiosk.AcceptorEvent{Kind: kiosk.EventFault, Fault: f})
}

// FaultCleared reports that every fault cleared.
func (a *FakeAcceptor) FaultCleared() {
	a.mu.Lock()
	defer a.mu.Unlock()
	a.info.Faults = nil
	a.pushLocked(kiosk.AcceptorEvent{Kind: kiosk.EventFaultCleared})
}

// PowerUp reports what the device found at power-up. A bill in the
// validator goes back by itself, so the escrow is emptied either way.
func (a *FakeAcceptor) PowerUp(at kiosk.BillPosition, v kiosk.Money) {
	a.mu.Lock()
	defer a.mu.Unlock()
	a.on, a.enabled = false, nil
	a.inEscrow, a.escrow = false, 0
	a.pushLocked(kiosk.AcceptorEvent{Kind: kiosk.EventPowerUp, BillAt: at, Value: v})
}

// Ready reports the device initialised.
func (a *FakeAcceptor) Ready() {
	a.mu.Lock()
	defer a.mu.Unlock()
	a.info.Ready = true
	a.pushLocked(kiosk.AcceptorEvent{Kind: kiosk.EventReady})
}

// Push emits any event as is.
func (a *FakeAcceptor) Push(ev kiosk.AcceptorEvent) {
	a.mu.Lock()
	defer a.mu.Unlock()
	a.pushLocked(ev)
}

func (a *FakeAcceptor) pushLocked(ev kiosk.AcceptorEvent) {
	if a.closed {
		return
	}
	if ev.At.IsZero() && a.now != nil {
		ev.At = a.now()
	}
	select {
	case a.events <- ev:
	default:
		// A test that pushes 256 events nobody reads has a bug; saying so
		// beats a deadlock under the mutex.
		panic("kiosktest: FakeAcceptor event buffer full; is the consumer running?")
	}
}
