package id003

import (
	"errors"
	"fmt"
	"io"
)

// Framing constants (id003.md B.1): SYNC LNG CMD DATA… CRC_LO CRC_HI, where
// LNG counts the whole frame. There is no address byte.
const (
	Sync = 0xFC

	minFrame = 5   // SYNC LNG CMD CRC CRC
	maxFrame = 255 // LNG is one byte
	// MaxData is the most data (command byte included) a frame carries.
	MaxData = maxFrame - 4
)

// Errors of the frame decoder.
var (
	// ErrCRC: bytes that looked like a frame failed the checksum. ID-003 has
	// no NAK: the controller drops it and asks again after its timeout.
	ErrCRC = errors.New("id003: frame with bad CRC")
	// ErrIncomplete: the buffer ends inside a frame (or holds no frame yet).
	ErrIncomplete = errors.New("id003: incomplete frame")
)

// CRC16 is CRC-16/KERMIT (reflected 0x1021, initial 0, no final XOR) over
// SYNC..last data byte, sent low byte first.
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
// code in a controller's frame, the status or answer code in a unit's.
type Frame struct {
	Data []byte
}

// Code is the first data byte; 0 for an empty frame.
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

func (f Frame) String() string { return fmt.Sprintf("% X", AppendFrame(nil, f.Data...)) }

// AppendFrame appends the wire form of a frame carrying data (code first) to
// dst. It panics if data is empty or longer than MaxData, which only a
// programming error can cause.
func AppendFrame(dst []byte, data ...byte) []byte {
	if len(data) == 0 || len(data) > MaxData {
		panic(fmt.Sprintf("id003: frame data of %d bytes", len(data)))
	}
	start := len(dst)
	dst = append(dst, Sync, byte(len(data)+4))
	dst = append(dst, data...)
	crc := CRC16(dst[start:])
	return append(dst, byte(crc), byte(crc>>8))
}

// Decode finds the first frame in b.
//
// It returns the frame and n, the number of bytes consumed (garbage before
// it and the frame itself). Frame.Data aliases b. Otherwise err is ErrCRC,
// with n just past the bad frame's SYNC byte so that a real frame hidden
// inside is still found on the next call, or ErrIncomplete, with n the leading
// bytes that can never start a frame.
func Decode(b []byte) (f Frame, n int, err error) {
	for i := 0; i < len(b); i++ {
		if b[i] != Sync {
			continue
		}
		if len(b)-i < 2 {
			return Frame{}, i, ErrIncomplete
		}
		lng := int(b[i+1])
		if lng < minFrame {
			continue
		}
		if len(b)-i < lng {
			return Frame{}, i, ErrIncomplete
		}
		fr := b[i : i+lng]
		if CRC16(fr[:lng-2]) != uint16(fr[lng-2])|uint16(fr[lng-1])<<8 {
			return Frame{}, i + 1, ErrCRC
		}
		return Frame{Data: fr[2 : lng-2]}, i + lng, nil
	}
	return Frame{}, len(b), ErrIncomplete
}

// Decoder reads frames from a byte stream that may deliver them in
// fragments, mixed with line noise.
type Decoder struct {
	r   io.Reader
	buf []byte
	rd  [256]byte
}

// NewDecoder returns a Decoder of frames read from r.
func NewDecoder(r io.Reader) *Decoder {
	return &Decoder{r: r, buf: make([]byte, 0, 512)}
}

// Next returns the next frame. It returns ErrCRC for a damaged frame, and any
// error of the reader (a read timeout included) once the bytes read so far
// hold no complete frame; what was read stays buffered, so Next can be called
// again after a timeout. Frame.Data is a copy, valid after the next call.
func (d *Decoder) Next() (Frame, error) {
	var rerr error
	for {
		f, n, err := Decode(d.buf)
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

// SkipStalled gives up on the frame the buffer starts with, which stopped
// arriving: a SYNC in line noise whose LNG promised more bytes than will ever
// come, or a frame cut short. Its first byte is dropped, so that a real frame
// that arrived inside it is found by the next Next.
func (d *Decoder) SkipStalled() {
	if len(d.buf) > 0 {
		d.drop(1)
	}
}

// Reset drops every buffered byte. Nothing received before a new command can
// be its answer.
func (d *Decoder) Reset() { d.buf = d.buf[:0] }
