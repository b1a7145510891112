package outbox

import (
	"context"
	"errors"
	"fmt"
	"math"
	"math/rand/v2"
	"os"
	"path/filepath"
	"slices"
	"strconv"
	"strings"
	"sync"
	"testing"
	"testing/synctest"
	"time"

	"tolem/kiosk"
)

// The fleet simulation: N kiosks, each running this package's real Outbox
// (its loop, back-off, probes, heartbeats and release after an outage) on
// the wall clock of a synctest bubble, where time is virtual and moves only
// when every goroutine waits. The ledger of each kiosk is an in-memory
// Store; the bank is an in-memory Bank that counts every request it is sent
// and is down for a while. Customers pay in at a steady rate throughout.
//
//	FLEET_SIM=1 go test -run TestFleetOutage -v ./sync/outbox/   (make fleet-sim)
//
// FLEET_KIOSKS (10000), FLEET_OUTAGE (60m) and FLEET_OUT (a directory for
// the per-second CSV and the SVG plot) tune it. The suite runs a small fleet
// (TestFleetOutageSmall) as a check of the same bounds.

type fleetConfig struct {
	Kiosks int
	// Warmup lets the fleet's start settle, Steady is measured as the
	// normal load, then the bank is down for Outage, then After.
	Warmup, Steady, Outage, After time.Duration
	// TopUpEvery is a kiosk's mean time between top-ups.
	TopUpEvery time.Duration
	// Latency is the bank's answer time when up; a down bank refuses at
	// once (503 from its load balancer).
	Latency time.Duration
	Tune    func(o *Options)
}

type fleetResult struct {
	cfg fleetConfig
	// perSecond counts the bank's requests in each second of the run, by
	// kind.
	perSecond [][kinds]int
	// Steady and Peak are requests per second: the mean over Steady, and
	// the highest 10 s mean after the bank came back.
	Steady, Peak float64
	PeakAt       time.Duration // after the return
	// Drained is how long after the bank's return the last top-up made
	// before it was credited.
	Drained time.Duration
	Backlog int // top-ups waiting when the bank came back
	TopUps  int
	// HeartbeatSpread is the busiest second-of-the-minute's heartbeats over
	// the mean, during Steady: 1 is perfectly even.
	HeartbeatSpread float64
}

const (
	kindBatch = iota
	kindSingle
	kindStatus
	kindHeartbeat
	kindPing
	kinds
)

var kindNames = [kinds]string{"batch", "single", "status", "heartbeat", "ping"}

// simBank is the bank the fleet talks to.
type simBank struct {
	start   time.Time
	downAt  time.Time
	upAt    time.Time
	latency time.Duration

	mu     sync.Mutex
	counts [][kinds]int
}

var errBankDown = &Error{Kind: KindRetry, Note: "503 service unavailable", Err: errors.New("bank: 503 service unavailable")}

func (b *simBank) hit(k int) error {
	now := time.Now()
	s := int(now.Sub(b.start) / time.Second)
	b.mu.Lock()
	for len(b.counts) <= s {
		b.counts = append(b.counts, [kinds]int{})
	}
	b.counts[s][k]++
	b.mu.Unlock()
	if !now.Before(b.downAt) && now.Before(b.upAt) {
		return errBankDown
	}
	time.Sleep(b.latency)
	return nil
}

func (b *simBank) EncodeTopUp(t kiosk.TopUp) ([]byte, error) { return []byte(t.ID), nil }
func (b *simBank) EncodeCollection(c Collection) ([]byte, error) {
	return []byte(c.ID), nil
}
func (b *simBank) SubmitTopUp(ctx context.Context, id string, body []byte) (Answer, error) {
	if err := b.hit(kindSingle); err != nil {
		return Answer{}, err
	}
	return Answer{State: kiosk.SyncCredited}, nil
}
func (b *simBank) SubmitBatch(ctx context.Context, ids []string, bodies [][]byte) ([]ItemAnswer, error) {
	if err := b.hit(kindBatch); err != nil {
		return nil, err
	}
	out := make([]ItemAnswer, len(ids))
	for i, id := range ids {
		out[i] = ItemAnswer{ID: id, Answer: Answer{State: kiosk.SyncCredited}}
	}
	return out, nil
}
func (b *simBank) TopUpStatus(ctx context.Context, id string) (Answer, error) {
	if err := b.hit(kindStatus); err != nil {
		return Answer{}, err
	}
	return Answer{State: kiosk.SyncCredited}, nil
}
func (b *simBank) PostCollection(ctx context.Context, id string, body []byte) error { return nil }
func (b *simBank) Heartbeat(ctx context.Context, hb Heartbeat) error                { return b.hit(kindHeartbeat) }
func (b *simBank) Ping(ctx context.Context) error                                   { return b.hit(kindPing) }

// simStore is one kiosk's ledger, in memory.
type simStore struct {
	fleet *simFleet
	mu    sync.Mutex
	seq   int64
	tops  []*simTopUp // not yet credited, in receipt order
}

type simTopUp struct {
	t    kiosk.TopUp
	next time.Time
}

type simFleet struct {
	upAt     time.Time
	mu       sync.Mutex
	backlog  int // made before upAt and not credited
	counted  bool
	drained  time.Time
	topUps   int
	backlogN int
}

func (s *simStore) add(id string, at time.Time) {
	s.mu.Lock()
	s.seq++
	s.tops = append(s.tops, &simTopUp{t: kiosk.TopUp{ID: id, ReceiptNo: s.seq, Amount: kiosk.Tenge(2000),
		CreatedAt: at, CompletedAt: at, Sync: kiosk.SyncUnsent}})
	s.mu.Unlock()
	f := s.fleet
	f.mu.Lock()
	f.topUps++
	if at.Before(f.upAt) {
		f.backlog++
	}
	f.mu.Unlock()
}

func (s *simStore) DueTopUps(ctx context.Context, now time.Time, limit int) ([]kiosk.TopUp, error) {
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

func (s *simStore) SetBody(ctx context.Context, id string, body []byte) ([]byte, error) {
	return body, nil
}

func (s *simStore) UpdateSync(ctx context.Context, id string, state kiosk.SyncState, note string, next, at time.Time) error {
	s.mu.Lock()
	i := slices.IndexFunc(s.tops, func(t *simTopUp) bool { return t.t.ID == id })
	if i < 0 {
		s.mu.Unlock()
		return kiosk.ErrNotFound
	}
	t := s.tops[i]
	if state == kiosk.SyncUnsent || state == kiosk.SyncPending {
		t.t.Sync, t.next = state, next
		s.mu.Unlock()
		return nil
	}
	s.tops = slices.Delete(s.tops, i, i+1)
	s.mu.Unlock()
	f := s.fleet
	f.mu.Lock()
	if t.t.CompletedAt.Before(f.upAt) {
		f.backlog--
		if f.backlog == 0 && f.counted {
			f.drained = at
		}
	}
	f.mu.Unlock()
	return nil
}

func (s *simStore) TopUpsBySync(ctx context.Context, states ...kiosk.SyncState) ([]kiosk.TopUp, error) {
	s.mu.Lock()
	defer s.mu.Unlock()
	out := make([]kiosk.TopUp, 0, len(s.tops))
	for _, t := range s.tops {
		out = append(out, t.t)
	}
	return out, nil
}

func (s *simStore) Queue(ctx context.Context) (kiosk.QueueStats, error) {
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

func (s *simStore) Retry(ctx context.Context, id string, at time.Time) (int, error) {
	s.mu.Lock()
	defer s.mu.Unlock()
	n := 0
	for _, t := range s.tops {
		if id == "" || t.t.ID == id {
			t.next = time.Time{}
			n++
		}
	}
	return n, nil
}

// runFleet runs the simulation; it must be called inside a synctest bubble.
func runFleet(cfg fleetConfig) fleetResult {
	start := time.Now()
	downAt := start.Add(cfg.Warmup + cfg.Steady)
	upAt := downAt.Add(cfg.Outage)
	end := upAt.Add(cfg.After)
	bank := &simBank{start: start, downAt: downAt, upAt: upAt, latency: cfg.Latency}
	fleet := &simFleet{upAt: upAt}
	ctx, cancel := context.WithCancel(context.Background())
	var wg sync.WaitGroup
	obs := make([]*Outbox, cfg.Kiosks)
	for k := range cfg.Kiosks {
		rng := rand.New(rand.NewPCG(uint64(k)*0x9e3779b97f4a7c15+1, 0xda942042e4dd58b5^uint64(k)))
		jitter := rand.New(rand.NewPCG(uint64(k)*0xbf58476d1ce4e5b9+3, 0x94d049bb133111eb^uint64(k)))
		store := &simStore{fleet: fleet}
		opts := Options{Store: store, Bank: bank, Rand: jitter.Float64,
			// Only how often the ledger is read without a Wake: no request.
			CheckInterval: 10 * time.Minute}
		if cfg.Tune != nil {
			cfg.Tune(&opts)
		}
		o, err := New(opts)
		if err != nil {
			panic(err)
		}
		obs[k] = o
		wg.Add(1)
		go func() {
			defer wg.Done()
			// Kiosks were switched on at different times.
			time.Sleep(time.Duration(rng.Int64N(int64(time.Minute))))
			o.Start(ctx)
			n := 0
			for {
				d := time.Duration(rng.ExpFloat64() * float64(cfg.TopUpEvery))
				if time.Now().Add(d).After(end) {
					return
				}
				time.Sleep(d)
				n++
				store.add(fmt.Sprintf("k%d-%d", k, n), time.Now())
				o.Wake()
			}
		}()
	}
	time.Sleep(time.Until(upAt))
	fleet.mu.Lock()
	fleet.counted = true
	fleet.backlogN = fleet.backlog
	if fleet.backlog == 0 {
		fleet.drained = upAt
	}
	fleet.mu.Unlock()
	time.Sleep(time.Until(end))
	wg.Wait()
	for _, o := range obs {
		_ = o.Close()
	}
	cancel()

	r := fleetResult{cfg: cfg, perSecond: bank.counts, Backlog: fleet.backlogN, TopUps: fleet.topUps}
	total := func(s int) int {
		if s >= len(r.perSecond) {
			return 0
		}
		n := 0
		for _, c := range r.perSecond[s] {
			n += c
		}
		return n
	}
	s0, s1 := int(cfg.Warmup/time.Second), int((cfg.Warmup+cfg.Steady)/time.Second)
	sum := 0
	var phase [60]int
	for s := s0; s < s1; s++ {
		sum += total(s)
		if s < len(r.perSecond) {
			phase[s%60] += r.perSecond[s][kindHeartbeat]
		}
	}
	r.Steady = float64(sum) / float64(s1-s0)
	busiest, all := 0, 0
	for _, n := range phase {
		busiest, all = max(busiest, n), all+n
	}
	if all > 0 {
		r.HeartbeatSpread = float64(busiest) / (float64(all) / 60)
	}
	up := int((cfg.Warmup + cfg.Steady + cfg.Outage) / time.Second)
	for s := up; s+10 <= len(r.perSecond); s++ {
		w := 0
		for i := s; i < s+10; i++ {
			w += total(i)
		}
		if m := float64(w) / 10; m > r.Peak {
			r.Peak, r.PeakAt = m, time.Duration(s-up)*time.Second
		}
	}
	r.Drained = -1
	if !fleet.drained.IsZero() {
		r.Drained = fleet.drained.Sub(upAt)
	}
	return r
}

func (r fleetResult) String() string {
	drained := "never"
	if r.Drained >= 0 {
		drained = r.Drained.Round(time.Second).String()
	}
	return fmt.Sprintf("%d kiosks, bank down %v: %d top-ups, %d waiting at the return; steady %.0f req/s, "+
		"peak %.0f req/s (10 s mean, %.2f× steady) %v after the return; every queue empty %s after it; "+
		"heartbeats: busiest second of the minute %.2f× the mean",
		r.cfg.Kiosks, r.cfg.Outage, r.TopUps, r.Backlog, r.Steady, r.Peak, r.Peak/r.Steady,
		r.PeakAt, drained, r.HeartbeatSpread)
}

// writeCSV writes the per-second counts; writeSVG plots the total.
func (r fleetResult) writeCSV(path string) error {
	var b strings.Builder
	b.WriteString("second," + strings.Join(kindNames[:], ",") + ",total\n")
	for s, c := range r.perSecond {
		b.WriteString(strconv.Itoa(s))
		t := 0
		for _, n := range c {
			b.WriteString("," + strconv.Itoa(n))
			t += n
		}
		b.WriteString("," + strconv.Itoa(t) + "\n")
	}
	return os.WriteFile(path, []byte(b.String()), 0o644)
}

func (r fleetResult) writeSVG(path string) error {
	const w, h, pad = 900.0, 300.0, 40.0
	n := len(r.perSecond)
	if n == 0 {
		return nil
	}
	// 10 s means, so the plot shows rates, not one second's noise.
	var pts []float64
	top := 1.0
	for s := 0; s < n; s += 10 {
		t := 0
		for i := s; i < min(s+10, n); i++ {
			for _, c := range r.perSecond[i] {
				t += c
			}
		}
		v := float64(t) / float64(min(10, n-s))
		pts = append(pts, v)
		top = math.Max(top, v)
	}
	var b strings.Builder
	fmt.Fprintf(&b, `<svg xmlns="http://www.w3.org/2000/svg" width="%.0f" height="%.0f" font-family="sans-serif" font-size="11">`+"\n", w, h)
	fmt.Fprintf(&b, `<rect width="100%%" height="100%%" fill="white"/>`+"\n")
	x := func(s float64) float64 { return pad + s/float64(n)*(w-2*pad) }
	y := func(v float64) float64 { return h - pad - v/top*(h-2*pad) }
	down := (r.cfg.Warmup + r.cfg.Steady).Seconds()
	up := down + r.cfg.Outage.Seconds()
	fmt.Fprintf(&b, `<rect x="%.1f" y="%.1f" width="%.1f" height="%.1f" fill="#fde2e2"/>`+"\n", x(down), pad, x(up)-x(down), h-2*pad)
	fmt.Fprintf(&b, `<line x1="%.1f" y1="%.1f" x2="%.1f" y2="%.1f" stroke="#888" stroke-dasharray="4"/>`+"\n", pad, y(r.Steady), w-pad, y(r.Steady))
	fmt.Fprintf(&b, `<line x1="%.1f" y1="%.1f" x2="%.1f" y2="%.1f" stroke="#c00" stroke-dasharray="2"/>`+"\n", pad, y(3*r.Steady), w-pad, y(3*r.Steady))
	var poly []string
	for i, v := range pts {
		poly = append(poly, fmt.Sprintf("%.1f,%.1f", x(float64(i*10)), y(v)))
	}
	fmt.Fprintf(&b, `<polyline fill="none" stroke="#1f5fbf" stroke-width="1.5" points="%s"/>`+"\n", strings.Join(poly, " "))
	fmt.Fprintf(&b, `<line x1="%.0f" y1="%.0f" x2="%.0f" y2="%.0f" stroke="black"/>`+"\n", pad, h-pad, w-pad, h-pad)
	fmt.Fprintf(&b, `<line x1="%.0f" y1="%.0f" x2="%.0f" y2="%.0f" stroke="black"/>`+"\n", pad, pad, pad, h-pad)
	fmt.Fprintf(&b, `<text x="%.0f" y="%.0f">%.0f req/s</text>`+"\n", pad+4, pad-6, top)
	fmt.Fprintf(&b, `<text x="%.0f" y="%.0f">0</text>`+"\n", pad-12, h-pad+4)
	fmt.Fprintf(&b, `<text x="%.0f" y="%.0f">%d min</text>`+"\n", w-pad-30, h-pad+16, n/60)
	fmt.Fprintf(&b, `<text x="%.1f" y="%.0f" fill="#a00">bank down %v</text>`+"\n", x(down)+4, pad+14, r.cfg.Outage)
	fmt.Fprintf(&b, `<text x="%.0f" y="%.1f" fill="#555">steady %.0f req/s</text>`+"\n", w-pad-110, y(r.Steady)-4, r.Steady)
	fmt.Fprintf(&b, `<text x="%.0f" y="%.1f" fill="#c00">3× steady</text>`+"\n", w-pad-60, y(3*r.Steady)-4)
	fmt.Fprintf(&b, `<text x="%.0f" y="%.0f">%d kiosks: bank requests per second (10 s means)</text>`+"\n", pad, h-8, r.cfg.Kiosks)
	b.WriteString("</svg>\n")
	return os.WriteFile(path, []byte(b.String()), 0o644)
}

func checkFleet(t *testing.T, r fleetResult) {
	t.Helper()
	if r.Peak > 3*r.Steady {
		t.Errorf("peak %.0f req/s is %.2f× the steady %.0f req/s; want at most 3×", r.Peak, r.Peak/r.Steady, r.Steady)
	}
	if r.Drained < 0 || r.Drained > 10*time.Minute {
		t.Errorf("the queues were empty %v after the bank's return; want within 10 min", r.Drained)
	}
	// Kiosks switched on at random times fall in the minute's seconds like
	// Poisson counts: allow five standard deviations of those.
	if lim := 1 + 5/math.Sqrt(float64(r.cfg.Kiosks)/60); r.HeartbeatSpread > lim {
		t.Errorf("heartbeats bunch: the busiest second of the minute has %.2f× the mean (at most %.2f× by chance)", r.HeartbeatSpread, lim)
	}
}

// TestFleetOutageSmall is the simulation at the suite's scale: 300 kiosks,
// the bank away for 20 minutes.
func TestFleetOutageSmall(t *testing.T) {
	cfg := fleetConfig{Kiosks: 300, Warmup: 5 * time.Minute, Steady: 10 * time.Minute, Outage: 20 * time.Minute,
		After: 10 * time.Minute, TopUpEvery: 14 * time.Hour / 200, Latency: 50 * time.Millisecond}
	var r fleetResult
	synctest.Test(t, func(t *testing.T) { r = runFleet(cfg) })
	t.Log(r)
	checkFleet(t, r)
}

func TestFleetOutage(t *testing.T) {
	if os.Getenv("FLEET_SIM") == "" {
		t.Skip("the 10 000-kiosk simulation takes minutes: FLEET_SIM=1 (make fleet-sim)")
	}
	cfg := fleetConfig{Kiosks: 10000, Warmup: 10 * time.Minute, Steady: 20 * time.Minute, Outage: time.Hour,
		After: 20 * time.Minute, TopUpEvery: 14 * time.Hour / 200, Latency: 50 * time.Millisecond}
	if v, err := strconv.Atoi(os.Getenv("FLEET_KIOSKS")); err == nil && v > 0 {
		cfg.Kiosks = v
	}
	if v, err := time.ParseDuration(os.Getenv("FLEET_OUTAGE")); err == nil && v > 0 {
		cfg.Outage = v
	}
	if v, err := time.ParseDuration(os.Getenv("FLEET_PROBE")); err == nil && v > 0 {
		cfg.Tune = func(o *Options) { o.ProbeInterval = v }
	}
	var r fleetResult
	began := time.Now()
	synctest.Test(t, func(t *testing.T) { r = runFleet(cfg) })
	t.Logf("%v (simulated in %v)", r, time.Since(began).Round(time.Second))
	if dir := os.Getenv("FLEET_OUT"); dir != "" {
		for _, err := range []error{r.writeCSV(filepath.Join(dir, "fleet.csv")), r.writeSVG(filepath.Join(dir, "fleet.svg"))} {
			if err != nil {
				t.Error(err)
			}
		}
	}
	checkFleet(t, r)
}
