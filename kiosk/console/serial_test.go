package console

import (
	"strings"
	"testing"
	"time"

	"tolem/kiosk"
	"tolem/kiosk/kiosktest"
)

func countAudit(f *fakeBackend, action string) int {
	n := 0
	for _, e := range f.audits() {
		if e.Action == action {
			n++
		}
	}
	return n
}

func TestConsoleLoginAndLogout(t *testing.T) {
	f := newFake(t)
	c := New(f, testOptions(kiosktest.NewFakeClock(time.Time{})))
	tm := openTerminal(t, c)
	tm.login()
	if strings.Contains(tm.all(), techPIN) {
		t.Fatalf("the PIN was echoed:\n%s", tm.all())
	}
	tm.typ("logout\r")
	tm.expect("Logged out.")
	// Ctrl-D on an empty line logs out too.
	tm.login()
	tm.typ("\x04")
	tm.expect("Logged out.")
	tm.expect(PromptID)
	if n := countAudit(f, "login"); n != 2 {
		t.Errorf("%d login lines in the audit table, want 2", n)
	}
	if n := countAudit(f, "logout"); n != 2 {
		t.Errorf("%d logout lines in the audit table, want 2", n)
	}
	for _, e := range f.audits() {
		if e.Action == "login" && e.Actor != techID {
			t.Errorf("login audited as %q, want the technician's id", e.Actor)
		}
	}
}

// Five wrong PINs lock the console for 30 minutes, and the lock holds for a
// restarted kioskd over the same ledger.
func TestConsoleLockoutSurvivesRestart(t *testing.T) {
	f := newFake(t)
	clock := kiosktest.NewFakeClock(time.Time{})
	c := New(f, testOptions(clock))
	tm := openTerminal(t, c)
	for i := 1; i <= 5; i++ {
		tm.expect(PromptID)
		id := techID
		if i == 3 {
			id = "nobody" // an unknown id counts like a wrong PIN
		}
		tm.typ(id + "\r")
		tm.expect(PromptPIN)
		tm.typ("000000\r")
		if i < 5 {
			tm.expect("Wrong ID or PIN. " + string(rune('0'+5-i)) + " more tries")
		} else {
			tm.expect("Wrong ID or PIN. Console locked until 09:30 UTC.")
		}
	}
	// The right PIN is not even asked for now.
	tm.expect(PromptID)
	tm.typ(techID + "\r")
	tm.expect("Console locked for 30 min more")
	if strings.Contains(tm.all(), "000000") {
		t.Errorf("a PIN was echoed:\n%s", tm.all())
	}
	if n := countAudit(f, "login_failed"); n != 5 {
		t.Errorf("%d login_failed lines, want 5", n)
	}
	if n := countAudit(f, "console_locked"); n != 1 {
		t.Errorf("%d console_locked lines, want 1", n)
	}
	for _, e := range f.audits() {
		if e.Action == "login_failed" && e.Actor != techID && e.Actor != "nobody" {
			t.Errorf("failure audited as %q, want the typed id", e.Actor)
		}
	}
	tm.close()

	// kioskd restarts 10 minutes later: the lock is still there.
	clock.Advance(10 * time.Minute)
	c2 := New(f, testOptions(clock))
	tm2 := openTerminal(t, c2)
	tm2.expect("Console locked until 09:30 UTC")
	tm2.expect(PromptID)
	tm2.typ(techID + "\r")
	tm2.expect("Console locked for 20 min more")
	tm2.expect(PromptID)

	// When the lock has run out, the right PIN logs in.
	clock.Advance(20 * time.Minute)
	tm2.typ(techID + "\r")
	tm2.expect(PromptPIN)
	tm2.typ(techPIN + "\r")
	tm2.expect("Logged in as t01")
	if s := f.settingsCopy(); s[keyFailures] != "0" || s[keyLockedUntil] != "" {
		t.Errorf("lockout settings after a good login = %v, want cleared", s)
	}
}

// A good login resets the count: wrong PINs must be in a row to lock.
func TestConsoleGoodLoginResetsFailures(t *testing.T) {
	f := newFake(t)
	c := New(f, testOptions(kiosktest.NewFakeClock(time.Time{})))
	tm := openTerminal(t, c)
	for range 4 {
		tm.expect(PromptID)
		tm.typ(techID + "\r")
		tm.expect(PromptPIN)
		tm.typ("1111\r")
		tm.expect("Wrong ID or PIN.")
	}
	tm.login()
	tm.typ("logout\r")
	tm.expect(PromptID)
	tm.typ(techID + "\r")
	tm.expect(PromptPIN)
	tm.typ("1111\r")
	tm.expect("Wrong ID or PIN. 4 more tries")
}

func TestConsoleIdleLogout(t *testing.T) {
	f := newFake(t)
	clock := kiosktest.NewFakeClock(time.Time{})
	c := New(f, testOptions(clock))
	tm := openTerminal(t, c)
	tm.login()
	clock.Advance(9 * time.Minute)
	tm.typ("x")
	tm.expect("x")
	clock.Advance(9 * time.Minute) // a key restarted the count
	tm.typ("\x15status\r")
	tm.expect("kiosk")
	tm.expect(PromptShell)
	clock.Advance(10 * time.Minute)
	tm.expect("No input for 10m0s: logged out.")
	tm.expect(PromptID)
	found := false
	for _, e := range f.audits() {
		if e.Action == "logout" && e.Actor == techID && strings.Contains(e.Detail, "idle") {
			found = true
		}
	}
	if !found {
		t.Errorf("no idle logout in the audit table: %+v", f.audits())
	}
}

func TestConsoleLineEditing(t *testing.T) {
	f := newFake(t)
	c := New(f, testOptions(kiosktest.NewFakeClock(time.Time{})))
	tm := openTerminal(t, c)
	tm.login()

	// Backspace, as DEL (0x7f) and as BS (0x08), erases on the screen too.
	tm.typ("stat\x7fx\x08tus\r")
	out := tm.expect(PromptShell)
	if !strings.Contains(out, "stat\b \bx\b \btus") {
		t.Errorf("backspaces not echoed as erase sequences: %q", out)
	}
	if !strings.Contains(out, "acceptor") {
		t.Errorf("the edited line did not run status: %q", out)
	}
	// Ctrl-U kills the whole line.
	tm.typ("garbage\x15help\r")
	if out := tm.expect(PromptShell); !strings.Contains(out, "Every command takes --json") {
		t.Errorf("Ctrl-U did not kill the line: %q", out)
	}
	// Ctrl-C drops the line; nothing runs.
	tm.typ("collect\x03")
	tm.expect("^C\r\n" + PromptShell)
	// Arrow keys are not typed into the line; CR LF is one Enter.
	tm.typ("\x1b[A\x1b[Dlog 4\r\n")
	if out := tm.expect(PromptShell); !strings.Contains(out, "log 4\r\n") {
		t.Errorf("escape sequences reached the line: %q", out)
	}
	log := f.audits()
	var cmds []string
	for _, e := range log {
		if e.Action == "command" {
			cmds = append(cmds, e.Detail)
		}
	}
	want := []string{"status", "help", "log 4"}
	if strings.Join(cmds, "|") != strings.Join(want, "|") {
		t.Errorf("commands audited = %q, want %q", cmds, want)
	}
	// Quotes keep a blank inside one word.
	if out := tm.run(`txn "1 2"`); !strings.Contains(out, `"1 2" is not a receipt number`) {
		t.Errorf("quoted word: %q", out)
	}
	if out := tm.run(`txn "1`); !strings.Contains(out, "error: a quote is not closed") {
		t.Errorf("open quote: %q", out)
	}
	if out := tm.run("frobnicate"); !strings.Contains(out, `unknown command "frobnicate": type help`) {
		t.Errorf("unknown command: %q", out)
	}
}

// The door opened with nobody logged in raises the alarm, which stays until
// a technician logs in; opened by a logged-in technician, it does not.
func TestConsoleDoorAlarm(t *testing.T) {
	f := newFake(t)
	c := New(f, testOptions(kiosktest.NewFakeClock(time.Time{})))
	tm := openTerminal(t, c)
	tm.expect(PromptID)
	c.DoorChanged(true)
	if !f.snap().doorOpen || !f.snap().doorAlarm {
		t.Fatalf("door open=%v alarm=%v, want both", f.snap().doorOpen, f.snap().doorAlarm)
	}
	if countAudit(f, "door_alarm") != 1 {
		t.Errorf("no door_alarm line in the audit table")
	}
	c.DoorChanged(false)
	if f.snap().doorOpen || !f.snap().doorAlarm {
		t.Fatalf("after closing: door open=%v alarm=%v, want the alarm to stay", f.snap().doorOpen, f.snap().doorAlarm)
	}
	tm.typ(techID + "\r")
	tm.expect(PromptPIN)
	tm.typ(techPIN + "\r")
	tm.expect("ALARM cleared: the service door was opened at 2026-01-05 09:00:00 UTC")
	tm.expect(PromptShell)
	if f.snap().doorAlarm {
		t.Error("the alarm stands after a technician logged in")
	}
	c.DoorChanged(true)
	if f.snap().doorAlarm || countAudit(f, "door_alarm") != 1 {
		t.Error("a door opened with a technician logged in raised the alarm")
	}
	if out := tm.run("door"); !strings.Contains(out, "door   open: the kiosk takes no cash") {
		t.Errorf("door: %q", out)
	}
}

// Ctrl-C while collect waits for the customer withdraws the request and
// records nothing.
func TestConsoleCollectInterruptedWhileWaiting(t *testing.T) {
	f := newFake(t)
	c := New(f, testOptions(kiosktest.NewFakeClock(time.Time{})))
	tm := openTerminal(t, c)
	tm.login()
	leave := f.customerArrives()
	defer leave()
	tm.typ("collect\r")
	tm.expect("Waiting for the customer to finish…")
	tm.typ("\x03")
	out := tm.expect(PromptShell)
	if !strings.Contains(out, "collect cancelled while waiting for the customer") {
		t.Errorf("output: %q", out)
	}
	if len(f.snap().collections) != 0 || f.snap().maintenance {
		t.Errorf("collections %v, maintenance %v after Ctrl-C", f.snap().collections, f.snap().maintenance)
	}
}

// collect waits for the customer, reports the cassette, takes the seal and a
// confirmation, records the collection and ends maintenance.
func TestConsoleCollect(t *testing.T) {
	f := newFake(t)
	c := New(f, testOptions(kiosktest.NewFakeClock(time.Time{})))
	tm := openTerminal(t, c)
	tm.login()
	leave := f.customerArrives()
	tm.typ("collect\r")
	tm.expect("Waiting for the customer to finish…")
	if f.snap().state == kiosk.StateMaintenance {
		t.Fatal("maintenance began while the customer was there")
	}
	leave()
	report := tm.expect("Bag or seal number: ")
	for _, want := range []string{
		"Kiosk in maintenance: the acceptor is disabled.",
		"Cassette since 2026-01-05 09:00:00 UTC:",
		"1 000 ₸  × 3  3 000 ₸",
		"5 000 ₸  × 1  5 000 ₸",
		"total  4 bills  8 000 ₸",
		"top-ups    2 (receipts 1 to 2)",
		"suspense   0 bills",
		"uncertain  0 bills",
	} {
		if !strings.Contains(squash(report), squash(want)) {
			t.Errorf("the report lacks %q:\n%s", want, report)
		}
	}
	tm.typ("\r") // an empty seal is asked again
	tm.expect("type the bag or seal number")
	tm.typ("AB 123456\r")
	tm.expect("Record the collection of 4 bills, 8 000 ₸, seal AB 123456? [y/N] ")
	tm.typ("y\r")
	out := tm.expect(PromptShell)
	for _, want := range []string{"Collection recorded: 4 bills, 8 000 ₸, seal AB 123456.", "queued for the bank", "Maintenance ended."} {
		if !strings.Contains(out, want) {
			t.Errorf("output lacks %q:\n%s", want, out)
		}
	}
	if len(f.snap().collections) != 1 || f.snap().collections[0].Seal != "AB 123456" {
		t.Errorf("collections = %+v", f.snap().collections)
	}
	if f.snap().endCalls != 1 || f.snap().state != kiosk.StateIdle {
		t.Errorf("maintenance not ended: %d EndMaintenance, state %s", f.snap().endCalls, f.snap().state)
	}
	if countAudit(f, "collect") != 1 {
		t.Error("the collection is not in the audit table")
	}

	// Ctrl-C at the seal prompt: nothing recorded, maintenance ended.
	tm.typ("collect\r")
	tm.expect("Bag or seal number: ")
	tm.typ("XY\x03")
	out = tm.expect(PromptShell)
	if !strings.Contains(out, "collect cancelled: nothing was recorded") || !strings.Contains(out, "Maintenance ended.") {
		t.Errorf("output: %q", out)
	}
	// "n" at the confirmation: nothing recorded either.
	tm.typ("collect\r")
	tm.expect("Bag or seal number: ")
	tm.typ("S-1\r")
	tm.expect("[y/N] ")
	tm.typ("n\r")
	out = tm.expect(PromptShell)
	if !strings.Contains(out, "collect cancelled") {
		t.Errorf("output: %q", out)
	}
	if len(f.snap().collections) != 1 || f.snap().endCalls != 3 {
		t.Errorf("%d collections, %d EndMaintenance; want 1 and 3", len(f.snap().collections), f.snap().endCalls)
	}
}

// Idle at collect's question: the command is abandoned, nothing recorded,
// maintenance ended, and the technician logged out.
func TestConsoleIdleDuringCollect(t *testing.T) {
	f := newFake(t)
	clock := kiosktest.NewFakeClock(time.Time{})
	c := New(f, testOptions(clock))
	tm := openTerminal(t, c)
	tm.login()
	tm.typ("collect\r")
	tm.expect("Bag or seal number: ")
	clock.Advance(10 * time.Minute)
	tm.expect("logged out")
	tm.expect(PromptID)
	if len(f.snap().collections) != 0 || f.snap().endCalls != 1 {
		t.Errorf("%d collections, %d EndMaintenance; want 0 and 1", len(f.snap().collections), f.snap().endCalls)
	}
}

func TestConsoleKeyTest(t *testing.T) {
	f := newFake(t)
	tester := &fakeTester{keys: make(chan kiosk.Key)}
	f.tester = tester
	clock := kiosktest.NewFakeClock(time.Time{})
	c := New(f, testOptions(clock))
	tm := openTerminal(t, c)
	tm.login()
	tm.typ("test keys\r")
	tm.expect("Ctrl-C or 30s ends the test.")
	tester.keys <- "5"
	tester.keys <- kiosk.KeyOK
	tm.expect("key 5")
	tm.expect("key OK")
	tm.typ("\x03")
	if out := tm.expect(PromptShell); !strings.Contains(out, "Key test ended (interrupted): 2 keys pressed.") {
		t.Errorf("output: %q", out)
	}
	tm.typ("test keys --json\r")
	tm.expect("\r\n")
	tester.keys <- "0"
	clock.Advance(30 * time.Second)
	out := tm.expect(PromptShell)
	if !strings.Contains(out, `"ended": "timeout"`) || !strings.Contains(out, `"0"`) {
		t.Errorf("output: %q", out)
	}
	if out := tm.run("test display"); !strings.Contains(out, "Display test done") || tester.patterns.Load() != 1 {
		t.Errorf("display test: %q, %d patterns", out, tester.patterns.Load())
	}
}
