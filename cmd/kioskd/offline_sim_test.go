package main

import (
	"database/sql"
	"net/http"
	"path/filepath"
	"strings"
	"testing"
	"time"

	"tolem/kiosk"
)

// The bank out of reach while customers keep coming: each one types the
// number twice, pays, and gets a receipt; the kiosk keeps the top-ups. When
// the bank is back, every one of them arrives, exactly once.
func TestOfflineCustomersTopUpUntilTheBankIsBack(t *testing.T) {
	kioskdBinary(t)
	dir := shortDir(t)
	// Every API request answers 503, the wallet lookup included; no top-up
	// is credited late, so that "arrived" means credited.
	t.Setenv(envSimFaults, `{"fail_rate":1,"pending_rate":0}`)
	t.Setenv(envSimOutbox, `{"min_backoff":"50ms","max_backoff":"1s","probe_interval":"300ms",`+
		`"check_interval":"100ms","heartbeat_interval":"5s"}`)
	k := startSim(t, dir)
	url := simBankURL(t, k)

	customers := []struct {
		digits, mistyped string
		tenge            int64
	}{
		{"7011234567", "7011234576", 1000},
		{"7771234567", "", 2000},
		{"7051234567", "", 5000},
	}
	for _, c := range customers {
		k.offlineTopUp(c.digits, c.mistyped, c.tenge)
	}

	rows := readTopUpsRO(t, dir)
	if len(rows) != len(customers) {
		t.Fatalf("%d top-ups in the ledger while the bank is away, want %d: %+v", len(rows), len(customers), rows)
	}
	for i, r := range rows {
		c := customers[i]
		if r.phone != kiosk.Phone("+7"+c.digits) || r.amount != kiosk.Tenge(c.tenge) || !r.offline || r.sync != kiosk.SyncUnsent {
			t.Errorf("receipt %d = %+v, want %d ₸ to +7%s, offline, unsent", r.receipt, r, c.tenge, c.digits)
		}
	}
	st, err := simBankStats(url)
	if err != nil {
		t.Fatal(err)
	}
	if st.TopUps != 0 || st.ByCode[503] == 0 {
		t.Fatalf("bank while away: %d top-ups, answers %v; want none, and 503s", st.TopUps, st.ByCode)
	}

	setSimFaults(t, url, `{"fail_rate":0}`)
	deadline := time.Now().Add(outboxWait)
	for {
		rows = readTopUpsRO(t, dir)
		credited := 0
		for _, r := range rows {
			if r.sync == kiosk.SyncCredited {
				credited++
			}
		}
		if credited == len(customers) {
			break
		}
		if time.Now().After(deadline) {
			t.Fatalf("not every top-up credited %s after the bank came back: %+v", outboxWait, rows)
		}
		time.Sleep(100 * time.Millisecond)
	}
	st, err = simBankStats(url)
	if err != nil {
		t.Fatal(err)
	}
	k.stop()

	l := openLedger(t, dir)
	checkExactlyOnce(t, l, st, len(customers))
	all, err := l.TopUpsBySync(t.Context())
	if err != nil {
		t.Fatal(err)
	}
	for _, tu := range all {
		if !tu.Offline {
			t.Errorf("receipt %d lost its offline mark", tu.ReceiptNo)
		}
	}
}

// offlineTopUp is one customer with the bank out of reach: the number, the
// lookup failing, the number again (first mistyped, when mistyped is set:
// back to phone entry), a banknote, PAY, the receipt.
func (k *simKiosk) offlineTopUp(digits, mistyped string, tenge int64) {
	k.t.Helper()
	k.waitState("idle")
	k.send("KEY OK")
	k.waitState("enter_phone")
	if mistyped != "" {
		k.typeUntilOffline(digits)
		k.keys(mistyped)
		k.waitScreen("the mistyped second entry", func(s screenMsg) bool {
			return s.State == "confirm_offline" && screenHas(s, kiosk.FormatPhoneDigits(mistyped))
		})
		k.send("KEY OK")
		s := k.waitState("enter_phone")
		if !screenHas(s, "Номера не совпали") {
			k.t.Errorf("a second entry that differs shows %q, want the numbers differ", s.Lines)
		}
	}
	k.typeUntilOffline(digits)
	k.keys(digits)
	k.waitScreen("the second entry", func(s screenMsg) bool {
		return s.State == "confirm_offline" && screenHas(s, kiosk.FormatPhoneDigits(digits))
	})
	k.send("KEY OK")
	k.waitState("insert_cash")
	amount := kiosk.Tenge(tenge).String()
	k.insertBill(tenge, amount+" inserted", func(s screenMsg) bool { return screenHas(s, amount) })
	k.send("KEY OK")
	if done := k.waitState("done"); !screenHas(done, amount) {
		k.t.Errorf("done screen %q does not show %s", done.Lines, amount)
	}
	k.send("KEY OK")
}

// typeUntilOffline types the number in enter_phone and presses OK; the
// lookup fails, and the kiosk asks for the number again.
func (k *simKiosk) typeUntilOffline(digits string) {
	k.t.Helper()
	k.keys(digits)
	k.waitScreen("the typed number", func(s screenMsg) bool {
		return s.State == "enter_phone" && screenHas(s, kiosk.FormatPhoneDigits(digits))
	})
	k.send("KEY OK")
	if s := k.waitState("confirm_offline"); !screenHas(s, "Банк недоступен") {
		k.t.Errorf("confirm_offline shows %q, want the bank offline", s.Lines)
	}
}

// setSimFaults changes the sandbox's faults over its admin endpoint.
func setSimFaults(t *testing.T, url, faults string) {
	t.Helper()
	c := http.Client{Timeout: 5 * time.Second}
	resp, err := c.Post(url+"/_admin/faults", "application/json", strings.NewReader(faults))
	if err != nil {
		t.Fatal(err)
	}
	resp.Body.Close()
	if resp.StatusCode != http.StatusOK {
		t.Fatalf("POST /_admin/faults %s: %s", faults, resp.Status)
	}
}

type topUpRow struct {
	receipt int64
	phone   kiosk.Phone
	amount  kiosk.Money
	offline bool
	sync    kiosk.SyncState
}

// readTopUpsRO reads the top-ups of a running kiosk's ledger on a read-only
// connection: opening the ledger itself would write (migrations, the
// durability check) behind the daemon's back.
func readTopUpsRO(t *testing.T, dir string) []topUpRow {
	t.Helper()
	dsn := "file:" + filepath.Join(dir, "ledger.db") + "?mode=ro&_pragma=busy_timeout(5000)&_pragma=query_only(1)"
	db, err := sql.Open("sqlite", dsn)
	if err != nil {
		t.Fatal(err)
	}
	defer db.Close()
	rs, err := db.QueryContext(t.Context(),
		`SELECT receipt_no, phone, amount, offline, sync_state FROM topups ORDER BY receipt_no`)
	if err != nil {
		t.Fatalf("read the ledger: %v", err)
	}
	defer rs.Close()
	var out []topUpRow
	for rs.Next() {
		var r topUpRow
		if err := rs.Scan(&r.receipt, &r.phone, &r.amount, &r.offline, &r.sync); err != nil {
			t.Fatal(err)
		}
		out = append(out, r)
	}
	if err := rs.Err(); err != nil {
		t.Fatal(err)
	}
	return out
}
