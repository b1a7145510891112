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

// Period is a cassette period: from one collection to the next. Every bill in
// the cassette belongs to exactly one period.
type Period struct {
	ID       int64     `json:"id"`
	OpenedAt time.Time `json:"opened_at"`
	// ClosedAt is zero while the cassette is in.
	ClosedAt time.Time `json:"closed_at,omitzero"`
	// Bills are the bills in the cassette, stacked and suspense, by value
	// ascending; a suspense bill whose value the acceptor did not tell counts
	// under value 0.
	Bills  []kiosk.BillCount `json:"bills"`
	Count  int               `json:"count"`
	Amount kiosk.Money       `json:"amount"`
	// TopUps counts the top-ups with a bill in the period; FirstReceipt and
	// LastReceipt are their receipt numbers' range (0 when none).
	TopUps       int   `json:"topups"`
	FirstReceipt int64 `json:"first_receipt_no"`
	LastReceipt  int64 `json:"last_receipt_no"`
	// Suspense counts the bills in Bills no session owns.
	Suspense int `json:"suspense"`
	// Uncertain counts bills a power cut left unsettled during the period:
	// they may or may not be in the cassette and are not in Bills.
	Uncertain int `json:"uncertain"`
	// Services splits the stacked bills of the period by the service their
	// session paid, by service id.
	Services []kiosk.ServiceTotal `json:"services"`
}

// CollectionSync is where a collection stands with the bank.
type CollectionSync string

// Collection delivery states.
const (
	CollectionUnsent CollectionSync = "unsent"
	CollectionSent   CollectionSync = "sent"
	// CollectionReview: the bank refused it (409, 422); a technician looks.
	CollectionReview CollectionSync = "review"
)

// Collection is a closed cassette period, as reported to the bank by
// POST /v1/collections.
type Collection struct {
	// ID is the collection's uuid: its id and Idempotency-Key at the bank.
	ID string `json:"id"`
	// Seal is the bag or seal number the technician typed (the body's
	// cassette_id).
	Seal   string         `json:"seal"`
	Period Period         `json:"period"`
	Sync   CollectionSync `json:"sync"`
}

// CurrentPeriod returns the open cassette period with what it holds so far,
// for the console and the heartbeat.
func (l *Ledger) CurrentPeriod(ctx context.Context) (Period, error) {
	var p Period
	err := l.read(ctx, "current cassette period", func(tx *sql.Tx) error {
		id, err := currentPeriodID(ctx, tx)
		if err != nil {
			return err
		}
		p, err = loadPeriod(ctx, tx, id)
		return err
	})
	return p, err
}

// CloseCollection records the collection of the cassette: it closes the
// current period with the technician's seal number and opens the next one in
// the same transaction, so that a bill is always in exactly one period. The
// collection is then unsent, for the outbox. A customer session still open
// refuses with ErrConflict, a bill in escrow with ErrBillInFlight: collect in
// maintenance, with no customer.
func (l *Ledger) CloseCollection(ctx context.Context, seal string, at time.Time) (Collection, error) {
	if seal == "" {
		return Collection{}, fmt.Errorf("ledger: close collection: %w: the bag or seal number is required", ErrInvalid)
	}
	at = l.now(at)
	var c Collection
	err := l.write(ctx, "close collection", func(tx *sql.Tx) error {
		var escrowed, open int
		if err := tx.QueryRowContext(ctx, `SELECT
				(SELECT COUNT(*) FROM bills WHERE `+unsettled+` AND state = 'escrowed'),
				(SELECT COUNT(*) FROM sessions WHERE status = 'open')`).Scan(&escrowed, &open); err != nil {
			return err
		}
		if escrowed > 0 {
			return ErrBillInFlight
		}
		if open > 0 {
			return fmt.Errorf("%w: a customer session is open; collect in maintenance", ErrConflict)
		}
		id, err := currentPeriodID(ctx, tx)
		if err != nil {
			return err
		}
		cid, err := uuid.NewRandom()
		if err != nil {
			return fmt.Errorf("collection id: %w", err)
		}
		if _, err := tx.ExecContext(ctx, `UPDATE cassette_periods SET closed_at = ?, seal = ?, collection_id = ?,
				sync_state = 'unsent', updated_at = ? WHERE id = ?`,
			fmtTime(at), seal, cid.String(), fmtTime(at), id); err != nil {
			return err
		}
		if err := ensurePeriod(ctx, tx, at); err != nil {
			return err
		}
		c, err = collectionWhere(ctx, tx, `id = ?`, id)
		return err
	})
	return c, err
}

// DueCollections returns, oldest first, up to limit (<= 0: all) unsent
// collections whose next attempt is unset or not after now.
func (l *Ledger) DueCollections(ctx context.Context, now time.Time, limit int) ([]Collection, error) {
	if limit <= 0 {
		limit = -1
	}
	var out []Collection
	err := l.read(ctx, "due collections", func(tx *sql.Tx) error {
		rows, err := tx.QueryContext(ctx, `SELECT id FROM cassette_periods WHERE sync_state = 'unsent'
			AND (next_attempt_at IS NULL OR next_attempt_at <= ?) ORDER BY id LIMIT ?`, fmtTime(now), limit)
		if err != nil {
			return err
		}
		var ids []int64
		for rows.Next() {
			var id int64
			if err := rows.Scan(&id); err != nil {
				rows.Close()
				return err
			}
			ids = append(ids, id)
		}
		rows.Close()
		if err := rows.Err(); err != nil {
			return err
		}
		for _, id := range ids {
			c, err := collectionWhere(ctx, tx, `id = ?`, id)
			if err != nil {
				return err
			}
			out = append(out, c)
		}
		return nil
	})
	return out, err
}

// SetCollectionBody is SetBody for a collection: it stores the request body if
// none is stored yet and returns the stored one. Unknown id: kiosk.ErrNotFound.
func (l *Ledger) SetCollectionBody(ctx context.Context, id string, body []byte) ([]byte, error) {
	if len(body) == 0 {
		return nil, fmt.Errorf("ledger: set body of collection %s: %w: empty body", id, ErrInvalid)
	}
	var stored []byte
	err := l.write(ctx, "set body of collection "+id, func(tx *sql.Tx) error {
		if _, err := tx.ExecContext(ctx, `UPDATE cassette_periods SET body = ? WHERE collection_id = ? AND body IS NULL`,
			body, id); err != nil {
			return err
		}
		err := tx.QueryRowContext(ctx, `SELECT body FROM cassette_periods WHERE collection_id = ?`, id).Scan(&stored)
		if errors.Is(err, sql.ErrNoRows) {
			return kiosk.ErrNotFound
		}
		return err
	})
	return stored, err
}

// UpdateCollectionSync records the outcome of one attempt to deliver a
// collection, like UpdateSync for a top-up. A sent collection stays sent.
func (l *Ledger) UpdateCollectionSync(ctx context.Context, id string, state CollectionSync, note string, nextAttempt, at time.Time) error {
	switch state {
	case CollectionUnsent, CollectionSent, CollectionReview:
	default:
		return fmt.Errorf("ledger: update sync of collection %s: %w: state %q", id, ErrInvalid, state)
	}
	at = l.now(at)
	return l.write(ctx, "update sync of collection "+id, func(tx *sql.Tx) error {
		var cur string
		err := tx.QueryRowContext(ctx, `SELECT sync_state FROM cassette_periods WHERE collection_id = ?`, id).Scan(&cur)
		if errors.Is(err, sql.ErrNoRows) {
			return kiosk.ErrNotFound
		}
		if err != nil {
			return err
		}
		if CollectionSync(cur) == CollectionSent && state != CollectionSent {
			return fmt.Errorf("%w: collection is sent; not moving it to %s", ErrConflict, state)
		}
		_, err = tx.ExecContext(ctx, `UPDATE cassette_periods SET sync_state = ?, sync_note = ?, attempts = attempts + 1,
			next_attempt_at = ?, updated_at = ? WHERE collection_id = ?`,
			string(state), note, nullTime(nextAttempt), fmtTime(at), id)
		return err
	})
}

// ensurePeriod opens a cassette period if none is open: at the very first
// start, and after a collection.
func ensurePeriod(ctx context.Context, tx *sql.Tx, at time.Time) error {
	_, err := tx.ExecContext(ctx, `INSERT INTO cassette_periods (opened_at, updated_at)
		SELECT ?, ? WHERE NOT EXISTS (SELECT 1 FROM cassette_periods WHERE closed_at IS NULL)`,
		fmtTime(at), fmtTime(at))
	return err
}

func currentPeriodID(ctx context.Context, tx *sql.Tx) (int64, error) {
	var id int64
	err := tx.QueryRowContext(ctx, `SELECT id FROM cassette_periods WHERE closed_at IS NULL`).Scan(&id)
	if errors.Is(err, sql.ErrNoRows) {
		return 0, errors.New("no open cassette period")
	}
	return id, err
}

func loadPeriod(ctx context.Context, tx *sql.Tx, id int64) (Period, error) {
	p := Period{ID: id}
	var opened string
	var closed sql.NullString
	if err := tx.QueryRowContext(ctx, `SELECT opened_at, closed_at FROM cassette_periods WHERE id = ?`, id).
		Scan(&opened, &closed); err != nil {
		return p, fmt.Errorf("cassette period %d: %w", id, err)
	}
	var err error
	if p.OpenedAt, err = parseTime(opened); err != nil {
		return p, err
	}
	if p.ClosedAt, err = parseNullTime(closed); err != nil {
		return p, err
	}
	rows, err := tx.QueryContext(ctx, `SELECT value, COUNT(*) FROM bills
		WHERE period_id = ? AND state IN ('stacked', 'suspense') GROUP BY value ORDER BY value`, id)
	if err != nil {
		return p, err
	}
	if p.Bills, err = scanBillCounts(rows); err != nil {
		return p, err
	}
	for _, b := range p.Bills {
		p.Count += b.Count
	}
	p.Amount = sumBills(p.Bills)
	if err := tx.QueryRowContext(ctx, `SELECT IFNULL(SUM(state = 'suspense'), 0), IFNULL(SUM(state = 'uncertain'), 0)
		FROM bills WHERE period_id = ?`, id).Scan(&p.Suspense, &p.Uncertain); err != nil {
		return p, err
	}
	err = tx.QueryRowContext(ctx, `SELECT COUNT(*), IFNULL(MIN(receipt_no), 0), IFNULL(MAX(receipt_no), 0)
		FROM topups WHERE session_id IN (SELECT session_id FROM bills WHERE period_id = ? AND state = 'stacked')`, id).
		Scan(&p.TopUps, &p.FirstReceipt, &p.LastReceipt)
	if err != nil {
		return p, err
	}
	p.Services, err = serviceTotals(ctx, tx, id)
	return p, err
}

func serviceTotals(ctx context.Context, tx *sql.Tx, period int64) ([]kiosk.ServiceTotal, error) {
	rows, err := tx.QueryContext(ctx, `SELECT IFNULL(NULLIF(s.service, ''), ?), COUNT(DISTINCT b.session_id), SUM(b.value)
		FROM bills b JOIN sessions s ON s.id = b.session_id
		WHERE b.period_id = ? AND b.state = 'stacked' GROUP BY 1 ORDER BY 1`, kiosk.WalletServiceID, period)
	if err != nil {
		return nil, err
	}
	defer rows.Close()
	out := []kiosk.ServiceTotal{}
	for rows.Next() {
		var t kiosk.ServiceTotal
		if err := rows.Scan(&t.Service, &t.TopUps, &t.Amount); err != nil {
			return nil, err
		}
		out = append(out, t)
	}
	return out, rows.Err()
}

func collectionWhere(ctx context.Context, tx *sql.Tx, where string, args ...any) (Collection, error) {
	var (
		c     Collection
		id    int64
		seal  string
		state string
	)
	err := tx.QueryRowContext(ctx, `SELECT id, collection_id, seal, sync_state FROM cassette_periods
		WHERE collection_id IS NOT NULL AND `+where, args...).Scan(&id, &c.ID, &seal, &state)
	if errors.Is(err, sql.ErrNoRows) {
		return c, fmt.Errorf("collection: %w", kiosk.ErrNotFound)
	}
	if err != nil {
		return c, err
	}
	c.Seal, c.Sync = seal, CollectionSync(state)
	c.Period, err = loadPeriod(ctx, tx, id)
	return c, err
}
