package flow

import (
	"context"
	"fmt"
	"maps"
	"slices"
	"time"

	"tolem/kiosk"
)

type inputKind int

const (
	inKey inputKind = iota + 1
	inEvent
	inEventsClosed
	inLookup
	inStateTimer
	inNoticeTimer
	inProbeTimer
	inRecoveryTimer
	inControl
)

// input is one thing that happened, as the loop hands it to step.
type input struct {
	kind   inputKind
	key    kiosk.Key
	ev     kiosk.AcceptorEvent
	lookup lookupResult
}

type lookupResult struct {
	gen     uint64
	kind    lookupKind
	wallet  kiosk.Wallet
	account kiosk.Account
	receipt kiosk.ReceiptInfo
	err     error
}

// step handles one input: derive the state it leads to, enter it (and what
// entering leads to), then show the result.
func (f *Flow) step(in input) {
	f.goTo(f.derive(in))
	f.grantMaintenance()
	f.publish()
}

// derive works out the state an input leads to. It does the input's own
// side effects (a bill is recorded and stacked, a digit typed) but leaves
// the state's side effects to enter.
func (f *Flow) derive(in input) kiosk.State {
	switch in.kind {
	case inKey:
		return f.onKey(in.key)
	case inEvent:
		return f.onEvent(in.ev)
	case inEventsClosed:
		f.disableAcceptor()
		f.reasons[ReasonAcceptorGone] = "driver closed"
		f.log.Error("acceptor driver closed its events; out of service until kioskd restarts")
	case inLookup:
		return f.onLookup(in.lookup)
	case inStateTimer:
		return f.onStateTimeout()
	case inNoticeTimer:
		f.notice = notice{}
	case inProbeTimer:
		f.probeLedger()
	case inRecoveryTimer:
		if f.awaitPowerUp {
			f.log.Warn("acceptor sent no power-up report in time; recovering the interrupted session without it",
				"waited", f.cfg.RecoveryWait)
			if _, ok := f.recover(nil); ok {
				f.lateReport = true
			}
		}
	case inControl:
		return f.onControl()
	}
	return f.state
}

// goTo moves to next and through every state entering it leads to.
func (f *Flow) goTo(next kiosk.State) {
	for range 8 {
		next = f.resolve(next)
		if next == f.state {
			return
		}
		next = f.enter(next)
	}
	f.log.Error("flow state did not settle; staying", "state", f.state, "next", next)
}

// interrupted reports whether a reason stands that takes the kiosk out of
// service at once, customer or not. The offline cap waits for the customer.
func (f *Flow) interrupted() bool {
	for r := range f.reasons {
		if r != ReasonOfflineCap {
			return true
		}
	}
	return false
}

func resting(s kiosk.State) bool {
	return s == kiosk.StateIdle || s == kiosk.StateOutOfService || s == kiosk.StateMaintenance
}

// resolve turns a wanted state into the one the kiosk may be in: a
// customer's session is cut by a fault (with money, it is completed first),
// and "back to idle" means maintenance when a technician waits, out of
// service while a reason stands.
func (f *Flow) resolve(next kiosk.State) kiosk.State {
	if f.interrupted() {
		switch next {
		case kiosk.StateEnterPhone, kiosk.StateLookup, kiosk.StateConfirm, kiosk.StateConfirmOffline,
			kiosk.StateSelectService, kiosk.StateEnterAccount, kiosk.StateEnterReceipt, kiosk.StateReceiptStatus:
			next = kiosk.StateIdle
		case kiosk.StateInsertCash:
			if f.sess != nil && f.holdsMoney(f.sess) {
				next = kiosk.StateCompleting
			} else {
				next = kiosk.StateIdle
			}
		}
	}
	if resting(next) {
		switch {
		case f.maint || f.maintWanted():
			return kiosk.StateMaintenance
		case len(f.reasons) > 0:
			return kiosk.StateOutOfService
		}
		return kiosk.StateIdle
	}
	return next
}

// enter is the only place the state is set. It does what being in s needs
// and returns the state that follows at once (s itself when it stays).
func (f *Flow) enter(s kiosk.State) kiosk.State {
	prev := f.state
	f.state = s
	f.log.Info("flow state", "from", prev.String(), "to", s.String())
	stopTimer(&f.stateT)
	if f.notice.state != s {
		f.clearNotice()
	}
	if s != kiosk.StateInsertCash {
		f.disableAcceptor()
	}
	// Each state that asks the bank starts its own question below.
	f.cancelLookup()
	switch s {
	case kiosk.StateIdle, kiosk.StateOutOfService, kiosk.StateMaintenance:
		if prev.InSession() {
			// The next customer starts in the kiosk's language, not in the
			// last one's.
			f.lang = f.cfg.Lang
		}
		f.forgetCustomer()
		if s == kiosk.StateMaintenance {
			f.maint = true
		}
		f.restSession()
	case kiosk.StateEnterPhone, kiosk.StateEnterAccount, kiosk.StateEnterReceipt:
		f.armState(f.cfg.PhoneTimeout)
	case kiosk.StateSelectService:
		f.page = 0
		f.armState(f.cfg.PhoneTimeout)
	case kiosk.StateReceiptStatus:
		f.startReceipt()
		f.armState(f.cfg.ReceiptTimeout)
	case kiosk.StateLookup:
		f.startLookup()
		f.armState(f.cfg.LookupTimeout)
	case kiosk.StateConfirm:
		f.okWait = false
		if !f.svc.Lookup {
			f.startPing()
		}
		f.armState(f.cfg.PhoneTimeout)
	case kiosk.StateConfirmOffline:
		f.digits2 = ""
		f.armState(f.cfg.PhoneTimeout)
	case kiosk.StateInsertCash:
		return f.openSession()
	case kiosk.StateCompleting:
		return f.beginCompleting()
	case kiosk.StateDone:
		f.armState(f.cfg.DoneTimeout)
	}
	return s
}

func (f *Flow) forgetCustomer() {
	f.digits, f.digits2 = "", ""
	f.phone, f.offline = "", false
	f.wallet = kiosk.Wallet{}
	f.svc = f.catalog().Wallet()
	f.account, f.acct = "", kiosk.Account{}
	f.bank, f.okWait = bankUnknown, false
	f.receiptDigits, f.receiptNo, f.receipt, f.receiptMissing = "", 0, nil, false
}

// onKey handles a key press.
func (f *Flow) onKey(k kiosk.Key) kiosk.State {
	if !k.Valid() {
		f.log.Warn("unknown key ignored", "key", string(k))
		return f.state
	}
	// Any key is a customer still there.
	switch f.state {
	case kiosk.StateEnterPhone, kiosk.StateConfirm, kiosk.StateConfirmOffline,
		kiosk.StateSelectService, kiosk.StateEnterAccount, kiosk.StateEnterReceipt:
		f.armState(f.cfg.PhoneTimeout)
	case kiosk.StateInsertCash:
		f.armState(f.cfg.InsertTimeout)
	}
	if k == kiosk.KeyLang {
		f.lang = f.lang.Next()
		return f.state
	}
	switch f.state {
	case kiosk.StateIdle:
		switch k {
		case kiosk.KeyOK:
			f.forgetCustomer()
			return kiosk.StateEnterPhone
		case "0":
			f.forgetCustomer()
			return kiosk.StateSelectService
		}
	case kiosk.StateSelectService:
		return f.selectKey(k)
	case kiosk.StateEnterAccount:
		return f.typeAccount(k)
	case kiosk.StateEnterReceipt:
		return f.typeReceipt(k)
	case kiosk.StateReceiptStatus:
		if k == kiosk.KeyOK || k == kiosk.KeyCancel {
			return kiosk.StateIdle
		}
	case kiosk.StateEnterPhone:
		return f.typePhone(k)
	case kiosk.StateLookup:
		if k == kiosk.KeyCancel {
			return kiosk.StateIdle
		}
	case kiosk.StateConfirm:
		switch k {
		case kiosk.KeyOK:
			return f.confirmOK()
		case kiosk.KeyCancel:
			return kiosk.StateIdle
		}
	case kiosk.StateConfirmOffline:
		return f.typeAgain(k)
	case kiosk.StateInsertCash:
		switch k {
		case kiosk.KeyOK:
			return f.payKey()
		case kiosk.KeyCancel:
			if f.holdsMoney(f.sess) {
				f.showNotice(tNoRefund, tPressPay)
				return f.state
			}
			return kiosk.StateIdle
		}
	case kiosk.StateDone:
		if k == kiosk.KeyOK {
			return kiosk.StateIdle
		}
	}
	return f.state
}

func editDigits(s string, k kiosk.Key) string {
	switch {
	case k.IsDigit() && len(s) < 10:
		return s + string(k)
	case k == kiosk.KeyBack && len(s) > 0:
		return s[:len(s)-1]
	}
	return s
}

func (f *Flow) typePhone(k kiosk.Key) kiosk.State {
	switch k {
	case kiosk.KeyCancel:
		return kiosk.StateIdle
	case kiosk.KeyOK:
		if len(f.digits) < 10 {
			f.showNotice(tNeedTen)
			return f.state
		}
		p, err := kiosk.ParsePhone(f.digits, f.prefixes())
		if err != nil {
			f.log.Info("number refused on the screen", "service", f.svc.ID, "prefix", f.digits[:3], "err", err)
			f.showNotice(tBadNumber)
			return f.state
		}
		f.phone, f.offline = p, false
		return f.afterEntry()
	}
	f.clearNotice()
	f.digits = editDigits(f.digits, k)
	return f.state
}

// typeAgain is the second entry of the offline path: with the bank out of
// reach nobody can confirm whose number it is, so the customer types it
// twice.
func (f *Flow) typeAgain(k kiosk.Key) kiosk.State {
	switch k {
	case kiosk.KeyCancel:
		return kiosk.StateIdle
	case kiosk.KeyOK:
		digitsAccount := f.svc.Account.Kind == kiosk.AccountDigits
		if !digitsAccount && len(f.digits2) < 10 {
			f.showNotice(tNeedTen)
			return f.state
		}
		first := f.phone.Digits()
		if digitsAccount {
			first = f.account
		}
		if f.digits2 == first {
			f.offline = true
			return kiosk.StateInsertCash
		}
		f.log.Info("offline double entry differs; back to the account entry", "service", f.svc.ID, "account", f.maskedPayee())
		back := kiosk.StateEnterPhone
		if digitsAccount {
			back = kiosk.StateEnterAccount
		}
		f.digits, f.account = "", ""
		f.showNoticeIn(back, tMismatch)
		return back
	}
	f.clearNotice()
	if f.svc.Account.Kind == kiosk.AccountDigits {
		f.digits2 = editAccount(f.digits2, k, f.svc.Account.MaxLen)
	} else {
		f.digits2 = editDigits(f.digits2, k)
	}
	return f.state
}

func (f *Flow) startLookup() {
	if !f.svc.IsWallet() {
		f.startAccountLookup()
		return
	}
	f.cancelLookup()
	f.lookupGen++
	ctx, cancel := context.WithCancel(f.ctx)
	done := make(chan struct{})
	f.lookupCancel, f.lookupDone = cancel, done
	gen, phone := f.lookupGen, f.phone
	f.log.Info("looking up wallet", "phone", phone.Masked())
	go func() {
		defer close(done)
		w, err := f.d.Wallets.LookupWallet(ctx, phone)
		select {
		case f.lookupC <- lookupResult{gen: gen, kind: lookWallet, wallet: w, err: err}:
		case <-f.stopped:
		}
	}()
}

func (f *Flow) cancelLookup() {
	if f.lookupCancel != nil {
		f.lookupCancel()
		f.lookupCancel = nil
	}
	f.lookupDone = nil
}

func (f *Flow) onLookup(r lookupResult) kiosk.State {
	if r.gen != f.lookupGen {
		return f.state // an answer that came after its deadline or a CANCEL
	}
	switch {
	case r.kind == lookPing && f.state == kiosk.StateConfirm:
		f.cancelLookup()
		return f.onPing(r)
	case r.kind == lookReceipt && f.state == kiosk.StateReceiptStatus:
		f.cancelLookup()
		return f.onReceipt(r)
	case f.state != kiosk.StateLookup:
		return f.state
	}
	f.cancelLookup()
	if r.kind == lookAccount {
		return f.onAccountLookup(r)
	}
	switch {
	case r.err != nil:
		f.log.Warn("bank lookup failed; offline double entry", "phone", f.phone.Masked(), "err", r.err)
		return kiosk.StateConfirmOffline
	case !r.wallet.Found:
		f.log.Info("no wallet for number", "phone", f.phone.Masked())
		f.showNoticeIn(kiosk.StateEnterPhone, tNotFound)
		return kiosk.StateEnterPhone
	}
	f.wallet = r.wallet
	return kiosk.StateConfirm
}

func (f *Flow) onStateTimeout() kiosk.State {
	switch f.state {
	case kiosk.StateEnterPhone, kiosk.StateConfirm, kiosk.StateConfirmOffline,
		kiosk.StateSelectService, kiosk.StateEnterAccount, kiosk.StateEnterReceipt:
		f.log.Info("no key for a while; back to idle", "state", f.state.String())
		return kiosk.StateIdle
	case kiosk.StateReceiptStatus:
		return kiosk.StateIdle
	case kiosk.StateLookup:
		return f.bankUnreachable(fmt.Errorf("no answer to the lookup within %v", f.cfg.LookupTimeout))
	case kiosk.StateInsertCash:
		if f.holdsMoney(f.sess) {
			f.log.Info("customer left with cash inserted; completing the top-up", "session", f.sess.ID)
			return kiosk.StateCompleting
		}
		return kiosk.StateIdle
	case kiosk.StateCompleting:
		f.giveUpWaiting()
		return kiosk.StateIdle
	case kiosk.StateDone:
		return kiosk.StateIdle
	}
	return f.state
}

// onControl picks up what the other goroutines left: conditions, queue
// changes, the end of maintenance (requests are read by resolve).
func (f *Flow) onControl() kiosk.State {
	f.mu.Lock()
	conds := maps.Clone(f.conds)
	dirty, end := f.queueDirty, f.endMaint
	f.queueDirty, f.endMaint = false, false
	f.mu.Unlock()

	for _, name := range slices.Sorted(maps.Keys(f.condsSeen)) {
		if !conds[name] {
			delete(f.condsSeen, name)
			delete(f.reasons, name)
			f.log.Info("condition cleared", "condition", name)
		}
	}
	for _, name := range slices.Sorted(maps.Keys(conds)) {
		if f.condsSeen[name] {
			continue
		}
		if isOwnReason(name) {
			f.log.Error("condition name is reserved by the flow; ignored", "condition", name)
			continue
		}
		f.disableAcceptor()
		f.condsSeen[name] = true
		f.reasons[name] = "condition"
		f.log.Warn("condition raised; not taking cash", "condition", name)
	}
	if dirty {
		f.checkQueue()
	}
	if end && f.maint {
		f.maint = false
		f.log.Info("maintenance ended")
		return kiosk.StateIdle
	}
	return f.state
}

func isOwnReason(name string) bool {
	switch name {
	case ReasonStarting, ReasonAcceptor, ReasonLedger, ReasonOfflineCap, ReasonUnsettled, ReasonAcceptorGone:
		return true
	}
	return false
}

func (f *Flow) maintWanted() bool {
	f.mu.Lock()
	defer f.mu.Unlock()
	return len(f.waiters) > 0
}

func (f *Flow) grantMaintenance() {
	if f.state != kiosk.StateMaintenance {
		return
	}
	f.mu.Lock()
	defer f.mu.Unlock()
	for _, w := range f.waiters {
		w.done = true
		close(w.granted)
	}
	f.waiters = nil
}

// checkQueue applies the offline caps: while too many top-ups, or too much
// money, wait unsent, the kiosk stops taking cash after the current
// customer.
func (f *Flow) checkQueue() {
	q, err := f.d.Ledger.Queue(f.ctx)
	if err != nil {
		f.log.Warn("cannot read the unsent queue; offline caps keep their last state", "err", err)
		return
	}
	_, was := f.reasons[ReasonOfflineCap]
	over := q.Unsent >= f.cfg.OfflineMaxCount || q.UnsentAmount >= f.cfg.OfflineMaxAmount
	switch {
	case over && !was:
		f.reasons[ReasonOfflineCap] = "unsent top-ups"
		f.log.Warn("offline cap reached; not taking cash until the bank takes the queue",
			"unsent", q.Unsent, "unsent_amount", q.UnsentAmount.String(),
			"max_count", f.cfg.OfflineMaxCount, "max_amount", f.cfg.OfflineMaxAmount.String())
	case !over && was:
		delete(f.reasons, ReasonOfflineCap)
		f.log.Info("offline cap cleared", "unsent", q.Unsent, "unsent_amount", q.UnsentAmount.String())
	}
}

// Timers.

func (f *Flow) armState(d time.Duration) {
	stopTimer(&f.stateT)
	f.stateT = f.d.Clock.NewTimer(d)
}

func stopTimer(t *kiosk.Timer) {
	if *t != nil {
		(*t).Stop()
		*t = nil
	}
}

func (f *Flow) now() time.Time { return f.d.Clock.Now() }

// notice is a one-off message shown in one state for a few seconds. It
// belongs to the event that caused it: once the session takes another bill
// or its total changes, it is about an older bill and no longer shown, so a
// refusal never stays up over the next, accepted note.
type notice struct {
	state kiosk.State
	lines []text
	sess  *session
	seq   int
	total kiosk.Money
}

// current reports whether the notice still speaks of the screen's moment.
func (n notice) current(state kiosk.State, s *session) bool {
	if n.state != state || len(n.lines) == 0 || n.sess != s {
		return false
	}
	return s == nil || (n.seq == s.seq && n.total == s.total)
}

func (f *Flow) showNotice(lines ...text) { f.showNoticeIn(f.state, lines...) }

func (f *Flow) showNoticeIn(s kiosk.State, lines ...text) {
	f.notice = notice{state: s, lines: lines, sess: f.sess}
	if f.sess != nil {
		f.notice.seq, f.notice.total = f.sess.seq, f.sess.total
	}
	stopTimer(&f.noticeT)
	f.noticeT = f.d.Clock.NewTimer(noticeFor)
}

func (f *Flow) clearNotice() {
	f.notice = notice{}
	stopTimer(&f.noticeT)
}

// shutdown leaves the acceptor inert; it runs after ctx ended, so the
// command gets a context of its own.
func (f *Flow) shutdown() {
	// The ledger must still take what the acceptor reports from here on.
	f.ctx = context.WithoutCancel(f.ctx)
	f.stopping = true
	f.cancelLookup()
	for _, t := range []*kiosk.Timer{&f.stateT, &f.noticeT, &f.probeT, &f.recoveryT} {
		stopTimer(t)
	}
	f.setLight(false)
	if err := f.d.Acceptor.Disable(f.ctx); err != nil {
		f.log.Warn("acceptor disable at shutdown failed", "err", err)
	}
	f.acceptorOn, f.enabledSet = false, nil
	if f.sess != nil && f.hasInflight(f.sess) {
		f.log.Info("stopping: waiting for the bill in flight to be reported", "session", f.sess.ID, "wait", f.cfg.SettleWait)
		t := f.d.Clock.NewTimer(f.cfg.SettleWait)
	wait:
		for f.sess != nil && f.hasInflight(f.sess) && f.events != nil {
			select {
			case ev, ok := <-f.events:
				if !ok {
					f.events = nil
					break wait
				}
				f.step(input{kind: inEvent, ev: ev})
			case <-t.C():
				f.log.Warn("stopping without the bill's report; the next start settles it from the acceptor's power-up report")
				break wait
			}
		}
		t.Stop()
	}
	f.log.Info("flow stopped", "state", f.state.String())
}

// Drain hands the flow the acceptor's events that remain once Run has
// returned, until the acceptor (closed by the caller) closes its Events, or
// ctx ends. Each is recorded as Run would: a bill reported stacked at the
// last moment is in the ledger before the daemon exits. It does nothing
// while Run is still running.
func (f *Flow) Drain(ctx context.Context) {
	select {
	case <-f.stopped:
	default:
		return
	}
	for f.events != nil {
		select {
		case ev, ok := <-f.events:
			if !ok {
				return
			}
			f.log.Info("acceptor event after stop", "event", ev.Kind.String(), "value", ev.Value.String())
			f.step(input{kind: inEvent, ev: ev})
		case <-ctx.Done():
			return
		}
	}
}

// start runs before the loop: the acceptor is made inert, and a session a
// crash left open is recovered once the acceptor has said what it found at
// power-up.
func (f *Flow) start() {
	f.events = f.d.Acceptor.Events()
	f.reasons[ReasonStarting] = "waiting for the acceptor"
	f.setLight(false)
	if err := f.d.Acceptor.Disable(f.ctx); err != nil {
		f.log.Debug("acceptor disable at start", "err", err)
	}
	pending, err := f.d.Ledger.PendingRecovery(f.ctx)
	if err != nil {
		f.log.Error("cannot tell whether a session was interrupted; recovering to be safe", "err", err)
		pending = true
	}
	if pending {
		f.log.Warn("a session was interrupted; waiting for the acceptor's power-up report to settle it",
			"wait", f.cfg.RecoveryWait)
		f.awaitPowerUp, f.recoveryPending = true, true
		f.recoveryT = f.d.Clock.NewTimer(f.cfg.RecoveryWait)
	}
	f.checkQueue()
	f.step(input{kind: inControl})
}

// updateStarting ends start-up once the acceptor is ready and the recovery
// of an interrupted session is done.
func (f *Flow) updateStarting() {
	if _, ok := f.reasons[ReasonStarting]; ok && f.readySeen && !f.recoveryPending {
		delete(f.reasons, ReasonStarting)
		f.log.Info("acceptor ready; start-up done")
	}
}
