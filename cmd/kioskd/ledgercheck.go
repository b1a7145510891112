package main

import (
	"context"
	"errors"
	"log/slog"

	"tolem/kiosk/ledger"
)

// conditionLedgerDamaged keeps the kiosk out of service once the background
// check found the ledger damaged, until a technician has replaced the card
// and restarted kioskd.
const conditionLedgerDamaged = "ledger_damaged"

// checkLedger runs the ledger's background quick_check. Damage takes the
// kiosk out of service at once: no further bill is taken on a ledger known
// to be damaged; a customer inserting cash has the session completed, as on
// an acceptor fault, so that the cash already taken is on a receipt. The
// status shows the condition, the heartbeat carries the alarm and
// tolem_ledger_ok drops to 0 (ledger.Damaged).
func checkLedger(ctx context.Context, check func(context.Context) error, setCondition func(string, bool), log *slog.Logger) {
	err := check(ctx)
	switch {
	case err == nil:
		log.Info("ledger quick_check ok")
	case errors.Is(err, ledger.ErrCorrupt):
		setCondition(conditionLedgerDamaged, true)
		log.Error("ledger damaged: the kiosk is out of service; keep a copy of the data directory, then replace the card", "err", err)
	case ctx.Err() == nil:
		// Not damage (a read failed, or the disk is gone): the money path's
		// own writes say so if it matters; the check is not retried.
		log.Warn("ledger quick_check could not run; run kioskctl verify --integrity", "err", err)
	}
}
