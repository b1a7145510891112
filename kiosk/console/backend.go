package console

import (
	"context"
	"errors"
	"time"

	"tolem/kiosk"
)

// Backend is what the commands need of the kiosk. The daemon implements it
// over the ledger, the flow, the acceptor and the outbox; tests use a fake.
//
// Methods that read the ledger return an error wrapping ErrNoLedger when the
// ledger could not be opened, so that a command can say so instead of
// showing zeros.
type Backend interface {
	// Service is the flow's state and why it is (or will be) out of service.
	Service(ctx context.Context) Service
	// Acceptor is the bill acceptor's identity and state.
	Acceptor() kiosk.AcceptorInfo
	// Cassette is what the current cassette period holds.
	Cassette(ctx context.Context) (Cassette, error)
	// Queue counts the top-ups waiting for the bank and lists up to limit
	// of the oldest unsent or pending ones.
	Queue(ctx context.Context, limit int) (Queue, error)
	// Bank is the outbox's view of the bank; Known is false when no outbox
	// reports one.
	Bank() BankStatus
	// System is the daemon's version, start time and data directory.
	System() System

	// TopUp finds a top-up by receipt number (kiosk.ErrNotFound when none),
	// with its bills and its delivery.
	TopUp(ctx context.Context, receiptNo int64) (TopUpDetail, error)
	// TopUpByID is TopUp by the top-up's id.
	TopUpByID(ctx context.Context, id string) (TopUpDetail, error)
	// Review is the technician's review list.
	Review(ctx context.Context) (Review, error)
	// Recovered lists the top-ups completed at start-up after a power cut,
	// newest first, at most limit of them.
	Recovered(ctx context.Context, limit int) ([]kiosk.TopUp, error)
	// Retry makes a top-up due again at once, or every unsent and pending one
	// when id is "". It returns how many changed. A top-up the bank decided
	// is refused with an error wrapping ErrRefused.
	Retry(ctx context.Context, id string) (int, error)

	// SetManual raises or clears the technician's out-of-service condition
	// and records it durably, so that a restart keeps it.
	SetManual(ctx context.Context, on bool) error
	// RequestMaintenance waits until no customer is mid-session, then puts
	// the kiosk in maintenance (acceptor disabled); ctx ends the wait.
	RequestMaintenance(ctx context.Context) error
	// EndMaintenance leaves maintenance.
	EndMaintenance()
	// CloseCollection records the collection of the cassette with the bag or
	// seal number, starts the next cassette period and queues the
	// collection for the bank, in one transaction.
	CloseCollection(ctx context.Context, seal string) (Collection, error)
	// Reconcile settles the uncertain bills of a collection (ref: its id, its
	// seal, or "last") with the physical count, crediting the bills found in
	// the cassette as follow-up top-ups; actor is audited.
	Reconcile(ctx context.Context, ref string, counted []kiosk.BillCount, actor string) (Reconciliation, error)
	// CycleAcceptor enables every denomination and disables the acceptor
	// again, for `test acceptor` in maintenance.
	CycleAcceptor(ctx context.Context) error
	// SelfTester is the front panel's self-test; nil when the panel has
	// none (the simulated panel).
	SelfTester() SelfTester

	// SetDoorOpen tells the flow the service door is open (no cash is taken
	// while it is) or closed.
	SetDoorOpen(open bool)
	// SetDoorAlarm raises or clears the door alarm that the heartbeat
	// reports.
	SetDoorAlarm(on bool)

	// Config is the running config with its secrets as "***": YAML, or JSON
	// when asJSON.
	Config(asJSON bool) ([]byte, error)
	// AuditTail is the last n lines of the audit table, oldest first.
	AuditTail(ctx context.Context, n int) ([]kiosk.AuditEntry, error)
	// Audit appends a line to the audit table.
	Audit(ctx context.Context, e kiosk.AuditEntry) error
	// Setting and SetSetting read and write a persistent setting.
	Setting(ctx context.Context, key string) (string, bool, error)
	SetSetting(ctx context.Context, key, value string) error
}

// SelfTester is the front panel's hardware self-test, behind `test display`
// and `test keys`.
type SelfTester interface {
	// TestPattern shows test pages on the display, then puts the flow's
	// screen back.
	TestPattern(ctx context.Context) error
	// KeyEcho hands each key press to out instead of to the flow until ctx
	// ends.
	KeyEcho(ctx context.Context, out func(kiosk.Key)) error
}

// Errors a Backend returns.
var (
	// ErrNoLedger: the ledger could not be opened; nothing can be read or
	// recorded until it is repaired and kioskd restarted.
	ErrNoLedger = errors.New("the ledger is not open")
	// ErrRefused: the record's state does not allow the change.
	ErrRefused = errors.New("refused")
)

// Service is the flow's state for the console.
type Service struct {
	State kiosk.State `json:"state"`
	// Reasons say why the kiosk is (or, after the customer, will be) out of
	// service.
	Reasons     []string `json:"reasons"`
	Maintenance bool     `json:"maintenance"`
	Manual      bool     `json:"manual"`
	// InSession is set while a customer is mid-session.
	InSession bool      `json:"in_session"`
	Screen    [4]string `json:"screen"`
	// DoorOpen is the service door's state as last reported.
	DoorOpen bool `json:"door_open"`
	// Payment is the open session's service and masked account
	// ("alseco ***6789"), empty when none is open.
	Payment string `json:"payment,omitempty"`
}

// Cassette is the current cassette period.
type Cassette struct {
	OpenedAt time.Time `json:"opened_at"`
	// Bills are the bills in the cassette by value (suspense bills included;
	// one whose value is unknown counts under 0).
	Bills  []kiosk.BillCount `json:"bills"`
	Count  int               `json:"count"`
	Amount kiosk.Money       `json:"amount"`
	// Capacity is how many bills the cassette holds; 0 when unknown.
	Capacity     int   `json:"capacity"`
	TopUps       int   `json:"topups"`
	FirstReceipt int64 `json:"first_receipt_no"`
	LastReceipt  int64 `json:"last_receipt_no"`
	// Suspense counts bills in the cassette that no session owns;
	// Uncertain, bills a power cut left unsettled (not in Bills).
	Suspense  int `json:"suspense"`
	Uncertain int `json:"uncertain"`
	// Services are the period's totals by service.
	Services []kiosk.ServiceTotal `json:"services"`
}

// Queue is the state of the top-ups waiting for the bank.
type Queue struct {
	kiosk.QueueStats
	// HeldSince is set while delivery waits for a customer's payment to end
	// (the outbox writes nothing while one is under way).
	HeldSince time.Time `json:"held_since,omitzero"`
	// Oldest are the oldest unsent or pending top-ups, oldest first.
	Oldest []QueuedTopUp `json:"oldest"`
}

// QueuedTopUp is a top-up of the queue with its delivery.
type QueuedTopUp struct {
	TopUp    kiosk.TopUp `json:"topup"`
	Delivery Delivery    `json:"delivery"`
}

// Delivery is where a top-up stands with the bank beyond its sync state.
type Delivery struct {
	Note          string    `json:"note,omitempty"`
	LastError     string    `json:"last_error,omitempty"`
	Attempts      int       `json:"attempts"`
	NextAttemptAt time.Time `json:"next_attempt_at,omitzero"`
	CreditedAt    time.Time `json:"credited_at,omitzero"`
	UpdatedAt     time.Time `json:"updated_at,omitzero"`
}

// TopUpDetail is one top-up with every bill of its session.
type TopUpDetail struct {
	TopUp    kiosk.TopUp        `json:"topup"`
	Bills    []kiosk.BillRecord `json:"bills"`
	Delivery Delivery           `json:"delivery"`
}

// Review is what a technician must look at.
type Review struct {
	// Bills are uncertain and suspense bills.
	Bills []kiosk.BillRecord `json:"bills"`
	// TopUps are top-ups in review or rejected by the bank.
	TopUps []QueuedTopUp `json:"topups"`
	// Sessions are the customers' sessions a power cut left with
	// uncertain bills, with the top-up recovered for the rest.
	Sessions []UncertainSession `json:"sessions"`
}

// UncertainSession is a customer's session with bills a power cut left
// uncertain: the customer may come back about them.
type UncertainSession struct {
	SessionID string      `json:"session_id"`
	Phone     kiosk.Phone `json:"phone"`
	OpenedAt  time.Time   `json:"opened_at"`
	// TopUp is the session's top-up, nil when none was completed.
	TopUp     *kiosk.TopUp       `json:"topup"`
	Uncertain []kiosk.BillRecord `json:"uncertain"`
}

// BankStatus is the outbox's view of the bank.
type BankStatus struct {
	// Known is false when no outbox reports on the bank.
	Known       bool      `json:"known"`
	Reachable   bool      `json:"reachable"`
	LastSuccess time.Time `json:"last_success,omitzero"`
	LastError   string    `json:"last_error,omitempty"`
	// ClockOffset is the bank's clock minus the kiosk's.
	ClockOffset time.Duration `json:"-"`
	// Alarms the outbox raises ("topup_overdue").
	Alarms []string `json:"alarms,omitempty"`
}

// System is the daemon itself.
type System struct {
	Version  string    `json:"version"`
	Started  time.Time `json:"started_at"`
	DataDir  string    `json:"data_dir"`
	Terminal string    `json:"terminal_id"`
	// Sim is set in `kioskd --sim`.
	Sim bool `json:"sim"`
}

// Reconciliation is what a collection's physical count settled.
type Reconciliation struct {
	Collection string            `json:"collection"`
	Counted    []kiosk.BillCount `json:"counted"`
	// Recorded is what the ledger holds in the collected cassette.
	Recorded []kiosk.BillCount `json:"recorded"`
	// Stacked and Returned are the ids of the uncertain bills settled.
	Stacked  []string `json:"stacked"`
	Returned []string `json:"returned"`
	// TopUps are the follow-up top-ups crediting the bills found.
	TopUps []kiosk.TopUp `json:"topups"`
	// Unmatched is what the count could not settle without a guess.
	Unmatched []string `json:"unmatched"`
}

// Collection is a recorded collection.
type Collection struct {
	ID   string `json:"id"`
	Seal string `json:"seal"`
	// Period is the closed cassette period.
	Period Cassette `json:"period"`
	// ClosedAt is when the period was closed.
	ClosedAt time.Time `json:"closed_at"`
}
