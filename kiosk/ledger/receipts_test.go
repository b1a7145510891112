package ledger_test

import (
	"testing"
	"time"

	"tolem/kiosk/ledger"
	"tolem/kiosk/ledger/ledgertest"
)

// A receipt's state survives a reopen, so a restart never prints a printed
// receipt again, and only receipts whose printing never started, completed
// recently, are listed for printing at start.
func TestReceiptPrintedOnceAcrossRestart(t *testing.T) {
	path := t.TempDir() + "/ledger.db"
	l := ledgertest.MustOpenPath(t, path, ledger.Options{})
	a := topUpWith(t, l, sid(1), 100_000)
	b := topUpWith(t, l, sid(2), 200_000)
	c := topUpWith(t, l, sid(3), 500_000)
	must(t, l.RecordReceipt(ctxT(t), a.ID, "printed", "", t0))
	must(t, l.RecordReceipt(ctxT(t), c.ID, "skipped", "printer not ready", t0))
	must(t, l.Close())

	l = ledgertest.MustOpenPath(t, path, ledger.Options{})
	st, err := l.ReceiptState(ctxT(t), a.ID)
	must(t, err)
	if st != "printed" {
		t.Fatalf("state after reopen %q, want printed", st)
	}
	un, err := l.Unprinted(ctxT(t), t0)
	must(t, err)
	if len(un) != 1 || un[0].ID != b.ID {
		t.Fatalf("unprinted %+v, want only receipt %d", un, b.ReceiptNo)
	}
	if len(un[0].Bills) != 1 || un[0].Bills[0].Count != 1 {
		t.Fatalf("unprinted top-up without its bills: %+v", un[0])
	}
	un, err = l.Unprinted(ctxT(t), t0.Add(time.Hour))
	must(t, err)
	if len(un) != 0 {
		t.Fatalf("an old top-up listed for printing: %+v", un)
	}

	// A skipped receipt stays skipped; a failed one printed later becomes
	// printed; copies are counted.
	must(t, l.RecordReceipt(ctxT(t), c.ID, "failed", "x", t0))
	if st, _ := l.ReceiptState(ctxT(t), c.ID); st != "skipped" {
		t.Fatalf("skipped receipt became %q", st)
	}
	must(t, l.RecordCopy(ctxT(t), c.ID, t0))
	must(t, l.RecordCopy(ctxT(t), c.ID, t0))
	if n, _ := l.ReceiptCopies(ctxT(t), c.ID); n != 2 {
		t.Fatalf("copies %d, want 2", n)
	}
	if err := l.RecordReceipt(ctxT(t), a.ID, "lost", "", t0); err == nil {
		t.Fatal("an unknown receipt state was recorded")
	}
}
