package ledger

import (
	"context"
	"database/sql"
	"fmt"
	"maps"
	"slices"
	"strconv"
	"time"

	"tolem/kiosk"
)

// followUps credits bills found in the cassette after their sessions were
// settled without them: per session, a follow-up session with the same
// phone takes the bills, and is completed as a reconciled top-up with a
// receipt number of its own. The original top-up, whose body the bank may
// hold already, is never touched.
func followUps(ctx context.Context, tx *sql.Tx, bills []kiosk.BillRecord, at time.Time) ([]kiosk.TopUp, error) {
	bySession := map[string][]kiosk.BillRecord{}
	var order []string
	for _, b := range bills {
		if b.SessionID == "" {
			return nil, fmt.Errorf("bill %s has no session to credit", b.ID)
		}
		if _, ok := bySession[b.SessionID]; !ok {
			order = append(order, b.SessionID)
		}
		bySession[b.SessionID] = append(bySession[b.SessionID], b)
	}
	var out []kiosk.TopUp
	for _, sid := range order {
		bs := bySession[sid]
		var phone string
		var offline bool
		var status string
		if err := tx.QueryRowContext(ctx, `SELECT phone, offline, status FROM sessions WHERE id = ?`, sid).
			Scan(&phone, &offline, &status); err != nil {
			return nil, fmt.Errorf("session %s: %w", sid, err)
		}
		if status == sessionOpen {
			// Its session is still open: the bill joins its top-up there.
			for _, b := range bs {
				if _, err := tx.ExecContext(ctx, `UPDATE bills SET state = 'stacked', settled_at = ?, uncertain_why = NULL WHERE id = ?`,
					fmtTime(at), b.ID); err != nil {
					return nil, err
				}
			}
			continue
		}
		// The follow-up's id is derived from its first bill, which is settled
		// once: the same bill can never make two follow-ups.
		fid := sid + "/r" + strconv.Itoa(bs[0].Seq)
		if _, err := tx.ExecContext(ctx, `INSERT INTO sessions (id, phone, offline, opened_at, follows, service, account)
			SELECT ?, phone, offline, ?, id, service, account FROM sessions WHERE id = ?`,
			fid, fmtTime(at), sid); err != nil {
			return nil, fmt.Errorf("follow-up of session %s: %w", sid, err)
		}
		for _, b := range bs {
			// The bill keeps its id and its cassette period; it moves to the
			// follow-up session, whose top-up it is in.
			if _, err := tx.ExecContext(ctx, `UPDATE bills SET session_id = ?, state = 'stacked', settled_at = ?, uncertain_why = NULL,
					period_id = IFNULL(period_id, (SELECT id FROM cassette_periods WHERE closed_at IS NULL)) WHERE id = ?`,
				fid, fmtTime(at), b.ID); err != nil {
				return nil, err
			}
		}
		t, err := completeSession(ctx, tx, fid, at, true)
		if err != nil {
			return nil, fmt.Errorf("follow-up of session %s: %w", sid, err)
		}
		if _, err := tx.ExecContext(ctx, `UPDATE topups SET reconciled = 1 WHERE id = ?`, t.ID); err != nil {
			return nil, err
		}
		t.Reconciled = true
		out = append(out, t)
	}
	return out, nil
}

// Reconciliation is what a collection's physical count settled.
type Reconciliation struct {
	Collection string `json:"collection"`
	// Counted is the physical count; Recorded what the ledger holds in the
	// cassette (stacked and suspense) for the collection's period.
	Counted  []kiosk.BillCount `json:"counted"`
	Recorded []kiosk.BillCount `json:"recorded"`
	// Stacked and Returned are the uncertain bills the count settled.
	Stacked  []string `json:"stacked,omitempty"`
	Returned []string `json:"returned,omitempty"`
	// TopUps are the follow-up top-ups that credit the bills found stacked.
	TopUps []kiosk.TopUp `json:"topups,omitempty"`
	// Unmatched says, per value, what the count could not settle without
	// guessing: more or fewer bills than the ledger can account for, or
	// some but not all of the uncertain bills of a value belonging to
	// different customers. Empty when everything matched.
	Unmatched []string `json:"unmatched,omitempty"`
}

// Reconcile settles a collection's uncertain bills with its physical count
// (the technician's at `collect`, or the count centre's later). ref is the
// collection's id, its seal, or "last". Per value, the count against the
// bills recorded in the cassette says how many of the uncertain ones are
// there: all of them (each becomes stacked and is credited to its session's
// phone as a follow-up top-up), none (each is recorded returned: the
// customer had it back), or a number that leaves a choice between customers,
// which is reported, never guessed. A count below the recorded bills, or
// above them and the uncertain ones together, is reported too. The count is
// kept with the collection and audited; reconciling again only settles what
// is still uncertain.
func (l *Ledger) Reconcile(ctx context.Context, ref string, counted []kiosk.BillCount, actor string, at time.Time) (Reconciliation, error) {
	at = l.now(at)
	var rec Reconciliation
	err := l.write(ctx, "reconcile collection "+ref, func(tx *sql.Tx) error {
		rec = Reconciliation{Counted: counted}
		var where string
		var args []any
		switch ref {
		case "", "last":
			where = `1 ORDER BY closed_at DESC, id DESC`
		default:
			where, args = `(collection_id = ? OR seal = ?) ORDER BY closed_at DESC, id DESC`, []any{ref, ref}
		}
		c, err := collectionWhere(ctx, tx, where+` LIMIT 1`, args...)
		if err != nil {
			return fmt.Errorf("collection %q: %w", ref, err)
		}
		rec.Collection = c.ID
		rec.Recorded = c.Period.Bills
		uncertain, err := queryBills(ctx, tx, `state = 'uncertain' AND period_id = ? ORDER BY escrowed_at, id`, c.Period.ID)
		if err != nil {
			return err
		}
		recorded := map[kiosk.Money]int{}
		for _, b := range c.Period.Bills {
			recorded[b.Value] += b.Count
		}
		count := map[kiosk.Money]int{}
		for _, b := range counted {
			count[b.Value] += b.Count
		}
		byValue := map[kiosk.Money][]kiosk.BillRecord{}
		values := map[kiosk.Money]bool{}
		for _, b := range uncertain {
			byValue[b.Value] = append(byValue[b.Value], b)
			values[b.Value] = true
		}
		for v := range recorded {
			values[v] = true
		}
		for v := range count {
			values[v] = true
		}
		// givenBack records uncertain bills the count shows are not in the
		// cassette: the customer had them back.
		givenBack := func(bs []kiosk.BillRecord) error {
			for _, b := range bs {
				if _, err := tx.ExecContext(ctx, `UPDATE bills SET state = 'returned', settled_at = ?, period_id = NULL, uncertain_why = NULL WHERE id = ?`,
					fmtTime(at), b.ID); err != nil {
					return err
				}
				rec.Returned = append(rec.Returned, b.ID)
			}
			return nil
		}
		var stacked []kiosk.BillRecord
		for _, v := range slices.Sorted(maps.Keys(values)) {
			unc := byValue[v]
			extra := count[v] - recorded[v]
			switch {
			case v == 0:
				// Suspense bills of unknown value: the count cannot be
				// matched against them by value.
				if recorded[v] > 0 {
					rec.Unmatched = append(rec.Unmatched, fmt.Sprintf("%d bill(s) of unknown value in suspense: match them by hand", recorded[v]))
				}
			case extra < 0:
				rec.Unmatched = append(rec.Unmatched, fmt.Sprintf("%s: counted %d, the ledger has %d in the cassette: %d short",
					v, count[v], recorded[v], -extra))
			case extra > len(unc):
				rec.Unmatched = append(rec.Unmatched, fmt.Sprintf("%s: counted %d, the ledger has %d in the cassette and %d uncertain: %d more than it can account for",
					v, count[v], recorded[v], len(unc), extra-len(unc)))
			case extra == 0:
				if err := givenBack(unc); err != nil {
					return err
				}
			case extra == len(unc) || onePhone(ctx, tx, unc):
				// All of them are there, or whichever are, the money goes
				// to the same phone: no customer is guessed.
				n := extra
				stacked = append(stacked, unc[:n]...)
				for _, b := range unc[:n] {
					rec.Stacked = append(rec.Stacked, b.ID)
				}
				if err := givenBack(unc[n:]); err != nil {
					return err
				}
			default:
				rec.Unmatched = append(rec.Unmatched, fmt.Sprintf("%s: %d of %d uncertain bills are in the cassette, and they belong to different customers: settle them with the journal",
					v, extra, len(unc)))
			}
		}
		if len(stacked) > 0 {
			ts, err := followUps(ctx, tx, stacked, at)
			if err != nil {
				return err
			}
			rec.TopUps = ts
		}
		if _, err := tx.ExecContext(ctx, `UPDATE cassette_periods SET counted = ?, updated_at = ? WHERE id = ?`,
			kiosk.FormatBillCounts(counted), fmtTime(at), c.Period.ID); err != nil {
			return err
		}
		detail := fmt.Sprintf("collection %s (seal %s): counted %s; stacked %d, returned %d", c.ID, c.Seal,
			kiosk.FormatBillCounts(counted), len(rec.Stacked), len(rec.Returned))
		for _, t := range rec.TopUps {
			detail += fmt.Sprintf("; receipt %d: %s (reconciled)", t.ReceiptNo, t.Amount)
		}
		for _, u := range rec.Unmatched {
			detail += "; unmatched: " + u
		}
		return insertAudit(ctx, tx, kiosk.AuditEntry{At: at, Actor: actor, Action: "reconcile", Detail: detail})
	})
	if err != nil {
		return Reconciliation{}, err
	}
	if len(rec.Unmatched) > 0 {
		l.log.Warn("collection count does not match the ledger", "collection", rec.Collection, "unmatched", rec.Unmatched)
	}
	return rec, nil
}

func onePhone(ctx context.Context, tx *sql.Tx, bills []kiosk.BillRecord) bool {
	phones := map[string]bool{}
	for _, b := range bills {
		var p string
		if err := tx.QueryRowContext(ctx, `SELECT service || '|' || phone || '|' || account FROM sessions WHERE id = ?`, b.SessionID).Scan(&p); err != nil {
			return false
		}
		phones[p] = true
	}
	return len(phones) == 1
}

// reissueClockBodies puts back in the queue, with a corrected completion
// time and under the same id, the top-ups the bank refused as invalid (422)
// because they were completed "before" they were created, by a clock that
// booted behind. The bank never stored them: a known id is answered with its
// status, never 422. Their bodies are rebuilt from the corrected row.
func reissueClockBodies(ctx context.Context, tx *sql.Tx, at time.Time) (int, error) {
	res, err := tx.ExecContext(ctx, `UPDATE topups SET completed_at = MAX(created_at,
				IFNULL((SELECT MAX(p.completed_at) FROM topups p WHERE p.receipt_no < topups.receipt_no), created_at)), body = NULL, sync_state = 'unsent',
			sync_note = 'completion time corrected (the clock was behind); sent again under the same id',
			next_attempt_at = NULL, updated_at = ?
		WHERE sync_state = 'review' AND completed_at < created_at AND sync_note LIKE '%422%'`, fmtTime(at))
	if err != nil {
		return 0, err
	}
	n, err := res.RowsAffected()
	return int(n), err
}
