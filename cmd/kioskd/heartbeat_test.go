package main

import (
	"context"
	"errors"
	"slices"
	"testing"

	"tolem/kiosk/config"
	"tolem/kiosk/flow"
	"tolem/kiosk/kiosktest"
	"tolem/sync/outbox"
)

// The bank's heartbeat carries what an operator must act on: a service door
// opened with nobody logged in, and a kiosk whose ledger is unusable.
func TestHeartbeatCarriesTheAlarms(t *testing.T) {
	acc := kiosktest.NewFakeAcceptor(nil)
	cfg := config.Default()
	cfg.Acceptor.CassetteCapacity = 1500
	w := &wiring{cfg: cfg, acceptor: acc, ledgerErr: errors.New("disk full")}
	w.flow = flow.New(flow.Config{}, flow.Deps{Acceptor: acc})
	w.doorAlarm.Store(true)

	var hb outbox.Heartbeat
	describeKiosk(context.Background(), w, &hb)
	for _, want := range []string{"door_open_unattended", "ledger_unusable"} {
		if !slices.Contains(hb.Alarms, want) {
			t.Errorf("heartbeat alarms %v lack %s", hb.Alarms, want)
		}
	}
	if hb.Cassette.Capacity != 1500 {
		t.Errorf("cassette capacity %d, want the configured 1500", hb.Cassette.Capacity)
	}

	w.doorAlarm.Store(false)
	hb = outbox.Heartbeat{}
	describeKiosk(context.Background(), w, &hb)
	if slices.Contains(hb.Alarms, "door_open_unattended") {
		t.Error("the door alarm stays in the heartbeat after it was cleared")
	}
}
