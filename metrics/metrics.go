package metrics

import (
	"context"
	"log/slog"
	"net/http"
	"strconv"
	"time"

	"github.com/prometheus/client_golang/prometheus"
	"github.com/prometheus/client_golang/prometheus/collectors"
	"github.com/prometheus/client_golang/prometheus/promhttp"

	"tolem/kiosk"
)

// Namespace prefixes every metric of the kiosk.
const Namespace = "tolem"

// ServiceWallet is the service label of a wallet top-up; a top-up for a
// catalog service carries that service's id.
const ServiceWallet = "wallet"

// Source is the running kiosk, read at each scrape. Methods that take a
// context read the ledger; an error leaves their metrics out of that scrape
// (and tolem_ledger_ok says why).
type Source interface {
	// State is the flow's current state.
	State() kiosk.State
	// Acceptor is the bill acceptor's identity, state and faults.
	Acceptor() kiosk.AcceptorInfo
	// Cassette is the fill of the current cassette period.
	Cassette(ctx context.Context) (Cassette, error)
	// Queue counts the top-ups by sync state.
	Queue(ctx context.Context) (kiosk.QueueStats, error)
	// Bank is the outbox's view of the bank.
	Bank() Bank
	// DoorOpen is the service door's state.
	DoorOpen() bool
	// DoorAlarm is raised while the door was opened with no technician
	// logged in.
	DoorAlarm() bool
	// Review counts the technician's review list.
	Review(ctx context.Context) (Review, error)
	// LedgerOK says whether the ledger is open and takes writes.
	LedgerOK(ctx context.Context) bool
}

// DiskSource is a Source that also knows the data directory's file system:
// its free bytes and size, as disk_free_bytes and disk_size_bytes.
type DiskSource interface {
	Disk() (free, total uint64, err error)
}

// Cassette is the bill cassette's fill.
type Cassette struct {
	Bills  int
	Amount kiosk.Money
	// Capacity is how many bills it holds; 0 when unknown.
	Capacity int
}

// Review is the size of the technician's review list.
type Review struct {
	// TopUps the bank refused for good (409, 422), waiting for a look.
	TopUps int
	// Rejected top-ups: the bank decided them, its back office refunds.
	Rejected int
	// Bills whose fate a power cut left unknown, or that no session owns.
	Bills int
}

// Bank is what the outbox knows of the bank. The counts are totals since
// the daemon started.
type Bank struct {
	// Known is false while no outbox runs (then nothing below is exported).
	Known bool
	Up    bool
	// ClockOffset is the bank's clock minus the kiosk's, from X-Bank-Time.
	ClockOffset time.Duration
	// Credited and Rejected count top-ups as they settled, each once;
	// CreditedBy and RejectedBy split them by service (when nil, every one
	// counts as the wallet's).
	Credited, Rejected     int
	CreditedBy, RejectedBy map[string]int
	// Retries counts requests that failed and are tried again.
	Retries int
	// Requests counts the outbox's requests to the bank.
	Requests int
}

// Printer is a receipt printer's side of the metrics; the kiosk has one
// only when printer.kind is not none.
type Printer interface {
	// Faults is every fault label the printer driver can report
	// ("paper_low", "paper_out", "cover_open"…), all exported from the
	// start, and the ones standing now.
	Faults() (all, active []string)
}

// Options build the metrics.
type Options struct {
	Source Source
	// AcceptorFaults is every fault a driver can report: each is exported
	// from the start, 0 while clear. Nil means kiosk.Faults().
	AcceptorFaults []kiosk.Fault
	// Printer adds tolem_printer_fault; nil when the kiosk has no printer.
	Printer Printer
	// ScrapeTimeout bounds the ledger reads of one scrape; 5 s when zero.
	ScrapeTimeout time.Duration
	Log           *slog.Logger
}

// Metrics is the kiosk's registry and its event hooks. The hooks are safe
// for concurrent use and may be called on a nil *Metrics (metrics off).
type Metrics struct {
	reg *prometheus.Registry

	topups        *prometheus.CounterVec
	billsStacked  *prometheus.CounterVec
	escrowToStack prometheus.Histogram
	ledgerCommit  *prometheus.HistogramVec
	bankRequest   *prometheus.HistogramVec
	logins        *prometheus.CounterVec
	lockouts      prometheus.Counter
}

// New registers every metric of the kiosk, and the Go runtime and process
// collectors, on a registry of its own.
func New(o Options) *Metrics {
	if o.AcceptorFaults == nil {
		o.AcceptorFaults = kiosk.Faults()
	}
	if o.ScrapeTimeout <= 0 {
		o.ScrapeTimeout = 5 * time.Second
	}
	if o.Log == nil {
		o.Log = slog.New(slog.DiscardHandler)
	}
	m := &Metrics{reg: prometheus.NewRegistry()}
	m.topups = prometheus.NewCounterVec(prometheus.CounterOpts{
		Namespace: Namespace, Name: "topups_total",
		Help: "Top-ups completed (committed to the ledger with a receipt number) since start, by service.",
	}, []string{"service"})
	m.billsStacked = prometheus.NewCounterVec(prometheus.CounterOpts{
		Namespace: Namespace, Name: "bills_stacked_total",
		Help: "Bills stacked into the cassette since start, by face value in tiyn.",
	}, []string{"value"})
	m.escrowToStack = prometheus.NewHistogram(prometheus.HistogramOpts{
		Namespace: Namespace, Name: "escrow_to_stack_seconds",
		Help: "From a bill in escrow to the acceptor taking the STACK command, the durable escrow record between.",
		// The wire alone takes ~26 ms at 9600 baud; the unit holds a bill
		// in escrow for up to 10 s.
		Buckets: []float64{.025, .05, .075, .1, .15, .2, .3, .5, 1, 2, 5, 10},
	})
	m.ledgerCommit = prometheus.NewHistogramVec(prometheus.HistogramOpts{
		Namespace: Namespace, Name: "ledger_commit_seconds",
		Help: "Durable (fsynced) ledger writes of the customer flow, by operation.",
		// An fsync: below a millisecond on an SSD, tens of ms on an SD card.
		Buckets: []float64{.0005, .001, .0025, .005, .01, .025, .05, .1, .25, .5, 1},
	}, []string{"op"})
	m.bankRequest = prometheus.NewHistogramVec(prometheus.HistogramOpts{
		Namespace: Namespace, Name: "bank_request_seconds",
		Help:    "Requests to the bank API by endpoint and HTTP status (0: no answer).",
		Buckets: []float64{.05, .1, .25, .5, 1, 2.5, 5, 10, 15},
	}, []string{"endpoint", "code"})
	m.logins = prometheus.NewCounterVec(prometheus.CounterOpts{
		Namespace: Namespace, Name: "console_logins_total",
		Help: "Technician logins at the serial console since start, by result (ok, failed, refused while locked).",
	}, []string{"result"})
	m.lockouts = prometheus.NewCounter(prometheus.CounterOpts{
		Namespace: Namespace, Name: "console_lockouts_total",
		Help: "Times the serial console locked itself after too many wrong PINs, since start.",
	})
	for _, r := range []string{"ok", "failed", "refused"} {
		m.logins.WithLabelValues(r)
	}
	m.topups.WithLabelValues(ServiceWallet)
	m.reg.MustRegister(m.topups, m.billsStacked, m.escrowToStack, m.ledgerCommit, m.bankRequest, m.logins, m.lockouts,
		collectors.NewGoCollector(),
		collectors.NewProcessCollector(collectors.ProcessCollectorOpts{}),
		&kioskCollector{o: o},
	)
	return m
}

// Handler serves the exposition for /metrics.
func (m *Metrics) Handler() http.Handler {
	return promhttp.HandlerFor(m.reg, promhttp.HandlerOpts{ErrorLog: nil, Timeout: 10 * time.Second})
}

// Gatherer is the registry, for tests and for tools that list the names.
func (m *Metrics) Gatherer() prometheus.Gatherer { return m.reg }

// TopUpCompleted counts a top-up committed with its receipt number.
func (m *Metrics) TopUpCompleted(service string) {
	if m != nil {
		m.topups.WithLabelValues(service).Inc()
	}
}

// BillStacked counts a bill into the cassette.
func (m *Metrics) BillStacked(value kiosk.Money) {
	if m != nil {
		m.billsStacked.WithLabelValues(strconv.FormatInt(int64(value), 10)).Inc()
	}
}

// EscrowToStack observes one bill's wait from escrow to STACK taken.
func (m *Metrics) EscrowToStack(d time.Duration) {
	if m != nil {
		m.escrowToStack.Observe(d.Seconds())
	}
}

// LedgerCommit observes one durable ledger write (op: record_escrow…).
func (m *Metrics) LedgerCommit(op string, d time.Duration) {
	if m != nil {
		m.ledgerCommit.WithLabelValues(op).Observe(d.Seconds())
	}
}

// BankRequest observes one request to the bank.
func (m *Metrics) BankRequest(endpoint string, code int, d time.Duration) {
	if m != nil {
		m.bankRequest.WithLabelValues(endpoint, strconv.Itoa(code)).Observe(d.Seconds())
	}
}

// ConsoleLogin counts a login attempt at the serial console: result is ok,
// failed (wrong id or PIN) or refused (the console is locked).
func (m *Metrics) ConsoleLogin(result string) {
	if m != nil {
		m.logins.WithLabelValues(result).Inc()
	}
}

// ConsoleLockout counts the console locking itself.
func (m *Metrics) ConsoleLockout() {
	if m != nil {
		m.lockouts.Inc()
	}
}
