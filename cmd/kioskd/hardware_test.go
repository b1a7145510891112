package main

import (
	"errors"
	"log/slog"
	"os"
	"strings"
	"testing"

	"tolem/kiosk/config"
)

// The Pi example's wiring, carried from the config file into the driver's
// type, passes the driver's own checks: no field is lost on the way.
func TestPiWiringReachesThePanelDriver(t *testing.T) {
	data, err := os.ReadFile("../../configs/kiosk.pi.yaml")
	if err != nil {
		t.Fatal(err)
	}
	// The example names secret files that exist only on a kiosk.
	data = []byte(strings.NewReplacer(
		"secret_file: /etc/tolem/bank.secret", "secret: x",
		"technicians_file: /etc/tolem/technicians.yaml", `technicians: [{id: t01, pin_hash: "$2a$10$T4CbYz2bgRURpLtgTWfpVOVp4LrDzMcbie9WWVXOJMr0YsSCdOJ6S"}]`,
	).Replace(string(data)))
	cfg, err := config.Parse(data)
	if err != nil {
		t.Fatal(err)
	}
	pc := gpioConfig(cfg.Panel.GPIO)
	if err := pc.Validate(func(string) bool { return true }); err != nil {
		t.Fatalf("kiosk.pi.yaml's wiring fails the panel's check: %v", err)
	}
	if pc.Keypad.Rows[3] == "" || pc.Keypad.Cols[2] == "" || pc.Buttons.Lang == "" || pc.Door == "" || pc.LED == "" {
		t.Errorf("wiring lost on the way: %+v", pc)
	}
}

// Every protocol the config accepts is driven; one it does not know stops
// the start with the bad-config exit code, so systemd does not restart it in
// a loop.
func TestAcceptorProtocolsAreDriven(t *testing.T) {
	dir := shortDir(t)
	for _, p := range []string{config.ProtocolCCNET, config.ProtocolID003} {
		cfg := config.Default()
		cfg.DataDir, cfg.Acceptor.Protocol, cfg.Acceptor.Port = dir, p, dir+"/ttyNone"
		a, err := openAcceptor(cfg, slog.New(slog.DiscardHandler))
		if err != nil {
			t.Fatalf("%s: %v", p, err)
		}
		if got := a.Info().Protocol; got != p {
			t.Errorf("acceptor.protocol %s drives %q", p, got)
		}
		a.Close()
		for range a.Events() {
		}
	}
	cfg := config.Default()
	cfg.Acceptor.Protocol = "mdb"
	var ce configError
	if _, err := openAcceptor(cfg, slog.New(slog.DiscardHandler)); !errors.As(err, &ce) || !strings.Contains(err.Error(), "mdb") {
		t.Errorf("unknown protocol: %v, want a config error naming it", err)
	}
}
