package console

import (
	"context"
	"errors"
	"fmt"
	"strconv"
	"strings"

	"tolem/kiosk"
)

// Printer is the receipt printer's side of a Backend; a Backend of a kiosk
// with a printer implements it, one without does not.
type Printer interface {
	// PrinterStatus is the printer's state now.
	PrinterStatus() PrinterReport
	// Reprint prints the receipt of receipt number n again, marked as a
	// copy, and audits it under actor.
	Reprint(ctx context.Context, n int64, actor string) error
}

// PrinterReport is the printer in the status.
type PrinterReport struct {
	Kind   string               `json:"kind"`
	Ready  bool                 `json:"ready"`
	Faults []kiosk.PrinterFault `json:"faults"`
	// Required: the kiosk goes out of service while it cannot print.
	Required bool   `json:"required"`
	Error    string `json:"error,omitempty"`
	Printed  int    `json:"printed"`
	Failed   int    `json:"failed"`
}

// printerWarnings are the status's warnings about the printer.
func printerWarnings(p PrinterReport) []string {
	var out []string
	for _, f := range p.Faults {
		switch f {
		case kiosk.PrinterPaperNearEnd:
			out = append(out, "printer paper near its end: load a new roll")
		case kiosk.PrinterPaperEnd:
			out = append(out, "printer out of paper: customers get no receipt; load a roll")
		case kiosk.PrinterCoverOpen:
			out = append(out, "printer cover open: close it")
		case kiosk.PrinterCutter:
			out = append(out, "printer cutter error: clear the paper jam")
		case kiosk.PrinterOffline:
			out = append(out, "printer offline: check it")
		case kiosk.PrinterNoAnswer:
			out = append(out, "printer not answering: check its power and cable, and printer.port")
		}
	}
	return out
}

func printerSummary(p PrinterReport) string {
	s := p.Kind + ", "
	switch {
	case p.Ready && len(p.Faults) == 0:
		s += "ready"
	case p.Ready:
		s += "ready, " + faultList(p.Faults)
	default:
		s += "CANNOT PRINT: " + faultList(p.Faults)
	}
	if p.Required {
		s += " (required)"
	}
	return s + fmt.Sprintf("; %d printed, %d failed since start", p.Printed, p.Failed)
}

func faultList(fs []kiosk.PrinterFault) string {
	parts := make([]string, len(fs))
	for i, f := range fs {
		parts[i] = string(f)
	}
	return strings.Join(parts, ", ")
}

func runReprint(x *invocation) int {
	if !x.wantArgs(1, 1) {
		return x.badUsage()
	}
	n, err := strconv.ParseInt(x.args[0], 10, 64)
	if err != nil || n <= 0 {
		return x.usage(fmt.Errorf("receipt number %q: want a positive number, e.g. reprint 1234", clean(x.args[0], 32)))
	}
	p, ok := x.c.b.(Printer)
	if !ok {
		return x.fail(errors.New("this kiosk has no receipt printer (printer.kind none)"))
	}
	if err := p.Reprint(x.ctx, n, x.actor); err != nil {
		if errors.Is(err, kiosk.ErrNotFound) {
			return x.fail(fmt.Errorf("no receipt %d: see queue or txn for the receipt numbers", n))
		}
		return x.fail(err)
	}
	if x.json {
		return x.emitJSON(map[string]any{"receipt_no": n, "printed": true, "copy": true})
	}
	x.say("receipt %d printed again, marked as a copy", n)
	return ExitOK
}
