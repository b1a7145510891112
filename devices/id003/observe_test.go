package id003

import (
	"errors"
	"fmt"
	"io"
	"log/slog"
	"strings"
	"testing"

	"tolem/devices/acceptor"
	"tolem/kiosk"
)

// nullPort takes the driver's ACKs and answers nothing.
type nullPort struct{ writes [][]byte }

func (p *nullPort) Read([]byte) (int, error) { return 0, io.EOF }
func (p *nullPort) Write(b []byte) (int, error) {
	p.writes = append(p.writes, append([]byte(nil), b...))
	return len(b), nil
}
func (p *nullPort) Close() error { return nil }
func (p *nullPort) Flush() error { return nil }

// observer is a driver with the default tenge table, every bill enabled,
// fed statuses by hand.
func observer(t *testing.T) (*Dev, *link, *nullPort) {
	d := &Dev{opts: Opts{HoldInterval: DefaultHold}, log: slog.New(slog.DiscardHandler), clock: kiosk.SystemClock{},
		delivery: &acceptor.Delivery{}, done: make(chan struct{})}
	d.faults = acceptor.NewFaults(&d.mu, "bill acceptor", d.log, d.emit)
	var table []Denom
	for i, v := range []byte{200, 50, 100, 20, 50, 100, 200} {
		table = append(table, Denom{Code: DenomFirst + byte(i), Country: 0x4B, Base: v, Exp: []byte{0, 1, 1, 2, 2, 2, 2}[i]})
	}
	d.learn(Version{Model: "test"}, table)
	d.want = 0x7F
	p := &nullPort{}
	return d, newLink(p, "/dev/null", 9600, d.done), p
}

func (d *Dev) drained() []string {
	var out []string
	for _, e := range d.delivery.Take() {
		s := e.Kind.String()
		switch e.Kind {
		case kiosk.EventEscrow, kiosk.EventStacking, kiosk.EventStacked, kiosk.EventReturned:
			s += "(" + e.Value.String() + ")"
		case kiosk.EventRejected:
			s += "(" + e.Reason + ")"
		case kiosk.EventFault:
			s += "(" + string(e.Fault) + ")"
		}
		out = append(out, s)
	}
	return out
}

// Every status the unit reports, in the sequences a bill goes through, and
// what the flow hears: each bill's events once, however often a status
// repeats, and a bill's end concluded when the unit moved on without saying.
func TestEveryStatusAsTheFlowSeesIt(t *testing.T) {
	const (
		idle, accepting, escrow, stacking, vend, stacked = StIdling, StAccepting, StEscrow, StStacking, StVendValid, StStacked
		rejecting, returning, holding, disabled          = StRejecting, StReturning, StHolding, StDisabled
	)
	s := func(b ...byte) []byte { return b }
	tests := []struct {
		name     string
		statuses [][]byte
		want     string
		acks     int
	}{
		{"idling", [][]byte{s(idle), s(idle)}, "", 0},
		{"accepting", [][]byte{s(accepting), s(accepting)}, "", 0},
		{"disabled", [][]byte{s(disabled)}, "", 0},
		{"escrow repeated is one bill", [][]byte{s(escrow, 0x63), s(escrow, 0x63), s(holding), s(escrow, 0x63)}, "escrow(1 000 ₸)", 0},
		{"stacked: VEND VALID counts, ACKed each time", [][]byte{s(escrow, 0x63), s(holding), s(stacking), s(vend), s(vend), s(stacked), s(stacked), s(idle)},
			"escrow(1 000 ₸) stacking(1 000 ₸) stacked(1 000 ₸)", 2},
		{"STACKED without VEND VALID", [][]byte{s(escrow, 0x64), s(stacking), s(stacked), s(idle)},
			"escrow(2 000 ₸) stacking(2 000 ₸) stacked(2 000 ₸)", 0},
		{"stacking then idle", [][]byte{s(escrow, 0x65), s(stacking), s(idle)},
			"escrow(5 000 ₸) stacking(5 000 ₸) stacked(5 000 ₸)", 0},
		{"returned", [][]byte{s(escrow, 0x61), s(returning), s(returning), s(idle)}, "escrow(200 ₸) returned(200 ₸)", 0},
		{"escrow timed out: rejected 0x79 on its way back", [][]byte{s(escrow, 0x61), s(rejecting, 0x79), s(rejecting, 0x79), s(idle)},
			"escrow(200 ₸) returned(200 ₸)", 0},
		{"escrow then disabled", [][]byte{s(escrow, 0x62), s(disabled)}, "escrow(500 ₸) returned(500 ₸)", 0},
		{"rejected before escrow", [][]byte{s(accepting), s(rejecting, 0x72), s(rejecting, 0x72), s(idle)}, "rejected(magnetic pattern)", 0},
		{"two rejections", [][]byte{s(rejecting, 0x72), s(idle), s(rejecting, 0x7D)}, "rejected(magnetic pattern) rejected(length)", 0},
		{"barcode ticket", [][]byte{s(escrow, 0x6F, '1', '2')}, "rejected(unknown denomination code 0x6F)", 0},
		{"stacker full", [][]byte{s(StStackerFull), s(StStackerFull), s(idle)}, "fault(cassette_full) fault_cleared", 0},
		{"the bill that filled the stacker", [][]byte{s(escrow, 0x67), s(stacking), s(StStackerFull)},
			"escrow(20 000 ₸) stacking(20 000 ₸) stacked(20 000 ₸) fault(cassette_full)", 0},
		{"stacker open with a bill in escrow", [][]byte{s(escrow, 0x66), s(StStackerOpen)},
			"escrow(10 000 ₸) returned(10 000 ₸) fault(cassette_removed)", 0},
		{"jam in acceptor", [][]byte{s(StJamInAcceptor), s(StJamInAcceptor)}, "fault(jammed)", 0},
		{"jam in stacker", [][]byte{s(StJamInStacker)}, "fault(cassette_jammed)", 0},
		{"pause", [][]byte{s(escrow, 0x63), s(StPause), s(escrow, 0x63)}, "escrow(1 000 ₸) fault(pause) fault_cleared", 0},
		{"cheated", [][]byte{s(StCheated)}, "fault(cheated)", 0},
		{"failures by code", [][]byte{s(StFailure, 0xA2), s(StFailure, 0xA2), s(StFailure, 0xA5)}, "fault(failure) fault(failure)", 0},
		{"VEND VALID with no bill", [][]byte{s(vend)}, "stacked(0 ₸)", 1},
		{"communication error and invalid command", [][]byte{s(StCommError), s(StInvalidCommand)}, "", 0},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			d, l, p := observer(t)
			for _, st := range tt.statuses {
				if err := d.observe(l, Frame{Data: st}); err != nil {
					t.Fatalf("status % X: %v", st, err)
				}
			}
			if got := strings.Join(d.drained(), " "); got != tt.want {
				t.Errorf("events %q\n want %q", got, tt.want)
			}
			if len(p.writes) != tt.acks {
				t.Errorf("%d ACKs sent, want %d", len(p.writes), tt.acks)
			}
		})
	}
}

// A power-up or initialising status mid-run: the unit restarted, and the
// driver initialises it again.
func TestRestartStatuses(t *testing.T) {
	for _, c := range []byte{StPowerUp, StPowerUpAcceptor, StPowerUpStacker, StInitialize} {
		d, l, _ := observer(t)
		var r rebooted
		if err := d.observe(l, Frame{Data: []byte{c}}); !errors.As(err, &r) || r.ans.Code() != c {
			t.Errorf("status %02X: %v, want a restart", c, err)
		}
	}
}

func TestFailureDetails(t *testing.T) {
	for code, want := range map[byte]string{0xA2: "stack motor failure (0xA2)", 0xAF: "validator head removed (0xAF)", 0xC9: "failure code 0xC9"} {
		if _, got := faultOf(StFailure, code); got != want {
			t.Errorf("%02X: %q, want %q", code, got, want)
		}
	}
	if got := fmt.Sprint(RejectReason(0x79), "/", RejectReason(0x90)); got != "inhibited denomination or direction/unknown reason 0x90" {
		t.Errorf("reject reasons %q", got)
	}
}
