package simacceptor

import (
	"context"
	"encoding/json"
	"errors"
	"os"
	"path/filepath"
	"sync"
	"testing"
	"time"

	"tolem/kiosk"
)

// fakeClock is advanced by the test; timers fire on Advance only.
type fakeClock struct {
	mu     sync.Mutex
	now    time.Time
	timers []*fakeTimer
}

type fakeTimer struct {
	c     *fakeClock
	when  time.Time
	ch    chan time.Time
	armed bool
}

func newFakeClock() *fakeClock {
	return &fakeClock{now: time.Date(2025, 3, 1, 9, 0, 0, 0, time.UTC)}
}

func (c *fakeClock) Now() time.Time {
	c.mu.Lock()
	defer c.mu.Unlock()
	return c.now
}

func (c *fakeClock) NewTimer(d time.Duration) kiosk.Timer {
	c.mu.Lock()
	defer c.mu.Unlock()
	t := &fakeTimer{c: c, when: c.now.Add(d), ch: make(chan time.Time, 1), armed: true}
	c.timers = append(c.timers, t)
	return t
}

func (c *fakeClock) Advance(d time.Duration) {
	c.mu.Lock()
	defer c.mu.Unlock()
	c.now = c.now.Add(d)
	for _, t := range c.timers {
		if t.armed && !t.when.After(c.now) {
			t.armed = false
			t.ch <- c.now
		}
	}
}

func (t *fakeTimer) C() <-chan time.Time { return t.ch }

func (t *fakeTimer) Stop() bool {
	t.c.mu.Lock()
	defer t.c.mu.Unlock()
	was := t.armed
	t.armed = false
	return was
}

const eventWait = 20 * time.Second

func next(t *testing.T, a *Acceptor) kiosk.AcceptorEvent {
	t.Helper()
	select {
	case ev, ok := <-a.Events():
		if !ok {
			t.Fatal("events channel closed")
		}
		return ev
	case <-time.After(eventWait):
		t.Fatal("no event from the acceptor")
	}
	return kiosk.AcceptorEvent{}
}

// expect reads the next events and checks their kinds, values and positions.
func expect(t *testing.T, a *Acceptor, want ...kiosk.AcceptorEvent) {
	t.Helper()
	for i, w := range want {
		got := next(t, a)
		if got.Kind == kiosk.EventStacking && w.Kind != kiosk.EventStacking {
			// Each Stack reports it first; tests that do not ask skip it.
			got = next(t, a)
		}
		if got.Kind != w.Kind || got.Value != w.Value || got.BillAt != w.BillAt ||
			(w.Reason != "" && got.Reason != w.Reason) || (w.Fault != "" && got.Fault != w.Fault) {
			t.Fatalf("event %d: got %v value=%v at=%v reason=%q fault=%q, want %v value=%v at=%v reason=%q fault=%q",
				i, got.Kind, got.Value, got.BillAt, got.Reason, got.Fault, w.Kind, w.Value, w.BillAt, w.Reason, w.Fault)
		}
	}
}

var (
	ready   = kiosk.AcceptorEvent{Kind: kiosk.EventReady}
	powerUp = kiosk.AcceptorEvent{Kind: kiosk.EventPowerUp, BillAt: kiosk.BillNowhere}
)

func escrow(v kiosk.Money) kiosk.AcceptorEvent {
	return kiosk.AcceptorEvent{Kind: kiosk.EventEscrow, Value: v}
}
func stacked(v kiosk.Money) kiosk.AcceptorEvent {
	return kiosk.AcceptorEvent{Kind: kiosk.EventStacked, Value: v}
}
func returned(v kiosk.Money) kiosk.AcceptorEvent {
	return kiosk.AcceptorEvent{Kind: kiosk.EventReturned, Value: v}
}
func rejected(v kiosk.Money, reason string) kiosk.AcceptorEvent {
	return kiosk.AcceptorEvent{Kind: kiosk.EventRejected, Value: v, Reason: reason}
}

func open(t *testing.T, file string, clk kiosk.Clock) *Acceptor {
	t.Helper()
	a, err := New(Options{StateFile: file, Clock: clk})
	if err != nil {
		t.Fatal(err)
	}
	t.Cleanup(func() { a.Close() })
	return a
}

func enableAll(t *testing.T, a *Acceptor) {
	t.Helper()
	if err := a.Enable(context.Background(), DefaultDenominations); err != nil {
		t.Fatal(err)
	}
}

func TestEscrowThenStack(t *testing.T) {
	file := filepath.Join(t.TempDir(), "acceptor.json")
	a := open(t, file, newFakeClock())
	expect(t, a, powerUp, ready)
	enableAll(t, a)
	ctx := context.Background()

	if err := a.Insert(kiosk.Tenge(1000)); err != nil {
		t.Fatal(err)
	}
	expect(t, a, escrow(kiosk.Tenge(1000)))
	if got := a.Info().State; got != "escrow" {
		t.Errorf("state with a bill in escrow = %q, want escrow", got)
	}
	if err := a.Stack(ctx); err != nil {
		t.Fatal(err)
	}
	expect(t, a, kiosk.AcceptorEvent{Kind: kiosk.EventStacking, Value: kiosk.Tenge(1000)}, stacked(kiosk.Tenge(1000)))

	if err := a.Stack(ctx); !errors.Is(err, kiosk.ErrNoEscrow) {
		t.Errorf("second Stack = %v, want ErrNoEscrow", err)
	}
	if err := a.Return(ctx); !errors.Is(err, kiosk.ErrNoEscrow) {
		t.Errorf("Return with nothing in escrow = %v, want ErrNoEscrow", err)
	}

	if err := a.Insert(kiosk.Tenge(5000)); err != nil {
		t.Fatal(err)
	}
	expect(t, a, escrow(kiosk.Tenge(5000)))
	if err := a.Return(ctx); err != nil {
		t.Fatal(err)
	}
	expect(t, a, returned(kiosk.Tenge(5000)))

	want := map[kiosk.Money]int{kiosk.Tenge(1000): 1}
	if got := a.Stacked(); len(got) != 1 || got[kiosk.Tenge(1000)] != 1 {
		t.Errorf("Stacked() = %v, want %v", got, want)
	}

	// The journal survives a restart.
	a.Close()
	b := open(t, file, newFakeClock())
	expect(t, b, powerUp, ready)
	if got := b.Stacked(); got[kiosk.Tenge(1000)] != 1 {
		t.Errorf("after restart Stacked() = %v, want %v", got, want)
	}
}

func TestRejects(t *testing.T) {
	a := open(t, "", newFakeClock())
	expect(t, a, powerUp, ready)
	ctx := context.Background()

	// Powered up: every bill is inhibited until the kiosk enables.
	a.Insert(kiosk.Tenge(1000))
	expect(t, a, rejected(kiosk.Tenge(1000), ReasonInhibited))

	if err := a.Enable(ctx, []kiosk.Money{kiosk.Tenge(500), kiosk.Tenge(1000)}); err != nil {
		t.Fatal(err)
	}
	a.Insert(kiosk.Tenge(20000))
	expect(t, a, rejected(kiosk.Tenge(20000), ReasonInhibited))
	a.Insert(kiosk.Tenge(300)) // no such banknote
	expect(t, a, rejected(kiosk.Tenge(300), ReasonInhibited))
	a.InsertFake()
	expect(t, a, rejected(0, ReasonVerification))

	a.Insert(kiosk.Tenge(500))
	expect(t, a, escrow(kiosk.Tenge(500)))
	a.Insert(kiosk.Tenge(1000))
	expect(t, a, rejected(kiosk.Tenge(1000), ReasonHeadOccupied))

	// Disable keeps the escrowed bill; it can still be stacked.
	if err := a.Disable(ctx); err != nil {
		t.Fatal(err)
	}
	if err := a.Stack(ctx); err != nil {
		t.Fatal(err)
	}
	expect(t, a, stacked(kiosk.Tenge(500)))
	a.Insert(kiosk.Tenge(500))
	expect(t, a, rejected(kiosk.Tenge(500), ReasonInhibited))
}

func TestEscrowReturnedAfterTenSeconds(t *testing.T) {
	clk := newFakeClock()
	a := open(t, filepath.Join(t.TempDir(), "a.json"), clk)
	expect(t, a, powerUp, ready)
	enableAll(t, a)

	a.Insert(kiosk.Tenge(2000))
	expect(t, a, escrow(kiosk.Tenge(2000)))
	clk.Advance(9 * time.Second)
	if got := a.Info().State; got != "escrow" {
		t.Fatalf("after 9 s state = %q, want the bill still in escrow", got)
	}
	clk.Advance(time.Second)
	expect(t, a, returned(kiosk.Tenge(2000)))
	if err := a.Stack(context.Background()); !errors.Is(err, kiosk.ErrNoEscrow) {
		t.Errorf("Stack after auto-return = %v, want ErrNoEscrow", err)
	}

	// A bill stacked in time is not returned when its timer would have run out.
	a.Insert(kiosk.Tenge(2000))
	expect(t, a, escrow(kiosk.Tenge(2000)))
	if err := a.Stack(context.Background()); err != nil {
		t.Fatal(err)
	}
	expect(t, a, stacked(kiosk.Tenge(2000)))
	clk.Advance(time.Minute)
	a.InsertFake()
	expect(t, a, rejected(0, ReasonVerification)) // and no Returned before it
}

// writeState leaves a state file as a kill at a given instant would.
func writeState(t *testing.T, file string, st state) {
	t.Helper()
	st.Version = stateVersion
	b, err := json.Marshal(st)
	if err != nil {
		t.Fatal(err)
	}
	if err := os.WriteFile(file, b, 0o600); err != nil {
		t.Fatal(err)
	}
}

func TestPowerUpAfterKillBetweenStackAndReport(t *testing.T) {
	file := filepath.Join(t.TempDir(), "a.json")
	v := kiosk.Tenge(10000)
	// STACK was received and the bill counted, the stacked report never left.
	writeState(t, file, state{StackedUnreported: v, Stacked: map[kiosk.Money]int{v: 3}})

	a := open(t, file, newFakeClock())
	expect(t, a,
		kiosk.AcceptorEvent{Kind: kiosk.EventPowerUp, BillAt: kiosk.BillInStacker, Value: v},
		ready)
	if got := a.Stacked()[v]; got != 3 {
		t.Errorf("Stacked()[%v] = %d, want 3: the bill was counted when stacked, not again", v, got)
	}
	a.Close()
	for range a.Events() {
		t.Error("an event after the power-up report")
	}

	b := open(t, file, newFakeClock())
	expect(t, b, powerUp, ready)
	b.InsertFake()
	expect(t, b, rejected(0, ReasonVerification)) // nothing stacked twice before it
}

func TestStackWritesStackedUnreportedFirst(t *testing.T) {
	dir := t.TempDir()
	file := filepath.Join(dir, "a.json")
	a := open(t, file, newFakeClock())
	expect(t, a, powerUp, ready)
	enableAll(t, a)
	a.Insert(kiosk.Tenge(200))
	expect(t, a, escrow(kiosk.Tenge(200)))

	// A directory that cannot be written stands for a disk that fails: the
	// bill must stay in escrow, since the device could not note it stacked.
	if os.Geteuid() != 0 {
		os.Chmod(dir, 0o500)
		err := a.Stack(context.Background())
		os.Chmod(dir, 0o700)
		if err == nil {
			t.Fatal("Stack succeeded though the state could not be saved")
		}
		if got := a.Info().State; got != "escrow" {
			t.Errorf("after a failed Stack state = %q, want escrow", got)
		}
	}
	if err := a.Stack(context.Background()); err != nil {
		t.Fatal(err)
	}
	expect(t, a, stacked(kiosk.Tenge(200)))
	var st state
	b, _ := os.ReadFile(file)
	if err := json.Unmarshal(b, &st); err != nil {
		t.Fatal(err)
	}
	if st.StackedUnreported != 0 || st.Escrow != 0 || st.Stacked[kiosk.Tenge(200)] != 1 {
		t.Errorf("state after a reported stack = %+v", st)
	}
}

func TestPowerUpWithBillInHead(t *testing.T) {
	file := filepath.Join(t.TempDir(), "a.json")
	a := open(t, file, newFakeClock())
	expect(t, a, powerUp, ready)
	enableAll(t, a)
	a.Insert(kiosk.Tenge(5000))
	expect(t, a, escrow(kiosk.Tenge(5000)))
	a.Close() // the power goes with the bill in escrow

	b := open(t, file, newFakeClock())
	expect(t, b, kiosk.AcceptorEvent{Kind: kiosk.EventPowerUp, BillAt: kiosk.BillInValidator, Value: kiosk.Tenge(5000)}, ready)
	if err := b.Stack(context.Background()); !errors.Is(err, kiosk.ErrNoEscrow) {
		t.Errorf("Stack after the bill was given back = %v, want ErrNoEscrow", err)
	}
	if len(b.Stacked()) != 0 {
		t.Errorf("Stacked() = %v, want nothing", b.Stacked())
	}
	b.Close()
	c := open(t, file, newFakeClock())
	expect(t, c, powerUp, ready)
}

func TestFaults(t *testing.T) {
	a := open(t, "", newFakeClock())
	expect(t, a, powerUp, ready)
	enableAll(t, a)

	a.Jam()
	expect(t, a, kiosk.AcceptorEvent{Kind: kiosk.EventFault, Fault: kiosk.FaultJammed})
	if err := a.Insert(kiosk.Tenge(1000)); !errors.Is(err, ErrFaulted) {
		t.Errorf("Insert while jammed = %v, want ErrFaulted", err)
	}
	info := a.Info()
	if info.Ready || len(info.Faults) != 1 || info.Faults[0] != kiosk.FaultJammed {
		t.Errorf("Info while jammed: ready=%v faults=%v", info.Ready, info.Faults)
	}
	a.SetCassette(true)
	expect(t, a, kiosk.AcceptorEvent{Kind: kiosk.EventFault, Fault: kiosk.FaultCassetteRemoved})
	a.Clear() // the cassette is still out: no FaultCleared yet
	a.SetCassette(false)
	expect(t, a, kiosk.AcceptorEvent{Kind: kiosk.EventFaultCleared})
	if !a.Info().Ready {
		t.Error("not ready after every fault cleared")
	}
	if err := a.Insert(kiosk.Tenge(1000)); err != nil {
		t.Fatal(err)
	}
	expect(t, a, escrow(kiosk.Tenge(1000)))
}

func TestInfoAndClose(t *testing.T) {
	a := open(t, "", newFakeClock())
	info := a.Info()
	if info.Protocol != "sim" || info.Model != "SIM-ACCEPTOR" || info.Currency != "KZT" ||
		len(info.Denominations) != 7 || info.Denominations[0] != kiosk.Tenge(200) || !info.Ready {
		t.Errorf("Info() = %+v", info)
	}
	if info.State != "disabled" {
		t.Errorf("state at power-up = %q, want disabled", info.State)
	}
	a.Close()
	for range a.Events() {
	}
	if err := a.Enable(context.Background(), DefaultDenominations); !errors.Is(err, kiosk.ErrAcceptorOffline) {
		t.Errorf("Enable after Close = %v, want ErrAcceptorOffline", err)
	}
	if err := a.Insert(kiosk.Tenge(200)); !errors.Is(err, kiosk.ErrAcceptorOffline) {
		t.Errorf("Insert after Close = %v, want ErrAcceptorOffline", err)
	}
	if err := a.Close(); err != nil {
		t.Errorf("second Close = %v", err)
	}
}

func TestDamagedStateFileRefused(t *testing.T) {
	file := filepath.Join(t.TempDir(), "a.json")
	os.WriteFile(file, []byte("{not json"), 0o600)
	if _, err := New(Options{StateFile: file}); err == nil {
		t.Fatal("New accepted a damaged state file")
	}
}
