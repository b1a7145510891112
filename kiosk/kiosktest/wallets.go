package kiosktest

import (
	"context"
	"fmt"
	"slices"
	"sync"

	"tolem/kiosk"
)

type walletAnswer struct {
	w   kiosk.Wallet
	err error
}

// FakeWallets is a kiosk.WalletLookup with canned answers. By default every
// number is found with the name "Нурлан К."; Answer and Default change that,
// Block makes lookups hang until their context ends (a bank that never
// answers).
type FakeWallets struct {
	mu      sync.Mutex
	def     walletAnswer
	byPhone map[kiosk.Phone]walletAnswer
	block   chan struct{}
	calls   []kiosk.Phone
}

// NewFakeWallets returns a lookup that finds every number.
func NewFakeWallets() *FakeWallets {
	return &FakeWallets{
		def:     walletAnswer{w: kiosk.Wallet{Found: true, Name: "Нурлан К."}},
		byPhone: map[kiosk.Phone]walletAnswer{},
	}
}

// Default sets the answer for numbers without their own.
func (f *FakeWallets) Default(w kiosk.Wallet, err error) {
	f.mu.Lock()
	defer f.mu.Unlock()
	f.def = walletAnswer{w, err}
}

// Answer sets the answer for one number.
func (f *FakeWallets) Answer(p kiosk.Phone, w kiosk.Wallet, err error) {
	f.mu.Lock()
	defer f.mu.Unlock()
	f.byPhone[p] = walletAnswer{w, err}
}

// Block makes every lookup from now on wait until its context ends or
// Release is called.
func (f *FakeWallets) Block() {
	f.mu.Lock()
	defer f.mu.Unlock()
	if f.block == nil {
		f.block = make(chan struct{})
	}
}

// Release lets the blocked lookups answer, and later ones answer at once.
func (f *FakeWallets) Release() {
	f.mu.Lock()
	defer f.mu.Unlock()
	if f.block != nil {
		close(f.block)
		f.block = nil
	}
}

// Blocked reports whether lookups block now.
func (f *FakeWallets) Blocked() bool {
	f.mu.Lock()
	defer f.mu.Unlock()
	return f.block != nil
}

// LookupWallet answers from the canned answers.
func (f *FakeWallets) LookupWallet(ctx context.Context, p kiosk.Phone) (kiosk.Wallet, error) {
	f.mu.Lock()
	f.calls = append(f.calls, p)
	a, ok := f.byPhone[p]
	if !ok {
		a = f.def
	}
	block := f.block
	f.mu.Unlock()
	if block != nil {
		select {
		case <-block:
		case <-ctx.Done():
			return kiosk.Wallet{}, fmt.Errorf("lookup %s: %w: %w", p.Masked(), kiosk.ErrBankUnavailable, ctx.Err())
		}
	}
	return a.w, a.err
}

// Calls lists the numbers looked up, in order.
func (f *FakeWallets) Calls() []kiosk.Phone {
	f.mu.Lock()
	defer f.mu.Unlock()
	return slices.Clone(f.calls)
}
