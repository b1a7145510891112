package ccnet

import (
	"errors"
	"fmt"
	"maps"
	"slices"
	"time"

	"tolem/devices/acceptor"
	"tolem/kiosk"
)

// Start-up timing (A.5, A.11).
const (
	resetWait   = 150 * time.Millisecond // at least 100 ms after RESET
	initTimeout = 40 * time.Second       // INITIALIZE may last that long
	settleLimit = 30 * time.Second       // a bill in motion is through by then
)

// rebooted is returned by the poll loop when the unit answers a power-up or
// initialising state: it restarted under the driver and must be set up again.
type rebooted struct{ ans Frame }

func (r rebooted) Error() string {
	return "the bill validator restarted (" + StateName(r.ans.Code()) + ")"
}

// run keeps a connection to the unit for as long as the driver lives.
func (d *Dev) run() {
	defer d.wg.Done()
	acceptor.Reconnect(d.done, d.opts.ReconnectMin, d.opts.ReconnectMax, &d.activity, d.connection, d.offline)
}

// offline records a lost or unreachable unit, reporting the fault once.
func (d *Dev) offline(err error) {
	d.noteError(err)
	d.mu.Lock()
	d.ready = false
	d.releaseHalts()
	d.mu.Unlock()
	d.setState("disconnected")
	if d.faults.Raise(kiosk.FaultDisconnected, err.Error()) {
		d.log.Error("bill validator offline", "err", err)
	}
}

// connection opens the line and serves it until it fails. wasReady reports that
// the unit got initialised on it.
func (d *Dev) connection() (wasReady bool, err error) {
	p, err := d.opts.Open(d.path)
	if err != nil {
		return false, fmt.Errorf("open the bill validator's port: %w", err)
	}
	defer p.Close()
	// Answers meant for a controller that died are still in the buffers.
	if err := p.Flush(); err != nil {
		d.log.Warn("flush serial input", "err", err)
	}
	l := newLink(p, d.path, d.opts.Baud, d.done)
	l.activity = &d.activity
	if d.hook != nil {
		d.hook(l)
	}
	var first *Frame
	for {
		if err := d.initialise(l, first); err != nil {
			return wasReady, err
		}
		wasReady = true
		err := d.pollLoop(l)
		var r rebooted
		if !errors.As(err, &r) {
			d.mu.Lock()
			d.releaseHalts()
			d.mu.Unlock()
			return true, err
		}
		d.log.Warn("bill validator restarted: initialising it again", "state", StateName(r.ans.Code()))
		first = &r.ans
	}
}

// initialise brings the unit from whatever state to initialised and disabled
// (A.11), then reports EventPowerUp, the faults' end and EventReady. first is
// an answer already received that stands for the opening POLL.
func (d *Dev) initialise(l *link, first *Frame) error {
	d.mu.Lock()
	d.ready = false
	d.mu.Unlock()
	d.setState("initializing")

	var ans Frame
	if first != nil {
		ans = *first
	} else {
		var err error
		if ans, _, err = l.exchange(CmdPoll); err != nil {
			return err
		}
	}
	pos, stackedType, settled := kiosk.BillNowhere, -1, false
	switch ans.Code() {
	case StPowerUp, StInitialize:
	case StPowerUpBillHead:
		pos = kiosk.BillInValidator
	case StPowerUpStacker:
		pos = kiosk.BillInStacker
	default:
		// The unit kept running while no driver listened (a replugged cable,
		// a restarted daemon). RESET could lose a bill in motion: let it land
		// first.
		var err error
		if pos, stackedType, err = d.settle(l, ans); err != nil {
			return err
		}
		settled = true
	}

	if _, err := l.command(CmdReset); err != nil {
		return fmt.Errorf("reset the bill validator: %w", err)
	}
	if err := l.wait(resetWait); err != nil {
		return err
	}
	deadline := time.Now().Add(initTimeout)
	var last Frame
	for done := false; !done; {
		ans, _, err := l.exchange(CmdPoll)
		if err != nil {
			return err
		}
		delay := d.opts.PollInterval
		switch c := ans.Code(); {
		case c == EvStacked:
			stackedType = int(ans.Arg(0)) // credit recovery after POWER UP WITH BILL IN STACKER
		case c == StBusy:
			delay = time.Duration(ans.Arg(0)) * 100 * time.Millisecond
		case c == StUnitDisabled, c == StIdling, c >= StCassetteFull && c <= StFailure:
			last, done = ans, true
			continue
		}
		if time.Now().After(deadline) {
			return fmt.Errorf("the bill validator is still %s %v after RESET: power it off and on, then check its cassette and head",
				StateName(ans.Code()), initTimeout)
		}
		if err := l.wait(delay); err != nil {
			return err
		}
	}

	if ans, _, err := l.exchange(CmdGetStatus); err == nil && len(ans.Data) >= 6 {
		d.log.Debug("bill validator status", "enabled", fmt.Sprintf("% X", ans.Data[:3]), "security", fmt.Sprintf("% X", ans.Data[3:6]))
	} else if err != nil {
		return fmt.Errorf("get the bill validator's status: %w", err)
	}
	if _, err := l.command(CmdSetSecurity, 0, 0, 0); err != nil {
		return fmt.Errorf("set the bill validator's security levels: %w", err)
	}
	ans, _, err := l.exchange(CmdIdentification)
	if err != nil {
		return fmt.Errorf("identify the bill validator: %w", err)
	}
	ident, err := ParseIdentity(ans.Data)
	if err != nil {
		return fmt.Errorf("identify the bill validator: %w", err)
	}
	if ans, _, err = l.exchange(CmdGetBillTable); err != nil {
		return fmt.Errorf("read the bill validator's bill table: %w", err)
	}
	table, err := ParseBillTable(ans.Data)
	if err != nil {
		return fmt.Errorf("read the bill validator's bill table: %w", err)
	}
	d.learn(ident, table)

	if pos == kiosk.BillInStacker && stackedType < 0 {
		// Credit recovery should have come with initialisation; give a slow
		// unit a few more polls before reporting the bill without its value.
		for range 3 {
			if err := l.wait(d.opts.PollInterval); err != nil {
				return err
			}
			a, _, err := l.exchange(CmdPoll)
			if err != nil {
				return err
			}
			if a.Code() == EvStacked {
				stackedType = int(a.Arg(0))
				break
			}
			last = a
		}
	}

	d.mu.Lock()
	b := d.bill
	d.bill = nil
	d.want, d.dirty = 0, false // RESET left the unit disabled
	d.mu.Unlock()
	d.poll = pollMemory{expectRecovery: pos == kiosk.BillInStacker && stackedType < 0}

	if b != nil && b.told && settled {
		// The unit kept running: the flow hears the end of the bill it knows
		// as it would have while polling.
		switch {
		case pos == kiosk.BillInStacker, pos == kiosk.BillNowhere && b.phase == phaseStacking:
			d.emit(kiosk.AcceptorEvent{Kind: kiosk.EventStacked, Value: b.value})
		default:
			d.emit(kiosk.AcceptorEvent{Kind: kiosk.EventReturned, Value: b.value})
		}
		pos, stackedType = kiosk.BillNowhere, -1
	}
	value := d.valueOf(stackedType)
	if value == 0 && b != nil && pos != kiosk.BillNowhere {
		value = b.value // the unit restarted with the bill it had escrowed
	}
	if pos == kiosk.BillNowhere {
		value = 0
	}
	d.emit(kiosk.AcceptorEvent{Kind: kiosk.EventPowerUp, BillAt: pos, Value: value})
	if err := d.observe(last); err != nil {
		return err
	}
	d.faults.Clear(kiosk.FaultDisconnected)
	d.mu.Lock()
	d.ready = true
	d.mu.Unlock()
	d.emit(kiosk.AcceptorEvent{Kind: kiosk.EventReady})
	return nil
}

// settle lets a bill the unit is handling come to rest before RESET, and says
// where it went: a bill in escrow is stacked if the flow asked for it and
// returned otherwise (the flow's session cannot be waiting for it any more).
func (d *Dev) settle(l *link, ans Frame) (pos kiosk.BillPosition, typ int, err error) {
	typ = -1
	deadline := time.Now().Add(settleLimit)
	for {
		switch ans.Code() {
		case EvEscrow, StHolding:
			cmd := byte(CmdReturn)
			d.mu.Lock()
			if b := d.bill; b != nil && b.decision == CmdStack {
				cmd = CmdStack
			}
			d.mu.Unlock()
			if ans.Code() == EvEscrow {
				typ = int(ans.Arg(0))
			}
			if _, err := l.command(cmd); err != nil && !errors.Is(err, errIllegal) {
				return pos, typ, err
			}
			if cmd == CmdReturn {
				pos = kiosk.BillInValidator
			}
		case StStacking:
			pos = kiosk.BillInStacker
		case StReturning:
			pos = kiosk.BillInValidator
		case EvStacked, EvReturned:
			d.mu.Lock()
			known := d.bill != nil
			d.mu.Unlock()
			if !known && d.hasLastEnd && d.lastEnd == [2]byte{ans.Code(), ans.Arg(0)} {
				// The unit repeats the end of a bill this driver already
				// reported before the link dropped: not a new bill.
				d.log.Info("unit repeated a bill's end across a reconnect; already counted", "answer", StateName(ans.Code()))
				break
			}
			typ = int(ans.Arg(0))
			if ans.Code() == EvStacked {
				pos = kiosk.BillInStacker
			} else {
				pos = kiosk.BillInValidator
			}
		case StAccepting, StRejecting, StBusy, StPause:
		default:
			return pos, typ, nil
		}
		if time.Now().After(deadline) {
			return pos, typ, fmt.Errorf("the bill validator stayed %s for %v: check its head for a stuck bill", StateName(ans.Code()), settleLimit)
		}
		if err := l.wait(d.opts.PollInterval); err != nil {
			return pos, typ, err
		}
		if ans, _, err = l.exchange(CmdPoll); err != nil {
			return pos, typ, err
		}
	}
}

// learn takes in the unit's identity and bill table.
func (d *Dev) learn(ident Identity, table [NumTypes]BillType) {
	var values [NumTypes]kiosk.Money
	unmapped := map[string]bool{}
	currency := ""
	var denoms []string
	for t, b := range table {
		if b.Empty() {
			continue
		}
		iso, ok := d.currencyOf(b.Country)
		v, vok := b.Minor()
		switch {
		case !ok:
			unmapped[b.Country] = true
		case iso == kiosk.Currency && vok:
			values[t] = kiosk.Money(v)
			currency = iso
			denoms = append(denoms, fmt.Sprintf("%d:%s", t, kiosk.Money(v)))
		default:
			d.log.Warn("bill type not usable: the kiosk takes tenge only", "type", t, "bill", b.String(), "currency", iso)
		}
	}
	d.mu.Lock()
	d.ident, d.table, d.values, d.currency = ident, table, values, currency
	d.mu.Unlock()
	d.log.Info("bill validator identified", "model", ident.PartNumber, "serial", ident.Serial,
		"currency", currency, "bills", denoms)
	if len(unmapped) > 0 {
		d.log.Warn("bill table has country codes the kiosk does not know; those bills stay disabled",
			"codes", slices.Sorted(maps.Keys(unmapped)), "fix", "map them in the acceptor's currencies setting")
	}
	if currency == "" {
		err := errors.New("the bill validator's table has no tenge bills: check its firmware or the currencies setting")
		d.noteError(err)
		d.log.Error("bill validator cannot take cash", "err", err)
	}
}

// valueOf is the value of bill type t, 0 when unknown or unusable.
func (d *Dev) valueOf(t int) kiosk.Money {
	if t < 0 || t >= NumTypes {
		return 0
	}
	d.mu.Lock()
	defer d.mu.Unlock()
	return d.values[t]
}

// releaseHalts wakes Halt calls; d.mu held.
func (d *Dev) releaseHalts() {
	for _, ch := range d.halts {
		close(ch)
	}
	d.halts = nil
}

// pollLoop polls the unit and sends the queued commands until the line fails
// or the unit restarts.
func (d *Dev) pollLoop(l *link) error {
	next := time.Now()
	for {
		if err := d.sendQueued(l); err != nil {
			return err
		}
		if wait := time.Until(next); wait > 0 {
			t := time.NewTimer(wait)
			select {
			case <-d.done:
				t.Stop()
				return errClosed
			case <-d.wake:
				t.Stop()
				continue
			case <-t.C:
			}
		}
		ans, _, err := l.exchange(CmdPoll)
		next = time.Now().Add(d.opts.PollInterval)
		switch {
		case errors.Is(err, errGarbled):
			d.noteError(err)
			continue
		case err != nil:
			return err
		}
		if ans.Code() == StBusy {
			next = time.Now().Add(time.Duration(ans.Arg(0)) * 100 * time.Millisecond)
		}
		if err := d.observe(ans); err != nil {
			return err
		}
	}
}

// sendQueued sends what the API asked for: the bills to enable, the decision
// on the bill in escrow, or a HOLD while the flow has not decided.
func (d *Dev) sendQueued(l *link) error {
	d.mu.Lock()
	dirty, want := d.dirty, d.want
	var cmd byte
	b := d.bill
	if b != nil && b.phase == phaseEscrow {
		switch {
		case b.decision != 0 && b.tries < maxRepeat:
			cmd = b.decision
		case b.decision == 0 && d.clock.Now().Sub(b.lastHold) >= d.opts.HoldInterval:
			cmd = CmdHold
		}
	}
	d.mu.Unlock()

	if cmd != 0 {
		resent, err := l.command(cmd)
		if err := d.decided(b, cmd, resent, err); err != nil {
			return err
		}
	}
	if dirty {
		m := want.Bytes()
		// Escrow stays on for every type, whatever is enabled: a bill the
		// unit was already drawing in when the kiosk disabled it (a stop, a
		// fault) then waits in escrow for a decision, instead of going
		// straight into the cassette with no record in the ledger.
		e := AllTypes.Bytes()
		_, err := l.command(CmdEnableBillType, m[0], m[1], m[2], e[0], e[1], e[2])
		switch {
		case err == nil:
			d.mu.Lock()
			if d.want == want {
				d.dirty = false
				d.releaseHalts()
			}
			d.mu.Unlock()
			d.log.Info("bill types enabled", "mask", fmt.Sprintf("% X", m))
		case errors.Is(err, errIllegal), errors.Is(err, errGarbled):
			// Not possible in the unit's present state (a fault): try again
			// after the next POLL.
			d.noteError(fmt.Errorf("enable bill types % X: %w", m, err))
		default:
			return err
		}
	}
	return nil
}

// decided records the outcome of STACK, RETURN or HOLD.
func (d *Dev) decided(b *inFlight, cmd byte, resent bool, err error) error {
	switch {
	case err == nil || (errors.Is(err, errIllegal) && resent && cmd != CmdHold):
		// ILLEGAL to a repeated STACK or RETURN: the first copy got through
		// and the bill is on its way already.
		d.mu.Lock()
		switch cmd {
		case CmdHold:
			b.lastHold = d.clock.Now()
		case CmdStack:
			b.phase = phaseStacking
		case CmdReturn:
			b.phase = phaseReturning
		}
		d.mu.Unlock()
		if cmd == CmdStack {
			d.stackingTaken(b)
		}
		return nil
	case errors.Is(err, errIllegal), errors.Is(err, errGarbled):
		// The unit is not in escrow (any more): the next POLL says why.
		d.mu.Lock()
		if cmd == CmdHold {
			b.lastHold = d.clock.Now()
		} else {
			b.tries++
		}
		d.mu.Unlock()
		d.noteError(fmt.Errorf("%s: %w", cmdName(cmd), err))
		return nil
	default:
		return err
	}
}

// stackingTaken tells the flow, once per bill, that the unit took STACK for
// it: from here the bill is on its way into the cassette.
func (d *Dev) stackingTaken(b *inFlight) {
	d.mu.Lock()
	tell := b.told && !b.stackingTold
	b.stackingTold = true
	d.mu.Unlock()
	if tell {
		d.emit(kiosk.AcceptorEvent{Kind: kiosk.EventStacking, Value: b.value})
	}
}

func cmdName(cmd byte) string {
	switch cmd {
	case CmdStack:
		return "STACK"
	case CmdReturn:
		return "RETURN"
	case CmdHold:
		return "HOLD"
	}
	return fmt.Sprintf("command %02X", cmd)
}

// pollMemory is what the poll loop remembers between answers.
type pollMemory struct {
	prev    [2]byte // the last answer, to tell a repeated event from a new one
	hasPrev bool
	// expectRecovery: the unit came up with a bill in the stacker and has not
	// reported its STACKED yet; that one was told with EventPowerUp.
	expectRecovery bool
}

// observe turns one POLL answer into events. Escrow, Stacked and Returned
// come once per bill however often the unit repeats an answer, and a bill
// whose end the unit never reported (an answer lost to line noise with a unit
// that does not repeat it) is concluded from the state that follows.
func (d *Dev) observe(ans Frame) error {
	if len(ans.Data) == 0 {
		return nil
	}
	code, arg := ans.Code(), ans.Arg(0)
	cur := [2]byte{code, arg}
	repeat := d.poll.hasPrev && d.poll.prev == cur
	if code != StBusy {
		d.poll.prev, d.poll.hasPrev = cur, true
	}
	d.setState(StateName(code))

	switch code {
	case StPowerUp, StPowerUpBillHead, StPowerUpStacker, StInitialize:
		return rebooted{ans: ans}

	case EvEscrow:
		d.faults.ClearAll()
		d.hasLastEnd = false
		d.mu.Lock()
		b := d.bill
		d.mu.Unlock()
		if b != nil && b.typ == int(arg) {
			// Still the same bill. Seen again after a STACK or RETURN that
			// seemed to go through, it is not on its way after all: the
			// decision is sent again rather than the bill counted twice.
			d.mu.Lock()
			b.phase = phaseEscrow
			d.mu.Unlock()
			return nil
		}
		if b != nil {
			d.missedEnd(b)
		}
		nb := &inFlight{typ: int(arg), value: d.valueOf(int(arg)), lastHold: d.clock.Now()}
		// Never enabled, so never expected: give it back unannounced.
		nb.told = nb.value != 0
		if !nb.told {
			nb.decision = CmdReturn
		}
		// In place before the event, so that the flow's Stack finds it.
		d.mu.Lock()
		d.bill = nb
		d.mu.Unlock()
		if nb.told {
			d.emit(kiosk.AcceptorEvent{Kind: kiosk.EventEscrow, Value: nb.value})
		} else {
			d.log.Warn("bill of a type the kiosk cannot value in escrow: returning it", "type", arg)
			d.emit(kiosk.AcceptorEvent{Kind: kiosk.EventRejected, Reason: fmt.Sprintf("unknown bill type %d", arg)})
		}

	case StHolding:
		d.faults.ClearAll()

	case StStacking, StReturning:
		d.faults.ClearAll()
		d.mu.Lock()
		if d.bill == nil {
			// A type enabled without escrow, or a bill the driver missed.
			d.bill = &inFlight{typ: -1}
		}
		b := d.bill
		if code == StStacking {
			b.phase = phaseStacking
		} else {
			b.phase = phaseReturning
		}
		stacking := code == StStacking && b.decision == CmdStack
		d.mu.Unlock()
		if stacking {
			// The ACK to STACK was lost, but the unit is stacking it.
			d.stackingTaken(b)
		}

	case EvStacked, EvReturned:
		d.faults.ClearAll()
		if repeat {
			return nil
		}
		d.lastEnd, d.hasLastEnd = cur, true
		d.mu.Lock()
		b := d.bill
		d.bill = nil
		d.mu.Unlock()
		value := d.valueOf(int(arg))
		if b != nil && b.value != 0 {
			value = b.value
		}
		switch {
		case code == EvStacked && b == nil && d.poll.expectRecovery:
			d.poll.expectRecovery = false
			d.log.Info("credit recovery reported late; the bill was told with the power-up", "value", value.String())
		case code == EvStacked:
			if b != nil && !b.told && b.value == 0 {
				d.log.Error("a bill the kiosk cannot value went into the cassette", "type", arg)
			}
			d.emit(kiosk.AcceptorEvent{Kind: kiosk.EventStacked, Value: value})
		case b != nil && b.told:
			d.emit(kiosk.AcceptorEvent{Kind: kiosk.EventReturned, Value: value})
		}

	case StRejecting:
		d.faults.ClearAll()
		if !repeat {
			d.emit(kiosk.AcceptorEvent{Kind: kiosk.EventRejected, Reason: RejectReason(arg)})
		}

	case StIdling, StUnitDisabled, StAccepting:
		d.faults.ClearAll()
		if code == StAccepting {
			d.hasLastEnd = false
		}
		d.mu.Lock()
		b := d.bill
		d.bill = nil
		d.mu.Unlock()
		if b != nil {
			d.missedEnd(b)
		}

	case StBusy:

	case StCassetteFull, StCassetteOut, StValidatorJammed, StCassetteJammed, StCheated, StPause, StFailure:
		if code == StCassetteFull {
			// The last bill filled the cassette: a stacking bill got in.
			d.mu.Lock()
			b := d.bill
			if b != nil && b.phase == phaseStacking {
				d.bill = nil
			} else {
				b = nil
			}
			d.mu.Unlock()
			if b != nil {
				d.missedEnd(b)
			}
		}
		f, detail := faultOf(code, arg)
		d.faults.Raise(f, detail)

	default:
		if !repeat {
			d.log.Warn("unknown answer from the bill validator", "answer", fmt.Sprintf("% X", ans.Data))
		}
	}
	return nil
}

// missedEnd concludes how a bill ended when the unit moved on without saying:
// one being stacked went in, any other went back to the customer.
func (d *Dev) missedEnd(b *inFlight) {
	d.mu.Lock()
	if d.bill == b {
		d.bill = nil
	}
	d.mu.Unlock()
	if !b.told && b.phase != phaseStacking {
		return
	}
	if b.phase == phaseStacking {
		d.log.Warn("the unit did not report STACKED; concluded from its states", "value", b.value.String())
		d.emit(kiosk.AcceptorEvent{Kind: kiosk.EventStacked, Value: b.value})
		return
	}
	d.log.Warn("the unit did not report RETURNED; concluded from its states", "value", b.value.String())
	d.emit(kiosk.AcceptorEvent{Kind: kiosk.EventReturned, Value: b.value})
}

func faultOf(code, arg byte) (kiosk.Fault, string) {
	switch code {
	case StCassetteFull:
		return kiosk.FaultCassetteFull, "drop cassette full: empty it"
	case StCassetteOut:
		return kiosk.FaultCassetteRemoved, "drop cassette out of position: insert and lock it"
	case StValidatorJammed:
		return kiosk.FaultJammed, "bill stuck in the validator head: open the head and remove it"
	case StCassetteJammed:
		return kiosk.FaultCassetteJammed, "bill stuck in the drop cassette: open the cassette and remove it"
	case StCheated:
		return kiosk.FaultCheated, "fraud attempt detected"
	case StPause:
		return kiosk.FaultPause, "a second bill was pushed in while one is in escrow"
	}
	return kiosk.FaultFailure, FailureDetail(arg)
}
