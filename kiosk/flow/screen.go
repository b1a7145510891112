package flow

import (
	"cmp"
	"fmt"
	"slices"
	"strings"
	"unicode"
	"unicode/utf8"

	"tolem/kiosk"
)

// lineWidth is the display's width in characters.
const lineWidth = 20

// fit cuts s to one display line: control characters become spaces (a
// name from the bank must not move the cursor), and anything past 20
// characters is dropped.
func fit(s string) string {
	s = strings.Map(func(r rune) rune {
		if unicode.IsControl(r) || r == utf8.RuneError {
			return ' '
		}
		return r
	}, s)
	if utf8.RuneCountInString(s) <= lineWidth {
		return s
	}
	return strings.TrimRight(string([]rune(s)[:lineWidth]), " ")
}

// render draws the screen of the current state from the flow's data.
func (f *Flow) render() kiosk.Screen {
	l := f.lang
	t := func(x text) string { return tr(l, x) }
	var lines [4]string
	switch f.state {
	case kiosk.StateIdle:
		lines = [4]string{t(tIdleTitle), "", t(tPressOK), t(tLangHint)}
	case kiosk.StateSelectService, kiosk.StateEnterAccount, kiosk.StateEnterReceipt, kiosk.StateReceiptStatus:
		lines = f.renderServices(t)
	case kiosk.StateEnterPhone:
		lines = [4]string{t(tEnterPhone), kiosk.FormatPhoneDigits(f.digits), "", t(tHintNext)}
		if !f.svc.IsWallet() {
			lines[0] = f.svc.DisplayName(l)
		}
	case kiosk.StateLookup:
		lines = [4]string{t(tChecking), f.phone.Pretty(), "", t(tPleaseWait)}
		if f.svc.Account.Kind == kiosk.AccountDigits {
			lines[1] = f.account
		}
	case kiosk.StateConfirm:
		lines = [4]string{t(tRecipient), f.wallet.Name, f.phone.Pretty(), t(tConfirmHint)}
		switch {
		case !f.svc.IsWallet():
			lines = f.confirmLines(t)
		case f.noReceipt():
			lines[0] = t(tNoReceipt)
		}
	case kiosk.StateConfirmOffline:
		lines = [4]string{t(tBankOffline), t(tTypeAgain), kiosk.FormatPhoneDigits(f.digits2), t(tHintNext)}
		if f.svc.Account.Kind == kiosk.AccountDigits {
			lines[2] = f.digits2 + "_"
		}
		if f.noReceipt() {
			// The offline path skips confirm; this is its last screen
			// before cash. The OK hint was on enter_phone already.
			lines[3] = t(tNoReceipt)
		}
	case kiosk.StateInsertCash:
		var total kiosk.Money
		if f.sess != nil {
			total = f.sess.total
		}
		switch {
		case f.noRoom:
			lines = [4]string{t(tMaxReached), fmt.Sprintf(t(tInserted), total), "", t(tPressPay)}
		case total > 0:
			lines = [4]string{t(tInsertBills), fmt.Sprintf(t(tInserted), total), fmt.Sprintf(t(tMax), f.maxAmount()), t(tPayHint)}
		default:
			lines = [4]string{t(tInsertBills), fmt.Sprintf(t(tInserted), total), fmt.Sprintf(t(tMax), f.maxAmount()), t(tCancelHint)}
		}
		if m := f.svc.MinAmount; m > 0 && total < m && !f.noRoom {
			lines[0] = fmt.Sprintf(t(tMin), m)
		}
		if total == 0 && f.noReceipt() {
			// Said on confirm too, where there is room; here it is the
			// last word before cash.
			lines[1] = t(tNoReceipt)
		}
	case kiosk.StateCompleting:
		var total kiosk.Money
		if f.sess != nil {
			total = f.sess.total
		}
		lines = [4]string{t(tCompleting), t(tProcessing), "", total.String()}
	case kiosk.StateDone:
		lines = [4]string{fmt.Sprintf(t(tPaid), f.lastTop.Amount), fmt.Sprintf(t(tReceipt), f.lastTop.ReceiptNo), t(tDelayed1), t(tDelayed2)}
		if f.lastCode != "" {
			lines[2], lines[3] = fmt.Sprintf(t(tCode), f.lastCode), t(tDelayedShort)
		}
	case kiosk.StateOutOfService:
		lines = [4]string{t(tOOS1), t(tOOS2), "", ""}
		if _, ok := f.reasons[ReasonStarting]; ok {
			lines[2] = t(tStarting)
		}
		if f.sess != nil && f.sess.total > 0 {
			lines[3] = t(tPaymentSaved)
		}
	case kiosk.StateMaintenance:
		lines = [4]string{t(tService), "", "", ""}
	}
	// A notice takes the lines above the bottom hint (or, with two lines,
	// the bottom two).
	if f.notice.current(f.state, f.sess) {
		switch {
		case len(f.notice.lines) > 1:
			lines[2], lines[3] = t(f.notice.lines[0]), t(f.notice.lines[1])
		case f.roomNote() > 0:
			lines[2], lines[3] = t(f.notice.lines[0]), fmt.Sprintf(t(tCanAdd), f.roomNote())
		default:
			lines[2] = t(f.notice.lines[0])
		}
	}
	for i := range lines {
		lines[i] = fit(lines[i])
	}
	return kiosk.Screen{State: f.state, Lang: l, Lines: lines}
}

// roomNote is how much more cash fits, to be told with a refused note when
// the maximum is what refused it: room is left, yet less than the largest
// note the acceptor takes. 0 means there is nothing worth saying.
func (f *Flow) roomNote() kiosk.Money {
	if f.state != kiosk.StateInsertCash || f.sess == nil || f.noRoom || len(f.notice.lines) != 1 || f.d.Acceptor == nil {
		return 0
	}
	if n := f.notice.lines[0]; n != tRejected && n != tOverMax {
		return 0
	}
	room := f.maxAmount() - f.committed(f.sess)
	if room <= 0 {
		return 0
	}
	for _, d := range f.d.Acceptor.Info().Denominations {
		if d > room {
			return room
		}
	}
	return 0
}

// publish shows the screen if it changed and refreshes the status snapshot.
func (f *Flow) publish() {
	scr := f.render()
	changed := !f.shown || scr != f.screen
	f.screen, f.shown = scr, true
	st := f.snapshot(scr)

	f.mu.Lock()
	st.Maintenance = st.Maintenance || len(f.waiters) > 0
	f.status = st
	if changed {
		for _, ch := range f.subs {
			select {
			case ch <- scr:
			default:
				// Make room by dropping the oldest screen: the panel
				// needs the newest.
				select {
				case <-ch:
				default:
				}
				select {
				case ch <- scr:
				default:
				}
			}
		}
	}
	f.mu.Unlock()

	if !changed {
		return
	}
	if err := f.d.Display.Show(scr); err != nil {
		if !f.displayErr {
			f.log.Error("display failed; customers cannot see the screen", "err", err)
		}
		f.displayErr = true
	} else if f.displayErr {
		f.displayErr = false
		f.log.Info("display works again")
	}
}

func (f *Flow) snapshot(scr kiosk.Screen) Status {
	st := Status{
		State: f.state, Lang: f.lang, Screen: scr,
		Fault: f.fault, AcceptorEnabled: f.acceptorOn, Enabled: slices.Clone(f.enabledSet),
		Maintenance: f.state == kiosk.StateMaintenance || f.maint,
		Manual:      f.condsSeen[ConditionManual],
	}
	for r := range f.reasons {
		st.Reasons = append(st.Reasons, r)
	}
	slices.Sort(st.Reasons)
	if _, ok := f.reasons[ReasonAcceptor]; !ok {
		st.Fault = ""
	}
	if s := f.sess; s != nil {
		ss := &SessionStatus{ID: s.ID, Phone: kiosk.MaskAccount(string(s.Phone)), Offline: s.Offline, OpenedAt: s.OpenedAt, Total: s.total,
			Service: kiosk.TopUp{Service: s.Service}.ServiceName(), Account: kiosk.MaskAccount(kiosk.TopUp{Phone: s.Phone, Account: s.Account}.Payee())}
		for v, n := range s.counts {
			ss.Bills = append(ss.Bills, kiosk.BillCount{Value: v, Count: n})
		}
		slices.SortFunc(ss.Bills, func(x, y kiosk.BillCount) int { return cmp.Compare(x.Value, y.Value) })
		for _, b := range f.pending {
			if b.sess == s && b.recorded {
				ss.InFlight++
			}
		}
		st.Session = ss
	}
	if f.lastTop.ID != "" {
		t := f.lastTop
		st.LastTopUp = &t
	}
	return st
}
