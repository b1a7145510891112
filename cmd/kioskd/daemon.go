package main

import (
	"context"
	"errors"
	"fmt"
	"io"
	"log/slog"
	"net"
	"net/url"
	"os"
	"path/filepath"
	"sync/atomic"
	"time"

	"github.com/google/uuid"
	"golang.org/x/term"

	"tolem/devices/panel/simpanel"
	"tolem/kiosk"
	"tolem/kiosk/config"
	"tolem/kiosk/flow"
	"tolem/kiosk/ledger"
	"tolem/metrics"
	"tolem/sync/bankapi"
	"tolem/sync/bankapi/banksim"
	"tolem/sync/outbox"
)

type daemonOptions struct {
	Config         *config.Config
	Sim            bool
	Headless       bool
	Stdin          *os.File
	Stdout, Stderr io.Writer
	LedgerMaxBytes int64
	SimAcceptor    string // ccnet or id003 (emulator on a pty), or inproc
}

// wiring is everything runDaemon built, handed to the parts that start
// later (the outbox, the technician's doors) so that each can reach what it
// needs without globals.
type wiring struct {
	cfg       *config.Config
	log       *slog.Logger
	sim       bool
	started   time.Time
	ledger    *ledger.Ledger // nil when the ledger could not be opened
	ledgerErr error          // why, then
	flow      *flow.Flow
	acceptor  kiosk.Acceptor
	bank      *bankapi.Client
	banksim   *banksim.Server // only in --sim
	outbox    outboxView      // set by startOutbox
	gate      *outbox.Gate    // holds delivery while a customer pays; set by startOutbox
	panel     *frontPanel     // display, keys, LED, door switch, self-test
	// doorAlarm is raised by the console when the service door opens with no
	// technician logged in; the heartbeat carries it to the bank.
	doorAlarm atomic.Bool
	metrics   *metrics.Metrics // nil when metrics.listen is empty
	clock     *clockWatch      // jumps of the wall clock; nil in tests
	catalog   *catalogHolder
	receipts  *receipts // the receipt printer (codes alone without one)
}

// runDaemon wires the kiosk together and runs it until ctx ends. Only a
// failure to start the basics (logging, the control socket) returns an error;
// a broken ledger or acceptor keeps the daemon up and out of service, so that
// a technician can see why on the console instead of a restart loop.
func runDaemon(ctx context.Context, o daemonOptions) error {
	cfg := o.Config
	ctx, cancel := context.WithCancel(ctx)
	defer cancel()

	useTerminal := o.Sim && !o.Headless && o.Stdin != nil && term.IsTerminal(int(o.Stdin.Fd()))
	logOut := o.Stderr
	if useTerminal {
		// The terminal panel owns the screen; the log goes beside the ledger.
		f, err := os.OpenFile(filepath.Join(cfg.DataDir, "kioskd.log"), os.O_CREATE|os.O_WRONLY|os.O_APPEND, 0o640)
		if err != nil {
			return fmt.Errorf("open log: %w", err)
		}
		defer f.Close()
		logOut = f
	}
	log := newLogger(logOut, cfg.Log)
	log.Info("kioskd starting", "version", version, "terminal", cfg.TerminalID, "data_dir", cfg.DataDir, "sim", o.Sim)
	w := &wiring{cfg: cfg, log: log, sim: o.Sim, started: time.Now()}
	w.metrics = newMetrics(w)
	w.clock = startClockWatch(ctx, log)

	// The ledger first: without it no cash may be taken.
	var led kiosk.Ledger
	l, err := ledger.Open(ctx, filepath.Join(cfg.DataDir, "ledger.db"), ledger.Options{Logger: log, MaxBytes: o.LedgerMaxBytes})
	if err != nil {
		log.Error("ledger unusable: the kiosk stays out of service; check the data dir's disk and permissions, then restart", "err", err)
		led = brokenLedger{err: err}
		w.ledgerErr = err
	} else {
		w.ledger = l
		led = l
		defer l.Close()
	}

	var acc kiosk.Acceptor
	var feeder simpanel.BillFeeder
	if o.Sim {
		bank, err := startSimBank(cfg, log)
		if err != nil {
			return err
		}
		defer bank.Close()
		w.banksim = bank
		a, f, closeEmu, err := startSimAcceptor(cfg, log, o.SimAcceptor)
		if err != nil {
			return err
		}
		defer closeEmu()
		acc, feeder = a, f
	} else {
		a, err := openAcceptor(cfg, log)
		if err != nil {
			return err
		}
		acc = a
	}
	defer acc.Close()
	w.acceptor = acc

	client, err := newBankClient(cfg, log, w)
	if err != nil {
		return err
	}
	w.bank = client
	w.catalog = newCatalogHolder(ctx, w.ledger, client, log)
	go w.catalog.run(ctx)

	fp, err := openPanel(cfg, log, feeder)
	if err != nil {
		return err
	}
	defer fp.closer.Close()
	w.panel = fp

	rc, err := newReceipts(w, fp)
	if err != nil {
		return err
	}
	defer rc.Close()
	w.receipts = rc

	f := flow.New(flowConfig(cfg), flow.Deps{
		Clock:    kiosk.SystemClock{},
		Acceptor: acc,
		Ledger:   meterLedger(led, w.metrics, w.ledger),
		Wallets:  client,
		Display:  fp.display,
		Light:    fp.light,
		Receipts: rc.flowSide(),
		Log:      log,
		NewID:    func() string { return uuid.NewString() },
		Catalog:  w.catalog.Get,
		Accounts: client,
		Ping: func(ctx context.Context) error {
			_, err := client.Ping(ctx)
			return err
		},
		Payments: receiptSource{ledger: w.ledger, bank: client, timeout: cfg.Bank.LookupTimeout, log: log},
	})
	w.flow = f
	if w.ledger != nil && !w.ledger.Checked() {
		// A big ledger: quick_check reads the whole file, so it runs
		// beside the customers, not before them.
		go checkLedger(ctx, w.ledger.QuickCheck, f.SetCondition, log)
	}
	if fp.keys != nil {
		go forwardKeys(ctx, fp.keys, f)
	}

	ob, err := startOutbox(ctx, w)
	if err != nil {
		return err
	}
	doors, err := startDoors(ctx, w)
	if err != nil {
		return err
	}
	defer serveMetrics(ctx, w, w.metrics).Close()

	rc.start(ctx, f)
	flowDone := make(chan error, 1)
	go func() { flowDone <- f.Run(ctx) }()
	go superviseLoops(ctx, w, ob)

	if useTerminal {
		screens, unsub := f.Subscribe()
		defer unsub()
		keys := make(chan kiosk.Key, 16)
		go forwardKeys(ctx, keys, f)
		topts := simpanel.TermOptions{Notes: simNotes(w.cfg)}
		if rc.sim != nil {
			topts.Receipts, topts.TogglePaper = rc.sim.Receipts(), rc.sim.TogglePaper
		}
		err := simpanel.RunTerminal(ctx, o.Stdin, o.Stdout, screens, keys, feeder, topts)
		if err != nil {
			log.Error("terminal panel", "err", err)
		}
		cancel()
	}
	select {
	case <-ctx.Done():
		err = <-flowDone
	case err = <-flowDone:
		cancel()
	}
	// The flow has waited for the bill in flight; the acceptor is closed now,
	// and what it still reports is recorded before anything else stops, so
	// that no bill's report is lost with the process.
	if err := acc.Close(); err != nil {
		log.Warn("acceptor close", "err", err)
	}
	drainCtx, cancelDrain := context.WithTimeout(context.WithoutCancel(ctx), 10*time.Second)
	f.Drain(drainCtx)
	cancelDrain()
	// The outbox closes last: its bounded final flush may still deliver what
	// the flow completed in its last moments.
	doors.Close()
	rc.Close()
	ob.Close()
	log.Info("kioskd stopped")
	if err != nil && !errors.Is(err, context.Canceled) {
		return err
	}
	return nil
}

// superviseLoops tells systemd the kiosk is ready once the flow's loop
// answers, then keeps the watchdog fed while every loop makes progress.
func superviseLoops(ctx context.Context, w *wiring, outbox any) {
	loops := []liveness{{"flow", w.flow.Alive}}
	if r, ok := w.acceptor.(activityReporter); ok {
		loops = append(loops, liveness{"acceptor", staleAfter(r, 30*time.Second)})
	}
	if a, ok := outbox.(interface{ Alive(context.Context) error }); ok {
		loops = append(loops, liveness{"outbox", a.Alive})
	}
	if err := checkLoops(ctx, loops, time.Minute); err != nil {
		w.log.Error("not ready", "err", err)
		return
	}
	notifyReady(w.log)
	runWatchdog(ctx, w.log, loops)
}

// openPanel opens the front panel the config names. In sim, BILL lines on
// the panel socket reach the simulated acceptor through feeder.
func openPanel(cfg *config.Config, log *slog.Logger, feeder simpanel.BillFeeder) (*frontPanel, error) {
	switch cfg.Panel.Kind {
	case config.PanelGPIO:
		return openGPIOPanel(cfg, log)
	case config.PanelNone:
		return &frontPanel{display: noDisplay{log}, closer: nopCloser{}}, nil
	}
	srv, err := simpanel.NewServer(cfg.Panel.Socket, log)
	if err != nil {
		return nil, fmt.Errorf("panel socket: %w", err)
	}
	if feeder != nil {
		srv.SetFeeder(feeder)
	}
	return &frontPanel{display: srv, keys: srv.Keys(), closer: srv}, nil
}

func forwardKeys(ctx context.Context, keys <-chan kiosk.Key, f *flow.Flow) {
	for {
		select {
		case <-ctx.Done():
			return
		case k, ok := <-keys:
			if !ok {
				return
			}
			f.Key(k)
		}
	}
}

func newLogger(w io.Writer, lc config.Log) *slog.Logger {
	opts := &slog.HandlerOptions{Level: lc.SlogLevel()}
	if h := journalHandlerFor(w, opts.Level); h != nil {
		return slog.New(h)
	}
	if lc.Format == "json" {
		return slog.New(slog.NewJSONHandler(w, opts))
	}
	return slog.New(slog.NewTextHandler(w, opts))
}

func flowConfig(cfg *config.Config) flow.Config {
	return flow.Config{
		MaxAmount:        cfg.Limits.MaxAmount,
		PhonePrefixes:    cfg.Limits.PhonePrefixes,
		OfflineMaxCount:  cfg.Limits.OfflineMaxCount,
		OfflineMaxAmount: cfg.Limits.OfflineMaxAmount,
		PhoneTimeout:     cfg.Flow.PhoneTimeout,
		InsertTimeout:    cfg.Flow.InsertTimeout,
		DoneTimeout:      cfg.Flow.DoneTimeout,
		LookupTimeout:    cfg.Bank.LookupTimeout,
	}
}

// startSimBank runs the bank sandbox on a loopback port with the sim wallets
// and points the config at it.
func startSimBank(cfg *config.Config, log *slog.Logger) (*banksim.Server, error) {
	ln, err := net.Listen("tcp", "127.0.0.1:0")
	if err != nil {
		return nil, fmt.Errorf("bank sandbox: %w", err)
	}
	srv, err := banksim.New(banksim.Options{
		DBPath:    filepath.Join(cfg.DataDir, "banksim.db"),
		Terminals: map[string][]byte{cfg.TerminalID: []byte(cfg.Bank.Secret)},
		Wallets:   simWallets,
		Log:       log.With("component", "banksim"),
		Services:  simServices(),
	})
	if err != nil {
		ln.Close()
		return nil, fmt.Errorf("bank sandbox: %w", err)
	}
	go srv.Start(ln)
	cfg.Bank.URL = (&url.URL{Scheme: "http", Host: ln.Addr().String()}).String()
	if cfg.Printer.Kind == config.PrinterSim && cfg.Printer.CheckURL == "" {
		// The sandbox checks the receipt the QR code points at.
		cfg.Printer.CheckURL = cfg.Bank.URL + "/v1/receipts/verify?terminal={terminal}&receipt={receipt}&code={code}"
	}
	log.Info("bank sandbox listening", "url", cfg.Bank.URL)
	return srv, nil
}

// simServices is the sandbox's catalog: its own, or envSimServices.
func simServices() []byte {
	if v := os.Getenv(envSimServices); v != "" {
		return []byte(v)
	}
	return nil
}

func newBankClient(cfg *config.Config, log *slog.Logger, w *wiring) (*bankapi.Client, error) {
	secret, err := cfg.BankSecret()
	if err != nil {
		return nil, err
	}
	return bankapi.New(bankapi.Options{
		BaseURL:    cfg.Bank.URL,
		TerminalID: cfg.TerminalID,
		Secret:     secret,
		CAFile:     cfg.Bank.CAFile,
		Timeout:    cfg.Bank.Timeout,
		Clock:      kiosk.SystemClock{},
		Log:        log.With("component", "bank"),
		Observe:    observeBank(w),
	})
}

// brokenLedger stands in when the ledger cannot be opened: every write fails,
// so the flow keeps the kiosk out of service and no cash is taken.
type brokenLedger struct{ err error }

func (b brokenLedger) fail() error { return fmt.Errorf("%w: %v", kiosk.ErrLedgerWrite, b.err) }

func (b brokenLedger) OpenSession(context.Context, kiosk.Session) error      { return b.fail() }
func (b brokenLedger) RecordEscrow(context.Context, kiosk.BillRecord) error  { return b.fail() }
func (b brokenLedger) MarkStacked(context.Context, string, time.Time) error  { return b.fail() }
func (b brokenLedger) MarkStacking(context.Context, string, time.Time) error { return b.fail() }
func (b brokenLedger) MarkReturned(context.Context, string, time.Time) error { return b.fail() }
func (b brokenLedger) CloseSession(context.Context, string, time.Time) error { return b.fail() }
func (b brokenLedger) RecordSuspense(context.Context, kiosk.Money, time.Time) error {
	return b.fail()
}
func (b brokenLedger) PendingRecovery(context.Context) (bool, error) { return false, b.fail() }
func (b brokenLedger) SettleLate(context.Context, *kiosk.PowerUpReport, time.Time) (kiosk.RecoveryReport, error) {
	return kiosk.RecoveryReport{}, b.fail()
}
func (b brokenLedger) Queue(context.Context) (kiosk.QueueStats, error) {
	return kiosk.QueueStats{}, b.fail()
}
func (b brokenLedger) Audit(context.Context, kiosk.AuditEntry) error { return b.fail() }
func (b brokenLedger) CompleteTopUp(context.Context, string, time.Time) (kiosk.TopUp, error) {
	return kiosk.TopUp{}, b.fail()
}
func (b brokenLedger) Recover(context.Context, *kiosk.PowerUpReport, time.Time) (kiosk.RecoveryReport, error) {
	return kiosk.RecoveryReport{}, b.fail()
}
