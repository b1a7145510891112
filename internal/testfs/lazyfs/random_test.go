package lazyfs_test

import (
	"flag"
	"fmt"
	"io/fs"
	"math/rand/v2"
	"os"
	"path/filepath"
	"slices"
	"strings"
	"testing"

	"tolem/internal/testfs/lazyfs"
)

// seeds is how many random runs each random test makes; a long hunt for
// model bugs: go test ./internal/testfs/lazyfs -run Random -lazyfs.seeds=200
var seeds = flag.Int("lazyfs.seeds", 3, "random runs per random test")

// snapshot is a tree as path → "dir", "file:<data>" or "link:<target>".
func snapshot(t *testing.T, root string) map[string]string {
	t.Helper()
	out := map[string]string{}
	err := filepath.WalkDir(root, func(p string, d fs.DirEntry, err error) error {
		if err != nil {
			return err
		}
		rel, _ := filepath.Rel(root, p)
		switch {
		case rel == ".":
		case d.Type()&fs.ModeSymlink != 0:
			target, err := os.Readlink(p)
			if err != nil {
				return err
			}
			out[rel] = "link:" + target
		case d.IsDir():
			out[rel] = "dir"
		default:
			b, err := os.ReadFile(p)
			if err != nil {
				return err
			}
			out[rel] = "file:" + string(b)
		}
		return nil
	})
	if err != nil {
		t.Fatal(err)
	}
	return out
}

func diffTrees(want, got map[string]string) string {
	var lines []string
	for _, k := range slices.Sorted(mapKeys(want)) {
		if g, ok := got[k]; !ok {
			lines = append(lines, fmt.Sprintf("  missing %s (%.40q)", k, want[k]))
		} else if g != want[k] {
			lines = append(lines, fmt.Sprintf("  %s: %.40q, want %.40q", k, g, want[k]))
		}
	}
	for _, k := range slices.Sorted(mapKeys(got)) {
		if _, ok := want[k]; !ok {
			lines = append(lines, fmt.Sprintf("  extra %s (%.40q)", k, got[k]))
		}
	}
	return strings.Join(lines, "\n")
}

func mapKeys(m map[string]string) func(func(string) bool) {
	return func(yield func(string) bool) {
		for k := range m {
			if !yield(k) {
				return
			}
		}
	}
}

// churn runs n random file system calls under root; with syncs, some of
// them are fsyncs of files and directories. Calls that fail (a rename of a
// directory into itself, a rmdir of a full one) are part of the game.
func churn(t *testing.T, rng *rand.Rand, root string, n int, syncs bool) {
	t.Helper()
	var dirs, files []string
	for i := range n {
		// The lists go stale between walks: calls on a name gone fail,
		// which is part of the game too, and the walks stay few.
		if i%8 == 0 {
			dirs, files = nil, nil
			filepath.WalkDir(root, func(p string, d fs.DirEntry, err error) error {
				if err != nil {
					return err
				}
				if d.IsDir() {
					dirs = append(dirs, p)
				} else if d.Type().IsRegular() {
					files = append(files, p)
				}
				return nil
			})
		}
		dir := dirs[rng.IntN(len(dirs))]
		name := filepath.Join(dir, fmt.Sprintf("n%d", rng.IntN(12)))
		var file string
		if len(files) > 0 {
			file = files[rng.IntN(len(files))]
		}
		data := strings.Repeat(fmt.Sprintf("%d.", i), 1+rng.IntN(300))
		switch k := rng.IntN(12); {
		case k == 0 || file == "":
			os.WriteFile(name, []byte(data), 0o644)
		case k == 1:
			if f, err := os.OpenFile(file, os.O_WRONLY, 0); err == nil {
				f.WriteAt([]byte(data), int64(rng.IntN(2000)))
				f.Close()
			}
		case k == 2:
			os.Truncate(file, int64(rng.IntN(500)))
		case k == 3:
			os.Rename(file, name)
		case k == 4:
			os.Remove(file)
		case k == 5:
			os.Mkdir(name, 0o755)
		case k == 6:
			os.Remove(dir) // a rmdir; fails unless empty
		case k == 7:
			if other := dirs[rng.IntN(len(dirs))]; other != root {
				os.Rename(other, name)
			}
		case k == 8:
			os.Symlink(fmt.Sprintf("target-%d", i), name)
		case k == 9:
			os.Link(file, name)
		case k >= 10 && syncs:
			p := file
			if k == 11 {
				p = dir
			}
			if f, err := os.Open(p); err == nil {
				if err := f.Sync(); err != nil {
					t.Fatalf("fsync %s: %v", p, err)
				}
				f.Close()
			}
		}
	}
}

// syncEverything fsyncs every file, then every directory from the top.
func syncEverything(t *testing.T, root string) {
	t.Helper()
	var dirs []string
	filepath.WalkDir(root, func(p string, d fs.DirEntry, err error) error {
		if err != nil {
			return err
		}
		if d.IsDir() {
			dirs = append(dirs, p)
		} else if d.Type().IsRegular() {
			f, err := os.Open(p)
			if err != nil {
				t.Fatal(err)
			}
			fsync(t, f)
			f.Close()
		}
		return nil
	})
	for _, d := range dirs {
		fsyncDir(t, d)
	}
}

// TestRandomCallsKeepTheBackingExact: after random calls with random
// fsyncs, fsyncing everything makes the backing directory equal the live
// tree; more calls without a single fsync then change nothing that survives
// a cut; and the boot shows exactly that tree.
func TestRandomCallsKeepTheBackingExact(t *testing.T) {
	for seed := uint64(1); seed <= uint64(*seeds); seed++ {
		t.Run(fmt.Sprint(seed), func(t *testing.T) {
			rng := rand.New(rand.NewPCG(seed, 0))
			back := t.TempDir()
			lfs := lazyfs.Mount(t, back, nil)
			churn(t, rng, lfs.Dir(), 300, true)
			syncEverything(t, lfs.Dir())
			synced := snapshot(t, lfs.Dir())
			if d := diffTrees(synced, snapshot(t, back)); d != "" {
				t.Fatalf("after fsyncing everything the backing differs from the live tree:\n%s", d)
			}
			churn(t, rng, lfs.Dir(), 150, false)
			lfs.Cut()
			if d := diffTrees(synced, snapshot(t, back)); d != "" {
				t.Fatalf("unsynced calls reached the backing through a cut:\n%s", d)
			}
			again := lazyfs.Mount(t, back, nil)
			if d := diffTrees(synced, snapshot(t, again.Dir())); d != "" {
				t.Fatalf("the boot shows another tree:\n%s", d)
			}
		})
	}
}

// TestRandomCallsThenUnmountKeepEverything: a clean shutdown writes the
// live tree as it is.
func TestRandomCallsThenUnmountKeepEverything(t *testing.T) {
	for seed := uint64(1); seed <= uint64(max(*seeds/2, 1)); seed++ {
		rng := rand.New(rand.NewPCG(seed, 1))
		back := t.TempDir()
		lfs := lazyfs.Mount(t, back, nil)
		churn(t, rng, lfs.Dir(), 300, true)
		live := snapshot(t, lfs.Dir())
		lfs.Unmount()
		if d := diffTrees(live, snapshot(t, back)); d != "" {
			t.Fatalf("seed %d: after a clean unmount the backing differs from the live tree:\n%s", seed, d)
		}
	}
}
