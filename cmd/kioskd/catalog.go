package main

import (
	"context"
	"errors"
	"fmt"
	"log/slog"
	"sync/atomic"
	"time"

	"tolem/kiosk"
	"tolem/kiosk/ledger"
	"tolem/sync/bankapi"
)

// The catalog of services (SPEC §2 GET /v1/services): fetched at start and
// hourly, kept in the ledger so that a kiosk that starts without the bank
// still shows the menu.
const (
	catalogEvery = time.Hour
	// catalogRetry is how soon a kiosk that has no catalog from the bank
	// yet asks again.
	catalogRetry = time.Minute
)

// envSimServices, read by `kioskd --sim` only, is the catalog the sandbox
// serves instead of its own (raw JSON, served even when the kiosk must
// refuse it).
const envSimServices = "TOLEM_SIM_SERVICES"

// catalogHolder is the catalog the flow shows now.
type catalogHolder struct {
	cur    atomic.Pointer[kiosk.Catalog]
	ledger *ledger.Ledger // nil when the ledger is unusable
	bank   interface {
		Services(ctx context.Context) ([]byte, error)
	}
	log *slog.Logger
}

func newCatalogHolder(ctx context.Context, l *ledger.Ledger, bank *bankapi.Client, log *slog.Logger) *catalogHolder {
	h := &catalogHolder{ledger: l, bank: bank, log: log.With("component", "catalog")}
	c := kiosk.DefaultCatalog()
	if l != nil {
		kept, err := l.Catalog(ctx)
		switch {
		case err == nil:
			c = kept
			h.log.Info("catalog from the ledger", "version", kept.Version, "services", len(kept.Services),
				"fetched_at", kept.FetchedAt)
		case errors.Is(err, kiosk.ErrNotFound):
			h.log.Info("no catalog kept yet; the menu shows the wallet only until the bank sends one")
		default:
			h.log.Error("kept catalog unreadable; the menu shows the wallet only until the bank sends one", "err", err)
		}
	}
	h.cur.Store(&c)
	return h
}

// Get is the catalog now.
func (h *catalogHolder) Get() kiosk.Catalog { return *h.cur.Load() }

// refresh fetches the catalog once. A catalog the kiosk cannot use is
// refused whole and the last good one stays.
func (h *catalogHolder) refresh(ctx context.Context) error {
	body, err := h.bank.Services(ctx)
	if err != nil {
		return fmt.Errorf("fetch catalog: %w", err)
	}
	c, err := kiosk.ParseCatalog(body)
	if err != nil {
		old := h.Get()
		h.log.Error("catalog from the bank refused; keeping the last good one (tell the bank: its GET /v1/services is not usable)",
			"err", err, "kept_version", old.Version)
		return err
	}
	c.FetchedAt = time.Now().UTC()
	if old := h.Get(); old.Version == c.Version && !old.FetchedAt.IsZero() {
		return nil
	}
	if h.ledger != nil {
		if err := h.ledger.SaveCatalog(ctx, c.Version, body, c.FetchedAt); err != nil {
			// Shown now all the same: only a restart without the bank
			// would miss it.
			h.log.Warn("catalog not kept in the ledger", "version", c.Version, "err", err)
		}
	}
	h.cur.Store(&c)
	h.log.Info("catalog updated", "version", c.Version, "services", len(c.Services))
	return nil
}

// run refreshes the catalog at start, then hourly (every minute while the
// bank has never answered with a good one since start).
func (h *catalogHolder) run(ctx context.Context) {
	for {
		wait := catalogEvery
		if err := h.refresh(ctx); err != nil {
			if ctx.Err() != nil {
				return
			}
			h.log.Warn("catalog not refreshed; trying again later", "err", err, "kept_version", h.Get().Version)
			if h.Get().FetchedAt.IsZero() {
				wait = catalogRetry
			}
		}
		t := time.NewTimer(wait)
		select {
		case <-ctx.Done():
			t.Stop()
			return
		case <-t.C:
		}
	}
}

// receiptSource answers receipt_status from the ledger, and asks the bank
// about a payment not yet credited when it answers within timeout.
type receiptSource struct {
	ledger  *ledger.Ledger
	bank    *bankapi.Client
	timeout time.Duration
	log     *slog.Logger
}

func (r receiptSource) ReceiptStatus(ctx context.Context, n int64) (kiosk.ReceiptInfo, error) {
	if r.ledger == nil {
		return kiosk.ReceiptInfo{}, fmt.Errorf("receipt %d: ledger unusable: %w", n, kiosk.ErrNotFound)
	}
	t, _, err := r.ledger.TopUpByReceipt(ctx, n)
	if err != nil {
		return kiosk.ReceiptInfo{}, err
	}
	ri := kiosk.ReceiptInfo{ReceiptNo: t.ReceiptNo, CompletedAt: t.CompletedAt, Amount: t.Amount,
		Service: t.Service, Payee: kiosk.MaskAccount(t.Payee()), State: receiptState(t.Sync)}
	if ri.State != kiosk.ReceiptPending || t.Sync == kiosk.SyncUnsent || r.bank == nil {
		return ri, nil
	}
	qctx, cancel := context.WithTimeout(ctx, r.timeout)
	defer cancel()
	st, err := r.bank.TopUpStatus(qctx, t.ID)
	if err != nil {
		r.log.Info("receipt status: the bank did not say; showing the ledger's", "receipt", n, "err", err)
		return ri, nil
	}
	switch st.Status {
	case bankapi.StatusCredited:
		ri.State = kiosk.ReceiptCredited
	case bankapi.StatusRejected:
		ri.State = kiosk.ReceiptRejected
	}
	return ri, nil
}

func receiptState(s kiosk.SyncState) kiosk.ReceiptState {
	switch s {
	case kiosk.SyncCredited:
		return kiosk.ReceiptCredited
	case kiosk.SyncRejected:
		return kiosk.ReceiptRejected
	}
	return kiosk.ReceiptPending
}
