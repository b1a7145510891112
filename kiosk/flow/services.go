package flow

import (
	"context"
	"errors"
	"fmt"
	"strconv"
	"time"
	"unicode/utf8"

	"tolem/kiosk"
)

// The services of the bank's catalog and the payment status (SPEC §1, "Other
// payments and the payment status"). The wallet top-up from idle's OK runs
// through the same code with the catalog's wallet as its service.

// menuPerPage is how many entries select_service shows at once: the
// display's fourth line is the page hint.
const menuPerPage = 3

// DefaultReceiptTimeout is how long receipt_status stays up.
const DefaultReceiptTimeout = 15 * time.Second

type lookupKind int

const (
	lookWallet lookupKind = iota
	lookAccount
	lookPing
	lookReceipt
)

// bankState is what the flow knows of the bank for a service without a
// lookup: a ping at confirm says whether cash may go in online.
type bankState int

const (
	bankUnknown bankState = iota
	bankUp
	bankDown
)

// menuEntry is one line of select_service: a service, or the payment status.
type menuEntry struct {
	svc    kiosk.Service
	status bool
}

func (f *Flow) catalog() kiosk.Catalog {
	if f.d.Catalog == nil {
		return kiosk.DefaultCatalog()
	}
	c := f.d.Catalog()
	if len(c.Services) == 0 {
		return kiosk.DefaultCatalog()
	}
	return c
}

// menu is the catalog as select_service lists it: the wallet first, the
// payment status last.
func (f *Flow) menu() []menuEntry {
	var out []menuEntry
	for _, s := range f.catalog().Menu() {
		out = append(out, menuEntry{svc: s})
	}
	return append(out, menuEntry{status: true})
}

func (f *Flow) pages() int {
	return (len(f.menu()) + menuPerPage - 1) / menuPerPage
}

// selectKey handles a key in select_service.
func (f *Flow) selectKey(k kiosk.Key) kiosk.State {
	switch {
	case k == kiosk.KeyCancel:
		return kiosk.StateIdle
	case k == kiosk.KeyOK:
		f.page = (f.page + 1) % f.pages()
	case k == kiosk.KeyBack:
		if f.page > 0 {
			f.page--
		}
	case k.IsDigit() && k != "0":
		i := f.page*menuPerPage + int(k[0]-'1')
		m := f.menu()
		if int(k[0]-'1') >= menuPerPage || i >= len(m) {
			return f.state
		}
		if m[i].status {
			return kiosk.StateEnterReceipt
		}
		return f.chooseService(m[i].svc)
	}
	return f.state
}

// chooseService starts the account entry of svc.
func (f *Flow) chooseService(svc kiosk.Service) kiosk.State {
	f.forgetCustomer()
	f.svc = svc
	f.log.Info("service chosen", "service", svc.ID, "kind", string(svc.Kind))
	if svc.Account.Kind == kiosk.AccountDigits {
		return kiosk.StateEnterAccount
	}
	return kiosk.StateEnterPhone
}

// prefixes are the phone prefixes the chosen service takes: its operator's,
// else the kiosk's.
func (f *Flow) prefixes() []int {
	if len(f.svc.Account.Prefixes) > 0 {
		return f.svc.Account.Prefixes
	}
	return f.cfg.PhonePrefixes
}

// maxAmount bounds the session: limits.max_amount, and the service's own
// maximum when it is lower.
func (f *Flow) maxAmount() kiosk.Money {
	if m := f.svc.MaxAmount; m > 0 && m < f.cfg.MaxAmount {
		return m
	}
	return f.cfg.MaxAmount
}

// afterEntry follows a valid account: a lookup when the service looks
// accounts up, else confirm (which asks the bank whether it is there).
func (f *Flow) afterEntry() kiosk.State {
	if f.svc.Lookup {
		return kiosk.StateLookup
	}
	return kiosk.StateConfirm
}

func (f *Flow) typeAccount(k kiosk.Key) kiosk.State {
	switch k {
	case kiosk.KeyCancel:
		return kiosk.StateIdle
	case kiosk.KeyOK:
		if err := f.svc.CheckAccount(f.account); err != nil {
			f.log.Info("account refused on the screen", "service", f.svc.ID, "len", len(f.account), "err", err)
			f.showNotice(tBadAccount)
			return f.state
		}
		f.offline = false
		return f.afterEntry()
	}
	f.clearNotice()
	f.account = editAccount(f.account, k, f.svc.Account.MaxLen)
	return f.state
}

func editAccount(s string, k kiosk.Key, max int) string {
	switch {
	case k.IsDigit() && len(s) < max:
		return s + string(k)
	case k == kiosk.KeyBack && len(s) > 0:
		return s[:len(s)-1]
	}
	return s
}

// payee is the account as the bank knows it: the phone in E.164, or digits.
func (f *Flow) payee() string {
	if f.svc.Account.Kind == kiosk.AccountDigits {
		return f.account
	}
	return string(f.phone)
}

func (f *Flow) maskedPayee() string { return kiosk.MaskAccount(f.payee()) }

// offlineRefused handles the bank out of reach for a service that takes no
// cash then: the customer is told, and the kiosk goes back to idle.
func (f *Flow) offlineRefused(why error) kiosk.State {
	f.log.Warn("bank unreachable and the service takes no cash offline; back to idle",
		"service", f.svc.ID, "account", f.maskedPayee(), "err", why)
	f.showNoticeIn(kiosk.StateIdle, tNoBank1, tNoBank2)
	return kiosk.StateIdle
}

// bankUnreachable is where a customer goes when the bank cannot be asked:
// double entry for a service that takes cash offline, else back to idle.
func (f *Flow) bankUnreachable(why error) kiosk.State {
	if !f.svc.Offline {
		return f.offlineRefused(why)
	}
	f.log.Warn("bank unreachable; offline double entry", "service", f.svc.ID, "account", f.maskedPayee(), "err", why)
	return kiosk.StateConfirmOffline
}

// startAsk runs one question to the bank (or the ledger) off the loop; the
// answer comes back on lookupC, tagged with its generation.
func (f *Flow) startAsk(kind lookupKind, timeout bool, ask func(ctx context.Context) lookupResult) {
	f.cancelLookup()
	f.lookupGen++
	ctx, cancel := context.WithCancel(f.ctx)
	if timeout {
		ctx, cancel = context.WithTimeout(f.ctx, f.cfg.LookupTimeout)
	}
	done := make(chan struct{})
	f.lookupCancel, f.lookupDone = cancel, done
	gen := f.lookupGen
	go func() {
		defer close(done)
		r := ask(ctx)
		r.gen, r.kind = gen, kind
		select {
		case f.lookupC <- r:
		case <-f.stopped:
		}
	}()
}

func (f *Flow) startAccountLookup() {
	svc, account := f.svc.ID, f.payee()
	f.log.Info("looking up account", "service", svc, "account", kiosk.MaskAccount(account))
	f.startAsk(lookAccount, false, func(ctx context.Context) lookupResult {
		if f.d.Accounts == nil {
			return lookupResult{err: fmt.Errorf("no account lookup: %w", kiosk.ErrBankUnavailable)}
		}
		a, err := f.d.Accounts.LookupAccount(ctx, svc, account)
		return lookupResult{account: a, err: err}
	})
}

// startPing asks the bank whether it is there, for a service without a
// lookup: within LookupTimeout, or the bank counts as unreachable.
func (f *Flow) startPing() {
	f.bank = bankUnknown
	f.startAsk(lookPing, true, func(ctx context.Context) lookupResult {
		if f.d.Ping == nil {
			return lookupResult{}
		}
		return lookupResult{err: f.d.Ping(ctx)}
	})
}

func (f *Flow) startReceipt() {
	n := f.receiptNo
	f.receipt, f.receiptMissing = nil, false
	f.startAsk(lookReceipt, false, func(ctx context.Context) lookupResult {
		if f.d.Payments == nil {
			return lookupResult{err: kiosk.ErrNotFound}
		}
		ri, err := f.d.Payments.ReceiptStatus(ctx, n)
		return lookupResult{receipt: ri, err: err}
	})
}

// onAccountLookup handles the bank's answer about a service's account.
func (f *Flow) onAccountLookup(r lookupResult) kiosk.State {
	back := kiosk.StateEnterAccount
	if f.svc.Account.Kind == kiosk.AccountPhone {
		back = kiosk.StateEnterPhone
	}
	switch {
	case r.err != nil && !errors.Is(r.err, kiosk.ErrBankUnavailable):
		f.log.Warn("bank refused the account lookup; back to idle", "service", f.svc.ID, "err", r.err)
		f.showNoticeIn(kiosk.StateIdle, tUnavailable)
		return kiosk.StateIdle
	case r.err != nil:
		return f.bankUnreachable(r.err)
	case !r.account.Found:
		f.log.Info("account not found", "service", f.svc.ID, "account", f.maskedPayee())
		f.digits, f.account = "", ""
		f.showNoticeIn(back, tAccountNotFound)
		return back
	}
	f.acct = r.account
	return kiosk.StateConfirm
}

// onPing handles the answer of the ping of confirm; an OK pressed while it
// was out goes on now.
func (f *Flow) onPing(r lookupResult) kiosk.State {
	f.bank = bankUp
	if r.err != nil {
		f.bank = bankDown
		f.log.Warn("bank ping at confirm failed", "service", f.svc.ID, "err", r.err)
	}
	if !f.okWait {
		return f.state
	}
	f.okWait = false
	return f.confirmOK()
}

// confirmOK is OK on confirm: cash, unless the bank is known to be away
// for a service that was not looked up.
func (f *Flow) confirmOK() kiosk.State {
	if f.svc.Lookup {
		return kiosk.StateInsertCash
	}
	switch f.bank {
	case bankUnknown:
		f.okWait = true
		return f.state
	case bankDown:
		return f.bankUnreachable(errors.New("ping at confirm failed"))
	}
	return kiosk.StateInsertCash
}

func (f *Flow) onReceipt(r lookupResult) kiosk.State {
	switch {
	case errors.Is(r.err, kiosk.ErrNotFound):
		f.receiptMissing = true
		f.log.Info("receipt status: no such receipt at this kiosk", "receipt", f.receiptNo)
	case r.err != nil:
		f.receiptMissing = true
		f.log.Warn("receipt status failed", "receipt", f.receiptNo, "err", r.err)
	default:
		ri := r.receipt
		f.receipt = &ri
		f.log.Info("receipt status shown", "receipt", ri.ReceiptNo, "state", string(ri.State))
	}
	return f.state
}

func (f *Flow) typeReceipt(k kiosk.Key) kiosk.State {
	switch k {
	case kiosk.KeyCancel:
		return kiosk.StateIdle
	case kiosk.KeyOK:
		n, ok := kiosk.ParseReceiptNo(f.receiptDigits)
		if !ok {
			return f.state
		}
		f.receiptNo = n
		return kiosk.StateReceiptStatus
	}
	f.receiptDigits = editAccount(f.receiptDigits, k, 9)
	return f.state
}

// payKey is PAY in insert_cash: refused below the service's minimum while
// the customer is there (the 90 s timeout still completes).
func (f *Flow) payKey() kiosk.State {
	if !f.holdsMoney(f.sess) {
		return f.state
	}
	if m := f.svc.MinAmount; m > 0 && f.committed(f.sess) < m {
		f.log.Info("PAY refused below the service's minimum", "service", f.svc.ID,
			"total", f.committed(f.sess).String(), "min", m.String())
		f.showNotice(tBelowMin)
		return f.state
	}
	return kiosk.StateCompleting
}

// serviceName is the name of a top-up's service in l, from the catalog.
func (f *Flow) serviceName(id string, l kiosk.Lang) string {
	c := f.catalog()
	if id == "" {
		return c.Wallet().DisplayName(l)
	}
	if s, ok := c.Lookup(id); ok {
		return s.DisplayName(l)
	}
	return id
}

// renderServices draws the states of this file.
func (f *Flow) renderServices(t func(text) string) [4]string {
	l := f.lang
	switch f.state {
	case kiosk.StateSelectService:
		var lines [4]string
		m := f.menu()
		for i := range menuPerPage {
			j := f.page*menuPerPage + i
			if j >= len(m) {
				break
			}
			name := t(tStatusEntry)
			if !m[j].status {
				name = m[j].svc.DisplayName(l)
			}
			lines[i] = strconv.Itoa(i+1) + " " + name
		}
		lines[3] = fmt.Sprintf("%s  %d/%d", t(tMenuNav), f.page+1, f.pages())
		return lines
	case kiosk.StateEnterAccount:
		rng := fmt.Sprintf("%d-%d", f.svc.Account.MinLen, f.svc.Account.MaxLen)
		if f.svc.Account.MinLen == f.svc.Account.MaxLen {
			rng = strconv.Itoa(f.svc.Account.MinLen)
		}
		return [4]string{f.svc.DisplayName(l), fmt.Sprintf(t(tAccountIs), f.account+"_"),
			fmt.Sprintf(t(tDigits), rng), t(tHintNext)}
	case kiosk.StateEnterReceipt:
		return [4]string{t(tReceiptPrompt), f.receiptDigits + "_", "", t(tHintNext)}
	case kiosk.StateReceiptStatus:
		switch {
		case f.receiptMissing:
			return [4]string{fmt.Sprintf(t(tReceiptNo), f.receiptNo), t(tNotHere1), t(tNotHere2), ""}
		case f.receipt == nil:
			return [4]string{fmt.Sprintf(t(tReceiptNo), f.receiptNo), t(tPleaseWait), "", ""}
		}
		r := f.receipt
		mark := tStPending
		switch r.State {
		case kiosk.ReceiptCredited:
			mark = tStCredited
		case kiosk.ReceiptRejected:
			mark = tStRejected
		}
		head := fmt.Sprintf("№%d %s", r.ReceiptNo, r.CompletedAt.Local().Format("02.01.06 15:04"))
		if utf8.RuneCountInString(head) > lineWidth {
			// A long receipt number: the date whole, without the time.
			head = fmt.Sprintf("№%d %s", r.ReceiptNo, r.CompletedAt.Local().Format("02.01.06"))
		}
		return [4]string{
			head,
			f.serviceName(r.Service, l),
			r.Amount.String() + " " + r.Payee,
			t(mark),
		}
	}
	return [4]string{}
}

// confirmLines is confirm for a service other than the wallet: its name,
// the account, and what the bank said of it.
func (f *Flow) confirmLines(t func(text) string) [4]string {
	acct := f.account
	if f.svc.Account.Kind == kiosk.AccountPhone {
		acct = f.phone.Pretty()
	}
	lines := [4]string{f.svc.DisplayName(f.lang), acct, "", ""}
	// The two lower lines go to what the customer must check first: the
	// holder (beside the account when both fit), the debt, the no-receipt
	// notice (insert_cash repeats it when it does not fit here), the OK
	// hint, the address.
	var more []string
	a := f.acct
	switch {
	case !a.Found:
		if f.okWait {
			more = append(more, t(tPleaseWait))
		}
	case utf8.RuneCountInString(acct+" "+a.Holder) <= lineWidth:
		lines[1] = acct + " " + a.Holder
	default:
		more = append(more, a.Holder)
	}
	if a.Found && a.HasDebt {
		more = append(more, fmt.Sprintf(t(tDebt), a.Debt))
	}
	if f.noReceipt() {
		more = append(more, t(tNoReceipt))
	}
	more = append(more, t(tConfirmHint))
	if a.Found && a.Address != "" {
		more = append(more, a.Address)
	}
	copy(lines[2:], more)
	if len(more) == 1 {
		// The hint stays at the bottom, as on every screen.
		lines[2], lines[3] = "", more[0]
	}
	return lines
}

// noReceipt: a printer is fitted and cannot print now, which the customer
// must read before any cash goes in (SPEC §8).
func (f *Flow) noReceipt() bool { return f.d.Receipts != nil && !f.d.Receipts.Ready() }
