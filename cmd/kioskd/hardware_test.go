package main

import (
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
	// The example names a secret file that exists only on a kiosk.
	data = []byte(strings.Replace(string(data), "secret_file: /etc/tolem/bank.secret", "secret: x", 1))
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
