package main

import (
	"bytes"
	"context"
	"encoding/json"
	"io"
	"log/slog"
	"net"
	"net/http"
	"os"
	"os/user"
	"path/filepath"
	"regexp"
	"slices"
	"strconv"
	"strings"
	"sync"
	"testing"
	"time"

	"github.com/creack/pty"
	"golang.org/x/crypto/bcrypt"

	"tolem/kiosk"
	"tolem/kiosk/config"
	"tolem/kiosk/console"
	"tolem/kiosk/flow"
	"tolem/kiosk/kiosktest"
	"tolem/kiosk/ledger"
)

// These tests run the technician's doors of a real kioskd wiring — the
// SQLite ledger and the customer flow, with a fake acceptor and bank — and
// reach them as a technician does: a terminal on the serial console's port
// (a real pty, opened by the daemon as it opens /dev/ttyAMA0), and HTTP on
// the control socket.

const (
	conWait = 20 * time.Second
	conTech = "t07"
	conPIN  = "905172"
)

// conRig is a kiosk whose doors are open.
type conRig struct {
	t      *testing.T
	dir    string
	cfg    *config.Config
	led    *ledger.Ledger
	acc    *kiosktest.FakeAcceptor
	clock  *kiosktest.FakeClock
	f      *flow.Flow
	w      *wiring
	doors  io.Closer
	cancel context.CancelFunc
	done   chan error
	// master is the technician's end of the console's pty.
	master *os.File
	slave  *os.File
}

func conLogger(t *testing.T) *slog.Logger {
	if testing.Verbose() && os.Getenv("KIOSKD_TEST_LOG") != "" {
		return slog.New(slog.NewTextHandler(os.Stderr, &slog.HandlerOptions{Level: slog.LevelDebug}))
	}
	return slog.New(slog.DiscardHandler)
}

// newConRig makes the kiosk's config in dir; with a console, its port is a
// new pty.
func newConRig(t *testing.T, dir string, withConsole bool) *conRig {
	t.Helper()
	hash, err := bcrypt.GenerateFromPassword([]byte(conPIN), bcrypt.MinCost)
	if err != nil {
		t.Fatal(err)
	}
	cfg := config.Default()
	cfg.TerminalID = "KZ-TST-0001"
	cfg.DataDir = dir
	cfg.Bank.URL = "http://127.0.0.1:1"
	cfg.Bank.Secret = "test-secret"
	cfg.Acceptor.Protocol = "sim"
	cfg.Control.Socket = filepath.Join(dir, "control.sock")
	r := &conRig{t: t, dir: dir, cfg: cfg}
	if withConsole {
		master, slave, err := pty.Open()
		if err != nil {
			t.Skipf("no pty: %v", err)
		}
		r.master, r.slave = master, slave
		t.Cleanup(func() { master.Close(); slave.Close() })
		cfg.Console = config.DefaultConsole()
		cfg.Console.Port = slave.Name()
		cfg.Console.Technicians = []config.Technician{{ID: conTech, PinHash: string(hash)}}
	}
	return r
}

// start opens the ledger, runs the flow and opens the doors, as kioskd
// does; stop undoes it, so start again is a restart.
func (r *conRig) start() *conRig { return r.startWith(nil) }

// startWith is start with a front panel (its door switch).
func (r *conRig) startWith(panel *frontPanel) *conRig {
	t := r.t
	t.Helper()
	l, err := ledger.Open(context.Background(), filepath.Join(r.dir, "ledger.db"), ledger.Options{})
	if err != nil {
		t.Fatal(err)
	}
	r.led = l
	r.clock = kiosktest.NewFakeClock(time.Time{})
	r.acc = kiosktest.NewFakeAcceptor(r.clock)
	r.acc.SetAuto(true)
	log := conLogger(t)
	r.f = flow.New(flowConfig(r.cfg), flow.Deps{
		Clock: r.clock, Acceptor: r.acc, Ledger: l, Wallets: kiosktest.NewFakeWallets(),
		Display: &kiosktest.FakeDisplay{}, Log: log,
	})
	r.w = &wiring{cfg: r.cfg, log: log, started: time.Now(), ledger: l, flow: r.f, acceptor: r.acc, panel: panel}
	ctx, cancel := context.WithCancel(context.Background())
	r.cancel = cancel
	doors, err := startDoors(ctx, r.w)
	if err != nil {
		t.Fatal(err)
	}
	r.doors = doors
	r.done = make(chan error, 1)
	go func() { r.done <- r.f.Run(ctx) }()
	r.acc.Ready()
	t.Cleanup(r.stop)
	return r
}

func (r *conRig) stop() {
	if r.cancel == nil {
		return
	}
	r.cancel()
	r.cancel = nil
	r.doors.Close()
	select {
	case <-r.done:
	case <-time.After(conWait):
		r.t.Error("the flow did not stop")
	}
	r.led.Close()
}

// waitFlow waits until the flow's status satisfies ok.
func (r *conRig) waitFlow(what string, ok func(flow.Status) bool) flow.Status {
	r.t.Helper()
	deadline := time.Now().Add(conWait)
	for {
		st := r.f.Status()
		if ok(st) {
			return st
		}
		if time.Now().After(deadline) {
			r.t.Fatalf("waiting for %s: flow is %s %v", what, st.State, st.Reasons)
		}
		time.Sleep(5 * time.Millisecond)
	}
}

func (r *conRig) waitState(s kiosk.State) {
	r.t.Helper()
	r.waitFlow(s.String(), func(st flow.Status) bool { return st.State == s })
}

// customerPays walks a customer through to insert_cash and feeds bills;
// the top-up is completed when they press PAY.
func (r *conRig) customerInserts(bills ...kiosk.Money) {
	r.t.Helper()
	r.waitState(kiosk.StateIdle)
	r.f.Key(kiosk.KeyOK)
	r.waitState(kiosk.StateEnterPhone)
	for _, d := range "7011234567" {
		r.f.Key(kiosk.Key(string(d)))
	}
	r.f.Key(kiosk.KeyOK)
	r.waitState(kiosk.StateConfirm)
	r.f.Key(kiosk.KeyOK)
	r.waitState(kiosk.StateInsertCash)
	var total kiosk.Money
	for _, b := range bills {
		r.acc.Escrow(b)
		total += b
		r.waitFlow("the bill stacked", func(st flow.Status) bool { return st.Session != nil && st.Session.Total == total })
	}
}

// conTerm is the technician's terminal on the console's pty.
type conTerm struct {
	t      *testing.T
	m      *os.File
	mu     sync.Mutex
	buf    []byte
	seen   int
	notify chan struct{}
}

func (r *conRig) terminal() *conTerm {
	tm := &conTerm{t: r.t, m: r.master, notify: make(chan struct{}, 1)}
	go func() {
		b := make([]byte, 4096)
		for {
			n, err := tm.m.Read(b)
			if n > 0 {
				tm.mu.Lock()
				tm.buf = append(tm.buf, b[:n]...)
				tm.mu.Unlock()
				select {
				case tm.notify <- struct{}{}:
				default:
				}
			}
			if err != nil {
				return
			}
		}
	}()
	return tm
}

func (tm *conTerm) expect(want string) string {
	tm.t.Helper()
	deadline := time.After(conWait)
	for {
		tm.mu.Lock()
		i := bytes.Index(tm.buf[tm.seen:], []byte(want))
		if i >= 0 {
			out := string(tm.buf[tm.seen : tm.seen+i+len(want)])
			tm.seen += i + len(want)
			tm.mu.Unlock()
			return out
		}
		got := string(tm.buf[tm.seen:])
		tm.mu.Unlock()
		select {
		case <-tm.notify:
		case <-deadline:
			tm.t.Fatalf("the console never wrote %q; it wrote:\n%s", want, got)
		}
	}
}

func (tm *conTerm) typ(s string) {
	tm.t.Helper()
	if _, err := tm.m.Write([]byte(s)); err != nil {
		tm.t.Fatal(err)
	}
}

func (tm *conTerm) login() {
	tm.t.Helper()
	tm.expect(console.PromptID)
	tm.typ(conTech + "\r")
	tm.expect(console.PromptPIN)
	tm.typ(conPIN + "\r")
	tm.expect(console.PromptShell)
}

var (
	reportTotal   = regexp.MustCompile(`total\s+(\d+) bills?\s+([\d ]+) ₸`)
	reportReceipt = regexp.MustCompile(`top-ups\s+(\d+) \(receipts (\d+) to (\d+)\)`)
)

// collect typed at the serial console while a customer is inserting cash
// waits for them: the customer's money lands in the cassette being
// collected, the report's figures are the ledger's, and the kiosk is back
// in service afterwards.
func TestConsoleCollectWaitsForTheCustomer(t *testing.T) {
	r := newConRig(t, shortDir(t), true).start()
	tm := r.terminal()
	tm.login()

	// An earlier customer's top-up, already in the cassette.
	r.customerInserts(kiosk.Tenge(5000))
	r.f.Key(kiosk.KeyOK)
	r.waitState(kiosk.StateDone)
	r.f.Key(kiosk.KeyOK)

	r.customerInserts(kiosk.Tenge(1000), kiosk.Tenge(2000))
	tm.typ("collect\r")
	tm.expect("Waiting for the customer to finish…")
	// Nothing happens while the customer is there.
	for range 20 {
		if st := r.f.Status(); st.State != kiosk.StateInsertCash {
			t.Fatalf("the kiosk left insert_cash (%s) before the customer paid", st.State)
		}
		time.Sleep(5 * time.Millisecond)
	}
	r.acc.Escrow(kiosk.Tenge(500)) // still taking the customer's cash
	r.waitFlow("the last bill", func(st flow.Status) bool { return st.Session != nil && st.Session.Total == kiosk.Tenge(3500) })
	r.f.Key(kiosk.KeyOK) // PAY
	r.waitState(kiosk.StateDone)
	r.f.Key(kiosk.KeyOK)
	report := tm.expect("Bag or seal number: ")
	if st := r.f.Status(); st.State != kiosk.StateMaintenance {
		t.Fatalf("the seal is asked for in state %s, want maintenance", st.State)
	}
	if enabled, _ := r.acc.Enabled(); enabled {
		t.Error("the acceptor is enabled during the collection")
	}
	per, err := r.led.CurrentPeriod(context.Background())
	if err != nil {
		t.Fatal(err)
	}
	m := reportTotal.FindStringSubmatch(report)
	mr := reportReceipt.FindStringSubmatch(report)
	if m == nil || mr == nil {
		t.Fatalf("no totals in the report:\n%s", report)
	}
	if m[1] != strconv.Itoa(per.Count) || strings.ReplaceAll(m[2], " ", "") != strconv.FormatInt(per.Amount.Tenge(), 10) {
		t.Errorf("report says %s bills, %s ₸; the ledger %d bills, %s", m[1], m[2], per.Count, per.Amount)
	}
	if per.Count != 4 || per.Amount != kiosk.Tenge(8500) {
		t.Errorf("the ledger's period = %d bills, %s; want 4 bills, 8 500 ₸", per.Count, per.Amount)
	}
	if mr[1] != "2" || mr[2] != "1" || mr[3] != "2" {
		t.Errorf("report: %s top-ups, receipts %s to %s; want 2, 1 to 2", mr[1], mr[2], mr[3])
	}
	tm.typ("PLB-0042\r")
	tm.expect("Record the collection of 4 bills, 8 500 ₸, seal PLB-0042? [y/N] ")
	tm.typ("y\r")
	tm.expect("Collection recorded: 4 bills, 8 500 ₸, seal PLB-0042.")
	tm.expect("Maintenance ended.")
	tm.expect(console.PromptShell)
	r.waitState(kiosk.StateIdle)

	due, err := r.led.DueCollections(context.Background(), time.Now().Add(time.Hour), 0)
	if err != nil {
		t.Fatal(err)
	}
	if len(due) != 1 || due[0].Seal != "PLB-0042" || due[0].Period.Amount != kiosk.Tenge(8500) || due[0].Period.TopUps != 2 {
		t.Fatalf("collections queued for the bank = %+v", due)
	}
	next, _ := r.led.CurrentPeriod(context.Background())
	if next.Count != 0 || next.ID == per.ID {
		t.Errorf("the new cassette period = %+v, want an empty new one", next)
	}
	// The audit has the login, the command and the collection, by the
	// technician.
	tail, _ := r.led.AuditTail(context.Background(), 50)
	var seen []string
	for _, e := range tail {
		if e.Actor == conTech {
			seen = append(seen, e.Action)
		}
	}
	if s := strings.Join(seen, ","); !strings.Contains(s, "login") || !strings.Contains(s, "collect,command") {
		t.Errorf("the technician's audit lines: %s", s)
	}
}

// Five wrong PINs lock the console; a restarted kioskd over the same ledger
// still refuses the right PIN.
func TestConsoleLockoutAcrossDaemonRestart(t *testing.T) {
	r := newConRig(t, shortDir(t), true).start()
	tm := r.terminal()
	for i := range 5 {
		tm.expect(console.PromptID)
		tm.typ(conTech + "\r")
		tm.expect(console.PromptPIN)
		tm.typ("111111\r")
		if i < 4 {
			tm.expect("more tries")
		}
	}
	tm.expect("Console locked until")
	r.stop()

	r.start()
	tm.expect("Console locked until")
	tm.expect(console.PromptID)
	tm.typ(conTech + "\r")
	tm.expect("Console locked for 30 min more")
	v, ok, _ := r.led.Setting(context.Background(), "console.locked_until")
	if !ok || v == "" {
		t.Errorf("no lock in the ledger's settings")
	}
}

// service off is kept across a restart, and service on ends it.
func TestConsoleServiceOffAcrossRestart(t *testing.T) {
	r := newConRig(t, shortDir(t), false).start()
	r.waitState(kiosk.StateIdle)
	c := conClient(r.cfg.Control.Socket)
	if out, code := c.command(t, "service", "off"); code != 0 || !strings.Contains(out, "Kiosk out of service") {
		t.Fatalf("service off: exit %d: %s", code, out)
	}
	r.waitFlow("manual out of service", func(st flow.Status) bool { return st.Manual && st.State == kiosk.StateOutOfService })
	r.stop()

	r.start()
	r.waitFlow("manual out of service after the restart", func(st flow.Status) bool { return st.Manual && st.State == kiosk.StateOutOfService })
	c = conClient(r.cfg.Control.Socket)
	if out, code := c.command(t, "service", "on"); code != 0 {
		t.Fatalf("service on: exit %d: %s", code, out)
	}
	r.waitState(kiosk.StateIdle)
	r.stop()
	r.start()
	r.waitState(kiosk.StateIdle)
}

// conHTTP is an HTTP client of the control socket.
type conHTTP struct{ c *http.Client }

func conClient(socket string) conHTTP {
	return conHTTP{&http.Client{Timeout: conWait, Transport: &http.Transport{
		DialContext: func(ctx context.Context, _, _ string) (net.Conn, error) {
			var d net.Dialer
			return d.DialContext(ctx, "unix", socket)
		},
	}}}
}

func (c conHTTP) do(t *testing.T, method, path string, body any) (int, []byte) {
	t.Helper()
	var rd io.Reader
	if body != nil {
		b, _ := json.Marshal(body)
		rd = bytes.NewReader(b)
	}
	req, _ := http.NewRequest(method, "http://kioskd"+path, rd)
	resp, err := c.c.Do(req)
	if err != nil {
		t.Fatalf("%s %s: %v", method, path, err)
	}
	defer resp.Body.Close()
	raw, _ := io.ReadAll(resp.Body)
	return resp.StatusCode, raw
}

func (c conHTTP) command(t *testing.T, args ...string) (string, int) {
	t.Helper()
	code, raw := c.do(t, http.MethodPost, "/v1/command", map[string]any{"args": args, "actor": "ssh:someone-else"})
	if code != http.StatusOK {
		t.Fatalf("POST /v1/command %v: %d %s", args, code, raw)
	}
	var res commandResult
	if err := json.Unmarshal(raw, &res); err != nil {
		t.Fatal(err)
	}
	return res.Output, res.Exit
}

func TestControlHealthDrainAndCommands(t *testing.T) {
	r := newConRig(t, shortDir(t), false).start()
	r.waitState(kiosk.StateIdle)
	c := conClient(r.cfg.Control.Socket)

	info, err := os.Stat(r.cfg.Control.Socket)
	if err != nil {
		t.Fatal(err)
	}
	if mode := info.Mode().Perm(); mode != 0o660 {
		t.Errorf("control socket mode %o, want 660", mode)
	}

	code, raw := c.do(t, http.MethodGet, "/v1/health", nil)
	var h healthReport
	json.Unmarshal(raw, &h)
	if code != http.StatusOK || !h.Healthy || h.Version != version || h.Checks["ledger"] != "ok" || h.Checks["acceptor"] != "ok" || h.Checks["flow"] != "ok" {
		t.Errorf("health = %d %s", code, raw)
	}
	notReady := r.acc.Info()
	notReady.Ready, notReady.State = false, "initializing"
	r.acc.SetInfo(notReady)
	code, raw = c.do(t, http.MethodGet, "/v1/health", nil)
	json.Unmarshal(raw, &h)
	if code != http.StatusServiceUnavailable || h.Healthy || !strings.Contains(h.Checks["acceptor"], "not ready") {
		t.Errorf("health with the acceptor not ready = %d %s", code, raw)
	}
	notReady.Ready = true
	r.acc.SetInfo(notReady)

	// GET /v1/status is the document of status --json.
	code, raw = c.do(t, http.MethodGet, "/v1/status", nil)
	var st console.StatusReport
	if err := json.Unmarshal(raw, &st); code != http.StatusOK || err != nil || st.State != "idle" || st.TerminalID != "KZ-TST-0001" {
		t.Errorf("status = %d %s (%v)", code, raw, err)
	}

	// A drain waits for the customer.
	r.customerInserts(kiosk.Tenge(2000))
	drained := make(chan []byte, 1)
	go func() {
		_, raw := c.do(t, http.MethodPost, "/v1/drain", nil)
		drained <- raw
	}()
	r.waitFlow("the drain asked", func(st flow.Status) bool { return st.Maintenance })
	select {
	case raw := <-drained:
		t.Fatalf("drained with a customer mid-session: %s", raw)
	case <-time.After(50 * time.Millisecond):
	}
	r.f.Key(kiosk.KeyOK)
	r.waitState(kiosk.StateDone)
	r.f.Key(kiosk.KeyOK)
	select {
	case raw := <-drained:
		if !strings.Contains(string(raw), `"drained": true`) {
			t.Errorf("drain answered %s", raw)
		}
	case <-time.After(conWait):
		t.Fatal("the drain never answered")
	}
	r.waitState(kiosk.StateMaintenance)
	if code, raw := c.do(t, http.MethodDelete, "/v1/drain", nil); code != http.StatusOK {
		t.Errorf("DELETE /v1/drain = %d %s", code, raw)
	}
	r.waitState(kiosk.StateIdle)
	r.do(t, c, http.MethodPost, "/v1/drain")
	r.waitState(kiosk.StateMaintenance)
	r.do(t, c, http.MethodPost, "/v1/undrain")
	r.waitState(kiosk.StateIdle)

	// A command over the socket, audited as the socket's peer.
	out, exit := c.command(t, "txn", "1", "--json")
	if exit != 0 || !strings.Contains(out, `"receipt_no": 1`) || !strings.Contains(out, `"phone": "+7701***4567"`) {
		t.Errorf("txn 1 --json: exit %d: %s", exit, out)
	}
	if _, exit := c.command(t, "txn", "2"); exit != console.ExitFailed {
		t.Errorf("txn of an unknown receipt: exit %d", exit)
	}
	if _, exit := c.command(t, "nonsense"); exit != console.ExitUsage {
		t.Errorf("unknown command: exit %d", exit)
	}
	me, _ := user.Current()
	tail, _ := r.led.AuditTail(context.Background(), 5)
	var actors []string
	for _, e := range tail {
		actors = append(actors, e.Actor)
	}
	want := "ssh:" + me.Username
	if me.Uid == "0" {
		want = "ssh:someone-else(" + me.Username + ")"
	}
	if n := len(actors); n == 0 || actors[n-1] != want {
		t.Errorf("audit actors %v, want the last to be %s", actors, want)
	}
	if code, _ := c.do(t, http.MethodPost, "/v1/command", map[string]any{"args": []string{}}); code != http.StatusBadRequest {
		t.Errorf("empty args: %d, want 400", code)
	}
}

func (r *conRig) do(t *testing.T, c conHTTP, method, path string) {
	t.Helper()
	if code, raw := c.do(t, method, path, nil); code != http.StatusOK {
		t.Fatalf("%s %s = %d %s", method, path, code, raw)
	}
}

// The service door: opened with nobody in, the alarm; no cash while open.
func TestConsoleDoorSwitch(t *testing.T) {
	door := make(chan bool, 1)
	r := newConRig(t, shortDir(t), false).startWith(&frontPanel{door: door})
	r.waitState(kiosk.StateIdle)
	door <- true
	r.waitFlow("door_open", func(st flow.Status) bool {
		return st.State == kiosk.StateOutOfService && slices.Contains(st.Reasons, conditionDoor)
	})
	c := conClient(r.cfg.Control.Socket)
	code, raw := c.do(t, http.MethodGet, "/v1/status", nil)
	var st console.StatusReport
	json.Unmarshal(raw, &st)
	if code != http.StatusOK || !st.Door.Open || !st.Door.Alarm {
		t.Errorf("status door = %+v", st.Door)
	}
	door <- false
	r.waitState(kiosk.StateIdle)
	deadline := time.Now().Add(conWait)
	for {
		tail, _ := r.led.AuditTail(context.Background(), 10)
		var actions []string
		for _, e := range tail {
			actions = append(actions, e.Action)
		}
		s := strings.Join(actions, ",")
		if strings.Contains(s, "door_alarm") && strings.Contains(s, "door_closed") {
			break
		}
		if time.Now().After(deadline) {
			t.Fatalf("audit actions: %s, want door_alarm and door_closed", s)
		}
		time.Sleep(5 * time.Millisecond)
	}
}
