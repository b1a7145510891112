package main

import (
	"context"

	"tolem/kiosk"
	"tolem/kiosk/console"
)

// The console's `verify` (and kioskctl verify) walks the ledger's hash chain.
var _ console.Verifier = (*consoleBackend)(nil)

func (b *consoleBackend) VerifyChain(ctx context.Context) (kiosk.ChainReport, error) {
	l, err := b.led()
	if err != nil {
		return kiosk.ChainReport{}, err
	}
	return l.VerifyChain(ctx)
}
