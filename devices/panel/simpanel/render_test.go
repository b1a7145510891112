package simpanel

import (
	"flag"
	"os"
	"path/filepath"
	"strings"
	"testing"
	"unicode/utf8"

	"tolem/kiosk"
)

var update = flag.Bool("update", false, "rewrite testdata/*.golden from the current output")

func TestRenderGolden(t *testing.T) {
	tests := []struct {
		name   string
		screen kiosk.Screen
		info   RenderInfo
	}{
		{"waiting", kiosk.Screen{}, RenderInfo{Waiting: true}},
		{"idle_en", kiosk.Screen{State: kiosk.StateIdle, Lang: kiosk.LangEN, Lines: [4]string{
			"  Top up a wallet", "", "", "      press OK"}}, RenderInfo{}},
		{"enter_phone_ru", kiosk.Screen{State: kiosk.StateEnterPhone, Lang: kiosk.LangRU, Lines: [4]string{
			"Номер телефона:", "+7 (701) 123-__-__", "", "OK далее  ← стереть"}},
			RenderInfo{LastEvent: "key 3"}},
		{"insert_cash_kk", kiosk.Screen{State: kiosk.StateInsertCash, Lang: kiosk.LangKK, Lines: [4]string{
			"Салынды:   12 500 ₸", "Ең көбі: 200 000 ₸", "Ақша салыңыз", "Төлеу үшін OK"}},
			RenderInfo{LastEvent: "bill 10 000 ₸ inserted", Title: "KZ-ALA-0001 · kiosk simulator"}},
		{"refused_long_name", kiosk.Screen{State: kiosk.StateConfirm, Lines: [4]string{
			"Получатель:", "Әбдіқадырова Гүлжаһан Қ.", "+7 (771) 555-12-34", "OK / ОТМЕНА\x1b[2J"}},
			RenderInfo{LastEvent: "bill 500 ₸ not taken: simacceptor: insert 500 ₸: bill acceptor has a fault and does not take bills (jammed)", Warn: true}},
		{"out_of_service_color", kiosk.Screen{State: kiosk.StateOutOfService, Lines: [4]string{
			"Временно", "не работает"}}, RenderInfo{Color: true, LastEvent: "key OK"}},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			got := Render(tt.screen, tt.info)
			file := filepath.Join("testdata", tt.name+".golden")
			if *update {
				if err := os.WriteFile(file, []byte(got), 0o644); err != nil {
					t.Fatal(err)
				}
			}
			want, err := os.ReadFile(file)
			if err != nil {
				t.Fatalf("%v (run go test -update to create it)", err)
			}
			if got != string(want) {
				t.Errorf("Render differs from %s (go test -update rewrites it):\n%s", file, got)
			}
			checkFits(t, got)
		})
	}
}

// checkFits asserts what a person at an 80×24 terminal would notice: no line
// wraps, nothing scrolls off, and the screen's box stays a rectangle.
func checkFits(t *testing.T, frame string) {
	t.Helper()
	lines := strings.Split(stripSGR(frame), "\n")
	if len(lines) > 23 {
		t.Errorf("frame has %d lines; an 80×24 terminal shows 24 with the cursor row", len(lines))
	}
	boxWidth := -1
	for i, l := range lines {
		if n := utf8.RuneCountInString(l); n > 79 {
			t.Errorf("line %d is %d columns wide: %q", i, n, l)
		}
		if strings.ContainsAny(l, "\x1b\x07") {
			t.Errorf("line %d carries a control character: %q", i, l)
		}
		if start := strings.IndexAny(l, "┌│└"); start >= 0 {
			end := strings.LastIndexAny(l, "┐│┘")
			w := utf8.RuneCountInString(l[start:end])
			if boxWidth < 0 {
				boxWidth = w
			} else if w != boxWidth {
				t.Errorf("box line %d is %d wide, the top %d: %q", i, w, boxWidth, l)
			}
		}
	}
}

func stripSGR(s string) string {
	var b strings.Builder
	for i := 0; i < len(s); i++ {
		if s[i] == 0x1b && i+1 < len(s) && s[i+1] == '[' {
			j := i + 2
			for j < len(s) && (s[j] < 0x40 || s[j] > 0x7e) {
				j++
			}
			if j < len(s) && s[j] == 'm' {
				i = j
				continue
			}
		}
		b.WriteByte(s[i])
	}
	return b.String()
}

func TestRenderPadsLinesToTwentyCharacters(t *testing.T) {
	for _, l := range []string{"", "Қ", "Әбдіқадырова Гүлжаһан Қ.", "12345678901234567890"} {
		if got := utf8.RuneCountInString(fitLine(l)); got != ScreenWidth {
			t.Errorf("fitLine(%q) is %d characters", l, got)
		}
	}
}

// Notes stand under the legend, within 80 columns.
func TestRenderNotes(t *testing.T) {
	long := "data     /home/someone/with/a/very/long/path/that/goes/on/and/on/.cache/tolem-sim  (ledger.db, kioskd.log)"
	out := Render(kiosk.Screen{State: kiosk.StateIdle}, RenderInfo{Notes: []string{"sockets  /tmp/d/panel.sock, /tmp/d/control.sock", long}})
	rows := strings.Split(out, "\n")
	if rows[len(rows)-2] != " sockets  /tmp/d/panel.sock, /tmp/d/control.sock" {
		t.Errorf("notes row %q", rows[len(rows)-2])
	}
	if n := utf8.RuneCountInString(rows[len(rows)-1]); n > 80 || !strings.HasSuffix(rows[len(rows)-1], "…") {
		t.Errorf("long note %q: %d columns", rows[len(rows)-1], n)
	}
	if len(rows) > 24 {
		t.Errorf("%d rows, more than an 80×24 terminal has", len(rows))
	}
}
