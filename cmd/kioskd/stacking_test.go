package main

import (
	"context"
	"database/sql"
	"encoding/json"
	"os"
	"path/filepath"
	"testing"
	"time"

	_ "modernc.org/sqlite"

	"tolem/kiosk"
)

// emulatorState reads what the emulated acceptor has persisted: the bills in
// its cassette and the step of the bill in its head.
func emulatorState(t *testing.T, dir string) (stacked map[string]int, step string) {
	t.Helper()
	data, err := os.ReadFile(filepath.Join(dir, "acceptor.json"))
	if os.IsNotExist(err) {
		return nil, ""
	}
	if err != nil {
		t.Fatal(err)
	}
	var st struct {
		Stacked map[string]int `json:"stacked"`
		Step    string         `json:"bill_step"`
	}
	if err := json.Unmarshal(data, &st); err != nil {
		return nil, "" // caught mid-write; the caller polls again
	}
	return st.Stacked, st.Step
}

// killWhen starts a customer's session, offers a 10 000 ₸ bill until the
// acceptor takes it, and SIGKILLs kioskd the moment cond holds.
func killWhen(t *testing.T, dir string, cond func(db *sql.DB) bool) {
	t.Helper()
	cutWhen(t, dir, cond, (*simKiosk).kill)
}

// cutWhen is killWhen with the way kioskd ends: kill (SIGKILL) or stop
// (SIGTERM).
func cutWhen(t *testing.T, dir string, cond func(db *sql.DB) bool, end func(*simKiosk)) {
	t.Helper()
	k := startSim(t, dir)
	k.toInsertCash()
	db, err := sql.Open("sqlite", "file:"+filepath.Join(dir, "ledger.db")+"?mode=ro&_pragma=busy_timeout(5000)")
	if err != nil {
		t.Fatal(err)
	}
	defer db.Close()
	deadline := time.Now().Add(45 * time.Second)
	offered := time.Time{}
	for !cond(db) {
		if time.Now().After(deadline) {
			t.Fatal("the moment to cut the power never came")
		}
		if time.Since(offered) > 300*time.Millisecond {
			k.send("BILL 10000") // an ERR answer (not yet enabled, head busy) is fine
			offered = time.Now()
		}
		time.Sleep(2 * time.Millisecond)
	}
	end(k)
}

func escrowedBills(t *testing.T, db *sql.DB) int {
	var n int
	if err := db.QueryRow(`SELECT count(*) FROM bills WHERE state = 'escrowed'`).Scan(&n); err != nil {
		t.Fatalf("read the ledger: %v", err)
	}
	return n
}

// restartAndCount restarts the kiosk, lets it recover, and returns the money
// the ledger credits next to the money the acceptor holds in its cassette.
func restartAndCount(t *testing.T, dir string) (credited, inCassette kiosk.Money, topups int) {
	t.Helper()
	k := startSim(t, dir)
	k.waitState("idle")
	k.stop()
	l := openLedger(t, dir)
	for n := int64(1); ; n++ {
		tu, _, err := l.TopUpByReceipt(context.Background(), n)
		if err != nil {
			break
		}
		credited += tu.Amount
		topups++
	}
	stacked, _ := emulatorState(t, dir)
	for v, c := range stacked {
		var m int64
		json.Unmarshal([]byte(v), &m)
		inCassette += kiosk.Money(m) * kiosk.Money(c)
	}
	return credited, inCassette, topups
}

// Power cut the instant the bill's escrow record is committed, before or
// just after STACK left: whatever the device then did, the money in the
// cassette and the money credited agree, once.
func TestSimKilledAtEscrowRecordKeepsCassetteAndLedgerEqual(t *testing.T) {
	dir := shortDir(t)
	killWhen(t, dir, func(db *sql.DB) bool { return escrowedBills(t, db) > 0 })
	credited, inCassette, topups := restartAndCount(t, dir)
	if credited != inCassette || topups > 1 {
		t.Errorf("credited %s in %d top-ups, the cassette holds %s", credited, topups, inCassette)
	}
}

// Power cut while the bill is on its way into the cassette: the acceptor
// reports it in the stacker at power-up and the customer is credited.
func TestSimKilledWhileStackingCreditsTheBill(t *testing.T) {
	dir := shortDir(t)
	killWhen(t, dir, func(*sql.DB) bool {
		_, step := emulatorState(t, dir)
		return step == "stacking"
	})
	credited, inCassette, topups := restartAndCount(t, dir)
	if credited != kiosk.Tenge(10000) || inCassette != credited || topups != 1 {
		t.Errorf("credited %s in %d top-ups, the cassette holds %s; want 10 000 ₸ once", credited, topups, inCassette)
	}
}

// A stop (SIGTERM, a restart) while a bill is stacking waits for it, as PAY
// does: the ledger records the bill stacked before kioskd exits, and the
// next start credits it once.
func TestSimStoppedWhileStackingRecordsTheBill(t *testing.T) {
	dir := shortDir(t)
	cutWhen(t, dir, func(*sql.DB) bool {
		_, step := emulatorState(t, dir)
		return step == "stacking"
	}, (*simKiosk).stop)
	db, err := sql.Open("sqlite", "file:"+filepath.Join(dir, "ledger.db")+"?mode=ro")
	if err != nil {
		t.Fatal(err)
	}
	var stacked, escrowed int
	err = db.QueryRow(`SELECT IFNULL(SUM(state = 'stacked'), 0), IFNULL(SUM(state = 'escrowed'), 0) FROM bills`).Scan(&stacked, &escrowed)
	db.Close()
	if err != nil {
		t.Fatal(err)
	}
	if stacked != 1 || escrowed != 0 {
		t.Fatalf("after the stop the ledger has %d stacked and %d escrowed bills; want the stacking bill recorded stacked", stacked, escrowed)
	}
	credited, inCassette, topups := restartAndCount(t, dir)
	if credited != kiosk.Tenge(10000) || inCassette != credited || topups != 1 {
		t.Errorf("credited %s in %d top-ups, the cassette holds %s; want 10 000 ₸ once", credited, topups, inCassette)
	}
}
