package main

import (
	"bytes"
	"context"
	"log/slog"
	"net/http/httptest"
	"strings"
	"testing"
	"time"

	"tolem/kiosk"
	"tolem/kiosk/ledger/ledgertest"
	"tolem/sync/bankapi"
	"tolem/sync/bankapi/banksim"
)

func sandbox(t *testing.T) (*banksim.Server, *bankapi.Client) {
	t.Helper()
	srv, err := banksim.New(banksim.Options{Terminals: map[string][]byte{"T1": []byte("s")},
		Wallets: map[kiosk.Phone]string{"+77011234567": "Нурлан К."}})
	if err != nil {
		t.Fatal(err)
	}
	ts := httptest.NewServer(srv.Handler())
	t.Cleanup(func() { ts.Close(); srv.Close() })
	c, err := bankapi.New(bankapi.Options{BaseURL: ts.URL, TerminalID: "T1", Secret: []byte("s")})
	if err != nil {
		t.Fatal(err)
	}
	return srv, c
}

// A good catalog is taken and kept; a broken one, or none at all, leaves
// the last good one in place.
func TestCatalogHolderKeepsTheLastGoodOne(t *testing.T) {
	srv, c := sandbox(t)
	l := ledgertest.MustOpen(t)
	ctx := context.Background()
	var logs bytes.Buffer
	log := slog.New(slog.NewTextHandler(&logs, nil))

	h := newCatalogHolder(ctx, l, c, log)
	if got := h.Get(); len(got.Services) != 1 || !got.Services[0].IsWallet() {
		t.Fatalf("before any catalog: %+v, want the wallet only", got)
	}
	if err := h.refresh(ctx); err != nil {
		t.Fatal(err)
	}
	if h.Get().Version != "2026-12-01.1" || len(h.Get().Services) != 4 {
		t.Fatalf("after the bank's: %+v", h.Get())
	}

	srv.SetServices([]byte(`{"version":"bad","services":[{"id":"x","kind":"mobile","name":{"ru":"X"},"account":{"kind":"iban"}}]}`))
	if err := h.refresh(ctx); err == nil {
		t.Fatal("a broken catalog was taken")
	}
	if h.Get().Version != "2026-12-01.1" || !strings.Contains(logs.String(), "catalog from the bank refused") {
		t.Errorf("after a broken catalog: version %q; log %s", h.Get().Version, logs.String())
	}

	// A new holder, as after a restart, starts from the ledger's.
	again := newCatalogHolder(ctx, l, c, log)
	if again.Get().Version != "2026-12-01.1" {
		t.Errorf("after a restart: version %q, want the kept 2026-12-01.1", again.Get().Version)
	}
}

// receipt_status reads the ledger and, for a pending payment, the bank.
func TestReceiptSourceAsksTheBankAboutAPendingPayment(t *testing.T) {
	_, c := sandbox(t)
	l := ledgertest.MustOpen(t)
	ctx := context.Background()
	if err := l.OpenSession(ctx, kiosk.Session{ID: "s", Service: "alseco", Account: "123456789"}); err != nil {
		t.Fatal(err)
	}
	if err := l.RecordEscrow(ctx, kiosk.BillRecord{SessionID: "s", Seq: 1, Value: kiosk.Tenge(5000)}); err != nil {
		t.Fatal(err)
	}
	if err := l.MarkStacked(ctx, kiosk.BillID("s", 1), time.Now()); err != nil {
		t.Fatal(err)
	}
	tu, err := l.CompleteTopUp(ctx, "s", time.Now())
	if err != nil {
		t.Fatal(err)
	}
	src := receiptSource{ledger: l, bank: c, timeout: 5 * time.Second, log: slog.New(slog.DiscardHandler)}

	ri, err := src.ReceiptStatus(ctx, tu.ReceiptNo)
	if err != nil || ri.State != kiosk.ReceiptPending || ri.Payee != "***6789" || ri.Service != "alseco" {
		t.Fatalf("unsent payment: %+v, %v; want pending, ***6789, alseco", ri, err)
	}
	// The bank took and credited it; the ledger still says pending.
	body, _ := bankapi.BodyFromTopUp(tu).Marshal()
	if _, err := c.SubmitTopUp(ctx, tu.ID, body); err != nil {
		t.Fatal(err)
	}
	if err := l.UpdateSync(ctx, tu.ID, kiosk.SyncPending, "", time.Time{}, time.Now()); err != nil {
		t.Fatal(err)
	}
	if ri, err := src.ReceiptStatus(ctx, tu.ReceiptNo); err != nil || ri.State != kiosk.ReceiptCredited {
		t.Errorf("pending in the ledger, credited at the bank: %+v, %v; want credited", ri, err)
	}
	if _, err := src.ReceiptStatus(ctx, 99); err == nil {
		t.Error("an unknown receipt was found")
	}
}
