package ledger

import (
	"context"
	"database/sql"
	"errors"
	"os"
	"path/filepath"
	"strings"
	"testing"
	"testing/fstest"
	"time"

	"tolem/kiosk"
)

var t0 = time.Date(2025, 3, 1, 4, 0, 0, 0, time.UTC)

func testCtx(t *testing.T) context.Context {
	ctx, cancel := context.WithTimeout(context.Background(), 30*time.Second)
	t.Cleanup(cancel)
	return ctx
}

func openTest(t *testing.T, opts Options) *Ledger {
	t.Helper()
	l, err := Open(testCtx(t), filepath.Join(t.TempDir(), "ledger.db"), opts)
	if err != nil {
		t.Fatal(err)
	}
	t.Cleanup(func() { _ = l.Close() })
	return l
}

// pragma reads a pragma as text, as a technician would in the sqlite3 shell.
func pragma(t *testing.T, db *sql.DB, name string) string {
	t.Helper()
	var v string
	if err := db.QueryRowContext(testCtx(t), "PRAGMA "+name).Scan(&v); err != nil {
		t.Fatalf("PRAGMA %s: %v", name, err)
	}
	return v
}

func TestWriterPragmas(t *testing.T) {
	l := openTest(t, Options{MaxBytes: 1 << 20})
	// No idle connection kept: every query below opens a fresh one, so this
	// checks what the DSN gives every pooled connection, not just the first.
	l.w.SetMaxIdleConns(0)
	l.r.SetMaxIdleConns(0)
	want := []struct {
		db         *sql.DB
		name, want string
	}{
		{l.w, "journal_mode", "wal"},
		{l.w, "synchronous", "2"}, // FULL
		{l.w, "foreign_keys", "1"},
		{l.w, "busy_timeout", "5000"},
		{l.w, "max_page_count", "256"}, // 1 MiB of 4 KiB pages
		{l.r, "query_only", "1"},
		{l.r, "journal_mode", "wal"},
	}
	for range 2 {
		for _, p := range want {
			if got := pragma(t, p.db, p.name); got != p.want {
				t.Errorf("%s is %s, want %s", p.name, got, p.want)
			}
		}
	}
	if _, err := l.r.ExecContext(testCtx(t), `INSERT INTO settings VALUES ('k', 'v', 'now')`); err == nil {
		t.Fatal("the read pool wrote")
	}
	if got := l.w.Stats().MaxOpenConnections; got != 1 {
		t.Fatalf("writer pool of %d connections, want 1", got)
	}
	if got := l.r.Stats().MaxOpenConnections; got != defaultReads {
		t.Fatalf("read pool of %d connections, want %d", got, defaultReads)
	}
}

func TestOpenRefusesWeakDurability(t *testing.T) {
	base := []string{"_pragma=" + busyTimeout, "_txlock=immediate"}
	tests := []struct {
		name   string
		params []string
		say    string
	}{
		{"synchronous NORMAL", append([]string{"_pragma=journal_mode(WAL)", "_pragma=synchronous(NORMAL)", "_pragma=foreign_keys(1)"}, base...), "NORMAL"},
		{"synchronous OFF", append([]string{"_pragma=journal_mode(WAL)", "_pragma=synchronous(OFF)", "_pragma=foreign_keys(1)"}, base...), "OFF"},
		{"rollback journal", append([]string{"_pragma=journal_mode(DELETE)", "_pragma=synchronous(FULL)", "_pragma=foreign_keys(1)"}, base...), "WAL"},
		{"no foreign keys", append([]string{"_pragma=journal_mode(WAL)", "_pragma=synchronous(FULL)"}, base...), "foreign_keys"},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			_, err := open(testCtx(t), filepath.Join(t.TempDir(), "ledger.db"), Options{}, tt.params)
			if !errors.Is(err, ErrNotDurable) || !strings.Contains(err.Error(), tt.say) {
				t.Fatalf("open: %v, want ErrNotDurable naming %s", err, tt.say)
			}
		})
	}
}

func TestMigrationsApplyOnce(t *testing.T) {
	l := openTest(t, Options{})
	ctx := testCtx(t)
	var n int
	if err := l.w.QueryRowContext(ctx, `SELECT COUNT(*) FROM schema_migrations`).Scan(&n); err != nil {
		t.Fatal(err)
	}
	ms, err := loadMigrations(migrationFiles)
	if err != nil {
		t.Fatal(err)
	}
	if n != len(ms) || n < 2 {
		t.Fatalf("%d migrations recorded, %d embedded", n, len(ms))
	}
	applied, err := migrate(ctx, l.w, migrationFiles, kiosk.SystemClock{})
	if err != nil || len(applied) != 0 {
		t.Fatalf("migrating again applied %v, %v", applied, err)
	}
}

func TestMigrationRunner(t *testing.T) {
	l := openTest(t, Options{})
	ctx := testCtx(t)
	// Versions beyond the real ledger's, which schema_migrations already lists.
	fsys := fstest.MapFS{
		"migrations/0101_a.sql": {Data: []byte(`CREATE TABLE extra_a (x INTEGER);`)},
		"migrations/0102_b.sql": {Data: []byte(`CREATE TABLE extra_b (x INTEGER); INSERT INTO nowhere VALUES (1);`)},
	}
	applied, err := migrate(ctx, l.w, fsys, kiosk.SystemClock{})
	if err == nil || len(applied) != 1 || applied[0] != "0101_a.sql" {
		t.Fatalf("applied %v, %v; want 0101 applied and 0102 failing", applied, err)
	}
	var n int
	if err := l.w.QueryRowContext(ctx, `SELECT COUNT(*) FROM sqlite_schema WHERE name = 'extra_b'`).Scan(&n); err != nil || n != 0 {
		t.Fatalf("half of a failed migration stayed: %d, %v", n, err)
	}
	fsys["migrations/0102_b.sql"] = &fstest.MapFile{Data: []byte(`CREATE TABLE extra_b (x INTEGER);`)}
	applied, err = migrate(ctx, l.w, fsys, kiosk.SystemClock{})
	if err != nil || len(applied) != 1 || applied[0] != "0102_b.sql" {
		t.Fatalf("after the fix applied %v, %v; want 0102 only", applied, err)
	}
	newer, err := newerMigrations(ctx, l.w, migrationFiles)
	if err != nil || len(newer) != 2 {
		t.Fatalf("migrations unknown to the release: %v, %v", newer, err)
	}

	for name, f := range map[string]string{"dup": "migrations/0101_again.sql", "badname": "migrations/1_x.sql"} {
		bad := fstest.MapFS{"migrations/0101_a.sql": fsys["migrations/0101_a.sql"], f: {Data: []byte(`SELECT 1;`)}}
		if _, err := loadMigrations(bad); err == nil {
			t.Errorf("%s: loaded", name)
		}
	}
}

func TestReadOnlyIsWriteFailure(t *testing.T) {
	l := openTest(t, Options{})
	ctx := testCtx(t)
	if err := l.OpenSession(ctx, kiosk.Session{ID: "s", Phone: "+77011234567", OpenedAt: t0}); err != nil {
		t.Fatal(err)
	}
	// What a data partition remounted read-only looks like to SQLite.
	if _, err := l.w.ExecContext(ctx, `PRAGMA query_only = 1`); err != nil {
		t.Fatal(err)
	}
	err := l.RecordEscrow(ctx, kiosk.BillRecord{SessionID: "s", Seq: 1, Value: kiosk.Tenge(1000)})
	if !errors.Is(err, kiosk.ErrLedgerWrite) || !strings.Contains(err.Error(), "readonly") {
		t.Fatalf("write on a read-only ledger: %v, want ErrLedgerWrite with SQLite's reason", err)
	}
	if !strings.Contains(err.Error(), "read-write") {
		t.Fatalf("error %q does not tell the technician what to check", err)
	}
}

func TestReceiptNotTakenByRolledBackTopUp(t *testing.T) {
	l := openTest(t, Options{})
	ctx := testCtx(t)
	complete := func(id string) (kiosk.TopUp, error) {
		if err := l.OpenSession(ctx, kiosk.Session{ID: id, Phone: "+77011234567", OpenedAt: t0}); err != nil {
			t.Fatal(err)
		}
		if err := l.RecordEscrow(ctx, kiosk.BillRecord{SessionID: id, Seq: 1, Value: kiosk.Tenge(1000)}); err != nil {
			t.Fatal(err)
		}
		if err := l.MarkStacked(ctx, BillID(id, 1), t0); err != nil {
			t.Fatal(err)
		}
		return l.CompleteTopUp(ctx, id, t0)
	}
	if tu, err := complete("a"); err != nil || tu.ReceiptNo != 1 {
		t.Fatalf("first top-up: %+v, %v", tu, err)
	}
	// The insert fails after the receipt number was taken in the same
	// transaction: everything rolls back, the counter too.
	if _, err := l.w.ExecContext(ctx, `CREATE TEMP TRIGGER fail_topup BEFORE INSERT ON main.topups
		BEGIN SELECT RAISE(ABORT, 'simulated failure'); END`); err != nil {
		t.Fatal(err)
	}
	if _, err := complete("b"); !errors.Is(err, kiosk.ErrLedgerWrite) {
		t.Fatalf("failing top-up: %v", err)
	}
	var counter int64
	if err := l.w.QueryRowContext(ctx, `SELECT value FROM counters WHERE name = 'receipt_no'`).Scan(&counter); err != nil || counter != 1 {
		t.Fatalf("receipt counter %d after the rollback, want 1 (%v)", counter, err)
	}
	if _, err := l.w.ExecContext(ctx, `DROP TRIGGER temp.fail_topup`); err != nil {
		t.Fatal(err)
	}
	tu, err := l.CompleteTopUp(ctx, "b", t0)
	if err != nil || tu.ReceiptNo != 2 {
		t.Fatalf("top-up after the failure: %+v, %v; want receipt 2", tu, err)
	}
	if open, _ := l.PendingRecovery(ctx); open {
		t.Fatal("a session stayed open")
	}
}

func TestTimesSortAsText(t *testing.T) {
	a := time.Date(2025, 3, 1, 4, 0, 5, 100_000_000, time.UTC)
	b := a.Add(20 * time.Millisecond)
	c := time.Date(2025, 3, 1, 9, 0, 5, 0, time.FixedZone("ALMT", 5*3600)) // before a, in another zone
	if !(fmtTime(c) < fmtTime(a) && fmtTime(a) < fmtTime(b)) {
		t.Fatalf("%s %s %s do not sort in time order", fmtTime(c), fmtTime(a), fmtTime(b))
	}
	got, err := parseTime(fmtTime(b))
	if err != nil || !got.Equal(b) {
		t.Fatalf("round trip %v, %v", got, err)
	}
}

func TestPathWithURICharacters(t *testing.T) {
	dir := filepath.Join(t.TempDir(), "data #1 ?x=%20")
	if err := os.Mkdir(dir, 0o700); err != nil {
		t.Fatal(err)
	}
	path := filepath.Join(dir, "ledger.db")
	for range 2 { // create, then reopen through the quick_check
		l, err := Open(testCtx(t), path, Options{})
		if err != nil {
			t.Fatal(err)
		}
		if err := l.Close(); err != nil {
			t.Fatal(err)
		}
	}
	if _, err := os.Stat(path); err != nil {
		t.Fatalf("ledger not where it was asked: %v", err)
	}
}
