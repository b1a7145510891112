package config

import (
	"os"
	"testing"
)

// The Raspberry Pi example is a real config: it must parse as it ships.
func TestPiExampleParses(t *testing.T) {
	data, err := os.ReadFile("../../configs/kiosk.pi.yaml")
	if err != nil {
		t.Fatal(err)
	}
	// Its secret files do not exist here; everything else must pass.
	c, err := Parse(data)
	if err != nil {
		for _, p := range problemsOf(err) {
			if p.Key != "bank.secret_file" && p.Key != "console.technicians_file" {
				t.Errorf("kiosk.pi.yaml: %v", p)
			}
		}
		return
	}
	if c.Panel.Kind != PanelGPIO || c.Panel.GPIO == nil || len(c.Panel.GPIO.Keypad.Rows) != 4 {
		t.Errorf("panel = %+v", c.Panel)
	}
}

func TestGPIOPanelRequiresItsPins(t *testing.T) {
	_, err := Parse([]byte("terminal_id: K\ndata_dir: /d\nbank: {url: 'http://127.0.0.1:1', secret: s}\nacceptor: {protocol: sim}\npanel: {kind: gpio}\n"))
	if err == nil {
		t.Fatal("panel.kind gpio without pins was accepted")
	}
	found := false
	for _, p := range problemsOf(err) {
		found = found || p.Key == "panel.gpio"
	}
	if !found {
		t.Errorf("the error does not name panel.gpio: %v", err)
	}
}
