package main

import (
	"encoding/json"
	"fmt"
	"net/http"
	"strings"
	"testing"
	"time"

	"tolem/kiosk"
	"tolem/sync/bankapi/banksim"
)

// The services of the sandbox's catalog through the real daemon and its
// panel socket, as a customer would use them.

// menu opens the menu from idle once it lists want (the catalog comes from
// the bank, or the ledger, shortly after start).
func (k *simKiosk) menu(want string) screenMsg {
	k.t.Helper()
	deadline := time.Now().Add(30 * time.Second)
	for {
		k.waitState("idle")
		k.send("KEY 0")
		s := k.waitState("select_service")
		if screenHas(s, want) {
			return s
		}
		if time.Now().After(deadline) {
			k.t.Fatalf("the menu never listed %q: %q", want, s.Lines)
		}
		k.send("KEY CANCEL")
		time.Sleep(200 * time.Millisecond)
	}
}

// toUtilityCash pays the sandbox's utility from idle up to insert_cash,
// checking the debt on the way.
func (k *simKiosk) toUtilityCash() {
	k.t.Helper()
	k.menu("3 Алсеко")
	k.send("KEY 3")
	k.waitState("enter_account")
	k.keys("123456789")
	k.waitScreen("the typed account", func(s screenMsg) bool { return screenHas(s, "123456789") })
	k.send("KEY OK")
	c := k.waitState("confirm")
	if !screenHas(c, "Алсеко") || !screenHas(c, "Н***н К.") || !screenHas(c, "Долг: 12 345 ₸") || !screenHas(c, "OK") {
		k.t.Errorf("confirm of the utility shows %q, want the service, the holder, the debt and the OK hint", c.Lines)
	}
	k.send("KEY OK")
	k.waitState("insert_cash")
}

func simBankTopUps(t *testing.T, url string) []banksim.TopUpRecord {
	t.Helper()
	c := http.Client{Timeout: 5 * time.Second}
	resp, err := c.Get(url + "/_admin/topups")
	if err != nil {
		t.Fatal(err)
	}
	defer resp.Body.Close()
	var out []banksim.TopUpRecord
	if err := json.NewDecoder(resp.Body).Decode(&out); err != nil {
		t.Fatal(err)
	}
	return out
}

// waitSync waits until the ledger's top-up of receipt n is in a state ok
// accepts.
func waitSync(t *testing.T, dir string, n int64, ok func(kiosk.SyncState) bool) {
	t.Helper()
	deadline := time.Now().Add(outboxWait)
	for {
		for _, r := range readTopUpsRO(t, dir) {
			if r.receipt == n && ok(r.sync) {
				return
			}
		}
		if time.Now().After(deadline) {
			t.Fatalf("receipt %d never reached the wanted sync state: %+v", n, readTopUpsRO(t, dir))
		}
		time.Sleep(100 * time.Millisecond)
	}
}

// status asks the kiosk for the status of receipt n through the menu.
func (k *simKiosk) status(n int64) screenMsg {
	k.t.Helper()
	k.menu("Beeline")
	k.send("KEY OK") // page 2: the loan, then the payment status
	k.waitScreen("page 2", func(s screenMsg) bool { return screenHas(s, "2 Статус платежа") })
	k.send("KEY 2")
	k.waitState("enter_receipt")
	k.keys(fmt.Sprint(n))
	k.send("KEY OK")
	s := k.waitScreen("the payment's state", func(s screenMsg) bool {
		return s.State == "receipt_status" && s.Lines[3] != ""
	})
	k.send("KEY OK")
	return s
}

func TestSimServices(t *testing.T) {
	kioskdBinary(t)
	dir := shortDir(t)
	t.Setenv(envSimOutbox, `{"min_backoff":"50ms","max_backoff":"1s","probe_interval":"300ms",`+
		`"check_interval":"100ms","heartbeat_interval":"5s"}`)
	k := startSim(t, dir)
	url := simBankURL(t, k)

	// Receipt 1: a utility with the debt shown. The sim's bank credits every
	// third top-up from the first 20 s late, so this one stays pending.
	k.toUtilityCash()
	k.insertBill(5000, "5 000 ₸ inserted", func(s screenMsg) bool { return screenHas(s, "5 000 ₸") })
	k.send("KEY OK")
	k.waitState("done")
	k.send("KEY OK")

	// Receipt 2: a mobile top-up; a number of another operator is refused
	// on the screen first.
	k.menu("2 Beeline")
	k.send("KEY 2")
	k.waitState("enter_phone")
	k.keys("7011234567")
	k.send("KEY OK")
	k.waitScreen("the wrong prefix refused", func(s screenMsg) bool {
		return s.State == "enter_phone" && screenHas(s, "Неверный номер")
	})
	for range 10 {
		k.send("KEY BACK")
	}
	k.keys("7051234567")
	k.waitScreen("the Beeline number", func(s screenMsg) bool { return screenHas(s, "+7 (705) 123-45-67") })
	k.send("KEY OK")
	k.waitState("confirm")
	k.send("KEY OK")
	k.waitState("insert_cash")
	k.insertBill(1000, "1 000 ₸ inserted", func(s screenMsg) bool { return screenHas(s, "1 000 ₸") })
	k.send("KEY OK")
	k.waitState("done")
	k.send("KEY OK")

	waitSync(t, dir, 2, func(s kiosk.SyncState) bool { return s == kiosk.SyncCredited })
	waitSync(t, dir, 1, func(s kiosk.SyncState) bool { return s == kiosk.SyncPending })
	if s := k.status(2); !screenHas(s, "✓ Зачислен") || !screenHas(s, "1 000 ₸") || !screenHas(s, "+7705***4567") {
		t.Errorf("status of the credited receipt 2: %q", s.Lines)
	}
	if s := k.status(1); !screenHas(s, "! В обработке") || !screenHas(s, "***6789") || !screenHas(s, "Алсеко") {
		t.Errorf("status of the pending receipt 1: %q", s.Lines)
	}

	var util, mobile *banksim.TopUpRecord
	for _, r := range simBankTopUps(t, url) {
		switch r.ReceiptNo {
		case 1:
			util = &r
		case 2:
			mobile = &r
		}
	}
	if util == nil || util.Service != "alseco" || util.Account != "123456789" || util.Phone != "" || util.Amount != kiosk.Tenge(5000) {
		t.Errorf("the bank holds the utility payment as %+v, want 5 000 ₸ to alseco 123456789", util)
	}
	if mobile == nil || mobile.Service != "beeline" || mobile.Phone != "+77051234567" || mobile.Account != "" {
		t.Errorf("the bank holds the mobile top-up as %+v, want beeline +77051234567", mobile)
	}

	// The bank away: the utility (offline: false) is refused, Beeline
	// (offline: true) takes cash after the number is typed twice.
	setSimFaults(t, url, `{"fail_rate":1}`)
	k.menu("3 Алсеко")
	k.send("KEY 3")
	k.waitState("enter_account")
	k.keys("123456789")
	k.send("KEY OK")
	s := k.waitState("idle")
	if !screenHas(s, "Нет связи с банком") {
		t.Errorf("an online-only service with the bank away shows %q", s.Lines)
	}
	k.menu("2 Beeline")
	k.send("KEY 2")
	k.waitState("enter_phone")
	k.keys("7771234567")
	k.send("KEY OK")
	k.waitState("confirm")
	k.send("KEY OK")
	k.waitState("confirm_offline")
	k.keys("7771234567")
	k.send("KEY OK")
	k.waitState("insert_cash")
	k.insertBill(2000, "2 000 ₸ inserted", func(s screenMsg) bool { return screenHas(s, "2 000 ₸") })
	k.send("KEY OK")
	k.waitState("done")
	k.stop()

	rows := readTopUpsRO(t, dir)
	if len(rows) != 3 || rows[2].phone != "+77771234567" || !rows[2].offline {
		t.Errorf("top-ups %+v, want a third, offline, to +77771234567", rows)
	}
}

// A power cut in the middle of a utility payment: the account is credited
// once, with every bill, as the wallet would be.
func TestSimUtilityPaymentSurvivesAPowerCut(t *testing.T) {
	kioskdBinary(t)
	dir := shortDir(t)
	t.Setenv(envSimFaults, `{"pending_every":0}`)
	t.Setenv(envSimOutbox, `{"min_backoff":"50ms","max_backoff":"1s","probe_interval":"300ms",`+
		`"check_interval":"100ms","heartbeat_interval":"5s"}`)
	k := startSim(t, dir)
	k.toUtilityCash()
	k.insertBill(2000, "2 000 ₸ inserted", func(s screenMsg) bool { return screenHas(s, "2 000 ₸") })
	k.insertBill(5000, "7 000 ₸ inserted", func(s screenMsg) bool { return screenHas(s, "7 000 ₸") })
	k.kill()

	k2 := startSim(t, dir)
	k2.waitState("idle")
	waitSync(t, dir, 1, func(s kiosk.SyncState) bool { return s == kiosk.SyncCredited })
	k2.stop()
	k3 := startSim(t, dir) // a second start must not complete it again
	url := simBankURL(t, k3)
	k3.waitState("idle")
	list := simBankTopUps(t, url)
	st, err := simBankStats(url)
	if err != nil {
		t.Fatal(err)
	}
	k3.stop()

	if len(list) != 1 || list[0].Service != "alseco" || list[0].Account != "123456789" || list[0].Amount != kiosk.Tenge(7000) {
		t.Fatalf("the bank holds %+v, want one 7 000 ₸ payment to alseco 123456789", list)
	}
	if st.MaxCredits != 1 || st.Credits[list[0].ID] != 1 {
		t.Errorf("credits %v, want the payment credited exactly once", st.Credits)
	}
	l := openLedger(t, dir)
	tu, _, err := l.TopUpByReceipt(t.Context(), 1)
	if err != nil || !tu.Recovered || tu.Service != "alseco" || tu.Account != "123456789" {
		t.Errorf("receipt 1 = %+v, %v; want the recovered utility payment", tu, err)
	}
	if _, _, err := l.TopUpByReceipt(t.Context(), 2); err == nil {
		t.Error("the money was counted in two top-ups")
	}
}

// The catalog is kept: a restart without the bank still shows the menu,
// and a catalog the kiosk cannot use leaves the old one in place.
func TestSimCatalogKeptWithoutTheBankAndAgainstABrokenOne(t *testing.T) {
	kioskdBinary(t)
	dir := shortDir(t)
	k := startSim(t, dir)
	k.menu("2 Beeline")
	k.stop()

	t.Setenv(envSimFaults, `{"fail_rate":1}`)
	k = startSim(t, dir)
	k.menu("2 Beeline")
	k.stop()

	t.Setenv(envSimFaults, `{"fail_rate":0}`)
	t.Setenv(envSimServices, `{"version":"broken","services":[{"id":"x","kind":"mobile","name":{"ru":"X"},"account":{"kind":"iban"}}]}`)
	k = startSim(t, dir)
	deadline := time.Now().Add(30 * time.Second)
	for !strings.Contains(k.logs.String(), "catalog from the bank refused") {
		if time.Now().After(deadline) {
			t.Fatal("kioskd never logged the refused catalog")
		}
		time.Sleep(50 * time.Millisecond)
	}
	k.menu("2 Beeline")
	k.stop()
}
