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

// A protocol the config accepts but this build cannot drive stops the start
// with the bad-config exit code, so systemd does not restart it in a loop.
func TestUndrivenAcceptorIsABadConfig(t *testing.T) {
	dir := shortDir(t)
	cfgPath := dir + "/kiosk.yaml"
	os.WriteFile(cfgPath, []byte("terminal_id: KZ-T-1\ndata_dir: "+dir+"\nbank: {url: 'http://127.0.0.1:9', secret: s}\nacceptor: {protocol: id003, port: /dev/null}\npanel: {kind: none}\ncontrol: {socket: "+dir+"/c.sock}\n"), 0o600)
	var out strings.Builder
	code := run([]string{"--config", cfgPath}, nil, &out, &out)
	if code != exitBadConfig || !strings.Contains(out.String(), "acceptor.protocol") {
		t.Errorf("exit %d, output %q; want %d naming acceptor.protocol", code, out.String(), exitBadConfig)
	}
}
