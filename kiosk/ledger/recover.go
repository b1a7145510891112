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
// Escrowed bills first, newest first (the device holds one bill at most, so
// only the newest can be the one it reports):
//   - p is nil: every escrowed bill becomes uncertain ("no_report"): a report
//     that comes later may still settle it (SettleLate). They are kept with
//     the current cassette period, since they may be in it.
//   - p says a bill is in the stacker: the newest becomes stacked when p
//     names its value or none; a bill of another value in the stacker is
//     kept in suspense.
//   - p says a bill is in the validator (the device gives it back): the
//     newest becomes returned when p names its value or none, unless the
//     acceptor had taken STACK for it: then the bill in the head may be the
//     next one drawn in behind it, and the newest is uncertain.
//   - when p names another value than the newest's, the newest is not the
//     bill in the device: it is settled as nowhere (below).
//   - p says nothing is in the device: the newest becomes stacked if the
//     acceptor had taken the STACK command for it (it finished stacking
//     before the kiosk heard), and uncertain otherwise; never returned.
//   - older escrowed bills left the device before the newest came in: stacked
//     if the acceptor had taken STACK for them, uncertain otherwise.
//
// If p says a bill is in the stacker and no bill is escrowed, bills an
// earlier recovery left uncertain for want of a report take it first (a late
// report, see SettleLate); otherwise the bill is kept in suspense: no
// session, the value p names (zero when unknown), the current period.
//
// Then every open session holding a stacked bill is completed as a top-up
// (Recovered, completed at at or later, receipt numbers in the order the
// sessions opened) and every other open session is closed empty. Uncertain
// bills count in no top-up; they appear in ReviewList.
//
// Once Recover has run nothing is left for it, and a report is applied once:
// Recover called again with the same at changes nothing (a bill escrowed since
// then would be settled as if p were nil). A later power-up is a new report.
func (l *Ledger) Recover(ctx context.Context, p *kiosk.PowerUpReport, at time.Time) (kiosk.RecoveryReport, error) {
	return l.recover(ctx, "recover", p, at, true)
}

// SettleLate applies a power-up report that came after Recover had run
// without one: the bills that recovery left uncertain for want of a report
// are settled as Recover would have settled them had the report been in
// time. One found in the cassette is credited to its session's phone as a
// follow-up top-up (Reconciled), since its session was settled without it;
// one found in the validator is returned. Sessions still open are left
// alone: a customer may be at the kiosk. With no such bill, a bill p reports
// in the stacker is kept in suspense. Bills it cannot settle stay uncertain,
// for the collection's count.
func (l *Ledger) SettleLate(ctx context.Context, p *kiosk.PowerUpReport, at time.Time) (kiosk.RecoveryReport, error) {
	if p == nil {
		return kiosk.RecoveryReport{}, nil
	}
	return l.recover(ctx, "settle late power-up report", p, at, false)
}

func (l *Ledger) recover(ctx context.Context, op string, p *kiosk.PowerUpReport, at time.Time, sessions bool) (kiosk.RecoveryReport, error) {
	at = l.now(at)
	var rep kiosk.RecoveryReport
	err := l.write(ctx, op, func(tx *sql.Tx) error {
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
		var escrowed []kiosk.BillRecord
		if sessions {
			escrowed, err = queryBills(ctx, tx, unsettled+` AND state = 'escrowed' ORDER BY escrowed_at DESC, rowid DESC`)
			if err != nil {
				return err
			}
		}
		late := false
		if p != nil && len(escrowed) == 0 {
			// The report came after a recovery that ran without it: the
			// bills it left uncertain stand where escrowed bills would.
			escrowed, err = queryBills(ctx, tx, unsettled+` AND state = 'uncertain' AND uncertain_why = 'no_report' ORDER BY escrowed_at DESC, rowid DESC`)
			if err != nil {
				return err
			}
			late = len(escrowed) > 0
		}
		var found []kiosk.BillRecord // late bills found in the cassette
		settle := func(b kiosk.BillRecord, state kiosk.BillState) error {
			switch state {
			case kiosk.BillStacked:
				rep.Stacked++
			case kiosk.BillReturned:
				rep.Returned++
			case kiosk.BillUncertain:
				rep.Uncertain++
			}
			if late && state == kiosk.BillStacked {
				found = append(found, b)
				return nil
			}
			why := any(nil)
			if state == kiosk.BillUncertain {
				why = "unknown"
				if p == nil {
					why = "no_report"
				}
			}
			// A returned bill is in no cassette; an uncertain one keeps the
			// period it was uncertain in, the cassette it may be in.
			_, err := tx.ExecContext(ctx, `UPDATE bills SET
					period_id = CASE WHEN ?1 = 'returned' THEN NULL WHEN state = 'uncertain' THEN period_id ELSE ?2 END,
					state = ?1, settled_at = ?3, uncertain_why = ?4 WHERE id = ?5`,
				string(state), period, fmtTime(at), why, b.ID)
			return err
		}
		suspense := func(value kiosk.Money) error {
			n, err := insertSuspense(ctx, tx, value, at, period)
			rep.Suspense += n
			return err
		}
		// older bills left the device before the newest came in.
		older := func(bs []kiosk.BillRecord) error {
			for _, b := range bs {
				state := kiosk.BillUncertain
				if !b.StackAt.IsZero() {
					state = kiosk.BillStacked
				}
				if err := settle(b, state); err != nil {
					return err
				}
			}
			return nil
		}

		switch {
		case len(escrowed) == 0:
			if p != nil && p.BillAt == kiosk.BillInStacker {
				if err := suspense(p.Value); err != nil {
					return err
				}
			}
		case p == nil:
			for _, b := range escrowed {
				if err := settle(b, kiosk.BillUncertain); err != nil {
					return err
				}
			}
		default:
			newest, state := escrowed[0], kiosk.BillUncertain
			if !newest.StackAt.IsZero() {
				state = kiosk.BillStacked
			}
			// The device reports the newest bill only when the value agrees:
			// a bill of another value is another bill (a unit left enabled by
			// a daemon that died takes the next note into escrow), and the
			// newest then left the device like an older one.
			theirs := p.Value == 0 || p.Value == newest.Value
			switch {
			case p.BillAt == kiosk.BillInStacker && theirs:
				state = kiosk.BillStacked
			case p.BillAt == kiosk.BillInStacker:
				if err := suspense(p.Value); err != nil {
					return err
				}
			case p.BillAt == kiosk.BillInValidator && theirs && newest.StackAt.IsZero():
				state = kiosk.BillReturned
			case p.BillAt == kiosk.BillInValidator && theirs:
				// The unit took STACK for it, and reports a bill in its head:
				// that may be this one, stopped early, or the next customer's
				// note drawn in behind it. Only the count can tell.
				state = kiosk.BillUncertain
			}
			if err := settle(newest, state); err != nil {
				return err
			}
			if err := older(escrowed[1:]); err != nil {
				return err
			}
		}
		if p != nil {
			// One report settles what waited for it; whatever it could not
			// tell waits for the collection's count.
			if _, err := tx.ExecContext(ctx, `UPDATE bills SET uncertain_why = 'unknown' WHERE `+unsettled+` AND state = 'uncertain' AND uncertain_why = 'no_report'`); err != nil {
				return err
			}
		}
		if len(found) > 0 {
			ts, err := followUps(ctx, tx, found, at)
			if err != nil {
				return err
			}
			rep.TopUps = append(rep.TopUps, ts...)
		}

		if sessions {
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
		}
		if rep.Stacked+rep.Returned+rep.Uncertain+rep.Suspense+len(rep.TopUps)+rep.Emptied == 0 {
			return nil
		}
		return insertAudit(ctx, tx, kiosk.AuditEntry{At: at, Actor: "system", Action: "recover", Detail: recoveryDetail(p, rep, late)})
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

func recoveryDetail(p *kiosk.PowerUpReport, rep kiosk.RecoveryReport, late bool) string {
	at := "no power-up report"
	if p != nil {
		at = fmt.Sprintf("acceptor: bill %s", p.BillAt)
		if p.Value != 0 {
			at += fmt.Sprintf(" (%s)", p.Value)
		}
		if late {
			at += ", reported after recovery"
		}
	}
	d := fmt.Sprintf("%s; stacked %d, returned %d, uncertain %d, suspense %d, emptied %d",
		at, rep.Stacked, rep.Returned, rep.Uncertain, rep.Suspense, rep.Emptied)
	for _, t := range rep.TopUps {
		d += fmt.Sprintf("; receipt %d: %s", t.ReceiptNo, t.Amount)
		if t.Reconciled {
			d += " (reconciled)"
		}
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
