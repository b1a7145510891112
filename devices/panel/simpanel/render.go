package simpanel

import (
	"strings"
	"unicode"
	"unicode/utf8"

	"tolem/kiosk"
)

// ScreenWidth is the number of characters on a line of the kiosk's display.
const ScreenWidth = 20

// RenderInfo is what the terminal panel shows around the kiosk's screen.
type RenderInfo struct {
	// Title heads the frame; "tolem · kiosk simulator" when empty.
	Title string
	// LastEvent is what the last keystroke did ("bill 1 000 ₸ inserted").
	LastEvent string
	// Warn marks LastEvent as a refusal, shown in red.
	Warn bool
	// Waiting is set until the kiosk has shown its first screen.
	Waiting bool
	// Color turns on ANSI colors.
	Color bool
	// Notes are shown under the legend, one line each, e.g. where the
	// data dir and the sockets are, so that they are on screen while the
	// frame covers the log lines printed at start.
	Notes []string
	// Printer adds the paper key to the legend (a sim printer is on).
	Printer bool
	// Receipt is the last receipt printed, drawn right of the frame.
	Receipt []string
}

// frameWidth is the frame's width; a receipt is drawn right of it.
const frameWidth = 80

// SGR sequences; few and modest, so that the frame reads well on a dark or
// a light terminal.
const (
	sgrReset  = "\x1b[0m"
	sgrBold   = "\x1b[1m"
	sgrDim    = "\x1b[2m"
	sgrRed    = "\x1b[31m"
	sgrGreen  = "\x1b[32m"
	sgrYellow = "\x1b[33m"
	sgrCyan   = "\x1b[36m"
)

const (
	indent     = "   "
	legendWrap = 76 // runes per legend line, inside 80 columns
	maxEvent   = 68
)

// Render draws the terminal panel's frame: the 4×20 screen in a box, the
// state and language beside it, the last event and the key legend. Lines are
// separated by "\n" and fit an 80×24 terminal.
func Render(s kiosk.Screen, info RenderInfo) string {
	p := painter{color: info.Color}
	var rows []string

	title := info.Title
	if title == "" {
		title = "tolem · kiosk simulator"
	}
	rows = append(rows, " "+p.paint(sgrBold, title), "")

	state := p.paint(stateColor(s.State), s.State.String())
	if info.Waiting {
		state = p.paint(sgrDim, "waiting for the kiosk…")
	}
	side := [4]string{
		p.paint(sgrDim, "state     ") + state,
		p.paint(sgrDim, "language  ") + p.langs(s.Lang),
	}

	border := strings.Repeat("─", ScreenWidth+2)
	rows = append(rows, indent+p.paint(sgrCyan, "┌"+border+"┐"))
	for i, l := range s.Lines {
		row := indent + p.paint(sgrCyan, "│") + " " + p.paint(sgrBold, fitLine(l)) + " " + p.paint(sgrCyan, "│")
		if side[i] != "" {
			row += "   " + side[i]
		}
		rows = append(rows, row)
	}
	rows = append(rows, indent+p.paint(sgrCyan, "└"+border+"┘"))

	event := truncate(sanitize(info.LastEvent), maxEvent)
	if event == "" {
		event = p.paint(sgrDim, "—")
	} else if info.Warn {
		event = p.paint(sgrRed, event)
	} else {
		event = p.paint(sgrGreen, event)
	}
	rows = append(rows, indent+p.paint(sgrDim, "last  ")+event, "")

	rows = append(rows, p.legend("Keys", []legendItem{
		{"0-9", "digits"}, {"0", "menu (on idle)"}, {"Enter", "OK/PAY"}, {"Backspace", "BACK"},
		{"Esc", "CANCEL"}, {"l", "LANG"},
	})...)
	bills := make([]legendItem, 0, len(billKeys)+1)
	for _, b := range billKeys {
		bills = append(bills, legendItem{string(b.Key), b.Value.String()})
	}
	bills = append(bills, legendItem{"f", "fake bill"})
	rows = append(rows, p.legend("Bills", bills)...)
	if info.Printer {
		rows = append(rows, p.legend("Printer", []legendItem{{"p", "paper out / in"}})...)
	}
	rows = append(rows, p.legend("Quit", []legendItem{{"Q", "or Ctrl-C"}})...)
	if len(info.Notes) > 0 {
		rows = append(rows, "")
		for _, n := range info.Notes {
			rows = append(rows, " "+p.paint(sgrDim, truncate(sanitize(n), legendWrap+2)))
		}
	}
	if len(info.Receipt) > 0 {
		rows = besideReceipt(rows, info.Receipt, p)
	}
	return strings.Join(rows, "\n")
}

func stateColor(s kiosk.State) string {
	switch s {
	case kiosk.StateOutOfService:
		return sgrRed
	case kiosk.StateInsertCash, kiosk.StateDone:
		return sgrGreen
	}
	return sgrYellow
}

type painter struct{ color bool }

func (p painter) paint(sgr, s string) string {
	if !p.color || s == "" {
		return s
	}
	return sgr + s + sgrReset
}

// langs lists the languages in LANG order, the current one bracketed.
func (p painter) langs(cur kiosk.Lang) string {
	var parts []string
	for _, l := range []kiosk.Lang{kiosk.LangRU, kiosk.LangKK, kiosk.LangEN} {
		if l == cur {
			parts = append(parts, p.paint(sgrBold, "["+l.String()+"]"))
		} else {
			parts = append(parts, p.paint(sgrDim, l.String()))
		}
	}
	return strings.Join(parts, " ")
}

type legendItem struct{ key, what string }

// legend lays items out after a label, wrapping under the first item.
func (p painter) legend(label string, items []legendItem) []string {
	const labelWidth = 7
	head := " " + label + strings.Repeat(" ", labelWidth-utf8.RuneCountInString(label))
	pad := strings.Repeat(" ", 1+labelWidth)
	var rows []string
	row, width := p.paint(sgrDim, head), 1+labelWidth
	first := true
	for _, it := range items {
		w := utf8.RuneCountInString(it.key) + 1 + utf8.RuneCountInString(it.what)
		sep := "   "
		if first {
			sep = ""
		}
		if !first && width+len(sep)+w > legendWrap {
			rows = append(rows, row)
			row, width, sep = pad, len(pad), ""
		}
		row += sep + p.paint(sgrBold, it.key) + " " + it.what
		width += len(sep) + w
		first = false
	}
	return append(rows, row)
}

// fitLine makes a screen line exactly ScreenWidth characters, as the display
// has them: shorter lines are padded, longer ones cut.
func fitLine(l string) string {
	r := []rune(sanitize(l))
	if len(r) > ScreenWidth {
		r = r[:ScreenWidth]
	}
	return string(r) + strings.Repeat(" ", ScreenWidth-len(r))
}

// sanitize keeps control characters (a name from the bank is not to be
// trusted) from steering the terminal.
func sanitize(s string) string {
	return strings.Map(func(r rune) rune {
		if r == utf8.RuneError || unicode.IsControl(r) {
			return '?'
		}
		return r
	}, s)
}

func truncate(s string, n int) string {
	r := []rune(s)
	if len(r) <= n {
		return s
	}
	return string(r[:n-1]) + "…"
}

// besideReceipt draws the receipt in a column right of the frame's rows.
func besideReceipt(rows, receipt []string, p painter) []string {
	col := append([]string{p.paint(sgrBold, "last receipt")}, receipt...)
	for i, l := range col {
		if i > 0 {
			l = "│ " + sanitize(l)
		}
		for len(rows) <= i {
			rows = append(rows, "")
		}
		pad := frameWidth - visibleWidth(rows[i])
		rows[i] += strings.Repeat(" ", max(pad, 1)) + l
	}
	return rows
}

// visibleWidth counts the runes of s outside ANSI escape sequences.
func visibleWidth(s string) int {
	n, inEsc := 0, false
	for _, r := range s {
		switch {
		case inEsc:
			if r >= '@' && r <= '~' && r != '[' {
				inEsc = false
			}
		case r == 0x1b:
			inEsc = true
		default:
			n++
		}
	}
	return n
}
