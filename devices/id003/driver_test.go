package id003_test

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
	"tolem/devices/id003"
	"tolem/devices/id003/id003test"
	"tolem/kiosk"
)

const patience = acceptortest.Patience

var allBills = []kiosk.Money{kiosk.Tenge(200), kiosk.Tenge(500), kiosk.Tenge(1000), kiosk.Tenge(2000),
	kiosk.Tenge(5000), kiosk.Tenge(10000), kiosk.Tenge(20000)}

// rig is a driver on a real pty with the emulator on the other end, and a
// record of every event the driver emitted.
type rig struct {
	t   *testing.T
	emu *id003test.Emulator
	dev *id003.Dev
	ctx context.Context
	*acceptortest.Recorder
}

// fastEmu shortens the unit's mechanics so that tests are quick; the escrow
// limit stays 10 s unless a test shortens it.
func fastEmu(o id003test.EmuOptions) id003test.EmuOptions {
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

func newRig(t *testing.T, eo id003test.EmuOptions, do id003.Opts) *rig {
	t.Helper()
	if eo.Log == nil {
		eo.Log = acceptortest.TestLog(t).With("side", "emulator")
	}
	emu, err := id003test.Start(fastEmu(eo))
	if err != nil {
		t.Skipf("cannot start the emulator (no pseudo-terminals?): %v", err)
	}
	t.Cleanup(func() { emu.Close() })
	return attach(t, emu, emu.Path(), do)
}

// attach starts a driver on path, which the emulator serves.
func attach(t *testing.T, emu *id003test.Emulator, path string, do id003.Opts) *rig {
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
	dev, err := id003.New(path, &do)
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
// enable is on its way).
func (r *rig) insert(v kiosk.Money) {
	r.t.Helper()
	deadline := time.Now().Add(patience)
	for {
		err := r.emu.InsertBill(v)
		if err == nil {
			return
		}
		if !errors.Is(err, id003test.ErrNotAccepting) && !errors.Is(err, id003test.ErrBusy) || time.Now().After(deadline) {
			r.t.Fatalf("insert %s: %v", v, err)
		}
		time.Sleep(20 * time.Millisecond)
	}
}

// quiet lets the driver poll a while, so that a duplicate event would show.
func quiet() { time.Sleep(time.Second) }

// stackOne feeds a bill of v, stacks it and waits for its Stacked, the n-th.
func (r *rig) stackOne(v kiosk.Money, n int) {
	r.t.Helper()
	escrows := r.Count(kiosk.EventEscrow)
	r.insert(v)
	if e := r.Await(kiosk.EventEscrow, escrows+1); e.Value != v {
		r.t.Fatalf("escrow %s, want %s", e.Value, v)
	}
	if err := r.dev.Stack(r.ctx); err != nil {
		r.t.Fatal(err)
	}
	if e := r.Await(kiosk.EventStacked, n); e.Value != v {
		r.t.Fatalf("stacked %s, want %s", e.Value, v)
	}
}

func TestStartUpReportsVersionAndTable(t *testing.T) {
	t.Parallel()
	r := newRig(t, id003test.EmuOptions{}, id003.Opts{})
	p := r.Await(kiosk.EventPowerUp, 1)
	if p.BillAt != kiosk.BillNowhere || p.Value != 0 {
		t.Errorf("power-up %s %s, want nothing in the unit", p.BillAt, p.Value)
	}
	r.Await(kiosk.EventReady, 1)
	if got := r.Kinds(); !slices.Equal(got, []kiosk.AcceptorEventKind{kiosk.EventPowerUp, kiosk.EventReady}) {
		t.Errorf("events %v, want power_up, ready", got)
	}
	info := r.dev.Info()
	if info.Protocol != "id003" || info.Model != "iVIZION-100-SS" || info.Firmware != "ID003-05V266-47 14OCT09 6BA6" ||
		info.Currency != "KZT" || !info.Ready || info.State != "disabled" || len(info.Faults) != 0 {
		t.Errorf("Info = %+v", info)
	}
	if !slices.Equal(info.Denominations, allBills) {
		t.Errorf("denominations %v, want %v", info.Denominations, allBills)
	}
	if tab := r.dev.Table(); len(tab) != 8 || tab[0].Country != id003test.KZTCountry {
		t.Errorf("table %v", tab)
	}
	// Inhibited until the flow enables it.
	if err := r.emu.InsertBill(kiosk.Tenge(1000)); !errors.Is(err, id003test.ErrNotAccepting) {
		t.Errorf("bill taken before Enable: %v", err)
	}
	if err := r.dev.Stack(r.ctx); !errors.Is(err, kiosk.ErrNoEscrow) {
		t.Errorf("Stack with no escrow: %v, want ErrNoEscrow", err)
	}
}

// Every bill: escrow, stacking at the STACK's ACK, stacked at VEND VALID,
// each once, and the unit hears exactly one ACK per VEND VALID.
func TestEveryDenominationEscrowAndStack(t *testing.T) {
	t.Parallel()
	r := newRig(t, id003test.EmuOptions{StackedPolls: 3}, id003.Opts{})
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
		if e := r.Await(kiosk.EventStacking, i+1); e.Value != v {
			t.Fatalf("stacking %s, want %s", e.Value, v)
		}
		if e := r.Await(kiosk.EventStacked, i+1); e.Value != v {
			t.Fatalf("stacked %s, want %s", e.Value, v)
		}
	}
	quiet()
	r.WantCount(kiosk.EventEscrow, len(allBills))
	r.WantCount(kiosk.EventStacking, len(allBills))
	r.WantCount(kiosk.EventStacked, len(allBills))
	st := r.emu.Stacked()
	for _, v := range allBills {
		if st[v] != 1 {
			t.Errorf("cash box holds %d × %s, want 1", st[v], v)
		}
	}
	if acks := r.emu.VendACKs(); !slices.Equal(acks, []int{1, 1, 1, 1, 1, 1, 1}) {
		t.Errorf("ACKs per VEND VALID %v, want one for each of the 7 bills", acks)
	}
	// Each bill's events in order: escrow, stacking, stacked.
	var seq []kiosk.AcceptorEventKind
	for _, k := range r.Kinds() {
		if k == kiosk.EventEscrow || k == kiosk.EventStacking || k == kiosk.EventStacked {
			seq = append(seq, k)
		}
	}
	for i := 0; i+2 < len(seq); i += 3 {
		if seq[i] != kiosk.EventEscrow || seq[i+1] != kiosk.EventStacking || seq[i+2] != kiosk.EventStacked {
			t.Fatalf("events out of order: %v", seq)
		}
	}
}

func TestStack2(t *testing.T) {
	t.Parallel()
	r := newRig(t, id003test.EmuOptions{}, id003.Opts{Stack2: true})
	r.ready(1)
	r.stackOne(kiosk.Tenge(5000), 1)
}

func TestEscrowReturn(t *testing.T) {
	t.Parallel()
	r := newRig(t, id003test.EmuOptions{}, id003.Opts{})
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
	r.WantCount(kiosk.EventStacking, 0)
	r.WantCount(kiosk.EventStacked, 0)
	if st := r.emu.Stacked(); len(st) != 0 {
		t.Errorf("cash box holds %v after a return", st)
	}
	if err := r.dev.Return(r.ctx); !errors.Is(err, kiosk.ErrNoEscrow) {
		t.Errorf("Return with no escrow: %v", err)
	}
}

func TestRejections(t *testing.T) {
	t.Parallel()
	r := newRig(t, id003test.EmuOptions{}, id003.Opts{})
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
	if e := r.Await(kiosk.EventRejected, 1); e.Reason != "photo level" {
		t.Errorf("fake rejected for %q", e.Reason)
	}
	quiet()
	r.insert(kiosk.Tenge(500)) // not enabled: the unit refuses it itself
	if e := r.Await(kiosk.EventRejected, 2); e.Reason != "inhibited denomination or direction" {
		t.Errorf("inhibited bill rejected for %q", e.Reason)
	}
	quiet()
	r.WantCount(kiosk.EventRejected, 2) // once each, however many polls show it
	r.WantCount(kiosk.EventEscrow, 0)
	r.WantCount(kiosk.EventReturned, 0)
}

// Every fault status, what the flow sees at its onset (once) and when it
// clears.
func TestFaultStatuses(t *testing.T) {
	t.Parallel()
	tests := []struct {
		name   string
		raise  func(*id003test.Emulator)
		clear  func(*id003test.Emulator)
		fault  kiosk.Fault
		detail string
	}{
		{"stacker full", (*id003test.Emulator).FillCassette, (*id003test.Emulator).InsertCassette, kiosk.FaultCassetteFull, "stacker full"},
		{"stacker open", (*id003test.Emulator).RemoveCassette, (*id003test.Emulator).InsertCassette, kiosk.FaultCassetteRemoved, "stacker open"},
		{"jam in acceptor", (*id003test.Emulator).Jam, (*id003test.Emulator).ClearJam, kiosk.FaultJammed, "jammed in the acceptor"},
		{"jam in stacker", (*id003test.Emulator).JamStacker, (*id003test.Emulator).ClearJam, kiosk.FaultCassetteJammed, "jammed in the stacker"},
		{"cheated", func(e *id003test.Emulator) { e.Cheat(true) }, func(e *id003test.Emulator) { e.Cheat(false) }, kiosk.FaultCheated, "fraud"},
		{"failure", func(e *id003test.Emulator) { e.Fail(0xA2) }, (*id003test.Emulator).ClearFailure, kiosk.FaultFailure, "stack motor failure (0xA2)"},
		{"failure unknown code", func(e *id003test.Emulator) { e.Fail(0xC9) }, (*id003test.Emulator).ClearFailure, kiosk.FaultFailure, "failure code 0xC9"},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			t.Parallel()
			r := newRig(t, id003test.EmuOptions{}, id003.Opts{})
			r.ready(1)
			tt.raise(r.emu)
			e := r.Await(kiosk.EventFault, 1)
			if e.Fault != tt.fault || !strings.Contains(e.Detail, tt.detail) {
				t.Errorf("fault %s %q, want %s with %q", e.Fault, e.Detail, tt.fault, tt.detail)
			}
			quiet()
			r.WantCount(kiosk.EventFault, 1) // once per onset, not per poll
			if info := r.dev.Info(); info.Ready || !slices.Equal(info.Faults, []kiosk.Fault{tt.fault}) {
				t.Errorf("Info during the fault: ready %v faults %v", info.Ready, info.Faults)
			}
			tt.clear(r.emu)
			r.Await(kiosk.EventFaultCleared, 1)
			if info := r.dev.Info(); !info.Ready || len(info.Faults) != 0 {
				t.Errorf("Info after the fault: ready %v faults %v", info.Ready, info.Faults)
			}
			r.stackOne(kiosk.Tenge(200), 1)
		})
	}
}

// PAUSE: a second bill pushed in behind the one in escrow.
func TestPause(t *testing.T) {
	t.Parallel()
	r := newRig(t, id003test.EmuOptions{}, id003.Opts{})
	r.ready(1)
	r.insert(kiosk.Tenge(1000))
	r.Await(kiosk.EventEscrow, 1)
	r.emu.Pause(true)
	if e := r.Await(kiosk.EventFault, 1); e.Fault != kiosk.FaultPause {
		t.Errorf("fault %s, want pause", e.Fault)
	}
	r.emu.Pause(false)
	r.Await(kiosk.EventFaultCleared, 1)
	r.dev.Stack(r.ctx)
	r.Await(kiosk.EventStacked, 1)
	quiet()
	r.WantCount(kiosk.EventEscrow, 1)
}

func TestCassetteRemovedMidSession(t *testing.T) {
	t.Parallel()
	r := newRig(t, id003test.EmuOptions{}, id003.Opts{})
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
	r.stackOne(kiosk.Tenge(2000), 1)
	quiet()
	r.WantCount(kiosk.EventFault, 1)
	r.WantCount(kiosk.EventReturned, 1)
}

// The bill that fills the stacker: the unit reports STACKER FULL without a
// VEND VALID; the bill on its way is counted in.
func TestStackerFullWithBillStacking(t *testing.T) {
	t.Parallel()
	r := newRig(t, id003test.EmuOptions{StackTime: time.Hour}, id003.Opts{})
	r.ready(1)
	r.insert(kiosk.Tenge(5000))
	r.Await(kiosk.EventEscrow, 1)
	r.dev.Stack(r.ctx)
	r.Await(kiosk.EventStacking, 1)
	r.emu.FillCassette()
	if e := r.Await(kiosk.EventStacked, 1); e.Value != kiosk.Tenge(5000) {
		t.Errorf("stacked %s", e.Value)
	}
	r.Await(kiosk.EventFault, 1)
	quiet()
	r.WantCount(kiosk.EventStacked, 1)
}

func TestPowerCycle(t *testing.T) {
	t.Parallel()
	tests := []struct {
		name     string
		at       kiosk.BillPosition
		vend     bool // the unit reports VEND VALID for the bill in the stacker
		stacking bool // the cut comes after the STACK
		stacked  int
	}{
		{"bill in escrow", kiosk.BillInValidator, false, false, 0},
		{"bill mid-stack", kiosk.BillInStacker, false, true, 1},
		{"bill mid-stack, unit reports VEND VALID", kiosk.BillInStacker, true, true, 1},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			t.Parallel()
			r := newRig(t, id003test.EmuOptions{VendAfterPowerUp: tt.vend, StackTime: time.Hour}, id003.Opts{})
			r.ready(1)
			r.insert(kiosk.Tenge(10000))
			r.Await(kiosk.EventEscrow, 1)
			if tt.stacking {
				r.dev.Stack(r.ctx)
				r.Await(kiosk.EventStacking, 1)
			}
			if err := r.emu.PowerCycle(tt.at); err != nil {
				t.Fatal(err)
			}
			p := r.Await(kiosk.EventPowerUp, 2)
			if p.BillAt != tt.at || p.Value != kiosk.Tenge(10000) {
				t.Errorf("power-up %s %s, want %s 10 000 ₸", p.BillAt, p.Value, tt.at)
			}
			r.Await(kiosk.EventReady, 2)
			quiet()
			// A VEND VALID for the power-up's bill is not a new bill.
			r.WantCount(kiosk.EventStacked, 0)
			r.WantCount(kiosk.EventReturned, 0)
			r.WantCount(kiosk.EventFault, 0)
			if got := r.emu.Stacked()[kiosk.Tenge(10000)]; got != tt.stacked {
				t.Errorf("cash box holds %d bills, want %d", got, tt.stacked)
			}
			if tt.vend {
				if acks := r.emu.VendACKs(); !slices.Equal(acks, []int{1}) {
					t.Errorf("ACKs to the recovered VEND VALID %v, want one", acks)
				}
			}
			// Inhibited again after the restart, until the flow enables it.
			if err := r.emu.InsertBill(kiosk.Tenge(200)); !errors.Is(err, id003test.ErrNotAccepting) {
				t.Errorf("unit takes bills after restart without Enable: %v", err)
			}
			r.dev.Enable(r.ctx, allBills)
			r.insert(kiosk.Tenge(200))
			r.Await(kiosk.EventEscrow, 2)
		})
	}
}

// A daemon killed with a bill half-way into the stacker: the unit keeps it
// through the power cut and the next start reports it in the stacker.
func TestStateFileAfterKill(t *testing.T) {
	t.Parallel()
	for _, vend := range []bool{false, true} {
		t.Run(fmt.Sprintf("VendAfterPowerUp=%v", vend), func(t *testing.T) {
			t.Parallel()
			state := filepath.Join(t.TempDir(), "acceptor.json")
			emu, err := id003test.Start(fastEmu(id003test.EmuOptions{StateFile: state, StackTime: time.Hour}))
			if err != nil {
				t.Skip(err)
			}
			r := attach(t, emu, emu.Path(), id003.Opts{})
			r.ready(1)
			r.insert(kiosk.Tenge(1000))
			r.Await(kiosk.EventEscrow, 1)
			r.dev.Stack(r.ctx)
			r.Await(kiosk.EventStacking, 1)
			r.dev.Close()
			emu.Close() // the process dies with the unit mid-stack

			emu2, err := id003test.Start(fastEmu(id003test.EmuOptions{StateFile: state, VendAfterPowerUp: vend}))
			if err != nil {
				t.Fatal(err)
			}
			defer emu2.Close()
			r2 := attach(t, emu2, emu2.Path(), id003.Opts{})
			p := r2.Await(kiosk.EventPowerUp, 1)
			if p.BillAt != kiosk.BillInStacker || p.Value != 0 {
				t.Errorf("power-up %s %s, want in_stacker with no value (0x42 carries none)", p.BillAt, p.Value)
			}
			r2.Await(kiosk.EventReady, 1)
			quiet()
			r2.WantCount(kiosk.EventStacked, 0)
			if got := emu2.Stacked(); got[kiosk.Tenge(1000)] != 1 {
				t.Errorf("cash box %v, want the 1000 bill", got)
			}
		})
	}
}

// Damaged and lost frames both ways: nothing lost, nothing doubled, whatever
// the unit answers to a damaged frame and to a repeated STACK.
func TestDamagedFrames(t *testing.T) {
	t.Parallel()
	// Each answer to a damaged frame meets each answer to a repeated STACK
	// at least once, without running every pair.
	for _, m := range []struct {
		bad           byte
		repeatInvalid bool
	}{{0, true}, {id003.StCommError, false}, {id003.StInvalidCommand, true}, {0, false}} {
		bad, repeatInvalid := m.bad, m.repeatInvalid
		t.Run(fmt.Sprintf("OnBadFrame=%02X/RepeatInvalid=%v", bad, repeatInvalid), func(t *testing.T) {
			t.Parallel()
			r := newRig(t, id003test.EmuOptions{OnBadFrame: bad, RepeatInvalid: repeatInvalid}, id003.Opts{})
			r.ready(1)
			bills := []kiosk.Money{kiosk.Tenge(1000), kiosk.Tenge(2000), kiosk.Tenge(5000), kiosk.Tenge(500)}
			for i, v := range bills {
				r.insert(v)
				r.emu.CorruptNext(2) // some status answers
				r.Await(kiosk.EventEscrow, i+1)
				switch i {
				case 0:
					r.emu.CorruptNext(1) // the STACK's ACK: the copy sent again meets a bill on its way
				case 1:
					r.emu.CorruptVendValid(2) // the credit itself
				case 2:
					r.emu.DamageCommands(1) // the STACK arrives damaged
				case 3:
					r.emu.DropNext(1) // the STACK's ACK is lost
				}
				if err := r.dev.Stack(r.ctx); err != nil {
					t.Fatal(err)
				}
				if e := r.Await(kiosk.EventStacked, i+1); e.Value != v {
					t.Errorf("stacked %s, want %s", e.Value, v)
				}
				quiet()
			}
			r.WantCount(kiosk.EventEscrow, len(bills))
			r.WantCount(kiosk.EventStacking, len(bills))
			r.WantCount(kiosk.EventStacked, len(bills))
			r.WantCount(kiosk.EventFault, 0)
			if got := r.emu.Stacked(); len(got) != len(bills) {
				t.Errorf("cash box %v", got)
			}
		})
	}
}

// The controller's ACK lost on the way: the unit repeats VEND VALID, the
// driver ACKs it again, and the bill counts once.
func TestLostACKRepeatsVendValidCountedOnce(t *testing.T) {
	t.Parallel()
	r := newRig(t, id003test.EmuOptions{}, id003.Opts{})
	r.ready(1)
	r.insert(kiosk.Tenge(1000))
	r.Await(kiosk.EventEscrow, 1)
	r.emu.DamageACKs(2)
	r.dev.Stack(r.ctx)
	r.Await(kiosk.EventStacked, 1)
	quiet()
	r.WantCount(kiosk.EventStacked, 1)
	if got := r.emu.Stacked()[kiosk.Tenge(1000)]; got != 1 {
		t.Errorf("cash box holds %d, want 1", got)
	}
	// Two ACKs lost, the third heard: the unit got exactly one.
	if acks := r.emu.VendACKs(); !slices.Equal(acks, []int{1}) {
		t.Errorf("ACKs %v, want the bill ACKed once as the unit heard it", acks)
	}
	r.stackOne(kiosk.Tenge(500), 2)
}

// A line that echoes every byte the controller sends: STATUS REQUEST comes
// back looking like IDLING, settings like their own echo. The driver never
// takes its own frame for an answer.
func TestEchoingLine(t *testing.T) {
	t.Parallel()
	r := newRig(t, id003test.EmuOptions{Echo: true}, id003.Opts{})
	p := r.Await(kiosk.EventPowerUp, 1)
	if p.BillAt != kiosk.BillNowhere {
		t.Errorf("power-up %s", p.BillAt)
	}
	r.ready(1)
	if st := r.dev.Info().State; st != "disabled" && st != "idling" {
		t.Errorf("state %q", st)
	}
	r.stackOne(kiosk.Tenge(2000), 1)
	r.insert(kiosk.Tenge(500))
	r.Await(kiosk.EventEscrow, 2)
	r.dev.Return(r.ctx)
	r.Await(kiosk.EventReturned, 1)
	quiet()
	r.WantCount(kiosk.EventStacked, 1)
	r.WantCount(kiosk.EventFault, 0)
}

// Units differ in how they leave INITIALIZE: enabled or inhibited, taking
// settings while initialising or only after. Either way the driver leaves
// the unit inhibited until Enable.
func TestInitialiseVariants(t *testing.T) {
	t.Parallel()
	for _, eo := range []id003test.EmuOptions{{ComesUpEnabled: true}, {SettingsAfterInit: true}, {ComesUpEnabled: true, SettingsAfterInit: true}} {
		t.Run(fmt.Sprintf("enabled=%v/after=%v", eo.ComesUpEnabled, eo.SettingsAfterInit), func(t *testing.T) {
			t.Parallel()
			r := newRig(t, eo, id003.Opts{})
			r.Await(kiosk.EventReady, 1)
			if err := r.emu.InsertBill(kiosk.Tenge(1000)); !errors.Is(err, id003test.ErrNotAccepting) {
				t.Errorf("bill taken before Enable: %v", err)
			}
			r.dev.Enable(r.ctx, allBills)
			r.stackOne(kiosk.Tenge(1000), 1)
		})
	}
}

// Only the bills the flow enables are let through, whichever way the model
// lays out its bitmap.
func TestEnableLayoutPerModel(t *testing.T) {
	t.Parallel()
	for _, l := range []id003.EnableLayout{{}, {SecondByte: true}, {SetEnables: true}} {
		t.Run(fmt.Sprintf("%+v", l), func(t *testing.T) {
			t.Parallel()
			r := newRig(t, id003test.EmuOptions{Layout: l}, id003.Opts{Layout: l})
			r.Await(kiosk.EventReady, 1)
			r.dev.Enable(r.ctx, []kiosk.Money{kiosk.Tenge(1000), kiosk.Tenge(5000)})
			want := id003.MaskOf(0x63) | id003.MaskOf(0x65)
			deadline := time.Now().Add(patience)
			for r.emu.Enabled() != want {
				if time.Now().After(deadline) {
					t.Fatalf("unit enabled %08b, want %08b", r.emu.Enabled(), want)
				}
				time.Sleep(20 * time.Millisecond)
			}
			r.dev.Disable(r.ctx)
			for r.emu.Enabled() != 0 {
				if time.Now().After(deadline) {
					t.Fatal("unit not inhibited after Disable")
				}
				time.Sleep(20 * time.Millisecond)
			}
			if info := r.dev.Info(); len(info.LastErrors) != 0 {
				t.Errorf("errors %v", info.LastErrors)
			}
		})
	}
	// A driver set for the wrong layout: the unit takes a bill the kiosk did
	// not enable. It goes back, and the error points at the layout.
	r := newRig(t, id003test.EmuOptions{Layout: id003.EnableLayout{SecondByte: true}}, id003.Opts{})
	r.Await(kiosk.EventReady, 1)
	r.dev.Enable(r.ctx, allBills[:2])
	r.insert(kiosk.Tenge(5000))
	if e := r.Await(kiosk.EventRejected, 1); e.Reason != "denomination not enabled" {
		t.Errorf("rejected for %q", e.Reason)
	}
	quiet()
	r.WantCount(kiosk.EventEscrow, 0)
	if errs := r.dev.Info().LastErrors; len(errs) == 0 || !strings.Contains(errs[0], "enable layout") {
		t.Errorf("errors %q do not point at the layout", errs)
	}
	if n := r.emu.Returned(); n != 1 {
		t.Errorf("unit gave back %d bills, want 1", n)
	}
}

// The flow may take longer than the unit's escrow timeout to decide: HOLD
// keeps the bill. The emulator's limit is shortened to keep the test short.
func TestUndecidedEscrowIsHeld(t *testing.T) {
	t.Parallel()
	eo := id003test.EmuOptions{EscrowLimit: 1500 * time.Millisecond, HoldTime: 1500 * time.Millisecond}
	t.Run("with HOLD", func(t *testing.T) {
		t.Parallel()
		r := newRig(t, eo, id003.Opts{HoldInterval: 400 * time.Millisecond})
		r.ready(1)
		r.insert(kiosk.Tenge(20000))
		r.Await(kiosk.EventEscrow, 1)
		time.Sleep(5 * time.Second) // more than three escrow limits
		r.WantCount(kiosk.EventReturned, 0)
		if st := r.dev.Info().State; st != "holding" {
			t.Errorf("state %q, want holding", st)
		}
		if err := r.dev.Stack(r.ctx); err != nil {
			t.Fatal(err)
		}
		r.Await(kiosk.EventStacked, 1)
		r.WantCount(kiosk.EventReturned, 0)
	})
	t.Run("without HOLD the unit gives it back", func(t *testing.T) {
		t.Parallel()
		r := newRig(t, eo, id003.Opts{HoldInterval: 9 * time.Second})
		r.ready(1)
		r.insert(kiosk.Tenge(20000))
		r.Await(kiosk.EventEscrow, 1)
		if e := r.Await(kiosk.EventReturned, 1); e.Value != kiosk.Tenge(20000) {
			t.Errorf("returned %s", e.Value)
		}
		if err := r.dev.Stack(r.ctx); !errors.Is(err, kiosk.ErrNoEscrow) {
			t.Errorf("Stack after the limit: %v", err)
		}
		quiet()
		r.WantCount(kiosk.EventRejected, 0) // the flow's bill came back: returned, not a rejection
	})
}

// HOLD timing follows the injected clock: a clock that does not move sends
// no HOLD, however long the wall clock runs.
func TestHoldFollowsClock(t *testing.T) {
	t.Parallel()
	clk := &stillClock{t: time.Date(2025, 1, 1, 0, 0, 0, 0, time.UTC)}
	eo := id003test.EmuOptions{EscrowLimit: 1500 * time.Millisecond}
	r := newRig(t, eo, id003.Opts{Clock: clk, HoldInterval: 400 * time.Millisecond})
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

// A table in another currency: those bills are never enabled.
func TestForeignCurrencyNeverEnabled(t *testing.T) {
	t.Parallel()
	table := append(id003test.DefaultTable()[:2],
		id003.Denom{Code: 0x63, Country: 0x01, Base: 50}, // 50 USD: 5000 cents, the number of 50 ₸ in tiyn
		id003.Denom{Code: 0x64, Country: 0x77, Base: 7})  // a code nobody mapped, not a tenge note
	r := newRig(t, id003test.EmuOptions{Table: table}, id003.Opts{})
	r.Await(kiosk.EventReady, 1)
	if d := r.dev.Info().Denominations; !slices.Equal(d, allBills[:2]) {
		t.Errorf("denominations %v, want 200 and 500 only", d)
	}
	r.dev.Enable(r.ctx, []kiosk.Money{kiosk.Tenge(200), 5000})
	r.insert(kiosk.Money(5000))
	if e := r.Await(kiosk.EventRejected, 1); e.Reason != "inhibited denomination or direction" {
		t.Errorf("rejected for %q", e.Reason)
	}
	r.WantCount(kiosk.EventEscrow, 0)
}

// A country code pinned in the config is the only one taken for tenge.
func TestPinnedCountry(t *testing.T) {
	t.Parallel()
	table := []id003.Denom{{Code: 0x61, Country: 0x30, Base: 200}, {Code: 0x62, Country: id003test.KZTCountry, Base: 50, Exp: 1}}
	countries := id003.CountriesFromConfig(map[string]string{"0x30": "KZT", "KZT": "KZT"})
	r := newRig(t, id003test.EmuOptions{Table: table}, id003.Opts{Countries: countries})
	r.Await(kiosk.EventReady, 1)
	if d := r.dev.Info().Denominations; !slices.Equal(d, allBills[:1]) {
		t.Errorf("denominations %v, want 200 only", d)
	}
}

func TestCountriesFromConfig(t *testing.T) {
	got := id003.CountriesFromConfig(map[string]string{"0x4b": "KZT", "0XE0": "EUR", "KAZ": "KZT", "0xZZ": "KZT"})
	if len(got) != 2 || got[0x4B] != "KZT" || got[0xE0] != "EUR" {
		t.Errorf("CountriesFromConfig = %v", got)
	}
}

func TestBadOptions(t *testing.T) {
	t.Parallel()
	for _, o := range []id003.Opts{{PollInterval: 5 * time.Second}, {HoldInterval: 12 * time.Second}} {
		if _, err := id003.New("/dev/ttyUSB0", &o); err == nil {
			t.Errorf("New accepted %+v", o)
		}
	}
	if _, err := id003.New("", nil); err == nil {
		t.Error("New accepted no port")
	}
}

// A unit that stops answering is offline after 5 s, and comes back through a
// full initialisation.
func TestSilentUnit(t *testing.T) {
	t.Parallel()
	r := newRig(t, id003test.EmuOptions{}, id003.Opts{})
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
	r.stackOne(kiosk.Tenge(200), 1)
}

func TestUnplugReplug(t *testing.T) {
	t.Parallel()
	link := filepath.Join(t.TempDir(), "ttyJCM")
	emu, err := id003test.Start(fastEmu(id003test.EmuOptions{LinkPath: link}))
	if err != nil {
		t.Skip(err)
	}
	defer emu.Close()
	r := attach(t, emu, link, id003.Opts{})
	r.ready(1)
	r.stackOne(kiosk.Tenge(1000), 1)

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
	r.stackOne(kiosk.Tenge(1000), 2)
	quiet()
	r.WantCount(kiosk.EventFault, 1)
	r.WantCount(kiosk.EventStacked, 2)
	if got := r.emu.Stacked()[kiosk.Tenge(1000)]; got != 2 {
		t.Errorf("cash box holds %d bills, want 2", got)
	}
}

// Unplugged with a bill waiting: once back, the driver settles the bill
// before RESET and tells the flow how it ended.
func TestUnplugWithBillInEscrow(t *testing.T) {
	t.Parallel()
	link := filepath.Join(t.TempDir(), "ttyJCM")
	emu, err := id003test.Start(fastEmu(id003test.EmuOptions{LinkPath: link}))
	if err != nil {
		t.Skip(err)
	}
	defer emu.Close()
	r := attach(t, emu, link, id003.Opts{})
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
		t.Errorf("cash box %v", st)
	}
}

// The line drops while the unit reports VEND VALID and the driver's ACK is
// lost with it: after the reconnect the unit still reports VEND VALID (then
// STACKED) for the bill the driver already counted. It counts once.
func TestReconnectRemembersTheLastBill(t *testing.T) {
	t.Parallel()
	link := filepath.Join(t.TempDir(), "ttyJCM")
	emu, err := id003test.Start(fastEmu(id003test.EmuOptions{LinkPath: link, StackedPolls: 3}))
	if err != nil {
		t.Skip(err)
	}
	defer emu.Close()
	r := attach(t, emu, link, id003.Opts{})
	r.ready(1)
	r.insert(kiosk.Tenge(2000))
	r.Await(kiosk.EventEscrow, 1)
	r.emu.DamageACKs(1 << 30) // the unit never hears the driver's ACK
	r.dev.Stack(r.ctx)
	r.Await(kiosk.EventStacked, 1)
	time.Sleep(300 * time.Millisecond) // VEND VALID reported again, and ACKed again
	emu.Unplug()
	r.Await(kiosk.EventFault, 1)
	r.emu.DamageACKs(0)
	if st := emu.Status(); !strings.Contains(st, "vend_valid") {
		t.Fatalf("the unit is %s, want still reporting VEND VALID", st)
	}
	if err := emu.Replug(); err != nil {
		t.Fatal(err)
	}
	r.Await(kiosk.EventReady, 2)
	quiet()
	r.WantCount(kiosk.EventStacked, 1)
	if p := r.Await(kiosk.EventPowerUp, 2); p.BillAt != kiosk.BillNowhere {
		t.Errorf("power-up after the reconnect %s, want nothing (the bill was counted)", p.BillAt)
	}
	if got := emu.Stacked()[kiosk.Tenge(2000)]; got != 1 {
		t.Errorf("cash box holds %d, want 1", got)
	}
}

func TestNoUnitAtBoot(t *testing.T) {
	t.Parallel()
	path := filepath.Join(t.TempDir(), "ttyUSB9")
	r := attach(t, nil, path, id003.Opts{})
	if e := r.Await(kiosk.EventFault, 1); e.Fault != kiosk.FaultDisconnected || !strings.Contains(e.Detail, "ttyUSB9") {
		t.Errorf("fault %s %q, want disconnected naming the port", e.Fault, e.Detail)
	}
	if err := r.dev.Stack(r.ctx); !errors.Is(err, kiosk.ErrAcceptorOffline) {
		t.Errorf("Stack offline: %v", err)
	}
	emu, err := id003test.Start(fastEmu(id003test.EmuOptions{LinkPath: path}))
	if err != nil {
		t.Skip(err)
	}
	defer emu.Close()
	r.Await(kiosk.EventFaultCleared, 1)
	r.Await(kiosk.EventReady, 1)
}

// Close inhibits the unit and stops; events the reader had not taken yet
// are still delivered, then Events is closed.
func TestCloseKeepsUndeliveredEvents(t *testing.T) {
	t.Parallel()
	emu, err := id003test.Start(fastEmu(id003test.EmuOptions{}))
	if err != nil {
		t.Skip(err)
	}
	defer emu.Close()
	dev, err := id003.New(emu.Path(), &id003.Opts{PollInterval: 100 * time.Millisecond})
	if err != nil {
		t.Fatal(err)
	}
	for e := range dev.Events() {
		if e.Kind == kiosk.EventReady {
			break
		}
	}
	dev.Enable(context.Background(), allBills)
	// Nobody reads while a bill goes through: its events wait in the driver.
	deadline := time.Now().Add(patience)
	for emu.InsertBill(kiosk.Tenge(1000)) != nil {
		if time.Now().After(deadline) {
			t.Fatal("never enabled")
		}
		time.Sleep(20 * time.Millisecond)
	}
	for !strings.Contains(dev.Info().State, "escrow") && !strings.Contains(dev.Info().State, "holding") {
		if time.Now().After(deadline) {
			t.Fatalf("no escrow: %s", dev.Info().State)
		}
		time.Sleep(20 * time.Millisecond)
	}
	if err := dev.Close(); err != nil {
		t.Fatal(err)
	}
	var got []kiosk.AcceptorEventKind
	for e := range dev.Events() {
		got = append(got, e.Kind)
	}
	if !slices.Contains(got, kiosk.EventEscrow) {
		t.Errorf("events after Close %v: the escrow was dropped", got)
	}
}

// Not parallel: it counts the process's goroutines.
func TestCloseDisablesAndStops(t *testing.T) {
	before := runtime.NumGoroutine()
	emu, err := id003test.Start(fastEmu(id003test.EmuOptions{}))
	if err != nil {
		t.Skip(err)
	}
	defer emu.Close()
	dev, err := id003.New(emu.Path(), &id003.Opts{PollInterval: 100 * time.Millisecond})
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
	}
	emu.Close()
	deadline = time.Now().Add(patience)
	for runtime.NumGoroutine() > before {
		if time.Now().After(deadline) {
			buf := make([]byte, 1<<20)
			t.Fatalf("%d goroutines left, %d before:\n%s", runtime.NumGoroutine(), before, buf[:runtime.Stack(buf, true)])
		}
		time.Sleep(20 * time.Millisecond)
	}
}

// The poll loop stamps its progress, which the daemon's watchdog reads.
func TestLastActivityAdvancesWhilePolling(t *testing.T) {
	t.Parallel()
	r := newRig(t, id003test.EmuOptions{}, id003.Opts{})
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
