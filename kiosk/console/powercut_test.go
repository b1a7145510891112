package console

import (
	"bytes"
	"context"
	"strings"
	"testing"
	"time"

	"tolem/kiosk"
	"tolem/kiosk/kiosktest"
)

// A top-up completed at start-up after a power cut shows in status with its
// receipt number, the session whose bill stayed uncertain shows in review,
// and an acceptor that never answered says so instead of empty fields.
func TestConsoleAfterAPowerCut(t *testing.T) {
	f := newFake(t)
	start := time.Date(2026, 1, 5, 9, 0, 0, 0, time.UTC)
	rec := topUp(12, kiosk.SyncUnsent)
	rec.Recovered, rec.Amount, rec.CompletedAt = true, kiosk.Tenge(1000), start.Add(-10*time.Minute)
	old := topUp(3, kiosk.SyncCredited)
	old.Recovered, old.CompletedAt = true, start.Add(-30*24*time.Hour)
	f.recovered = []kiosk.TopUp{rec, old}
	f.review.Sessions = []UncertainSession{{SessionID: "s12", Phone: "+77011234567", OpenedAt: start.Add(-time.Hour), TopUp: &rec,
		Uncertain: []kiosk.BillRecord{{ID: "s12/2", SessionID: "s12", Seq: 2, Value: kiosk.Tenge(5000), State: kiosk.BillUncertain, At: start}}}}
	f.acc = kiosk.AcceptorInfo{Protocol: "ccnet", Port: "/dev/ttyUSB0", State: "disconnected"}
	c := New(f, testOptions(kiosktest.NewFakeClock(start)))
	run := func(args ...string) string {
		var out bytes.Buffer
		c.Exec(context.Background(), "ssh:anna", args, Output(&out))
		return out.String()
	}

	out := run("status")
	for _, want := range []string{
		"acceptor   ccnet: no answer from /dev/ttyUSB0 since 2026-01-05 07:00:00 UTC (kioskd's start): check its cable and power, and acceptor.port\n",
		"recovered  receipt 12, 1 000 ₸ to +7701***4567, completed at start-up at 2026-01-05 08:50:00 UTC after a power cut\n",
	} {
		if !strings.Contains(out, want) {
			t.Errorf("status lacks %q:\n%s", want, out)
		}
	}
	if strings.Contains(out, "receipt 3,") {
		t.Errorf("status lists a recovery a month old:\n%s", out)
	}
	if out := run("status", "--json"); !strings.Contains(out, `"receipt_no": 12`) || !strings.Contains(out, `"recovered": true`) {
		t.Errorf("status --json lacks the recovered top-up:\n%s", out)
	}

	out = run("review")
	want := "Customers' sessions a power cut left with uncertain bills (the customer may\nask about them; the bills are counted at the next collection):\n" +
		"  s12  +7701***4567  opened 2026-01-05 08:00:00 UTC  receipt 12, 1 000 ₸ recovered at start-up  uncertain: 5 000 ₸\n"
	if !strings.Contains(out, want) {
		t.Errorf("review lacks\n%s\nin:\n%s", want, out)
	}
	if out := run("review", "--json"); !strings.Contains(out, `"session_id": "s12"`) || !strings.Contains(out, `"phone": "+7701***4567"`) {
		t.Errorf("review --json lacks the session:\n%s", out)
	}

	out = run("acceptor")
	if !strings.Contains(out, "model        unknown: no answer from /dev/ttyUSB0 since kioskd started at 2026-01-05 07:00:00 UTC; check its cable and power, and acceptor.port\n") {
		t.Errorf("acceptor:\n%s", out)
	}
}
