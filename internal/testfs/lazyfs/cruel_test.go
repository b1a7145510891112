package lazyfs_test

import (
	"bytes"
	"os"
	"path/filepath"
	"testing"

	"tolem/internal/testfs/lazyfs"
)

func writeAt(t *testing.T, f *os.File, b []byte, off int64) {
	t.Helper()
	if _, err := f.WriteAt(b, off); err != nil {
		t.Fatal(err)
	}
}

func TestTornCutLandsPartOfTheLastWrite(t *testing.T) {
	for seed := uint64(1); seed <= 5; seed++ {
		back := t.TempDir()
		lfs := lazyfs.Mount(t, back, &lazyfs.Options{Torn: true, Seed: seed})
		p := filepath.Join(lfs.Dir(), "db")
		writeDurable(t, p, string(block('.', 16384)))
		f, err := os.OpenFile(p, os.O_RDWR, 0)
		if err != nil {
			t.Fatal(err)
		}
		writeAt(t, f, []byte("head"), 0)
		writeAt(t, f, block('x', 8192), 4096)
		lfs.Cut()
		f.Close()

		got, err := os.ReadFile(filepath.Join(back, "db"))
		if err != nil {
			t.Fatal(err)
		}
		if len(got) != 16384 {
			t.Fatalf("seed %d: size %d after the cut, want 16384", seed, len(got))
		}
		if string(got[:4]) != "head" {
			t.Errorf("seed %d: the write before the last did not land whole: %q", seed, got[:4])
		}
		torn := got[4096 : 4096+8192]
		k := bytes.IndexByte(torn, '.')
		if k <= 0 || k%512 != 0 || !bytes.Equal(torn[:k], block('x', k)) || !bytes.Equal(torn[k:], block('.', len(torn)-k)) {
			t.Errorf("seed %d: the last write is not torn at a sector: %d bytes of it landed (first '.' at %d)", seed, bytes.Count(torn, []byte{'x'}), k)
		}
	}
}

func TestReorderCutLandsASubsetOfTheUnsyncedWrites(t *testing.T) {
	const blocks = 16
	sawReorder, sawLoss := false, false
	for seed := uint64(1); seed <= 8; seed++ {
		back := t.TempDir()
		lfs := lazyfs.Mount(t, back, &lazyfs.Options{Reorder: true, Seed: seed})
		p := filepath.Join(lfs.Dir(), "wal")
		writeDurable(t, p, string(block('.', blocks*512)))
		f, err := os.OpenFile(p, os.O_RDWR, 0)
		if err != nil {
			t.Fatal(err)
		}
		for i := range blocks {
			writeAt(t, f, block(byte('a'+i), 512), int64(i*512))
		}
		lfs.Cut()
		f.Close()
		got, err := os.ReadFile(filepath.Join(back, "wal"))
		if err != nil {
			t.Fatal(err)
		}
		landed := make([]bool, blocks)
		for i := range blocks {
			b := got[i*512 : (i+1)*512]
			switch {
			case bytes.Equal(b, block(byte('a'+i), 512)):
				landed[i] = true
			case bytes.Equal(b, block('.', 512)):
			default:
				t.Fatalf("seed %d: block %d is neither old nor new: %q…", seed, i, b[:8])
			}
		}
		for i := range blocks {
			if !landed[i] {
				sawLoss = true
				for j := i + 1; j < blocks; j++ {
					if landed[j] {
						sawReorder = true
					}
				}
			}
		}
	}
	if !sawReorder || !sawLoss {
		t.Errorf("over 8 seeds: a later write landed without an earlier one: %v; some write was lost: %v", sawReorder, sawLoss)
	}
}

// EagerNames is ext4's zero-length file: the rename landed, the data
// behind it did not.
func TestEagerNamesCutLandsRenamesWithoutTheirData(t *testing.T) {
	back := t.TempDir()
	lfs := lazyfs.Mount(t, back, &lazyfs.Options{EagerNames: true})
	target := filepath.Join(lfs.Dir(), "state.json")
	writeDurable(t, target, "old")
	tmp := filepath.Join(lfs.Dir(), "state.json.tmp")
	create(t, tmp, "new, never synced").Close()
	if err := os.Rename(tmp, target); err != nil {
		t.Fatal(err)
	}
	careful := filepath.Join(lfs.Dir(), "careful.json")
	writeDurable(t, careful, "old")
	f := create(t, careful+".tmp", "new")
	fsync(t, f)
	f.Close()
	if err := os.Rename(careful+".tmp", careful); err != nil {
		t.Fatal(err)
	}
	writeDurable(t, filepath.Join(lfs.Dir(), "unlinked"), "u")
	if err := os.Remove(filepath.Join(lfs.Dir(), "unlinked")); err != nil {
		t.Fatal(err)
	}
	if err := os.Mkdir(filepath.Join(lfs.Dir(), "newdir"), 0o755); err != nil {
		t.Fatal(err)
	}
	lfs.Cut()
	expect(t, filepath.Join(back, "state.json"), "")
	expect(t, filepath.Join(back, "state.json.tmp"), "<missing>")
	expect(t, filepath.Join(back, "careful.json"), "new")
	expect(t, filepath.Join(back, "unlinked"), "<missing>")
	if st, err := os.Stat(filepath.Join(back, "newdir")); err != nil || !st.IsDir() {
		t.Errorf("newdir after an eager cut: %v", err)
	}
}
