package main

import (
	"context"
	"errors"
	"fmt"
	"io"
	"log/slog"
	"testing"
	"time"

	"tolem/devices/panel/charrom"
	"tolem/kiosk"
	"tolem/kiosk/flow"
	"tolem/kiosk/kiosktest"
	"tolem/sync/bankapi/banksim"
)

// Every screen the real flow draws, in every language, goes through every
// character ROM the config may name: it must fit the 20×4 display and map
// to characters the display can draw, never to '?'.
func TestEveryFlowScreenMapsOnEveryROM(t *testing.T) {
	seen := map[string]kiosk.Screen{}
	for _, lang := range []kiosk.Lang{kiosk.LangRU, kiosk.LangKK, kiosk.LangEN} {
		for _, s := range walkFlow(t, lang) {
			seen[fmt.Sprint(s.Lang, s.Lines)] = s
		}
	}
	if len(seen) < 30 {
		t.Fatalf("only %d distinct screens seen; the walk misses states", len(seen))
	}
	states := map[kiosk.State]bool{}
	for _, s := range seen {
		states[s.State] = true
	}
	for _, st := range kiosk.States() {
		if !states[st] {
			t.Errorf("no screen of state %s was checked", st)
		}
	}
	for _, name := range []string{"a00", "a02", "cyrillic"} {
		rom, err := charrom.ParseROM(name)
		if err != nil {
			t.Fatal(err)
		}
		for _, s := range seen {
			rep := charrom.Explain(rom, s.Lines)
			if len(rep.Unknown) > 0 || len(rep.Cut) > 0 {
				t.Errorf("ROM %s, %s screen %q: unknown %q, cut lines %v; shown as %q",
					name, s.State, s.Lines, string(rep.Unknown), rep.Cut, rep.Shown)
			}
		}
	}
}

// walkFlow drives the real flow through every state in one language and
// returns every screen it drew.
func walkFlow(t *testing.T, lang kiosk.Lang) []kiosk.Screen {
	t.Helper()
	clock := kiosk.Clock(kiosktest.NewFakeClock(time.Date(2026, 11, 21, 12, 0, 0, 0, time.UTC)))
	fc := clock.(*kiosktest.FakeClock)
	acc := kiosktest.NewFakeAcceptor(clock)
	led := kiosktest.NewFakeLedger()
	wallets := kiosktest.NewFakeWallets()
	wallets.Answer("+77071234567", kiosk.Wallet{Found: false}, nil)
	wallets.Answer("+77051234567", kiosk.Wallet{Found: true, Name: "Александра-Мария Константинопольская"}, nil)
	wallets.Answer("+77771234567", kiosk.Wallet{}, errors.New("bank down"))
	disp := &kiosktest.FakeDisplay{}
	cat, err := kiosk.ParseCatalog([]byte(banksim.DefaultServices))
	if err != nil {
		t.Fatal(err)
	}
	f := flow.New(flow.Config{Lang: lang}, flow.Deps{
		Clock: clock, Acceptor: acc, Ledger: led, Wallets: wallets, Display: disp,
		Log:      slog.New(slog.NewTextHandler(io.Discard, nil)),
		Catalog:  func() kiosk.Catalog { return cat },
		Accounts: romAccounts{},
		Payments: romReceipts{},
	})
	ctx, cancel := context.WithCancel(context.Background())
	done := make(chan struct{})
	go func() { f.Run(ctx); close(done) }()
	defer func() { cancel(); <-done }()
	settle := func() {
		t.Helper()
		c, stop := context.WithTimeout(ctx, 20*time.Second)
		defer stop()
		if err := f.Alive(c); err != nil {
			t.Fatal(err)
		}
	}
	// keys presses each named key, or each digit of a string of digits, and
	// lets the flow (and a wallet lookup it started) finish with them.
	keys := func(ks ...string) {
		t.Helper()
		for _, k := range ks {
			if isDigits(k) {
				for _, r := range k {
					f.Key(kiosk.Key(string(r)))
				}
			} else {
				f.Key(kiosk.Key(k))
			}
			settle()
			for deadline := time.Now().Add(20 * time.Second); f.Status().State == kiosk.StateLookup && !wallets.Blocked(); {
				if time.Now().After(deadline) {
					t.Fatal("the wallet lookup never answered")
				}
				time.Sleep(time.Millisecond)
				settle()
			}
		}
	}
	acc.PowerUp(kiosk.BillNowhere, 0)
	acc.Ready()
	settle()
	keys("OK", "12", "BACK", "7121234567", "OK", "CANCEL") // a refused prefix
	keys("OK", "7071234567", "OK")                         // not found
	keys("CANCEL", "OK", "7051234567", "OK", "OK")         // a long name, insert_cash
	acc.Rejected("inhibited denomination")
	settle()
	for range 9 {
		acc.Escrow(kiosk.Tenge(20000))
		settle()
		acc.Stacked(kiosk.Tenge(20000))
		settle()
	}
	keys("CANCEL") // cash cannot be given back
	// PAY with the tenth bill on its way into the cassette: completing waits
	// for it, then the receipt shows the 200 000 ₸ maximum.
	acc.Escrow(kiosk.Tenge(20000))
	settle()
	keys("OK")
	acc.Stacked(kiosk.Tenge(20000))
	settle()
	fc.Advance(11 * time.Second)
	settle()
	keys("OK", "7771234567", "OK") // the bank is down: confirm_offline
	keys("7771234567", "OK", "CANCEL")
	acc.Fault(kiosk.FaultCassetteRemoved)
	settle()
	acc.FaultCleared()
	settle()
	mctx, mcancel := context.WithTimeout(ctx, 20*time.Second)
	if err := f.RequestMaintenance(mctx); err != nil {
		t.Fatal(err)
	}
	mcancel()
	settle()
	f.EndMaintenance()
	settle()
	keys("OK", "7011234567", "OK")
	// lookup answers at once with the fakes; hold one to see its screen
	wallets.Block()
	keys("CANCEL", "OK", "7011234567", "OK")
	wallets.Release()
	settle()
	// The menu, a utility with its debt, and the payment status of each
	// state.
	keys("CANCEL", "0", "OK", "BACK", "3", "12345", "OK", "6789", "OK", "CANCEL")
	for _, n := range []string{"1", "2", "3", "4"} {
		keys("0", "OK", "2", n, "OK", "OK")
	}
	return disp.Screens()
}

type romAccounts struct{}

func (romAccounts) LookupAccount(context.Context, string, string) (kiosk.Account, error) {
	return kiosk.Account{Found: true, Holder: "Ә***ұ Қ.", Address: "ул. А***, 1*", Debt: kiosk.Tenge(123456), HasDebt: true}, nil
}

type romReceipts struct{}

func (romReceipts) ReceiptStatus(_ context.Context, n int64) (kiosk.ReceiptInfo, error) {
	states := []kiosk.ReceiptState{kiosk.ReceiptCredited, kiosk.ReceiptPending, kiosk.ReceiptRejected}
	if n > int64(len(states)) {
		return kiosk.ReceiptInfo{}, kiosk.ErrNotFound
	}
	return kiosk.ReceiptInfo{ReceiptNo: n, Amount: kiosk.Tenge(5000), Service: "alseco", Payee: "***6789",
		State: states[n-1], CompletedAt: time.Date(2026, 12, 4, 10, 0, 0, 0, time.UTC)}, nil
}

func isDigits(s string) bool {
	for _, r := range s {
		if r < '0' || r > '9' {
			return false
		}
	}
	return true
}
