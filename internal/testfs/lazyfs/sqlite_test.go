package lazyfs_test

import (
	"database/sql"
	"fmt"
	"path/filepath"
	"testing"

	"tolem/internal/testfs/lazyfs"

	_ "modernc.org/sqlite"
)

// openLikeTheLedger opens path with the pragmas kiosk/ledger's writer uses.
func openLikeTheLedger(t *testing.T, path string) *sql.DB {
	t.Helper()
	db, err := sql.Open("sqlite", "file:"+path+"?_pragma=busy_timeout(5000)&_pragma=foreign_keys(1)"+
		"&_pragma=journal_mode(WAL)&_pragma=synchronous(FULL)&_txlock=immediate")
	if err != nil {
		t.Fatal(err)
	}
	db.SetMaxOpenConns(1)
	return db
}

func sqlExec(t *testing.T, db *sql.DB, q string, args ...any) {
	t.Helper()
	if _, err := db.Exec(q, args...); err != nil {
		t.Fatalf("%s: %v", q, err)
	}
}

// TestSQLiteCommittedTransactionsSurviveACut: a database created on the
// mount, written by committed transactions and a checkpoint, then one
// transaction left open at the cut. After the cut every committed row is
// there, the open one is not, and the file passes integrity_check — under
// each of the cruel modes too.
func TestSQLiteCommittedTransactionsSurviveACut(t *testing.T) {
	modes := map[string]lazyfs.Options{
		"plain":       {},
		"torn":        {Torn: true, Seed: 7},
		"reorder":     {Reorder: true, Seed: 7},
		"eager-names": {EagerNames: true},
		"all":         {Torn: true, Reorder: true, EagerNames: true, Seed: 11},
	}
	for name, opts := range modes {
		t.Run(name, func(t *testing.T) {
			back := t.TempDir()
			lfs := lazyfs.Mount(t, back, &opts)
			db := openLikeTheLedger(t, filepath.Join(lfs.Dir(), "ledger.db"))
			sqlExec(t, db, "CREATE TABLE bills (id INTEGER PRIMARY KEY, tiyn INTEGER NOT NULL, note TEXT NOT NULL)")
			const committed = 60
			for i := range committed {
				sqlExec(t, db, "INSERT INTO bills (tiyn, note) VALUES (?, ?)", 100000, fmt.Sprintf("bill %d %0200d", i, i))
				if i == committed/2 {
					sqlExec(t, db, "PRAGMA wal_checkpoint(TRUNCATE)")
				}
			}
			tx, err := db.Begin()
			if err != nil {
				t.Fatal(err)
			}
			for i := range 20 {
				if _, err := tx.Exec("INSERT INTO bills (tiyn, note) VALUES (?, ?)", 1, fmt.Sprintf("uncommitted %0500d", i)); err != nil {
					t.Fatal(err)
				}
			}
			lfs.Cut()
			_ = tx.Rollback()
			db.Close()

			again := lazyfs.Mount(t, back, nil)
			db = openLikeTheLedger(t, filepath.Join(again.Dir(), "ledger.db"))
			defer db.Close()
			var check string
			if err := db.QueryRow("PRAGMA integrity_check").Scan(&check); err != nil || check != "ok" {
				t.Fatalf("integrity_check after the cut: %q, %v", check, err)
			}
			var n, sum int64
			if err := db.QueryRow("SELECT count(*), coalesce(sum(tiyn), 0) FROM bills").Scan(&n, &sum); err != nil {
				t.Fatal(err)
			}
			if n != committed || sum != committed*100000 {
				t.Errorf("after the cut: %d bills worth %d tiyn, want the %d committed worth %d", n, sum, committed, committed*100000)
			}
			sqlExec(t, db, "INSERT INTO bills (tiyn, note) VALUES (1, 'after the boot')")
		})
	}
}
