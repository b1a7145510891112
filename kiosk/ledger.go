package kiosk

import (
	"context"
	"errors"
	"strconv"
	"time"
)

// BillState is where a bill the kiosk has a record of stands.
type BillState string

// Bill states. A bill is recorded `escrowed` before the acceptor is told to
// STACK it, then becomes `stacked` or `returned`. A power cut can leave it
// `uncertain` (a technician reviews it); a bill the acceptor reports stacked
// at power-up that no session owns is kept in `suspense`.
const (
	BillEscrowed  BillState = "escrowed"
	BillStacked   BillState = "stacked"
	BillReturned  BillState = "returned"
	BillUncertain BillState = "uncertain"
	BillSuspense  BillState = "suspense"
)

// SyncState is where a top-up stands with the bank.
type SyncState string

// Sync states. Nothing is ever deleted: rejected and review are end states a
// technician sees.
const (
	SyncUnsent   SyncState = "unsent"
	SyncPending  SyncState = "pending"
	SyncCredited SyncState = "credited"
	SyncRejected SyncState = "rejected"
	SyncReview   SyncState = "review"
)

// SyncUpdate is one delivery attempt's outcome for a top-up, as the
// ledger's UpdateSync takes it: several go in one transaction when the bank
// answered a batch.
type SyncUpdate struct {
	ID    string
	State SyncState
	// Note is the bank's reason, or the error that made the attempt fail.
	Note string
	// Next is when to try again; zero: as soon as due.
	Next time.Time
	At   time.Time
}

// Session is one customer's visit from the moment cash may go in. It makes at
// most one top-up, holding every bill stacked during it.
type Session struct {
	ID       string
	Phone    Phone
	Offline  bool
	OpenedAt time.Time
	// Service is the catalog service paid (empty: the wallet); Account is
	// its digits account (empty when Phone is the account).
	Service string
	Account string
}

// BillRecord is one bill the kiosk decided to stack.
type BillRecord struct {
	// ID is unique for the bill: SessionID and Seq together key it, so the same
	// device event seen twice can never be counted twice.
	ID        string
	SessionID string
	Seq       int
	Value     Money
	State     BillState
	At        time.Time
	// StackAt is when the acceptor took the STACK command for the bill
	// (zero until then).
	StackAt time.Time
}

// BillID is the id of the seq-th bill of a session. Deriving it from the
// session and the bill's place in it, rather than drawing a random one, is what
// makes the same device event recorded twice land on the same row.
func BillID(sessionID string, seq int) string {
	return sessionID + "/" + strconv.Itoa(seq)
}

// BillCount is a number of bills of one value.
type BillCount struct {
	Value Money `json:"value"`
	Count int   `json:"count"`
}

// TopUp is a completed session's money for one wallet, as it is sent to the bank.
type TopUp struct {
	ID        string `json:"id"`
	ReceiptNo int64  `json:"receipt_no"`
	SessionID string `json:"session_id"`
	Phone     Phone  `json:"phone"`
	// Service is the catalog service paid (empty: the wallet); Account is
	// its digits account (empty when Phone is the account).
	Service     string      `json:"service,omitempty"`
	Account     string      `json:"account,omitempty"`
	Amount      Money       `json:"amount"`
	Bills       []BillCount `json:"bills"`
	Offline     bool        `json:"offline"`
	CreatedAt   time.Time   `json:"created_at"`
	CompletedAt time.Time   `json:"completed_at"`
	Sync        SyncState   `json:"sync"`
	// Recovered is set on a top-up completed at start-up for a session a power
	// cut interrupted.
	Recovered bool `json:"recovered"`
	// Reconciled is set on a follow-up top-up: a bill whose fate was unknown
	// when its session was settled, found later in the cassette (by a late
	// power-up report or a collection's count) and credited to the same
	// phone under a receipt number of its own.
	Reconciled bool `json:"reconciled,omitempty"`
}

// PowerUpReport is what the acceptor said at its (re)initialisation, which
// settles bills a power cut left escrowed.
type PowerUpReport struct {
	BillAt BillPosition
	Value  Money
}

// RecoveryReport says what Recover did, for the log.
type RecoveryReport struct {
	Stacked   int     // escrowed bills found in the stacker
	Returned  int     // escrowed bills that went back
	Uncertain int     // escrowed bills that could not be settled
	Suspense  int     // stacked bills no session owned
	TopUps    []TopUp // top-ups completed for interrupted sessions
	Emptied   int     // sessions closed without money
}

// QueueStats counts top-ups by sync state, for the offline caps, the console
// and the heartbeat.
type QueueStats struct {
	Unsent       int       `json:"unsent"`
	UnsentAmount Money     `json:"unsent_amount"`
	Pending      int       `json:"pending"`
	Review       int       `json:"review"`
	OldestAt     time.Time `json:"oldest_at"` // completion time of the oldest unsent or pending
}

// AuditEntry is one line of the audit table: who did what.
type AuditEntry struct {
	At     time.Time `json:"at"`
	Actor  string    `json:"actor"` // technician id, "system", "customer"
	Action string    `json:"action"`
	Detail string    `json:"detail"`
}

// Ledger is the flow's durable journal. Every method commits before it returns:
// when it returns nil the record survives a power cut.
//
// Methods return ErrLedgerWrite (wrapped, with SQLite's reason) when the write
// could not be made durable, e.g. a full disk or a read-only data directory;
// the flow then goes out of service.
type Ledger interface {
	// OpenSession records a session as cash may start going in.
	OpenSession(ctx context.Context, s Session) error
	// RecordEscrow durably records that a bill is about to be stacked for its
	// session. Recording the same ID twice is a no-op.
	RecordEscrow(ctx context.Context, b BillRecord) error
	// MarkStacking records that the acceptor took the STACK command for the
	// escrowed bill (kiosk.EventStacking): if a power cut follows and the
	// device reports nothing at power-up, the bill is in the cassette.
	// Idempotent; a no-op for a bill already settled.
	MarkStacking(ctx context.Context, billID string, at time.Time) error
	// MarkStacked records the bill as in the cassette. Idempotent.
	MarkStacked(ctx context.Context, billID string, at time.Time) error
	// MarkReturned records the bill as given back. Idempotent.
	MarkReturned(ctx context.Context, billID string, at time.Time) error
	// CompleteTopUp turns the session's stacked bills into a top-up with the
	// next receipt number, unsent. Completing a completed session returns its
	// top-up again. A session with no stacked bill returns ErrEmptySession.
	CompleteTopUp(ctx context.Context, sessionID string, at time.Time) (TopUp, error)
	// RecordSuspense keeps a bill the acceptor stacked while no session was
	// open to own it: money in the cassette, owner unknown, on the review list
	// and in the next collection. The same at records the bill once.
	RecordSuspense(ctx context.Context, value Money, at time.Time) error
	// CloseSession closes a session that took no money.
	CloseSession(ctx context.Context, sessionID string, at time.Time) error
	// PendingRecovery reports whether a session was left open by a crash.
	PendingRecovery(ctx context.Context) (bool, error)
	// Recover settles what a crash left open, with what the acceptor reported
	// at power-up (nil when the acceptor never reported: escrowed bills then
	// become uncertain).
	Recover(ctx context.Context, p *PowerUpReport, at time.Time) (RecoveryReport, error)
	// SettleLate applies a power-up report that came after Recover had run
	// without one: the bills Recover left uncertain for want of it are
	// settled as the report says (one found in the cassette is credited to
	// its session's phone as a follow-up top-up); sessions still open are
	// left alone.
	SettleLate(ctx context.Context, p *PowerUpReport, at time.Time) (RecoveryReport, error)
	// Queue counts top-ups by sync state.
	Queue(ctx context.Context) (QueueStats, error)
	// Audit appends to the audit table.
	Audit(ctx context.Context, e AuditEntry) error
}

// Errors of the Ledger.
var (
	ErrLedgerWrite  = errors.New("ledger write failed")
	ErrEmptySession = errors.New("session has no stacked bill")
	ErrNotFound     = errors.New("not found")
)
