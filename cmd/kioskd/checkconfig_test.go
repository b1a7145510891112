package main

import (
	"os"
	"os/user"
	"path/filepath"
	"strconv"
	"strings"
	"testing"
)

// rootLine is what --check-config says first when run as root, whom no
// permission stops.
func rootLine() string {
	if os.Geteuid() == 0 {
		return "  skipped  permissions: checked as root, who may do anything; kioskd runs as its own user (tolem): sudo -u tolem kioskd --check-config FILE checks them for it\n"
	}
	return ""
}

func whoAmI(t *testing.T) string {
	t.Helper()
	u, err := user.Current()
	if err != nil {
		return "uid " + strconv.Itoa(os.Getuid())
	}
	return "user " + u.Username
}

// --check-config refuses a config that cannot run, each problem once and
// the file named once, and says what it did not check.
func TestCheckConfigFindsWhatCannotRun(t *testing.T) {
	dir := t.TempDir()
	path := filepath.Join(dir, "kiosk.yaml")
	missing := filepath.Join(dir, "nope")
	os.WriteFile(path, []byte("terminal_id: KZ-ALA-0001\ndata_dir: "+missing+"\n"+
		"bank:\n  url: https://bank.example.kz:99999\n  secret: s3cret\n"+
		"acceptor:\n  protocol: ccnet\n  port: "+filepath.Join(dir, "ttyUSB9")+"\n"+
		"panel:\n  kind: sim\n  socket: "+filepath.Join(dir, "run", "panel.sock")+"\n"+
		"control:\n  socket: "+filepath.Join(dir, "control.sock")+"\n"), 0o600)
	var out, errb strings.Builder
	code := run([]string{"--check-config", path}, nil, &out, &errb)
	want := path + ":\n" +
		"  problem  line 4: bank.url: got port 99999 in \"https://bank.example.kz:99999\"; a port is 1…65535 (or leave it out for https's 443)\n" +
		rootLine() +
		"  problem  data_dir: " + missing + " does not exist: create it, owned by the user kioskd runs as (the .deb makes /var/lib/tolem), or set data_dir\n" +
		"  problem  acceptor.port: " + filepath.Join(dir, "ttyUSB9") + " does not exist: is the bill acceptor plugged in? ls /dev/serial/by-id/ lists the serial devices\n" +
		"  skipped  panel.socket: " + filepath.Join(dir, "run") + " does not exist yet: kioskd makes it at start (on a kiosk, systemd-tmpfiles makes /run/tolem at boot)\n" +
		"  ok       control.socket: " + dir + " is a directory " + whoAmI(t) + " can write\n" +
		"  skipped  the bank: whether https://bank.example.kz:99999 answers and takes this terminal's secret (kioskd asks at start; kioskctl status shows the bank)\n" +
		"  skipped  the acceptor: whether it answers on its port (kioskd polls it at start; kioskctl acceptor shows it)\n" +
		"3 problems: fix them before this config goes on a kiosk\n"
	if code != exitBadConfig || errb.String() != want || out.String() != "" {
		t.Errorf("exit %d, stderr:\n%s\nwant exit %d and:\n%s", code, errb.String(), exitBadConfig, want)
	}
	if strings.Count(errb.String(), path) != 1 {
		t.Errorf("the file is named %d times", strings.Count(errb.String(), path))
	}
}

// A config that can run: ok, with what was looked at and what was not.
func TestCheckConfigOK(t *testing.T) {
	dir := t.TempDir()
	path := filepath.Join(dir, "kiosk.yaml")
	os.WriteFile(path, []byte("terminal_id: KZ-ALA-0001\ndata_dir: "+dir+"\n"+
		"bank:\n  url: https://bank.example.kz\n  secret: s3cret\n"+
		"acceptor:\n  protocol: ccnet\n  port: /dev/null\n"+
		"panel:\n  kind: none\n"+
		"control:\n  socket: "+filepath.Join(dir, "control.sock")+"\n"), 0o600)
	var out, errb strings.Builder
	code := run([]string{"--check-config", path}, nil, &out, &errb)
	who := whoAmI(t)
	if code != exitOK {
		t.Logf("stdout:\n%s\nstderr:\n%s", out.String(), errb.String())
	}
	for _, line := range []string{
		"  ok       keys and values\n",
		"  ok       data_dir: " + dir + " is a directory " + who + " can write\n",
		"  ok       acceptor.port: /dev/null is a serial device " + who + " can read and write\n",
		"  ok       control.socket: " + dir + " is a directory " + who + " can write\n",
		"ok: kioskd can start with this config; what is skipped above is checked when it does\n",
	} {
		if code != exitOK || !strings.Contains(out.String(), line) {
			t.Errorf("exit %d; stdout lacks %q:\n%s%s", code, line, out.String(), errb.String())
		}
	}
}

// --keys-only, what a package upgrade runs, passes a config whose acceptor
// is unplugged (kioskd starts without it) and still refuses a wrong value.
func TestCheckConfigKeysOnlyLeavesTheMachineOut(t *testing.T) {
	dir := t.TempDir()
	path := filepath.Join(dir, "kiosk.yaml")
	cfg := "terminal_id: KZ-ALA-0001\ndata_dir: " + dir + "\n" +
		"bank:\n  url: https://bank.example.kz\n  secret: s3cret\n" +
		"acceptor:\n  protocol: ccnet\n  port: " + filepath.Join(dir, "ttyUSB9") + "\n"
	os.WriteFile(path, []byte(cfg), 0o600)
	var out, errb strings.Builder
	if code := run([]string{"--check-config", path}, nil, &out, &errb); code != exitBadConfig {
		t.Fatalf("without --keys-only: exit %d, want %d for the unplugged acceptor:\n%s%s", code, exitBadConfig, out.String(), errb.String())
	}
	out.Reset()
	errb.Reset()
	if code := run([]string{"--check-config", path, "--keys-only"}, nil, &out, &errb); code != exitOK ||
		!strings.Contains(out.String(), "skipped  the machine: not looked at (--keys-only)") || strings.Contains(out.String(), "ttyUSB9") {
		t.Fatalf("--keys-only: exit %d, stdout:\n%s\nstderr:\n%s\nwant exit 0 and the machine not looked at", code, out.String(), errb.String())
	}
	os.WriteFile(path, []byte(strings.Replace(cfg, "https://bank.example.kz", "https://bank.example.kz:99999", 1)), 0o600)
	errb.Reset()
	if code := run([]string{"--check-config", path, "--keys-only"}, nil, &out, &errb); code != exitBadConfig || !strings.Contains(errb.String(), "bank.url") {
		t.Fatalf("--keys-only with a wrong port: exit %d, stderr:\n%s\nwant exit %d naming bank.url", code, errb.String(), exitBadConfig)
	}
}
