package ledger_test

import (
	"context"
	"testing"
	"time"

	"tolem/kiosk"
	"tolem/kiosk/ledger/ledgertest"
)

// A bill the acceptor stacked with no session open is in the cassette: it
// must show in the current period and on the review list, once.
func TestRecordSuspenseJoinsThePeriodOnce(t *testing.T) {
	l := ledgertest.MustOpen(t)
	ctx := context.Background()
	at := time.Date(2026, 11, 21, 10, 0, 0, 0, time.UTC)
	for range 2 { // the same report twice
		if err := l.RecordSuspense(ctx, kiosk.Tenge(5000), at); err != nil {
			t.Fatal(err)
		}
	}
	if err := l.RecordSuspense(ctx, kiosk.Tenge(1000), at.Add(time.Second)); err != nil {
		t.Fatal(err)
	}
	p, err := l.CurrentPeriod(ctx)
	if err != nil {
		t.Fatal(err)
	}
	if p.Suspense != 2 {
		t.Errorf("period suspense = %d, want 2", p.Suspense)
	}
	rev, err := l.ReviewList(ctx)
	if err != nil {
		t.Fatal(err)
	}
	var sum kiosk.Money
	for _, b := range rev.Bills {
		if b.State == kiosk.BillSuspense {
			sum += b.Value
		}
	}
	if sum != kiosk.Tenge(6000) {
		t.Errorf("suspense on the review list = %s, want 6 000 ₸", sum)
	}
}
