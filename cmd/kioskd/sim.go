package main

import (
	"errors"
	"fmt"
	"os"
	"path/filepath"
	"time"

	"tolem/devices/ccnet/ccnettest"
	"tolem/devices/id003/id003test"
	"tolem/kiosk"
	"tolem/kiosk/config"
)

// simTerminal and simSecret are the sandbox bank's credentials for the
// simulated kiosk; they never leave loopback.
const (
	simTerminal = "KZ-SIM-0001"
	simSecret   = "sim-secret-not-for-production"
)

// simWallets are the wallets the sandbox bank knows in --sim: type one of
// these numbers to see a name on the confirm screen; any other valid number
// is "not found", and stopping the bank shows the offline path.
var simWallets = map[kiosk.Phone]string{
	"+77011234567": "Нурлан К.",
	"+77771234567": "Айгүл С.",
	"+77051234567": "John D.",
}

// simConfig builds the config of `kioskd --sim`: no file needed, everything
// under one data dir that survives restarts, so a receipt number keeps
// counting and a killed kiosk recovers like a real one.
//
// acceptor is --sim-acceptor: the config says what runs, so that `config`
// and `status` agree (ccnet on the emulator's pty link, or the in-process
// sim).
func simConfig(dir, acceptor string) (*config.Config, string, error) {
	if dir == "" {
		base, err := os.UserCacheDir()
		if err != nil {
			base = os.TempDir()
		}
		dir = filepath.Join(base, "tolem-sim")
	}
	dir, err := filepath.Abs(dir)
	if err != nil {
		return nil, "", err
	}
	if err := os.MkdirAll(dir, 0o750); err != nil {
		return nil, "", fmt.Errorf("sim data dir: %w", err)
	}
	cfg := config.Default()
	cfg.TerminalID = simTerminal
	cfg.DataDir = dir
	cfg.Bank.URL = "http://127.0.0.1:0" // replaced by the sandbox's address at start
	cfg.Bank.Secret = simSecret
	cfg.Acceptor.Protocol = config.ProtocolSim
	switch acceptor {
	case "inproc":
	case "id003":
		cfg.Acceptor.Protocol = config.ProtocolID003
		cfg.Acceptor.Port = simAcceptorLink(dir)
	default:
		cfg.Acceptor.Protocol = config.ProtocolCCNET
		cfg.Acceptor.Port = simAcceptorLink(dir)
	}
	cfg.Panel.Kind = "sim"
	cfg.Panel.Socket = filepath.Join(dir, "panel.sock")
	cfg.Control.Socket = filepath.Join(dir, "control.sock")
	return cfg, dir, nil
}

// How a simulated note behaves at the slot: a customer holds it there until
// the acceptor draws it in, which it does only once the flow has enabled it
// (a few polls after insert_cash shows) and its head is free.
const (
	slotWait = 5 * time.Second       // the most a note is held at the slot
	drawWait = 10 * time.Second      // the most a note takes to be decided
	slotPoll = 20 * time.Millisecond // how often the slot is tried again
)

// slotFeeder lets the sim panel's BILL and FAKE lines (and the terminal's
// note keys) reach the acceptor emulator as a hand at the slot would: a note
// offered while the validator is not yet taking bills, or still busy with
// the last one, waits up to slotWait instead of being refused at once. It
// returns once the kiosk has decided about the note (the acceptor stacks it,
// or gives it back), so a key pressed next, PAY, finds it counted.
type slotFeeder struct{ e slot }

// slot is what both acceptor emulators offer a hand at their slot.
type slot interface {
	InsertBill(kiosk.Money) error
	InsertFake() error
	BillInFlight() kiosk.BillPosition
}

// slotNotReady: the emulator is not taking notes yet, or its head is busy.
func slotNotReady(err error) bool {
	return errors.Is(err, ccnettest.ErrNotAccepting) || errors.Is(err, ccnettest.ErrBusy) ||
		errors.Is(err, id003test.ErrNotAccepting) || errors.Is(err, id003test.ErrBusy)
}

func (f slotFeeder) Insert(v kiosk.Money) error {
	return f.offer(func() error { return f.e.InsertBill(v) })
}

func (f slotFeeder) InsertFake() error { return f.offer(f.e.InsertFake) }

func (f slotFeeder) offer(insert func() error) error {
	deadline := time.Now().Add(slotWait)
	for {
		err := insert()
		if err == nil {
			break
		}
		if !slotNotReady(err) {
			return err
		}
		if time.Now().After(deadline) {
			return fmt.Errorf("the slot did not take the note within %v: %w (notes go in on the insert_cash screen)", slotWait, err)
		}
		time.Sleep(slotPoll)
	}
	until := time.Now().Add(drawWait)
	for f.e.BillInFlight() == kiosk.BillInValidator && time.Now().Before(until) {
		time.Sleep(slotPoll)
	}
	return nil
}

// simNotes are the terminal panel's lines on where the simulated kiosk
// keeps its things: the log lines that said so at start are under the frame.
func simNotes(cfg *config.Config) []string {
	return []string{
		"data     " + cfg.DataDir + "  (ledger.db, kioskd.log)",
		"sockets  " + cfg.Panel.Socket + ", " + cfg.Control.Socket,
		"try      kioskctl --socket " + cfg.Control.Socket + " status",
	}
}

// simAcceptorLink is where --sim links the acceptor emulator's pty, the port
// the driver opens.
func simAcceptorLink(dir string) string { return filepath.Join(dir, "acceptor.tty") }
