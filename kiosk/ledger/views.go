package ledger

import (
	"context"
	"database/sql"
	"time"

	"tolem/kiosk"
)

// Read-only views for the technician: what a power cut left behind and how
// it was settled, so that a top-up completed at start-up is not invisible.

// RecoveredTopUps are the top-ups completed at start-up after a power cut
// (kiosk.TopUp.Recovered), newest first, at most limit of them.
func (l *Ledger) RecoveredTopUps(ctx context.Context, limit int) ([]kiosk.TopUp, error) {
	var out []kiosk.TopUp
	err := l.read(ctx, "recovered top-ups", func(tx *sql.Tx) error {
		var err error
		out, err = topUpsWhere(ctx, tx, `t.recovered = 1 ORDER BY t.completed_at DESC, t.receipt_no DESC LIMIT ?`, limit)
		return err
	})
	return out, err
}

// UncertainSession is a customer's session with bills a power cut left
// uncertain: whether they are in the cassette is not known, and the
// customer may come back about them.
type UncertainSession struct {
	SessionID string      `json:"session_id"`
	Phone     kiosk.Phone `json:"phone"`
	Offline   bool        `json:"offline"`
	OpenedAt  time.Time   `json:"opened_at"`
	// TopUp is the session's top-up when one was completed for the bills
	// that are certain (recovered at start-up, or before the cut); nil when
	// none was.
	TopUp *kiosk.TopUp `json:"topup"`
	// Uncertain are the session's uncertain bills.
	Uncertain []kiosk.BillRecord `json:"uncertain"`
}

// uncertainSessions starts from the unsettled bills, not from every session.
const uncertainSessions = `SELECT s.id, s.phone, s.offline, s.opened_at FROM sessions s
	WHERE s.id IN (SELECT session_id FROM bills WHERE ` + unsettled + ` AND state = 'uncertain')
	ORDER BY s.opened_at, s.id`

// UncertainSessions lists the sessions holding uncertain bills, oldest
// first, with their top-up if any.
func (l *Ledger) UncertainSessions(ctx context.Context) ([]UncertainSession, error) {
	var out []UncertainSession
	err := l.read(ctx, "uncertain sessions", func(tx *sql.Tx) error {
		rows, err := tx.QueryContext(ctx, uncertainSessions)
		if err != nil {
			return err
		}
		for rows.Next() {
			var u UncertainSession
			var phone, opened string
			if err := rows.Scan(&u.SessionID, &phone, &u.Offline, &opened); err != nil {
				rows.Close()
				return err
			}
			if u.OpenedAt, err = parseTime(opened); err != nil {
				rows.Close()
				return err
			}
			u.Phone = kiosk.Phone(phone)
			out = append(out, u)
		}
		rows.Close()
		if err := rows.Err(); err != nil {
			return err
		}
		for i := range out {
			u := &out[i]
			if u.Uncertain, err = queryBills(ctx, tx, `session_id = ? AND state = 'uncertain' ORDER BY seq`, u.SessionID); err != nil {
				return err
			}
			ts, err := topUpsWhere(ctx, tx, `t.session_id = ?`, u.SessionID)
			if err != nil {
				return err
			}
			if len(ts) > 0 {
				u.TopUp = &ts[0]
			}
		}
		return nil
	})
	return out, err
}
