package ledger_test

import (
	"context"
	"errors"
	"fmt"
	"sync"
	"testing"
	"time"

	"tolem/kiosk"
	"tolem/kiosk/ledger"
)

// t0 is a Saturday morning in Almaty, in UTC.
var t0 = time.Date(2025, 3, 1, 4, 0, 0, 0, time.UTC)

const phone = kiosk.Phone("+77011234567")

// fakeClock is a kiosk.Clock that only moves when a test moves it.
type fakeClock struct {
	mu  sync.Mutex
	now time.Time
}

func (c *fakeClock) Now() time.Time {
	c.mu.Lock()
	defer c.mu.Unlock()
	return c.now
}

func (c *fakeClock) NewTimer(time.Duration) kiosk.Timer { panic("the ledger sets no timers") }

func ctxT(t testing.TB) context.Context {
	ctx, cancel := context.WithTimeout(context.Background(), 30*time.Second)
	t.Cleanup(cancel)
	return ctx
}

func must(t testing.TB, err error) {
	t.Helper()
	if err != nil {
		t.Fatal(err)
	}
}

func wantErr(t testing.TB, err, want error) {
	t.Helper()
	if want == nil {
		if err != nil {
			t.Fatalf("error %v, want none", err)
		}
		return
	}
	if !errors.Is(err, want) {
		t.Fatalf("error %v, want %v", err, want)
	}
}

func openSession(t testing.TB, l *ledger.Ledger, id string) {
	t.Helper()
	must(t, l.OpenSession(ctxT(t), kiosk.Session{ID: id, Phone: phone, OpenedAt: t0}))
}

func escrow(t testing.TB, l *ledger.Ledger, session string, seq int, v kiosk.Money) string {
	t.Helper()
	must(t, l.RecordEscrow(ctxT(t), kiosk.BillRecord{SessionID: session, Seq: seq, Value: v, At: t0}))
	return ledger.BillID(session, seq)
}

func stack(t testing.TB, l *ledger.Ledger, session string, seq int, v kiosk.Money) string {
	t.Helper()
	id := escrow(t, l, session, seq, v)
	must(t, l.MarkStacked(ctxT(t), id, t0))
	return id
}

func billState(t testing.TB, l *ledger.Ledger, id string) kiosk.BillState {
	t.Helper()
	b, err := l.Bill(ctxT(t), id)
	must(t, err)
	return b.State
}

// topUpWith opens a session, stacks bills of the given values and completes it.
func topUpWith(t testing.TB, l *ledger.Ledger, session string, values ...kiosk.Money) kiosk.TopUp {
	t.Helper()
	openSession(t, l, session)
	for i, v := range values {
		stack(t, l, session, i+1, v)
	}
	tu, err := l.CompleteTopUp(ctxT(t), session, t0.Add(time.Minute))
	must(t, err)
	return tu
}

func sid(i int) string { return fmt.Sprintf("session-%04d", i) }
