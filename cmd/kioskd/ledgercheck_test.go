package main

import (
	"bytes"
	"context"
	"log/slog"
	"os"
	"path/filepath"
	"slices"
	"strings"
	"testing"
	"time"

	"tolem/kiosk/config"
	"tolem/kiosk/flow"
	"tolem/kiosk/kiosktest"
	"tolem/kiosk/ledger"
	"tolem/kiosk/ledger/ledgertest"
	"tolem/sync/outbox"
)

// A big ledger's background check that finds damage takes the kiosk out of
// service and says so in the log and the metrics; a passed one changes
// nothing.
func TestDamagedLedgerTakesTheKioskOutOfService(t *testing.T) {
	ctx := context.Background()
	path := filepath.Join(t.TempDir(), "ledger.db")
	l := ledgertest.MustOpenPath(t, path, ledger.Options{})
	if err := fillTopUps(l, 50, time.Now().Add(-time.Hour)); err != nil {
		t.Fatal(err)
	}
	if err := l.Close(); err != nil {
		t.Fatal(err)
	}
	open := func() *ledger.Ledger {
		l := ledgertest.MustOpenPath(t, path, ledger.Options{CheckBelow: 1})
		if l.Checked() {
			t.Fatal("a ledger above CheckBelow was checked at open")
		}
		return l
	}
	run := func(l *ledger.Ledger) (conds map[string]bool, logs string) {
		var buf bytes.Buffer
		conds = map[string]bool{}
		checkLedger(ctx, l.QuickCheck, func(name string, on bool) { conds[name] = on }, slog.New(slog.NewTextHandler(&buf, nil)))
		return conds, buf.String()
	}

	l = open()
	conds, logs := run(l)
	if len(conds) != 0 || !strings.Contains(logs, "quick_check ok") {
		t.Fatalf("a healthy ledger: conditions %v, log %q", conds, logs)
	}
	if err := l.Close(); err != nil {
		t.Fatal(err)
	}

	// Rows out of order in the file's last page of rows, which only
	// quick_check sees.
	db, err := os.ReadFile(path)
	if err != nil {
		t.Fatal(err)
	}
	for p := len(db) - 4096; p > 4096; p -= 4096 {
		if db[p] == 0x0d && (db[p+3] > 0 || db[p+4] >= 2) {
			db[p+8], db[p+9], db[p+10], db[p+11] = db[p+10], db[p+11], db[p+8], db[p+9]
			break
		}
	}
	if err := os.WriteFile(path, db, 0o600); err != nil {
		t.Fatal(err)
	}
	l = open()
	w := &wiring{ledger: l, flow: flow.New(flow.Config{}, flow.Deps{})}
	if !(metricsSource{w}).LedgerOK(ctx) {
		t.Fatal("tolem_ledger_ok is 0 before any check")
	}
	conds, logs = run(l)
	if !conds[conditionLedgerDamaged] {
		t.Errorf("conditions %v after a failed check, want %s raised", conds, conditionLedgerDamaged)
	}
	if !strings.Contains(logs, "level=ERROR") || !strings.Contains(logs, "ledger damaged") {
		t.Errorf("log %q, want an ERROR saying the ledger is damaged", logs)
	}
	if (metricsSource{w}).LedgerOK(ctx) {
		t.Error("tolem_ledger_ok is 1 on a ledger the check found damaged")
	}
	w.acceptor = kiosktest.NewFakeAcceptor(kiosktest.NewFakeClock(time.Now()))
	w.cfg = &config.Config{DataDir: filepath.Dir(path)}
	var hb outbox.Heartbeat
	describeKiosk(ctx, w, &hb)
	if !slices.Contains(hb.Alarms, conditionLedgerDamaged) {
		t.Errorf("heartbeat alarms %v, want %s for the bank's operators", hb.Alarms, conditionLedgerDamaged)
	}
}
