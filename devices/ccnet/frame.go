package ccnet

import (
	"errors"
	"fmt"
	"io"
)

// Framing constants (ccnet.md A.2).
const (
	Sync = 0x02
	// AddrBillValidator is the bus address of a bill validator; its answers
	// carry the same address.
	AddrBillValidator = 0x03

	minFrame = 6   // SYNC ADR LNG CMD CRC CRC
	maxFrame = 250 // longest plain frame; LNG 0 (extended) is firmware download only
	// MaxData is the most data (command byte included) a plain frame carries.
	MaxData = maxFrame - 5
)

// Errors of the frame decoder.
var (
	// ErrCRC: a frame for our address arrived with a bad checksum. The
	// receiver answers NAK and the controller repeats its command.
	ErrCRC = errors.New("ccnet: frame with bad CRC")
	// ErrIncomplete: the buffer ends inside a frame (or holds no frame yet).
	ErrIncomplete = errors.New("ccnet: incomplete frame")
)

// CRC16 is CRC-16/KERMIT (reflected 0x1021, initial 0, no final XOR) as CCNET
// uses it over SYNC..last data byte.
func CRC16(b []byte) uint16 {
	var crc uint16
	for _, c := range b {
		crc = crc>>8 ^ crcTable[byte(crc)^c]
	}
	return crc
}

var crcTable = func() (t [256]uint16) {
	for i := range t {
		c := uint16(i)
		for range 8 {
			if c&1 != 0 {
				c = c>>1 ^ 0x8408
			} else {
				c >>= 1
			}
		}
		t[i] = c
	}
	return t
}()

// Frame is one decoded frame. Data starts at the CMD position: the command
// code in a controller's frame, the first answer byte in a peripheral's.
type Frame struct {
	Addr byte
	Data []byte
}

// Code is the first data byte (command or answer code); 0 for an empty frame.
func (f Frame) Code() byte {
	if len(f.Data) == 0 {
		return 0
	}
	return f.Data[0]
}

// Arg is data byte i after the code, or 0 when the frame is shorter.
func (f Frame) Arg(i int) byte {
	if i+1 >= len(f.Data) {
		return 0
	}
	return f.Data[i+1]
}

func (f Frame) String() string { return fmt.Sprintf("% X", AppendFrame(nil, f.Addr, f.Data...)) }

// AppendFrame appends the wire form of a frame for addr carrying data (command
// code first) to dst. It panics if data is empty or longer than MaxData, which
// only a programming error can cause.
func AppendFrame(dst []byte, addr byte, data ...byte) []byte {
	if len(data) == 0 || len(data) > MaxData {
		panic(fmt.Sprintf("ccnet: frame data of %d bytes", len(data)))
	}
	start := len(dst)
	dst = append(dst, Sync, addr, byte(len(data)+5))
	dst = append(dst, data...)
	crc := CRC16(dst[start:])
	return append(dst, byte(crc), byte(crc>>8))
}

// Decode finds the first frame for addr in b.
//
// It returns the frame and n, the number of bytes consumed (any garbage and
// frames for other addresses before it, and the frame itself). Frame.Data
// aliases b. Otherwise err is ErrCRC, with n past the bad frame's SYNC byte so
// that a real frame hidden inside is still found on the next call, or
// ErrIncomplete, with n the leading bytes that can never start a frame.
func Decode(b []byte, addr byte) (f Frame, n int, err error) {
	for i := 0; i < len(b); i++ {
		if b[i] != Sync {
			continue
		}
		if len(b)-i < 3 {
			return Frame{}, i, ErrIncomplete
		}
		lng := int(b[i+2])
		if lng < minFrame || lng > maxFrame {
			continue
		}
		if len(b)-i < lng {
			return Frame{}, i, ErrIncomplete
		}
		fr := b[i : i+lng]
		if CRC16(fr[:lng-2]) != uint16(fr[lng-2])|uint16(fr[lng-1])<<8 {
			if fr[1] == addr {
				return Frame{}, i + 1, ErrCRC
			}
			continue // garbage that happened to look like another device's frame
		}
		if fr[1] != addr {
			i += lng - 1 // a good frame for another device on the bus
			continue
		}
		return Frame{Addr: fr[1], Data: fr[3 : lng-2]}, i + lng, nil
	}
	return Frame{}, len(b), ErrIncomplete
}

// Decoder reads frames for one address from a byte stream that may deliver
// them in fragments, mixed with line noise and other devices' frames.
type Decoder struct {
	r    io.Reader
	addr byte
	buf  []byte
	rd   [256]byte
}

// NewDecoder returns a Decoder of frames for addr read from r.
func NewDecoder(r io.Reader, addr byte) *Decoder {
	return &Decoder{r: r, addr: addr, buf: make([]byte, 0, 512)}
}

// Next returns the next frame for the decoder's address. It returns ErrCRC
// for a damaged frame, and any error of the reader (a read timeout included)
// once the bytes read so far hold no complete frame; what was read stays
// buffered, so Next can be called again after a timeout. Frame.Data is valid
// until the next call.
func (d *Decoder) Next() (Frame, error) {
	var rerr error
	for {
		f, n, err := Decode(d.buf, d.addr)
		if err == nil {
			f.Data = append([]byte(nil), f.Data...)
		}
		d.drop(n)
		if err != ErrIncomplete {
			return f, err
		}
		if rerr != nil {
			return Frame{}, rerr
		}
		var k int
		k, rerr = d.r.Read(d.rd[:])
		d.buf = append(d.buf, d.rd[:k]...)
	}
}

func (d *Decoder) drop(n int) {
	d.buf = d.buf[:copy(d.buf, d.buf[n:])]
}

// Buffered reports how many bytes are held that did not make a frame yet.
func (d *Decoder) Buffered() int { return len(d.buf) }

// Reset drops every buffered byte. On a master/slave bus nothing received
// before a new command can be its answer.
func (d *Decoder) Reset() { d.buf = d.buf[:0] }
