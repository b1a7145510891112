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

// wire is a controller speaking raw frames to the emulator's pty.
type wire struct {
	t   *testing.T
	f   serialport.Port
	dec *id003.Decoder
}

func open(t *testing.T, o id003test.EmuOptions) (*id003test.Emulator, *wire) {
	t.Helper()
	o.AcceptTime, o.StackTime, o.InitTime = 10*time.Millisecond, 20*time.Millisecond, 30*time.Millisecond
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

// ask sends a request and returns the next frame (or nil after a second of
// silence).
func (w *wire) ask(data ...byte) []byte {
	w.t.Helper()
	if _, err := w.f.Write(id003.AppendFrame(nil, data...)); err != nil {
		w.t.Fatal(err)
	}
	return w.read()
}

func (w *wire) read() []byte {
	w.t.Helper()
	deadline := time.Now().Add(time.Second)
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

func (w *wire) want(got []byte, want ...byte) {
	w.t.Helper()
	if !bytes.Equal(got, want) {
		w.t.Fatalf("answer % X, want % X", got, want)
	}
}

// untilStatus polls until the unit reports code.
func (w *wire) untilStatus(code byte) []byte {
	w.t.Helper()
	deadline := time.Now().Add(10 * time.Second)
	for time.Now().Before(deadline) {
		if a := w.ask(id003.CmdStatusRequest); len(a) > 0 && a[0] == code {
			return a
		}
		time.Sleep(10 * time.Millisecond)
	}
	w.t.Fatalf("status %02X never came", code)
	return nil
}

// A bill's way on the wire, as id003.md B.5 and B.7 tell it.
func TestWireProtocol(t *testing.T) {
	emu, w := open(t, id003test.EmuOptions{})
	w.want(w.ask(id003.CmdStatusRequest), id003.StPowerUp)
	w.want(w.ask(id003.SetInhibit, 1), id003.StInvalidCommand) // no settings before RESET
	w.want(w.ask(id003.CmdReset), id003.AnsACK)
	w.want(w.ask(id003.CmdStatusRequest), id003.StInitialize)
	w.want(w.ask(id003.SetEnable, 0, 0), id003.SetEnable, 0, 0) // echoed
	w.untilStatus(id003.StDisabled)
	if v := w.ask(id003.ReqVersion); v[0] != id003.ReqVersion || string(v[1:]) != id003test.DefaultVersion {
		t.Errorf("version % X", v)
	}
	tab := w.ask(id003.ReqCurrency)
	if got, err := id003.ParseCurrencyTable(tab[1:]); err != nil || len(got) != 8 {
		t.Errorf("currency table %v, %v", got, err)
	}
	w.want(w.ask(id003.SetInhibit, 0), id003.SetInhibit, 0)
	w.want(w.ask(id003.ReqEnable), id003.ReqEnable, 0, 0)
	w.want(w.ask(id003.CmdStatusRequest), id003.StIdling)

	if err := emu.InsertBill(kiosk.Tenge(1000)); err != nil {
		t.Fatal(err)
	}
	w.want(w.untilStatus(id003.StEscrow), id003.StEscrow, 0x63)
	w.want(w.ask(id003.CmdHold), id003.AnsACK)
	w.want(w.ask(id003.CmdStatusRequest), id003.StHolding)
	w.want(w.ask(id003.CmdStack1), id003.AnsACK)
	w.untilStatus(id003.StVendValid)
	time.Sleep(50 * time.Millisecond)
	w.want(w.ask(id003.CmdStatusRequest), id003.StVendValid) // until ACKed
	if _, err := w.f.Write(id003.AppendFrame(nil, id003.CmdACK)); err != nil {
		t.Fatal(err)
	}
	w.want(w.read()) // the ACK is not answered
	w.want(w.ask(id003.CmdStatusRequest), id003.StStacked)
	w.want(w.ask(id003.CmdStatusRequest), id003.StIdling)
	if st := emu.Stacked(); st[kiosk.Tenge(1000)] != 1 {
		t.Errorf("stacked %v", st)
	}
	if acks := emu.VendACKs(); len(acks) != 1 || acks[0] != 1 {
		t.Errorf("ACKs %v", acks)
	}
	w.want(w.ask(id003.CmdStack1), id003.StInvalidCommand) // nothing in escrow
}

// What a damaged frame gets, per model.
func TestDamagedFrameAnswers(t *testing.T) {
	for _, bad := range []byte{0, id003.StCommError, id003.StInvalidCommand} {
		_, w := open(t, id003test.EmuOptions{OnBadFrame: bad})
		f := id003.AppendFrame(nil, id003.CmdStatusRequest)
		f[len(f)-1] ^= 0xFF
		w.f.Write(f)
		got := w.read()
		switch {
		case bad == 0 && got != nil:
			t.Errorf("silent model answered % X", got)
		case bad != 0 && (len(got) != 1 || got[0] != bad):
			t.Errorf("model answering %02X answered % X", bad, got)
		}
	}
}

func TestEchoLine(t *testing.T) {
	_, w := open(t, id003test.EmuOptions{Echo: true})
	w.want(w.ask(id003.CmdStatusRequest), id003.CmdStatusRequest) // our own frame first
	w.want(w.read(), id003.StPowerUp)
}

// A power cut mid-stack: POWER UP WITH BILL IN STACKER, the bill in the box.
func TestPowerCutMidStack(t *testing.T) {
	emu, w := open(t, id003test.EmuOptions{VendAfterPowerUp: true, StackTime: time.Hour})
	w.ask(id003.CmdReset)
	w.untilStatus(id003.StDisabled)
	w.ask(id003.SetEnable, 0, 0)
	w.ask(id003.SetInhibit, 0)
	if err := emu.InsertBill(kiosk.Tenge(500)); err != nil {
		t.Fatal(err)
	}
	w.untilStatus(id003.StEscrow)
	w.ask(id003.CmdStack1)
	if at := emu.BillInFlight(); at != kiosk.BillInStacker {
		t.Fatalf("bill %s, want in the stacker's way", at)
	}
	if err := emu.PowerCycle(kiosk.BillInStacker); err != nil {
		t.Fatal(err)
	}
	w.untilStatus(id003.StPowerUpStacker)
	w.ask(id003.CmdReset)
	w.untilStatus(id003.StVendValid) // this model reports the recovered bill
	if st := emu.Stacked(); st[kiosk.Tenge(500)] != 1 {
		t.Errorf("stacked %v", st)
	}
}
