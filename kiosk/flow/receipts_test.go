package flow

import (
	"fmt"
	"sync"
	"testing"

	"tolem/kiosk"
)

// fakeReceipts is a receipt printer that can or cannot print.
type fakeReceipts struct {
	mu     sync.Mutex
	ready  bool
	issued []kiosk.TopUp
}

func (p *fakeReceipts) Ready() bool {
	p.mu.Lock()
	defer p.mu.Unlock()
	return p.ready
}

func (p *fakeReceipts) Issue(t kiosk.TopUp, _ kiosk.Lang) (bool, string) {
	p.mu.Lock()
	defer p.mu.Unlock()
	p.issued = append(p.issued, t)
	return p.ready, fmt.Sprintf("CODE%06d", t.ReceiptNo)
}

func (p *fakeReceipts) Issued() []kiosk.TopUp {
	p.mu.Lock()
	defer p.mu.Unlock()
	return append([]kiosk.TopUp(nil), p.issued...)
}

func payTopUp(r *rig) {
	r.t.Helper()
	r.key("OK", "7011234567", "OK")
	r.want(kiosk.StateConfirm)
}

// With no paper the customer reads on confirm, before any cash, that no
// receipt will be printed; the top-up goes through and done shows the code
// the bank can check instead of the delay note.
func TestNoReceiptToldOnConfirmCodeOnDone(t *testing.T) {
	p := &fakeReceipts{}
	r := newRig(t, Config{})
	r.receipts = p
	r.start()
	payTopUp(r)
	r.wantLine("Чек не будет выдан")
	r.key("OK")
	r.want(kiosk.StateInsertCash)
	r.feed(kiosk.Tenge(5000))
	r.key("OK")
	r.want(kiosk.StateDone)
	r.wantLine("Чек № 1")
	r.wantLine("Код: CODE000001")
	if tops := r.led.TopUps(); len(tops) != 1 || tops[0].Amount != kiosk.Tenge(5000) {
		t.Fatalf("top-ups %+v: the money must be committed whatever the printer", tops)
	}
	if got := p.Issued(); len(got) != 1 || got[0].ReceiptNo != 1 {
		t.Fatalf("issued %+v, want the one top-up once", got)
	}
}

// With paper the confirm screen names the recipient, the receipt is issued
// once after the commit, and done keeps the delay note.
func TestReceiptIssuedOnceAfterCommit(t *testing.T) {
	p := &fakeReceipts{ready: true}
	r := newRig(t, Config{})
	r.receipts = p
	r.start()
	payTopUp(r)
	r.wantLine("Получатель:")
	r.key("OK")
	r.feed(kiosk.Tenge(2000))
	if len(p.Issued()) != 0 {
		t.Fatal("receipt issued before the top-up was committed")
	}
	r.key("OK")
	r.want(kiosk.StateDone)
	r.wantLine("зачислим за 30 мин")
	if got := p.Issued(); len(got) != 1 || len(r.led.TopUps()) != 1 || got[0].ID != r.led.TopUps()[0].ID {
		t.Fatalf("issued %+v", got)
	}
}

func (p *fakeReceipts) setReady(v bool) {
	p.mu.Lock()
	p.ready = v
	p.mu.Unlock()
}

// Paper running out while the customer reads the confirm screen changes it
// at once, before any cash.
func TestConfirmScreenFollowsThePrinter(t *testing.T) {
	p := &fakeReceipts{ready: true}
	r := newRig(t, Config{})
	r.receipts = p
	r.start()
	payTopUp(r)
	r.wantLine("Получатель:")
	p.setReady(false)
	r.f.ReceiptsChanged()
	r.settle()
	r.wantLine("Чек не будет выдан")
}

// On the offline path, which skips confirm, the second entry's screen is
// the one that tells of no receipt before cash; done shows the code.
func TestNoReceiptToldOnConfirmOffline(t *testing.T) {
	p := &fakeReceipts{}
	r := newRig(t, Config{})
	r.receipts = p
	r.start()
	r.wal.Default(kiosk.Wallet{}, kiosk.ErrBankUnavailable)
	r.key("OK", "7771234567", "OK")
	r.want(kiosk.StateConfirmOffline)
	r.wantLine("Банк недоступен")
	r.wantLine("Чек не будет выдан")
	r.key("7771234567", "OK")
	r.want(kiosk.StateInsertCash)
	r.feed(kiosk.Tenge(1000))
	r.key("OK")
	r.want(kiosk.StateDone)
	r.wantLine("Код: CODE000001")
}

// printer.required: kioskd raises the printer condition while no receipt
// can be printed, and the kiosk is out of service until it clears.
func TestPrinterConditionOutOfService(t *testing.T) {
	r := newRig(t, Config{}).start()
	r.f.SetCondition("printer", true)
	r.settle()
	r.want(kiosk.StateOutOfService)
	if st := r.f.Status(); len(st.Reasons) != 1 || st.Reasons[0] != "printer" || st.AcceptorEnabled {
		t.Fatalf("status %+v", st)
	}
	r.f.SetCondition("printer", false)
	r.settle()
	r.want(kiosk.StateIdle)
}
