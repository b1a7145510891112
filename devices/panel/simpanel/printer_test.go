package simpanel

import (
	"context"
	"errors"
	"slices"
	"strings"
	"testing"

	"tolem/kiosk"
)

// The sim printer sends each receipt as SPEC §5's RECEIPT line; without
// paper it reports paper_end and sends nothing.
func TestSimPrinterSendsReceiptLine(t *testing.T) {
	s := newServer(t)
	s.Show(screenOf(kiosk.StateIdle, "x"))
	c := dial(t, s)
	c.screen()
	p := NewPrinter(s)
	recv := p.Receipts()
	d := kiosk.ReceiptDoc{ReceiptNo: 1234, TopUpID: "t-1", Code: "ABCDEFGHIJ",
		Lines: []kiosk.ReceiptLine{{Text: "Қызмет: Әмиянды толтыру"}, {Text: "12 500 ₸"}}, QR: "https://b/c?c=ABCDEFGHIJ"}
	if err := p.Print(context.Background(), d); err != nil {
		t.Fatal(err)
	}
	line := c.line()
	if !strings.HasPrefix(line, `RECEIPT {"receipt_no":1234,"id":"t-1","code":"ABCDEFGHIJ","lines":[`) {
		t.Fatalf("line %q", line)
	}
	no, id, code, lines, err := DecodeReceipt(line)
	if err != nil || no != 1234 || id != "t-1" || code != "ABCDEFGHIJ" ||
		!slices.Equal(lines, []string{"Қызмет: Әмиянды толтыру", "12 500 ₸", "[QR] https://b/c?c=ABCDEFGHIJ"}) {
		t.Fatalf("decoded %d %q %q %q %v", no, id, code, lines, err)
	}
	if got := <-recv; got.ReceiptNo != 1234 {
		t.Fatalf("terminal got %+v", got)
	}

	if msg := p.TogglePaper(); msg != "printer: paper out" {
		t.Fatalf("toggle said %q", msg)
	}
	if st, _ := p.Status(context.Background()); !st.Has(kiosk.PrinterPaperEnd) {
		t.Fatalf("status %+v without paper", st)
	}
	if err := p.Print(context.Background(), d); !errors.Is(err, kiosk.ErrPrinter) {
		t.Fatalf("print without paper: %v", err)
	}
}

// The last receipt is drawn right of the frame, and the paper key is in
// the legend.
func TestRenderReceiptBeside(t *testing.T) {
	frame := Render(screenOf(kiosk.StateDone, "Оплачено: 500 ₸"), RenderInfo{Printer: true, Receipt: []string{"Чек №: 7", "Код проверки: ABCDEFGHIJ"}})
	rows := strings.Split(frame, "\n")
	if !strings.Contains(rows[1], "│ Чек №: 7") || !strings.Contains(frame, "paper out / in") {
		t.Fatalf("frame:\n%s", frame)
	}
	if i := strings.Index(rows[1], "│ Чек"); visibleWidth(rows[1][:i]) != frameWidth {
		t.Fatalf("receipt column at %d, want %d", visibleWidth(rows[1][:i]), frameWidth)
	}
}
