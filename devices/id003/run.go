package id003

import (
	"errors"
	"fmt"
	"maps"
	"slices"
	"time"

	"tolem/devices/acceptor"
	"tolem/kiosk"
)

// Start-up timing.
const (
	initTimeout = 40 * time.Second // INITIALIZE may take a while
	settleLimit = 30 * time.Second // a bill in motion is through by then
)

// rebooted is returned by the poll loop when the unit answers a power-up or
// initialising status: it restarted under the driver and must be set up
// again.
type rebooted struct{ ans Frame }

func (r rebooted) Error() string {
	return "the bill acceptor restarted (" + StateName(r.ans.Code()) + ")"
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
		d.log.Error("bill acceptor offline", "err", err)
	}
}

// connection opens the line and serves it until it fails. wasReady reports
// that the unit got initialised on it.
func (d *Dev) connection() (wasReady bool, err error) {
	p, err := d.opts.Open(d.path)
	if err != nil {
		return false, fmt.Errorf("open the bill acceptor's port: %w", err)
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
		d.log.Warn("bill acceptor restarted: initialising it again", "state", StateName(r.ans.Code()))
		first = &r.ans
	}
}

// initialise brings the unit from whatever state to initialised and
// inhibited (B.7), then reports EventPowerUp, the faults' end and EventReady.
// first is a status already received that stands for the opening STATUS
// REQUEST.
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
		if ans, _, err = l.exchange(CmdStatusRequest); err != nil {
			return err
		}
	}
	pos, settled := kiosk.BillNowhere, false
	switch ans.Code() {
	case StPowerUp, StInitialize:
	case StPowerUpAcceptor:
		pos = kiosk.BillInValidator
	case StPowerUpStacker:
		pos = kiosk.BillInStacker
	default:
		// The unit kept running while no driver listened (a replugged cable,
		// a restarted daemon). RESET could lose a bill in motion: let it land
		// first.
		var err error
		if pos, err = d.settle(l, ans); err != nil {
			return err
		}
		settled = true
	}
	d.setState(StateName(ans.Code()))

	if _, err := l.command(CmdReset); err != nil {
		return fmt.Errorf("reset the bill acceptor: %w", err)
	}
	// Through INITIALIZE. The settings go as soon as the unit answers after
	// RESET: some units take them while initialising (B.7), the rest once
	// they are through.
	deadline := time.Now().Add(initTimeout)
	var last Frame
	set, vendAfterReset := false, false
	for done := false; !done; {
		if err := l.wait(d.opts.PollInterval); err != nil {
			return err
		}
		ans, _, err := l.exchange(CmdStatusRequest)
		if err != nil {
			return err
		}
		d.setState(StateName(ans.Code()))
		switch c := ans.Code(); c {
		case StVendValid:
			// The bill a power cut left in the stacker, on units that report
			// it: ACKed, and told with the power-up only.
			if err := l.ack(); err != nil {
				return err
			}
			vendAfterReset = true
		case StInitialize, StPowerUp, StPowerUpAcceptor, StPowerUpStacker, StStacked,
			StReturning, StRejecting, StAccepting, StStacking:
		default:
			last, done = ans, true
		}
		if ans.Code() == StInitialize || done {
			if !set {
				err := d.configure(l)
				switch {
				case err == nil:
					set = true
				case errors.Is(err, errInvalid) && !done:
					// Not taken while initialising: again once through.
				default:
					return fmt.Errorf("set the bill acceptor up: %w", err)
				}
			}
		}
		if time.Now().After(deadline) {
			return fmt.Errorf("the bill acceptor is still %s %v after RESET: power it off and on, then check its stacker and head",
				StateName(ans.Code()), initTimeout)
		}
	}

	if last.Code() == StIdling {
		// Through INITIALIZE enabled, whatever it was told while in it.
		if err := l.setting(SetInhibit, 1); err != nil {
			return fmt.Errorf("inhibit the bill acceptor: %w", err)
		}
		st, _, err := l.exchange(CmdStatusRequest)
		if err != nil {
			return err
		}
		last = st
	}

	verAns, _, err := l.exchange(ReqVersion)
	if err != nil {
		return fmt.Errorf("read the bill acceptor's version: %w", err)
	}
	tabAns, _, err := l.exchange(ReqCurrency)
	if err != nil {
		return fmt.Errorf("read the bill acceptor's currency table: %w", err)
	}
	table, err := ParseCurrencyTable(tabAns.Data[1:])
	if err != nil {
		return fmt.Errorf("read the bill acceptor's currency table: %w", err)
	}
	d.learn(ParseVersion(verAns.Data[1:]), table)

	d.mu.Lock()
	b := d.bill
	d.want, d.dirty = 0, false // inhibited by configure
	d.mu.Unlock()
	d.poll = pollMemory{expectVend: pos == kiosk.BillInStacker && !vendAfterReset}

	value := kiosk.Money(0)
	if b.active() {
		switch {
		case b.told && settled:
			// The unit kept running: the flow hears the end of the bill it
			// knows as it would have while polling.
			if pos == kiosk.BillInStacker || pos == kiosk.BillNowhere && b.phase == phaseStacking {
				d.stacked(b)
			} else {
				d.returned(b)
			}
			pos = kiosk.BillNowhere
		case pos != kiosk.BillNowhere:
			// The unit restarted with the bill it had escrowed: the power-up
			// report tells its fate.
			value = b.value
		}
		d.mu.Lock()
		if b.active() {
			// What the restart did with it, for the memory of the last bill.
			switch {
			case pos == kiosk.BillInStacker, pos == kiosk.BillNowhere && b.phase == phaseStacking:
				b.phase = phaseStacked
			default:
				b.phase = phaseReturned
			}
		}
		d.mu.Unlock()
	}
	d.emit(kiosk.AcceptorEvent{Kind: kiosk.EventPowerUp, BillAt: pos, Value: value})
	if err := d.observe(l, last); err != nil {
		return err
	}
	d.faults.Clear(kiosk.FaultDisconnected)
	d.mu.Lock()
	d.ready = true
	d.mu.Unlock()
	d.emit(kiosk.AcceptorEvent{Kind: kiosk.EventReady})
	return nil
}

// configure sends the settings, the unit inhibited before and after them:
// units differ in how they come out of INITIALIZE.
func (d *Dev) configure(l *link) error {
	inhibitAll := d.opts.Layout.Bytes(0)
	steps := [][]byte{
		{SetInhibit, 1},
		{SetEnable, inhibitAll[0], inhibitAll[1]},
		{SetSecurity, 0, 0},
		{SetCommMode, 0}, // polling: the driver asks, the unit answers
		{SetDirection, 0},
		{SetOptional, d.opts.OptionalFunctions[0], d.opts.OptionalFunctions[1]},
		{SetInhibit, 1},
	}
	for _, s := range steps {
		if err := l.setting(s...); err != nil {
			return err
		}
	}
	return nil
}

// settle lets a bill the unit is handling come to rest before RESET, and says
// where it went. A bill in escrow is stacked if the flow asked for it and
// returned otherwise (the flow's session cannot be waiting for it any more).
func (d *Dev) settle(l *link, ans Frame) (pos kiosk.BillPosition, err error) {
	deadline := time.Now().Add(settleLimit)
	d.mu.Lock()
	b := d.bill
	d.mu.Unlock()
	for {
		d.setState(StateName(ans.Code()))
		switch ans.Code() {
		case StEscrow, StHolding:
			cmd := byte(CmdReturn)
			d.mu.Lock()
			if b.active() && b.decision != 0 && b.decision != CmdReturn && (ans.Code() == StHolding || ans.Arg(0) == b.code) {
				cmd = b.decision
			}
			d.mu.Unlock()
			if _, err := l.command(cmd); err != nil && !errors.Is(err, errInvalid) {
				return pos, err
			}
			if cmd == CmdReturn {
				pos = kiosk.BillInValidator
			}
		case StStacking:
			pos = kiosk.BillInStacker
		case StVendValid:
			if err := l.ack(); err != nil {
				return pos, err
			}
			// Counted already if the driver heard it before the line broke.
			if b == nil || b.phase != phaseStacked {
				pos = kiosk.BillInStacker
			}
		case StStacked:
			// STACKED comes after the VEND VALID was ACKed: the controller
			// that ACKed it had the credit. Only a bill this driver knows to
			// be on its way is still to be told.
			if b.active() && b.phase == phaseStacking {
				pos = kiosk.BillInStacker
			}
		case StReturning:
			pos = kiosk.BillInValidator
		case StAccepting, StRejecting, StPause:
		default:
			return pos, nil
		}
		if time.Now().After(deadline) {
			return pos, fmt.Errorf("the bill acceptor stayed %s for %v: check its head for a stuck bill", StateName(ans.Code()), settleLimit)
		}
		if err := l.wait(d.opts.PollInterval); err != nil {
			return pos, err
		}
		if ans, _, err = l.exchange(CmdStatusRequest); err != nil {
			return pos, err
		}
	}
}

// learn takes in the unit's version and currency table.
func (d *Dev) learn(ver Version, table []Denom) {
	var values [NumDenoms]kiosk.Money
	byCountry := map[byte][]Denom{}
	for _, e := range table {
		if !e.Empty() {
			byCountry[e.Country] = append(byCountry[e.Country], e)
		}
	}
	pinned := false
	for _, iso := range d.opts.Countries {
		pinned = pinned || iso == kiosk.Currency
	}
	currency := ""
	var denoms []string
	for _, c := range slices.Sorted(maps.Keys(byCountry)) {
		entries := byCountry[c]
		iso, mapped := d.opts.Countries[c]
		if !mapped {
			iso, mapped = foreignCountries[c]
		}
		if !mapped && !pinned && allTenge(entries) {
			iso = kiosk.Currency
			d.log.Warn("country code taken for tenge: every bill under it is a tenge banknote",
				"country", fmt.Sprintf("0x%02X", c), "fix", fmt.Sprintf("pin it with acceptor.currencies: {\"0x%02X\": KZT}", c))
		}
		if iso != kiosk.Currency {
			d.log.Warn("bills not usable: the kiosk takes tenge only", "country", fmt.Sprintf("0x%02X", c),
				"currency", iso, "bills", fmt.Sprint(entries))
			continue
		}
		for _, e := range entries {
			v, ok := e.Minor()
			if !ok {
				continue
			}
			values[e.Code-DenomFirst] = kiosk.Money(v)
			currency = iso
			denoms = append(denoms, fmt.Sprintf("%02X:%s", e.Code, kiosk.Money(v)))
		}
	}
	d.mu.Lock()
	d.version, d.table, d.values, d.currency = ver, table, values, currency
	d.mu.Unlock()
	d.log.Info("bill acceptor identified", "model", ver.Model, "firmware", ver.Firmware,
		"currency", currency, "bills", denoms)
	if currency == "" {
		err := errors.New("the bill acceptor's currency table has no tenge bills: check its firmware or the acceptor.currencies setting")
		d.noteError(err)
		d.log.Error("bill acceptor cannot take cash", "err", err, "table", fmt.Sprint(table))
	}
}

func allTenge(entries []Denom) bool {
	for _, e := range entries {
		v, ok := e.Minor()
		if !ok || !slices.Contains(tengeNotes, kiosk.Money(v)) {
			return false
		}
	}
	return len(entries) > 0
}

// valueOf is the value of denomination code c, 0 when unknown or unusable.
func (d *Dev) valueOf(c byte) kiosk.Money {
	if c < DenomFirst || c > DenomLast {
		return 0
	}
	d.mu.Lock()
	defer d.mu.Unlock()
	return d.values[c-DenomFirst]
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
		ans, _, err := l.exchange(CmdStatusRequest)
		next = time.Now().Add(d.opts.PollInterval)
		switch {
		case errors.Is(err, errGarbled):
			d.noteError(err)
			continue
		case err != nil:
			return err
		}
		if err := d.observe(l, ans); err != nil {
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
		_, err := l.command(cmd)
		if err := d.decided(b, cmd, err); err != nil {
			return err
		}
	}
	if dirty {
		err := d.sendEnable(l, want)
		switch {
		case err == nil:
			d.mu.Lock()
			if d.want == want {
				d.dirty = false
				d.releaseHalts()
			}
			d.mu.Unlock()
		case errors.Is(err, errInvalid), errors.Is(err, errGarbled):
			// Not possible in the unit's present state (a fault, a bill
			// moving): again after the next status.
			d.noteError(fmt.Errorf("enable bills %08b: %w", want, err))
		default:
			return err
		}
	}
	return nil
}

// sendEnable lets the codes in want through, or inhibits the unit for none.
func (d *Dev) sendEnable(l *link, want DenomMask) error {
	if want == 0 {
		if err := l.setting(SetInhibit, 1); err != nil {
			return err
		}
		d.log.Info("bill acceptor inhibited")
		return nil
	}
	m := d.opts.Layout.Bytes(want)
	if err := l.setting(SetEnable, m[0], m[1]); err != nil {
		return err
	}
	if ans, _, err := l.exchange(ReqEnable); err != nil {
		return err
	} else if got := d.opts.Layout.Enabled(ans.Data[1:]); got != want {
		err := fmt.Errorf("the bill acceptor reads back its enabled bills as %08b after %08b was set: check the model's enable layout", got, want)
		d.noteError(err)
		d.log.Error("enable bitmap not taken as sent", "err", err, "answer", fmt.Sprintf("% X", ans.Data))
	}
	if err := l.setting(SetInhibit, 0); err != nil {
		return err
	}
	d.log.Info("bills enabled", "codes", fmt.Sprintf("%08b", want), "bitmap", fmt.Sprintf("% X", m))
	return nil
}

// decided records the outcome of STACK, RETURN or HOLD. Only an ACK is taken
// for the command having gone through; after INVALID COMMAND (to a first copy
// or a repeated one) the statuses that follow say what happened.
func (d *Dev) decided(b *inFlight, cmd byte, err error) error {
	switch {
	case err == nil:
		d.mu.Lock()
		switch cmd {
		case CmdHold:
			b.lastHold = d.clock.Now()
			d.mu.Unlock()
		case CmdReturn:
			b.phase = phaseReturning
			d.mu.Unlock()
		default:
			b.phase = phaseStacking
			d.mu.Unlock()
			d.stacking(b)
		}
		return nil
	case errors.Is(err, errInvalid), errors.Is(err, errGarbled):
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

func cmdName(cmd byte) string {
	switch cmd {
	case CmdStack1:
		return "STACK-1"
	case CmdStack2:
		return "STACK-2"
	case CmdReturn:
		return "RETURN"
	case CmdHold:
		return "HOLD"
	}
	return fmt.Sprintf("command %02X", cmd)
}

// pollMemory is what the poll loop remembers between answers.
type pollMemory struct {
	prev    []byte // the last status, to tell a repeat from a new one
	hasPrev bool
	// expectVend: the unit came up with a bill in the stacker and has not
	// reported its VEND VALID (some never do); that bill was told with
	// EventPowerUp.
	expectVend bool
}

// stacking tells the flow the unit took the bill's STACK, once.
func (d *Dev) stacking(b *inFlight) {
	d.mu.Lock()
	tell := b.told && !b.stackingTold
	b.stackingTold = true
	d.mu.Unlock()
	if tell {
		d.emit(kiosk.AcceptorEvent{Kind: kiosk.EventStacking, Value: b.value})
	}
}

// stacked counts the bill as in the cassette, once.
func (d *Dev) stacked(b *inFlight) {
	d.stacking(b)
	d.mu.Lock()
	was := b.phase
	b.phase = phaseStacked
	d.mu.Unlock()
	if was == phaseStacked {
		return
	}
	if b.value == 0 {
		d.log.Error("a bill the kiosk cannot value went into the stacker", "code", fmt.Sprintf("0x%02X", b.code))
	}
	d.emit(kiosk.AcceptorEvent{Kind: kiosk.EventStacked, Value: b.value})
}

// returned tells the flow the bill went back, once, if it knew of it.
func (d *Dev) returned(b *inFlight) {
	d.mu.Lock()
	was := b.phase
	b.phase = phaseReturned
	d.mu.Unlock()
	if was <= phaseReturning && b.told {
		d.emit(kiosk.AcceptorEvent{Kind: kiosk.EventReturned, Value: b.value})
	}
}

// observe turns one status into events. Escrow, Stacking, Stacked and
// Returned come once per bill however often the unit repeats a status, and a
// bill whose end the unit never showed is concluded from the status that
// follows.
func (d *Dev) observe(l *link, ans Frame) error {
	if len(ans.Data) == 0 {
		return nil
	}
	code, arg := ans.Code(), ans.Arg(0)
	repeat := d.poll.hasPrev && slices.Equal(d.poll.prev, ans.Data)
	d.poll.prev, d.poll.hasPrev = slices.Clone(ans.Data), true
	d.setState(StateName(code))
	d.mu.Lock()
	b := d.bill
	d.mu.Unlock()

	switch code {
	case StPowerUp, StPowerUpAcceptor, StPowerUpStacker, StInitialize:
		return rebooted{ans: ans}

	case StEscrow:
		d.faults.ClearAll()
		if b.active() && b.code == arg {
			// Still the same bill. Seen again after a STACK or RETURN that
			// seemed to go through, it is not on its way after all: the
			// decision goes again rather than the bill counting twice.
			d.mu.Lock()
			b.phase = phaseEscrow
			d.mu.Unlock()
			return nil
		}
		if b.active() {
			d.missedEnd(b)
		}
		nb := &inFlight{code: arg, value: d.valueOf(arg), lastHold: d.clock.Now()}
		d.mu.Lock()
		enabled := d.want.Has(arg)
		d.mu.Unlock()
		// Never enabled, so never expected: give it back unannounced.
		nb.told = nb.value != 0 && enabled
		if !nb.told {
			nb.decision = CmdReturn
		}
		// In place before the event, so that the flow's Stack finds it.
		d.mu.Lock()
		d.bill = nb
		d.mu.Unlock()
		if nb.told {
			d.emit(kiosk.AcceptorEvent{Kind: kiosk.EventEscrow, Value: nb.value})
		} else if nb.value != 0 {
			// The unit let through a bill the kiosk inhibited: a bitmap the
			// model reads another way, or a bill scanned as the enable
			// changed.
			err := fmt.Errorf("a %s bill (code 0x%02X) reached escrow although not enabled; returned. If this repeats, check the model's enable layout", nb.value, arg)
			d.noteError(err)
			d.log.Warn("bill not enabled in escrow: returning it", "err", err)
			d.emit(kiosk.AcceptorEvent{Kind: kiosk.EventRejected, Reason: "denomination not enabled"})
		} else {
			d.log.Warn("bill the kiosk cannot value in escrow: returning it", "data", fmt.Sprintf("% X", ans.Data[1:]))
			d.emit(kiosk.AcceptorEvent{Kind: kiosk.EventRejected, Reason: fmt.Sprintf("unknown denomination code 0x%02X", arg)})
		}

	case StHolding:
		d.faults.ClearAll()

	case StStacking:
		d.faults.ClearAll()
		if b.active() {
			d.mu.Lock()
			b.phase = phaseStacking
			d.mu.Unlock()
			d.stacking(b)
		}

	case StVendValid:
		d.faults.ClearAll()
		// ACK before the event: a driver killed between the two leaves a
		// unit that goes on to STACKED, and the ledger's record of the STACK
		// settles the bill; the other order could count it twice.
		if err := l.ack(); err != nil {
			return err
		}
		switch {
		case b.active():
			d.stacked(b)
		case b != nil && b.phase == phaseStacked:
			// The unit repeats it until it hears our ACK: the same bill.
		case d.poll.expectVend:
			d.poll.expectVend = false
			d.log.Info("VEND VALID for the bill found in the stacker at power-up; told with the power-up")
		default:
			d.log.Error("VEND VALID with no bill in escrow: the unit stacked a bill the kiosk never saw")
			d.emit(kiosk.AcceptorEvent{Kind: kiosk.EventStacked})
		}

	case StStacked:
		d.faults.ClearAll()
		if b.active() && b.phase != phaseReturning {
			d.log.Warn("the unit did not report VEND VALID; concluded from STACKED", "value", b.value.String())
			d.stacked(b)
		}

	case StRejecting:
		d.faults.ClearAll()
		if repeat {
			return nil
		}
		if b.active() && b.phase != phaseStacking {
			// A bill that reached escrow is refused on its way back (0x79: no
			// command came in time): for the flow it was returned.
			d.log.Warn("bill in escrow given back by the unit", "reason", RejectReason(arg), "value", b.value.String())
			d.returned(b)
			return nil
		}
		d.emit(kiosk.AcceptorEvent{Kind: kiosk.EventRejected, Reason: RejectReason(arg)})

	case StReturning:
		d.faults.ClearAll()
		if b.active() {
			d.mu.Lock()
			b.phase = phaseReturning
			d.mu.Unlock()
		}

	case StIdling, StDisabled, StAccepting:
		d.faults.ClearAll()
		if b.active() {
			d.missedEnd(b)
		}

	case StStackerFull, StStackerOpen, StJamInAcceptor, StJamInStacker, StCheated, StPause, StFailure:
		if b.active() {
			switch {
			case code == StStackerFull && b.phase == phaseStacking:
				d.missedEnd(b) // the last bill filled the stacker: it got in
			case code == StStackerOpen && b.phase != phaseStacking:
				d.missedEnd(b) // the unit gives back what it holds when the box goes
			}
		}
		f, detail := faultOf(code, arg)
		d.faults.Raise(f, detail)

	case AnsACK, ENQ:

	default:
		if !repeat {
			d.log.Warn("unknown status from the bill acceptor", "status", fmt.Sprintf("% X", ans.Data))
		}
	}
	return nil
}

// missedEnd concludes how a bill ended when the unit moved on without saying:
// one being stacked went in, any other went back to the customer.
func (d *Dev) missedEnd(b *inFlight) {
	d.mu.Lock()
	phase := b.phase
	d.mu.Unlock()
	if phase == phaseStacking {
		d.log.Warn("the unit did not report VEND VALID; concluded from its statuses", "value", b.value.String())
		d.stacked(b)
		return
	}
	if phase != phaseReturning && b.told {
		d.log.Warn("the unit did not report the bill's return; concluded from its statuses", "value", b.value.String())
	}
	d.returned(b)
}

func faultOf(code, arg byte) (kiosk.Fault, string) {
	switch code {
	case StStackerFull:
		return kiosk.FaultCassetteFull, "stacker full: empty the cash box"
	case StStackerOpen:
		return kiosk.FaultCassetteRemoved, "stacker open: insert and lock the cash box"
	case StJamInAcceptor:
		return kiosk.FaultJammed, "bill jammed in the acceptor: open the head and remove it"
	case StJamInStacker:
		return kiosk.FaultCassetteJammed, "bill jammed in the stacker: open the cash box and remove it"
	case StCheated:
		return kiosk.FaultCheated, "fraud attempt detected"
	case StPause:
		return kiosk.FaultPause, "a second bill was pushed in while one is in escrow"
	}
	return kiosk.FaultFailure, FailureDetail(arg)
}
