package simpanel

import (
	"errors"
	"sync"

	"tolem/kiosk"
)

// ScreenChan is a kiosk.Display that hands screens to RunTerminal. It keeps
// only the latest unread screen: a terminal that falls behind skips to what
// the kiosk shows now, and the flow never waits for it.
type ScreenChan struct {
	mu sync.Mutex
	ch chan kiosk.Screen
}

// NewScreenChan makes an empty ScreenChan.
func NewScreenChan() *ScreenChan { return &ScreenChan{ch: make(chan kiosk.Screen, 1)} }

// Show replaces any unread screen with s.
func (c *ScreenChan) Show(s kiosk.Screen) error {
	c.mu.Lock()
	defer c.mu.Unlock()
	select {
	case <-c.ch:
	default:
	}
	c.ch <- s // the only sender holds mu, so there is room
	return nil
}

// C is the channel to give RunTerminal.
func (c *ScreenChan) C() <-chan kiosk.Screen { return c.ch }

// Tee shows every screen on each of ds (the socket and the terminal in
// `kioskd --sim`); a display that fails does not keep the others dark.
func Tee(ds ...kiosk.Display) kiosk.Display { return tee(ds) }

type tee []kiosk.Display

func (t tee) Show(s kiosk.Screen) error {
	var errs []error
	for _, d := range t {
		if err := d.Show(s); err != nil {
			errs = append(errs, err)
		}
	}
	return errors.Join(errs...)
}
