package main

import (
	"fmt"
	"os"
	"path/filepath"

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
func simConfig(dir string) (*config.Config, string, error) {
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
	cfg.Acceptor.Protocol = "sim"
	cfg.Panel.Kind = "sim"
	cfg.Panel.Socket = filepath.Join(dir, "panel.sock")
	cfg.Control.Socket = filepath.Join(dir, "control.sock")
	return cfg, dir, nil
}
