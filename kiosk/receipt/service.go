package receipt

import (
	"context"
	"errors"
	"fmt"
	"log/slog"
	"slices"
	"sync"
	"time"

	"tolem/kiosk"
)

// State is what became of a top-up's receipt, as the ledger keeps it.
type State string

// Receipt states. A top-up with no state is one whose receipt was never
// tried: a power cut came between its commit and its printing.
const (
	// Printed: the printer took the whole receipt.
	StatePrinted State = "printed"
	// Skipped: the printer could not print when the top-up was committed;
	// the customer had been told so and saw the code on the screen.
	StateSkipped State = "skipped"
	// Failed: printing started and the printer failed; a technician can
	// print a copy with reprint.
	StateFailed State = "failed"
)

// Store is the ledger's side of receipts.
type Store interface {
	// ReceiptState is the state of the top-up's original receipt, "" when
	// none was recorded.
	ReceiptState(ctx context.Context, topUpID string) (string, error)
	// RecordReceipt records what became of the top-up's original receipt.
	RecordReceipt(ctx context.Context, topUpID, state, note string, at time.Time) error
	// RecordCopy counts a copy printed on request.
	RecordCopy(ctx context.Context, topUpID string, at time.Time) error
	// Unprinted returns the top-ups completed at or after since whose
	// receipt has no state, oldest first.
	Unprinted(ctx context.Context, since time.Time) ([]kiosk.TopUp, error)
	// TopUpByReceipt finds a top-up by its receipt number (kiosk.ErrNotFound).
	TopUpByReceipt(ctx context.Context, n int64) (kiosk.TopUp, []kiosk.BillRecord, error)
	Audit(ctx context.Context, e kiosk.AuditEntry) error
}

// Config is the Service's settings.
type Config struct {
	Layout Layout
	// Secret is the terminal's bank secret the code is signed with.
	Secret []byte
	// Lang is the language of receipts printed without a customer's choice
	// (those a restart prints).
	Lang kiosk.Lang
	// ResumeWithin: at start, a top-up completed this recently whose
	// receipt a power cut prevented is printed (5 min); older ones are not,
	// the customer has gone.
	ResumeWithin time.Duration
	// PollEvery is how often the printer's status is asked (5 s).
	PollEvery time.Duration
}

// Defaults of Config.
const (
	DefaultResumeWithin = 5 * time.Minute
	DefaultPollEvery    = 5 * time.Second
)

// queueLen bounds the receipts waiting for the printer; one customer makes
// one receipt a minute at best, so a full queue means a hung printer, and
// what does not fit is printed at the next start if still recent.
const queueLen = 16

// printTimeout bounds one receipt: a Kazakh receipt with a raster QR code
// takes about 40 s at 9600 baud (BENCHMARKS.md).
const printTimeout = time.Minute

// Status is the printer's state for the console, the heartbeat and metrics.
type Status struct {
	// Known is false until the printer was first asked.
	Known  bool                 `json:"known"`
	Ready  bool                 `json:"ready"`
	Faults []kiosk.PrinterFault `json:"faults"`
	// Error is why the last status request or print failed, "" when fine.
	Error   string `json:"error,omitempty"`
	Printed int    `json:"printed"`
	Failed  int    `json:"failed"`
	Queued  int    `json:"queued"`
}

// Service prints receipts in the background. Make it with New, run it with
// Run; Ready, Issue, Status and Reprint are safe from any goroutine.
type Service struct {
	cfg     Config
	printer kiosk.Printer
	store   Store
	clock   kiosk.Clock
	log     *slog.Logger

	jobs chan job
	poke chan struct{}
	// printMu serialises the printer between the worker and Reprint.
	printMu sync.Mutex

	mu       sync.Mutex
	status   Status
	onChange []func(Status)
}

type job struct {
	t    kiosk.TopUp
	lang kiosk.Lang
	// skip: the printer could not print when the top-up was committed;
	// only record that.
	skip bool
	// barrier, when set, is no receipt: it is closed once every job
	// before it is handled.
	barrier chan struct{}
	// refresh is no receipt either: ask the printer's status.
	refresh bool
}

// New makes a Service; it prints nothing until Run.
func New(cfg Config, p kiosk.Printer, store Store, clock kiosk.Clock, log *slog.Logger) *Service {
	if cfg.ResumeWithin <= 0 {
		cfg.ResumeWithin = DefaultResumeWithin
	}
	if cfg.PollEvery <= 0 {
		cfg.PollEvery = DefaultPollEvery
	}
	if log == nil {
		log = slog.New(slog.DiscardHandler)
	}
	return &Service{cfg: cfg, printer: p, store: store, clock: clock, log: log,
		jobs: make(chan job, queueLen), poke: make(chan struct{}, 1)}
}

// OnChange calls fn (from the Service's goroutine) whenever the status's
// readiness or faults change; call it before Run.
func (s *Service) OnChange(fn func(Status)) {
	s.mu.Lock()
	s.onChange = append(s.onChange, fn)
	s.mu.Unlock()
}

// Code is the verification code of a top-up.
func (s *Service) Code(t kiosk.TopUp) string {
	return TopUpCode(s.cfg.Secret, s.cfg.Layout.TerminalID, t)
}

// Ready reports whether a receipt can be printed now.
func (s *Service) Ready() bool {
	s.mu.Lock()
	defer s.mu.Unlock()
	return s.status.Ready
}

// Status returns a snapshot of the printer's status.
func (s *Service) Status() Status {
	s.mu.Lock()
	defer s.mu.Unlock()
	st := s.status
	st.Faults = slices.Clone(st.Faults)
	st.Queued = len(s.jobs)
	return st
}

// Faults is every fault label and the standing ones, for tolem_printer_fault.
func (s *Service) Faults() (all, active []string) {
	for _, f := range kiosk.PrinterFaults() {
		all = append(all, string(f))
	}
	for _, f := range s.Status().Faults {
		active = append(active, string(f))
	}
	return all, active
}

// Issue queues the committed top-up's receipt, or, when the printer cannot
// print, records it skipped. It never blocks.
func (s *Service) Issue(t kiosk.TopUp, lang kiosk.Lang) (bool, string) {
	code := s.Code(t)
	if s.gone(t) {
		s.log.Info("receipt of a recovered top-up not printed: its customer has gone",
			"receipt", t.ReceiptNo, "code", code)
		return false, code
	}
	if !s.Ready() {
		s.queue(job{t: t, lang: lang, skip: true})
		return false, code
	}
	return s.queue(job{t: t, lang: lang}), code
}

// gone reports whether t's customer has gone, so that a receipt would go to
// the next one: a session a power cut interrupted that began too long ago,
// or a follow-up top-up for a bill a collection's count found.
func (s *Service) gone(t kiosk.TopUp) bool {
	return t.Reconciled || t.Recovered && s.clock.Now().Sub(t.CreatedAt) > s.cfg.ResumeWithin
}

// queue hands a job to the worker.
func (s *Service) queue(j job) bool {
	select {
	case s.jobs <- j:
		return !j.skip
	default:
		s.log.Error("receipt queue full; the printer is not keeping up", "receipt", j.t.ReceiptNo)
		return false
	}
}

// Run asks the printer's status, prints the recent receipts a power cut
// prevented, then prints what Issue queues and polls the status until ctx
// ends.
func (s *Service) Run(ctx context.Context) error {
	s.poll(ctx)
	s.resume(ctx)
	// A printer that reports changes by itself is asked at once.
	var changed <-chan struct{}
	if c, ok := s.printer.(interface{ Changed() <-chan struct{} }); ok {
		changed = c.Changed()
	}
	for {
		t := s.clock.NewTimer(s.cfg.PollEvery)
		select {
		case <-ctx.Done():
			t.Stop()
			return nil
		case j := <-s.jobs:
			t.Stop()
			s.handle(ctx, j)
		case <-s.poke:
			t.Stop()
			s.poll(ctx)
		case <-changed:
			t.Stop()
			s.poll(ctx)
		case <-t.C():
			s.poll(ctx)
		}
	}
}

// Refresh asks the printer's status now rather than at the next poll, in
// turn with the receipts queued (a Wait after it sees the answer).
func (s *Service) Refresh() {
	select {
	case s.jobs <- job{refresh: true}:
	default:
		select {
		case s.poke <- struct{}{}:
		default:
		}
	}
}

func (s *Service) resume(ctx context.Context) {
	since := s.clock.Now().Add(-s.cfg.ResumeWithin)
	ts, err := s.store.Unprinted(ctx, since)
	if err != nil {
		s.log.Error("cannot list the receipts a restart interrupted", "err", err)
		return
	}
	for _, t := range ts {
		if s.gone(t) {
			continue
		}
		s.log.Info("printing the receipt a restart interrupted", "receipt", t.ReceiptNo)
		s.handle(ctx, job{t: t, lang: s.cfg.Lang})
	}
}

// Wait returns once every receipt Issue queued before the call is handled
// (printed, skipped or failed), or ctx ends. Run must be running.
func (s *Service) Wait(ctx context.Context) error {
	b := make(chan struct{})
	select {
	case s.jobs <- job{barrier: b}:
	case <-ctx.Done():
		return ctx.Err()
	}
	select {
	case <-b:
		return nil
	case <-ctx.Done():
		return ctx.Err()
	}
}

func (s *Service) handle(ctx context.Context, j job) {
	if j.barrier != nil {
		close(j.barrier)
		return
	}
	if j.refresh {
		s.poll(ctx)
		return
	}
	st, err := s.store.ReceiptState(ctx, j.t.ID)
	if err != nil {
		s.log.Error("cannot read the receipt's state; not printing it", "receipt", j.t.ReceiptNo, "err", err)
		return
	}
	if st != "" {
		// Already printed (or decided) by an earlier pass: a receipt is
		// printed once.
		return
	}
	if j.skip {
		s.log.Warn("no receipt printed: the printer cannot print; the code was on the screen",
			"receipt", j.t.ReceiptNo, "faults", s.Status().Faults)
		s.record(ctx, j.t, StateSkipped, "printer not ready", s.clock.Now())
		return
	}
	// The customer was told a receipt is coming: try even if the printer
	// went wrong since; failing, it is recorded failed, for a reprint.
	doc := s.cfg.Layout.Render(Receipt{TopUp: j.t, Code: s.Code(j.t), Lang: j.lang})
	// A receipt started is finished even while the daemon stops: cut
	// short, it would be recorded failed and never printed again.
	pctx, cancel := context.WithTimeout(context.WithoutCancel(ctx), printTimeout)
	s.printMu.Lock()
	err = s.printer.Print(pctx, doc)
	s.printMu.Unlock()
	cancel()
	if err != nil {
		s.log.Error("receipt printing failed; the top-up is committed, reprint it when the printer is fixed",
			"receipt", j.t.ReceiptNo, "err", err)
		s.mu.Lock()
		s.status.Failed++
		s.status.Error = err.Error()
		s.mu.Unlock()
		s.record(ctx, j.t, StateFailed, err.Error(), s.clock.Now())
		s.poll(ctx)
		return
	}
	s.mu.Lock()
	s.status.Printed++
	s.mu.Unlock()
	s.record(ctx, j.t, StatePrinted, "", s.clock.Now())
	s.log.Info("receipt printed", "receipt", j.t.ReceiptNo)
}

func (s *Service) record(ctx context.Context, t kiosk.TopUp, st State, note string, at time.Time) {
	if err := s.store.RecordReceipt(ctx, t.ID, string(st), note, at); err != nil {
		s.log.Error("cannot record the receipt's state", "receipt", t.ReceiptNo, "state", st, "err", err)
	}
}

func (s *Service) poll(ctx context.Context) {
	pctx, cancel := context.WithTimeout(ctx, 3*time.Second)
	s.printMu.Lock()
	ps, err := s.printer.Status(pctx)
	s.printMu.Unlock()
	cancel()
	s.setStatus(ps, err)
}

func (s *Service) setStatus(ps kiosk.PrinterStatus, err error) {
	if err != nil && !ps.Has(kiosk.PrinterNoAnswer) {
		ps.Faults = append(ps.Faults, kiosk.PrinterNoAnswer)
	}
	slices.Sort(ps.Faults)
	s.mu.Lock()
	old := s.status
	s.status.Known = true
	s.status.Faults = ps.Faults
	s.status.Ready = ps.CanPrint()
	if err != nil {
		s.status.Error = err.Error()
	} else if old.Error != "" && s.status.Ready {
		s.status.Error = ""
	}
	changed := !old.Known || old.Ready != s.status.Ready || !slices.Equal(old.Faults, s.status.Faults)
	st := s.status
	fns := slices.Clone(s.onChange)
	s.mu.Unlock()
	if !changed {
		return
	}
	switch {
	case !st.Ready:
		s.log.Warn("printer cannot print; customers are told no receipt will be printed", "faults", st.Faults, "err", err)
	case slices.Contains(st.Faults, kiosk.PrinterPaperNearEnd):
		s.log.Warn("printer paper near its end; load a new roll", "faults", st.Faults)
	default:
		s.log.Info("printer ready")
	}
	for _, fn := range fns {
		fn(st)
	}
}

// ErrNotPrinted is returned by Reprint when the printer cannot print.
var ErrNotPrinted = errors.New("receipt not printed")

// Reprint prints again the receipt of receipt number n, marked as a copy,
// and writes it to the audit table with actor (a technician's id).
func (s *Service) Reprint(ctx context.Context, n int64, actor string) error {
	t, _, err := s.store.TopUpByReceipt(ctx, n)
	if err != nil {
		return fmt.Errorf("reprint receipt %d: %w", n, err)
	}
	doc := s.cfg.Layout.Render(Receipt{TopUp: t, Code: s.Code(t), Lang: s.cfg.Lang, Copy: true})
	s.printMu.Lock()
	err = s.printer.Print(ctx, doc)
	s.printMu.Unlock()
	detail := fmt.Sprintf("receipt %d copy", n)
	if err != nil {
		detail += " failed: " + err.Error()
	}
	if aerr := s.store.Audit(ctx, kiosk.AuditEntry{At: s.clock.Now(), Actor: actor, Action: "reprint", Detail: detail}); aerr != nil {
		return fmt.Errorf("reprint receipt %d: audit: %w", n, aerr)
	}
	if err != nil {
		s.Refresh()
		return fmt.Errorf("reprint receipt %d: %w: %w", n, ErrNotPrinted, err)
	}
	if err := s.store.RecordCopy(ctx, t.ID, s.clock.Now()); err != nil {
		return fmt.Errorf("reprint receipt %d: printed, but not recorded: %w", n, err)
	}
	return nil
}
