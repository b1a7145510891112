package main

import (
	"context"
	"sync"
	"time"

	"tolem/devices/panel/simpanel"
	"tolem/devices/printer"
	"tolem/kiosk"
	"tolem/kiosk/config"
	"tolem/kiosk/console"
	"tolem/kiosk/receipt"
)

// conditionPrinter keeps the kiosk out of service while no receipt can be
// printed, with printer.required.
const conditionPrinter = "printer"

// receipts is the receipt printer as the daemon wires it.
type receipts struct {
	cfg    config.Printer
	secret []byte
	term   string
	svc    *receipt.Service  // nil without a printer (or without a ledger)
	sim    *simpanel.Printer // printer.kind sim
	driver *printer.Printer  // printer.kind escpos

	cancel context.CancelFunc
	done   chan struct{}
	once   sync.Once
}

// newReceipts builds the printer printer.kind names. Without a printer the
// flow still gets the codes, for the done screen.
func newReceipts(w *wiring, fp *frontPanel) (*receipts, error) {
	cfg := w.cfg
	secret, err := cfg.BankSecret()
	if err != nil {
		return nil, err
	}
	r := &receipts{cfg: cfg.Printer, secret: secret, term: cfg.TerminalID}
	var p kiosk.Printer
	switch cfg.Printer.Kind {
	case config.PrinterNone:
		return r, nil
	case config.PrinterSim:
		srv, _ := fp.display.(*simpanel.Server)
		r.sim = simpanel.NewPrinter(srv)
		p = r.sim
	default:
		r.driver = printer.New(printer.Config{Port: cfg.Printer.Port, Baud: cfg.Printer.Baud, Options: printer.Options{
			Columns: cfg.Printer.Columns, CodePage: cfg.Printer.CodePage, QR: cfg.Printer.QR, Eject: cfg.Printer.EjectBytes(),
			ASB: cfg.Printer.ASB,
		}})
		p = r.driver
	}
	if w.ledger == nil {
		w.log.Error("receipts not printed: the ledger is unusable")
		return r, nil
	}
	r.svc = receipt.New(receipt.Config{
		Layout: receipt.Layout{
			TerminalID: cfg.TerminalID, Header: cfg.Printer.Header, CheckURL: cfg.Printer.CheckURL,
			Width: cfg.Printer.Columns, Location: cfg.Printer.Location(),
		},
		Secret: secret, Lang: cfg.Panel.Language(), ResumeWithin: cfg.Printer.ResumeWithin,
	}, p, w.ledger, kiosk.SystemClock{}, w.log.With("component", "printer"))
	return r, nil
}

// flowSide is what the flow gets: the service, or the codes alone.
func (r *receipts) flowSide() kiosk.Receipts {
	if r.svc != nil {
		return r.svc
	}
	return noPrinter{r}
}

// flowHooks is the flow's side of the printer: the confirm screen follows
// its readiness, and printer.required is a condition.
type flowHooks interface {
	SetCondition(name string, active bool)
	ReceiptsChanged()
}

// start runs the service; with printer.required the flow is kept out of
// service until the printer says it can print.
func (r *receipts) start(ctx context.Context, f flowHooks) {
	r.done = make(chan struct{})
	if r.svc == nil {
		close(r.done)
		return
	}
	if r.cfg.Required {
		f.SetCondition(conditionPrinter, true)
	}
	r.svc.OnChange(func(st receipt.Status) {
		if r.cfg.Required {
			f.SetCondition(conditionPrinter, !st.Ready)
		}
		f.ReceiptsChanged()
	})
	ctx, r.cancel = context.WithCancel(ctx)
	go func() {
		defer close(r.done)
		r.svc.Run(ctx)
	}()
}

// Close stops the service once the receipt being printed is done, then
// closes the port.
func (r *receipts) Close() error {
	r.once.Do(func() {
		if r.cancel != nil {
			r.cancel()
		}
		if r.done != nil {
			select {
			case <-r.done:
			case <-time.After(time.Minute):
			}
		}
		if r.driver != nil {
			r.driver.Close()
		}
	})
	return nil
}

// noPrinter is printer.kind none: nothing is printed, and the done screen
// shows the code the bank can check.
type noPrinter struct{ r *receipts }

func (n noPrinter) Ready() bool { return false }

func (n noPrinter) Issue(t kiosk.TopUp, _ kiosk.Lang) (bool, string) {
	return false, receipt.TopUpCode(n.r.secret, n.r.term, t)
}

// printerMetrics is tolem_printer_fault's source; the printer is built after
// the metrics.
type printerMetrics struct{ w *wiring }

func (m printerMetrics) Faults() (all, active []string) {
	if r := m.w.receipts; r != nil && r.svc != nil {
		return r.svc.Faults()
	}
	for _, f := range kiosk.PrinterFaults() {
		all = append(all, string(f))
	}
	return all, nil
}

// printerConsole is the console's backend of a kiosk with a printer.
type printerConsole struct {
	*consoleBackend
}

var _ console.Printer = printerConsole{}

func (b printerConsole) PrinterStatus() console.PrinterReport {
	r := b.w.receipts
	st := r.svc.Status()
	return console.PrinterReport{Kind: r.cfg.Kind, Ready: st.Ready, Faults: st.Faults, Required: r.cfg.Required,
		Error: st.Error, Printed: st.Printed, Failed: st.Failed}
}

func (b printerConsole) Reprint(ctx context.Context, n int64, actor string) error {
	return b.w.receipts.svc.Reprint(ctx, n, actor)
}

// consoleFor gives the console the printer commands when there is one.
func consoleFor(b *consoleBackend) console.Backend {
	if r := b.w.receipts; r != nil && r.svc != nil {
		return printerConsole{b}
	}
	return b
}

// printerAlarms are the heartbeat's alarms of the printer's faults
// ("printer_paper_near_end"…), so the fleet sees a roll to change.
func printerAlarms(w *wiring) []string {
	r := w.receipts
	if r == nil || r.svc == nil {
		return nil
	}
	var out []string
	for _, f := range r.svc.Status().Faults {
		out = append(out, "printer_"+string(f))
	}
	return out
}
