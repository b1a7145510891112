package ledger

import (
	"context"
	"fmt"
	"io"
	"os"
	"path/filepath"
	"sync"
	"testing"
	"time"

	"tolem/kiosk"
)

// The five-year ledger takes minutes to generate, so it is made once and
// kept: $TOLEM_LEDGER_5Y, or tolem-ledger-5y-v1.db in the temporary
// directory. Each benchmark process works on a copy of it.
const fiveYearName = "tolem-ledger-5y-v1.db"

var fiveYearOnce struct {
	sync.Once
	path string
	err  error
}

// fiveYearFile returns the path of the kept five-year ledger, generating it
// when missing.
func fiveYearFile(tb testing.TB) string {
	fiveYearOnce.Do(func() {
		p := os.Getenv("TOLEM_LEDGER_5Y")
		if p == "" {
			p = filepath.Join(os.TempDir(), fiveYearName)
		}
		fiveYearOnce.path = p
		if _, err := os.Stat(p); err == nil {
			return
		}
		tmp := p + ".partial"
		for _, f := range []string{tmp, tmp + "-wal", tmp + "-shm"} {
			_ = os.Remove(f)
		}
		start := time.Now()
		n, err := generateLedger(context.Background(), tmp, fiveYears)
		if err != nil {
			fiveYearOnce.err = fmt.Errorf("generate the five-year ledger: %w", err)
			return
		}
		fmt.Fprintf(os.Stderr, "five-year ledger generated in %v: %+v\n", time.Since(start).Round(time.Second), n)
		fiveYearOnce.err = os.Rename(tmp, p)
	})
	if fiveYearOnce.err != nil {
		tb.Fatal(fiveYearOnce.err)
	}
	return fiveYearOnce.path
}

// copyFile copies a closed ledger file (no -wal left by a clean close).
func copyFile(tb testing.TB, from, to string) {
	src, err := os.Open(from)
	if err != nil {
		tb.Fatal(err)
	}
	defer src.Close()
	dst, err := os.Create(to)
	if err != nil {
		tb.Fatal(err)
	}
	if _, err := io.Copy(dst, src); err != nil {
		tb.Fatal(err)
	}
	if err := dst.Close(); err != nil {
		tb.Fatal(err)
	}
}

// TestGenerateFiveYears makes the kept five-year ledger ahead of the
// benchmarks; it runs only when asked for (TOLEM_GEN_5Y=1).
func TestGenerateFiveYears(t *testing.T) {
	if os.Getenv("TOLEM_GEN_5Y") == "" {
		t.Skip("set TOLEM_GEN_5Y=1 to generate the five-year ledger")
	}
	p := fiveYearFile(t)
	st, err := os.Stat(p)
	if err != nil {
		t.Fatal(err)
	}
	t.Logf("%s: %d bytes", p, st.Size())
}

// sizedLedger is a ledger file for BenchmarkLedgerSize: "first_day", the
// generator's first day (200 top-ups), or "five_years", a copy of the kept
// five-year ledger. The file is closed.
func sizedLedger(b *testing.B, size string) string {
	path := filepath.Join(b.TempDir(), "ledger.db")
	switch size {
	case "first_day":
		o := fiveYears
		o.Days = 1
		if _, err := generateLedger(context.Background(), path, o); err != nil {
			b.Fatal(err)
		}
		// What the five-year ledger's console shows, so that review and
		// log compare the same amount of output: its 25 top-ups in review
		// and more than 50 audit lines.
		l, err := Open(context.Background(), path, Options{})
		if err != nil {
			b.Fatal(err)
		}
		if _, err := l.w.Exec(`UPDATE topups SET sync_state = 'review', sync_note = '422 invalid_phone'
			WHERE receipt_no IN (SELECT receipt_no FROM topups WHERE sync_state = 'credited' ORDER BY receipt_no LIMIT 25)`); err != nil {
			b.Fatal(err)
		}
		for i := range 60 {
			if err := l.Audit(context.Background(), kiosk.AuditEntry{At: o.Start.Add(time.Duration(i) * time.Minute), Actor: "tech-07", Action: "login"}); err != nil {
				b.Fatal(err)
			}
		}
		if err := l.Close(); err != nil {
			b.Fatal(err)
		}
	default:
		copyFile(b, fiveYearFile(b), path)
	}
	// The first open applies the migrations newer than the file, once.
	l, err := Open(context.Background(), path, Options{})
	if err != nil {
		b.Fatal(err)
	}
	if err := l.Close(); err != nil {
		b.Fatal(err)
	}
	return path
}

// BenchmarkLedgerSize runs every per-customer write, the outbox's queries,
// the console's commands and start-up on a kiosk's first-day ledger and on a
// five-year one, side by side. The five-year ledger is generated once (see
// fiveYearFile), minutes; the writes want -benchtime 200x or so.
func BenchmarkLedgerSize(b *testing.B) {
	for _, size := range []string{"first_day", "five_years"} {
		b.Run(size, func(b *testing.B) { benchSized(b, size) })
	}
}

func benchSized(b *testing.B, size string) {
	ctx := context.Background()
	path := sizedLedger(b, size)
	if st, err := os.Stat(path); err == nil {
		b.Logf("%s: %d bytes", size, st.Size())
	}
	now := fiveYears.Start.AddDate(0, 0, fiveYears.Days+1)
	b.Run("start_to_ready", func(b *testing.B) {
		for i := 0; i < b.N; i++ {
			l, err := Open(ctx, path, Options{})
			if err != nil {
				b.Fatal(err)
			}
			if _, err := l.Recover(ctx, nil, now); err != nil {
				b.Fatal(err)
			}
			b.StopTimer()
			if err := l.Close(); err != nil {
				b.Fatal(err)
			}
			b.StartTimer()
		}
	})
	// After a power cut: the file as a clean close left it, and a -wal
	// with the frames of a last write (an audit line, which recovery does
	// not touch) that no checkpoint copied back. Each iteration puts that
	// -wal back: replaying the same frames onto the file gives the same
	// file, which quick_check confirms at the end.
	b.Run("start_to_ready_after_power_cut", func(b *testing.B) {
		l, err := Open(ctx, path, Options{})
		if err != nil {
			b.Fatal(err)
		}
		if err := l.Audit(ctx, kiosk.AuditEntry{At: now, Actor: "tech-07", Action: "login"}); err != nil {
			b.Fatal(err)
		}
		wal, err := os.ReadFile(path + "-wal")
		if err != nil || len(wal) == 0 {
			b.Fatalf("no frames in the -wal (%d bytes): %v", len(wal), err)
		}
		if err := l.Close(); err != nil {
			b.Fatal(err)
		}
		b.ResetTimer()
		for i := 0; i < b.N; i++ {
			b.StopTimer()
			if err := os.WriteFile(path+"-wal", wal, 0o600); err != nil {
				b.Fatal(err)
			}
			_ = os.Remove(path + "-shm")
			b.StartTimer()
			l, err := Open(ctx, path, Options{})
			if err != nil {
				b.Fatal(err)
			}
			if _, err := l.Recover(ctx, nil, now); err != nil {
				b.Fatal(err)
			}
			b.StopTimer()
			if l.Checked() != (size == "first_day") {
				b.Fatalf("%s: checked at open: %v", size, l.Checked())
			}
			if err := l.Close(); err != nil {
				b.Fatal(err)
			}
			b.StartTimer()
		}
		b.StopTimer()
		if _, err := quickCheck(ctx, path); err != nil {
			b.Fatalf("the file after the power cuts: %v", err)
		}
	})
	b.Run("quick_check", func(b *testing.B) {
		for i := 0; i < b.N; i++ {
			if _, err := quickCheck(ctx, path); err != nil {
				b.Fatal(err)
			}
		}
	})

	l, err := Open(ctx, path, Options{})
	if err != nil {
		b.Fatal(err)
	}
	defer l.Close()
	var receipt int64
	if err := l.r.QueryRowContext(ctx, `SELECT MAX(receipt_no) / 2 FROM topups`).Scan(&receipt); err != nil {
		b.Fatal(err)
	}
	session := 0
	newSession := func(b *testing.B) string {
		session++
		id := fmt.Sprintf("bench-%s-%d", b.Name(), session)
		if err := l.OpenSession(ctx, kiosk.Session{ID: id, Phone: "+77011234567", OpenedAt: now}); err != nil {
			b.Fatal(err)
		}
		return id
	}

	// A customer's writes.
	b.Run("RecordEscrow", func(b *testing.B) {
		sid := newSession(b)
		b.ResetTimer()
		for i := 0; i < b.N; i++ {
			if err := l.RecordEscrow(ctx, kiosk.BillRecord{SessionID: sid, Seq: i + 1, Value: kiosk.Tenge(1000), At: now}); err != nil {
				b.Fatal(err)
			}
		}
		b.StopTimer()
		for i := 0; i < b.N; i++ {
			if err := l.MarkReturned(ctx, BillID(sid, i+1), now); err != nil {
				b.Fatal(err)
			}
		}
		if err := l.CloseSession(ctx, sid, now); err != nil {
			b.Fatal(err)
		}
	})
	b.Run("MarkStacked", func(b *testing.B) {
		sid := newSession(b)
		for i := 0; i < b.N; i++ {
			if err := l.RecordEscrow(ctx, kiosk.BillRecord{SessionID: sid, Seq: i + 1, Value: kiosk.Tenge(1000), At: now}); err != nil {
				b.Fatal(err)
			}
		}
		b.ResetTimer()
		for i := 0; i < b.N; i++ {
			if err := l.MarkStacked(ctx, BillID(sid, i+1), now); err != nil {
				b.Fatal(err)
			}
		}
		b.StopTimer()
		t, err := l.CompleteTopUp(ctx, sid, now)
		if err != nil {
			b.Fatal(err)
		}
		if err := l.UpdateSync(ctx, t.ID, kiosk.SyncCredited, "", time.Time{}, now); err != nil {
			b.Fatal(err)
		}
	})
	b.Run("CompleteTopUp", func(b *testing.B) {
		var done []kiosk.SyncUpdate
		defer func() {
			// Credited, so that the queue the console and the outbox read
			// stays a real one (a handful), not the benchmark's thousands.
			if err := l.UpdateSyncs(ctx, done); err != nil {
				b.Fatal(err)
			}
		}()
		for i := 0; i < b.N; i++ {
			b.StopTimer()
			sid := newSession(b)
			for seq := 1; seq <= 3; seq++ {
				if err := l.RecordEscrow(ctx, kiosk.BillRecord{SessionID: sid, Seq: seq, Value: kiosk.Tenge(2000), At: now}); err != nil {
					b.Fatal(err)
				}
				if err := l.MarkStacked(ctx, BillID(sid, seq), now); err != nil {
					b.Fatal(err)
				}
			}
			b.StartTimer()
			t, err := l.CompleteTopUp(ctx, sid, now)
			if err != nil {
				b.Fatal(err)
			}
			done = append(done, kiosk.SyncUpdate{ID: t.ID, State: kiosk.SyncCredited, At: now})
		}
	})

	// The outbox.
	b.Run("DueTopUps", func(b *testing.B) {
		for i := 0; i < b.N; i++ {
			if _, err := l.DueTopUps(ctx, now, 100); err != nil {
				b.Fatal(err)
			}
		}
	})
	b.Run("DueCollections", func(b *testing.B) {
		for i := 0; i < b.N; i++ {
			if _, err := l.DueCollections(ctx, now, 10); err != nil {
				b.Fatal(err)
			}
		}
	})
	b.Run("ChainHead", func(b *testing.B) {
		for i := 0; i < b.N; i++ {
			if _, err := l.ChainHead(ctx); err != nil {
				b.Fatal(err)
			}
		}
	})

	// The console: what each command asks of the ledger (cmd/kioskd's
	// console backend).
	b.Run("status", func(b *testing.B) {
		for i := 0; i < b.N; i++ {
			if _, err := l.CurrentPeriod(ctx); err != nil {
				b.Fatal(err)
			}
			if _, err := l.Queue(ctx); err != nil {
				b.Fatal(err)
			}
			if _, err := l.RecoveredTopUps(ctx, 5); err != nil {
				b.Fatal(err)
			}
		}
	})
	b.Run("queue", func(b *testing.B) {
		for i := 0; i < b.N; i++ {
			if _, err := l.Queue(ctx); err != nil {
				b.Fatal(err)
			}
			ts, err := l.TopUpsBySync(ctx, kiosk.SyncUnsent, kiosk.SyncPending)
			if err != nil {
				b.Fatal(err)
			}
			for _, t := range ts[:min(20, len(ts))] {
				if _, err := l.Delivery(ctx, t.ID); err != nil {
					b.Fatal(err)
				}
			}
		}
	})
	b.Run("review", func(b *testing.B) {
		for i := 0; i < b.N; i++ {
			if _, err := l.ReviewList(ctx); err != nil {
				b.Fatal(err)
			}
			if _, err := l.UncertainSessions(ctx); err != nil {
				b.Fatal(err)
			}
		}
	})
	b.Run("txn", func(b *testing.B) {
		for i := 0; i < b.N; i++ {
			t, _, err := l.TopUpByReceipt(ctx, receipt)
			if err != nil {
				b.Fatal(err)
			}
			if _, err := l.Delivery(ctx, t.ID); err != nil {
				b.Fatal(err)
			}
		}
	})
	b.Run("log_50", func(b *testing.B) {
		for i := 0; i < b.N; i++ {
			if _, err := l.AuditTail(ctx, 50); err != nil {
				b.Fatal(err)
			}
		}
	})
	b.Run("collect", func(b *testing.B) {
		for i := 0; i < b.N; i++ {
			if _, err := l.CurrentPeriod(ctx); err != nil {
				b.Fatal(err)
			}
			if _, err := l.CloseCollection(ctx, fmt.Sprintf("BENCH-%d", i), now); err != nil {
				b.Fatal(err)
			}
		}
	})
	b.Run("recover", func(b *testing.B) {
		for i := 0; i < b.N; i++ {
			if _, err := l.Recover(ctx, nil, now.Add(time.Duration(i)*time.Second)); err != nil {
				b.Fatal(err)
			}
		}
	})
}
