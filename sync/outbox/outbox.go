package outbox

import (
	"context"
	"errors"
	"fmt"
	"log/slog"
	"maps"
	"math/rand/v2"
	"slices"
	"sync"
	"time"

	"tolem/kiosk"
)

// Defaults of Options.
const (
	DefaultBatchSize         = 100
	DefaultMinBackoff        = time.Second
	DefaultMaxBackoff        = 5 * time.Minute
	DefaultPollAfter         = 5 * time.Second
	DefaultAlarmAfter        = 20 * time.Minute
	DefaultHeartbeatInterval = time.Minute
	// DefaultProbeInterval is long on purpose: the heartbeat probes the
	// link every minute too, and a fleet of ten thousand kiosks probing a
	// bank that is down every 15 s sent it five times its normal load (the
	// fleet simulation, BENCHMARKS.md).
	DefaultProbeInterval = 2 * time.Minute
	DefaultCheckInterval = 2 * time.Second
	DefaultFlushTimeout  = 5 * time.Second

	// MaxBatch is the most top-ups the bank takes in one batch.
	MaxBatch = 100
	// maxRetryAfter bounds the bank's Retry-After: a value beyond it is a
	// misconfigured proxy, not a bank that means to be left alone for a day.
	maxRetryAfter = time.Hour
	// storeRetry is how long the loop waits after the ledger failed it.
	storeRetry = 5 * time.Second
	// alarmRefresh is how often the list of overdue top-ups is read again
	// while some are overdue.
	alarmRefresh = 30 * time.Second
	// stallAfter is how long one step of the loop (a request, bounded by
	// the bank client's timeout, and its ledger writes) may take before
	// Alive says the loop is hung.
	stallAfter = 3 * time.Minute
	// queueRefresh spaces the reads of the queue's counts during a drain.
	queueRefresh = 250 * time.Millisecond
	// logEvery spaces the log lines of a draining queue, linkLogEvery the
	// warnings of a flapping link.
	logEvery     = 5 * time.Second
	linkLogEvery = time.Minute
	// releaseOneByOne is how many top-ups in back-off are released one by
	// one when the bank answers again; more are released in one write.
	releaseOneByOne = 20
	// collectionsPerPass bounds the collections read at once; there is one
	// a week or so.
	collectionsPerPass = 10
)

// AlarmTopUpOverdue is the heartbeat alarm raised while a top-up is unsent
// or pending longer than Options.AlarmAfter after its completion.
const AlarmTopUpOverdue = "topup_overdue"

// Options configure an Outbox. Zero durations take the defaults above.
type Options struct {
	Store Store
	// Collections delivers closed cassette periods; nil: none are sent.
	Collections CollectionStore
	Bank        Bank
	Clock       kiosk.Clock
	Log         *slog.Logger

	// BatchSize is the most top-ups in one batch request, at most MaxBatch.
	BatchSize int
	// MinBackoff is the ceiling of the first retry's wait; each further
	// consecutive failure doubles it, up to MaxBackoff. The wait is drawn
	// uniformly below the ceiling (full jitter), so that a fleet of kiosks
	// cut off together does not come back in step.
	MinBackoff time.Duration
	MaxBackoff time.Duration
	// PollAfter is the wait before the first status read of a pending
	// top-up; each further pending answer doubles it, up to MaxBackoff.
	PollAfter time.Duration
	// AlarmAfter is how long after its completion a top-up may stay unsent
	// or pending before it raises an alarm.
	AlarmAfter        time.Duration
	HeartbeatInterval time.Duration
	// ProbeInterval is how often the bank is pinged while it does not
	// answer; the first answer makes every waiting top-up due at once.
	ProbeInterval time.Duration
	// CheckInterval is how often the ledger is read for top-ups completed
	// without a Wake: a cheap read on the ledger's read pool.
	CheckInterval time.Duration
	// FlushTimeout bounds Close: the final delivery of what is due, and the
	// request in flight when Close is called.
	FlushTimeout time.Duration

	// OnChange is called after the loop changed sync states, so the flow
	// re-checks its offline caps.
	OnChange func()
	// Describe fills what a heartbeat says beyond the queue: the flow's
	// state, the version, the acceptor, the cassette, other alarms.
	Describe func(ctx context.Context, hb *Heartbeat)
	// Rand returns a number in [0, 1) for the jitter; math/rand when nil.
	Rand func() float64

	// Gate, when set, holds requests and ledger writes back while a
	// customer pays, for at most MaxHold at a time (zero: DefaultMaxHold).
	Gate    *Gate
	MaxHold time.Duration
}

// Alarm is a top-up that has waited too long for the bank.
type Alarm struct {
	TopUpID     string          `json:"topup_id"`
	ReceiptNo   int64           `json:"receipt_no"`
	State       kiosk.SyncState `json:"state"`
	CompletedAt time.Time       `json:"completed_at"`
}

// Counts are what the outbox did since it started.
type Counts struct {
	Requests    int `json:"requests"`
	Failures    int `json:"failures"`
	Credited    int `json:"credited"`
	Pending     int `json:"pending"`
	Rejected    int `json:"rejected"`
	Review      int `json:"review"`
	Resubmitted int `json:"resubmitted"`
	Collections int `json:"collections"`
	Heartbeats  int `json:"heartbeats"`
	// CreditedBy and RejectedBy split Credited and Rejected by service
	// ("wallet" for the wallet).
	CreditedBy map[string]int `json:"credited_by,omitempty"`
	RejectedBy map[string]int `json:"rejected_by,omitempty"`
}

func bump(m *map[string]int, key string) {
	if *m == nil {
		*m = map[string]int{}
	}
	(*m)[key]++
}

// Status is the outbox as the console shows it.
type Status struct {
	// Queue counts the ledger's top-ups by sync state, with the completion
	// time of the oldest unsent or pending one.
	Queue kiosk.QueueStats `json:"queue"`
	// Reachable is true while the bank answered the last request as asked;
	// false before the first answer and after a failure (no answer, 5xx,
	// 429, 401).
	Reachable bool `json:"reachable"`
	// LastSuccess is when the bank last answered a request as asked.
	LastSuccess time.Time `json:"last_success,omitzero"`
	// LastError is the latest failure, with its time.
	LastError   string    `json:"last_error,omitempty"`
	LastErrorAt time.Time `json:"last_error_at,omitzero"`
	// HoldUntil is the Retry-After of the bank's rate limit: no request
	// goes out before.
	HoldUntil     time.Time `json:"hold_until,omitzero"`
	LastHeartbeat time.Time `json:"last_heartbeat,omitzero"`
	// Alarms are the overdue top-ups, by receipt number.
	Alarms []Alarm `json:"alarms"`
	Counts Counts  `json:"counts"`
}

// Outbox is the delivery loop. Its methods are safe for concurrent use.
type Outbox struct {
	store    Store
	cols     CollectionStore
	bank     Bank
	clock    kiosk.Clock
	log      *slog.Logger
	opt      Options
	onChange func()
	rand     func() float64

	wake      chan struct{}
	closing   chan struct{}
	done      chan struct{}
	startOnce sync.Once
	closeOnce sync.Once

	mu        sync.Mutex
	started   bool
	runCtx    context.Context
	cancelRun context.CancelFunc
	status    Status
	resets    []string  // RetryNow's ids for the loop ("": all)
	loop      loopState // the loop's progress

	// Owned by the loop goroutine.
	fails         map[string]int // consecutive failures per top-up
	colFails      map[string]int // consecutive failures per collection
	polls         map[string]int // pending answers per top-up
	linkDown      bool           // the bank does not answer as asked: probe it
	release       bool           // release the back-offs at the next answer
	firstContact  bool           // no answer since start yet
	holdUntil     time.Time
	wakeups       []time.Time // next attempts the loop scheduled
	nextHeartbeat time.Time
	nextProbe     time.Time
	// queueHold: while the bank does not answer, the whole queue waits
	// with the request that failed, so a kiosk sends one request per
	// back-off, not one per top-up (each with its own timer) nor one per
	// top-up completed meanwhile. An answer to anything ends it.
	queueHold     time.Time
	storeRetryAt  time.Time
	storeErr      string
	bodies        map[string][]byte // stored bodies of top-ups not yet decided
	queue         kiosk.QueueStats
	queueKnown    bool
	queueReadAt   time.Time
	loggedQueue   kiosk.QueueStats
	queueLogged   bool
	queueLoggedAt time.Time
	downLogged    bool
	downLoggedAt  time.Time
	alarms        map[string]Alarm
	// alarmsDirty: an alarm was cleared and Status does not show it yet.
	alarmsDirty  bool
	warned       map[string]bool
	alarmCheckAt time.Time
	// stopCtx is Start's context: waitGate ends with it.
	stopCtx context.Context
	// holdLogged and holdOverLogged are the start of the last hold logged.
	holdLogged, holdOverLogged time.Time
}

// loopState is the loop's progress.
type loopState struct {
	waiting  bool
	sleep    time.Duration
	passes   int
	progress time.Time // the loop last waited or began a request
}

// New checks opts and builds an Outbox; Start runs it.
func New(opts Options) (*Outbox, error) {
	if opts.Store == nil || opts.Bank == nil {
		return nil, errors.New("outbox: a store and a bank are required")
	}
	if opts.BatchSize <= 0 || opts.BatchSize > MaxBatch {
		opts.BatchSize = DefaultBatchSize
	}
	def := func(d *time.Duration, v time.Duration) {
		if *d <= 0 {
			*d = v
		}
	}
	def(&opts.MinBackoff, DefaultMinBackoff)
	def(&opts.MaxBackoff, DefaultMaxBackoff)
	def(&opts.PollAfter, DefaultPollAfter)
	def(&opts.AlarmAfter, DefaultAlarmAfter)
	def(&opts.HeartbeatInterval, DefaultHeartbeatInterval)
	def(&opts.ProbeInterval, DefaultProbeInterval)
	def(&opts.CheckInterval, DefaultCheckInterval)
	def(&opts.FlushTimeout, DefaultFlushTimeout)
	def(&opts.MaxHold, DefaultMaxHold)
	if opts.MinBackoff > opts.MaxBackoff {
		opts.MinBackoff = opts.MaxBackoff
	}
	o := &Outbox{
		store:    opts.Store,
		cols:     opts.Collections,
		bank:     opts.Bank,
		clock:    opts.Clock,
		log:      opts.Log,
		opt:      opts,
		onChange: opts.OnChange,
		rand:     opts.Rand,
		wake:     make(chan struct{}, 1),
		closing:  make(chan struct{}),
		done:     make(chan struct{}),
		fails:    map[string]int{},
		colFails: map[string]int{},
		bodies:   map[string][]byte{},
		polls:    map[string]int{},
		// The last run's back-offs end at the first answer.
		release:      true,
		firstContact: true,
		alarms:       map[string]Alarm{},
		warned:       map[string]bool{},
	}
	o.status.Alarms = []Alarm{}
	if o.clock == nil {
		o.clock = kiosk.SystemClock{}
	}
	if o.log == nil {
		o.log = slog.New(slog.DiscardHandler)
	}
	if o.rand == nil {
		o.rand = rand.Float64
	}
	if o.onChange == nil {
		o.onChange = func() {}
	}
	return o, nil
}

// Start runs the loop until Close. Cancelling ctx also ends it, after the
// same bounded final flush; requests already under way are not cut short by
// ctx but by the flush bound, so an answer the bank already gave is recorded.
func (o *Outbox) Start(ctx context.Context) {
	o.startOnce.Do(func() {
		o.mu.Lock()
		o.runCtx, o.cancelRun = context.WithCancel(context.WithoutCancel(ctx))
		o.started = true
		o.mu.Unlock()
		go o.run(ctx)
	})
}

// Close delivers what is due now, for at most FlushTimeout (which also cuts
// short a request in flight), then stops the loop and waits for it.
func (o *Outbox) Close() error {
	o.closeOnce.Do(func() {
		o.mu.Lock()
		started, cancelRun := o.started, o.cancelRun
		o.mu.Unlock()
		close(o.closing)
		if !started {
			return
		}
		t := o.clock.NewTimer(o.opt.FlushTimeout)
		defer t.Stop()
		select {
		case <-o.done:
		case <-t.C():
			o.log.Warn("outbox: final flush cut short; what is left goes at the next start",
				"bound", o.opt.FlushTimeout.String())
			cancelRun()
			<-o.done
		}
	})
	return nil
}

// Wake makes the loop look at the ledger now: kioskd calls it when the flow
// completed a top-up.
func (o *Outbox) Wake() {
	select {
	case o.wake <- struct{}{}:
	default:
	}
}

// RetryNow makes top-ups due at once, for the console's `retry <id|all>`:
// with "all" (or "") every unsent and pending top-up, with an id that
// top-up (one in review goes back to unsent). It returns how many changed.
func (o *Outbox) RetryNow(ctx context.Context, id string) (int, error) {
	if id == "all" {
		id = ""
	}
	n, err := o.store.Retry(ctx, id, o.clock.Now())
	if err != nil {
		what := id
		if what == "" {
			what = "all"
		}
		return 0, fmt.Errorf("retry %s: %w", what, err)
	}
	o.mu.Lock()
	o.resets = append(o.resets, id)
	o.mu.Unlock()
	o.Wake()
	o.onChange()
	return n, nil
}

// Alive returns nil while the loop makes progress: it waits for work, or
// its current step began less than a few minutes ago. The supervisor's
// watchdog restarts a daemon whose loop hangs; a restart resumes from the
// ledger.
func (o *Outbox) Alive(ctx context.Context) error {
	select {
	case <-o.done:
		return errors.New("outbox: stopped")
	default:
	}
	o.mu.Lock()
	started, st := o.started, o.loop
	o.mu.Unlock()
	if !started {
		return errors.New("outbox: not started")
	}
	if st.waiting || st.progress.IsZero() {
		return nil
	}
	if d := o.clock.Now().Sub(st.progress); d > stallAfter {
		return fmt.Errorf("outbox: one step has taken %s", d.Round(time.Second))
	}
	return nil
}

// Status returns a snapshot of the outbox.
func (o *Outbox) Status() Status {
	o.mu.Lock()
	defer o.mu.Unlock()
	s := o.status
	s.Alarms = slices.Clone(s.Alarms)
	s.Counts.CreditedBy = maps.Clone(s.Counts.CreditedBy)
	s.Counts.RejectedBy = maps.Clone(s.Counts.RejectedBy)
	return s
}

func (o *Outbox) setStatus(f func(s *Status)) {
	o.mu.Lock()
	f(&o.status)
	o.mu.Unlock()
}
