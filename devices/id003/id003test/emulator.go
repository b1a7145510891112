package id003test

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
	"tolem/devices/id003"
	"tolem/kiosk"
)

// KZTCountry is the emulator's country code for tenge. JCM's own is not
// published; this one is made up.
const KZTCountry = 0x4B

// EmuOptions configure an Emulator. The zero value is a tenge unit with the
// timings of a real device and the most common behaviour where units differ.
type EmuOptions struct {
	// LinkPath, when set, is a symlink kept pointing at the current pty, the
	// way udev keeps /dev/serial/by-id names: it vanishes on Unplug and comes
	// back on Replug although the pty's own path changes.
	LinkPath string
	// StateFile, when set, keeps what the unit's mechanics would keep across a
	// power cut, so that a process killed mid-stack starts again reporting
	// POWER UP WITH BILL IN STACKER, as the hardware does.
	StateFile string

	// Where units differ (id003.md B.8):
	//
	// OnBadFrame is the answer to a damaged frame: 0 (silence, the default),
	// id003.StCommError or id003.StInvalidCommand.
	OnBadFrame byte
	// RepeatInvalid answers a STACK or RETURN repeated while the bill is
	// already on its way with INVALID COMMAND instead of ACK.
	RepeatInvalid bool
	// VendAfterPowerUp reports VEND VALID, after initialising, for the bill
	// a power cut left in the stacker.
	VendAfterPowerUp bool
	// ComesUpEnabled leaves INITIALIZE accepting bills instead of inhibited.
	ComesUpEnabled bool
	// SettingsAfterInit refuses setting commands (INVALID COMMAND) while
	// initialising.
	SettingsAfterInit bool
	// Echo sends every frame the controller writes back to it before the
	// answer, as a half-duplex line without echo suppression does.
	Echo bool
	// Layout of the ENABLE/DISABLE bitmap this model reads.
	Layout id003.EnableLayout
	// StackedPolls is how many status answers report STACKED after the
	// VEND VALID was ACKed (default 1).
	StackedPolls int

	// Table is the currency table; nil means tenge 200 … 20 000 as codes
	// 0x61–0x67 under KZTCountry. Version answers VERSION REQUEST.
	Table   []id003.Denom
	Version string

	// EscrowLimit is how long a bill waits in escrow before the unit gives
	// it back (reject 0x79) by itself (10 s); HoldTime is how long one HOLD
	// extends it (10 s).
	EscrowLimit time.Duration
	HoldTime    time.Duration
	// How long the mechanics take: scanning a bill (AcceptTime, 300 ms),
	// moving it to the stacker or back (StackTime, ReturnTime, 500 ms),
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

// DefaultTable is the currency table of a tenge unit: 200 … 20 000 ₸ as codes
// 0x61–0x67, and 0x68 unused.
func DefaultTable() []id003.Denom {
	return []id003.Denom{
		{Code: 0x61, Country: KZTCountry, Base: 200, Exp: 0},
		{Code: 0x62, Country: KZTCountry, Base: 50, Exp: 1},
		{Code: 0x63, Country: KZTCountry, Base: 100, Exp: 1},
		{Code: 0x64, Country: KZTCountry, Base: 20, Exp: 2},
		{Code: 0x65, Country: KZTCountry, Base: 50, Exp: 2},
		{Code: 0x66, Country: KZTCountry, Base: 100, Exp: 2},
		{Code: 0x67, Country: KZTCountry, Base: 200, Exp: 2},
		{Code: 0x68},
	}
}

// DefaultVersion is the emulated unit's VERSION answer.
const DefaultVersion = "iVIZION-100-SS ID003-05V266-47 14OCT09 6BA6"

// Errors of the emulator's controls: what a customer or technician would find
// the unit doing.
var (
	ErrNotAccepting = errors.New("the acceptor does not take bills now")
	ErrBusy         = errors.New("a bill is already in the acceptor")
	ErrUnknownBill  = errors.New("no such denomination in the currency table")
	ErrNoBill       = errors.New("no bill in the acceptor")
	ErrClosed       = acceptortest.ErrClosed
)

type phase int

const (
	phPowerUp phase = iota // reports 40/41/42 until RESET
	phInit                 // 1B until InitTime after RESET
	phRunning
)

type step int

const (
	stAccepting step = iota + 1
	stEscrow
	stHolding
	stStackAcked // STACK taken, the bill not moving yet
	stStacking
	stVendValid // in the stacker, waiting for the controller's ACK
	stStacked
	stReturning
	stRejecting
)

var stepNames = map[step]string{stAccepting: "accepting", stEscrow: "escrow", stHolding: "holding",
	stStackAcked: "stack_acked", stStacking: "stacking", stVendValid: "vend_valid", stStacked: "stacked", stReturning: "returning",
	stRejecting: "rejecting"}

// bill is the bill in the unit's path.
type bill struct {
	code   byte
	step   step
	until  time.Time // when the current step ends on its own
	left   int       // STACKED answers still to give
	reason byte      // rejection reason, for a bill that will be refused
	acks   int
}

// Emulator is a JCM ID-003 bill acceptor on a pseudo-terminal.
type Emulator struct {
	opts    EmuOptions
	log     *slog.Logger
	table   []id003.Denom
	version string

	mu        sync.Mutex
	phase     phase
	powerCode byte
	recover   byte // code of a bill found in the stacker, not yet reported
	initUntil time.Time
	settings  map[byte][]byte // C0–C7 as last set
	inhibited bool
	bill      *bill

	cassetteOut, cassetteFull, jammed, jammedStacker, paused, cheated bool
	failure                                                           byte

	corrupt, corruptVend, drop, damageIn, damageACK int
	silentUntil                                     time.Time
	stacked                                         map[kiosk.Money]int // every bill ever stacked
	cassette                                        map[kiosk.Money]int // the bills in the cassette now
	returned                                        int
	acks                                            []int // ACKs each VEND VALID bill got, in order

	fuse acceptortest.Fuse[Instant] // a power cut waiting for its instant

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
	if opts.StackedPolls <= 0 {
		opts.StackedPolls = 1
	}
	e := &Emulator{opts: opts, log: opts.Log, stacked: map[kiosk.Money]int{}, cassette: map[kiosk.Money]int{}, powerCode: id003.StPowerUp,
		version: opts.Version, table: opts.Table, inhibited: true}
	if e.log == nil {
		e.log = slog.New(slog.DiscardHandler)
	}
	if e.table == nil {
		e.table = DefaultTable()
	}
	if e.version == "" {
		e.version = DefaultVersion
	}
	for _, d := range e.table {
		if d.Code < id003.DenomFirst || d.Code > id003.DenomLast {
			return nil, fmt.Errorf("currency table entry %v: codes are 0x61–0x68", d)
		}
	}
	e.defaultSettings()
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

func (e *Emulator) defaultSettings() {
	all := e.opts.Layout.Bytes(0)
	e.settings = map[byte][]byte{
		id003.SetEnable: all[:], id003.SetSecurity: {0, 0}, id003.SetCommMode: {0},
		id003.SetInhibit: {1}, id003.SetDirection: {0}, id003.SetOptional: {0, 0},
		id003.SetBarcode: {1, 18}, id003.SetBarInhibit: {0xFE},
	}
}

// Path is the pty's slave device, the serial port a driver opens.
func (e *Emulator) Path() string { return e.port.Path() }

// LinkPath is the stable symlink (EmuOptions.LinkPath), or "".
func (e *Emulator) LinkPath() string { return e.port.LinkPath() }

// Close unplugs the unit for good.
func (e *Emulator) Close() error { return e.port.Close() }

// Unplug pulls the USB-serial adapter out: the pty closes and the link goes
// away. The unit keeps its power and state: a bill in escrow comes back to
// the customer when the escrow limit runs out.
func (e *Emulator) Unplug() { e.port.Unplug() }

// Replug plugs the adapter back in: a new pty, maybe under another path; the
// link, if any, points at it again.
func (e *Emulator) Replug() error { return e.port.Replug() }

// serve answers the controller's frames on one pty until it closes.
func (e *Emulator) serve(m *os.File) {
	dec := id003.NewDecoder(m)
	for {
		m.SetReadDeadline(time.Now().Add(100 * time.Millisecond))
		f, err := dec.Next()
		switch {
		case err == nil:
			e.mu.Lock()
			damaged := e.damageIn > 0
			if damaged {
				e.damageIn--
			} else if f.Code() == id003.CmdACK && e.damageACK > 0 {
				e.damageACK--
				damaged = true
			}
			echo := e.opts.Echo && !time.Now().Before(e.silentUntil)
			e.mu.Unlock()
			if echo {
				m.Write(id003.AppendFrame(nil, f.Data...))
			}
			var ans []byte
			if damaged {
				ans = e.badFrame()
			} else {
				ans = e.handle(f)
			}
			if ans != nil {
				if _, err := m.Write(ans); err != nil {
					return
				}
				e.answerSent()
			}
		case errors.Is(err, id003.ErrCRC):
			if ans := e.badFrame(); ans != nil {
				m.Write(ans)
			}
		case errors.Is(err, os.ErrDeadlineExceeded):
			if dec.Buffered() > 0 {
				dec.SkipStalled()
			}
		case errors.Is(err, os.ErrClosed), errors.Is(err, io.EOF):
			return
		default:
			e.log.Warn("acceptor emulator read", "err", err)
			return
		}
	}
}

// badFrame is the answer to a frame that arrived damaged.
func (e *Emulator) badFrame() []byte {
	e.mu.Lock()
	defer e.mu.Unlock()
	if e.opts.OnBadFrame == 0 {
		return nil
	}
	return e.frameLocked(time.Now(), []byte{e.opts.OnBadFrame})
}

// frameLocked frames data as the unit's answer, unless it is silent; it
// damages or loses the frame when asked to.
func (e *Emulator) frameLocked(now time.Time, data []byte) []byte {
	if now.Before(e.silentUntil) {
		return nil
	}
	if e.drop > 0 {
		e.drop--
		return nil
	}
	f := id003.AppendFrame(nil, data...)
	switch {
	case e.corrupt > 0:
		e.corrupt--
	case e.corruptVend > 0 && data[0] == id003.StVendValid:
		e.corruptVend--
	default:
		return f
	}
	f[len(f)-1] ^= 0x5A
	return f
}

// handle executes one command and returns the answer frame (nil for none).
func (e *Emulator) handle(f id003.Frame) []byte {
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
	if cmd != id003.CmdStatusRequest {
		e.log.Debug("acceptor emulator command", "frame", f.String())
	}
	ack := []byte{id003.AnsACK}
	invalid := []byte{id003.StInvalidCommand}
	var ans []byte
	b := e.bill
	switch {
	case cmd == id003.CmdACK:
		// The unit never answers the controller's ACK; outside VEND VALID it
		// is ignored.
		if b != nil && b.step == stVendValid {
			b.acks++
			e.acks = append(e.acks, b.acks)
			b.step, b.left = stStacked, e.opts.StackedPolls
			e.save()
		} else if n := len(e.acks); n > 0 && b != nil && b.step == stStacked {
			e.acks[n-1]++ // a second ACK for the same bill: counted against it
		}
		return nil
	case cmd == id003.CmdStatusRequest:
		ans = e.statusAnswer()
	case cmd == id003.CmdReset:
		e.reset(now)
		ans = ack
	case cmd == id003.CmdStack1 || cmd == id003.CmdStack2:
		switch {
		case b != nil && (b.step == stEscrow || b.step == stHolding):
			b.step, b.until = stStackAcked, now.Add(e.opts.StackStart)
			e.fuse.OnAnswer(AtStackAcked)
			e.save()
			ans = ack
		case b != nil && (b.step == stStackAcked || b.step == stStacking || b.step == stVendValid) && !e.opts.RepeatInvalid:
			ans = ack
		default:
			ans = invalid
		}
	case cmd == id003.CmdReturn:
		switch {
		case b != nil && (b.step == stEscrow || b.step == stHolding):
			b.step, b.until = stReturning, now.Add(e.opts.ReturnTime)
			e.save()
			ans = ack
		case b != nil && b.step == stReturning && !e.opts.RepeatInvalid:
			ans = ack
		default:
			ans = invalid
		}
	case cmd == id003.CmdHold:
		if b != nil && (b.step == stEscrow || b.step == stHolding) {
			b.step, b.until = stHolding, now.Add(e.opts.HoldTime)
			ans = ack
		} else {
			ans = invalid
		}
	case cmd == id003.CmdWait:
		ans = ack
	case cmd >= id003.SetEnable && cmd <= id003.SetBarInhibit:
		if e.phase == phPowerUp || e.phase == phInit && e.opts.SettingsAfterInit || len(arg) != len(e.settings[cmd]) {
			ans = invalid
			break
		}
		e.settings[cmd] = slices.Clone(arg)
		if cmd == id003.SetInhibit {
			e.inhibited = arg[0] != 0
		}
		ans = f.Data
	case cmd >= id003.ReqEnable && cmd <= id003.ReqEnable+7:
		ans = append([]byte{cmd}, e.settings[cmd-id003.ReqEnable+id003.SetEnable]...)
	case cmd == id003.ReqVersion:
		ans = append([]byte{cmd}, e.version...)
	case cmd == id003.ReqBootVersion:
		ans = append([]byte{cmd}, "BOOT-V1.00"...)
	case cmd == id003.ReqCurrency:
		ans = id003.AppendCurrencyTable([]byte{cmd}, e.table)
	default:
		ans = invalid
	}
	return e.frameLocked(now, ans)
}

// statusAnswer is the unit's status, as STATUS REQUEST reports it.
func (e *Emulator) statusAnswer() []byte {
	switch e.phase {
	case phPowerUp:
		return []byte{e.powerCode}
	case phInit:
		return []byte{id003.StInitialize}
	}
	b := e.bill
	// The credit is never hidden behind a fault: it waits for its ACK.
	if b != nil && b.step == stVendValid {
		e.fuse.OnAnswer(AtVendValidUnacked)
		return []byte{id003.StVendValid}
	}
	switch {
	case e.cassetteOut:
		return []byte{id003.StStackerOpen}
	case e.cassetteFull:
		return []byte{id003.StStackerFull}
	case e.jammed:
		return []byte{id003.StJamInAcceptor}
	case e.jammedStacker:
		return []byte{id003.StJamInStacker}
	case e.failure != 0:
		return []byte{id003.StFailure, e.failure}
	case e.cheated:
		return []byte{id003.StCheated}
	case e.paused && b != nil:
		return []byte{id003.StPause}
	}
	if b != nil {
		switch b.step {
		case stAccepting:
			return []byte{id003.StAccepting}
		case stEscrow:
			e.fuse.OnAnswer(AtEscrow)
			return []byte{id003.StEscrow, b.code}
		case stHolding:
			return []byte{id003.StHolding}
		case stStackAcked, stStacking:
			return []byte{id003.StStacking}
		case stStacked:
			if b.left--; b.left <= 0 {
				e.bill = nil
				e.save()
			}
			return []byte{id003.StStacked}
		case stReturning:
			return []byte{id003.StReturning}
		case stRejecting:
			return []byte{id003.StRejecting, b.reason}
		}
	}
	if e.inhibited {
		return []byte{id003.StDisabled}
	}
	return []byte{id003.StIdling}
}

func (e *Emulator) failedLocked() bool {
	return e.cassetteOut || e.cassetteFull || e.jammed || e.jammedStacker || e.failure != 0 || e.cheated
}

// reset is the RESET command: the unit gives back a bill in its head, keeps
// one that went too far, and initialises.
func (e *Emulator) reset(now time.Time) {
	if b := e.bill; b != nil {
		switch b.step {
		case stStacking:
			e.toStacker(b.code)
		case stVendValid, stStacked, stRejecting:
		default:
			e.returned++
		}
		if b.step == stStacking || b.step == stVendValid {
			e.recover = b.code
		}
		e.bill = nil
	}
	e.phase, e.initUntil = phInit, now.Add(e.opts.InitTime)
	e.paused = false
	e.save()
}

// toStacker puts a bill of code c in the cash box.
func (e *Emulator) toStacker(c byte) {
	e.stacked[e.value(c)]++
	e.cassette[e.value(c)]++
}

// advance runs the unit's mechanics up to now. Each step ends at its own time,
// so a controller that polls late sees what a real unit would have done.
func (e *Emulator) advance(now time.Time) {
	if e.fuse.Pending() {
		return // the power goes as soon as the answer now being sent is out
	}
	if e.phase == phInit && !now.Before(e.initUntil) {
		e.phase = phRunning
		e.inhibited = !e.opts.ComesUpEnabled
		if e.recover != 0 {
			if e.opts.VendAfterPowerUp {
				e.bill = &bill{code: e.recover, step: stVendValid}
			}
			e.recover = 0
		}
		e.save()
	}
	for b := e.bill; b != nil && !b.until.IsZero() && !now.Before(b.until); b = e.bill {
		at := b.until
		switch b.step {
		case stAccepting:
			switch {
			case b.reason != 0:
				b.step, b.until = stRejecting, at.Add(e.opts.RejectTime)
			default:
				b.step, b.until = stEscrow, at.Add(e.opts.EscrowLimit)
			}
		case stEscrow, stHolding:
			// Nobody answered the escrow in time: the unit gives it back.
			b.step, b.reason, b.until = stRejecting, id003.RejectInhibit, at.Add(e.opts.RejectTime)
			e.returned++
		case stStackAcked:
			b.step, b.until = stStacking, at.Add(e.opts.StackTime)
			e.armMidStack(b)
		case stStacking:
			if e.fuse.Due(AtStacking) {
				// Nobody looked while the bill moved: the power went half-way.
				e.cutLocked(now, AtStacking)
				return
			}
			e.toStacker(b.code)
			b.step, b.until = stVendValid, time.Time{}
			if e.fuse.Due(AtVendValidUntold) {
				e.save()
				e.cutLocked(now, AtVendValidUntold)
				return
			}
		case stReturning:
			e.returned++
			e.bill = nil
		case stRejecting:
			e.bill = nil
		default:
			b.until = time.Time{}
		}
		e.save()
	}
}

// value is the bill code's value in minor units (tiyn for tenge).
func (e *Emulator) value(c byte) kiosk.Money {
	for _, d := range e.table {
		if d.Code == c {
			v, _ := d.Minor()
			return kiosk.Money(v)
		}
	}
	return 0
}

// insert puts a bill in the unit's mouth.
func (e *Emulator) insert(code byte, reason byte) error {
	now := time.Now()
	e.mu.Lock()
	defer e.mu.Unlock()
	e.advance(now)
	switch {
	case e.port.Closed():
		return ErrClosed
	case e.phase != phRunning || e.failedLocked() || e.inhibited:
		return ErrNotAccepting
	case e.bill != nil:
		return ErrBusy
	}
	if reason == 0 && !e.opts.Layout.Enabled(e.settings[id003.SetEnable]).Has(code) {
		reason = id003.RejectInhibit
	}
	e.bill = &bill{code: code, step: stAccepting, until: now.Add(e.opts.AcceptTime), reason: reason}
	if reason == 0 && e.fuse.Due(AtAccepting) {
		e.cutLocked(now, AtAccepting)
	}
	return nil
}

// InsertBill feeds a genuine bill of value (in tiyn). An enabled denomination
// goes to escrow; an inhibited one is refused (reject 0x79).
func (e *Emulator) InsertBill(value kiosk.Money) error {
	for _, d := range e.table {
		if v, ok := d.Minor(); ok && kiosk.Money(v) == value {
			return e.insert(d.Code, 0)
		}
	}
	return fmt.Errorf("%w: %s", ErrUnknownBill, value)
}

// InsertFake feeds something that is not a banknote; the unit refuses it
// (REJECTING, photo level).
func (e *Emulator) InsertFake() error { return e.insert(id003.DenomFirst, id003.RejectPhotoLevel) }

// Jam jams the acceptor's head. A bill in it stays stuck until ClearJam,
// when the technician takes it out: no status ever tells of it.
func (e *Emulator) Jam() {
	e.mu.Lock()
	defer e.mu.Unlock()
	e.advance(time.Now())
	e.jammed = true
	if b := e.bill; b != nil && b.step != stStacking && b.step != stVendValid {
		e.bill = nil
	}
	e.save()
}

// JamStacker jams the stacker; a bill being stacked stays there until
// ClearJam, when it is found in the cash box.
func (e *Emulator) JamStacker() {
	e.mu.Lock()
	defer e.mu.Unlock()
	e.advance(time.Now())
	e.jammedStacker = true
	e.save()
}

// ClearJam frees the head and the stacker.
func (e *Emulator) ClearJam() {
	e.mu.Lock()
	defer e.mu.Unlock()
	e.jammed, e.jammedStacker = false, false
	e.save()
}

// Fail makes the unit report FAILURE with code (0xA2 stack motor …) until
// ClearFailure.
func (e *Emulator) Fail(code byte) {
	e.mu.Lock()
	defer e.mu.Unlock()
	e.failure = code
}

// ClearFailure ends a Fail.
func (e *Emulator) ClearFailure() { e.Fail(0) }

// Pause makes the unit report PAUSE while a bill is in it (a second bill
// pushed in behind the first), until Pause(false).
func (e *Emulator) Pause(on bool) {
	e.mu.Lock()
	defer e.mu.Unlock()
	e.paused = on
}

// Cheat makes the unit report CHEATED (a bill pulled back on a string) until
// Cheat(false).
func (e *Emulator) Cheat(on bool) {
	e.mu.Lock()
	defer e.mu.Unlock()
	e.advance(time.Now())
	e.cheated = on
	if b := e.bill; on && b != nil && b.step != stStacking && b.step != stVendValid {
		e.bill = nil // gone with the string
	}
}

// cassetteEvent settles a bill in flight before the cash box stops taking
// bills: one in escrow goes back, one on its way into the box goes in.
func (e *Emulator) cassetteEvent(set func()) {
	now := time.Now()
	e.mu.Lock()
	defer e.mu.Unlock()
	e.advance(now)
	if b := e.bill; b != nil {
		switch b.step {
		case stStacking:
			b.until = now
			e.advance(now)
		case stEscrow, stHolding, stStackAcked, stReturning, stAccepting:
			e.returned++
			e.bill = nil
		}
	}
	set()
	e.save()
}

// RemoveCassette pulls the cash box out.
func (e *Emulator) RemoveCassette() { e.cassetteEvent(func() { e.cassetteOut = true }) }

// FillCassette makes the cash box full.
func (e *Emulator) FillCassette() { e.cassetteEvent(func() { e.cassetteFull = true }) }

// InsertCassette puts an empty cash box in: Cassette starts from zero, while
// Stacked keeps counting every bill the unit ever stacked.
func (e *Emulator) InsertCassette() {
	e.mu.Lock()
	defer e.mu.Unlock()
	e.cassetteOut, e.cassetteFull = false, false
	e.cassette = map[kiosk.Money]int{}
	e.save()
}

// PowerCycle cuts the power and restores it after PowerOffTime, during which
// the unit is silent. at says where the cut caught the bill in flight:
// BillInValidator (still in the head: POWER UP WITH BILL IN ACCEPTOR, given
// back at RESET), BillInStacker (too far to return: POWER UP WITH BILL IN
// STACKER, the bill in the cash box) or BillNowhere (POWER UP; a bill in
// flight is lost to the customer's hand). A position other than BillNowhere
// needs a bill in flight.
func (e *Emulator) PowerCycle(at kiosk.BillPosition) error {
	now := time.Now()
	e.mu.Lock()
	defer e.mu.Unlock()
	e.advance(now)
	b := e.bill
	if at != kiosk.BillNowhere && (b == nil || b.step == stRejecting || b.step == stStacked) {
		return ErrNoBill
	}
	e.bill = nil
	switch at {
	case kiosk.BillInValidator:
		e.bill = &bill{code: b.code, step: stAccepting}
	case kiosk.BillInStacker:
		if b.step == stVendValid {
			e.bill = &bill{code: b.code, step: stVendValid}
		} else {
			e.bill = &bill{code: b.code, step: stStacking}
		}
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
		case stStacking, stVendValid:
			return kiosk.BillInStacker
		case stAccepting, stEscrow, stHolding, stStackAcked, stReturning:
			return kiosk.BillInValidator
		}
	}
	return kiosk.BillNowhere
}

// powerOn is the unit coming to life with whatever bill the cut left in it.
func (e *Emulator) powerOn(now time.Time) {
	e.phase, e.powerCode = phPowerUp, id003.StPowerUp
	e.defaultSettings()
	e.inhibited, e.paused = true, false
	if b := e.bill; b != nil {
		switch b.step {
		case stStacking:
			e.toStacker(b.code)
			e.recover = b.code
		case stVendValid:
			e.recover = b.code // counted when it got there
		default:
			e.powerCode = id003.StPowerUpAcceptor
			e.bill = &bill{code: b.code, step: stAccepting} // held in the head until RESET
			return
		}
		e.bill = nil
	}
	if e.recover != 0 {
		e.powerCode = id003.StPowerUpStacker
	}
}

// CorruptNext damages the next n answers (their CRC no longer matches).
func (e *Emulator) CorruptNext(n int) {
	e.mu.Lock()
	defer e.mu.Unlock()
	e.corrupt = n
}

// CorruptVendValid damages the next n VEND VALID answers: the answers a
// driver must neither lose nor count twice.
func (e *Emulator) CorruptVendValid(n int) {
	e.mu.Lock()
	defer e.mu.Unlock()
	e.corruptVend = n
}

// DropNext loses the next n answers on the line.
func (e *Emulator) DropNext(n int) {
	e.mu.Lock()
	defer e.mu.Unlock()
	e.drop = n
}

// DamageCommands makes the next n frames from the controller arrive damaged:
// the unit does not act on them and answers as OnBadFrame says.
func (e *Emulator) DamageCommands(n int) {
	e.mu.Lock()
	defer e.mu.Unlock()
	e.damageIn = n
}

// DamageACKs makes the next n ACKs from the controller arrive damaged: the
// unit keeps reporting VEND VALID.
func (e *Emulator) DamageACKs(n int) {
	e.mu.Lock()
	defer e.mu.Unlock()
	e.damageACK = n
}

// Silence makes the unit ignore the controller for d, like a unit hung
// without losing power.
func (e *Emulator) Silence(d time.Duration) {
	e.mu.Lock()
	defer e.mu.Unlock()
	e.silentUntil = time.Now().Add(d)
}

// Stacked counts every bill the unit put in a cash box, by value in tiyn.
func (e *Emulator) Stacked() map[kiosk.Money]int {
	e.mu.Lock()
	defer e.mu.Unlock()
	e.advance(time.Now())
	return maps.Clone(e.stacked)
}

// Returned counts the bills the unit gave back after they reached escrow (or
// were found in its head at power-up).
func (e *Emulator) Returned() int {
	e.mu.Lock()
	defer e.mu.Unlock()
	e.advance(time.Now())
	return e.returned
}

// VendACKs lists, for every bill that reached VEND VALID and was
// acknowledged, how many ACKs the unit received for it.
func (e *Emulator) VendACKs() []int {
	e.mu.Lock()
	defer e.mu.Unlock()
	return slices.Clone(e.acks)
}

// Enabled is the set of codes the unit would take now (none while
// inhibited).
func (e *Emulator) Enabled() id003.DenomMask {
	e.mu.Lock()
	defer e.mu.Unlock()
	if e.inhibited {
		return 0
	}
	return e.opts.Layout.Enabled(e.settings[id003.SetEnable])
}

// Status describes the unit for a person at the simulator's prompt.
func (e *Emulator) Status() string {
	e.mu.Lock()
	defer e.mu.Unlock()
	e.advance(time.Now())
	ans := e.peekLocked()
	s := fmt.Sprintf("state %s (% 02X)", id003.StateName(ans[0]), ans)
	if b := e.bill; b != nil {
		s += fmt.Sprintf(", bill %s %s", e.value(b.code), stepNames[b.step])
	}
	if !e.port.Plugged() {
		s += ", unplugged"
	}
	return s
}

// peekLocked is what the next STATUS REQUEST would answer, without counting
// it.
func (e *Emulator) peekLocked() []byte {
	var saved bill
	if e.bill != nil {
		saved = *e.bill
	}
	b, fuse := e.bill, e.fuse
	ans := e.statusAnswer()
	if b != nil {
		*b = saved
		e.bill = b
	}
	e.fuse = fuse
	return ans
}

// save writes the state a power cut must not lose, when a StateFile is set.
func (e *Emulator) save() {
	if e.opts.StateFile == "" {
		return
	}
	st := persisted{Box: acceptortest.NewBox(e.stacked, e.cassette, e.cassetteOut, e.cassetteFull, e.jammed),
		Returned: e.returned, Recover: e.recover}
	if b := e.bill; b != nil && b.step != stRejecting && b.step != stStacked {
		st.BillCode, st.BillStep = b.code, stepNames[b.step]
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
	e.returned, e.recover = st.Returned, st.Recover
	e.cassetteOut, e.cassetteFull, e.jammed = st.CassetteOut, st.CassetteFull, st.Jammed
	if st.BillCode != 0 {
		for s, n := range stepNames {
			if n == st.BillStep {
				e.bill = &bill{code: st.BillCode, step: s}
			}
		}
	}
	return nil
}
