package ccnet_test

import (
	"context"
	"database/sql"
	"path/filepath"
	"slices"
	"sync"
	"testing"
	"time"

	_ "modernc.org/sqlite"

	"tolem/devices/ccnet"
	"tolem/devices/ccnet/ccnettest"
	"tolem/kiosk"
)

// BenchmarkEscrowToStack measures how long a bill waits between its ESCROW
// answer arriving from the wire and the STACK command leaving for it, with a
// durable write in between: a row committed to a SQLite file in WAL mode with
// synchronous=FULL, standing in for the ledger's "about to stack" record.
//
// The line is a pty, so the figures are the host's software path, the fsync
// and the bus's mandatory 20 ms of silence after the ACK; the frames' own time
// at 9600 baud is reported beside them for comparison.
func BenchmarkEscrowToStack(b *testing.B) {
	emu, err := ccnettest.Start(ccnettest.EmuOptions{AcceptTime: 10 * time.Millisecond,
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

	// The tap stamps the first ESCROW answer of each bill and the STACK that
	// follows it.
	var (
		mu        sync.Mutex
		escrowAt  time.Time
		latencies []time.Duration
	)
	received := func(f ccnet.Frame) {
		if f.Code() == ccnet.EvEscrow && len(f.Data) == 2 {
			mu.Lock()
			if escrowAt.IsZero() {
				escrowAt = time.Now()
			}
			mu.Unlock()
		}
	}
	sent := func(f ccnet.Frame) {
		if f.Code() == ccnet.CmdStack {
			mu.Lock()
			if !escrowAt.IsZero() {
				latencies = append(latencies, time.Since(escrowAt))
				escrowAt = time.Time{}
			}
			mu.Unlock()
		}
	}
	dev, err := ccnet.NewTapped(emu.Path(), &ccnet.Opts{PollInterval: 100 * time.Millisecond}, sent, received)
	if err != nil {
		b.Fatal(err)
	}
	defer dev.Close()
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
			time.Sleep(5 * time.Millisecond) // the ENABLE is on its way
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
	if len(latencies) == 0 {
		b.Fatal("no escrow-to-stack measured")
	}
	ms := func(d time.Duration) float64 { return float64(d) / float64(time.Millisecond) }
	b.ReportMetric(ms(percentile(latencies, 50)), "p50-ms")
	b.ReportMetric(ms(percentile(latencies, 99)), "p99-ms")
	b.ReportMetric(ms(percentile(writes, 50)), "commit-p50-ms")
	b.ReportMetric(ms(percentile(writes, 99)), "commit-p99-ms")
	// At 9600 baud, 10 bits a byte. Between the two points lie our ACK of the
	// ESCROW answer (6 bytes) and the 20 ms t-free after it: the least any
	// controller keeping the bus timing can do. The whole exchange's frames
	// (ESCROW answer 7, ACK 6, STACK 6 bytes) are given for comparison.
	const byteTime = 10 * time.Second / 9600
	b.ReportMetric(ms(6*byteTime+20*time.Millisecond), "floor-ms")
	b.ReportMetric(ms(19*byteTime), "frames-ms")
	b.ReportMetric(0, "ns/op") // a bill's whole cycle is the emulator's pace, not ours
}

// percentile is the p-th percentile of ds by the nearest-rank method.
func percentile(ds []time.Duration, p int) time.Duration {
	s := slices.Clone(ds)
	slices.Sort(s)
	i := (len(s)*p + 99) / 100
	return s[max(i, 1)-1]
}
