// Package printertest is an ESC/POS receipt printer on a pseudo-terminal: the
// driver under test opens its path as it would a serial printer. It answers
// the real-time status requests (DLE EOT 1–4) from flags a test sets (paper
// out, paper near end, cover open, cutter error, silent), and decodes what it
// is sent back into receipts: text lines (CP866), raster images, the native
// QR code's payload, cuts.
package printertest

import (
	"bufio"
	"errors"
	"fmt"
	"io"
	"os"
	"sync"
	"time"

	"tolem/devices/printer"
	"tolem/devices/serialport/pty"
)

// Line is one printed line: text, or a raster image.
type Line struct {
	// Text is the line's text; for a raster line, read back from the
	// image (see ReadRaster).
	Text   string
	Raster *printer.Bitmap
	Align  int
	Bold   bool
	Double bool
}

// Receipt is what was printed between two cuts.
type Receipt struct {
	Lines []Line
	// QR is the payload of the native QR code printed, "" for none.
	QR string
	// Cut: the receipt ended with a cut (false for the one in progress).
	Cut bool
	// Lost counts bytes of print data that came while the printer could
	// not print (no paper, cover open): they are not on the paper.
	Lost int
}

// Text returns the lines' text, raster lines read back.
func (r Receipt) Text() []string {
	out := make([]string, len(r.Lines))
	for i, l := range r.Lines {
		out[i] = l.Text
	}
	return out
}

// Emulator is the printer.
type Emulator struct {
	master, slave *os.File

	mu       sync.Mutex
	cond     *sync.Cond
	paperOut bool
	nearEnd  bool
	cover    bool
	cutter   bool
	silent   bool
	noQR     bool
	// linesLeft, when positive, is how many more lines the roll holds.
	linesLeft int
	asb       bool       // automatic status back turned on (GS a n, n ≠ 0)
	wmu       sync.Mutex // one writer to the pty at a time
	done      []Receipt
	cur       Receipt
	reqs      int
	closed    bool
	wg        sync.WaitGroup
}

// Start opens a pty and serves it until Close.
func Start() (*Emulator, error) {
	m, s, err := pty.Open()
	if err != nil {
		return nil, err
	}
	e := &Emulator{master: m, slave: s}
	e.cond = sync.NewCond(&e.mu)
	e.wg.Add(1)
	go e.serve()
	return e, nil
}

// Path is the serial port the driver opens.
func (e *Emulator) Path() string { return e.slave.Name() }

// Close stops the emulator.
func (e *Emulator) Close() error {
	e.mu.Lock()
	e.closed = true
	e.cond.Broadcast()
	e.mu.Unlock()
	e.master.Close()
	e.wg.Wait()
	return e.slave.Close()
}

func (e *Emulator) set(f *bool, v bool) {
	e.mu.Lock()
	changed := *f != v
	*f = v
	asb := e.asb && changed
	blk := e.asbBlock()
	e.mu.Unlock()
	if asb {
		e.write(blk[:])
	}
}

func (e *Emulator) write(b []byte) {
	e.wmu.Lock()
	e.master.Write(b)
	e.wmu.Unlock()
}

// asbBlock is the automatic status back block of the flags, as an
// Epson-compatible printer sends it.
func (e *Emulator) asbBlock() [4]byte {
	blk := [4]byte{0x10, 0, 0, 0}
	if e.paperOut || e.cover || e.cutter {
		blk[0] |= 0x08
	}
	if e.cover {
		blk[0] |= 0x20
	}
	if e.cutter {
		blk[1] |= 0x08
	}
	if e.nearEnd || e.paperOut {
		blk[2] |= 0x03
	}
	if e.paperOut {
		blk[2] |= 0x0C
	}
	return blk
}

// ASB reports whether the driver turned automatic status back on.
func (e *Emulator) ASB() bool {
	e.mu.Lock()
	defer e.mu.Unlock()
	return e.asb
}

// SetPaperOut runs the paper out (or loads a roll).
func (e *Emulator) SetPaperOut(v bool) { e.set(&e.paperOut, v) }

// SetNearEnd makes the paper roll sensor report a near end.
func (e *Emulator) SetNearEnd(v bool) { e.set(&e.nearEnd, v) }

// SetCoverOpen opens or closes the cover.
func (e *Emulator) SetCoverOpen(v bool) { e.set(&e.cover, v) }

// SetCutterError jams the cutter.
func (e *Emulator) SetCutterError(v bool) { e.set(&e.cutter, v) }

// SetSilent makes the printer stop answering status requests, as one
// switched off.
func (e *Emulator) SetSilent(v bool) { e.set(&e.silent, v) }

// SetPaperLines loads a roll that runs out after n more lines (0: a roll
// that does not run out).
func (e *Emulator) SetPaperLines(n int) {
	e.mu.Lock()
	e.linesLeft = n
	e.mu.Unlock()
}

// SetNoQR makes the printer one without GS ( k: it ignores the command.
func (e *Emulator) SetNoQR(v bool) { e.set(&e.noQR, v) }

// StatusRequests counts the DLE EOT requests answered.
func (e *Emulator) StatusRequests() int {
	e.mu.Lock()
	defer e.mu.Unlock()
	return e.reqs
}

// Receipts returns the receipts cut so far.
func (e *Emulator) Receipts() []Receipt {
	e.mu.Lock()
	defer e.mu.Unlock()
	return append([]Receipt(nil), e.done...)
}

// WaitReceipts waits until n receipts are cut, or timeout.
func (e *Emulator) WaitReceipts(n int, timeout time.Duration) ([]Receipt, error) {
	deadline := time.Now().Add(timeout)
	t := time.AfterFunc(timeout, func() {
		e.mu.Lock()
		e.cond.Broadcast()
		e.mu.Unlock()
	})
	defer t.Stop()
	e.mu.Lock()
	defer e.mu.Unlock()
	for len(e.done) < n && !e.closed && time.Now().Before(deadline) {
		e.cond.Wait()
	}
	out := append([]Receipt(nil), e.done...)
	if len(out) < n {
		return out, fmt.Errorf("printer emulator: %d receipts cut, want %d", len(out), n)
	}
	return out, nil
}

// Current is the receipt being printed (not cut yet).
func (e *Emulator) Current() Receipt {
	e.mu.Lock()
	defer e.mu.Unlock()
	return e.cur
}

// statusByte answers DLE EOT n the way an Epson-compatible printer does.
func (e *Emulator) statusByte(n byte) byte {
	b := byte(0x12)
	switch n {
	case 1:
		if e.paperOut || e.cover || e.cutter {
			b |= 0x08
		}
	case 2:
		if e.cover {
			b |= 0x04
		}
		if e.paperOut {
			b |= 0x20
		}
		if e.cutter {
			b |= 0x40
		}
	case 3:
		if e.cutter {
			b |= 0x08
		}
	case 4:
		if e.nearEnd || e.paperOut {
			b |= 0x0C
		}
		if e.paperOut {
			b |= 0x60
		}
	}
	return b
}

var errShort = errors.New("command cut short")

// serve decodes the byte stream.
func (e *Emulator) serve() {
	defer e.wg.Done()
	r := bufio.NewReader(e.master)
	var (
		text   []byte
		align  int
		bold   bool
		double bool
	)
	next := func() byte {
		b, err := r.ReadByte()
		if err != nil {
			panic(errShort)
		}
		return b
	}
	n := func(k int) []byte {
		buf := make([]byte, k)
		if _, err := io.ReadFull(r, buf); err != nil {
			panic(errShort)
		}
		return buf
	}
	printing := func() bool { return !e.paperOut && !e.cover && !e.cutter }
	addLine := func(l Line) {
		e.mu.Lock()
		if printing() {
			e.cur.Lines = append(e.cur.Lines, l)
			if e.linesLeft > 0 {
				e.linesLeft--
				if e.linesLeft == 0 {
					e.paperOut = true
				}
			}
		} else {
			e.cur.Lost++
		}
		e.mu.Unlock()
	}
	defer func() {
		if v := recover(); v != nil && v != errShort {
			panic(v)
		}
	}()
	for {
		b := next()
		switch b {
		case 0x10: // DLE
			if c := next(); c == 0x04 {
				req := next()
				e.mu.Lock()
				silent := e.silent
				ans := e.statusByte(req)
				if !silent {
					e.reqs++
				}
				e.mu.Unlock()
				if !silent {
					e.write([]byte{ans})
				}
			}
		case 0x0A:
			addLine(Line{Text: printer.DecodeCP866(text), Align: align, Bold: bold, Double: double})
			text = nil
		case 0x1B: // ESC
			switch c := next(); c {
			case '@':
				align, bold, double = 0, false, false
			case 'a':
				align = int(next())
			case 'E':
				bold = next()&1 == 1
			case 't', '!', '-', '3', 'M', 'R':
				next()
			case 'd':
				next()
			}
		case 0x1D: // GS
			switch c := next(); c {
			case '!':
				double = next() != 0
			case 'V':
				if m := next(); m == 65 || m == 66 {
					next()
				}
				e.mu.Lock()
				if printing() {
					e.cur.Cut = true
					e.done = append(e.done, e.cur)
					e.cur = Receipt{}
					e.cond.Broadcast()
				}
				e.mu.Unlock()
			case 'v':
				hdr := n(6) // '0' m xL xH yL yH
				w := int(hdr[2]) | int(hdr[3])<<8
				h := int(hdr[4]) | int(hdr[5])<<8
				bm := printer.NewBitmap(w*8, h)
				copy(bm.Bits, n(w*h))
				addLine(Line{Raster: bm, Align: align, Text: ReadRaster(bm)})
			case '(':
				if k := next(); k == 'k' {
					ln := n(2)
					body := n(int(ln[0]) | int(ln[1])<<8)
					e.mu.Lock()
					if len(body) >= 3 && body[1] == 80 && !e.noQR && printing() {
						e.cur.QR = string(body[3:])
					}
					e.mu.Unlock()
				}
			case 'a':
				n := next()
				e.mu.Lock()
				e.asb = n != 0
				blk := e.asbBlock()
				e.mu.Unlock()
				if n != 0 {
					// Turning it on sends the status at once.
					e.write(blk[:])
				}
			}
		default:
			if b >= 0x20 {
				text = append(text, b)
			}
		}
	}
}
