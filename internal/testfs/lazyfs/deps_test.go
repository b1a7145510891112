package lazyfs_test

import (
	"os/exec"
	"strings"
	"testing"
)

// The file system is a test tool: a shipped command that linked it would
// carry FUSE code onto every kiosk.
func TestNoCommandDependsOnTestfs(t *testing.T) {
	out, err := exec.Command("go", "list", "-deps", "-f", "{{.ImportPath}}", "tolem/cmd/...").Output()
	if err != nil {
		t.Fatalf("go list: %v", err)
	}
	for dep := range strings.Lines(string(out)) {
		dep = strings.TrimSpace(dep)
		if dep == "tolem/internal/testfs" || strings.HasPrefix(dep, "tolem/internal/testfs/") ||
			strings.HasPrefix(dep, "github.com/hanwen/go-fuse") {
			t.Errorf("a command under cmd/ depends on %s; only tests may", dep)
		}
	}
}
