package id003

import (
	"context"
	"errors"
	"fmt"
	"log/slog"
	"maps"
	"slices"
	"strconv"
	"strings"
	"sync"
	"sync/atomic"
	"time"

	"tolem/devices/acceptor"
	"tolem/devices/serialport"
	"tolem/kiosk"
)

// Opts configure a Dev. The zero value (or nil) is a tenge unit at 9600 8E1.
type Opts struct {
	// Baud of the serial line; ID-003 units speak 9600.
	Baud int
	// PollInterval between STATUS REQUESTs, 100–200 ms (150 ms).
	PollInterval time.Duration
	// Countries maps JCM's one-byte country codes of the unit's currency
	// table to ISO 4217. JCM's code for tenge is not published: with no
	// code mapped to KZT, a code whose every denomination is a tenge
	// banknote is taken for tenge (and logged, to be pinned here). A code
	// mapped to another currency, or one of JCM's known foreign codes, is
	// never enabled.
	Countries map[byte]string
	// Layout of the ENABLE/DISABLE bitmap for this model.
	Layout EnableLayout
	// HoldInterval: a bill in escrow the flow has not decided on yet gets a
	// HOLD this long after it arrived, and again this often (500 ms). The
	// unit's own escrow timeout is not documented; answering within a second
	// keeps the driver clear of it.
	HoldInterval time.Duration
	// Stack2 stacks with STACK-2 (VEND VALID once the bill is fully in the
	// stacker) instead of STACK-1 (VEND VALID as it passes the lever).
	Stack2 bool
	// OptionalFunctions is the C5 setting sent at initialisation (03 00).
	OptionalFunctions [2]byte
	// ReconnectMin and ReconnectMax bound the back-off between attempts to
	// reach a unit that went away (0.5 s, 10 s).
	ReconnectMin, ReconnectMax time.Duration
	Log                        *slog.Logger
	// Clock stamps events and times the escrow HOLDs (kiosk.SystemClock).
	// The wire's own timeouts run on the wall clock.
	Clock kiosk.Clock
	// Open opens the serial line; tests substitute their own ports.
	Open func(path string) (serialport.Port, error)
}

// Driver defaults.
const (
	DefaultBaud         = 9600
	DefaultPollInterval = 150 * time.Millisecond
	DefaultHold         = 500 * time.Millisecond
)

// DefaultOptionalFunctions is the C5 value a Unity driver sends (bits 0 and 1,
// which another names "hanging" and "power recovery").
var DefaultOptionalFunctions = [2]byte{0x03, 0x00}

// foreignCountries are JCM country codes the notes identify (B.6). They are
// never taken for tenge, whatever their values.
var foreignCountries = map[byte]string{0x01: "USD", 0x08: "CAD", 0xE0: "EUR"}

// tengeNotes are the tenge banknotes in circulation, in tiyn: how a country
// code nobody mapped is recognised as tenge.
var tengeNotes = []kiosk.Money{kiosk.Tenge(200), kiosk.Tenge(500), kiosk.Tenge(1000), kiosk.Tenge(2000),
	kiosk.Tenge(5000), kiosk.Tenge(10000), kiosk.Tenge(20000)}

// CountriesFromConfig picks the JCM country codes out of the config's
// acceptor.currencies: keys written as hex bytes ("0x4B": KZT). Other keys
// (the 3-letter codes CCNET tables use) do not concern ID-003 and are
// skipped.
func CountriesFromConfig(m map[string]string) map[byte]string {
	out := map[byte]string{}
	for k, iso := range m {
		h, ok := strings.CutPrefix(strings.ToLower(k), "0x")
		if !ok {
			continue
		}
		if b, err := strconv.ParseUint(h, 16, 8); err == nil {
			out[byte(b)] = iso
		}
	}
	return out
}

// Dev is a JCM bill acceptor on a serial line, driven over ID-003. It
// implements kiosk.Acceptor.
//
// One goroutine owns the line: it initialises the unit, polls it, turns its
// statuses into events and sends the commands the API calls queue. When the
// line fails it reports FaultDisconnected and keeps trying to reconnect; after
// every (re)initialisation the unit is inhibited until Enable is called again.
type Dev struct {
	path  string
	opts  Opts
	log   *slog.Logger
	clock kiosk.Clock

	// activity is when the driver last sent a request or tried to reach the
	// unit (unix nanoseconds); LastActivity reads it.
	activity atomic.Int64

	wake     chan struct{} // an API call queued work for the poll loop
	done     chan struct{}
	wg       sync.WaitGroup
	delivery *acceptor.Delivery
	close    sync.Once

	mu       sync.Mutex
	ready    bool
	state    string
	version  Version
	table    []Denom
	values   [NumDenoms]kiosk.Money // 0: the code cannot be used
	currency string
	faults   *acceptor.Faults
	errs     acceptor.LastErrors
	want     DenomMask // codes the flow enabled
	dirty    bool      // want not yet sent to the unit
	halts    []chan struct{}
	// bill is the last bill the unit escrowed. It is kept after it ended,
	// and across reconnects, so that a VEND VALID or STACKED the unit
	// repeats is known for the bill already counted.
	bill *inFlight

	// Owned by the run goroutine.
	poll pollMemory
	hook func(*link)
}

// inFlight is a bill from its ESCROW on, as far as the driver knows.
type inFlight struct {
	code  byte
	value kiosk.Money
	phase billPhase
	// decision is the stack command or CmdReturn once the flow (or the
	// driver, for a bill it cannot value) decided; tries counts the copies
	// sent that the unit did not act on.
	decision byte
	tries    int
	// lastHold is when the bill arrived or last got a HOLD (d.clock).
	lastHold time.Time
	// told: the flow got an EventEscrow for it, so its end must be told too.
	told, stackingTold bool
}

type billPhase int

const (
	phaseEscrow billPhase = iota
	phaseStacking
	phaseReturning
	phaseStacked  // counted (EventStacked, or the power-up report)
	phaseReturned // back with the customer, or reported at power-up
)

func (b *inFlight) active() bool { return b != nil && b.phase <= phaseReturning }

// New starts a driver for the acceptor on the serial device at port
// (/dev/ttyUSB0, a /dev/serial/by-id name, or a pty). It returns at once: the
// unit is initialised in the background, and EventReady (after EventPowerUp)
// tells when it can take bills. A unit that cannot be reached is reported as
// FaultDisconnected and tried again with back-off. Only bad options are an
// error.
func New(port string, opts *Opts) (*Dev, error) { return newDev(port, opts, nil) }

// newDev is New with a hook that sees every link before it is used.
func newDev(port string, opts *Opts, hook func(*link)) (*Dev, error) {
	var o Opts
	if opts != nil {
		o = *opts
	}
	if port == "" && o.Open == nil {
		return nil, errors.New("id003: no serial port given: set acceptor.port (e.g. /dev/ttyUSB0)")
	}
	if o.Baud == 0 {
		o.Baud = DefaultBaud
	}
	if o.PollInterval == 0 {
		o.PollInterval = DefaultPollInterval
	}
	if o.PollInterval < 20*time.Millisecond || o.PollInterval > time.Second {
		return nil, fmt.Errorf("id003: poll interval %v out of range: use 100–200 ms", o.PollInterval)
	}
	if o.HoldInterval == 0 {
		o.HoldInterval = DefaultHold
	}
	if o.HoldInterval < 0 || o.HoldInterval > 9*time.Second {
		return nil, fmt.Errorf("id003: hold interval %v: answer an escrow within a second (use 500 ms)", o.HoldInterval)
	}
	if o.OptionalFunctions == [2]byte{} {
		o.OptionalFunctions = DefaultOptionalFunctions
	}
	o.Countries = maps.Clone(o.Countries)
	if o.ReconnectMin <= 0 {
		o.ReconnectMin = 500 * time.Millisecond
	}
	if o.ReconnectMax < o.ReconnectMin {
		o.ReconnectMax = max(10*time.Second, o.ReconnectMin)
	}
	if o.Log == nil {
		o.Log = slog.New(slog.DiscardHandler)
	}
	if o.Clock == nil {
		o.Clock = kiosk.SystemClock{}
	}
	if o.Open == nil {
		baud := o.Baud
		o.Open = func(path string) (serialport.Port, error) {
			return serialport.OpenParity(path, baud, serialport.ParityEven, serialport.DefaultReadTimeout)
		}
	}
	d := &Dev{
		path:     port,
		opts:     o,
		log:      o.Log.With("acceptor", "id003", "port", port),
		clock:    o.Clock,
		wake:     make(chan struct{}, 1),
		done:     make(chan struct{}),
		delivery: acceptor.NewDelivery(),
		state:    "connecting",
		hook:     hook,
	}
	d.faults = acceptor.NewFaults(&d.mu, "bill acceptor", d.log, d.emit)
	d.wg.Add(1)
	go func() {
		// The poll loop has ended: nothing more can be emitted.
		defer d.delivery.Stop()
		d.run()
	}()
	return d, nil
}

var _ kiosk.Acceptor = (*Dev)(nil)

// Enable lets the unit take the bills whose value is in values, into escrow.
// Values the unit's table lacks are ignored.
func (d *Dev) Enable(_ context.Context, values []kiosk.Money) error {
	d.mu.Lock()
	defer d.mu.Unlock()
	if !d.ready {
		return kiosk.ErrAcceptorOffline
	}
	var m DenomMask
	for i, v := range d.values {
		if v != 0 && slices.Contains(values, v) {
			m |= 1 << i
		}
	}
	d.setWant(m)
	return nil
}

// Disable inhibits every bill. Offline, the unit is inhibited already: every
// initialisation leaves it so.
func (d *Dev) Disable(_ context.Context) error {
	d.mu.Lock()
	defer d.mu.Unlock()
	if !d.ready {
		return kiosk.ErrAcceptorOffline
	}
	d.setWant(0)
	return nil
}

func (d *Dev) setWant(m DenomMask) {
	if m != d.want {
		d.want, d.dirty = m, true
		d.poke()
	}
}

// Stack sends the bill in escrow to the stacker.
func (d *Dev) Stack(_ context.Context) error { return d.decide(d.stackCmd()) }

// Return gives the bill in escrow back.
func (d *Dev) Return(_ context.Context) error { return d.decide(CmdReturn) }

func (d *Dev) stackCmd() byte {
	if d.opts.Stack2 {
		return CmdStack2
	}
	return CmdStack1
}

func (d *Dev) decide(cmd byte) error {
	d.mu.Lock()
	defer d.mu.Unlock()
	if !d.ready {
		return kiosk.ErrAcceptorOffline
	}
	b := d.bill
	if b == nil || !b.told || b.phase != phaseEscrow {
		return kiosk.ErrNoEscrow
	}
	if b.decision != 0 && b.decision != cmd {
		return fmt.Errorf("id003: the bill in escrow is being %s already", decisionName(b.decision))
	}
	b.decision = cmd
	d.poke()
	return nil
}

func decisionName(cmd byte) string {
	if cmd == CmdReturn {
		return "returned"
	}
	return "stacked"
}

// poke wakes the poll loop; d.mu may be held.
func (d *Dev) poke() {
	select {
	case d.wake <- struct{}{}:
	default:
	}
}

// LastActivity is when the driver last sent a request to the unit or tried
// to reach it. A poll loop that stops advancing it is hung: kioskd's
// watchdog then lets systemd restart the daemon.
func (d *Dev) LastActivity() time.Time {
	if n := d.activity.Load(); n != 0 {
		return time.Unix(0, n)
	}
	return time.Time{}
}

// Events delivers the unit's events in order; closed after Close, once the
// last event was received.
func (d *Dev) Events() <-chan kiosk.AcceptorEvent { return d.delivery.Events() }

// Info is the unit's identity and state.
func (d *Dev) Info() kiosk.AcceptorInfo {
	d.mu.Lock()
	defer d.mu.Unlock()
	info := kiosk.AcceptorInfo{
		Protocol:   "id003",
		Port:       d.path,
		Model:      d.version.Model,
		Firmware:   d.version.Firmware,
		State:      d.state,
		Currency:   d.currency,
		LastErrors: slices.Clone(d.errs),
		Ready:      d.ready && d.faults.Len() == 0,
	}
	for _, v := range d.values {
		if v != 0 && !slices.Contains(info.Denominations, v) {
			info.Denominations = append(info.Denominations, v)
		}
	}
	slices.Sort(info.Denominations)
	info.Faults = d.faults.Kinds()
	return info
}

// Table is the unit's currency table as it reported it.
func (d *Dev) Table() []Denom {
	d.mu.Lock()
	defer d.mu.Unlock()
	return slices.Clone(d.table)
}

// Halt inhibits every bill and waits (up to 3 s) until the unit confirmed.
// The driver keeps running: Enable undoes it.
func (d *Dev) Halt() error {
	d.mu.Lock()
	if !d.ready {
		d.mu.Unlock()
		return nil // every initialisation leaves the unit inhibited
	}
	d.setWant(0)
	if !d.dirty {
		d.mu.Unlock()
		return nil
	}
	ch := make(chan struct{})
	d.halts = append(d.halts, ch)
	d.mu.Unlock()
	t := time.NewTimer(3 * time.Second)
	defer t.Stop()
	select {
	case <-ch:
		return nil
	case <-d.done:
		return errClosed
	case <-t.C:
		return errors.New("id003: the bill acceptor did not confirm INHIBIT within 3 s")
	}
}

// Close inhibits the unit, stops the driver and releases the port. Events the
// driver emitted and the caller has not received are not dropped: Events
// delivers them and is closed after the last.
func (d *Dev) Close() error {
	var err error
	d.close.Do(func() {
		err = d.Halt()
		close(d.done)
		d.wg.Wait()
	})
	if errors.Is(err, errClosed) {
		err = nil
	}
	return err
}

// emit queues an event for delivery; the poll loop must never wait for the
// flow to read one, or a slow reader would stop the HOLDs.
func (d *Dev) emit(e kiosk.AcceptorEvent) {
	e.At = d.clock.Now()
	acceptor.LogEvent(d.log, e)
	d.delivery.Push(e)
}

// noteError keeps err among the last errors Info shows.
func (d *Dev) noteError(err error) {
	d.mu.Lock()
	defer d.mu.Unlock()
	d.errs.Add(d.clock.Now(), err)
}

func (d *Dev) setState(s string) {
	d.mu.Lock()
	old := d.state
	d.state = s
	d.mu.Unlock()
	if old != s {
		d.log.Info("acceptor state", "from", old, "to", s)
	}
}
