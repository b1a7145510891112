package ledger_test

import (
	"path/filepath"
	"testing"
	"time"

	"tolem/kiosk"
	"tolem/kiosk/ledger"
	"tolem/kiosk/ledger/ledgertest"
)

// A utility payment keeps its service and account from the session to the
// top-up, across a reopen, and the chain covers them.
func TestServiceAndAccountReachTheTopUp(t *testing.T) {
	path := filepath.Join(t.TempDir(), "ledger.db")
	l := ledgertest.MustOpenPath(t, path, ledger.Options{})
	ctx := ctxT(t)
	must(t, l.OpenSession(ctx, kiosk.Session{ID: "s-util", Service: "alseco", Account: "123456789", OpenedAt: t0}))
	stack(t, l, "s-util", 1, kiosk.Tenge(5000))
	tu, err := l.CompleteTopUp(ctx, "s-util", t0.Add(time.Minute))
	must(t, err)
	if tu.Service != "alseco" || tu.Account != "123456789" || tu.Phone != "" {
		t.Fatalf("top-up = %+v, want alseco account 123456789 and no phone", tu)
	}
	wallet := topUpWith(t, l, "s-wallet", kiosk.Tenge(1000))
	if wallet.Service != "" || wallet.Account != "" {
		t.Errorf("wallet top-up carries service %q account %q", wallet.Service, wallet.Account)
	}
	must(t, l.Close())

	l = ledgertest.MustOpenPath(t, path, ledger.Options{})
	got, _, err := l.TopUpByReceipt(ctx, tu.ReceiptNo)
	must(t, err)
	if got.Service != "alseco" || got.Account != "123456789" {
		t.Errorf("after reopen = %+v", got)
	}
	rep, err := l.VerifyChain(ctx)
	must(t, err)
	if !rep.OK() {
		t.Fatalf("chain breaks: %+v", rep.Breaks)
	}
	// The chain holds the account: changing it behind the ledger's back shows.
	behindTheBack(t, path, `UPDATE topups SET account = '999999999' WHERE receipt_no = 1`)
	rep, err = l.VerifyChain(ctx)
	must(t, err)
	if rep.OK() {
		t.Error("an account changed behind the ledger's back went unnoticed")
	}
}

func TestOpenSessionNeedsAPayee(t *testing.T) {
	l := ledgertest.MustOpen(t)
	wantErr(t, l.OpenSession(ctxT(t), kiosk.Session{ID: "s", Service: "alseco"}), ledger.ErrInvalid)
	wantErr(t, l.OpenSession(ctxT(t), kiosk.Session{ID: "s", Account: "1234"}), ledger.ErrInvalid)
}

func TestCatalogKeptAcrossReopen(t *testing.T) {
	path := filepath.Join(t.TempDir(), "ledger.db")
	l := ledgertest.MustOpenPath(t, path, ledger.Options{})
	ctx := ctxT(t)
	if _, err := l.Catalog(ctx); err == nil {
		t.Fatal("a new ledger has a catalog")
	}
	body := []byte(`{"version":"v1","services":[{"id":"wallet","kind":"wallet","name":{"ru":"Кошелёк"},"account":{"kind":"phone"},"lookup":true,"offline":true}]}`)
	must(t, l.SaveCatalog(ctx, "v1", body, t0))
	must(t, l.Close())
	l = ledgertest.MustOpenPath(t, path, ledger.Options{})
	c, err := l.Catalog(ctx)
	must(t, err)
	if c.Version != "v1" || len(c.Services) != 1 || !c.FetchedAt.Equal(t0) {
		t.Errorf("kept catalog = %+v", c)
	}
}

// The collection report splits the cassette's money by service.
func TestPeriodTotalsByService(t *testing.T) {
	l := ledgertest.MustOpen(t)
	ctx := ctxT(t)
	topUpWith(t, l, "w1", kiosk.Tenge(1000), kiosk.Tenge(2000))
	must(t, l.OpenSession(ctx, kiosk.Session{ID: "u1", Service: "alseco", Account: "123456", OpenedAt: t0}))
	stack(t, l, "u1", 1, kiosk.Tenge(5000))
	_, err := l.CompleteTopUp(ctx, "u1", t0.Add(time.Minute))
	must(t, err)
	must(t, l.OpenSession(ctx, kiosk.Session{ID: "m1", Service: "beeline", Phone: "+77051234567", OpenedAt: t0}))
	stack(t, l, "m1", 1, kiosk.Tenge(500))
	p, err := l.CurrentPeriod(ctx)
	must(t, err)
	want := []kiosk.ServiceTotal{
		{Service: "alseco", TopUps: 1, Amount: kiosk.Tenge(5000)},
		{Service: "beeline", TopUps: 1, Amount: kiosk.Tenge(500)},
		{Service: "wallet", TopUps: 1, Amount: kiosk.Tenge(3000)},
	}
	if len(p.Services) != len(want) {
		t.Fatalf("services %+v, want %+v", p.Services, want)
	}
	for i := range want {
		if p.Services[i] != want[i] {
			t.Errorf("services[%d] = %+v, want %+v", i, p.Services[i], want[i])
		}
	}
}
