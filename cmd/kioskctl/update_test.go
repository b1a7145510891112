package main

import (
	"bytes"
	"encoding/json"
	"fmt"
	"net"
	"net/http"
	"os"
	"path/filepath"
	"strings"
	"sync"
	"testing"
	"time"

	"aead.dev/minisign"

	"tolem/kiosk/update"
)

// kiosk is a kiosk for the command: a config file, an update root, a fleet
// key, and a fake kioskd whose version is whatever current points at (as
// if restart_command restarted it).
type kiosk struct {
	t      *testing.T
	dir    string
	root   string
	config string
	priv   minisign.PrivateKey

	mu   sync.Mutex
	sick map[string]bool
}

func newKiosk(t *testing.T, healthTimeout string) *kiosk {
	t.Helper()
	dir := t.TempDir()
	sockDir, err := os.MkdirTemp("", "up")
	if err != nil {
		t.Fatal(err)
	}
	t.Cleanup(func() { os.RemoveAll(sockDir) })
	pub, priv, err := minisign.GenerateKey(nil)
	if err != nil {
		t.Fatal(err)
	}
	k := &kiosk{t: t, dir: dir, root: filepath.Join(dir, "opt"), config: filepath.Join(dir, "kiosk.yaml"), priv: priv, sick: map[string]bool{}}
	socket := filepath.Join(sockDir, "c.sock")
	cfg := fmt.Sprintf(`terminal_id: KZ-TEST-0001
data_dir: %s
bank: {url: "http://127.0.0.1:9", secret: s3cret}
acceptor: {protocol: sim}
control: {socket: %s}
update:
  root: %s
  keys: [%s]
  restart_command: [true]
  health_timeout: %s
`, filepath.Join(dir, "data"), socket, k.root, pub.String(), healthTimeout)
	if err := os.WriteFile(k.config, []byte(cfg), 0o600); err != nil {
		t.Fatal(err)
	}

	ln, err := net.Listen("unix", socket)
	if err != nil {
		t.Fatal(err)
	}
	mux := http.NewServeMux()
	mux.HandleFunc("POST /v1/drain", func(w http.ResponseWriter, _ *http.Request) {})
	mux.HandleFunc("GET /v1/health", func(w http.ResponseWriter, _ *http.Request) {
		target, _ := os.Readlink(filepath.Join(k.root, "current"))
		v := filepath.Base(target)
		k.mu.Lock()
		sick := k.sick[v]
		k.mu.Unlock()
		json.NewEncoder(w).Encode(update.Health{Healthy: !sick, Version: v, Checks: map[string]any{"acceptor": !sick}})
	})
	srv := &http.Server{Handler: mux}
	go srv.Serve(ln)
	t.Cleanup(func() { srv.Close() })

	updateHooks.arch = "armv6"
	t.Cleanup(func() { updateHooks.arch = "" })
	return k
}

func (k *kiosk) release(version, arch string) string {
	k.t.Helper()
	files := []update.PackFile{
		{Path: "bin/kioskd", Mode: 0o755, Data: []byte("kioskd " + version)},
		{Path: "bin/kioskctl", Mode: 0o755, Data: []byte("kioskctl " + version)},
	}
	var buf bytes.Buffer
	if _, err := update.Pack(&buf, version, arch, files, time.Unix(0, 0)); err != nil {
		k.t.Fatal(err)
	}
	name := fmt.Sprintf("tolem-%s-linux-%s.tar.gz", version, arch)
	path := filepath.Join(k.dir, name)
	sig, err := update.Sign(k.priv, bytes.NewReader(buf.Bytes()), name, time.Now())
	if err != nil {
		k.t.Fatal(err)
	}
	if err := os.WriteFile(path, buf.Bytes(), 0o644); err != nil {
		k.t.Fatal(err)
	}
	if err := os.WriteFile(path+".minisig", sig, 0o644); err != nil {
		k.t.Fatal(err)
	}
	return path
}

func (k *kiosk) run(args ...string) (code int, stdout, stderr string) {
	var out, errb bytes.Buffer
	code = runUpdate(args, &out, &errb)
	return code, out.String(), errb.String()
}

func (k *kiosk) current() string {
	target, err := os.Readlink(filepath.Join(k.root, "current"))
	if err != nil {
		return ""
	}
	return filepath.Base(target)
}

func TestUpdateExitCodes(t *testing.T) {
	k := newKiosk(t, "1s")
	v100 := k.release("1.0.0", "armv6")
	v110 := k.release("1.1.0", "armv6")

	steps := []struct {
		name    string
		args    []string
		code    int
		current string
		say     string
	}{
		{"first install", []string{"apply", "--config", k.config, v100}, exitUpdated, "1.0.0", "updated nothing -> 1.0.0"},
		{"update", []string{"apply", v110, "--config", k.config}, exitUpdated, "1.1.0", "updated 1.0.0 -> 1.1.0"},
		{"same again", []string{"apply", "--config", k.config, v110}, exitInstalled, "1.1.0", "already installed"},
		{"older", []string{"apply", "--config", k.config, v100}, exitDowngrade, "1.1.0", "--allow-downgrade"},
		{"older on purpose", []string{"apply", "--allow-downgrade", "--config", k.config, v100}, exitUpdated, "1.0.0", "updated 1.1.0 -> 1.0.0"},
		{"wrong arch", []string{"apply", "--config", k.config, k.release("1.2.0", "arm64")}, exitWrongArch, "1.0.0", "built for arm64"},
		{"wrong signature", []string{"apply", "--config", k.config, "--sig", v100 + ".minisig", v110}, exitBadRelease, "1.0.0", "does not match"},
		{"no file", []string{"apply", "--config", k.config}, exitUsage, "1.0.0", "exactly one"},
		{"no config", []string{"apply", "--config", filepath.Join(k.dir, "none.yaml"), v110}, exitFailed, "1.0.0", "--config"},
		{"unknown command", []string{"frobnicate"}, exitUsage, "1.0.0", "unknown command"},
	}
	for _, s := range steps {
		code, stdout, stderr := k.run(s.args...)
		if code != s.code {
			t.Errorf("%s: exit %d, want %d\nstdout: %s\nstderr: %s", s.name, code, s.code, stdout, stderr)
		}
		if got := k.current(); got != s.current {
			t.Errorf("%s: current %s, want %s", s.name, got, s.current)
		}
		if !strings.Contains(stdout+stderr, s.say) {
			t.Errorf("%s: output does not say %q:\n%s%s", s.name, s.say, stdout, stderr)
		}
	}
}

func TestUpdateRollsBackWithExitSix(t *testing.T) {
	k := newKiosk(t, "1s")
	if code, _, stderr := k.run("apply", "--config", k.config, k.release("1.0.0", "armv6")); code != 0 {
		t.Fatalf("install: %d %s", code, stderr)
	}
	k.mu.Lock()
	k.sick["2.0.0"] = true
	k.mu.Unlock()
	code, stdout, stderr := k.run("apply", "--json", "--config", k.config, k.release("2.0.0", "armv6"))
	if code != exitRolledBack {
		t.Fatalf("exit %d, want %d\n%s", code, exitRolledBack, stderr)
	}
	var res map[string]any
	if err := json.Unmarshal([]byte(stdout), &res); err != nil {
		t.Fatalf("--json output: %v\n%s", err, stdout)
	}
	if res["result"] != "rolled_back" || !strings.Contains(fmt.Sprint(res["error"]), "acceptor=false") {
		t.Errorf("json = %v", res)
	}
	if k.current() != "1.0.0" {
		t.Errorf("current %s after the rollback", k.current())
	}

	code, stdout, _ = k.run("status", "--config", k.config, "--json")
	var st update.Status
	if code != 0 || json.Unmarshal([]byte(stdout), &st) != nil {
		t.Fatalf("status: %d %s", code, stdout)
	}
	if st.Current != "1.0.0" || st.LastUpdate == nil || st.LastUpdate.State != update.StateRolledBack || st.Arch != "armv6" {
		t.Errorf("status = %+v", st)
	}
	if code, stdout, _ := k.run("recover", "--config", k.config); code != 0 || !strings.Contains(stdout, "no unfinished update") {
		t.Errorf("recover: %d %s", code, stdout)
	}
}

func TestUpdateVerifyAndArch(t *testing.T) {
	k := newKiosk(t, "1s")
	code, stdout, stderr := k.run("verify", "--config", k.config, k.release("1.0.0", "armv6"))
	if code != 0 || !strings.Contains(stdout, "valid: tolem 1.0.0 for armv6") {
		t.Errorf("verify: %d %s %s", code, stdout, stderr)
	}
	if code, _, _ := k.run("verify", "--config", k.config, k.release("1.0.0", "amd64")); code != exitWrongArch {
		t.Errorf("verify of another arch: exit %d", code)
	}
	if _, err := os.Stat(k.root); err == nil {
		t.Error("verify installed something")
	}
	if code, stdout, _ := k.run("arch"); code != 0 || stdout != "armv6\n" {
		t.Errorf("arch: %d %q", code, stdout)
	}
}
