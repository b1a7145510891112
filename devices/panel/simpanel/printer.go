package simpanel

import (
	"bytes"
	"context"
	"encoding/json"
	"fmt"
	"strings"
	"sync"

	"tolem/kiosk"
)

// receiptMsg is the body of a RECEIPT line (SPEC §5).
type receiptMsg struct {
	ReceiptNo int64    `json:"receipt_no"`
	ID        string   `json:"id"`
	Code      string   `json:"code"`
	Lines     []string `json:"lines"`
}

// EncodeReceipt makes the RECEIPT line of a printed receipt, '\n' ended.
func EncodeReceipt(d kiosk.ReceiptDoc) []byte {
	var b bytes.Buffer
	b.WriteString("RECEIPT ")
	enc := json.NewEncoder(&b)
	enc.SetEscapeHTML(false)
	lines := d.Text()
	if d.QR != "" {
		lines = append(lines, "[QR] "+d.QR)
	}
	if err := enc.Encode(receiptMsg{ReceiptNo: d.ReceiptNo, ID: d.TopUpID, Code: d.Code, Lines: lines}); err != nil {
		panic(fmt.Sprintf("simpanel: encode receipt: %v", err))
	}
	return b.Bytes()
}

// DecodeReceipt reads a RECEIPT line as a client would: for tests and tools.
func DecodeReceipt(line string) (receiptNo int64, id, code string, lines []string, err error) {
	rest, ok := strings.CutPrefix(strings.TrimRight(line, "\r\n"), "RECEIPT ")
	if !ok {
		return 0, "", "", nil, fmt.Errorf("not a RECEIPT line: %s", quote(line))
	}
	var m receiptMsg
	if err := json.Unmarshal([]byte(rest), &m); err != nil {
		return 0, "", "", nil, fmt.Errorf("decode RECEIPT: %w", err)
	}
	return m.ReceiptNo, m.ID, m.Code, m.Lines, nil
}

// Receipt sends a RECEIPT line to every client connected now. A client
// that connects later does not get it: a receipt is printed once.
func (s *Server) Receipt(d kiosk.ReceiptDoc) error {
	line := EncodeReceipt(d)
	s.mu.Lock()
	defer s.mu.Unlock()
	if s.closed {
		return ErrClosed
	}
	for c := range s.clients {
		if !c.send(line) {
			s.log.Warn("sim panel client is not reading; disconnecting it", "client", c.id)
			s.dropLocked(c)
		}
	}
	return nil
}

// Printer is printer.kind sim: each receipt goes to the panel socket as a
// RECEIPT line and to the terminal panel. Its paper can be taken out, to try
// what the kiosk does without.
type Printer struct {
	srv *Server // nil when the panel is not the sim one

	mu       sync.Mutex
	paperOut bool
	last     kiosk.ReceiptDoc
	subs     []chan kiosk.ReceiptDoc
}

// NewPrinter makes the sim printer; srv may be nil.
func NewPrinter(srv *Server) *Printer { return &Printer{srv: srv} }

var _ kiosk.Printer = (*Printer)(nil)

// Status reports paper_end while the paper is out.
func (p *Printer) Status(context.Context) (kiosk.PrinterStatus, error) {
	p.mu.Lock()
	defer p.mu.Unlock()
	if p.paperOut {
		return kiosk.PrinterStatus{Faults: []kiosk.PrinterFault{kiosk.PrinterPaperEnd}}, nil
	}
	return kiosk.PrinterStatus{}, nil
}

// Print sends the receipt to the socket's clients and the terminal panel.
func (p *Printer) Print(_ context.Context, d kiosk.ReceiptDoc) error {
	p.mu.Lock()
	if p.paperOut {
		p.mu.Unlock()
		return fmt.Errorf("%w: sim printer out of paper", kiosk.ErrPrinter)
	}
	p.last = d
	for _, ch := range p.subs {
		select {
		case <-ch: // only the newest matters
		default:
		}
		ch <- d
	}
	p.mu.Unlock()
	if p.srv != nil {
		if err := p.srv.Receipt(d); err != nil {
			return fmt.Errorf("%w: sim printer: %w", kiosk.ErrPrinter, err)
		}
	}
	return nil
}

// SetPaperOut takes the paper out or puts it back.
func (p *Printer) SetPaperOut(out bool) {
	p.mu.Lock()
	p.paperOut = out
	p.mu.Unlock()
}

// TogglePaper flips the paper and says what it did, for the terminal panel.
func (p *Printer) TogglePaper() string {
	p.mu.Lock()
	defer p.mu.Unlock()
	p.paperOut = !p.paperOut
	if p.paperOut {
		return "printer: paper out"
	}
	return "printer: paper loaded"
}

// Last is the last receipt printed (zero before the first).
func (p *Printer) Last() kiosk.ReceiptDoc {
	p.mu.Lock()
	defer p.mu.Unlock()
	return p.last
}

// Receipts returns every receipt printed from now on; a slow reader gets
// the newest.
func (p *Printer) Receipts() <-chan kiosk.ReceiptDoc {
	ch := make(chan kiosk.ReceiptDoc, 1)
	p.mu.Lock()
	p.subs = append(p.subs, ch)
	p.mu.Unlock()
	return ch
}
