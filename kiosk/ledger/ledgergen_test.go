package ledger

import (
	"context"
	"database/sql"
	"fmt"
	"math/rand/v2"
	"time"

	"github.com/google/uuid"

	"tolem/kiosk"
)

// genOptions shape a generated ledger: what a kiosk writes over Days days.
type genOptions struct {
	Days   int       // days of trade
	PerDay int       // top-ups a day
	Start  time.Time // the first day, at midnight UTC
	Seed   uint64
}

// fiveYears is the ledger a kiosk has after five years of a busy site.
var fiveYears = genOptions{Days: 5 * 365, PerDay: 200, Start: time.Date(2021, 1, 4, 0, 0, 0, 0, time.UTC), Seed: 5}

// genCounts is what a generated ledger holds.
type genCounts struct {
	TopUps, Bills, Empty, Collections, Audit int
}

// generateLedger writes a ledger as a kiosk would over o.Days days: sessions
// with one to five bills (a few returned, a few sessions cancelled empty),
// each top-up completed, its body stored and sent, pending once and then
// credited; a collection every Sunday evening with its body sent; a few
// audit lines a day. The last top-ups are left unsent and pending, and a
// rare one in review, as a real queue is. Every row is written by the same
// SQL the ledger's methods use (completeSession, insertAudit, the escrow
// insert and the stack updates; CloseCollection and the collection's sync
// through the API), with the chain's triggers in place, so the rows and the
// chain are the ones the methods write; only the transactions differ, one a
// day instead of one a step, which makes five years take minutes, not hours.
func generateLedger(ctx context.Context, path string, o genOptions) (genCounts, error) {
	var n genCounts
	clock := &genClock{now: o.Start}
	l, err := Open(ctx, path, Options{Clock: clock})
	if err != nil {
		return n, err
	}
	defer l.Close()
	rng := rand.New(rand.NewPCG(o.Seed, o.Seed^0x9e3779b97f4a7c15))

	prep := func(q string) *sql.Stmt {
		if err != nil {
			return nil
		}
		var s *sql.Stmt
		s, err = l.w.PrepareContext(ctx, q)
		return s
	}
	var (
		insSession = prep(`INSERT INTO sessions (id, phone, offline, opened_at, status) VALUES (?, ?, 0, ?, 'open')`)
		stacking   = prep(`UPDATE bills SET stack_at = ? WHERE id = ? AND state = 'escrowed' AND stack_at IS NULL`)
		stacked    = prep(`UPDATE bills SET state = 'stacked', settled_at = ?, period_id = ? WHERE id = ?`)
		returned   = prep(`UPDATE bills SET state = 'returned', settled_at = ?, period_id = NULL WHERE id = ?`)
		setBody    = prep(`UPDATE topups SET body = ? WHERE id = ? AND body IS NULL`)
		updSync    = prep(`UPDATE topups SET sync_state = ?, sync_note = ?, attempts = attempts + 1,
				next_attempt_at = ?, last_error = IFNULL(?, last_error),
				credited_at = IFNULL(credited_at, ?), updated_at = ? WHERE id = ?`)
	)
	if err != nil {
		return n, err
	}
	for _, s := range []*sql.Stmt{insSession, stacking, stacked, returned, setBody, updSync} {
		defer s.Close()
	}
	values := []kiosk.Money{kiosk.Tenge(200), kiosk.Tenge(500), kiosk.Tenge(1000), kiosk.Tenge(1000),
		kiosk.Tenge(2000), kiosk.Tenge(2000), kiosk.Tenge(5000), kiosk.Tenge(10000), kiosk.Tenge(20000)}
	billsIn := []int{1, 1, 2, 2, 3, 3, 3, 4, 4, 5} // 2.8 on average
	total := o.Days * o.PerDay
	for day := 0; day < o.Days; day++ {
		date := o.Start.AddDate(0, 0, day)
		tx, err := l.w.BeginTx(ctx, nil)
		if err != nil {
			return n, err
		}
		period, err := currentPeriodID(ctx, tx)
		if err != nil {
			_ = tx.Rollback()
			return n, err
		}
		// Trade from 08:00 to 22:00, evenly with jitter.
		step := 14 * time.Hour / time.Duration(o.PerDay)
		for i := 0; i < o.PerDay; i++ {
			at := date.Add(8*time.Hour + time.Duration(i)*step + time.Duration(rng.Int64N(int64(step/2))))
			sid := uuidFrom(rng)
			phone := fmt.Sprintf("+7701%07d", rng.IntN(20000))
			if _, err := tx.StmtContext(ctx, insSession).ExecContext(ctx, sid, phone, fmtTime(at)); err != nil {
				return n, rollback(tx, err)
			}
			nb := billsIn[rng.IntN(len(billsIn))]
			empty := rng.IntN(100) < 4 // the customer gave up: one bill back
			if empty {
				nb = 1
			}
			kept := 0
			for seq := 1; seq <= nb; seq++ {
				at = at.Add(time.Duration(4+rng.IntN(6)) * time.Second)
				id := BillID(sid, seq)
				v := values[rng.IntN(len(values))]
				if _, err := tx.StmtContext(ctx, l.st.escrow).ExecContext(ctx, id, seq, int64(v), fmtTime(at), sid); err != nil {
					return n, rollback(tx, err)
				}
				n.Bills++
				if empty || rng.IntN(100) < 2 { // refused by the customer at the prompt, or jammed back
					if _, err := tx.StmtContext(ctx, returned).ExecContext(ctx, fmtTime(at.Add(2*time.Second)), id); err != nil {
						return n, rollback(tx, err)
					}
					continue
				}
				if _, err := tx.StmtContext(ctx, stacking).ExecContext(ctx, fmtTime(at.Add(100*time.Millisecond)), id); err != nil {
					return n, rollback(tx, err)
				}
				if _, err := tx.StmtContext(ctx, stacked).ExecContext(ctx, fmtTime(at.Add(2*time.Second)), period, id); err != nil {
					return n, rollback(tx, err)
				}
				kept++
			}
			at = at.Add(10 * time.Second)
			if kept == 0 {
				if err := closeEmpty(ctx, tx, sid, at); err != nil {
					return n, rollback(tx, err)
				}
				n.Empty++
				continue
			}
			t, err := completeSession(ctx, tx, sid, at, false)
			if err != nil {
				return n, rollback(tx, err)
			}
			n.TopUps++
			// The queue's tail: the last few are still with the outbox.
			left := total - (day*o.PerDay + i) - 1
			if left < 3 {
				continue
			}
			body := fmt.Sprintf(`{"id":%q,"terminal_id":"KSK-0001","receipt_no":%d,"phone":%q,"amount":%d,"currency":"KZT",`+
				`"created_at":%q,"completed_at":%q,"offline":false,"bills":[{"value":%d,"count":1}],"chain_head":{"count":%d,"head":"%064x"}}`,
				t.ID, t.ReceiptNo, phone, int64(t.Amount), fmtTime(t.CreatedAt), fmtTime(t.CompletedAt), int64(t.Amount), t.ReceiptNo*11, rng.Uint64())
			sent := at.Add(time.Duration(50+rng.IntN(400)) * time.Millisecond)
			if _, err := tx.StmtContext(ctx, setBody).ExecContext(ctx, []byte(body), t.ID); err != nil {
				return n, rollback(tx, err)
			}
			if _, err := tx.StmtContext(ctx, updSync).ExecContext(ctx, "pending", "", fmtTime(sent.Add(5*time.Second)), nil, nil, fmtTime(sent), t.ID); err != nil {
				return n, rollback(tx, err)
			}
			if left < 6 {
				continue
			}
			state, note, credited := "credited", "", any(fmtTime(sent.Add(5*time.Second)))
			if rng.IntN(20000) == 0 {
				state, note, credited = "review", "422 invalid_phone", nil
			}
			if _, err := tx.StmtContext(ctx, updSync).ExecContext(ctx, state, note, nil, nil, credited, fmtTime(sent.Add(5*time.Second)), t.ID); err != nil {
				return n, rollback(tx, err)
			}
		}
		// The technician's day: the status at opening, and on Sundays the
		// collection, audited as the console does.
		if err := insertAudit(ctx, tx, kiosk.AuditEntry{At: date.Add(7 * time.Hour), Actor: "tech-07", Action: "login", Detail: "serial console"}); err != nil {
			return n, rollback(tx, err)
		}
		n.Audit++
		if err := tx.Commit(); err != nil {
			return n, err
		}
		if date.Weekday() == time.Sunday {
			at := date.Add(22*time.Hour + 30*time.Minute)
			clock.set(at)
			for _, a := range []string{"maintenance on", "collect"} {
				if err := l.Audit(ctx, kiosk.AuditEntry{At: at, Actor: "tech-07", Action: a}); err != nil {
					return n, err
				}
				n.Audit++
			}
			c, err := l.CloseCollection(ctx, fmt.Sprintf("SEAL-%06d", n.Collections+1), at)
			if err != nil {
				return n, err
			}
			n.Collections++
			body := fmt.Sprintf(`{"id":%q,"terminal_id":"KSK-0001","seal":%q,"closed_at":%q,"bills":[]}`, c.ID, c.Seal, fmtTime(at))
			if _, err := l.SetCollectionBody(ctx, c.ID, []byte(body)); err != nil {
				return n, err
			}
			if err := l.UpdateCollectionSync(ctx, c.ID, CollectionSent, "", time.Time{}, at.Add(time.Second)); err != nil {
				return n, err
			}
			if err := l.Audit(ctx, kiosk.AuditEntry{At: at.Add(time.Minute), Actor: "tech-07", Action: "maintenance off"}); err != nil {
				return n, err
			}
			n.Audit++
		}
	}
	return n, l.Close()
}

func rollback(tx *sql.Tx, err error) error {
	_ = tx.Rollback()
	return err
}

// uuidFrom is a random (version 4) uuid from rng, so that a seed gives the
// same ledger.
func uuidFrom(rng *rand.Rand) string {
	var b [16]byte
	for i := 0; i < 16; i += 8 {
		v := rng.Uint64()
		for j := 0; j < 8; j++ {
			b[i+j] = byte(v >> (8 * j))
		}
	}
	u, _ := uuid.FromBytes(b[:])
	u[6] = u[6]&0x0f | 0x40
	u[8] = u[8]&0x3f | 0x80
	return u.String()
}

// genClock is the generator's clock: it moves only when set.
type genClock struct{ now time.Time }

func (c *genClock) Now() time.Time                     { return c.now }
func (c *genClock) set(t time.Time)                    { c.now = t }
func (c *genClock) NewTimer(time.Duration) kiosk.Timer { panic("the ledger sets no timers") }
