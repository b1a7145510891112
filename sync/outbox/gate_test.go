package outbox

import (
	"testing"
	"time"

	"tolem/kiosk"
)

// While a customer pays, the outbox sends nothing and writes nothing; the
// top-up completed meanwhile goes when the payment ends.
func TestGateHoldsDeliveryWhileACustomerPays(t *testing.T) {
	g := &Gate{}
	r := newRig(t, func(o *Options) { o.Gate = g }).start()
	var tu kiosk.TopUp
	r.act(func() {
		g.Hold(r.clock.Now())
		tu = r.topUp(kiosk.Tenge(1000))
	})
	r.step(30 * time.Second)
	if calls := r.bank.callsOf(""); len(calls) != 0 {
		t.Fatalf("requests while a customer pays: %+v", calls)
	}
	r.wantSync(tu.ID, kiosk.SyncUnsent)
	if b, _ := r.ledger.Body(t.Context(), tu.ID); b != nil {
		t.Errorf("a body was stored while a customer pays: %s", b)
	}

	r.act(g.Release)
	r.wantSync(tu.ID, kiosk.SyncCredited)
}

// A batch the bank answers after a customer began to pay has its answers
// written when the payment ends, and no request goes out before.
func TestGateHoldsTheAnswersOfARequestInFlight(t *testing.T) {
	g := &Gate{}
	r := newRig(t, func(o *Options) { o.Gate = g })
	a, b := r.topUp(kiosk.Tenge(500)), r.topUp(kiosk.Tenge(1000))
	c := r.topUp(kiosk.Tenge(2000))
	r.ob.opt.BatchSize = 2
	r.bank.batch = func(ids []string) error {
		g.Hold(r.clock.Now())
		return nil
	}
	r.start()
	r.step(time.Minute)
	for _, tu := range []kiosk.TopUp{a, b, c} {
		r.wantSync(tu.ID, kiosk.SyncUnsent)
	}
	if calls := r.bank.callsOf(""); len(calls) != 1 {
		t.Fatalf("requests = %+v, want the one batch in flight when the customer began", calls)
	}

	r.bank.batch = nil
	r.act(g.Release)
	for _, tu := range []kiosk.TopUp{a, b, c} {
		r.wantSync(tu.ID, kiosk.SyncCredited)
	}
	if calls := r.bank.callsOf(""); len(calls) != 2 || calls[1].op != "submit" || calls[1].ids[0] != c.ID {
		t.Errorf("requests = %+v, want the first batch, then the third top-up", calls)
	}
}

// A session that never ends holds the queue for MaxHold, no longer.
func TestGateIsIgnoredAfterMaxHold(t *testing.T) {
	g := &Gate{}
	r := newRig(t, func(o *Options) { o.Gate = g; o.MaxHold = 5 * time.Minute }).start()
	var tu kiosk.TopUp
	r.act(func() {
		g.Hold(r.clock.Now())
		tu = r.topUp(kiosk.Tenge(1000))
	})
	r.step(5*time.Minute - time.Second)
	r.wantSync(tu.ID, kiosk.SyncUnsent)
	r.step(time.Second)
	r.wantSync(tu.ID, kiosk.SyncCredited)
	if r.logs.count("held deliveries back too long") != 1 {
		t.Error("no warning that the hold ran over its bound")
	}
	// Still held: the next top-up goes at once, and the warning is not
	// repeated.
	var next kiosk.TopUp
	r.act(func() { next = r.topUp(kiosk.Tenge(500)) })
	r.wantSync(next.ID, kiosk.SyncCredited)
	if n := r.logs.count("held deliveries back too long"); n != 1 {
		t.Errorf("the warning was logged %d times for one hold", n)
	}

	// A new hold counts from its own start.
	r.act(func() {
		g.Release()
		g.Hold(r.clock.Now())
	})
	var third kiosk.TopUp
	r.act(func() { third = r.topUp(kiosk.Tenge(500)) })
	r.wantSync(third.ID, kiosk.SyncUnsent)
}

func TestGateZeroValueIsOpen(t *testing.T) {
	var g Gate
	if g.Held() {
		t.Fatal("zero Gate is held")
	}
	g.Release()
	g.Hold(time.Unix(100, 0))
	g.Hold(time.Unix(200, 0))
	if since, held := g.HeldSince(); !held || !since.Equal(time.Unix(100, 0)) {
		t.Fatalf("held %v since %v, want held since the first Hold", held, since)
	}
	g.Release()
	if g.Held() {
		t.Fatal("released Gate still held")
	}
}
