package ledger

import (
	"os/exec"
	"strings"
	"testing"
)

// modernc.org/sqlite is generated against one exact modernc.org/libc; a
// different libc builds and then corrupts memory at run time. The module
// must select the libc that sqlite's own go.mod names.
func TestLibcPinnedToSQLitesVersion(t *testing.T) {
	if testing.Short() {
		t.Skip("runs go list")
	}
	out, err := exec.Command("go", "list", "-m", "-f", "{{.Version}}", "modernc.org/sqlite", "modernc.org/libc").Output()
	if err != nil {
		t.Fatalf("go list: %v", err)
	}
	v := strings.Fields(string(out))
	if len(v) != 2 {
		t.Fatalf("go list answered %q", out)
	}
	graph, err := exec.Command("go", "mod", "graph").Output()
	if err != nil {
		t.Fatalf("go mod graph: %v", err)
	}
	prefix := "modernc.org/sqlite@" + v[0] + " modernc.org/libc@"
	for _, line := range strings.Split(string(graph), "\n") {
		if want, ok := strings.CutPrefix(line, prefix); ok {
			if want != v[1] {
				t.Errorf("modernc.org/libc is %s, but modernc.org/sqlite %s names %s: pin it with go get modernc.org/libc@%s", v[1], v[0], want, want)
			}
			return
		}
	}
	t.Errorf("modernc.org/sqlite %s names no modernc.org/libc in the module graph", v[0])
}
