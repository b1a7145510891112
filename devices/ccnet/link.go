package ccnet

import (
	"errors"
	"fmt"
	"io/fs"
	"os"
	"sync/atomic"
	"time"

	"tolem/devices/acceptor"
	"tolem/devices/serialport"
)

// Wire timing (ccnet.md A.5).
const (
	// tFree is the bus silence after the controller's ACK or NAK: 10 ms
	// defined, 20 ms recommended.
	tFree = 20 * time.Millisecond
	// answerTimeout: a validator answers within 10 ms; a second covers a
	// loaded host and a USB adapter's latency.
	answerTimeout = time.Second
	// nonResponse is the longest a validator may stay silent (t-non-response);
	// past it the line is taken for dead.
	nonResponse = 5 * time.Second
	// maxRepeat is how often a command is sent again after damaged answers.
	maxRepeat = 3
)

// Errors of one exchange on the line.
var (
	errSilent = errors.New("the bill validator has not answered for 5 s: check its power and cable")
	errGone   = errors.New("the serial device is gone: check the USB cable of the bill validator")
	// errGarbled: answers kept arriving damaged; the line is alive, so the
	// command is abandoned rather than the connection.
	errGarbled = errors.New("the bill validator's answers keep arriving damaged: check the cable and its shielding")
	errClosed  = acceptor.ErrClosed
	// errTruncated: an answer stopped in the middle.
	errTruncated = errors.New("answer cut short")
)

// link is one open connection to a validator: it sends commands and returns
// their answers, acknowledging, retrying and keeping the bus timing.
type link struct {
	// activity, when set, is stamped with every command sent: the driver's
	// proof of progress for a watchdog.
	activity *atomic.Int64
	port     serialport.Port
	path     string
	dec      *Decoder
	done     <-chan struct{}
	byteTime time.Duration // one byte on the wire: 10 bits at the line's baud
	freeAt   time.Time     // no command before this (t-free after our ACK/NAK)
	lastGood time.Time     // the last frame that arrived intact
	out      []byte

	// sent is called with each command frame as it leaves, received with
	// each intact answer as it arrives; the benchmark hooks them.
	sent, received func(Frame)
}

func newLink(p serialport.Port, path string, baud int, done <-chan struct{}) *link {
	return &link{port: p, path: path, dec: NewDecoder(p, AddrBillValidator), done: done,
		byteTime: 10 * time.Second / time.Duration(baud), lastGood: time.Now(), out: make([]byte, 0, 64)}
}

// isACK and isNAK tell control frames from data answers whose first byte
// happens to be 0x00 or 0xFF (a GET STATUS bitmap): control frames carry one
// byte.
func isACK(f Frame) bool     { return len(f.Data) == 1 && f.Data[0] == AnsACK }
func isNAK(f Frame) bool     { return len(f.Data) == 1 && f.Data[0] == AnsNAK }
func isIllegal(f Frame) bool { return len(f.Data) == 1 && f.Data[0] == AnsIllegal }

// exchange sends a command and returns the validator's answer: ACK, ILLEGAL
// COMMAND or a data answer, which it has acknowledged. resent reports that the
// command went out more than once, so that an ILLEGAL answer may mean an
// earlier copy was carried out.
func (l *link) exchange(data ...byte) (ans Frame, resent bool, err error) {
	frame := AppendFrame(l.out[:0], AddrBillValidator, data...)
	bad := 0
	for try := 0; ; try++ {
		if l.activity != nil {
			l.activity.Store(time.Now().UnixNano())
		}
		if err := l.wait(time.Until(l.freeAt)); err != nil {
			return Frame{}, try > 0, err
		}
		// Master/slave: nothing that came before this command is its answer.
		l.dec.Reset()
		if l.sent != nil {
			l.sent(Frame{Addr: AddrBillValidator, Data: data})
		}
		if _, err := l.port.Write(frame); err != nil {
			return Frame{}, try > 0, l.ioError(err)
		}
		ans, err := l.read()
		switch {
		case err == nil && isNAK(ans):
			bad++ // our command arrived damaged: send it again
			l.freeAt = time.Now().Add(tFree)
		case err == nil:
			if isACK(ans) {
				// t-free follows any ACK or NAK, the unit's included.
				l.freeAt = time.Now().Add(tFree)
			} else if err := l.control(AnsACK); err != nil {
				return Frame{}, try > 0, err
			}
			return ans, try > 0, nil
		case errors.Is(err, ErrCRC), errors.Is(err, errTruncated):
			bad++
			if err := l.control(AnsNAK); err != nil {
				return Frame{}, try > 0, err
			}
		case errors.Is(err, os.ErrDeadlineExceeded):
			if _, serr := os.Stat(l.path); errors.Is(serr, fs.ErrNotExist) {
				return Frame{}, try > 0, errGone
			}
			l.port.Flush()
		default:
			return Frame{}, try > 0, err
		}
		if time.Since(l.lastGood) > nonResponse {
			return Frame{}, true, errSilent
		}
		if bad > maxRepeat {
			return Frame{}, true, errGarbled
		}
	}
}

// command sends a command that is answered by ACK alone.
func (l *link) command(data ...byte) (resent bool, err error) {
	ans, resent, err := l.exchange(data...)
	switch {
	case err != nil:
		return resent, err
	case isIllegal(ans):
		return resent, errIllegal
	case !isACK(ans):
		return resent, fmt.Errorf("command %02X answered % X instead of ACK", data[0], ans.Data)
	}
	return resent, nil
}

var (
	errIllegal = errors.New("ILLEGAL COMMAND")
	ackFrame   = AppendFrame(nil, AddrBillValidator, AnsACK)
	nakFrame   = AppendFrame(nil, AddrBillValidator, AnsNAK)
)

// control sends our ACK or NAK; the validator never answers it, and the bus
// must then stay quiet for t-free.
func (l *link) control(code byte) error {
	f := ackFrame
	if code == AnsNAK {
		f = nakFrame
	}
	_, err := l.port.Write(f)
	// Write returns once the tty has the bytes, before the UART sent them:
	// the silence starts after the frame's own time on the wire.
	l.freeAt = time.Now().Add(time.Duration(len(f))*l.byteTime + tFree)
	if err != nil {
		return l.ioError(err)
	}
	return nil
}

// read waits for one answer frame.
func (l *link) read() (Frame, error) {
	deadline := time.Now().Add(answerTimeout)
	for {
		f, err := l.dec.Next()
		switch {
		case err == nil:
			l.lastGood = time.Now()
			if l.received != nil {
				l.received(f)
			}
			return f, nil
		case errors.Is(err, ErrCRC):
			return Frame{}, err
		case errors.Is(err, os.ErrDeadlineExceeded):
			// The port's read timeout is far longer than t-inter-byte: a
			// frame still incomplete after it has lost bytes.
			if l.dec.Buffered() > 0 {
				l.dec.Reset()
				return Frame{}, errTruncated
			}
			select {
			case <-l.done:
				return Frame{}, errClosed
			default:
			}
			if time.Now().After(deadline) {
				return Frame{}, err
			}
		default:
			return Frame{}, l.ioError(err)
		}
	}
}

func (l *link) ioError(err error) error {
	if errors.Is(err, errClosed) {
		return err
	}
	return fmt.Errorf("bill validator on %s: %w", l.path, err)
}

// wait sleeps for d unless the driver is closing.
func (l *link) wait(d time.Duration) error { return acceptor.Wait(l.done, d) }
