package ledger_test

import (
	"bytes"
	"database/sql"
	"path/filepath"
	"reflect"
	"testing"
	"time"

	"tolem/kiosk"
	"tolem/kiosk/ledger"
	"tolem/kiosk/ledger/ledgertest"
)

func receipts(ts []kiosk.TopUp) []int64 {
	out := []int64{}
	for _, t := range ts {
		out = append(out, t.ReceiptNo)
	}
	return out
}

func TestOutbox(t *testing.T) {
	l := ledgertest.MustOpen(t)
	ctx := ctxT(t)
	t1 := topUpWith(t, l, "s1", kiosk.Tenge(1000))
	t2 := topUpWith(t, l, "s2", kiosk.Tenge(2000))
	t3 := topUpWith(t, l, "s3", kiosk.Tenge(5000))
	now := t0.Add(time.Hour)

	due, err := l.DueTopUps(ctx, now, 0)
	must(t, err)
	if got := receipts(due); !reflect.DeepEqual(got, []int64{1, 2, 3}) {
		t.Fatalf("due %v, want receipts 1 2 3", got)
	}
	if !reflect.DeepEqual(due[0], t1) {
		t.Fatalf("due top-up %+v, want %+v", due[0], t1)
	}
	due, err = l.DueTopUps(ctx, now, 2)
	must(t, err)
	if got := receipts(due); !reflect.DeepEqual(got, []int64{1, 2}) {
		t.Fatalf("due with limit 2: %v", got)
	}

	// The body is stored once and every retry resends it byte for byte.
	b1, err := l.SetBody(ctx, t1.ID, []byte(`{"id":"first"}`))
	must(t, err)
	b2, err := l.SetBody(ctx, t1.ID, []byte(`{"id":"second"}`))
	must(t, err)
	stored, err := l.Body(ctx, t1.ID)
	must(t, err)
	if !bytes.Equal(b1, b2) || !bytes.Equal(stored, []byte(`{"id":"first"}`)) {
		t.Fatalf("bodies %q %q %q, want the first one throughout", b1, b2, stored)
	}
	if b, err := l.Body(ctx, t2.ID); err != nil || b != nil {
		t.Fatalf("body of an unsent top-up: %q, %v", b, err)
	}
	wantErr(t, errOf(l.SetBody(ctx, "nope", []byte("x"))), kiosk.ErrNotFound)
	wantErr(t, errOf(l.Body(ctx, "nope")), kiosk.ErrNotFound)

	// t1 accepted, crediting delayed: poll in a minute. t2: bank down, back off.
	must(t, l.UpdateSync(ctx, t1.ID, kiosk.SyncPending, "", now.Add(time.Minute), now))
	must(t, l.UpdateSync(ctx, t2.ID, kiosk.SyncUnsent, "bank: 503", now.Add(30*time.Second), now))
	must(t, l.UpdateSync(ctx, t3.ID, kiosk.SyncCredited, "", time.Time{}, now))
	due, err = l.DueTopUps(ctx, now, 0)
	must(t, err)
	if len(due) != 0 {
		t.Fatalf("due right after the attempts: %v", receipts(due))
	}
	due, err = l.DueTopUps(ctx, now.Add(time.Minute), 0)
	must(t, err)
	if got := receipts(due); !reflect.DeepEqual(got, []int64{1, 2}) {
		t.Fatalf("due a minute later: %v, want 1 2", got)
	}

	q, err := l.Queue(ctx)
	must(t, err)
	want := kiosk.QueueStats{Unsent: 1, UnsentAmount: kiosk.Tenge(2000), Pending: 1, OldestAt: t1.CompletedAt}
	if q != want {
		t.Fatalf("queue %+v, want %+v", q, want)
	}

	d, err := l.Delivery(ctx, t2.ID)
	must(t, err)
	if d.Attempts != 1 || d.Note != "bank: 503" || d.LastError != "bank: 503" || !d.NextAttemptAt.Equal(now.Add(30*time.Second)) || d.HasBody {
		t.Fatalf("delivery of t2 %+v", d)
	}
	must(t, l.UpdateSync(ctx, t2.ID, kiosk.SyncPending, "", now.Add(time.Minute), now.Add(time.Second)))
	d, err = l.Delivery(ctx, t2.ID)
	must(t, err)
	if d.Attempts != 2 || d.Note != "" || d.LastError != "bank: 503" {
		t.Fatalf("delivery of t2 after the second attempt %+v", d)
	}
	d, err = l.Delivery(ctx, t3.ID)
	must(t, err)
	if !d.CreditedAt.Equal(now) {
		t.Fatalf("credited at %v, want %v", d.CreditedAt, now)
	}

	// Credited is final.
	wantErr(t, l.UpdateSync(ctx, t3.ID, kiosk.SyncPending, "", time.Time{}, now), ledger.ErrConflict)
	must(t, l.UpdateSync(ctx, t3.ID, kiosk.SyncCredited, "", time.Time{}, now.Add(time.Hour)))
	d, _ = l.Delivery(ctx, t3.ID)
	if !d.CreditedAt.Equal(now) {
		t.Fatalf("credit time moved to %v", d.CreditedAt)
	}
	wantErr(t, l.UpdateSync(ctx, t3.ID, "lost", "", time.Time{}, now), ledger.ErrInvalid)
	wantErr(t, l.UpdateSync(ctx, "nope", kiosk.SyncPending, "", time.Time{}, now), kiosk.ErrNotFound)

	pending, err := l.TopUpsBySync(ctx, kiosk.SyncPending)
	must(t, err)
	all, err := l.TopUpsBySync(ctx)
	must(t, err)
	if !reflect.DeepEqual(receipts(pending), []int64{1, 2}) || !reflect.DeepEqual(receipts(all), []int64{1, 2, 3}) {
		t.Fatalf("pending %v, all %v", receipts(pending), receipts(all))
	}
	if pending[0].Sync != kiosk.SyncPending {
		t.Fatalf("top-up sync %s", pending[0].Sync)
	}
}

func TestReviewAndRetry(t *testing.T) {
	l := ledgertest.MustOpen(t)
	ctx := ctxT(t)
	t1 := topUpWith(t, l, "s1", kiosk.Tenge(1000))
	t2 := topUpWith(t, l, "s2", kiosk.Tenge(2000))
	t3 := topUpWith(t, l, "s3", kiosk.Tenge(5000))
	t4 := topUpWith(t, l, "s4", kiosk.Tenge(500))
	now := t0.Add(time.Hour)
	must(t, l.UpdateSync(ctx, t1.ID, kiosk.SyncReview, "idempotency_conflict", time.Time{}, now))
	must(t, l.UpdateSync(ctx, t2.ID, kiosk.SyncRejected, "wallet_not_found", time.Time{}, now))
	must(t, l.UpdateSync(ctx, t3.ID, kiosk.SyncUnsent, "timeout", now.Add(time.Hour), now))
	must(t, l.UpdateSync(ctx, t4.ID, kiosk.SyncPending, "", now.Add(time.Hour), now))

	rv, err := l.ReviewList(ctx)
	must(t, err)
	if len(rv.TopUps) != 2 || rv.TopUps[0].ID != t1.ID || rv.TopUps[0].Delivery.Note != "idempotency_conflict" ||
		rv.TopUps[1].Sync != kiosk.SyncRejected || rv.TopUps[1].Delivery.Note != "wallet_not_found" {
		t.Fatalf("review list %+v", rv.TopUps)
	}
	if q, _ := l.Queue(ctx); q.Review != 1 {
		t.Fatalf("queue counts %d in review, want 1", q.Review)
	}

	n, err := l.Retry(ctx, "", now)
	must(t, err)
	due, _ := l.DueTopUps(ctx, now, 0)
	if n != 2 || !reflect.DeepEqual(receipts(due), []int64{3, 4}) {
		t.Fatalf("retry all changed %d, due %v; want 2, receipts 3 4", n, receipts(due))
	}
	n, err = l.Retry(ctx, t1.ID, now)
	must(t, err)
	due, _ = l.DueTopUps(ctx, now, 0)
	if n != 1 || !reflect.DeepEqual(receipts(due), []int64{1, 3, 4}) {
		t.Fatalf("retry of a reviewed top-up: %d, due %v", n, receipts(due))
	}
	wantErr(t, errOf(l.Retry(ctx, t2.ID, now)), ledger.ErrConflict)
	wantErr(t, errOf(l.Retry(ctx, "nope", now)), kiosk.ErrNotFound)
}

func TestReceiptNumbersNeverReused(t *testing.T) {
	path := filepath.Join(t.TempDir(), "ledger.db")
	ctx := ctxT(t)
	l, err := ledger.Open(ctx, path, ledger.Options{})
	must(t, err)
	for i := 1; i <= 3; i++ {
		if tu := topUpWith(t, l, sid(i), kiosk.Tenge(1000)); tu.ReceiptNo != int64(i) {
			t.Fatalf("receipt %d, want %d", tu.ReceiptNo, i)
		}
	}
	must(t, l.Close())

	// Across a restart.
	l, err = ledger.Open(ctx, path, ledger.Options{})
	must(t, err)
	if tu := topUpWith(t, l, sid(4), kiosk.Tenge(1000)); tu.ReceiptNo != 4 {
		t.Fatalf("receipt after reopen %d, want 4", tu.ReceiptNo)
	}
	must(t, l.Close())

	// The ledger refuses to lose a top-up or to turn the counter back…
	db, err := sql.Open("sqlite", "file:"+path)
	must(t, err)
	for _, q := range []string{
		`DELETE FROM topups WHERE receipt_no = 4`,
		`UPDATE counters SET value = 1`,
		`DELETE FROM counters`,
	} {
		if _, err := db.Exec(q); err == nil {
			t.Errorf("%s: accepted", q)
		}
	}
	// …and even if the rows vanish, the number is not handed out again.
	_, err = db.Exec(`DROP TRIGGER topups_never_deleted; DELETE FROM topups WHERE receipt_no >= 3`)
	must(t, err)
	must(t, db.Close())
	l = ledgertest.MustOpenPath(t, path, ledger.Options{})
	if tu := topUpWith(t, l, sid(5), kiosk.Tenge(1000)); tu.ReceiptNo != 5 {
		t.Fatalf("receipt after rows vanished %d, want 5", tu.ReceiptNo)
	}
}

func TestAuditAndSettings(t *testing.T) {
	clock := &fakeClock{now: t0}
	path := filepath.Join(t.TempDir(), "ledger.db")
	l, err := ledger.Open(ctxT(t), path, ledger.Options{Clock: clock})
	must(t, err)
	ctx := ctxT(t)
	for i, a := range []string{"login", "status", "collect"} {
		must(t, l.Audit(ctx, kiosk.AuditEntry{At: t0.Add(time.Duration(i) * time.Second), Actor: "t01", Action: a, Detail: "+7701***4567"}))
	}
	must(t, l.Audit(ctx, kiosk.AuditEntry{Action: "start"}))
	wantErr(t, l.Audit(ctx, kiosk.AuditEntry{Actor: "t01"}), ledger.ErrInvalid)

	tail, err := l.AuditTail(ctx, 2)
	must(t, err)
	want := []kiosk.AuditEntry{
		{At: t0.Add(2 * time.Second), Actor: "t01", Action: "collect", Detail: "+7701***4567"},
		{At: t0, Actor: "system", Action: "start"},
	}
	if !reflect.DeepEqual(tail, want) {
		t.Fatalf("audit tail %+v, want %+v", tail, want)
	}
	if all, _ := l.AuditTail(ctx, 100); len(all) != 4 || all[0].Action != "login" {
		t.Fatalf("whole audit %+v", all)
	}

	if _, ok, err := l.Setting(ctx, "service.manual"); ok || err != nil {
		t.Fatalf("unset setting: %v %v", ok, err)
	}
	must(t, l.SetSetting(ctx, "service.manual", "on"))
	must(t, l.SetSetting(ctx, "console.locked_until", "2025-03-01T04:30:00Z"))
	must(t, l.SetSetting(ctx, "service.manual", "off"))
	must(t, l.Close())

	l = ledgertest.MustOpenPath(t, path, ledger.Options{Clock: clock})
	v, ok, err := l.Setting(ctx, "service.manual")
	if v != "off" || !ok || err != nil {
		t.Fatalf("setting after restart: %q %v %v", v, ok, err)
	}
	if tail, _ := l.AuditTail(ctx, 1); len(tail) != 1 || tail[0].Action != "start" {
		t.Fatalf("audit after restart %+v", tail)
	}
}
