package id003test_test

import (
	"bytes"
	"errors"
	"os"
	"testing"
	"time"

	"tolem/devices/id003"
	"tolem/devices/id003/id003test"
	"tolem/devices/serialport"
	"tolem/kiosk"
)

// openCut is open with the timings a power-cut test needs: a stacking long
// enough to be caught half-way, and a short dark.
func openCut(t *testing.T, o id003test.EmuOptions) (*id003test.Emulator, *wire) {
	t.Helper()
	o.AcceptTime, o.StackTime, o.InitTime = 20*time.Millisecond, 200*time.Millisecond, 30*time.Millisecond
	o.PowerOffTime = 100 * time.Millisecond
	emu, err := id003test.Start(o)
	if err != nil {
		t.Skipf("no pseudo-terminals: %v", err)
	}
	t.Cleanup(func() { emu.Close() })
	f, err := serialport.OpenParity(emu.Path(), 9600, serialport.ParityEven, 0)
	if err != nil {
		t.Fatal(err)
	}
	t.Cleanup(func() { f.Close() })
	return emu, &wire{t: t, f: f, dec: id003.NewDecoder(f)}
}

// askWithin sends a request and returns the answer, or nil when none came
// within d (the unit is dark).
func (w *wire) askWithin(d time.Duration, data ...byte) []byte {
	w.t.Helper()
	if _, err := w.f.Write(id003.AppendFrame(nil, data...)); err != nil {
		w.t.Fatal(err)
	}
	deadline := time.Now().Add(d)
	for {
		f, err := w.dec.Next()
		switch {
		case err == nil:
			return f.Data
		case errors.Is(err, os.ErrDeadlineExceeded) && time.Now().Before(deadline):
		case errors.Is(err, os.ErrDeadlineExceeded):
			return nil
		default:
			w.t.Fatal(err)
		}
	}
}

// statusThroughDark asks for the status until the unit answers again after
// a power cut, and returns that first answer.
func (w *wire) statusThroughDark() []byte {
	w.t.Helper()
	for deadline := time.Now().Add(10 * time.Second); time.Now().Before(deadline); {
		if ans := w.askWithin(150*time.Millisecond, id003.CmdStatusRequest); ans != nil {
			return ans
		}
	}
	w.t.Fatal("the unit never answered after the power cut")
	return nil
}

// enable brings a freshly powered unit to IDLING with every bill enabled.
func (w *wire) enable() {
	w.t.Helper()
	w.want(w.ask(id003.CmdReset), id003.AnsACK)
	w.untilStatus(id003.StDisabled)
	w.want(w.ask(id003.SetEnable, 0, 0), id003.SetEnable, 0, 0) // a 0 bit enables
	w.want(w.ask(id003.SetInhibit, 0), id003.SetInhibit, 0)
	w.untilStatus(id003.StIdling)
}

// A bill of 5 000 ₸ (code 0x65) is fed with a power cut armed at each
// instant of its way: the unit comes back as the cut left the bill, the
// cassette counts it once if it got there, a VEND VALID the controller had
// not acknowledged is not repeated, and a bill left in the head goes back to
// the customer at RESET. Units that report VEND VALID after INITIALIZE for
// the bill in the stacker do so once.
func TestPowerCutAtEachInstant(t *testing.T) {
	cases := []struct {
		at         id003test.Instant
		powerUp    byte
		place      kiosk.BillPosition
		inCassette int
	}{
		{id003test.AtAccepting, id003.StPowerUpAcceptor, kiosk.BillInValidator, 0},
		{id003test.AtEscrow, id003.StPowerUpAcceptor, kiosk.BillInValidator, 0},
		{id003test.AtStackAcked, id003.StPowerUpAcceptor, kiosk.BillInValidator, 0},
		{id003test.AtStacking, id003.StPowerUpStacker, kiosk.BillInStacker, 1},
		{id003test.AtVendValidUntold, id003.StPowerUpStacker, kiosk.BillNowhere, 1},
		{id003test.AtVendValidUnacked, id003.StPowerUpStacker, kiosk.BillNowhere, 1},
	}
	for _, c := range cases {
		for _, vendAfter := range []bool{false, true} {
			name := c.at.String()
			if vendAfter {
				name += "/vend-after-power-up"
			}
			t.Run(name, func(t *testing.T) {
				t.Parallel()
				emu, w := openCut(t, id003test.EmuOptions{VendAfterPowerUp: vendAfter})
				w.want(w.ask(id003.CmdStatusRequest), id003.StPowerUp)
				w.enable()

				cuts := make(chan id003test.Cut, 2)
				emu.PowerCutAt(c.at, func(cut id003test.Cut) { cuts <- cut })
				if err := emu.InsertBill(kiosk.Tenge(5000)); err != nil {
					t.Fatal(err)
				}
				// The controller of id003.md B.5, until the unit goes dark.
				vend := false
				for deadline := time.Now().Add(10 * time.Second); len(cuts) == 0; {
					if time.Now().After(deadline) {
						t.Fatalf("the bill never reached %s", c.at)
					}
					ans := w.askWithin(150*time.Millisecond, id003.CmdStatusRequest)
					switch {
					case ans == nil:
						continue // dark
					case ans[0] == id003.StEscrow && len(cuts) == 0:
						if got := w.askWithin(150*time.Millisecond, id003.CmdStack1); !bytes.Equal(got, []byte{id003.AnsACK}) && len(cuts) == 0 {
							t.Fatalf("STACK-1 answered % X", got)
						}
					case ans[0] == id003.StVendValid:
						vend = true
						if c.at != id003test.AtVendValidUnacked {
							t.Fatalf("VEND VALID before the cut at %s", c.at)
						}
						continue // the power goes before the ACK
					}
					time.Sleep(20 * time.Millisecond)
				}
				cut := <-cuts
				if cut.Instant != c.at || cut.Value != kiosk.Tenge(5000) || cut.Place != c.place || cut.Next != 0 {
					t.Errorf("cut = %+v, want at %s, 5 000 ₸, %s", cut, c.at, c.place)
				}
				if vend != (c.at == id003test.AtVendValidUnacked) {
					t.Errorf("the controller heard VEND VALID: %v", vend)
				}
				if got := w.statusThroughDark(); !bytes.Equal(got, []byte{c.powerUp}) {
					t.Fatalf("after the cut the unit answered % X, want %02X", got, c.powerUp)
				}
				w.want(w.ask(id003.CmdReset), id003.AnsACK)
				vends := 0
				for deadline := time.Now().Add(10 * time.Second); ; {
					ans := w.ask(id003.CmdStatusRequest)
					if len(ans) > 0 && ans[0] == id003.StVendValid {
						vends++
						w.f.Write(id003.AppendFrame(nil, id003.CmdACK))
					}
					if len(ans) > 0 && ans[0] == id003.StDisabled {
						break
					}
					if time.Now().After(deadline) {
						t.Fatalf("still % X after RESET", ans)
					}
					time.Sleep(10 * time.Millisecond)
				}
				wantVends := 0
				if vendAfter && c.powerUp == id003.StPowerUpStacker {
					wantVends = 1
				}
				if vends != wantVends {
					t.Errorf("VEND VALID %d times after the power came back, want %d", vends, wantVends)
				}
				want := map[kiosk.Money]int{}
				if c.inCassette > 0 {
					want[kiosk.Tenge(5000)] = c.inCassette
				}
				if got := emu.Cassette(); !equalCounts(got, want) {
					t.Errorf("Cassette() = %v, want %v", got, want)
				}
				if got := emu.Stacked(); !equalCounts(got, want) {
					t.Errorf("Stacked() = %v, want %v", got, want)
				}
				if got, want := emu.Returned(), 1-c.inCassette; got != want {
					t.Errorf("Returned() = %d, want %d", got, want)
				}
				// Nothing left armed: the next bill goes through undisturbed.
				if emu.Disarm() {
					t.Error("the cut was still armed after it fired")
				}
				w.want(w.ask(id003.SetEnable, 0, 0), id003.SetEnable, 0, 0)
				w.want(w.ask(id003.SetInhibit, 0), id003.SetInhibit, 0)
				if err := emu.InsertBill(kiosk.Tenge(1000)); err != nil {
					t.Fatalf("the next bill: %v", err)
				}
				w.want(w.untilStatus(id003.StEscrow), id003.StEscrow, 0x63)
			})
		}
	}
}

func equalCounts(a, b map[kiosk.Money]int) bool {
	if len(a) != len(b) {
		return false
	}
	for k, v := range a {
		if b[k] != v {
			return false
		}
	}
	return true
}

// PowerCut cuts at once, wherever the bill is; a cut armed for an instant
// no bill reaches never fires.
func TestPowerCutNowAndDisarm(t *testing.T) {
	emu, w := openCut(t, id003test.EmuOptions{})
	w.want(w.ask(id003.CmdStatusRequest), id003.StPowerUp)
	w.enable()
	fired := false
	emu.PowerCutAt(id003test.AtStacking, func(id003test.Cut) { fired = true })
	emu.InsertBill(kiosk.Tenge(1000))
	w.untilStatus(id003.StEscrow)
	if !emu.Disarm() {
		t.Fatal("Disarm found nothing armed")
	}
	cut := emu.PowerCut()
	if cut.Instant != 0 || cut.Value != kiosk.Tenge(1000) || cut.Place != kiosk.BillInValidator {
		t.Errorf("PowerCut() = %+v", cut)
	}
	if got := w.statusThroughDark(); !bytes.Equal(got, []byte{id003.StPowerUpAcceptor}) {
		t.Fatalf("after the cut % X, want 41", got)
	}
	w.want(w.ask(id003.CmdReset), id003.AnsACK)
	w.untilStatus(id003.StDisabled)
	if fired || len(emu.Cassette()) != 0 || emu.Returned() != 1 {
		t.Errorf("disarmed cut fired %v; cassette %v; returned %d", fired, emu.Cassette(), emu.Returned())
	}
}

// The cassette count survives a restart of the emulator's process with a
// state file, and a new cassette starts it from zero.
func TestCassetteCountPersistsAndEmpties(t *testing.T) {
	state := t.TempDir() + "/acceptor.json"
	emu, w := openCut(t, id003test.EmuOptions{StateFile: state})
	w.want(w.ask(id003.CmdStatusRequest), id003.StPowerUp)
	w.enable()
	emu.PowerCutAt(id003test.AtStacking, nil)
	emu.InsertBill(kiosk.Tenge(200))
	w.want(w.untilStatus(id003.StEscrow), id003.StEscrow, 0x61)
	w.want(w.ask(id003.CmdStack2), id003.AnsACK)
	for w.statusThroughDark()[0] != id003.StPowerUpStacker {
	}
	emu.Close()
	w.f.Close()

	emu2, err := id003test.Start(id003test.EmuOptions{StateFile: state})
	if err != nil {
		t.Fatal(err)
	}
	defer emu2.Close()
	if got := emu2.Cassette(); got[kiosk.Tenge(200)] != 1 || len(got) != 1 {
		t.Fatalf("Cassette() after a restart = %v, want one 200 ₸ bill", got)
	}
	emu2.RemoveCassette()
	emu2.InsertCassette()
	if got := emu2.Cassette(); len(got) != 0 {
		t.Errorf("Cassette() after a new cassette = %v", got)
	}
	if got := emu2.Stacked(); got[kiosk.Tenge(200)] != 1 {
		t.Errorf("Stacked() = %v, want the 200 ₸ bill still counted", got)
	}
}

// The instants keep the CCNET emulator's order and values, so a table of
// expectations written for one protocol indexes the other.
func TestInstantsInOrder(t *testing.T) {
	for i, at := range id003test.Instants() {
		if int(at) != i+1 {
			t.Errorf("Instants()[%d] = %s (%d), want value %d", i, at, int(at), i+1)
		}
	}
}
