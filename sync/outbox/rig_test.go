package outbox

import (
	"bytes"
	"context"
	"encoding/json"
	"errors"
	"fmt"
	"log/slog"
	"strings"
	"sync"
	"testing"
	"time"

	"tolem/kiosk"
	"tolem/kiosk/kiosktest"
	"tolem/kiosk/ledger"
	"tolem/kiosk/ledger/ledgertest"
)

// The rig runs the real loop on a real ledger in a temporary directory, a
// fake bank scripted per test, and a fake clock the test steps only while the
// loop waits, so that every back-off, poll and alarm is exact and nothing
// sleeps.

const waitLimit = 30 * time.Second

type call struct {
	op   string // submit, batch, status, collection, heartbeat, ping
	ids  []string
	at   time.Time
	body [][]byte
}

// fakeBank answers as the test scripts it. n counts the calls of that kind
// for the id, from 1.
type fakeBank struct {
	clock *kiosktest.FakeClock

	mu         sync.Mutex
	calls      []call
	counts     map[string]int // op+id → calls
	inflight   map[string]int
	maxFlight  int
	heartbeats []Heartbeat

	submit     func(id string, n int) (Answer, error)
	batch      func(ids []string) error // error for the batch as a whole
	status     func(id string, n int) (Answer, error)
	ping       func() error
	heartbeat  func() error
	collection func(id string, n int) error
	// block, when set, holds every submit until its context ends.
	block chan struct{}
}

func newFakeBank(c *kiosktest.FakeClock) *fakeBank {
	return &fakeBank{clock: c, counts: map[string]int{}, inflight: map[string]int{}}
}

func (b *fakeBank) record(op string, ids []string, bodies [][]byte) []int {
	b.mu.Lock()
	defer b.mu.Unlock()
	b.calls = append(b.calls, call{op: op, ids: ids, at: b.clock.Now(), body: bodies})
	ns := make([]int, len(ids))
	for i, id := range ids {
		key := op + " " + id
		if op == "batch" {
			key = "submit " + id
		}
		b.counts[key]++
		ns[i] = b.counts[key]
		b.inflight[id]++
		b.maxFlight = max(b.maxFlight, b.inflight[id])
	}
	return ns
}

func (b *fakeBank) done(ids []string) {
	b.mu.Lock()
	defer b.mu.Unlock()
	for _, id := range ids {
		b.inflight[id]--
	}
}

func (b *fakeBank) EncodeTopUp(t kiosk.TopUp) ([]byte, error) {
	return json.Marshal(struct {
		ID     string      `json:"id"`
		No     int64       `json:"receipt_no"`
		Amount kiosk.Money `json:"amount"`
		At     time.Time   `json:"completed_at"`
	}{t.ID, t.ReceiptNo, t.Amount, t.CompletedAt})
}

func (b *fakeBank) EncodeCollection(c Collection) ([]byte, error) {
	return json.Marshal(struct {
		ID     string      `json:"id"`
		Seal   string      `json:"seal"`
		Amount kiosk.Money `json:"amount"`
	}{c.ID, c.Seal, c.Amount})
}

func credited() (Answer, error) { return Answer{State: kiosk.SyncCredited}, nil }

func (b *fakeBank) answer(id string, n int) (Answer, error) {
	if b.submit == nil {
		return credited()
	}
	return b.submit(id, n)
}

func (b *fakeBank) SubmitTopUp(ctx context.Context, id string, body []byte) (Answer, error) {
	n := b.record("submit", []string{id}, [][]byte{body})[0]
	defer b.done([]string{id})
	b.mu.Lock()
	block := b.block
	b.mu.Unlock()
	if block != nil {
		select {
		case block <- struct{}{}:
		default:
		}
		<-ctx.Done()
		return Answer{}, &Error{Kind: KindRetry, Err: ctx.Err()}
	}
	return b.answer(id, n)
}

func (b *fakeBank) SubmitBatch(ctx context.Context, ids []string, bodies [][]byte) ([]ItemAnswer, error) {
	ns := b.record("batch", ids, bodies)
	defer b.done(ids)
	if b.batch != nil {
		if err := b.batch(ids); err != nil {
			return nil, err
		}
	}
	out := make([]ItemAnswer, len(ids))
	for i, id := range ids {
		a, err := b.answer(id, ns[i])
		out[i] = ItemAnswer{ID: id, Answer: a, Err: err}
	}
	return out, nil
}

func (b *fakeBank) TopUpStatus(ctx context.Context, id string) (Answer, error) {
	n := b.record("status", []string{id}, nil)[0]
	defer b.done([]string{id})
	if b.status == nil {
		return credited()
	}
	return b.status(id, n)
}

func (b *fakeBank) PostCollection(ctx context.Context, id string, body []byte) error {
	n := b.record("collection", []string{id}, [][]byte{body})[0]
	defer b.done([]string{id})
	if b.collection == nil {
		return nil
	}
	return b.collection(id, n)
}

func (b *fakeBank) Heartbeat(ctx context.Context, hb Heartbeat) error {
	b.record("heartbeat", nil, nil)
	b.mu.Lock()
	b.heartbeats = append(b.heartbeats, hb)
	b.mu.Unlock()
	if b.heartbeat != nil {
		return b.heartbeat()
	}
	return nil
}

func (b *fakeBank) Ping(ctx context.Context) error {
	b.record("ping", nil, nil)
	if b.ping != nil {
		return b.ping()
	}
	return nil
}

// callsOf returns the calls of op (all but heartbeats and pings when op is "").
func (b *fakeBank) callsOf(op string) []call {
	b.mu.Lock()
	defer b.mu.Unlock()
	var out []call
	for _, c := range b.calls {
		if op == c.op || op == "" && c.op != "heartbeat" && c.op != "ping" {
			out = append(out, c)
		}
	}
	return out
}

// bodiesOf returns every body sent for id, in order.
func (b *fakeBank) bodiesOf(id string) [][]byte {
	b.mu.Lock()
	defer b.mu.Unlock()
	var out [][]byte
	for _, c := range b.calls {
		for i, cid := range c.ids {
			if cid == id && c.body != nil {
				out = append(out, c.body[i])
			}
		}
	}
	return out
}

var (
	errDown = &Error{Kind: KindRetry, Err: errors.New("bank unreachable: connection refused")}
	err503  = &Error{Kind: KindRetry, Err: errors.New("bank answered 503")}
)

type rig struct {
	t       *testing.T
	clock   *kiosktest.FakeClock
	ledger  *ledger.Ledger
	bank    *fakeBank
	ob      *Outbox
	logs    *logBuffer
	changes int
	mu      sync.Mutex
	nextSeq int
}

type logBuffer struct {
	mu sync.Mutex
	b  bytes.Buffer
}

func (l *logBuffer) Write(p []byte) (int, error) {
	l.mu.Lock()
	defer l.mu.Unlock()
	return l.b.Write(p)
}

func (l *logBuffer) count(s string) int {
	l.mu.Lock()
	defer l.mu.Unlock()
	return strings.Count(l.b.String(), s)
}

func newRig(t *testing.T, tune func(o *Options)) *rig {
	t.Helper()
	clock := kiosktest.NewFakeClock(time.Time{})
	r := &rig{
		t:      t,
		clock:  clock,
		ledger: ledgertest.MustOpenOptions(t, ledger.Options{Clock: clock}),
		bank:   newFakeBank(clock),
		logs:   &logBuffer{},
	}
	return r.withOutbox(tune)
}

// withOutbox builds (another) outbox on the rig's ledger and bank.
func (r *rig) withOutbox(tune func(o *Options)) *rig {
	r.t.Helper()
	opts := Options{
		Store:       r.ledger,
		Collections: ledgerCollections{r.ledger},
		Bank:        r.bank,
		Clock:       r.clock,
		Log:         slog.New(slog.NewTextHandler(r.logs, &slog.HandlerOptions{Level: slog.LevelDebug})),
		MinBackoff:  time.Second,
		MaxBackoff:  5 * time.Minute,
		// The top of every jitter range, so that waits are exact.
		Rand:     func() float64 { return 1 },
		OnChange: func() { r.mu.Lock(); r.changes++; r.mu.Unlock() },
	}
	if tune != nil {
		tune(&opts)
	}
	ob, err := New(opts)
	if err != nil {
		r.t.Fatal(err)
	}
	r.ob = ob
	r.t.Cleanup(func() { ob.Close() })
	return r
}

func (r *rig) start() *rig {
	r.ob.Start(context.Background())
	r.quiet()
	return r
}

// quiet waits until the loop waits with nothing due, and returns its pass
// count.
func (r *rig) quiet() int {
	r.t.Helper()
	deadline := time.Now().Add(waitLimit)
	for {
		r.ob.mu.Lock()
		st := r.ob.loop
		r.ob.mu.Unlock()
		if st.waiting && st.sleep > 0 && len(r.ob.wake) == 0 {
			return st.passes
		}
		if time.Now().After(deadline) {
			r.t.Fatalf("the outbox loop never settled (waiting %v, sleep %s)", st.waiting, st.sleep)
		}
		time.Sleep(200 * time.Microsecond)
	}
}

// step moves the fake clock by d and lets the loop do what fell due.
func (r *rig) step(d time.Duration) {
	r.t.Helper()
	r.act(func() { r.clock.Advance(d) })
}

// act does f while the loop waits, wakes the loop and waits until it has
// done what f made due.
func (r *rig) act(f func()) {
	r.t.Helper()
	p := r.quiet()
	f()
	r.ob.Wake()
	deadline := time.Now().Add(waitLimit)
	for {
		r.ob.mu.Lock()
		passes := r.ob.loop.passes
		r.ob.mu.Unlock()
		if passes > p {
			break
		}
		if time.Now().After(deadline) {
			r.t.Fatal("the outbox loop did not wake")
		}
		time.Sleep(200 * time.Microsecond)
	}
	r.quiet()
}

// stepTo steps the clock to t (no-op if t has passed).
func (r *rig) stepTo(t time.Time) {
	r.t.Helper()
	if d := t.Sub(r.clock.Now()); d > 0 {
		r.step(d)
	} else {
		r.step(0)
	}
}

// topUp completes a top-up of amount in the ledger now.
func (r *rig) topUp(amount kiosk.Money) kiosk.TopUp {
	r.t.Helper()
	r.nextSeq++
	return makeTopUp(r.t, r.ledger, fmt.Sprintf("s%04d", r.nextSeq), amount, r.clock.Now())
}

func makeTopUp(t testing.TB, l *ledger.Ledger, sid string, amount kiosk.Money, at time.Time) kiosk.TopUp {
	t.Helper()
	ctx := context.Background()
	if err := l.OpenSession(ctx, kiosk.Session{ID: sid, Phone: "+77011234567", OpenedAt: at}); err != nil {
		t.Fatal(err)
	}
	b := kiosk.BillRecord{SessionID: sid, Seq: 1, Value: amount, At: at}
	if err := l.RecordEscrow(ctx, b); err != nil {
		t.Fatal(err)
	}
	if err := l.MarkStacked(ctx, kiosk.BillID(sid, 1), at); err != nil {
		t.Fatal(err)
	}
	tu, err := l.CompleteTopUp(ctx, sid, at)
	if err != nil {
		t.Fatal(err)
	}
	return tu
}

func (r *rig) sync(id string) kiosk.SyncState {
	r.t.Helper()
	tu, _, err := r.ledger.TopUpByID(context.Background(), id)
	if err != nil {
		r.t.Fatal(err)
	}
	return tu.Sync
}

func (r *rig) delivery(id string) ledger.Delivery {
	r.t.Helper()
	d, err := r.ledger.Delivery(context.Background(), id)
	if err != nil {
		r.t.Fatal(err)
	}
	return d
}

func (r *rig) wantSync(id string, want kiosk.SyncState) {
	r.t.Helper()
	if got := r.sync(id); got != want {
		r.t.Fatalf("top-up %s is %s, want %s (delivery %+v)", id, got, want, r.delivery(id))
	}
}

func (r *rig) changeCount() int {
	r.mu.Lock()
	defer r.mu.Unlock()
	return r.changes
}

// ledgerCollections adapts the ledger's collections, as kioskd does.
type ledgerCollections struct{ l *ledger.Ledger }

func (s ledgerCollections) DueCollections(ctx context.Context, now time.Time, limit int) ([]Collection, error) {
	cs, err := s.l.DueCollections(ctx, now, limit)
	if err != nil {
		return nil, err
	}
	out := make([]Collection, len(cs))
	for i, c := range cs {
		out[i] = Collection{ID: c.ID, Seal: c.Seal, OpenedAt: c.Period.OpenedAt, ClosedAt: c.Period.ClosedAt,
			Bills: c.Period.Bills, Amount: c.Period.Amount}
	}
	return out, nil
}

func (s ledgerCollections) SetCollectionBody(ctx context.Context, id string, body []byte) ([]byte, error) {
	return s.l.SetCollectionBody(ctx, id, body)
}

func (s ledgerCollections) UpdateCollectionSync(ctx context.Context, id string, st CollectionState, note string, next, at time.Time) error {
	return s.l.UpdateCollectionSync(ctx, id, ledger.CollectionSync(st), note, next, at)
}
