package main

import (
	"bytes"
	"context"
	"encoding/json"
	"errors"
	"fmt"
	"net"
	"net/http"
	"os"
	"os/exec"
	"path/filepath"
	"strings"
	"sync"
	"testing"
	"time"

	"aead.dev/minisign"

	"tolem/kiosk/update"
)

// TestFleetUpdateStopsAtRollback runs configs/ansible/update.yml over real
// SSH against three kiosks on this machine, one wave each: kiosk-a takes
// 1.1.0, kiosk-b's 1.1.0 never turns healthy so kioskctl rolls it back,
// and the rollout must stop there with kiosk-c untouched on 1.0.0.
func TestFleetUpdateStopsAtRollback(t *testing.T) {
	if testing.Short() {
		t.Skip("fleet test: runs sshd and ansible-playbook, not with -short")
	}
	if _, err := os.Stat(sshdPath); err != nil {
		t.Skipf("fleet test: no %s (make test-deps installs openssh-server)", sshdPath)
	}
	for _, tool := range []string{"ansible-playbook", "ssh", "ssh-keygen", "go"} {
		if _, err := exec.LookPath(tool); err != nil {
			t.Skipf("fleet test: no %s on PATH (make test-deps installs ansible-core and openssh-server)", tool)
		}
	}
	if os.Geteuid() != 0 {
		// The playbook becomes root and makes its files root's.
		t.Skip("fleet test: the playbook installs as root over SSH; run as root (CI does)")
	}

	// Short: the control sockets live here, and unix socket paths are
	// limited to 108 bytes.
	dir, err := os.MkdirTemp("", "fl")
	if err != nil {
		t.Fatal(err)
	}
	t.Cleanup(func() { os.RemoveAll(dir) })

	sshd := startSSHD(t, dir)
	kioskctl := buildKioskctl(t, dir)

	pub, priv, err := minisign.GenerateKey(nil)
	if err != nil {
		t.Fatal(err)
	}
	arch := update.LocalArch()
	dist := filepath.Join(dir, "dist")
	old := signedRelease(t, priv, filepath.Join(dir, "base"), "1.0.0", arch)
	signedRelease(t, priv, dist, "1.1.0", arch)

	kiosks := []*fleetKiosk{
		newFleetKiosk(t, dir, "kiosk-a", pub.String(), ""),
		newFleetKiosk(t, dir, "kiosk-b", pub.String(), "1.1.0"),
		newFleetKiosk(t, dir, "kiosk-c", pub.String(), ""),
	}
	for _, k := range kiosks {
		k.provision(kioskctl, old)
	}

	inventory := writeFleetInventory(t, dir, sshd, kioskctl, kiosks)
	playbook, err := filepath.Abs(filepath.Join("..", "..", "configs", "ansible", "update.yml"))
	if err != nil {
		t.Fatal(err)
	}
	out, runErr := runPlaybook(t, dir, inventory, playbook,
		"-e", "tolem_version=1.1.0",
		"-e", "tolem_dist="+dist,
		"-e", `{"tolem_waves": [1], "tolem_poll": 1}`)
	t.Logf("ansible-playbook:\n%s", out)

	var exitErr *exec.ExitError
	if runErr == nil {
		t.Error("ansible-playbook succeeded although kiosk-b rolled back")
	} else if !errors.As(runErr, &exitErr) {
		t.Fatalf("ansible-playbook did not run: %v", runErr)
	}
	if !strings.Contains(out, "kiosk-b: FAILED (exit 6)") || !strings.Contains(out, "The remaining waves are not started") {
		t.Error("the playbook output does not report kiosk-b's rollback (exit 6) and the stop")
	}

	a, b, c := kiosks[0], kiosks[1], kiosks[2]
	if got := a.current(); got != "1.1.0" {
		t.Errorf("kiosk-a: current %s, want 1.1.0", got)
	}
	if got := a.running(); got != "1.1.0" {
		t.Errorf("kiosk-a: daemon runs %s, want 1.1.0", got)
	}
	if got := b.current(); got != "1.0.0" {
		t.Errorf("kiosk-b: current %s after the rollback, want 1.0.0", got)
	}
	if got := b.running(); got != "1.0.0" {
		t.Errorf("kiosk-b: daemon runs %s after the rollback, want 1.0.0", got)
	}
	if j, err := update.ReadJournal(b.root); err != nil || j == nil || j.State != update.StateRolledBack {
		t.Errorf("kiosk-b: journal %+v (%v), want state %s", j, err, update.StateRolledBack)
	}
	if got := c.current(); got != "1.0.0" {
		t.Errorf("kiosk-c: current %s, want 1.0.0: the rollout went on after kiosk-b failed", got)
	}
	if drains, restarts := c.counts(); drains != 0 || restarts != 0 {
		t.Errorf("kiosk-c was touched after kiosk-b failed: %d drains, %d restarts", drains, restarts)
	}
	if _, err := os.Stat(filepath.Join(c.root, "releases", "1.1.0")); err == nil {
		t.Error("kiosk-c: 1.1.0 was unpacked although the rollout had stopped")
	}
	if _, err := os.Stat(filepath.Join(c.incoming, "tolem-1.1.0-linux-"+arch+".tar.gz")); err == nil {
		t.Error("kiosk-c: the release was copied although the rollout had stopped")
	}

	// The log the operator reads to find which kiosk stopped the rollout.
	summary, err := os.ReadFile(filepath.Join(dist, "update-1.1.0.log"))
	if err != nil {
		t.Fatalf("summary log: %v", err)
	}
	for _, want := range []string{"kiosk-a 1.0.0 -> 1.1.0", "kiosk-b FAILED (exit 6)"} {
		if !strings.Contains(string(summary), want) {
			t.Errorf("summary log lacks %q:\n%s", want, summary)
		}
	}
	if strings.Contains(string(summary), "kiosk-c") {
		t.Errorf("summary log mentions kiosk-c, which was never reached:\n%s", summary)
	}
}

// buildKioskctl builds this command as a kiosk would have it.
func buildKioskctl(t *testing.T, dir string) string {
	t.Helper()
	bin := filepath.Join(dir, "kioskctl")
	cmd := exec.Command("go", "build", "-o", bin, ".")
	cmd.Env = append(os.Environ(), "CGO_ENABLED=0")
	if out, err := cmd.CombinedOutput(); err != nil {
		t.Fatalf("go build kioskctl: %v\n%s", err, out)
	}
	return bin
}

// signedRelease writes tolem-<version>-linux-<arch>.tar.gz and its
// .minisig into dir. Its kioskd only prints its version, which is all the
// playbook asks of it.
func signedRelease(t *testing.T, priv minisign.PrivateKey, dir, version, arch string) string {
	t.Helper()
	if err := os.MkdirAll(dir, 0o755); err != nil {
		t.Fatal(err)
	}
	files := []update.PackFile{
		{Path: "bin/kioskd", Mode: 0o755, Data: []byte("#!/bin/sh\necho kioskd " + version + "\n")},
		{Path: "bin/kioskctl", Mode: 0o755, Data: []byte("#!/bin/sh\necho kioskctl " + version + "\n")},
	}
	var buf bytes.Buffer
	if _, err := update.Pack(&buf, version, arch, files, time.Unix(1700000000, 0)); err != nil {
		t.Fatal(err)
	}
	name := fmt.Sprintf("tolem-%s-linux-%s.tar.gz", version, arch)
	sig, err := update.Sign(priv, bytes.NewReader(buf.Bytes()), name, time.Unix(1700000000, 0))
	if err != nil {
		t.Fatal(err)
	}
	path := filepath.Join(dir, name)
	if err := os.WriteFile(path, buf.Bytes(), 0o644); err != nil {
		t.Fatal(err)
	}
	if err := os.WriteFile(path+".minisig", sig, 0o644); err != nil {
		t.Fatal(err)
	}
	return path
}

// fleetKiosk is one kiosk of the fleet: its own update root, config,
// restart script and a fake kioskd on its control socket. The restart
// script records what current points at; the daemon runs the version
// recorded last, so its health changes only through a restart, as with
// systemctl restart tolem.
type fleetKiosk struct {
	t        *testing.T
	name     string
	dir      string
	root     string
	config   string
	incoming string
	restarts string // one line per restart: the release it started
	sick     string // the version that never answers healthy

	mu     sync.Mutex
	drains int
}

func newFleetKiosk(t *testing.T, base, name, pubKey, sick string) *fleetKiosk {
	t.Helper()
	dir := filepath.Join(base, name)
	k := &fleetKiosk{
		t: t, name: name, dir: dir, sick: sick,
		root:     filepath.Join(dir, "opt"),
		config:   filepath.Join(dir, "kiosk.yaml"),
		incoming: filepath.Join(dir, "incoming"),
		restarts: filepath.Join(dir, "restarts"),
	}
	if err := os.MkdirAll(dir, 0o755); err != nil {
		t.Fatal(err)
	}
	restart := filepath.Join(dir, "restart")
	script := fmt.Sprintf("#!/bin/sh\nset -e\nreadlink %s >> %s\n", filepath.Join(k.root, "current"), k.restarts)
	if err := os.WriteFile(restart, []byte(script), 0o755); err != nil {
		t.Fatal(err)
	}
	socket := filepath.Join(dir, "c.sock")
	cfg := fmt.Sprintf(`terminal_id: KZ-TEST-%s
data_dir: %s
bank: {url: "http://127.0.0.1:9", secret: s3cret}
acceptor: {protocol: sim}
control: {socket: %s}
update:
  root: %s
  keys: [%s]
  restart_command: [%s]
  health_timeout: 3s
`, strings.ToUpper(name[len(name)-1:]), filepath.Join(dir, "data"), socket, k.root, pubKey, restart)
	if err := os.WriteFile(k.config, []byte(cfg), 0o600); err != nil {
		t.Fatal(err)
	}
	k.serve(socket)
	return k
}

// serve plays kioskd's control socket.
func (k *fleetKiosk) serve(socket string) {
	ln, err := net.Listen("unix", socket)
	if err != nil {
		k.t.Fatal(err)
	}
	mux := http.NewServeMux()
	mux.HandleFunc("POST /v1/drain", func(w http.ResponseWriter, _ *http.Request) {
		k.mu.Lock()
		k.drains++
		k.mu.Unlock()
	})
	mux.HandleFunc("DELETE /v1/drain", func(w http.ResponseWriter, _ *http.Request) {
		w.WriteHeader(http.StatusNoContent)
	})
	mux.HandleFunc("GET /v1/health", func(w http.ResponseWriter, _ *http.Request) {
		v := k.running()
		ok := v != "" && v != k.sick
		h := update.Health{Healthy: ok, Version: v, Checks: map[string]any{"ledger": true, "acceptor": ok}}
		if !ok {
			w.WriteHeader(http.StatusServiceUnavailable)
		}
		json.NewEncoder(w).Encode(h)
	})
	srv := &http.Server{Handler: mux}
	go srv.Serve(ln)
	k.t.Cleanup(func() { srv.Close() })
}

// provision installs the kiosk's first release with the built kioskctl,
// then forgets the drain and restart that took.
func (k *fleetKiosk) provision(kioskctl, tarball string) {
	k.t.Helper()
	out, err := exec.Command(kioskctl, "update", "apply", "--config", k.config, tarball).CombinedOutput()
	if err != nil {
		k.t.Fatalf("%s: first install: %v\n%s", k.name, err, out)
	}
	if got := k.current(); got != "1.0.0" {
		k.t.Fatalf("%s: current %s after the first install", k.name, got)
	}
	k.mu.Lock()
	k.drains = 0
	k.mu.Unlock()
	if err := os.WriteFile(k.restarts, []byte("releases/1.0.0\n"), 0o644); err != nil {
		k.t.Fatal(err)
	}
}

func (k *fleetKiosk) current() string {
	target, err := os.Readlink(filepath.Join(k.root, "current"))
	if err != nil {
		return ""
	}
	return filepath.Base(target)
}

// running is the release the fake daemon was last started on.
func (k *fleetKiosk) running() string {
	data, _ := os.ReadFile(k.restarts)
	lines := strings.Fields(string(data))
	if len(lines) == 0 {
		return ""
	}
	return filepath.Base(lines[len(lines)-1])
}

// counts are the drains and restarts since provision.
func (k *fleetKiosk) counts() (drains, restarts int) {
	data, _ := os.ReadFile(k.restarts)
	k.mu.Lock()
	defer k.mu.Unlock()
	return k.drains, len(strings.Fields(string(data))) - 1
}

// writeFleetInventory lists the kiosks in wave order, all reached through
// the test's sshd with the throwaway key.
func writeFleetInventory(t *testing.T, dir string, sshd *testSSHD, kioskctl string, kiosks []*fleetKiosk) string {
	t.Helper()
	// Debian's ansible-core runs on /usr/bin/python3; naming it saves a
	// discovery round trip per kiosk.
	python := "/usr/bin/python3"
	if _, err := os.Stat(python); err != nil {
		python = "auto_silent"
	}
	var b strings.Builder
	b.WriteString("[kiosks]\n")
	for _, k := range kiosks {
		fmt.Fprintf(&b, "%s tolem_config=%s tolem_incoming=%s tolem_kioskd=%s\n",
			k.name, k.config, k.incoming, filepath.Join(k.root, "current", "bin", "kioskd"))
	}
	fmt.Fprintf(&b, `
[kiosks:vars]
ansible_host=127.0.0.1
ansible_port=%d
ansible_user=%s
ansible_ssh_private_key_file=%s
ansible_ssh_common_args=-o UserKnownHostsFile=/dev/null -o StrictHostKeyChecking=no -o IdentitiesOnly=yes
ansible_python_interpreter=%s
ansible_remote_tmp=%s
ansible_async_dir=%s
tolem_kioskctl=%s
`, sshd.port, sshd.user, sshd.keyFile, python, filepath.Join(dir, "remote-tmp"), filepath.Join(dir, "async"), kioskctl)
	path := filepath.Join(dir, "inventory.ini")
	if err := os.WriteFile(path, []byte(b.String()), 0o600); err != nil {
		t.Fatal(err)
	}
	return path
}

// runPlaybook runs ansible-playbook with its state kept in dir and no
// ansible.cfg of the machine's. The play's become is left as it is: the
// test logs in as root, and Ansible does not escalate to the user it
// already is, so no sudo is needed on this machine.
func runPlaybook(t *testing.T, dir, inventory, playbook string, args ...string) (string, error) {
	t.Helper()
	cfg := filepath.Join(dir, "ansible.cfg")
	if err := os.WriteFile(cfg, []byte("[defaults]\n"), 0o600); err != nil {
		t.Fatal(err)
	}
	controlDir := filepath.Join(dir, "cp")
	// Ansible leaves an SSH master connection open for a minute after it
	// ends (ControlPersist); close it, or sshd's session outlives the test.
	t.Cleanup(func() {
		masters, _ := filepath.Glob(filepath.Join(controlDir, "*"))
		for _, m := range masters {
			exec.Command("ssh", "-O", "exit", "-S", m, "kiosk").Run()
		}
	})
	ctx, cancel := context.WithTimeout(context.Background(), 5*time.Minute)
	defer cancel()
	cmd := exec.CommandContext(ctx, "ansible-playbook", append([]string{"-i", inventory, playbook}, args...)...)
	cmd.Dir = dir
	cmd.Env = append(os.Environ(),
		"ANSIBLE_CONFIG="+cfg,
		"ANSIBLE_HOST_KEY_CHECKING=False",
		"ANSIBLE_LOCAL_TEMP="+filepath.Join(dir, "local-tmp"),
		"ANSIBLE_SSH_CONTROL_PATH_DIR="+controlDir,
		// One SSH round trip per task instead of three; halves the run.
		"ANSIBLE_PIPELINING=True",
		"ANSIBLE_RETRY_FILES_ENABLED=False",
		"ANSIBLE_NOCOLOR=1",
	)
	var out lockedBuffer
	cmd.Stdout, cmd.Stderr = &out, &out
	err := cmd.Run()
	if ctx.Err() != nil {
		t.Fatalf("ansible-playbook still running after 5 min:\n%s", out.String())
	}
	return out.String(), err
}
