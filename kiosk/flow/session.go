package flow

import (
	"context"
	"errors"
	"fmt"
	"slices"
	"time"

	"tolem/kiosk"
)

// session is the open ledger session of a customer, from insert_cash until
// its top-up is committed (or it is closed without money).
type session struct {
	kiosk.Session
	seq    int
	total  kiosk.Money // stacked, whether or not the ledger took the mark yet
	counts map[kiosk.Money]int
	// unmarked are ledger writes about this session's bills that failed;
	// they are made again before the session is committed.
	unmarked []unmarked
}

type unmarked struct {
	rec    kiosk.BillRecord
	record bool // the escrow record itself is missing too
	to     kiosk.BillState
}

// bill is a bill between the acceptor's escrow report and its stacked or
// returned report. sess is nil for a bill the kiosk decided to return.
type bill struct {
	rec        kiosk.BillRecord
	sess       *session
	recorded   bool
	stackSent  bool
	stackTaken bool
}

// committed is what the session holds or is about to hold: the maximum
// applies to it, so that a bill still stacking counts.
func (f *Flow) committed(s *session) kiosk.Money {
	m := s.total
	for _, b := range f.pending {
		if b.sess == s && b.recorded {
			m += b.rec.Value
		}
	}
	return m
}

func (f *Flow) hasInflight(s *session) bool {
	return slices.ContainsFunc(f.pending, func(b *bill) bool { return b.sess == s && b.recorded })
}

// holdsMoney reports whether the session has cash in it, or on its way.
func (f *Flow) holdsMoney(s *session) bool {
	return s != nil && (s.total > 0 || f.hasInflight(s))
}

func (f *Flow) cmdCtx() context.Context {
	if f.ctx.Err() != nil {
		return context.WithoutCancel(f.ctx)
	}
	return f.ctx
}

func (f *Flow) setLight(on bool) {
	if f.d.Light == nil {
		return
	}
	if err := f.d.Light.SetCashLight(on); err != nil {
		f.log.Warn("bezel light", "on", on, "err", err)
	}
}

// disableAcceptor inhibits every bill; the light goes out first so that it
// is never lit while bills are refused.
func (f *Flow) disableAcceptor() {
	if !f.acceptorOn {
		return
	}
	f.setLight(false)
	if err := f.d.Acceptor.Disable(f.cmdCtx()); err != nil {
		f.log.Warn("acceptor disable failed", "err", err)
	}
	f.acceptorOn, f.enabledSet = false, nil
}

// fitting returns the denominations that still fit under room, ascending.
func fitting(denoms []kiosk.Money, room kiosk.Money) []kiosk.Money {
	var out []kiosk.Money
	for _, d := range denoms {
		if d > 0 && d <= room {
			out = append(out, d)
		}
	}
	slices.Sort(out)
	return slices.Compact(out)
}

// enableFitting enables the acceptor for the bills that still fit, or
// disables it when none does (the screen then asks for PAY).
func (f *Flow) enableFitting() {
	if f.state != kiosk.StateInsertCash || f.sess == nil {
		return
	}
	if f.stopping {
		f.disableAcceptor()
		return
	}
	denoms := f.d.Acceptor.Info().Denominations
	if len(denoms) == 0 {
		f.disableAcceptor()
		f.reasons[ReasonAcceptor] = "no bill table"
		f.log.Error("acceptor reports no denominations; out of service until it reports ready with its bill table")
		return
	}
	set := fitting(denoms, f.cfg.MaxAmount-f.committed(f.sess))
	f.noRoom = len(set) == 0
	if f.noRoom {
		f.disableAcceptor()
		return
	}
	if f.acceptorOn && slices.Equal(set, f.enabledSet) {
		return
	}
	if err := f.d.Acceptor.Enable(f.ctx, set); err != nil {
		f.setLight(false)
		f.acceptorOn, f.enabledSet = false, nil
		f.reasons[ReasonAcceptor] = "enable failed"
		f.log.Error("acceptor refused to enable; out of service until it reports ready", "err", err)
		return
	}
	f.acceptorOn, f.enabledSet = true, set
	f.setLight(true)
}

// openSession records the session as cash may start going in.
func (f *Flow) openSession() kiosk.State {
	s := &session{
		Session: kiosk.Session{ID: f.d.NewID(), Phone: f.phone, Offline: f.offline, OpenedAt: f.now()},
		counts:  map[kiosk.Money]int{},
	}
	f.noRoom = false
	if err := f.d.Ledger.OpenSession(f.ctx, s.Session); err != nil {
		f.ledgerFailed("open session", err)
		return kiosk.StateIdle
	}
	f.sess = s
	f.log.Info("session opened", "session", s.ID, "phone", s.Phone.Masked(), "offline", s.Offline)
	f.armState(f.cfg.InsertTimeout)
	f.enableFitting()
	return kiosk.StateInsertCash
}

// beginCompleting waits for the bills in flight, or commits at once.
func (f *Flow) beginCompleting() kiosk.State {
	if f.sess == nil {
		return kiosk.StateIdle
	}
	if f.hasInflight(f.sess) {
		f.armState(f.cfg.SettleWait)
		return kiosk.StateCompleting
	}
	return f.finish()
}

// finish commits the session once no bill is in flight.
func (f *Flow) finish() kiosk.State {
	t, ok := f.settle()
	if !ok || t == nil {
		return kiosk.StateIdle
	}
	return kiosk.StateDone
}

// giveUpWaiting is completing's deadline: a bill told to stack was never
// reported. The session stays open in the ledger, to be settled by the
// acceptor's next power-up report or the next start's recovery, which know
// where the bill went.
func (f *Flow) giveUpWaiting() {
	for _, b := range f.pending {
		if b.sess == f.sess && b.recorded {
			f.log.Error("acceptor never reported a bill it was told to stack; the session stays open until the acceptor restarts or kioskd does",
				"bill", b.rec.ID, "value", b.rec.Value.String(), "waited", f.cfg.SettleWait)
		}
	}
}

// restSession deals with a session left when the kiosk comes to rest: one
// without money is closed; one with money stays open, and the kiosk out of
// service, until it can be committed.
func (f *Flow) restSession() {
	if f.sess == nil {
		return
	}
	if !f.holdsMoney(f.sess) {
		if _, ok := f.settle(); ok {
			return
		}
	}
	if f.sess != nil {
		f.reasons[ReasonUnsettled] = f.sess.ID
		f.log.Warn("session could not be committed yet; out of service until it is", "session", f.sess.ID,
			"total", f.sess.total.String())
	}
}

// trySettleResting commits a left-over session once its last bill is
// reported, unless the ledger is known to be failing (the probe then does).
func (f *Flow) trySettleResting() {
	if f.sess == nil || !resting(f.state) || f.hasInflight(f.sess) {
		return
	}
	if _, failing := f.reasons[ReasonLedger]; failing {
		return
	}
	f.settle()
}

// settle makes the failed bill writes again, then commits the session: a
// top-up when it holds stacked bills, a plain close otherwise. It reports
// false when the ledger failed (the session then stays).
func (f *Flow) settle() (*kiosk.TopUp, bool) {
	s := f.sess
	if s == nil {
		return nil, true
	}
	now := f.now()
	for len(s.unmarked) > 0 {
		m := &s.unmarked[0]
		if m.record {
			if err := f.d.Ledger.RecordEscrow(f.ctx, m.rec); err != nil {
				f.ledgerFailed("record escrow", err)
				return nil, false
			}
			m.record = false
		}
		var err error
		if m.to == kiosk.BillStacked {
			err = f.d.Ledger.MarkStacked(f.ctx, m.rec.ID, now)
		} else {
			err = f.d.Ledger.MarkReturned(f.ctx, m.rec.ID, now)
		}
		if err != nil {
			f.ledgerFailed("mark "+string(m.to), err)
			return nil, false
		}
		s.unmarked = s.unmarked[1:]
	}
	if s.total > 0 {
		t, err := f.d.Ledger.CompleteTopUp(f.ctx, s.ID, now)
		switch {
		case err == nil:
			f.dropSession()
			f.topUpDone(t)
			return &t, true
		case errors.Is(err, kiosk.ErrEmptySession):
			f.log.Error("ledger holds no stacked bill of a session the acceptor stacked bills in; closing it, review the journal",
				"session", s.ID, "total", s.total.String())
		default:
			f.ledgerFailed("complete top-up", err)
			return nil, false
		}
	}
	if err := f.d.Ledger.CloseSession(f.ctx, s.ID, now); err != nil {
		f.ledgerFailed("close session", err)
		return nil, false
	}
	f.log.Info("session closed without money", "session", s.ID)
	f.dropSession()
	return nil, true
}

func (f *Flow) topUpDone(t kiosk.TopUp) {
	f.lastTop = t
	f.log.Info("top-up completed", "receipt", t.ReceiptNo, "amount", t.Amount.String(),
		"phone", t.Phone.Masked(), "offline", t.Offline, "session", t.SessionID, "bills", len(t.Bills))
	f.checkQueue()
}

// dropSession forgets the session once the ledger has settled it.
func (f *Flow) dropSession() {
	s := f.sess
	f.sess = nil
	delete(f.reasons, ReasonUnsettled)
	f.pending = slices.DeleteFunc(f.pending, func(b *bill) bool { return b.sess == s })
}

// ledgerFailed takes the kiosk out of service after a failed ledger write:
// the acceptor is disabled before anything else, and the ledger is probed
// until a write succeeds.
func (f *Flow) ledgerFailed(op string, err error) {
	f.disableAcceptor()
	if f.ctx.Err() != nil {
		return // shutting down: the write failed because ctx ended
	}
	f.log.Error("ledger write failed; out of service until a write succeeds (check the data directory: disk full or read-only?)",
		"op", op, "err", err)
	f.reasons[ReasonLedger] = op
	if f.probeT == nil {
		f.probeT = f.d.Clock.NewTimer(probeEvery)
	}
}

// probeLedger writes a health line; once that works, what the failure left
// undone is done, and the kiosk may take cash again.
func (f *Flow) probeLedger() {
	if _, failing := f.reasons[ReasonLedger]; !failing {
		return
	}
	err := f.d.Ledger.Audit(f.ctx, kiosk.AuditEntry{
		At: f.now(), Actor: "system", Action: "ledger_probe",
		Detail: "write test after a failed ledger write",
	})
	if err != nil {
		f.log.Warn("ledger still not writable", "err", err)
		f.probeT = f.d.Clock.NewTimer(probeEvery)
		return
	}
	for len(f.strays) > 0 {
		st := f.strays[0]
		if err := f.d.Ledger.RecordSuspense(f.ctx, st.value, st.at); err != nil {
			f.log.Warn("ledger still not taking a stray bill", "value", st.value.String(), "err", err)
			f.probeT = f.d.Clock.NewTimer(probeEvery)
			return
		}
		f.strays = f.strays[1:]
		f.log.Info("stray bill recorded in suspense after the ledger came back", "value", st.value.String())
		f.audit("suspense_bill", fmt.Sprintf("a %s bill was reported stacked with no session open at %s; it is in suspense until the next collection",
			st.value, st.at.UTC().Format(time.RFC3339)))
	}
	if f.recoveryPending && !f.awaitPowerUp {
		if _, ok := f.recover(f.recoveryReport); !ok {
			return
		}
	}
	if f.sess != nil && resting(f.state) && !f.hasInflight(f.sess) {
		if _, ok := f.settle(); !ok {
			return
		}
	}
	delete(f.reasons, ReasonLedger)
	f.log.Info("ledger writable again")
}

// onEvent handles what the acceptor reports.
func (f *Flow) onEvent(ev kiosk.AcceptorEvent) kiosk.State {
	switch ev.Kind {
	case kiosk.EventReady:
		return f.onReady()
	case kiosk.EventPowerUp:
		return f.onPowerUp(ev)
	case kiosk.EventEscrow:
		return f.onEscrow(ev)
	case kiosk.EventStacking:
		f.onStacking(ev)
	case kiosk.EventStacked:
		return f.onStacked(ev)
	case kiosk.EventReturned:
		return f.onReturned(ev)
	case kiosk.EventRejected:
		f.log.Info("bill refused by the acceptor", "reason", ev.Reason)
		if f.state == kiosk.StateInsertCash {
			f.armState(f.cfg.InsertTimeout)
			f.showNotice(tRejected)
		}
	case kiosk.EventFault:
		f.disableAcceptor()
		f.fault = ev.Fault
		f.reasons[ReasonAcceptor] = string(ev.Fault)
		f.log.Warn("acceptor fault; not taking cash", "fault", string(ev.Fault), "detail", ev.Detail)
	case kiosk.EventFaultCleared:
		if _, ok := f.reasons[ReasonAcceptor]; ok {
			f.log.Info("acceptor faults cleared", "fault", string(f.fault))
		}
		delete(f.reasons, ReasonAcceptor)
		f.fault = ""
	default:
		f.log.Warn("unknown acceptor event ignored", "kind", ev.Kind.String())
	}
	return f.state
}

func (f *Flow) onReady() kiosk.State {
	f.readySeen = true
	if f.awaitPowerUp {
		f.log.Warn("acceptor ready without a power-up report; recovering the interrupted session without it")
		f.recover(nil)
	}
	if _, ok := f.reasons[ReasonAcceptor]; ok && len(f.d.Acceptor.Info().Faults) == 0 {
		delete(f.reasons, ReasonAcceptor)
		f.fault = ""
		f.log.Info("acceptor ready again")
	}
	f.updateStarting()
	if f.state == kiosk.StateInsertCash {
		// A re-initialised device has forgotten what it was enabled for.
		f.acceptorOn, f.enabledSet = false, nil
		f.enableFitting()
	}
	return f.state
}

// onPowerUp settles, with what the device found, whatever its restart left
// open: at start the session a crash interrupted; later the session whose
// bill was in flight when the device restarted, or a bill no session owns.
func (f *Flow) onPowerUp(ev kiosk.AcceptorEvent) kiosk.State {
	rep := &kiosk.PowerUpReport{BillAt: ev.BillAt, Value: ev.Value}
	f.log.Info("acceptor power-up", "bill_at", ev.BillAt.String(), "value", ev.Value.String())
	if f.awaitPowerUp {
		f.recover(rep)
		return f.state
	}
	if f.lateReport {
		f.lateReport = false
		if f.sess == nil || !f.hasInflight(f.sess) {
			// Recovery at start gave up waiting for this report: the bills it
			// left uncertain are settled by it, and a bill in the stacker is
			// theirs before it is anyone else's.
			f.setLight(false)
			f.acceptorOn, f.enabledSet = false, nil
			f.settleLate(rep)
			return f.state
		}
	}
	// The device restarted inhibited; EventReady re-enables it in
	// insert_cash.
	f.setLight(false)
	f.acceptorOn, f.enabledSet = false, nil
	// The device forgot the bills it had: a bill we meant to return is
	// either back with the customer or reported here.
	f.pending = slices.DeleteFunc(f.pending, func(b *bill) bool { return !b.recorded })
	switch {
	case f.sess != nil && f.hasInflight(f.sess):
		t, ok := f.recover(rep)
		if !ok || (f.state != kiosk.StateInsertCash && f.state != kiosk.StateCompleting) {
			return f.state
		}
		if t != nil {
			return kiosk.StateDone
		}
		return kiosk.StateIdle
	case ev.BillAt == kiosk.BillInStacker && f.sess == nil:
		f.recover(rep)
	case ev.BillAt == kiosk.BillInStacker:
		f.strayStacked(ev.Value)
	}
	return f.state
}

// recover hands the ledger what the acceptor reported at power-up (nil when
// it did not) to settle open sessions and bills. It returns the top-up made
// for the session in memory, if any.
func (f *Flow) recover(p *kiosk.PowerUpReport) (*kiosk.TopUp, bool) {
	f.awaitPowerUp = false
	stopTimer(&f.recoveryT)
	f.recoveryPending, f.recoveryReport = true, p
	rep, err := f.d.Ledger.Recover(f.ctx, p, f.now())
	if err != nil {
		f.ledgerFailed("recover", err)
		return nil, false
	}
	f.recoveryPending, f.recoveryReport = false, nil
	attrs := []any{"stacked", rep.Stacked, "returned", rep.Returned, "uncertain", rep.Uncertain,
		"suspense", rep.Suspense, "emptied", rep.Emptied, "topups", len(rep.TopUps)}
	if p != nil {
		attrs = append(attrs, "bill_at", p.BillAt.String(), "value", p.Value.String())
	} else {
		attrs = append(attrs, "report", "none")
	}
	f.log.Info("recovery done", attrs...)
	for _, t := range rep.TopUps {
		f.log.Info("recovered top-up", "receipt", t.ReceiptNo, "amount", t.Amount.String(),
			"phone", t.Phone.Masked(), "session", t.SessionID)
	}
	if rep.Uncertain > 0 || rep.Suspense > 0 {
		f.log.Warn("recovery left bills for review; check `review` on the console",
			"uncertain", rep.Uncertain, "suspense", rep.Suspense)
	}
	var mine *kiosk.TopUp
	if f.sess != nil {
		for i := range rep.TopUps {
			if rep.TopUps[i].SessionID == f.sess.ID {
				mine = &rep.TopUps[i]
			}
		}
		f.dropSession()
	}
	if n := len(rep.TopUps); n > 0 {
		f.lastTop = rep.TopUps[n-1]
		if mine != nil {
			f.lastTop = *mine
		}
	}
	f.checkQueue()
	f.updateStarting()
	return mine, true
}

// settleLate applies a power-up report that came after the start's recovery
// had run without one.
func (f *Flow) settleLate(p *kiosk.PowerUpReport) {
	rep, err := f.d.Ledger.SettleLate(f.ctx, p, f.now())
	if err != nil {
		f.ledgerFailed("settle late power-up report", err)
		return
	}
	f.log.Info("late power-up report applied", "bill_at", p.BillAt.String(), "value", p.Value.String(),
		"stacked", rep.Stacked, "returned", rep.Returned, "uncertain", rep.Uncertain, "suspense", rep.Suspense)
	for _, t := range rep.TopUps {
		f.log.Info("follow-up top-up for a bill found in the cassette", "receipt", t.ReceiptNo,
			"amount", t.Amount.String(), "phone", t.Phone.Masked())
	}
	f.checkQueue()
}

// stray is a bill stacked with no session open, not yet in the ledger.
type stray struct {
	value kiosk.Money
	at    time.Time
}

// onStacking records that the acceptor took STACK for the bill told to
// stack: should power fail before its stacked report, a device that then
// reports nothing is proof the bill is in the cassette.
func (f *Flow) onStacking(ev kiosk.AcceptorEvent) {
	for _, b := range f.pending {
		if !b.recorded || !b.stackSent || b.stackTaken || (ev.Value != 0 && b.rec.Value != ev.Value) {
			continue
		}
		b.stackTaken = true
		if err := f.d.Ledger.MarkStacking(f.ctx, b.rec.ID, f.now()); err != nil {
			// Not replayed: its stacked report supersedes it, and without
			// it recovery can only call the bill uncertain, never lose it.
			f.ledgerFailed("mark stacking", err)
		}
		return
	}
	f.log.Warn("acceptor took STACK for a bill the kiosk did not tell it to stack", "value", ev.Value.String())
}

func (f *Flow) returnBill(v kiosk.Money) {
	f.pending = append(f.pending, &bill{rec: kiosk.BillRecord{Value: v}})
	if err := f.d.Acceptor.Return(f.cmdCtx()); err != nil {
		f.log.Warn("return command failed", "value", v.String(), "err", err)
	}
}

// onEscrow decides about a bill in escrow: it is returned unless a session
// takes cash and it fits under the maximum; otherwise it is recorded, and
// only once the record is durable is the acceptor told to stack it.
func (f *Flow) onEscrow(ev kiosk.AcceptorEvent) kiosk.State {
	// One bill at a time goes through the device: an older bill that was to
	// be returned has been reported by now, or never will be.
	f.pending = slices.DeleteFunc(f.pending, func(b *bill) bool { return !b.recorded })
	v := ev.Value
	if f.state != kiosk.StateInsertCash || f.sess == nil || f.stopping {
		f.log.Warn("bill in escrow while not taking cash; returning it", "value", v.String(), "state", f.state.String(), "stopping", f.stopping)
		f.returnBill(v)
		return f.state
	}
	f.armState(f.cfg.InsertTimeout)
	s := f.sess
	if v <= 0 || f.committed(s)+v > f.cfg.MaxAmount {
		f.log.Info("bill would pass the maximum; returning it", "value", v.String(),
			"total", f.committed(s).String(), "max", f.cfg.MaxAmount.String())
		f.returnBill(v)
		f.showNotice(tOverMax)
		return f.state
	}
	s.seq++
	b := &bill{sess: s, rec: kiosk.BillRecord{
		ID: kiosk.BillID(s.ID, s.seq), SessionID: s.ID, Seq: s.seq,
		Value: v, State: kiosk.BillEscrowed, At: f.now(),
	}}
	if err := f.d.Ledger.RecordEscrow(f.ctx, b.rec); err != nil {
		f.ledgerFailed("record escrow", err)
		f.returnBill(v)
		return f.state
	}
	b.recorded = true
	f.pending = append(f.pending, b)
	if err := f.d.Acceptor.Stack(f.ctx); err != nil {
		f.log.Error("stack command failed; waiting for the acceptor to report where the bill went",
			"bill", b.rec.ID, "err", err)
		return f.state
	}
	b.stackSent = true
	return f.state
}

// takePending finds the bill a stacked or returned report is about. Reports
// come in the device's order, so the oldest matching bill is the one; a
// stacked report prefers a bill told to stack, a returned one a bill told
// to return.
func (f *Flow) takePending(v kiosk.Money, stacked bool) *bill {
	rank := func(b *bill) int {
		switch {
		case stacked && b.stackSent, !stacked && !b.recorded:
			return 0
		case b.recorded:
			return 1
		}
		return 2
	}
	best := -1
	for i, b := range f.pending {
		if v != 0 && b.rec.Value != 0 && b.rec.Value != v {
			continue
		}
		if best < 0 || rank(b) < rank(f.pending[best]) {
			best = i
		}
	}
	if best < 0 {
		return nil
	}
	b := f.pending[best]
	f.pending = slices.Delete(f.pending, best, best+1)
	return b
}

func (f *Flow) onStacked(ev kiosk.AcceptorEvent) kiosk.State {
	b := f.takePending(ev.Value, true)
	if b == nil || !b.recorded {
		return f.strayStacked(ev.Value)
	}
	v := ev.Value
	if v == 0 {
		v = b.rec.Value
	}
	s := b.sess
	if err := f.d.Ledger.MarkStacked(f.ctx, b.rec.ID, f.now()); err != nil {
		s.unmarked = append(s.unmarked, unmarked{rec: b.rec, to: kiosk.BillStacked})
		f.ledgerFailed("mark stacked", err)
	}
	s.total += v
	s.counts[v]++
	f.log.Info("bill stacked", "bill", b.rec.ID, "value", v.String(), "total", s.total.String())
	return f.afterBill(s)
}

// strayStacked handles a bill the acceptor stacked without being told to.
// It is money in the cassette: the open session takes it (the customer put
// it in), and with no session the audit keeps it for the collection.
func (f *Flow) strayStacked(v kiosk.Money) kiosk.State {
	s := f.sess
	if s == nil {
		f.log.Error("acceptor stacked a bill with no session open; keeping it in suspense for the next collection",
			"value", v.String())
		st := stray{value: v, at: f.now()}
		if err := f.d.Ledger.RecordSuspense(f.ctx, st.value, st.at); err != nil {
			// Kept until the probe finds the ledger writable again: the
			// bill is in the cassette whatever the disk says.
			f.strays = append(f.strays, st)
			f.ledgerFailed("record suspense", err)
			return f.state
		}
		f.audit("suspense_bill", fmt.Sprintf("a %s bill was reported stacked with no session open; it is in suspense until the next collection", v))
		return f.state
	}
	s.seq++
	rec := kiosk.BillRecord{
		ID: kiosk.BillID(s.ID, s.seq), SessionID: s.ID, Seq: s.seq,
		Value: v, State: kiosk.BillEscrowed, At: f.now(),
	}
	f.log.Error("acceptor stacked a bill it was not told to stack; adding it to the session",
		"bill", rec.ID, "value", v.String())
	if err := f.d.Ledger.RecordEscrow(f.ctx, rec); err != nil {
		s.unmarked = append(s.unmarked, unmarked{rec: rec, record: true, to: kiosk.BillStacked})
		f.ledgerFailed("record escrow", err)
	} else if err := f.d.Ledger.MarkStacked(f.ctx, rec.ID, f.now()); err != nil {
		s.unmarked = append(s.unmarked, unmarked{rec: rec, to: kiosk.BillStacked})
		f.ledgerFailed("mark stacked", err)
	}
	s.total += v
	s.counts[v]++
	return f.afterBill(s)
}

func (f *Flow) onReturned(ev kiosk.AcceptorEvent) kiosk.State {
	b := f.takePending(ev.Value, false)
	if b == nil {
		f.log.Info("bill returned", "value", ev.Value.String())
		return f.state
	}
	if !b.recorded {
		return f.state
	}
	s := b.sess
	if err := f.d.Ledger.MarkReturned(f.ctx, b.rec.ID, f.now()); err != nil {
		s.unmarked = append(s.unmarked, unmarked{rec: b.rec, to: kiosk.BillReturned})
		f.ledgerFailed("mark returned", err)
	}
	f.log.Info("bill returned instead of stacked", "bill", b.rec.ID, "value", b.rec.Value.String())
	return f.afterBill(s)
}

// afterBill follows a bill's last report: the enabled set shrinks as the
// total grows, and a session waiting to complete goes on.
func (f *Flow) afterBill(s *session) kiosk.State {
	if s != f.sess {
		return f.state
	}
	switch f.state {
	case kiosk.StateInsertCash:
		f.armState(f.cfg.InsertTimeout)
		f.enableFitting()
	case kiosk.StateCompleting:
		if !f.hasInflight(s) {
			return f.finish()
		}
	default:
		f.trySettleResting()
	}
	return f.state
}

func (f *Flow) audit(action, detail string) {
	err := f.d.Ledger.Audit(f.ctx, kiosk.AuditEntry{At: f.now(), Actor: "system", Action: action, Detail: detail})
	if err != nil {
		f.ledgerFailed("audit "+action, err)
	}
}
