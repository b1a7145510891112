package kiosktest

import (
	"errors"
	"slices"
	"strings"
	"sync"

	"tolem/kiosk"
)

// ErrFakeDevice is what a fake told to fail returns.
var ErrFakeDevice = errors.New("fake device failure")

// FakeDisplay records every screen it is shown.
type FakeDisplay struct {
	mu      sync.Mutex
	screens []kiosk.Screen
	fail    bool
}

// Show records s.
func (d *FakeDisplay) Show(s kiosk.Screen) error {
	d.mu.Lock()
	defer d.mu.Unlock()
	if d.fail {
		return ErrFakeDevice
	}
	d.screens = append(d.screens, s)
	return nil
}

// Fail makes Show fail (and record nothing) while on.
func (d *FakeDisplay) Fail(on bool) {
	d.mu.Lock()
	defer d.mu.Unlock()
	d.fail = on
}

// Screens returns every screen shown, oldest first.
func (d *FakeDisplay) Screens() []kiosk.Screen {
	d.mu.Lock()
	defer d.mu.Unlock()
	return slices.Clone(d.screens)
}

// Last returns the screen shown last.
func (d *FakeDisplay) Last() kiosk.Screen {
	d.mu.Lock()
	defer d.mu.Unlock()
	if len(d.screens) == 0 {
		return kiosk.Screen{}
	}
	return d.screens[len(d.screens)-1]
}

// Text returns the last screen's lines joined by newlines, handy for
// strings.Contains checks.
func (d *FakeDisplay) Text() string {
	s := d.Last()
	return strings.Join(s.Lines[:], "\n")
}

// FakeLight is a kiosk.Indicator that records the light's state.
type FakeLight struct {
	mu      sync.Mutex
	on      bool
	changes int
}

// SetCashLight records on.
func (l *FakeLight) SetCashLight(on bool) error {
	l.mu.Lock()
	defer l.mu.Unlock()
	if l.on != on {
		l.changes++
	}
	l.on = on
	return nil
}

// On reports whether the light is lit.
func (l *FakeLight) On() bool {
	l.mu.Lock()
	defer l.mu.Unlock()
	return l.on
}
