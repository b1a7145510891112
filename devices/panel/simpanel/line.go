package simpanel

import (
	"bytes"
	"encoding/json"
	"errors"
	"fmt"
	"strconv"
	"strings"
	"unicode/utf8"

	"tolem/kiosk"
)

// BillFeeder puts a banknote into the simulated acceptor's slot, as a
// customer would. What the acceptor makes of it (escrow, rejection) reaches
// the kiosk as acceptor events, not through the returned error, which only
// says the bill could not be offered at all.
type BillFeeder interface {
	Insert(value kiosk.Money) error
}

// FakeFeeder is a BillFeeder that can also be offered a counterfeit.
type FakeFeeder interface {
	InsertFake() error
}

// CommandKind is what a client line asks for.
type CommandKind int

// Client commands. Key is SPEC §5; Bill and Fake exist on the simulator only,
// so that tests and scripts can feed cash without a terminal.
const (
	CmdKey  CommandKind = iota + 1 // KEY <k>
	CmdBill                        // BILL <tenge>
	CmdFake                        // FAKE
)

// MaxBillTenge bounds BILL so that no line can overflow Money; it is far
// above any banknote.
const MaxBillTenge = 1_000_000

// Command is one parsed client line.
type Command struct {
	Kind  CommandKind
	Key   kiosk.Key   // CmdKey
	Value kiosk.Money // CmdBill
}

// String is the canonical line of c, without the newline.
func (c Command) String() string {
	switch c.Kind {
	case CmdKey:
		return "KEY " + string(c.Key)
	case CmdBill:
		return "BILL " + strconv.FormatInt(c.Value.Tenge(), 10)
	case CmdFake:
		return "FAKE"
	}
	return "?"
}

// errBlank marks a line with nothing on it; the server skips those so that a
// person typing into socat may press Enter freely.
var errBlank = errors.New("blank line")

// ParseLine reads one client line (with or without its line ending). The
// command word and key names are accepted in any case, because people type
// them by hand; what a client gets back is always the canonical form.
func ParseLine(line string) (Command, error) {
	line = strings.TrimRight(line, "\r\n")
	if !utf8.ValidString(line) {
		return Command{}, errors.New("line is not UTF-8")
	}
	f := strings.Fields(line)
	if len(f) == 0 {
		return Command{}, errBlank
	}
	switch strings.ToUpper(f[0]) {
	case "KEY":
		if len(f) != 2 {
			return Command{}, errors.New("usage: KEY <0-9|OK|CANCEL|BACK|LANG>")
		}
		k := kiosk.Key(strings.ToUpper(f[1]))
		if !k.Valid() {
			return Command{}, fmt.Errorf("unknown key %s: use 0-9, OK, CANCEL, BACK or LANG", quote(f[1]))
		}
		return Command{Kind: CmdKey, Key: k}, nil
	case "BILL":
		if len(f) != 2 {
			return Command{}, errors.New("usage: BILL <tenge>, e.g. BILL 1000")
		}
		n, err := strconv.ParseUint(f[1], 10, 32)
		if err != nil || n == 0 || n > MaxBillTenge {
			return Command{}, fmt.Errorf("bad bill value %s: give whole tenge, e.g. BILL 1000", quote(f[1]))
		}
		return Command{Kind: CmdBill, Value: kiosk.Tenge(int64(n))}, nil
	case "FAKE":
		if len(f) != 1 {
			return Command{}, errors.New("usage: FAKE")
		}
		return Command{Kind: CmdFake}, nil
	}
	return Command{}, fmt.Errorf("unknown command %s: use KEY, BILL or FAKE", quote(f[0]))
}

// quote keeps an echoed word short and on one line.
func quote(s string) string {
	if utf8.RuneCountInString(s) > 24 {
		s = string([]rune(s)[:24]) + "…"
	}
	return strconv.Quote(s)
}

// screenMsg is the JSON of a SCREEN line; its shape is SPEC §5.
type screenMsg struct {
	State string    `json:"state"`
	Lines [4]string `json:"lines"`
}

// EncodeScreen renders s as a SCREEN line, newline included.
func EncodeScreen(s kiosk.Screen) []byte {
	var b bytes.Buffer
	b.WriteString("SCREEN ")
	enc := json.NewEncoder(&b)
	// Names like "Ержан & Co" stay as the bank sent them.
	enc.SetEscapeHTML(false)
	if err := enc.Encode(screenMsg{State: s.State.String(), Lines: s.Lines}); err != nil {
		// Only invalid UTF-8 could get here, and encoding/json replaces that.
		panic(fmt.Sprintf("simpanel: encode screen: %v", err))
	}
	return b.Bytes() // Encode ends with '\n'
}

// DecodeScreen reads a SCREEN line as a client would: for tests and tools.
func DecodeScreen(line string) (kiosk.Screen, error) {
	rest, ok := strings.CutPrefix(strings.TrimRight(line, "\r\n"), "SCREEN ")
	if !ok {
		return kiosk.Screen{}, fmt.Errorf("not a SCREEN line: %s", quote(line))
	}
	var m screenMsg
	if err := json.Unmarshal([]byte(rest), &m); err != nil {
		return kiosk.Screen{}, fmt.Errorf("decode SCREEN: %w", err)
	}
	st, ok := kiosk.ParseState(m.State)
	if !ok {
		return kiosk.Screen{}, fmt.Errorf("decode SCREEN: unknown state %s", quote(m.State))
	}
	return kiosk.Screen{State: st, Lines: m.Lines}, nil
}
