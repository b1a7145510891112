package acceptor

import (
	"log/slog"
	"slices"
	"sync"
	"testing"

	"tolem/kiosk"
)

// A driver closing with events its reader has not taken yet: every one still
// arrives, in order, and only then is the channel closed.
func TestDeliveryKeepsEventsPushedBeforeStop(t *testing.T) {
	q := NewDelivery()
	want := []kiosk.Money{kiosk.Tenge(200), kiosk.Tenge(500), kiosk.Tenge(1000)}
	for _, v := range want {
		q.Push(kiosk.AcceptorEvent{Kind: kiosk.EventStacked, Value: v})
	}
	q.Stop()
	q.Stop() // a second Close of the driver must not panic
	var got []kiosk.Money
	for e := range q.Events() {
		got = append(got, e.Value)
	}
	if !slices.Equal(got, want) {
		t.Fatalf("delivered %v, want %v", got, want)
	}
}

// The flow hears of a fault once at its onset however often the unit
// repeats it, and hears it cleared once the last one ends.
func TestFaultsReportOnsetAndEndOnce(t *testing.T) {
	var mu sync.Mutex
	var got []string
	f := NewFaults(&mu, "bill validator", slog.New(slog.DiscardHandler), func(e kiosk.AcceptorEvent) {
		got = append(got, e.Kind.String()+" "+string(e.Fault))
	})
	f.Raise(kiosk.FaultJammed, "head")
	f.Raise(kiosk.FaultJammed, "head")
	f.Raise(kiosk.FaultDisconnected, "EOF")
	f.Raise(kiosk.FaultDisconnected, "timeout")
	mu.Lock()
	if n, kinds := f.Len(), f.Kinds(); n != 2 || !slices.Equal(kinds, []kiosk.Fault{kiosk.FaultJammed, kiosk.FaultDisconnected}) {
		t.Errorf("faults now %d %v, want jammed and disconnected", n, kinds)
	}
	mu.Unlock()
	f.Clear(kiosk.FaultJammed)
	f.Clear(kiosk.FaultDisconnected)
	f.ClearAll()
	want := []string{
		kiosk.EventFault.String() + " " + string(kiosk.FaultJammed),
		kiosk.EventFault.String() + " " + string(kiosk.FaultDisconnected),
		kiosk.EventFaultCleared.String() + " ",
	}
	if !slices.Equal(got, want) {
		t.Fatalf("events %q, want %q", got, want)
	}
}
