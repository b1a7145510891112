package id003

import (
	"bytes"
	"errors"
	"fmt"
	"io/fs"
	"os"
	"sync/atomic"
	"time"

	"tolem/devices/acceptor"
	"tolem/devices/serialport"
)

// Wire timing. The notes give the poll period (100–200 ms) and a controller
// that waits 300 ms for an answer; the rest is ours.
const (
	// answerTimeout: a unit answers within milliseconds; 500 ms covers a
	// loaded host and a USB adapter. A damaged or missing answer costs this
	// long before the request goes again.
	answerTimeout = 500 * time.Millisecond
	// echoGrace is how long a frame identical to the request is held back,
	// while the line is not known yet, to see whether the real answer follows
	// it (a line that echoes the controller's bytes).
	echoGrace = 50 * time.Millisecond
	// nonResponse: a unit silent this long is taken for gone.
	nonResponse = 5 * time.Second
	// maxRepeat is how often a request goes again after damaged answers.
	maxRepeat = 3
	// bitsPerByte on an 8E1 line: start, 8 data, parity, stop.
	bitsPerByte = 11
)

// Errors of one exchange on the line.
var (
	errSilent = errors.New("the bill acceptor has not answered for 5 s: check its power and cable")
	errGone   = errors.New("the serial device is gone: check the USB cable of the bill acceptor")
	// errGarbled: answers kept arriving damaged (or the unit kept reporting
	// COMMUNICATION ERROR); the line is alive, so the request is abandoned
	// rather than the connection.
	errGarbled = errors.New("the bill acceptor's answers keep arriving damaged: check the cable, its shielding and the line's 8E1 setting")
	errClosed  = acceptor.ErrClosed
	// errInvalid: the unit answered INVALID COMMAND.
	errInvalid  = errors.New("INVALID COMMAND")
	errNoAnswer = errors.New("no answer")
)

type echoState int

const (
	echoUnknown echoState = iota
	echoNo
	echoYes
)

// link is one open connection to a unit: it sends a request and returns the
// one answer that fits it, sending the request again after a damaged or
// missing answer.
type link struct {
	// activity, when set, is stamped with every request sent: the driver's
	// proof of progress for a watchdog.
	activity *atomic.Int64
	port     serialport.Port
	path     string
	dec      *Decoder
	done     <-chan struct{}
	byteTime time.Duration
	// freeAt: no request before this, while our ACK, which nothing answers,
	// is still on the wire. A request that got its answer is off the wire.
	freeAt   time.Time
	lastGood time.Time // the last intact frame
	echo     echoState
	out      []byte

	// sent is called with each request as it leaves, received with each
	// answer taken; the benchmark hooks them.
	sent, received func(Frame)
}

func newLink(p serialport.Port, path string, baud int, done <-chan struct{}) *link {
	return &link{port: p, path: path, dec: NewDecoder(p), done: done,
		byteTime: bitsPerByte * time.Second / time.Duration(baud), lastGood: time.Now(), out: make([]byte, 0, 64)}
}

// fits reports whether ans can be the answer to a request with code cmd. The
// same byte means different things each way (0x11 is STATUS REQUEST and
// IDLING, 0x40 RESET and POWER UP), so a frame that does not fit is a stray:
// a late answer to an earlier request, or line noise that passed the CRC.
func fits(cmd byte, ans Frame) bool {
	c := ans.Code()
	if c == StCommError || c == StInvalidCommand {
		return true
	}
	switch {
	case cmd == CmdStatusRequest:
		return isStatus(c)
	case cmd >= CmdReset && cmd <= CmdWait:
		return c == AnsACK
	case cmd >= SetEnable && cmd <= SetBarInhibit, cmd >= ReqEnable && cmd <= ReqCurrency:
		return c == cmd
	}
	return true
}

// exchange sends a request and returns the answer that fits it. An answer
// lost or damaged is asked for again after answerTimeout; COMMUNICATION ERROR
// (the unit got our frame damaged) at once. INVALID COMMAND is errInvalid.
// resent reports that the request went out more than once, so that an
// INVALID COMMAND may mean an earlier copy was carried out.
func (l *link) exchange(data ...byte) (ans Frame, resent bool, err error) {
	frame := AppendFrame(l.out[:0], data...)
	bad := 0
	for try := 0; ; try++ {
		if l.activity != nil {
			l.activity.Store(time.Now().UnixNano())
		}
		if err := l.wait(time.Until(l.freeAt)); err != nil {
			return Frame{}, try > 0, err
		}
		// One answer per request: nothing that came before this one is its
		// answer.
		l.dec.Reset()
		if l.sent != nil {
			l.sent(Frame{Data: data})
		}
		if _, err := l.port.Write(frame); err != nil {
			return Frame{}, try > 0, l.ioError(err)
		}
		ans, err := l.read(frame)
		switch {
		case err == nil && ans.Code() == StCommError:
			bad++
		case err == nil && ans.Code() == StInvalidCommand && data[0] != CmdStatusRequest:
			return ans, try > 0, errInvalid
		case err == nil && ans.Code() == StInvalidCommand:
			bad++ // a status request cannot be invalid: it arrived damaged
		case err == nil:
			return ans, try > 0, nil
		case errors.Is(err, ErrCRC):
			bad++
		case errors.Is(err, errNoAnswer):
			if _, serr := os.Stat(l.path); errors.Is(serr, fs.ErrNotExist) {
				return Frame{}, try > 0, errGone
			}
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

// command sends an operation command, answered by ACK.
func (l *link) command(cmd byte) (resent bool, err error) {
	_, resent, err = l.exchange(cmd)
	return resent, err
}

// setting sends a setting command and checks the unit echoed it as sent.
func (l *link) setting(data ...byte) error {
	ans, _, err := l.exchange(data...)
	if err != nil {
		return err
	}
	if !bytes.Equal(ans.Data, data) {
		return fmt.Errorf("setting % X echoed as % X", data, ans.Data)
	}
	return nil
}

var ackFrame = AppendFrame(nil, CmdACK)

// ack sends our ACK (after VEND VALID). The unit does not answer it.
func (l *link) ack() error {
	if err := l.wait(time.Until(l.freeAt)); err != nil {
		return err
	}
	if l.sent != nil {
		l.sent(Frame{Data: []byte{CmdACK}})
	}
	_, err := l.port.Write(ackFrame)
	// Write returns once the tty has the bytes, before the UART sent them:
	// the next request waits for the frame's own time on the wire.
	l.freeAt = time.Now().Add(time.Duration(len(ackFrame)) * l.byteTime)
	if err != nil {
		return l.ioError(err)
	}
	return nil
}

// read waits for the answer to req: ErrCRC if only damaged frames came
// within answerTimeout, errNoAnswer if nothing did.
func (l *link) read(req []byte) (Frame, error) {
	now := time.Now()
	deadline := now.Add(answerTimeout)
	cmd := req[2]
	damaged := false
	var held *Frame // a frame identical to req, maybe our own echo
	var heldUntil time.Time
	take := func(f Frame) (Frame, error) {
		l.lastGood = time.Now()
		if l.received != nil {
			l.received(f)
		}
		return f, nil
	}
	first := true
	for {
		f, err := l.dec.Next()
		switch {
		case err == nil:
			same := bytes.Equal(f.Data, req[2:len(req)-2])
			isFirst := first
			first = false
			// Our own frame, if the line echoes, is the first to come back.
			if isFirst && same {
				switch {
				case l.echo == echoYes:
					continue
				case l.echo == echoUnknown && !fits(cmd, f):
					l.echo = echoYes // RESET coming back as POWER UP: an echo
					continue
				case l.echo == echoUnknown:
					held, heldUntil = &f, time.Now().Add(echoGrace)
					continue
				}
			}
			if isFirst && !same && l.echo == echoUnknown {
				l.echo = echoNo
			}
			if !fits(cmd, f) {
				l.lastGood = time.Now() // the unit talks, if out of turn
				continue
			}
			if held != nil {
				l.echo = echoYes // the real answer followed the echo
			}
			return take(f)
		case errors.Is(err, ErrCRC):
			damaged = true
		case errors.Is(err, os.ErrDeadlineExceeded):
			// The port's read timeout is far longer than the gap between a
			// frame's bytes: a frame still incomplete after it never comes.
			if l.dec.Buffered() > 0 {
				l.dec.SkipStalled()
				damaged = true
				continue
			}
			select {
			case <-l.done:
				return Frame{}, errClosed
			default:
			}
		default:
			return Frame{}, l.ioError(err)
		}
		now := time.Now()
		if held != nil && now.After(heldUntil) {
			return take(*held) // nothing followed: it was the answer
		}
		if now.After(deadline) {
			if damaged {
				return Frame{}, ErrCRC
			}
			return Frame{}, errNoAnswer
		}
	}
}

func (l *link) ioError(err error) error {
	if errors.Is(err, errClosed) {
		return err
	}
	return fmt.Errorf("bill acceptor on %s: %w", l.path, err)
}

// wait sleeps for d unless the driver is closing.
func (l *link) wait(d time.Duration) error { return acceptor.Wait(l.done, d) }
