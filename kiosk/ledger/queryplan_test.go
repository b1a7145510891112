package ledger

import (
	"context"
	"path/filepath"
	"regexp"
	"strings"
	"testing"
	"time"
)

// hotQueries are the statements a customer's top-up, the outbox, start-up
// and the console's status, queue, review, txn, collect and log run on a
// ledger that grows for years. Each must find its rows through an index:
// none may read a growing table whole. The list names each by where it
// runs; a new query on those paths belongs here.
var hotQueries = []struct{ name, query string }{
	// A customer's top-up.
	{"RecordEscrow", escrowInsert},
	{"billByID", `SELECT ` + billColumns + ` FROM bills WHERE id = ?`},
	{"sessionStatus", `SELECT status FROM sessions WHERE id = ?`},
	{"MarkStacking", `UPDATE bills SET stack_at = ? WHERE id = ? AND state = 'escrowed' AND stack_at IS NULL`},
	{"MarkStacked", `UPDATE bills SET state = 'stacked', settled_at = ?, period_id = ? WHERE id = ?`},
	{"currentPeriodID", `SELECT id FROM cassette_periods WHERE closed_at IS NULL`},
	{"billStates", `SELECT state, COUNT(*) FROM bills WHERE session_id = ? GROUP BY state`},
	{"stackedBills", `SELECT value, COUNT(*) FROM bills WHERE session_id = ? AND state = 'stacked' GROUP BY value ORDER BY value`},
	{"completeSession", `SELECT phone, offline, opened_at, status FROM sessions WHERE id = ?`},
	{"plausibleCompletion", `SELECT completed_at FROM topups ORDER BY receipt_no DESC LIMIT 1`},
	{"nextReceipt", `UPDATE counters SET value = MAX(value, (SELECT IFNULL(MAX(receipt_no), 0) FROM topups)) + 1
		WHERE name = 'receipt_no' RETURNING value`},
	{"completeSession session", `UPDATE sessions SET status = 'completed', closed_at = ? WHERE id = ?`},
	{"chain entry", `SELECT IFNULL(MAX(seq), 0) + 1, IFNULL(hash, '') FROM chain`},

	// The outbox.
	{"DueTopUps", `SELECT ` + topUpColumns + ` FROM topups t WHERE t.sync_state IN ('unsent', 'pending')
		AND (t.next_attempt_at IS NULL OR t.next_attempt_at <= ?) ORDER BY t.receipt_no LIMIT ?`},
	{"DueCollections", `SELECT id FROM cassette_periods WHERE sync_state = 'unsent'
		AND (next_attempt_at IS NULL OR next_attempt_at <= ?) ORDER BY id LIMIT ?`},
	{"SetBody", `UPDATE topups SET body = ? WHERE id = ? AND body IS NULL`},
	{"UpdateSync", `UPDATE topups SET sync_state = ?, sync_note = ?, attempts = attempts + 1,
		next_attempt_at = ?, last_error = IFNULL(?, last_error), credited_at = IFNULL(credited_at, ?), updated_at = ? WHERE id = ?`},
	{"ChainHead", `SELECT seq, hash FROM chain ORDER BY seq DESC LIMIT 1`},

	// status, queue, review, txn, log, collect.
	{"Queue", `SELECT sync_state, COUNT(*), IFNULL(SUM(amount), 0), MIN(completed_at)
		FROM topups WHERE sync_state IN ('unsent', 'pending', 'review') GROUP BY sync_state`},
	{"TopUpsBySync", `SELECT ` + topUpColumns + ` FROM topups t WHERE t.sync_state IN (?, ?) ORDER BY t.receipt_no`},
	{"Delivery", `SELECT ` + deliveryColumns + ` FROM topups t WHERE t.id = ?`},
	{"loadPeriod bills", `SELECT value, COUNT(*) FROM bills
		WHERE period_id = ? AND state IN ('stacked', 'suspense') GROUP BY value ORDER BY value`},
	{"loadPeriod states", `SELECT IFNULL(SUM(state = 'suspense'), 0), IFNULL(SUM(state = 'uncertain'), 0) FROM bills WHERE period_id = ?`},
	{"loadPeriod receipts", `SELECT COUNT(*), IFNULL(MIN(receipt_no), 0), IFNULL(MAX(receipt_no), 0)
		FROM topups WHERE session_id IN (SELECT session_id FROM bills WHERE period_id = ? AND state = 'stacked')`},
	{"RecoveredTopUps", `SELECT ` + topUpColumns + ` FROM topups t WHERE t.recovered = 1 ORDER BY t.completed_at DESC, t.receipt_no DESC LIMIT ?`},
	{"ReviewList bills", `SELECT ` + billColumns + ` FROM bills WHERE ` + unsettled + ` AND state IN ('uncertain', 'suspense') ORDER BY escrowed_at, id`},
	{"ReviewList top-ups", `SELECT ` + topUpColumns + ` FROM topups t WHERE t.sync_state IN ('review', 'rejected') ORDER BY t.receipt_no`},
	{"UncertainSessions", uncertainSessions},
	{"TopUpByReceipt", `SELECT ` + topUpColumns + ` FROM topups t WHERE t.receipt_no = ? LIMIT 1`},
	{"txn bills", `SELECT ` + billColumns + ` FROM bills WHERE session_id = ? ORDER BY seq`},
	{"AuditTail", `SELECT at, actor, action, detail FROM
		(SELECT id, at, actor, action, detail FROM audit ORDER BY id DESC LIMIT ?) ORDER BY id`},
	{"CloseCollection", `SELECT (SELECT COUNT(*) FROM bills WHERE ` + unsettled + ` AND state = 'escrowed'),
		(SELECT COUNT(*) FROM sessions WHERE status = 'open')`},
	{"collectionWhere", `SELECT id, collection_id, seal, sync_state FROM cassette_periods WHERE collection_id IS NOT NULL AND id = ?`},

	// Start-up.
	{"PendingRecovery", `SELECT EXISTS (SELECT 1 FROM sessions WHERE status = 'open')`},
	{"recover escrowed", `SELECT ` + billColumns + ` FROM bills WHERE ` + unsettled + ` AND state = 'escrowed' ORDER BY escrowed_at DESC, rowid DESC`},
	{"recover late", `SELECT ` + billColumns + ` FROM bills WHERE ` + unsettled + ` AND state = 'uncertain' AND uncertain_why = 'no_report' ORDER BY escrowed_at DESC, rowid DESC`},
	{"recover late settled", `UPDATE bills SET uncertain_why = 'unknown' WHERE ` + unsettled + ` AND state = 'uncertain' AND uncertain_why = 'no_report'`},
	{"recover open sessions", `SELECT id FROM sessions WHERE status = 'open' ORDER BY opened_at, id`},
}

// growing are the tables that grow with every top-up, and the aliases the
// queries give them (plans name a table by its alias). The others hold a row
// a week (cassette_periods) or a handful.
var growing = map[string]bool{"bills": true, "sessions": true, "topups": true, "chain": true, "audit": true,
	"b": true, "s": true, "t": true, "c": true}

// smallIndexes are partial indexes that hold only the rows of the moment
// (open sessions, bills not yet settled for good, top-ups completed by
// recovery): reading one whole is
// cheap however old the ledger.
var smallIndexes = map[string]bool{"sessions_open": true, "bills_unsettled": true, "topups_recovered": true}

// fullScanOK are reads of a growing table that stop after a row or a few:
// the newest rows, read backwards under a LIMIT.
var fullScanOK = map[string]bool{"AuditTail": true, "plausibleCompletion": true, "ChainHead": true}

var scanRE = regexp.MustCompile(`\bSCAN (\w+)(?: USING (?:COVERING )?INDEX (\w+))?`)

// TestHotQueryPlans checks the plan of every hot query: SQLite's plans
// depend on the schema, not on the rows, so a small ledger shows the plans a
// five-year one gets.
func TestHotQueryPlans(t *testing.T) {
	ctx, cancel := context.WithTimeout(context.Background(), time.Minute)
	defer cancel()
	l, err := Open(ctx, filepath.Join(t.TempDir(), "ledger.db"), Options{})
	if err != nil {
		t.Fatal(err)
	}
	defer l.Close()
	for _, q := range hotQueries {
		rows, err := l.r.QueryContext(ctx, `EXPLAIN QUERY PLAN `+q.query, make([]any, strings.Count(q.query, "?"))...)
		if err != nil {
			t.Errorf("%s: %v", q.name, err)
			continue
		}
		var plan []string
		for rows.Next() {
			var id, parent, unused int
			var detail string
			if err := rows.Scan(&id, &parent, &unused, &detail); err != nil {
				t.Fatal(err)
			}
			plan = append(plan, detail)
		}
		rows.Close()
		for _, step := range plan {
			m := scanRE.FindStringSubmatch(step)
			if m != nil && growing[m[1]] && !smallIndexes[m[2]] && !fullScanOK[q.name] {
				t.Errorf("%s reads the whole of %s (%q); plan:\n\t%s", q.name, m[1], step, strings.Join(plan, "\n\t"))
			}
		}
		if testing.Verbose() {
			t.Logf("%s:\n\t%s", q.name, strings.Join(plan, "\n\t"))
		}
	}
}
