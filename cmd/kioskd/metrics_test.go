package main

import (
	"context"
	"testing"
	"time"

	dto "github.com/prometheus/client_model/go"

	"tolem/kiosk"
	"tolem/kiosk/ledger/ledgertest"
	"tolem/metrics"
)

type idleSource struct{}

func (idleSource) State() kiosk.State                                 { return kiosk.StateIdle }
func (idleSource) Acceptor() kiosk.AcceptorInfo                       { return kiosk.AcceptorInfo{} }
func (idleSource) Cassette(context.Context) (metrics.Cassette, error) { return metrics.Cassette{}, nil }
func (idleSource) Queue(context.Context) (kiosk.QueueStats, error)    { return kiosk.QueueStats{}, nil }
func (idleSource) Bank() metrics.Bank                                 { return metrics.Bank{} }
func (idleSource) DoorOpen() bool                                     { return false }
func (idleSource) DoorAlarm() bool                                    { return false }
func (idleSource) Review(context.Context) (metrics.Review, error)     { return metrics.Review{}, nil }
func (idleSource) LedgerOK(context.Context) bool                      { return true }

func gathered(t *testing.T, m *metrics.Metrics) map[string]*dto.MetricFamily {
	t.Helper()
	fams, err := m.Gatherer().Gather()
	if err != nil {
		t.Fatal(err)
	}
	out := map[string]*dto.MetricFamily{}
	for _, f := range fams {
		out[f.GetName()] = f
	}
	return out
}

// The flow's ledger, metered: each bill counted once into the cassette with
// its wait from escrow to STACK, each receipt once as a top-up, whatever
// the flow repeats.
func TestMeteredLedgerCountsOnce(t *testing.T) {
	ctx := context.Background()
	led := ledgertest.MustOpen(t)
	m := metrics.New(metrics.Options{Source: idleSource{}})
	l := meterLedger(led, m, led)
	now := time.Now()
	if err := l.OpenSession(ctx, kiosk.Session{ID: "s", Phone: "+77011234567", OpenedAt: now}); err != nil {
		t.Fatal(err)
	}
	for seq, v := range []kiosk.Money{kiosk.Tenge(1000), kiosk.Tenge(2000), kiosk.Tenge(1000)} {
		id := kiosk.BillID("s", seq+1)
		for range 2 { // the flow may record a bill twice after a retry
			if err := l.RecordEscrow(ctx, kiosk.BillRecord{SessionID: "s", Seq: seq + 1, Value: v, At: now}); err != nil {
				t.Fatal(err)
			}
		}
		if err := l.MarkStacking(ctx, id, now); err != nil {
			t.Fatal(err)
		}
		for range 2 {
			if err := l.MarkStacked(ctx, id, now); err != nil {
				t.Fatal(err)
			}
		}
	}
	for range 2 {
		if _, err := l.CompleteTopUp(ctx, "s", now); err != nil {
			t.Fatal(err)
		}
	}
	// A session a power cut left open is completed by recovery: one more.
	if err := l.OpenSession(ctx, kiosk.Session{ID: "cut", Phone: "+77011234567", OpenedAt: now}); err != nil {
		t.Fatal(err)
	}
	if err := l.RecordEscrow(ctx, kiosk.BillRecord{SessionID: "cut", Seq: 1, Value: kiosk.Tenge(5000), At: now}); err != nil {
		t.Fatal(err)
	}
	if err := l.MarkStacked(ctx, kiosk.BillID("cut", 1), now); err != nil {
		t.Fatal(err)
	}
	if r, err := l.Recover(ctx, &kiosk.PowerUpReport{}, now); err != nil || len(r.TopUps) != 1 {
		t.Fatalf("recover: %+v, %v", r, err)
	}
	f := gathered(t, m)
	byValue := map[string]float64{}
	for _, s := range f["tolem_bills_stacked_total"].GetMetric() {
		byValue[s.GetLabel()[0].GetValue()] = s.GetCounter().GetValue()
	}
	if byValue["100000"] != 2 || byValue["200000"] != 1 || byValue["500000"] != 1 {
		t.Errorf("bills stacked by value %v, want 2 × 100000, 1 × 200000, 1 × 500000", byValue)
	}
	if n := f["tolem_escrow_to_stack_seconds"].GetMetric()[0].GetHistogram().GetSampleCount(); n != 3 {
		t.Errorf("escrow to STACK observed %d times, want 3", n)
	}
	if n := f["tolem_topups_total"].GetMetric()[0].GetCounter().GetValue(); n != 2 {
		t.Errorf("top-ups %v, want 2 (one paid, one recovered)", n)
	}
	ops := map[string]uint64{}
	for _, s := range f["tolem_ledger_commit_seconds"].GetMetric() {
		ops[s.GetLabel()[0].GetValue()] = s.GetHistogram().GetSampleCount()
	}
	if ops["record_escrow"] != 7 || ops["mark_stacked"] != 7 || ops["complete_topup"] != 2 || ops["recover"] != 1 {
		t.Errorf("commits timed %v", ops)
	}
	// Without metrics the flow gets the ledger itself.
	if meterLedger(led, nil, led) != kiosk.Ledger(led) {
		t.Error("metrics off still wraps the ledger")
	}
}
