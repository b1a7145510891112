package simpanel

import (
	"sync"
	"time"

	"tolem/kiosk"
)

// A person at the kiosk presses the next key after the screen has answered
// the last one, and feeds a note once the slot takes it. A script typing into
// the panel socket, or fingers faster than the kiosk, does neither; the pacer
// makes the simulated panel behave like the person, so that any sequence that
// works typed slowly works typed at once.
const (
	// keyEcho is how long a key waits for the screen to answer it before
	// the next line goes on; a key that changes nothing costs this much.
	keyEcho = 300 * time.Millisecond
	// settleWait bounds the wait for a "please wait" screen to pass.
	settleWait = 5 * time.Second
)

type pacer struct {
	mu      sync.Mutex
	state   kiosk.State
	shown   bool
	gen     uint64
	changed chan struct{}
}

func newPacer() *pacer { return &pacer{changed: make(chan struct{})} }

// show is told of every screen the kiosk shows.
func (p *pacer) show(s kiosk.State) {
	p.mu.Lock()
	defer p.mu.Unlock()
	p.state, p.shown = s, true
	p.gen++
	close(p.changed)
	p.changed = make(chan struct{})
}

func (p *pacer) snapshot() (kiosk.State, bool, uint64, <-chan struct{}) {
	p.mu.Lock()
	defer p.mu.Unlock()
	return p.state, p.shown, p.gen, p.changed
}

// busy are the screens that ask the customer to wait: the kiosk ignores
// every key there but CANCEL and LANG.
func busy(s kiosk.State) bool { return s == kiosk.StateLookup || s == kiosk.StateCompleting }

// key presses k with press, as a person would: not while the screen says
// "please wait" (up to settleWait), and then waiting up to keyEcho for the
// screen to answer. stop ends any wait at once.
func (p *pacer) key(k kiosk.Key, press func() bool, stop ...<-chan struct{}) bool {
	if k != kiosk.KeyCancel && k != kiosk.KeyLang {
		p.await(settleWait, func(s kiosk.State) bool { return !busy(s) }, stop)
	}
	_, shown, gen, _ := p.snapshot()
	if !press() {
		return false
	}
	if shown {
		p.await(keyEcho, func(kiosk.State) bool {
			_, _, g, _ := p.snapshot()
			return g != gen
		}, stop)
	}
	return true
}

// await waits until ok holds for the current screen, the time is up or a
// stop channel is closed.
func (p *pacer) await(limit time.Duration, ok func(kiosk.State) bool, stop []<-chan struct{}) {
	timer := time.NewTimer(limit)
	defer timer.Stop()
	for {
		st, _, _, changed := p.snapshot()
		if ok(st) {
			return
		}
		var s0, s1 <-chan struct{}
		if len(stop) > 0 {
			s0 = stop[0]
		}
		if len(stop) > 1 {
			s1 = stop[1]
		}
		select {
		case <-changed:
		case <-timer.C:
			return
		case <-s0:
			return
		case <-s1:
			return
		}
	}
}
