package serialport

import (
	"errors"
	"fmt"
	"io"
	"os"
	"time"
)

// Port is an open serial line.
type Port interface {
	io.ReadWriteCloser
	// Flush discards input that arrived but was not read yet: answers meant for
	// a controller that died before reading them.
	Flush() error
}

// Errors a Port's Read returns besides the operating system's own.
var (
	// ErrTimeout: no byte arrived within the read timeout. It matches
	// os.ErrDeadlineExceeded under errors.Is.
	ErrTimeout = fmt.Errorf("serial read timed out: %w", os.ErrDeadlineExceeded)
	// ErrHangup: the line is gone (adapter unplugged, pty closed). The port
	// must be closed and opened again.
	ErrHangup = errors.New("serial line hung up: check the cable or USB adapter")
)

// DefaultReadTimeout is the read timeout Open uses when given zero. It is the
// termios VTIME unit, the shortest timeout a tty can do.
const DefaultReadTimeout = 100 * time.Millisecond

// hangupReads is how many empty reads in a row, each far quicker than the read
// timeout, mean a hung-up line. One could be a signal; several cannot.
const hangupReads = 3

// Parity is the line's parity bit setting.
type Parity byte

// Parity settings. CCNET units speak 8N1, JCM ID-003 units 8E1.
const (
	ParityNone Parity = 'N'
	ParityEven Parity = 'E'
)

// Open opens the serial device at path at baud, 8 data bits, no parity, one
// stop bit, raw mode. A Read waits at most readTimeout (rounded up to 100 ms
// steps by the tty) for the first byte.
func Open(path string, baud int, readTimeout time.Duration) (Port, error) {
	return OpenParity(path, baud, ParityNone, readTimeout)
}

// OpenParity is Open with the given parity: 8 data bits, parity, one stop
// bit. Received parity is not checked by the tty (the drivers' CRC catches a
// damaged byte), so the setting matters for what the device receives.
func OpenParity(path string, baud int, parity Parity, readTimeout time.Duration) (Port, error) {
	if readTimeout <= 0 {
		readTimeout = DefaultReadTimeout
	}
	if parity != ParityNone && parity != ParityEven {
		return nil, fmt.Errorf("open serial port %s: parity %q not supported: use N or E", path, byte(parity))
	}
	raw, err := openRaw(path, baud, parity, readTimeout)
	if err != nil {
		return nil, fmt.Errorf("open serial port %s at %d baud 8%c1: %w", path, baud, parity, err)
	}
	return &port{raw: raw, path: path, timeout: readTimeout}, nil
}

// rawPort is what the serial library gives: a tty whose empty read means
// either a timeout or a hang-up.
type rawPort interface {
	io.ReadWriteCloser
	flush() error
}

type port struct {
	raw     rawPort
	path    string
	timeout time.Duration
	fast    int // empty reads in a row that returned well before the timeout
}

func (p *port) Read(b []byte) (int, error) {
	if len(b) == 0 {
		return 0, nil
	}
	start := time.Now()
	n, err := p.raw.Read(b)
	if n > 0 {
		p.fast = 0
		if errors.Is(err, io.EOF) {
			err = nil
		}
		return n, err
	}
	if err != nil && !errors.Is(err, io.EOF) {
		return 0, fmt.Errorf("read %s: %w", p.path, err)
	}
	// termios VMIN=0/VTIME>0: an empty read is a timeout, unless it came back
	// at once, which a hung-up tty does.
	if time.Since(start) < p.timeout/4 {
		p.fast++
		if p.fast >= hangupReads {
			return 0, fmt.Errorf("read %s: %w", p.path, ErrHangup)
		}
		// Let a real timeout happen before deciding: sleeping here keeps a
		// hung-up line from spinning the caller's loop.
		time.Sleep(p.timeout / 4)
		return 0, ErrTimeout
	}
	p.fast = 0
	return 0, ErrTimeout
}

func (p *port) Write(b []byte) (int, error) {
	n, err := p.raw.Write(b)
	if err != nil {
		return n, fmt.Errorf("write %s: %w", p.path, err)
	}
	return n, nil
}

func (p *port) Flush() error {
	if err := p.raw.flush(); err != nil {
		return fmt.Errorf("flush %s: %w", p.path, err)
	}
	return nil
}

func (p *port) Close() error { return p.raw.Close() }
