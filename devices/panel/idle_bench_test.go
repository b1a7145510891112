//go:build bench && linux

package panel

import (
	"os"
	"runtime"
	"strconv"
	"syscall"
	"testing"
	"time"

	"periph.io/x/conn/v3/gpio"
	"periph.io/x/conn/v3/gpio/gpiotest"

	"tolem/devices/panel/charrom"
	"tolem/devices/panel/hd44780/hd44780test"
	"tolem/kiosk"
)

func cpuTime(t *testing.T) time.Duration {
	t.Helper()
	var ru syscall.Rusage
	if err := syscall.Getrusage(syscall.RUSAGE_SELF, &ru); err != nil {
		t.Fatal(err)
	}
	return time.Duration(ru.Utime.Nano() + ru.Stime.Nano())
}

// TestIdleCPU runs the panel as in production (wall clock, 5 s edge waits,
// 30 ms debounce) on periph's fake pins, showing a screen and waiting for
// keys, and measures the process's CPU time over PANEL_IDLE_SECONDS (20 s by
// default). The kiosk spends nearly all its life like this.
//
//	go test -tags bench -run TestIdleCPU -v ./devices/panel/
func TestIdleCPU(t *testing.T) {
	secs := 20
	if s, err := strconv.Atoi(os.Getenv("PANEL_IDLE_SECONDS")); err == nil && s > 0 {
		secs = s
	}
	pin := func(n int) *gpiotest.Pin {
		return &gpiotest.Pin{N: "GPIO" + strconv.Itoa(n), Num: n, EdgesChan: make(chan gpio.Level, 4)}
	}
	var hw Hardware
	lcd := hd44780test.New()
	hw.Display = lcd
	for i := range hw.Rows {
		hw.Rows[i] = pin(5 + i)
	}
	for i := range hw.Cols {
		hw.Cols[i] = pin(16 + i)
	}
	hw.OK, hw.Cancel, hw.Back, hw.Lang = pin(17), pin(27), pin(22), pin(23)
	hw.LED, hw.Door = pin(24), pin(25)
	p, err := New(hw, Options{ROM: charrom.Cyrillic, Sleep: func(time.Duration) {}})
	if err != nil {
		t.Fatal(err)
	}
	defer p.Close()
	if err := p.Show(kiosk.Screen{Lines: [4]string{"Пополнить кошелёк", "без комиссии", "Нажмите OK", "Тіл: LANG"}}); err != nil {
		t.Fatal(err)
	}
	runtime.GC()
	cpu0, wall0 := cpuTime(t), time.Now()
	time.Sleep(time.Duration(secs) * time.Second)
	cpu, wall := cpuTime(t)-cpu0, time.Since(wall0)
	share := float64(cpu) / float64(wall) * 100
	t.Logf("idle panel: %v CPU over %v wall = %.4f%% of one core (%d goroutines, GOMAXPROCS %d)",
		cpu, wall.Round(time.Millisecond), share, runtime.NumGoroutine(), runtime.GOMAXPROCS(0))
	if share > 0.5 {
		t.Errorf("idle panel uses %.3f%% of a core; it should wait in the kernel, not poll", share)
	}
}
