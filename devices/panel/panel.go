package panel

import (
	"context"
	"errors"
	"fmt"
	"io"
	"log/slog"
	"sync"
	"sync/atomic"
	"time"

	"periph.io/x/conn/v3/gpio"

	"tolem/devices/panel/charrom"
	"tolem/devices/panel/hd44780"
	"tolem/kiosk"
)

// Hardware is the panel's resolved hardware, what Open finds from the pin
// names of a GPIOConfig. Tests build it from periph's fakes.
type Hardware struct {
	// Display is the LCD's bus (hd44780.NewGPIO or hd44780.NewPCF8574).
	Display hd44780.Bus
	// Rows are driven and, during a scan, released, hence PinIO.
	Rows [4]gpio.PinIO
	Cols [3]gpio.PinIn
	// Buttons; Back and Lang may be nil.
	OK, Cancel, Back, Lang gpio.PinIn
	// LED may be nil.
	LED gpio.PinOut
	// Door may be nil.
	Door gpio.PinIn
}

// Options tunes a Panel; the zero value is the production setting.
type Options struct {
	ROM          charrom.ROM   // zero: A00
	Debounce     time.Duration // zero: 30 ms
	DoorOpenHigh bool
	// Clock times the debouncing; nil means the wall clock.
	Clock kiosk.Clock
	// Sleep waits out the LCD's execution times and the keypad lines'
	// settling; nil means time.Sleep.
	Sleep func(time.Duration)
	// EdgeSlice bounds one wait for an edge, so that Close finishes even
	// where Halt cannot interrupt the wait; zero means 5 s. Each input wakes
	// once per slice when idle.
	EdgeSlice time.Duration
	// TestDwell is how long TestPattern shows each page; zero means 2 s.
	TestDwell time.Duration
	// Refresh is how often the display is initialised again and redrawn,
	// which repairs a display scrambled by a discharge or a brown-out; zero
	// means 10 minutes, negative never.
	Refresh time.Duration
	Log     *slog.Logger

	// onIdle, for tests, is told each time an input group goes back to
	// waiting for edges.
	onIdle func(group string)
}

// keypadSettle lets a column's pull-up recharge the line after a row is
// released (tens of pF through ~50 kΩ: a few µs).
const keypadSettle = 10 * time.Microsecond

// Panel is the front panel: the LCD, the keypad and buttons, the bezel LED
// and the service door. It implements kiosk.Display and kiosk.Indicator.
type Panel struct {
	log   *slog.Logger
	disp  *hd44780.Dev
	led   gpio.PinOut
	clock kiosk.Clock
	dwell time.Duration

	keys     chan kiosk.Key
	door     chan bool
	doorOpen atomic.Bool
	echo     atomic.Pointer[func(kiosk.Key)]

	// screen is the flow's latest screen; while a self-test owns the
	// display it is kept, not drawn, and drawn when the test ends.
	screenMu  sync.Mutex
	screen    kiosk.Screen
	hasScreen bool
	testing   bool

	kp      *keypad
	inputs  []gpio.PinIn
	closers []io.Closer // the I²C bus, when Open opened one
	cancel  context.CancelFunc
	wg      sync.WaitGroup
	closeMu sync.Mutex
	closed  bool
}

// New initialises the display, configures the inputs and starts watching
// them.
func New(hw Hardware, opts Options) (*Panel, error) {
	if hw.Display == nil {
		return nil, errors.New("panel: no display bus")
	}
	for i, r := range hw.Rows {
		if r == nil {
			return nil, fmt.Errorf("panel: keypad row %d has no pin", i)
		}
	}
	for i, c := range hw.Cols {
		if c == nil {
			return nil, fmt.Errorf("panel: keypad column %d has no pin", i)
		}
	}
	if hw.OK == nil || hw.Cancel == nil {
		return nil, errors.New("panel: the OK and CANCEL buttons need pins")
	}
	if opts.Clock == nil {
		opts.Clock = kiosk.SystemClock{}
	}
	if opts.Sleep == nil {
		opts.Sleep = time.Sleep
	}
	if opts.Debounce <= 0 {
		opts.Debounce = DefaultDebounce
	}
	if opts.EdgeSlice <= 0 {
		opts.EdgeSlice = 5 * time.Second
	}
	if opts.TestDwell <= 0 {
		opts.TestDwell = 2 * time.Second
	}
	if opts.Refresh == 0 {
		opts.Refresh = 10 * time.Minute
	}
	if opts.Log == nil {
		opts.Log = slog.New(slog.DiscardHandler)
	}
	disp, err := hd44780.New(hw.Display, &hd44780.Opts{ROM: opts.ROM, Sleep: opts.Sleep})
	if err != nil {
		return nil, fmt.Errorf("panel: %w", err)
	}
	p := &Panel{
		log:   opts.Log,
		disp:  disp,
		led:   hw.LED,
		clock: opts.Clock,
		dwell: opts.TestDwell,
		keys:  make(chan kiosk.Key, 16),
		door:  make(chan bool, 1),
		kp:    &keypad{rows: hw.Rows, cols: hw.Cols, log: opts.Log, settle: func() { opts.Sleep(keypadSettle) }},
	}
	if p.led != nil {
		if err := p.led.Out(gpio.Low); err != nil {
			return nil, fmt.Errorf("panel: bezel LED on %s: %w", p.led, err)
		}
	}
	var groups []*group
	var watchers []watcher
	edge := func(pin gpio.PinIn, what string, g *group) error {
		if err := pin.In(gpio.PullUp, gpio.BothEdges); err != nil {
			return fmt.Errorf("panel: %s on %s: edge detection: %w (is another program using the pin?)", what, pin, err)
		}
		p.inputs = append(p.inputs, pin)
		watchers = append(watchers, watcher{pin, g})
		return nil
	}

	kg := newGroup("keypad", opts.Clock, opts.Debounce)
	kg.sample, kg.unchanged = p.kp.scan, p.kp.unchanged
	kg.changed = func(old, now uint32) {
		for b := range 12 {
			if now&^old&(1<<b) != 0 {
				p.emit(keyAt[b])
			}
		}
	}
	p.kp.idle()
	for i, c := range hw.Cols {
		if err := edge(c, fmt.Sprintf("keypad column %d", i), kg); err != nil {
			return nil, err
		}
	}
	groups = append(groups, kg)

	type button struct {
		pin gpio.PinIn
		key kiosk.Key
	}
	var buttons []button
	for _, b := range []button{{hw.OK, kiosk.KeyOK}, {hw.Cancel, kiosk.KeyCancel}, {hw.Back, kiosk.KeyBack}, {hw.Lang, kiosk.KeyLang}} {
		if b.pin != nil {
			buttons = append(buttons, b)
		}
	}
	bg := newGroup("buttons", opts.Clock, opts.Debounce)
	bg.sample = func() uint32 {
		var m uint32
		for i, b := range buttons {
			if b.pin.Read() == gpio.Low {
				m |= 1 << i
			}
		}
		return m
	}
	bg.changed = func(old, now uint32) {
		for i, b := range buttons {
			if now&^old&(1<<i) != 0 {
				p.emit(b.key)
			}
		}
	}
	for _, b := range buttons {
		if err := edge(b.pin, "button "+string(b.key), bg); err != nil {
			return nil, err
		}
	}
	groups = append(groups, bg)

	var dg *group
	if hw.Door != nil {
		dg = newGroup("door", opts.Clock, opts.Debounce)
		dg.sample = func() uint32 {
			if (hw.Door.Read() == gpio.High) == opts.DoorOpenHigh {
				return 1
			}
			return 0
		}
		dg.changed = func(_, now uint32) {
			open := now != 0
			p.doorOpen.Store(open)
			p.log.Info("service door", "open", open)
			p.sendDoor(open)
		}
		if err := edge(hw.Door, "service door", dg); err != nil {
			return nil, err
		}
		groups = append(groups, dg)
	}

	// What is held at start is the resting state: a key stuck at boot does
	// not type, and the door's state is known before its first change.
	for _, g := range groups {
		g.stable = g.sample()
		g.onIdle = opts.onIdle
	}
	if dg != nil {
		p.doorOpen.Store(dg.stable != 0)
	}
	ctx, cancel := context.WithCancel(context.Background())
	p.cancel = cancel
	for _, g := range groups {
		p.wg.Go(func() { g.run(ctx) })
	}
	for _, w := range watchers {
		p.wg.Go(func() { watch(ctx, p.log, w.pin, w.g, opts.EdgeSlice) })
	}
	if opts.Refresh > 0 {
		p.wg.Go(func() { p.refresh(ctx, opts.Refresh) })
	}
	return p, nil
}

// refresh redraws the display from scratch every interval, except while a
// self-test owns it.
func (p *Panel) refresh(ctx context.Context, every time.Duration) {
	for {
		t := p.clock.NewTimer(every)
		select {
		case <-ctx.Done():
			t.Stop()
			return
		case <-t.C():
		}
		p.screenMu.Lock()
		testing := p.testing
		p.screenMu.Unlock()
		if testing {
			continue
		}
		if err := p.disp.Refresh(); err != nil {
			p.log.Warn("display refresh failed; check the display cable and its power", "err", err)
		}
	}
}

type watcher struct {
	pin gpio.PinIn
	g   *group
}

func (p *Panel) emit(k kiosk.Key) {
	if f := p.echo.Load(); f != nil {
		(*f)(k)
		return
	}
	select {
	case p.keys <- k:
	default:
		p.log.Warn("key dropped: nobody reads the panel's keys", "key", string(k))
	}
}

// sendDoor leaves only the latest state in the channel: a reader that comes
// late learns where the door is, not its history.
func (p *Panel) sendDoor(open bool) {
	for {
		select {
		case p.door <- open:
			return
		default:
			select {
			case <-p.door:
			default:
			}
		}
	}
}

// Keys delivers each key press once: digits "0"…"9" (the keypad's * is
// BACK and # is OK) and the buttons. A held key does not repeat. The channel
// is closed by Close.
func (p *Panel) Keys() <-chan kiosk.Key { return p.keys }

// Door delivers the service door's debounced state on each change, true for
// open. The channel holds only the latest state and is closed by Close.
func (p *Panel) Door() <-chan bool { return p.door }

// DoorOpen reports the door's debounced state; false when no door switch
// is fitted.
func (p *Panel) DoorOpen() bool { return p.doorOpen.Load() }

// Show draws s. It implements kiosk.Display.
func (p *Panel) Show(s kiosk.Screen) error {
	p.screenMu.Lock()
	p.screen, p.hasScreen = s, true
	testing := p.testing
	p.screenMu.Unlock()
	if testing {
		return nil
	}
	if err := p.disp.Show(s); err != nil {
		return fmt.Errorf("panel: %w", err)
	}
	return nil
}

// Explain reports how the display draws s with its ROM, for a check of live
// screens.
func (p *Panel) Explain(s kiosk.Screen) charrom.Report { return charrom.Explain(p.disp.ROM(), s.Lines) }

// SetBacklight switches the LCD's backlight.
func (p *Panel) SetBacklight(on bool) error {
	if err := p.disp.SetBacklight(on); err != nil {
		return fmt.Errorf("panel: %w", err)
	}
	return nil
}

// SetCashLight lights the bezel LED while cash may go in. It implements
// kiosk.Indicator; without an LED it does nothing.
func (p *Panel) SetCashLight(on bool) error {
	if p.led == nil {
		return nil
	}
	if err := p.led.Out(gpio.Level(on)); err != nil {
		return fmt.Errorf("panel: bezel LED on %s: %w", p.led, err)
	}
	return nil
}

// Close stops reading the inputs, closes Keys and Door, turns the LED off,
// releases the keypad rows and blanks the display, so that a stopped kiosk
// neither shows a stale screen nor lights its bezel.
func (p *Panel) Close() error {
	p.closeMu.Lock()
	defer p.closeMu.Unlock()
	if p.closed {
		return nil
	}
	p.closed = true
	p.cancel()
	var errs []error
	for _, in := range p.inputs {
		// Interrupts a wait for an edge in the kernel.
		if err := in.Halt(); err != nil {
			errs = append(errs, fmt.Errorf("panel: halt %s: %w", in, err))
		}
	}
	p.wg.Wait()
	close(p.keys)
	close(p.door)
	if err := p.SetCashLight(false); err != nil {
		errs = append(errs, err)
	}
	for _, r := range p.kp.rows {
		if err := r.In(gpio.PullUp, gpio.NoEdge); err != nil {
			errs = append(errs, fmt.Errorf("panel: release keypad row %s: %w", r, err))
		}
	}
	if err := p.disp.Halt(); err != nil {
		errs = append(errs, fmt.Errorf("panel: %w", err))
	}
	for _, c := range p.closers {
		if err := c.Close(); err != nil {
			errs = append(errs, fmt.Errorf("panel: close: %w", err))
		}
	}
	return errors.Join(errs...)
}

var (
	_ kiosk.Display   = (*Panel)(nil)
	_ kiosk.Indicator = (*Panel)(nil)
	_ SelfTester      = (*Panel)(nil)
)
