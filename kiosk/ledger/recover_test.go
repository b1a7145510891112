package ledger_test

import (
	"reflect"
	"testing"
	"time"

	"tolem/kiosk"
	"tolem/kiosk/ledger"
	"tolem/kiosk/ledger/ledgertest"
)

func TestRecover(t *testing.T) {
	t1000, t500, t2000 := kiosk.Tenge(1000), kiosk.Tenge(500), kiosk.Tenge(2000)
	type bill struct {
		value   kiosk.Money
		stacked bool // else left escrowed, as the power cut found it
		taken   bool // the acceptor took the STACK command for it
	}
	tests := []struct {
		name     string
		sessions map[string][]bill
		report   *kiosk.PowerUpReport
		want     kiosk.RecoveryReport // TopUps compared by amount only
		amounts  []kiosk.Money        // of the recovered top-ups, by session
		states   map[string]kiosk.BillState
		cassette kiosk.Money // what the current period holds afterwards
	}{
		{
			name:     "bill in the stacker joins its session",
			sessions: map[string][]bill{"a": {{t1000, true, true}, {t500, false, false}}},
			report:   &kiosk.PowerUpReport{BillAt: kiosk.BillInStacker, Value: t500},
			want:     kiosk.RecoveryReport{Stacked: 1},
			amounts:  []kiosk.Money{kiosk.Tenge(1500)},
			states:   map[string]kiosk.BillState{"a/1": kiosk.BillStacked, "a/2": kiosk.BillStacked},
			cassette: kiosk.Tenge(1500),
		},
		{
			name:     "only the newest escrowed bill can be in the stacker",
			sessions: map[string][]bill{"a": {{t1000, false, false}, {t500, false, false}}},
			report:   &kiosk.PowerUpReport{BillAt: kiosk.BillInStacker},
			want:     kiosk.RecoveryReport{Stacked: 1, Uncertain: 1},
			amounts:  []kiosk.Money{t500},
			states:   map[string]kiosk.BillState{"a/1": kiosk.BillUncertain, "a/2": kiosk.BillStacked},
			cassette: t500,
		},
		{
			name:     "stacker holds another value than recorded",
			sessions: map[string][]bill{"a": {{t1000, false, false}}},
			report:   &kiosk.PowerUpReport{BillAt: kiosk.BillInStacker, Value: t2000},
			want:     kiosk.RecoveryReport{Uncertain: 1, Suspense: 1, Emptied: 1},
			states:   map[string]kiosk.BillState{"a/1": kiosk.BillUncertain},
			cassette: t2000,
		},
		{
			name:     "bill in the validator goes back",
			sessions: map[string][]bill{"a": {{t1000, true, true}, {t500, false, false}}},
			report:   &kiosk.PowerUpReport{BillAt: kiosk.BillInValidator, Value: t500},
			want:     kiosk.RecoveryReport{Returned: 1},
			amounts:  []kiosk.Money{t1000},
			states:   map[string]kiosk.BillState{"a/1": kiosk.BillStacked, "a/2": kiosk.BillReturned},
			cassette: t1000,
		},
		{
			// CCNET reports nothing for a bill that finished stacking before
			// the kiosk recorded it: nowhere is not proof it went back.
			name:     "no bill anywhere, STACK never taken: uncertain, never returned",
			sessions: map[string][]bill{"a": {{t500, false, false}}},
			report:   &kiosk.PowerUpReport{BillAt: kiosk.BillNowhere},
			want:     kiosk.RecoveryReport{Uncertain: 1, Emptied: 1},
			states:   map[string]kiosk.BillState{"a/1": kiosk.BillUncertain},
		},
		{
			name:     "no bill anywhere after the acceptor took STACK: it is in the cassette",
			sessions: map[string][]bill{"a": {{t1000, true, true}, {t500, false, true}}},
			report:   &kiosk.PowerUpReport{BillAt: kiosk.BillNowhere},
			want:     kiosk.RecoveryReport{Stacked: 1},
			amounts:  []kiosk.Money{kiosk.Tenge(1500)},
			states:   map[string]kiosk.BillState{"a/2": kiosk.BillStacked},
			cassette: kiosk.Tenge(1500),
		},
		{
			// A daemon killed mid-stack leaves the unit enabled: the next
			// note waits in escrow when the new daemon connects.
			name:     "another bill in the validator: the newest, STACK taken, is stacked",
			sessions: map[string][]bill{"a": {{t1000, false, true}}},
			report:   &kiosk.PowerUpReport{BillAt: kiosk.BillInValidator, Value: t2000},
			want:     kiosk.RecoveryReport{Stacked: 1},
			amounts:  []kiosk.Money{t1000},
			states:   map[string]kiosk.BillState{"a/1": kiosk.BillStacked},
			cassette: t1000,
		},
		{
			// The power went as the next note was drawn in behind a bill
			// that had stacked: the head's bill may be either.
			name:     "a bill in the validator after STACK was taken: uncertain, never returned",
			sessions: map[string][]bill{"a": {{t1000, false, true}}},
			report:   &kiosk.PowerUpReport{BillAt: kiosk.BillInValidator},
			want:     kiosk.RecoveryReport{Uncertain: 1, Emptied: 1},
			states:   map[string]kiosk.BillState{"a/1": kiosk.BillUncertain},
		},
		{
			name:     "an older bill the acceptor took STACK for left the device stacked",
			sessions: map[string][]bill{"a": {{t1000, false, true}, {t500, false, false}}},
			report:   &kiosk.PowerUpReport{BillAt: kiosk.BillInValidator, Value: t500},
			want:     kiosk.RecoveryReport{Stacked: 1, Returned: 1},
			amounts:  []kiosk.Money{t1000},
			states:   map[string]kiosk.BillState{"a/1": kiosk.BillStacked, "a/2": kiosk.BillReturned},
			cassette: t1000,
		},
		{
			name:     "acceptor never reported: escrowed bill uncertain, not counted",
			sessions: map[string][]bill{"a": {{t1000, true, true}, {t500, false, false}}},
			report:   nil,
			want:     kiosk.RecoveryReport{Uncertain: 1},
			amounts:  []kiosk.Money{t1000},
			states:   map[string]kiosk.BillState{"a/1": kiosk.BillStacked, "a/2": kiosk.BillUncertain},
			cassette: t1000,
		},
		{
			name:     "bill in the stacker that no session owns goes to suspense",
			sessions: map[string][]bill{},
			report:   &kiosk.PowerUpReport{BillAt: kiosk.BillInStacker, Value: t2000},
			want:     kiosk.RecoveryReport{Suspense: 1},
			cassette: t2000,
		},
		{
			name:     "stacked-only session completes, stacker bill is suspense",
			sessions: map[string][]bill{"a": {{t1000, true, true}, {t2000, true, true}}},
			report:   &kiosk.PowerUpReport{BillAt: kiosk.BillInStacker, Value: t500},
			want:     kiosk.RecoveryReport{Suspense: 1},
			amounts:  []kiosk.Money{kiosk.Tenge(3000)},
			cassette: kiosk.Tenge(3500),
		},
		{
			name:     "empty session is closed",
			sessions: map[string][]bill{"a": nil},
			report:   nil,
			want:     kiosk.RecoveryReport{Emptied: 1},
		},
		{
			name:     "two sessions, receipts in the order they opened",
			sessions: map[string][]bill{"a": {{t1000, true, true}}, "b": {{t2000, true, true}, {t500, false, false}}},
			report:   &kiosk.PowerUpReport{BillAt: kiosk.BillNowhere},
			want:     kiosk.RecoveryReport{Uncertain: 1},
			amounts:  []kiosk.Money{t1000, t2000},
			cassette: kiosk.Tenge(3000),
		},
		{
			name:     "nothing to recover",
			sessions: map[string][]bill{},
			report:   &kiosk.PowerUpReport{BillAt: kiosk.BillNowhere},
		},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			l := ledgertest.MustOpen(t)
			ctx := ctxT(t)
			for _, s := range []string{"a", "b"} {
				bills, ok := tt.sessions[s]
				if !ok {
					continue
				}
				must(t, l.OpenSession(ctx, kiosk.Session{ID: s, Phone: phone, OpenedAt: t0.Add(time.Duration(len(s)) * time.Minute)}))
				for i, b := range bills {
					id := escrow(t, l, s, i+1, b.value)
					if b.taken {
						must(t, l.MarkStacking(ctx, id, t0))
					}
					if b.stacked {
						must(t, l.MarkStacked(ctx, id, t0))
					}
				}
			}
			pending, err := l.PendingRecovery(ctx)
			must(t, err)
			if pending != (len(tt.sessions) > 0) {
				t.Fatalf("pending recovery %v with %d open sessions", pending, len(tt.sessions))
			}

			at := t0.Add(time.Hour)
			rep, err := l.Recover(ctx, tt.report, at)
			must(t, err)
			var amounts []kiosk.Money
			for _, tu := range rep.TopUps {
				if !tu.Recovered || !tu.CompletedAt.Equal(at) || tu.Sync != kiosk.SyncUnsent {
					t.Errorf("recovered top-up %+v", tu)
				}
				amounts = append(amounts, tu.Amount)
			}
			rep.TopUps = nil
			if !reflect.DeepEqual(rep, tt.want) || !reflect.DeepEqual(amounts, tt.amounts) {
				t.Fatalf("report %+v with top-ups %v, want %+v with %v", rep, amounts, tt.want, tt.amounts)
			}
			for id, want := range tt.states {
				if got := billState(t, l, id); got != want {
					t.Errorf("bill %s is %s, want %s", id, got, want)
				}
			}
			if pending, _ := l.PendingRecovery(ctx); pending {
				t.Fatal("a session is still open after recovery")
			}
			p, err := l.CurrentPeriod(ctx)
			must(t, err)
			if p.Amount != tt.cassette || p.Suspense != tt.want.Suspense || p.Uncertain != tt.want.Uncertain {
				t.Fatalf("cassette %+v, want amount %v, suspense %d, uncertain %d", p, tt.cassette, tt.want.Suspense, tt.want.Uncertain)
			}
			review, err := l.ReviewList(ctx)
			must(t, err)
			if len(review.Bills) != tt.want.Uncertain+tt.want.Suspense {
				t.Fatalf("review list %+v, want %d uncertain and %d suspense bills", review.Bills, tt.want.Uncertain, tt.want.Suspense)
			}
			queue, err := l.Queue(ctx)
			must(t, err)

			// Running it again, with the same report, changes nothing.
			again, err := l.Recover(ctx, tt.report, at)
			must(t, err)
			if !reflect.DeepEqual(again, kiosk.RecoveryReport{}) {
				t.Fatalf("second recovery did %+v", again)
			}
			p2, _ := l.CurrentPeriod(ctx)
			queue2, _ := l.Queue(ctx)
			review2, _ := l.ReviewList(ctx)
			if !reflect.DeepEqual(p2, p) || queue2 != queue || !reflect.DeepEqual(review2, review) {
				t.Fatalf("second recovery changed the ledger: %+v %+v %+v", p2, queue2, review2)
			}
			if n := len(tt.amounts); n > 0 {
				if _, _, err := l.TopUpByReceipt(ctx, int64(n)); err != nil {
					t.Fatalf("receipt %d: %v", n, err)
				}
				wantErr(t, errOf2(l.TopUpByReceipt(ctx, int64(n+1))), kiosk.ErrNotFound)
			}
		})
	}
}

func TestRecoverWritesAudit(t *testing.T) {
	l := ledgertest.MustOpen(t)
	ctx := ctxT(t)
	openSession(t, l, "a")
	stack(t, l, "a", 1, kiosk.Tenge(1000))
	_, err := l.Recover(ctx, nil, t0)
	must(t, err)
	tail, err := l.AuditTail(ctx, 10)
	must(t, err)
	if len(tail) != 1 || tail[0].Action != "recover" || tail[0].Actor != "system" {
		t.Fatalf("audit %+v, want one recover line", tail)
	}
}

func TestRecoveredSessionTakesNoMoreBills(t *testing.T) {
	l := ledgertest.MustOpen(t)
	ctx := ctxT(t)
	openSession(t, l, "a")
	late := escrow(t, l, "a", 1, kiosk.Tenge(1000))
	_, err := l.Recover(ctx, nil, t0)
	must(t, err)
	// The device's late word cannot bring money into a settled session.
	wantErr(t, l.MarkStacked(ctx, late, t0), ledger.ErrConflict)
	wantErr(t, l.MarkReturned(ctx, late, t0), ledger.ErrConflict)
	wantErr(t, l.RecordEscrow(ctx, kiosk.BillRecord{SessionID: "a", Seq: 2, Value: kiosk.Tenge(500)}), ledger.ErrConflict)
}
