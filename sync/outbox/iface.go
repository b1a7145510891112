package outbox

import (
	"context"
	"errors"
	"time"

	"tolem/kiosk"
)

// Store is the part of the ledger the outbox reads and writes. The method
// set is the ledger's own, so the SQLite ledger satisfies it as it is. Every
// write must be durable when it returns nil.
type Store interface {
	// DueTopUps returns, in receipt order, up to limit unsent and pending
	// top-ups whose next attempt is unset or not after now.
	DueTopUps(ctx context.Context, now time.Time, limit int) ([]kiosk.TopUp, error)
	// SetBody stores body if none is stored yet and returns the stored one:
	// the bytes every send of the top-up carries.
	SetBody(ctx context.Context, id string, body []byte) ([]byte, error)
	// UpdateSync records one attempt's outcome: the sync state, a note, the
	// next attempt (zero: due at once) and the time.
	UpdateSync(ctx context.Context, id string, state kiosk.SyncState, note string, nextAttempt, at time.Time) error
	// TopUpsBySync returns the top-ups in any of states, in receipt order.
	TopUpsBySync(ctx context.Context, states ...kiosk.SyncState) ([]kiosk.TopUp, error)
	// Queue counts top-ups by sync state.
	Queue(ctx context.Context) (kiosk.QueueStats, error)
	// Retry makes one top-up (id) or every unsent and pending one (id "")
	// due at once, and returns how many it changed.
	Retry(ctx context.Context, id string, at time.Time) (int, error)
}

// BatchStore is a Store that records several top-ups in one transaction.
// The ledger is one. With it, a batch the bank answered costs the ledger a
// commit or two (one fsync each) per batchWrite top-ups instead of two per
// top-up; a Store without it gets one write per top-up. Each call must be
// all or nothing.
type BatchStore interface {
	// SetBodies is SetBody for each id, in order.
	SetBodies(ctx context.Context, ids []string, bodies [][]byte) ([][]byte, error)
	// UpdateSyncs is UpdateSync for each update, in order.
	UpdateSyncs(ctx context.Context, us []kiosk.SyncUpdate) error
}

// CollectionState is where a collection stands with the bank.
type CollectionState string

// Collection delivery states, as the ledger stores them.
const (
	CollectionUnsent CollectionState = "unsent"
	CollectionSent   CollectionState = "sent"
	CollectionReview CollectionState = "review"
)

// Collection is a closed cassette period to report to the bank.
type Collection struct {
	// ID is the collection's uuid: its id and Idempotency-Key at the bank.
	ID string
	// Seal is the bag or seal number the technician typed.
	Seal         string
	OpenedAt     time.Time
	ClosedAt     time.Time
	Bills        []kiosk.BillCount
	Amount       kiosk.Money
	TopUps       int
	FirstReceipt int64
	LastReceipt  int64
	// Chain is the ledger's hash chain head when the collection was
	// recorded; nil when unknown.
	Chain *kiosk.ChainHead
}

// CollectionStore is the ledger's collection delivery, like Store for
// top-ups. The daemon adapts the ledger's collection type to Collection.
type CollectionStore interface {
	DueCollections(ctx context.Context, now time.Time, limit int) ([]Collection, error)
	SetCollectionBody(ctx context.Context, id string, body []byte) ([]byte, error)
	UpdateCollectionSync(ctx context.Context, id string, state CollectionState, note string, nextAttempt, at time.Time) error
}

// Answer is the bank's word on a top-up: its status when it took the
// request (credited, pending or rejected).
type Answer struct {
	// State is kiosk.SyncCredited, kiosk.SyncPending or kiosk.SyncRejected.
	State kiosk.SyncState
	// Reason says why a top-up was rejected ("wallet_not_found").
	Reason string
}

// ItemAnswer is the answer for one top-up of a batch: Answer when the bank
// took it, else Err, classified like the error of a single submit.
type ItemAnswer struct {
	ID     string
	Answer Answer
	Err    error
}

// Heartbeat is what the kiosk tells the bank about itself. The outbox fills
// Queue and its own alarms; Options.Describe fills the rest.
type Heartbeat struct {
	State    string
	Version  string
	Acceptor kiosk.AcceptorInfo
	Cassette Cassette
	Queue    kiosk.QueueStats
	Alarms   []string
	// Chain is the ledger's hash chain head; nil when unknown.
	Chain *kiosk.ChainHead
	// Catalog is the version of the catalog the menu shows ("" for none
	// from the bank); Services, the cassette's money by service.
	Catalog  string
	Services []kiosk.ServiceTotal
	// ClockJump is the last jump of the kiosk's wall clock since it
	// started; nil when there was none.
	ClockJump *ClockJump
}

// ClockJump is a jump of the wall clock: From is what it should have read
// by the monotonic clock, To what it read.
type ClockJump struct {
	From, To time.Time
}

// Cassette is the fill of the bill cassette.
type Cassette struct {
	Count    int
	Amount   kiosk.Money
	Capacity int
}

// Bank is the bank as the outbox needs it. Failures should be *Error, so
// that the outbox knows what to do; any other error is retried.
type Bank interface {
	// EncodeTopUp and EncodeCollection give the request body; the outbox
	// stores the bytes and sends them unchanged on every retry.
	EncodeTopUp(t kiosk.TopUp) ([]byte, error)
	EncodeCollection(c Collection) ([]byte, error)
	// SubmitTopUp posts one top-up body under its id.
	SubmitTopUp(ctx context.Context, id string, body []byte) (Answer, error)
	// SubmitBatch posts several bodies; the answers are one per body, in order.
	// An error is for the batch as a whole.
	SubmitBatch(ctx context.Context, ids []string, bodies [][]byte) ([]ItemAnswer, error)
	// TopUpStatus asks where a top-up stands; an id the bank does not know
	// is an *Error of KindUnknown.
	TopUpStatus(ctx context.Context, id string) (Answer, error)
	// PostCollection posts a collection body under its id.
	PostCollection(ctx context.Context, id string, body []byte) error
	// Heartbeat tells the bank how the kiosk is.
	Heartbeat(ctx context.Context, hb Heartbeat) error
	// Ping checks that the bank answers at all.
	Ping(ctx context.Context) error
}

// Kind is what the outbox does after a failed request.
type Kind int

// Kinds of failure.
const (
	// KindRetry: the same request may succeed later (no answer, 5xx, 429,
	// 401, a garbled answer). It is retried with back-off.
	KindRetry Kind = iota
	// KindReview: the bank refused the top-up for good (409, 422); it goes
	// to the technician's review list with the bank's message.
	KindReview
	// KindUnknown: the bank does not know the top-up (404 on a status
	// read); it is submitted again.
	KindUnknown
)

func (k Kind) String() string {
	switch k {
	case KindReview:
		return "review"
	case KindUnknown:
		return "unknown"
	}
	return "retry"
}

// Error is a classified failure of a Bank call.
type Error struct {
	Kind Kind
	// RetryAfter is the bank's Retry-After: the top-ups of the request wait
	// at least that long.
	RetryAfter time.Duration
	// Throttled marks the bank's rate limit (429): then no request at all
	// goes out before RetryAfter, since the limit is the terminal's.
	Throttled bool
	// Note is what the ledger records (the bank's code and message); empty:
	// the error's text.
	Note string
	Err  error
}

func (e *Error) Error() string { return e.Err.Error() }
func (e *Error) Unwrap() error { return e.Err }

// failure is a classified error.
type failure struct {
	kind       Kind
	retryAfter time.Duration
	throttled  bool
	note       string
}

// classify reads what to do after err; an error the Bank did not classify
// is retried, since a kiosk never drops a top-up.
func classify(err error) failure {
	var e *Error
	if errors.As(err, &e) {
		f := failure{kind: e.Kind, retryAfter: min(max(e.RetryAfter, 0), maxRetryAfter), throttled: e.Throttled, note: e.Note}
		if f.note == "" {
			f.note = e.Error()
		}
		return f
	}
	return failure{kind: KindRetry, note: err.Error()}
}
