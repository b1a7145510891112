package config

import (
	"path/filepath"
	"strings"
	"testing"
)

// CheckMachine finds a data dir and serial port that are not there and a
// socket directory that is not writable, and says what to do about each.
func TestCheckMachine(t *testing.T) {
	dir := t.TempDir()
	c := Default()
	c.DataDir = filepath.Join(dir, "data")
	c.Acceptor.Protocol, c.Acceptor.Port = ProtocolCCNET, filepath.Join(dir, "ttyUSB0")
	c.Bank.URL = "https://bank.example.kz"
	c.Panel.Kind, c.Panel.Socket = PanelSim, filepath.Join(dir, "panel.sock")
	c.Control.Socket = filepath.Join(dir, "kiosk.yaml", "control.sock")
	c.Console = &Console{Port: dir}
	writeFile(t, dir, "kiosk.yaml", "")
	got := map[string]string{}
	for _, f := range c.CheckMachine() {
		key, _, _ := strings.Cut(f.Text, ":")
		got[key] = f.Outcome + " " + f.Text
	}
	for key, want := range map[string]string{
		"data_dir":       "problem data_dir: " + c.DataDir + " does not exist: create it",
		"acceptor.port":  "problem acceptor.port: " + c.Acceptor.Port + " does not exist: is the bill acceptor plugged in?",
		"console.port":   "problem console.port: " + dir + " is not a serial device (not a character device)",
		"panel.socket":   "ok panel.socket: " + dir + " is a directory ",
		"control.socket": "problem control.socket: " + filepath.Join(dir, "kiosk.yaml") + " is not a directory: put the socket in a directory",
		"the bank":       "skipped the bank: whether https://",
		"the acceptor":   "skipped the acceptor: whether it answers on its port",
	} {
		if !strings.HasPrefix(got[key], want) {
			t.Errorf("%s: %q, want it to start with %q", key, got[key], want)
		}
	}
}
