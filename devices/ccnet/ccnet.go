package ccnet

import (
	"context"
	"errors"
	"fmt"
	"log/slog"
	"maps"
	"slices"
	"sync"
	"sync/atomic"
	"time"

	"tolem/devices/acceptor"
	"tolem/devices/serialport"
	"tolem/kiosk"
)

// Opts configure a Dev. The zero value (or nil) is a tenge unit at 9600 baud.
type Opts struct {
	// Baud of the serial line; CCNET units speak 9600.
	Baud int
	// PollInterval between POLLs, 100–200 ms (150 ms).
	PollInterval time.Duration
	// Currencies maps the firmware's country codes of the bill table to ISO
	// 4217 (default KZT→KZT, KAZ→KZT). A map given here replaces the default.
	// Only types whose code maps to the kiosk's currency (KZT) are ever
	// enabled.
	Currencies map[string]string
	// HoldInterval is how often an undecided escrow is extended with HOLD
	// (5 s); it must stay well under the unit's 10 s escrow limit.
	HoldInterval time.Duration
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
	DefaultHold         = 5 * time.Second
)

// DefaultCurrencies maps the country codes tenge firmware uses to ISO 4217.
func DefaultCurrencies() map[string]string { return map[string]string{"KZT": "KZT", "KAZ": "KZT"} }

// Dev is a CashCode bill validator on a serial line, driven over CCNET. It
// implements kiosk.Acceptor.
//
// One goroutine owns the line: it initialises the unit, polls it, turns its
// answers into events and sends the commands the API calls queue. When the
// line fails it reports FaultDisconnected and keeps trying to reconnect; after
// every (re)initialisation the unit is disabled until Enable is called again.
type Dev struct {
	path  string
	opts  Opts
	log   *slog.Logger
	clock kiosk.Clock

	// activity is when the driver last sent a command or tried to reach the
	// unit (unix nanoseconds); LastActivity reads it.
	activity atomic.Int64

	wake     chan struct{} // an API call queued work for the poll loop
	done     chan struct{}
	wg       sync.WaitGroup // the run goroutine
	delivery *acceptor.Delivery
	close    sync.Once

	mu       sync.Mutex
	ready    bool
	state    string
	ident    Identity
	table    [NumTypes]BillType
	values   [NumTypes]kiosk.Money // 0: the type cannot be used
	currency string
	faults   *acceptor.Faults
	errs     acceptor.LastErrors
	want     BillMask // types the flow enabled
	dirty    bool     // want not yet sent to the unit
	halts    []chan struct{}
	bill     *inFlight

	// Owned by the run goroutine.
	poll pollMemory
	hook func(*link)
	// lastEnd is the last STACKED or RETURNED answer turned into an event,
	// kept across reconnects: a unit that repeats it to the new connection
	// (ccnet.md A.4) reports the same bill, not a new one. A new bill
	// (escrow, accepting) clears it.
	lastEnd    [2]byte
	hasLastEnd bool
}

// inFlight is the bill between ESCROW and STACKED/RETURNED, as far as the
// driver knows.
type inFlight struct {
	typ   int
	value kiosk.Money
	phase billPhase
	// decision is CmdStack or CmdReturn once the flow (or the driver, for a
	// bill it cannot value) decided; tries counts ILLEGAL answers to it.
	decision byte
	tries    int
	lastHold time.Time
	// told: the flow got an EventEscrow for it, so its end must be told too.
	told bool
	// stackingTold: the flow got EventStacking for it.
	stackingTold bool
}

type billPhase int

const (
	phaseEscrow billPhase = iota
	phaseStacking
	phaseReturning
)

// New starts a driver for the validator on the serial device at port
// (/dev/ttyUSB0, a /dev/serial/by-id name, or a pty). It returns at once: the
// unit is initialised in the background, and EventReady (after EventPowerUp)
// tells when it can take bills. A unit that cannot be reached is reported as
// FaultDisconnected and tried again with back-off, so a loose cable at boot
// does not keep the kiosk from starting. Only bad options are an error.
func New(port string, opts *Opts) (*Dev, error) { return newDev(port, opts, nil) }

// newDev is New with a hook that sees every link before it is used.
func newDev(port string, opts *Opts, hook func(*link)) (*Dev, error) {
	var o Opts
	if opts != nil {
		o = *opts
	}
	if port == "" && o.Open == nil {
		return nil, errors.New("ccnet: no serial port given: set acceptor.port (e.g. /dev/ttyUSB0)")
	}
	if o.Baud == 0 {
		o.Baud = DefaultBaud
	}
	if o.PollInterval == 0 {
		o.PollInterval = DefaultPollInterval
	}
	if o.PollInterval < 20*time.Millisecond || o.PollInterval > time.Second {
		return nil, fmt.Errorf("ccnet: poll interval %v out of range: use 100–200 ms", o.PollInterval)
	}
	if o.HoldInterval == 0 {
		o.HoldInterval = DefaultHold
	}
	if o.HoldInterval < 0 || o.HoldInterval > 9*time.Second {
		return nil, fmt.Errorf("ccnet: hold interval %v: it must stay under the unit's 10 s escrow limit (use 5 s)", o.HoldInterval)
	}
	if o.Currencies == nil {
		o.Currencies = DefaultCurrencies()
	}
	o.Currencies = maps.Clone(o.Currencies) // read later by the poll loop
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
			return serialport.Open(path, baud, serialport.DefaultReadTimeout)
		}
	}
	d := &Dev{
		path:     port,
		opts:     o,
		log:      o.Log.With("acceptor", "ccnet", "port", port),
		clock:    o.Clock,
		wake:     make(chan struct{}, 1),
		done:     make(chan struct{}),
		delivery: acceptor.NewDelivery(),
		state:    "connecting",
		hook:     hook,
	}
	d.faults = acceptor.NewFaults(&d.mu, "bill validator", d.log, d.emit)
	d.wg.Add(1)
	go d.run()
	return d, nil
}

var _ kiosk.Acceptor = (*Dev)(nil)

// Enable lets the unit take the bills whose value is in values, with escrow.
// Values the bill table lacks are ignored.
func (d *Dev) Enable(_ context.Context, values []kiosk.Money) error {
	d.mu.Lock()
	defer d.mu.Unlock()
	if !d.ready {
		return kiosk.ErrAcceptorOffline
	}
	var m BillMask
	for t, v := range d.values {
		if v != 0 && slices.Contains(values, v) {
			m |= 1 << t
		}
	}
	d.setWant(m)
	return nil
}

// Disable inhibits every bill. Offline, the unit is disabled already: it comes
// back from every initialisation disabled.
func (d *Dev) Disable(_ context.Context) error {
	d.mu.Lock()
	defer d.mu.Unlock()
	if !d.ready {
		return kiosk.ErrAcceptorOffline
	}
	d.setWant(0)
	return nil
}

func (d *Dev) setWant(m BillMask) {
	if m != d.want {
		d.want, d.dirty = m, true
		d.poke()
	}
}

// Stack sends the bill in escrow to the cassette.
func (d *Dev) Stack(_ context.Context) error { return d.decide(CmdStack) }

// Return gives the bill in escrow back.
func (d *Dev) Return(_ context.Context) error { return d.decide(CmdReturn) }

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
		return fmt.Errorf("ccnet: the bill in escrow is being %s already", decisionName(b.decision))
	}
	b.decision = cmd
	d.poke()
	return nil
}

func decisionName(cmd byte) string {
	if cmd == CmdStack {
		return "stacked"
	}
	return "returned"
}

// poke wakes the poll loop; d.mu may be held.
func (d *Dev) poke() {
	select {
	case d.wake <- struct{}{}:
	default:
	}
}

// LastActivity is when the driver last sent a command to the unit or tried
// to reach it. A poll loop that stops advancing it is hung: kioskd's
// watchdog then lets systemd restart the daemon.
func (d *Dev) LastActivity() time.Time {
	if n := d.activity.Load(); n != 0 {
		return time.Unix(0, n)
	}
	return time.Time{}
}

// Events delivers the unit's events in order; closed by Close.
func (d *Dev) Events() <-chan kiosk.AcceptorEvent { return d.delivery.Events() }

// Info is the unit's identity and state.
func (d *Dev) Info() kiosk.AcceptorInfo {
	d.mu.Lock()
	defer d.mu.Unlock()
	info := kiosk.AcceptorInfo{
		Protocol:   "ccnet",
		Port:       d.path,
		Model:      d.ident.PartNumber,
		Serial:     d.ident.Serial,
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

// Halt inhibits every bill and waits (up to 3 s) until the unit confirmed.
// The driver keeps running: Enable undoes it.
func (d *Dev) Halt() error {
	d.mu.Lock()
	if !d.ready {
		d.mu.Unlock()
		return nil // every initialisation leaves the unit disabled
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
		return errors.New("ccnet: the bill validator did not confirm DISABLE within 3 s")
	}
}

// Close disables the unit, stops the driver and releases the port. Events
// the driver took from the unit and that were not yet received are still
// delivered: Events is closed after the last of them, and the caller reads
// it until then, so that no bill's report is lost on the way out.
func (d *Dev) Close() error {
	var err error
	d.close.Do(func() {
		err = d.Halt()
		close(d.done)
		d.wg.Wait()
		// The run goroutine has returned: nothing more can be emitted.
		d.delivery.Stop()
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

// currencyOf reports the ISO code for a firmware country code, if known.
func (d *Dev) currencyOf(code string) (string, bool) {
	iso, ok := d.opts.Currencies[code]
	return iso, ok
}
