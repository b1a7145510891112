package main

import (
	"context"
	"errors"
	"io"
	"net"
	"net/http"
	"slices"
	"sync"
	"time"

	"tolem/kiosk"
	"tolem/kiosk/config"
	"tolem/kiosk/console"
	"tolem/kiosk/flow"
	"tolem/kiosk/ledger"
	"tolem/metrics"
)

// newMetrics builds the kiosk's metrics, or nil when metrics.listen is
// empty (every hook is a no-op on nil).
func newMetrics(w *wiring) *metrics.Metrics {
	if w.cfg.Metrics.Listen == "" {
		return nil
	}
	o := metrics.Options{
		Source: metricsSource{w},
		Log:    w.log.With("component", "metrics"),
	}
	if w.cfg.Printer.Kind != config.PrinterNone {
		o.Printer = printerMetrics{w}
	}
	return metrics.New(o)
}

// serveMetrics serves /metrics on metrics.listen until ctx ends. A port it
// cannot bind is logged and the kiosk runs on without metrics: monitoring
// must never keep cash from being taken.
func serveMetrics(ctx context.Context, w *wiring, m *metrics.Metrics) io.Closer {
	if m == nil {
		return nopCloser{}
	}
	log := w.log.With("component", "metrics")
	ln, err := net.Listen("tcp", w.cfg.Metrics.Listen)
	if err != nil {
		log.Error("metrics not served: cannot listen; check metrics.listen and what else holds the port", "listen", w.cfg.Metrics.Listen, "err", err)
		return nopCloser{}
	}
	mux := http.NewServeMux()
	mux.Handle("GET /metrics", m.Handler())
	srv := &http.Server{Handler: mux, ReadHeaderTimeout: 10 * time.Second, IdleTimeout: 2 * time.Minute}
	go func() {
		if err := srv.Serve(ln); err != nil && !errors.Is(err, http.ErrServerClosed) {
			log.Error("metrics server stopped", "err", err)
		}
	}()
	log.Info("metrics listening", "addr", ln.Addr().String(), "path", "/metrics")
	return closerFunc(func() error {
		ctx, cancel := context.WithTimeout(context.WithoutCancel(ctx), 2*time.Second)
		defer cancel()
		return srv.Shutdown(ctx)
	})
}

type closerFunc func() error

func (f closerFunc) Close() error { return f() }

// metricsSource is the running kiosk as the metrics read it at scrape time.
type metricsSource struct{ w *wiring }

func (s metricsSource) State() kiosk.State           { return s.w.flow.Status().State }
func (s metricsSource) Acceptor() kiosk.AcceptorInfo { return s.w.acceptor.Info() }

func (s metricsSource) Cassette(ctx context.Context) (metrics.Cassette, error) {
	if s.w.ledger == nil {
		return metrics.Cassette{}, s.w.ledgerErr
	}
	p, err := s.w.ledger.CurrentPeriod(ctx)
	return metrics.Cassette{Bills: p.Count, Amount: p.Amount, Capacity: s.w.cfg.Acceptor.CassetteCapacity}, err
}

func (s metricsSource) Queue(ctx context.Context) (kiosk.QueueStats, error) {
	if s.w.ledger == nil {
		return kiosk.QueueStats{}, s.w.ledgerErr
	}
	return s.w.ledger.Queue(ctx)
}

func (s metricsSource) Bank() metrics.Bank {
	ob := s.w.outbox
	if ob == nil {
		return metrics.Bank{}
	}
	st := ob.Status()
	return metrics.Bank{Known: true, Up: st.Reachable, ClockOffset: ob.ClockOffset(),
		Credited: st.Counts.Credited, Rejected: st.Counts.Rejected,
		CreditedBy: st.Counts.CreditedBy, RejectedBy: st.Counts.RejectedBy,
		Retries: st.Counts.Failures, Requests: st.Counts.Requests}
}

func (s metricsSource) DoorOpen() bool {
	return slices.Contains(s.w.flow.Status().Reasons, conditionDoor)
}

func (s metricsSource) DoorAlarm() bool { return s.w.doorAlarm.Load() }

func (s metricsSource) Review(ctx context.Context) (metrics.Review, error) {
	if s.w.ledger == nil {
		return metrics.Review{}, s.w.ledgerErr
	}
	rv, err := s.w.ledger.ReviewList(ctx)
	if err != nil {
		return metrics.Review{}, err
	}
	r := metrics.Review{Bills: len(rv.Bills)}
	for _, t := range rv.TopUps {
		if t.Sync == kiosk.SyncRejected {
			r.Rejected++
		} else {
			r.TopUps++
		}
	}
	return r, nil
}

// Disk is the data directory's file system, for disk_free_bytes.
func (s metricsSource) Disk() (free, total uint64, err error) {
	return console.DiskSpace(s.w.cfg.DataDir)
}

// LedgerOK: the ledger opened, its background check (if any) found no
// damage, and the flow has not lost it since (a write that failed keeps the
// kiosk out of service for the ledger).
func (s metricsSource) LedgerOK(context.Context) bool {
	return s.w.ledger != nil && s.w.ledger.Damaged() == nil &&
		!slices.Contains(s.w.flow.Status().Reasons, flow.ReasonLedger)
}

// meteredLedger is the flow's ledger with the timings and counts the
// metrics need: every durable write timed, a bill's wait from escrow to
// STACK, bills stacked and top-ups completed. It adds a clock read and a map
// entry per bill to the flow's path, nothing that waits.
type meteredLedger struct {
	kiosk.Ledger
	m   *metrics.Metrics
	led *ledger.Ledger // to look up a bill escrowed before a restart; may be nil

	mu          sync.Mutex
	escrowed    map[string]escrowedBill
	lastReceipt int64
}

type escrowedBill struct {
	at    time.Time
	value kiosk.Money
}

// meterLedger wraps l when metrics are on.
func meterLedger(l kiosk.Ledger, m *metrics.Metrics, led *ledger.Ledger) kiosk.Ledger {
	if m == nil {
		return l
	}
	return &meteredLedger{Ledger: l, m: m, led: led, escrowed: map[string]escrowedBill{}}
}

func (l *meteredLedger) timed(op string, start time.Time, err error) {
	if err == nil {
		l.m.LedgerCommit(op, time.Since(start))
	}
}

func (l *meteredLedger) RecordEscrow(ctx context.Context, b kiosk.BillRecord) error {
	start := time.Now()
	err := l.Ledger.RecordEscrow(ctx, b)
	l.timed("record_escrow", start, err)
	if err == nil {
		l.mu.Lock()
		l.escrowed[ledger.BillID(b.SessionID, b.Seq)] = escrowedBill{at: start, value: b.Value}
		l.mu.Unlock()
	}
	return err
}

func (l *meteredLedger) MarkStacking(ctx context.Context, id string, at time.Time) error {
	start := time.Now()
	err := l.Ledger.MarkStacking(ctx, id, at)
	l.timed("mark_stacking", start, err)
	l.mu.Lock()
	e, ok := l.escrowed[id]
	l.mu.Unlock()
	if ok && err == nil {
		// The flow records the STACK taken as soon as the driver reports it.
		l.m.EscrowToStack(start.Sub(e.at))
	}
	return err
}

func (l *meteredLedger) MarkStacked(ctx context.Context, id string, at time.Time) error {
	l.mu.Lock()
	e, known := l.escrowed[id]
	delete(l.escrowed, id)
	l.mu.Unlock()
	count := known
	if !known && l.led != nil {
		// Escrowed before a restart: count it unless it was already in.
		if b, err := l.led.Bill(ctx, id); err == nil && b.State == kiosk.BillEscrowed {
			count, e.value = true, b.Value
		}
	}
	start := time.Now()
	err := l.Ledger.MarkStacked(ctx, id, at)
	l.timed("mark_stacked", start, err)
	if err == nil && count {
		l.m.BillStacked(e.value)
	}
	return err
}

func (l *meteredLedger) MarkReturned(ctx context.Context, id string, at time.Time) error {
	l.mu.Lock()
	delete(l.escrowed, id)
	l.mu.Unlock()
	start := time.Now()
	err := l.Ledger.MarkReturned(ctx, id, at)
	l.timed("mark_returned", start, err)
	return err
}

func (l *meteredLedger) RecordSuspense(ctx context.Context, v kiosk.Money, at time.Time) error {
	start := time.Now()
	err := l.Ledger.RecordSuspense(ctx, v, at)
	l.timed("record_suspense", start, err)
	if err == nil {
		l.m.BillStacked(v)
	}
	return err
}

func (l *meteredLedger) OpenSession(ctx context.Context, s kiosk.Session) error {
	start := time.Now()
	err := l.Ledger.OpenSession(ctx, s)
	l.timed("open_session", start, err)
	return err
}

func (l *meteredLedger) CompleteTopUp(ctx context.Context, sessionID string, at time.Time) (kiosk.TopUp, error) {
	start := time.Now()
	t, err := l.Ledger.CompleteTopUp(ctx, sessionID, at)
	l.timed("complete_topup", start, err)
	if err == nil {
		// Completing a completed session returns its top-up again: count
		// each receipt number once.
		l.countTopUps([]kiosk.TopUp{t})
	}
	return t, err
}

// observeBank is the bank client's report of each request, for the bank
// latency histogram; nil without metrics.
func observeBank(w *wiring) func(string, int, time.Duration) {
	if w == nil || w.metrics == nil {
		return nil
	}
	return w.metrics.BankRequest
}

// countConsoleAudit counts the console's logins and lockouts off the audit
// lines it writes for them.
func countConsoleAudit(m *metrics.Metrics, e kiosk.AuditEntry) {
	switch e.Action {
	case "login":
		m.ConsoleLogin("ok")
	case "login_failed":
		m.ConsoleLogin("failed")
	case "login_refused":
		m.ConsoleLogin("refused")
	case "console_locked":
		m.ConsoleLockout()
	}
}

// Recover and SettleLate may complete top-ups (interrupted sessions,
// follow-ups for bills found in the cassette): each counts once.
func (l *meteredLedger) Recover(ctx context.Context, p *kiosk.PowerUpReport, at time.Time) (kiosk.RecoveryReport, error) {
	start := time.Now()
	r, err := l.Ledger.Recover(ctx, p, at)
	l.timed("recover", start, err)
	l.countTopUps(r.TopUps)
	return r, err
}

func (l *meteredLedger) SettleLate(ctx context.Context, p *kiosk.PowerUpReport, at time.Time) (kiosk.RecoveryReport, error) {
	start := time.Now()
	r, err := l.Ledger.SettleLate(ctx, p, at)
	l.timed("settle_late", start, err)
	l.countTopUps(r.TopUps)
	return r, err
}

func (l *meteredLedger) countTopUps(ts []kiosk.TopUp) {
	for _, t := range ts {
		l.mu.Lock()
		fresh := t.ReceiptNo > l.lastReceipt
		l.lastReceipt = max(l.lastReceipt, t.ReceiptNo)
		l.mu.Unlock()
		if fresh {
			l.m.TopUpCompleted(t.ServiceName())
		}
	}
}
