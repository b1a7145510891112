package hd44780

import (
	"fmt"
	"slices"
	"strings"
	"sync"
	"testing"
	"time"

	"periph.io/x/conn/v3/gpio"
	"periph.io/x/conn/v3/gpio/gpiotest"

	"tolem/devices/panel/charrom"
	"tolem/kiosk"
)

// event is what the controller sees: a nibble latched on a falling edge of
// E, with RS, or a wait.
type event struct {
	latch  bool
	rs     bool
	nibble byte
	wait   time.Duration
}

func (e event) String() string {
	if e.latch {
		rs := 0
		if e.rs {
			rs = 1
		}
		return fmt.Sprintf("RS=%d %X", rs, e.nibble)
	}
	return "wait " + e.wait.String()
}

// wiring is six fake GPIO lines whose E records each falling edge with the
// levels of RS and D7…D4 at that instant, and a fake sleep in the same log.
type wiring struct {
	mu        sync.Mutex
	log       []event
	rs, bl    *gpiotest.Pin
	d         [4]*gpiotest.Pin
	e         *strobe
	failAfter int // fail the Nth E edge from now when > 0
}

type strobe struct {
	*gpiotest.Pin
	w *wiring
}

func (s *strobe) Out(l gpio.Level) error {
	was := s.Read()
	if err := s.Pin.Out(l); err != nil {
		return err
	}
	if was == gpio.High && l == gpio.Low {
		return s.w.latch()
	}
	return nil
}

func (w *wiring) latch() error {
	w.mu.Lock()
	defer w.mu.Unlock()
	if w.failAfter > 0 {
		w.failAfter--
		if w.failAfter == 0 {
			return fmt.Errorf("line E stuck")
		}
	}
	var n byte
	for i, p := range w.d {
		if p.Read() == gpio.High {
			n |= 1 << i
		}
	}
	w.log = append(w.log, event{latch: true, rs: bool(w.rs.Read()), nibble: n})
	return nil
}

func (w *wiring) sleep(d time.Duration) {
	w.mu.Lock()
	defer w.mu.Unlock()
	w.log = append(w.log, event{wait: d})
}

// take returns the log so far and empties it.
func (w *wiring) take() []event {
	w.mu.Lock()
	defer w.mu.Unlock()
	l := w.log
	w.log = nil
	return l
}

func newWiring() *wiring {
	pin := func(n string, num int) *gpiotest.Pin { return &gpiotest.Pin{N: n, Num: num} }
	w := &wiring{rs: pin("RS", 25), bl: pin("BL", 18)}
	w.e = &strobe{Pin: pin("E", 24), w: w}
	for i := range w.d {
		w.d[i] = pin(fmt.Sprintf("D%d", 4+i), 23-i)
	}
	return w
}

func newGPIODev(t *testing.T, w *wiring, rom charrom.ROM) *Dev {
	t.Helper()
	bus, err := NewGPIO(w.rs, w.e, w.d[0], w.d[1], w.d[2], w.d[3], w.bl, w.sleep)
	if err != nil {
		t.Fatal(err)
	}
	d, err := New(bus, &Opts{ROM: rom, Sleep: w.sleep})
	if err != nil {
		t.Fatal(err)
	}
	return d
}

// Expected streams, written out from the datasheet.
func nib(rs bool, n byte) []event {
	return []event{{wait: enablePulse}, {latch: true, rs: rs, nibble: n}}
}

func instr(rs bool, b ...byte) []event {
	var out []event
	for _, c := range b {
		out = append(out, nib(rs, c>>4)...)
		out = append(out, nib(rs, c&0xf)...)
		out = append(out, event{wait: execTime})
	}
	return out
}

func wait(d time.Duration) []event { return []event{{wait: d}} }

func stream(parts ...[]event) []event { return slices.Concat(parts...) }

func diff(t *testing.T, what string, got, want []event) {
	t.Helper()
	if slices.Equal(got, want) {
		return
	}
	var b strings.Builder
	for i := range max(len(got), len(want)) {
		g, w := "-", "-"
		if i < len(got) {
			g = got[i].String()
		}
		if i < len(want) {
			w = want[i].String()
		}
		mark := "  "
		if g != w {
			mark = "!="
		}
		fmt.Fprintf(&b, "%3d %-16s %s %s\n", i, g, mark, w)
	}
	t.Errorf("%s: stream differs (got, want):\n%s", what, b.String())
}

var initStream = stream(
	wait(50*time.Millisecond),
	nib(false, 0x3), wait(4500*time.Microsecond),
	nib(false, 0x3), wait(150*time.Microsecond),
	nib(false, 0x3), wait(150*time.Microsecond),
	nib(false, 0x2), wait(150*time.Microsecond),
	instr(false, 0x28),                           // function set: 4-bit, 2 lines, 5×8
	instr(false, 0x08),                           // display off
	instr(false, 0x01), wait(2*time.Millisecond), // clear
	instr(false, 0x06), // entry mode: increment
	instr(false, 0x0c), // display on, no cursor
)

func TestGPIOInitSequence(t *testing.T) {
	w := newWiring()
	d := newGPIODev(t, w, charrom.A00)
	diff(t, "init", w.take(), initStream)
	if w.bl.Read() != gpio.High {
		t.Error("backlight off after init")
	}
	if w.e.Read() != gpio.Low {
		t.Error("E left high")
	}
	_ = d
}

func TestGPIOScreenStream(t *testing.T) {
	w := newWiring()
	d := newGPIODev(t, w, charrom.A00)
	w.take()

	// After the clear every cell is a space and the address is 0: only
	// "Hi" is written.
	if err := d.Show(kiosk.Screen{Lines: [4]string{"Hi"}}); err != nil {
		t.Fatal(err)
	}
	diff(t, "first screen", w.take(), instr(true, 'H', 'i'))

	// One changed cell: its address, then the character.
	if err := d.Show(kiosk.Screen{Lines: [4]string{"Ho"}}); err != nil {
		t.Fatal(err)
	}
	diff(t, "one cell", w.take(), stream(instr(false, 0x81), instr(true, 'o')))

	// The same screen again writes nothing.
	if err := d.Show(kiosk.Screen{Lines: [4]string{"Ho"}}); err != nil {
		t.Fatal(err)
	}
	diff(t, "unchanged", w.take(), nil)

	// The end of row 0 (0x13) runs on into row 2 (0x14) without a new
	// address; row 3 starts at 0x54.
	if err := d.Show(kiosk.Screen{Lines: [4]string{"Ho                 A", "", "B", "   C"}}); err != nil {
		t.Fatal(err)
	}
	diff(t, "rows", w.take(), stream(
		instr(false, 0x93), instr(true, 'A'), instr(true, 'B'),
		instr(false, 0xd7), instr(true, 'C'),
	))
}

func TestGPIOCGRAMLoad(t *testing.T) {
	w := newWiring()
	d := newGPIODev(t, w, charrom.Cyrillic)
	w.take()

	tenge := []byte{0x1f, 0x00, 0x1f, 0x04, 0x04, 0x04, 0x04, 0x00}
	if err := d.Show(kiosk.Screen{Lines: [4]string{"5 ₸"}}); err != nil {
		t.Fatal(err)
	}
	diff(t, "tenge", w.take(), stream(
		instr(false, 0x40), instr(true, tenge...), // CGRAM slot 0
		instr(false, 0x80), instr(true, '5'), // address unknown after CGRAM
		instr(false, 0x82), instr(true, 0x00),
	))

	// ң joins: ₸ stays in slot 0 and ң goes to slot 1, the only slot loaded.
	// "Мың ₸": М and ы are ROM letters, ң the new glyph.
	ng := []byte{0x00, 0x00, 0x12, 0x12, 0x1e, 0x12, 0x13, 0x01}
	if err := d.Show(kiosk.Screen{Lines: [4]string{"Мың ₸"}}); err != nil {
		t.Fatal(err)
	}
	diff(t, "second glyph", w.take(), stream(
		instr(false, 0x48), instr(true, ng...),
		instr(false, 0x80), instr(true, 'M', 0xc3, 0x01), // the space at 3 is unchanged
		instr(false, 0x84), instr(true, 0x00),
	))

	// Back to a screen with only ₸: nothing to load.
	if err := d.Show(kiosk.Screen{Lines: [4]string{"5 ₸"}}); err != nil {
		t.Fatal(err)
	}
	diff(t, "no reload", w.take(), stream(
		instr(false, 0x80), instr(true, '5', ' ', 0x00),
		instr(false, 0x84), instr(true, ' '),
	))
}

func TestGPIORecoversAfterError(t *testing.T) {
	w := newWiring()
	d := newGPIODev(t, w, charrom.A00)
	if err := d.Show(kiosk.Screen{Lines: [4]string{"Hi"}}); err != nil {
		t.Fatal(err)
	}
	w.take()
	w.failAfter = 2
	if err := d.Show(kiosk.Screen{Lines: [4]string{"Ho"}}); err == nil || !strings.Contains(err.Error(), "stuck") {
		t.Fatalf("Show on a failing bus: %v", err)
	}
	w.take()
	// The display's state is unknown: the next screen starts from a fresh
	// initialisation and draws every non-blank cell.
	if err := d.Show(kiosk.Screen{Lines: [4]string{"Ho"}}); err != nil {
		t.Fatal(err)
	}
	diff(t, "recovery", w.take(), stream(initStream, instr(true, 'H', 'o')))
}

func TestGPIOBacklightAndHalt(t *testing.T) {
	w := newWiring()
	d := newGPIODev(t, w, charrom.A00)
	if err := d.SetBacklight(false); err != nil || w.bl.Read() != gpio.Low {
		t.Fatalf("backlight off: %v, pin %v", err, w.bl.Read())
	}
	if err := d.SetBacklight(true); err != nil || w.bl.Read() != gpio.High {
		t.Fatalf("backlight on: %v, pin %v", err, w.bl.Read())
	}
	w.take()
	if err := d.Halt(); err != nil {
		t.Fatal(err)
	}
	diff(t, "halt", w.take(), stream(instr(false, 0x01), wait(2*time.Millisecond)))
	if w.bl.Read() != gpio.Low {
		t.Error("backlight on after Halt")
	}
}

func TestNextAddr(t *testing.T) {
	for _, tt := range []struct{ addr, n, want int }{
		{0x00, 1, 0x01}, {0x13, 1, 0x14}, {0x27, 1, 0x40}, {0x67, 1, 0x00}, {0x54, 20, 0x00}, {0x40, 20, 0x54},
	} {
		if got := nextAddr(tt.addr, tt.n); got != tt.want {
			t.Errorf("nextAddr(%#02x, %d) = %#02x, want %#02x", tt.addr, tt.n, got, tt.want)
		}
	}
}
