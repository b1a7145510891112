package ledger

import (
	"context"
	"database/sql"
	"errors"
	"fmt"

	"tolem/kiosk"
)

// Audit appends e to the audit table. A zero At is the ledger's clock; an
// empty Actor is "system". Callers mask phone numbers in Detail.
func (l *Ledger) Audit(ctx context.Context, e kiosk.AuditEntry) error {
	if e.Action == "" {
		return fmt.Errorf("ledger: audit: %w: empty action", ErrInvalid)
	}
	e.At = l.now(e.At)
	return l.write(ctx, "audit "+e.Action, func(tx *sql.Tx) error {
		return insertAudit(ctx, tx, e)
	})
}

func insertAudit(ctx context.Context, tx *sql.Tx, e kiosk.AuditEntry) error {
	if e.Actor == "" {
		e.Actor = "system"
	}
	_, err := tx.ExecContext(ctx, `INSERT INTO audit (at, actor, action, detail) VALUES (?, ?, ?, ?)`,
		fmtTime(e.At), e.Actor, e.Action, e.Detail)
	return err
}

// AuditTail returns the last n audit entries, oldest first (as `tail` shows a
// log), for the console's `log [n]`.
func (l *Ledger) AuditTail(ctx context.Context, n int) ([]kiosk.AuditEntry, error) {
	if n <= 0 {
		return nil, nil
	}
	var out []kiosk.AuditEntry
	err := l.read(ctx, "audit tail", func(tx *sql.Tx) error {
		rows, err := tx.QueryContext(ctx, `SELECT at, actor, action, detail FROM
			(SELECT id, at, actor, action, detail FROM audit ORDER BY id DESC LIMIT ?) ORDER BY id`, n)
		if err != nil {
			return err
		}
		defer rows.Close()
		for rows.Next() {
			var e kiosk.AuditEntry
			var at string
			if err := rows.Scan(&at, &e.Actor, &e.Action, &e.Detail); err != nil {
				return err
			}
			if e.At, err = parseTime(at); err != nil {
				return err
			}
			out = append(out, e)
		}
		return rows.Err()
	})
	return out, err
}

// Setting returns the value of a persistent setting and whether it is set.
func (l *Ledger) Setting(ctx context.Context, key string) (string, bool, error) {
	var v string
	found := true
	err := l.read(ctx, "setting "+key, func(tx *sql.Tx) error {
		err := tx.QueryRowContext(ctx, `SELECT value FROM settings WHERE key = ?`, key).Scan(&v)
		if errors.Is(err, sql.ErrNoRows) {
			found = false
			return nil
		}
		return err
	})
	return v, found && err == nil, err
}

// SetSetting sets a persistent setting (manual out-of-service, console
// lockout…), durably.
func (l *Ledger) SetSetting(ctx context.Context, key, value string) error {
	if key == "" {
		return fmt.Errorf("ledger: set setting: %w: empty key", ErrInvalid)
	}
	at := l.clock.Now()
	return l.write(ctx, "set setting "+key, func(tx *sql.Tx) error {
		_, err := tx.ExecContext(ctx, `INSERT INTO settings (key, value, updated_at) VALUES (?, ?, ?)
			ON CONFLICT (key) DO UPDATE SET value = excluded.value, updated_at = excluded.updated_at`,
			key, value, fmtTime(at))
		return err
	})
}
