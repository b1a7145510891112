package banksim

import (
	"context"
	"database/sql"
	"errors"
	"fmt"
	"net/url"
	"time"

	_ "modernc.org/sqlite" // the SQLite driver, pure Go

	"tolem/kiosk"
	"tolem/sync/bankapi"
)

const schema = `
CREATE TABLE IF NOT EXISTS topups (
	id          TEXT PRIMARY KEY,
	terminal    TEXT NOT NULL,
	body        BLOB NOT NULL,   -- compacted JSON: what "the same body" is compared by
	phone       TEXT NOT NULL,
	amount      INTEGER NOT NULL,
	receipt_no  INTEGER NOT NULL,
	status      TEXT NOT NULL,
	decision    TEXT NOT NULL,   -- what a pending top-up becomes when due
	decision_reason TEXT NOT NULL DEFAULT '', -- the reason it gets if rejected
	reason      TEXT NOT NULL DEFAULT '',
	received_at INTEGER NOT NULL, -- unix ns, bank time
	due_at      INTEGER NOT NULL, -- unix ns, unskewed clock
	credited_at INTEGER NOT NULL DEFAULT 0 -- unix s, bank time; 0 until credited
);
-- settle runs before every top-up the sandbox takes: without this it read
-- every top-up ever received, and a drain of 10 000 went quadratic.
CREATE INDEX IF NOT EXISTS topups_pending ON topups (due_at) WHERE status = 'pending';
-- One row per crediting. No key on id on purpose: a double credit must show
-- in the stats instead of failing silently.
CREATE TABLE IF NOT EXISTS credits (
	id TEXT NOT NULL,
	at INTEGER NOT NULL
);
CREATE TABLE IF NOT EXISTS collections (
	id          TEXT PRIMARY KEY,
	terminal    TEXT NOT NULL,
	body        BLOB NOT NULL,
	amount      INTEGER NOT NULL,
	received_at INTEGER NOT NULL
);
CREATE TABLE IF NOT EXISTS heartbeats (
	terminal TEXT PRIMARY KEY,
	body     BLOB NOT NULL,
	at       INTEGER NOT NULL,
	count    INTEGER NOT NULL
);
`

func openDB(path string) (*sql.DB, error) {
	q := url.Values{}
	q.Add("_pragma", "busy_timeout(5000)")
	q.Add("_pragma", "journal_mode(WAL)")
	q.Add("_pragma", "synchronous(FULL)")
	db, err := sql.Open("sqlite", "file:"+path+"?"+q.Encode())
	if err != nil {
		return nil, fmt.Errorf("open bank database %s: %w", path, err)
	}
	// One connection: every write is serialised anyway, and SQLite then never
	// answers "database is locked".
	db.SetMaxOpenConns(1)
	if _, err := db.Exec(schema); err != nil {
		db.Close()
		return nil, fmt.Errorf("create bank database %s: %w", path, err)
	}
	// A bank database from before services gets their columns.
	for _, c := range []string{"service", "account"} {
		var n int
		if err := db.QueryRow(`SELECT COUNT(*) FROM pragma_table_info('topups') WHERE name = ?`, c).Scan(&n); err != nil {
			db.Close()
			return nil, fmt.Errorf("bank database %s: %w", path, err)
		}
		if n == 0 {
			if _, err := db.Exec(`ALTER TABLE topups ADD COLUMN ` + c + ` TEXT NOT NULL DEFAULT ''`); err != nil {
				db.Close()
				return nil, fmt.Errorf("bank database %s: add %s: %w", path, c, err)
			}
		}
	}
	return db, nil
}

// TopUpRecord is a top-up as the bank holds it (GET /_admin/topups).
type TopUpRecord struct {
	ID         string         `json:"id"`
	Terminal   string         `json:"terminal"`
	Phone      kiosk.Phone    `json:"phone,omitempty"`
	Service    string         `json:"service,omitempty"`
	Account    string         `json:"account,omitempty"`
	Amount     kiosk.Money    `json:"amount"`
	ReceiptNo  int64          `json:"receipt_no"`
	Status     bankapi.Status `json:"status"`
	Reason     string         `json:"reason,omitempty"`
	ReceivedAt time.Time      `json:"received_at"`
	CreditedAt *time.Time     `json:"credited_at,omitempty"`
	Credits    int            `json:"credits"`
}

type storedTopUp struct {
	terminal   string
	body       []byte
	status     bankapi.Status
	reason     string
	creditedAt int64
}

func (t storedTopUp) wire(id string) bankapi.TopUpStatus {
	st := bankapi.TopUpStatus{ID: id, Status: t.status, Reason: t.reason}
	if t.creditedAt != 0 {
		st.CreditedAt = time.Unix(t.creditedAt, 0).UTC()
	}
	return st
}

type querier interface {
	QueryRowContext(ctx context.Context, query string, args ...any) *sql.Row
}

func getTopUp(ctx context.Context, q querier, id string) (storedTopUp, bool, error) {
	var t storedTopUp
	var status string
	err := q.QueryRowContext(ctx,
		`SELECT terminal, body, status, reason, credited_at FROM topups WHERE id = ?`, id).
		Scan(&t.terminal, &t.body, &status, &t.reason, &t.creditedAt)
	if errors.Is(err, sql.ErrNoRows) {
		return storedTopUp{}, false, nil
	}
	if err != nil {
		return storedTopUp{}, false, err
	}
	t.status = bankapi.Status(status)
	return t, true, nil
}

// settle decides every pending top-up that is due. It is the only place a
// pending top-up is credited, and it moves each from pending exactly once.
func settle(ctx context.Context, db *sql.DB, now time.Time, skew time.Duration) error {
	tx, err := db.BeginTx(ctx, nil)
	if err != nil {
		return err
	}
	defer tx.Rollback()
	rows, err := tx.QueryContext(ctx,
		`SELECT id, decision, due_at FROM topups WHERE status = 'pending' AND due_at <= ?`, now.UnixNano())
	if err != nil {
		return err
	}
	type due struct {
		id, decision string
		at           int64
	}
	var list []due
	for rows.Next() {
		var d due
		if err := rows.Scan(&d.id, &d.decision, &d.at); err != nil {
			rows.Close()
			return err
		}
		list = append(list, d)
	}
	rows.Close()
	if err := rows.Err(); err != nil {
		return err
	}
	for _, d := range list {
		bankAt := time.Unix(0, d.at).Add(skew).Unix()
		if d.decision == string(bankapi.StatusCredited) {
			res, err := tx.ExecContext(ctx,
				`UPDATE topups SET status = 'credited', credited_at = ? WHERE id = ? AND status = 'pending'`, bankAt, d.id)
			if err != nil {
				return err
			}
			if n, _ := res.RowsAffected(); n == 1 {
				if _, err := tx.ExecContext(ctx, `INSERT INTO credits (id, at) VALUES (?, ?)`, d.id, bankAt); err != nil {
					return err
				}
			}
			continue
		}
		if _, err := tx.ExecContext(ctx,
			`UPDATE topups SET status = ?, reason = decision_reason WHERE id = ? AND status = 'pending'`, d.decision, d.id); err != nil {
			return err
		}
	}
	return tx.Commit()
}

var errNoRows = sql.ErrNoRows
