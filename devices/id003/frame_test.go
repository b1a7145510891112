package id003_test

import (
	"bytes"
	"encoding/hex"
	"errors"
	"io"
	"strings"
	"testing"
	"testing/iotest"

	"tolem/devices/id003"
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
	if got := id003.CRC16([]byte("123456789")); got != 0x2189 {
		t.Fatalf("CRC16(123456789) = %04X, want 2189 (CRC-16/KERMIT)", got)
	}
}

// Every worked example of id003.md, encoded from its data and decoded from
// its bytes.
func TestFramesOfTheNotes(t *testing.T) {
	tests := []struct {
		name  string
		data  string // CMD and data
		frame string
	}{
		{"STATUS REQUEST", "11", "FC 05 11 27 56"},
		{"ACK", "50", "FC 05 50 AA 05"},
		{"RESET", "40", "FC 05 40 2B 15"},
		{"STACK-1", "41", "FC 05 41 A2 04"},
		{"STACK-2", "42", "FC 05 42 39 36"},
		{"RETURN", "43", "FC 05 43 B0 27"},
		{"HOLD", "44", "FC 05 44 0F 53"},
		{"INHIBIT on", "C3 01", "FC 06 C3 01 8D C7"},
		{"INHIBIT off", "C3 00", "FC 06 C3 00 04 D6"},
		{"ENABLE all", "C0 00 00", "FC 07 C0 00 00 2D B5"},
		{"CURRENCY ASSIGN request", "8A", "FC 05 8A 7D 7C"},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			data, want := unhex(t, tt.data), unhex(t, tt.frame)
			if got := id003.AppendFrame(nil, data...); !bytes.Equal(got, want) {
				t.Errorf("AppendFrame = % X, want % X", got, want)
			}
			f, n, err := id003.Decode(want)
			if err != nil || n != len(want) || !bytes.Equal(f.Data, data) {
				t.Errorf("Decode = % X, %d, %v; want % X", f.Data, n, err, data)
			}
		})
	}
}

// The status request and the IDLING answer are the same bytes: only the
// direction tells them apart.
func TestStatusRequestAndIdlingAreTheSameFrame(t *testing.T) {
	req := id003.AppendFrame(nil, id003.CmdStatusRequest)
	idle := id003.AppendFrame(nil, id003.StIdling)
	if !bytes.Equal(req, idle) {
		t.Fatalf("% X and % X differ", req, idle)
	}
}

func TestHandEditedFrameFailsCRC(t *testing.T) {
	// STACK-2's CRC on a STACK-1 code.
	if _, _, err := id003.Decode(unhex(t, "FC 05 41 39 36")); !errors.Is(err, id003.ErrCRC) {
		t.Errorf("err = %v, want ErrCRC", err)
	}
}

// The captured EUR table of the notes (B.6), parsed and valued.
func TestCurrencyTableCapture(t *testing.T) {
	data := unhex(t, "61 00 00 00 62 E0 05 00 63 E0 0A 00 64 E0 14 00 65 E0 32 00 66 E0 0A 01 67 E0 14 01 68 E0 32 01")
	table, err := id003.ParseCurrencyTable(data)
	if err != nil {
		t.Fatal(err)
	}
	if len(table) != 8 || !table[0].Empty() {
		t.Fatalf("table %v: want 8 entries, 0x61 unused", table)
	}
	want := []int64{500, 1000, 2000, 5000, 10000, 20000, 50000}
	for i, w := range want {
		if v, ok := table[i+1].Minor(); !ok || v != w || table[i+1].Country != 0xE0 {
			t.Errorf("code %02X = %d cents (%02X), want %d EUR cents", table[i+1].Code, v, table[i+1].Country, w)
		}
	}
	if got := id003.AppendCurrencyTable(nil, table); !bytes.Equal(got, data) {
		t.Errorf("AppendCurrencyTable = % X, want % X", got, data)
	}
	if _, err := id003.ParseCurrencyTable(data[:7]); err == nil {
		t.Error("a table cut mid-entry was taken")
	}
}

func TestDenomValues(t *testing.T) {
	tests := []struct {
		d    id003.Denom
		want kiosk.Money
		ok   bool
	}{
		{id003.Denom{Code: 0x61, Base: 200}, kiosk.Tenge(200), true},
		{id003.Denom{Code: 0x67, Base: 200, Exp: 2}, kiosk.Tenge(20000), true},
		{id003.Denom{Code: 0x67, Base: 20, Exp: 3}, kiosk.Tenge(20000), true},
		{id003.Denom{Code: 0x68, Base: 1, Exp: 200}, 0, false},
		{id003.Denom{Code: 0x68}, 0, false},
	}
	for _, tt := range tests {
		v, ok := tt.d.Minor()
		if ok != tt.ok || kiosk.Money(v) != tt.want {
			t.Errorf("%v.Minor() = %d, %v; want %d, %v", tt.d, v, ok, tt.want, tt.ok)
		}
	}
}

func TestEnableLayouts(t *testing.T) {
	m := id003.MaskOf(0x61) | id003.MaskOf(0x63)
	tests := []struct {
		l    id003.EnableLayout
		want [2]byte
	}{
		{id003.EnableLayout{}, [2]byte{0xFA, 0x00}},
		{id003.EnableLayout{SecondByte: true}, [2]byte{0x00, 0xFA}},
		{id003.EnableLayout{SetEnables: true}, [2]byte{0x05, 0x00}},
	}
	for _, tt := range tests {
		got := tt.l.Bytes(m)
		if got != tt.want {
			t.Errorf("%+v.Bytes(0x61, 0x63) = % X, want % X", tt.l, got, tt.want)
		}
		if back := tt.l.Enabled(got[:]); back != m {
			t.Errorf("%+v.Enabled(% X) = %08b, want %08b", tt.l, got, back, m)
		}
	}
	// C0 00 00, the notes' "enable all".
	if got := (id003.EnableLayout{}).Bytes(0xFF); got != [2]byte{0, 0} {
		t.Errorf("every code enabled = % X, want 00 00", got)
	}
}

func TestParseVersion(t *testing.T) {
	v := id003.ParseVersion([]byte("i(USA)100-SS ID003-05V266-47 14OCT09 6BA6\x00"))
	if v.Model != "i(USA)100-SS" || v.Firmware != "ID003-05V266-47 14OCT09 6BA6" {
		t.Errorf("ParseVersion = %+v", v)
	}
}

// stream is what an acceptor's line may carry: noise, a bogus SYNC, a
// damaged frame, then the answers.
func stream(t testing.TB) (data []byte, want [][]byte) {
	escrow := id003.AppendFrame(nil, 0x13, 0x63)
	vend := id003.AppendFrame(nil, 0x15)
	idle := unhex(t, "FC 05 11 27 56")
	data = append(data, 0xFF, 0x00, 0xFC, 0xFC, 0x02, 0x05) // noise, a bogus SYNC, a bad LNG
	data = append(data, escrow...)
	bad := id003.AppendFrame(nil, 0x16)
	bad[len(bad)-1] ^= 0xFF
	data = append(data, bad...)
	data = append(data, 0xFC, 0x06, 0x13) // a frame cut short
	data = append(data, vend...)
	data = append(data, idle...)
	return data, [][]byte{{0x13, 0x63}, {0x15}, {0x11}}
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
			dec := id003.NewDecoder(wrap(bytes.NewReader(data)))
			var got [][]byte
			crcs := 0
			for {
				f, err := dec.Next()
				if err == nil {
					got = append(got, f.Data)
					continue
				}
				if errors.Is(err, iotest.ErrTimeout) {
					continue // a serial read timeout: the bytes so far are kept
				}
				if errors.Is(err, id003.ErrCRC) {
					crcs++
					continue
				}
				if err == io.EOF && dec.Buffered() > 0 {
					dec.SkipStalled() // the line fell quiet inside a frame
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
				t.Error("the damaged frames were not reported")
			}
		})
	}
}

// A SYNC in noise promising a long frame must not hide the answer behind it
// once the line falls quiet.
func TestDecoderSkipsAStalledFrame(t *testing.T) {
	data := append([]byte{0xFC, 0xF0}, id003.AppendFrame(nil, 0x1A)...)
	dec := id003.NewDecoder(bytes.NewReader(data))
	if _, err := dec.Next(); err != io.EOF {
		t.Fatalf("Next = %v, want EOF while the long frame may still come", err)
	}
	dec.SkipStalled()
	f, err := dec.Next()
	if err != nil || f.Code() != 0x1A {
		t.Fatalf("after SkipStalled: % X, %v; want the DISABLE status", f.Data, err)
	}
}

func FuzzDecode(f *testing.F) {
	data, _ := stream(f)
	f.Add(data)
	f.Add(unhex(f, "FC 05 11 27 56"))
	f.Add(unhex(f, "FC 05 41 39 36"))
	f.Add([]byte{0xFC, 0xFF, 0xFC, 0x05})
	f.Fuzz(func(t *testing.T, b []byte) {
		rest := b
		for len(rest) > 0 {
			fr, n, err := id003.Decode(rest)
			if n < 0 || n > len(rest) {
				t.Fatalf("consumed %d of %d bytes", n, len(rest))
			}
			switch {
			case err == nil:
				// A frame is exactly what AppendFrame makes of its data.
				enc := id003.AppendFrame(nil, fr.Data...)
				if !bytes.Equal(enc, rest[n-len(enc):n]) {
					t.Fatalf("frame % X does not re-encode to its bytes", fr.Data)
				}
			case errors.Is(err, id003.ErrCRC):
				if n == 0 {
					t.Fatal("ErrCRC without progress")
				}
			case errors.Is(err, id003.ErrIncomplete):
				if n == 0 && rest[0] != id003.Sync {
					t.Fatalf("incomplete with garbage % X kept", rest[:1])
				}
				if n == 0 {
					n = 1 // what SkipStalled drops once the line is quiet
				}
			default:
				t.Fatalf("unexpected error %v", err)
			}
			rest = rest[n:]
		}
		// The streaming decoder agrees with Decode and never loops.
		dec := id003.NewDecoder(iotest.OneByteReader(bytes.NewReader(b)))
		for i := 0; ; i++ {
			if i > 2*len(b)+2 {
				t.Fatal("decoder does not progress")
			}
			_, err := dec.Next()
			if err == io.EOF {
				if dec.Buffered() == 0 {
					break
				}
				dec.SkipStalled()
			}
		}
	})
}
