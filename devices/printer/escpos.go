package printer

import (
	"fmt"

	"rsc.io/qr"

	"tolem/kiosk"
)

// ESC/POS bytes.
const (
	esc = 0x1B
	gs  = 0x1D
	dle = 0x10
	eot = 0x04
	lf  = 0x0A
)

type alignment byte

const (
	alignLeft   alignment = 0
	alignCenter alignment = 1
	alignRight  alignment = 2
)

// QR modes.
const (
	QRNative = "native"
	QRRaster = "raster"
)

// Font cell of the printers' font A, which the raster lines imitate.
const (
	cellW = 12
	cellH = 24
)

// Options say how to talk to one printer model.
type Options struct {
	// Columns is the paper's characters per line in font A: 32 (58 mm), 42
	// or 48 (80 mm).
	Columns int
	// Dots is the print head's width in dots; 0 is Columns × 12.
	Dots int
	// CodePage is the ESC t number of the printer's CP866 table: 17 on
	// Epson, Citizen, Sewoo, Bixolon and Xprinter; see the model's manual.
	CodePage int
	// QR is QRNative (GS ( k) or QRRaster, for a printer without it.
	QR string
	// QRModule is the QR code's module size in dots (native: 1–16).
	QRModule int
	// FeedLines are fed after the receipt before the cut, so the last line
	// clears the cutter.
	FeedLines int
	// Eject is the model's presenter command sent after the cut (Custom
	// VKP80, Citizen PPU-700 with a presenter), empty for none.
	Eject []byte
	// ASB turns on automatic status back (GS a): the printer says itself
	// when its cover opens or its paper ends, between the polls.
	ASB bool
}

func (o Options) withDefaults() Options {
	if o.Columns <= 0 {
		o.Columns = 42
	}
	if o.Dots <= 0 {
		o.Dots = (o.Columns*cellW + 7) / 8 * 8
	}
	if o.CodePage == 0 {
		o.CodePage = 17
	}
	if o.QR == "" {
		o.QR = QRNative
	}
	if o.QRModule <= 0 {
		o.QRModule = 6
	}
	if o.FeedLines <= 0 {
		o.FeedLines = 4
	}
	return o
}

// Encode turns a receipt into the bytes for the printer: initialise, select
// the code page, the lines (as text where the code page has every character,
// else as raster), the QR code, feed, partial cut, eject.
func Encode(d kiosk.ReceiptDoc, o Options) ([]byte, error) {
	o = o.withDefaults()
	b := []byte{esc, '@', esc, 't', byte(o.CodePage)}
	if o.ASB {
		// Again after ESC @, which some models take as turning it off.
		b = append(b, asbOn...)
	}
	for _, l := range d.Lines {
		a := alignment(l.Align)
		if text, ok := EncodeCP866(l.Text); ok {
			size := byte(0)
			if l.Double {
				size = 0x11
			}
			b = append(b, esc, 'a', byte(a), esc, 'E', boolByte(l.Bold), gs, '!', size)
			b = append(b, text...)
			b = append(b, lf)
			continue
		}
		cw, ch := cellW, cellH
		if l.Double {
			cw, ch = 2*cellW, 2*cellH
		}
		b = append(b, esc, 'a', 0)
		b = appendRaster(b, renderLine(l.Text, o.Dots, cw, ch, a, l.Bold))
	}
	b = append(b, esc, 'E', 0, gs, '!', 0)
	if d.QR != "" {
		var err error
		if b, err = appendQR(b, d.QR, o); err != nil {
			return nil, err
		}
	}
	b = append(b, esc, 'a', 0, esc, 'd', byte(o.FeedLines), gs, 'V', 1)
	b = append(b, o.Eject...)
	return b, nil
}

func boolByte(v bool) byte {
	if v {
		return 1
	}
	return 0
}

// appendRaster appends GS v 0: a raster image at normal density.
func appendRaster(b []byte, bm *Bitmap) []byte {
	b = append(b, gs, 'v', '0', 0,
		byte(bm.Stride), byte(bm.Stride>>8), byte(bm.H), byte(bm.H>>8))
	return append(b, bm.Bits...)
}

// appendQR appends the QR code, centred: the model 2 commands of GS ( k
// (module size, error correction M, store, print), or a raster image of
// the same code for a printer without them.
func appendQR(b []byte, payload string, o Options) ([]byte, error) {
	if len(payload) > 700 {
		return nil, fmt.Errorf("QR payload of %d bytes: too long for a receipt (check printer.check_url)", len(payload))
	}
	b = append(b, esc, 'a', byte(alignCenter))
	if o.QR == QRNative {
		n := len(payload) + 3
		b = append(b,
			gs, '(', 'k', 4, 0, 49, 65, 50, 0, // model 2
			gs, '(', 'k', 3, 0, 49, 67, byte(min(o.QRModule, 16)), // module size
			gs, '(', 'k', 3, 0, 49, 69, 49, // error correction M
			gs, '(', 'k', byte(n), byte(n>>8), 49, 80, 48)
		b = append(b, payload...)
		b = append(b, gs, '(', 'k', 3, 0, 49, 81, 48, lf)
		return b, nil
	}
	bm, err := QRBitmap(payload, o.QRModule, o.withDefaults().Dots)
	if err != nil {
		return nil, err
	}
	b = append(b, esc, 'a', 0)
	return append(appendRaster(b, bm), lf), nil
}

// QRBitmap draws payload's QR code (error correction M) with module dots a
// side and a 4-module quiet zone, centred across width dots.
func QRBitmap(payload string, module, width int) (*Bitmap, error) {
	c, err := qr.Encode(payload, qr.M)
	if err != nil {
		return nil, fmt.Errorf("encode QR code: %w", err)
	}
	for module > 1 && (c.Size+8)*module > width {
		module--
	}
	side := (c.Size + 8) * module
	bm := NewBitmap(width, side)
	x0 := max((width-side)/2, 0) + 4*module
	y0 := 4 * module
	for y := range c.Size {
		for x := range c.Size {
			if !c.Black(x, y) {
				continue
			}
			for dy := range module {
				for dx := range module {
					bm.Set(x0+x*module+dx, y0+y*module+dy)
				}
			}
		}
	}
	return bm, nil
}

// Status request numbers of DLE EOT and the bits of their answers.
const (
	statusPrinter  = 1 // bit 3: offline
	statusOffline  = 2 // bit 2: cover open; bit 5: stopped at paper end; bit 6: error
	statusError    = 3 // bit 3: cutter error; bit 5: unrecoverable; bit 6: auto-recoverable
	statusPaper    = 4 // bits 2–3: paper near end; bits 5–6: paper end
	statusRequests = 4
)

// asbOn is GS a with online/offline, error and paper roll sensor changes.
var asbOn = []byte{gs, 'a', 0x0E}

// The fixed bits of automatic status back: a block of four bytes, the first
// 0xx1xx00 (which no DLE EOT answer, 0xx1xx10, matches), the rest 0xx0xxxx.
func asbFirst(b byte) bool { return b&0x93 == 0x10 }
func asbNext(b byte) bool  { return b&0x90 == 0 }

// asbFaults reads an automatic status back block: byte 1 bit 3 offline, bit
// 5 cover open; byte 2 bit 3 cutter error, bits 5–6 other errors; byte 3
// bits 0–1 paper near end, bits 2–3 paper end.
func asbFaults(blk [4]byte) []kiosk.PrinterFault {
	var out []kiosk.PrinterFault
	switch {
	case blk[2]&0x0C != 0:
		out = append(out, kiosk.PrinterPaperEnd)
	case blk[2]&0x03 != 0:
		out = append(out, kiosk.PrinterPaperNearEnd)
	}
	if blk[0]&0x20 != 0 {
		out = append(out, kiosk.PrinterCoverOpen)
	}
	if blk[1]&0x08 != 0 {
		out = append(out, kiosk.PrinterCutter)
	}
	if (blk[0]&0x08 != 0 || blk[1]&0x60 != 0) && (len(out) == 0 || out[0] == kiosk.PrinterPaperNearEnd && len(out) == 1) {
		out = append(out, kiosk.PrinterOffline)
	}
	return out
}

// validStatus reports whether b has the fixed bits of a DLE EOT answer.
func validStatus(b byte) bool { return b&0x93 == 0x12 }

// faultsOf reads the four DLE EOT answers.
func faultsOf(ans [statusRequests]byte) []kiosk.PrinterFault {
	var out []kiosk.PrinterFault
	add := func(f kiosk.PrinterFault) {
		for _, x := range out {
			if x == f {
				return
			}
		}
		out = append(out, f)
	}
	if ans[3]&0x60 != 0 || ans[1]&0x20 != 0 {
		add(kiosk.PrinterPaperEnd)
	} else if ans[3]&0x0C != 0 {
		add(kiosk.PrinterPaperNearEnd)
	}
	if ans[1]&0x04 != 0 {
		add(kiosk.PrinterCoverOpen)
	}
	if ans[2]&0x08 != 0 {
		add(kiosk.PrinterCutter)
	}
	if ans[0]&0x08 != 0 || ans[2]&0x60 != 0 {
		if len(out) == 0 || (len(out) == 1 && out[0] == kiosk.PrinterPaperNearEnd) {
			add(kiosk.PrinterOffline)
		}
	}
	return out
}
