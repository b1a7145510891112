package main

import (
	"context"
	"database/sql"
	"os"
	"path/filepath"
	"strings"
	"testing"
	"time"

	tk "tolem/kiosk"
	"tolem/kiosk/ledger"
)

// An auditor with a copy of a kiosk's data directory checks it without
// kioskd: kioskctl verify --db names the bill edited in the copy.
func TestVerifyACopyOfTheLedger(t *testing.T) {
	ctx := context.Background()
	path := filepath.Join(t.TempDir(), "ledger.db")
	l, err := ledger.Open(ctx, path, ledger.Options{})
	if err != nil {
		t.Fatal(err)
	}
	at := time.Date(2026, 3, 1, 8, 0, 0, 0, time.UTC)
	if err := l.OpenSession(ctx, tk.Session{ID: "s", Phone: "+77011234567", OpenedAt: at}); err != nil {
		t.Fatal(err)
	}
	if err := l.RecordEscrow(ctx, tk.BillRecord{SessionID: "s", Seq: 1, Value: tk.Tenge(5000), At: at}); err != nil {
		t.Fatal(err)
	}
	if err := l.MarkStacked(ctx, "s/1", at); err != nil {
		t.Fatal(err)
	}
	if _, err := l.CompleteTopUp(ctx, "s", at); err != nil {
		t.Fatal(err)
	}
	l.Close()

	run1 := func(args ...string) (int, string, string) {
		var out, errb strings.Builder
		code := run(args, os.Stdin, &out, &errb)
		return code, out.String(), errb.String()
	}
	before, _ := os.ReadFile(path)
	if code, out, errOut := run1("verify", "--db", path); code != 0 || !strings.Contains(out, "OK") {
		t.Fatalf("verify --db on an intact copy: exit %d\n%s%s", code, out, errOut)
	}
	if after, _ := os.ReadFile(path); string(after) != string(before) {
		t.Error("verify --db changed the file")
	}
	if code, out, errOut := run1("verify", "--db", path, "--integrity"); code != 0 || !strings.Contains(out, "integrity_check ok") {
		t.Fatalf("verify --db --integrity on an intact copy: exit %d\n%s%s", code, out, errOut)
	}

	db, err := sql.Open("sqlite", "file:"+path)
	if err != nil {
		t.Fatal(err)
	}
	if _, err := db.Exec(`UPDATE topups SET amount = 5000000`); err != nil {
		t.Fatal(err)
	}
	db.Close()
	code, out, errOut := run1("--json", "verify", "--db="+path)
	if code != 1 || !strings.Contains(out, `"table": "topups"`) || !strings.Contains(out, `"field": "amount"`) {
		t.Errorf("verify --db after the edit: exit %d\n%s%s", code, out, errOut)
	}
	if code, _, errOut := run1("verify", "--db", filepath.Join(t.TempDir(), "none.db")); code != 1 || !strings.Contains(errOut, "none.db") {
		t.Errorf("verify --db on a missing file: exit %d, %q", code, errOut)
	}
}
