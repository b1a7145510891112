package flow

import (
	"context"
	"testing"
	"time"

	"tolem/kiosk"
	"tolem/kiosk/kiosktest"
)

func billOf(t *testing.T, l *kiosktest.FakeLedger, v kiosk.Money) kiosk.BillRecord {
	t.Helper()
	for _, b := range l.Bills() {
		if b.Value == v && b.SessionID != "" {
			return b
		}
	}
	t.Fatalf("no bill of %s in the ledger: %+v", v, l.Bills())
	return kiosk.BillRecord{}
}

// The acceptor's word that it took STACK reaches the ledger, so that a power
// cut before the stacked report cannot turn the bill into a returned one.
func TestStackTakenIsRecorded(t *testing.T) {
	r := newRig(t, Config{}).start()
	r.toInsert()
	v := kiosk.Tenge(2000)
	r.acc.Escrow(v)
	r.settle()
	if b := billOf(t, r.led, v); !b.StackAt.IsZero() {
		t.Fatalf("STACK recorded as taken before the acceptor said so: %+v", b)
	}
	r.acc.Push(kiosk.AcceptorEvent{Kind: kiosk.EventStacking, Value: v})
	r.settle()
	b := billOf(t, r.led, v)
	if b.StackAt.IsZero() || b.State != kiosk.BillEscrowed {
		t.Fatalf("bill %+v: want escrowed with STACK taken", b)
	}
	// The power cut comes now; the device reports nothing at power-up: the
	// bill finished stacking, and the customer is credited for it.
	r.acc.PowerUp(kiosk.BillNowhere, 0)
	r.settle()
	if b := billOf(t, r.led, v); b.State != kiosk.BillStacked {
		t.Fatalf("bill is %s after a power-up that found nothing: want stacked", b.State)
	}
	if tops := r.led.TopUps(); len(tops) != 1 || tops[0].Amount != v {
		t.Fatalf("top-ups %+v, want one of %s", tops, v)
	}
}

// A bill the acceptor stacks while no session is open, at a moment the
// ledger cannot write, is recorded in suspense once the ledger is back.
func TestStraySuspenseReplayedAfterLedgerFailure(t *testing.T) {
	r := newRig(t, Config{}).start()
	r.led.Fail(kiosktest.OpRecordSuspense)
	r.acc.Stacked(kiosk.Tenge(1000))
	r.settle()
	r.want(kiosk.StateOutOfService)
	for _, b := range r.led.Bills() {
		if b.State == kiosk.BillSuspense {
			t.Fatalf("suspense recorded while the ledger was failing: %+v", b)
		}
	}
	r.led.Heal()
	r.advance(probeEvery)
	var found bool
	for _, b := range r.led.Bills() {
		found = found || (b.State == kiosk.BillSuspense && b.Value == kiosk.Tenge(1000))
	}
	if !found {
		t.Fatalf("the stray bill is recorded nowhere after the ledger came back: %+v", r.led.Bills())
	}
	r.want(kiosk.StateIdle)
}

// A power-up report after recovery gave up waiting settles the bill the
// recovery left uncertain: the customer is credited, and the bill is not
// also kept as an unowned suspense bill.
func TestLatePowerUpReportCreditsUncertainBill(t *testing.T) {
	r := newRig(t, Config{})
	openLeftover(t, r.led, r.clock.Now()) // 5000 stacked, 2000 escrowed
	r.run()
	r.advance(DefaultRecoveryWait)
	if reps := r.led.Recovers(); len(reps) != 1 || reps[0] != nil {
		t.Fatalf("Recover calls %+v, want one without a report", reps)
	}
	r.acc.PowerUp(kiosk.BillInStacker, kiosk.Tenge(2000))
	r.acc.Ready()
	r.settle()
	r.want(kiosk.StateIdle)
	if lates := r.led.Lates(); len(lates) != 1 || lates[0].BillAt != kiosk.BillInStacker {
		t.Fatalf("late reports %+v, want the power-up", lates)
	}
	var suspense int
	for _, b := range r.led.Bills() {
		if b.State == kiosk.BillSuspense {
			suspense++
		}
	}
	if suspense != 0 {
		t.Errorf("%d suspense bill(s): the late bill was counted twice", suspense)
	}
	tops := r.led.TopUps()
	if len(tops) != 2 || tops[1].Amount != kiosk.Tenge(2000) || !tops[1].Reconciled || tops[1].Phone != "+77051112233" {
		t.Fatalf("top-ups %+v, want the recovered 5 000 ₸ and a reconciled 2 000 ₸ to the same phone", tops)
	}
}

// The default wait for the power-up report covers the CCNET driver's worst
// case from start to report (reconnect back-off, settling a bill in motion,
// INITIALIZE).
func TestRecoveryWaitCoversDriverWorstCase(t *testing.T) {
	const ccnetWorst = 10*time.Second + 30*time.Second + 40*time.Second
	if DefaultRecoveryWait <= ccnetWorst {
		t.Fatalf("DefaultRecoveryWait %v does not cover the CCNET driver's %v", DefaultRecoveryWait, ccnetWorst)
	}
}

// A stop (SIGTERM) while a bill is stacking waits for the acceptor's report,
// as PAY does, and records it; an event the acceptor still delivers after
// the flow stopped is recorded by Drain.
func TestShutdownWaitsForBillInFlight(t *testing.T) {
	r := newRig(t, Config{}).start()
	r.toInsert()
	v := kiosk.Tenge(5000)
	r.acc.Escrow(v)
	r.settle()
	r.stop()
	r.stop = nil
	select {
	case <-r.done:
		t.Fatal("Run returned with a bill told to stack and not yet reported")
	case <-time.After(50 * time.Millisecond):
	}
	r.acc.Stacked(v)
	select {
	case err := <-r.done:
		if err != nil {
			t.Fatal(err)
		}
	case <-time.After(waitLimit):
		t.Fatal("Run did not return once the bill was reported")
	}
	if b := billOf(t, r.led, v); b.State != kiosk.BillStacked {
		t.Fatalf("bill is %s after stopping: want stacked", b.State)
	}
	if on, _ := r.acc.Enabled(); on {
		t.Error("acceptor left enabled at stop")
	}

	// A report the driver still held when it was closed.
	r2 := newRig(t, Config{}).start()
	r2.toInsert()
	r2.acc.Escrow(kiosk.Tenge(1000))
	r2.settle()
	ctx, cancel := context.WithTimeout(context.Background(), waitLimit)
	defer cancel()
	r2.stop()
	r2.stop = nil
	// The report does not come in time: the stop waits SettleWait, no more.
	deadline := time.After(waitLimit)
wait:
	for {
		r2.clock.Advance(DefaultSettleWait)
		select {
		case err := <-r2.done:
			if err != nil {
				t.Fatal(err)
			}
			break wait
		case <-time.After(10 * time.Millisecond):
		case <-deadline:
			t.Fatal("Run did not return after SettleWait")
		}
	}
	r2.acc.Stacked(kiosk.Tenge(1000))
	r2.acc.Close()
	r2.f.Drain(ctx)
	if b := billOf(t, r2.led, kiosk.Tenge(1000)); b.State != kiosk.BillStacked {
		t.Fatalf("bill delivered after stop is %s: want stacked", b.State)
	}
}

// A bill that reaches escrow while the kiosk stops is given back, never
// stacked: the daemon is on its way out and could not record its end.
func TestEscrowWhileStoppingIsReturned(t *testing.T) {
	r := newRig(t, Config{}).start()
	r.toInsert()
	r.stop()
	r.stop = nil
	if err := <-r.done; err != nil {
		t.Fatal(err)
	}
	r.acc.Escrow(kiosk.Tenge(500))
	r.acc.Close()
	ctx, cancel := context.WithTimeout(context.Background(), waitLimit)
	defer cancel()
	r.f.Drain(ctx)
	if c := r.lastCmd(); c.Op != kiosktest.OpReturn {
		t.Errorf("last command %+v: want the bill returned", c)
	}
	for _, b := range r.led.Bills() {
		t.Errorf("bill recorded while stopping: %+v", b)
	}
}
