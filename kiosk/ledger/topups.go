package ledger

import (
	"context"
	"database/sql"
	"errors"
	"fmt"
	"strings"
	"time"

	"tolem/kiosk"
)

const topUpColumns = `t.id, t.receipt_no, t.session_id, t.phone, t.amount, t.offline,
	t.created_at, t.completed_at, t.sync_state, t.recovered, t.reconciled, t.service, t.account`

func scanTopUp(r rowScanner) (kiosk.TopUp, error) {
	var (
		t                  kiosk.TopUp
		phone, sync        string
		created, completed string
	)
	if err := r.Scan(&t.ID, &t.ReceiptNo, &t.SessionID, &phone, &t.Amount, &t.Offline,
		&created, &completed, &sync, &t.Recovered, &t.Reconciled, &t.Service, &t.Account); err != nil {
		return t, err
	}
	t.Phone = kiosk.Phone(phone)
	t.Sync = kiosk.SyncState(sync)
	var err error
	if t.CreatedAt, err = parseTime(created); err != nil {
		return t, err
	}
	t.CompletedAt, err = parseTime(completed)
	return t, err
}

// topUpWhere loads the one top-up matching where, with its bills.
func topUpWhere(ctx context.Context, tx *sql.Tx, where string, args ...any) (kiosk.TopUp, error) {
	ts, err := topUpsWhere(ctx, tx, where+` LIMIT 1`, args...)
	if err != nil {
		return kiosk.TopUp{}, err
	}
	if len(ts) == 0 {
		return kiosk.TopUp{}, fmt.Errorf("top-up: %w", kiosk.ErrNotFound)
	}
	return ts[0], nil
}

// topUpsWhere loads top-ups with their bills counted by value. where may end
// with ORDER BY and LIMIT.
func topUpsWhere(ctx context.Context, tx *sql.Tx, where string, args ...any) ([]kiosk.TopUp, error) {
	rows, err := tx.QueryContext(ctx, `SELECT `+topUpColumns+` FROM topups t WHERE `+where, args...)
	if err != nil {
		return nil, err
	}
	var out []kiosk.TopUp
	for rows.Next() {
		t, err := scanTopUp(rows)
		if err != nil {
			rows.Close()
			return nil, err
		}
		out = append(out, t)
	}
	rows.Close()
	if err := rows.Err(); err != nil {
		return nil, err
	}
	for i := range out {
		if out[i].Bills, err = stackedBills(ctx, tx, out[i].SessionID); err != nil {
			return nil, err
		}
	}
	return out, nil
}

// TopUpByReceipt returns the top-up with receipt number n and every bill of
// its session (stacked, returned, uncertain) in the order they went in, for
// the console's `txn`. Unknown receipt: kiosk.ErrNotFound.
func (l *Ledger) TopUpByReceipt(ctx context.Context, n int64) (kiosk.TopUp, []kiosk.BillRecord, error) {
	return l.topUpAndBills(ctx, fmt.Sprintf("top-up receipt %d", n), `t.receipt_no = ?`, n)
}

// TopUpByID is TopUpByReceipt by top-up id.
func (l *Ledger) TopUpByID(ctx context.Context, id string) (kiosk.TopUp, []kiosk.BillRecord, error) {
	return l.topUpAndBills(ctx, "top-up "+id, `t.id = ?`, id)
}

func (l *Ledger) topUpAndBills(ctx context.Context, op, where string, arg any) (kiosk.TopUp, []kiosk.BillRecord, error) {
	var (
		t     kiosk.TopUp
		bills []kiosk.BillRecord
	)
	err := l.read(ctx, op, func(tx *sql.Tx) error {
		var err error
		if t, err = topUpWhere(ctx, tx, where, arg); err != nil {
			return err
		}
		bills, err = queryBills(ctx, tx, `session_id = ? ORDER BY seq`, t.SessionID)
		return err
	})
	return t, bills, err
}

// Queue counts top-ups by sync state: unsent (count and amount, for the
// offline caps), pending, and review (rejected ones are not counted: the bank
// decided them). OldestAt is the completion time of the oldest unsent or
// pending top-up (zero when none), for the 20-minute alarm.
func (l *Ledger) Queue(ctx context.Context) (kiosk.QueueStats, error) {
	var q kiosk.QueueStats
	err := l.read(ctx, "queue", func(tx *sql.Tx) error {
		rows, err := tx.QueryContext(ctx, `SELECT sync_state, COUNT(*), IFNULL(SUM(amount), 0), MIN(completed_at)
			FROM topups WHERE sync_state IN ('unsent', 'pending', 'review') GROUP BY sync_state`)
		if err != nil {
			return err
		}
		defer rows.Close()
		for rows.Next() {
			var (
				state  string
				n      int
				amount kiosk.Money
				oldest sql.NullString
			)
			if err := rows.Scan(&state, &n, &amount, &oldest); err != nil {
				return err
			}
			switch kiosk.SyncState(state) {
			case kiosk.SyncUnsent:
				q.Unsent, q.UnsentAmount = n, amount
			case kiosk.SyncPending:
				q.Pending = n
			case kiosk.SyncReview:
				q.Review = n
				continue
			}
			t, err := parseNullTime(oldest)
			if err != nil {
				return err
			}
			if !t.IsZero() && (q.OldestAt.IsZero() || t.Before(q.OldestAt)) {
				q.OldestAt = t
			}
		}
		return rows.Err()
	})
	return q, err
}

// DueTopUps returns, in receipt order, up to limit (<= 0: all) top-ups the
// outbox should send or poll at now: unsent and pending ones whose
// next_attempt_at is unset or not after now.
func (l *Ledger) DueTopUps(ctx context.Context, now time.Time, limit int) ([]kiosk.TopUp, error) {
	if limit <= 0 {
		limit = -1
	}
	var out []kiosk.TopUp
	err := l.read(ctx, "due top-ups", func(tx *sql.Tx) error {
		var err error
		out, err = topUpsWhere(ctx, tx, `t.sync_state IN ('unsent', 'pending')
			AND (t.next_attempt_at IS NULL OR t.next_attempt_at <= ?) ORDER BY t.receipt_no LIMIT ?`,
			fmtTime(now), limit)
		return err
	})
	return out, err
}

// TopUpsBySync returns the top-ups in any of states (all top-ups when none is
// given), in receipt order.
func (l *Ledger) TopUpsBySync(ctx context.Context, states ...kiosk.SyncState) ([]kiosk.TopUp, error) {
	where := `1`
	args := make([]any, len(states))
	if len(states) > 0 {
		where = `t.sync_state IN (?` + strings.Repeat(`, ?`, len(states)-1) + `)`
		for i, s := range states {
			args[i] = string(s)
		}
	}
	var out []kiosk.TopUp
	err := l.read(ctx, "top-ups by sync state", func(tx *sql.Tx) error {
		var err error
		out, err = topUpsWhere(ctx, tx, where+` ORDER BY t.receipt_no`, args...)
		return err
	})
	return out, err
}

// SetBody stores the exact bytes of the top-up's first request to the bank,
// if none is stored yet, and returns the stored body: the one just given, or
// the one an earlier send stored, which every retry must send unchanged (the
// bank answers 409 to the same id with another body). Unknown id:
// kiosk.ErrNotFound.
func (l *Ledger) SetBody(ctx context.Context, id string, body []byte) ([]byte, error) {
	if len(body) == 0 {
		return nil, fmt.Errorf("ledger: set body of top-up %s: %w: empty body", id, ErrInvalid)
	}
	var stored []byte
	err := l.write(ctx, "set body of top-up "+id, func(tx *sql.Tx) error {
		if _, err := tx.StmtContext(ctx, l.st.bodySet).ExecContext(ctx, body, id); err != nil {
			return err
		}
		err := tx.StmtContext(ctx, l.st.bodyGet).QueryRowContext(ctx, id).Scan(&stored)
		if errors.Is(err, sql.ErrNoRows) {
			return kiosk.ErrNotFound
		}
		return err
	})
	return stored, err
}

// SetBodies is SetBody for several top-ups in one transaction: the stored
// body of each, in the order given. The outbox stores a batch's bodies with
// it, one commit (one fsync) instead of one per top-up.
func (l *Ledger) SetBodies(ctx context.Context, ids []string, bodies [][]byte) ([][]byte, error) {
	if len(ids) != len(bodies) {
		return nil, fmt.Errorf("ledger: set bodies: %w: %d ids, %d bodies", ErrInvalid, len(ids), len(bodies))
	}
	for i, b := range bodies {
		if len(b) == 0 {
			return nil, fmt.Errorf("ledger: set body of top-up %s: %w: empty body", ids[i], ErrInvalid)
		}
	}
	stored := make([][]byte, len(ids))
	err := l.write(ctx, fmt.Sprintf("set the bodies of %d top-ups", len(ids)), func(tx *sql.Tx) error {
		set, get := tx.StmtContext(ctx, l.st.bodySet), tx.StmtContext(ctx, l.st.bodyGet)
		for i, id := range ids {
			if _, err := set.ExecContext(ctx, bodies[i], id); err != nil {
				return fmt.Errorf("top-up %s: %w", id, err)
			}
			err := get.QueryRowContext(ctx, id).Scan(&stored[i])
			if errors.Is(err, sql.ErrNoRows) {
				return fmt.Errorf("top-up %s: %w", id, kiosk.ErrNotFound)
			}
			if err != nil {
				return fmt.Errorf("top-up %s: %w", id, err)
			}
		}
		return nil
	})
	if err != nil {
		return nil, err
	}
	return stored, nil
}

// Body returns the stored body of the top-up, nil when none is stored yet.
// Unknown id: kiosk.ErrNotFound.
func (l *Ledger) Body(ctx context.Context, id string) ([]byte, error) {
	var body []byte
	err := l.read(ctx, "body of top-up "+id, func(tx *sql.Tx) error {
		err := tx.QueryRowContext(ctx, `SELECT body FROM topups WHERE id = ?`, id).Scan(&body)
		if errors.Is(err, sql.ErrNoRows) {
			return kiosk.ErrNotFound
		}
		return err
	})
	return body, err
}

// Delivery is where a top-up stands with the bank beyond its sync state, for
// the console and the outbox.
type Delivery struct {
	// Note is the latest outcome: the bank's reason ("wallet_not_found"), or
	// the error that made the outbox retry.
	Note string `json:"note,omitempty"`
	// LastError is the latest non-empty note of an attempt that did not
	// credit: it stays when a later update has no note.
	LastError     string    `json:"last_error,omitempty"`
	Attempts      int       `json:"attempts"`
	NextAttemptAt time.Time `json:"next_attempt_at,omitzero"`
	CreditedAt    time.Time `json:"credited_at,omitzero"`
	UpdatedAt     time.Time `json:"updated_at"`
	HasBody       bool      `json:"has_body"`
}

func validSync(s kiosk.SyncState) bool {
	switch s {
	case kiosk.SyncUnsent, kiosk.SyncPending, kiosk.SyncCredited, kiosk.SyncRejected, kiosk.SyncReview:
		return true
	}
	return false
}

// UpdateSync records the outcome of one delivery attempt (a send or a status
// poll) and counts it: the new sync state, the note (the bank's reason, or the
// error that made the attempt fail), when to try next (zero: as soon as due,
// which the outbox uses for "now"), at as the time of the update (and of the
// credit when state is credited). A credited top-up stays credited: moving it
// to another state is ErrConflict. Unknown id: kiosk.ErrNotFound.
func (l *Ledger) UpdateSync(ctx context.Context, id string, state kiosk.SyncState, note string, nextAttempt, at time.Time) error {
	if !validSync(state) {
		return fmt.Errorf("ledger: update sync of top-up %s: %w: state %q", id, ErrInvalid, state)
	}
	at = l.now(at)
	return l.write(ctx, "update sync of top-up "+id, func(tx *sql.Tx) error {
		return l.updateSync(ctx, tx, kiosk.SyncUpdate{ID: id, State: state, Note: note, Next: nextAttempt, At: at})
	})
}

// UpdateSyncs is UpdateSync for several top-ups in one transaction: the
// outcomes of a batch the bank answered, one commit (one fsync) instead of
// one per top-up. Any refusal (an unknown id, a credited top-up moved to
// another state) writes none of them.
func (l *Ledger) UpdateSyncs(ctx context.Context, us []kiosk.SyncUpdate) error {
	for _, u := range us {
		if !validSync(u.State) {
			return fmt.Errorf("ledger: update sync of top-up %s: %w: state %q", u.ID, ErrInvalid, u.State)
		}
	}
	return l.write(ctx, fmt.Sprintf("update sync of %d top-ups", len(us)), func(tx *sql.Tx) error {
		for _, u := range us {
			u.At = l.now(u.At)
			if err := l.updateSync(ctx, tx, u); err != nil {
				return fmt.Errorf("top-up %s: %w", u.ID, err)
			}
		}
		return nil
	})
}

func (l *Ledger) updateSync(ctx context.Context, tx *sql.Tx, u kiosk.SyncUpdate) error {
	id, state, note, nextAttempt, at := u.ID, u.State, u.Note, u.Next, u.At
	var cur string
	err := tx.StmtContext(ctx, l.st.syncState).QueryRowContext(ctx, id).Scan(&cur)
	if errors.Is(err, sql.ErrNoRows) {
		return kiosk.ErrNotFound
	}
	if err != nil {
		return err
	}
	if kiosk.SyncState(cur) == kiosk.SyncCredited && state != kiosk.SyncCredited {
		return fmt.Errorf("%w: top-up is credited; not moving it to %s", ErrConflict, state)
	}
	var lastErr any // nil keeps the previous one
	if note != "" && state != kiosk.SyncCredited {
		lastErr = note
	}
	var credited any
	if state == kiosk.SyncCredited {
		credited = fmtTime(at)
	}
	_, err = tx.StmtContext(ctx, l.st.syncUpdate).ExecContext(ctx,
		string(state), note, nullTime(nextAttempt), lastErr, credited, fmtTime(at), id)
	return err
}

// Delivery returns the top-up's delivery details. Unknown id: kiosk.ErrNotFound.
func (l *Ledger) Delivery(ctx context.Context, id string) (Delivery, error) {
	var d Delivery
	err := l.read(ctx, "delivery of top-up "+id, func(tx *sql.Tx) error {
		var err error
		d, err = scanDelivery(tx.QueryRowContext(ctx, `SELECT `+deliveryColumns+` FROM topups t WHERE t.id = ?`, id))
		if errors.Is(err, sql.ErrNoRows) {
			return kiosk.ErrNotFound
		}
		return err
	})
	return d, err
}

const deliveryColumns = `t.sync_note, t.last_error, t.attempts, t.next_attempt_at, t.credited_at, t.updated_at, t.body IS NOT NULL`

func scanDelivery(r rowScanner) (Delivery, error) {
	var (
		d              Delivery
		next, credited sql.NullString
		updated        string
	)
	if err := r.Scan(&d.Note, &d.LastError, &d.Attempts, &next, &credited, &updated, &d.HasBody); err != nil {
		return d, err
	}
	var err error
	if d.NextAttemptAt, err = parseNullTime(next); err != nil {
		return d, err
	}
	if d.CreditedAt, err = parseNullTime(credited); err != nil {
		return d, err
	}
	d.UpdatedAt, err = parseTime(updated)
	return d, err
}

// Retry makes top-ups due again at once, for the console's `retry`. With an
// id: an unsent or pending top-up becomes due now, and one in review goes back
// to unsent (the technician decided to try again); a credited or rejected one
// is ErrConflict, since the bank has decided it. With id "": every unsent and
// pending top-up becomes due now. It returns how many top-ups it changed.
func (l *Ledger) Retry(ctx context.Context, id string, at time.Time) (int, error) {
	at = l.now(at)
	var n int64
	err := l.write(ctx, "retry "+cmp(id, "all"), func(tx *sql.Tx) error {
		if id == "" {
			res, err := tx.ExecContext(ctx, `UPDATE topups SET next_attempt_at = NULL, updated_at = ?
				WHERE sync_state IN ('unsent', 'pending') AND next_attempt_at IS NOT NULL`, fmtTime(at))
			if err != nil {
				return err
			}
			n, err = res.RowsAffected()
			return err
		}
		var cur string
		err := tx.QueryRowContext(ctx, `SELECT sync_state FROM topups WHERE id = ?`, id).Scan(&cur)
		if errors.Is(err, sql.ErrNoRows) {
			return kiosk.ErrNotFound
		}
		if err != nil {
			return err
		}
		switch kiosk.SyncState(cur) {
		case kiosk.SyncCredited, kiosk.SyncRejected:
			return fmt.Errorf("%w: the bank has decided this top-up (%s)", ErrConflict, cur)
		case kiosk.SyncReview:
			cur = string(kiosk.SyncUnsent)
		}
		res, err := tx.ExecContext(ctx, `UPDATE topups SET sync_state = ?, next_attempt_at = NULL, updated_at = ? WHERE id = ?`,
			cur, fmtTime(at), id)
		if err != nil {
			return err
		}
		n, err = res.RowsAffected()
		return err
	})
	return int(n), err
}

func cmp(s, ifEmpty string) string {
	if s == "" {
		return ifEmpty
	}
	return s
}

// Review is what a technician must look at: bills whose owner or fate is
// unknown, and top-ups the bank did not credit.
type Review struct {
	// Bills are uncertain and suspense bills, oldest first.
	Bills []kiosk.BillRecord `json:"bills"`
	// TopUps are top-ups in review or rejected, in receipt order.
	TopUps []ReviewTopUp `json:"topups"`
}

// ReviewTopUp is a top-up of the review list with why it is there.
type ReviewTopUp struct {
	kiosk.TopUp
	Delivery Delivery `json:"delivery"`
}

// ReviewList returns the technician's review list.
func (l *Ledger) ReviewList(ctx context.Context) (Review, error) {
	var rv Review
	err := l.read(ctx, "review list", func(tx *sql.Tx) error {
		var err error
		rv.Bills, err = queryBills(ctx, tx, unsettled+` AND state IN ('uncertain', 'suspense') ORDER BY escrowed_at, id`)
		if err != nil {
			return err
		}
		ts, err := topUpsWhere(ctx, tx, `t.sync_state IN ('review', 'rejected') ORDER BY t.receipt_no`)
		if err != nil {
			return err
		}
		for _, t := range ts {
			d, err := scanDelivery(tx.QueryRowContext(ctx, `SELECT `+deliveryColumns+` FROM topups t WHERE t.id = ?`, t.ID))
			if err != nil {
				return err
			}
			rv.TopUps = append(rv.TopUps, ReviewTopUp{TopUp: t, Delivery: d})
		}
		return nil
	})
	return rv, err
}
