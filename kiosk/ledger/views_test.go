package ledger_test

import (
	"testing"
	"time"

	"tolem/kiosk"
	"tolem/kiosk/ledger/ledgertest"
)

// After a power cut with no report from the acceptor, the session's stacked
// bills become a recovered top-up and its escrowed bill is uncertain: both
// views show them, with the receipt number.
func TestRecoveredAndUncertainViews(t *testing.T) {
	l := ledgertest.MustOpen(t)
	ctx := ctxT(t)
	topUpWith(t, l, "before", kiosk.Tenge(500))
	openSession(t, l, "cut")
	stack(t, l, "cut", 1, kiosk.Tenge(1000))
	escrow(t, l, "cut", 2, kiosk.Tenge(5000))
	_, err := l.Recover(ctx, nil, t0.Add(time.Hour))
	must(t, err)

	rec, err := l.RecoveredTopUps(ctx, 5)
	must(t, err)
	if len(rec) != 1 || rec[0].ReceiptNo != 2 || rec[0].Amount != kiosk.Tenge(1000) || !rec[0].Recovered {
		t.Fatalf("recovered top-ups %+v, want receipt 2 of 1 000 ₸", rec)
	}
	us, err := l.UncertainSessions(ctx)
	must(t, err)
	if len(us) != 1 || us[0].SessionID != "cut" || us[0].Phone != phone || us[0].TopUp == nil || us[0].TopUp.ReceiptNo != 2 ||
		len(us[0].Uncertain) != 1 || us[0].Uncertain[0].Value != kiosk.Tenge(5000) || !us[0].OpenedAt.Equal(t0) {
		t.Fatalf("uncertain sessions %+v, want session cut with receipt 2 and the 5 000 ₸ bill", us)
	}
}
