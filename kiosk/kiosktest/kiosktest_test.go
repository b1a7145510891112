package kiosktest

import (
	"context"
	"errors"
	"slices"
	"testing"
	"time"

	"tolem/kiosk"
)

func fired(t kiosk.Timer) bool {
	select {
	case <-t.C():
		return true
	default:
		return false
	}
}

func TestFakeClock(t *testing.T) {
	c := NewFakeClock(time.Time{})
	start := c.Now()
	a := c.NewTimer(10 * time.Second)
	b := c.NewTimer(5 * time.Second)
	d := c.NewTimer(20 * time.Second)
	if !d.Stop() || d.Stop() {
		t.Fatal("Stop should report armed once")
	}
	c.Advance(4 * time.Second)
	if fired(a) || fired(b) {
		t.Fatal("fired early")
	}
	c.Advance(6 * time.Second)
	var at []time.Time
	for _, x := range []kiosk.Timer{b, a} {
		select {
		case ts := <-x.C():
			at = append(at, ts)
		default:
			t.Fatal("due timer did not fire")
		}
	}
	if !at[0].Equal(start.Add(5*time.Second)) || !at[1].Equal(start.Add(10*time.Second)) {
		t.Fatalf("fired at %v, want their deadlines", at)
	}
	if a.Stop() {
		t.Fatal("Stop of a fired timer reported armed")
	}
	c.Advance(time.Hour)
	if fired(d) {
		t.Fatal("stopped timer fired")
	}
	if !fired(c.NewTimer(0)) {
		t.Fatal("zero timer did not fire at once")
	}
	if c.Pending() != 0 {
		t.Fatalf("%d timers pending", c.Pending())
	}
}

func TestFakeAcceptor(t *testing.T) {
	a := NewFakeAcceptor(nil)
	ctx := context.Background()
	if err := a.Stack(ctx); !errors.Is(err, kiosk.ErrNoEscrow) {
		t.Fatalf("Stack without escrow: %v", err)
	}
	a.SetAuto(true)
	a.Escrow(kiosk.Tenge(1000))
	if err := a.Stack(ctx); err != nil {
		t.Fatal(err)
	}
	var kinds []kiosk.AcceptorEventKind
	for range 2 {
		kinds = append(kinds, (<-a.Events()).Kind)
	}
	if !slices.Equal(kinds, []kiosk.AcceptorEventKind{kiosk.EventEscrow, kiosk.EventStacked}) {
		t.Fatalf("events %v", kinds)
	}
	a.Fail(OpEnable, kiosk.ErrAcceptorOffline)
	if err := a.Enable(ctx, KZTDenominations); !errors.Is(err, kiosk.ErrAcceptorOffline) {
		t.Fatalf("Enable: %v", err)
	}
	if on, _ := a.Enabled(); on {
		t.Fatal("enabled after a failed Enable")
	}
}

func TestFakeLedgerRecover(t *testing.T) {
	ctx := context.Background()
	at := time.Date(2026, 1, 5, 9, 0, 0, 0, time.UTC)
	l := NewFakeLedger()
	if err := l.OpenSession(ctx, kiosk.Session{ID: "a", Phone: "+77011234567"}); err != nil {
		t.Fatal(err)
	}
	_ = l.RecordEscrow(ctx, kiosk.BillRecord{ID: "a-1", SessionID: "a", Seq: 1, Value: kiosk.Tenge(500)})
	_ = l.MarkStacked(ctx, "a-1", at)
	_ = l.RecordEscrow(ctx, kiosk.BillRecord{ID: "a-2", SessionID: "a", Seq: 2, Value: kiosk.Tenge(1000)})
	if p, _ := l.PendingRecovery(ctx); !p {
		t.Fatal("open session not pending")
	}
	rep, err := l.Recover(ctx, &kiosk.PowerUpReport{BillAt: kiosk.BillInStacker, Value: kiosk.Tenge(1000)}, at)
	if err != nil {
		t.Fatal(err)
	}
	if rep.Stacked != 1 || len(rep.TopUps) != 1 || rep.TopUps[0].Amount != kiosk.Tenge(1500) || !rep.TopUps[0].Recovered {
		t.Fatalf("report %+v", rep)
	}
	// The same top-up again, never a second one.
	again, err := l.CompleteTopUp(ctx, "a", at)
	if err != nil || again.ReceiptNo != rep.TopUps[0].ReceiptNo || len(l.TopUps()) != 1 {
		t.Fatalf("second complete: %+v %v", again, err)
	}
	q, _ := l.Queue(ctx)
	if q.Unsent != 1 || q.UnsentAmount != kiosk.Tenge(1500) {
		t.Fatalf("queue %+v", q)
	}
	l.Fail(OpAudit)
	if err := l.Audit(ctx, kiosk.AuditEntry{}); !errors.Is(err, kiosk.ErrLedgerWrite) {
		t.Fatalf("Audit: %v", err)
	}
}

func TestFakeWallets(t *testing.T) {
	w := NewFakeWallets()
	w.Block()
	ctx, cancel := context.WithCancel(context.Background())
	cancel()
	if _, err := w.LookupWallet(ctx, "+77011234567"); !errors.Is(err, kiosk.ErrBankUnavailable) {
		t.Fatalf("blocked lookup: %v", err)
	}
	w.Release()
	w.Answer("+77011234567", kiosk.Wallet{Found: false}, nil)
	if got, err := w.LookupWallet(context.Background(), "+77011234567"); err != nil || got.Found {
		t.Fatalf("lookup: %+v %v", got, err)
	}
}
