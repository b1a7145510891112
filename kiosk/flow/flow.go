package flow

import (
	"context"
	"crypto/rand"
	"errors"
	"fmt"
	"log/slog"
	"slices"
	"sync"
	"sync/atomic"
	"time"

	"tolem/kiosk"
)

// Config is the flow's limits and timeouts. Zero fields take the defaults of
// SPEC §1.
type Config struct {
	// MaxAmount is the most one top-up may hold (default 200 000 ₸).
	MaxAmount kiosk.Money
	// PhonePrefixes are the accepted mobile prefixes (default
	// kiosk.DefaultPhonePrefixes).
	PhonePrefixes []int
	// OfflineMaxCount and OfflineMaxAmount stop cash-in while that many
	// top-ups, or that much money, wait unsent (defaults 500 and 5 000 000 ₸).
	OfflineMaxCount  int
	OfflineMaxAmount kiosk.Money
	// PhoneTimeout ends phone entry (and confirm, confirm_offline) after that
	// long without a key (60 s); InsertTimeout completes or ends insert_cash
	// (90 s); DoneTimeout leaves the receipt screen (10 s); LookupTimeout is
	// how long the bank has to answer a wallet lookup (5 s).
	PhoneTimeout, InsertTimeout, DoneTimeout, LookupTimeout time.Duration
	// RecoveryWait is how long to wait at start for the acceptor's power-up
	// report before recovering an interrupted session without it (2 min). It
	// must cover the driver's worst case from start to that report: a CCNET
	// unit found mid-bill settles for up to 30 s, then INITIALIZE may last
	// 40 s, after a reconnect back-off of up to 10 s. A report later still is
	// matched against the bills recovery left uncertain (Ledger.SettleLate).
	RecoveryWait time.Duration
	// SettleWait is how long completing waits for a bill the acceptor was
	// told to stack before it gives up waiting and leaves the session open
	// for recovery (30 s).
	SettleWait time.Duration
	// Lang is the language the kiosk returns to after each customer.
	Lang kiosk.Lang
	// ReceiptTimeout leaves receipt_status (15 s).
	ReceiptTimeout time.Duration
}

// Defaults of Config.
const (
	DefaultPhoneTimeout  = 60 * time.Second
	DefaultInsertTimeout = 90 * time.Second
	DefaultDoneTimeout   = 10 * time.Second
	DefaultLookupTimeout = 5 * time.Second
	DefaultRecoveryWait  = 2 * time.Minute
	DefaultSettleWait    = 30 * time.Second
	DefaultOfflineCount  = 500
)

// Default amounts of Config.
var (
	DefaultMaxAmount        = kiosk.Tenge(200_000)
	DefaultOfflineMaxAmount = kiosk.Tenge(5_000_000)
)

// Timings that are not worth a config key.
const (
	// noticeFor is how long a one-off message (bill refused, cash cannot be
	// returned) stays on the screen.
	noticeFor = 5 * time.Second
	// probeEvery is how often a failed ledger is tried again.
	probeEvery = 30 * time.Second
	// keyQueue bounds the keys waiting for the loop; a customer cannot
	// press faster than the loop drains, so a full queue means a stuck
	// keypad, whose presses are better dropped.
	keyQueue = 32
)

func (c Config) withDefaults() Config {
	if c.MaxAmount <= 0 {
		c.MaxAmount = DefaultMaxAmount
	}
	if len(c.PhonePrefixes) == 0 {
		c.PhonePrefixes = kiosk.DefaultPhonePrefixes
	}
	if c.OfflineMaxCount <= 0 {
		c.OfflineMaxCount = DefaultOfflineCount
	}
	if c.OfflineMaxAmount <= 0 {
		c.OfflineMaxAmount = DefaultOfflineMaxAmount
	}
	def := func(d *time.Duration, v time.Duration) {
		if *d <= 0 {
			*d = v
		}
	}
	def(&c.PhoneTimeout, DefaultPhoneTimeout)
	def(&c.InsertTimeout, DefaultInsertTimeout)
	def(&c.DoneTimeout, DefaultDoneTimeout)
	def(&c.LookupTimeout, DefaultLookupTimeout)
	def(&c.RecoveryWait, DefaultRecoveryWait)
	def(&c.SettleWait, DefaultSettleWait)
	def(&c.ReceiptTimeout, DefaultReceiptTimeout)
	return c
}

// Deps are the outside things the flow drives.
type Deps struct {
	Clock    kiosk.Clock
	Acceptor kiosk.Acceptor
	Ledger   kiosk.Ledger
	Wallets  kiosk.WalletLookup
	Display  kiosk.Display
	// Light is the bezel LED; nil when the kiosk has none.
	Light kiosk.Indicator
	// Receipts prints each committed top-up's receipt; nil for none (and
	// no code on the done screen).
	Receipts kiosk.Receipts
	// Log receives the flow's log; nil discards it.
	Log *slog.Logger
	// NewID makes session ids; nil makes random UUIDs.
	NewID func() string

	// Catalog is the bank's catalog as the kiosk holds it now; nil, or an
	// empty one, shows the wallet only.
	Catalog func() kiosk.Catalog
	// Accounts looks up a service's accounts; nil: the bank is away.
	Accounts kiosk.AccountLookup
	// Ping asks whether the bank is there, at confirm of a service
	// without a lookup; nil: it is.
	Ping func(ctx context.Context) error
	// Payments finds this kiosk's payments for receipt_status; nil: none.
	Payments kiosk.ReceiptStatus
}

// Flow is the customer state machine. Make it with New and run it with Run;
// every other method is safe from any goroutine.
type Flow struct {
	cfg Config
	d   Deps
	log *slog.Logger

	keys     chan kiosk.Key
	lookupC  chan lookupResult
	ctl      chan struct{}
	barrierC chan chan barrierInfo
	stopped  chan struct{}
	running  atomic.Bool

	// mu guards what other goroutines hand to the loop or read from it.
	mu         sync.Mutex
	conds      map[string]bool
	queueDirty bool
	endMaint   bool
	waiters    []*maintWaiter
	status     Status
	subs       map[int]chan kiosk.Screen
	nextSub    int

	// Everything below belongs to the Run goroutine.
	ctx       context.Context
	state     kiosk.State
	lang      kiosk.Lang
	reasons   map[string]string
	condsSeen map[string]bool
	maint     bool
	fault     kiosk.Fault

	digits  string // the number as typed in enter_phone
	digits2 string // the second entry of confirm_offline
	phone   kiosk.Phone
	offline bool
	wallet  kiosk.Wallet
	// The chosen service, the digits account typed, and what the bank said
	// of it (services.go).
	svc     kiosk.Service
	account string
	acct    kiosk.Account
	page    int
	bank    bankState
	okWait  bool
	// receipt_status: the number typed, and the payment found.
	receiptDigits  string
	receiptNo      int64
	receipt        *kiosk.ReceiptInfo
	receiptMissing bool
	notice         notice
	sess           *session
	pending        []*bill
	lastTop        kiosk.TopUp
	// lastCode is lastTop's verification code while its receipt is not
	// printed: the done screen shows it instead.
	lastCode string

	events     <-chan kiosk.AcceptorEvent
	acceptorOn bool
	enabledSet []kiosk.Money
	noRoom     bool // no denomination fits under the maximum any more

	stateT, probeT, noticeT, recoveryT kiosk.Timer

	lookupGen    uint64
	lookupCancel context.CancelFunc
	lookupDone   chan struct{}

	awaitPowerUp bool
	// lateReport: recovery at start ran without the acceptor's power-up
	// report; the first report that still comes settles what it left
	// uncertain.
	lateReport      bool
	recoveryPending bool
	// strays are bills the acceptor stacked with no session open whose
	// suspense record the ledger failed to take; the probe records them.
	strays []stray
	// stopping: ctx ended; the acceptor stays disabled while the last bill
	// settles.
	stopping       bool
	recoveryReport *kiosk.PowerUpReport
	readySeen      bool

	screen     kiosk.Screen
	shown      bool
	displayErr bool
}

// New makes a flow; it does nothing until Run.
func New(cfg Config, d Deps) *Flow {
	log := d.Log
	if log == nil {
		log = slog.New(slog.DiscardHandler)
	}
	if d.NewID == nil {
		d.NewID = randomID
	}
	cfg = cfg.withDefaults()
	return &Flow{
		cfg:       cfg,
		d:         d,
		log:       log,
		keys:      make(chan kiosk.Key, keyQueue),
		lookupC:   make(chan lookupResult, 4),
		ctl:       make(chan struct{}, 1),
		barrierC:  make(chan chan barrierInfo),
		stopped:   make(chan struct{}),
		conds:     map[string]bool{},
		subs:      map[int]chan kiosk.Screen{},
		reasons:   map[string]string{},
		condsSeen: map[string]bool{},
		lang:      cfg.Lang,
		svc:       kiosk.DefaultWallet(),
		status:    Status{State: kiosk.StateOutOfService, Lang: cfg.Lang, Reasons: []string{ReasonStarting}},
	}
}

// randomID makes a version 4 UUID, so that session and bill ids from two
// kiosks never collide in the bank's or the fleet's records.
func randomID() string {
	var b [16]byte
	_, _ = rand.Read(b[:])
	b[6] = b[6]&0x0f | 0x40
	b[8] = b[8]&0x3f | 0x80
	return fmt.Sprintf("%x-%x-%x-%x-%x", b[0:4], b[4:6], b[6:8], b[8:10], b[10:16])
}

// Run owns the state until ctx ends. It then disables the acceptor and, as
// PAY does, waits (up to SettleWait) for a bill told to stack to be
// reported, so that the ledger records where it went; then it returns nil.
// A session left open is completed by the next start's recovery. Events the
// acceptor reports after that are Drain's.
func (f *Flow) Run(ctx context.Context) error {
	if f.d.Clock == nil || f.d.Acceptor == nil || f.d.Ledger == nil || f.d.Wallets == nil || f.d.Display == nil {
		return errors.New("flow: Deps needs Clock, Acceptor, Ledger, Wallets and Display")
	}
	if !f.running.CompareAndSwap(false, true) {
		return errors.New("flow: Run may be called only once")
	}
	defer close(f.stopped)
	f.ctx = ctx
	f.start()
	var barriers []chan barrierInfo
	for {
		if len(barriers) > 0 && f.quiet() {
			info := barrierInfo{lookup: f.lookupDone}
			for _, b := range barriers {
				b <- info
			}
			barriers = nil
		}
		select {
		case <-ctx.Done():
			f.shutdown()
			return nil
		case k := <-f.keys:
			f.step(input{kind: inKey, key: k})
		case ev, ok := <-f.events:
			if !ok {
				f.events = nil
				f.step(input{kind: inEventsClosed})
				continue
			}
			f.step(input{kind: inEvent, ev: ev})
		case r := <-f.lookupC:
			f.step(input{kind: inLookup, lookup: r})
		case <-timerC(f.stateT):
			f.stateT = nil
			f.step(input{kind: inStateTimer})
		case <-timerC(f.noticeT):
			f.noticeT = nil
			f.step(input{kind: inNoticeTimer})
		case <-timerC(f.probeT):
			f.probeT = nil
			f.step(input{kind: inProbeTimer})
		case <-timerC(f.recoveryT):
			f.recoveryT = nil
			f.step(input{kind: inRecoveryTimer})
		case <-f.ctl:
			f.step(input{kind: inControl})
		case b := <-f.barrierC:
			barriers = append(barriers, b)
		}
	}
}

// quiet reports whether no input waits in any of the loop's channels.
func (f *Flow) quiet() bool {
	n := len(f.keys) + len(f.events) + len(f.lookupC) + len(f.ctl)
	for _, t := range []kiosk.Timer{f.stateT, f.noticeT, f.probeT, f.recoveryT} {
		if t != nil {
			n += len(t.C())
		}
	}
	return n == 0
}

// barrierInfo answers a barrier: what may still arrive from outside the
// loop's channels.
type barrierInfo struct {
	// lookup is closed once the wallet lookup in flight has delivered its
	// answer; nil when none is in flight.
	lookup <-chan struct{}
}

// barrier returns once the loop has handled every input queued before the
// call. Tests use it instead of sleeping.
func (f *Flow) barrier() (barrierInfo, bool) {
	reply := make(chan barrierInfo, 1)
	select {
	case f.barrierC <- reply:
	case <-f.stopped:
		return barrierInfo{}, false
	}
	select {
	case info := <-reply:
		return info, true
	case <-f.stopped:
		return barrierInfo{}, false
	}
}

func timerC(t kiosk.Timer) <-chan time.Time {
	if t == nil {
		return nil
	}
	return t.C()
}

// Key queues a key press. It never blocks: a press that finds the queue full
// is dropped and logged.
func (f *Flow) Key(k kiosk.Key) {
	select {
	case f.keys <- k:
	default:
		f.log.Warn("key dropped: the flow is not keeping up with the keypad", "key", string(k))
	}
}

// poke wakes the loop to look at what the other goroutines left under mu.
func (f *Flow) poke() {
	select {
	case f.ctl <- struct{}{}:
	default:
	}
}

// SetCondition raises or clears an outside condition that keeps the kiosk
// from taking cash ("door_open", "manual"…). While any is raised the kiosk is
// out of service; a customer in insert_cash has the session completed as on
// an acceptor fault.
func (f *Flow) SetCondition(name string, active bool) {
	f.mu.Lock()
	if active {
		f.conds[name] = true
	} else {
		delete(f.conds, name)
	}
	f.mu.Unlock()
	f.poke()
}

// ReceiptsChanged tells the flow that the printer's readiness changed, so
// that a confirm screen on show says at once whether a receipt will be
// printed.
func (f *Flow) ReceiptsChanged() { f.poke() }

// QueueChanged tells the flow that the unsent top-ups may have changed, so it
// re-checks the offline caps.
func (f *Flow) QueueChanged() {
	f.mu.Lock()
	f.queueDirty = true
	f.mu.Unlock()
	f.poke()
}

type maintWaiter struct {
	granted chan struct{}
	done    bool
}

// RequestMaintenance waits until no customer is mid-session, then puts the
// kiosk in maintenance (acceptor disabled). It returns ctx's error if ctx
// ends first, and the request is then withdrawn.
func (f *Flow) RequestMaintenance(ctx context.Context) error {
	w := &maintWaiter{granted: make(chan struct{})}
	f.mu.Lock()
	f.waiters = append(f.waiters, w)
	f.status.Maintenance = true
	f.mu.Unlock()
	f.poke()
	select {
	case <-w.granted:
		return nil
	case <-ctx.Done():
		f.mu.Lock()
		defer f.mu.Unlock()
		if w.done {
			return nil
		}
		f.waiters = slices.DeleteFunc(f.waiters, func(x *maintWaiter) bool { return x == w })
		f.status.Maintenance = f.status.State == kiosk.StateMaintenance || len(f.waiters) > 0
		return fmt.Errorf("waiting for the kiosk to be free for maintenance: %w", ctx.Err())
	}
}

// EndMaintenance leaves maintenance; the kiosk goes back to idle, or out of
// service while a reason remains.
func (f *Flow) EndMaintenance() {
	f.mu.Lock()
	f.endMaint = true
	f.mu.Unlock()
	f.poke()
}

// Subscribe returns every screen from now on, starting with the current one,
// and a function that ends the subscription. A subscriber that does not keep
// up loses the oldest screens, never the newest.
func (f *Flow) Subscribe() (<-chan kiosk.Screen, func()) {
	ch := make(chan kiosk.Screen, 16)
	f.mu.Lock()
	id := f.nextSub
	f.nextSub++
	f.subs[id] = ch
	if f.status.Screen != (kiosk.Screen{}) {
		ch <- f.status.Screen
	}
	f.mu.Unlock()
	var once sync.Once
	return ch, func() {
		once.Do(func() {
			f.mu.Lock()
			defer f.mu.Unlock()
			if c, ok := f.subs[id]; ok {
				delete(f.subs, id)
				close(c)
			}
		})
	}
}

// Status returns a snapshot of the flow.
func (f *Flow) Status() Status {
	f.mu.Lock()
	defer f.mu.Unlock()
	return f.status.clone()
}

// Alive returns nil once the loop has handled every input queued before the
// call: proof, for the supervisor's watchdog, that the flow is not hung. It
// fails when ctx ends first or the loop has stopped.
func (f *Flow) Alive(ctx context.Context) error {
	reply := make(chan barrierInfo, 1)
	select {
	case f.barrierC <- reply:
	case <-f.stopped:
		return errors.New("flow: stopped")
	case <-ctx.Done():
		return fmt.Errorf("flow: not answering: %w", ctx.Err())
	}
	select {
	case <-reply:
		return nil
	case <-f.stopped:
		return errors.New("flow: stopped")
	case <-ctx.Done():
		return fmt.Errorf("flow: not answering: %w", ctx.Err())
	}
}
