package simpanel

import (
	"fmt"
	"strings"
	"testing"

	"tolem/kiosk"
)

// describe writes inputs compactly: keys by name, bills by value.
func describe(ins []termInput) string {
	var s []string
	for _, in := range ins {
		switch {
		case in.Key != "":
			s = append(s, string(in.Key))
		case in.Bill != 0:
			s = append(s, fmt.Sprint(in.Bill.Tenge()))
		case in.Fake:
			s = append(s, "fake")
		case in.Quit:
			s = append(s, "quit")
		case in.Redraw:
			s = append(s, "redraw")
		}
	}
	return strings.Join(s, " ")
}

func TestKeyMapping(t *testing.T) {
	tests := []struct {
		name  string
		reads []string // one string per read
		want  string
	}{
		{"digits", []string{"0123456789"}, "0 1 2 3 4 5 6 7 8 9"},
		{"enter in raw mode", []string{"\r"}, "OK"},
		{"enter from a pipe", []string{"\n"}, "OK"},
		{"CR LF is one enter", []string{"1\r\n2"}, "1 OK 2"},
		{"CR LF split across reads", []string{"\r", "\n"}, "OK"},
		{"two enters", []string{"\r\r"}, "OK OK"},
		{"backspace DEL", []string{"\x7f"}, "BACK"},
		{"backspace BS", []string{"\x08"}, "BACK"},
		{"delete key", []string{"\x1b[3~"}, "BACK"},
		{"lone esc", []string{"\x1b"}, "CANCEL"},
		{"esc then digit", []string{"\x1b", "5"}, "CANCEL 5"},
		{"esc esc", []string{"\x1b\x1b"}, "CANCEL CANCEL"},
		{"esc and key in one read", []string{"\x1b7"}, "CANCEL 7"},
		{"arrow keys ignored", []string{"\x1b[A\x1b[B\x1b[C\x1b[D"}, ""},
		{"application arrows ignored", []string{"\x1bOA1"}, "1"},
		{"keypad enter", []string{"\x1bOM"}, "OK"},
		{"F5 and page down ignored", []string{"\x1b[15~\x1b[6~2"}, "2"},
		{"sequence split across reads", []string{"\x1b[", "A3"}, "3"},
		{"lang", []string{"lL"}, "LANG LANG"},
		{"banknotes", []string{"qwertyu"}, "200 500 1000 2000 5000 10000 20000"},
		{"fake bill", []string{"f"}, "fake"},
		{"quit Q", []string{"Q"}, "quit"},
		{"quit ctrl-c", []string{"\x03"}, "quit"},
		{"redraw ctrl-l", []string{"\x0c"}, "redraw"},
		{"russian layout", []string{"йцукенгад"}, "200 500 1000 2000 5000 10000 20000 fake LANG"},
		{"russian layout Q quits", []string{"Й"}, "quit"},
		{"letter split across reads", []string{"\xd0", "\xb9"}, "200"},
		{"unmapped keys ignored", []string{"zxcv ;'ё"}, ""},
		{"invalid utf-8 ignored", []string{"\xff1"}, "1"},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			var d keyDecoder
			var got []termInput
			for _, r := range tt.reads {
				got = append(got, d.feed([]byte(r))...)
			}
			if g := describe(got); g != tt.want {
				t.Errorf("%q → %q, want %q", tt.reads, g, tt.want)
			}
		})
	}
}

func TestBillKeysAreEveryBanknote(t *testing.T) {
	want := []kiosk.Money{20000, 50000, 100000, 200000, 500000, 1000000, 2000000}
	if len(billKeys) != len(want) {
		t.Fatalf("%d bill keys, want %d", len(billKeys), len(want))
	}
	for i, b := range billKeys {
		if b.Value != want[i] {
			t.Errorf("key %c inserts %v, want %v", b.Key, b.Value, want[i])
		}
	}
}
