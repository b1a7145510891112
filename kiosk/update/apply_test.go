package update

import (
	"bytes"
	"context"
	"errors"
	"os"
	"path/filepath"
	"slices"
	"strings"
	"testing"
	"time"

	"aead.dev/minisign"
)

func TestGoodUpdate(t *testing.T) {
	r := newRig(t)
	r.install("1.0.0")
	tb, sig := r.release("1.1.0", "armv7")

	res, err := r.apply(tb, sig, nil)
	if err != nil {
		t.Fatalf("apply: %v\n%s", err, r.logs)
	}
	if res.From != "1.0.0" || res.To != "1.1.0" || !res.Health.Healthy {
		t.Errorf("result = %+v", res)
	}
	r.requireCurrent("1.1.0")
	if got := r.daemon.runningVersion(); got != "1.1.0" {
		t.Errorf("daemon runs %s after the update", got)
	}
	if prev, err := linkedVersion(r.root, previousLink); err != nil || prev != "1.0.0" {
		t.Errorf("previous = %q, %v; want 1.0.0", prev, err)
	}
	if j := r.journal(); j.State != StateDone || j.From != "1.0.0" || j.To != "1.1.0" {
		t.Errorf("journal = %+v", j)
	}
	drains, _, restarts := r.daemon.counts()
	if drains != 2 || restarts != 2 { // one each for the install of 1.0.0
		t.Errorf("drains %d, restarts %d; want 2 and 2", drains, restarts)
	}
	st, err := ReadStatus(r.root)
	if err != nil {
		t.Fatal(err)
	}
	if st.Current != "1.1.0" || !slices.Equal(st.Releases, []string{"1.1.0", "1.0.0"}) || st.Problem != "" {
		t.Errorf("status = %+v", st)
	}
}

func TestFirstInstallIntoEmptyRoot(t *testing.T) {
	r := newRig(t)
	tb, sig := r.release("1.0.0", "armv7")
	res, err := r.apply(tb, sig, nil)
	if err != nil {
		t.Fatalf("apply: %v\n%s", err, r.logs)
	}
	if res.From != "" {
		t.Errorf("from = %q on a first install", res.From)
	}
	r.requireCurrent("1.0.0")
	if fi, err := os.Lstat(filepath.Join(r.root, previousLink)); err == nil {
		t.Errorf("previous exists after a first install: %v", fi.Mode())
	}
}

// Every refusal leaves the disk exactly as it was and never disturbs the
// daemon.
func TestRefusedUpdateChangesNothing(t *testing.T) {
	_, otherKey, err := minisign.GenerateKey(nil)
	if err != nil {
		t.Fatal(err)
	}
	cases := []struct {
		name string
		// prepare returns the tarball and signature to apply.
		prepare func(r *rig) (string, string)
		keys    []string // overrides the rig's keys when set
		want    error
		wantMsg string
	}{
		{
			name: "signed with another key",
			prepare: func(r *rig) (string, string) {
				var buf bytes.Buffer
				Pack(&buf, "1.1.0", "armv7", binaries("1.1.0"), time.Unix(0, 0))
				return r.write("tolem-1.1.0-linux-armv7.tar.gz", buf.Bytes(), otherKey)
			},
			want: ErrSignature, wantMsg: "not in update.keys",
		},
		{
			name: "altered after signing",
			prepare: func(r *rig) (string, string) {
				tb, sig := r.release("1.1.0", "armv7")
				data, _ := os.ReadFile(tb)
				data[len(data)/2] ^= 0x40
				os.WriteFile(tb, data, 0o644)
				return tb, sig
			},
			want: ErrSignature, wantMsg: "does not match",
		},
		{
			name: "signature missing",
			prepare: func(r *rig) (string, string) {
				tb, sig := r.release("1.1.0", "armv7")
				os.Remove(sig)
				return tb, sig
			},
			want: ErrSignature, wantMsg: "no signature file",
		},
		{
			name: "signature garbage",
			prepare: func(r *rig) (string, string) {
				tb, sig := r.release("1.1.0", "armv7")
				os.WriteFile(sig, []byte("hello\n"), 0o644)
				return tb, sig
			},
			want: ErrSignature,
		},
		{
			name:    "no keys configured",
			prepare: func(r *rig) (string, string) { return r.release("1.1.0", "armv7") },
			keys:    []string{},
			want:    ErrSignature, wantMsg: "update.keys is empty",
		},
		{
			// Signed after it was cut, so only the content check can catch it.
			name: "truncated tarball",
			prepare: func(r *rig) (string, string) {
				tb, _ := r.release("1.1.0", "armv7")
				data, _ := os.ReadFile(tb)
				return r.write("cut.tar.gz", data[:len(data)*2/3], r.priv)
			},
			want: ErrManifest, wantMsg: "truncated",
		},
		{
			name: "file does not match the manifest",
			prepare: func(r *rig) (string, string) {
				return r.write("bad.tar.gz", tarWithWrongDigest(t), r.priv)
			},
			want: ErrManifest, wantMsg: "the manifest says",
		},
		{
			name:    "another architecture",
			prepare: func(r *rig) (string, string) { return r.release("1.1.0", "armv6") },
			want:    ErrArch, wantMsg: "tolem-1.1.0-linux-armv7.tar.gz",
		},
		{
			name:    "older version",
			prepare: func(r *rig) (string, string) { return r.release("0.9.3", "armv7") },
			want:    ErrDowngrade, wantMsg: "--allow-downgrade",
		},
		{
			name:    "older pre-release of the same numbers",
			prepare: func(r *rig) (string, string) { return r.release("1.0.0-rc.2", "armv7") },
			want:    ErrDowngrade,
		},
		{
			name:    "the installed version",
			prepare: func(r *rig) (string, string) { return r.release("1.0.0", "armv7") },
			want:    ErrInstalled,
		},
	}
	for _, tc := range cases {
		t.Run(tc.name, func(t *testing.T) {
			r := newRig(t)
			r.install("1.0.0")
			tb, sig := tc.prepare(r)
			before := tree(t, r.root)
			drains0, resumes0, restarts0 := r.daemon.counts()

			_, err := r.apply(tb, sig, func(o *Options) {
				if tc.keys != nil {
					o.Keys = tc.keys
				}
			})
			if !errors.Is(err, tc.want) {
				t.Fatalf("err = %v, want %v", err, tc.want)
			}
			if !strings.Contains(err.Error(), tc.wantMsg) {
				t.Errorf("err = %q, want it to say %q", err, tc.wantMsg)
			}
			if after := tree(t, r.root); after != before {
				t.Errorf("a refused update changed the disk:\nbefore:\n%s\nafter:\n%s", before, after)
			}
			if d, res, rs := r.daemon.counts(); d != drains0 || res != resumes0 || rs != restarts0 {
				t.Errorf("a refused update touched the daemon")
			}
		})
	}
}

// tarWithWrongDigest is a tarball whose manifest is consistent in form but
// lists a digest kioskd's bytes do not have.
func tarWithWrongDigest(t *testing.T) []byte {
	t.Helper()
	var good bytes.Buffer
	if _, err := Pack(&good, "1.1.0", "armv7", binaries("1.1.0"), time.Unix(0, 0)); err != nil {
		t.Fatal(err)
	}
	files := binaries("1.1.0")
	files[0].Data = []byte("#!/bin/sh\necho evil\n")
	var bad bytes.Buffer
	m, err := Pack(&bad, "1.1.0", "armv7", files, time.Unix(0, 0))
	if err != nil {
		t.Fatal(err)
	}
	// Rebuild with the good manifest's digests but the evil content.
	var goodM *Manifest
	if goodM, err = readRelease(bytes.NewReader(good.Bytes()), "", nil, nil); err != nil {
		t.Fatal(err)
	}
	m.Files[0].SHA256 = goodM.Files[0].SHA256
	return packWithManifest(t, m, files)
}

func TestDowngradeAllowedWithTheFlag(t *testing.T) {
	r := newRig(t)
	r.install("1.0.0")
	tb, sig := r.release("0.9.3", "armv7")
	if _, err := r.apply(tb, sig, nil); !errors.Is(err, ErrDowngrade) {
		t.Fatalf("without the flag: err = %v, want ErrDowngrade", err)
	}
	res, err := r.apply(tb, sig, func(o *Options) { o.AllowDowngrade = true })
	if err != nil {
		t.Fatalf("with the flag: %v", err)
	}
	if res.From != "1.0.0" || res.To != "0.9.3" {
		t.Errorf("result = %+v", res)
	}
	r.requireCurrent("0.9.3")
	if r.daemon.runningVersion() != "0.9.3" {
		t.Errorf("daemon runs %s", r.daemon.runningVersion())
	}
}

func TestReinstallOfTheCurrentRelease(t *testing.T) {
	r := newRig(t)
	r.install("1.0.0")
	tb, sig := r.release("1.0.0", "armv7")
	if _, err := r.apply(tb, sig, func(o *Options) { o.AllowDowngrade = true }); err != nil {
		t.Fatalf("reinstall: %v", err)
	}
	r.requireCurrent("1.0.0")

	// A damaged running copy is not patched under the daemon.
	os.Chmod(filepath.Join(r.root, "releases/1.0.0/bin/kioskd"), 0o644)
	_, err := r.apply(tb, sig, func(o *Options) { o.AllowDowngrade = true })
	if err == nil || !strings.Contains(err.Error(), "install another version first") {
		t.Fatalf("err = %v, want a refusal to patch the running release", err)
	}
}

func TestNeverHealthyIsRolledBack(t *testing.T) {
	r := newRig(t)
	r.install("1.0.0")
	r.daemon.setSick("1.1.0", true)
	tb, sig := r.release("1.1.0", "armv7")

	_, err := r.applyAdvancing(tb, sig, nil)
	if !errors.Is(err, ErrRolledBack) {
		t.Fatalf("err = %v, want ErrRolledBack\n%s", err, r.logs)
	}
	for _, want := range []string{"1.1.0 not healthy within 1m0s", `acceptor={"detail":"CCNET","ok":false}`} {
		if !strings.Contains(err.Error(), want) {
			t.Errorf("err = %q, want it to say %q", err, want)
		}
	}
	r.requireCurrent("1.0.0")
	if got := r.daemon.runningVersion(); got != "1.0.0" {
		t.Errorf("daemon runs %s after the rollback", got)
	}
	if j := r.journal(); j.State != StateRolledBack || j.Reason == "" {
		t.Errorf("journal = %+v", j)
	}

	// Once the fault is fixed the same tarball goes in.
	r.daemon.setSick("1.1.0", false)
	if _, err := r.apply(tb, sig, nil); err != nil {
		t.Fatalf("second try: %v", err)
	}
	r.requireCurrent("1.1.0")
}

func TestRestartThatKeepsTheOldDaemonIsRolledBack(t *testing.T) {
	r := newRig(t)
	r.install("1.0.0")
	tb, sig := r.release("1.1.0", "armv7")
	// A restart command that does nothing: the old daemon answers healthy,
	// but with the old version.
	_, err := r.applyAdvancing(tb, sig, func(o *Options) { o.Restart = func(context.Context) error { return nil } })
	if !errors.Is(err, ErrRolledBack) || !strings.Contains(err.Error(), "restart_command") {
		t.Fatalf("err = %v, want a rollback naming restart_command", err)
	}
	r.requireCurrent("1.0.0")
}

func TestRestartFailureIsRolledBack(t *testing.T) {
	r := newRig(t)
	r.install("1.0.0")
	tb, sig := r.release("1.1.0", "armv7")
	calls := 0
	_, err := r.applyAdvancing(tb, sig, func(o *Options) {
		o.Restart = func(ctx context.Context) error {
			calls++
			if calls == 1 {
				return errors.New("exit status 1")
			}
			return r.daemon.restart(ctx)
		}
	})
	if !errors.Is(err, ErrRolledBack) || !strings.Contains(err.Error(), "restart: exit status 1") {
		t.Fatalf("err = %v", err)
	}
	r.requireCurrent("1.0.0")
}

func TestOldReleaseUnhealthyTooIsRollbackFailed(t *testing.T) {
	r := newRig(t)
	r.install("1.0.0")
	r.daemon.setSick("1.1.0", true)
	r.daemon.setSick("1.0.0", true) // the acceptor is unplugged, say
	tb, sig := r.release("1.1.0", "armv7")
	_, err := r.applyAdvancing(tb, sig, nil)
	if !errors.Is(err, ErrRollbackFailed) || !strings.Contains(err.Error(), "not healthy either") {
		t.Fatalf("err = %v, want ErrRollbackFailed", err)
	}
	r.requireCurrent("1.0.0")
	if j := r.journal(); j.State != StateRollbackFailed {
		t.Errorf("journal = %+v", j)
	}
}

func TestFirstInstallNeverHealthyKeepsIt(t *testing.T) {
	r := newRig(t)
	r.daemon.setSick("1.0.0", true)
	tb, sig := r.release("1.0.0", "armv7")
	_, err := r.applyAdvancing(tb, sig, nil)
	if !errors.Is(err, ErrRollbackFailed) || !strings.Contains(err.Error(), "no earlier release") {
		t.Fatalf("err = %v", err)
	}
	r.requireCurrent("1.0.0") // never neither
}

// A customer is mid-session: drain answers only when the session ends, and
// nothing is switched or restarted before that.
func TestUpdateWaitsForTheCustomer(t *testing.T) {
	r := newRig(t)
	r.install("1.0.0")
	gate, seen := make(chan struct{}), make(chan struct{}, 1)
	r.daemon.mu.Lock()
	r.daemon.drainGate, r.daemon.drainSeen = gate, seen
	r.daemon.mu.Unlock()
	tb, sig := r.release("1.1.0", "armv7")

	type outcome struct {
		res *Result
		err error
	}
	done := make(chan outcome, 1)
	go func() {
		res, err := r.apply(tb, sig, nil)
		done <- outcome{res, err}
	}()
	select {
	case <-seen:
	case <-time.After(30 * time.Second):
		t.Fatal("the update never asked kioskd to drain")
	}
	_, _, restarts := r.daemon.counts()
	r.requireCurrent("1.0.0")
	if restarts != 1 || r.daemon.runningVersion() != "1.0.0" {
		t.Fatalf("restarted during the customer's session")
	}
	if j := r.journal(); j.State != StateDraining {
		t.Errorf("journal during the drain = %+v", j)
	}
	select {
	case o := <-done:
		t.Fatalf("the update finished while the customer was mid-session: %+v %v", o.res, o.err)
	default:
	}

	close(gate) // the customer pressed PAY and took the receipt
	var o outcome
	select {
	case o = <-done:
	case <-time.After(30 * time.Second):
		t.Fatal("the update did not go on after the drain")
	}
	if o.err != nil {
		t.Fatalf("apply: %v", o.err)
	}
	r.requireCurrent("1.1.0")
}

func TestDrainTimeoutAbortsWithoutSwitching(t *testing.T) {
	r := newRig(t)
	r.install("1.0.0")
	r.daemon.mu.Lock()
	r.daemon.drainGate = make(chan struct{}) // never opens
	r.daemon.mu.Unlock()
	tb, sig := r.release("1.1.0", "armv7")

	done := make(chan struct{})
	var err error
	go func() {
		defer close(done)
		_, err = r.apply(tb, sig, func(o *Options) { o.DrainTimeout = 5 * time.Minute })
	}()
	r.advanceWhile(done)
	if !errors.Is(err, ErrBusy) || !strings.Contains(err.Error(), "after 5m0s") {
		t.Fatalf("err = %v, want ErrBusy", err)
	}
	r.requireCurrent("1.0.0")
	if _, resumes, restarts := r.daemon.counts(); resumes != 1 || restarts != 1 {
		t.Errorf("resumes %d, restarts %d; want the drain undone and no restart", resumes, restarts)
	}
	if j := r.journal(); j.State != StateAborted || j.Unfinished() {
		t.Errorf("journal = %+v", j)
	}
}

func TestAnotherUpdateHoldsTheLock(t *testing.T) {
	r := newRig(t)
	r.install("1.0.0")
	unlock, err := lockRoot(r.root)
	if err != nil {
		t.Fatal(err)
	}
	defer unlock()
	tb, sig := r.release("1.1.0", "armv7")
	if _, err := r.apply(tb, sig, nil); !errors.Is(err, ErrLocked) {
		t.Fatalf("err = %v, want ErrLocked", err)
	}
	if _, err := Recover(context.Background(), r.options(), true); !errors.Is(err, ErrLocked) {
		t.Fatalf("recover: err = %v, want ErrLocked", err)
	}
}

func TestKeepsThreeReleasesNeverCurrentOrPrevious(t *testing.T) {
	r := newRig(t)
	for _, v := range []string{"1.0.0", "1.1.0", "1.2.0", "1.3.0", "1.4.0"} {
		r.install(v)
	}
	st, err := ReadStatus(r.root)
	if err != nil {
		t.Fatal(err)
	}
	if want := []string{"1.4.0", "1.3.0", "1.2.0"}; !slices.Equal(st.Releases, want) {
		t.Errorf("releases = %v, want %v", st.Releases, want)
	}

	// Back to an old one on purpose: previous (1.4.0) and current (1.0.0)
	// stay, with the newest other.
	r.install("1.0.0")
	st, _ = ReadStatus(r.root)
	if want := []string{"1.4.0", "1.3.0", "1.0.0"}; !slices.Equal(st.Releases, want) {
		t.Errorf("releases = %v, want %v", st.Releases, want)
	}
	if st.Current != "1.0.0" || st.Previous != "1.4.0" {
		t.Errorf("current %s previous %s", st.Current, st.Previous)
	}
}

func TestStaleLeftoversAreRemoved(t *testing.T) {
	r := newRig(t)
	r.install("1.0.0")
	stale := []string{
		filepath.Join(r.root, "releases", ".1.1.0"+tmpMark+"123"),
		filepath.Join(r.root, "."+currentLink+tmpMark+"abc"),
	}
	os.MkdirAll(filepath.Join(stale[0], "bin"), 0o755)
	os.Symlink("releases/1.0.0", stale[1])
	tb, sig := r.release("1.1.0", "armv7")
	if _, err := r.apply(tb, sig, nil); err != nil {
		t.Fatal(err)
	}
	for _, p := range stale {
		if _, err := os.Lstat(p); err == nil {
			t.Errorf("%s is still there", p)
		}
	}
}

func TestVerifyWithoutInstalling(t *testing.T) {
	r := newRig(t)
	tb, sig := r.release("2.0.0", "arm64")
	m, err := Verify(tb, sig, []string{"untrusted comment: minisign public key\n" + r.pub + "\n"})
	if err != nil {
		t.Fatal(err)
	}
	if m.Version != "2.0.0" || m.Arch != "arm64" || len(m.Files) != 2 {
		t.Errorf("manifest = %+v", m)
	}
	if _, err := os.Stat(r.root); err == nil {
		t.Error("Verify created the root")
	}
}

// Ctrl-C after the switch rolls back rather than leaving an unconfirmed
// release current.
func TestInterruptAfterTheSwitchRollsBack(t *testing.T) {
	r := newRig(t)
	r.install("1.0.0")
	r.daemon.setSick("1.1.0", true)
	tb, sig := r.release("1.1.0", "armv7")
	ctx, cancel := context.WithCancel(context.Background())
	defer cancel()
	o := r.options()
	o.hook = func(s Step) {
		if s == StepRestarted {
			cancel()
		}
	}
	_, err := Apply(ctx, tb, sig, o)
	if !errors.Is(err, ErrRolledBack) || !strings.Contains(err.Error(), "interrupted") {
		t.Fatalf("err = %v, want a rollback after the interrupt", err)
	}
	r.requireCurrent("1.0.0")
	if got := r.daemon.runningVersion(); got != "1.0.0" {
		t.Errorf("daemon runs %s", got)
	}
}
