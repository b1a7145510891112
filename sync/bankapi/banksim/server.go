package banksim

import (
	"context"
	"database/sql"
	"encoding/json"
	"errors"
	"fmt"
	"log/slog"
	"math/rand/v2"
	"net"
	"net/http"
	"os"
	"path/filepath"
	"sync"
	"sync/atomic"
	"time"

	"tolem/kiosk"
	"tolem/sync/bankapi"
)

// Options configure a Server.
type Options struct {
	// DBPath is the SQLite file that keeps every top-up id across restarts.
	// Empty: a file in a temporary directory, removed by Close.
	DBPath string
	// Terminals maps each terminal id to its secret.
	Terminals map[string][]byte
	// Wallets maps the registered numbers to the recipients' masked names.
	Wallets map[kiosk.Phone]string
	// AnyWallet makes every well-formed number a registered wallet, named
	// after its last digits, for a sandbox where anyone may type any number.
	AnyWallet bool
	// Faults are in force from the start; SetFaults changes them.
	Faults Faults
	// Seed makes the fault rolls reproducible; 0 seeds from the clock.
	Seed uint64
	// Window is the signature timestamp window; bankapi.Window when zero.
	Window time.Duration
	// Clock is the bank's clock before ClockSkew; kiosk.SystemClock when nil.
	// Crediting delays and the rate limit run on it.
	Clock kiosk.Clock
	// Log gets a line per answer at debug level; discarded when nil.
	Log *slog.Logger
	// Services is the catalog GET /v1/services answers; DefaultServices
	// when nil.
	Services []byte
	// Accounts are the looked-up accounts by service; DefaultAccounts when
	// nil.
	Accounts map[string]map[string]AccountRecord
}

// Server is the bank sandbox: SPEC §2 served over HTTP, backed by SQLite.
type Server struct {
	opts   Options
	db     *sql.DB
	tmpDir string
	clock  kiosk.Clock
	log    *slog.Logger
	window time.Duration

	// mu serialises every decision on top-ups and collections, so that two
	// requests for the same id can never both be first.
	mu sync.Mutex

	fmu     sync.Mutex // guards faults, rng, bucket
	faults  Faults
	rng     *rand.Rand
	limiter bucket

	wmu     sync.RWMutex
	wallets map[kiosk.Phone]string

	smu        sync.RWMutex // guards the catalog and the accounts
	services   []byte
	catalog    kiosk.Catalog
	catalogErr error
	accounts   map[string]map[string]AccountRecord

	requests atomic.Int64
	dropped  atomic.Int64
	cmu      sync.Mutex
	byCode   map[int]int64

	hmu  sync.Mutex
	http *http.Server
	ln   net.Listener
	done chan error
}

// New opens the database and builds the server; it listens only when
// Start or ListenAndServe is called (Handler serves anywhere).
func New(opts Options) (*Server, error) {
	if err := opts.Faults.Validate(); err != nil {
		return nil, fmt.Errorf("banksim faults: %w", err)
	}
	for id, sec := range opts.Terminals {
		if id == "" || len(sec) == 0 {
			return nil, errors.New("banksim: a terminal needs an id and a secret (-terminal ID=SECRET)")
		}
	}
	s := &Server{
		opts:    opts,
		clock:   opts.Clock,
		log:     opts.Log,
		window:  opts.Window,
		faults:  opts.Faults,
		wallets: map[kiosk.Phone]string{},
		byCode:  map[int]int64{},
	}
	if s.clock == nil {
		s.clock = kiosk.SystemClock{}
	}
	if s.log == nil {
		s.log = slog.New(slog.DiscardHandler)
	}
	if s.window <= 0 {
		s.window = bankapi.Window
	}
	seed := opts.Seed
	if seed == 0 {
		seed = uint64(time.Now().UnixNano())
	}
	s.rng = rand.New(rand.NewPCG(seed, seed^0x9e3779b97f4a7c15))
	for p, n := range opts.Wallets {
		if !bankapi.ValidPhone(p) {
			return nil, fmt.Errorf("banksim: wallet %q is not +7 and 10 digits", p)
		}
		s.wallets[p] = n
	}
	s.accounts = map[string]map[string]AccountRecord{}
	accounts := opts.Accounts
	if accounts == nil {
		accounts = DefaultAccounts
	}
	for svc, m := range accounts {
		for a, r := range m {
			if err := s.AddAccount(svc, a, r); err != nil {
				return nil, fmt.Errorf("%w: %s %s", err, svc, a)
			}
		}
	}
	if opts.Services == nil {
		opts.Services = []byte(DefaultServices)
	}
	s.SetServices(opts.Services)
	path := opts.DBPath
	if path == "" {
		dir, err := os.MkdirTemp("", "banksim-")
		if err != nil {
			return nil, fmt.Errorf("banksim: temporary database: %w", err)
		}
		s.tmpDir = dir
		path = filepath.Join(dir, "bank.db")
	}
	db, err := openDB(path)
	if err != nil {
		if s.tmpDir != "" {
			os.RemoveAll(s.tmpDir)
		}
		return nil, err
	}
	s.db = db
	return s, nil
}

// Start serves on ln in the background until Close.
func (s *Server) Start(ln net.Listener) {
	s.hmu.Lock()
	defer s.hmu.Unlock()
	s.ln = ln
	s.http = &http.Server{
		Handler:           s.Handler(),
		ReadHeaderTimeout: 10 * time.Second,
		ErrorLog:          slog.NewLogLogger(s.log.Handler(), slog.LevelDebug),
	}
	s.done = make(chan error, 1)
	srv := s.http
	go func() {
		err := srv.Serve(ln)
		if errors.Is(err, http.ErrServerClosed) {
			err = nil
		}
		s.done <- err
	}()
}

// ListenAndServe listens on addr and serves until Close; it returns nil
// after Close.
func (s *Server) ListenAndServe(addr string) error {
	ln, err := net.Listen("tcp", addr)
	if err != nil {
		return fmt.Errorf("banksim: listen on %s: %w", addr, err)
	}
	s.Start(ln)
	return <-s.done
}

// URL is the base URL the server listens on, once started.
func (s *Server) URL() string {
	s.hmu.Lock()
	defer s.hmu.Unlock()
	if s.ln == nil {
		return ""
	}
	return "http://" + s.ln.Addr().String()
}

// Close stops serving, closes the database and removes a temporary one.
func (s *Server) Close() error {
	s.hmu.Lock()
	srv := s.http
	s.http = nil
	s.hmu.Unlock()
	var errs []error
	if srv != nil {
		ctx, cancel := context.WithTimeout(context.Background(), 5*time.Second)
		if err := srv.Shutdown(ctx); err != nil {
			srv.Close()
		}
		cancel()
	}
	s.mu.Lock()
	if s.db != nil {
		errs = append(errs, s.db.Close())
		s.db = nil
	}
	s.mu.Unlock()
	if s.tmpDir != "" {
		errs = append(errs, os.RemoveAll(s.tmpDir))
	}
	return errors.Join(errs...)
}

// SetFaults replaces the faults in force.
func (s *Server) SetFaults(f Faults) error {
	if err := f.Validate(); err != nil {
		return err
	}
	s.fmu.Lock()
	s.faults = f
	s.limiter = bucket{}
	s.fmu.Unlock()
	return nil
}

// Faults are the faults in force.
func (s *Server) Faults() Faults {
	s.fmu.Lock()
	defer s.fmu.Unlock()
	return s.faults
}

// roll draws whether a fault of probability p strikes.
func (s *Server) roll(p float64) bool {
	if p <= 0 {
		return false
	}
	if p >= 1 {
		return true
	}
	s.fmu.Lock()
	defer s.fmu.Unlock()
	return s.rng.Float64() < p
}

func (s *Server) take() (bool, time.Duration) {
	s.fmu.Lock()
	defer s.fmu.Unlock()
	return s.limiter.take(s.clock.Now(), s.faults.RateLimit)
}

// bankNow is the bank's clock: the server's clock shifted by the skew.
func (s *Server) bankNow() time.Time { return s.clock.Now().Add(s.Faults().ClockSkew) }

// AddWallet registers a wallet (or renames it).
func (s *Server) AddWallet(p kiosk.Phone, name string) error {
	if !bankapi.ValidPhone(p) {
		return fmt.Errorf("wallet %q is not +7 and 10 digits", p)
	}
	s.wmu.Lock()
	s.wallets[p] = name
	s.wmu.Unlock()
	return nil
}

func (s *Server) wallet(p kiosk.Phone) (string, bool) {
	if s.opts.AnyWallet && bankapi.ValidPhone(p) {
		return "Клиент " + string(p[len(p)-4:]), true
	}
	s.wmu.RLock()
	defer s.wmu.RUnlock()
	n, ok := s.wallets[p]
	return n, ok
}

func (s *Server) secretFor(id string) ([]byte, bool) {
	sec, ok := s.opts.Terminals[id]
	return sec, ok
}

// Stats are the sandbox's counters (GET /_admin/stats).
type Stats struct {
	Requests int64 `json:"requests"`
	// ByCode counts API answers by HTTP status.
	ByCode map[int]int64 `json:"by_code"`
	// Dropped counts answers withheld by DropRate after the commit.
	Dropped        int64       `json:"dropped"`
	TopUps         int         `json:"topups"`
	Pending        int         `json:"pending"`
	Credited       int         `json:"credited"`
	Rejected       int         `json:"rejected"`
	CreditedAmount kiosk.Money `json:"credited_amount"`
	Collections    int         `json:"collections"`
	Heartbeats     int         `json:"heartbeats"`
	// Credits counts creditings per top-up id. No value may exceed 1.
	Credits map[string]int `json:"credits"`
	// MaxCredits is the largest value of Credits: 1 when all is well.
	MaxCredits int `json:"max_credits"`
}

// Stats counts what the bank has seen and done, after deciding what is due.
func (s *Server) Stats() (Stats, error) {
	ctx := context.Background()
	st := Stats{Requests: s.requests.Load(), Dropped: s.dropped.Load(), ByCode: map[int]int64{}, Credits: map[string]int{}}
	s.cmu.Lock()
	for c, n := range s.byCode {
		st.ByCode[c] = n
	}
	s.cmu.Unlock()
	s.mu.Lock()
	defer s.mu.Unlock()
	if s.db == nil {
		return st, errors.New("banksim is closed")
	}
	if err := settle(ctx, s.db, s.clock.Now(), s.Faults().ClockSkew); err != nil {
		return st, err
	}
	rows, err := s.db.QueryContext(ctx, `SELECT status, COUNT(*), COALESCE(SUM(amount), 0) FROM topups GROUP BY status`)
	if err != nil {
		return st, err
	}
	for rows.Next() {
		var status string
		var n int
		var sum int64
		if err := rows.Scan(&status, &n, &sum); err != nil {
			rows.Close()
			return st, err
		}
		st.TopUps += n
		switch bankapi.Status(status) {
		case bankapi.StatusPending:
			st.Pending = n
		case bankapi.StatusCredited:
			st.Credited, st.CreditedAmount = n, kiosk.Money(sum)
		case bankapi.StatusRejected:
			st.Rejected = n
		}
	}
	rows.Close()
	rows, err = s.db.QueryContext(ctx, `SELECT id, COUNT(*) FROM credits GROUP BY id`)
	if err != nil {
		return st, err
	}
	for rows.Next() {
		var id string
		var n int
		if err := rows.Scan(&id, &n); err != nil {
			rows.Close()
			return st, err
		}
		st.Credits[id] = n
		st.MaxCredits = max(st.MaxCredits, n)
	}
	rows.Close()
	if err := s.db.QueryRowContext(ctx, `SELECT COUNT(*) FROM collections`).Scan(&st.Collections); err != nil {
		return st, err
	}
	if err := s.db.QueryRowContext(ctx, `SELECT COALESCE(SUM(count), 0) FROM heartbeats`).Scan(&st.Heartbeats); err != nil {
		return st, err
	}
	return st, nil
}

// TopUps lists every top-up the bank holds, oldest first, after deciding
// what is due.
func (s *Server) TopUps() ([]TopUpRecord, error) {
	ctx := context.Background()
	s.mu.Lock()
	defer s.mu.Unlock()
	if s.db == nil {
		return nil, errors.New("banksim is closed")
	}
	if err := settle(ctx, s.db, s.clock.Now(), s.Faults().ClockSkew); err != nil {
		return nil, err
	}
	rows, err := s.db.QueryContext(ctx, `
		SELECT t.id, t.terminal, t.phone, t.amount, t.receipt_no, t.status, t.reason,
		       t.received_at, t.credited_at, (SELECT COUNT(*) FROM credits c WHERE c.id = t.id),
		       t.service, t.account
		FROM topups t ORDER BY t.received_at, t.id`)
	if err != nil {
		return nil, err
	}
	defer rows.Close()
	var out []TopUpRecord
	for rows.Next() {
		var r TopUpRecord
		var phone, status string
		var recv, cred int64
		if err := rows.Scan(&r.ID, &r.Terminal, &phone, &r.Amount, &r.ReceiptNo, &status, &r.Reason,
			&recv, &cred, &r.Credits, &r.Service, &r.Account); err != nil {
			return nil, err
		}
		r.Phone, r.Status = kiosk.Phone(phone), bankapi.Status(status)
		r.ReceivedAt = time.Unix(0, recv).UTC()
		if cred != 0 {
			t := time.Unix(cred, 0).UTC()
			r.CreditedAt = &t
		}
		out = append(out, r)
	}
	return out, rows.Err()
}

// Heartbeat is the last heartbeat a terminal sent.
type Heartbeat struct {
	Terminal string          `json:"terminal"`
	At       time.Time       `json:"at"`
	Count    int             `json:"count"`
	Body     json.RawMessage `json:"body"`
}

// Heartbeats lists the last heartbeat of every terminal.
func (s *Server) Heartbeats() ([]Heartbeat, error) {
	s.mu.Lock()
	defer s.mu.Unlock()
	if s.db == nil {
		return nil, errors.New("banksim is closed")
	}
	rows, err := s.db.Query(`SELECT terminal, body, at, count FROM heartbeats ORDER BY terminal`)
	if err != nil {
		return nil, err
	}
	defer rows.Close()
	var out []Heartbeat
	for rows.Next() {
		var h Heartbeat
		var at int64
		var body []byte
		if err := rows.Scan(&h.Terminal, &body, &at, &h.Count); err != nil {
			return nil, err
		}
		h.At, h.Body = time.Unix(0, at).UTC(), json.RawMessage(body)
		out = append(out, h)
	}
	return out, rows.Err()
}
