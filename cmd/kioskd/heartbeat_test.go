package main

import (
	"context"
	"errors"
	"log/slog"
	"slices"
	"testing"
	"time"

	"tolem/kiosk"
	"tolem/kiosk/config"
	"tolem/kiosk/flow"
	"tolem/kiosk/kiosktest"
	"tolem/kiosk/ledger/ledgertest"
	"tolem/sync/bankapi/banksim"
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

// The heartbeat names the catalog the kiosk shows, and the cassette's money
// by service.
func TestHeartbeatCarriesTheCatalogAndServices(t *testing.T) {
	acc := kiosktest.NewFakeAcceptor(nil)
	l := ledgertest.MustOpen(t)
	ctx := context.Background()
	if err := l.SaveCatalog(ctx, "2026-12-01.1", []byte(banksim.DefaultServices), time.Now()); err != nil {
		t.Fatal(err)
	}
	if err := l.OpenSession(ctx, kiosk.Session{ID: "s", Service: "alseco", Account: "123456789"}); err != nil {
		t.Fatal(err)
	}
	if err := l.RecordEscrow(ctx, kiosk.BillRecord{SessionID: "s", Seq: 1, Value: kiosk.Tenge(5000)}); err != nil {
		t.Fatal(err)
	}
	if err := l.MarkStacked(ctx, kiosk.BillID("s", 1), time.Now()); err != nil {
		t.Fatal(err)
	}
	w := &wiring{cfg: config.Default(), acceptor: acc, ledger: l}
	w.flow = flow.New(flow.Config{}, flow.Deps{Acceptor: acc})
	w.catalog = newCatalogHolder(ctx, l, nil, slog.New(slog.DiscardHandler))

	var hb outbox.Heartbeat
	describeKiosk(ctx, w, &hb)
	if hb.Catalog != "2026-12-01.1" {
		t.Errorf("heartbeat catalog %q, want the kept 2026-12-01.1", hb.Catalog)
	}
	if len(hb.Services) != 1 || hb.Services[0] != (kiosk.ServiceTotal{Service: "alseco", TopUps: 1, Amount: kiosk.Tenge(5000)}) {
		t.Errorf("heartbeat services %+v, want 5 000 ₸ of alseco", hb.Services)
	}
}
