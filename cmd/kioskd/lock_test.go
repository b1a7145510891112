package main

import (
	"context"
	"errors"
	"fmt"
	"net/http"
	"os"
	"os/exec"
	"path/filepath"
	"strings"
	"testing"
	"time"
)

// A second kioskd --sim on a running kiosk's data dir refuses at once,
// naming the running one's pid, and leaves the running kiosk whole: its
// acceptor link, its sockets, its customer mid-session.
func TestSecondSimOnTheSameDataDirRefuses(t *testing.T) {
	dir := shortDir(t)
	k := startSim(t, dir)
	k.toInsertCash()
	link := filepath.Join(dir, "acceptor.tty")
	target, err := os.Readlink(link)
	if err != nil {
		t.Fatalf("the running kiosk has no acceptor link: %v", err)
	}

	ctx, cancel := context.WithTimeout(context.Background(), 30*time.Second)
	defer cancel()
	second := exec.CommandContext(ctx, kioskdBinary(t), "--sim", "--headless", "--data-dir", dir)
	out, err := second.CombinedOutput()
	var exit *exec.ExitError
	if !errors.As(err, &exit) || exit.ExitCode() != exitAlreadyRunning {
		t.Fatalf("second kioskd: %v, want exit %d\n%s", err, exitAlreadyRunning, out)
	}
	msg := string(out)
	for _, want := range []string{"already running", fmt.Sprintf("pid %d", k.cmd.Process.Pid), dir} {
		if !strings.Contains(msg, want) {
			t.Errorf("message %q does not say %q", msg, want)
		}
	}
	for _, started := range []string{"bank sandbox", "emulated", "kioskd starting"} {
		if strings.Contains(msg, started) {
			t.Errorf("the refused kioskd got as far as %q:\n%s", started, msg)
		}
	}

	if got, err := os.Readlink(link); err != nil || got != target {
		t.Errorf("acceptor link after the refusal: %q, %v; want %q", got, err, target)
	}
	code, raw := conClient(filepath.Join(dir, "control.sock")).do(t, http.MethodGet, "/v1/health", nil)
	if code != http.StatusOK {
		t.Errorf("the running kiosk's control socket: %d %s", code, raw)
	}
	k.insertBill(1000, "1 000 ₸ inserted", func(s screenMsg) bool { return screenHas(s, "1 000 ₸") })
	k.send("KEY OK")
	k.waitState("done")
	k.stop()
}

// kioskd --config refuses the same way while its data dir is held, and
// starts once the holder lets go.
func TestConfigOnAHeldDataDirRefuses(t *testing.T) {
	dir := shortDir(t)
	cfgPath := filepath.Join(dir, "kiosk.yaml")
	os.WriteFile(cfgPath, []byte("terminal_id: KZ-T-1\ndata_dir: "+dir+"\nbank: {url: 'http://127.0.0.1:9', secret: s}\nacceptor: {protocol: sim}\npanel: {kind: none}\ncontrol: {socket: "+dir+"/c.sock}\n"), 0o600)
	held, err := lockDataDir(dir)
	if err != nil {
		t.Fatal(err)
	}
	ctx, cancel := context.WithTimeout(context.Background(), 30*time.Second)
	defer cancel()
	out, err := exec.CommandContext(ctx, kioskdBinary(t), "--config", cfgPath).CombinedOutput()
	var exit *exec.ExitError
	if !errors.As(err, &exit) || exit.ExitCode() != exitAlreadyRunning || !strings.Contains(string(out), fmt.Sprintf("pid %d", os.Getpid())) {
		t.Errorf("kioskd: %v, output %q; want exit %d naming pid %d", err, out, exitAlreadyRunning, os.Getpid())
	}
	if _, err := os.Stat(filepath.Join(dir, "ledger.db")); !errors.Is(err, os.ErrNotExist) {
		t.Errorf("the refused kioskd touched the ledger: %v", err)
	}
	held.Release()
	again, err := lockDataDir(dir)
	if err != nil {
		t.Fatalf("the lock was not released: %v", err)
	}
	again.Release()
}
