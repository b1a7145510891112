package main

import (
	"os"
	"os/exec"
	"strings"
	"testing"
	"time"
)

// What a customer sees of refused notes, through the panel socket of the
// real kioskd --sim: a refusal clears once the next note is taken, near the
// maximum it says how much more fits, and it never stands over the
// "maximum reached" screen after the last note went in.
func TestSimRefusalNotices(t *testing.T) {
	k := startSim(t, shortDir(t))
	k.toInsertCash()

	k.send("FAKE")
	k.waitScreen("the refusal of a fake", func(s screenMsg) bool { return screenHas(s, "Купюра не принята") })
	s := k.insertBill(1000, "1 000 ₸ counted", func(s screenMsg) bool { return screenHas(s, "Внесено: 1 000 ₸") })
	if screenHas(s, "не принята") {
		t.Errorf("refusal still shown over the accepted note: %q", s.Lines)
	}

	// Up to 190 000 ₸: the notes go in one after the other, sent at once.
	for range 9 {
		k.send("BILL 20000")
	}
	k.send("BILL 5000", "BILL 2000", "BILL 2000")
	k.waitScreen("190 000 ₸ counted", func(s screenMsg) bool { return screenHas(s, "Внесено: 190 000 ₸") })

	// A 20 000 ₸ note no longer fits: the acceptor refuses it, and the
	// screen says what still does.
	k.send("BILL 20000")
	s = k.waitScreen("the refusal near the maximum", func(s screenMsg) bool { return screenHas(s, "Купюра не принята") })
	if s.Lines[3] != "Можно ещё 10 000 ₸" {
		t.Errorf("refused at 190 000 ₸: %q, want the last line %q", s.Lines, "Можно ещё 10 000 ₸")
	}
	s = k.insertBill(5000, "195 000 ₸ counted", func(s screenMsg) bool { return screenHas(s, "Внесено: 195 000 ₸") })
	if screenHas(s, "не принята") || screenHas(s, "Можно ещё") {
		t.Errorf("refusal still shown over the accepted note: %q", s.Lines)
	}
	k.send("FAKE")
	k.waitScreen("the refusal at 195 000 ₸", func(s screenMsg) bool { return screenHas(s, "Купюра не принята") })
	s = k.insertBill(5000, "the maximum", func(s screenMsg) bool { return screenHas(s, "Максимум внесён") })
	want := [4]string{"Максимум внесён", "Внесено: 200 000 ₸", "", "Нажмите OK - оплата"}
	if s.Lines != want {
		t.Errorf("maximum screen %q, want %q", s.Lines, want)
	}
	k.send("KEY OK")
	k.waitState("done")
}

// Notes offered the moment insert_cash shows, and a PAY right behind them,
// are not refused: the note waits at the slot until the acceptor draws it in,
// as in a customer's hand, and PAY finds it counted.
func TestSimNotesOfferedAtOnceWaitAtTheSlot(t *testing.T) {
	k := startSim(t, shortDir(t))
	k.waitState("idle")
	k.send("KEY OK")
	k.keys("7011234567")
	k.send("KEY OK", "KEY OK", "BILL 1000", "BILL 2000", "KEY OK")
	deadline := time.Now().Add(45 * time.Second)
	for {
		s, isErr := k.next("the receipt", deadline)
		if isErr {
			t.Fatalf("a line typed at once was refused (ERR); last screen %s %q", k.last.State, k.last.Lines)
		}
		if s.State == "done" {
			if !screenHas(s, "Оплачено: 3 000 ₸") {
				t.Errorf("receipt screen %q, want 3 000 ₸ paid", s.Lines)
			}
			break
		}
	}
}

// The README's panel example, run as printed with no pauses: the top-up
// goes through to its receipt.
func TestReadmePanelExample(t *testing.T) {
	b, err := os.ReadFile("../../README.md")
	if err != nil {
		t.Fatal(err)
	}
	var script []string
	for _, l := range strings.Split(string(b), "\n") {
		if strings.HasPrefix(l, "    (printf 'KEY") || (len(script) > 0 && strings.HasPrefix(l, "      ")) {
			script = append(script, strings.TrimSpace(l))
		} else if len(script) > 0 {
			break
		}
	}
	if len(script) != 2 || !strings.HasSuffix(script[1], " panel") {
		t.Fatalf("the README's panel example is not where it was: %q", script)
	}
	dir := shortDir(t)
	k := startSim(t, dir)
	k.waitState("idle")
	sh := strings.Join(script, "\n")
	sh = strings.ReplaceAll(sh, "bin/kioskctl", kioskctlBinary(t))
	sh = strings.ReplaceAll(sh, "~/.cache/tolem-sim", dir)
	cmd := exec.Command("sh", "-c", sh)
	var out, errb strings.Builder
	cmd.Stdout, cmd.Stderr = &out, &errb
	if err := cmd.Run(); err != nil {
		t.Fatalf("%s\n%v: %s\n%s", sh, err, errb.String(), out.String())
	}
	if strings.Contains(out.String(), "ERR ") || !strings.Contains(out.String(), `"state":"done"`) ||
		!strings.Contains(out.String(), "Оплачено: 3 000 ₸") {
		t.Errorf("the README's example did not end on the receipt:\n%s", out.String())
	}
}

// The data dir is said again when the simulated kiosk stops: the terminal
// panel covered the line that said it at start.
func TestSimSaysWhereItsDataIsAtExit(t *testing.T) {
	dir := shortDir(t)
	k := startSim(t, dir)
	k.waitState("idle")
	k.stop()
	want := "kioskd: the simulated kiosk's data stays in " + dir + " (its log: kioskd.log there); kioskd --sim --data-dir " + dir + " starts it again\n"
	if !strings.HasSuffix(k.logs.String(), want) {
		t.Errorf("kioskd's last words are not %q", want)
	}
}

// The terminal panel's frame shows where the data and the sockets are.
func TestSimNotesInTheFrame(t *testing.T) {
	cfg, _, err := simConfig(shortDir(t), "ccnet")
	if err != nil {
		t.Fatal(err)
	}
	want := []string{
		"data     " + cfg.DataDir + "  (ledger.db, kioskd.log)",
		"sockets  " + cfg.DataDir + "/panel.sock, " + cfg.DataDir + "/control.sock",
		"try      kioskctl --socket " + cfg.DataDir + "/control.sock status",
	}
	if got := simNotes(cfg); strings.Join(got, "\n") != strings.Join(want, "\n") {
		t.Errorf("notes %q, want %q", got, want)
	}
}

// A top-up completed at start-up after the kiosk was killed mid-payment is
// in kioskctl status, with its receipt number.
func TestSimStatusShowsRecoveredTopUp(t *testing.T) {
	dir := shortDir(t)
	k := startSim(t, dir)
	k.toInsertCash()
	k.insertBill(5000, "5 000 ₸ inserted", func(s screenMsg) bool { return screenHas(s, "5 000 ₸") })
	k.kill()

	k2 := startSim(t, dir)
	k2.waitState("idle")
	out, errOut, code := ctl(t, dir, "", "status")
	if code != 0 || !strings.Contains(out, "recovered  receipt 1, 5 000 ₸ to +7701***4567, completed at start-up at ") {
		t.Errorf("kioskctl status: exit %d\n%s%s", code, out, errOut)
	}
	k2.stop()
}

// In --sim, config and status name the same acceptor: the CCNET driver on
// the emulator's pty.
func TestSimConfigSaysWhatRuns(t *testing.T) {
	dir := shortDir(t)
	k := startSim(t, dir)
	k.waitState("idle")
	out, _, code := ctl(t, dir, "", "config")
	if code != 0 || !strings.Contains(out, "    protocol: ccnet\n    port: "+dir+"/acceptor.tty\n") {
		t.Errorf("kioskctl config: exit %d\n%s", code, out)
	}
	out, _, code = ctl(t, dir, "", "status")
	if code != 0 || !strings.Contains(out, "acceptor  ccnet ") || !strings.Contains(out, " on "+dir+"/acceptor.tty\n") {
		t.Errorf("kioskctl status: exit %d\n%s", code, out)
	}
	k.stop()
}

// kioskctl against the real kioskd: options after or before the command,
// and collect with its input at an end is cancelled (exit 1), its reason on
// a line of its own, and nothing recorded.
func TestCtlOptionsAndCollectAtEndOfInput(t *testing.T) {
	dir := shortDir(t)
	k := startSim(t, dir)
	k.waitState("idle")
	for _, args := range [][]string{{"--json", "status"}, {"status", "--json"}} {
		if out, errOut, code := ctl(t, dir, "", args...); code != 0 || !strings.HasPrefix(out, "{") {
			t.Errorf("kioskctl %q: exit %d\n%s%s", args, code, out, errOut)
		}
	}
	out, errOut, code := ctl(t, dir, "", "collect")
	if code != 1 || !strings.HasSuffix(out, "Bag or seal number: \nerror: collect cancelled: the input ended before an answer; nothing was recorded\nMaintenance ended.\n") {
		t.Errorf("kioskctl collect < /dev/null: exit %d, want 1\n%q\n%s", code, out, errOut)
	}
	k.stop()
}
