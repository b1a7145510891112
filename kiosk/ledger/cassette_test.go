package ledger_test

import (
	"bytes"
	"reflect"
	"testing"
	"time"

	"tolem/kiosk"
	"tolem/kiosk/ledger"
	"tolem/kiosk/ledger/ledgertest"
)

func TestCassettePeriods(t *testing.T) {
	clock := &fakeClock{now: t0}
	l := ledgertest.MustOpenOptions(t, ledger.Options{Clock: clock})
	ctx := ctxT(t)

	p, err := l.CurrentPeriod(ctx)
	must(t, err)
	if p.ID == 0 || !p.OpenedAt.Equal(t0) || p.Count != 0 || p.Bills != nil || !p.ClosedAt.IsZero() {
		t.Fatalf("first period %+v", p)
	}
	topUpWith(t, l, "s1", kiosk.Tenge(1000), kiosk.Tenge(2000))
	topUpWith(t, l, "s2", kiosk.Tenge(1000))
	_, err = l.Recover(ctx, &kiosk.PowerUpReport{BillAt: kiosk.BillInStacker, Value: kiosk.Tenge(500)}, t0.Add(time.Minute))
	must(t, err)

	// No collection while a customer is at the kiosk.
	openSession(t, l, "s3")
	bill := escrow(t, l, "s3", 1, kiosk.Tenge(5000))
	wantErr(t, errOf(l.CloseCollection(ctx, "BAG-1", t0)), ledger.ErrBillInFlight)
	must(t, l.MarkReturned(ctx, bill, t0))
	wantErr(t, errOf(l.CloseCollection(ctx, "BAG-1", t0)), ledger.ErrConflict)
	must(t, l.CloseSession(ctx, "s3", t0))
	wantErr(t, errOf(l.CloseCollection(ctx, "", t0)), ledger.ErrInvalid)

	closed := t0.Add(2 * time.Hour)
	c, err := l.CloseCollection(ctx, "BAG-1", closed)
	must(t, err)
	want := ledger.Period{
		ID: p.ID, OpenedAt: t0, ClosedAt: closed,
		Bills: []kiosk.BillCount{{Value: kiosk.Tenge(500), Count: 1}, {Value: kiosk.Tenge(1000), Count: 2}, {Value: kiosk.Tenge(2000), Count: 1}},
		Count: 4, Amount: kiosk.Tenge(4500), TopUps: 2, FirstReceipt: 1, LastReceipt: 2, Suspense: 1,
		Services: []kiosk.ServiceTotal{{Service: "wallet", TopUps: 2, Amount: kiosk.Tenge(4000)}},
	}
	if !reflect.DeepEqual(c.Period, want) || c.Seal != "BAG-1" || c.Sync != ledger.CollectionUnsent || len(c.ID) != 36 {
		t.Fatalf("collection %+v, want period %+v", c, want)
	}

	next, err := l.CurrentPeriod(ctx)
	must(t, err)
	if next.ID == p.ID || !next.OpenedAt.Equal(closed) || next.Count != 0 {
		t.Fatalf("period after collection %+v", next)
	}
	topUpWith(t, l, "s4", kiosk.Tenge(20000))
	next, _ = l.CurrentPeriod(ctx)
	if next.Amount != kiosk.Tenge(20000) || next.FirstReceipt != 3 || next.LastReceipt != 3 {
		t.Fatalf("new period %+v", next)
	}

	// The collection waits for the outbox like a top-up.
	due, err := l.DueCollections(ctx, closed, 0)
	must(t, err)
	if len(due) != 1 || !reflect.DeepEqual(due[0], c) {
		t.Fatalf("due collections %+v", due)
	}
	b1, err := l.SetCollectionBody(ctx, c.ID, []byte("one"))
	must(t, err)
	b2, err := l.SetCollectionBody(ctx, c.ID, []byte("two"))
	must(t, err)
	if !bytes.Equal(b1, []byte("one")) || !bytes.Equal(b2, b1) {
		t.Fatalf("collection bodies %q %q", b1, b2)
	}
	must(t, l.UpdateCollectionSync(ctx, c.ID, ledger.CollectionUnsent, "bank: 502", closed.Add(time.Minute), closed))
	if due, _ := l.DueCollections(ctx, closed, 0); len(due) != 0 {
		t.Fatalf("collection due during its back-off")
	}
	must(t, l.UpdateCollectionSync(ctx, c.ID, ledger.CollectionSent, "", time.Time{}, closed.Add(time.Minute)))
	if due, _ := l.DueCollections(ctx, closed.Add(time.Hour), 0); len(due) != 0 {
		t.Fatalf("sent collection still due")
	}
	wantErr(t, l.UpdateCollectionSync(ctx, c.ID, ledger.CollectionUnsent, "", time.Time{}, closed), ledger.ErrConflict)
	wantErr(t, l.UpdateCollectionSync(ctx, "nope", ledger.CollectionSent, "", time.Time{}, closed), kiosk.ErrNotFound)
	wantErr(t, errOf(l.SetCollectionBody(ctx, "nope", []byte("x"))), kiosk.ErrNotFound)
}
