package main

import (
	"context"
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
)

// The package's postinstall script, run as dpkg runs it on an upgrade, in a
// scratch tree: the running kioskd (a fake control socket) is asked to
// drain before the release is switched and the daemon restarted (systemctl
// is a fake on PATH that logs what it is asked).

const postinstall = "../../configs/nfpm/scripts/postinstall.sh"

type pkgRig struct {
	t                          *testing.T
	dir, root, etc, bin, event string
	env                        []string
	mu                         sync.Mutex
	// drain answers a POST /v1/drain; nil drains at once.
	drain func(r *http.Request) int
	// currentAtDrain is where /opt/tolem/current pointed when kioskd was
	// asked to drain.
	currentAtDrain string
}

func newPkgRig(t *testing.T, kioskctl string, active bool) *pkgRig {
	t.Helper()
	if _, err := exec.LookPath("dpkg"); err != nil {
		t.Skip("the script compares versions with dpkg")
	}
	dir, err := os.MkdirTemp("", "pi")
	if err != nil {
		t.Fatal(err)
	}
	t.Cleanup(func() { os.RemoveAll(dir) })
	r := &pkgRig{t: t, dir: dir, root: filepath.Join(dir, "opt"), etc: filepath.Join(dir, "etc"),
		bin: filepath.Join(dir, "fakebin"), event: filepath.Join(dir, "events")}
	write := func(path, content string, mode os.FileMode) {
		t.Helper()
		if err := os.MkdirAll(filepath.Dir(path), 0o755); err != nil {
			t.Fatal(err)
		}
		if err := os.WriteFile(path, []byte(content), mode); err != nil {
			t.Fatal(err)
		}
	}
	// The release on the kiosk, and the package's.
	write(filepath.Join(r.root, "releases/1.4.0/manifest.json"), `{"version": "1.4.0"}`, 0o644)
	if err := os.Symlink("releases/1.4.0", filepath.Join(r.root, "current")); err != nil {
		t.Fatal(err)
	}
	staged := filepath.Join(dir, "staged")
	write(filepath.Join(staged, "manifest.json"), "{\n  \"version\": \"1.5.0\"\n}\n", 0o644)
	write(filepath.Join(staged, "bin/kioskd"), "#!/bin/sh\necho \"kioskd $*\" >>"+r.event+"\n[ -z \"$REFUSE\" ] || { echo 'config: bank.secret_file: refused' >&2; exit 2; }\n", 0o755)
	data, err := os.ReadFile(kioskctl)
	if err != nil {
		t.Fatal(err)
	}
	write(filepath.Join(staged, "bin/kioskctl"), string(data), 0o755)
	write(filepath.Join(r.etc, "kiosk.yaml"), "bank:\n  secret_file: /etc/tolem/bank.secret\n", 0o640)
	write(filepath.Join(dir, "share/technicians.example.yaml"), "- {id: t01, pin_hash: x}\n", 0o644)
	os.MkdirAll(filepath.Join(dir, "run-systemd"), 0o755)

	// The system's tools the script calls, as fakes that log.
	isActive := "exit 3"
	if active {
		isActive = "exit 0"
	}
	write(filepath.Join(r.bin, "systemctl"), "#!/bin/sh\necho \"systemctl $*\" >>"+r.event+"\n[ \"$1\" = is-active ] && "+isActive+"\nexit 0\n", 0o755)
	for _, name := range []string{"getent", "groupadd", "useradd", "usermod", "chown", "systemd-tmpfiles", "udevadm"} {
		write(filepath.Join(r.bin, name), "#!/bin/sh\necho \""+name+" $*\" >>"+r.event+"\nexit 0\n", 0o755)
	}

	sock := filepath.Join(dir, "control.sock")
	ln, err := net.Listen("unix", sock)
	if err != nil {
		t.Fatal(err)
	}
	mux := http.NewServeMux()
	mux.HandleFunc("POST /v1/drain", func(w http.ResponseWriter, req *http.Request) {
		cur, _ := os.Readlink(filepath.Join(r.root, "current"))
		r.mu.Lock()
		r.currentAtDrain = cur
		drain := r.drain
		r.mu.Unlock()
		r.log("drain")
		code := http.StatusOK
		if drain != nil {
			code = drain(req)
		}
		w.WriteHeader(code)
		fmt.Fprintf(w, `{"drained":%t}`, code == http.StatusOK)
	})
	mux.HandleFunc("DELETE /v1/drain", func(w http.ResponseWriter, req *http.Request) {
		r.log("undrain")
		w.Write([]byte(`{"drained":false}`))
	})
	srv := &http.Server{Handler: mux}
	go srv.Serve(ln)
	t.Cleanup(func() { srv.Close() })

	r.env = append(os.Environ(),
		"PATH="+r.bin+string(os.PathListSeparator)+os.Getenv("PATH"),
		"TOLEM_ROOT="+r.root, "TOLEM_STAGED="+staged, "TOLEM_ETC="+r.etc,
		"TOLEM_SHARE="+filepath.Join(dir, "share"), "TOLEM_SYSTEMD_RUN="+filepath.Join(dir, "run-systemd"),
		"TOLEM_CONTROL_SOCKET="+sock)
	return r
}

func (r *pkgRig) log(line string) {
	r.mu.Lock()
	defer r.mu.Unlock()
	f, err := os.OpenFile(r.event, os.O_APPEND|os.O_CREATE|os.O_WRONLY, 0o644)
	if err != nil {
		r.t.Error(err)
		return
	}
	defer f.Close()
	fmt.Fprintln(f, line)
}

// upgrade runs the script as dpkg does when 1.4.0 is upgraded.
func (r *pkgRig) upgrade(extraEnv ...string) (int, string) {
	r.t.Helper()
	ctx, cancel := context.WithTimeout(context.Background(), time.Minute)
	defer cancel()
	cmd := exec.CommandContext(ctx, "sh", postinstall, "configure", "1.4.0")
	cmd.Env = append(r.env, extraEnv...)
	out, err := cmd.CombinedOutput()
	var exit *exec.ExitError
	switch {
	case errors.As(err, &exit):
		return exit.ExitCode(), string(out)
	case err != nil:
		r.t.Fatalf("postinstall: %v\n%s", err, out)
	}
	return 0, string(out)
}

func (r *pkgRig) events() []string {
	data, _ := os.ReadFile(r.event)
	var out []string
	for _, l := range strings.Split(strings.TrimSpace(string(data)), "\n") {
		// Only what matters to the running kiosk.
		if strings.HasPrefix(l, "drain") || strings.HasPrefix(l, "undrain") || strings.HasPrefix(l, "kioskd") ||
			(strings.HasPrefix(l, "systemctl") && !strings.Contains(l, "daemon-reload") && !strings.Contains(l, "is-active")) {
			out = append(out, l)
		}
	}
	return out
}

func (r *pkgRig) current() string {
	cur, _ := os.Readlink(filepath.Join(r.root, "current"))
	return cur
}

func TestPostinstallDrainsBeforeRestart(t *testing.T) {
	ctl := buildKioskctl(t, t.TempDir())

	t.Run("drained", func(t *testing.T) {
		r := newPkgRig(t, ctl, true)
		code, out := r.upgrade()
		if code != 0 {
			t.Fatalf("exit %d\n%s", code, out)
		}
		want := []string{"kioskd --check-config " + r.etc + "/kiosk.yaml --keys-only", "drain", "systemctl restart tolem.service"}
		if got := r.events(); strings.Join(got, "\n") != strings.Join(want, "\n") {
			t.Errorf("the running kiosk saw %q, want %q\n%s", got, want, out)
		}
		r.mu.Lock()
		atDrain := r.currentAtDrain
		r.mu.Unlock()
		if atDrain != "releases/1.4.0" || r.current() != "releases/1.5.0" {
			t.Errorf("current was %s at the drain and is %s now; want the switch after the drain", atDrain, r.current())
		}
		for _, name := range []string{"bank.secret", "technicians.yaml"} {
			st, err := os.Stat(filepath.Join(r.etc, name))
			if err != nil || st.Mode().Perm() != 0o600 {
				t.Errorf("%s: %v %v, want mode 0600", name, st.Mode(), err)
			}
		}
	})

	t.Run("customer stays", func(t *testing.T) {
		r := newPkgRig(t, ctl, true)
		r.mu.Lock()
		r.drain = func(req *http.Request) int {
			<-req.Context().Done() // never drained: kioskctl gives up
			return http.StatusServiceUnavailable
		}
		r.mu.Unlock()
		code, out := r.upgrade("TOLEM_DRAIN_TIMEOUT=1s")
		if code == 0 || !strings.Contains(out, "still mid-session") {
			t.Errorf("exit %d, want a failure that says the customer stayed\n%s", code, out)
		}
		for _, e := range r.events() {
			if strings.HasPrefix(e, "systemctl") {
				t.Errorf("%q with a customer mid-session", e)
			}
		}
		if r.current() != "releases/1.4.0" {
			t.Errorf("current switched to %s while the old kioskd runs", r.current())
		}
	})

	t.Run("config refused by the new kioskd", func(t *testing.T) {
		r := newPkgRig(t, ctl, true)
		code, out := r.upgrade("REFUSE=1")
		if code == 0 || !strings.Contains(out, "refuses") || r.current() != "releases/1.4.0" {
			t.Errorf("exit %d, current %s; want a refusal that keeps 1.4.0\n%s", code, r.current(), out)
		}
		for _, e := range r.events() {
			if e == "drain" || strings.HasPrefix(e, "systemctl") {
				t.Errorf("%q although the new kioskd refuses the config", e)
			}
		}
	})

	t.Run("not running", func(t *testing.T) {
		r := newPkgRig(t, ctl, false)
		code, out := r.upgrade()
		if code != 0 || r.current() != "releases/1.5.0" {
			t.Fatalf("exit %d, current %s\n%s", code, r.current(), out)
		}
		if got := r.events(); len(got) != 0 {
			t.Errorf("a stopped kiosk saw %q", got)
		}
	})
}

// Removing the package waits for the customer, as an upgrade does, before
// it stops kioskd; a customer who stays keeps the package and the kiosk.
func TestPreremoveDrainsBeforeStop(t *testing.T) {
	ctl := buildKioskctl(t, t.TempDir())
	remove := func(r *pkgRig, extraEnv ...string) (int, string) {
		t.Helper()
		data, err := os.ReadFile(ctl)
		if err != nil {
			t.Fatal(err)
		}
		bin := filepath.Join(r.root, "releases/1.4.0/bin")
		os.MkdirAll(bin, 0o755)
		if err := os.WriteFile(filepath.Join(bin, "kioskctl"), data, 0o755); err != nil {
			t.Fatal(err)
		}
		ctx, cancel := context.WithTimeout(context.Background(), time.Minute)
		defer cancel()
		cmd := exec.CommandContext(ctx, "sh", "../../configs/nfpm/scripts/preremove.sh", "remove")
		cmd.Env = append(r.env, extraEnv...)
		out, err := cmd.CombinedOutput()
		var exit *exec.ExitError
		if errors.As(err, &exit) {
			return exit.ExitCode(), string(out)
		} else if err != nil {
			t.Fatalf("preremove: %v\n%s", err, out)
		}
		return 0, string(out)
	}

	t.Run("drained", func(t *testing.T) {
		r := newPkgRig(t, ctl, true)
		code, out := remove(r)
		want := []string{"drain", "systemctl disable --now tolem.service"}
		if got := r.events(); code != 0 || strings.Join(got, "\n") != strings.Join(want, "\n") {
			t.Errorf("exit %d, the running kiosk saw %q, want exit 0 and %q\n%s", code, got, want, out)
		}
	})
	t.Run("customer stays", func(t *testing.T) {
		r := newPkgRig(t, ctl, true)
		r.mu.Lock()
		r.drain = func(req *http.Request) int {
			<-req.Context().Done()
			return http.StatusServiceUnavailable
		}
		r.mu.Unlock()
		code, out := remove(r, "TOLEM_DRAIN_TIMEOUT=1s")
		if code == 0 || !strings.Contains(out, "still mid-session") {
			t.Errorf("exit %d, want a failure that says the customer stayed\n%s", code, out)
		}
		for _, e := range r.events() {
			if strings.HasPrefix(e, "systemctl") {
				t.Errorf("%q with a customer mid-session", e)
			}
		}
	})
	t.Run("not running", func(t *testing.T) {
		r := newPkgRig(t, ctl, false)
		code, out := remove(r)
		want := []string{"systemctl disable --now tolem.service"}
		if got := r.events(); code != 0 || strings.Join(got, "\n") != strings.Join(want, "\n") {
			t.Errorf("exit %d, events %q, want exit 0 and %q\n%s", code, got, want, out)
		}
	})
}
