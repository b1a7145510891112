package ccnettest_test

import (
	"bytes"
	"testing"
	"time"

	"tolem/devices/ccnet"
	"tolem/devices/ccnet/ccnettest"
	"tolem/kiosk"
)

// pollThroughDark polls until the unit answers again after a power cut and
// returns that first answer, ACKed.
func (w *wire) pollThroughDark() []byte {
	w.t.Helper()
	deadline := time.Now().Add(10 * time.Second)
	for time.Now().Before(deadline) {
		ans, err := w.sendRaw(ccnet.AppendFrame(nil, ccnet.AddrBillValidator, ccnet.CmdPoll), 150*time.Millisecond)
		if err == nil && ans != nil {
			w.ack()
			return ans
		}
	}
	w.t.Fatal("the unit never answered after the power cut")
	return nil
}

// A bill of 5 000 ₸ (type 4) is fed with a power cut armed at each instant
// of its way: the unit comes back as the cut left the bill, the cassette
// counts it once if it got there, and no STACKED the controller had not
// acknowledged survives the cut.
func TestPowerCutAtEachInstant(t *testing.T) {
	const typ = 4
	cases := []struct {
		at        ccnettest.Instant
		powerUp   byte
		place     kiosk.BillPosition
		inCassete int
		recovery  bool // STACKED after initialisation (credit recovery)
	}{
		{ccnettest.AtAccepting, ccnet.StPowerUpBillHead, kiosk.BillInValidator, 0, false},
		{ccnettest.AtEscrow, ccnet.StPowerUpBillHead, kiosk.BillInValidator, 0, false},
		{ccnettest.AtStackAcked, ccnet.StPowerUpBillHead, kiosk.BillInValidator, 0, false},
		{ccnettest.AtStacking, ccnet.StPowerUpStacker, kiosk.BillInStacker, 1, true},
		{ccnettest.AtStackedUntold, ccnet.StPowerUp, kiosk.BillNowhere, 1, false},
		{ccnettest.AtStackedUnacked, ccnet.StPowerUp, kiosk.BillNowhere, 1, false},
	}
	for _, c := range cases {
		t.Run(c.at.String(), func(t *testing.T) {
			emu, w := start(t, ccnettest.EmuOptions{PowerOffTime: 100 * time.Millisecond, StackTime: 200 * time.Millisecond})
			w.expect(ack, ccnet.CmdReset)
			w.pollUntil(ccnet.StUnitDisabled)
			w.expect(ack, ccnet.CmdEnableBillType, 0, 0, 0x7F, 0, 0, 0x7F)
			w.pollUntil(ccnet.StIdling)

			cuts := make(chan ccnettest.Cut, 2)
			emu.PowerCutAt(c.at, func(cut ccnettest.Cut) { cuts <- cut })
			if err := emu.InsertBill(kiosk.Tenge(5000)); err != nil {
				t.Fatal(err)
			}
			// The controller of ccnet.md A.12, until the unit goes dark.
			stacked := false
			for deadline := time.Now().Add(10 * time.Second); len(cuts) == 0; {
				if time.Now().After(deadline) {
					t.Fatalf("the bill never reached %s", c.at)
				}
				ans, _ := w.sendRaw(ccnet.AppendFrame(nil, ccnet.AddrBillValidator, ccnet.CmdPoll), 150*time.Millisecond)
				if ans == nil {
					continue // dark
				}
				if ans[0] == ccnet.EvStacked {
					stacked = true
					if c.at == ccnettest.AtStackedUnacked {
						continue // the power goes before the ACK
					}
				}
				w.ack()
				if ans[0] == ccnet.EvEscrow && len(cuts) == 0 {
					if got := w.do(ccnet.CmdStack); !bytes.Equal(got, ack) {
						t.Fatalf("STACK answered % X", got)
					}
				}
				time.Sleep(20 * time.Millisecond)
			}
			cut := <-cuts
			if cut.Instant != c.at || cut.Value != kiosk.Tenge(5000) || cut.Place != c.place {
				t.Errorf("cut = %+v, want at %s, 5 000 ₸, %s", cut, c.at, c.place)
			}
			if stacked != (c.at == ccnettest.AtStackedUnacked) {
				t.Errorf("the controller heard STACKED: %v", stacked)
			}
			if got := w.pollThroughDark(); !bytes.Equal(got, []byte{c.powerUp}) {
				t.Fatalf("after the cut the unit answered % X, want %02X", got, c.powerUp)
			}
			w.expect(ack, ccnet.CmdReset)
			recovered := false
			for deadline := time.Now().Add(10 * time.Second); ; {
				ans := w.do(ccnet.CmdPoll)
				w.ack()
				if ans[0] == ccnet.EvStacked {
					if ans[1] != typ || recovered {
						t.Fatalf("STACKED % X after the power came back", ans)
					}
					recovered = true
				}
				if ans[0] == ccnet.StUnitDisabled {
					break
				}
				if time.Now().After(deadline) {
					t.Fatalf("still % X after RESET", ans)
				}
				time.Sleep(20 * time.Millisecond)
			}
			if recovered != c.recovery {
				t.Errorf("credit recovery STACKED: %v, want %v", recovered, c.recovery)
			}
			want := map[kiosk.Money]int{}
			if c.inCassete > 0 {
				want[kiosk.Tenge(5000)] = c.inCassete
			}
			if got := emu.Cassette(); !equalCounts(got, want) {
				t.Errorf("Cassette() = %v, want %v", got, want)
			}
			if got := emu.Stacked(); !equalCounts(got, want) {
				t.Errorf("Stacked() = %v, want %v", got, want)
			}
			// Nothing left armed: the next bill goes through undisturbed.
			if emu.Disarm() {
				t.Error("the cut was still armed after it fired")
			}
		})
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
	emu, w := start(t, ccnettest.EmuOptions{PowerOffTime: 100 * time.Millisecond})
	w.expect(ack, ccnet.CmdReset)
	w.pollUntil(ccnet.StUnitDisabled)
	w.expect(ack, ccnet.CmdEnableBillType, 0, 0, 0x7F, 0, 0, 0x7F)
	fired := false
	emu.PowerCutAt(ccnettest.AtStacking, func(ccnettest.Cut) { fired = true })
	emu.InsertBill(kiosk.Tenge(1000))
	w.pollUntil(ccnet.EvEscrow)
	if !emu.Disarm() {
		t.Fatal("Disarm found nothing armed")
	}
	cut := emu.PowerCut()
	if cut.Instant != 0 || cut.Value != kiosk.Tenge(1000) || cut.Place != kiosk.BillInValidator {
		t.Errorf("PowerCut() = %+v", cut)
	}
	if got := w.pollThroughDark(); !bytes.Equal(got, []byte{ccnet.StPowerUpBillHead}) {
		t.Fatalf("after the cut % X, want 11", got)
	}
	w.expect(ack, ccnet.CmdReset)
	w.pollUntil(ccnet.StUnitDisabled)
	if fired || len(emu.Cassette()) != 0 {
		t.Errorf("disarmed cut fired %v; cassette %v", fired, emu.Cassette())
	}
}

// The cassette count survives a restart of the emulator's process with a
// state file, and a new cassette starts it from zero.
func TestCassetteCountPersistsAndEmpties(t *testing.T) {
	state := t.TempDir() + "/acceptor.json"
	emu, w := start(t, ccnettest.EmuOptions{StateFile: state, PowerOffTime: 100 * time.Millisecond})
	w.expect(ack, ccnet.CmdReset)
	w.pollUntil(ccnet.StUnitDisabled)
	w.expect(ack, ccnet.CmdEnableBillType, 0, 0, 0x7F, 0, 0, 0)
	emu.PowerCutAt(ccnettest.AtStacking, nil)
	emu.InsertBill(kiosk.Tenge(200)) // no escrow: straight on its way to the cassette
	w.pollThroughDark()
	for w.pollThroughDark()[0] != ccnet.StPowerUpStacker {
	}
	emu.Close()
	w.p.Close()

	emu2, _ := start(t, ccnettest.EmuOptions{StateFile: state})
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

// A unit disabled while it scans a bill refuses the bill as inhibited: the
// disable also cleared the escrow bits, and a unit must not read that as
// "stack it without asking".
func TestDisabledWhileScanningRefusesTheBill(t *testing.T) {
	emu, w := start(t, ccnettest.EmuOptions{AcceptTime: 200 * time.Millisecond})
	w.expect(ack, ccnet.CmdReset)
	w.pollUntil(ccnet.StUnitDisabled)
	w.expect(ack, ccnet.CmdEnableBillType, 0, 0, 0x7F, 0, 0, 0x7F)
	if err := emu.InsertBill(kiosk.Tenge(1000)); err != nil {
		t.Fatal(err)
	}
	w.expect(ack, ccnet.CmdEnableBillType, 0, 0, 0, 0, 0, 0)
	if got := w.pollUntil(ccnet.StRejecting); got[1] != 0x68 {
		t.Fatalf("reject reason %02X, want 68 (inhibited)", got[1])
	}
	w.pollUntil(ccnet.StUnitDisabled)
	if got := emu.Cassette(); len(got) != 0 {
		t.Errorf("Cassette() = %v: the bill was stacked", got)
	}
}
