package flow

import (
	"context"
	"fmt"
	"log/slog"
	"os"
	"strings"
	"testing"
	"time"
	"unicode/utf8"

	"tolem/kiosk"
	"tolem/kiosk/kiosktest"
)

// waitLimit bounds every wait for the loop; it is far above what anything
// takes, so that a busy machine never fails a test.
const waitLimit = 20 * time.Second

// rig is a flow wired to fakes, with methods that drive it the way a
// customer, the acceptor and the clock do, and wait for the loop after
// each step instead of sleeping.
type rig struct {
	t     *testing.T
	clock *kiosktest.FakeClock
	acc   *kiosktest.FakeAcceptor
	led   *kiosktest.FakeLedger
	wal   *kiosktest.FakeWallets
	disp  *kiosktest.FakeDisplay
	light *kiosktest.FakeLight
	cfg   Config
	// receipts is the receipt printer the flow gets; nil for none.
	receipts kiosk.Receipts
	f        *Flow
	ids      int
	// writesMark is how many ledger calls happened before the input
	// under test.
	writesMark int
	stop       context.CancelFunc
	done       chan error
	// extra adds to the flow's dependencies before it runs.
	extra func(*Deps)
}

func newRig(t *testing.T, cfg Config) *rig {
	t.Helper()
	clock := kiosktest.NewFakeClock(time.Time{})
	r := &rig{
		t:     t,
		clock: clock,
		acc:   kiosktest.NewFakeAcceptor(clock),
		led:   kiosktest.NewFakeLedger(),
		wal:   kiosktest.NewFakeWallets(),
		disp:  &kiosktest.FakeDisplay{},
		light: &kiosktest.FakeLight{},
		cfg:   cfg,
	}
	// Every test checks the central money rule: a bill is recorded before
	// the acceptor is told to stack it.
	r.acc.CheckStack(func(v kiosk.Money) error {
		if !r.led.HasEscrowed(v) {
			return fmt.Errorf("no escrow record for %s in the ledger", v)
		}
		return nil
	})
	return r
}

func (r *rig) logger() *slog.Logger {
	if testing.Verbose() && os.Getenv("FLOW_LOG") != "" {
		return slog.New(slog.NewTextHandler(os.Stderr, &slog.HandlerOptions{Level: slog.LevelDebug}))
	}
	return nil
}

// run starts the flow without the acceptor's ready report.
func (r *rig) run() *rig {
	r.t.Helper()
	d := Deps{
		Clock: r.clock, Acceptor: r.acc, Ledger: r.led, Wallets: r.wal,
		Display: r.disp, Light: r.light, Log: r.logger(), Receipts: r.receipts,
		NewID: func() string { r.ids++; return fmt.Sprintf("s%d", r.ids) },
	}
	if r.extra != nil {
		r.extra(&d)
	}
	r.f = New(r.cfg, d)
	ctx, cancel := context.WithCancel(context.Background())
	r.stop = cancel
	r.done = make(chan error, 1)
	go func() { r.done <- r.f.Run(ctx) }()
	r.t.Cleanup(r.shutdown)
	r.settle()
	return r
}

// start starts the flow and has the acceptor report ready: the kiosk idles.
func (r *rig) start() *rig {
	r.t.Helper()
	r.run()
	r.acc.Ready()
	r.settle()
	r.want(kiosk.StateIdle)
	r.acc.ClearCommands()
	return r
}

func (r *rig) shutdown() {
	if r.stop == nil {
		return
	}
	r.stop()
	r.stop = nil
	// As kioskd does: a flow stopping with a bill in flight waits for the
	// acceptor, which then closes.
	r.acc.Close()
	select {
	case err := <-r.done:
		if err != nil {
			r.t.Errorf("Run: %v", err)
		}
	case <-time.After(waitLimit):
		r.t.Errorf("Run did not return after its context ended")
	}
	if p := r.acc.Problems(); len(p) > 0 {
		r.t.Errorf("acceptor told to stack unrecorded bills: %v", p)
	}
}

// settle waits until the loop has handled everything queued, including the
// answer of a lookup in flight (unless the fake bank is told to hang), then
// checks the invariants that hold between any two inputs.
func (r *rig) settle() {
	r.t.Helper()
	deadline := time.After(waitLimit)
	for {
		info, ok := r.f.barrier()
		if !ok {
			r.t.Fatal("flow stopped")
		}
		if info.lookup == nil || r.wal.Blocked() {
			break
		}
		select {
		case <-info.lookup:
		case <-deadline:
			r.t.Fatal("wallet lookup did not finish")
		}
	}
	r.invariants()
}

func (r *rig) invariants() {
	r.t.Helper()
	st := r.f.Status()
	on, _ := r.acc.Enabled()
	if on && st.State != kiosk.StateInsertCash {
		r.t.Errorf("acceptor enabled in %s; it may take cash only in insert_cash", st.State)
	}
	if on != r.light.On() {
		r.t.Errorf("bezel light on=%v while acceptor enabled=%v", r.light.On(), on)
	}
	if on != st.AcceptorEnabled {
		r.t.Errorf("status says acceptor enabled=%v, device says %v", st.AcceptorEnabled, on)
	}
	last := r.disp.Last()
	if last != st.Screen {
		r.t.Errorf("display shows %q, status has %q", last.Lines, st.Screen.Lines)
	}
	if last.State != st.State {
		r.t.Errorf("screen of %s shown in %s", last.State, st.State)
	}
	for i, l := range last.Lines {
		if n := utf8.RuneCountInString(l); n > lineWidth {
			r.t.Errorf("%s line %d is %d characters: %q", st.State, i+1, n, l)
		}
	}
}

// key presses keys (digits may be given as one string: "7011234567").
func (r *rig) key(keys ...string) {
	r.t.Helper()
	for _, k := range keys {
		if k != "" && strings.Trim(k, "0123456789") == "" {
			for _, d := range k {
				r.f.Key(kiosk.Key(string(d)))
				r.settle()
			}
			continue
		}
		r.f.Key(kiosk.Key(k))
		r.settle()
	}
}

func (r *rig) advance(d time.Duration) {
	r.t.Helper()
	r.clock.Advance(d)
	r.settle()
}

func (r *rig) state() kiosk.State { return r.f.Status().State }

func (r *rig) want(s kiosk.State) {
	r.t.Helper()
	if got := r.state(); got != s {
		r.t.Fatalf("state %s, want %s (screen %q, reasons %v)", got, s, r.disp.Last().Lines, r.f.Status().Reasons)
	}
}

func (r *rig) wantLine(substr string) {
	r.t.Helper()
	if !strings.Contains(r.disp.Text(), substr) {
		r.t.Fatalf("screen %q does not show %q", r.disp.Last().Lines, substr)
	}
}

func (r *rig) wantNoLine(substr string) {
	r.t.Helper()
	if strings.Contains(r.disp.Text(), substr) {
		r.t.Fatalf("screen %q shows %q", r.disp.Last().Lines, substr)
	}
}

// toConfirm takes a customer from idle to confirm with a found wallet.
func (r *rig) toConfirm() {
	r.t.Helper()
	r.key("OK", "7011234567", "OK")
	r.want(kiosk.StateConfirm)
}

// toInsert takes a customer from idle to insert_cash.
func (r *rig) toInsert() {
	r.t.Helper()
	r.toConfirm()
	r.key("OK")
	r.want(kiosk.StateInsertCash)
}

// feed puts bills in the way a healthy device does: escrow, then stacked
// once the kiosk says STACK.
func (r *rig) feed(bills ...kiosk.Money) {
	r.t.Helper()
	for _, v := range bills {
		r.acc.Escrow(v)
		r.settle()
		if _, still := r.acc.InEscrow(); still {
			r.t.Fatalf("bill %s left in escrow", v)
		}
		cmds := r.acc.Commands()
		if len(cmds) > 0 && cmds[len(cmds)-1].Op == kiosktest.OpStack && cmds[len(cmds)-1].Err == nil {
			r.acc.Stacked(v)
			r.settle()
		}
	}
}

// ops returns the acceptor's command names since the last clear.
func (r *rig) ops() []string {
	var out []string
	for _, c := range r.acc.Commands() {
		out = append(out, c.Op)
	}
	return out
}

func (r *rig) lastCmd() kiosktest.Command {
	cmds := r.acc.Commands()
	if len(cmds) == 0 {
		return kiosktest.Command{}
	}
	return cmds[len(cmds)-1]
}

func (r *rig) enabledSet() []kiosk.Money {
	on, set := r.acc.Enabled()
	if !on {
		return nil
	}
	return set
}

func tenge(ts ...int64) []kiosk.Money {
	out := make([]kiosk.Money, len(ts))
	for i, t := range ts {
		out[i] = kiosk.Tenge(t)
	}
	return out
}
