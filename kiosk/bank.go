package kiosk

import (
	"context"
	"errors"
)

// Wallet is the bank's answer to a wallet lookup.
type Wallet struct {
	Found bool
	// Name is the recipient's masked name as the bank sent it ("Нурлан К.").
	Name string
}

// WalletLookup asks the bank whose wallet a number is. The flow gives it 5 s;
// any error (unreachable, 5xx, 429, timeout) sends the customer down the
// offline path of double entry.
type WalletLookup interface {
	LookupWallet(ctx context.Context, phone Phone) (Wallet, error)
}

// ErrBankUnavailable wraps every failure to reach the bank.
var ErrBankUnavailable = errors.New("bank unavailable")

// Display shows a screen. Implementations map Unicode to what the hardware can
// draw; Show must not block the flow for long.
type Display interface {
	Show(s Screen) error
}

// Indicator is the bezel LED that lights while cash may go in.
type Indicator interface {
	SetCashLight(on bool) error
}
