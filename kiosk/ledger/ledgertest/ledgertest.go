// Package ledgertest opens real ledgers for tests: a SQLite file in the
// test's temporary directory, closed when the test ends.
package ledgertest

import (
	"context"
	"path/filepath"
	"testing"

	"tolem/kiosk/ledger"
)

// MustOpen opens a fresh ledger in tb.TempDir() and closes it at cleanup.
func MustOpen(tb testing.TB) *ledger.Ledger {
	tb.Helper()
	return MustOpenOptions(tb, ledger.Options{})
}

// MustOpenOptions is MustOpen with options (a fake clock, a size cap).
func MustOpenOptions(tb testing.TB, opts ledger.Options) *ledger.Ledger {
	tb.Helper()
	return MustOpenPath(tb, filepath.Join(tb.TempDir(), "ledger.db"), opts)
}

// MustOpenPath opens the ledger at path (to reopen one a test closed) and
// closes it at cleanup.
func MustOpenPath(tb testing.TB, path string, opts ledger.Options) *ledger.Ledger {
	tb.Helper()
	l, err := ledger.Open(context.Background(), path, opts)
	if err != nil {
		tb.Fatalf("open ledger: %v", err)
	}
	tb.Cleanup(func() {
		if err := l.Close(); err != nil {
			tb.Errorf("close ledger: %v", err)
		}
	})
	return l
}
