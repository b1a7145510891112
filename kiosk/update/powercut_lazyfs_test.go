package update

import (
	"context"
	"fmt"
	"os"
	"path/filepath"
	"testing"

	"tolem/internal/testfs/lazyfs"
)

// onLazyfs moves the rig's root onto a lazyfs mount of back: a file system
// where only what was fsynced, and named in a synced directory, survives a
// cut. The root's parent exists already, as /opt does on a kiosk.
func (r *rig) onLazyfs(back string, opts *lazyfs.Options) *lazyfs.FS {
	r.t.Helper()
	lfs := lazyfs.Mount(r.t, back, opts)
	r.setRoot(filepath.Join(lfs.Dir(), "opt", "tolem"))
	if err := os.MkdirAll(filepath.Dir(r.root), 0o755); err != nil {
		r.t.Fatal(err)
	}
	syncDirT(r.t, lfs.Dir())
	return lfs
}

func (r *rig) setRoot(root string) {
	r.root = root
	r.daemon.mu.Lock()
	r.daemon.root = root
	r.daemon.mu.Unlock()
}

func syncDirT(t *testing.T, dir string) {
	t.Helper()
	if err := syncDir(dir); err != nil {
		t.Fatal(err)
	}
}

// TestPowerCutOnLazyfsAtEveryStep is TestPowerCutAtEveryStep with a real
// power cut: at each step the page cache is lost too, and the kiosk boots
// from what reached the disk. current points at a complete release, old or
// new; boot recovery settles the journal; the same update then succeeds.
func TestPowerCutOnLazyfsAtEveryStep(t *testing.T) {
	steps := []Step{StepUnpack, StepUnpacked, StepInstalled, StepDrain, StepDrained,
		StepSwitch, StepSwitched, StepRestarted, StepConfirmed, StepRollback, StepRolledBack}
	modes := []struct {
		name string
		opts *lazyfs.Options
	}{
		{"plain", nil},
		{"cruel", &lazyfs.Options{Torn: true, Reorder: true, EagerNames: true, Seed: 9}},
	}
	for _, mode := range modes {
		for _, step := range steps {
			t.Run(fmt.Sprintf("%s/%s", mode.name, step), func(t *testing.T) {
				r := newRig(t)
				back := t.TempDir()
				lfs := r.onLazyfs(back, mode.opts)
				r.install("1.0.0")
				tb, sig := r.release("1.1.0", "armv7")
				rollbackStep := step == StepRollback || step == StepRolledBack
				r.daemon.setSick("1.1.0", rollbackStep)
				if !r.applyUntilCrash(tb, sig, step) {
					t.Fatalf("the update never reached %s", step)
				}
				lfs.Cut()

				lazyfs.Mount(t, back, &lazyfs.Options{Mountpoint: lfs.Dir()})
				v := r.currentComplete()
				if v != "1.0.0" && v != "1.1.0" {
					t.Fatalf("current is %s after the cut", v)
				}
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

				r.daemon.setSick("1.1.0", false)
				if _, err := r.applyAdvancing(tb, sig, nil); err != nil {
					t.Fatalf("the second try after a cut at %s: %v\n%s", step, err, r.logs)
				}
				r.requireCurrent("1.1.0")
				if j := r.journal(); j.State != StateDone {
					t.Errorf("journal = %+v", j)
				}
			})
		}
	}
}

// A first install creates the root; a cut right after it returns must not
// take the root away with the release in it.
func TestFirstInstallSurvivesAPowerCut(t *testing.T) {
	r := newRig(t)
	back := t.TempDir()
	lfs := lazyfs.Mount(t, back, nil)
	r.setRoot(filepath.Join(lfs.Dir(), "opt", "tolem"))
	r.install("1.0.0")
	lfs.Cut()
	lazyfs.Mount(t, back, &lazyfs.Options{Mountpoint: lfs.Dir()})
	if v := r.currentComplete(); v != "1.0.0" {
		t.Fatalf("current is %s after the cut", v)
	}
	if j := r.journal(); j == nil || j.State != StateDone {
		t.Errorf("journal after the cut: %+v", j)
	}
}
