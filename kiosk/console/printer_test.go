package console

import (
	"bytes"
	"context"
	"fmt"
	"strings"
	"sync"
	"testing"
	"time"

	"tolem/kiosk"
	"tolem/kiosk/kiosktest"
)

// printerBackend is the fake backend of a kiosk with a receipt printer.
type printerBackend struct {
	*fakeBackend
	pmu      sync.Mutex
	st       PrinterReport
	reprints []string
}

func (p *printerBackend) PrinterStatus() PrinterReport {
	p.pmu.Lock()
	defer p.pmu.Unlock()
	return p.st
}

func (p *printerBackend) Reprint(ctx context.Context, n int64, actor string) error {
	if _, ok := p.topups[n]; !ok {
		return fmt.Errorf("reprint %d: %w", n, kiosk.ErrNotFound)
	}
	p.pmu.Lock()
	p.reprints = append(p.reprints, fmt.Sprintf("%d by %s", n, actor))
	p.pmu.Unlock()
	return p.Audit(ctx, kiosk.AuditEntry{Actor: actor, Action: "reprint", Detail: fmt.Sprintf("receipt %d copy", n)})
}

// reprint prints a copy under the technician's id and is audited; status
// shows the printer and warns of paper near its end.
func TestConsoleReprintAndPrinterStatus(t *testing.T) {
	b := &printerBackend{fakeBackend: newFake(t),
		st: PrinterReport{Kind: "escpos", Ready: true, Faults: []kiosk.PrinterFault{kiosk.PrinterPaperNearEnd}, Printed: 3}}
	c := New(b, testOptions(kiosktest.NewFakeClock(time.Time{})))
	ctx := context.Background()
	var out bytes.Buffer
	if code := c.Exec(ctx, "ssh:anna", []string{"reprint", "1"}, Output(&out)); code != ExitOK {
		t.Fatalf("reprint 1: exit %d: %s", code, out.String())
	}
	if !strings.Contains(out.String(), "receipt 1 printed again") || len(b.reprints) != 1 || b.reprints[0] != "1 by ssh:anna" {
		t.Fatalf("reprint: %q %v", out.String(), b.reprints)
	}
	if countAudit(b.fakeBackend, "reprint") != 1 {
		t.Fatal("reprint not audited")
	}
	out.Reset()
	if code := c.Exec(ctx, "ssh:anna", []string{"reprint", "99"}, Output(&out)); code == ExitOK || !strings.Contains(out.String(), "no receipt 99") {
		t.Fatalf("reprint of an unknown receipt: %q", out.String())
	}
	out.Reset()
	if code := c.Exec(ctx, "ssh:anna", []string{"reprint", "x"}, Output(&out)); code != ExitUsage {
		t.Fatalf("reprint x: exit %d", code)
	}
	out.Reset()
	c.Exec(ctx, "ssh:anna", []string{"status"}, Output(&out))
	if s := squash(out.String()); !strings.Contains(s, "printer escpos, ready, paper_near_end") || !strings.Contains(s, "paper near its end") {
		t.Fatalf("status:\n%s", out.String())
	}

	// A kiosk without a printer says so.
	c = New(newFake(t), testOptions(kiosktest.NewFakeClock(time.Time{})))
	out.Reset()
	if code := c.Exec(ctx, "ssh:anna", []string{"reprint", "1"}, Output(&out)); code == ExitOK || !strings.Contains(out.String(), "no receipt printer") {
		t.Fatalf("reprint without a printer: %q", out.String())
	}
}
