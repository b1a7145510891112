package kiosk

import (
	"context"
	"errors"
	"time"
)

// Acceptor is a bill acceptor (validator) as the flow sees it. Drivers (CCNET,
// ID-003, the in-process simulator) implement it; the flow never speaks a wire
// protocol.
//
// Commands return quickly: they queue the command for the driver's poll loop,
// or fail with ErrAcceptorOffline when the device is not initialised, or
// ErrNoEscrow when Stack or Return is called with no bill in escrow. What the
// device then does arrives as events.
type Acceptor interface {
	// Enable lets the device take bills whose value is in values; every other
	// denomination is refused by the device itself. Bills wait in escrow.
	Enable(ctx context.Context, values []Money) error
	// Disable inhibits every bill. A bill already in escrow stays there until
	// Stack or Return.
	Disable(ctx context.Context) error
	// Stack moves the bill in escrow into the cassette. The caller must have
	// recorded the bill durably before calling Stack.
	Stack(ctx context.Context) error
	// Return gives the bill in escrow back to the customer.
	Return(ctx context.Context) error
	// Events delivers what the device reports, in order. The channel is closed
	// when the driver is closed.
	Events() <-chan AcceptorEvent
	// Info is the device's identity and state, for logs and the console.
	Info() AcceptorInfo
	// Close disables the device (inhibit all bills), stops the driver and
	// releases the port. Events the driver took from the device and the
	// caller has not received yet are not dropped: Events still delivers
	// them, and is closed after the last. A caller that closes the driver
	// reads Events until it is closed, so that no bill's report is lost.
	Close() error
}

// Errors of Acceptor commands.
var (
	ErrAcceptorOffline = errors.New("bill acceptor is not ready")
	ErrNoEscrow        = errors.New("no bill in escrow")
)

// AcceptorEventKind says what an AcceptorEvent reports.
type AcceptorEventKind int

// Event kinds. Escrow, Stacked and Returned are emitted exactly once per bill,
// however many polls the device repeats its state for.
const (
	// EventReady: the device is initialised (again); Info is filled.
	EventReady AcceptorEventKind = iota + 1
	// EventPowerUp: what the device found at power-up (BillAt); always comes
	// before the EventReady that follows a (re)initialisation. A bill found
	// in the stacker is reported here and only here: no EventStacked follows
	// for it (CCNET's credit-recovery 0x81 is folded into this event).
	EventPowerUp
	// EventEscrow: a bill of Value waits for Stack or Return.
	EventEscrow
	// EventStacking: the device took the STACK command for the bill of
	// Value in escrow (it acknowledged the command, or reported it was
	// stacking). From here the bill is on its way into the cassette: a
	// power-up that finds nothing in the device means it got there. At most
	// once per bill, after its EventEscrow and before its EventStacked (or
	// EventReturned, should the device give it back after all).
	EventStacking
	// EventStacked: the bill of Value is in the cassette.
	EventStacked
	// EventReturned: the bill of Value went back to the customer.
	EventReturned
	// EventRejected: the device refused a bill (Reason).
	EventRejected
	// EventFault: the device cannot take cash (Fault, Detail).
	EventFault
	// EventFaultCleared: every fault has cleared; the device is usable again.
	EventFaultCleared
)

var eventKindNames = map[AcceptorEventKind]string{
	EventReady: "ready", EventPowerUp: "power_up", EventEscrow: "escrow", EventStacking: "stacking",
	EventStacked: "stacked", EventReturned: "returned", EventRejected: "rejected",
	EventFault: "fault", EventFaultCleared: "fault_cleared",
}

func (k AcceptorEventKind) String() string {
	if n, ok := eventKindNames[k]; ok {
		return n
	}
	return "unknown"
}

// BillPosition is where the device found a bill at power-up.
type BillPosition int

// Positions reported with EventPowerUp.
const (
	BillNowhere BillPosition = iota
	// BillInValidator: the bill was still in the head; the device returns it.
	BillInValidator
	// BillInStacker: the bill had gone too far to return; it is in the cassette.
	BillInStacker
)

func (p BillPosition) String() string {
	switch p {
	case BillInValidator:
		return "in_validator"
	case BillInStacker:
		return "in_stacker"
	}
	return "none"
}

// Fault is a condition that keeps the acceptor from taking cash.
type Fault string

// Faults the drivers report.
const (
	FaultCassetteFull    Fault = "cassette_full"
	FaultCassetteRemoved Fault = "cassette_removed"
	FaultJammed          Fault = "jammed"
	FaultCassetteJammed  Fault = "cassette_jammed"
	FaultCheated         Fault = "cheated"
	FaultPause           Fault = "pause"
	FaultFailure         Fault = "failure"
	FaultDisconnected    Fault = "disconnected"
)

// AcceptorEvent is one report from the acceptor.
type AcceptorEvent struct {
	Kind AcceptorEventKind
	At   time.Time
	// Value of the bill, for Escrow, Stacked, Returned and a PowerUp with a
	// bill whose denomination the device told (zero when unknown).
	Value Money
	// BillAt is set on PowerUp.
	BillAt BillPosition
	// Reason is the readable rejection reason ("inhibited denomination").
	Reason string
	// Fault and Detail (e.g. the failure sub-code) are set on Fault.
	Fault  Fault
	Detail string
}

// AcceptorInfo is the device's identity and state for logs and the console.
type AcceptorInfo struct {
	Protocol string `json:"protocol"`
	Port     string `json:"port"`
	Model    string `json:"model"`
	// Firmware is the device's firmware version as it reports it, when it
	// does ("ID003-05V266-47 14OCT09").
	Firmware string `json:"firmware,omitempty"`
	Serial   string `json:"serial"`
	// State is the device's own state name ("idling", "escrow", "disabled"…).
	State string `json:"state"`
	// Denominations the device's bill table holds, in tiyn, ascending.
	Denominations []Money `json:"denominations"`
	Currency      string  `json:"currency"`
	Faults        []Fault `json:"faults"`
	// LastErrors are the most recent errors, newest last.
	LastErrors []string `json:"last_errors"`
	Ready      bool     `json:"ready"`
}
