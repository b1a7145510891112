package update

import (
	"bytes"
	"context"
	"crypto/sha256"
	"encoding/hex"
	"encoding/json"
	"fmt"
	"io/fs"
	"log/slog"
	"net"
	"net/http"
	"os"
	"path/filepath"
	"sort"
	"strings"
	"sync"
	"testing"
	"time"

	"aead.dev/minisign"

	"tolem/kiosk/kiosktest"
)

// rig is a kiosk in a temporary root: a fleet key, a fake kioskd on a unix
// socket, and tarballs built on demand.
type rig struct {
	t      *testing.T
	root   string
	dist   string
	pub    string
	priv   minisign.PrivateKey
	daemon *fakeDaemon
	clock  *kiosktest.FakeClock
	logs   *bytes.Buffer
}

func newRig(t *testing.T) *rig {
	t.Helper()
	base := t.TempDir()
	pub, priv, err := minisign.GenerateKey(nil)
	if err != nil {
		t.Fatal(err)
	}
	r := &rig{
		t:     t,
		root:  filepath.Join(base, "opt", "tolem"),
		dist:  filepath.Join(base, "dist"),
		pub:   pub.String(),
		priv:  priv,
		clock: kiosktest.NewFakeClock(time.Time{}),
		logs:  &bytes.Buffer{},
	}
	if err := os.MkdirAll(r.dist, 0o755); err != nil {
		t.Fatal(err)
	}
	r.daemon = startFakeDaemon(t, r.root)
	return r
}

// options are what kioskctl would pass, with the fake daemon and clock.
func (r *rig) options() Options {
	return Options{
		Root:    r.root,
		Keys:    []string{r.pub},
		Arch:    "armv7",
		Daemon:  NewSocketDaemon(r.daemon.path),
		Restart: r.daemon.restart,
		Clock:   r.clock,
		Log:     slog.New(slog.NewTextHandler(&syncWriter{w: r.logs}, nil)),
	}
}

type syncWriter struct {
	mu sync.Mutex
	w  *bytes.Buffer
}

func (s *syncWriter) Write(p []byte) (int, error) {
	s.mu.Lock()
	defer s.mu.Unlock()
	return s.w.Write(p)
}

// release builds tolem-<version>-linux-<arch>.tar.gz and its signature.
func (r *rig) release(version, arch string) (tarball, sig string) {
	r.t.Helper()
	var buf bytes.Buffer
	if _, err := Pack(&buf, version, arch, binaries(version), time.Unix(1700000000, 0)); err != nil {
		r.t.Fatal(err)
	}
	return r.write(fmt.Sprintf("tolem-%s-linux-%s.tar.gz", version, arch), buf.Bytes(), r.priv)
}

func binaries(version string) []PackFile {
	return []PackFile{
		{Path: "bin/kioskd", Mode: 0o755, Data: []byte("#!/bin/sh\necho kioskd " + version + "\n")},
		{Path: "bin/kioskctl", Mode: 0o755, Data: []byte("#!/bin/sh\necho kioskctl " + version + "\n")},
	}
}

// write stores data as a tarball signed with priv.
func (r *rig) write(name string, data []byte, priv minisign.PrivateKey) (tarball, sig string) {
	r.t.Helper()
	tarball = filepath.Join(r.dist, name)
	if err := os.WriteFile(tarball, data, 0o644); err != nil {
		r.t.Fatal(err)
	}
	s, err := Sign(priv, bytes.NewReader(data), name, time.Unix(1700000000, 0))
	if err != nil {
		r.t.Fatal(err)
	}
	sig = tarball + ".minisig"
	if err := os.WriteFile(sig, s, 0o644); err != nil {
		r.t.Fatal(err)
	}
	return tarball, sig
}

// apply runs Apply with the rig's options changed by edit.
func (r *rig) apply(tarball, sig string, edit func(*Options)) (*Result, error) {
	o := r.options()
	if edit != nil {
		edit(&o)
	}
	return Apply(context.Background(), tarball, sig, o)
}

// install makes version current through a normal, successful update.
func (r *rig) install(version string) {
	r.t.Helper()
	tb, sig := r.release(version, "armv7")
	if _, err := r.apply(tb, sig, func(o *Options) { o.AllowDowngrade = true }); err != nil {
		r.t.Fatalf("install %s: %v\nlog:\n%s", version, err, r.logs)
	}
	r.requireCurrent(version)
}

// advanceWhile moves the fake clock a second at a time until done is
// closed, so a 60 s health timeout passes in milliseconds.
func (r *rig) advanceWhile(done <-chan struct{}) {
	for {
		select {
		case <-done:
			return
		case <-time.After(time.Millisecond):
			r.clock.Advance(time.Second)
		}
	}
}

// applyAdvancing is apply with the clock moving.
func (r *rig) applyAdvancing(tarball, sig string, edit func(*Options)) (*Result, error) {
	done := make(chan struct{})
	defer close(done)
	go r.advanceWhile(done)
	return r.apply(tarball, sig, func(o *Options) {
		// Only the health wait should run out in these tests.
		o.DrainTimeout = 1000 * time.Hour
		if edit != nil {
			edit(o)
		}
	})
}

// requireCurrent checks that current points at version and that the
// release there is complete and intact.
func (r *rig) requireCurrent(version string) {
	r.t.Helper()
	got := r.currentComplete()
	if got != version {
		r.t.Fatalf("current is %s, want %s", got, version)
	}
}

// currentComplete returns current's version after checking that it names
// a complete release: the one invariant every power cut must keep.
func (r *rig) currentComplete() string {
	r.t.Helper()
	target, err := os.Readlink(filepath.Join(r.root, currentLink))
	if err != nil {
		r.t.Fatalf("current: %v", err)
	}
	m, err := VerifyTree(filepath.Join(r.root, target))
	if err != nil {
		r.t.Fatalf("current points at an incomplete release %s: %v", target, err)
	}
	if filepath.Base(target) != m.Version {
		r.t.Fatalf("current points at %s, whose manifest says %s", target, m.Version)
	}
	return m.Version
}

func (r *rig) journal() *Journal {
	r.t.Helper()
	j, err := ReadJournal(r.root)
	if err != nil {
		r.t.Fatal(err)
	}
	return j
}

// tree lists everything under root with its type, mode, size, time, link
// target and content digest, to show that a refused update wrote nothing.
func tree(t *testing.T, root string) string {
	t.Helper()
	var lines []string
	err := filepath.WalkDir(root, func(p string, d fs.DirEntry, err error) error {
		if err != nil {
			return err
		}
		info, err := d.Info()
		if err != nil {
			return err
		}
		rel, _ := filepath.Rel(root, p)
		line := fmt.Sprintf("%s %s %d %d", rel, info.Mode(), info.Size(), info.ModTime().UnixNano())
		switch {
		case info.Mode()&fs.ModeSymlink != 0:
			target, _ := os.Readlink(p)
			line += " -> " + target
		case info.Mode().IsRegular():
			data, err := os.ReadFile(p)
			if err != nil {
				return err
			}
			sum := sha256.Sum256(data)
			line += " " + hex.EncodeToString(sum[:8])
		}
		lines = append(lines, line)
		return nil
	})
	if err != nil {
		t.Fatal(err)
	}
	sort.Strings(lines)
	return strings.Join(lines, "\n")
}

// fakeDaemon plays kioskd's control socket: /v1/drain and /v1/health. Its
// running version changes only when restarted, like the real one.
type fakeDaemon struct {
	t    *testing.T
	root string
	path string

	mu        sync.Mutex
	running   string
	sick      map[string]bool // versions that never answer healthy
	drained   bool
	drains    int
	resumes   int
	restarts  int
	failStart error // restart returns it
	// drainGate, when set, holds POST /v1/drain until closed: a customer
	// mid-session. drainSeen gets a value when such a drain arrives.
	drainGate chan struct{}
	drainSeen chan struct{}
}

func startFakeDaemon(t *testing.T, root string) *fakeDaemon {
	t.Helper()
	// Unix socket paths are limited to 108 bytes; t.TempDir can be longer.
	dir, err := os.MkdirTemp("", "up")
	if err != nil {
		t.Fatal(err)
	}
	t.Cleanup(func() { os.RemoveAll(dir) })
	d := &fakeDaemon{t: t, root: root, path: filepath.Join(dir, "control.sock"), sick: map[string]bool{}}
	ln, err := net.Listen("unix", d.path)
	if err != nil {
		t.Fatal(err)
	}
	mux := http.NewServeMux()
	mux.HandleFunc("POST /v1/drain", func(w http.ResponseWriter, req *http.Request) {
		d.mu.Lock()
		gate, seen := d.drainGate, d.drainSeen
		d.drains++
		d.mu.Unlock()
		if gate != nil {
			if seen != nil {
				seen <- struct{}{}
			}
			select {
			case <-gate:
			case <-req.Context().Done():
				return
			}
		}
		d.mu.Lock()
		d.drained = true
		d.mu.Unlock()
		w.WriteHeader(http.StatusOK)
	})
	mux.HandleFunc("DELETE /v1/drain", func(w http.ResponseWriter, req *http.Request) {
		d.mu.Lock()
		d.resumes++
		d.drained = false
		d.mu.Unlock()
		w.WriteHeader(http.StatusNoContent)
	})
	mux.HandleFunc("GET /v1/health", func(w http.ResponseWriter, req *http.Request) {
		d.mu.Lock()
		v, sick := d.running, d.sick[d.running]
		d.mu.Unlock()
		h := Health{Healthy: v != "" && !sick, Version: v, Checks: map[string]any{
			"ledger":   true,
			"acceptor": map[string]any{"ok": !sick, "detail": "CCNET"},
		}}
		if !h.Healthy {
			w.WriteHeader(http.StatusServiceUnavailable)
		}
		json.NewEncoder(w).Encode(h)
	})
	srv := &http.Server{Handler: mux}
	go srv.Serve(ln)
	t.Cleanup(func() { srv.Close() })
	return d
}

// restart is the restart hook: the daemon comes back on whatever current
// points at, no longer drained.
func (d *fakeDaemon) restart(context.Context) error {
	d.mu.Lock()
	defer d.mu.Unlock()
	d.restarts++
	if d.failStart != nil {
		return d.failStart
	}
	d.running = d.currentLocked()
	d.drained = false
	return nil
}

// boot plays a reboot: the daemon starts on current.
func (d *fakeDaemon) boot() {
	d.mu.Lock()
	defer d.mu.Unlock()
	d.running = d.currentLocked()
	d.drained = false
}

func (d *fakeDaemon) currentLocked() string {
	v, err := linkedVersion(d.root, currentLink)
	if err != nil {
		d.t.Errorf("fake daemon: %v", err)
	}
	return v
}

func (d *fakeDaemon) setSick(version string, sick bool) {
	d.mu.Lock()
	defer d.mu.Unlock()
	d.sick[version] = sick
}

func (d *fakeDaemon) counts() (drains, resumes, restarts int) {
	d.mu.Lock()
	defer d.mu.Unlock()
	return d.drains, d.resumes, d.restarts
}

func (d *fakeDaemon) runningVersion() string {
	d.mu.Lock()
	defer d.mu.Unlock()
	return d.running
}

// crashAt returns a hook that stops the update at step as a power cut
// would: a panic unwinds without any of the update's own cleanup.
func crashAt(step Step) func(Step) {
	return func(s Step) {
		if s == step {
			panic(powerCut(step))
		}
	}
}

type powerCut Step

// applyUntilCrash runs Apply and reports whether it was cut at the hook.
func (r *rig) applyUntilCrash(tarball, sig string, step Step) (cut bool) {
	defer func() {
		if p := recover(); p != nil {
			if _, ok := p.(powerCut); !ok {
				panic(p)
			}
			cut = true
		}
	}()
	_, err := r.applyAdvancing(tarball, sig, func(o *Options) { o.hook = crashAt(step) })
	r.t.Logf("update ran to its end without reaching %s: %v", step, err)
	return false
}
