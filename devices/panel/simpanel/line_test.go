package simpanel

import (
	"strings"
	"testing"

	"tolem/kiosk"
)

func TestParseLine(t *testing.T) {
	tests := []struct {
		line string
		want Command
		err  string // substring of the error; "" for success
	}{
		{"KEY 5\n", Command{Kind: CmdKey, Key: "5"}, ""},
		{"KEY OK", Command{Kind: CmdKey, Key: kiosk.KeyOK}, ""},
		{"KEY CANCEL\r\n", Command{Kind: CmdKey, Key: kiosk.KeyCancel}, ""},
		{"KEY BACK", Command{Kind: CmdKey, Key: kiosk.KeyBack}, ""},
		{"key lang", Command{Kind: CmdKey, Key: kiosk.KeyLang}, ""},
		{"  KEY   0  ", Command{Kind: CmdKey, Key: "0"}, ""},
		{"BILL 1000", Command{Kind: CmdBill, Value: kiosk.Tenge(1000)}, ""},
		{"BILL 20000\n", Command{Kind: CmdBill, Value: kiosk.Tenge(20000)}, ""},
		{"FAKE", Command{Kind: CmdFake}, ""},
		{"", Command{}, "blank"},
		{"   \r\n", Command{}, "blank"},
		{"KEY", Command{}, "usage: KEY"},
		{"KEY 10", Command{}, "unknown key"},
		{"KEY PAY", Command{}, "unknown key"},
		{"KEY 1 2", Command{}, "usage: KEY"},
		{"BILL", Command{}, "usage: BILL"},
		{"BILL 0", Command{}, "bad bill value"},
		{"BILL -500", Command{}, "bad bill value"},
		{"BILL 1.5", Command{}, "bad bill value"},
		{"BILL 99999999999999999999", Command{}, "bad bill value"},
		{"FAKE 1", Command{}, "usage: FAKE"},
		{"SCREEN {}", Command{}, "unknown command"},
		{"KEY \xff", Command{}, "UTF-8"},
	}
	for _, tt := range tests {
		got, err := ParseLine(tt.line)
		if tt.err != "" {
			if err == nil || !strings.Contains(err.Error(), tt.err) {
				t.Errorf("ParseLine(%q) error = %v, want one with %q", tt.line, err, tt.err)
			}
			continue
		}
		if err != nil || got != tt.want {
			t.Errorf("ParseLine(%q) = %+v, %v; want %+v", tt.line, got, err, tt.want)
		}
	}
}

func FuzzParseLine(f *testing.F) {
	for _, s := range []string{"KEY 1\n", "KEY OK", "BILL 500", "FAKE", "key back\r\n", "BILL 1000000", ""} {
		f.Add(s)
	}
	f.Fuzz(func(t *testing.T, line string) {
		c, err := ParseLine(line)
		if err != nil {
			if strings.ContainsAny(err.Error(), "\n\r") {
				t.Fatalf("error %q would break the line protocol", err)
			}
			return
		}
		switch c.Kind {
		case CmdKey:
			if !c.Key.Valid() {
				t.Fatalf("accepted invalid key %q", c.Key)
			}
		case CmdBill:
			if c.Value <= 0 || c.Value > kiosk.Tenge(MaxBillTenge) || c.Value%100 != 0 {
				t.Fatalf("accepted bill %d tiyn", c.Value)
			}
		case CmdFake:
		default:
			t.Fatalf("unknown kind %d", c.Kind)
		}
		again, err := ParseLine(c.String())
		if err != nil || again != c {
			t.Fatalf("canonical form %q parses to %+v, %v; want %+v", c.String(), again, err, c)
		}
	})
}

func TestEncodeScreen(t *testing.T) {
	s := kiosk.Screen{State: kiosk.StateConfirm, Lang: kiosk.LangKK, Lines: [4]string{
		"Алушы:", "Нурлан К. & <Co>", "+7 (701) 123-45-67", "OK — растау",
	}}
	got := string(EncodeScreen(s))
	want := `SCREEN {"state":"confirm","lines":["Алушы:","Нурлан К. & <Co>","+7 (701) 123-45-67","OK — растау"]}` + "\n"
	if got != want {
		t.Errorf("EncodeScreen =\n%s\nwant\n%s", got, want)
	}
	back, err := DecodeScreen(got)
	if err != nil || back.State != s.State || back.Lines != s.Lines {
		t.Errorf("DecodeScreen = %+v, %v", back, err)
	}
}
