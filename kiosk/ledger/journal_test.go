package ledger_test

import (
	"errors"
	"reflect"
	"strings"
	"testing"
	"time"

	"tolem/kiosk"
	"tolem/kiosk/ledger"
	"tolem/kiosk/ledger/ledgertest"
)

func TestOpenSessionIdempotent(t *testing.T) {
	l := ledgertest.MustOpen(t)
	ctx := ctxT(t)
	s := kiosk.Session{ID: "s1", Phone: phone, Offline: true, OpenedAt: t0}
	must(t, l.OpenSession(ctx, s))
	must(t, l.OpenSession(ctx, s))
	s.Phone = "+77771234567"
	wantErr(t, l.OpenSession(ctx, s), ledger.ErrConflict)
	wantErr(t, l.OpenSession(ctx, kiosk.Session{Phone: phone}), ledger.ErrInvalid)
	open, err := l.PendingRecovery(ctx)
	must(t, err)
	if !open {
		t.Fatal("an open session is not reported for recovery")
	}
}

func TestRecordEscrow(t *testing.T) {
	l := ledgertest.MustOpen(t)
	ctx := ctxT(t)
	openSession(t, l, "s1")
	id := escrow(t, l, "s1", 1, kiosk.Tenge(1000))
	if id != "s1/1" {
		t.Fatalf("bill id %q, want s1/1", id)
	}
	// The same device event seen twice is one bill, even once stacked.
	escrow(t, l, "s1", 1, kiosk.Tenge(1000))
	must(t, l.MarkStacked(ctx, id, t0))
	escrow(t, l, "s1", 1, kiosk.Tenge(1000))
	if got := billState(t, l, id); got != kiosk.BillStacked {
		t.Fatalf("bill recorded again is %s, want it left stacked", got)
	}

	tests := []struct {
		name string
		bill kiosk.BillRecord
		want error
	}{
		{"same id other value", kiosk.BillRecord{SessionID: "s1", Seq: 1, Value: kiosk.Tenge(500)}, ledger.ErrConflict},
		{"unknown session", kiosk.BillRecord{SessionID: "nope", Seq: 1, Value: kiosk.Tenge(500)}, kiosk.ErrNotFound},
		{"id not session/seq", kiosk.BillRecord{ID: "x", SessionID: "s1", Seq: 2, Value: kiosk.Tenge(500)}, ledger.ErrInvalid},
		{"zero value", kiosk.BillRecord{SessionID: "s1", Seq: 2}, ledger.ErrInvalid},
		{"no session", kiosk.BillRecord{Seq: 2, Value: kiosk.Tenge(500)}, ledger.ErrInvalid},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			err := l.RecordEscrow(ctx, tt.bill)
			wantErr(t, err, tt.want)
			if errors.Is(err, kiosk.ErrLedgerWrite) {
				t.Fatalf("refusal %v reported as a failed write", err)
			}
		})
	}

	// A closed session takes no more bills.
	openSession(t, l, "s2")
	must(t, l.CloseSession(ctx, "s2", t0))
	wantErr(t, l.RecordEscrow(ctx, kiosk.BillRecord{SessionID: "s2", Seq: 1, Value: kiosk.Tenge(500)}), ledger.ErrConflict)
}

func TestBillTransitions(t *testing.T) {
	type setup int
	const (
		escrowed setup = iota
		stacked
		returned
		returnedCompleted // returned, and the session completed with another bill
	)
	stackedFn := func(l *ledger.Ledger, id string) error { return l.MarkStacked(ctxT(t), id, t0.Add(time.Second)) }
	returnedFn := func(l *ledger.Ledger, id string) error { return l.MarkReturned(ctxT(t), id, t0.Add(time.Second)) }
	tests := []struct {
		name  string
		from  setup
		do    func(*ledger.Ledger, string) error
		err   error
		state kiosk.BillState
	}{
		{"escrowed to stacked", escrowed, stackedFn, nil, kiosk.BillStacked},
		{"stacked again is a no-op", stacked, stackedFn, nil, kiosk.BillStacked},
		{"returned then stacked after all", returned, stackedFn, nil, kiosk.BillStacked},
		{"returned then stacked once completed", returnedCompleted, stackedFn, ledger.ErrConflict, kiosk.BillReturned},
		{"escrowed to returned", escrowed, returnedFn, nil, kiosk.BillReturned},
		{"returned again is a no-op", returned, returnedFn, nil, kiosk.BillReturned},
		{"stacked is never returned", stacked, returnedFn, ledger.ErrConflict, kiosk.BillStacked},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			l := ledgertest.MustOpen(t)
			openSession(t, l, "s")
			id := escrow(t, l, "s", 1, kiosk.Tenge(2000))
			switch tt.from {
			case stacked:
				must(t, l.MarkStacked(ctxT(t), id, t0))
			case returned, returnedCompleted:
				must(t, l.MarkReturned(ctxT(t), id, t0))
			}
			if tt.from == returnedCompleted {
				stack(t, l, "s", 2, kiosk.Tenge(500))
				_, err := l.CompleteTopUp(ctxT(t), "s", t0)
				must(t, err)
			}
			err := tt.do(l, id)
			wantErr(t, err, tt.err)
			if errors.Is(err, kiosk.ErrLedgerWrite) {
				t.Fatalf("refusal %v reported as a failed write", err)
			}
			if got := billState(t, l, id); got != tt.state {
				t.Fatalf("bill is %s, want %s", got, tt.state)
			}
		})
	}

	t.Run("unknown bill", func(t *testing.T) {
		l := ledgertest.MustOpen(t)
		wantErr(t, l.MarkStacked(ctxT(t), "nope/1", t0), kiosk.ErrNotFound)
		wantErr(t, l.MarkReturned(ctxT(t), "nope/1", t0), kiosk.ErrNotFound)
	})
}

func TestCompleteTopUp(t *testing.T) {
	l := ledgertest.MustOpen(t)
	ctx := ctxT(t)
	must(t, l.OpenSession(ctx, kiosk.Session{ID: "s", Phone: phone, Offline: true, OpenedAt: t0}))
	wantErr(t, errOf(l.CompleteTopUp(ctx, "s", t0)), kiosk.ErrEmptySession)

	stack(t, l, "s", 1, kiosk.Tenge(2000))
	stack(t, l, "s", 2, kiosk.Tenge(500))
	ret := escrow(t, l, "s", 3, kiosk.Tenge(10000))
	stack(t, l, "s", 4, kiosk.Tenge(2000))
	last := escrow(t, l, "s", 5, kiosk.Tenge(1000))

	// The flow waits until no bill is in flight.
	_, err := l.CompleteTopUp(ctx, "s", t0)
	wantErr(t, err, ledger.ErrBillInFlight)
	if !strings.Contains(err.Error(), "escrow") {
		t.Fatalf("error %q does not say a bill is in escrow", err)
	}
	must(t, l.MarkReturned(ctx, ret, t0))
	must(t, l.MarkStacked(ctx, last, t0))

	done := t0.Add(3 * time.Minute)
	tu, err := l.CompleteTopUp(ctx, "s", done)
	must(t, err)
	want := []kiosk.BillCount{{Value: kiosk.Tenge(500), Count: 1}, {Value: kiosk.Tenge(1000), Count: 1}, {Value: kiosk.Tenge(2000), Count: 2}}
	if !reflect.DeepEqual(tu.Bills, want) {
		t.Fatalf("bills %v, want %v", tu.Bills, want)
	}
	if tu.Amount != kiosk.Tenge(5500) || tu.ReceiptNo != 1 || tu.Sync != kiosk.SyncUnsent ||
		!tu.Offline || tu.Recovered || tu.Phone != phone || tu.SessionID != "s" ||
		!tu.CreatedAt.Equal(t0) || !tu.CompletedAt.Equal(done) || len(tu.ID) != 36 {
		t.Fatalf("top-up %+v", tu)
	}

	again, err := l.CompleteTopUp(ctx, "s", done.Add(time.Hour))
	must(t, err)
	if !reflect.DeepEqual(again, tu) {
		t.Fatalf("completing again gave %+v, want the same top-up %+v", again, tu)
	}
	got, bills, err := l.TopUpByReceipt(ctx, 1)
	must(t, err)
	if !reflect.DeepEqual(got, tu) || len(bills) != 5 {
		t.Fatalf("receipt 1: %+v with %d bills, want %+v with 5", got, len(bills), tu)
	}
	if open, _ := l.PendingRecovery(ctx); open {
		t.Fatal("a completed session is still open")
	}
	wantErr(t, l.CloseSession(ctx, "s", t0), ledger.ErrConflict)
	wantErr(t, errOf(l.CompleteTopUp(ctx, "nope", t0)), kiosk.ErrNotFound)
	wantErr(t, errOf2(l.TopUpByReceipt(ctx, 2)), kiosk.ErrNotFound)
	wantErr(t, errOf2(l.TopUpByID(ctx, "nope")), kiosk.ErrNotFound)
	byID, _, err := l.TopUpByID(ctx, tu.ID)
	must(t, err)
	if byID.ReceiptNo != 1 {
		t.Fatalf("top-up by id: receipt %d", byID.ReceiptNo)
	}
}

func TestCloseSession(t *testing.T) {
	l := ledgertest.MustOpen(t)
	ctx := ctxT(t)
	openSession(t, l, "returned-only")
	id := escrow(t, l, "returned-only", 1, kiosk.Tenge(20000))
	wantErr(t, l.CloseSession(ctx, "returned-only", t0), ledger.ErrBillInFlight)
	must(t, l.MarkReturned(ctx, id, t0))
	wantErr(t, errOf(l.CompleteTopUp(ctx, "returned-only", t0)), kiosk.ErrEmptySession)
	must(t, l.CloseSession(ctx, "returned-only", t0))
	must(t, l.CloseSession(ctx, "returned-only", t0))
	wantErr(t, errOf(l.CompleteTopUp(ctx, "returned-only", t0)), kiosk.ErrEmptySession)

	openSession(t, l, "with-money")
	stack(t, l, "with-money", 1, kiosk.Tenge(1000))
	wantErr(t, l.CloseSession(ctx, "with-money", t0), ledger.ErrConflict)
	wantErr(t, l.CloseSession(ctx, "nope", t0), kiosk.ErrNotFound)
}

func TestTopUpMoneyEqualsStackedBills(t *testing.T) {
	l := ledgertest.MustOpen(t)
	ctx := ctxT(t)
	values := []kiosk.Money{kiosk.Tenge(200), kiosk.Tenge(500), kiosk.Tenge(1000), kiosk.Tenge(2000), kiosk.Tenge(5000), kiosk.Tenge(10000), kiosk.Tenge(20000)}
	var total kiosk.Money
	for s := range 12 {
		id := sid(s)
		openSession(t, l, id)
		// A fixed but uneven mix: some bills returned, some stacked.
		for seq := 1; seq <= 1+s%5; seq++ {
			v := values[(s*7+seq*3)%len(values)]
			b := escrow(t, l, id, seq, v)
			if (s+seq)%3 == 0 {
				must(t, l.MarkReturned(ctx, b, t0))
			} else {
				must(t, l.MarkStacked(ctx, b, t0))
			}
		}
		tu, err := l.CompleteTopUp(ctx, id, t0)
		if errors.Is(err, kiosk.ErrEmptySession) {
			must(t, l.CloseSession(ctx, id, t0))
			continue
		}
		must(t, err)
		_, bills, err := l.TopUpByReceipt(ctx, tu.ReceiptNo)
		must(t, err)
		var stackedSum, countSum kiosk.Money
		for _, b := range bills {
			if b.State == kiosk.BillStacked {
				stackedSum += b.Value
			}
		}
		for _, c := range tu.Bills {
			countSum += c.Value * kiosk.Money(c.Count)
		}
		if tu.Amount != stackedSum || tu.Amount != countSum {
			t.Fatalf("receipt %d: amount %v, stacked bills %v, bill counts %v", tu.ReceiptNo, tu.Amount, stackedSum, countSum)
		}
		total += tu.Amount
	}
	p, err := l.CurrentPeriod(ctx)
	must(t, err)
	q, err := l.Queue(ctx)
	must(t, err)
	if p.Amount != total || q.UnsentAmount != total {
		t.Fatalf("cassette holds %v, unsent %v, top-ups total %v", p.Amount, q.UnsentAmount, total)
	}
}

func errOf[T any](_ T, err error) error { return err }

func errOf2[T, U any](_ T, _ U, err error) error { return err }
