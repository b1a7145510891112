package main

import (
	"context"
	"net"
	"os"
	"path/filepath"
	"sync"
	"testing"
	"time"

	"tolem/kiosk/ledger"
	"tolem/kiosk/ledger/ledgertest"
	"tolem/sync/bankapi/banksim"
	"tolem/sync/outbox"
)

// drainTopUps is the queue of BenchmarkOutboxDrain: a kiosk that was
// offline for a long weekend at a busy shop.
const drainTopUps = 10_000

// drainLatency is the bank's answer time over a mobile link: every request
// waits this long, whatever it carries.
const drainLatency = 20 * time.Millisecond

var (
	drainOnce sync.Once
	drainDir  string
	drainErr  error
)

// ramDir is a directory on tmpfs when there is one: fsync there costs
// nothing, so filling 10 000 top-ups (40 000 transactions) takes seconds,
// and the sandbox's own commits do not compete with the kiosk's ledger for
// the disk the figures are about.
func ramDir(pattern string) (string, error) {
	if st, err := os.Stat("/dev/shm"); err == nil && st.IsDir() {
		if d, err := os.MkdirTemp("/dev/shm", pattern); err == nil {
			return d, nil
		}
	}
	return os.MkdirTemp("", pattern)
}

// drainLedger copies a ledger holding drainTopUps completed, unsent top-ups
// into dir. The file is made once per test binary.
func drainLedger(b *testing.B, dir string) string {
	b.Helper()
	drainOnce.Do(func() {
		drainDir, drainErr = ramDir("outbox-drain")
		if drainErr != nil {
			return
		}
		sharedTempDirs = append(sharedTempDirs, drainDir)
		l, err := ledger.Open(context.Background(), filepath.Join(drainDir, "ledger.db"), ledger.Options{})
		if err != nil {
			drainErr = err
			return
		}
		drainErr = fillTopUps(l, drainTopUps, time.Now().Add(-time.Hour))
		if err := l.Close(); drainErr == nil {
			drainErr = err
		}
	})
	if drainErr != nil {
		b.Fatalf("filled ledger: %v", drainErr)
	}
	data, err := os.ReadFile(filepath.Join(drainDir, "ledger.db"))
	if err != nil {
		b.Fatal(err)
	}
	path := filepath.Join(dir, "ledger.db")
	if err := os.WriteFile(path, data, 0o600); err != nil {
		b.Fatal(err)
	}
	return path
}

// drainBank is a fresh sandbox on loopback that answers every request
// after drainLatency and credits every top-up at once.
func drainBank(b *testing.B) *banksim.Server {
	b.Helper()
	dir, err := ramDir("outbox-drain-bank")
	if err != nil {
		b.Fatal(err)
	}
	srv, err := banksim.New(banksim.Options{
		DBPath:    filepath.Join(dir, "bank.db"),
		Terminals: map[string][]byte{testTerminal: []byte(testSecret)},
		Wallets:   simWallets,
		Faults:    banksim.Faults{Latency: drainLatency},
		Seed:      7,
	})
	if err != nil {
		os.RemoveAll(dir)
		b.Fatal(err)
	}
	ln, err := net.Listen("tcp", "127.0.0.1:0")
	if err != nil {
		srv.Close()
		os.RemoveAll(dir)
		b.Fatal(err)
	}
	srv.Start(ln)
	b.Cleanup(func() {
		srv.Close()
		os.RemoveAll(dir)
	})
	return srv
}

// BenchmarkOutboxDrain empties a queue of 10 000 completed top-ups into the
// sandbox answering after 20 ms, through the real bank client and the real
// outbox on a real ledger file: in batches of 100, and one POST per top-up.
// Each iteration drains a fresh copy of the same ledger into a fresh bank;
// top-ups/s is the queue over the time from the outbox's start to an empty
// queue.
//
//	go test -run '^$' -bench OutboxDrain -benchtime 1x -timeout 30m ./cmd/kioskd/
func BenchmarkOutboxDrain(b *testing.B) {
	for _, c := range []struct {
		name  string
		batch int
	}{{"batch_100", outbox.MaxBatch}, {"single_1", 1}} {
		b.Run(c.name, func(b *testing.B) {
			var elapsed time.Duration
			var requests int
			b.StopTimer()
			for range b.N {
				l := ledgertest.MustOpenPath(b, drainLedger(b, b.TempDir()), ledger.Options{})
				bank := drainBank(b)
				start := time.Now()
				b.StartTimer()
				ob := runTestOutbox(b, l, bank.URL(), nil, func(o *outbox.Options) {
					o.BatchSize = c.batch
					// One heartbeat in the run, not one every 5 s.
					o.HeartbeatInterval = time.Hour
					// As in kioskd, with no customer paying: the gate's
					// check before every request and write is part of the
					// figure.
					o.Gate = &outbox.Gate{}
				})
				waitDrainedQuiet(b, l, 30*time.Minute)
				b.StopTimer()
				elapsed += time.Since(start)
				ob.Close()
				requests += ob.Status().Counts.Requests
				st, err := bank.Stats()
				if err != nil {
					b.Fatal(err)
				}
				if st.Credited != drainTopUps || st.MaxCredits != 1 {
					b.Fatalf("bank credited %d top-ups, max credits %d; want %d, 1", st.Credited, st.MaxCredits, drainTopUps)
				}
			}
			b.ReportMetric(float64(drainTopUps*b.N)/elapsed.Seconds(), "topups/s")
			b.ReportMetric(float64(requests)/float64(b.N), "requests/op")
		})
	}
}

// waitDrainedQuiet waits for an empty queue like waitDrained, with a
// deadline for the slow case and a read every 20 ms, which costs the drain
// next to nothing: reads do not wait for the ledger's writer.
func waitDrainedQuiet(b *testing.B, l *ledger.Ledger, limit time.Duration) {
	b.Helper()
	deadline := time.Now().Add(limit)
	for {
		q, err := l.Queue(context.Background())
		if err != nil {
			b.Fatal(err)
		}
		if q.Unsent == 0 && q.Pending == 0 {
			return
		}
		if time.Now().After(deadline) {
			b.Fatalf("queue not drained after %s: %+v", limit, q)
		}
		time.Sleep(20 * time.Millisecond)
	}
}
