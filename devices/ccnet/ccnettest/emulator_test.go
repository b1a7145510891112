package ccnettest_test

import (
	"bytes"
	"errors"
	"os"
	"path/filepath"
	"testing"
	"time"

	"tolem/devices/ccnet"
	"tolem/devices/ccnet/ccnettest"
	"tolem/devices/serialport"
	"tolem/kiosk"
)

// wire is a hand-driven controller: each test step is a frame and the exact
// answer a real unit gives.
type wire struct {
	t   *testing.T
	p   serialport.Port
	dec *ccnet.Decoder
}

func start(t *testing.T, opts ccnettest.EmuOptions) (*ccnettest.Emulator, *wire) {
	t.Helper()
	if opts.InitTime == 0 {
		opts.InitTime = 50 * time.Millisecond
	}
	for _, d := range []struct {
		p *time.Duration
		v time.Duration
	}{{&opts.AcceptTime, 20 * time.Millisecond}, {&opts.StackTime, 20 * time.Millisecond},
		{&opts.ReturnTime, 20 * time.Millisecond}, {&opts.RejectTime, 300 * time.Millisecond}} {
		if *d.p == 0 {
			*d.p = d.v
		}
	}
	emu, err := ccnettest.Start(opts)
	if err != nil {
		t.Skipf("cannot start the emulator (no pseudo-terminals?): %v", err)
	}
	t.Cleanup(func() { emu.Close() })
	p, err := serialport.Open(emu.Path(), 9600, 100*time.Millisecond)
	if err != nil {
		t.Fatal(err)
	}
	t.Cleanup(func() { p.Close() })
	return emu, &wire{t: t, p: p, dec: ccnet.NewDecoder(p, ccnet.AddrBillValidator)}
}

// sendRaw writes raw bytes and returns the answer's data, or nil when none
// comes within wait.
func (w *wire) sendRaw(frame []byte, wait time.Duration) ([]byte, error) {
	w.t.Helper()
	w.dec.Reset()
	if _, err := w.p.Write(frame); err != nil {
		w.t.Fatal(err)
	}
	deadline := time.Now().Add(wait)
	for {
		f, err := w.dec.Next()
		if err == nil {
			return f.Data, nil
		}
		if !errors.Is(err, os.ErrDeadlineExceeded) {
			return nil, err
		}
		if time.Now().After(deadline) {
			return nil, nil
		}
	}
}

func (w *wire) do(data ...byte) []byte {
	w.t.Helper()
	ans, err := w.sendRaw(ccnet.AppendFrame(nil, ccnet.AddrBillValidator, data...), 10*time.Second)
	if err != nil {
		w.t.Fatalf("command % X: %v", data, err)
	}
	return ans
}

// ack acknowledges a data answer, then keeps t-free.
func (w *wire) ack() {
	w.p.Write(ccnet.AppendFrame(nil, ccnet.AddrBillValidator, ccnet.CmdACK))
	time.Sleep(20 * time.Millisecond)
}

func (w *wire) expect(want []byte, data ...byte) {
	w.t.Helper()
	got := w.do(data...)
	if !bytes.Equal(got, want) {
		w.t.Fatalf("command % X answered % X, want % X", data, got, want)
	}
	if len(got) > 1 || (len(got) == 1 && got[0] != ccnet.AnsACK) {
		w.ack()
	}
}

// pollUntil polls until the answer starts with code.
func (w *wire) pollUntil(code byte) []byte {
	w.t.Helper()
	deadline := time.Now().Add(15 * time.Second)
	for time.Now().Before(deadline) {
		ans := w.do(ccnet.CmdPoll)
		w.ack()
		if len(ans) > 0 && ans[0] == code {
			return ans
		}
		time.Sleep(20 * time.Millisecond)
	}
	w.t.Fatalf("unit never answered %s", ccnet.StateName(code))
	return nil
}

var (
	ack     = []byte{ccnet.AnsACK}
	illegal = []byte{ccnet.AnsIllegal}
)

// The start-up and bill sequence of ccnet.md A.11/A.12, frame by frame.
func TestStartUpAndBillSequence(t *testing.T) {
	emu, w := start(t, ccnettest.EmuOptions{})
	w.expect([]byte{ccnet.StPowerUp}, ccnet.CmdPoll)
	w.expect(illegal, ccnet.CmdEnableBillType, 0, 0, 0x7F, 0, 0, 0x7F) // not before RESET
	w.expect(ack, ccnet.CmdReset)
	w.pollUntil(ccnet.StUnitDisabled)
	w.expect([]byte{0, 0, 0, 0, 0, 0}, ccnet.CmdGetStatus)
	w.expect(ack, ccnet.CmdSetSecurity, 0, 0, 0)
	id := w.do(ccnet.CmdIdentification)
	w.ack()
	if ident, err := ccnet.ParseIdentity(id); err != nil || len(id) != 34 || ident.PartNumber == "" {
		t.Fatalf("IDENTIFICATION answer % X: %v", id, err)
	}
	tbl := w.do(ccnet.CmdGetBillTable)
	w.ack()
	table, err := ccnet.ParseBillTable(tbl)
	if err != nil || len(tbl) != 120 {
		t.Fatalf("GET BILL TABLE answer of %d bytes: %v", len(tbl), err)
	}
	if v, _ := table[2].Minor(); v != 100000 || table[2].Country != "KZT" {
		t.Fatalf("type 2 = %v, want 1000 KZT", table[2])
	}
	w.expect(illegal, ccnet.CmdStack) // nothing in escrow

	w.expect(ack, ccnet.CmdEnableBillType, 0, 0, 0x7F, 0, 0, 0x7F)
	w.expect([]byte{0, 0, 0x7F, 0, 0, 0}, ccnet.CmdGetStatus)
	w.pollUntil(ccnet.StIdling)
	w.expect(illegal, ccnet.CmdIdentification) // not while taking cash

	if err := emu.InsertBill(kiosk.Tenge(1000)); err != nil {
		t.Fatal(err)
	}
	if err := emu.InsertBill(kiosk.Tenge(500)); !errors.Is(err, ccnettest.ErrBusy) {
		t.Fatalf("second bill: %v, want ErrBusy", err)
	}
	w.pollUntil(ccnet.EvEscrow)
	w.expect([]byte{ccnet.EvEscrow, 2}, ccnet.CmdPoll) // repeated while it waits
	w.expect(ack, ccnet.CmdHold)
	w.expect([]byte{ccnet.StHolding}, ccnet.CmdPoll)
	w.expect(ack, ccnet.CmdStack)
	if got := w.pollUntil(ccnet.EvStacked); got[1] != 2 {
		t.Fatalf("STACKED type %d, want 2", got[1])
	}
	w.pollUntil(ccnet.StIdling)
	if got := emu.Stacked(); got[kiosk.Tenge(1000)] != 1 || len(got) != 1 {
		t.Fatalf("Stacked() = %v", got)
	}

	// An inhibited denomination is refused with its reason.
	w.expect(ack, ccnet.CmdEnableBillType, 0, 0, 0x04, 0, 0, 0x04)
	emu.InsertBill(kiosk.Tenge(200))
	if got := w.pollUntil(ccnet.StRejecting); got[1] != 0x68 {
		t.Fatalf("reject reason %02X, want 68 (inhibited)", got[1])
	}
}

func TestNAKsDamagedCommandsAndIgnoresOtherAddresses(t *testing.T) {
	_, w := start(t, ccnettest.EmuOptions{})
	bad := ccnet.AppendFrame(nil, ccnet.AddrBillValidator, ccnet.CmdPoll)
	bad[4] ^= 0xFF
	if ans, err := w.sendRaw(bad, 10*time.Second); err != nil || !bytes.Equal(ans, []byte{ccnet.AnsNAK}) {
		t.Fatalf("damaged POLL answered % X, %v; want NAK", ans, err)
	}
	if ans, _ := w.sendRaw(ccnet.AppendFrame(nil, 0x01, ccnet.CmdPoll), 500*time.Millisecond); ans != nil {
		t.Fatalf("a Bill-to-Bill's POLL was answered % X", ans)
	}
	w.expect([]byte{ccnet.StPowerUp}, ccnet.CmdPoll)
	w.expect(illegal, 0x99)
}

func TestEscrowLimitReturnsUndecidedBill(t *testing.T) {
	emu, w := start(t, ccnettest.EmuOptions{EscrowLimit: 300 * time.Millisecond})
	w.expect(ack, ccnet.CmdReset)
	w.pollUntil(ccnet.StUnitDisabled)
	w.expect(ack, ccnet.CmdEnableBillType, 0, 0, 0x7F, 0, 0, 0x7F)
	emu.InsertBill(kiosk.Tenge(200))
	w.pollUntil(ccnet.EvEscrow)
	if got := w.pollUntil(ccnet.EvReturned); got[1] != 0 {
		t.Fatalf("RETURNED type %d, want 0", got[1])
	}
	if got := emu.Stacked(); len(got) != 0 {
		t.Fatalf("Stacked() = %v after a return", got)
	}
}

// ccnet.md A.4-6 leaves open whether an event is repeated until ACKed.
func TestUnACKedEventRepeat(t *testing.T) {
	for _, repeat := range []bool{false, true} {
		t.Run(map[bool]string{false: "reported once", true: "repeated"}[repeat], func(t *testing.T) {
			emu, w := start(t, ccnettest.EmuOptions{RepeatUnACKed: repeat})
			w.expect(ack, ccnet.CmdReset)
			w.pollUntil(ccnet.StUnitDisabled)
			w.expect(ack, ccnet.CmdEnableBillType, 0, 0, 0x7F, 0, 0, 0)
			emu.InsertBill(kiosk.Tenge(200)) // no escrow bit: straight to the cassette
			deadline := time.Now().Add(15 * time.Second)
			for {
				ans := w.do(ccnet.CmdPoll)
				if len(ans) > 0 && ans[0] == ccnet.EvStacked {
					break // not ACKed
				}
				w.ack()
				if time.Now().After(deadline) {
					t.Fatal("no STACKED")
				}
			}
			w.p.Write(ccnet.AppendFrame(nil, ccnet.AddrBillValidator, ccnet.CmdNAK))
			time.Sleep(20 * time.Millisecond)
			next := w.do(ccnet.CmdPoll)
			w.ack()
			if again := next[0] == ccnet.EvStacked; again != repeat {
				t.Fatalf("after NAK the unit answered % X", next)
			}
			if after := w.do(ccnet.CmdPoll); after[0] == ccnet.EvStacked {
				t.Fatalf("STACKED repeated after its ACK")
			}
		})
	}
}

func TestCorruptNextDamagesAnswers(t *testing.T) {
	emu, w := start(t, ccnettest.EmuOptions{})
	emu.CorruptNext(1)
	if _, err := w.sendRaw(ccnet.AppendFrame(nil, ccnet.AddrBillValidator, ccnet.CmdPoll), 10*time.Second); !errors.Is(err, ccnet.ErrCRC) {
		t.Fatalf("err = %v, want a damaged answer", err)
	}
	w.expect([]byte{ccnet.StPowerUp}, ccnet.CmdPoll)
}

func TestPowerCycleAndStateFile(t *testing.T) {
	state := filepath.Join(t.TempDir(), "acceptor.json")
	emu, w := start(t, ccnettest.EmuOptions{StateFile: state})
	w.expect(ack, ccnet.CmdReset)
	w.pollUntil(ccnet.StUnitDisabled)
	w.expect(ack, ccnet.CmdEnableBillType, 0, 0, 0x7F, 0, 0, 0x7F)
	emu.InsertBill(kiosk.Tenge(5000))
	w.pollUntil(ccnet.EvEscrow)
	if got := emu.BillInFlight(); got != kiosk.BillInValidator {
		t.Fatalf("BillInFlight = %v", got)
	}
	// Killed with the bill half-way into the cassette: the next start tells
	// it as a power-up with a bill in the stacker, then credits it.
	if err := emu.PowerCycle(kiosk.BillInStacker); err != nil {
		t.Fatal(err)
	}
	emu.Close()
	w.p.Close()

	emu2, w2 := start(t, ccnettest.EmuOptions{StateFile: state})
	w2.expect([]byte{ccnet.StPowerUpStacker}, ccnet.CmdPoll)
	w2.expect(ack, ccnet.CmdReset)
	if got := w2.pollUntil(ccnet.EvStacked); got[1] != 4 {
		t.Fatalf("credit recovery type %d, want 4 (5000)", got[1])
	}
	w2.pollUntil(ccnet.StUnitDisabled)
	if got := emu2.Stacked(); got[kiosk.Tenge(5000)] != 1 || len(got) != 1 {
		t.Fatalf("Stacked() = %v, want the one 5000 bill", got)
	}
	emu2.Close()
	// Counted once: a third start has no credit left to recover.
	emu3, w3 := start(t, ccnettest.EmuOptions{StateFile: state})
	w3.expect([]byte{ccnet.StPowerUp}, ccnet.CmdPoll)
	if got := emu3.Stacked(); got[kiosk.Tenge(5000)] != 1 {
		t.Fatalf("Stacked() = %v after a clean restart", got)
	}
}

func TestUnplugMovesLink(t *testing.T) {
	link := filepath.Join(t.TempDir(), "ttyCCNET")
	emu, _ := start(t, ccnettest.EmuOptions{LinkPath: link})
	if target, err := os.Readlink(link); err != nil || target != emu.Path() {
		t.Fatalf("link -> %q, %v; want %s", target, err, emu.Path())
	}
	emu.Unplug()
	if _, err := os.Lstat(link); !errors.Is(err, os.ErrNotExist) {
		t.Fatalf("link still there after Unplug: %v", err)
	}
	if err := emu.Replug(); err != nil {
		t.Fatal(err)
	}
	if target, err := os.Readlink(link); err != nil || target != emu.Path() {
		t.Fatalf("after Replug link -> %q, %v; want %s", target, err, emu.Path())
	}
	p, err := serialport.Open(link, 9600, 0)
	if err != nil {
		t.Fatal(err)
	}
	defer p.Close()
	w := &wire{t: t, p: p, dec: ccnet.NewDecoder(p, ccnet.AddrBillValidator)}
	w.expect([]byte{ccnet.StPowerUp}, ccnet.CmdPoll)
}
