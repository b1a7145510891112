package main

import (
	"context"
	"encoding/json"
	"fmt"
	"net/http"
	"path/filepath"
	"regexp"
	"strings"
	"testing"
	"time"

	"tolem/kiosk"
	"tolem/kiosk/ledger"
	"tolem/kiosk/ledger/ledgertest"
	"tolem/sync/bankapi/banksim"
)

// chaosFaults is the bad day of SPEC §2: a fifth of the requests fail, a
// tenth of the submits are taken and their answer lost, a third of the
// top-ups are credited a second late, and the bank limits the rate to about
// what the outbox asks at full speed.
var chaosFaults = banksim.Faults{
	FailRate:    0.2,
	DropRate:    0.1,
	PendingRate: 0.3,
	CreditDelay: time.Second,
	RateLimit:   15,
}

// 500 top-ups through a bank on a bad day: every one ends credited exactly
// once, none is missing.
func TestChaosOutboxCreditsEveryTopUpOnce(t *testing.T) {
	// The day starts with a rate limit tight enough for 429s whatever the
	// machine's speed, then loosens to the chaos's.
	tight := chaosFaults
	tight.RateLimit = 2
	bank := newTestBank(t, tight)
	l := ledgertest.MustOpenPath(t, filledLedger(t, t.TempDir()), ledger.Options{})
	ob := runTestOutbox(t, l, bank.URL(), nil)
	deadline := time.Now().Add(outboxWait)
	for bank.stats().ByCode[429] < 3 {
		if time.Now().After(deadline) {
			t.Fatal("no 429 under a rate limit of 2 requests a second")
		}
		time.Sleep(20 * time.Millisecond)
	}
	if err := bank.srv.SetFaults(chaosFaults); err != nil {
		t.Fatal(err)
	}
	waitDrained(t, l, outboxWait)
	ob.Close()

	st := bank.stats()
	checkExactlyOnce(t, l, st, chaosTopUps)
	counts := ob.Status().Counts
	if st.ByCode[503] == 0 || st.ByCode[429] == 0 || st.Dropped == 0 || counts.Pending == 0 {
		t.Errorf("the bad day did not happen: answers %v, %d dropped, %d pending", st.ByCode, st.Dropped, counts.Pending)
	}
	t.Logf("bank answers %v, %d dropped; outbox %+v", st.ByCode, st.Dropped, counts)
}

// The bank away for a while: top-ups keep coming and wait, and when the bank
// is back every one arrives exactly once.
func TestOfflineBankComesBack(t *testing.T) {
	bank := newTestBank(t, banksim.Faults{})
	l := ledgertest.MustOpen(t)
	ob := runTestOutbox(t, l, bank.URL(), nil)
	at := time.Now()
	if err := fillTopUps(l, 5, at); err != nil {
		t.Fatal(err)
	}
	ob.Wake()
	waitDrained(t, l, outboxWait)

	bank.Down()
	for i := range 30 {
		if err := fillMore(l, fmt.Sprintf("offline-%02d", i), at); err != nil {
			t.Fatal(err)
		}
		ob.Wake()
	}
	deadline := time.Now().Add(outboxWait)
	for {
		st := ob.Status()
		if !st.Reachable && st.Queue.Unsent == 30 && st.LastError != "" {
			break
		}
		if time.Now().After(deadline) {
			t.Fatalf("status while the bank is away: %+v", st)
		}
		time.Sleep(20 * time.Millisecond)
	}
	if st := bank.stats(); st.TopUps != 5 {
		t.Fatalf("the bank got %d top-ups while away", st.TopUps)
	}

	bank.Up()
	waitDrained(t, l, outboxWait)
	checkExactlyOnce(t, l, bank.stats(), 35)
	if st := ob.Status(); !st.Reachable {
		t.Errorf("status after the bank came back: %+v", st)
	}
}

func fillMore(l *ledger.Ledger, sid string, at time.Time) error {
	ctx := context.Background()
	if err := l.OpenSession(ctx, kiosk.Session{ID: sid, Phone: "+77011234567", OpenedAt: at}); err != nil {
		return err
	}
	if err := l.RecordEscrow(ctx, kiosk.BillRecord{SessionID: sid, Seq: 1, Value: kiosk.Tenge(1000), At: at}); err != nil {
		return err
	}
	if err := l.MarkStacked(ctx, kiosk.BillID(sid, 1), at); err != nil {
		return err
	}
	_, err := l.CompleteTopUp(ctx, sid, at)
	return err
}

var bankURLLine = regexp.MustCompile(`bank sandbox listening" url=(\S+)`)

// simBankURL is the sandbox's address a kioskd --sim logged.
func simBankURL(t *testing.T, k *simKiosk) string {
	t.Helper()
	deadline := time.Now().Add(30 * time.Second)
	for {
		if m := bankURLLine.FindStringSubmatch(k.logs.String()); m != nil {
			return m[1]
		}
		if time.Now().After(deadline) {
			t.Fatal("kioskd never logged the bank sandbox's address")
		}
		time.Sleep(20 * time.Millisecond)
	}
}

// simBankStats reads the sandbox's counters over its admin endpoint.
func simBankStats(url string) (banksim.Stats, error) {
	var st banksim.Stats
	c := http.Client{Timeout: 5 * time.Second}
	resp, err := c.Get(url + "/_admin/stats")
	if err != nil {
		return st, err
	}
	defer resp.Body.Close()
	if resp.StatusCode != http.StatusOK {
		return st, fmt.Errorf("stats: %s", resp.Status)
	}
	return st, json.NewDecoder(resp.Body).Decode(&st)
}

// waitBank waits until the sandbox's counters satisfy ok.
func waitBank(t *testing.T, url, what string, ok func(banksim.Stats) bool) {
	t.Helper()
	deadline := time.Now().Add(outboxWait)
	for {
		st, err := simBankStats(url)
		if err == nil && ok(st) {
			return
		}
		if time.Now().After(deadline) {
			t.Fatalf("bank never saw %s: %+v, %v", what, st, err)
		}
		time.Sleep(20 * time.Millisecond)
	}
}

// queueLine is the outbox's log line about the queue.
var queueLine = regexp.MustCompile(`msg="top-up queue" .*?unsent=(\d+) .*pending=(\d+)`)

// waitSimDrained waits until the kiosk's last queue line says nothing is
// unsent or pending.
func waitSimDrained(t *testing.T, k *simKiosk) {
	t.Helper()
	deadline := time.Now().Add(outboxWait)
	for {
		ms := queueLine.FindAllStringSubmatch(k.logs.String(), -1)
		if n := len(ms); n > 0 && ms[n-1][1] == "0" && ms[n-1][2] == "0" {
			return
		}
		if time.Now().After(deadline) {
			t.Fatal("the kiosk's queue never drained")
		}
		time.Sleep(50 * time.Millisecond)
	}
}

// The same bad day with the daemon killed twice while it drains (SIGKILL:
// no flush, no goodbye): after the last restart every top-up is credited
// exactly once, in the ledger and at the bank.
func TestChaosKioskdKilledTwiceWhileDraining(t *testing.T) {
	kioskdBinary(t)
	dir := shortDir(t)
	filledLedger(t, dir)
	faults, err := json.Marshal(chaosFaults)
	if err != nil {
		t.Fatal(err)
	}
	t.Setenv(envSimFaults, string(faults))
	t.Setenv(envSimOutbox, `{"batch_size":10,"min_backoff":"50ms","max_backoff":"2s","poll_after":"2200ms",`+
		`"probe_interval":"300ms","check_interval":"50ms","heartbeat_interval":"5s"}`)

	for i, seen := range []int{150, 350} {
		k := startSim(t, dir)
		url := simBankURL(t, k)
		waitBank(t, url, fmt.Sprintf("%d top-ups", seen), func(st banksim.Stats) bool { return st.TopUps >= seen })
		k.kill()
		t.Logf("killed kioskd %d after the bank saw %d top-ups or more", i+1, seen)
		if st, err := simBankStats(url); err == nil {
			t.Errorf("the sandbox still answers after kill %d: %+v", i+1, st)
		}
	}
	k := startSim(t, dir)
	simBankURL(t, k)
	waitSimDrained(t, k)
	k.stop()
	if t.Failed() {
		return
	}

	l := openLedger(t, dir)
	bank, err := banksim.New(banksim.Options{DBPath: filepath.Join(dir, "banksim.db")})
	if err != nil {
		t.Fatal(err)
	}
	defer bank.Close()
	st, err := bank.Stats()
	if err != nil {
		t.Fatal(err)
	}
	checkExactlyOnce(t, l, st, chaosTopUps)
	t.Logf("bank after the last run: %d top-ups, %d credited, max credits %d", st.TopUps, st.Credited, st.MaxCredits)
	if logs := k.logs.String(); !strings.Contains(logs, "bank sandbox faults") {
		t.Error("the sim did not log its faults")
	}
}
