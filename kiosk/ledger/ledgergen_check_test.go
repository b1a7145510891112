package ledger

import (
	"context"
	"path/filepath"
	"testing"
	"time"

	"tolem/kiosk"
)

// TestGeneratedLedger checks the benchmarks' generator on a few days: the
// chain verifies, and a generated top-up left as many chain entries as one
// made through the ledger's methods.
func TestGeneratedLedger(t *testing.T) {
	ctx, cancel := context.WithTimeout(context.Background(), time.Minute)
	defer cancel()
	path := filepath.Join(t.TempDir(), "gen.db")
	o := genOptions{Days: 8, PerDay: 20, Start: time.Date(2021, 1, 4, 0, 0, 0, 0, time.UTC), Seed: 1}
	n, err := generateLedger(ctx, path, o)
	if err != nil {
		t.Fatal(err)
	}
	if n.TopUps+n.Empty != o.Days*o.PerDay || n.Collections != 1 {
		t.Fatalf("generated %+v, want %d sessions and 1 collection", n, o.Days*o.PerDay)
	}
	l, err := Open(ctx, path, Options{})
	if err != nil {
		t.Fatal(err)
	}
	defer l.Close()
	r, err := l.VerifyChain(ctx)
	if err != nil {
		t.Fatal(err)
	}
	if len(r.Breaks) > 0 {
		t.Fatalf("generated chain breaks: %+v", r.Breaks)
	}
	q, err := l.Queue(ctx)
	if err != nil {
		t.Fatal(err)
	}
	if q.Unsent != 3 || q.Pending != 3 {
		t.Errorf("queue %+v, want 3 unsent and 3 pending", q)
	}

	// One top-up of three bills through the methods, credited, against the
	// generator's.
	perTopUp := func(where string, args ...any) (chain int) {
		t.Helper()
		err := l.r.QueryRowContext(ctx, `SELECT COUNT(*) FROM chain c JOIN topups t ON
			(c.tbl = 'topups' AND c.row_id = t.id) OR (c.tbl = 'bills' AND c.row_id IN
				(SELECT id FROM bills WHERE session_id = t.session_id))
			WHERE `+where, args...).Scan(&chain)
		if err != nil {
			t.Fatal(err)
		}
		return chain
	}
	at := o.Start.AddDate(0, 0, o.Days)
	must := func(err error) {
		t.Helper()
		if err != nil {
			t.Fatal(err)
		}
	}
	must(l.OpenSession(ctx, kiosk.Session{ID: "api", Phone: "+77010000001", OpenedAt: at}))
	for seq := 1; seq <= 3; seq++ {
		id := BillID("api", seq)
		must(l.RecordEscrow(ctx, kiosk.BillRecord{SessionID: "api", Seq: seq, Value: kiosk.Tenge(1000), At: at}))
		must(l.MarkStacking(ctx, id, at))
		must(l.MarkStacked(ctx, id, at))
	}
	tp, err := l.CompleteTopUp(ctx, "api", at)
	must(err)
	_, err = l.SetBody(ctx, tp.ID, []byte(`{}`))
	must(err)
	must(l.UpdateSync(ctx, tp.ID, kiosk.SyncPending, "", at.Add(time.Second), at))
	must(l.UpdateSync(ctx, tp.ID, kiosk.SyncCredited, "", time.Time{}, at))
	api := perTopUp(`t.id = ?`, tp.ID)
	var gen string
	must(l.r.QueryRowContext(ctx, `SELECT t.id FROM topups t WHERE t.sync_state = 'credited'
		AND (SELECT COUNT(*) FROM bills b WHERE b.session_id = t.session_id) = 3
		AND (SELECT COUNT(*) FROM bills b WHERE b.session_id = t.session_id AND b.state = 'stacked') = 3
		LIMIT 1`).Scan(&gen))
	if g := perTopUp(`t.id = ?`, gen); g != api {
		t.Errorf("a generated top-up of 3 bills has %d chain entries, one through the methods %d", g, api)
	}
}
