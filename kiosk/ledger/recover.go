package ledger

import (
	"context"
	"database/sql"
	"errors"
	"fmt"
	"log/slog"
	"time"

	"tolem/kiosk"
)

// Recover settles, in one transaction, what a crash or a power cut left open,
// with p, what the acceptor reported at its power-up (nil when it never
// reported). at should be the time of that report.
//
// Escrowed bills first, wherever they are:
//   - p says a bill is in the stacker: only the newest escrowed bill can be the
//     one in the device; it becomes stacked (in the current cassette period).
//     The older ones become uncertain. If p names a value other than the
//     newest bill's, that bill becomes uncertain too and the bill in the
//     stacker is kept in suspense.
//   - p says the bill is in the validator (the device gives it back) or
//     nowhere: escrowed bills become returned.
//   - p is nil: escrowed bills become uncertain; they are kept with the
//     current cassette period, since they may be in it.
//
// If p says a bill is in the stacker and no escrowed bill exists, the bill is
// kept in suspense: no session, the value p names (zero when unknown), the
// current period.
//
// Then every open session holding a stacked bill is completed as a top-up
// (Recovered, completed at at, receipt numbers in the order the sessions
// opened) and every other open session is closed empty. Uncertain bills count
// in no top-up; they appear in ReviewList.
//
// Once Recover has run nothing is left for it, and a report is applied once:
// Recover called again with the same at changes nothing (a bill escrowed since
// then would be settled as if p were nil). A later power-up is a new report.
func (l *Ledger) Recover(ctx context.Context, p *kiosk.PowerUpReport, at time.Time) (kiosk.RecoveryReport, error) {
	at = l.now(at)
	var rep kiosk.RecoveryReport
	err := l.write(ctx, "recover", func(tx *sql.Tx) error {
		rep = kiosk.RecoveryReport{}
		period, err := currentPeriodID(ctx, tx)
		if err != nil {
			return err
		}
		if p != nil {
			// A power-up report describes one instant; applied a second time it
			// would stack, or put in suspense, a bill that is not there.
			var last string
			err := tx.QueryRowContext(ctx, `SELECT value FROM settings WHERE key = ?`, keyPowerUpApplied).Scan(&last)
			if err != nil && !errors.Is(err, sql.ErrNoRows) {
				return err
			}
			if last == fmtTime(at) {
				p = nil
			} else if _, err := tx.ExecContext(ctx, `INSERT INTO settings (key, value, updated_at) VALUES (?, ?, ?)
				ON CONFLICT (key) DO UPDATE SET value = excluded.value, updated_at = excluded.updated_at`,
				keyPowerUpApplied, fmtTime(at), fmtTime(at)); err != nil {
				return err
			}
		}
		escrowed, err := queryBills(ctx, tx, `state = 'escrowed' ORDER BY escrowed_at DESC, rowid DESC`)
		if err != nil {
			return err
		}
		settle := func(b kiosk.BillRecord, state kiosk.BillState) error {
			var pid any
			if state != kiosk.BillReturned {
				pid = period
			}
			_, err := tx.ExecContext(ctx, `UPDATE bills SET state = ?, settled_at = ?, period_id = ? WHERE id = ?`,
				string(state), fmtTime(at), pid, b.ID)
			switch state {
			case kiosk.BillStacked:
				rep.Stacked++
			case kiosk.BillReturned:
				rep.Returned++
			case kiosk.BillUncertain:
				rep.Uncertain++
			}
			return err
		}
		suspense := func(value kiosk.Money) error {
			n, err := insertSuspense(ctx, tx, value, at, period)
			rep.Suspense += n
			return err
		}

		switch {
		case p == nil:
			for _, b := range escrowed {
				if err := settle(b, kiosk.BillUncertain); err != nil {
					return err
				}
			}
		case p.BillAt == kiosk.BillInStacker:
			if len(escrowed) == 0 {
				if err := suspense(p.Value); err != nil {
					return err
				}
				break
			}
			newest := escrowed[0]
			if p.Value == 0 || p.Value == newest.Value {
				err = settle(newest, kiosk.BillStacked)
			} else {
				err = settle(newest, kiosk.BillUncertain)
				if err == nil {
					err = suspense(p.Value)
				}
			}
			if err != nil {
				return err
			}
			for _, b := range escrowed[1:] {
				if err := settle(b, kiosk.BillUncertain); err != nil {
					return err
				}
			}
		default:
			for _, b := range escrowed {
				if err := settle(b, kiosk.BillReturned); err != nil {
					return err
				}
			}
		}

		open, err := openSessions(ctx, tx)
		if err != nil {
			return err
		}
		for _, id := range open {
			t, err := completeSession(ctx, tx, id, at, true)
			switch {
			case err == nil:
				rep.TopUps = append(rep.TopUps, t)
			case isEmpty(err):
				if err := closeEmpty(ctx, tx, id, at); err != nil {
					return err
				}
				rep.Emptied++
			default:
				return fmt.Errorf("session %s: %w", id, err)
			}
		}
		if rep.Stacked+rep.Returned+rep.Uncertain+rep.Suspense+len(rep.TopUps)+rep.Emptied == 0 {
			return nil
		}
		return insertAudit(ctx, tx, kiosk.AuditEntry{At: at, Actor: "system", Action: "recover", Detail: recoveryDetail(p, rep)})
	})
	if err != nil {
		return kiosk.RecoveryReport{}, err
	}
	if len(rep.TopUps)+rep.Emptied+rep.Suspense+rep.Uncertain+rep.Stacked+rep.Returned > 0 {
		level := slog.LevelInfo
		if rep.Uncertain+rep.Suspense > 0 {
			level = slog.LevelWarn
		}
		l.log.Log(ctx, level, "ledger recovered an interrupted session",
			"stacked", rep.Stacked, "returned", rep.Returned, "uncertain", rep.Uncertain,
			"suspense", rep.Suspense, "topups", len(rep.TopUps), "emptied", rep.Emptied)
	}
	return rep, nil
}

// keyPowerUpApplied is the setting holding the time of the last power-up
// report Recover applied.
const keyPowerUpApplied = "ledger.powerup_applied_at"

func isEmpty(err error) bool { return errors.Is(err, kiosk.ErrEmptySession) }

func openSessions(ctx context.Context, tx *sql.Tx) ([]string, error) {
	rows, err := tx.QueryContext(ctx, `SELECT id FROM sessions WHERE status = 'open' ORDER BY opened_at, id`)
	if err != nil {
		return nil, err
	}
	defer rows.Close()
	var ids []string
	for rows.Next() {
		var id string
		if err := rows.Scan(&id); err != nil {
			return nil, err
		}
		ids = append(ids, id)
	}
	return ids, rows.Err()
}

func recoveryDetail(p *kiosk.PowerUpReport, rep kiosk.RecoveryReport) string {
	at := "no power-up report"
	if p != nil {
		at = fmt.Sprintf("acceptor: bill %s", p.BillAt)
		if p.Value != 0 {
			at += fmt.Sprintf(" (%d)", int64(p.Value))
		}
	}
	d := fmt.Sprintf("%s; stacked %d, returned %d, uncertain %d, suspense %d, emptied %d",
		at, rep.Stacked, rep.Returned, rep.Uncertain, rep.Suspense, rep.Emptied)
	for _, t := range rep.TopUps {
		d += fmt.Sprintf("; receipt %d: %d", t.ReceiptNo, int64(t.Amount))
	}
	return d
}

// insertSuspense records a bill in the cassette that no session owns. Its id
// is derived from at, so the same report recorded twice stays one bill.
func insertSuspense(ctx context.Context, tx *sql.Tx, value kiosk.Money, at time.Time, period int64) (int, error) {
	res, err := tx.ExecContext(ctx, `INSERT INTO bills (id, session_id, seq, value, state, escrowed_at, settled_at, period_id)
		VALUES (?, NULL, 0, ?, 'suspense', ?, ?, ?) ON CONFLICT (id) DO NOTHING`,
		"suspense/"+fmtTime(at), int64(value), fmtTime(at), fmtTime(at), period)
	if err != nil {
		return 0, err
	}
	n, err := res.RowsAffected()
	return int(n), err
}
