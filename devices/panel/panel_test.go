package panel

import (
	"context"
	"errors"
	"slices"
	"strings"
	"sync"
	"testing"
	"time"

	"periph.io/x/conn/v3/gpio"

	"tolem/devices/panel/charrom"
	"tolem/kiosk"
)

func trim(lines [4]string) [4]string {
	for i := range lines {
		lines[i] = strings.TrimRight(lines[i], " ")
	}
	return lines
}

func TestShowDrawsTheScreen(t *testing.T) {
	r := newRig(t, nil)
	s := kiosk.Screen{State: kiosk.StateInsertCash, Lang: kiosk.LangKK,
		Lines: [4]string{"Купюраларды салыңыз", "Салынды: 12 500 ₸", "Макс: 200 000 ₸", "OK - төлеу"}}
	if err := r.p.Show(s); err != nil {
		t.Fatal(err)
	}
	want := trim(r.p.Explain(s).Shown)
	if got := trim(r.lcd.Lines(charrom.Cyrillic)); got != want {
		t.Errorf("shown %q, want %q", got, want)
	}
	if want[0] != "Kyпюpaлapды caлыңыз" {
		t.Errorf("mapped %q", want[0])
	}
	if !r.lcd.Backlight() {
		t.Error("backlight off")
	}
	if err := r.p.SetBacklight(false); err != nil || r.lcd.Backlight() {
		t.Errorf("SetBacklight(false): %v, lit %v", err, r.lcd.Backlight())
	}
}

func TestCashLight(t *testing.T) {
	r := newRig(t, nil)
	if r.led.Read() != gpio.Low {
		t.Fatal("LED lit at start")
	}
	for _, on := range []bool{true, false, true} {
		if err := r.p.SetCashLight(on); err != nil {
			t.Fatal(err)
		}
		if r.led.Read() != gpio.Level(on) {
			t.Errorf("SetCashLight(%v): LED %v", on, r.led.Read())
		}
	}
	// Close puts the light out: a stopped kiosk takes no cash.
	if err := r.p.Close(); err != nil {
		t.Fatal(err)
	}
	if r.led.Read() != gpio.Low {
		t.Error("LED lit after Close")
	}
}

func TestCloseLeavesThePanelInert(t *testing.T) {
	r := newRig(t, nil)
	if err := r.p.Show(kiosk.Screen{Lines: [4]string{"Вставьте купюры"}}); err != nil {
		t.Fatal(err)
	}
	if err := r.p.Close(); err != nil {
		t.Fatal(err)
	}
	if _, ok := <-r.p.Keys(); ok {
		t.Error("Keys open after Close")
	}
	if _, ok := <-r.p.Door(); ok {
		t.Error("Door open after Close")
	}
	if got := trim(r.lcd.Lines(charrom.Cyrillic)); got != [4]string{} || r.lcd.Backlight() {
		t.Errorf("display after Close: %q, backlight %v", got, r.lcd.Backlight())
	}
	for i, row := range r.m.rows {
		if row.Read() != gpio.High {
			t.Errorf("row %d still driven low", i)
		}
	}
	if err := r.p.Close(); err != nil {
		t.Errorf("second Close: %v", err)
	}
}

func TestTestPattern(t *testing.T) {
	r := newRig(t, nil)
	flow := kiosk.Screen{Lines: [4]string{"Пополнить кошелёк", "", "Нажмите OK"}}
	if err := r.p.Show(flow); err != nil {
		t.Fatal(err)
	}
	var mu sync.Mutex
	var pages [][4]string
	r.clock.mu.Lock()
	r.clock.onTimer = func() {
		mu.Lock()
		pages = append(pages, r.lcd.Lines(charrom.Cyrillic))
		mu.Unlock()
	}
	r.clock.mu.Unlock()
	if err := r.p.TestPattern(context.Background()); err != nil {
		t.Fatal(err)
	}
	full := strings.Repeat("█", 20)
	if len(pages) == 0 || pages[0] != [4]string{full, full, full, full} {
		t.Fatalf("first page %q, want every dot lit", pages)
	}
	// Every ROM character appears once over the ROM pages, in code order.
	var rom []rune
	var custom []rune
	for _, pg := range pages[1:] {
		if strings.HasPrefix(pg[0], "Custom ") {
			custom = append(custom, []rune(strings.ReplaceAll(pg[2], " ", ""))...)
			continue
		}
		rom = append(rom, []rune(strings.Join(pg[:], ""))...)
	}
	var want []rune
	for _, c := range charrom.Cyrillic.Codes() {
		x, _ := charrom.Cyrillic.Char(c)
		want = append(want, x)
	}
	if got := strings.TrimRight(string(rom), " "); got != strings.TrimRight(string(want), " ") {
		t.Errorf("ROM pages show\n%q\nwant\n%q", got, string(want))
	}
	var glyphs []rune
	for _, g := range charrom.Glyphs() {
		glyphs = append(glyphs, g.Rune)
	}
	if !slices.Equal(custom, glyphs) {
		t.Errorf("custom pages show %q, want %q", string(custom), string(glyphs))
	}
	// The flow's screen is back.
	if got, want := trim(r.lcd.Lines(charrom.Cyrillic)), trim(r.p.Explain(flow).Shown); got != want {
		t.Errorf("after the test %q, want %q", got, want)
	}
}

func TestTestPatternKeepsTheFlowsLatestScreen(t *testing.T) {
	r := newRig(t, nil)
	ctx, cancel := context.WithCancel(context.Background())
	later := kiosk.Screen{Lines: [4]string{"Временно", "не работает"}}
	r.clock.mu.Lock()
	calls := 0
	r.clock.onTimer = func() {
		calls++
		if calls == 2 {
			// The flow moves on during the test: its screen waits.
			if err := r.p.Show(later); err != nil {
				t.Error(err)
			}
			if shown := r.lcd.Lines(charrom.Cyrillic); strings.Contains(strings.Join(shown[:], ""), "Bpeмeннo") {
				t.Error("flow screen drawn over the test pattern")
			}
			cancel()
		}
	}
	r.clock.mu.Unlock()
	if err := r.p.TestPattern(ctx); !errors.Is(err, context.Canceled) {
		t.Fatalf("TestPattern cancelled: %v", err)
	}
	if got := trim(r.lcd.Lines(charrom.Cyrillic)); got != trim(r.p.Explain(later).Shown) {
		t.Errorf("after the test %q", got)
	}
}

func TestKeyEcho(t *testing.T) {
	r := newRig(t, nil)
	flow := kiosk.Screen{Lines: [4]string{"Введите номер"}}
	if err := r.p.Show(flow); err != nil {
		t.Fatal(err)
	}
	ctx, cancel := context.WithCancel(context.Background())
	echoed := make(chan kiosk.Key, 8)
	done := make(chan error, 1)
	go func() { done <- r.p.KeyEcho(ctx, func(k kiosk.Key) { echoed <- k }) }()
	// Wait until the test screen is up.
	deadline := time.Now().Add(20 * time.Second)
	for trim(r.lcd.Lines(charrom.Cyrillic))[0] != "Key test" {
		if time.Now().After(deadline) {
			t.Fatal("key test screen never shown")
		}
		time.Sleep(time.Millisecond)
	}
	if err := r.p.KeyEcho(ctx, nil); err != ErrTestRunning {
		t.Errorf("second KeyEcho: %v", err)
	}
	r.m.press(1, 2, 0) // 6
	r.waitIdle("keypad")
	r.btn[kiosk.KeyLang].script(0)
	r.waitIdle("buttons")
	if got := []kiosk.Key{<-echoed, <-echoed}; !slices.Equal(got, []kiosk.Key{"6", kiosk.KeyLang}) {
		t.Errorf("echoed %q", got)
	}
	if got := r.keys(); len(got) != 0 {
		t.Errorf("the flow got %q during the key test", got)
	}
	want := [4]string{"Key test", "Key: LANG", "......6...", "-- --- --- LNG"}
	if got := trim(r.lcd.Lines(charrom.Cyrillic)); got != want {
		t.Errorf("key test screen %q, want %q", got, want)
	}
	cancel()
	if err := <-done; err != nil {
		t.Fatal(err)
	}
	if got, want := trim(r.lcd.Lines(charrom.Cyrillic)), trim(r.p.Explain(flow).Shown); got != want {
		t.Errorf("after the test %q, want %q", got, want)
	}
	// Keys go to the flow again.
	r.m.press(1, 2, 0, 100*ms) // released 6, pressed again
	r.waitIdle("keypad")
	r.clock.Advance(time.Second)
	r.m.press(0, 0, 0)
	r.waitIdle("keypad")
	if got := r.keys(); !slices.Equal(got, []kiosk.Key{"1"}) {
		t.Errorf("keys after the test %q, want [1]", got)
	}
}

// stepClock is a clock whose timers fire only when the test says.
type stepClock struct {
	kiosk.SystemClock
	armed chan chan time.Time
}

func (c *stepClock) NewTimer(time.Duration) kiosk.Timer {
	t := firedTimer{make(chan time.Time, 1)}
	c.armed <- t.c
	return t
}

func TestRefreshRepairsTheDisplay(t *testing.T) {
	clock := &stepClock{armed: make(chan chan time.Time, 4)}
	r := newRig(t, func(r *rig, o *Options) {
		o.Refresh, o.Clock = 10*time.Minute, clock
	})
	s := kiosk.Screen{Lines: [4]string{"Әмиянды толтыру", "", "OK басыңыз"}}
	if err := r.p.Show(s); err != nil {
		t.Fatal(err)
	}
	want := r.lcd.Lines(charrom.Cyrillic)
	r.lcd.Scramble()
	fire := <-clock.armed
	fire <- time.Now()
	<-clock.armed // the refresh is done and the next one armed
	if got := r.lcd.Lines(charrom.Cyrillic); got != want {
		t.Errorf("after the refresh %q, want %q", got, want)
	}
}
