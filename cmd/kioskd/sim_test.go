package main

import (
	"bufio"
	"bytes"
	"context"
	"encoding/json"
	"fmt"
	"net"
	"os"
	"os/exec"
	"path/filepath"
	"strings"
	"sync"
	"syscall"
	"testing"
	"time"

	"tolem/kiosk"
	"tolem/kiosk/ledger"
)

// These tests run the real kioskd binary in --sim mode and drive it through
// the panel socket exactly as SPEC §5 describes, like an outside test would.

var (
	buildOnce sync.Once
	kioskdBin string
	buildErr  error
)

func kioskdBinary(t *testing.T) string {
	t.Helper()
	if testing.Short() {
		t.Skip("builds and runs the daemon")
	}
	buildOnce.Do(func() {
		dir, err := os.MkdirTemp("", "kioskd-bin")
		sharedTempDirs = append(sharedTempDirs, dir)
		if err != nil {
			buildErr = err
			return
		}
		kioskdBin = filepath.Join(dir, "kioskd")
		out, err := exec.Command("go", "build", "-race", "-ldflags", "-X main.version=test", "-o", kioskdBin, ".").CombinedOutput()
		if err != nil {
			buildErr = fmt.Errorf("go build: %v\n%s", err, out)
		}
	})
	if buildErr != nil {
		t.Fatal(buildErr)
	}
	return kioskdBin
}

type simKiosk struct {
	t    *testing.T
	dir  string
	cmd  *exec.Cmd
	logs *syncBuffer
	conn net.Conn
	rd   *bufio.Reader
	last screenMsg
}

type screenMsg struct {
	State string    `json:"state"`
	Lines [4]string `json:"lines"`
}

type syncBuffer struct {
	mu sync.Mutex
	b  bytes.Buffer
}

func (s *syncBuffer) Write(p []byte) (int, error) {
	s.mu.Lock()
	defer s.mu.Unlock()
	return s.b.Write(p)
}

func (s *syncBuffer) String() string {
	s.mu.Lock()
	defer s.mu.Unlock()
	return s.b.String()
}

// shortDir keeps socket paths under the 108-byte limit of unix sockets,
// which t.TempDir() under a long test name can exceed.
func shortDir(t *testing.T) string {
	t.Helper()
	dir, err := os.MkdirTemp("", "tk")
	if err != nil {
		t.Fatal(err)
	}
	t.Cleanup(func() { os.RemoveAll(dir) })
	return dir
}

func startSim(t *testing.T, dir string, extra ...string) *simKiosk {
	t.Helper()
	bin := kioskdBinary(t)
	k := &simKiosk{t: t, dir: dir, logs: &syncBuffer{}}
	args := append([]string{"--sim", "--headless", "--data-dir", dir}, extra...)
	k.cmd = exec.Command(bin, args...)
	k.cmd.Stdout = k.logs
	k.cmd.Stderr = k.logs
	if err := k.cmd.Start(); err != nil {
		t.Fatal(err)
	}
	t.Cleanup(func() {
		if k.cmd.ProcessState == nil {
			k.cmd.Process.Kill()
			k.cmd.Wait()
		}
		if t.Failed() {
			t.Logf("kioskd output:\n%s", k.logs.String())
		}
	})
	sock := filepath.Join(dir, "panel.sock")
	deadline := time.Now().Add(60 * time.Second)
	for {
		c, err := net.Dial("unix", sock)
		if err == nil {
			k.conn = c
			k.rd = bufio.NewReader(c)
			break
		}
		if time.Now().After(deadline) {
			t.Fatalf("panel socket %s never came up: %v", sock, err)
		}
		time.Sleep(50 * time.Millisecond)
	}
	return k
}

// next reads the daemon's next SCREEN or ERR line, waiting until deadline;
// a SCREEN becomes the last screen seen. isErr reports an ERR line.
func (k *simKiosk) next(what string, deadline time.Time) (s screenMsg, isErr bool) {
	k.t.Helper()
	k.conn.SetReadDeadline(deadline)
	for {
		line, err := k.rd.ReadString('\n')
		if err != nil {
			k.t.Fatalf("waiting for %s (last screen %s %q): %v", what, k.last.State, k.last.Lines, err)
		}
		if strings.HasPrefix(line, "ERR ") {
			return screenMsg{}, true
		}
		rest, found := strings.CutPrefix(line, "SCREEN ")
		if !found {
			continue
		}
		if err := json.Unmarshal([]byte(rest), &s); err != nil {
			k.t.Fatalf("bad SCREEN line %q: %v", line, err)
		}
		k.last = s
		return s, false
	}
}

// waitScreen reads SCREEN lines until one satisfies ok.
func (k *simKiosk) waitScreen(what string, ok func(screenMsg) bool) screenMsg {
	k.t.Helper()
	deadline := time.Now().Add(45 * time.Second)
	for {
		if s, isErr := k.next(what, deadline); !isErr && ok(s) {
			return s
		}
	}
}

// insertBill feeds a banknote and waits for the screen ok accepts. The
// acceptor takes a bill only once the flow has enabled it, a few polls after
// insert_cash shows, as a customer at the slot would find: a bill offered
// too early (ERR) is offered again.
func (k *simKiosk) insertBill(tenge int64, what string, ok func(screenMsg) bool) screenMsg {
	k.t.Helper()
	deadline := time.Now().Add(45 * time.Second)
	k.send(fmt.Sprintf("BILL %d", tenge))
	for {
		s, isErr := k.next(what, deadline)
		if isErr {
			time.Sleep(100 * time.Millisecond)
			k.send(fmt.Sprintf("BILL %d", tenge))
			continue
		}
		if ok(s) {
			return s
		}
	}
}

func (k *simKiosk) waitState(state string) screenMsg {
	k.t.Helper()
	return k.waitScreen(state, func(s screenMsg) bool { return s.State == state })
}

func (k *simKiosk) send(lines ...string) {
	k.t.Helper()
	for _, l := range lines {
		if _, err := fmt.Fprintf(k.conn, "%s\n", l); err != nil {
			k.t.Fatal(err)
		}
	}
}

func (k *simKiosk) keys(s string) {
	k.t.Helper()
	for _, r := range s {
		k.send("KEY " + string(r))
	}
}

func screenHas(s screenMsg, text string) bool {
	return strings.Contains(strings.Join(s.Lines[:], "\n"), text)
}

func (k *simKiosk) stop() {
	k.t.Helper()
	k.cmd.Process.Signal(syscall.SIGTERM)
	done := make(chan error, 1)
	go func() { done <- k.cmd.Wait() }()
	select {
	case err := <-done:
		if err != nil {
			k.t.Errorf("kioskd exited with %v", err)
		}
	case <-time.After(30 * time.Second):
		k.cmd.Process.Kill()
		k.t.Fatal("kioskd did not stop within 30 s of SIGTERM")
	}
}

func (k *simKiosk) kill() {
	k.cmd.Process.Kill()
	k.cmd.Wait()
}

func openLedger(t *testing.T, dir string) *ledger.Ledger {
	t.Helper()
	l, err := ledger.Open(context.Background(), filepath.Join(dir, "ledger.db"), ledger.Options{})
	if err != nil {
		t.Fatal(err)
	}
	t.Cleanup(func() { l.Close() })
	return l
}

// toInsertCash walks a customer from idle to insert_cash with a known wallet.
func (k *simKiosk) toInsertCash() {
	k.t.Helper()
	k.waitState("idle")
	k.send("KEY OK")
	k.waitState("enter_phone")
	k.keys("7011234567")
	k.waitScreen("the typed number", func(s screenMsg) bool { return screenHas(s, "+7 (701) 123-45-67") })
	k.send("KEY OK")
	s := k.waitState("confirm")
	if !screenHas(s, "Нурлан К.") {
		k.t.Errorf("confirm screen %q does not show the name the bank sent", s.Lines)
	}
	k.send("KEY OK")
	k.waitState("insert_cash")
}

// simAcceptors are the emulated acceptors the daemon's --sim tests run
// over, each through its real driver: a new protocol is one more row.
var simAcceptors = []struct {
	name  string // --sim-acceptor
	state string // the emulator's state file in the data dir
}{
	{"ccnet", "acceptor.json"},
	{"id003", "acceptor-id003.json"},
}

// forEachAcceptor runs test once per emulated acceptor, with the flags that
// choose it.
func forEachAcceptor(t *testing.T, test func(t *testing.T, acc []string, state string)) {
	for _, a := range simAcceptors {
		t.Run(a.name, func(t *testing.T) { test(t, []string{"--sim-acceptor", a.name}, a.state) })
	}
}

func TestSimTopUpThroughPanelSocket(t *testing.T) {
	forEachAcceptor(t, func(t *testing.T, acc []string, _ string) { testSimTopUp(t, acc) })
}

func testSimTopUp(t *testing.T, acc []string) {
	dir := shortDir(t)
	k := startSim(t, dir, acc...)
	k.toInsertCash()
	k.insertBill(1000, "1 000 ₸ inserted", func(s screenMsg) bool { return screenHas(s, "1 000 ₸") })
	k.insertBill(2000, "3 000 ₸ inserted", func(s screenMsg) bool { return screenHas(s, "3 000 ₸") })
	k.send("KEY OK")
	done := k.waitState("done")
	if !screenHas(done, "3 000 ₸") {
		t.Errorf("done screen %q does not show the amount", done.Lines)
	}
	k.stop()

	l := openLedger(t, dir)
	tu, _, err := l.TopUpByReceipt(context.Background(), 1)
	if err != nil {
		t.Fatalf("receipt 1: %v", err)
	}
	if tu.Amount != kiosk.Tenge(3000) || tu.Phone != "+77011234567" {
		t.Errorf("top-up = %+v, want 3 000 ₸ to +77011234567", tu)
	}
	want := []kiosk.BillCount{{Value: kiosk.Tenge(1000), Count: 1}, {Value: kiosk.Tenge(2000), Count: 1}}
	if fmt.Sprint(tu.Bills) != fmt.Sprint(want) {
		t.Errorf("bills = %v, want %v", tu.Bills, want)
	}
	if _, _, err := l.TopUpByReceipt(context.Background(), 2); err == nil {
		t.Error("a second top-up exists")
	}
}

// A power cut after a bill is stacked but before PAY: the customer paid, so
// the restarted kiosk completes the top-up by itself, exactly once.
func TestSimKilledMidSessionRecoversTheMoney(t *testing.T) {
	forEachAcceptor(t, func(t *testing.T, acc []string, _ string) { testSimKilledMidSession(t, acc) })
}

func testSimKilledMidSession(t *testing.T, acc []string) {
	dir := shortDir(t)
	k := startSim(t, dir, acc...)
	k.toInsertCash()
	k.insertBill(5000, "5 000 ₸ inserted", func(s screenMsg) bool { return screenHas(s, "5 000 ₸") })
	k.kill()

	k2 := startSim(t, dir, acc...)
	k2.waitState("idle")
	k2.stop()
	for range 2 { // a second restart must not complete it again
		k3 := startSim(t, dir, acc...)
		k3.waitState("idle")
		k3.stop()
	}

	l := openLedger(t, dir)
	tu, _, err := l.TopUpByReceipt(context.Background(), 1)
	if err != nil {
		t.Fatalf("the interrupted session was not completed: %v", err)
	}
	if tu.Amount != kiosk.Tenge(5000) || !tu.Recovered {
		t.Errorf("recovered top-up = %+v, want 5 000 ₸ marked recovered", tu)
	}
	if _, _, err := l.TopUpByReceipt(context.Background(), 2); err == nil {
		t.Error("the money was counted in two top-ups")
	}
}

func TestSimVersionAndCheckConfig(t *testing.T) {
	bin := kioskdBinary(t)
	out, err := exec.Command(bin, "-version").CombinedOutput()
	if err != nil || strings.TrimSpace(string(out)) != "kioskd test" {
		t.Errorf("kioskd -version = %q, %v", out, err)
	}
	bad := filepath.Join(t.TempDir(), "bad.yaml")
	os.WriteFile(bad, []byte("terminal_id: KZ-1\nlimts: {}\n"), 0o600)
	out, err = exec.Command(bin, "--check-config", bad).CombinedOutput()
	if ee, ok := err.(*exec.ExitError); !ok || ee.ExitCode() != exitBadConfig {
		t.Errorf("--check-config on a bad file: %v, want exit %d", err, exitBadConfig)
	}
	if !strings.Contains(string(out), "limts") {
		t.Errorf("the error does not name the unknown key: %s", out)
	}
}
