package ledger_test

import (
	"path/filepath"
	"testing"

	"tolem/internal/testfs/lazyfs"
	"tolem/kiosk"
	"tolem/kiosk/ledger"
)

// TestLedgerSurvivesAPowerCut runs the ledger on a file system that loses
// whatever was not fsynced when the power goes (internal/testfs/lazyfs): a
// new ledger.db, its -wal created on the way, a completed top-up, the
// console's lockout settings, and a session left open with a bill in
// escrow. After the cut the ledger opens cleanly (quick_check), and every
// write that returned is there: the top-up unsent, the lockout, the open
// session for recovery to settle.
func TestLedgerSurvivesAPowerCut(t *testing.T) {
	modes := []struct {
		name string
		opts *lazyfs.Options
	}{
		{"plain", nil},
		{"torn", &lazyfs.Options{Torn: true, Seed: 3}},
		{"reorder", &lazyfs.Options{Reorder: true, Seed: 3}},
		{"eager-names", &lazyfs.Options{EagerNames: true}},
		{"all", &lazyfs.Options{Torn: true, Reorder: true, EagerNames: true, Seed: 5}},
	}
	for _, mode := range modes {
		t.Run(mode.name, func(t *testing.T) {
			ctx := ctxT(t)
			back := t.TempDir()
			lfs := lazyfs.Mount(t, back, mode.opts)
			l, err := ledger.Open(ctx, filepath.Join(lfs.Dir(), "ledger.db"), ledger.Options{})
			must(t, err)
			must(t, l.OpenSession(ctx, kiosk.Session{ID: "paid", Phone: phone, OpenedAt: t0}))
			must(t, l.RecordEscrow(ctx, kiosk.BillRecord{SessionID: "paid", Seq: 1, Value: kiosk.Tenge(5000), At: t0}))
			must(t, l.MarkStacked(ctx, ledger.BillID("paid", 1), t0))
			tu, err := l.CompleteTopUp(ctx, "paid", t0)
			must(t, err)
			// The console keeps its count of wrong PINs and its lock here.
			must(t, l.SetSetting(ctx, "console.failed_pins", "5"))
			must(t, l.SetSetting(ctx, "console.locked_until", "2025-03-01T04:30:00Z"))
			must(t, l.OpenSession(ctx, kiosk.Session{ID: "open", Phone: phone, OpenedAt: t0}))
			must(t, l.RecordEscrow(ctx, kiosk.BillRecord{SessionID: "open", Seq: 1, Value: kiosk.Tenge(2000), At: t0}))

			lfs.Cut() // kioskd never closed the ledger
			_ = l.Close()

			again := lazyfs.Mount(t, back, nil)
			l, err = ledger.Open(ctx, filepath.Join(again.Dir(), "ledger.db"), ledger.Options{})
			if err != nil {
				t.Fatalf("the ledger does not open after the cut: %v", err)
			}
			defer l.Close()
			q, err := l.Queue(ctx)
			must(t, err)
			if q.Unsent != 1 || q.UnsentAmount != tu.Amount {
				t.Errorf("queue after the cut: %+v, want the one top-up of %v unsent", q, tu.Amount)
			}
			if v, ok, err := l.Setting(ctx, "console.failed_pins"); err != nil || !ok || v != "5" {
				t.Errorf("console.failed_pins after the cut: %q %v %v, want 5", v, ok, err)
			}
			if v, _, _ := l.Setting(ctx, "console.locked_until"); v != "2025-03-01T04:30:00Z" {
				t.Errorf("console.locked_until after the cut: %q", v)
			}
			pending, err := l.PendingRecovery(ctx)
			must(t, err)
			if !pending {
				t.Fatal("the session open at the cut is gone")
			}
			rep, err := l.Recover(ctx, nil, t0)
			must(t, err)
			if rep.Uncertain != 1 {
				t.Errorf("recovery after the cut: %+v, want the escrowed bill uncertain", rep)
			}
		})
	}
}

// A clean close checkpoints the WAL and unlinks it without syncing the
// directory, so a cut can bring the old -wal back; the next open recreates
// it. Neither loses a top-up or trips the open.
func TestLedgerSurvivesACutAfterACleanCloseAndReopen(t *testing.T) {
	ctx := ctxT(t)
	back := t.TempDir()
	lfs := lazyfs.Mount(t, back, &lazyfs.Options{Torn: true, Reorder: true, Seed: 1})
	path := filepath.Join(lfs.Dir(), "ledger.db")
	topUp := func(l *ledger.Ledger, id string) {
		t.Helper()
		must(t, l.OpenSession(ctx, kiosk.Session{ID: id, Phone: phone, OpenedAt: t0}))
		must(t, l.RecordEscrow(ctx, kiosk.BillRecord{SessionID: id, Seq: 1, Value: kiosk.Tenge(1000), At: t0}))
		must(t, l.MarkStacked(ctx, ledger.BillID(id, 1), t0))
		_, err := l.CompleteTopUp(ctx, id, t0)
		must(t, err)
	}
	l, err := ledger.Open(ctx, path, ledger.Options{})
	must(t, err)
	topUp(l, "a")
	must(t, l.Close())
	l, err = ledger.Open(ctx, path, ledger.Options{})
	must(t, err)
	topUp(l, "b")
	must(t, l.Close())
	lfs.Cut()

	lfs = lazyfs.Mount(t, back, &lazyfs.Options{Torn: true, Reorder: true, Seed: 2})
	path = filepath.Join(lfs.Dir(), "ledger.db")
	l, err = ledger.Open(ctx, path, ledger.Options{})
	if err != nil {
		t.Fatalf("the ledger does not open after a cut following a clean close: %v", err)
	}
	topUp(l, "c")
	lfs.Cut()
	_ = l.Close()

	again := lazyfs.Mount(t, back, nil)
	l, err = ledger.Open(ctx, filepath.Join(again.Dir(), "ledger.db"), ledger.Options{})
	if err != nil {
		t.Fatalf("the ledger does not open after the second cut: %v", err)
	}
	defer l.Close()
	q, err := l.Queue(ctx)
	must(t, err)
	if q.Unsent != 3 || q.UnsentAmount != kiosk.Tenge(3000) {
		t.Errorf("queue after two cuts: %+v, want the 3 top-ups of 1000 ₸ unsent", q)
	}
}
