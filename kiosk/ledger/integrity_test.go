package ledger_test

import (
	"database/sql"
	"path/filepath"
	"strings"
	"testing"
	"time"

	_ "modernc.org/sqlite"

	"tolem/kiosk"
	"tolem/kiosk/ledger"
	"tolem/kiosk/ledger/ledgertest"
)

// A power-up report that arrives after recovery gave up waiting for it still
// settles the bill recovery left uncertain: the customer is credited by a
// follow-up top-up and the bill is counted once, never as a second,
// unowned suspense bill.
func TestLateReportSettlesUncertainBill(t *testing.T) {
	t1000, t500 := kiosk.Tenge(1000), kiosk.Tenge(500)
	for _, tc := range []struct {
		name      string
		report    kiosk.PowerUpReport
		taken     bool
		wantState kiosk.BillState
		followUp  kiosk.Money // 0: none
		cassette  kiosk.Money
	}{
		{"in the stacker", kiosk.PowerUpReport{BillAt: kiosk.BillInStacker, Value: t500}, false, kiosk.BillStacked, t500, kiosk.Tenge(1500)},
		{"in the validator", kiosk.PowerUpReport{BillAt: kiosk.BillInValidator, Value: t500}, false, kiosk.BillReturned, 0, t1000},
		{"nowhere, STACK taken", kiosk.PowerUpReport{BillAt: kiosk.BillNowhere}, true, kiosk.BillStacked, t500, kiosk.Tenge(1500)},
		{"nowhere, STACK not taken", kiosk.PowerUpReport{BillAt: kiosk.BillNowhere}, false, kiosk.BillUncertain, 0, t1000},
	} {
		t.Run(tc.name, func(t *testing.T) {
			l := ledgertest.MustOpen(t)
			ctx := ctxT(t)
			openSession(t, l, "a")
			stack(t, l, "a", 1, t1000)
			id := escrow(t, l, "a", 2, t500)
			if tc.taken {
				must(t, l.MarkStacking(ctx, id, t0))
			}
			rep, err := l.Recover(ctx, nil, t0.Add(time.Minute))
			must(t, err)
			if rep.Uncertain != 1 || len(rep.TopUps) != 1 || rep.TopUps[0].Amount != t1000 {
				t.Fatalf("recovery without a report: %+v", rep)
			}
			late := tc.report
			rep, err = l.SettleLate(ctx, &late, t0.Add(2*time.Minute))
			must(t, err)
			if rep.Suspense != 0 {
				t.Errorf("late report made %d suspense bill(s): the bill would be counted twice", rep.Suspense)
			}
			if got := billState(t, l, id); got != tc.wantState {
				t.Errorf("bill is %s, want %s", got, tc.wantState)
			}
			if tc.followUp == 0 {
				if len(rep.TopUps) != 0 {
					t.Errorf("follow-up top-ups %+v, want none", rep.TopUps)
				}
			} else {
				if len(rep.TopUps) != 1 {
					t.Fatalf("follow-up top-ups %+v, want one", rep.TopUps)
				}
				f := rep.TopUps[0]
				if f.Amount != tc.followUp || f.Phone != phone || !f.Reconciled || f.ReceiptNo != 2 {
					t.Errorf("follow-up %+v: want %s to %s, reconciled, receipt 2", f, tc.followUp, phone)
				}
			}
			p, err := l.CurrentPeriod(ctx)
			must(t, err)
			if p.Amount != tc.cassette {
				t.Errorf("cassette holds %s, want %s", p.Amount, tc.cassette)
			}
			// A second report is a new power-up, not this one again.
			rep, err = l.SettleLate(ctx, &late, t0.Add(3*time.Minute))
			must(t, err)
			if len(rep.TopUps) != 0 || rep.Stacked != 0 {
				t.Errorf("the report settled the bill twice: %+v", rep)
			}
		})
	}
}

// A collection's count settles uncertain bills: the ones found in the
// cassette are credited as follow-up top-ups, the rest recorded returned,
// and anything that would need a guess is reported.
func TestReconcileCollection(t *testing.T) {
	t1000, t500, t2000 := kiosk.Tenge(1000), kiosk.Tenge(500), kiosk.Tenge(2000)
	l := ledgertest.MustOpen(t)
	ctx := ctxT(t)
	// Session a: 1000 stacked, 500 uncertain. Session b (another phone): 2000
	// uncertain. Session c: 2000 uncertain.
	openSession(t, l, "a")
	stack(t, l, "a", 1, t1000)
	escrow(t, l, "a", 2, t500)
	must(t, l.OpenSession(ctx, kiosk.Session{ID: "b", Phone: "+77771234567", OpenedAt: t0.Add(time.Second)}))
	escrow(t, l, "b", 1, t2000)
	must(t, l.OpenSession(ctx, kiosk.Session{ID: "c", Phone: "+77051234567", OpenedAt: t0.Add(2 * time.Second)}))
	escrow(t, l, "c", 1, t2000)
	rep, err := l.Recover(ctx, nil, t0.Add(time.Minute))
	must(t, err)
	if rep.Uncertain != 3 {
		t.Fatalf("recovery: %+v", rep)
	}
	// A late report that cannot tell leaves them for the count.
	_, err = l.SettleLate(ctx, &kiosk.PowerUpReport{BillAt: kiosk.BillNowhere}, t0.Add(2*time.Minute))
	must(t, err)
	c, err := l.CloseCollection(ctx, "PLB-1", t0.Add(time.Hour))
	must(t, err)
	if c.Period.Uncertain != 3 {
		t.Fatalf("collection has %d uncertain bills, want 3", c.Period.Uncertain)
	}

	counted, err := kiosk.ParseBillCounts("500:1, 1000:1 2000:1")
	must(t, err)
	rec, err := l.Reconcile(ctx, "PLB-1", counted, "t01", t0.Add(2*time.Hour))
	must(t, err)
	if len(rec.TopUps) != 1 || rec.TopUps[0].Amount != t500 || rec.TopUps[0].Phone != phone || !rec.TopUps[0].Reconciled {
		t.Errorf("follow-ups %+v, want one of 500 ₸ to %s", rec.TopUps, phone)
	}
	if len(rec.Unmatched) != 1 || !strings.Contains(rec.Unmatched[0], "2 000 ₸: 1 of 2 uncertain bills") {
		t.Errorf("unmatched %q, want the 2 000 ₸ bills reported, not guessed", rec.Unmatched)
	}
	if got := billState(t, l, "b/1"); got != kiosk.BillUncertain {
		t.Errorf("b/1 is %s: a bill that needs a guess must stay uncertain", got)
	}

	// The count centre's recount later: both 2000s are there.
	counted, err = kiosk.ParseBillCounts("500:1,1000:1,2000:2")
	must(t, err)
	rec, err = l.Reconcile(ctx, "last", counted, "t01", t0.Add(3*time.Hour))
	must(t, err)
	if len(rec.TopUps) != 2 || len(rec.Unmatched) != 0 {
		t.Fatalf("recount: %+v", rec)
	}
	for _, id := range []string{"b/1", "c/1"} {
		if got := billState(t, l, id); got != kiosk.BillStacked {
			t.Errorf("%s is %s after the recount, want stacked", id, got)
		}
	}
	rv, err := l.ReviewList(ctx)
	must(t, err)
	if len(rv.Bills) != 0 {
		t.Errorf("review list still holds %d bill(s)", len(rv.Bills))
	}

	// A short count is reported, and settles nothing.
	counted, _ = kiosk.ParseBillCounts("1000:0")
	rec, err = l.Reconcile(ctx, "last", counted, "t01", t0.Add(4*time.Hour))
	must(t, err)
	if len(rec.Unmatched) == 0 || !strings.Contains(strings.Join(rec.Unmatched, ";"), "short") {
		t.Errorf("a short count was not reported: %+v", rec.Unmatched)
	}
	if _, err := kiosk.ParseBillCounts("1000"); err == nil {
		t.Error("ParseCount took a value without a count")
	}
}

// A Raspberry Pi boots without a real-time clock: a top-up recovered then
// must not be completed before it was created, nor before the previous
// receipt, or the bank refuses it (422).
func TestCompletionNeverBeforeCreationOrPreviousReceipt(t *testing.T) {
	l := ledgertest.MustOpen(t)
	ctx := ctxT(t)
	openSession(t, l, "a")
	stack(t, l, "a", 1, kiosk.Tenge(1000))
	first, err := l.CompleteTopUp(ctx, "a", t0.Add(time.Hour))
	must(t, err)
	must(t, l.OpenSession(ctx, kiosk.Session{ID: "b", Phone: phone, OpenedAt: t0.Add(2 * time.Hour)}))
	stack(t, l, "b", 1, kiosk.Tenge(500))
	// The clock booted a day behind.
	rep, err := l.Recover(ctx, nil, t0.Add(-24*time.Hour))
	must(t, err)
	if len(rep.TopUps) != 1 {
		t.Fatalf("recovery: %+v", rep)
	}
	got := rep.TopUps[0]
	if got.CompletedAt.Before(got.CreatedAt) || got.CompletedAt.Before(first.CompletedAt) {
		t.Errorf("recovered top-up completed %v, created %v, previous receipt completed %v",
			got.CompletedAt, got.CreatedAt, first.CompletedAt)
	}
}

// Top-ups the bank refused for a completion before their creation were never
// stored by it: at the next start they go back to the queue with the time
// corrected and the same id, and no other body in review is touched.
func TestClockRefusedTopUpsAreSentAgain(t *testing.T) {
	path := filepath.Join(t.TempDir(), "ledger.db")
	l := ledgertest.MustOpenPath(t, path, ledger.Options{})
	ctx := ctxT(t)
	var ids []string
	for i, s := range []string{"a", "b"} {
		must(t, l.OpenSession(ctx, kiosk.Session{ID: s, Phone: phone, OpenedAt: t0.Add(time.Duration(i) * time.Hour)}))
		stack(t, l, s, 1, kiosk.Tenge(1000))
		tu, err := l.CompleteTopUp(ctx, s, t0.Add(time.Duration(i)*time.Hour+time.Minute))
		must(t, err)
		ids = append(ids, tu.ID)
		if _, err := l.SetBody(ctx, tu.ID, []byte(`{"id":"`+tu.ID+`"}`)); err != nil {
			t.Fatal(err)
		}
		note := "POST /v1/topups: bank answered 422 invalid (completed_at before created_at)"
		if s == "b" {
			note = "POST /v1/topups: bank answered 409 idempotency_conflict"
		}
		must(t, l.UpdateSync(ctx, tu.ID, kiosk.SyncReview, note, time.Time{}, t0.Add(3*time.Hour)))
	}
	must(t, l.Close())
	// What an older release wrote: a completion before the creation.
	db, err := sql.Open("sqlite", path)
	must(t, err)
	if _, err := db.Exec(`UPDATE topups SET completed_at = '2000-01-01T00:00:00.000000000Z'`); err != nil {
		t.Fatal(err)
	}
	must(t, db.Close())

	l = ledgertest.MustOpenPath(t, path, ledger.Options{})
	a, _, err := l.TopUpByID(ctx, ids[0])
	must(t, err)
	if a.Sync != kiosk.SyncUnsent || a.CompletedAt.Before(a.CreatedAt) {
		t.Errorf("refused top-up is %s, completed %v, created %v: want unsent with a plausible time", a.Sync, a.CompletedAt, a.CreatedAt)
	}
	if body, err := l.Body(ctx, ids[0]); err != nil || body != nil {
		t.Errorf("body %q, %v: want it rebuilt from the corrected row", body, err)
	}
	b, _, err := l.TopUpByID(ctx, ids[1])
	must(t, err)
	if b.Sync != kiosk.SyncReview {
		t.Errorf("a top-up in review for another reason became %s", b.Sync)
	}
}
