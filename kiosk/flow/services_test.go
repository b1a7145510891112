package flow

import (
	"context"
	"errors"
	"sync"
	"testing"
	"time"

	"tolem/kiosk"
)

// The catalog of SPEC §2, as the sandbox serves it.
func testCatalog(t *testing.T) kiosk.Catalog {
	t.Helper()
	c, err := kiosk.ParseCatalog([]byte(`{"version":"t1","services":[
 {"id":"wallet","kind":"wallet","name":{"ru":"Kaspi кошелёк","en":"Kaspi wallet"},"account":{"kind":"phone"},"lookup":true,"offline":true},
 {"id":"beeline","kind":"mobile","name":{"ru":"Beeline"},"account":{"kind":"phone","prefixes":[705,771,776,777]},
  "lookup":false,"offline":true,"min_amount":10000,"max_amount":5000000},
 {"id":"alseco","kind":"utility","name":{"ru":"Алсеко","en":"Alseco"},"account":{"kind":"digits","min_len":6,"max_len":12},
  "lookup":true,"offline":false},
 {"id":"loan","kind":"loan","name":{"ru":"Кредит"},"account":{"kind":"digits","min_len":10,"max_len":10},"lookup":false,"offline":false}]}`))
	if err != nil {
		t.Fatal(err)
	}
	return c
}

type fakeAccounts struct {
	mu    sync.Mutex
	known map[string]kiosk.Account
	err   error
	asked []string
}

func (a *fakeAccounts) LookupAccount(_ context.Context, service, account string) (kiosk.Account, error) {
	a.mu.Lock()
	defer a.mu.Unlock()
	a.asked = append(a.asked, service+" "+account)
	if a.err != nil {
		return kiosk.Account{}, a.err
	}
	return a.known[service+" "+account], nil
}

type fakePayments map[int64]kiosk.ReceiptInfo

func (r fakePayments) ReceiptStatus(_ context.Context, n int64) (kiosk.ReceiptInfo, error) {
	if ri, ok := r[n]; ok {
		return ri, nil
	}
	return kiosk.ReceiptInfo{}, kiosk.ErrNotFound
}

type svcRig struct {
	*rig
	acct    *fakeAccounts
	pingErr error
	pmu     sync.Mutex
}

func newSvcRig(t *testing.T, receipts fakePayments, printer ...kiosk.Receipts) *svcRig {
	r := &svcRig{rig: newRig(t, Config{}), acct: &fakeAccounts{known: map[string]kiosk.Account{
		"alseco 123456789":    {Found: true, Holder: "Н***н К.", Address: "ул. А***, 1*", Debt: kiosk.Tenge(12345), HasDebt: true},
		"alseco 123456789012": {Found: true, Holder: "Н***н К.", Address: "ул. А***, 1*", Debt: kiosk.Tenge(12345), HasDebt: true},
	}}}
	if len(printer) > 0 {
		r.receipts = printer[0]
	}
	cat := testCatalog(t)
	r.extra = func(d *Deps) {
		d.Catalog = func() kiosk.Catalog { return cat }
		d.Accounts = r.acct
		d.Payments = receipts
		d.Ping = func(context.Context) error { r.pmu.Lock(); defer r.pmu.Unlock(); return r.pingErr }
	}
	r.start()
	return r
}

// pick opens the menu and picks the entry of that number on the first page.
func (r *svcRig) pick(n string) {
	r.t.Helper()
	r.key("0")
	r.want(kiosk.StateSelectService)
	r.key(n)
}

func TestMenuListsTheCatalogWalletFirstAndPages(t *testing.T) {
	r := newSvcRig(t, nil)
	r.key("0")
	r.want(kiosk.StateSelectService)
	r.wantLine("1 Kaspi кошелёк")
	r.wantLine("2 Beeline")
	r.wantLine("3 Алсеко")
	r.wantLine("1/2")
	r.key("OK")
	r.wantLine("1 Кредит")
	r.wantLine("2 Статус платежа")
	r.key("3") // nothing there
	r.want(kiosk.StateSelectService)
	r.key("BACK")
	r.wantLine("1 Kaspi кошелёк")
	r.key("LANG", "LANG") // en: names fall back to ru where the catalog has no en
	r.wantLine("3 Alseco")
	r.key("OK")
	r.wantLine("1 Кредит")
	r.advance(DefaultPhoneTimeout)
	r.want(kiosk.StateIdle)
}

func TestUtilityPaymentShowsTheDebtAndCarriesTheAccount(t *testing.T) {
	r := newSvcRig(t, nil)
	r.pick("3")
	r.want(kiosk.StateEnterAccount)
	r.wantLine("Алсеко")
	r.key("12345", "OK") // too short: refused on the screen, never asked
	r.want(kiosk.StateEnterAccount)
	r.wantLine("Неверный номер счёта")
	if len(r.acct.asked) != 0 {
		t.Fatalf("an account of a wrong length reached the bank: %v", r.acct.asked)
	}
	r.key("BACK", "BACK", "BACK", "BACK", "BACK", "123456789", "OK")
	r.want(kiosk.StateConfirm)
	r.wantLine("123456789 Н***н К.")
	r.wantLine("Долг: 12 345 ₸")
	r.key("OK")
	r.want(kiosk.StateInsertCash)
	r.feed(kiosk.Tenge(10000), kiosk.Tenge(5000))
	r.key("OK")
	r.want(kiosk.StateDone)
	tops := r.led.TopUps()
	if len(tops) != 1 || tops[0].Service != "alseco" || tops[0].Account != "123456789" || tops[0].Phone != "" ||
		tops[0].Amount != kiosk.Tenge(15000) || tops[0].Offline {
		t.Fatalf("top-ups %+v, want 15 000 ₸ to alseco 123456789", tops)
	}
}

func TestUnknownAccountGoesBackToEntry(t *testing.T) {
	r := newSvcRig(t, nil)
	r.pick("3")
	r.key("111111", "OK")
	r.want(kiosk.StateEnterAccount)
	r.wantLine("Счёт не найден")
}

func TestMobileWrongPrefixRefusedOnTheScreen(t *testing.T) {
	r := newSvcRig(t, nil)
	r.pick("2")
	r.want(kiosk.StateEnterPhone)
	r.wantLine("Beeline")
	r.key("7011234567", "OK") // 701 is not Beeline's
	r.want(kiosk.StateEnterPhone)
	r.wantLine("Неверный номер")
	r.key("BACK", "BACK", "BACK", "BACK", "BACK", "BACK", "BACK", "BACK", "BACK", "BACK", "7051234567", "OK")
	r.want(kiosk.StateConfirm) // no lookup: straight to confirm
	r.wantLine("Beeline")
	r.key("OK")
	r.want(kiosk.StateInsertCash)
	r.wantLine("Минимум: 100 ₸")
	if _, set := r.acc.Enabled(); len(set) == 0 || set[len(set)-1] > kiosk.Tenge(50000) {
		t.Errorf("enabled %v, want nothing over the service's maximum of 50 000 ₸", set)
	}
	r.feed(kiosk.Tenge(50))
	r.key("OK") // below the minimum: refused while the customer is there
	r.want(kiosk.StateInsertCash)
	r.wantLine("Меньше минимума")
	r.feed(kiosk.Tenge(100))
	r.key("OK")
	r.want(kiosk.StateDone)
	tops := r.led.TopUps()
	if len(tops) != 1 || tops[0].Service != "beeline" || tops[0].Phone != "+77051234567" || tops[0].Account != "" {
		t.Fatalf("top-ups %+v, want beeline to +77051234567", tops)
	}
}

func TestBelowTheMinimumStillCompletesWhenTheCustomerLeaves(t *testing.T) {
	r := newSvcRig(t, nil)
	r.pick("2")
	r.key("7051234567", "OK", "OK")
	r.want(kiosk.StateInsertCash)
	r.feed(kiosk.Tenge(50))
	r.advance(DefaultInsertTimeout)
	r.want(kiosk.StateDone)
	if tops := r.led.TopUps(); len(tops) != 1 || tops[0].Amount != kiosk.Tenge(50) {
		t.Fatalf("top-ups %+v, want the 50 ₸ completed", tops)
	}
}

func TestBankDownOnlineOnlyServiceRefused(t *testing.T) {
	r := newSvcRig(t, nil)
	r.acct.err = kiosk.ErrBankUnavailable
	r.pick("3")
	r.key("123456789", "OK")
	r.want(kiosk.StateIdle)
	r.wantLine("Нет связи с банком")
	if len(r.led.Sessions()) != 0 {
		t.Fatal("a session was opened for a service that takes no cash offline")
	}

	// A loan without a lookup: the ping at confirm finds the bank away.
	r.pmu.Lock()
	r.pingErr = errors.New("connection refused")
	r.pmu.Unlock()
	r.key("0", "OK", "1") // page 2, entry 1: the loan
	r.want(kiosk.StateEnterAccount)
	r.key("1234567890", "OK")
	r.want(kiosk.StateConfirm)
	r.key("OK")
	r.want(kiosk.StateIdle)
	r.wantLine("Нет связи с банком")
}

func TestBankDownOfflineServiceTakesCashWithDoubleEntry(t *testing.T) {
	r := newSvcRig(t, nil)
	r.pmu.Lock()
	r.pingErr = errors.New("connection refused")
	r.pmu.Unlock()
	r.pick("2")
	r.key("7771234567", "OK", "OK")
	r.want(kiosk.StateConfirmOffline)
	r.key("7771234560", "OK") // mistyped: back to entry
	r.want(kiosk.StateEnterPhone)
	r.key("7771234567", "OK", "OK")
	r.want(kiosk.StateConfirmOffline)
	r.key("7771234567", "OK")
	r.want(kiosk.StateInsertCash)
	r.feed(kiosk.Tenge(1000))
	r.key("OK")
	r.want(kiosk.StateDone)
	tops := r.led.TopUps()
	if len(tops) != 1 || tops[0].Service != "beeline" || !tops[0].Offline {
		t.Fatalf("top-ups %+v, want an offline beeline top-up", tops)
	}
}

func TestReceiptStatus(t *testing.T) {
	at := time.Date(2026, 12, 4, 10, 30, 0, 0, time.Local)
	r := newSvcRig(t, fakePayments{
		12: {ReceiptNo: 12, CompletedAt: at, Amount: kiosk.Tenge(3000), Service: "alseco", Payee: "***6789", State: kiosk.ReceiptCredited},
		13: {ReceiptNo: 13, CompletedAt: at, Amount: kiosk.Tenge(500), Payee: "+7701***4567", State: kiosk.ReceiptPending},
	})
	r.key("0", "OK", "2")
	r.want(kiosk.StateEnterReceipt)
	r.key("12", "OK")
	r.want(kiosk.StateReceiptStatus)
	r.wantLine("04.12.26 10:30")
	r.wantLine("3 000 ₸ ***6789")
	r.wantLine("Алсеко")
	r.wantLine("✓ Зачислен")
	r.advance(DefaultReceiptTimeout)
	r.want(kiosk.StateIdle)

	r.key("0", "OK", "2", "13", "OK")
	r.wantLine("! В обработке")
	r.wantLine("Kaspi кошелёк")
	r.key("OK")
	r.want(kiosk.StateIdle)

	r.key("0", "OK", "2", "99", "OK")
	r.wantLine("на этом терминале")
}

// Without paper, a service's confirm screen still names the service, the
// account, its holder and the debt (SPEC §2); the no-receipt notice takes
// the line of the OK hint, or, when the holder needs a line of its own,
// waits for insert_cash, still before any cash.
func TestServiceConfirmWithoutPaperKeepsWhatTheCustomerChecks(t *testing.T) {
	r := newSvcRig(t, nil, &fakeReceipts{})
	r.pick("3")
	r.key("123456789", "OK")
	r.want(kiosk.StateConfirm)
	for _, l := range []string{"Алсеко", "123456789 Н***н К.", "Долг: 12 345 ₸", "Чек не будет выдан"} {
		r.wantLine(l)
	}
	r.key("OK")
	r.want(kiosk.StateInsertCash)
	r.wantLine("Чек не будет выдан")
	r.key("CANCEL")
	r.want(kiosk.StateIdle)

	r.pick("3")
	r.key("123456789012", "OK") // the holder no longer fits beside it
	r.want(kiosk.StateConfirm)
	for _, l := range []string{"Алсеко", "123456789012", "Н***н К.", "Долг: 12 345 ₸"} {
		r.wantLine(l)
	}
	r.key("OK")
	r.want(kiosk.StateInsertCash)
	r.wantLine("Чек не будет выдан")
	r.feed(kiosk.Tenge(5000))
	r.wantNoLine("Чек не будет выдан") // the total has the line now
	r.wantLine("5 000 ₸")
}

// With paper and a holder beside the account, the debt and the OK hint both
// show; the address gives way.
func TestServiceConfirmShowsTheHintBesideTheDebt(t *testing.T) {
	r := newSvcRig(t, nil, &fakeReceipts{ready: true})
	r.pick("3")
	r.key("123456789", "OK")
	r.want(kiosk.StateConfirm)
	for _, l := range []string{"Алсеко", "123456789 Н***н К.", "Долг: 12 345 ₸", "OK да / CANCEL нет"} {
		r.wantLine(l)
	}
}

// A receipt number of five digits or more still shows the date, whole; the
// time gives way when the line is full.
func TestReceiptStatusLongNumberKeepsTheDate(t *testing.T) {
	at := time.Date(2026, 12, 4, 10, 30, 0, 0, time.Local)
	r := newSvcRig(t, fakePayments{
		123456: {ReceiptNo: 123456, CompletedAt: at, Amount: kiosk.Tenge(3000), Service: "alseco", Payee: "***6789", State: kiosk.ReceiptCredited},
		1234:   {ReceiptNo: 1234, CompletedAt: at, Amount: kiosk.Tenge(3000), Service: "alseco", Payee: "***6789", State: kiosk.ReceiptCredited},
	})
	r.key("0", "OK", "2", "123456", "OK")
	r.want(kiosk.StateReceiptStatus)
	r.wantLine("№123456 04.12.26")
	r.wantNoLine("10:") // no time cut short
	r.key("OK")
	r.key("0", "OK", "2", "1234", "OK")
	r.wantLine("№1234 04.12.26 10:30")
}
