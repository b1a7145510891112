package simacceptor

import (
	"path/filepath"
	"testing"

	"tolem/internal/testfs/lazyfs"
	"tolem/kiosk"
)

func TestStateFileSurvivesAPowerCut(t *testing.T) {
	for name, opts := range map[string]*lazyfs.Options{
		"plain":       nil,
		"eager-names": {EagerNames: true},
	} {
		t.Run(name, func(t *testing.T) {
			back := t.TempDir()
			lfs := lazyfs.Mount(t, back, opts)
			s := &store{path: filepath.Join(lfs.Dir(), "sim-acceptor.json")}
			for i := 1; i <= 3; i++ {
				if err := s.save(state{Stacked: map[kiosk.Money]int{kiosk.Tenge(1000): i}}); err != nil {
					t.Fatal(err)
				}
			}
			lfs.Cut()
			got, err := (&store{path: filepath.Join(back, "sim-acceptor.json")}).load()
			if err != nil || got.Stacked[kiosk.Tenge(1000)] != 3 {
				t.Fatalf("after the cut: %+v, %v; want the last saved state, 3 bills of 1000 ₸", got, err)
			}
		})
	}
}
