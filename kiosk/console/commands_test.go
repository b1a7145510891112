package console

import (
	"bytes"
	"context"
	"encoding/json"
	"strings"
	"testing"
	"time"

	"tolem/kiosk"
	"tolem/kiosk/kiosktest"
)

// Every command, typed at the serial console, in its human form and with
// --json: the human form shows what a technician looks for, the JSON form
// is one valid document with the same facts.
func TestConsoleCommandsBothForms(t *testing.T) {
	f := newFake(t)
	f.cas.Count, f.cas.Capacity = 920, 1000 // 92 %: the warning shows
	clock := kiosktest.NewFakeClock(time.Time{})
	c := New(f, testOptions(clock))
	tm := openTerminal(t, c)
	tm.login()

	tests := []struct {
		line  string
		human []string
		// json are keys and values the JSON document must hold, as
		// "key=value" of its top level (value as JSON).
		json []string
	}{
		{"help", []string{"txn <receipt_no>", "collect [--seal NUMBER --yes]", "test display|keys|acceptor", "log [n]", "logout"}, nil},
		{"help collect", []string{"Waits for the customer to finish"}, []string{`name="collect"`}},
		{"status", []string{
			"kiosk     KZ-ALA-0001, version 1.2.3, up 2h00m",
			"service   idle",
			"acceptor  ccnet SM-2072, serial 41K0123, disabled, ready",
			"last error: timeout waiting for ACK",
			"cassette  920 bills, 8 000 ₸ (92 % of 1000)",
			"queue     unsent 1 (3 000 ₸), pending 0, review 0",
			"oldest waiting since 2026-01-05 08:30:00 UTC (30m00s ago)",
			"bank      UNREACHABLE, last success 2026-01-05 08:00:00 UTC (1h00m ago), clock offset +1.5s",
			"free of",
			"WARNING: cassette 92 % full (920 of 1000 bills): plan a collection",
			"WARNING: ALARM: a top-up has waited for the bank since 2026-01-05 08:30:00 UTC",
		}, []string{`version="1.2.3"`, `state="idle"`, `uptime_s=7200`, `ledger="ok"`}},
		{"acceptor", []string{"protocol     ccnet on /dev/ttyUSB0", "serial       41K0123", "state        disabled (ready)",
			"bills        200 ₸, 500 ₸, 1 000 ₸, 2 000 ₸, 5 000 ₸", "last errors  timeout waiting for ACK"},
			[]string{`model="SM-2072"`, `ready=true`}},
		{"queue", []string{"unsent   1 (3 000 ₸)", "ALARM: waiting for over 20m00s", "2  3 000 ₸   wallet  unsent", "receipt 2: last error: bank unavailable: 503"},
			[]string{`unsent=1`, `overdue=true`}},
		{"txn 1", []string{"receipt    1", "service    wallet", "account    +7701***4567", "amount     3 000 ₸", "bills      1 000 ₸ × 1, 2 000 ₸ × 1",
			"bank       credited at 2026-01-05 09:01:00 UTC, 1 attempt", "1     1 000 ₸  stacked"}, nil},
		{"txn 99", []string{"error: no top-up has receipt number 99"}, []string{`error="no top-up has receipt number 99"`}},
		{"review", []string{"s9/1", "suspense", "receipt 7", "rejected", "wallet_not_found"}, nil},
		{"retry 2", []string{"top-up 2 is due now"}, []string{`retried=1`}},
		{"retry 1", []string{"error: retry top-up 1: refused: the bank has decided this top-up (credited)"}, nil},
		{"retry all", []string{"2 top-ups are due now"}, []string{`retried=2`}},
		{"service", []string{"state    idle", "manual   no"}, []string{`manual=false`}},
		{"log 3", []string{"t01", "command"}, nil},
		{"config", []string{"terminal_id: KZ-ALA-0001", "secret: '***'"}, []string{`terminal_id="KZ-ALA-0001"`}},
		{"door", []string{"door   closed"}, []string{`open=false`, `alarm=false`}},
		{"test display", []string{"Simulated panel: no hardware to test"}, []string{`simulated=true`}},
		{"test acceptor", []string{"model        SM-2072", "Kiosk in maintenance", "Acceptor test passed", "Maintenance ended."}, []string{`ok=true`}},
		{"status extra", []string{"error: usage: status"}, nil},
	}
	for _, tt := range tests {
		t.Run(tt.line, func(t *testing.T) {
			out := tm.run(tt.line)
			for _, want := range tt.human {
				if !strings.Contains(squash(out), squash(want)) {
					t.Errorf("%s: output lacks %q:\n%s", tt.line, want, out)
				}
			}
			jout := tm.run(tt.line + " --json")
			var doc map[string]json.RawMessage
			if err := json.Unmarshal([]byte(strings.ReplaceAll(jout, "\r\n", "\n")), &doc); err != nil {
				t.Fatalf("%s --json is not one JSON document: %v\n%s", tt.line, err, jout)
			}
			for _, kv := range tt.json {
				k, v, _ := strings.Cut(kv, "=")
				if got := string(doc[k]); got != v {
					t.Errorf("%s --json: %s = %s, want %s", tt.line, k, got, v)
				}
			}
		})
	}

	// service off then on, as the technician toggles it.
	if out := tm.run("service off"); !strings.Contains(out, "Kiosk out of service (service off: kept across restarts") ||
		!strings.Contains(out, "manual   out of service") {
		t.Errorf("service off: %q", out)
	}
	if !f.snap().manual {
		t.Error("service off did not raise the manual condition")
	}
	if out := tm.run("service on --json"); !strings.Contains(out, `"manual": false`) {
		t.Errorf("service on --json: %q", out)
	}
	if f.snap().manual {
		t.Error("service on did not clear the manual condition")
	}
	if out := tm.run("service sideways"); !strings.Contains(out, "usage: service [on|off]") {
		t.Errorf("service sideways: %q", out)
	}
	if f.snap().cycles != 2 {
		t.Errorf("the acceptor was cycled %d times, want 2 (test acceptor twice)", f.snap().cycles)
	}
}

// A ledger that could not be opened: commands that need it say so and what
// to do, and status still answers.
func TestConsoleWithoutLedger(t *testing.T) {
	f := newFake(t)
	f.noLedger = true
	c := New(f, testOptions(kiosktest.NewFakeClock(time.Time{})))
	var out bytes.Buffer
	if code := c.Exec(context.Background(), "ssh:anna", []string{"queue"}, Output(&out)); code != ExitFailed {
		t.Errorf("queue without a ledger: exit %d", code)
	}
	if !strings.Contains(out.String(), "repair the data directory, restart kioskd") {
		t.Errorf("output: %q", out.String())
	}
	out.Reset()
	if code := c.Exec(context.Background(), "ssh:anna", []string{"status", "--json"}, Output(&out)); code != ExitOK {
		t.Fatalf("status: exit %d", code)
	}
	var r StatusReport
	if err := json.Unmarshal(out.Bytes(), &r); err != nil {
		t.Fatal(err)
	}
	if r.Ledger == "ok" || r.Queue != nil || r.Cassette != nil {
		t.Errorf("status without a ledger: ledger %q, queue %v, cassette %v", r.Ledger, r.Queue, r.Cassette)
	}
	out.Reset()
	if code := c.Exec(context.Background(), "ssh:anna", []string{"collect"}, Output(&out)); code != ExitFailed || f.snap().maintCalls != 0 {
		t.Errorf("collect without a ledger: exit %d, %d maintenance requests; want a refusal before maintenance", code, f.snap().maintCalls)
	}
}

// The control socket's door: no questions can be asked, so collect needs
// its answers as options; every command is audited as ssh:<user>.
func TestConsoleExecNonInteractive(t *testing.T) {
	f := newFake(t)
	c := New(f, testOptions(kiosktest.NewFakeClock(time.Time{})))
	ctx := context.Background()
	var out bytes.Buffer
	if code := c.Exec(ctx, "ssh:anna", []string{"collect"}, Output(&out)); code != ExitUsage {
		t.Errorf("collect without --seal: exit %d, want %d", code, ExitUsage)
	}
	if !strings.Contains(out.String(), "give --seal NUMBER --yes") {
		t.Errorf("output: %q", out.String())
	}
	if len(f.snap().collections) != 0 || f.snap().endCalls != 1 {
		t.Errorf("%d collections, %d EndMaintenance; want 0 and 1", len(f.snap().collections), f.snap().endCalls)
	}
	out.Reset()
	if code := c.Exec(ctx, "ssh:anna", []string{"collect", "--seal", "B-77", "--yes", "--json"}, Output(&out)); code != ExitOK {
		t.Fatalf("collect --seal --yes: exit %d: %s", code, out.String())
	}
	var doc struct {
		Recorded   bool `json:"recorded"`
		Collection struct {
			Seal   string   `json:"seal"`
			Period Cassette `json:"period"`
		} `json:"collection"`
	}
	if err := json.Unmarshal(out.Bytes(), &doc); err != nil {
		t.Fatalf("collect --json: %v\n%s", err, out.String())
	}
	if !doc.Recorded || doc.Collection.Seal != "B-77" || doc.Collection.Period.Amount != kiosk.Tenge(8000) {
		t.Errorf("collect --json = %+v", doc)
	}
	out.Reset()
	if code := c.Exec(ctx, "ssh:anna", []string{"logout"}, Output(&out)); code != ExitOK || !strings.Contains(out.String(), "no session") {
		t.Errorf("logout over kioskctl: exit %d, %q", code, out.String())
	}
	for _, e := range f.audits() {
		if e.Action == "command" && e.Actor != "ssh:anna" {
			t.Errorf("command audited as %q, want ssh:anna", e.Actor)
		}
	}
	if n := countAudit(f, "command"); n != 3 {
		t.Errorf("%d commands audited, want 3", n)
	}
}

// A technician active over SSH counts as present: the door opens without
// an alarm.
func TestConsoleDoorWithSSHTechnician(t *testing.T) {
	f := newFake(t)
	clock := kiosktest.NewFakeClock(time.Time{})
	c := New(f, testOptions(clock))
	var out bytes.Buffer
	c.Exec(context.Background(), "ssh:anna", []string{"status"}, Output(&out))
	c.DoorChanged(true)
	if f.snap().doorAlarm {
		t.Error("alarm raised with a technician active on SSH")
	}
	c.DoorChanged(false)
	clock.Advance(11 * time.Minute)
	c.DoorChanged(true)
	if !f.snap().doorAlarm {
		t.Error("no alarm once the SSH technician had been idle past the logout time")
	}
}

// squash collapses runs of blanks, so that a test of a table does not
// depend on its column widths.
func squash(s string) string { return strings.Join(strings.Fields(s), " ") }

// The physical count settles uncertain bills: at collect (--count) or later
// with reconcile; what it could not settle fails the command, and a count
// that cannot be read is a usage error that records nothing.
func TestConsoleReconcile(t *testing.T) {
	f := newFake(t)
	c := New(f, testOptions(kiosktest.NewFakeClock(time.Time{})))
	ctx := context.Background()
	var out bytes.Buffer
	if code := c.Exec(ctx, "ssh:anna", []string{"collect", "--seal", "B-78", "--yes", "--count", "1000:3,5000:1"}, Output(&out)); code != ExitOK {
		t.Fatalf("collect --count: exit %d: %s", code, out.String())
	}
	snap := f.snap()
	if len(snap.collections) != 1 || len(snap.reconciles) != 1 || snap.reconciles[0] != snap.collections[0].ID+" 1000:3,5000:1 by ssh:anna" {
		t.Fatalf("collections %v, reconciles %q", snap.collections, snap.reconciles)
	}
	if !strings.Contains(out.String(), "Count of collection") {
		t.Errorf("collect --count output: %q", out.String())
	}

	f.mu.Lock()
	f.reconcile = &Reconciliation{
		Collection: "c1", Counted: []kiosk.BillCount{{Value: kiosk.Tenge(2000), Count: 2}},
		Stacked: []string{"s/2"}, TopUps: []kiosk.TopUp{{ReceiptNo: 42, Amount: kiosk.Tenge(2000), Phone: "+77011234567"}},
		Unmatched: []string{"5 000 ₸: counted 0, the ledger has 1 in the cassette: 1 short"},
	}
	f.mu.Unlock()
	out.Reset()
	if code := c.Exec(ctx, "ssh:anna", []string{"reconcile", "last", "2000:2", "5000:0"}, Output(&out)); code != ExitFailed {
		t.Errorf("reconcile with an unmatched value: exit %d, want %d", code, ExitFailed)
	}
	for _, want := range []string{"receipt 42: 2 000 ₸ to +7701***4567", "NOT SETTLED: 5 000 ₸", "Nothing was guessed"} {
		if !strings.Contains(out.String(), want) {
			t.Errorf("reconcile output lacks %q:\n%s", want, out.String())
		}
	}
	if got := f.snap().reconciles; got[len(got)-1] != "last 2000:2,5000:0 by ssh:anna" {
		t.Errorf("reconcile call %q", got[len(got)-1])
	}

	out.Reset()
	n := len(f.snap().reconciles)
	if code := c.Exec(ctx, "ssh:anna", []string{"reconcile", "last", "2000"}, Output(&out)); code != ExitUsage {
		t.Errorf("reconcile with a bad count: exit %d, want %d", code, ExitUsage)
	}
	if !strings.Contains(out.String(), `"2000" is not value:count`) || len(f.snap().reconciles) != n {
		t.Errorf("bad count: %q, %d calls", out.String(), len(f.snap().reconciles)-n)
	}
}

// While a customer pays, the outbox writes nothing: queue says so, so that
// a technician watching it stand still knows why.
func TestQueueSaysDeliveryWaitsForTheCustomer(t *testing.T) {
	f := newFake(t)
	clock := kiosktest.NewFakeClock(time.Time{})
	f.mu.Lock()
	f.queue.HeldSince = clock.Now().Add(-40 * time.Second)
	f.mu.Unlock()
	c := New(f, testOptions(clock))
	tm := openTerminal(t, c)
	tm.login()
	if out := tm.run("queue"); !strings.Contains(squash(out), squash("held     since")) || !strings.Contains(out, "40s ago") ||
		!strings.Contains(out, "a customer is paying; delivery goes on when they finish") {
		t.Errorf("queue while a customer pays:\n%s", out)
	}
	if out := tm.run("queue --json"); !strings.Contains(out, `"held_since"`) {
		t.Errorf("queue --json lacks held_since:\n%s", out)
	}
	f.mu.Lock()
	f.queue.HeldSince = time.Time{}
	f.mu.Unlock()
	if out := tm.run("queue"); strings.Contains(out, "held") {
		t.Errorf("queue with no customer says held:\n%s", out)
	}
}
