package ccnet_test

import (
	"bytes"
	"encoding/hex"
	"errors"
	"io"
	"strings"
	"testing"
	"testing/iotest"

	"tolem/devices/ccnet"
	"tolem/kiosk"
)

func unhex(t testing.TB, s string) []byte {
	t.Helper()
	b, err := hex.DecodeString(strings.ReplaceAll(s, " ", ""))
	if err != nil {
		t.Fatal(err)
	}
	return b
}

func TestCRCCheckValue(t *testing.T) {
	if got := ccnet.CRC16([]byte("123456789")); got != 0x2189 {
		t.Fatalf("CRC16(123456789) = %04X, want 2189 (CRC-16/KERMIT)", got)
	}
}

// Every frame of ccnet.md, encoded from its data and decoded from its bytes.
func TestFramesOfTheNotes(t *testing.T) {
	tests := []struct {
		name  string
		data  string // CMD and data
		frame string
	}{
		{"POLL", "33", "02 03 06 33 DA 81"},
		{"RESET", "30", "02 03 06 30 41 B3"},
		{"ACK", "00", "02 03 06 00 C2 82"},
		{"NAK", "FF", "02 03 06 FF BA 8D"},
		{"GET STATUS", "31", "02 03 06 31 C8 A2"},
		{"STACK", "35", "02 03 06 35 EC E4"},
		{"RETURN", "36", "02 03 06 36 77 D6"},
		{"HOLD", "38", "02 03 06 38 09 3F"},
		{"IDENTIFICATION", "37", "02 03 06 37 FE C7"},
		{"GET BILL TABLE", "41", "02 03 06 41 4F D1"},
		{"ENABLE all with escrow", "34 FF FF FF FF FF FF", "02 03 0C 34 FF FF FF FF FF FF FE F7"},
		{"ENABLE all no escrow", "34 FF FF FF 00 00 00", "02 03 0C 34 FF FF FF 00 00 00 B5 C1"},
		{"DISABLE", "34 00 00 00 00 00 00", "02 03 0C 34 00 00 00 00 00 00 17 0C"},
		{"SET SECURITY 00 00 00", "32 00 00 00", "02 03 09 32 00 00 00 26 1F"},
		{"answer UNIT DISABLED", "19", "02 03 06 19 82 0F"},
		{"answer IDLING", "14", "02 03 06 14 67 D4"},
		{"answer ACCEPTING", "15", "02 03 06 15 EE C5"},
		{"answer ESCROW type 7", "80 07", "02 03 07 80 07 33 47"},
		{"answer STACKED type 7", "81 07", "02 03 07 81 07 EB 5E"},
		{"answer ILLEGAL COMMAND", "30", "02 03 06 30 41 B3"},
		{"answer GET STATUS types 0-6", "00 00 7F 00 00 00", "02 03 0B 00 00 7F 00 00 00 14 8F"},
		// The Arduino sketch's "50 UAH" frames carry type 2's CRC.
		{"answer ESCROW type 2", "80 02", "02 03 07 80 02 9E 10"},
		{"answer STACKED type 2", "81 02", "02 03 07 81 02 46 09"},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			data, want := unhex(t, tt.data), unhex(t, tt.frame)
			if got := ccnet.AppendFrame(nil, ccnet.AddrBillValidator, data...); !bytes.Equal(got, want) {
				t.Errorf("AppendFrame = % X, want % X", got, want)
			}
			f, n, err := ccnet.Decode(want, ccnet.AddrBillValidator)
			if err != nil || n != len(want) || !bytes.Equal(f.Data, data) {
				t.Errorf("Decode = % X, %d, %v; want % X", f.Data, n, err, data)
			}
		})
	}
}

// Hand-edited frames must be refused, not taken for type 3.
func TestHandEditedFramesFailCRC(t *testing.T) {
	for _, s := range []string{"02 03 07 80 03 9E 10", "02 03 07 81 03 46 09"} {
		if _, _, err := ccnet.Decode(unhex(t, s), ccnet.AddrBillValidator); !errors.Is(err, ccnet.ErrCRC) {
			t.Errorf("Decode(%s) err = %v, want ErrCRC", s, err)
		}
	}
}

func TestRealBillTableCapture(t *testing.T) {
	var table [ccnet.NumTypes]ccnet.BillType
	for i, e := range []struct {
		d   byte
		exp int8
	}{{5, 0}, {1, 1}, {2, 1}, {5, 1}, {1, 2}, {2, 2}, {5, 2}, {1, 3}} {
		table[i] = ccnet.BillType{Digit: e.d, Country: "UKR", Exp: e.exp}
	}
	data := append([]byte{}, ccnet.AppendBillTable(nil, table)...)
	frame := ccnet.AppendFrame(nil, ccnet.AddrBillValidator, data...)
	if len(frame) != 125 || frame[2] != 0x7D {
		t.Fatalf("bill table frame of %d bytes, LNG %02X; want 125, 7D", len(frame), frame[2])
	}
	if crc := frame[len(frame)-2:]; !bytes.Equal(crc, []byte{0xF9, 0xE7}) {
		t.Errorf("bill table CRC % X, want F9 E7", crc)
	}
	got, err := ccnet.ParseBillTable(data)
	if err != nil {
		t.Fatal(err)
	}
	if got != table {
		t.Errorf("ParseBillTable = %v, want %v", got, table)
	}
	want := []int64{500, 1000, 2000, 5000, 10000, 20000, 50000, 100000}
	for i, w := range want {
		if v, ok := got[i].Minor(); !ok || v != w {
			t.Errorf("type %d = %d kopecks, want %d", i, v, w)
		}
	}
	if !got[8].Empty() {
		t.Errorf("type 8 = %v, want empty", got[8])
	}
}

func TestKZTBillValues(t *testing.T) {
	tests := []struct {
		b    ccnet.BillType
		want kiosk.Money
		ok   bool
	}{
		{ccnet.BillType{Digit: 2, Country: "KZT", Exp: 2}, kiosk.Tenge(200), true},
		{ccnet.BillType{Digit: 2, Country: "KZT", Exp: 4}, kiosk.Tenge(20000), true},
		{ccnet.BillType{Digit: 5, Country: "KZT", Exp: -1}, 50, true},  // 0.5 ₸
		{ccnet.BillType{Digit: 5, Country: "KZT", Exp: -3}, 0, false},  // a fraction of a tiyn
		{ccnet.BillType{Digit: 1, Country: "KZT", Exp: 100}, 0, false}, // no such note
		{ccnet.BillType{}, 0, false},
	}
	for _, tt := range tests {
		v, ok := tt.b.Minor()
		if ok != tt.ok || kiosk.Money(v) != tt.want {
			t.Errorf("%v.Minor() = %d, %v; want %d, %v", tt.b, v, ok, tt.want, tt.ok)
		}
	}
	// A negative exponent has bit 7 set on the wire.
	wire := ccnet.AppendBillTable(nil, [ccnet.NumTypes]ccnet.BillType{{Digit: 5, Country: "KZT", Exp: -1}})
	if wire[4] != 0x81 {
		t.Errorf("exponent -1 on the wire = %02X, want 81", wire[4])
	}
}

func TestRealIdentificationCapture(t *testing.T) {
	data := append([]byte("VU-UA1837AF    00K505021811"), 0x41, 0x10, 0, 0, 0, 0xC9, 0xFF)
	frame := ccnet.AppendFrame(nil, ccnet.AddrBillValidator, data...)
	if frame[2] != 0x27 || !bytes.Equal(frame[len(frame)-2:], []byte{0xBB, 0x46}) {
		t.Fatalf("identification frame LNG %02X CRC % X, want 27 and BB 46", frame[2], frame[len(frame)-2:])
	}
	id, err := ccnet.ParseIdentity(data)
	if err != nil {
		t.Fatal(err)
	}
	if id.PartNumber != "VU-UA1837AF" || id.Serial != "00K505021811" || id.Asset != [7]byte{0x41, 0x10, 0, 0, 0, 0xC9, 0xFF} {
		t.Errorf("ParseIdentity = %+v", id)
	}
	if got := ccnet.AppendIdentity(nil, id); !bytes.Equal(got, data) {
		t.Errorf("AppendIdentity = % X, want % X", got, data)
	}
}

func TestBillMaskBitOrder(t *testing.T) {
	if got := ccnet.BillMask(0x7F).Bytes(); !bytes.Equal(got, []byte{0, 0, 0x7F}) {
		t.Errorf("types 0-6 = % X, want 00 00 7F", got)
	}
	m := ccnet.ParseBillMask([]byte{0x80, 0x00, 0x7F}) // 7 notes and the barcode type 23
	if !m.Has(23) || !m.Has(0) || !m.Has(6) || m.Has(7) {
		t.Errorf("ParseBillMask(80 00 7F) = %06X", uint32(m))
	}
}

// stream is what a validator's line may carry: noise, a damaged frame, another
// device's frame, then the answers.
func stream(t testing.TB) (data []byte, want [][]byte) {
	escrow := unhex(t, "02 03 07 80 07 33 47")
	stacked := unhex(t, "02 03 07 81 07 EB 5E")
	idle := unhex(t, "02 03 06 14 67 D4")
	other := ccnet.AppendFrame(nil, 0x01, 0x80, 0x02)       // a Bill-to-Bill unit on the same bus
	data = append(data, 0xFF, 0x00, 0x02, 0x02, 0x03, 0xFB) // noise, a bogus SYNC, a bad LNG
	data = append(data, escrow...)
	data = append(data, other...)
	data = append(data, 0x02, 0x03, 0x06) // a frame cut short
	data = append(data, stacked...)
	data = append(data, idle...)
	return data, [][]byte{{0x80, 0x07}, {0x81, 0x07}, {0x14}}
}

func TestDecoderSurvivesFragmentsAndNoise(t *testing.T) {
	readers := map[string]func(io.Reader) io.Reader{
		"whole":     func(r io.Reader) io.Reader { return r },
		"one byte":  iotest.OneByteReader,
		"half":      iotest.HalfReader,
		"data+err":  iotest.DataErrReader,
		"timeout":   func(r io.Reader) io.Reader { return iotest.TimeoutReader(iotest.OneByteReader(r)) },
		"half+time": func(r io.Reader) io.Reader { return iotest.TimeoutReader(iotest.HalfReader(r)) },
	}
	for name, wrap := range readers {
		t.Run(name, func(t *testing.T) {
			data, want := stream(t)
			dec := ccnet.NewDecoder(wrap(bytes.NewReader(data)), ccnet.AddrBillValidator)
			var got [][]byte
			timeouts, crcs := 0, 0
			for {
				f, err := dec.Next()
				if err == nil {
					got = append(got, f.Data)
					continue
				}
				if errors.Is(err, iotest.ErrTimeout) {
					timeouts++
					continue // a serial read timeout: the bytes so far are kept
				}
				if errors.Is(err, ccnet.ErrCRC) {
					crcs++
					continue
				}
				if err == io.EOF {
					break
				}
				t.Fatal(err)
			}
			if len(got) != len(want) {
				t.Fatalf("decoded %d frames % X, want %d", len(got), got, len(want))
			}
			for i := range want {
				if !bytes.Equal(got[i], want[i]) {
					t.Errorf("frame %d = % X, want % X", i, got[i], want[i])
				}
			}
			if crcs == 0 {
				t.Error("the frame cut short was not reported as damaged")
			}
			if strings.Contains(name, "time") && timeouts != 1 {
				t.Errorf("%d timeouts passed on, want 1", timeouts)
			}
		})
	}
}

func TestDecoderReset(t *testing.T) {
	r := bytes.NewReader(unhex(t, "02 03 07 80"))
	dec := ccnet.NewDecoder(r, ccnet.AddrBillValidator)
	if _, err := dec.Next(); err != io.EOF || dec.Buffered() != 4 {
		t.Fatalf("Next = %v with %d buffered, want EOF with the 4 bytes kept", err, dec.Buffered())
	}
	dec.Reset()
	if dec.Buffered() != 0 {
		t.Fatal("Reset kept bytes")
	}
}

func FuzzDecode(f *testing.F) {
	data, _ := stream(f)
	f.Add(data)
	f.Add(unhex(f, "02 03 06 33 DA 81"))
	f.Add(unhex(f, "02 03 07 80 03 9E 10"))
	f.Add([]byte{0x02, 0x03, 0xFA, 0x02, 0x03, 0x06})
	f.Fuzz(func(t *testing.T, b []byte) {
		rest := b
		for len(rest) > 0 {
			fr, n, err := ccnet.Decode(rest, ccnet.AddrBillValidator)
			if n < 0 || n > len(rest) {
				t.Fatalf("consumed %d of %d bytes", n, len(rest))
			}
			switch {
			case err == nil:
				// A frame is exactly what AppendFrame makes of its data.
				enc := ccnet.AppendFrame(nil, fr.Addr, fr.Data...)
				if fr.Addr != ccnet.AddrBillValidator || !bytes.Equal(enc, rest[n-len(enc):n]) {
					t.Fatalf("frame % X does not re-encode to its bytes", fr.Data)
				}
			case errors.Is(err, ccnet.ErrCRC):
				if n == 0 {
					t.Fatal("ErrCRC without progress")
				}
			case errors.Is(err, ccnet.ErrIncomplete):
				if n == 0 && rest[0] != ccnet.Sync {
					t.Fatalf("incomplete with garbage % X kept", rest[:1])
				}
				if n == 0 {
					n = 1 // what a reader waiting for more would drop only on a timeout
				}
			default:
				t.Fatalf("unexpected error %v", err)
			}
			rest = rest[n:]
		}
		// The streaming decoder agrees with Decode and never loops.
		dec := ccnet.NewDecoder(iotest.OneByteReader(bytes.NewReader(b)), ccnet.AddrBillValidator)
		for i := 0; ; i++ {
			if i > len(b)+1 {
				t.Fatal("decoder does not progress")
			}
			if _, err := dec.Next(); err == io.EOF {
				break
			}
		}
	})
}
