package main

import (
	"context"
	"encoding/json"
	"os"
	"path/filepath"
	"strconv"
	"strings"
	"testing"

	"tolem/kiosk"
)

// A disk that fills up mid-session: the bill that cannot be recorded is not
// stacked, the kiosk goes out of service with the acceptor off and says why,
// and the money already stacked is completed as a top-up at the next start.
func TestSimFullDiskGoesOutOfServiceAndLosesNothing(t *testing.T) {
	dir := shortDir(t)
	// A fresh ledger, then capped at its own size: the first write that needs
	// a new page fails as on a full disk.
	l := openLedger(t, dir)
	l.Close()
	fi, err := os.Stat(filepath.Join(dir, "ledger.db"))
	if err != nil {
		t.Fatal(err)
	}
	k := startSim(t, dir, "--ledger-max-bytes", strconv.FormatInt(fi.Size(), 10))
	k.toInsertCash()

	stacked := 0
	for range 400 {
		s := k.insertBill(200, "the bill settled", func(s screenMsg) bool {
			return s.State == "out_of_service" || screenHas(s, kiosk.Tenge(int64(200*(stacked+1))).String())
		})
		if s.State == "out_of_service" {
			break
		}
		stacked++
	}
	if k.last.State != "out_of_service" {
		t.Fatalf("400 bills recorded under a full-disk cap; the cap does not bite")
	}
	if stacked == 0 {
		t.Log("the very first write failed")
	}
	// No cash while out of service: the acceptor refuses the next bill.
	k.send("BILL 200")
	logs := k.logs.String()
	if !strings.Contains(logs, "ledger write failed") {
		t.Errorf("the log does not say the ledger write failed:\n%s", logs)
	}
	k.kill()
	acc, err := os.ReadFile(filepath.Join(dir, "acceptor.json"))
	if err != nil {
		t.Fatal(err)
	}
	// The acceptor's own journal: the bill that could not be recorded was
	// never stacked, and nothing went in after the failure.
	var st struct{ Stacked map[string]int }
	if err := json.Unmarshal(acc, &st); err != nil {
		t.Fatalf("acceptor state %s: %v", acc, err)
	}
	if got := st.Stacked["20000"]; got != stacked {
		t.Errorf("the acceptor stacked %d bills, the ledger recorded %d", got, stacked)
	}

	// Space again: the interrupted session's money becomes one top-up.
	k2 := startSim(t, dir)
	k2.waitState("idle")
	k2.stop()
	l2 := openLedger(t, dir)
	tu, _, err := l2.TopUpByReceipt(context.Background(), 1)
	if stacked == 0 {
		if err == nil {
			t.Errorf("a top-up appeared although no bill was stacked: %+v", tu)
		}
		return
	}
	if err != nil {
		t.Fatalf("the stacked bills were not completed as a top-up: %v", err)
	}
	if tu.Amount != kiosk.Tenge(int64(200*stacked)) {
		t.Errorf("top-up amount %s, want %s for %d stacked bills", tu.Amount, kiosk.Tenge(int64(200*stacked)), stacked)
	}
}

// A ledger that cannot even be opened (here: no room for its tables) keeps
// the kiosk out of service from the start, with the reason in the log.
func TestSimUnusableLedgerStartsOutOfService(t *testing.T) {
	dir := shortDir(t)
	k := startSim(t, dir, "--ledger-max-bytes", "4096")
	k.waitState("out_of_service")
	k.send("BILL 1000", "KEY OK", "KEY LANG")
	// LANG redraws the screen: by then the bill and OK were handled, and
	// neither may have moved the kiosk out of service.
	s := k.waitScreen("the next language", func(s screenMsg) bool { return true })
	if s.State != "out_of_service" {
		t.Errorf("state %s after a bill and OK on a kiosk without a ledger", s.State)
	}
	if !strings.Contains(k.logs.String(), "ledger unusable") {
		t.Errorf("the log does not say why:\n%s", k.logs.String())
	}
	k.stop()
}
