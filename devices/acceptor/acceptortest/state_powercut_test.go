package acceptortest

import (
	"path/filepath"
	"testing"

	"tolem/internal/testfs/lazyfs"
)

// The emulator stands for a unit whose cassette count survives a power cut:
// its state file must too, and a cut mid-save leaves the old state or the
// new, never an empty file.
func TestStateFileSurvivesAPowerCut(t *testing.T) {
	for name, opts := range map[string]*lazyfs.Options{
		"plain":       nil,
		"eager-names": {EagerNames: true},
	} {
		t.Run(name, func(t *testing.T) {
			back := t.TempDir()
			lfs := lazyfs.Mount(t, back, opts)
			path := filepath.Join(lfs.Dir(), "acceptor.json")
			for i := 1; i <= 3; i++ {
				if err := WriteState(path, Box{Stacked: map[string]int{"100000": i}}); err != nil {
					t.Fatal(err)
				}
			}
			lfs.Cut()
			var got Box
			ok, err := ReadState(filepath.Join(back, "acceptor.json"), "cassette", &got)
			if err != nil || !ok || got.Stacked["100000"] != 3 {
				t.Fatalf("after the cut: %+v, %v; want the last saved state, 3 bills of 1000 ₸", got, err)
			}
		})
	}
}
