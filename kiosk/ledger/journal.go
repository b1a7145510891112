package ledger

import (
	"context"
	"database/sql"
	"errors"
	"fmt"
	"time"

	"github.com/google/uuid"

	"tolem/kiosk"
)

// Session statuses as stored.
const (
	sessionOpen      = "open"
	sessionCompleted = "completed"
	sessionEmpty     = "empty"
)

// BillID is the id of the seq-th bill of a session: the same device event
// recorded twice lands on the same row.
func BillID(sessionID string, seq int) string { return kiosk.BillID(sessionID, seq) }

// OpenSession records a session as cash may start going in. Opening the same
// session again is a no-op; the same id with another phone or offline flag is
// ErrConflict. A zero OpenedAt is the ledger's clock.
func (l *Ledger) OpenSession(ctx context.Context, s kiosk.Session) error {
	if s.ID == "" || (s.Phone == "" && s.Account == "") {
		return fmt.Errorf("ledger: open session: %w: id and a phone or an account are required", ErrInvalid)
	}
	if s.Account != "" && s.Service == "" {
		return fmt.Errorf("ledger: open session: %w: an account needs its service", ErrInvalid)
	}
	at := l.now(s.OpenedAt)
	return l.write(ctx, "open session "+s.ID, func(tx *sql.Tx) error {
		res, err := tx.ExecContext(ctx, `INSERT INTO sessions (id, phone, offline, opened_at, status, service, account)
			VALUES (?, ?, ?, ?, 'open', ?, ?) ON CONFLICT (id) DO NOTHING`,
			s.ID, string(s.Phone), s.Offline, fmtTime(at), s.Service, s.Account)
		if err != nil {
			return err
		}
		if n, err := res.RowsAffected(); err != nil || n == 1 {
			return err
		}
		var phone, service, account string
		var offline bool
		if err := tx.QueryRowContext(ctx, `SELECT phone, offline, service, account FROM sessions WHERE id = ?`, s.ID).
			Scan(&phone, &offline, &service, &account); err != nil {
			return err
		}
		if phone != string(s.Phone) || offline != s.Offline || service != s.Service || account != s.Account {
			return fmt.Errorf("%w: session already recorded for another payee", ErrConflict)
		}
		return nil
	})
}

// RecordEscrow durably records that a bill is about to be stacked for its
// session; the flow calls it before telling the acceptor to STACK. The bill's
// ID is BillID(SessionID, Seq) (an empty ID is filled in; another one is
// ErrInvalid) and its State is ignored: it is recorded escrowed. Recording the
// same bill again is a no-op, whatever its state by now; the same ID with
// another value is ErrConflict. The session must be open (ErrNotFound,
// ErrConflict). A zero At is the ledger's clock.
func (l *Ledger) RecordEscrow(ctx context.Context, b kiosk.BillRecord) error {
	id := BillID(b.SessionID, b.Seq)
	switch {
	case b.SessionID == "" || b.Seq < 0:
		return fmt.Errorf("ledger: record escrow: %w: session id and a seq >= 0 are required", ErrInvalid)
	case b.ID != "" && b.ID != id:
		return fmt.Errorf("ledger: record escrow: %w: bill id %q, want %q", ErrInvalid, b.ID, id)
	case b.Value <= 0:
		return fmt.Errorf("ledger: record escrow %s: %w: value %d", id, ErrInvalid, b.Value)
	}
	at := l.now(b.At)
	return l.write(ctx, "record escrow "+id, func(tx *sql.Tx) error {
		// The usual case in one statement; the checks below only explain
		// why it inserted nothing.
		res, err := tx.StmtContext(ctx, l.st.escrow).ExecContext(ctx, id, b.Seq, int64(b.Value), fmtTime(at), b.SessionID)
		if err != nil {
			return err
		}
		if n, err := res.RowsAffected(); err != nil || n == 1 {
			return err
		}
		var value kiosk.Money
		err = tx.QueryRowContext(ctx, `SELECT value FROM bills WHERE id = ?`, id).Scan(&value)
		switch {
		case err == nil && value == b.Value:
			return nil
		case err == nil:
			return fmt.Errorf("%w: bill already recorded with value %d, not %d", ErrConflict, value, b.Value)
		case !errors.Is(err, sql.ErrNoRows):
			return err
		}
		status, err := sessionStatus(ctx, tx, b.SessionID)
		if err != nil {
			return err
		}
		if status != sessionOpen {
			return fmt.Errorf("%w: session %s is %s; a bill joins an open session only", ErrConflict, b.SessionID, status)
		}
		_, err = tx.ExecContext(ctx, `INSERT INTO bills (id, session_id, seq, value, state, escrowed_at)
			VALUES (?, ?, ?, ?, 'escrowed', ?)`, id, b.SessionID, b.Seq, int64(b.Value), fmtTime(at))
		return err
	})
}

// MarkStacked records the bill as in the cassette, in the current cassette
// period. A stacked bill stays stacked (no-op). A bill recorded returned (or
// uncertain) becomes stacked when the device said stacked after all, but only
// while its session is open: once the session is closed its money is settled,
// and the change is refused with ErrConflict. Unknown bill: ErrNotFound.
func (l *Ledger) MarkStacked(ctx context.Context, billID string, at time.Time) error {
	at = l.now(at)
	return l.writeAfterStack(ctx, "mark stacked "+billID, func(tx *sql.Tx) error {
		b, err := billByID(ctx, tx, billID)
		if err != nil {
			return err
		}
		switch b.State {
		case kiosk.BillStacked:
			return nil
		case kiosk.BillSuspense:
			return fmt.Errorf("%w: bill is in suspense", ErrConflict)
		case kiosk.BillReturned, kiosk.BillUncertain:
			status, err := sessionStatus(ctx, tx, b.SessionID)
			if err != nil {
				return err
			}
			if status != sessionOpen {
				return fmt.Errorf("%w: bill was recorded %s and session %s is %s", ErrConflict, b.State, b.SessionID, status)
			}
		}
		period, err := currentPeriodID(ctx, tx)
		if err != nil {
			return err
		}
		_, err = tx.ExecContext(ctx, `UPDATE bills SET state = 'stacked', settled_at = ?, period_id = ? WHERE id = ?`,
			fmtTime(at), period, billID)
		return err
	})
}

// MarkStacking records that the acceptor took the STACK command for the
// bill. Only an escrowed bill takes the mark, once; for a settled bill it is a
// no-op, since its fate is known. Unknown bill: ErrNotFound.
func (l *Ledger) MarkStacking(ctx context.Context, billID string, at time.Time) error {
	at = l.now(at)
	return l.writeAfterStack(ctx, "mark stacking "+billID, func(tx *sql.Tx) error {
		if _, err := billByID(ctx, tx, billID); err != nil {
			return err
		}
		_, err := tx.ExecContext(ctx, `UPDATE bills SET stack_at = ? WHERE id = ? AND state = 'escrowed' AND stack_at IS NULL`,
			fmtTime(at), billID)
		return err
	})
}

// MarkReturned records the bill as given back. A returned bill stays returned
// (no-op). A stacked bill is never marked returned (ErrConflict): a bill once
// in the cassette never leaves the ledger. Unknown bill: ErrNotFound.
func (l *Ledger) MarkReturned(ctx context.Context, billID string, at time.Time) error {
	at = l.now(at)
	return l.writeAfterStack(ctx, "mark returned "+billID, func(tx *sql.Tx) error {
		b, err := billByID(ctx, tx, billID)
		if err != nil {
			return err
		}
		switch b.State {
		case kiosk.BillReturned:
			return nil
		case kiosk.BillStacked, kiosk.BillSuspense:
			return fmt.Errorf("%w: bill is %s (in the cassette) and is never marked returned", ErrConflict, b.State)
		case kiosk.BillUncertain:
			status, err := sessionStatus(ctx, tx, b.SessionID)
			if err != nil {
				return err
			}
			if status != sessionOpen {
				return fmt.Errorf("%w: bill is uncertain and session %s is %s", ErrConflict, b.SessionID, status)
			}
		}
		_, err = tx.ExecContext(ctx, `UPDATE bills SET state = 'returned', settled_at = ?, period_id = NULL WHERE id = ?`,
			fmtTime(at), billID)
		return err
	})
}

// CompleteTopUp turns the session's stacked bills into a top-up: bills counted
// by value (ascending), amount their sum, the next receipt number, sync state
// unsent, and the session completed. Returned and uncertain bills do not
// count. Completing a completed session returns its top-up again.
//
// A bill still escrowed refuses with ErrBillInFlight: the flow first waits
// until the acceptor has settled it (stacked or returned), so that a bill
// stacking at the last moment joins the top-up rather than being left out of
// it. A session with no stacked bill (or closed empty) returns
// kiosk.ErrEmptySession; unknown session: kiosk.ErrNotFound.
func (l *Ledger) CompleteTopUp(ctx context.Context, sessionID string, at time.Time) (kiosk.TopUp, error) {
	at = l.now(at)
	var t kiosk.TopUp
	err := l.write(ctx, "complete top-up of session "+sessionID, func(tx *sql.Tx) error {
		var err error
		t, err = completeSession(ctx, tx, sessionID, at, false)
		return err
	})
	return t, err
}

// CloseSession closes a session that took no money. Closing it again is a
// no-op. A session holding a stacked bill is ErrConflict (it must be completed
// as a top-up), one with a bill still escrowed ErrBillInFlight.
func (l *Ledger) CloseSession(ctx context.Context, sessionID string, at time.Time) error {
	at = l.now(at)
	return l.write(ctx, "close session "+sessionID, func(tx *sql.Tx) error {
		status, err := sessionStatus(ctx, tx, sessionID)
		if err != nil {
			return err
		}
		switch status {
		case sessionEmpty:
			return nil
		case sessionCompleted:
			return fmt.Errorf("%w: session is completed as a top-up", ErrConflict)
		}
		counts, err := billStates(ctx, tx, sessionID)
		if err != nil {
			return err
		}
		if counts[kiosk.BillEscrowed] > 0 {
			return ErrBillInFlight
		}
		if counts[kiosk.BillStacked] > 0 {
			return fmt.Errorf("%w: session holds %d stacked bills: complete it as a top-up", ErrConflict, counts[kiosk.BillStacked])
		}
		return closeEmpty(ctx, tx, sessionID, at)
	})
}

// RecordSuspense keeps a bill the acceptor stacked while no session was open
// (a device that took a bill on its own): it is in the cassette, so it joins
// the current cassette period in suspense, shown on the review list and in the
// next collection. Recording the same at twice is a no-op.
func (l *Ledger) RecordSuspense(ctx context.Context, value kiosk.Money, at time.Time) error {
	if value < 0 {
		return fmt.Errorf("ledger: record suspense: %w: negative value %d", ErrInvalid, int64(value))
	}
	at = l.now(at)
	return l.writeAfterStack(ctx, "record suspense", func(tx *sql.Tx) error {
		period, err := currentPeriodID(ctx, tx)
		if err != nil {
			return err
		}
		_, err = insertSuspense(ctx, tx, value, at, period)
		return err
	})
}

// PendingRecovery reports whether a session was left open, by a crash or a
// power cut, which Recover must settle before the kiosk takes cash again.
func (l *Ledger) PendingRecovery(ctx context.Context) (bool, error) {
	var open bool
	err := l.read(ctx, "pending recovery", func(tx *sql.Tx) error {
		return tx.QueryRowContext(ctx, `SELECT EXISTS (SELECT 1 FROM sessions WHERE status = 'open')`).Scan(&open)
	})
	return open, err
}

func closeEmpty(ctx context.Context, tx *sql.Tx, sessionID string, at time.Time) error {
	_, err := tx.ExecContext(ctx, `UPDATE sessions SET status = 'empty', closed_at = ? WHERE id = ?`, fmtTime(at), sessionID)
	return err
}

func sessionStatus(ctx context.Context, tx *sql.Tx, id string) (string, error) {
	var status string
	err := tx.QueryRowContext(ctx, `SELECT status FROM sessions WHERE id = ?`, id).Scan(&status)
	if errors.Is(err, sql.ErrNoRows) {
		return "", fmt.Errorf("session %s: %w", id, kiosk.ErrNotFound)
	}
	return status, err
}

// billStates counts a session's bills by state.
func billStates(ctx context.Context, tx *sql.Tx, sessionID string) (map[kiosk.BillState]int, error) {
	rows, err := tx.QueryContext(ctx, `SELECT state, COUNT(*) FROM bills WHERE session_id = ? GROUP BY state`, sessionID)
	if err != nil {
		return nil, err
	}
	defer rows.Close()
	counts := map[kiosk.BillState]int{}
	for rows.Next() {
		var s string
		var n int
		if err := rows.Scan(&s, &n); err != nil {
			return nil, err
		}
		counts[kiosk.BillState(s)] = n
	}
	return counts, rows.Err()
}

// completeSession makes the top-up of an open session inside tx.
func completeSession(ctx context.Context, tx *sql.Tx, sessionID string, at time.Time, recovered bool) (kiosk.TopUp, error) {
	var (
		phone    string
		offline  bool
		openedAt string
		status   string
		service  string
		account  string
	)
	err := tx.QueryRowContext(ctx, `SELECT phone, offline, opened_at, status, service, account FROM sessions WHERE id = ?`, sessionID).
		Scan(&phone, &offline, &openedAt, &status, &service, &account)
	if errors.Is(err, sql.ErrNoRows) {
		return kiosk.TopUp{}, fmt.Errorf("session %s: %w", sessionID, kiosk.ErrNotFound)
	}
	if err != nil {
		return kiosk.TopUp{}, err
	}
	switch status {
	case sessionCompleted:
		return topUpWhere(ctx, tx, `t.session_id = ?`, sessionID)
	case sessionEmpty:
		return kiosk.TopUp{}, fmt.Errorf("session was closed without money: %w", kiosk.ErrEmptySession)
	}
	counts, err := billStates(ctx, tx, sessionID)
	if err != nil {
		return kiosk.TopUp{}, err
	}
	if n := counts[kiosk.BillEscrowed]; n > 0 {
		return kiosk.TopUp{}, fmt.Errorf("%w: %d bill(s) not yet reported stacked or returned", ErrBillInFlight, n)
	}
	bills, err := stackedBills(ctx, tx, sessionID)
	if err != nil {
		return kiosk.TopUp{}, err
	}
	if len(bills) == 0 {
		return kiosk.TopUp{}, kiosk.ErrEmptySession
	}
	created, err := parseTime(openedAt)
	if err != nil {
		return kiosk.TopUp{}, err
	}
	if at, err = plausibleCompletion(ctx, tx, created, at); err != nil {
		return kiosk.TopUp{}, err
	}
	id, err := uuid.NewRandom()
	if err != nil {
		return kiosk.TopUp{}, fmt.Errorf("top-up id: %w", err)
	}
	receipt, err := nextReceipt(ctx, tx)
	if err != nil {
		return kiosk.TopUp{}, err
	}
	t := kiosk.TopUp{
		ID: id.String(), ReceiptNo: receipt, SessionID: sessionID, Phone: kiosk.Phone(phone),
		Service: service, Account: account,
		Amount: sumBills(bills), Bills: bills, Offline: offline,
		CreatedAt: created, CompletedAt: at.UTC(), Sync: kiosk.SyncUnsent, Recovered: recovered,
	}
	if _, err := tx.ExecContext(ctx, `INSERT INTO topups (id, receipt_no, session_id, phone, amount, offline,
			created_at, completed_at, recovered, sync_state, updated_at, service, account)
		VALUES (?, ?, ?, ?, ?, ?, ?, ?, ?, 'unsent', ?, ?, ?)`,
		t.ID, t.ReceiptNo, sessionID, phone, int64(t.Amount), offline,
		openedAt, fmtTime(at), recovered, fmtTime(at), service, account); err != nil {
		return kiosk.TopUp{}, err
	}
	if _, err := tx.ExecContext(ctx, `UPDATE sessions SET status = 'completed', closed_at = ? WHERE id = ?`,
		fmtTime(at), sessionID); err != nil {
		return kiosk.TopUp{}, err
	}
	return t, nil
}

// plausibleCompletion is the completion time a top-up is recorded with: at,
// unless the clock says the top-up completed before its session opened or
// before the previous receipt's completion. A Raspberry Pi has no real-time
// clock: after a power cut it may boot with an older time until NTP answers,
// and the bank refuses a completion before the creation (422). The top-up
// then takes the latest of those times: its money was taken after both.
func plausibleCompletion(ctx context.Context, tx *sql.Tx, created, at time.Time) (time.Time, error) {
	floor := created
	var last sql.NullString
	if err := tx.QueryRowContext(ctx, `SELECT completed_at FROM topups ORDER BY receipt_no DESC LIMIT 1`).Scan(&last); err != nil && !errors.Is(err, sql.ErrNoRows) {
		return at, err
	}
	if last.Valid {
		t, err := parseTime(last.String)
		if err != nil {
			return at, err
		}
		if t.After(floor) {
			floor = t
		}
	}
	if at.Before(floor) {
		return floor, nil
	}
	return at, nil
}

// nextReceipt takes the next receipt number. The counter also never falls
// behind a receipt already issued, should the counter row ever be restored
// from an older copy.
func nextReceipt(ctx context.Context, tx *sql.Tx) (int64, error) {
	var n int64
	err := tx.QueryRowContext(ctx, `UPDATE counters
		SET value = MAX(value, (SELECT IFNULL(MAX(receipt_no), 0) FROM topups)) + 1
		WHERE name = 'receipt_no' RETURNING value`).Scan(&n)
	if err != nil {
		return 0, fmt.Errorf("next receipt number: %w", err)
	}
	return n, nil
}

// stackedBills counts a session's stacked bills by value, ascending.
func stackedBills(ctx context.Context, tx *sql.Tx, sessionID string) ([]kiosk.BillCount, error) {
	rows, err := tx.QueryContext(ctx, `SELECT value, COUNT(*) FROM bills
		WHERE session_id = ? AND state = 'stacked' GROUP BY value ORDER BY value`, sessionID)
	if err != nil {
		return nil, err
	}
	return scanBillCounts(rows)
}

func scanBillCounts(rows *sql.Rows) ([]kiosk.BillCount, error) {
	defer rows.Close()
	var out []kiosk.BillCount
	for rows.Next() {
		var c kiosk.BillCount
		if err := rows.Scan(&c.Value, &c.Count); err != nil {
			return nil, err
		}
		out = append(out, c)
	}
	return out, rows.Err()
}

func sumBills(bills []kiosk.BillCount) kiosk.Money {
	var sum kiosk.Money
	for _, b := range bills {
		sum += b.Value * kiosk.Money(b.Count)
	}
	return sum
}

// unsettled is the condition of the partial index bills_unsettled, written
// out in every query for those bills: SQLite uses a partial index only for a
// query whose WHERE contains the index's own condition, and does not infer it
// from state = 'escrowed'. Without it, each of those queries reads every bill
// the kiosk ever took.
const unsettled = `state IN ('escrowed', 'uncertain', 'suspense')`

const billColumns = `id, IFNULL(session_id, ''), seq, value, state, escrowed_at, IFNULL(stack_at, '')`

type rowScanner interface{ Scan(dest ...any) error }

func scanBill(r rowScanner) (kiosk.BillRecord, error) {
	var (
		b     kiosk.BillRecord
		state string
		at    string
		stack string
	)
	if err := r.Scan(&b.ID, &b.SessionID, &b.Seq, &b.Value, &state, &at, &stack); err != nil {
		return b, err
	}
	b.State = kiosk.BillState(state)
	t, err := parseTime(at)
	if err != nil {
		return b, err
	}
	b.At = t
	if stack != "" {
		b.StackAt, err = parseTime(stack)
	}
	return b, err
}

func billByID(ctx context.Context, tx *sql.Tx, id string) (kiosk.BillRecord, error) {
	b, err := scanBill(tx.QueryRowContext(ctx, `SELECT `+billColumns+` FROM bills WHERE id = ?`, id))
	if errors.Is(err, sql.ErrNoRows) {
		return b, fmt.Errorf("bill %s: %w", id, kiosk.ErrNotFound)
	}
	return b, err
}

func queryBills(ctx context.Context, tx *sql.Tx, where string, args ...any) ([]kiosk.BillRecord, error) {
	rows, err := tx.QueryContext(ctx, `SELECT `+billColumns+` FROM bills WHERE `+where, args...)
	if err != nil {
		return nil, err
	}
	defer rows.Close()
	var out []kiosk.BillRecord
	for rows.Next() {
		b, err := scanBill(rows)
		if err != nil {
			return nil, err
		}
		out = append(out, b)
	}
	return out, rows.Err()
}

// Bill returns one bill by id (its At is when it was recorded escrowed).
// Unknown id: kiosk.ErrNotFound.
func (l *Ledger) Bill(ctx context.Context, id string) (kiosk.BillRecord, error) {
	var b kiosk.BillRecord
	err := l.read(ctx, "bill "+id, func(tx *sql.Tx) error {
		var err error
		b, err = billByID(ctx, tx, id)
		return err
	})
	return b, err
}

// SessionBills returns every bill of a session in the order they went in.
func (l *Ledger) SessionBills(ctx context.Context, sessionID string) ([]kiosk.BillRecord, error) {
	var bills []kiosk.BillRecord
	err := l.read(ctx, "bills of session "+sessionID, func(tx *sql.Tx) error {
		var err error
		bills, err = queryBills(ctx, tx, `session_id = ? ORDER BY seq`, sessionID)
		return err
	})
	return bills, err
}
