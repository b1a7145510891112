package ccnet_test

import (
	"context"
	"errors"
	"fmt"
	"path/filepath"
	"runtime"
	"slices"
	"strings"
	"testing"
	"time"

	"tolem/devices/acceptor/acceptortest"
	"tolem/devices/ccnet"
	"tolem/devices/ccnet/ccnettest"
	"tolem/kiosk"
)

const patience = acceptortest.Patience

var allBills = []kiosk.Money{kiosk.Tenge(200), kiosk.Tenge(500), kiosk.Tenge(1000), kiosk.Tenge(2000),
	kiosk.Tenge(5000), kiosk.Tenge(10000), kiosk.Tenge(20000)}

// rig is a driver on a real pty with the emulator on the other end, and a
// record of every event the driver emitted.
type rig struct {
	t   *testing.T
	emu *ccnettest.Emulator
	dev *ccnet.Dev
	ctx context.Context
	*acceptortest.Recorder
}

// fastEmu shortens the unit's mechanics so that tests are quick; the escrow
// limit stays the real 10 s unless a test shortens it.
func fastEmu(o ccnettest.EmuOptions) ccnettest.EmuOptions {
	set := func(d *time.Duration, v time.Duration) {
		if *d == 0 {
			*d = v
		}
	}
	set(&o.AcceptTime, 50*time.Millisecond)
	set(&o.StackTime, 150*time.Millisecond)
	set(&o.ReturnTime, 150*time.Millisecond)
	set(&o.RejectTime, 400*time.Millisecond)
	set(&o.InitTime, 200*time.Millisecond)
	set(&o.PowerOffTime, 200*time.Millisecond)
	return o
}

func newRig(t *testing.T, eo ccnettest.EmuOptions, do ccnet.Opts) *rig {
	t.Helper()
	if eo.Log == nil {
		eo.Log = acceptortest.TestLog(t).With("side", "emulator")
	}
	emu, err := ccnettest.Start(fastEmu(eo))
	if err != nil {
		t.Skipf("cannot start the emulator (no pseudo-terminals?): %v", err)
	}
	t.Cleanup(func() { emu.Close() })
	return attach(t, emu, emu.Path(), do)
}

// attach starts a driver on path, which the emulator serves.
func attach(t *testing.T, emu *ccnettest.Emulator, path string, do ccnet.Opts) *rig {
	t.Helper()
	if do.PollInterval == 0 {
		do.PollInterval = 100 * time.Millisecond
	}
	if do.ReconnectMax == 0 {
		do.ReconnectMin, do.ReconnectMax = 100*time.Millisecond, time.Second
	}
	if do.Log == nil {
		do.Log = acceptortest.TestLog(t)
	}
	dev, err := ccnet.New(path, &do)
	if err != nil {
		t.Fatal(err)
	}
	r := &rig{t: t, emu: emu, dev: dev, ctx: context.Background(), Recorder: acceptortest.Record(t, dev.Events())}
	t.Cleanup(func() { dev.Close() })
	return r
}

// ready waits for the n-th EventReady and enables every bill.
func (r *rig) ready(n int) {
	r.t.Helper()
	r.Await(kiosk.EventReady, n)
	if err := r.dev.Enable(r.ctx, allBills); err != nil {
		r.t.Fatal(err)
	}
}

// insert feeds a bill, retrying while the unit is not taking bills yet (the
// ENABLE is on its way).
func (r *rig) insert(v kiosk.Money) {
	r.t.Helper()
	deadline := time.Now().Add(patience)
	for {
		err := r.emu.InsertBill(v)
		if err == nil {
			return
		}
		if !errors.Is(err, ccnettest.ErrNotAccepting) || time.Now().After(deadline) {
			r.t.Fatalf("insert %s: %v", v, err)
		}
		time.Sleep(20 * time.Millisecond)
	}
}

// quiet lets the driver poll a while, so that a duplicate event would show.
func quiet() { time.Sleep(time.Second) }

func TestStartUpReportsIdentityAndTable(t *testing.T) {
	t.Parallel()
	r := newRig(t, ccnettest.EmuOptions{}, ccnet.Opts{})
	p := r.Await(kiosk.EventPowerUp, 1)
	if p.BillAt != kiosk.BillNowhere || p.Value != 0 {
		t.Errorf("power-up %s %s, want nothing in the unit", p.BillAt, p.Value)
	}
	r.Await(kiosk.EventReady, 1)
	if got := r.Kinds(); !slices.Equal(got, []kiosk.AcceptorEventKind{kiosk.EventPowerUp, kiosk.EventReady}) {
		t.Errorf("events %v, want power_up, ready", got)
	}
	info := r.dev.Info()
	if info.Protocol != "ccnet" || info.Model != "SM-KZ1703" || info.Serial != "41K705000123" ||
		info.Currency != "KZT" || !info.Ready || info.State != "disabled" || len(info.Faults) != 0 {
		t.Errorf("Info = %+v", info)
	}
	if !slices.Equal(info.Denominations, allBills) {
		t.Errorf("denominations %v, want %v", info.Denominations, allBills)
	}
	// Disabled until the flow enables it.
	if err := r.emu.InsertBill(kiosk.Tenge(1000)); !errors.Is(err, ccnettest.ErrNotAccepting) {
		t.Errorf("bill taken before Enable: %v", err)
	}
	if err := r.dev.Stack(r.ctx); !errors.Is(err, kiosk.ErrNoEscrow) {
		t.Errorf("Stack with no escrow: %v, want ErrNoEscrow", err)
	}
}

func TestEveryDenominationEscrowAndStack(t *testing.T) {
	t.Parallel()
	r := newRig(t, ccnettest.EmuOptions{}, ccnet.Opts{})
	r.ready(1)
	for i, v := range allBills {
		r.insert(v)
		if e := r.Await(kiosk.EventEscrow, i+1); e.Value != v {
			t.Fatalf("escrow %s, want %s", e.Value, v)
		}
		if got := r.dev.Info().State; got != "escrow" && got != "holding" {
			t.Errorf("state %q while a bill waits", got)
		}
		if err := r.dev.Stack(r.ctx); err != nil {
			t.Fatal(err)
		}
		if e := r.Await(kiosk.EventStacked, i+1); e.Value != v {
			t.Fatalf("stacked %s, want %s", e.Value, v)
		}
	}
	quiet()
	r.WantCount(kiosk.EventEscrow, len(allBills))
	r.WantCount(kiosk.EventStacked, len(allBills))
	st := r.emu.Stacked()
	for _, v := range allBills {
		if st[v] != 1 {
			t.Errorf("cassette holds %d × %s, want 1", st[v], v)
		}
	}
}

func TestEscrowReturn(t *testing.T) {
	t.Parallel()
	r := newRig(t, ccnettest.EmuOptions{}, ccnet.Opts{})
	r.ready(1)
	r.insert(kiosk.Tenge(5000))
	r.Await(kiosk.EventEscrow, 1)
	if err := r.dev.Return(r.ctx); err != nil {
		t.Fatal(err)
	}
	if err := r.dev.Stack(r.ctx); err == nil {
		t.Error("Stack after Return accepted")
	}
	if e := r.Await(kiosk.EventReturned, 1); e.Value != kiosk.Tenge(5000) {
		t.Errorf("returned %s", e.Value)
	}
	quiet()
	r.WantCount(kiosk.EventReturned, 1)
	r.WantCount(kiosk.EventStacked, 0)
	if st := r.emu.Stacked(); len(st) != 0 {
		t.Errorf("cassette holds %v after a return", st)
	}
	if err := r.dev.Return(r.ctx); !errors.Is(err, kiosk.ErrNoEscrow) {
		t.Errorf("Return with no escrow: %v", err)
	}
}

func TestRejections(t *testing.T) {
	t.Parallel()
	r := newRig(t, ccnettest.EmuOptions{}, ccnet.Opts{})
	r.Await(kiosk.EventReady, 1)
	if err := r.dev.Enable(r.ctx, []kiosk.Money{kiosk.Tenge(1000)}); err != nil {
		t.Fatal(err)
	}
	deadline := time.Now().Add(patience)
	for r.emu.InsertFake() != nil {
		if time.Now().After(deadline) {
			t.Fatal("the unit never took a bill")
		}
		time.Sleep(20 * time.Millisecond)
	}
	if e := r.Await(kiosk.EventRejected, 1); e.Reason != "identification" {
		t.Errorf("fake rejected for %q", e.Reason)
	}
	quiet()
	r.insert(kiosk.Tenge(500)) // not enabled
	if e := r.Await(kiosk.EventRejected, 2); e.Reason != "inhibited denomination" {
		t.Errorf("inhibited bill rejected for %q", e.Reason)
	}
	quiet()
	r.WantCount(kiosk.EventRejected, 2)
	r.WantCount(kiosk.EventEscrow, 0)
}

func TestJamAndRecovery(t *testing.T) {
	t.Parallel()
	r := newRig(t, ccnettest.EmuOptions{}, ccnet.Opts{})
	r.ready(1)
	r.emu.Jam()
	if e := r.Await(kiosk.EventFault, 1); e.Fault != kiosk.FaultJammed || e.Detail == "" {
		t.Errorf("fault %s %q, want jammed with a detail", e.Fault, e.Detail)
	}
	quiet()
	r.WantCount(kiosk.EventFault, 1) // once per onset, not per poll
	if info := r.dev.Info(); info.Ready || !slices.Equal(info.Faults, []kiosk.Fault{kiosk.FaultJammed}) {
		t.Errorf("Info while jammed: ready %v faults %v", info.Ready, info.Faults)
	}
	r.emu.ClearJam()
	r.Await(kiosk.EventFaultCleared, 1)
	if info := r.dev.Info(); !info.Ready || len(info.Faults) != 0 {
		t.Errorf("Info after the jam: ready %v faults %v", info.Ready, info.Faults)
	}
	r.insert(kiosk.Tenge(200))
	r.Await(kiosk.EventEscrow, 1)
}

func TestCassetteRemovedMidSession(t *testing.T) {
	t.Parallel()
	r := newRig(t, ccnettest.EmuOptions{}, ccnet.Opts{})
	r.ready(1)
	r.insert(kiosk.Tenge(2000))
	r.Await(kiosk.EventEscrow, 1)
	r.emu.RemoveCassette() // the unit gives the waiting bill back
	if e := r.Await(kiosk.EventFault, 1); e.Fault != kiosk.FaultCassetteRemoved {
		t.Errorf("fault %s, want cassette_removed", e.Fault)
	}
	if e := r.Await(kiosk.EventReturned, 1); e.Value != kiosk.Tenge(2000) {
		t.Errorf("returned %s", e.Value)
	}
	if err := r.dev.Stack(r.ctx); !errors.Is(err, kiosk.ErrNoEscrow) {
		t.Errorf("Stack after the bill went back: %v", err)
	}
	r.emu.InsertCassette()
	r.Await(kiosk.EventFaultCleared, 1)
	r.insert(kiosk.Tenge(2000))
	r.Await(kiosk.EventEscrow, 2)
	r.dev.Stack(r.ctx)
	r.Await(kiosk.EventStacked, 1)
	quiet()
	r.WantCount(kiosk.EventFault, 1)
	r.WantCount(kiosk.EventReturned, 1)
}

func TestCassetteFull(t *testing.T) {
	t.Parallel()
	r := newRig(t, ccnettest.EmuOptions{}, ccnet.Opts{})
	r.ready(1)
	r.emu.FillCassette()
	if e := r.Await(kiosk.EventFault, 1); e.Fault != kiosk.FaultCassetteFull {
		t.Errorf("fault %s, want cassette_full", e.Fault)
	}
	r.emu.InsertCassette()
	r.Await(kiosk.EventFaultCleared, 1)
}

func TestPowerCycle(t *testing.T) {
	t.Parallel()
	tests := []struct {
		name    string
		at      kiosk.BillPosition
		stacked int
	}{
		{"bill in escrow", kiosk.BillInValidator, 0},
		{"bill mid-stack", kiosk.BillInStacker, 1},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			t.Parallel()
			r := newRig(t, ccnettest.EmuOptions{}, ccnet.Opts{})
			r.ready(1)
			r.insert(kiosk.Tenge(10000))
			r.Await(kiosk.EventEscrow, 1)
			if err := r.emu.PowerCycle(tt.at); err != nil {
				t.Fatal(err)
			}
			p := r.Await(kiosk.EventPowerUp, 2)
			if p.BillAt != tt.at || p.Value != kiosk.Tenge(10000) {
				t.Errorf("power-up %s %s, want %s 10 000 ₸", p.BillAt, p.Value, tt.at)
			}
			r.Await(kiosk.EventReady, 2)
			quiet()
			// The credit recovery STACKED is the power-up's bill, not a new one.
			r.WantCount(kiosk.EventStacked, 0)
			r.WantCount(kiosk.EventReturned, 0)
			r.WantCount(kiosk.EventFault, 0)
			if got := r.emu.Stacked()[kiosk.Tenge(10000)]; got != tt.stacked {
				t.Errorf("cassette holds %d bills, want %d", got, tt.stacked)
			}
			// Disabled again after the restart, until the flow enables it.
			if err := r.emu.InsertBill(kiosk.Tenge(200)); !errors.Is(err, ccnettest.ErrNotAccepting) {
				t.Errorf("unit takes bills after restart without Enable: %v", err)
			}
			r.dev.Enable(r.ctx, allBills)
			r.insert(kiosk.Tenge(200))
			r.Await(kiosk.EventEscrow, 2)
		})
	}
}

// A daemon killed with a bill half-way into the cassette: the unit keeps it
// through the power cut and the next start credits it at power-up.
func TestStateFileCreditRecoveryAfterKill(t *testing.T) {
	t.Parallel()
	state := filepath.Join(t.TempDir(), "acceptor.json")
	emu, err := ccnettest.Start(fastEmu(ccnettest.EmuOptions{StateFile: state, StackTime: time.Hour}))
	if err != nil {
		t.Skip(err)
	}
	r := attach(t, emu, emu.Path(), ccnet.Opts{})
	r.ready(1)
	r.insert(kiosk.Tenge(1000))
	r.Await(kiosk.EventEscrow, 1)
	r.dev.Stack(r.ctx)
	deadline := time.Now().Add(patience)
	for emu.BillInFlight() != kiosk.BillInStacker {
		if time.Now().After(deadline) {
			t.Fatal("the bill never started stacking")
		}
		time.Sleep(10 * time.Millisecond)
	}
	r.dev.Close()
	emu.Close() // the process dies with the unit mid-stack

	emu2, err := ccnettest.Start(fastEmu(ccnettest.EmuOptions{StateFile: state}))
	if err != nil {
		t.Fatal(err)
	}
	defer emu2.Close()
	r2 := attach(t, emu2, emu2.Path(), ccnet.Opts{})
	p := r2.Await(kiosk.EventPowerUp, 1)
	if p.BillAt != kiosk.BillInStacker || p.Value != kiosk.Tenge(1000) {
		t.Errorf("power-up %s %s, want in_stacker 1 000 ₸", p.BillAt, p.Value)
	}
	r2.Await(kiosk.EventReady, 1)
	quiet()
	r2.WantCount(kiosk.EventStacked, 0)
	if got := emu2.Stacked(); got[kiosk.Tenge(1000)] != 1 {
		t.Errorf("cassette %v, want the 1000 bill", got)
	}
}

// Damaged answers are NAKed and asked again; nothing is lost or doubled,
// whether the unit repeats an unacknowledged event or tells it once.
func TestDamagedAnswers(t *testing.T) {
	t.Parallel()
	for _, repeat := range []bool{false, true} {
		t.Run(fmt.Sprintf("RepeatUnACKed=%v", repeat), func(t *testing.T) {
			t.Parallel()
			r := newRig(t, ccnettest.EmuOptions{RepeatUnACKed: repeat}, ccnet.Opts{})
			r.ready(1)
			for i, v := range []kiosk.Money{kiosk.Tenge(1000), kiosk.Tenge(2000), kiosk.Tenge(5000)} {
				r.insert(v)
				r.emu.CorruptNext(2) // some POLL answers
				r.Await(kiosk.EventEscrow, i+1)
				r.emu.CorruptNext(1) // the STACK's ACK: the copy sent again is ILLEGAL
				switch i {
				case 1:
					r.emu.CorruptEvents(1) // the STACKED answer itself
				case 2:
					r.emu.CorruptEvents(2)
				}
				if err := r.dev.Stack(r.ctx); err != nil {
					t.Fatal(err)
				}
				if e := r.Await(kiosk.EventStacked, i+1); e.Value != v {
					t.Errorf("stacked %s, want %s", e.Value, v)
				}
				quiet()
			}
			r.WantCount(kiosk.EventEscrow, 3)
			r.WantCount(kiosk.EventStacked, 3)
			r.WantCount(kiosk.EventFault, 0)
			if got := r.emu.Stacked(); len(got) != 3 {
				t.Errorf("cassette %v", got)
			}
		})
	}
}

// Some firmware reports STACKED on several polls; the bill is counted once.
func TestRepeatedEventsCountedOnce(t *testing.T) {
	t.Parallel()
	r := newRig(t, ccnettest.EmuOptions{EventPolls: 4}, ccnet.Opts{})
	r.ready(1)
	for i := 1; i <= 2; i++ {
		r.insert(kiosk.Tenge(200))
		r.Await(kiosk.EventEscrow, i)
		if i == 1 {
			r.dev.Stack(r.ctx)
			r.Await(kiosk.EventStacked, 1)
		} else {
			r.dev.Return(r.ctx)
			r.Await(kiosk.EventReturned, 1)
		}
		quiet()
	}
	r.WantCount(kiosk.EventStacked, 1)
	r.WantCount(kiosk.EventReturned, 1)
}

func TestBusyUnitIsWaitedFor(t *testing.T) {
	t.Parallel()
	r := newRig(t, ccnettest.EmuOptions{}, ccnet.Opts{})
	r.ready(1)
	r.emu.Busy(2 * time.Second)
	time.Sleep(2500 * time.Millisecond)
	r.insert(kiosk.Tenge(500))
	r.Await(kiosk.EventEscrow, 1)
	r.WantCount(kiosk.EventFault, 0)
}

// A unit that stops answering is offline after t-non-response, and comes back
// through a full initialisation.
func TestSilentUnit(t *testing.T) {
	t.Parallel()
	r := newRig(t, ccnettest.EmuOptions{}, ccnet.Opts{})
	r.ready(1)
	r.emu.Silence(7 * time.Second)
	if e := r.Await(kiosk.EventFault, 1); e.Fault != kiosk.FaultDisconnected {
		t.Fatalf("fault %s, want disconnected", e.Fault)
	}
	if err := r.dev.Enable(r.ctx, allBills); !errors.Is(err, kiosk.ErrAcceptorOffline) {
		t.Errorf("Enable while offline: %v", err)
	}
	if info := r.dev.Info(); info.Ready || len(info.LastErrors) == 0 {
		t.Errorf("Info while offline: %+v", info)
	}
	r.Await(kiosk.EventPowerUp, 2)
	r.Await(kiosk.EventFaultCleared, 1)
	r.ready(2)
	want := []kiosk.AcceptorEventKind{kiosk.EventPowerUp, kiosk.EventReady, kiosk.EventFault,
		kiosk.EventPowerUp, kiosk.EventFaultCleared, kiosk.EventReady}
	if got := r.Kinds(); !slices.Equal(got, want) {
		t.Errorf("events %v, want %v", got, want)
	}
	r.insert(kiosk.Tenge(200))
	r.Await(kiosk.EventEscrow, 1)
}

func TestUnplugReplug(t *testing.T) {
	t.Parallel()
	link := filepath.Join(t.TempDir(), "ttyCCNET")
	emu, err := ccnettest.Start(fastEmu(ccnettest.EmuOptions{LinkPath: link}))
	if err != nil {
		t.Skip(err)
	}
	defer emu.Close()
	r := attach(t, emu, link, ccnet.Opts{})
	r.ready(1)
	r.insert(kiosk.Tenge(1000))
	r.Await(kiosk.EventEscrow, 1)
	r.dev.Stack(r.ctx)
	r.Await(kiosk.EventStacked, 1)

	emu.Unplug()
	if e := r.Await(kiosk.EventFault, 1); e.Fault != kiosk.FaultDisconnected {
		t.Fatalf("fault %s, want disconnected", e.Fault)
	}
	time.Sleep(time.Second) // a few failed reconnects
	if err := emu.Replug(); err != nil {
		t.Fatal(err)
	}
	r.Await(kiosk.EventFaultCleared, 1)
	r.ready(2)
	r.insert(kiosk.Tenge(1000))
	r.Await(kiosk.EventEscrow, 2)
	r.dev.Stack(r.ctx)
	r.Await(kiosk.EventStacked, 2)
	quiet()
	r.WantCount(kiosk.EventFault, 1)
	r.WantCount(kiosk.EventStacked, 2)
	if got := r.emu.Stacked()[kiosk.Tenge(1000)]; got != 2 {
		t.Errorf("cassette holds %d bills, want 2", got)
	}
}

// Unplugged with a bill waiting: once back, the driver settles the bill
// before RESET and tells the flow how it ended.
func TestUnplugWithBillInEscrow(t *testing.T) {
	t.Parallel()
	link := filepath.Join(t.TempDir(), "ttyCCNET")
	emu, err := ccnettest.Start(fastEmu(ccnettest.EmuOptions{LinkPath: link}))
	if err != nil {
		t.Skip(err)
	}
	defer emu.Close()
	r := attach(t, emu, link, ccnet.Opts{})
	r.ready(1)
	r.insert(kiosk.Tenge(500))
	r.Await(kiosk.EventEscrow, 1)
	emu.Unplug()
	r.Await(kiosk.EventFault, 1)
	if err := emu.Replug(); err != nil {
		t.Fatal(err)
	}
	if e := r.Await(kiosk.EventReturned, 1); e.Value != kiosk.Tenge(500) {
		t.Errorf("returned %s", e.Value)
	}
	r.Await(kiosk.EventReady, 2)
	quiet()
	r.WantCount(kiosk.EventStacked, 0)
	if st := emu.Stacked(); len(st) != 0 {
		t.Errorf("cassette %v", st)
	}
}

// The flow may take longer than the unit's 10 s escrow limit to decide: HOLD
// keeps the bill. The emulator's limit is shortened to keep the test short.
func TestUndecidedEscrowIsHeld(t *testing.T) {
	t.Parallel()
	eo := ccnettest.EmuOptions{EscrowLimit: 1500 * time.Millisecond, HoldTime: 1500 * time.Millisecond}
	t.Run("with HOLD", func(t *testing.T) {
		t.Parallel()
		r := newRig(t, eo, ccnet.Opts{HoldInterval: 400 * time.Millisecond})
		r.ready(1)
		r.insert(kiosk.Tenge(20000))
		r.Await(kiosk.EventEscrow, 1)
		time.Sleep(5 * time.Second) // more than three escrow limits
		r.WantCount(kiosk.EventReturned, 0)
		if err := r.dev.Stack(r.ctx); err != nil {
			t.Fatal(err)
		}
		r.Await(kiosk.EventStacked, 1)
		r.WantCount(kiosk.EventReturned, 0)
	})
	t.Run("without HOLD the unit gives it back", func(t *testing.T) {
		t.Parallel()
		r := newRig(t, eo, ccnet.Opts{HoldInterval: 9 * time.Second}) // far past the shortened limit
		r.ready(1)
		r.insert(kiosk.Tenge(20000))
		r.Await(kiosk.EventEscrow, 1)
		r.Await(kiosk.EventReturned, 1)
		if err := r.dev.Stack(r.ctx); !errors.Is(err, kiosk.ErrNoEscrow) {
			t.Errorf("Stack after the limit: %v", err)
		}
	})
}

// HOLD timing follows the injected clock: a clock that does not move sends
// no HOLD, however long the wall clock runs.
func TestHoldFollowsClock(t *testing.T) {
	t.Parallel()
	clk := &stillClock{t: time.Date(2025, 1, 1, 0, 0, 0, 0, time.UTC)}
	eo := ccnettest.EmuOptions{EscrowLimit: 1500 * time.Millisecond}
	r := newRig(t, eo, ccnet.Opts{Clock: clk, HoldInterval: 400 * time.Millisecond})
	r.ready(1)
	r.insert(kiosk.Tenge(200))
	if e := r.Await(kiosk.EventEscrow, 1); !e.At.Equal(clk.t) {
		t.Errorf("event time %v, want the clock's %v", e.At, clk.t)
	}
	r.Await(kiosk.EventReturned, 1)
}

type stillClock struct{ t time.Time }

func (c *stillClock) Now() time.Time { return c.t }
func (c *stillClock) NewTimer(d time.Duration) kiosk.Timer {
	panic("the driver times HOLDs by Now")
}

// A table with a currency the kiosk cannot map: those types stay disabled.
func TestUnmappedCurrencyNeverEnabled(t *testing.T) {
	t.Parallel()
	table := append(ccnettest.DefaultTable()[:2], ccnet.BillType{Digit: 5, Country: "UKR", Exp: 1})
	r := newRig(t, ccnettest.EmuOptions{Table: table}, ccnet.Opts{})
	r.Await(kiosk.EventReady, 1)
	if d := r.dev.Info().Denominations; !slices.Equal(d, allBills[:2]) {
		t.Errorf("denominations %v, want 200 and 500 only", d)
	}
	// 50 UAH is 5000 kopecks, the same number as 50 ₸ in tiyn: still refused.
	r.dev.Enable(r.ctx, []kiosk.Money{kiosk.Tenge(200), 5000})
	r.insert(kiosk.Money(5000))
	if e := r.Await(kiosk.EventRejected, 1); e.Reason != "inhibited denomination" {
		t.Errorf("rejected for %q", e.Reason)
	}
	r.WantCount(kiosk.EventEscrow, 0)
}

func TestCustomCurrencyMap(t *testing.T) {
	t.Parallel()
	table := []ccnet.BillType{{Digit: 2, Country: "KZ ", Exp: 2}}
	r := newRig(t, ccnettest.EmuOptions{Table: table}, ccnet.Opts{Currencies: map[string]string{"KZ": "KZT"}})
	r.Await(kiosk.EventReady, 1)
	if d := r.dev.Info().Denominations; !slices.Equal(d, allBills[:1]) {
		t.Errorf("denominations %v, want 200", d)
	}
}

func TestBadOptions(t *testing.T) {
	t.Parallel()
	for _, o := range []ccnet.Opts{{PollInterval: 5 * time.Second}, {HoldInterval: 12 * time.Second}} {
		if _, err := ccnet.New("/dev/ttyUSB0", &o); err == nil {
			t.Errorf("New accepted %+v", o)
		}
	}
	if _, err := ccnet.New("", nil); err == nil {
		t.Error("New accepted no port")
	}
}

func TestNoUnitAtBoot(t *testing.T) {
	t.Parallel()
	path := filepath.Join(t.TempDir(), "ttyUSB9")
	r := attach(t, nil, path, ccnet.Opts{})
	if e := r.Await(kiosk.EventFault, 1); e.Fault != kiosk.FaultDisconnected || !strings.Contains(e.Detail, "ttyUSB9") {
		t.Errorf("fault %s %q, want disconnected naming the port", e.Fault, e.Detail)
	}
	if err := r.dev.Stack(r.ctx); !errors.Is(err, kiosk.ErrAcceptorOffline) {
		t.Errorf("Stack offline: %v", err)
	}
	// The unit turns up later under the configured name.
	emu, err := ccnettest.Start(fastEmu(ccnettest.EmuOptions{LinkPath: path}))
	if err != nil {
		t.Skip(err)
	}
	defer emu.Close()
	r.Await(kiosk.EventFaultCleared, 1)
	r.Await(kiosk.EventReady, 1)
}

// Not parallel: it counts the process's goroutines.
func TestCloseDisablesAndStops(t *testing.T) {
	before := runtime.NumGoroutine()
	emu, err := ccnettest.Start(fastEmu(ccnettest.EmuOptions{}))
	if err != nil {
		t.Skip(err)
	}
	defer emu.Close()
	dev, err := ccnet.New(emu.Path(), &ccnet.Opts{PollInterval: 100 * time.Millisecond})
	if err != nil {
		t.Fatal(err)
	}
	for e := range dev.Events() {
		if e.Kind == kiosk.EventReady {
			break
		}
	}
	if err := dev.Enable(context.Background(), allBills); err != nil {
		t.Fatal(err)
	}
	deadline := time.Now().Add(patience)
	for !strings.Contains(emu.Status(), "idling") {
		if time.Now().After(deadline) {
			t.Fatalf("never enabled: %s", emu.Status())
		}
		time.Sleep(20 * time.Millisecond)
	}
	if err := dev.Close(); err != nil {
		t.Fatal(err)
	}
	if !strings.Contains(emu.Status(), "disabled") {
		t.Errorf("after Close the unit is %s, want disabled", emu.Status())
	}
	for range dev.Events() {
		// Events still held are delivered, then the channel closes.
	}
	emu.Close()
	// Every goroutine the driver and emulator started is gone.
	deadline = time.Now().Add(patience)
	for runtime.NumGoroutine() > before {
		if time.Now().After(deadline) {
			buf := make([]byte, 1<<20)
			t.Fatalf("%d goroutines left, %d before:\n%s", runtime.NumGoroutine(), before, buf[:runtime.Stack(buf, true)])
		}
		time.Sleep(20 * time.Millisecond)
	}
}

// The poll loop stamps its progress, which the daemon's watchdog reads; a
// silent unit does not stop the stamp (the driver keeps trying), a hung loop
// would.
func TestLastActivityAdvancesWhilePolling(t *testing.T) {
	t.Parallel()
	r := newRig(t, ccnettest.EmuOptions{}, ccnet.Opts{})
	r.Await(kiosk.EventReady, 1)
	first := r.dev.LastActivity()
	if first.IsZero() {
		t.Fatal("no activity stamped after start-up")
	}
	deadline := time.Now().Add(20 * time.Second)
	for !r.dev.LastActivity().After(first) {
		if time.Now().After(deadline) {
			t.Fatal("the poll loop stopped stamping its progress")
		}
		time.Sleep(20 * time.Millisecond)
	}
}

// The flow hears once per bill that the unit took STACK, before the bill's
// STACKED, and never for a bill it returns.
func TestStackingReportedOnce(t *testing.T) {
	t.Parallel()
	r := newRig(t, ccnettest.EmuOptions{}, ccnet.Opts{})
	r.ready(1)
	r.insert(kiosk.Tenge(1000))
	r.Await(kiosk.EventEscrow, 1)
	r.emu.CorruptNext(1) // the STACK's ACK: the copy sent again is ILLEGAL
	if err := r.dev.Stack(r.ctx); err != nil {
		t.Fatal(err)
	}
	r.Await(kiosk.EventStacked, 1)
	r.insert(kiosk.Tenge(500))
	r.Await(kiosk.EventEscrow, 2)
	if err := r.dev.Return(r.ctx); err != nil {
		t.Fatal(err)
	}
	r.Await(kiosk.EventReturned, 1)
	quiet()
	r.WantCount(kiosk.EventStacking, 1)
	var order []kiosk.AcceptorEventKind
	for _, e := range r.Events() {
		switch e.Kind {
		case kiosk.EventEscrow, kiosk.EventStacking, kiosk.EventStacked:
			order = append(order, e.Kind)
			if e.Kind == kiosk.EventStacking && e.Value != kiosk.Tenge(1000) {
				t.Errorf("stacking reported for %s, want 1 000 ₸", e.Value)
			}
		}
	}
	want := []kiosk.AcceptorEventKind{kiosk.EventEscrow, kiosk.EventStacking, kiosk.EventStacked, kiosk.EventEscrow}
	if !slices.Equal(order, want) {
		t.Errorf("events %v, want %v", order, want)
	}
}

// A unit that repeats STACKED on the polls after the bill (some firmware
// does) and loses the link in between reports the same bill to the new
// connection: it is counted once, not read as a power-up with a bill in the
// stacker.
func TestRepeatedStackedAcrossReconnectIsNotANewBill(t *testing.T) {
	t.Parallel()
	link := filepath.Join(t.TempDir(), "ttyCCNET")
	emu, err := ccnettest.Start(fastEmu(ccnettest.EmuOptions{LinkPath: link, EventPolls: 200}))
	if err != nil {
		t.Skip(err)
	}
	defer emu.Close()
	r := attach(t, emu, link, ccnet.Opts{})
	r.ready(1)
	r.insert(kiosk.Tenge(2000))
	r.Await(kiosk.EventEscrow, 1)
	r.dev.Stack(r.ctx)
	r.Await(kiosk.EventStacked, 1)
	emu.Unplug()
	r.Await(kiosk.EventFault, 1)
	if err := emu.Replug(); err != nil {
		t.Fatal(err)
	}
	r.Await(kiosk.EventReady, 2)
	if e := r.Await(kiosk.EventPowerUp, 2); e.BillAt != kiosk.BillNowhere {
		t.Errorf("reconnect reported a bill %s (%s): the stacked bill would be counted twice", e.BillAt, e.Value)
	}
	quiet()
	r.WantCount(kiosk.EventStacked, 1)
	if got := emu.Stacked()[kiosk.Tenge(2000)]; got != 1 {
		t.Errorf("cassette holds %d bills, want 1", got)
	}
}

// Close does not drop what the driver took from the unit: an event not yet
// received is still delivered before Events closes.
func TestCloseDeliversHeldEvents(t *testing.T) {
	t.Parallel()
	emu, err := ccnettest.Start(fastEmu(ccnettest.EmuOptions{}))
	if err != nil {
		t.Skip(err)
	}
	defer emu.Close()
	dev, err := ccnet.New(emu.Path(), &ccnet.Opts{PollInterval: 100 * time.Millisecond, Log: acceptortest.TestLog(t)})
	if err != nil {
		t.Fatal(err)
	}
	for e := range dev.Events() {
		if e.Kind == kiosk.EventReady {
			break
		}
	}
	if err := dev.Enable(context.Background(), allBills); err != nil {
		t.Fatal(err)
	}
	deadline := time.Now().Add(patience)
	for emu.InsertBill(kiosk.Tenge(5000)) != nil {
		if time.Now().After(deadline) {
			t.Fatal("the unit never took the bill")
		}
		time.Sleep(20 * time.Millisecond)
	}
	for !strings.Contains(emu.Status(), "escrow") {
		if time.Now().After(deadline) {
			t.Fatalf("no escrow: %s", emu.Status())
		}
		time.Sleep(20 * time.Millisecond)
	}
	time.Sleep(300 * time.Millisecond) // a few polls: the driver has the escrow
	dev.Close()
	var got []kiosk.AcceptorEventKind
	for e := range dev.Events() {
		got = append(got, e.Kind)
	}
	if !slices.Contains(got, kiosk.EventEscrow) {
		t.Errorf("events after Close %v: the escrow the driver took was dropped", got)
	}
}

// A bill the unit is drawing in when the kiosk disables it (a stop, a fault)
// waits in escrow for a decision: it never goes straight into the cassette
// with no record in the ledger.
func TestBillDrawnInWhileDisablingWaitsInEscrow(t *testing.T) {
	t.Parallel()
	r := newRig(t, ccnettest.EmuOptions{AcceptTime: 600 * time.Millisecond}, ccnet.Opts{})
	r.ready(1)
	r.insert(kiosk.Tenge(1000))
	if err := r.dev.Disable(r.ctx); err != nil {
		t.Fatal(err)
	}
	// A unit refuses it as inhibited, or holds it in escrow for the
	// decision, which gives it back: either way it is not stacked.
	deadline := time.Now().Add(patience)
	for {
		var escrowed, rejected bool
		for _, e := range r.Events() {
			escrowed = escrowed || e.Kind == kiosk.EventEscrow
			rejected = rejected || e.Kind == kiosk.EventRejected
		}
		if escrowed {
			if err := r.dev.Return(r.ctx); err != nil {
				t.Fatal(err)
			}
			r.Await(kiosk.EventReturned, 1)
			break
		}
		if rejected {
			break
		}
		if time.Now().After(deadline) {
			t.Fatal("the bill was neither refused nor held in escrow")
		}
		time.Sleep(20 * time.Millisecond)
	}
	quiet()
	r.WantCount(kiosk.EventStacked, 0)
	if st := r.emu.Stacked(); len(st) != 0 {
		t.Errorf("the cassette holds %v: a bill went in undecided", st)
	}
}
