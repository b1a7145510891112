package ledger

import (
	"context"
	"fmt"
	"io"
	"os"
	"path/filepath"
	"sync"
	"testing"
	"time"

	"tolem/kiosk"
)

// The five-year ledger takes minutes to generate, so it is made once and
// kept: $TOLEM_LEDGER_5Y, or tolem-ledger-5y-v1.db in the temporary
// directory. Each benchmark process works on a copy of it.
const fiveYearName = "tolem-ledger-5y-v1.db"

var fiveYearOnce struct {
	sync.Once
	path string
	err  error
}

// fiveYearFile returns the path of the kept five-year ledger, generating it
// when missing.
func fiveYearFile(tb testing.TB) string {
	fiveYearOnce.Do(func() {
		p := os.Getenv("TOLEM_LEDGER_5Y")
		if p == "" {
			p = filepath.Join(os.TempDir(), fiveYearName)
		}
		fiveYearOnce.path = p
		if _, err := os.Stat(p); err == nil {
			return
		}
		tmp := p + ".partial"
		for _, f := range []string{tmp, tmp + "-wal", tmp + "-shm"} {
			_ = os.Remove(f)
		}
		start := time.Now()
		n, err := generateLedger(context.Background(), tmp, fiveYears)
		if err != nil {
			fiveYearOnce.err = fmt.Errorf("generate the five-year ledger: %w", err)
			return
		}
		fmt.Fprintf(os.Stderr, "five-year ledger generated in %v: %+v\n", time.Since(start).Round(time.Second), n)
		fiveYearOnce.err = os.Rename(tmp, p)
	})
	if fiveYearOnce.err != nil {
		tb.Fatal(fiveYearOnce.err)
	}
	return fiveYearOnce.path
}

// copyFile copies a closed ledger file (no -wal left by a clean close).
func copyFile(tb testing.TB, from, to string) {
	src, err := os.Open(from)
	if err != nil {
		tb.Fatal(err)
	}
	defer src.Close()
	dst, err := os.Create(to)
	if err != nil {
		tb.Fatal(err)
	}
	if _, err := io.Copy(dst, src); err != nil {
		tb.Fatal(err)
	}
	if err := dst.Close(); err != nil {
		tb.Fatal(err)
	}
}

// TestGenerateFiveYears makes the kept five-year ledger ahead of the
// benchmarks; it runs only when asked for (TOLEM_GEN_5Y=1).
func TestGenerateFiveYears(t *testing.T) {
	if os.Getenv("TOLEM_GEN_5Y") == "" {
		t.Skip("set TOLEM_GEN_5Y=1 to generate the five-year ledger")
	}
	p := fiveYearFile(t)
	st, err := os.Stat(p)
	if err != nil {
		t.Fatal(err)
	}
	t.Logf("%s: %d bytes", p, st.Size())
}

var _ = kiosk.Tenge
