package kiosk

import (
	"bytes"
	"context"
	"encoding/json"
	"errors"
	"fmt"
	"strconv"
	"strings"
	"time"
)

// ServiceKind is what a service of the bank's catalog is for.
type ServiceKind string

// The kinds of SPEC §2.
const (
	KindWallet  ServiceKind = "wallet"
	KindMobile  ServiceKind = "mobile"
	KindUtility ServiceKind = "utility"
	KindLoan    ServiceKind = "loan"
)

// AccountKind is how a service's account is typed in.
type AccountKind string

// Account kinds: a phone number (+7 and 10 digits), or a run of digits.
const (
	AccountPhone  AccountKind = "phone"
	AccountDigits AccountKind = "digits"
)

// WalletServiceID is the id of the wallet in the catalog. A top-up without
// a service is a wallet top-up: the ledger and the wire leave it empty.
const WalletServiceID = "wallet"

// maxAccountLen bounds a digits account, so that it fits one display line.
const maxAccountLen = 20

// AccountRule is how a service's account is checked on the screen, before
// anything reaches the bank.
type AccountRule struct {
	Kind AccountKind `json:"kind"`
	// Prefixes are the operator's three digits after +7 (a phone account);
	// none means the kiosk's own list. The wire has them as strings
	// ("705"); numbers are taken too.
	Prefixes Prefixes `json:"prefixes,omitempty"`
	// MinLen and MaxLen bound a digits account.
	MinLen int `json:"min_len,omitempty"`
	MaxLen int `json:"max_len,omitempty"`
}

// Service is one entry of the bank's catalog.
type Service struct {
	ID   string      `json:"id"`
	Kind ServiceKind `json:"kind"`
	// Name is the name in ru, kk and en; ru is always there.
	Name    map[string]string `json:"name"`
	Account AccountRule       `json:"account"`
	// Lookup: the account is looked up before cash goes in.
	Lookup bool `json:"lookup"`
	// Offline: cash may be taken while the bank is unreachable, with
	// double entry of the account.
	Offline bool `json:"offline"`
	// MinAmount is shown, and PAY refused below it; MaxAmount bounds the
	// session like limits.max_amount does. Zero: no bound of its own.
	MinAmount Money `json:"min_amount,omitempty"`
	MaxAmount Money `json:"max_amount,omitempty"`
}

// DisplayName is the service's name in l, falling back to ru, then to its id.
func (s Service) DisplayName(l Lang) string {
	if n := s.Name[l.String()]; n != "" {
		return n
	}
	if n := s.Name["ru"]; n != "" {
		return n
	}
	return s.ID
}

// IsWallet reports whether s is the wallet top-up.
func (s Service) IsWallet() bool { return s.Kind == KindWallet }

// LedgerID is the service as a top-up records it: empty for the wallet.
func (s Service) LedgerID() string {
	if s.IsWallet() {
		return ""
	}
	return s.ID
}

// CheckAccount checks digits typed for a digits account.
func (s Service) CheckAccount(digits string) error {
	if s.Account.Kind != AccountDigits {
		return fmt.Errorf("service %s: account is a %s, not digits", s.ID, s.Account.Kind)
	}
	for _, r := range digits {
		if r < '0' || r > '9' {
			return fmt.Errorf("account %q: %w", digits, ErrAccountLength)
		}
	}
	if len(digits) < s.Account.MinLen || len(digits) > s.Account.MaxLen {
		return fmt.Errorf("account of %d digits, service %s takes %d to %d: %w",
			len(digits), s.ID, s.Account.MinLen, s.Account.MaxLen, ErrAccountLength)
	}
	return nil
}

// Prefixes are phone prefixes: the three digits after +7.
type Prefixes []int

// UnmarshalJSON reads ["705","771"] as SPEC §2 writes them, or [705,771].
func (p *Prefixes) UnmarshalJSON(data []byte) error {
	var raw []json.RawMessage
	if err := json.Unmarshal(data, &raw); err != nil {
		return fmt.Errorf("prefixes: %w", err)
	}
	out := make(Prefixes, 0, len(raw))
	for _, r := range raw {
		var s string
		if err := json.Unmarshal(r, &s); err != nil {
			var n int
			if err := json.Unmarshal(r, &n); err != nil {
				return fmt.Errorf("prefix %s is neither \"705\" nor 705", r)
			}
			out = append(out, n)
			continue
		}
		if len(s) != 3 {
			return fmt.Errorf("prefix %q is not three digits", s)
		}
		n, err := strconv.Atoi(s)
		if err != nil {
			return fmt.Errorf("prefix %q is not three digits", s)
		}
		out = append(out, n)
	}
	*p = out
	return nil
}

// MarshalJSON writes the prefixes as SPEC §2 does, as strings.
func (p Prefixes) MarshalJSON() ([]byte, error) {
	out := make([]string, len(p))
	for i, n := range p {
		out[i] = fmt.Sprintf("%03d", n)
	}
	return json.Marshal(out)
}

// ErrAccountLength: a digits account of a length the service does not take.
var ErrAccountLength = errors.New("account number of the wrong length")

// Catalog is the bank's list of services (GET /v1/services).
type Catalog struct {
	Version  string    `json:"version"`
	Services []Service `json:"services"`
	// FetchedAt is when the kiosk got it (zero for the built-in default).
	FetchedAt time.Time `json:"-"`
}

// DefaultWallet is the wallet as the kiosk shows it before it ever got a
// catalog.
func DefaultWallet() Service {
	return Service{ID: WalletServiceID, Kind: KindWallet,
		Name:    map[string]string{"ru": "Пополнение кошелька", "kk": "Әмиянды толтыру", "en": "Wallet top-up"},
		Account: AccountRule{Kind: AccountPhone}, Lookup: true, Offline: true}
}

// DefaultCatalog is the catalog of a kiosk that never got one: the wallet
// only.
func DefaultCatalog() Catalog {
	return Catalog{Services: []Service{DefaultWallet()}}
}

// Lookup returns the service with that id.
func (c Catalog) Lookup(id string) (Service, bool) {
	for _, s := range c.Services {
		if s.ID == id {
			return s, true
		}
	}
	return Service{}, false
}

// Wallet is the catalog's wallet entry, or the default one.
func (c Catalog) Wallet() Service {
	for _, s := range c.Services {
		if s.IsWallet() {
			return s
		}
	}
	return DefaultWallet()
}

// Menu lists the services in menu order: the wallet first, then the
// catalog's order.
func (c Catalog) Menu() []Service {
	out := []Service{c.Wallet()}
	for _, s := range c.Services {
		if !s.IsWallet() {
			out = append(out, s)
		}
	}
	return out
}

// ErrBadCatalog: a catalog the kiosk cannot use; it is refused whole.
var ErrBadCatalog = errors.New("catalog refused")

// ParseCatalog reads and checks a GET /v1/services body. A catalog the kiosk
// cannot use in full (bad JSON, an unknown kind or account kind, a service
// without an id or a Russian name, bounds that make no sense) is refused
// whole: half a menu would send customers to a service the bank may not
// know.
func ParseCatalog(data []byte) (Catalog, error) {
	var w struct {
		Version  *string            `json:"version"`
		Services *[]json.RawMessage `json:"services"`
	}
	if err := json.Unmarshal(data, &w); err != nil {
		return Catalog{}, fmt.Errorf("%w: not JSON: %v", ErrBadCatalog, err)
	}
	if w.Version == nil || *w.Version == "" || w.Services == nil {
		return Catalog{}, fmt.Errorf("%w: version and services are required", ErrBadCatalog)
	}
	c := Catalog{Version: *w.Version}
	seen := map[string]bool{}
	wallets := 0
	for i, raw := range *w.Services {
		var s Service
		dec := json.NewDecoder(bytes.NewReader(raw))
		if err := dec.Decode(&s); err != nil {
			return Catalog{}, fmt.Errorf("%w: services[%d]: %v", ErrBadCatalog, i, err)
		}
		if err := checkService(s); err != nil {
			return Catalog{}, fmt.Errorf("%w: services[%d] (%q): %v", ErrBadCatalog, i, s.ID, err)
		}
		if seen[s.ID] {
			return Catalog{}, fmt.Errorf("%w: services[%d]: id %q appears twice", ErrBadCatalog, i, s.ID)
		}
		seen[s.ID] = true
		if s.IsWallet() {
			wallets++
		}
		c.Services = append(c.Services, s)
	}
	if wallets > 1 {
		return Catalog{}, fmt.Errorf("%w: %d wallet services, at most one", ErrBadCatalog, wallets)
	}
	return c, nil
}

func checkService(s Service) error {
	if s.ID == "" || len(s.ID) > 64 || strings.ContainsFunc(s.ID, func(r rune) bool {
		return !(r >= 'a' && r <= 'z' || r >= 'A' && r <= 'Z' || r >= '0' && r <= '9' || r == '_' || r == '-' || r == '.')
	}) {
		return fmt.Errorf("id %q: want 1 to 64 letters, digits, '_', '-' or '.'", s.ID)
	}
	switch s.Kind {
	case KindWallet, KindMobile, KindUtility, KindLoan:
	default:
		return fmt.Errorf("unknown kind %q (want wallet, mobile, utility or loan)", s.Kind)
	}
	if strings.TrimSpace(s.Name["ru"]) == "" {
		return errors.New("no name (name.ru is required)")
	}
	for l := range s.Name {
		if _, ok := ParseLang(l); !ok {
			return fmt.Errorf("name in unknown language %q", l)
		}
	}
	switch s.Account.Kind {
	case AccountPhone:
		for _, p := range s.Account.Prefixes {
			if p < 100 || p > 999 {
				return fmt.Errorf("prefix %d is not three digits", p)
			}
		}
	case AccountDigits:
		if s.Account.MinLen < 1 || s.Account.MaxLen < s.Account.MinLen || s.Account.MaxLen > maxAccountLen {
			return fmt.Errorf("account lengths %d to %d: want 1 <= min_len <= max_len <= %d",
				s.Account.MinLen, s.Account.MaxLen, maxAccountLen)
		}
		if s.IsWallet() {
			return errors.New("the wallet's account is a phone number")
		}
	default:
		return fmt.Errorf("unknown account kind %q (want phone or digits)", s.Account.Kind)
	}
	if s.MinAmount < 0 || s.MaxAmount < 0 || (s.MaxAmount > 0 && s.MinAmount > s.MaxAmount) {
		return fmt.Errorf("min_amount %d and max_amount %d make no range", s.MinAmount, s.MaxAmount)
	}
	return nil
}

// Account is the bank's answer to an account lookup.
type Account struct {
	Found bool
	// Holder is the masked name as the bank sent it ("Н***н К.").
	Holder string
	// Address is the masked address, when the bank gave one.
	Address string
	// Debt is what is owed, when HasDebt.
	Debt    Money
	HasDebt bool
}

// AccountLookup asks the bank about a service's account (a phone account
// in E.164). Any error is the bank out of reach.
type AccountLookup interface {
	LookupAccount(ctx context.Context, service, account string) (Account, error)
}

// MaskAccount hides all but the last four characters of an account (a
// phone number or digits), for the screen, logs and the console.
func MaskAccount(a string) string {
	if strings.HasPrefix(a, "+7") && len(a) == 12 {
		return Phone(a).Masked()
	}
	if len(a) <= 4 {
		return strings.Repeat("*", len(a))
	}
	return "***" + a[len(a)-4:]
}

// Payee is who a top-up pays: the account for a digits service, else the
// phone.
func (t TopUp) Payee() string {
	if t.Account != "" {
		return t.Account
	}
	return string(t.Phone)
}

// ServiceName is the top-up's service as logs and the console show it.
func (t TopUp) ServiceName() string {
	if t.Service == "" {
		return WalletServiceID
	}
	return t.Service
}

// ReceiptState is a payment's state as the customer sees it at the kiosk.
type ReceiptState string

// Receipt states of receipt_status.
const (
	ReceiptCredited ReceiptState = "credited"
	ReceiptPending  ReceiptState = "pending"
	ReceiptRejected ReceiptState = "rejected"
)

// ReceiptInfo is what receipt_status shows of a payment.
type ReceiptInfo struct {
	ReceiptNo   int64
	CompletedAt time.Time
	Amount      Money
	Service     string // empty: the wallet
	Payee       string // the masked account
	State       ReceiptState
}

// ReceiptStatus finds a payment of this kiosk by its receipt number;
// kiosk.ErrNotFound when this kiosk has none.
type ReceiptStatus interface {
	ReceiptStatus(ctx context.Context, receiptNo int64) (ReceiptInfo, error)
}

// ParseReceiptNo reads a receipt number typed on the keypad.
func ParseReceiptNo(digits string) (int64, bool) {
	n, err := strconv.ParseInt(digits, 10, 64)
	return n, err == nil && n > 0
}

// ServiceTotal is what one service took in a cassette period, for the
// collection report.
type ServiceTotal struct {
	Service string `json:"service"` // "wallet" for wallet top-ups
	TopUps  int    `json:"topups"`
	Amount  Money  `json:"amount"`
}
