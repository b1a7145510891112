package ledger_test

import (
	"testing"

	"tolem/kiosk"
	"tolem/kiosk/ledger"
	"tolem/kiosk/ledger/ledgertest"
)

// BenchmarkRecordEscrow measures the durable write the flow makes before it
// tells the acceptor to STACK: the customer waits on it with a bill in the
// slot. Each iteration is one committed, fsynced transaction.
func BenchmarkRecordEscrow(b *testing.B) {
	l := ledgertest.MustOpen(b)
	ctx := ctxT(b)
	openSession(b, l, "s")
	b.ResetTimer()
	for i := 0; i < b.N; i++ {
		if err := l.RecordEscrow(ctx, kiosk.BillRecord{SessionID: "s", Seq: i + 1, Value: kiosk.Tenge(1000), At: t0}); err != nil {
			b.Fatal(err)
		}
	}
}

// BenchmarkCompleteTopUp measures PAY to `done`: the top-up of a session of
// three stacked bills, with its receipt number.
func BenchmarkCompleteTopUp(b *testing.B) {
	l := ledgertest.MustOpenOptions(b, ledger.Options{})
	ctx := ctxT(b)
	for i := 0; i < b.N; i++ {
		openSession(b, l, sid(i))
		for seq := 1; seq <= 3; seq++ {
			stack(b, l, sid(i), seq, kiosk.Tenge(2000))
		}
	}
	b.ResetTimer()
	for i := 0; i < b.N; i++ {
		if _, err := l.CompleteTopUp(ctx, sid(i), t0); err != nil {
			b.Fatal(err)
		}
	}
}
