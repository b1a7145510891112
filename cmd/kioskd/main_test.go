package main

import (
	"os"
	"testing"
)

// sharedTempDirs hold what the tests build once and share (the kioskd and
// kioskctl binaries, a filled ledger); they go when the package's tests end.
var sharedTempDirs []string

func TestMain(m *testing.M) {
	code := m.Run()
	for _, d := range sharedTempDirs {
		os.RemoveAll(d)
	}
	os.Exit(code)
}
