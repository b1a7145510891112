package ccnettest

import (
	"errors"
	"fmt"
	"io"
	"log/slog"
	"maps"
	"os"
	"slices"
	"sync"
	"time"

	"tolem/devices/acceptor/acceptortest"
	"tolem/devices/ccnet"
	"tolem/kiosk"
)

// EmuOptions configure an Emulator. The zero value is a Kazakh unit with the
// timings of the real device.
type EmuOptions struct {
	// LinkPath, when set, is a symlink kept pointing at the current pty, the
	// way udev keeps /dev/serial/by-id names: it vanishes on Unplug and comes
	// back on Replug although the pty's own path changes.
	LinkPath string
	// StateFile, when set, keeps what the unit's mechanics would keep across a
	// power cut (the bill in flight and the cassette's content), so that a
	// process killed mid-stack starts again reporting POWER UP WITH BILL IN
	// STACKER followed by STACKED, as the hardware does.
	StateFile string
	// RepeatUnACKed makes one-shot events (STACKED, RETURNED) repeat on every
	// POLL until the controller ACKs the answer that carried them. Without it
	// the unit reports each event once, ACKed or not. Real units are not known
	// to do either (ccnet.md A.4-6), so the driver is tested with both.
	RepeatUnACKed bool
	// EventPolls is how many POLLs in a row report each one-shot event
	// (default 1). Some firmware repeats STACKED for a while; a driver must
	// count the bill once.
	EventPolls int

	// Table is the bill table, at most 24 types; nil means KZT 200, 500, 1000,
	// 2000, 5000, 10 000, 20 000 as types 0–6.
	Table []ccnet.BillType
	// Identity answers IDENTIFICATION; the zero value gives a made-up unit.
	Identity ccnet.Identity

	// EscrowLimit is how long a bill waits in escrow before the unit returns it
	// by itself (10 s); HoldTime is how long one HOLD extends it (10 s).
	EscrowLimit time.Duration
	HoldTime    time.Duration
	// How long the mechanics take: scanning a bill (AcceptTime, 300 ms),
	// moving it to the cassette or back (StackTime, ReturnTime, 500 ms),
	// ejecting a refused one (RejectTime, 500 ms), initialising after RESET
	// (InitTime, 1 s) and being off during PowerCycle (PowerOffTime, 300 ms).
	// StackStart is how long the transport waits between taking STACK and
	// moving the bill (0: it moves at once); during it the unit already
	// answers STACKING but the bill is still in the head.
	AcceptTime   time.Duration
	StackStart   time.Duration
	StackTime    time.Duration
	ReturnTime   time.Duration
	RejectTime   time.Duration
	InitTime     time.Duration
	PowerOffTime time.Duration

	Log *slog.Logger
}

// DefaultTable is the bill table of a tenge unit: 200 … 20 000 ₸ as types 0–6.
func DefaultTable() []ccnet.BillType {
	return []ccnet.BillType{
		{Digit: 2, Country: "KZT", Exp: 2},
		{Digit: 5, Country: "KZT", Exp: 2},
		{Digit: 1, Country: "KZT", Exp: 3},
		{Digit: 2, Country: "KZT", Exp: 3},
		{Digit: 5, Country: "KZT", Exp: 3},
		{Digit: 1, Country: "KZT", Exp: 4},
		{Digit: 2, Country: "KZT", Exp: 4},
	}
}

// Errors of the emulator's controls: what a customer or technician would find
// the unit doing.
var (
	ErrNotAccepting = errors.New("the validator does not take bills now")
	ErrBusy         = errors.New("a bill is already in the validator")
	ErrUnknownBill  = errors.New("no such denomination in the bill table")
	ErrNoBill       = errors.New("no bill in the validator")
	ErrUnplugged    = errors.New("the validator is unplugged")
	ErrClosed       = acceptortest.ErrClosed
)

type phase int

const (
	phPowerUp phase = iota // reports 10/11/12 until RESET
	phInit                 // 13 until InitTime after RESET
	phRunning
)

type step int

const (
	stAccepting step = iota + 1
	stEscrow
	stHolding
	stStackAcked // STACK taken, the bill not moving yet
	stStacking
	stReturning
	stRejecting
)

var stepNames = map[step]string{stAccepting: "accepting", stEscrow: "escrow", stHolding: "holding",
	stStackAcked: "stack_acked", stStacking: "stacking", stReturning: "returning", stRejecting: "rejecting"}

// event is a one-shot answer and how many more POLLs report it.
type event struct {
	ans  []byte
	left int
}

// bill is the bill in the unit's path.
type bill struct {
	typ    int
	step   step
	until  time.Time // when the current step ends on its own
	reason byte      // rejection reason, for a bill that will be refused
}

// Emulator is a CCNET bill validator on a pseudo-terminal.
type Emulator struct {
	opts  EmuOptions
	log   *slog.Logger
	table [ccnet.NumTypes]ccnet.BillType
	ident ccnet.Identity

	mu        sync.Mutex
	phase     phase
	powerCode byte
	recover   int // type the unit reports STACKED for once initialised, or -1
	initUntil time.Time
	enabled   ccnet.BillMask
	escrow    ccnet.BillMask
	security  ccnet.BillMask
	bill      *bill
	events    []event // one-shot answers waiting for a POLL
	unACKed   bool    // events[0] was sent and not ACKed yet
	lastAns   []byte

	cassetteOut, cassetteFull, jammed bool

	corrupt     int
	corruptEv   int
	busyUntil   time.Time
	silentUntil time.Time
	stacked     map[kiosk.Money]int // every bill ever stacked
	cassette    map[kiosk.Money]int // the bills in the cassette now

	fuse   acceptortest.Fuse[Instant] // a power cut waiting for its instant
	landed int                        // type of the last bill that reached the cassette

	port *acceptortest.Port
}

// Start powers the unit up on a new pseudo-terminal. It reports POWER UP, or
// what StateFile says the last power cut left in the unit.
func Start(opts EmuOptions) (*Emulator, error) {
	def := func(d *time.Duration, v time.Duration) {
		if *d <= 0 {
			*d = v
		}
	}
	def(&opts.EscrowLimit, 10*time.Second)
	def(&opts.HoldTime, 10*time.Second)
	def(&opts.AcceptTime, 300*time.Millisecond)
	def(&opts.StackTime, 500*time.Millisecond)
	def(&opts.ReturnTime, 500*time.Millisecond)
	def(&opts.RejectTime, 500*time.Millisecond)
	def(&opts.InitTime, time.Second)
	def(&opts.PowerOffTime, 300*time.Millisecond)
	if opts.EventPolls <= 0 {
		opts.EventPolls = 1
	}
	e := &Emulator{opts: opts, log: opts.Log, recover: -1, stacked: map[kiosk.Money]int{},
		cassette: map[kiosk.Money]int{}, powerCode: ccnet.StPowerUp, ident: opts.Identity, landed: -1}
	if e.log == nil {
		e.log = slog.New(slog.DiscardHandler)
	}
	table := opts.Table
	if table == nil {
		table = DefaultTable()
	}
	if len(table) > ccnet.NumTypes {
		return nil, fmt.Errorf("bill table of %d types, at most %d", len(table), ccnet.NumTypes)
	}
	copy(e.table[:], table)
	if e.ident.PartNumber == "" {
		e.ident = ccnet.Identity{PartNumber: "SM-KZ1703", Serial: "41K705000123",
			Asset: [7]byte{0, 0, 0, 0, 0, 0x30, 0x39}}
	}
	if opts.StateFile != "" {
		if err := e.load(); err != nil {
			return nil, err
		}
		e.powerOn(time.Now())
		e.save()
	}
	e.port = acceptortest.NewPort(&e.mu, opts.LinkPath, e.log, e.serve)
	if err := e.port.Plug(); err != nil {
		return nil, err
	}
	return e, nil
}

// Path is the pty's slave device, the serial port a driver opens.
func (e *Emulator) Path() string { return e.port.Path() }

// LinkPath is the stable symlink (EmuOptions.LinkPath), or "".
func (e *Emulator) LinkPath() string { return e.port.LinkPath() }

// Close unplugs the unit for good.
func (e *Emulator) Close() error { return e.port.Close() }

// Unplug pulls the USB-serial adapter out: the pty closes (the driver's reads
// fail, the device node vanishes) and the link goes away. The unit itself keeps
// its power and state: a bill in escrow is returned when the limit runs out.
func (e *Emulator) Unplug() { e.port.Unplug() }

// Replug plugs the adapter back in: a new pty, maybe under another path; the
// link, if any, points at it again.
func (e *Emulator) Replug() error { return e.port.Replug() }

// serve answers the controller's frames on one pty until it closes.
func (e *Emulator) serve(m *os.File) {
	dec := ccnet.NewDecoder(m, ccnet.AddrBillValidator)
	for {
		// A frame whose bytes stop coming is void (t-inter-byte is 5 ms); a
		// short read deadline drops its remains.
		m.SetReadDeadline(time.Now().Add(100 * time.Millisecond))
		f, err := dec.Next()
		switch {
		case err == nil:
			if ans := e.handle(f); ans != nil {
				if _, err := m.Write(ans); err != nil {
					return
				}
				e.answerSent()
			}
		case errors.Is(err, ccnet.ErrCRC):
			if ans := e.answer(time.Now(), ccnet.AnsNAK); ans != nil {
				m.Write(ans)
			}
		case errors.Is(err, os.ErrDeadlineExceeded):
			if dec.Buffered() > 0 {
				dec.Reset()
			}
		case errors.Is(err, os.ErrClosed), errors.Is(err, io.EOF):
			return
		default:
			e.log.Warn("acceptor emulator read", "err", err)
			return
		}
	}
}

// answer frames data as the unit's answer, unless it is silent; it damages the
// frame when asked to.
func (e *Emulator) answer(now time.Time, data ...byte) []byte {
	e.mu.Lock()
	defer e.mu.Unlock()
	return e.frameLocked(now, data)
}

func (e *Emulator) frameLocked(now time.Time, data []byte) []byte {
	if now.Before(e.silentUntil) {
		return nil
	}
	f := ccnet.AppendFrame(nil, ccnet.AddrBillValidator, data...)
	isEvent := len(data) == 2 && (data[0] == ccnet.EvStacked || data[0] == ccnet.EvReturned)
	switch {
	case e.corrupt > 0:
		e.corrupt--
	case e.corruptEv > 0 && isEvent:
		e.corruptEv--
	default:
		return f
	}
	f[len(f)-1] ^= 0x5A
	return f
}

// handle executes one command and returns the answer frame (nil for none).
func (e *Emulator) handle(f ccnet.Frame) []byte {
	now := time.Now()
	e.mu.Lock()
	defer e.mu.Unlock()
	if now.Before(e.silentUntil) {
		return nil
	}
	e.advance(now)
	if now.Before(e.silentUntil) {
		return nil // the power went while the mechanics moved
	}
	cmd, arg := f.Code(), f.Data[1:]
	if cmd != ccnet.CmdACK && cmd != ccnet.CmdNAK {
		e.log.Debug("acceptor emulator command", "frame", f.String())
	}
	ack := []byte{ccnet.AnsACK}
	illegal := []byte{ccnet.AnsIllegal}
	var ans []byte
	switch cmd {
	case ccnet.CmdACK:
		if e.unACKed && len(e.events) > 0 {
			e.told()
		}
		e.unACKed = false
		return nil
	case ccnet.CmdNAK:
		// The controller will repeat its command; the unit never answers an
		// ACK or NAK.
		return nil
	case ccnet.CmdPoll:
		ans = e.pollAnswer()
	case ccnet.CmdReset:
		e.reset(now)
		ans = ack
	case ccnet.CmdGetStatus:
		present := ccnet.BillMask(0)
		for t, b := range e.table {
			if !b.Empty() {
				present |= 1 << t
			}
		}
		ans = append(append([]byte{}, (e.enabled&present).Bytes()...), e.security.Bytes()...)
	case ccnet.CmdSetSecurity:
		if len(arg) != 3 {
			ans = illegal
			break
		}
		e.security = ccnet.ParseBillMask(arg)
		ans = ack
	case ccnet.CmdEnableBillType:
		if len(arg) != 6 || e.phase != phRunning {
			ans = illegal
			break
		}
		e.enabled, e.escrow = ccnet.ParseBillMask(arg[:3]), ccnet.ParseBillMask(arg[3:])
		ans = ack
	case ccnet.CmdStack, ccnet.CmdReturn, ccnet.CmdHold:
		b := e.bill
		if b == nil || (b.step != stEscrow && b.step != stHolding) {
			ans = illegal
			break
		}
		switch cmd {
		case ccnet.CmdStack:
			b.step, b.until = stStackAcked, now.Add(e.opts.StackStart)
			e.fuse.OnAnswer(AtStackAcked)
		case ccnet.CmdReturn:
			b.step, b.until = stReturning, now.Add(e.opts.ReturnTime)
		default:
			b.step, b.until = stHolding, now.Add(e.opts.HoldTime)
		}
		e.save()
		ans = ack
	case ccnet.CmdIdentification, ccnet.CmdGetBillTable:
		// Information commands only while the unit is not handling cash (A.6).
		if e.phase == phRunning && !e.failedLocked() && (e.enabled != 0 || e.bill != nil) {
			ans = illegal
			break
		}
		if cmd == ccnet.CmdIdentification {
			ans = ccnet.AppendIdentity(nil, e.ident)
		} else {
			ans = ccnet.AppendBillTable(nil, e.table)
		}
	default:
		ans = illegal
	}
	e.lastAns = ans
	return e.frameLocked(now, ans)
}

// pollAnswer is the unit's state, or a one-shot event waiting to be told.
func (e *Emulator) pollAnswer() []byte {
	if len(e.events) > 0 {
		ev := e.events[0].ans
		if ev[0] == ccnet.EvStacked {
			e.fuse.OnAnswer(AtStackedUnacked)
		}
		if e.opts.RepeatUnACKed {
			e.unACKed = true
		} else {
			e.told()
		}
		return ev
	}
	if now := time.Now(); now.Before(e.busyUntil) {
		return []byte{ccnet.StBusy, byte(min(255, e.busyUntil.Sub(now)/(100*time.Millisecond)+1))}
	}
	switch e.phase {
	case phPowerUp:
		return []byte{e.powerCode}
	case phInit:
		return []byte{ccnet.StInitialize}
	}
	switch {
	case e.cassetteOut:
		return []byte{ccnet.StCassetteOut}
	case e.cassetteFull:
		return []byte{ccnet.StCassetteFull}
	case e.jammed:
		return []byte{ccnet.StValidatorJammed}
	}
	if b := e.bill; b != nil {
		switch b.step {
		case stAccepting:
			return []byte{ccnet.StAccepting}
		case stEscrow:
			e.fuse.OnAnswer(AtEscrow)
			return []byte{ccnet.EvEscrow, byte(b.typ)}
		case stHolding:
			return []byte{ccnet.StHolding}
		case stStackAcked, stStacking:
			return []byte{ccnet.StStacking}
		case stReturning:
			return []byte{ccnet.StReturning}
		case stRejecting:
			return []byte{ccnet.StRejecting, b.reason}
		}
	}
	if e.enabled != 0 {
		return []byte{ccnet.StIdling}
	}
	return []byte{ccnet.StUnitDisabled}
}

// told counts one report of the first event, dropping it after the last.
func (e *Emulator) told() {
	if e.events[0].left--; e.events[0].left <= 0 {
		e.events = e.events[1:]
	}
}

// queue adds a one-shot event.
func (e *Emulator) queue(ans ...byte) {
	e.events = append(e.events, event{ans: ans, left: e.opts.EventPolls})
}

func (e *Emulator) failedLocked() bool { return e.cassetteOut || e.cassetteFull || e.jammed }

// reset is the RESET command: the unit gives back a bill in its head, keeps
// one that went too far for credit recovery, and initialises disabled.
func (e *Emulator) reset(now time.Time) {
	if b := e.bill; b != nil {
		if b.step == stStacking {
			e.toStacker(b.typ)
		}
		e.bill = nil
	}
	e.events, e.unACKed = nil, false
	e.phase, e.initUntil = phInit, now.Add(e.opts.InitTime)
	e.enabled, e.escrow = 0, 0
	e.save()
}

// toStacker puts a bill of type t in the cassette as a credit to recover.
func (e *Emulator) toStacker(t int) {
	e.recover = t
	e.intoCassette(t)
}

// intoCassette counts a bill of type t that reached the cassette.
func (e *Emulator) intoCassette(t int) {
	e.stacked[e.value(t)]++
	e.cassette[e.value(t)]++
	e.landed = t
}

// advance runs the unit's mechanics up to now. Each step ends at its own time,
// so a controller that polls late sees what a real unit would have done.
func (e *Emulator) advance(now time.Time) {
	if e.fuse.Pending() {
		return // the power goes as soon as the answer now being sent is out
	}
	if e.phase == phInit && !now.Before(e.initUntil) {
		e.phase = phRunning
		if e.recover >= 0 {
			// Credit recovery: STACKED right after initialisation (A.7).
			e.queue(ccnet.EvStacked, byte(e.recover))
			e.recover = -1
			e.save()
		}
	}
	for b := e.bill; b != nil && !now.Before(b.until); b = e.bill {
		at := b.until
		switch b.step {
		case stAccepting:
			if b.reason == 0 && !e.enabled.Has(b.typ) {
				// Disabled while it scanned the bill: the bill is now an
				// inhibited denomination, never a bill to stack unasked.
				b.reason = 0x68
			}
			switch {
			case b.reason != 0:
				b.step, b.until = stRejecting, at.Add(e.opts.RejectTime)
			case e.escrow.Has(b.typ):
				b.step, b.until = stEscrow, at.Add(e.opts.EscrowLimit)
			default:
				b.step, b.until = stStacking, at.Add(e.opts.StackTime)
				e.armMidStack(b)
			}
		case stEscrow, stHolding:
			// Nobody decided in time: the unit gives the bill back.
			b.step, b.until = stReturning, at.Add(e.opts.ReturnTime)
		case stStackAcked:
			b.step, b.until = stStacking, at.Add(e.opts.StackTime)
			e.armMidStack(b)
		case stStacking:
			if e.fuse.Due(AtStacking) {
				// Nobody looked while the bill moved: the power went half-way.
				e.cutLocked(now, AtStacking)
				return
			}
			e.intoCassette(b.typ)
			e.queue(ccnet.EvStacked, byte(b.typ))
			e.bill = nil
			if e.fuse.Due(AtStackedUntold) {
				e.save()
				e.cutLocked(now, AtStackedUntold)
				return
			}
		case stReturning:
			e.queue(ccnet.EvReturned, byte(b.typ))
			e.bill = nil
		case stRejecting:
			e.bill = nil
		}
		e.save()
	}
}

// value is the bill type's value in minor units (tiyn for tenge).
func (e *Emulator) value(t int) kiosk.Money {
	v, _ := e.table[t].Minor()
	return kiosk.Money(v)
}

// insert puts a bill in the unit's mouth.
func (e *Emulator) insert(typ int, reason byte) error {
	now := time.Now()
	e.mu.Lock()
	defer e.mu.Unlock()
	e.advance(now)
	switch {
	case e.port.Closed():
		return ErrClosed
	case e.phase != phRunning || e.failedLocked() || e.enabled == 0:
		return ErrNotAccepting
	case e.bill != nil:
		return ErrBusy
	}
	if reason == 0 && !e.enabled.Has(typ) {
		reason = 0x68 // inhibited denomination
	}
	e.bill = &bill{typ: typ, step: stAccepting, until: now.Add(e.opts.AcceptTime), reason: reason}
	if reason == 0 && e.fuse.Due(AtAccepting) {
		e.cutLocked(now, AtAccepting)
	}
	return nil
}

// InsertBill feeds a genuine bill of value (in tiyn). An enabled type goes to
// escrow (or straight to the cassette when its escrow bit is off); an inhibited
// one is refused with "inhibited denomination".
func (e *Emulator) InsertBill(value kiosk.Money) error {
	for t, b := range e.table {
		if v, ok := b.Minor(); ok && kiosk.Money(v) == value {
			return e.insert(t, 0)
		}
	}
	return fmt.Errorf("%w: %s", ErrUnknownBill, value)
}

// InsertFake feeds something that is not a banknote; the unit refuses it
// (REJECTING, identification).
func (e *Emulator) InsertFake() error { return e.insert(0, 0x65) }

// Jam jams the validator's head. A bill in it stays stuck until ClearJam, when
// the technician takes it out: no event ever tells of it.
func (e *Emulator) Jam() {
	e.mu.Lock()
	defer e.mu.Unlock()
	e.advance(time.Now())
	e.jammed = true
	if b := e.bill; b != nil && b.step != stStacking {
		e.bill = nil
	}
	e.save()
}

// ClearJam frees the head.
func (e *Emulator) ClearJam() {
	e.mu.Lock()
	defer e.mu.Unlock()
	e.jammed = false
	e.save()
}

// cassetteEvent settles a bill in flight before the cassette stops taking
// bills: one in escrow goes back, one half-way into the cassette goes in.
func (e *Emulator) cassetteEvent(set func()) {
	now := time.Now()
	e.mu.Lock()
	defer e.mu.Unlock()
	e.advance(now)
	if b := e.bill; b != nil {
		switch b.step {
		case stStacking:
			b.until = now
		case stEscrow, stHolding, stStackAcked, stReturning:
			b.step, b.until = stReturning, now
		}
		e.advance(now)
	}
	set()
	e.save()
}

// RemoveCassette pulls the drop cassette out.
func (e *Emulator) RemoveCassette() { e.cassetteEvent(func() { e.cassetteOut = true }) }

// FillCassette makes the drop cassette full.
func (e *Emulator) FillCassette() { e.cassetteEvent(func() { e.cassetteFull = true }) }

// InsertCassette puts an empty cassette in: Cassette starts from zero, while
// Stacked keeps counting every bill the unit ever stacked.
func (e *Emulator) InsertCassette() {
	e.mu.Lock()
	defer e.mu.Unlock()
	e.cassetteOut, e.cassetteFull = false, false
	e.cassette = map[kiosk.Money]int{}
	e.save()
}

// PowerCycle cuts the power and restores it after PowerOffTime, during which
// the unit is silent. at says where the power cut caught the bill in flight:
// BillInValidator (still in the head: POWER UP WITH BILL IN VALIDATOR, the bill
// is given back at RESET), BillInStacker (too far to return: POWER UP WITH BILL
// IN STACKER, then STACKED after initialisation) or BillNowhere (POWER UP; a
// bill in flight is lost to the customer's hand). A position other than
// BillNowhere needs a bill in flight.
func (e *Emulator) PowerCycle(at kiosk.BillPosition) error {
	now := time.Now()
	e.mu.Lock()
	defer e.mu.Unlock()
	e.advance(now)
	b := e.bill
	if at != kiosk.BillNowhere && (b == nil || b.step == stRejecting) {
		return ErrNoBill
	}
	e.bill = nil
	switch at {
	case kiosk.BillInValidator:
		e.bill = &bill{typ: b.typ, step: stAccepting}
	case kiosk.BillInStacker:
		e.bill = &bill{typ: b.typ, step: stStacking}
	}
	e.powerOn(now)
	e.silentUntil = now.Add(e.opts.PowerOffTime)
	e.save()
	return nil
}

// BillInFlight says where a power cut would catch the bill now in the unit:
// the position PowerCycle takes to act out a real cut.
func (e *Emulator) BillInFlight() kiosk.BillPosition {
	e.mu.Lock()
	defer e.mu.Unlock()
	e.advance(time.Now())
	if b := e.bill; b != nil {
		switch b.step {
		case stStacking:
			return kiosk.BillInStacker
		case stAccepting, stEscrow, stHolding, stStackAcked, stReturning:
			return kiosk.BillInValidator
		}
	}
	return kiosk.BillNowhere
}

// powerOn is the unit coming to life with whatever bill the cut left in it.
func (e *Emulator) powerOn(now time.Time) {
	e.phase, e.powerCode = phPowerUp, ccnet.StPowerUp
	e.enabled, e.escrow, e.security = 0, 0, 0
	e.events, e.unACKed = nil, false
	if b := e.bill; b != nil {
		if b.step == stStacking {
			e.toStacker(b.typ)
		} else {
			e.powerCode = ccnet.StPowerUpBillHead
		}
		e.bill = nil
	}
	if e.recover >= 0 {
		e.powerCode = ccnet.StPowerUpStacker
	}
}

// CorruptNext damages the next n answers (their CRC no longer matches).
func (e *Emulator) CorruptNext(n int) {
	e.mu.Lock()
	defer e.mu.Unlock()
	e.corrupt = n
}

// CorruptEvents damages the next n answers that carry STACKED or RETURNED:
// the answers a driver must not lose nor count twice.
func (e *Emulator) CorruptEvents(n int) {
	e.mu.Lock()
	defer e.mu.Unlock()
	e.corruptEv = n
}

// Busy makes the unit answer DEVICE BUSY for d, asking to be polled again
// after the time left.
func (e *Emulator) Busy(d time.Duration) {
	e.mu.Lock()
	defer e.mu.Unlock()
	e.busyUntil = time.Now().Add(d)
}

// Silence makes the unit ignore the controller for d, like a unit busy or
// hung without losing power.
func (e *Emulator) Silence(d time.Duration) {
	e.mu.Lock()
	defer e.mu.Unlock()
	e.silentUntil = time.Now().Add(d)
}

// Stacked counts every bill the unit put in a cassette, by value in tiyn.
func (e *Emulator) Stacked() map[kiosk.Money]int {
	e.mu.Lock()
	defer e.mu.Unlock()
	e.advance(time.Now())
	return maps.Clone(e.stacked)
}

// Status describes the unit for a person at the simulator's prompt.
func (e *Emulator) Status() string {
	e.mu.Lock()
	defer e.mu.Unlock()
	e.advance(time.Now())
	ans := e.peekLocked()
	s := fmt.Sprintf("state %s (%02X)", ccnet.StateName(ans[0]), ans)
	if b := e.bill; b != nil {
		s += fmt.Sprintf(", bill %s %s", e.value(b.typ), stepNames[b.step])
	}
	if !e.port.Plugged() {
		s += ", unplugged"
	}
	return s
}

// peekLocked is what the next POLL would answer, without consuming events.
func (e *Emulator) peekLocked() []byte {
	events, unACKed, fuse := slices.Clone(e.events), e.unACKed, e.fuse
	ans := e.pollAnswer()
	e.events, e.unACKed, e.fuse = events, unACKed, fuse
	return ans
}

// save writes the state a power cut must not lose, when a StateFile is set.
func (e *Emulator) save() {
	if e.opts.StateFile == "" {
		return
	}
	st := persisted{Box: acceptortest.NewBox(e.stacked, e.cassette, e.cassetteOut, e.cassetteFull, e.jammed),
		Recover: e.recover, BillType: -1}
	if b := e.bill; b != nil && b.step != stRejecting {
		st.BillType, st.BillStep = b.typ, stepNames[b.step]
	}
	if err := acceptortest.WriteState(e.opts.StateFile, st); err != nil {
		e.log.Warn("acceptor emulator state not saved", "file", e.opts.StateFile, "err", err)
	}
}

func (e *Emulator) load() error {
	st, err := readPersisted(e.opts.StateFile)
	if err != nil || st == nil {
		return err
	}
	st.Counts(e.stacked, e.cassette)
	e.recover, e.cassetteOut, e.cassetteFull, e.jammed = st.Recover, st.CassetteOut, st.CassetteFull, st.Jammed
	if st.BillType >= 0 && st.BillType < ccnet.NumTypes {
		for s, n := range stepNames {
			if n == st.BillStep {
				e.bill = &bill{typ: st.BillType, step: s}
			}
		}
	}
	return nil
}
