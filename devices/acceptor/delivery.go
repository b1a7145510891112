package acceptor

import (
	"log/slog"
	"sync"

	"tolem/kiosk"
)

// Delivery hands a driver's events to its reader, in order. Push never waits
// for the reader: a slow flow must not stop the poll loop (and with it the
// escrow's HOLDs). Events taken from the unit are never dropped: after Stop,
// Events still delivers what was pushed and is closed after the last.
type Delivery struct {
	mu      sync.Mutex
	queue   []kiosk.AcceptorEvent // pushed, not yet delivered
	wake    chan struct{}
	stopped chan struct{}
	stop    sync.Once
	out     chan kiosk.AcceptorEvent
}

// NewDelivery starts delivering; Stop ends it.
func NewDelivery() *Delivery {
	q := &Delivery{wake: make(chan struct{}, 1), stopped: make(chan struct{}), out: make(chan kiosk.AcceptorEvent)}
	go q.deliver()
	return q
}

// Events is the channel the reader receives from.
func (q *Delivery) Events() <-chan kiosk.AcceptorEvent { return q.out }

// Push queues e for the reader.
func (q *Delivery) Push(e kiosk.AcceptorEvent) {
	q.mu.Lock()
	q.queue = append(q.queue, e)
	q.mu.Unlock()
	select {
	case q.wake <- struct{}{}:
	default:
	}
}

// Take removes and returns the events queued and not yet handed to the
// reader. The zero Delivery is never started: it only queues, and Take then
// returns every event pushed, which is how a test that feeds a driver by
// hand reads what the driver emitted.
func (q *Delivery) Take() []kiosk.AcceptorEvent {
	q.mu.Lock()
	defer q.mu.Unlock()
	out := q.queue
	q.queue = nil
	return out
}

// Stop says nothing more will be pushed: Events is closed once the reader
// has received what is queued.
func (q *Delivery) Stop() { q.stop.Do(func() { close(q.stopped) }) }

func (q *Delivery) deliver() {
	defer close(q.out)
	for {
		q.mu.Lock()
		if len(q.queue) == 0 {
			q.mu.Unlock()
			select {
			case <-q.wake:
				continue
			case <-q.stopped:
				// Nothing more can be pushed; a last event may have been
				// queued just before.
				q.mu.Lock()
				n := len(q.queue)
				q.mu.Unlock()
				if n == 0 {
					return
				}
				continue
			}
		}
		e := q.queue[0]
		q.queue = q.queue[1:]
		q.mu.Unlock()
		q.out <- e
	}
}

// LogEvent writes e to log with what a person reading the log needs of it.
func LogEvent(log *slog.Logger, e kiosk.AcceptorEvent) {
	attrs := []any{"event", e.Kind.String()}
	switch e.Kind {
	case kiosk.EventEscrow, kiosk.EventStacking, kiosk.EventStacked, kiosk.EventReturned:
		attrs = append(attrs, "value", e.Value.String())
	case kiosk.EventPowerUp:
		attrs = append(attrs, "bill_at", e.BillAt.String(), "value", e.Value.String())
	case kiosk.EventRejected:
		attrs = append(attrs, "reason", e.Reason)
	case kiosk.EventFault:
		attrs = append(attrs, "fault", string(e.Fault), "detail", e.Detail)
	}
	log.Info("acceptor event", attrs...)
}
