package banksim_test

import (
	"context"
	"errors"
	"net/http"
	"testing"
	"time"

	"tolem/kiosk"
	"tolem/sync/bankapi"
	"tolem/sync/bankapi/banksim"
)

func client(t *testing.T, url string) *bankapi.Client {
	t.Helper()
	c, err := bankapi.New(bankapi.Options{BaseURL: url, TerminalID: terminal, Secret: []byte(secret)})
	if err != nil {
		t.Fatal(err)
	}
	return c
}

// The sandbox serves the catalog of SPEC §2, looks utility accounts up with
// their debt, and takes a service's top-up or refuses an unknown service.
func TestSandboxServices(t *testing.T) {
	s, ts := newServer(t, banksim.Options{})
	c := client(t, ts.URL)
	ctx := context.Background()

	raw, err := c.Services(ctx)
	if err != nil {
		t.Fatal(err)
	}
	cat, err := kiosk.ParseCatalog(raw)
	if err != nil {
		t.Fatalf("the sandbox's catalog is refused: %v", err)
	}
	kinds := map[kiosk.ServiceKind]bool{}
	for _, svc := range cat.Services {
		kinds[svc.Kind] = true
	}
	if len(kinds) != 4 {
		t.Errorf("catalog kinds %v, want wallet, mobile, utility and loan", kinds)
	}

	a, err := c.LookupAccount(ctx, "alseco", "123456789")
	if err != nil || !a.Found || a.Holder == "" || a.Address == "" || !a.HasDebt || a.Debt != kiosk.Tenge(12345) {
		t.Errorf("alseco 123456789 = %+v, %v; want holder, address and a debt of 12 345 ₸", a, err)
	}
	if a, err := c.LookupAccount(ctx, "alseco", "111111"); err != nil || a.Found {
		t.Errorf("unknown account = %+v, %v; want not found", a, err)
	}
	if _, err := c.LookupAccount(ctx, "nope", "111111"); err == nil || errors.Is(err, kiosk.ErrBankUnavailable) {
		t.Errorf("unknown service lookup: %v; want a refusal that is not the bank out of reach", err)
	}

	at := time.Date(2026, 12, 4, 9, 0, 0, 0, time.UTC)
	util := kiosk.TopUp{ID: newUUID(t), ReceiptNo: 1, Service: "alseco", Account: "123456789", Amount: kiosk.Tenge(20000),
		Bills: []kiosk.BillCount{{Value: kiosk.Tenge(20000), Count: 1}}, CreatedAt: at, CompletedAt: at}
	b, _ := bankapi.BodyFromTopUp(util).Marshal()
	res, err := c.SubmitTopUp(ctx, util.ID, b)
	if err != nil || res.Code != http.StatusCreated {
		t.Fatalf("utility top-up: %+v, %v", res, err)
	}
	bad := util
	bad.ID, bad.ReceiptNo, bad.Service = newUUID(t), 2, "nope"
	b, _ = bankapi.BodyFromTopUp(bad).Marshal()
	_, err = c.SubmitTopUp(ctx, bad.ID, b)
	var he *bankapi.HTTPError
	if !errors.As(err, &he) || he.ErrorCode != banksim.CodeUnknownService {
		t.Errorf("unknown service top-up: %v, want 422 unknown_service", err)
	}
	list, err := s.TopUps()
	if err != nil {
		t.Fatal(err)
	}
	if len(list) != 1 || list[0].Service != "alseco" || list[0].Account != "123456789" || list[0].Amount != kiosk.Tenge(20000) {
		t.Errorf("bank holds %+v, want the utility payment on account 123456789", list)
	}
}
