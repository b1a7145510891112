package main

import (
	"context"
	"encoding/json"
	"fmt"
	"os"
	"os/exec"
	"path/filepath"
	"strings"
	"sync"
	"testing"
	"time"

	"tolem/kiosk"
)

var (
	ctlOnce sync.Once
	ctlBin  string
	ctlErr  error
)

// kioskctlBinary builds cmd/kioskctl once for the tests that run it
// against a real kioskd.
func kioskctlBinary(t *testing.T) string {
	t.Helper()
	if testing.Short() {
		t.Skip("builds and runs kioskctl")
	}
	ctlOnce.Do(func() {
		dir, err := os.MkdirTemp("", "kioskctl-bin")
		sharedTempDirs = append(sharedTempDirs, dir)
		if err != nil {
			ctlErr = err
			return
		}
		ctlBin = filepath.Join(dir, "kioskctl")
		out, err := exec.Command("go", "build", "-race", "-ldflags", "-X main.version=test", "-o", ctlBin, "../kioskctl").CombinedOutput()
		if err != nil {
			ctlErr = fmt.Errorf("go build kioskctl: %v\n%s", err, out)
		}
	})
	if ctlErr != nil {
		t.Fatal(ctlErr)
	}
	return ctlBin
}

// ctl runs kioskctl against the sim's control socket with stdin.
func ctl(t *testing.T, dir, stdin string, args ...string) (string, string, int) {
	t.Helper()
	cmd := exec.Command(kioskctlBinary(t), append([]string{"--socket", filepath.Join(dir, "control.sock")}, args...)...)
	cmd.Stdin = strings.NewReader(stdin)
	var out, errb strings.Builder
	cmd.Stdout, cmd.Stderr = &out, &errb
	err := cmd.Run()
	code := 0
	if ee, ok := err.(*exec.ExitError); ok {
		code = ee.ExitCode()
	} else if err != nil {
		t.Fatalf("kioskctl %v: %v", args, err)
	}
	return out.String(), errb.String(), code
}

// kioskctl against a running kioskd --sim: status --json prints the status
// document, and a collection typed on stdin is recorded in the ledger.
func TestCtlAgainstSim(t *testing.T) {
	dir := shortDir(t)
	k := startSim(t, dir)

	var st map[string]any
	deadline := time.Now().Add(30 * time.Second)
	for {
		out, errOut, code := ctl(t, dir, "", "status", "--json")
		if code == 0 {
			if err := json.Unmarshal([]byte(out), &st); err != nil {
				t.Fatalf("kioskctl status --json is not JSON: %v\n%s", err, out)
			}
			if st["state"] == "idle" {
				break
			}
		}
		if time.Now().After(deadline) {
			t.Fatalf("kioskctl status --json: exit %d: %s %v", code, errOut, st)
		}
		time.Sleep(100 * time.Millisecond)
	}
	if st["state"] != "idle" || st["version"] != "test" || st["terminal_id"] != simTerminal || st["sim"] != true {
		t.Errorf("status --json = %v", st)
	}
	if acc, _ := st["acceptor"].(map[string]any); acc["ready"] != true {
		t.Errorf("status --json acceptor = %v", st["acceptor"])
	}

	out, _, code := ctl(t, dir, "", "status")
	if code != 0 || !strings.Contains(out, "service   idle") || !strings.Contains(out, "KZ-SIM-0001 (simulated)") {
		t.Errorf("kioskctl status: exit %d:\n%s", code, out)
	}

	// A top-up, then its collection with the answers on stdin.
	k.toInsertCash()
	k.insertBill(2000, "2 000 ₸ inserted", func(s screenMsg) bool { return screenHas(s, "2 000 ₸") })
	k.send("KEY OK")
	k.waitState("done")
	out, errOut, code := ctl(t, dir, "BAG 77\ny\n", "collect")
	if code != 0 {
		t.Fatalf("kioskctl collect: exit %d\n%s\n%s", code, out, errOut)
	}
	for _, want := range []string{"total  1 bill  2 000 ₸", "Bag or seal number: BAG 77", "Collection recorded: 1 bill, 2 000 ₸, seal BAG 77."} {
		if !strings.Contains(out, want) {
			t.Errorf("collect output lacks %q:\n%s", want, out)
		}
	}
	out, _, code = ctl(t, dir, "", "txn", "1", "--json")
	var txn struct {
		TopUp struct {
			Amount kiosk.Money `json:"amount"`
			Phone  string      `json:"phone"`
		} `json:"topup"`
	}
	if err := json.Unmarshal([]byte(out), &txn); code != 0 || err != nil || txn.TopUp.Amount != kiosk.Tenge(2000) || txn.TopUp.Phone != "+7701***4567" {
		t.Errorf("txn 1 --json: exit %d: %s (%v)", code, out, err)
	}
	if _, _, code := ctl(t, dir, "", "txn"); code != 2 {
		t.Errorf("txn without a number: exit %d, want 2", code)
	}

	// Ctrl-C at the seal question: nothing recorded, the kiosk back in
	// service.
	cmd := exec.Command(kioskctlBinary(t), "--socket", filepath.Join(dir, "control.sock"), "collect")
	stdin, _ := cmd.StdinPipe()
	defer stdin.Close()
	var cout syncBuffer
	cmd.Stdout, cmd.Stderr = &cout, &cout
	if err := cmd.Start(); err != nil {
		t.Fatal(err)
	}
	deadline = time.Now().Add(30 * time.Second)
	for !strings.Contains(cout.String(), "Bag or seal number: ") {
		if time.Now().After(deadline) {
			cmd.Process.Kill()
			t.Fatalf("kioskctl collect never asked for the seal:\n%s", cout.String())
		}
		time.Sleep(20 * time.Millisecond)
	}
	cmd.Process.Signal(os.Interrupt)
	err := cmd.Wait()
	if ee, ok := err.(*exec.ExitError); !ok || ee.ExitCode() != 130 {
		t.Errorf("kioskctl collect after Ctrl-C: %v, want exit 130\n%s", err, cout.String())
	}
	if s := cout.String(); !strings.Contains(s, "collect cancelled: nothing was recorded") || !strings.Contains(s, "Maintenance ended.") {
		t.Errorf("kioskctl collect after Ctrl-C:\n%s", s)
	}
	k.stop()

	l := openLedger(t, dir)
	tail, _ := l.AuditTail(context.Background(), 30)
	collects := 0
	for _, e := range tail {
		if e.Action == "collect" && strings.HasPrefix(e.Actor, "ssh:") {
			collects++
			if !strings.Contains(e.Detail, "seal BAG 77") {
				t.Errorf("collection audited as %q", e.Detail)
			}
		}
	}
	if collects != 1 {
		t.Errorf("%d collections in the audit table, want 1: %+v", collects, tail)
	}
}
