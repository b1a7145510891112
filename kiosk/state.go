package kiosk

// State is a state of the customer flow. The names are part of the external
// contract (they appear on the sim panel socket and in the heartbeat).
type State int

// The states of SPEC §1.
const (
	StateIdle State = iota
	StateEnterPhone
	StateLookup
	StateConfirm
	StateConfirmOffline
	StateInsertCash
	StateCompleting
	StateDone
	StateOutOfService
	StateMaintenance
	StateSelectService
	StateEnterAccount
	StateEnterReceipt
	StateReceiptStatus
)

var stateNames = [...]string{
	StateIdle:           "idle",
	StateEnterPhone:     "enter_phone",
	StateLookup:         "lookup",
	StateConfirm:        "confirm",
	StateConfirmOffline: "confirm_offline",
	StateInsertCash:     "insert_cash",
	StateCompleting:     "completing",
	StateDone:           "done",
	StateOutOfService:   "out_of_service",
	StateMaintenance:    "maintenance",
	StateSelectService:  "select_service",
	StateEnterAccount:   "enter_account",
	StateEnterReceipt:   "enter_receipt",
	StateReceiptStatus:  "receipt_status",
}

func (s State) String() string {
	if s >= 0 && int(s) < len(stateNames) {
		return stateNames[s]
	}
	return "unknown"
}

// ParseState is the inverse of State.String.
func ParseState(name string) (State, bool) {
	for i, n := range stateNames {
		if n == name {
			return State(i), true
		}
	}
	return 0, false
}

// States lists every state, in declaration order.
func States() []State {
	out := make([]State, len(stateNames))
	for i := range out {
		out[i] = State(i)
	}
	return out
}

// InSession reports whether a customer is in front of the kiosk in state s:
// maintenance and updates wait until no state with a customer is left.
func (s State) InSession() bool {
	switch s {
	case StateEnterPhone, StateLookup, StateConfirm, StateConfirmOffline,
		StateInsertCash, StateCompleting, StateDone,
		StateSelectService, StateEnterAccount, StateEnterReceipt, StateReceiptStatus:
		return true
	}
	return false
}

// Lang is a screen language. LANG cycles ru → kk → en.
type Lang int

// The languages of the screens.
const (
	LangRU Lang = iota
	LangKK
	LangEN
)

func (l Lang) String() string {
	switch l {
	case LangKK:
		return "kk"
	case LangEN:
		return "en"
	}
	return "ru"
}

// Next is the language the LANG key switches to.
func (l Lang) Next() Lang { return (l + 1) % 3 }

// ParseLang reads "ru", "kk" or "en".
func ParseLang(s string) (Lang, bool) {
	switch s {
	case "ru":
		return LangRU, true
	case "kk":
		return LangKK, true
	case "en":
		return LangEN, true
	}
	return 0, false
}

// Key is a key of the front panel: a digit "0"…"9" or one of the named buttons.
// The names are those of the sim panel socket (SPEC §5).
type Key string

// The named buttons. OK doubles as PAY in insert_cash.
const (
	KeyOK     Key = "OK"
	KeyCancel Key = "CANCEL"
	KeyBack   Key = "BACK"
	KeyLang   Key = "LANG"
)

// IsDigit reports whether k is one of "0"…"9".
func (k Key) IsDigit() bool { return len(k) == 1 && k[0] >= '0' && k[0] <= '9' }

// Valid reports whether k is a key of SPEC §5.
func (k Key) Valid() bool {
	return k.IsDigit() || k == KeyOK || k == KeyCancel || k == KeyBack || k == KeyLang
}

// Screen is what the display shows: four lines of at most 20 characters, in
// Unicode, before any display-ROM mapping.
type Screen struct {
	State State
	Lang  Lang
	Lines [4]string
}

// MarshalText makes JSON show a state by its contract name.
func (s State) MarshalText() ([]byte, error) { return []byte(s.String()), nil }

// MarshalText makes JSON show a language by its code.
func (l Lang) MarshalText() ([]byte, error) { return []byte(l.String()), nil }
