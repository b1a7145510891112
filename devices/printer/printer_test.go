package printer_test

import (
	"bytes"
	"context"
	"encoding/hex"
	"errors"
	"slices"
	"strings"
	"testing"
	"time"

	"tolem/devices/printer"
	"tolem/devices/printer/printertest"
	"tolem/kiosk"
)

func start(t *testing.T, o printer.Options) (*printertest.Emulator, *printer.Printer) {
	t.Helper()
	e, err := printertest.Start()
	if err != nil {
		t.Skipf("no pty: %v", err)
	}
	p := printer.New(printer.Config{Port: e.Path(), Baud: 115200, Options: o, AnswerTimeout: 300 * time.Millisecond})
	t.Cleanup(func() {
		p.Close()
		e.Close()
	})
	return e, p
}

func ctxT(t *testing.T) context.Context {
	ctx, cancel := context.WithTimeout(context.Background(), 20*time.Second)
	t.Cleanup(cancel)
	return ctx
}

var doc = kiosk.ReceiptDoc{
	ReceiptNo: 7, TopUpID: "t-7", Code: "ABCDEFGHIJ",
	Lines: []kiosk.ReceiptLine{
		{Text: "ТОО Банк", Align: kiosk.AlignCenter, Bold: true},
		{Text: "Чек №: 7"},
		{Text: "Итого: 12500", Double: true, Bold: true},
		{Text: "Ёлки, № 5"},
		{Text: "Сома: 12 500 ₸ қ", Double: true, Bold: true, Align: kiosk.AlignRight},
		{Text: "«Банк» ₸", Bold: true, Align: kiosk.AlignCenter},
	},
	QR: "https://bank.example/check?t=KZ-1&r=7&c=ABCDEFGHIJ",
}

// A receipt in Russian arrives as text in CP866, with its alignment,
// emphasis and size, the native QR code's payload, and a cut.
func TestPrintTextAndNativeQR(t *testing.T) {
	e, p := start(t, printer.Options{Columns: 32})
	if err := p.Print(ctxT(t), doc); err != nil {
		t.Fatal(err)
	}
	rs, err := e.WaitReceipts(1, 5*time.Second)
	if err != nil {
		t.Fatal(err)
	}
	r := rs[0]
	want := []string{"ТОО Банк", "Чек №: 7", "Итого: 12500", "Ёлки, № 5"}
	if got := r.Text()[:4]; !slices.Equal(got, want) {
		t.Fatalf("lines %q, want %q", got, want)
	}
	if r.Lines[0].Align != 1 || !r.Lines[0].Bold || r.Lines[1].Bold || !r.Lines[2].Double {
		t.Fatalf("alignment or emphasis lost: %+v", r.Lines[:3])
	}
	if got := r.Text()[4:6]; printertest.Fold(got[0]) != printertest.Fold("Сома: 12 500 ₸ қ") ||
		printertest.Fold(strings.TrimSpace(got[1])) != printertest.Fold("«Банк» ₸") {
		t.Fatalf("bold, double and centred raster lines read back as %q", got)
	}
	if r.QR != doc.QR {
		t.Fatalf("QR payload %q, want %q", r.QR, doc.QR)
	}
	if !r.Cut {
		t.Fatal("receipt not cut")
	}
}

// Unifont's rows of the letters the test looks for, written out here rather
// than read from the driver's font.
var unifont = map[rune]string{
	'қ': "00000000000046485060504844420202",
	'ә': "0000000000003C4202027E42423C0000",
	'і': "000000080800180808080808083E0000",
}

// A Kazakh line, which CP866 cannot carry, is printed as a raster image whose
// glyphs are the font's letters, dot for dot at the cell's scale.
func TestKazakhLineAsRaster(t *testing.T) {
	e, p := start(t, printer.Options{Columns: 32})
	line := "қәі ok"
	d := kiosk.ReceiptDoc{ReceiptNo: 1, Lines: []kiosk.ReceiptLine{{Text: line}, {Text: "plain"}}}
	if err := p.Print(ctxT(t), d); err != nil {
		t.Fatal(err)
	}
	rs, err := e.WaitReceipts(1, 5*time.Second)
	if err != nil {
		t.Fatal(err)
	}
	l := rs[0].Lines[0]
	if l.Raster == nil {
		t.Fatalf("Kazakh line sent as text %q, want a raster image", l.Text)
	}
	if rs[0].Lines[1].Text != "plain" {
		t.Fatalf("the next line %+v, want text", rs[0].Lines[1])
	}
	if got := printertest.Fold(l.Text); got != printertest.Fold(line) {
		t.Fatalf("raster line reads back as %q, want %q", l.Text, line)
	}
	bm := l.Raster
	if bm.W != 384 || bm.H != 24 {
		t.Fatalf("raster %d×%d, want 384×24 (one line of a 58 mm head)", bm.W, bm.H)
	}
	const cw, ch = 12, 24
	for i, r := range []rune(line)[:3] {
		want, _ := hex.DecodeString(unifont[r])
		for y := range 16 {
			var row byte
			for x := range 8 {
				// The first printed dot the font's dot is scaled to.
				if bm.At(i*cw+(x*cw+7)/8, (y*ch+15)/16) {
					row |= 0x80 >> x
				}
			}
			if row != want[y] {
				t.Fatalf("%q row %d: %08b, want %08b", r, y, row, want[y])
			}
		}
	}
}

// A printer without GS ( k gets the QR code as a raster image of the same
// code.
func TestRasterQR(t *testing.T) {
	e, p := start(t, printer.Options{Columns: 48, QR: printer.QRRaster})
	e.SetNoQR(true)
	d := kiosk.ReceiptDoc{ReceiptNo: 2, Lines: []kiosk.ReceiptLine{{Text: "x"}}, QR: doc.QR}
	if err := p.Print(ctxT(t), d); err != nil {
		t.Fatal(err)
	}
	rs, err := e.WaitReceipts(1, 5*time.Second)
	if err != nil {
		t.Fatal(err)
	}
	want, err := printer.QRBitmap(doc.QR, 6, 576)
	if err != nil {
		t.Fatal(err)
	}
	var got *printer.Bitmap
	for _, l := range rs[0].Lines {
		if l.Raster != nil {
			got = l.Raster
		}
	}
	if got == nil || got.W != want.W || got.H != want.H || !bytes.Equal(got.Bits, want.Bits) {
		t.Fatal("the raster QR code differs from the payload's code")
	}
}

// Every condition the printer reports comes out as its fault; a printer that
// does not answer is no_answer.
func TestStatus(t *testing.T) {
	e, p := start(t, printer.Options{})
	cases := []struct {
		name string
		set  func(bool)
		want []kiosk.PrinterFault
	}{
		{"fine", func(bool) {}, nil},
		{"paper out", e.SetPaperOut, []kiosk.PrinterFault{kiosk.PrinterPaperEnd}},
		{"near end", e.SetNearEnd, []kiosk.PrinterFault{kiosk.PrinterPaperNearEnd}},
		{"cover", e.SetCoverOpen, []kiosk.PrinterFault{kiosk.PrinterCoverOpen}},
		{"cutter", e.SetCutterError, []kiosk.PrinterFault{kiosk.PrinterCutter}},
		{"silent", e.SetSilent, []kiosk.PrinterFault{kiosk.PrinterNoAnswer}},
	}
	for _, c := range cases {
		c.set(true)
		st, err := p.Status(ctxT(t))
		c.set(false)
		if (err != nil) != (c.name == "silent") {
			t.Fatalf("%s: error %v", c.name, err)
		}
		if !slices.Equal(st.Faults, c.want) {
			t.Fatalf("%s: faults %v, want %v", c.name, st.Faults, c.want)
		}
	}
	if st, err := p.Status(ctxT(t)); err != nil || len(st.Faults) != 0 {
		t.Fatalf("after the faults cleared: %v %v", st, err)
	}
}

// A printer out of paper is not sent the receipt: Print says why, and
// nothing is lost on the way.
func TestPrintRefusedWithoutPaper(t *testing.T) {
	e, p := start(t, printer.Options{})
	e.SetPaperOut(true)
	err := p.Print(ctxT(t), doc)
	if !errors.Is(err, kiosk.ErrPrinter) {
		t.Fatalf("error %v, want a printer error", err)
	}
	if cur := e.Current(); len(e.Receipts()) != 0 || cur.Lost != 0 || len(cur.Lines) != 0 {
		t.Fatalf("data sent to a printer out of paper: %+v", cur)
	}
	e.SetPaperOut(false)
	if err := p.Print(ctxT(t), doc); err != nil {
		t.Fatal(err)
	}
	if _, err := e.WaitReceipts(1, 5*time.Second); err != nil {
		t.Fatal(err)
	}
}

// CP866 carries every Russian letter and № both ways; anything else is
// refused, never mangled.
func FuzzCP866(f *testing.F) {
	f.Add("Привет, Ёж № 5")
	f.Add("қазақ ₸")
	f.Fuzz(func(t *testing.T, s string) {
		b, ok := printer.EncodeCP866(s)
		if !ok {
			return
		}
		if got := printer.DecodeCP866(b); got != s {
			t.Fatalf("%q came back as %q", s, got)
		}
	})
}

// With automatic status back the printer tells of a cover opened between
// polls; its blocks never pass for the answers to status requests.
func TestAutomaticStatusBack(t *testing.T) {
	e, p := start(t, printer.Options{ASB: true})
	if st, err := p.Status(ctxT(t)); err != nil || len(st.Faults) != 0 {
		t.Fatalf("status %v %v", st, err)
	}
	if !e.ASB() {
		t.Fatal("automatic status back not turned on")
	}
	// The block sent when it was turned on.
	select {
	case <-p.Changed():
	case <-time.After(5 * time.Second):
		t.Fatal("no automatic status at start")
	}
	e.SetCoverOpen(true)
	select {
	case <-p.Changed():
	case <-time.After(5 * time.Second):
		t.Fatal("cover opened, printer said nothing")
	}
	if f, ok := p.LastASB(); !ok || !slices.Equal(f, []kiosk.PrinterFault{kiosk.PrinterCoverOpen}) {
		t.Fatalf("automatic status %v %v", f, ok)
	}
	if st, _ := p.Status(ctxT(t)); !st.Has(kiosk.PrinterCoverOpen) {
		t.Fatalf("status %v", st)
	}
	e.SetCoverOpen(false)
	e.SetNearEnd(true)
	if err := p.Print(ctxT(t), doc); err != nil {
		t.Fatal(err)
	}
	if _, err := e.WaitReceipts(1, 5*time.Second); err != nil {
		t.Fatal(err)
	}
	if f, _ := p.LastASB(); !slices.Equal(f, []kiosk.PrinterFault{kiosk.PrinterPaperNearEnd}) {
		t.Fatalf("automatic status after the near end %v", f)
	}
}
