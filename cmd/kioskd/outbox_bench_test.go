package main

import (
	"context"
	"slices"
	"testing"
	"time"

	"tolem/kiosk"
	"tolem/kiosk/ledger"
	"tolem/kiosk/ledger/ledgertest"
	"tolem/sync/bankapi/banksim"
	"tolem/sync/outbox"
)

// BenchmarkOutboxEscrowLatency times the write a customer waits on with a
// bill in escrow (RecordEscrow, before STACK) while the outbox is idle, and
// while it writes as fast as it can: 500 first sends (a stored body and an
// outcome each), then status polls of 500 top-ups the bank keeps pending,
// each poll an outcome written to the same ledger. The ledger has one
// writing connection, so the escrow record waits for at most the outbox's
// transaction in progress; the figures show how long that is.
// outbox_draining is the escrow record during a drain after an outage: the
// drain benchmark's 10 000 unsent top-ups going to a bank that answers in
// 20 ms and credits at once, in batches of 100, whose bodies and outcomes
// are written 25 to a transaction. session_during_drain is what a customer
// meets in kioskd: the same drain, with the outbox's gate held from the
// payment's first key (the flow's screens hold it, see holdForPayment); the
// escrow writes start 200 ms later, the least time a customer takes to
// type a phone number, and the gate is released after them.
// queue_10000_idle is its baseline: the drain's ledger, no outbox running.
//
//	go test -run '^$' -bench OutboxEscrowLatency -benchtime 2000x -count 3 ./cmd/kioskd/
func BenchmarkOutboxEscrowLatency(b *testing.B) {
	for _, c := range []struct {
		name                   string
		outbox, drain, session bool
	}{
		{"outbox_idle", false, false, false},
		{"queue_10000_idle", false, true, false},
		{"outbox_writing", true, false, false},
		{"outbox_draining", true, true, false},
		{"session_during_drain", true, true, true},
	} {
		b.Run(c.name, func(b *testing.B) {
			path := filledLedger(b, b.TempDir())
			if c.drain {
				path = drainLedger(b, b.TempDir())
			}
			l := ledgertest.MustOpenPath(b, path, ledger.Options{})
			ctx := context.Background()
			const sid = "escrow-bench"
			if err := l.OpenSession(ctx, kiosk.Session{ID: sid, Phone: "+77011234567", OpenedAt: time.Now()}); err != nil {
				b.Fatal(err)
			}
			var ob *outbox.Outbox
			gate := &outbox.Gate{}
			sessionRequests := 0
			switch {
			case c.drain && c.outbox:
				bank := drainBank(b)
				ob = runTestOutbox(b, l, bank.URL(), nil, func(o *outbox.Options) {
					o.BatchSize = outbox.MaxBatch
					o.Gate = gate
				})
				for ob.Status().Counts.Requests < 2 {
					time.Sleep(time.Millisecond)
				}
				if c.session {
					gate.Hold(time.Now())
					time.Sleep(200 * time.Millisecond)
					sessionRequests = ob.Status().Counts.Requests
					defer gate.Release()
				}
			case c.outbox:
				bank := newTestBank(b, banksim.Faults{PendingRate: 1, CreditDelay: time.Hour})
				ob = runTestOutbox(b, l, bank.URL(), nil, func(o *outbox.Options) {
					o.BatchSize = outbox.MaxBatch
					o.PollAfter, o.MaxBackoff = 10*time.Millisecond, 40*time.Millisecond
				})
				for ob.Status().Counts.Requests < 2 {
					time.Sleep(time.Millisecond)
				}
			}
			lat := make([]time.Duration, 0, b.N)
			b.ResetTimer()
			for i := range b.N {
				start := time.Now()
				err := l.RecordEscrow(ctx, kiosk.BillRecord{SessionID: sid, Seq: i + 1, Value: kiosk.Tenge(1000), At: start})
				lat = append(lat, time.Since(start))
				if err != nil {
					b.Fatal(err)
				}
			}
			b.StopTimer()
			if c.session {
				b.ReportMetric(float64(ob.Status().Counts.Requests-sessionRequests), "session-requests")
				gate.Release()
			}
			slices.Sort(lat)
			pct := func(p float64) float64 {
				return float64(lat[min(len(lat)-1, int(p*float64(len(lat))))]) / float64(time.Millisecond)
			}
			b.ReportMetric(pct(0.50), "p50-ms")
			b.ReportMetric(pct(0.99), "p99-ms")
			b.ReportMetric(float64(lat[len(lat)-1])/float64(time.Millisecond), "max-ms")
			if ob != nil {
				ob.Close()
				st := ob.Status()
				b.ReportMetric(float64(st.Counts.Requests), "outbox-requests")
			}
		})
	}
}
