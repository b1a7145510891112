package outbox

import (
	"context"
	"sync"
	"time"
)

// DefaultMaxHold bounds how long a Gate holds the outbox back in one go.
// A payment takes a minute or two; the flow's own timeouts end a session
// after 60 s without a key or 90 s without a bill, but a customer who keeps
// pressing keys or feeding bills, or a flow that never reports the session's
// end, could keep the gate held for good. After this long the outbox
// delivers anyway (a customer then meets at most one of its transactions per
// escrow write, as without a gate), and the bank hears of the queue within
// minutes, far inside the overdue alarm's 20.
const DefaultMaxHold = 5 * time.Minute

// Gate holds the outbox's requests and ledger writes back while a customer's
// payment is under way. The ledger has one writer: an escrow record made
// while the outbox commits a batch's outcomes waits for that transaction
// and its fsync, which is what a customer's bill waits on in escrow. The
// daemon holds the gate from a payment's first key to its completion, so a
// drain after an outage runs between customers. Holding the requests too,
// not only the writes, keeps the outbox's rule that a top-up's answer is on
// disk before the next request goes out.
//
// The zero Gate is open. It is safe for concurrent use.
type Gate struct {
	mu    sync.Mutex
	held  bool
	since time.Time
	open  chan struct{} // closed when the gate opens; nil while open
}

// Hold holds the outbox back from now (at, on the outbox's clock) until
// Release. Holding a held gate changes nothing: the hold counts from its
// start.
func (g *Gate) Hold(at time.Time) {
	g.mu.Lock()
	defer g.mu.Unlock()
	if g.held {
		return
	}
	g.held, g.since, g.open = true, at, make(chan struct{})
}

// Release lets the outbox go on.
func (g *Gate) Release() {
	g.mu.Lock()
	defer g.mu.Unlock()
	if !g.held {
		return
	}
	close(g.open)
	g.held, g.open = false, nil
}

// HeldSince reports since when the gate is held, for the technician who
// watches the queue stand still; ok is false while it is open.
func (g *Gate) HeldSince() (since time.Time, ok bool) {
	g.mu.Lock()
	defer g.mu.Unlock()
	return g.since, g.held
}

// Held reports whether the gate is held.
func (g *Gate) Held() bool {
	_, held := g.HeldSince()
	return held
}

func (g *Gate) state() (held bool, since time.Time, open <-chan struct{}) {
	g.mu.Lock()
	defer g.mu.Unlock()
	return g.held, g.since, g.open
}

// waitGate waits, before a request or a ledger write, while Options.Gate is
// held, for at most MaxHold from the hold's start. The final flush does not
// wait: Close is bounded, and the flow has stopped taking bills by then.
func (o *Outbox) waitGate(ctx context.Context) {
	g := o.opt.Gate
	if g == nil || o.stopping(o.stopCtx) {
		return
	}
	for {
		held, since, open := g.state()
		if !held {
			return
		}
		left := since.Add(o.opt.MaxHold).Sub(o.clock.Now())
		if left <= 0 {
			if !o.holdOverLogged.Equal(since) {
				o.holdOverLogged = since
				o.log.Warn("outbox: a customer's session has held deliveries back too long; delivering beside it",
					"held_since", since, "bound", o.opt.MaxHold.String())
			}
			return
		}
		if !o.holdLogged.Equal(since) {
			o.holdLogged = since
			o.log.Debug("outbox: held back while a customer pays", "held_since", since)
		}
		t := o.clock.NewTimer(left)
		o.setLoop(true, left)
		select {
		case <-open:
		case <-t.C():
		case <-o.wake:
			// Whatever was completed meanwhile is read once the gate
			// opens; a Wake need not end the hold.
		case <-o.closing:
		case <-o.stopCtx.Done():
		case <-ctx.Done():
		}
		t.Stop()
		o.setLoop(false, 0)
		if ctx.Err() != nil || o.stopping(o.stopCtx) {
			return
		}
	}
}
