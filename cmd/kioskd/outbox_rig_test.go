package main

import (
	"context"
	"fmt"
	"io"
	"log/slog"
	"net"
	"net/http"
	"os"
	"path/filepath"
	"slices"
	"sync"
	"testing"
	"time"

	"tolem/kiosk"
	"tolem/kiosk/config"
	"tolem/kiosk/ledger"
	"tolem/sync/bankapi"
	"tolem/sync/bankapi/banksim"
	"tolem/sync/outbox"
)

// Helpers of the outbox's tests against the real bank client and the
// sandbox: ledgers filled with completed top-ups, a sandbox that can be
// taken off the network and brought back on the same address, and timings
// short enough for a bad day to pass in seconds.

const (
	chaosTopUps  = 500
	outboxWait   = 90 * time.Second
	testTerminal = "KZ-TEST-0001"
	testSecret   = "test-secret"
)

var (
	templateOnce sync.Once
	templateDir  string
	templateErr  error
)

// filledLedger copies a ledger file holding chaosTopUps completed top-ups,
// unsent, to a file in dir. The file is made once per test binary: 2 000
// fsynced transactions are worth doing once.
func filledLedger(t testing.TB, dir string) string {
	t.Helper()
	templateOnce.Do(func() {
		templateDir, templateErr = os.MkdirTemp("", "outbox-ledger")
		sharedTempDirs = append(sharedTempDirs, templateDir)
		if templateErr != nil {
			return
		}
		path := filepath.Join(templateDir, "ledger.db")
		l, err := ledger.Open(context.Background(), path, ledger.Options{})
		if err != nil {
			templateErr = err
			return
		}
		templateErr = fillTopUps(l, chaosTopUps, time.Now().Add(-time.Minute))
		if err := l.Close(); templateErr == nil {
			templateErr = err
		}
	})
	if templateErr != nil {
		t.Fatalf("filled ledger: %v", templateErr)
	}
	data, err := os.ReadFile(filepath.Join(templateDir, "ledger.db"))
	if err != nil {
		t.Fatal(err)
	}
	path := filepath.Join(dir, "ledger.db")
	if err := os.WriteFile(path, data, 0o600); err != nil {
		t.Fatal(err)
	}
	return path
}

// fillTopUps completes n top-ups the way the flow does, to the sim's wallets.
func fillTopUps(l *ledger.Ledger, n int, at time.Time) error {
	ctx := context.Background()
	phones := make([]kiosk.Phone, 0, len(simWallets))
	for p := range simWallets {
		phones = append(phones, p)
	}
	slices.Sort(phones)
	values := []kiosk.Money{kiosk.Tenge(500), kiosk.Tenge(1000), kiosk.Tenge(2000), kiosk.Tenge(5000)}
	for i := range n {
		sid := fmt.Sprintf("chaos-%04d", i)
		if err := l.OpenSession(ctx, kiosk.Session{ID: sid, Phone: phones[i%len(phones)], OpenedAt: at}); err != nil {
			return err
		}
		b := kiosk.BillRecord{SessionID: sid, Seq: 1, Value: values[i%len(values)], At: at}
		if err := l.RecordEscrow(ctx, b); err != nil {
			return err
		}
		if err := l.MarkStacked(ctx, kiosk.BillID(sid, 1), at); err != nil {
			return err
		}
		if _, err := l.CompleteTopUp(ctx, sid, at); err != nil {
			return err
		}
	}
	return nil
}

// testBank is the sandbox on a loopback address it keeps across Down/Up.
type testBank struct {
	t    testing.TB
	srv  *banksim.Server
	addr string

	mu sync.Mutex
	hs *http.Server
}

func newTestBank(t testing.TB, f banksim.Faults) *testBank {
	t.Helper()
	srv, err := banksim.New(banksim.Options{
		DBPath:    filepath.Join(t.TempDir(), "bank.db"),
		Terminals: map[string][]byte{testTerminal: []byte(testSecret)},
		Wallets:   simWallets,
		Faults:    f,
		Seed:      7,
	})
	if err != nil {
		t.Fatal(err)
	}
	b := &testBank{t: t, srv: srv}
	t.Cleanup(func() {
		b.Down()
		srv.Close()
	})
	b.Up()
	return b
}

// Up serves the sandbox, on the address it had before if it had one.
func (b *testBank) Up() {
	b.t.Helper()
	addr := b.addr
	if addr == "" {
		addr = "127.0.0.1:0"
	}
	var ln net.Listener
	var err error
	for range 50 { // the old socket may linger for a moment
		if ln, err = net.Listen("tcp", addr); err == nil {
			break
		}
		time.Sleep(100 * time.Millisecond)
	}
	if err != nil {
		b.t.Fatalf("bank listen %s: %v", addr, err)
	}
	b.addr = ln.Addr().String()
	hs := &http.Server{Handler: b.srv.Handler(), ReadHeaderTimeout: 10 * time.Second}
	go hs.Serve(ln)
	b.mu.Lock()
	b.hs = hs
	b.mu.Unlock()
}

// Down takes the sandbox off the network: connections are refused.
func (b *testBank) Down() {
	b.mu.Lock()
	hs := b.hs
	b.hs = nil
	b.mu.Unlock()
	if hs != nil {
		hs.Close()
	}
}

func (b *testBank) URL() string { return "http://" + b.addr }

func (b *testBank) stats() banksim.Stats {
	b.t.Helper()
	st, err := b.srv.Stats()
	if err != nil {
		b.t.Fatal(err)
	}
	return st
}

func newTestClient(t testing.TB, url string) *bankapi.Client {
	t.Helper()
	c, err := bankapi.New(bankapi.Options{
		BaseURL: url, TerminalID: testTerminal, Secret: []byte(testSecret), Timeout: 5 * time.Second,
	})
	if err != nil {
		t.Fatal(err)
	}
	return c
}

// fastTimings shorten the outbox's waits so that a bad day passes in seconds,
// and make batches small so that more requests meet the bank's faults.
func fastTimings(o *outbox.Options) {
	o.BatchSize = 10
	o.MinBackoff = 50 * time.Millisecond
	o.MaxBackoff = 2 * time.Second
	// The first read comes 1.1–2.2 s after a 202: after the sandbox's
	// credit delay of 1 s, so that a pending top-up is decided at once.
	o.PollAfter = 2200 * time.Millisecond
	o.ProbeInterval = 300 * time.Millisecond
	o.CheckInterval = 50 * time.Millisecond
	o.HeartbeatInterval = 5 * time.Second
}

// runTestOutbox starts the real outbox on l against the sandbox at url.
func runTestOutbox(t testing.TB, l *ledger.Ledger, url string, log *slog.Logger, tune ...func(*outbox.Options)) *outbox.Outbox {
	t.Helper()
	if log == nil {
		log = slog.New(slog.NewTextHandler(io.Discard, nil))
	}
	ob, err := newOutbox(outboxDeps{
		sync:   config.Default().Sync,
		ledger: l,
		bank:   newTestClient(t, url),
		log:    log,
		clock:  kiosk.SystemClock{},
		describe: func(_ context.Context, hb *outbox.Heartbeat) {
			hb.State, hb.Version = "idle", "test"
		},
		tune: func(o *outbox.Options) {
			fastTimings(o)
			for _, f := range tune {
				f(o)
			}
		},
	})
	if err != nil {
		t.Fatal(err)
	}
	ob.Start(context.Background())
	t.Cleanup(func() { ob.Close() })
	return ob
}

// waitDrained waits until the ledger holds no unsent or pending top-up.
func waitDrained(t testing.TB, l *ledger.Ledger, limit time.Duration) {
	t.Helper()
	deadline := time.Now().Add(limit)
	for {
		q, err := l.Queue(context.Background())
		if err != nil {
			t.Fatal(err)
		}
		if q.Unsent == 0 && q.Pending == 0 {
			return
		}
		if time.Now().After(deadline) {
			t.Fatalf("queue not drained after %s: %+v", limit, q)
		}
		time.Sleep(50 * time.Millisecond)
	}
}

// checkExactlyOnce checks that every top-up of the ledger is credited in the
// ledger and exactly once at the bank, and that the bank holds no other.
func checkExactlyOnce(t testing.TB, l *ledger.Ledger, st banksim.Stats, want int) {
	t.Helper()
	all, err := l.TopUpsBySync(context.Background())
	if err != nil {
		t.Fatal(err)
	}
	if len(all) != want {
		t.Fatalf("%d top-ups in the ledger, want %d", len(all), want)
	}
	for _, tu := range all {
		if tu.Sync != kiosk.SyncCredited {
			t.Errorf("receipt %d is %s in the ledger, want credited", tu.ReceiptNo, tu.Sync)
		}
		if n := st.Credits[tu.ID]; n != 1 {
			t.Errorf("receipt %d credited %d times at the bank", tu.ReceiptNo, n)
		}
	}
	if st.TopUps != want || st.Credited != want || len(st.Credits) != want || st.MaxCredits != 1 {
		t.Errorf("bank: %d top-ups, %d credited, %d credit ids, max credits %d; want %d, %d, %d, 1",
			st.TopUps, st.Credited, len(st.Credits), st.MaxCredits, want, want, want)
	}
}
