package kiosk_test

import (
	"encoding/json"
	"io"
	"os/exec"
	"path"
	"strings"
	"testing"
)

type goPackage struct {
	ImportPath string
	Name       string
	Standard   bool
	Imports    []string
}

// listPackages runs `go list` over the module, so the rules below hold for
// every package, including ones added later.
func listPackages(t *testing.T, patterns ...string) []goPackage {
	t.Helper()
	cmd := exec.Command("go", append([]string{"list", "-json"}, patterns...)...)
	cmd.Dir = ".."
	out, err := cmd.Output()
	if err != nil {
		t.Fatalf("go list: %v", err)
	}
	dec := json.NewDecoder(strings.NewReader(string(out)))
	var pkgs []goPackage
	for {
		var p goPackage
		if err := dec.Decode(&p); err == io.EOF {
			break
		} else if err != nil {
			t.Fatal(err)
		}
		pkgs = append(pkgs, p)
	}
	return pkgs
}

// The domain package is the root every other package builds on; anything it
// imports beyond the standard library would be dragged into all of them.
func TestKioskImportsStandardLibraryOnly(t *testing.T) {
	pkgs := listPackages(t, "-deps", "tolem/kiosk")
	for _, p := range pkgs {
		if !p.Standard && p.ImportPath != "tolem/kiosk" {
			t.Errorf("tolem/kiosk depends on %s, which is not in the standard library", p.ImportPath)
		}
	}
}

// A package named sync shadows the standard library's in every file that
// needs both; sync/ is a folder only.
func TestNoPackageNamedSync(t *testing.T) {
	for _, p := range listPackages(t, "./...") {
		if p.Name == "sync" {
			t.Errorf("package %s is named sync", p.ImportPath)
		}
	}
}

// subtree is the unit of ownership: kiosk/ledger, devices/ccnet, sync/bankapi…
// Packages below one subtree (a driver and its emulator) may import each other.
func subtree(importPath string) string {
	parts := strings.Split(strings.TrimPrefix(importPath, "tolem/"), "/")
	if len(parts) > 2 {
		parts = parts[:2]
	}
	return path.Join(parts...)
}

// shared reports whether every package may import imp: the domain;
// devices/serialport with its subpackages, the one way to a tty (and, for
// emulators, to a pseudo-terminal) that drivers share; and devices/acceptor
// with its subpackages, what the bill acceptor drivers and their emulators
// do alike whatever protocol they speak, so that it is written once.
func shared(imp string) bool {
	for _, s := range []string{"tolem/kiosk", "tolem/devices/serialport", "tolem/devices/acceptor"} {
		if imp == s || (s != "tolem/kiosk" && strings.HasPrefix(imp, s+"/")) {
			return true
		}
	}
	return false
}

// Outside cmd/, a package imports the shared packages above and its own
// subtree, never a sibling: the daemon wires the pieces together, so each can be replaced.
func TestImportDirection(t *testing.T) {
	for _, p := range listPackages(t, "./...") {
		if strings.HasPrefix(p.ImportPath, "tolem/cmd/") || p.ImportPath == "tolem/kiosk" {
			continue
		}
		for _, imp := range p.Imports {
			if !strings.HasPrefix(imp, "tolem/") || shared(imp) {
				continue
			}
			if subtree(imp) != subtree(p.ImportPath) {
				t.Errorf("%s imports its sibling %s; reach it through an interface in tolem/kiosk and let cmd/ wire them", p.ImportPath, imp)
			}
		}
	}
}
