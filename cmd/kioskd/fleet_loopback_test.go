package main

import (
	"context"
	"fmt"
	"math/rand/v2"
	"net"
	"os"
	"path/filepath"
	"slices"
	"sync"
	"sync/atomic"
	"syscall"
	"testing"
	"time"

	"tolem/kiosk"
	"tolem/sync/bankapi"
	"tolem/sync/bankapi/banksim"
	"tolem/sync/outbox"
)

// TestFleetLoopback is the fleet simulation's real-load check: 1 000
// outboxes, each with its own bank client, terminal id and secret, against
// one banksim over loopback HTTP, every request signed by the client and
// verified by the sandbox. Real time, so the fleet's day is compressed 12
// times: a top-up every 21 s per kiosk, a heartbeat every 5 s, back-off and
// probe caps 25 s and 10 s; the bank is down (503 to everything) for 60 s.
//
//	FLEET_LOOPBACK=1 go test -run TestFleetLoopback -v ./cmd/kioskd/
func TestFleetLoopback(t *testing.T) {
	if os.Getenv("FLEET_LOOPBACK") == "" {
		t.Skip("three minutes of 1 000 outboxes on loopback: FLEET_LOOPBACK=1")
	}
	const (
		kiosks  = 1000
		warmup  = 20 * time.Second
		steady  = 40 * time.Second
		outage  = 60 * time.Second
		after   = 60 * time.Second
		latency = 20 * time.Millisecond
	)
	dir, err := ramDir("fleet-loopback")
	if err != nil {
		t.Fatal(err)
	}
	defer os.RemoveAll(dir)
	terms := map[string][]byte{}
	for k := range kiosks {
		terms[fmt.Sprintf("KSK-%04d", k)] = []byte(fmt.Sprintf("secret-of-kiosk-%04d-0123456789", k))
	}
	up := banksim.Faults{Latency: latency}
	srv, err := banksim.New(banksim.Options{DBPath: filepath.Join(dir, "bank.db"), Terminals: terms, AnyWallet: true, Faults: up, Seed: 3})
	if err != nil {
		t.Fatal(err)
	}
	ln, err := net.Listen("tcp", "127.0.0.1:0")
	if err != nil {
		t.Fatal(err)
	}
	srv.Start(ln)
	defer srv.Close()

	start := time.Now()
	var (
		mu      sync.Mutex
		perSec  []int
		errs    atomic.Int64
		backlog atomic.Int64
		counted atomic.Bool
		drained atomic.Int64 // ns after the return
	)
	observe := func(endpoint string, code int, took time.Duration) {
		s := int(time.Since(start) / time.Second)
		mu.Lock()
		for len(perSec) <= s {
			perSec = append(perSec, 0)
		}
		perSec[s]++
		mu.Unlock()
		if code != 200 && code != 201 && code != 202 {
			errs.Add(1)
		}
	}
	upAt := start.Add(warmup + steady + outage)
	ctx, cancel := context.WithCancel(context.Background())
	defer cancel()
	var wg sync.WaitGroup
	obs := make([]*outbox.Outbox, kiosks)
	for k := range kiosks {
		id := fmt.Sprintf("KSK-%04d", k)
		c, err := bankapi.New(bankapi.Options{BaseURL: srv.URL(), TerminalID: id, Secret: terms[id], Observe: observe})
		if err != nil {
			t.Fatal(err)
		}
		st := &memStore{onCredit: func(tu kiosk.TopUp, at time.Time) {
			if tu.CompletedAt.Before(upAt) && backlog.Add(-1) == 0 && counted.Load() {
				drained.Store(int64(at.Sub(upAt)))
			}
		}}
		o, err := outbox.New(outbox.Options{Store: st, Bank: bankAdapter{c},
			HeartbeatInterval: 5 * time.Second, MaxBackoff: 25 * time.Second, ProbeInterval: 10 * time.Second})
		if err != nil {
			t.Fatal(err)
		}
		obs[k] = o
		rng := rand.New(rand.NewPCG(uint64(k)+11, 5))
		wg.Add(1)
		go func() {
			defer wg.Done()
			select {
			case <-time.After(time.Duration(rng.Int64N(int64(5 * time.Second)))):
			case <-ctx.Done():
				return
			}
			o.Start(ctx)
			for n := 1; ; n++ {
				select {
				case <-time.After(time.Duration(rng.ExpFloat64() * float64(21*time.Second))):
				case <-ctx.Done():
					return
				}
				now := time.Now()
				if now.Before(upAt) {
					backlog.Add(1)
				}
				st.add(kiosk.TopUp{ID: fmt.Sprintf("%08x-0000-4000-8000-%04d%08d", rng.Uint32(), k, n), ReceiptNo: int64(n),
					SessionID: fmt.Sprintf("s-%d-%d", k, n), Phone: "+77011234567", Amount: kiosk.Tenge(2000),
					Bills:     []kiosk.BillCount{{Value: kiosk.Tenge(2000), Count: 1}},
					CreatedAt: now.Add(-30 * time.Second), CompletedAt: now, Sync: kiosk.SyncUnsent})
				o.Wake()
			}
		}()
	}
	cpu0 := cpuTime()
	time.Sleep(time.Until(start.Add(warmup + steady)))
	cpuSteady := cpuTime() - cpu0
	if err := srv.SetFaults(banksim.Faults{Latency: latency, FailRate: 1}); err != nil {
		t.Fatal(err)
	}
	time.Sleep(time.Until(upAt))
	if err := srv.SetFaults(up); err != nil {
		t.Fatal(err)
	}
	counted.Store(true)
	if backlog.Load() == 0 {
		drained.Store(0)
	}
	time.Sleep(after)
	cancel()
	for _, o := range obs {
		o.Close()
	}
	wg.Wait()

	mu.Lock()
	defer mu.Unlock()
	sum := 0
	for s := int(warmup / time.Second); s < int((warmup+steady)/time.Second); s++ {
		sum += perSec[s]
	}
	steadyRate := float64(sum) / steady.Seconds()
	peak, peakAt := 0.0, 0
	for s := int((warmup + steady + outage) / time.Second); s+10 <= len(perSec); s++ {
		w := 0
		for _, n := range perSec[s : s+10] {
			w += n
		}
		if m := float64(w) / 10; m > peak {
			peak, peakAt = m, s-int((warmup+steady+outage)/time.Second)
		}
	}
	out := 0
	for _, n := range perSec[int((warmup+steady)/time.Second):int((warmup+steady+outage)/time.Second)] {
		out += n
	}
	d := "never"
	if backlog.Load() <= 0 {
		d = time.Duration(drained.Load()).Round(100 * time.Millisecond).String()
	}
	t.Logf("%d outboxes over loopback: steady %.0f req/s, during the outage %.0f req/s, peak %.0f req/s (10 s mean, %.2f× steady) %d s after the return; every queue empty %s after it",
		kiosks, steadyRate, float64(out)/outage.Seconds(), peak, peak/steadyRate, peakAt, d)
	t.Logf("CPU of the whole process (1 000 outboxes and clients, banksim, its SQLite on tmpfs) in the steady part: %v for %d requests, %.0f µs a request",
		cpuSteady.Round(time.Millisecond), sumFrom(perSec, 0, int((warmup+steady)/time.Second)),
		float64(cpuSteady.Microseconds())/float64(sumFrom(perSec, 0, int((warmup+steady)/time.Second))))
	if s, err := srv.Stats(); err == nil {
		t.Logf("banksim: %d requests by status %v; %d top-ups, %d credited, none twice: %v",
			s.Requests, s.ByCode, s.TopUps, s.Credited, s.MaxCredits <= 1)
		if s.MaxCredits > 1 {
			t.Errorf("a top-up was credited %d times", s.MaxCredits)
		}
	}
	if peak > 3*steadyRate {
		t.Errorf("peak %.0f req/s is over 3× the steady %.0f", peak, steadyRate)
	}
	if backlog.Load() > 0 || time.Duration(drained.Load()) > 10*time.Minute {
		t.Errorf("%d top-ups made before the return still waiting", backlog.Load())
	}
}

func sumFrom(xs []int, lo, hi int) int {
	n := 0
	for _, x := range xs[lo:min(hi, len(xs))] {
		n += x
	}
	return n
}

func cpuTime() time.Duration {
	var ru syscall.Rusage
	syscall.Getrusage(syscall.RUSAGE_SELF, &ru)
	return time.Duration(ru.Utime.Nano() + ru.Stime.Nano())
}

// memStore is an outbox.Store in memory: one kiosk's queue.
type memStore struct {
	mu       sync.Mutex
	tops     []memTopUp
	onCredit func(kiosk.TopUp, time.Time)
}

type memTopUp struct {
	t    kiosk.TopUp
	next time.Time
	body []byte
}

func (s *memStore) add(t kiosk.TopUp) {
	s.mu.Lock()
	s.tops = append(s.tops, memTopUp{t: t})
	s.mu.Unlock()
}

func (s *memStore) DueTopUps(ctx context.Context, now time.Time, limit int) ([]kiosk.TopUp, error) {
	s.mu.Lock()
	defer s.mu.Unlock()
	var out []kiosk.TopUp
	for _, t := range s.tops {
		if (limit <= 0 || len(out) < limit) && !t.next.After(now) {
			out = append(out, t.t)
		}
	}
	return out, nil
}

func (s *memStore) SetBody(ctx context.Context, id string, body []byte) ([]byte, error) {
	s.mu.Lock()
	defer s.mu.Unlock()
	for i := range s.tops {
		if s.tops[i].t.ID == id {
			if s.tops[i].body == nil {
				s.tops[i].body = body
			}
			return s.tops[i].body, nil
		}
	}
	return nil, kiosk.ErrNotFound
}

func (s *memStore) UpdateSync(ctx context.Context, id string, state kiosk.SyncState, note string, next, at time.Time) error {
	s.mu.Lock()
	i := slices.IndexFunc(s.tops, func(t memTopUp) bool { return t.t.ID == id })
	if i < 0 {
		s.mu.Unlock()
		return kiosk.ErrNotFound
	}
	if state == kiosk.SyncUnsent || state == kiosk.SyncPending {
		s.tops[i].t.Sync, s.tops[i].next = state, next
		s.mu.Unlock()
		return nil
	}
	t := s.tops[i].t
	s.tops = slices.Delete(s.tops, i, i+1)
	s.mu.Unlock()
	if s.onCredit != nil {
		s.onCredit(t, at)
	}
	return nil
}

func (s *memStore) TopUpsBySync(ctx context.Context, states ...kiosk.SyncState) ([]kiosk.TopUp, error) {
	s.mu.Lock()
	defer s.mu.Unlock()
	var out []kiosk.TopUp
	for _, t := range s.tops {
		out = append(out, t.t)
	}
	return out, nil
}

func (s *memStore) Queue(ctx context.Context) (kiosk.QueueStats, error) {
	s.mu.Lock()
	defer s.mu.Unlock()
	var q kiosk.QueueStats
	for _, t := range s.tops {
		if t.t.Sync == kiosk.SyncPending {
			q.Pending++
		} else {
			q.Unsent++
			q.UnsentAmount += t.t.Amount
		}
		if q.OldestAt.IsZero() || t.t.CompletedAt.Before(q.OldestAt) {
			q.OldestAt = t.t.CompletedAt
		}
	}
	return q, nil
}

func (s *memStore) Retry(ctx context.Context, id string, at time.Time) (int, error) {
	s.mu.Lock()
	defer s.mu.Unlock()
	n := 0
	for i := range s.tops {
		if id == "" || s.tops[i].t.ID == id {
			s.tops[i].next = time.Time{}
			n++
		}
	}
	return n, nil
}
