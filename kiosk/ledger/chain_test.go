package ledger_test

import (
	"database/sql"
	"path/filepath"
	"strings"
	"testing"
	"time"

	"tolem/kiosk"
	"tolem/kiosk/ledger"
	"tolem/kiosk/ledger/ledgertest"
)

// busyLedger is a ledger with a bit of everything the chain follows: top-ups
// (sent, credited), a returned bill, a collection and audit lines.
func busyLedger(t *testing.T) (*ledger.Ledger, string) {
	t.Helper()
	path := filepath.Join(t.TempDir(), "ledger.db")
	l := ledgertest.MustOpenPath(t, path, ledger.Options{})
	ctx := ctxT(t)
	tu := topUpWith(t, l, "s1", kiosk.Tenge(1000), kiosk.Tenge(2000))
	topUpWith(t, l, "s2", kiosk.Tenge(5000))
	openSession(t, l, "s3")
	must(t, l.MarkReturned(ctx, escrow(t, l, "s3", 1, kiosk.Tenge(500)), t0))
	must(t, l.CloseSession(ctx, "s3", t0))
	_, err := l.SetBody(ctx, tu.ID, []byte(`{"id":"x"}`))
	must(t, err)
	must(t, l.UpdateSync(ctx, tu.ID, kiosk.SyncCredited, "", time.Time{}, t0))
	must(t, l.Audit(ctx, kiosk.AuditEntry{At: t0, Actor: "t01", Action: "login"}))
	_, err = l.CloseCollection(ctx, "BAG-1", t0.Add(time.Hour))
	must(t, err)
	return l, path
}

func verify(t *testing.T, l *ledger.Ledger) kiosk.ChainReport {
	t.Helper()
	r, err := l.VerifyChain(ctxT(t))
	must(t, err)
	return r
}

// behindTheBack opens the ledger file as someone with the sqlite3 shell
// would: a plain connection, without the ledger's triggers.
func behindTheBack(t *testing.T, path string, stmts ...string) {
	t.Helper()
	db, err := sql.Open("sqlite", "file:"+path+"?_pragma=busy_timeout(5000)")
	must(t, err)
	defer db.Close()
	for _, q := range stmts {
		if _, err := db.ExecContext(ctxT(t), q); err != nil {
			t.Fatalf("%s: %v", q, err)
		}
	}
}

func TestChainIntactLedgerVerifies(t *testing.T) {
	l, _ := busyLedger(t)
	r := verify(t, l)
	if !r.OK() {
		t.Fatalf("an untouched ledger fails verification: %v", r.Breaks)
	}
	if r.Rows["bills"] != 4 || r.Rows["topups"] != 2 || r.Rows["audit"] != 1 || r.Rows["cassette_periods"] != 2 {
		t.Errorf("rows checked %v, want 4 bills, 2 top-ups, 1 audit line, 2 cassette periods", r.Rows)
	}
	h, err := l.ChainHead(ctxT(t))
	must(t, err)
	if h != r.Head || h.Count == 0 || len(h.Head) != 64 {
		t.Errorf("head %+v, verify's head %+v", h, r.Head)
	}
}

func TestChainNamesABillEditedBehindTheLedgersBack(t *testing.T) {
	l, path := busyLedger(t)
	behindTheBack(t, path, `UPDATE bills SET value = 2000000 WHERE id = 's1/1'`)
	r := verify(t, l)
	if r.OK() {
		t.Fatal("verify found nothing after a bill's value was changed")
	}
	b := r.Breaks[0]
	if b.Table != "bills" || b.RowID != "s1/1" || b.Field != "value" || b.Chain != "100000" || b.Row != "2000000" {
		t.Fatalf("first break %+v, want bills s1/1 value 100000 → 2000000", b)
	}
	if len(r.Breaks) != 1 {
		t.Errorf("breaks %v, want only the edited bill", r.Breaks)
	}
	if s := b.String(); !strings.Contains(s, "bills s1/1") || !strings.Contains(s, "value") {
		t.Errorf("break reads %q", s)
	}
}

func TestChainNamesRemovedAndForgedRows(t *testing.T) {
	l, path := busyLedger(t)
	behindTheBack(t, path,
		`DELETE FROM audit`,
		`INSERT INTO audit (at, actor, action) VALUES ('2025-03-01T04:00:00.000000000Z', 't02', 'collect')`)
	r := verify(t, l)
	var removed, forged bool
	for _, b := range r.Breaks {
		removed = removed || b.Table == "audit" && b.RowID == "1" && strings.Contains(b.What, "removed")
		forged = forged || b.Table == "audit" && b.RowID == "2" && strings.Contains(b.What, "not in the chain")
	}
	if !removed || !forged {
		t.Fatalf("breaks %v, want audit 1 removed and audit 2 not in the chain", r.Breaks)
	}
}

func TestChainNamesARewrittenEntry(t *testing.T) {
	l, path := busyLedger(t)
	// Changing the row and its entry together still shows: the entry's hash
	// no longer matches its content.
	behindTheBack(t, path,
		`DROP TRIGGER chain_never_updated`,
		`UPDATE bills SET value = 2000000 WHERE id = 's2/1'`,
		`UPDATE chain SET content = replace(content, '500000', '2000000') WHERE tbl = 'bills' AND row_id = 's2/1'`)
	r := verify(t, l)
	if r.OK() || r.Breaks[0].Seq == 0 || !strings.Contains(r.Breaks[0].What, "was changed") {
		t.Fatalf("breaks %v, want a changed chain entry first", r.Breaks)
	}
}

func TestChainSkipsDeliveryBookkeeping(t *testing.T) {
	l, _ := busyLedger(t)
	ctx := ctxT(t)
	tu := topUpWith(t, l, "s9", kiosk.Tenge(1000))
	must(t, l.UpdateSync(ctx, tu.ID, kiosk.SyncPending, "", t0.Add(time.Minute), t0))
	before, err := l.ChainHead(ctx)
	must(t, err)
	// Status polls that find it still pending move only the attempt counters.
	for i := range 5 {
		must(t, l.UpdateSync(ctx, tu.ID, kiosk.SyncPending, "still", t0.Add(time.Duration(i)*time.Minute), t0))
	}
	after, err := l.ChainHead(ctx)
	must(t, err)
	if after != before {
		t.Errorf("polls grew the chain from %d to %d entries", before.Count, after.Count)
	}
	must(t, l.UpdateSync(ctx, tu.ID, kiosk.SyncCredited, "", time.Time{}, t0))
	after, err = l.ChainHead(ctx)
	must(t, err)
	if after.Count != before.Count+1 {
		t.Errorf("crediting added %d entries, want 1", after.Count-before.Count)
	}
	if r := verify(t, l); !r.OK() {
		t.Fatal(r.Breaks)
	}
}

func TestCollectionChainHeadStaysPut(t *testing.T) {
	l, _ := busyLedger(t)
	ctx := ctxT(t)
	cs, err := l.DueCollections(ctx, t0.Add(2*time.Hour), 0)
	must(t, err)
	if len(cs) != 1 {
		t.Fatalf("%d due collections, want 1", len(cs))
	}
	h1, err := l.CollectionChainHead(ctx, cs[0].ID)
	must(t, err)
	topUpWith(t, l, "s9", kiosk.Tenge(1000))
	h2, err := l.CollectionChainHead(ctx, cs[0].ID)
	must(t, err)
	head, err := l.ChainHead(ctx)
	must(t, err)
	if h1 != h2 || h1.Count == 0 || h1.Count >= head.Count {
		t.Errorf("collection head %+v then %+v, ledger head %+v", h1, h2, head)
	}
	if _, err := l.CollectionChainHead(ctx, "no-such"); err == nil {
		t.Error("unknown collection: no error")
	}
}

// The chain survives a restart: the triggers come back with the ledger.
func TestChainAcrossReopen(t *testing.T) {
	path := filepath.Join(t.TempDir(), "ledger.db")
	l, err := ledger.Open(ctxT(t), path, ledger.Options{})
	must(t, err)
	topUpWith(t, l, "s1", kiosk.Tenge(1000))
	must(t, l.Close())
	l = ledgertest.MustOpenPath(t, path, ledger.Options{})
	topUpWith(t, l, "s2", kiosk.Tenge(2000))
	r := verify(t, l)
	if !r.OK() || r.Rows["bills"] != 2 {
		t.Fatalf("after a reopen: %+v", r)
	}
}

func TestChainHashIsPlainSHA256(t *testing.T) {
	// What an auditor recomputes with sha256sum:
	//   printf 'tolem-chain-1\n1\naudit\n1\n\n[1]' | sha256sum
	got := ledger.ChainHash(1, "audit", "1", "[1]", "")
	if got != "7ea56b909b68276a7c62c6c8f1e438d80553d79077f086db20cdea6c97aa6e40" {
		t.Fatalf("hash %q", got)
	}
}

// A ledger from before the chain gets one entry per existing row from
// migration 0004, and those entries agree with what the triggers write.
func TestChainBackfill(t *testing.T) {
	l, path := busyLedger(t)
	ctx := ctxT(t)
	r := verify(t, l)
	rows := 0
	for _, n := range r.Rows {
		rows += n
	}
	must(t, l.Close())
	// Back to the schema of the release before: no chain, version 4 unknown.
	behindTheBack(t, path, `DROP TABLE chain`, `DROP TABLE space_reserve`, `DELETE FROM schema_migrations WHERE version = 4`)

	l = ledgertest.MustOpenPath(t, path, ledger.Options{})
	r = verify(t, l)
	if !r.OK() {
		t.Fatalf("after the backfill: %v", r.Breaks)
	}
	if r.Head.Count != int64(rows) {
		t.Errorf("backfill wrote %d entries for %d rows", r.Head.Count, rows)
	}
	topUpWith(t, l, "s9", kiosk.Tenge(1000))
	must(t, l.Audit(ctx, kiosk.AuditEntry{At: t0, Actor: "t01", Action: "logout"}))
	if r := verify(t, l); !r.OK() || r.Head.Count <= int64(rows) {
		t.Fatalf("writes after the backfill: %+v", r)
	}
}
