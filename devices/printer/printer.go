package printer

import (
	"context"
	"errors"
	"fmt"
	"io"
	"os"
	"strings"
	"sync"
	"syscall"
	"time"

	"tolem/devices/serialport"
	"tolem/kiosk"
)

// Config is where the printer is and how it speaks.
type Config struct {
	// Port is a serial device (/dev/ttyS0, /dev/ttyUSB0, a pty) or a USB
	// printer device (/dev/usb/lp0).
	Port string
	// Baud is the serial speed; ignored for a USB printer device.
	Baud int
	Options
	// AnswerTimeout is how long the printer has to answer a status request
	// before it counts as not answering (500 ms).
	AnswerTimeout time.Duration
}

// Printer is an ESC/POS printer; it opens the port on first use and again
// after a failure, so an unplugged printer comes back by itself. Its methods
// are safe from any goroutine, one at a time.
type Printer struct {
	cfg Config

	mu   sync.Mutex
	conn *conn

	// changed is signalled when an automatic status back block arrives.
	changed chan struct{}
	asbMu   sync.Mutex
	asb     []kiosk.PrinterFault
	asbSeen bool
}

// New makes a Printer; nothing is opened until the first request.
func New(cfg Config) *Printer {
	cfg.Options = cfg.Options.withDefaults()
	if cfg.AnswerTimeout <= 0 {
		cfg.AnswerTimeout = 500 * time.Millisecond
	}
	if cfg.Baud <= 0 {
		cfg.Baud = 115200
	}
	return &Printer{cfg: cfg, changed: make(chan struct{}, 1)}
}

// Changed is signalled when the printer reports a change by itself
// (automatic status back, Options.ASB); ask Status then.
func (p *Printer) Changed() <-chan struct{} { return p.changed }

// LastASB is the faults of the last automatic status back block, and
// whether one came since the port was opened.
func (p *Printer) LastASB() ([]kiosk.PrinterFault, bool) {
	p.asbMu.Lock()
	defer p.asbMu.Unlock()
	return append([]kiosk.PrinterFault(nil), p.asb...), p.asbSeen
}

func (p *Printer) onASB(blk [4]byte) {
	p.asbMu.Lock()
	p.asb, p.asbSeen = asbFaults(blk), true
	p.asbMu.Unlock()
	select {
	case p.changed <- struct{}{}:
	default:
	}
}

var _ kiosk.Printer = (*Printer)(nil)

// conn is an open port with a goroutine reading it, so that a status request
// can wait for its answer with a deadline whatever the device.
type conn struct {
	rw    io.ReadWriteCloser
	in    chan byte
	dead  chan struct{}
	err   error
	onASB func([4]byte)
}

func (p *Printer) open() (*conn, error) {
	if p.conn != nil {
		select {
		case <-p.conn.dead:
			p.conn.rw.Close()
			p.conn = nil
		default:
			return p.conn, nil
		}
	}
	var rw io.ReadWriteCloser
	var err error
	if strings.HasPrefix(p.cfg.Port, "/dev/usb/") {
		// Non-blocking, so that the runtime polls it (usblp supports
		// poll): Close then ends the reader's Read, and the device, which
		// takes one open at a time, can be opened again.
		rw, err = os.OpenFile(p.cfg.Port, os.O_RDWR|syscall.O_NONBLOCK, 0)
	} else {
		rw, err = serialport.Open(p.cfg.Port, p.cfg.Baud, 0)
	}
	if err != nil {
		return nil, fmt.Errorf("%w: open %s: %w; check the cable and printer.port", kiosk.ErrPrinter, p.cfg.Port, err)
	}
	c := &conn{rw: rw, in: make(chan byte, 256), dead: make(chan struct{}), onASB: p.onASB}
	go c.read()
	p.conn = c
	if p.cfg.ASB {
		if _, err := rw.Write(asbOn); err != nil {
			p.drop()
			return nil, fmt.Errorf("%w: turn on automatic status: %w", kiosk.ErrPrinter, err)
		}
	}
	return c, nil
}

func (c *conn) read() {
	defer close(c.dead)
	buf := make([]byte, 64)
	var blk [4]byte
	k := 0 // bytes of an automatic status back block so far
	for {
		n, err := c.rw.Read(buf)
		for _, b := range buf[:n] {
			switch {
			case k > 0 && asbNext(b):
				blk[k] = b
				if k++; k == len(blk) {
					c.onASB(blk)
					k = 0
				}
				continue
			case asbFirst(b):
				blk[0], k = b, 1
				continue
			}
			k = 0
			select {
			case c.in <- b:
			default: // nobody asked for it: an answer too late to matter
			}
		}
		if err != nil {
			if errors.Is(err, serialport.ErrTimeout) {
				continue
			}
			c.err = err
			return
		}
	}
}

// drop forgets the connection after a failure; the next request reopens it.
func (p *Printer) drop() {
	if p.conn != nil {
		p.conn.rw.Close()
		p.conn = nil
	}
}

// Close closes the port.
func (p *Printer) Close() error {
	p.mu.Lock()
	defer p.mu.Unlock()
	p.drop()
	return nil
}

// Status asks the printer for its status (DLE EOT 1 to 4). A printer that
// does not answer is reported with kiosk.PrinterNoAnswer and an error.
func (p *Printer) Status(ctx context.Context) (kiosk.PrinterStatus, error) {
	p.mu.Lock()
	defer p.mu.Unlock()
	return p.status(ctx)
}

func (p *Printer) status(ctx context.Context) (kiosk.PrinterStatus, error) {
	noAnswer := kiosk.PrinterStatus{Faults: []kiosk.PrinterFault{kiosk.PrinterNoAnswer}}
	c, err := p.open()
	if err != nil {
		return noAnswer, err
	}
	var ans [statusRequests]byte
	for i := range ans {
		// Drop what came before: a late answer to an earlier request.
		for len(c.in) > 0 {
			<-c.in
		}
		if _, err := c.rw.Write([]byte{dle, eot, byte(i + 1)}); err != nil {
			p.drop()
			return noAnswer, fmt.Errorf("%w: status request: %w", kiosk.ErrPrinter, err)
		}
		b, err := p.answer(ctx, c)
		if err != nil {
			return noAnswer, err
		}
		ans[i] = b
	}
	return kiosk.PrinterStatus{Faults: faultsOf(ans)}, nil
}

func (p *Printer) answer(ctx context.Context, c *conn) (byte, error) {
	t := time.NewTimer(p.cfg.AnswerTimeout)
	defer t.Stop()
	for {
		select {
		case b := <-c.in:
			if validStatus(b) {
				return b, nil
			}
		case <-c.dead:
			p.drop()
			return 0, fmt.Errorf("%w: %s closed: %v", kiosk.ErrPrinter, p.cfg.Port, c.err)
		case <-t.C:
			return 0, fmt.Errorf("%w: no answer from %s within %s; is it on and plugged in?", kiosk.ErrPrinter, p.cfg.Port, p.cfg.AnswerTimeout)
		case <-ctx.Done():
			return 0, fmt.Errorf("%w: status: %w", kiosk.ErrPrinter, ctx.Err())
		}
	}
}

// Print sends the receipt when the printer can print, then asks its status
// again: paper that ran out or a cover opened on the way makes it an error.
func (p *Printer) Print(ctx context.Context, d kiosk.ReceiptDoc) error {
	data, err := Encode(d, p.cfg.Options)
	if err != nil {
		return fmt.Errorf("%w: receipt %d: %w", kiosk.ErrPrinter, d.ReceiptNo, err)
	}
	p.mu.Lock()
	defer p.mu.Unlock()
	st, err := p.status(ctx)
	if err != nil {
		return err
	}
	if !st.CanPrint() {
		return fmt.Errorf("%w: cannot print receipt %d: %v", kiosk.ErrPrinter, d.ReceiptNo, st.Faults)
	}
	c, err := p.open()
	if err != nil {
		return err
	}
	const chunk = 1024
	for off := 0; off < len(data); off += chunk {
		if err := ctx.Err(); err != nil {
			return fmt.Errorf("%w: receipt %d cut short: %w", kiosk.ErrPrinter, d.ReceiptNo, err)
		}
		if _, err := c.rw.Write(data[off:min(off+chunk, len(data))]); err != nil {
			p.drop()
			return fmt.Errorf("%w: receipt %d: %w", kiosk.ErrPrinter, d.ReceiptNo, err)
		}
	}
	st, err = p.status(ctx)
	if err != nil {
		return fmt.Errorf("receipt %d sent, then: %w", d.ReceiptNo, err)
	}
	if !st.CanPrint() {
		return fmt.Errorf("%w: receipt %d interrupted: %v", kiosk.ErrPrinter, d.ReceiptNo, st.Faults)
	}
	return nil
}
