package main

import (
	"bufio"
	"io"
	"net"
	"os"
	"os/exec"
	"path/filepath"
	"strings"
	"testing"
	"time"
)

// TestStartAfterPowerCutFiveYears times kioskd --sim (built as shipped,
// without the race detector) from its start to the idle screen on a copy of
// the five-year ledger (kiosk/ledger's BenchmarkLedgerSize makes it), first
// after a clean stop, then after a kill -9 that leaves the ledger's -wal
// with frames in it. It runs only when TOLEM_LEDGER_5Y names the file:
//
//	TOLEM_LEDGER_5Y=/tmp/tolem-ledger-5y-v1.db go test -run TestStartAfterPowerCutFiveYears -v ./cmd/kioskd/
func TestStartAfterPowerCutFiveYears(t *testing.T) {
	src := os.Getenv("TOLEM_LEDGER_5Y")
	if src == "" {
		t.Skip("set TOLEM_LEDGER_5Y to the five-year ledger (BenchmarkLedgerSize makes it)")
	}
	bin := filepath.Join(t.TempDir(), "kioskd")
	if out, err := exec.Command("go", "build", "-o", bin, ".").CombinedOutput(); err != nil {
		t.Fatalf("go build: %v\n%s", err, out)
	}
	dir := shortDir(t)
	in, err := os.Open(src)
	if err != nil {
		t.Fatal(err)
	}
	out, err := os.Create(filepath.Join(dir, "ledger.db"))
	if err != nil {
		t.Fatal(err)
	}
	if _, err := io.Copy(out, in); err != nil {
		t.Fatal(err)
	}
	in.Close()
	if err := out.Close(); err != nil {
		t.Fatal(err)
	}

	var begin time.Time
	start := func() (*simKiosk, time.Duration) {
		k := &simKiosk{t: t, dir: dir, logs: &syncBuffer{}}
		k.cmd = exec.Command(bin, "--sim", "--headless", "--sim-acceptor", "inproc", "--data-dir", dir)
		k.cmd.Stdout, k.cmd.Stderr = io.Discard, k.logs
		begin = time.Now()
		if err := k.cmd.Start(); err != nil {
			t.Fatal(err)
		}
		t.Cleanup(func() {
			if k.cmd.ProcessState == nil {
				k.cmd.Process.Kill()
				k.cmd.Wait()
			}
		})
		for k.conn == nil {
			if c, err := net.Dial("unix", filepath.Join(dir, "panel.sock")); err == nil {
				k.conn, k.rd = c, bufio.NewReader(c)
			} else if time.Since(begin) > time.Minute {
				t.Fatalf("panel socket never came up: %v\n%s", err, k.logs.String())
			} else {
				time.Sleep(2 * time.Millisecond)
			}
		}
		k.waitState("idle")
		return k, time.Since(begin)
	}

	// The first start applies the migrations newer than the generated file.
	k, d := start()
	t.Logf("first start (migrations): %v to idle", d.Round(time.Millisecond))
	k.stop()
	k, d = start()
	t.Logf("after a clean stop: %v to idle", d.Round(time.Millisecond))
	// A top-up, then the power goes.
	k.send("KEY OK")
	k.waitState("enter_phone")
	k.keys("7011234567")
	k.waitScreen("the typed number", func(s screenMsg) bool { return screenHas(s, "+7 (701) 123-45-67") })
	k.send("KEY OK")
	k.waitState("confirm")
	k.send("KEY OK")
	k.waitState("insert_cash")
	k.insertBill(1000, "1 000 ₸ inserted", func(s screenMsg) bool { return screenHas(s, "1 000 ₸") })
	k.send("KEY OK")
	k.waitState("done")
	k.cmd.Process.Kill()
	k.cmd.Wait()
	if st, err := os.Stat(filepath.Join(dir, "ledger.db-wal")); err != nil || st.Size() == 0 {
		t.Fatalf("no -wal with frames after the kill: %v", err)
	}
	k, d = start()
	t.Logf("after a power cut: %v to idle", d.Round(time.Millisecond))
	if !strings.Contains(k.logs.String(), "unclean_shutdown=true") {
		t.Errorf("the ledger did not see the unclean shutdown:\n%s", k.logs.String())
	}
	deadline := time.Now().Add(5 * time.Minute)
	for !strings.Contains(k.logs.String(), "ledger quick_check ok") {
		if time.Now().After(deadline) {
			t.Fatalf("the background check did not end:\n%s", k.logs.String())
		}
		time.Sleep(10 * time.Millisecond)
	}
	t.Logf("background quick_check ok %v after the start", time.Since(begin).Round(time.Millisecond))
	k.stop()
}
