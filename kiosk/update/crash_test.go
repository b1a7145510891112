package update

import (
	"bytes"
	"context"
	"fmt"
	"os"
	"path/filepath"
	"testing"
	"time"
)

// packWithManifest writes files under a manifest as given, right or wrong.
func packWithManifest(t *testing.T, m *Manifest, files []PackFile) []byte {
	t.Helper()
	var buf bytes.Buffer
	if err := writeTarball(&buf, m, files, time.Unix(0, 0)); err != nil {
		t.Fatal(err)
	}
	return buf.Bytes()
}

// A power cut at any step leaves current pointing at a complete release,
// old or new; after the reboot (or without one, when only kioskctl died)
// the same update applied again succeeds.
func TestPowerCutAtEveryStep(t *testing.T) {
	steps := []Step{StepUnpack, StepUnpacked, StepInstalled, StepDrain, StepDrained,
		StepSwitch, StepSwitched, StepRestarted, StepConfirmed, StepRollback, StepRolledBack}
	for _, step := range steps {
		for _, reboot := range []bool{true, false} {
			name := fmt.Sprintf("%s/reboot=%t", step, reboot)
			t.Run(name, func(t *testing.T) {
				r := newRig(t)
				r.install("1.0.0")
				tb, sig := r.release("1.1.0", "armv7")
				rollbackStep := step == StepRollback || step == StepRolledBack
				// The rollback steps are reached only by a release that
				// never turns healthy.
				r.daemon.setSick("1.1.0", rollbackStep)

				if !r.applyUntilCrash(tb, sig, step) {
					t.Fatalf("the update never reached %s", step)
				}
				v := r.currentComplete()
				if v != "1.0.0" && v != "1.1.0" {
					t.Fatalf("current is %s after the cut", v)
				}

				if reboot {
					// tolem-update-check.service runs before kioskd starts.
					j, err := Recover(context.Background(), r.options(), true)
					if err != nil {
						t.Fatalf("boot recovery: %v", err)
					}
					after := r.currentComplete()
					if j != nil && (j.Unfinished() || after != "1.0.0") {
						t.Errorf("after boot recovery: journal %+v, current %s", j, after)
					}
					if j == nil && after != v {
						t.Errorf("boot recovery did nothing but current moved from %s to %s", v, after)
					}
					r.daemon.boot()
				}

				r.daemon.setSick("1.1.0", false)
				if _, err := r.applyAdvancing(tb, sig, nil); err != nil {
					t.Fatalf("the second try after a cut at %s: %v\n%s", step, err, r.logs)
				}
				r.requireCurrent("1.1.0")
				if got := r.daemon.runningVersion(); got != "1.1.0" {
					t.Errorf("daemon runs %s", got)
				}
				if j := r.journal(); j.State != StateDone {
					t.Errorf("journal = %+v", j)
				}
				for _, dir := range []string{r.root, filepath.Join(r.root, releasesDir)} {
					entries, _ := os.ReadDir(dir)
					for _, e := range entries {
						if isStale(e.Name()) {
							t.Errorf("leftover %s in %s", e.Name(), dir)
						}
					}
				}
			})
		}
	}
}

// Boot recovery of an update cut after its switch rolls back before kioskd
// starts, so a release that crashes the kiosk gets one boot at most.
func TestBootRecoveryRollsBackAnUnconfirmedSwitch(t *testing.T) {
	r := newRig(t)
	r.install("1.0.0")
	tb, sig := r.release("1.1.0", "armv7")
	if !r.applyUntilCrash(tb, sig, StepRestarted) {
		t.Fatal("not cut")
	}
	r.requireCurrent("1.1.0")
	_, _, restarts := r.daemon.counts()

	j, err := Recover(context.Background(), r.options(), true)
	if err != nil {
		t.Fatal(err)
	}
	if j == nil || j.State != StateRolledBack || j.From != "1.0.0" || j.To != "1.1.0" {
		t.Fatalf("journal = %+v", j)
	}
	r.requireCurrent("1.0.0")
	if _, _, rs := r.daemon.counts(); rs != restarts {
		t.Error("boot recovery restarted the daemon; at boot systemd starts it")
	}
	// Nothing left to do the second time.
	if j, err := Recover(context.Background(), r.options(), true); j != nil || err != nil {
		t.Errorf("second recovery: %+v %v", j, err)
	}
}

// Without a reboot, recovery restarts the daemon on the old release.
func TestRecoveryWithoutRebootRestartsTheOldRelease(t *testing.T) {
	r := newRig(t)
	r.install("1.0.0")
	tb, sig := r.release("1.1.0", "armv7")
	if !r.applyUntilCrash(tb, sig, StepRestarted) {
		t.Fatal("not cut")
	}
	if _, err := Recover(context.Background(), r.options(), false); err != nil {
		t.Fatal(err)
	}
	r.requireCurrent("1.0.0")
	if got := r.daemon.runningVersion(); got != "1.0.0" {
		t.Errorf("daemon runs %s", got)
	}

	// A cut while draining leaves the daemon drained: recovery lets it go.
	r2 := newRig(t)
	r2.install("1.0.0")
	tb, sig = r2.release("1.1.0", "armv7")
	if !r2.applyUntilCrash(tb, sig, StepDrained) {
		t.Fatal("not cut")
	}
	if _, err := Recover(context.Background(), r2.options(), false); err != nil {
		t.Fatal(err)
	}
	if _, resumes, _ := r2.daemon.counts(); resumes != 1 {
		t.Errorf("resumes = %d, want the drain undone", resumes)
	}
	if j := r2.journal(); j.State != StateAborted {
		t.Errorf("journal = %+v", j)
	}
}
