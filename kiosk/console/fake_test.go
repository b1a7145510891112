package console

import (
	"context"
	"encoding/json"
	"fmt"
	"maps"
	"slices"
	"sync"
	"sync/atomic"
	"testing"
	"time"

	"tolem/kiosk"
)

// fakeBackend is a Backend in memory. Its settings outlive a Console, so a
// new Console over the same fake is a restarted kioskd over the same ledger.
type fakeBackend struct {
	mu     sync.Mutex
	svc    Service
	acc    kiosk.AcceptorInfo
	cas    Cassette
	queue  Queue
	bank   BankStatus
	sys    System
	topups map[int64]TopUpDetail
	review Review
	// recovered are top-ups completed at start-up, newest first.
	recovered []kiosk.TopUp
	// reconciles records each Reconcile call; reconcile, when set, is its
	// answer.
	reconciles []string
	reconcile  *Reconciliation
	settings   map[string]string
	audit      []kiosk.AuditEntry
	noLedger   bool
	retried    []string
	manual     bool
	// customerLeft is closed when the customer in session finishes; a
	// maintenance request waits for it.
	customerLeft chan struct{}
	maintCalls   int
	endCalls     int
	collections  []Collection
	cycles       int
	tester       SelfTester
	doorAlarm    bool
	doorOpen     bool
}

func newFake(t *testing.T) *fakeBackend {
	start := time.Date(2026, 1, 5, 9, 0, 0, 0, time.UTC)
	return &fakeBackend{
		svc: Service{State: kiosk.StateIdle, Screen: [4]string{"Пополнение кошелька", "", "", "нажмите OK"}},
		acc: kiosk.AcceptorInfo{Protocol: "ccnet", Port: "/dev/ttyUSB0", Model: "SM-2072", Serial: "41K0123", State: "disabled",
			Denominations: []kiosk.Money{kiosk.Tenge(200), kiosk.Tenge(500), kiosk.Tenge(1000), kiosk.Tenge(2000), kiosk.Tenge(5000)},
			Currency:      "KZT", Ready: true, LastErrors: []string{"timeout waiting for ACK"}},
		cas: Cassette{OpenedAt: start, Bills: []kiosk.BillCount{{Value: kiosk.Tenge(1000), Count: 3}, {Value: kiosk.Tenge(5000), Count: 1}},
			Count: 4, Amount: kiosk.Tenge(8000), Capacity: 1000, TopUps: 2, FirstReceipt: 1, LastReceipt: 2},
		queue: Queue{QueueStats: kiosk.QueueStats{Unsent: 1, UnsentAmount: kiosk.Tenge(3000), OldestAt: start.Add(-30 * time.Minute)},
			Oldest: []QueuedTopUp{{TopUp: topUp(2, kiosk.SyncUnsent), Delivery: Delivery{Attempts: 3, LastError: "bank unavailable: 503"}}}},
		bank: BankStatus{Known: true, Reachable: false, LastSuccess: start.Add(-time.Hour), LastError: "dial tcp: connection refused", ClockOffset: 1500 * time.Millisecond},
		sys:  System{Version: "1.2.3", Started: start.Add(-2 * time.Hour), DataDir: t.TempDir(), Terminal: "KZ-ALA-0001"},
		topups: map[int64]TopUpDetail{
			1: {TopUp: topUp(1, kiosk.SyncCredited), Bills: []kiosk.BillRecord{
				{ID: "s1/1", SessionID: "s1", Seq: 1, Value: kiosk.Tenge(1000), State: kiosk.BillStacked, At: start},
				{ID: "s1/2", SessionID: "s1", Seq: 2, Value: kiosk.Tenge(2000), State: kiosk.BillStacked, At: start}},
				Delivery: Delivery{Attempts: 1, CreditedAt: start.Add(time.Minute)}},
			2: {TopUp: topUp(2, kiosk.SyncUnsent), Delivery: Delivery{Attempts: 3, LastError: "bank unavailable: 503"}},
		},
		review: Review{
			Bills:  []kiosk.BillRecord{{ID: "s9/1", SessionID: "s9", Seq: 1, Value: kiosk.Tenge(2000), State: kiosk.BillSuspense, At: start}},
			TopUps: []QueuedTopUp{{TopUp: topUp(7, kiosk.SyncRejected), Delivery: Delivery{Note: "wallet_not_found", Attempts: 1}}},
		},
		settings: map[string]string{},
	}
}

func topUp(n int64, s kiosk.SyncState) kiosk.TopUp {
	at := time.Date(2026, 1, 5, 8, 30, 0, 0, time.UTC)
	return kiosk.TopUp{ID: fmt.Sprintf("00000000-0000-4000-8000-%012d", n), ReceiptNo: n, SessionID: fmt.Sprintf("s%d", n),
		Phone: "+77011234567", Amount: kiosk.Tenge(3000), Bills: []kiosk.BillCount{{Value: kiosk.Tenge(1000), Count: 1}, {Value: kiosk.Tenge(2000), Count: 1}},
		CreatedAt: at, CompletedAt: at.Add(time.Minute), Sync: s}
}

func (f *fakeBackend) ledger() error {
	if f.noLedger {
		return fmt.Errorf("ledger.db: %w", ErrNoLedger)
	}
	return nil
}

func (f *fakeBackend) Service(context.Context) Service {
	f.mu.Lock()
	defer f.mu.Unlock()
	s := f.svc
	s.Reasons = slices.Clone(s.Reasons)
	s.DoorOpen = f.doorOpen
	return s
}
func (f *fakeBackend) Recovered(_ context.Context, limit int) ([]kiosk.TopUp, error) {
	if err := f.ledger(); err != nil {
		return nil, err
	}
	if len(f.recovered) > limit {
		return f.recovered[:limit], nil
	}
	return f.recovered, nil
}

func (f *fakeBackend) Acceptor() kiosk.AcceptorInfo { f.mu.Lock(); defer f.mu.Unlock(); return f.acc }
func (f *fakeBackend) Cassette(context.Context) (Cassette, error) {
	f.mu.Lock()
	defer f.mu.Unlock()
	return f.cas, f.ledger()
}
func (f *fakeBackend) Queue(_ context.Context, limit int) (Queue, error) {
	f.mu.Lock()
	defer f.mu.Unlock()
	q := f.queue
	if len(q.Oldest) > limit {
		q.Oldest = q.Oldest[:limit]
	}
	return q, f.ledger()
}
func (f *fakeBackend) Bank() BankStatus { return f.bank }
func (f *fakeBackend) System() System   { return f.sys }
func (f *fakeBackend) TopUp(_ context.Context, n int64) (TopUpDetail, error) {
	if err := f.ledger(); err != nil {
		return TopUpDetail{}, err
	}
	d, ok := f.topups[n]
	if !ok {
		return d, kiosk.ErrNotFound
	}
	return d, nil
}
func (f *fakeBackend) TopUpByID(_ context.Context, id string) (TopUpDetail, error) {
	for _, d := range f.topups {
		if d.TopUp.ID == id {
			return d, nil
		}
	}
	return TopUpDetail{}, kiosk.ErrNotFound
}
func (f *fakeBackend) Review(context.Context) (Review, error) { return f.review, f.ledger() }
func (f *fakeBackend) Retry(_ context.Context, id string) (int, error) {
	f.mu.Lock()
	defer f.mu.Unlock()
	if id == f.topups[1].TopUp.ID {
		return 0, fmt.Errorf("%w: the bank has decided this top-up (credited)", ErrRefused)
	}
	f.retried = append(f.retried, id)
	if id == "" {
		return 2, nil
	}
	return 1, nil
}
func (f *fakeBackend) SetManual(_ context.Context, on bool) error {
	f.mu.Lock()
	defer f.mu.Unlock()
	f.manual = on
	f.svc.Manual = on
	f.svc.Reasons = slices.DeleteFunc(f.svc.Reasons, func(r string) bool { return r == "manual" })
	if on {
		f.svc.Reasons = append(f.svc.Reasons, "manual")
		f.svc.State = kiosk.StateOutOfService
	} else if len(f.svc.Reasons) == 0 {
		f.svc.State = kiosk.StateIdle
	}
	return nil
}
func (f *fakeBackend) RequestMaintenance(ctx context.Context) error {
	f.mu.Lock()
	f.maintCalls++
	f.svc.Maintenance = true
	wait := f.customerLeft
	f.mu.Unlock()
	if wait != nil {
		select {
		case <-wait:
		case <-ctx.Done():
			f.mu.Lock()
			f.svc.Maintenance = false
			f.mu.Unlock()
			return ctx.Err()
		}
	}
	f.mu.Lock()
	f.svc.State, f.svc.InSession = kiosk.StateMaintenance, false
	f.mu.Unlock()
	return nil
}
func (f *fakeBackend) EndMaintenance() {
	f.mu.Lock()
	defer f.mu.Unlock()
	f.endCalls++
	f.svc.State, f.svc.Maintenance = kiosk.StateIdle, false
}
func (f *fakeBackend) CloseCollection(_ context.Context, seal string) (Collection, error) {
	f.mu.Lock()
	defer f.mu.Unlock()
	if f.svc.State != kiosk.StateMaintenance {
		return Collection{}, fmt.Errorf("%w: a customer session is open", ErrRefused)
	}
	c := Collection{ID: "c0ffee00-0000-4000-8000-000000000001", Seal: seal, Period: f.cas, ClosedAt: f.cas.OpenedAt.Add(3 * time.Hour)}
	f.collections = append(f.collections, c)
	f.cas = Cassette{OpenedAt: c.ClosedAt, Capacity: f.cas.Capacity}
	return c, nil
}
func (f *fakeBackend) Reconcile(_ context.Context, ref string, counted []kiosk.BillCount, actor string) (Reconciliation, error) {
	f.mu.Lock()
	defer f.mu.Unlock()
	f.reconciles = append(f.reconciles, ref+" "+kiosk.FormatBillCounts(counted)+" by "+actor)
	if f.reconcile != nil {
		return *f.reconcile, nil
	}
	return Reconciliation{Collection: ref, Counted: counted}, nil
}
func (f *fakeBackend) CycleAcceptor(context.Context) error {
	f.mu.Lock()
	defer f.mu.Unlock()
	if f.svc.State != kiosk.StateMaintenance {
		return fmt.Errorf("not in maintenance")
	}
	f.cycles++
	return nil
}
func (f *fakeBackend) SelfTester() SelfTester { return f.tester }
func (f *fakeBackend) SetDoorOpen(open bool)  { f.mu.Lock(); f.doorOpen = open; f.mu.Unlock() }
func (f *fakeBackend) SetDoorAlarm(on bool)   { f.mu.Lock(); f.doorAlarm = on; f.mu.Unlock() }
func (f *fakeBackend) Config(asJSON bool) ([]byte, error) {
	if asJSON {
		return json.Marshal(map[string]any{"terminal_id": "KZ-ALA-0001", "bank": map[string]any{"secret": "***"}})
	}
	return []byte("terminal_id: KZ-ALA-0001\nbank:\n  secret: '***'\n"), nil
}
func (f *fakeBackend) AuditTail(_ context.Context, n int) ([]kiosk.AuditEntry, error) {
	f.mu.Lock()
	defer f.mu.Unlock()
	a := f.audit
	if len(a) > n {
		a = a[len(a)-n:]
	}
	return slices.Clone(a), f.ledger()
}
func (f *fakeBackend) Audit(_ context.Context, e kiosk.AuditEntry) error {
	f.mu.Lock()
	defer f.mu.Unlock()
	f.audit = append(f.audit, e)
	return nil
}
func (f *fakeBackend) Setting(_ context.Context, key string) (string, bool, error) {
	f.mu.Lock()
	defer f.mu.Unlock()
	v, ok := f.settings[key]
	return v, ok, nil
}
func (f *fakeBackend) SetSetting(_ context.Context, key, value string) error {
	f.mu.Lock()
	defer f.mu.Unlock()
	f.settings[key] = value
	return nil
}

func (f *fakeBackend) audits() []kiosk.AuditEntry {
	f.mu.Lock()
	defer f.mu.Unlock()
	return slices.Clone(f.audit)
}

func (f *fakeBackend) settingsCopy() map[string]string {
	f.mu.Lock()
	defer f.mu.Unlock()
	return maps.Clone(f.settings)
}

// customerArrives puts a customer mid-session; the returned function is
// the customer finishing.
func (f *fakeBackend) customerArrives() func() {
	f.mu.Lock()
	defer f.mu.Unlock()
	ch := make(chan struct{})
	f.customerLeft = ch
	f.svc.State, f.svc.InSession = kiosk.StateInsertCash, true
	var once sync.Once
	return func() {
		once.Do(func() {
			f.mu.Lock()
			f.customerLeft = nil
			f.mu.Unlock()
			close(ch)
		})
	}
}

// fakeTester is a panel self-test whose key test the test presses keys in.
type fakeTester struct {
	patterns atomic.Int32
	keys     chan kiosk.Key
}

func (p *fakeTester) TestPattern(context.Context) error { p.patterns.Add(1); return nil }
func (p *fakeTester) KeyEcho(ctx context.Context, out func(kiosk.Key)) error {
	for {
		select {
		case <-ctx.Done():
			return nil
		case k := <-p.keys:
			out(k)
		}
	}
}

// fakeSnap is what the tests read of the fake, under its lock: the console
// changes it from its own goroutines.
type fakeSnap struct {
	doorOpen, doorAlarm bool
	state               kiosk.State
	maintenance         bool
	manual              bool
	collections         []Collection
	endCalls            int
	maintCalls          int
	cycles              int
	reconciles          []string
}

func (f *fakeBackend) snap() fakeSnap {
	f.mu.Lock()
	defer f.mu.Unlock()
	return fakeSnap{
		doorOpen: f.doorOpen, doorAlarm: f.doorAlarm, state: f.svc.State, maintenance: f.svc.Maintenance,
		manual: f.manual, collections: slices.Clone(f.collections), endCalls: f.endCalls, maintCalls: f.maintCalls, cycles: f.cycles,
		reconciles: slices.Clone(f.reconciles),
	}
}
