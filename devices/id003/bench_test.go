package id003_test

import (
	"context"
	"database/sql"
	"path/filepath"
	"slices"
	"sync"
	"testing"
	"time"

	_ "modernc.org/sqlite"

	"tolem/devices/id003"
	"tolem/devices/id003/id003test"
	"tolem/kiosk"
)

// BenchmarkEscrowToStack measures how long a bill waits between its ESCROW
// status arriving from the wire and the STACK command leaving for it, with a
// durable write in between: a row committed to a SQLite file in WAL mode with
// synchronous=FULL, standing in for the ledger's "about to stack" record.
//
// The line is a pty, so the figures are the host's software path and the
// fsync. ID-003 puts nothing on the wire between the two points (no ACK of
// an answer, no bus silence), so the floor is zero and the commit lies on
// the path itself; overhead-p50-ms is the driver's own share, the wait minus
// that bill's commit.
func BenchmarkEscrowToStack(b *testing.B) {
	emu, err := id003test.Start(id003test.EmuOptions{AcceptTime: 10 * time.Millisecond,
		StackTime: 20 * time.Millisecond, InitTime: 50 * time.Millisecond})
	if err != nil {
		b.Skipf("cannot start the emulator: %v", err)
	}
	defer emu.Close()

	db, err := sql.Open("sqlite", "file:"+filepath.Join(b.TempDir(), "ledger.db")+
		"?_pragma=journal_mode(WAL)&_pragma=synchronous(FULL)")
	if err != nil {
		b.Fatal(err)
	}
	defer db.Close()
	db.SetMaxOpenConns(1)
	if _, err := db.Exec(`CREATE TABLE bills (id INTEGER PRIMARY KEY, value INTEGER NOT NULL,
		state TEXT NOT NULL, at TEXT NOT NULL)`); err != nil {
		b.Fatal(err)
	}
	var mode string
	if err := db.QueryRow("PRAGMA journal_mode").Scan(&mode); err != nil || mode != "wal" {
		b.Fatalf("journal mode %q, %v; want wal", mode, err)
	}

	// The tap stamps the first ESCROW status of each bill and the STACK that
	// follows it.
	var (
		mu        sync.Mutex
		escrowAt  time.Time
		latencies []time.Duration
	)
	received := func(f id003.Frame) {
		if f.Code() == id003.StEscrow {
			mu.Lock()
			if escrowAt.IsZero() {
				escrowAt = time.Now()
			}
			mu.Unlock()
		}
	}
	sent := func(f id003.Frame) {
		if f.Code() == id003.CmdStack1 {
			mu.Lock()
			if !escrowAt.IsZero() {
				latencies = append(latencies, time.Since(escrowAt))
				escrowAt = time.Time{}
			}
			mu.Unlock()
		}
	}
	dev, err := id003.NewTapped(emu.Path(), &id003.Opts{PollInterval: 100 * time.Millisecond}, sent, received)
	if err != nil {
		b.Fatal(err)
	}
	defer func() {
		dev.Close()
		for range dev.Events() {
		}
	}()
	ctx := context.Background()
	next := func(kind kiosk.AcceptorEventKind) kiosk.AcceptorEvent {
		timeout := time.After(patience)
		for {
			select {
			case e := <-dev.Events():
				if e.Kind == kind {
					return e
				}
			case <-timeout:
				b.Fatalf("no %s event", kind)
			}
		}
	}
	next(kiosk.EventReady)
	if err := dev.Enable(ctx, allBills); err != nil {
		b.Fatal(err)
	}

	var writes []time.Duration
	for b.Loop() {
		for emu.InsertBill(kiosk.Tenge(1000)) != nil {
			time.Sleep(5 * time.Millisecond) // the enable is on its way, or the last bill still shows STACKED
		}
		e := next(kiosk.EventEscrow)
		start := time.Now()
		tx, err := db.Begin()
		if err != nil {
			b.Fatal(err)
		}
		if _, err := tx.Exec(`INSERT INTO bills (value, state, at) VALUES (?, 'escrowed', ?)`,
			int64(e.Value), e.At.Format(time.RFC3339Nano)); err != nil {
			b.Fatal(err)
		}
		if err := tx.Commit(); err != nil {
			b.Fatal(err)
		}
		writes = append(writes, time.Since(start))
		if err := dev.Stack(ctx); err != nil {
			b.Fatal(err)
		}
		next(kiosk.EventStacked)
	}
	b.StopTimer()

	mu.Lock()
	defer mu.Unlock()
	if len(latencies) == 0 || len(latencies) != len(writes) {
		b.Fatalf("%d escrow-to-stack measured for %d bills", len(latencies), len(writes))
	}
	overhead := make([]time.Duration, len(latencies))
	for i := range latencies {
		overhead[i] = latencies[i] - writes[i]
	}
	ms := func(d time.Duration) float64 { return float64(d) / float64(time.Millisecond) }
	b.ReportMetric(ms(percentile(latencies, 50)), "p50-ms")
	b.ReportMetric(ms(percentile(latencies, 99)), "p99-ms")
	b.ReportMetric(ms(percentile(writes, 50)), "commit-p50-ms")
	b.ReportMetric(ms(percentile(writes, 99)), "commit-p99-ms")
	b.ReportMetric(ms(percentile(overhead, 50)), "overhead-p50-ms")
	// At 9600 baud 8E1, 11 bits a byte. Between the two points ID-003 puts
	// nothing on the wire: the floor is 0. The whole exchange's frames (ESCROW
	// status 6 B, STACK 5 B, its ACK 5 B) are given for comparison.
	const byteTime = 11 * time.Second / 9600
	b.ReportMetric(0, "floor-ms")
	b.ReportMetric(ms(16*byteTime), "frames-ms")
	b.ReportMetric(0, "ns/op") // a bill's whole cycle is the emulator's pace, not ours
}

// percentile is the p-th percentile of ds by the nearest-rank method.
func percentile(ds []time.Duration, p int) time.Duration {
	s := slices.Clone(ds)
	slices.Sort(s)
	i := (len(s)*p + 99) / 100
	return s[max(i, 1)-1]
}
