package ledger

import (
	"context"
	"database/sql"
	"errors"
	"fmt"
	"time"

	"tolem/kiosk"
)

// ReceiptState is the state of the top-up's receipt (printed, skipped,
// failed), "" when its printing never started.
func (l *Ledger) ReceiptState(ctx context.Context, topUpID string) (string, error) {
	var st string
	err := l.read(ctx, "receipt state of "+topUpID, func(tx *sql.Tx) error {
		err := tx.QueryRowContext(ctx, `SELECT state FROM receipts WHERE topup_id = ?`, topUpID).Scan(&st)
		if errors.Is(err, sql.ErrNoRows) {
			return nil
		}
		return err
	})
	return st, err
}

// RecordReceipt records what became of the top-up's receipt. A state already
// recorded is replaced only by printed (a failed receipt printed later).
func (l *Ledger) RecordReceipt(ctx context.Context, topUpID, state, note string, at time.Time) error {
	switch state {
	case "printed", "skipped", "failed":
	default:
		return fmt.Errorf("ledger: record receipt of %s: %w: state %q", topUpID, ErrInvalid, state)
	}
	at = l.now(at)
	return l.write(ctx, "record receipt of "+topUpID, func(tx *sql.Tx) error {
		_, err := tx.ExecContext(ctx, `INSERT INTO receipts (topup_id, state, note, at) VALUES (?, ?, ?, ?)
			ON CONFLICT (topup_id) DO UPDATE SET state = excluded.state, note = excluded.note, at = excluded.at
			WHERE excluded.state = 'printed'`, topUpID, state, note, fmtTime(at))
		return err
	})
}

// RecordCopy counts a copy of the top-up's receipt printed on request.
func (l *Ledger) RecordCopy(ctx context.Context, topUpID string, at time.Time) error {
	at = l.now(at)
	return l.write(ctx, "record receipt copy of "+topUpID, func(tx *sql.Tx) error {
		_, err := tx.ExecContext(ctx, `INSERT INTO receipts (topup_id, state, note, at, copies)
			VALUES (?, 'failed', 'only copies printed', ?, 1)
			ON CONFLICT (topup_id) DO UPDATE SET copies = copies + 1`, topUpID, fmtTime(at))
		return err
	})
}

// ReceiptCopies is how many copies of the top-up's receipt were printed.
func (l *Ledger) ReceiptCopies(ctx context.Context, topUpID string) (int, error) {
	var n int
	err := l.read(ctx, "receipt copies of "+topUpID, func(tx *sql.Tx) error {
		err := tx.QueryRowContext(ctx, `SELECT copies FROM receipts WHERE topup_id = ?`, topUpID).Scan(&n)
		if errors.Is(err, sql.ErrNoRows) {
			return nil
		}
		return err
	})
	return n, err
}

// Unprinted returns the top-ups completed at or after since whose receipt's
// printing never started, oldest first.
func (l *Ledger) Unprinted(ctx context.Context, since time.Time) ([]kiosk.TopUp, error) {
	var out []kiosk.TopUp
	err := l.read(ctx, "unprinted receipts", func(tx *sql.Tx) error {
		var err error
		out, err = topUpsWhere(ctx, tx, `t.completed_at >= ?
			AND NOT EXISTS (SELECT 1 FROM receipts r WHERE r.topup_id = t.id)
			ORDER BY t.receipt_no`, fmtTime(since))
		return err
	})
	return out, err
}
