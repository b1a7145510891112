package ledger_test

import (
	"bytes"
	"database/sql"
	"errors"
	"os"
	"path/filepath"
	"reflect"
	"slices"
	"strings"
	"sync"
	"testing"
	"time"

	"tolem/kiosk"
	"tolem/kiosk/ledger"
	"tolem/kiosk/ledger/ledgertest"
)

func dirNames(t *testing.T, dir string) []string {
	t.Helper()
	entries, err := os.ReadDir(dir)
	must(t, err)
	var names []string
	for _, e := range entries {
		names = append(names, e.Name())
	}
	return names
}

func TestOpenRefusesCorruptFile(t *testing.T) {
	tests := []struct {
		name  string
		spoil func(db []byte)
	}{
		{"garbage in table pages", func(db []byte) {
			for i := 4096; i < len(db); i++ {
				db[i] = byte(i*7) ^ 0xa5
			}
		}},
		{"garbage in the header", func(db []byte) {
			copy(db, bytes.Repeat([]byte{0x5a}, 100))
		}},
		{"rows out of order", func(db []byte) {
			// Swap the first two cells of every table leaf page: each page is
			// still well-formed, but its rowids are out of order, which only
			// quick_check notices.
			for p := 4096; p+12 < len(db); p += 4096 {
				if db[p] == 0x0d && (db[p+3] > 0 || db[p+4] >= 2) {
					db[p+8], db[p+9], db[p+10], db[p+11] = db[p+10], db[p+11], db[p+8], db[p+9]
				}
			}
		}},
		{"a page's cell pointers overwritten", func(db []byte) {
			// The b-tree page header stays plausible; the cells it points to do not.
			for p := 4096; p+64 < len(db); p += 4096 {
				copy(db[p+8:p+40], bytes.Repeat([]byte{0x0f, 0xf0}, 16))
			}
		}},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			dir := t.TempDir()
			path := filepath.Join(dir, "ledger.db")
			l, err := ledger.Open(ctxT(t), path, ledger.Options{})
			must(t, err)
			for i := range 20 {
				topUpWith(t, l, sid(i), kiosk.Tenge(1000), kiosk.Tenge(2000))
			}
			must(t, l.Close())

			db, err := os.ReadFile(path)
			must(t, err)
			if len(db) < 8*4096 {
				t.Fatalf("test database too small: %d bytes", len(db))
			}
			tt.spoil(db)
			must(t, os.WriteFile(path, db, 0o600))
			before := dirNames(t, dir)

			_, err = ledger.Open(ctxT(t), path, ledger.Options{})
			if !errors.Is(err, ledger.ErrCorrupt) {
				t.Fatalf("open of a damaged file: %v, want ErrCorrupt", err)
			}
			if errors.Is(err, kiosk.ErrLedgerWrite) || !strings.Contains(err.Error(), "untouched") {
				t.Fatalf("error %q should say the file was left untouched", err)
			}
			after, err := os.ReadFile(path)
			must(t, err)
			if !bytes.Equal(after, db) {
				t.Fatal("the damaged file was modified")
			}
			if got := dirNames(t, dir); !reflect.DeepEqual(got, before) {
				t.Fatalf("files %v after the refused open, want %v", got, before)
			}
		})
	}
}

func TestOpenNeedsDirectory(t *testing.T) {
	_, err := ledger.Open(ctxT(t), filepath.Join(t.TempDir(), "missing", "ledger.db"), ledger.Options{})
	if err == nil || !strings.Contains(err.Error(), "create it") {
		t.Fatalf("open in a missing directory: %v", err)
	}
}

func TestFullDisk(t *testing.T) {
	dir := t.TempDir()
	path := filepath.Join(dir, "ledger.db")
	ctx := ctxT(t)
	// Room for 80 stacked bills, their chain entries and the space reserve.
	l, err := ledger.Open(ctx, path, ledger.Options{MaxBytes: 320 << 10})
	must(t, err)
	const sessions = 80
	for i := range sessions {
		openSession(t, l, sid(i))
		stack(t, l, sid(i), 1, kiosk.Tenge(1000))
	}
	openSession(t, l, "bills")

	// Fill the file up to its cap.
	filler := strings.Repeat("x", 1500)
	var full error
	for i := 0; i < 1000 && full == nil; i++ {
		full = l.Audit(ctx, kiosk.AuditEntry{At: t0, Action: "fill", Detail: filler})
	}
	if !errors.Is(full, kiosk.ErrLedgerWrite) || !strings.Contains(full.Error(), "full") {
		t.Fatalf("filling the ledger: %v, want ErrLedgerWrite saying the disk is full", full)
	}

	// Complete top-ups until one no longer fits: that one leaves no trace.
	completed := 0
	var failed error
	for completed < sessions {
		if _, failed = l.CompleteTopUp(ctx, sid(completed), t0); failed != nil {
			break
		}
		completed++
	}
	if !errors.Is(failed, kiosk.ErrLedgerWrite) || !strings.Contains(failed.Error(), "free space") {
		t.Fatalf("top-up on a full disk: %v, want ErrLedgerWrite telling what to do", failed)
	}
	all, err := l.TopUpsBySync(ctx)
	must(t, err)
	for i, tu := range all {
		if tu.ReceiptNo != int64(i+1) || tu.SessionID != sid(i) {
			t.Fatalf("top-up %d: %+v", i, tu)
		}
	}
	if len(all) != completed {
		t.Fatalf("%d top-ups recorded, %d completed", len(all), completed)
	}
	if q, _ := l.Queue(ctx); q.Unsent != completed {
		t.Fatalf("queue %+v after %d top-ups", q, completed)
	}

	// Bills too: the one that does not fit is not recorded at all.
	var recorded int
	var escrowErr error
	for recorded < 1000 {
		if escrowErr = l.RecordEscrow(ctx, kiosk.BillRecord{SessionID: "bills", Seq: recorded + 1, Value: kiosk.Tenge(500)}); escrowErr != nil {
			break
		}
		recorded++
	}
	wantErr(t, escrowErr, kiosk.ErrLedgerWrite)
	wantErr(t, errOf(l.Bill(ctx, ledger.BillID("bills", recorded+1))), kiosk.ErrNotFound)
	if recorded > 0 {
		must(t, errOf(l.Bill(ctx, ledger.BillID("bills", recorded))))
	}
	must(t, l.Close())

	// Space freed: the session the full disk refused completes with the next number.
	l = ledgertest.MustOpenPath(t, path, ledger.Options{})
	tu, err := l.CompleteTopUp(ctx, sid(completed), t0)
	must(t, err)
	if tu.ReceiptNo != int64(completed+1) || tu.Amount != kiosk.Tenge(1000) {
		t.Fatalf("top-up after the disk was freed: %+v, want receipt %d", tu, completed+1)
	}
}

func TestConcurrentReadsWhileWriting(t *testing.T) {
	l := ledgertest.MustOpenOptions(t, ledger.Options{ReadConns: 3})
	ctx := ctxT(t)
	const n = 60
	done := make(chan struct{})
	var wg sync.WaitGroup
	errs := make(chan error, 8)
	wg.Go(func() {
		defer close(done)
		for i := range n {
			s := sid(i)
			if err := l.OpenSession(ctx, kiosk.Session{ID: s, Phone: phone, OpenedAt: t0}); err != nil {
				errs <- err
				return
			}
			for seq := 1; seq <= 2; seq++ {
				id := ledger.BillID(s, seq)
				if err := l.RecordEscrow(ctx, kiosk.BillRecord{ID: id, SessionID: s, Seq: seq, Value: kiosk.Tenge(1000)}); err != nil {
					errs <- err
					return
				}
				if err := l.MarkStacked(ctx, id, t0); err != nil {
					errs <- err
					return
				}
			}
			if _, err := l.CompleteTopUp(ctx, s, t0); err != nil {
				errs <- err
				return
			}
		}
	})
	for range 4 {
		wg.Go(func() {
			lastTopUps := 0
			for {
				select {
				case <-done:
					return
				default:
				}
				p, err := l.CurrentPeriod(ctx)
				if err != nil {
					errs <- err
					return
				}
				// Each read sees one committed state: counts agree with each other.
				sum := 0
				for _, b := range p.Bills {
					sum += b.Count
				}
				if sum != p.Count || p.Amount != kiosk.Tenge(1000)*kiosk.Money(p.Count) || p.TopUps*2 > p.Count || p.TopUps < lastTopUps {
					errs <- errors.New("inconsistent read of the cassette period")
					return
				}
				lastTopUps = p.TopUps
				q, err := l.Queue(ctx)
				if err != nil {
					errs <- err
					return
				}
				if q.UnsentAmount != kiosk.Tenge(2000)*kiosk.Money(q.Unsent) {
					errs <- errors.New("inconsistent read of the queue")
					return
				}
			}
		})
	}
	wg.Wait()
	close(errs)
	for err := range errs {
		t.Fatal(err)
	}
	q, err := l.Queue(ctx)
	must(t, err)
	if q.Unsent != n {
		t.Fatalf("queue %+v, want %d unsent", q, n)
	}
}

func TestReopenKeepsEverything(t *testing.T) {
	path := filepath.Join(t.TempDir(), "ledger.db")
	l, err := ledger.Open(ctxT(t), path, ledger.Options{})
	must(t, err)
	tu := topUpWith(t, l, "s1", kiosk.Tenge(1000))
	openSession(t, l, "s2")
	escrow(t, l, "s2", 1, kiosk.Tenge(2000))
	p1, _ := l.CurrentPeriod(ctxT(t))
	must(t, l.Close())
	must(t, l.Close())

	l = ledgertest.MustOpenPath(t, path, ledger.Options{Clock: &fakeClock{now: t0.Add(time.Hour)}})
	got, _, err := l.TopUpByReceipt(ctxT(t), 1)
	must(t, err)
	p2, _ := l.CurrentPeriod(ctxT(t))
	pending, _ := l.PendingRecovery(ctxT(t))
	if !reflect.DeepEqual(got, tu) || !reflect.DeepEqual(p1, p2) || !pending {
		t.Fatalf("after reopen: %+v, %+v (was %+v), pending %v", got, p2, p1, pending)
	}
	if names := dirNames(t, filepath.Dir(path)); !slices.Contains(names, "ledger.db") {
		t.Fatalf("files %v", names)
	}
}

// TestOpenAfterPowerCut opens a copy of the files taken while the ledger was
// running, as a power cut leaves them: the WAL not yet checkpointed.
func TestOpenAfterPowerCut(t *testing.T) {
	src := filepath.Join(t.TempDir(), "ledger.db")
	l := ledgertest.MustOpenPath(t, src, ledger.Options{})
	tu := topUpWith(t, l, "s1", kiosk.Tenge(1000), kiosk.Tenge(5000))
	openSession(t, l, "s2")
	stack(t, l, "s2", 1, kiosk.Tenge(2000))
	escrow(t, l, "s2", 2, kiosk.Tenge(500))

	dst := filepath.Join(t.TempDir(), "ledger.db")
	for _, suffix := range []string{"", "-wal"} {
		b, err := os.ReadFile(src + suffix)
		must(t, err)
		if suffix == "-wal" && len(b) == 0 {
			t.Fatal("nothing in the WAL: the test does not simulate a power cut")
		}
		must(t, os.WriteFile(dst+suffix, b, 0o600))
	}

	c := ledgertest.MustOpenPath(t, dst, ledger.Options{})
	ctx := ctxT(t)
	got, _, err := c.TopUpByReceipt(ctx, 1)
	must(t, err)
	if !reflect.DeepEqual(got, tu) {
		t.Fatalf("top-up after the power cut %+v, want %+v", got, tu)
	}
	rep, err := c.Recover(ctx, &kiosk.PowerUpReport{BillAt: kiosk.BillInStacker, Value: kiosk.Tenge(500)}, t0.Add(time.Hour))
	must(t, err)
	if len(rep.TopUps) != 1 || rep.TopUps[0].Amount != kiosk.Tenge(2500) || rep.TopUps[0].ReceiptNo != 2 {
		t.Fatalf("recovery %+v, want receipt 2 of 2 500 ₸", rep)
	}
}

// A healthy big ledger passes the background check and is not damaged.
func TestBigLedgerBackgroundCheckPasses(t *testing.T) {
	ctx := ctxT(t)
	l := ledgertest.MustOpenOptions(t, ledger.Options{CheckBelow: 1})
	topUpWith(t, l, "s1", kiosk.Tenge(1000))
	must(t, l.QuickCheck(ctx))
	if l.Damaged() != nil {
		t.Fatalf("Damaged = %v after a passed check", l.Damaged())
	}
}

// A ledger above CheckBelow is not checked at Open, after a clean shutdown
// or a power cut alike; the caller's check in the background finds what
// quick_check at Open would have found, and Damaged keeps saying so.
func TestBigLedgerCheckedInTheBackground(t *testing.T) {
	ctx := ctxT(t)
	dir := t.TempDir()
	path := filepath.Join(dir, "ledger.db")
	big := ledger.Options{CheckBelow: 1}
	l, err := ledger.Open(ctx, path, big)
	must(t, err)
	for i := range 20 {
		topUpWith(t, l, sid(i), kiosk.Tenge(1000), kiosk.Tenge(2000))
	}
	// Most of it in the file, the last top-up in the WAL.
	db, err := sql.Open("sqlite", "file:"+path)
	must(t, err)
	_, err = db.Exec("PRAGMA wal_checkpoint(TRUNCATE)")
	must(t, err)
	must(t, db.Close())
	topUpWith(t, l, sid(20), kiosk.Tenge(500))
	// A power cut now leaves the file with its -wal: copy both as they are.
	cut := t.TempDir()
	for _, f := range []string{"ledger.db", "ledger.db-wal"} {
		b, err := os.ReadFile(filepath.Join(dir, f))
		must(t, err)
		if f == "ledger.db-wal" && len(b) == 0 {
			t.Fatal("nothing in the WAL: the test does not simulate a power cut")
		}
		must(t, os.WriteFile(filepath.Join(cut, f), b, 0o600))
	}
	must(t, l.Close())

	// Damage only quick_check sees, in one page of rows, as a card that
	// lost a write would leave it: the file's last such page (the chain's
	// or the bills'), or the first from the middle on (older rows, which the
	// WAL of the power cut holds no newer copy of).
	spoil := func(path string, last bool) {
		db, err := os.ReadFile(path)
		must(t, err)
		pages := len(db) / 4096
		for i := 1; i < pages/2; i++ {
			p := (pages/2 + i) * 4096
			if last {
				p = (pages - i) * 4096
			}
			if db[p] == 0x0d && (db[p+3] > 0 || db[p+4] >= 2) {
				db[p+8], db[p+9], db[p+10], db[p+11] = db[p+10], db[p+11], db[p+8], db[p+9]
				must(t, os.WriteFile(path, db, 0o600))
				return
			}
		}
		t.Fatal("no table leaf page with two cells to swap")
	}
	spoil(filepath.Join(cut, "ledger.db"), false)
	l, err = ledger.Open(ctx, filepath.Join(cut, "ledger.db"), big)
	must(t, err)
	if l.Checked() {
		t.Error("a big ledger after a power cut was checked at open")
	}
	if l.Damaged() != nil {
		t.Errorf("damage known before any check: %v", l.Damaged())
	}
	if err := l.QuickCheck(ctx); !errors.Is(err, ledger.ErrCorrupt) {
		t.Fatalf("background check of a damaged file after a power cut: %v, want ErrCorrupt", err)
	}
	if err := l.Damaged(); !errors.Is(err, ledger.ErrCorrupt) || !strings.Contains(err.Error(), "replace the card") {
		t.Errorf("Damaged after a failed check: %v, want ErrCorrupt saying what to do", err)
	}
	must(t, l.Close())

	// After a clean close, the same damage.
	spoil(path, true)
	l, err = ledger.Open(ctx, path, big)
	must(t, err)
	defer l.Close()
	if l.Checked() {
		t.Error("a big ledger after a clean shutdown was checked at open")
	}
	if err := l.QuickCheck(ctx); !errors.Is(err, ledger.ErrCorrupt) {
		t.Fatalf("background check of a damaged file: %v, want ErrCorrupt", err)
	}
	if err := ledger.IntegrityCheckFile(ctx, path); !errors.Is(err, ledger.ErrCorrupt) {
		t.Fatalf("integrity check of a damaged file: %v, want ErrCorrupt", err)
	}
}
