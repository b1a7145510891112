package main

import (
	"bufio"
	"context"
	"database/sql"
	"encoding/json"
	"errors"
	"fmt"
	"log/slog"
	"math/rand/v2"
	"net"
	"os"
	"os/exec"
	"path/filepath"
	"regexp"
	"slices"
	"strconv"
	"strings"
	"sync"
	"sync/atomic"
	"syscall"
	"testing"
	"time"

	_ "modernc.org/sqlite"

	"tolem/internal/testfs/lazyfs"
	"tolem/kiosk"
	"tolem/sync/bankapi/banksim"
)

// The power-cut torture test: the real kioskd, started again and again on
// one data dir, with customers paying in through the sim panel, a bill
// acceptor emulator on a pty and the bank sandbox (both in this process, so
// they outlive every kioskd), killed at random instants: SIGKILL (a power cut,
// half the time with the acceptor losing power at the same instant, at a
// chosen point of a bill's way) or SIGTERM (a restart, which must end
// cleanly within the stop timeout). After each restart, once the kiosk is
// idle, the ledger must account for every bill in the acceptor's cassette;
// at the end, after the collection, every bill in the cassette must be in
// exactly one top-up credited once by the bank.
//
// TORTURE_SEED=n replays a run's choices (the timings are the machine's, so a
// replay takes the same decisions, not the same microseconds); TORTURE_CUTS=n
// sets the number of kills (default tortureShortCuts, the form make test
// runs; make torture runs 1 000).
//
// TORTURE_PROTOCOL picks the acceptor's protocol, ccnet or id003 (a row of
// tortureProtocols each): the emulator it speaks and the shipped driver that
// drives it. Unset, as in make test, the test runs over each in turn.
//
// TORTURE_FS picks where the kiosk's data dir lives. lazyfs: on the power-cut
// file system (internal/testfs/lazyfs), so that a SIGKILL is followed by a
// real power cut, which loses every write kioskd had not made durable, and
// the next kioskd boots from what a disk would hold; the test skips, saying
// why, where FUSE is not available. disk: on the machine's own disk, where a
// SIGKILL loses nothing the kernel was told. lazyfs-cruel: lazyfs whose cuts
// also let a part of the unsynced writes land, torn or reordered, and names
// land ahead of their data (lazyfs.Options), as real disks may. Unset: lazyfs
// where FUSE works, else disk.

const (
	tortureShortCuts = 30
	// tortureCollectEvery is how many cuts a cassette stays in, when no
	// uncertain bill calls the technician earlier: with hundreds of power
	// cuts in half an hour, a kiosk's weeks.
	tortureCollectEvery = 100
	tortureTerminal     = "KZ-TORT-0001"
	tortureSecret       = "torture-secret"
	// stopTimeout is systemd's TimeoutStopSec in configs/systemd/tolem.service.
	stopTimeout = 90 * time.Second
	// idleWait bounds how long a restarted kiosk may take to recover and
	// show the attract screen.
	idleWait = 45 * time.Second
)

// tortureFaults: the bank has a bad day, but one where customers still get
// through in seconds.
var tortureFaults = banksim.Faults{
	FailRate:    0.1,
	DropRate:    0.05,
	PendingRate: 0.2,
	CreditDelay: 300 * time.Millisecond,
}

var tortureBills = []int64{200, 500, 1000, 2000, 5000, 10000, 20000}

type killKind string

const (
	killPower   killKind = "SIGKILL+acceptor power cut"
	killMissed  killKind = "SIGKILL (acceptor cut armed, not reached)"
	killPlain   killKind = "SIGKILL"
	killRestart killKind = "SIGTERM"
)

type tortureRig struct {
	t       *testing.T
	seed    uint64
	rng     *rand.Rand
	dir     string
	cfgPath string
	logPath string
	bin     string
	emu     tortureAcceptor
	proto   string
	aim     int  // the instant every kill cuts the acceptor's power at, or -1: the seed picks the kill
	variant bool // the seed's pick of the way the protocol's units differ (tortureProtocol)

	// The data dir kioskd persists everything in: r.dir itself on disk,
	// or on the lazyfs mount lfs, which writes to backing only what a power
	// cut would leave.
	dataDir string
	lfs     *lazyfs.FS
	cruel   bool // the cuts torn, reordered, names ahead of data
	backing string
	fsCuts  int          // power cuts of the file system
	emuLog  *slog.Logger // acceptor.log: the unit's power cuts and the bills fed
	bank    *banksim.Server
	bankDB  string

	lives   int
	offered atomic.Int64 // bills the customers fed

	// The collections so far: the bills taken out of the unit in earlier
	// cassettes, by value, and when the last one was.
	kills         int // the cuts made
	collectEvery  int
	collections   int
	collected     map[kiosk.Money]int
	lastCollectAt int // the cut after which it ran
	// uncertainSeen is the number of uncertain bills in the ledger at the
	// last idle check, uncertainKept the number a count left unsettled.
	uncertainSeen, uncertainKept int
	atSlot                       atomic.Int64  // customers who reached insert_cash
	maxStop                      time.Duration // the slowest clean stop

	// mu guards what the customers' goroutine reads and reports.
	mu       sync.Mutex
	cuts     map[string]int // by kind and instant
	lastCut  string         // the last kill, for the reports after it
	lastDiff map[string]int // the last ledger-against-cassette discrepancies, by kind and value
	problems []string
	// receipts: every receipt number a customer was shown, and for what.
	receipts map[int64]shownReceipt
	reused   []string
}

// shownReceipt is the receipt screen a customer walked away with.
type shownReceipt struct {
	paid string // the screen's "Paid" line
	at   string // the kill after which it was shown
}

func tortureEnvInt(t *testing.T, name string, def uint64) uint64 {
	v := os.Getenv(name)
	if v == "" {
		return def
	}
	n, err := strconv.ParseUint(v, 10, 64)
	if err != nil {
		t.Fatalf("%s=%q is not a whole number", name, v)
	}
	return n
}

func TestTorturePowerCuts(t *testing.T) {
	bin := kioskdBinary(t)
	seed := tortureEnvInt(t, "TORTURE_SEED", uint64(time.Now().UnixNano())%1_000_000_000)
	cuts := int(tortureEnvInt(t, "TORTURE_CUTS", tortureShortCuts))
	fsKind, why := tortureFS(t)
	protos, err := tortureProtocolsFor(os.Getenv("TORTURE_PROTOCOL"))
	if err != nil {
		t.Fatal(err)
	}
	for _, p := range protos {
		t.Run(p.name, func(t *testing.T) {
			t.Logf("torture over %s: seed %d, %d cuts, data dir on %s (%s) (replay: TORTURE_PROTOCOL=%s TORTURE_SEED=%d TORTURE_CUTS=%d TORTURE_FS=%s)",
				p.name, seed, cuts, fsKind, why, p.name, seed, cuts, fsKind)
			fmt.Fprintf(os.Stderr, "torture: %s, seed %d, %d cuts, data dir on %s\n", p.name, seed, cuts, fsKind)
			tortureRun(t, bin, p, seed, cuts, fsKind)
		})
	}
}

// tortureRun is one torture run over protocol p.
func tortureRun(t *testing.T, bin string, p tortureProtocol, seed uint64, cuts int, fsKind string) {
	r := newTortureRig(t, bin, p, seed, fsKind)
	r.collectEvery = int(tortureEnvInt(t, "TORTURE_COLLECT_EVERY", tortureCollectEvery))
	began := time.Now()
	var life *tortureLife
	for i := 1; i <= cuts; i++ {
		r.kills = i
		life = r.start()
		if r.torment(i, life) {
			r.powerCut()
		}
		if r.collectionDue(i) {
			r.visit(i)
		}
		if i%50 == 0 {
			fmt.Fprintf(os.Stderr, "torture: %d/%d cuts, %s\n", i, cuts, time.Since(began).Round(time.Second))
		}
	}
	r.finish(began)
}

// tortureFS reads TORTURE_FS: the file system the data dir lives on and why.
func tortureFS(t *testing.T) (kind, why string) {
	switch v := os.Getenv("TORTURE_FS"); v {
	case "lazyfs", "lazyfs-cruel":
		if err := lazyfs.Available(); err != nil {
			t.Skipf("TORTURE_FS=%s, but this machine cannot mount the power-cut file system: %v (TORTURE_FS=disk runs on the disk)", v, err)
		}
		return v, "TORTURE_FS=" + v
	case "disk":
		return "disk", "TORTURE_FS=disk"
	case "":
		if err := lazyfs.Available(); err != nil {
			t.Logf("the power-cut file system is not available here (%v): the data dir is on the disk, where a SIGKILL loses nothing", err)
			return "disk", "no FUSE here"
		}
		return "lazyfs", "FUSE available"
	default:
		t.Fatalf("TORTURE_FS=%q: want lazyfs (the power-cut file system), lazyfs-cruel (its torn, reordered and eager-name cuts) or disk", v)
		return "", ""
	}
}

func newTortureRig(t *testing.T, bin string, proto tortureProtocol, seed uint64, fsKind string) *tortureRig {
	dir, err := os.MkdirTemp("", "tt")
	if err != nil {
		t.Fatal(err)
	}
	t.Cleanup(func() {
		if t.Failed() {
			t.Logf("the run's data (ledger, kioskd.log, bank.db) kept in %s", dir)
			return
		}
		os.RemoveAll(dir)
	})
	r := &tortureRig{t: t, seed: seed, rng: rand.New(rand.NewPCG(seed, 0x70a7)), dir: dir, bin: bin,
		cuts: map[string]int{}, logPath: filepath.Join(dir, "kioskd.log"), bankDB: filepath.Join(dir, "bank.db"),
		receipts: map[int64]shownReceipt{}, dataDir: dir, collected: map[kiosk.Money]int{}, proto: proto.name, aim: -1}
	if fsKind != "disk" {
		r.cruel = fsKind == "lazyfs-cruel"
		// The data dir is there before the first boot, as the installer
		// leaves it on the kiosk: made in the backing directory, it is
		// durable. The mount point is short for the sockets' sake, but the
		// sockets are outside it anyway: they need not survive a cut.
		r.backing = filepath.Join(dir, "disk")
		if err := os.MkdirAll(filepath.Join(r.backing, "kiosk"), 0o750); err != nil {
			t.Fatal(err)
		}
		mp := filepath.Join(dir, "m")
		if err := os.Mkdir(mp, 0o750); err != nil {
			t.Fatal(err)
		}
		r.lfs = lazyfs.Mount(t, r.backing, r.lazyfsOptions(mp))
		r.dataDir = filepath.Join(mp, "kiosk")
	}

	// Half the runs with a unit of each way the protocol's units differ.
	variant := r.rng.IntN(2) == 0
	r.variant = variant
	alog, err := os.Create(filepath.Join(dir, "acceptor.log"))
	if err != nil {
		t.Fatal(err)
	}
	t.Cleanup(func() { alog.Close() })
	r.emuLog = slog.New(slog.NewTextHandler(alog, nil))
	emu, acceptorYAML, about, err := proto.start(filepath.Join(dir, "acceptor.tty"), r.emuLog, variant)
	if err != nil {
		t.Skipf("cannot start the %s acceptor emulator (no pseudo-terminals?): %v", proto.name, err)
	}
	t.Cleanup(func() { emu.Close() })
	r.emu = emu

	bank, err := banksim.New(banksim.Options{
		DBPath:    r.bankDB,
		Terminals: map[string][]byte{tortureTerminal: []byte(tortureSecret)},
		Wallets:   simWallets,
		Faults:    tortureFaults,
		Seed:      seed + 1,
	})
	if err != nil {
		t.Fatal(err)
	}
	ln, err := net.Listen("tcp", "127.0.0.1:0")
	if err != nil {
		t.Fatal(err)
	}
	go bank.Start(ln)
	t.Cleanup(func() { bank.Close() })
	r.bank = bank

	r.cfgPath = filepath.Join(dir, "kiosk.yaml")
	cfg := fmt.Sprintf(`terminal_id: %s
data_dir: %s
bank: {url: "http://%s", secret: %s, timeout: 2s, lookup_timeout: 1s}
acceptor: %s
panel: {kind: sim, socket: %s}
control: {socket: %s}
flow: {insert_timeout: 30s, done_timeout: 1s}
sync: {heartbeat_interval: 5s, min_backoff: 50ms, max_backoff: 1s, poll_after: 400ms, batch_size: 10}
log: {level: info}
`, tortureTerminal, r.dataDir, ln.Addr(), tortureSecret, acceptorYAML,
		filepath.Join(dir, "panel.sock"), filepath.Join(dir, "control.sock"))
	if err := os.WriteFile(r.cfgPath, []byte(cfg), 0o600); err != nil {
		t.Fatal(err)
	}
	t.Logf("%s; bank faults %+v", about, tortureFaults)
	return r
}

// tortureLife is one run of kioskd.
type tortureLife struct {
	n       int
	cmd     *exec.Cmd
	started time.Time
	exited  chan struct{}
	err     error // Wait's, once exited is closed
	ctx     context.Context
	cancel  context.CancelFunc
	done    chan struct{} // the customers' goroutine ended
	idle    chan struct{} // closed when the kiosk first shows the attract screen
}

func (r *tortureRig) start() *tortureLife {
	r.t.Helper()
	r.lives++
	logf, err := os.OpenFile(r.logPath, os.O_CREATE|os.O_WRONLY|os.O_APPEND, 0o644)
	if err != nil {
		r.t.Fatal(err)
	}
	fmt.Fprintf(logf, "\n==== torture life %d (after %s)\n", r.lives, r.last())
	l := &tortureLife{n: r.lives, exited: make(chan struct{}), done: make(chan struct{}), idle: make(chan struct{})}
	l.cmd = exec.Command(r.bin, "--config", r.cfgPath)
	l.cmd.Stdout, l.cmd.Stderr = logf, logf
	if err := l.cmd.Start(); err != nil {
		logf.Close()
		r.t.Fatal(err)
	}
	l.started = time.Now()
	go func() {
		l.err = l.cmd.Wait()
		logf.Close()
		close(l.exited)
	}()
	r.t.Cleanup(func() {
		select {
		case <-l.exited:
		default:
			l.cmd.Process.Kill()
			<-l.exited
		}
	})
	l.ctx, l.cancel = context.WithCancel(context.Background())
	return l
}

// torment runs customers on life and kills it the way the seed says. It
// reports whether the kill was a SIGKILL, which the caller turns into a
// power cut of the data dir's file system once the customers are gone.
func (r *tortureRig) torment(i int, l *tortureLife) (killed bool) {
	r.t.Helper()
	go r.customers(l, true)
	defer func() {
		l.cancel()
		<-l.done
	}()

	// Every roll is drawn whatever the branch, so that a seed replays the
	// same choices.
	roll := r.rng.Float64()
	duringStart := r.rng.Float64() < 0.3
	delay := time.Duration(r.rng.Int64N(int64(3 * time.Second)))
	instant := r.rng.IntN(len(r.emu.instants))
	if r.aim >= 0 {
		roll, instant = 0, r.aim
	}
	at := r.emu.instants[instant]
	if roll < 0.4 || !duringStart {
		// Customers come once the kiosk is up; a kiosk that never gets
		// there after a cut is a defect of its own.
		select {
		case <-l.idle:
		case <-l.exited:
			r.unexpectedExit(i, l)
			return false
		case <-time.After(idleWait):
			r.problem("after %s (seed %d): kioskd life %d did not come back to idle within %s (its goroutines are in kioskd.log)",
				r.last(), r.seed, l.n, idleWait)
			dumpAndKill(l)
			r.note(i, killPlain, "", "stuck before idle")
			return true
		}
	} else {
		delay /= 2 // start-up and recovery take about a second or two
	}
	switch {
	case roll < 0.4:
		fired := make(chan string, 1)
		pid := l.cmd.Process.Pid
		r.emu.cutAt(instant, func(c string) {
			syscall.Kill(pid, syscall.SIGKILL) // the same instant: both lose power
			fired <- c
		})
		select {
		case c := <-fired:
			r.note(i, killPower, at, c)
		case <-time.After(12 * time.Second):
			if !r.emu.Disarm() {
				c := <-fired
				r.note(i, killPower, at, c)
				break
			}
			l.cmd.Process.Kill()
			r.note(i, killMissed, at, "no bill reached it in 12 s")
		case <-l.exited:
			if !r.emu.Disarm() {
				// The cut came, and kioskd died of it before we looked.
				c := <-fired
				r.note(i, killPower, at, c)
				break
			}
			r.unexpectedExit(i, l)
			return false
		}
		<-l.exited
		return true
	case roll < 0.75:
		select {
		case <-time.After(delay):
		case <-l.exited:
			r.unexpectedExit(i, l)
			return false
		}
		where := r.emu.Status()
		l.cmd.Process.Kill()
		<-l.exited
		r.note(i, killPlain, "", fmt.Sprintf("%s after %s; acceptor %s", delay.Round(time.Millisecond), since(duringStart), where))
		return true
	default:
		select {
		case <-time.After(delay):
		case <-l.exited:
			r.unexpectedExit(i, l)
			return false
		}
		where := r.emu.Status()
		took, _ := r.stop(l, fmt.Sprintf("cut %d", i), " (acceptor "+where+")")
		r.maxStop = max(r.maxStop, took)
		r.note(i, killRestart, "", fmt.Sprintf("%s after %s, stopped in %s; acceptor %s",
			delay.Round(time.Millisecond), since(duringStart), took.Round(time.Millisecond), where))
	}
	// A clean stop: the file system stays mounted, as the kiosk's disk
	// stays powered through a restart of the service.
	return false
}

// powerCut takes the power from the data dir's file system after a SIGKILL
// (kioskd is dead and the customers gone, so nobody holds a file on it) and
// boots it again: the next kioskd finds only what kioskd made durable.
func (r *tortureRig) powerCut() {
	r.t.Helper()
	if r.lfs == nil {
		return
	}
	mp := r.lfs.Dir()
	r.lfs.Cut()
	r.fsCuts++
	r.lfs = lazyfs.Mount(r.t, r.backing, r.lazyfsOptions(mp))
}

// lazyfsOptions: with cruel cuts, each mount's cut lets a part of the
// unsynced writes land, torn, reordered and with names ahead of their data,
// drawn from the torture seed so that a replay cuts alike.
func (r *tortureRig) lazyfsOptions(mountpoint string) *lazyfs.Options {
	o := &lazyfs.Options{Mountpoint: mountpoint}
	if r.cruel {
		o.Torn, o.Reorder, o.EagerNames = true, true, true
		o.Seed = r.seed*1000 + uint64(r.fsCuts) + 1
	}
	return o
}

func (r *tortureRig) fsName() string {
	if r.cruel {
		return "lazyfs-cruel"
	}
	if r.lfs != nil {
		return "lazyfs"
	}
	return "disk"
}

func (r *tortureRig) ledgerPath() string { return filepath.Join(r.dataDir, "ledger.db") }

// diedOfSIGTERM: a SIGTERM that comes before kioskd has set up its handler
// (its first milliseconds, before the ledger is opened) ends it by the
// signal's default action, which systemd counts as a clean stop.
func diedOfSIGTERM(err error) bool {
	var ee *exec.ExitError
	if !errors.As(err, &ee) {
		return false
	}
	ws, ok := ee.Sys().(syscall.WaitStatus)
	return ok && ws.Signaled() && ws.Signal() == syscall.SIGTERM
}

func since(duringStart bool) string {
	if duringStart {
		return "start"
	}
	return "idle"
}

func (r *tortureRig) note(i int, kind killKind, instant, detail string) {
	key := string(kind)
	if instant != "" {
		key += " at " + instant
	}
	r.mu.Lock()
	r.cuts[key]++
	r.lastCut = fmt.Sprintf("cut %d: %s: %s", i, key, detail)
	r.mu.Unlock()
	r.t.Log(r.last())
	r.emuLog.Info("kioskd " + r.last())
}

// last describes the last kill.
func (r *tortureRig) last() string {
	r.mu.Lock()
	defer r.mu.Unlock()
	if r.lastCut == "" {
		return "the first start"
	}
	return r.lastCut
}

func (r *tortureRig) problem(format string, args ...any) {
	msg := fmt.Sprintf(format, args...)
	r.mu.Lock()
	r.problems = append(r.problems, msg)
	r.mu.Unlock()
	r.t.Error(msg)
}

func (r *tortureRig) unexpectedExit(i int, l *tortureLife) {
	r.problem("cut %d (seed %d): kioskd life %d exited by itself: %v (see kioskd.log)", i, r.seed, l.n, l.err)
	r.mu.Lock()
	r.lastCut = fmt.Sprintf("cut %d: kioskd exited by itself", i)
	r.mu.Unlock()
}

// customers waits for the kiosk to be idle, checks the ledger against the
// cassette, then serves customers until the life ends.
func (r *tortureRig) customers(l *tortureLife, serve bool) {
	defer close(l.done)
	p, err := dialTorturePanel(l, filepath.Join(r.dir, "panel.sock"))
	if err != nil {
		return
	}
	defer p.conn.Close()
	if _, err := p.waitState(idleWait, "idle"); err != nil {
		return // reported by whoever waits for l.idle
	}
	r.checkLedger(l)
	close(l.idle)
	if !serve {
		return
	}
	rng := rand.New(rand.NewPCG(r.seed, uint64(l.n)))
	for l.ctx.Err() == nil {
		err := r.customer(l, p, rng)
		switch {
		case errors.Is(err, errPanelTimeout):
			// The kiosk is busy or out of service: the next customer tries.
			p.key("CANCEL")
		case err != nil:
			return // the kiosk went away
		}
	}
}

// customer is one person paying in; an error means the kiosk went away.
func (r *tortureRig) customer(l *tortureLife, p *torturePanel, rng *rand.Rand) error {
	phones := slices.Sorted(func(yield func(kiosk.Phone) bool) {
		for ph := range simWallets {
			if !yield(ph) {
				return
			}
		}
	})
	phone := string(phones[rng.IntN(len(phones))])
	digits := strings.TrimPrefix(phone, "+7")
	s := p.last
	if s.State != "idle" {
		var err error
		if s, err = p.waitState(idleWait, "idle", "insert_cash", "done"); err != nil {
			return err
		}
	}
	if s.State == "idle" {
		p.key("OK")
		if _, err := p.waitState(5*time.Second, "enter_phone"); err != nil {
			return err
		}
		for _, d := range digits {
			p.key(string(d))
		}
		p.key("OK")
		var err error
		if s, err = p.waitState(10*time.Second, "confirm", "confirm_offline", "idle", "out_of_service"); err != nil {
			return err
		}
		switch s.State {
		case "idle", "out_of_service":
			return nil
		case "confirm_offline":
			for _, d := range digits {
				p.key(string(d))
			}
			p.key("OK")
		default:
			p.key("OK")
		}
		if s, err = p.waitState(10*time.Second, "insert_cash", "enter_phone", "idle"); err != nil {
			return err
		}
		if s.State != "insert_cash" {
			return nil
		}
	}
	if s.State == "insert_cash" {
		r.atSlot.Add(1)
		for range 1 + rng.IntN(3) {
			v := kiosk.Tenge(tortureBills[rng.IntN(len(tortureBills))])
			if !r.feed(l, v) {
				break
			}
		}
		p.key("OK")
		s, err := p.waitState(20*time.Second, "done", "idle")
		if err != nil {
			return err
		}
		if s.State == "done" {
			r.receiptShown(l, s)
		}
	}
	p.key("OK")
	_, err := p.waitState(10*time.Second, "idle")
	return err
}

var receiptLine = regexp.MustCompile(`(\d+)\s*$`)

// receiptShown notes the receipt a customer takes away after PAY. Each PAY
// is a session of its own, so a number shown twice is a number reused.
func (r *tortureRig) receiptShown(l *tortureLife, s screenMsg) {
	m := receiptLine.FindStringSubmatch(s.Lines[1])
	if m == nil {
		r.problem("life %d: a receipt screen without a receipt number: %q", l.n, s.Lines)
		return
	}
	no, _ := strconv.ParseInt(m[1], 10, 64)
	shown := shownReceipt{paid: strings.TrimSpace(s.Lines[0]), at: fmt.Sprintf("kioskd life %d, after %s", l.n, r.last())}
	r.mu.Lock()
	defer r.mu.Unlock()
	if first, ok := r.receipts[no]; ok {
		r.reused = append(r.reused, fmt.Sprintf("receipt %d shown twice: %q in %s, then %q in %s",
			no, first.paid, first.at, shown.paid, shown.at))
		return
	}
	r.receipts[no] = shown
}

// feed offers a bill at the slot until the acceptor draws it in, then waits
// until it is in the cassette or back in the customer's hand.
func (r *tortureRig) feed(l *tortureLife, v kiosk.Money) bool {
	deadline := time.Now().Add(5 * time.Second)
	for {
		err := r.emu.InsertBill(v)
		if err == nil {
			r.offered.Add(1)
			r.emuLog.Info("customer fed a bill", "value", v.String(), "life", l.n)
			break
		}
		if l.ctx.Err() != nil || time.Now().After(deadline) {
			return false
		}
		time.Sleep(50 * time.Millisecond)
	}
	for deadline := time.Now().Add(15 * time.Second); r.emu.BillInFlight() != kiosk.BillNowhere; {
		if l.ctx.Err() != nil || time.Now().After(deadline) {
			return false
		}
		time.Sleep(20 * time.Millisecond)
	}
	time.Sleep(100 * time.Millisecond) // the screen catches up
	return true
}

func isExited(l *tortureLife) bool { return isClosed(l.exited) }

func isClosed(ch chan struct{}) bool {
	select {
	case <-ch:
		return true
	default:
		return false
	}
}

// checkLedger compares, at a quiet moment, the ledger's bills with the
// cassettes' (the one in the unit and those collected before it): every bill in the cassette is stacked, suspense or uncertain in
// the ledger, and no bill is stacked there that the cassette does not hold.
// A discrepancy is reported once, with the cut that made it.
func (r *tortureRig) checkLedger(l *tortureLife) {
	if r.emu.BillInFlight() != kiosk.BillNowhere {
		return
	}
	cassette := r.everStacked()
	led, err := readLedgerBills(r.ledgerPath())
	if err != nil {
		r.t.Logf("life %d: ledger not readable now: %v", l.n, err)
		return
	}
	uncertain := 0
	for _, n := range led.uncertain {
		uncertain += n
	}
	r.mu.Lock()
	r.uncertainSeen = uncertain
	r.mu.Unlock()
	// A discrepancy stays in the ledger once made: only a new one (a
	// changed count of bills lost or counted twice) is reported.
	diff := map[string]int{}
	var news []string
	r.mu.Lock()
	prev := r.lastDiff
	r.mu.Unlock()
	for _, v := range unionValues(cassette, led.in, led.uncertain) {
		in, unc, got := led.in[v], led.uncertain[v], cassette[v]
		switch {
		case got < in:
			k := "phantom " + v.String()
			if diff[k] = in - got; diff[k] != prev[k] {
				news = append(news, fmt.Sprintf("%s: the ledger holds %d stacked or in suspense, the cassette %d: %d counted that are not there (%+d)",
					v, in, got, in-got, diff[k]-prev[k]))
			}
		case got > in+unc:
			k := "lost " + v.String()
			if diff[k] = got - in - unc; diff[k] != prev[k] {
				news = append(news, fmt.Sprintf("%s: the cassette holds %d, the ledger %d stacked or in suspense and %d uncertain: %d lost (%+d)",
					v, got, in, unc, got-in-unc, diff[k]-prev[k]))
			}
		}
	}
	if led.escrowed > 0 {
		if diff["escrowed"] = led.escrowed; diff["escrowed"] != prev["escrowed"] {
			news = append(news, fmt.Sprintf("%d bill(s) still escrowed in the ledger with the kiosk idle", led.escrowed))
		}
	}
	r.mu.Lock()
	r.lastDiff = diff
	r.mu.Unlock()
	if len(news) > 0 {
		r.problem("after %s (seed %d), kioskd life %d idle: %s", r.last(), r.seed, l.n, strings.Join(news, "; "))
	}
}

type ledgerBills struct {
	in, uncertain map[kiosk.Money]int // stacked or suspense; uncertain
	escrowed      int
}

func readLedgerBills(path string) (ledgerBills, error) {
	lb := ledgerBills{in: map[kiosk.Money]int{}, uncertain: map[kiosk.Money]int{}}
	db, err := sql.Open("sqlite", "file:"+path+"?mode=ro&_pragma=busy_timeout(5000)")
	if err != nil {
		return lb, err
	}
	defer db.Close()
	rows, err := db.Query(`SELECT value, state, COUNT(*) FROM bills GROUP BY value, state`)
	if err != nil {
		return lb, err
	}
	defer rows.Close()
	for rows.Next() {
		var v int64
		var state string
		var n int
		if err := rows.Scan(&v, &state, &n); err != nil {
			return lb, err
		}
		switch state {
		case "stacked", "suspense":
			lb.in[kiosk.Money(v)] += n
		case "uncertain":
			lb.uncertain[kiosk.Money(v)] += n
		case "escrowed":
			lb.escrowed += n
		}
	}
	return lb, rows.Err()
}

func unionValues(ms ...map[kiosk.Money]int) []kiosk.Money {
	var out []kiosk.Money
	for _, m := range ms {
		for v := range m {
			if !slices.Contains(out, v) {
				out = append(out, v)
			}
		}
	}
	slices.Sort(out)
	return out
}

func countLedgerTopUps(path string) (int, error) {
	db, err := sql.Open("sqlite", "file:"+path+"?mode=ro&_pragma=busy_timeout(5000)")
	if err != nil {
		return 0, err
	}
	defer db.Close()
	var n int
	err = db.QueryRow(`SELECT COUNT(*) FROM topups`).Scan(&n)
	return n, err
}

// ledgerQueue counts what the outbox still has to deliver.
func ledgerQueue(path string) (topups, collections, review int, err error) {
	db, err := sql.Open("sqlite", "file:"+path+"?mode=ro&_pragma=busy_timeout(5000)")
	if err != nil {
		return 0, 0, 0, err
	}
	defer db.Close()
	err = db.QueryRow(`SELECT
		(SELECT COUNT(*) FROM topups WHERE sync_state IN ('unsent', 'pending')),
		(SELECT COUNT(*) FROM cassette_periods WHERE sync_state = 'unsent'),
		(SELECT COUNT(*) FROM topups WHERE sync_state = 'review')`).Scan(&topups, &collections, &review)
	return topups, collections, review, err
}

func (r *tortureRig) waitDrained(what string) {
	r.t.Helper()
	deadline := time.Now().Add(outboxWait)
	for {
		tu, col, _, err := ledgerQueue(r.ledgerPath())
		if err == nil && tu == 0 && col == 0 {
			return
		}
		if time.Now().After(deadline) {
			r.problem("%s: the outbox did not drain within %s: %d top-ups and %d collections undelivered (%v)",
				what, outboxWait, tu, col, err)
			return
		}
		time.Sleep(100 * time.Millisecond)
	}
}

// everStacked is every bill the cassettes received: the one in the unit
// now and those collected before it, by value.
func (r *tortureRig) everStacked() map[kiosk.Money]int {
	all := r.emu.Cassette()
	r.mu.Lock()
	defer r.mu.Unlock()
	for v, n := range r.collected {
		all[v] += n
	}
	return all
}

// collectionDue: the technician comes when the cassette has been in for
// collectEvery cuts, or sooner when the review list shows a new uncertain
// bill, as docs/operator.md asks of a fleet's operator. A kiosk sees an
// uncertain bill a few times a year and its cassette is collected weekly,
// so the count nearly always has one uncertain bill of a value to settle;
// here hundreds of power cuts come in half an hour, and only collecting as
// promptly keeps the count able to say whose a bill is, without a guess.
func (r *tortureRig) collectionDue(i int) bool {
	r.mu.Lock()
	defer r.mu.Unlock()
	return r.uncertainSeen > r.uncertainKept || (r.collectEvery > 0 && i-r.lastCollectAt >= r.collectEvery)
}

// visit is the technician's visit between two cuts: kioskd starts again
// (the recovery of the last cut included), the cassette is collected with
// its count and an empty one put in, and the service is restarted cleanly.
func (r *tortureRig) visit(i int) {
	r.t.Helper()
	l := r.start()
	go r.customers(l, false) // only the recovery check
	<-l.done
	if !isClosed(l.idle) {
		r.problem("after %s (seed %d): kioskd life %d did not come back to idle within %s for the collection (its goroutines are in kioskd.log)",
			r.last(), r.seed, l.n, idleWait)
		dumpAndKill(l)
		r.powerCut()
		return
	}
	count := r.emu.Cassette()
	if r.collect(count) {
		r.emu.InsertCassette()
		led, err := readLedgerBills(r.ledgerPath())
		r.mu.Lock()
		for v, n := range count {
			r.collected[v] += n
		}
		r.collections++
		r.lastCollectAt = i
		if err == nil {
			r.uncertainKept = 0
			for _, n := range led.uncertain {
				r.uncertainKept += n
			}
			r.uncertainSeen = r.uncertainKept
		}
		r.mu.Unlock()
	}
	if _, killed := r.stop(l, fmt.Sprintf("after the collection after cut %d", i), ""); killed {
		r.powerCut()
	}
}

// dumpAndKill ends a stuck kioskd with SIGQUIT, on which the Go runtime
// writes every goroutine's stack to kioskd.log: where it hung is there for
// whoever reads the failure. SIGKILL follows if even that does not end it.
func dumpAndKill(l *tortureLife) {
	l.cmd.Process.Signal(syscall.SIGQUIT)
	select {
	case <-l.exited:
	case <-time.After(5 * time.Second):
		l.cmd.Process.Kill()
		<-l.exited
	}
}

// stop ends a life with SIGTERM, as systemctl stop does: kioskd must exit
// cleanly within the stop timeout, or it is killed. It reports how long the
// stop took and whether kioskd had to be killed; when and detail place a
// problem in the run.
func (r *tortureRig) stop(l *tortureLife, when, detail string) (took time.Duration, killed bool) {
	sent := time.Now()
	l.cmd.Process.Signal(syscall.SIGTERM)
	select {
	case <-l.exited:
	case <-time.After(stopTimeout):
		l.cmd.Process.Kill()
		<-l.exited
		killed = true
		r.problem("%s (seed %d): kioskd did not stop within %s of SIGTERM%s; it was killed", when, r.seed, stopTimeout, detail)
	}
	if !killed && l.err != nil && !diedOfSIGTERM(l.err) {
		r.problem("%s (seed %d): kioskd exited with %v after SIGTERM%s", when, r.seed, l.err, detail)
	}
	return time.Since(sent), killed
}

// collect runs the collection with the cassette's physical count, through
// kioskctl as a technician would. It reports false when this kioskctl
// cannot take a count yet.
func (r *tortureRig) collect(count map[kiosk.Money]int) bool {
	r.t.Helper()
	ctl := kioskctlBinary(r.t)
	sock := filepath.Join(r.dir, "control.sock")
	help, _ := exec.Command(ctl, "--socket", sock, "help", "collect").CombinedOutput()
	if !strings.Contains(string(help), "--count") {
		r.t.Logf("collect --count is not supported by this build (help collect: %q): the collection with the physical count is skipped", strings.TrimSpace(string(help)))
		return false
	}
	var pairs []string
	for _, v := range unionValues(count) {
		pairs = append(pairs, fmt.Sprintf("%d:%d", v/100, count[v]))
	}
	args := []string{"--socket", sock, "collect", "--seal", fmt.Sprintf("T-%d-%d", r.seed, r.collections+1), "--yes"}
	if len(pairs) > 0 {
		args = append(args, "--count", strings.Join(pairs, ","))
	}
	out, err := exec.Command(ctl, args...).CombinedOutput()
	if err != nil {
		r.problem("kioskctl %s: %v\n%s", strings.Join(args[2:], " "), err, out)
		return false
	}
	r.t.Logf("collection: %s", strings.TrimSpace(string(out)))
	return true
}

// finish lets the queue drain, collects the cassette with its physical count
// and checks that the bank credited every bill in it exactly once.
func (r *tortureRig) finish(began time.Time) {
	r.t.Helper()
	l := r.start()
	go r.customers(l, false) // only the recovery check
	<-l.done
	if !isClosed(l.idle) {
		r.t.Fatalf("the kiosk never came back after the last cut (seed %d); see kioskd.log", r.seed)
	}
	r.waitDrained("after the last cut")
	last := r.emu.Cassette()
	collected := r.collect(last)
	if collected {
		r.collections++
		r.waitDrained("after the collection")
	}
	if _, killed := r.stop(l, "at the end", ""); killed {
		r.powerCut()
	}
	cassette := r.everStacked()

	bank, err := readBankTopUps(r.bankDB)
	if err != nil {
		r.t.Fatal(err)
	}
	led, err := readLedgerBills(r.ledgerPath())
	if err != nil {
		r.t.Fatal(err)
	}
	_, _, review, _ := ledgerQueue(r.ledgerPath())
	ledgerTopUps, err := countLedgerTopUps(r.ledgerPath())
	if err != nil {
		r.t.Fatal(err)
	}
	var problems []string
	for _, v := range unionValues(cassette, bank.bills) {
		if cassette[v] != bank.bills[v] {
			problems = append(problems, fmt.Sprintf("%s: %d in the cassettes, %d in top-ups the bank credited (ledger: %d stacked or in suspense, %d uncertain)",
				v, cassette[v], bank.bills[v], led.in[v], led.uncertain[v]))
		}
	}
	problems = append(problems, bank.dups...)
	if bank.notCredited > 0 {
		problems = append(problems, fmt.Sprintf("%d top-up(s) at the bank not credited", bank.notCredited))
	}
	if ledgerTopUps != bank.count {
		problems = append(problems, fmt.Sprintf("%d top-ups in the ledger, %d at the bank", ledgerTopUps, bank.count))
	}
	if review > 0 {
		problems = append(problems, fmt.Sprintf("%d top-up(s) on the ledger's review list", review))
	}
	// A customer holds every receipt shown: each must be the bank's one
	// top-up under its number, for the amount shown, however many cuts
	// came between.
	r.mu.Lock()
	reused := slices.Clone(r.reused)
	for _, no := range slices.Sorted(func(yield func(int64) bool) {
		for no := range r.receipts {
			if !yield(no) {
				return
			}
		}
	}) {
		shown := r.receipts[no]
		amount, ok := bank.byReceipt[no]
		switch {
		case !ok:
			reused = append(reused, fmt.Sprintf("receipt %d (%q, %s) is on no top-up the bank received", no, shown.paid, shown.at))
		case !strings.Contains(shown.paid, amount.String()):
			reused = append(reused, fmt.Sprintf("receipt %d was shown for %q (%s), the bank's top-up under it is for %s",
				no, shown.paid, shown.at, amount))
		}
	}
	shownReceipts := len(r.receipts)
	r.mu.Unlock()
	problems = append(problems, reused...)
	if len(problems) > 0 {
		why := ""
		if !collected {
			why = " (the collection with the physical count did not run, so uncertain bills were not settled)"
		}
		r.problem("seed %d, at the end%s:\n  %s", r.seed, why, strings.Join(problems, "\n  "))
	}

	// The figures.
	var b strings.Builder
	fmt.Fprintf(&b, "torture over %s, seed %d: %d cuts in %s, %d kioskd runs, data dir on %s (%d power cuts of it)\n",
		r.proto, r.seed, r.kills, time.Since(began).Round(time.Second), r.lives, r.fsName(), r.fsCuts)
	for _, k := range slices.Sorted(func(yield func(string) bool) {
		for k := range r.cuts {
			if !yield(k) {
				return
			}
		}
	}) {
		fmt.Fprintf(&b, "  %-58s %5d\n", k, r.cuts[k])
	}
	inCassette, amount := 0, kiosk.Money(0)
	for v, n := range cassette {
		inCassette += n
		amount += v * kiosk.Money(n)
	}
	uncertain := 0
	for _, n := range led.uncertain {
		uncertain += n
	}
	fmt.Fprintf(&b, "  customers at the cash slot %d, bills fed %d, in the cassettes %d (%s), collections %d, uncertain left %d\n",
		r.atSlot.Load(), r.offered.Load(), inCassette, amount, r.collections, uncertain)
	fmt.Fprintf(&b, "  top-ups at the bank %d (credited %s), duplicates %d, receipts shown %d, reused or lost %d, problems %d, slowest clean stop %s",
		bank.count, bank.amount, len(bank.dups), shownReceipts, len(reused), len(r.problems), r.maxStop.Round(time.Millisecond))
	r.t.Log(b.String())
	fmt.Fprintln(os.Stderr, b.String())
}

type bankTopUps struct {
	count       int
	amount      kiosk.Money
	bills       map[kiosk.Money]int // in credited top-ups
	notCredited int
	dups        []string
	byReceipt   map[int64]kiosk.Money // each receipt number's top-up amount
}

// readBankTopUps reads what the bank sandbox holds: each top-up's bills as
// the kiosk sent them, its status and how often it was credited.
func readBankTopUps(path string) (bankTopUps, error) {
	bt := bankTopUps{bills: map[kiosk.Money]int{}, byReceipt: map[int64]kiosk.Money{}}
	db, err := sql.Open("sqlite", "file:"+path+"?mode=ro&_pragma=busy_timeout(5000)")
	if err != nil {
		return bt, err
	}
	defer db.Close()
	rows, err := db.Query(`SELECT t.id, t.receipt_no, t.status, t.amount, t.body,
		(SELECT COUNT(*) FROM credits c WHERE c.id = t.id) FROM topups t ORDER BY t.receipt_no`)
	if err != nil {
		return bt, fmt.Errorf("read the bank's top-ups: %w", err)
	}
	defer rows.Close()
	receipts := map[int64]string{}
	for rows.Next() {
		var id, status string
		var receipt, amount int64
		var body []byte
		var credits int
		if err := rows.Scan(&id, &receipt, &status, &amount, &body, &credits); err != nil {
			return bt, err
		}
		bt.count++
		if other, ok := receipts[receipt]; ok {
			bt.dups = append(bt.dups, fmt.Sprintf("receipt %d is on two top-ups at the bank: %s and %s", receipt, other, id))
		}
		receipts[receipt] = id
		bt.byReceipt[receipt] = kiosk.Money(amount)
		if credits > 1 {
			bt.dups = append(bt.dups, fmt.Sprintf("top-up %s (receipt %d) credited %d times", id, receipt, credits))
		}
		if status != "credited" || credits == 0 {
			bt.notCredited++
			continue
		}
		var tb struct {
			Bills []kiosk.BillCount `json:"bills"`
		}
		if err := json.Unmarshal(body, &tb); err != nil {
			return bt, fmt.Errorf("top-up %s: body %q: %w", id, body, err)
		}
		bt.amount += kiosk.Money(amount)
		for _, b := range tb.Bills {
			bt.bills[b.Value] += b.Count
		}
	}
	return bt, rows.Err()
}

// torturePanel is a customer's view of the sim panel socket; unlike the sim
// tests' client it returns errors, since the kiosk dies under it by design.
type torturePanel struct {
	conn net.Conn
	rd   *bufio.Reader
	last screenMsg
}

func dialTorturePanel(l *tortureLife, sock string) (*torturePanel, error) {
	deadline := time.Now().Add(idleWait)
	for {
		c, err := net.Dial("unix", sock)
		if err == nil {
			p := &torturePanel{conn: c, rd: bufio.NewReader(c)}
			go func() {
				// The customer walks away when the life ends.
				select {
				case <-l.ctx.Done():
				case <-l.exited:
				}
				c.Close()
			}()
			return p, nil
		}
		if l.ctx.Err() != nil || isExited(l) || time.Now().After(deadline) {
			return nil, err
		}
		time.Sleep(50 * time.Millisecond)
	}
}

func (p *torturePanel) key(k string) {
	fmt.Fprintf(p.conn, "KEY %s\n", k)
}

var errPanelTimeout = errors.New("timed out")

// waitState reads screens until one is in one of states.
func (p *torturePanel) waitState(limit time.Duration, states ...string) (screenMsg, error) {
	p.conn.SetReadDeadline(time.Now().Add(limit))
	for {
		line, err := p.rd.ReadString('\n')
		if err != nil {
			if ne, ok := err.(net.Error); ok && ne.Timeout() {
				return p.last, fmt.Errorf("waiting for %v: %w", states, errPanelTimeout)
			}
			return p.last, err
		}
		rest, ok := strings.CutPrefix(line, "SCREEN ")
		if !ok {
			continue
		}
		var s screenMsg
		if err := json.Unmarshal([]byte(rest), &s); err != nil {
			return p.last, fmt.Errorf("bad SCREEN line %q: %w", line, err)
		}
		p.last = s
		if slices.Contains(states, s.State) {
			return s, nil
		}
	}
}
