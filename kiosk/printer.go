package kiosk

import (
	"context"
	"errors"
)

// PrinterFault is a condition of the receipt printer a driver reports. The
// names are metric labels (tolem_printer_fault) and console words.
type PrinterFault string

// Printer faults. PaperNearEnd is a warning for the technician: the printer
// still prints. Every other fault means a receipt cannot be printed now.
const (
	PrinterPaperEnd     PrinterFault = "paper_end"
	PrinterPaperNearEnd PrinterFault = "paper_near_end"
	PrinterCoverOpen    PrinterFault = "cover_open"
	PrinterCutter       PrinterFault = "cutter_error"
	PrinterOffline      PrinterFault = "offline"
	PrinterNoAnswer     PrinterFault = "no_answer"
)

// PrinterFaults lists every fault a printer driver can report, so that a
// monitor exports each from the start.
func PrinterFaults() []PrinterFault {
	return []PrinterFault{PrinterPaperEnd, PrinterPaperNearEnd, PrinterCoverOpen,
		PrinterCutter, PrinterOffline, PrinterNoAnswer}
}

// PrinterStatus is what the printer said when last asked.
type PrinterStatus struct {
	Faults []PrinterFault `json:"faults"`
}

// Has reports whether f is among the faults.
func (s PrinterStatus) Has(f PrinterFault) bool {
	for _, x := range s.Faults {
		if x == f {
			return true
		}
	}
	return false
}

// CanPrint reports whether no fault but a near paper end stands.
func (s PrinterStatus) CanPrint() bool {
	for _, x := range s.Faults {
		if x != PrinterPaperNearEnd {
			return false
		}
	}
	return true
}

// Align is a receipt line's alignment.
type Align int

// Alignments of a receipt line.
const (
	AlignLeft Align = iota
	AlignCenter
	AlignRight
)

// ReceiptLine is one line of a receipt, already fitted to the paper's
// columns (a double-width line to half of them).
type ReceiptLine struct {
	Text   string
	Align  Align
	Bold   bool
	Double bool // double width and height
}

// ReceiptDoc is a receipt ready to print: the lines, then the QR code of QR
// (none when empty), then a cut.
type ReceiptDoc struct {
	ReceiptNo int64
	TopUpID   string
	Code      string
	Lines     []ReceiptLine
	QR        string
}

// Text is the receipt's lines as plain text, one per line.
func (d ReceiptDoc) Text() []string {
	out := make([]string, len(d.Lines))
	for i, l := range d.Lines {
		out[i] = l.Text
	}
	return out
}

// Printer prints receipts. Print returns once the printer has taken the
// whole receipt and reported no fault, or with an error saying why not
// (wrapping ErrPrinter).
type Printer interface {
	Print(ctx context.Context, d ReceiptDoc) error
	Status(ctx context.Context) (PrinterStatus, error)
}

// ErrPrinter wraps every failure to print.
var ErrPrinter = errors.New("printer")

// Receipts is the flow's side of the receipt printer.
type Receipts interface {
	// Ready reports whether a receipt can be printed now; the confirm
	// screen tells the customer before any cash when it cannot.
	Ready() bool
	// Issue is handed every committed top-up once. It must not block: the
	// receipt prints in the background. It says whether a receipt is being
	// printed and returns the verification code, which the done screen
	// shows when it is not.
	Issue(t TopUp, lang Lang) (printing bool, code string)
}
