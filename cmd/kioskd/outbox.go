package main

import (
	"context"
	"encoding/json"
	"errors"
	"fmt"
	"io"
	"log/slog"
	"os"
	"sync"
	"time"

	"tolem/kiosk"
	"tolem/kiosk/config"
	"tolem/kiosk/console"
	"tolem/kiosk/ledger"
	"tolem/sync/bankapi"
	"tolem/sync/bankapi/banksim"
	"tolem/sync/outbox"
)

// outboxView is what the technician's doors read of the delivery loop.
type outboxView interface {
	// Status is the queue by sync state with its oldest top-up, whether the
	// bank answers, its last success and last error, the overdue alarms.
	Status() outbox.Status
	// ClockOffset is the bank's clock minus the kiosk's, learned from
	// X-Bank-Time: a Raspberry Pi has no real-time clock.
	ClockOffset() time.Duration
	// RetryNow makes one top-up (its id, one in review included) or every
	// unsent and pending one ("all") due at once; it returns how many.
	RetryNow(ctx context.Context, id string) (int, error)
	// Wake makes the loop look at the ledger now.
	Wake()
}

// Environment variables read by `kioskd --sim` only: they let a test or a
// demo put the bank sandbox on a bad day, and make the outbox's timers short
// enough for that day to pass in seconds.
const (
	// envSimFaults is a JSON object of banksim.Faults fields
	// ({"fail_rate":0.2,"credit_delay":"1s"}); fields not named keep the
	// sim's defaults.
	envSimFaults = "TOLEM_SIM_FAULTS"
	// envSimOutbox is a JSON object of outbox settings, see simTimings.
	envSimOutbox = "TOLEM_SIM_OUTBOX"
)

// simDefaultFaults make the --sim demo show a top-up go unsent → pending →
// credited: every third, from the first, is credited 20 s late.
var simDefaultFaults = banksim.Faults{PendingEvery: 3, CreditDelay: 20 * time.Second}

// simTimings are the outbox settings envSimOutbox may change.
type simTimings struct {
	BatchSize         int          `json:"batch_size"`
	MinBackoff        jsonDuration `json:"min_backoff"`
	MaxBackoff        jsonDuration `json:"max_backoff"`
	PollAfter         jsonDuration `json:"poll_after"`
	ProbeInterval     jsonDuration `json:"probe_interval"`
	CheckInterval     jsonDuration `json:"check_interval"`
	HeartbeatInterval jsonDuration `json:"heartbeat_interval"`
	AlarmAfter        jsonDuration `json:"alarm_after"`
}

type jsonDuration time.Duration

func (d *jsonDuration) UnmarshalJSON(b []byte) error {
	var s string
	if err := json.Unmarshal(b, &s); err != nil {
		return errors.New(`a duration is a string like "250ms"`)
	}
	v, err := time.ParseDuration(s)
	if err != nil {
		return err
	}
	*d = jsonDuration(v)
	return nil
}

// outboxDeps is what the outbox is built from; tests fill it without a
// whole daemon.
type outboxDeps struct {
	sync     config.Sync
	ledger   *ledger.Ledger // nil: the ledger is unusable (ledgerErr)
	ledgerEr error
	bank     *bankapi.Client
	log      *slog.Logger
	clock    kiosk.Clock
	onChange func()
	describe func(ctx context.Context, hb *outbox.Heartbeat)
	tune     func(o *outbox.Options)
}

func newOutbox(d outboxDeps) (*outbox.Outbox, error) {
	opts := outbox.Options{
		Bank:              bankAdapter{d.bank},
		Clock:             d.clock,
		Log:               d.log,
		BatchSize:         d.sync.BatchSize,
		MinBackoff:        d.sync.MinBackoff,
		MaxBackoff:        d.sync.MaxBackoff,
		PollAfter:         d.sync.PollAfter,
		AlarmAfter:        d.sync.AlarmAfter,
		HeartbeatInterval: d.sync.HeartbeatInterval,
		OnChange:          d.onChange,
		Describe:          d.describe,
	}
	if d.ledger != nil {
		opts.Store = d.ledger
		opts.Collections = collectionStore{d.ledger}
	} else {
		// The heartbeat still tells the fleet that this kiosk is broken.
		opts.Store = brokenStore{d.ledgerEr}
	}
	if d.tune != nil {
		d.tune(&opts)
	}
	return outbox.New(opts)
}

// outboxRunner is the running outbox with the watcher that wakes it when the
// flow completes a top-up.
type outboxRunner struct {
	ob        *outbox.Outbox
	bank      *bankapi.Client
	unsub     func()
	watchDone chan struct{}
	closeOnce sync.Once
}

func (r *outboxRunner) Status() outbox.Status      { return r.ob.Status() }
func (r *outboxRunner) ClockOffset() time.Duration { return r.bank.Offset() }
func (r *outboxRunner) Wake()                      { r.ob.Wake() }
func (r *outboxRunner) RetryNow(ctx context.Context, id string) (int, error) {
	return r.ob.RetryNow(ctx, id)
}

// Close stops the watcher, then makes the outbox's bounded final flush.
func (r *outboxRunner) Close() error {
	r.closeOnce.Do(func() {
		r.unsub()
		<-r.watchDone
		r.ob.Close()
	})
	return nil
}

// startOutbox starts the delivery of top-ups and collections to the bank and
// the heartbeat. In --sim it first puts the sandbox's faults in force.
func startOutbox(ctx context.Context, w *wiring) (io.Closer, error) {
	log := w.log.With("component", "outbox")
	var tune func(*outbox.Options)
	if w.sim && w.banksim != nil {
		f, t, err := simOutboxEnv(os.Getenv(envSimFaults), os.Getenv(envSimOutbox))
		if err != nil {
			return nil, err
		}
		if err := w.banksim.SetFaults(f); err != nil {
			return nil, fmt.Errorf("%s: %w", envSimFaults, err)
		}
		log.Info("bank sandbox faults", "fail_rate", f.FailRate, "pending_rate", f.PendingRate,
			"pending_every", f.PendingEvery,
			"credit_delay", f.CreditDelay.String(), "drop_rate", f.DropRate, "rate_limit", f.RateLimit)
		tune = t
	}
	gate := &outbox.Gate{}
	w.gate = gate
	ob, err := newOutbox(outboxDeps{
		sync:     w.cfg.Sync,
		ledger:   w.ledger,
		ledgerEr: w.ledgerErr,
		bank:     w.bank,
		log:      log,
		clock:    kiosk.SystemClock{},
		onChange: w.flow.QueueChanged,
		describe: func(ctx context.Context, hb *outbox.Heartbeat) { describeKiosk(ctx, w, hb) },
		tune: func(o *outbox.Options) {
			o.Gate = gate
			if tune != nil {
				tune(o)
			}
		},
	})
	if err != nil {
		return nil, err
	}
	screens, unsub := w.flow.Subscribe()
	r := &outboxRunner{ob: ob, bank: w.bank, unsub: unsub, watchDone: make(chan struct{})}
	go func() {
		defer close(r.watchDone)
		// A screen change is the cheapest sign of a completed top-up; the
		// outbox's own ledger check catches anything this misses.
		last := ""
		for s := range screens {
			holdForPayment(gate, s.State, time.Now())
			if t := w.flow.Status().LastTopUp; t != nil && t.ID != last {
				last = t.ID
				ob.Wake()
			}
		}
	}()
	ob.Start(ctx)
	w.outbox = r
	return r, nil
}

// holdForPayment holds the outbox back while the flow is in a payment, from
// its first key to its completion, so that the ledger writes a customer
// waits on (the escrow record with a bill held, the completion) never queue
// behind the outbox's. The done screen, the receipt lookup and the resting
// states let it run: nothing the customer waits on is written there, and the
// top-up just completed goes to the bank at once.
func holdForPayment(g *outbox.Gate, s kiosk.State, now time.Time) {
	if s.InSession() && s != kiosk.StateDone && s != kiosk.StateEnterReceipt && s != kiosk.StateReceiptStatus {
		g.Hold(now)
	} else {
		g.Release()
	}
}

// simOutboxEnv reads the sim's environment: the sandbox's faults on top of
// simDefaultFaults, and shorter outbox timings.
func simOutboxEnv(faults, timings string) (banksim.Faults, func(*outbox.Options), error) {
	f := simDefaultFaults
	if faults != "" {
		if err := json.Unmarshal([]byte(faults), &f); err != nil {
			return f, nil, fmt.Errorf("%s is not a JSON object of sandbox faults: %w", envSimFaults, err)
		}
		// A pending_rate given alone sets the pending share by itself
		// ("pending_rate":0 is no pending top-up at all).
		var named map[string]json.RawMessage
		json.Unmarshal([]byte(faults), &named)
		if _, rate := named["pending_rate"]; rate {
			if _, every := named["pending_every"]; !every {
				f.PendingEvery = 0
			}
		}
	}
	if timings == "" {
		return f, nil, nil
	}
	var t simTimings
	if err := json.Unmarshal([]byte(timings), &t); err != nil {
		return f, nil, fmt.Errorf("%s is not a JSON object of outbox timings: %w", envSimOutbox, err)
	}
	return f, func(o *outbox.Options) {
		set := func(dst *time.Duration, v jsonDuration) {
			if v > 0 {
				*dst = time.Duration(v)
			}
		}
		set(&o.MinBackoff, t.MinBackoff)
		set(&o.MaxBackoff, t.MaxBackoff)
		set(&o.PollAfter, t.PollAfter)
		set(&o.ProbeInterval, t.ProbeInterval)
		set(&o.CheckInterval, t.CheckInterval)
		set(&o.HeartbeatInterval, t.HeartbeatInterval)
		set(&o.AlarmAfter, t.AlarmAfter)
		if t.BatchSize > 0 {
			o.BatchSize = t.BatchSize
		}
	}, nil
}

// describeKiosk fills the heartbeat's view of the kiosk beyond the queue.
func describeKiosk(ctx context.Context, w *wiring, hb *outbox.Heartbeat) {
	hb.State = w.flow.Status().State.String()
	hb.Version = version
	hb.Acceptor = w.acceptor.Info()
	hb.Cassette.Capacity = w.cfg.Acceptor.CassetteCapacity
	if w.doorAlarm.Load() {
		hb.Alarms = append(hb.Alarms, "door_open_unattended")
	}
	if free, total, err := console.DiskSpace(w.cfg.DataDir); err == nil && console.DiskNearlyFull(free, total) {
		hb.Alarms = append(hb.Alarms, "disk_nearly_full")
	}
	if w.ledger != nil && w.ledger.Damaged() != nil {
		hb.Alarms = append(hb.Alarms, conditionLedgerDamaged)
	}
	if j, ok := w.clock.Last(); ok {
		hb.ClockJump = &outbox.ClockJump{From: j.From, To: j.To}
	}
	if w.catalog != nil {
		hb.Catalog = w.catalog.Get().Version
	}
	hb.Alarms = append(hb.Alarms, printerAlarms(w)...)
	if w.ledger == nil {
		hb.Alarms = append(hb.Alarms, "ledger_unusable")
		return
	}
	if p, err := w.ledger.CurrentPeriod(ctx); err == nil {
		hb.Cassette.Count, hb.Cassette.Amount = p.Count, p.Amount
		hb.Services = p.Services
	}
	if h, err := w.ledger.ChainHead(ctx); err == nil {
		hb.Chain = &h
	}
}

// bankAdapter is the bank API client as the outbox's Bank: wire bodies, and
// errors classified into what the outbox does next.
type bankAdapter struct{ c *bankapi.Client }

var _ outbox.Bank = bankAdapter{}

func (b bankAdapter) EncodeTopUp(t kiosk.TopUp) ([]byte, error) {
	return bankapi.BodyFromTopUp(t).Marshal()
}

func (b bankAdapter) EncodeCollection(c outbox.Collection) ([]byte, error) {
	return bankapi.CollectionBody{
		ID: c.ID, CassetteID: c.Seal, OpenedAt: c.OpenedAt, ClosedAt: c.ClosedAt,
		Bills: c.Bills, Amount: c.Amount, TopUps: c.TopUps,
		FirstReceiptNo: c.FirstReceipt, LastReceiptNo: c.LastReceipt, Chain: c.Chain,
	}.Marshal()
}

func (b bankAdapter) SubmitTopUp(ctx context.Context, id string, body []byte) (outbox.Answer, error) {
	r, err := b.c.SubmitTopUp(ctx, id, body)
	if err != nil {
		return outbox.Answer{}, classifyBank(err)
	}
	return answerOf(r.Status), nil
}

func (b bankAdapter) SubmitBatch(ctx context.Context, ids []string, bodies [][]byte) ([]outbox.ItemAnswer, error) {
	rs, err := b.c.SubmitBatch(ctx, bodies)
	if err != nil {
		return nil, classifyBank(err)
	}
	out := make([]outbox.ItemAnswer, len(rs))
	for i, r := range rs {
		out[i] = outbox.ItemAnswer{ID: r.ID}
		if r.Err != nil {
			out[i].Err = classifyBank(r.Err)
		} else {
			out[i].Answer = answerOf(r.Status)
		}
	}
	return out, nil
}

func (b bankAdapter) TopUpStatus(ctx context.Context, id string) (outbox.Answer, error) {
	st, err := b.c.TopUpStatus(ctx, id)
	if err != nil {
		return outbox.Answer{}, classifyBank(err)
	}
	return answerOf(st), nil
}

func (b bankAdapter) PostCollection(ctx context.Context, id string, body []byte) error {
	_, err := b.c.PostCollection(ctx, id, body)
	return classifyBank(err)
}

func (b bankAdapter) Heartbeat(ctx context.Context, hb outbox.Heartbeat) error {
	return classifyBank(b.c.Heartbeat(ctx, bankapi.Heartbeat{
		State:     hb.State,
		Version:   hb.Version,
		Acceptor:  hb.Acceptor,
		Cassette:  bankapi.Cassette{Count: hb.Cassette.Count, Amount: hb.Cassette.Amount, Capacity: hb.Cassette.Capacity},
		Queue:     bankapi.HeartbeatQueue{Unsent: hb.Queue.Unsent, Pending: hb.Queue.Pending, OldestAt: hb.Queue.OldestAt},
		Alarms:    hb.Alarms,
		Chain:     hb.Chain,
		ClockJump: clockJumpWire(hb.ClockJump),
		Catalog:   hb.Catalog,
		Services:  hb.Services,
	}))
}

// clockJumpWire is the heartbeat's optional clock_jump.
func clockJumpWire(j *outbox.ClockJump) *bankapi.ClockJump {
	if j == nil {
		return nil
	}
	return bankapi.NewClockJump(j.From, j.To)
}

func (b bankAdapter) Ping(ctx context.Context) error {
	_, err := b.c.Ping(ctx)
	return classifyBank(err)
}

func answerOf(st bankapi.TopUpStatus) outbox.Answer {
	return outbox.Answer{State: st.Status.Sync(), Reason: st.Reason}
}

// classifyBank maps the client's errors to what the outbox does: 409/422 to
// review, a status 404 to "submit again", everything else (5xx, 429, 401,
// no answer, garbage, and answers no retry should meet such as a 404 from a
// wrong bank.url) to a retry, since a kiosk never drops a top-up. A 429 is
// the terminal's rate limit: its Retry-After holds every request.
func classifyBank(err error) error {
	if err == nil {
		return nil
	}
	e := &outbox.Error{Kind: outbox.KindRetry, RetryAfter: bankapi.RetryAfter(err), Err: err}
	switch {
	case errors.Is(err, bankapi.ErrUnknownTopUp):
		e.Kind = outbox.KindUnknown
	case bankapi.Review(err):
		e.Kind = outbox.KindReview
	}
	var he *bankapi.HTTPError
	if errors.As(err, &he) {
		e.Note = he.Error()
		e.Throttled = he.Code == 429
	}
	return e
}

// collectionStore adapts the ledger's collections to the outbox's.
type collectionStore struct{ l *ledger.Ledger }

func (s collectionStore) DueCollections(ctx context.Context, now time.Time, limit int) ([]outbox.Collection, error) {
	cs, err := s.l.DueCollections(ctx, now, limit)
	if err != nil {
		return nil, err
	}
	out := make([]outbox.Collection, len(cs))
	for i, c := range cs {
		out[i] = outbox.Collection{
			ID: c.ID, Seal: c.Seal, OpenedAt: c.Period.OpenedAt, ClosedAt: c.Period.ClosedAt,
			Bills: c.Period.Bills, Amount: c.Period.Amount, TopUps: c.Period.TopUps,
			FirstReceipt: c.Period.FirstReceipt, LastReceipt: c.Period.LastReceipt,
		}
		if h, err := s.l.CollectionChainHead(ctx, c.ID); err == nil {
			out[i].Chain = &h
		}
	}
	return out, nil
}

func (s collectionStore) SetCollectionBody(ctx context.Context, id string, body []byte) ([]byte, error) {
	return s.l.SetCollectionBody(ctx, id, body)
}

func (s collectionStore) UpdateCollectionSync(ctx context.Context, id string, state outbox.CollectionState, note string, next, at time.Time) error {
	return s.l.UpdateCollectionSync(ctx, id, ledger.CollectionSync(state), note, next, at)
}

// brokenStore stands in for a ledger that could not be opened: the outbox
// then sends only heartbeats, which tell the fleet.
type brokenStore struct{ err error }

func (b brokenStore) fail() error {
	return fmt.Errorf("ledger unusable (see the start-up log): %w", b.err)
}

func (b brokenStore) DueTopUps(context.Context, time.Time, int) ([]kiosk.TopUp, error) {
	return nil, b.fail()
}
func (b brokenStore) SetBody(context.Context, string, []byte) ([]byte, error) {
	return nil, b.fail()
}
func (b brokenStore) UpdateSync(context.Context, string, kiosk.SyncState, string, time.Time, time.Time) error {
	return b.fail()
}
func (b brokenStore) TopUpsBySync(context.Context, ...kiosk.SyncState) ([]kiosk.TopUp, error) {
	return nil, b.fail()
}
func (b brokenStore) Queue(context.Context) (kiosk.QueueStats, error) {
	return kiosk.QueueStats{}, b.fail()
}
func (b brokenStore) Retry(context.Context, string, time.Time) (int, error) { return 0, b.fail() }

// nopCloser is an io.Closer with nothing to close.
type nopCloser struct{}

func (nopCloser) Close() error { return nil }

// Alive is the outbox's liveness for the supervisor's watchdog.
func (r *outboxRunner) Alive(ctx context.Context) error { return r.ob.Alive(ctx) }
