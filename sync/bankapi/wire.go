package bankapi

import (
	"encoding/json"
	"errors"
	"fmt"
	"math"
	"slices"
	"time"

	"tolem/kiosk"
)

// Limits of the API.
const (
	// MaxBody is the largest request or answer body either side accepts.
	MaxBody = 1 << 20
	// MaxBatch is the most top-ups one batch may carry.
	MaxBatch = 100
)

// Status is where the bank says a top-up stands.
type Status string

// The statuses of a top-up at the bank.
const (
	StatusPending  Status = "pending"
	StatusCredited Status = "credited"
	StatusRejected Status = "rejected"
)

// Valid reports whether s is one of the statuses the API defines.
func (s Status) Valid() bool {
	return s == StatusPending || s == StatusCredited || s == StatusRejected
}

// Sync is the ledger's sync state for a top-up the bank answered with s.
func (s Status) Sync() kiosk.SyncState {
	switch s {
	case StatusCredited:
		return kiosk.SyncCredited
	case StatusRejected:
		return kiosk.SyncRejected
	}
	return kiosk.SyncPending
}

// ErrInvalidBody is wrapped by the parse and validation errors of request
// bodies (the bank's 422 invalid).
var ErrInvalidBody = errors.New("invalid body")

// formatTime is the one wire form of a time. Whole seconds keep the body bytes
// of a top-up the same whether its times come from memory or from the ledger,
// whatever precision the ledger stores.
func formatTime(t time.Time) string { return t.UTC().Format(time.RFC3339) }

func parseTime(field, s string) (time.Time, error) {
	t, err := time.Parse(time.RFC3339, s)
	if err != nil {
		return time.Time{}, fmt.Errorf("%s %q is not an RFC 3339 time", field, s)
	}
	// A zone offset can carry year 0000 or 9999 out of what RFC 3339 can
	// write in UTC, and every wire time must survive being written again.
	if t = t.UTC(); t.Year() < 1 || t.Year() > 9999 {
		return time.Time{}, fmt.Errorf("%s %q is out of range", field, s)
	}
	return t, nil
}

// optTime is a wire time that may be null or absent.
func optTime(t time.Time) *string {
	if t.IsZero() {
		return nil
	}
	s := formatTime(t)
	return &s
}

func parseOptTime(field string, s *string) (time.Time, error) {
	if s == nil || *s == "" {
		return time.Time{}, nil
	}
	return parseTime(field, *s)
}

// TopUpBody is the body of POST /v1/topups and an item of a batch.
type TopUpBody struct {
	ID          string            `json:"id"`
	ReceiptNo   int64             `json:"receipt_no"`
	Phone       kiosk.Phone       `json:"phone"`
	Amount      kiosk.Money       `json:"amount"`
	Currency    string            `json:"currency"`
	Bills       []kiosk.BillCount `json:"bills"`
	CreatedAt   time.Time         `json:"created_at"`
	CompletedAt time.Time         `json:"completed_at"`
	Offline     bool              `json:"offline"`
}

// BodyFromTopUp is the wire body of a top-up from the ledger. The bills are
// merged by value and sorted, so that the same top-up always gives the same bytes.
func BodyFromTopUp(t kiosk.TopUp) TopUpBody {
	return TopUpBody{
		ID:          t.ID,
		ReceiptNo:   t.ReceiptNo,
		Phone:       t.Phone,
		Amount:      t.Amount,
		Currency:    kiosk.Currency,
		Bills:       normalizeBills(t.Bills),
		CreatedAt:   t.CreatedAt.UTC(),
		CompletedAt: t.CompletedAt.UTC(),
		Offline:     t.Offline,
	}
}

func normalizeBills(in []kiosk.BillCount) []kiosk.BillCount {
	byValue := map[kiosk.Money]int{}
	for _, b := range in {
		byValue[b.Value] += b.Count
	}
	out := make([]kiosk.BillCount, 0, len(byValue))
	for v, n := range byValue {
		out = append(out, kiosk.BillCount{Value: v, Count: n})
	}
	slices.SortFunc(out, func(a, b kiosk.BillCount) int {
		switch {
		case a.Value < b.Value:
			return -1
		case a.Value > b.Value:
			return 1
		}
		return 0
	})
	return out
}

type wireBill struct {
	Value *int64 `json:"value"`
	Count *int   `json:"count"`
}

type wireTopUp struct {
	ID          *string     `json:"id"`
	ReceiptNo   *int64      `json:"receipt_no"`
	Phone       *string     `json:"phone"`
	Amount      *int64      `json:"amount"`
	Currency    *string     `json:"currency"`
	Bills       *[]wireBill `json:"bills"`
	CreatedAt   *string     `json:"created_at"`
	CompletedAt *string     `json:"completed_at"`
	Offline     *bool       `json:"offline"`
}

// Marshal is the body's bytes: the same body always gives the same bytes,
// which a retry must send again unchanged.
func (b TopUpBody) Marshal() ([]byte, error) { return json.Marshal(b) }

// MarshalJSON writes the wire form: times RFC 3339 UTC in whole seconds.
func (b TopUpBody) MarshalJSON() ([]byte, error) {
	bills := b.Bills
	if bills == nil {
		bills = []kiosk.BillCount{}
	}
	return json.Marshal(struct {
		ID          string            `json:"id"`
		ReceiptNo   int64             `json:"receipt_no"`
		Phone       kiosk.Phone       `json:"phone"`
		Amount      kiosk.Money       `json:"amount"`
		Currency    string            `json:"currency"`
		Bills       []kiosk.BillCount `json:"bills"`
		CreatedAt   string            `json:"created_at"`
		CompletedAt string            `json:"completed_at"`
		Offline     bool              `json:"offline"`
	}{b.ID, b.ReceiptNo, b.Phone, b.Amount, b.Currency, bills,
		formatTime(b.CreatedAt), formatTime(b.CompletedAt), b.Offline})
}

// UnmarshalJSON reads the wire form and refuses a body with a field missing
// or of the wrong type; Validate checks the values.
func (b *TopUpBody) UnmarshalJSON(data []byte) error {
	var w wireTopUp
	if err := json.Unmarshal(data, &w); err != nil {
		return fmt.Errorf("%w: %v", ErrInvalidBody, err)
	}
	missing := missingFields(map[string]bool{
		"id": w.ID == nil, "receipt_no": w.ReceiptNo == nil, "phone": w.Phone == nil,
		"amount": w.Amount == nil, "currency": w.Currency == nil, "bills": w.Bills == nil,
		"created_at": w.CreatedAt == nil, "completed_at": w.CompletedAt == nil,
		"offline": w.Offline == nil,
	})
	if missing != "" {
		return fmt.Errorf("%w: missing %s", ErrInvalidBody, missing)
	}
	bills, err := readBills(*w.Bills)
	if err != nil {
		return err
	}
	created, err := parseTime("created_at", *w.CreatedAt)
	if err != nil {
		return fmt.Errorf("%w: %v", ErrInvalidBody, err)
	}
	completed, err := parseTime("completed_at", *w.CompletedAt)
	if err != nil {
		return fmt.Errorf("%w: %v", ErrInvalidBody, err)
	}
	*b = TopUpBody{
		ID: *w.ID, ReceiptNo: *w.ReceiptNo, Phone: kiosk.Phone(*w.Phone),
		Amount: kiosk.Money(*w.Amount), Currency: *w.Currency, Bills: bills,
		CreatedAt: created, CompletedAt: completed, Offline: *w.Offline,
	}
	return nil
}

func readBills(in []wireBill) ([]kiosk.BillCount, error) {
	out := make([]kiosk.BillCount, 0, len(in))
	for i, wb := range in {
		if wb.Value == nil || wb.Count == nil {
			return nil, fmt.Errorf("%w: bills[%d] needs value and count", ErrInvalidBody, i)
		}
		out = append(out, kiosk.BillCount{Value: kiosk.Money(*wb.Value), Count: *wb.Count})
	}
	return out, nil
}

// missingFields names the fields flagged missing, in a stable order.
func missingFields(m map[string]bool) string {
	var names []string
	for k, miss := range m {
		if miss {
			names = append(names, k)
		}
	}
	slices.Sort(names)
	s := ""
	for i, n := range names {
		if i > 0 {
			s += ", "
		}
		s += n
	}
	return s
}

// Validate checks what the bank checks before it takes a top-up; a failure is
// its 422 invalid.
func (b TopUpBody) Validate() error {
	if !IsUUID(b.ID) {
		return fmt.Errorf("%w: id %q is not a UUID", ErrInvalidBody, b.ID)
	}
	if b.ReceiptNo <= 0 {
		return fmt.Errorf("%w: receipt_no must be positive", ErrInvalidBody)
	}
	if !ValidPhone(b.Phone) {
		return fmt.Errorf("%w: phone %s is not +7 and 10 digits", ErrInvalidBody, b.Phone.Masked())
	}
	if b.Currency != kiosk.Currency {
		return fmt.Errorf("%w: currency %q is not %s", ErrInvalidBody, b.Currency, kiosk.Currency)
	}
	if len(b.Bills) == 0 {
		return fmt.Errorf("%w: a top-up needs at least one bill", ErrInvalidBody)
	}
	sum, err := sumBills(b.Bills)
	if err != nil {
		return err
	}
	if b.Amount <= 0 || sum != b.Amount {
		return fmt.Errorf("%w: amount %d is not the sum of the bills (%d)", ErrInvalidBody, b.Amount, sum)
	}
	if b.CompletedAt.Before(b.CreatedAt) {
		return fmt.Errorf("%w: completed_at is before created_at", ErrInvalidBody)
	}
	return nil
}

func sumBills(bills []kiosk.BillCount) (kiosk.Money, error) {
	var sum int64
	for i, bl := range bills {
		if bl.Value <= 0 || bl.Count <= 0 {
			return 0, fmt.Errorf("%w: bills[%d] needs a positive value and count", ErrInvalidBody, i)
		}
		if int64(bl.Value) > (math.MaxInt64-sum)/int64(bl.Count) {
			return 0, fmt.Errorf("%w: bills overflow", ErrInvalidBody)
		}
		sum += int64(bl.Value) * int64(bl.Count)
	}
	return kiosk.Money(sum), nil
}

// ParseTopUpBody reads and validates a top-up body, as the bank does.
func ParseTopUpBody(data []byte) (TopUpBody, error) {
	var b TopUpBody
	if err := json.Unmarshal(data, &b); err != nil {
		if errors.Is(err, ErrInvalidBody) {
			return TopUpBody{}, err
		}
		return TopUpBody{}, fmt.Errorf("%w: %v", ErrInvalidBody, err)
	}
	if err := b.Validate(); err != nil {
		return TopUpBody{}, err
	}
	return b, nil
}

// IsUUID reports whether s has the 8-4-4-4-12 hex form of a UUID.
func IsUUID(s string) bool {
	if len(s) != 36 {
		return false
	}
	for i := 0; i < len(s); i++ {
		c := s[i]
		switch i {
		case 8, 13, 18, 23:
			if c != '-' {
				return false
			}
		default:
			if !(c >= '0' && c <= '9' || c >= 'a' && c <= 'f' || c >= 'A' && c <= 'F') {
				return false
			}
		}
	}
	return true
}

// ValidPhone reports whether p is "+7" and 10 digits. The bank does not know a
// kiosk's prefix list; the kiosk checks that before a number reaches the wire.
func ValidPhone(p kiosk.Phone) bool {
	if len(p) != 12 || p[0] != '+' || p[1] != '7' {
		return false
	}
	for i := 2; i < 12; i++ {
		if p[i] < '0' || p[i] > '9' {
			return false
		}
	}
	return true
}

// TopUpStatus is the bank's word on a top-up: the answer body of a submit and
// of GET /v1/topups/{id}.
type TopUpStatus struct {
	ID     string `json:"id"`
	Status Status `json:"status"`
	// CreditedAt is zero until the bank has credited the wallet.
	CreditedAt time.Time `json:"credited_at"`
	// Reason says why a top-up was rejected ("wallet_not_found").
	Reason string `json:"reason"`
}

type wireStatus struct {
	ID         *string `json:"id"`
	Status     *string `json:"status"`
	CreditedAt *string `json:"credited_at"`
	Reason     *string `json:"reason"`
}

// MarshalJSON writes credited_at as null until the top-up is credited.
func (s TopUpStatus) MarshalJSON() ([]byte, error) {
	return json.Marshal(struct {
		ID         string  `json:"id"`
		Status     Status  `json:"status"`
		CreditedAt *string `json:"credited_at"`
		Reason     string  `json:"reason"`
	}{s.ID, s.Status, optTime(s.CreditedAt), s.Reason})
}

// UnmarshalJSON refuses a status without id, or with a status the API does
// not define.
func (s *TopUpStatus) UnmarshalJSON(data []byte) error {
	var w wireStatus
	if err := json.Unmarshal(data, &w); err != nil {
		return err
	}
	return w.into(s)
}

func (w wireStatus) into(s *TopUpStatus) error {
	if w.ID == nil || *w.ID == "" {
		return errors.New("status without id")
	}
	if w.Status == nil {
		return errors.New("status without status")
	}
	st := Status(*w.Status)
	if !st.Valid() {
		return fmt.Errorf("unknown status %q", *w.Status)
	}
	at, err := parseOptTime("credited_at", w.CreditedAt)
	if err != nil {
		return err
	}
	reason := ""
	if w.Reason != nil {
		reason = *w.Reason
	}
	*s = TopUpStatus{ID: *w.ID, Status: st, CreditedAt: at, Reason: reason}
	return nil
}

// DecodeStatus reads a top-up status answer.
func DecodeStatus(data []byte) (TopUpStatus, error) {
	var s TopUpStatus
	if err := json.Unmarshal(data, &s); err != nil {
		return TopUpStatus{}, garbage("top-up status", err)
	}
	return s, nil
}

// LookupRequest is the body of POST /v1/wallets/lookup.
type LookupRequest struct {
	Phone kiosk.Phone `json:"phone"`
}

// LookupResult is the bank's answer to a wallet lookup.
type LookupResult struct {
	Found bool `json:"found"`
	// Name is the recipient's masked name, set when Found.
	Name string `json:"name,omitempty"`
}

// DecodeLookup reads a lookup answer; a found wallet must come with a name,
// which the customer confirms on the screen.
func DecodeLookup(data []byte) (LookupResult, error) {
	var w struct {
		Found *bool   `json:"found"`
		Name  *string `json:"name"`
	}
	if err := json.Unmarshal(data, &w); err != nil {
		return LookupResult{}, garbage("wallet lookup", err)
	}
	if w.Found == nil {
		return LookupResult{}, garbage("wallet lookup", errors.New("no found field"))
	}
	if !*w.Found {
		return LookupResult{}, nil
	}
	if w.Name == nil || *w.Name == "" {
		return LookupResult{}, garbage("wallet lookup", errors.New("wallet found without a name"))
	}
	return LookupResult{Found: true, Name: *w.Name}, nil
}

// PingResult is the answer of GET /v1/ping.
type PingResult struct {
	Time time.Time `json:"time"`
}

// MarshalJSON writes the time in the wire form.
func (p PingResult) MarshalJSON() ([]byte, error) {
	return json.Marshal(struct {
		Time string `json:"time"`
	}{formatTime(p.Time)})
}

// DecodePing reads a ping answer. The time may be RFC 3339 or unix seconds:
// the contract does not fix it and either tells the bank's clock.
func DecodePing(data []byte) (PingResult, error) {
	var w struct {
		Time *json.RawMessage `json:"time"`
	}
	if err := json.Unmarshal(data, &w); err != nil {
		return PingResult{}, garbage("ping", err)
	}
	if w.Time == nil {
		return PingResult{}, garbage("ping", errors.New("no time"))
	}
	var s string
	if err := json.Unmarshal(*w.Time, &s); err == nil {
		t, err := parseTime("time", s)
		if err != nil {
			return PingResult{}, garbage("ping", err)
		}
		return PingResult{Time: t}, nil
	}
	var n int64
	if err := json.Unmarshal(*w.Time, &n); err != nil {
		return PingResult{}, garbage("ping", fmt.Errorf("time is neither RFC 3339 nor unix seconds: %v", err))
	}
	return PingResult{Time: time.Unix(n, 0).UTC()}, nil
}

// BatchRequest is the body of POST /v1/topups/batch. The items are the very
// bytes of the single bodies, so that a top-up sent alone and in a batch is
// the same body to the bank.
type BatchRequest struct {
	TopUps []json.RawMessage `json:"topups"`
}

// BatchResult is the answer of a batch.
type BatchResult struct {
	Results []ItemResult `json:"results"`
}

// ItemResult is the bank's answer for one top-up of a batch, with the
// semantics of a single POST.
type ItemResult struct {
	ID string `json:"id"`
	// Code is 201, 202 or 200 with Status, or 409/422 with Error; 0 when the
	// bank left the item out of its answer.
	Code    int         `json:"code"`
	Status  TopUpStatus `json:"status"`
	Error   string      `json:"error"`
	Message string      `json:"message"`
	// Err is what the outbox classifies for this item: nil when the bank took
	// it, an *HTTPError for 409/422 and other codes (Review, Retryable), or a
	// retryable error when the bank did not answer for it.
	Err error `json:"-"`
}

// Accepted reports whether the bank took the item (201, 202 or 200).
func (r ItemResult) Accepted() bool {
	return r.Code == 200 || r.Code == 201 || r.Code == 202
}

type wireItem struct {
	ID         *string          `json:"id"`
	Code       *int             `json:"code"`
	Status     *json.RawMessage `json:"status"`
	CreditedAt *string          `json:"credited_at"`
	Reason     *string          `json:"reason"`
	Error      *string          `json:"error"`
	Message    *string          `json:"message"`
}

// MarshalJSON writes an item as the bank does: status as a string beside
// credited_at and reason for an accepted item, error and message otherwise.
func (r ItemResult) MarshalJSON() ([]byte, error) {
	type accepted struct {
		ID         string  `json:"id"`
		Code       int     `json:"code"`
		Status     Status  `json:"status"`
		CreditedAt *string `json:"credited_at"`
		Reason     string  `json:"reason"`
	}
	type refused struct {
		ID      string `json:"id"`
		Code    int    `json:"code"`
		Error   string `json:"error"`
		Message string `json:"message,omitempty"`
	}
	if r.Accepted() {
		return json.Marshal(accepted{r.ID, r.Code, r.Status.Status, optTime(r.Status.CreditedAt), r.Status.Reason})
	}
	return json.Marshal(refused{r.ID, r.Code, r.Error, r.Message})
}

// UnmarshalJSON reads an item. The status may be a string (beside
// credited_at and reason) or a whole status object: the contract shows the
// former, and the latter says the same.
func (r *ItemResult) UnmarshalJSON(data []byte) error {
	var w wireItem
	if err := json.Unmarshal(data, &w); err != nil {
		return err
	}
	if w.Code == nil {
		return errors.New("batch item without code")
	}
	out := ItemResult{Code: *w.Code}
	if w.ID != nil {
		out.ID = *w.ID
	}
	if w.Error != nil {
		out.Error = *w.Error
	}
	if w.Message != nil {
		out.Message = *w.Message
	}
	if out.Accepted() {
		if out.ID == "" {
			return fmt.Errorf("batch item with code %d without id", out.Code)
		}
		if w.Status == nil {
			return fmt.Errorf("batch item %s with code %d without status", out.ID, out.Code)
		}
		// json.Unmarshal writes through a non-nil pointer: the item's id gets
		// its own copy, so that a status object naming another id shows.
		id := out.ID
		ws := wireStatus{ID: &id, CreditedAt: w.CreditedAt, Reason: w.Reason}
		var s string
		if err := json.Unmarshal(*w.Status, &s); err == nil {
			ws.Status = &s
		} else if err := json.Unmarshal(*w.Status, &ws); err != nil {
			return fmt.Errorf("batch item %s: status is neither a string nor an object", out.ID)
		}
		if ws.ID == nil || *ws.ID != out.ID {
			return fmt.Errorf("batch item %s: status for another id", out.ID)
		}
		if err := ws.into(&out.Status); err != nil {
			return fmt.Errorf("batch item %s: %w", out.ID, err)
		}
	}
	*r = out
	return nil
}

// DecodeBatchResult reads a batch answer.
func DecodeBatchResult(data []byte) (BatchResult, error) {
	var w struct {
		Results *[]ItemResult `json:"results"`
	}
	if err := json.Unmarshal(data, &w); err != nil {
		return BatchResult{}, garbage("batch", err)
	}
	if w.Results == nil {
		return BatchResult{}, garbage("batch", errors.New("no results"))
	}
	return BatchResult{Results: *w.Results}, nil
}

// ErrorBody is the body of every error answer.
type ErrorBody struct {
	Error   string `json:"error"`
	Message string `json:"message,omitempty"`
}

// Error codes of the API.
const (
	CodeBadSignature        = "bad_signature"
	CodeStaleTimestamp      = "stale_timestamp"
	CodeIdempotencyConflict = "idempotency_conflict"
	CodeInvalid             = "invalid"
	CodeRateLimited         = "rate_limited"
	CodeUnavailable         = "unavailable"
	CodeNotFound            = "not_found"
	CodeTooLarge            = "too_large"
)

// DecodeError reads an error body.
func DecodeError(data []byte) (ErrorBody, error) {
	var w struct {
		Error   *string `json:"error"`
		Message *string `json:"message"`
	}
	if err := json.Unmarshal(data, &w); err != nil {
		return ErrorBody{}, garbage("error", err)
	}
	if w.Error == nil || *w.Error == "" {
		return ErrorBody{}, garbage("error", errors.New("no error code"))
	}
	e := ErrorBody{Error: *w.Error}
	if w.Message != nil {
		e.Message = *w.Message
	}
	return e, nil
}

// CollectionBody is the body of POST /v1/collections: what a technician took
// out of the kiosk in one encashment.
type CollectionBody struct {
	ID             string            `json:"id"`
	CassetteID     string            `json:"cassette_id"`
	OpenedAt       time.Time         `json:"opened_at"`
	ClosedAt       time.Time         `json:"closed_at"`
	Bills          []kiosk.BillCount `json:"bills"`
	Amount         kiosk.Money       `json:"amount"`
	TopUps         int               `json:"topups"`
	FirstReceiptNo int64             `json:"first_receipt_no"`
	LastReceiptNo  int64             `json:"last_receipt_no"`
	// Chain is the head of the kiosk's ledger hash chain right after this
	// collection was recorded; nil (absent on the wire) from a kiosk
	// without the chain.
	Chain *kiosk.ChainHead `json:"chain,omitempty"`
}

// Marshal is the body's bytes, the same for the same collection, which a
// retry must send again unchanged.
func (c CollectionBody) Marshal() ([]byte, error) { return json.Marshal(c) }

// MarshalJSON writes the wire form.
func (c CollectionBody) MarshalJSON() ([]byte, error) {
	bills := c.Bills
	if bills == nil {
		bills = []kiosk.BillCount{}
	}
	return json.Marshal(struct {
		ID             string            `json:"id"`
		CassetteID     string            `json:"cassette_id"`
		OpenedAt       string            `json:"opened_at"`
		ClosedAt       string            `json:"closed_at"`
		Bills          []kiosk.BillCount `json:"bills"`
		Amount         kiosk.Money       `json:"amount"`
		TopUps         int               `json:"topups"`
		FirstReceiptNo int64             `json:"first_receipt_no"`
		LastReceiptNo  int64             `json:"last_receipt_no"`
		Chain          *kiosk.ChainHead  `json:"chain,omitempty"`
	}{c.ID, c.CassetteID, formatTime(c.OpenedAt), formatTime(c.ClosedAt), bills,
		c.Amount, c.TopUps, c.FirstReceiptNo, c.LastReceiptNo, c.Chain})
}

// UnmarshalJSON refuses a collection with a field missing or of the wrong type.
func (c *CollectionBody) UnmarshalJSON(data []byte) error {
	var w struct {
		ID             *string     `json:"id"`
		CassetteID     *string     `json:"cassette_id"`
		OpenedAt       *string     `json:"opened_at"`
		ClosedAt       *string     `json:"closed_at"`
		Bills          *[]wireBill `json:"bills"`
		Amount         *int64      `json:"amount"`
		TopUps         *int        `json:"topups"`
		FirstReceiptNo *int64      `json:"first_receipt_no"`
		LastReceiptNo  *int64      `json:"last_receipt_no"`
		Chain          *wireChain  `json:"chain"`
	}
	if err := json.Unmarshal(data, &w); err != nil {
		return fmt.Errorf("%w: %v", ErrInvalidBody, err)
	}
	missing := missingFields(map[string]bool{
		"id": w.ID == nil, "cassette_id": w.CassetteID == nil, "opened_at": w.OpenedAt == nil,
		"closed_at": w.ClosedAt == nil, "bills": w.Bills == nil, "amount": w.Amount == nil,
		"topups": w.TopUps == nil, "first_receipt_no": w.FirstReceiptNo == nil,
		"last_receipt_no": w.LastReceiptNo == nil,
	})
	if missing != "" {
		return fmt.Errorf("%w: missing %s", ErrInvalidBody, missing)
	}
	bills, err := readBills(*w.Bills)
	if err != nil {
		return err
	}
	opened, err := parseTime("opened_at", *w.OpenedAt)
	if err != nil {
		return fmt.Errorf("%w: %v", ErrInvalidBody, err)
	}
	closed, err := parseTime("closed_at", *w.ClosedAt)
	if err != nil {
		return fmt.Errorf("%w: %v", ErrInvalidBody, err)
	}
	*c = CollectionBody{
		ID: *w.ID, CassetteID: *w.CassetteID, OpenedAt: opened, ClosedAt: closed,
		Bills: bills, Amount: kiosk.Money(*w.Amount), TopUps: *w.TopUps,
		FirstReceiptNo: *w.FirstReceiptNo, LastReceiptNo: *w.LastReceiptNo,
	}
	if w.Chain != nil {
		h, err := w.Chain.head()
		if err != nil {
			return err
		}
		c.Chain = &h
	}
	return nil
}

// Validate checks a collection as the bank does.
func (c CollectionBody) Validate() error {
	if !IsUUID(c.ID) {
		return fmt.Errorf("%w: id %q is not a UUID", ErrInvalidBody, c.ID)
	}
	if c.CassetteID == "" {
		return fmt.Errorf("%w: cassette_id is empty", ErrInvalidBody)
	}
	sum, err := sumBills(c.Bills)
	if err != nil {
		return err
	}
	if sum != c.Amount {
		return fmt.Errorf("%w: amount %d is not the sum of the bills (%d)", ErrInvalidBody, c.Amount, sum)
	}
	if c.TopUps < 0 || c.TopUps > 0 && c.FirstReceiptNo > c.LastReceiptNo {
		return fmt.Errorf("%w: topups and receipt numbers disagree", ErrInvalidBody)
	}
	if c.ClosedAt.Before(c.OpenedAt) {
		return fmt.Errorf("%w: closed_at is before opened_at", ErrInvalidBody)
	}
	if c.Chain != nil {
		return ValidChainHead(*c.Chain)
	}
	return nil
}

// ParseCollectionBody reads and validates a collection body, as the bank does.
func ParseCollectionBody(data []byte) (CollectionBody, error) {
	var c CollectionBody
	if err := json.Unmarshal(data, &c); err != nil {
		if errors.Is(err, ErrInvalidBody) {
			return CollectionBody{}, err
		}
		return CollectionBody{}, fmt.Errorf("%w: %v", ErrInvalidBody, err)
	}
	if err := c.Validate(); err != nil {
		return CollectionBody{}, err
	}
	return c, nil
}

// Heartbeat is the body of POST /v1/heartbeat: the kiosk's health for the
// bank's fleet monitoring.
type Heartbeat struct {
	State    string             `json:"state"`
	Version  string             `json:"version"`
	Acceptor kiosk.AcceptorInfo `json:"acceptor"`
	Cassette Cassette           `json:"cassette"`
	Queue    HeartbeatQueue     `json:"queue"`
	// Alarms are the raised alarms ("topup_overdue"): a top-up unsent or
	// pending 20 minutes after completion must show at the bank too.
	Alarms []string `json:"alarms,omitempty"`
	// Chain is the head of the ledger's hash chain; nil (absent on the
	// wire) when the ledger is unusable or keeps no chain.
	Chain *kiosk.ChainHead `json:"chain,omitempty"`
	// ClockJump, optional, is the last jump of the kiosk's wall clock since
	// kioskd started: the bank sees why a kiosk's times were off.
	ClockJump *ClockJump `json:"clock_jump,omitempty"`
}

// ClockJump is a jump of the kiosk's wall clock against its monotonic
// clock (a Pi without a real-time clock set by NTP after boot, or a clock
// set back).
type ClockJump struct {
	// From is what the wall clock should have read, To what it read; both
	// UTC, to the second.
	From time.Time `json:"from"`
	To   time.Time `json:"to"`
	// DeltaS is To - From in seconds, negative for a jump back.
	DeltaS int64 `json:"delta_s"`
}

// NewClockJump is the wire form of a jump from from to to.
func NewClockJump(from, to time.Time) *ClockJump {
	return &ClockJump{From: from.UTC().Truncate(time.Second), To: to.UTC().Truncate(time.Second), DeltaS: int64(to.Sub(from) / time.Second)}
}

// Cassette is the fill of the bill cassette.
type Cassette struct {
	Count    int         `json:"count"`
	Amount   kiosk.Money `json:"amount"`
	Capacity int         `json:"capacity"`
}

// HeartbeatQueue is the state of the outbox.
type HeartbeatQueue struct {
	Unsent  int `json:"unsent"`
	Pending int `json:"pending"`
	// OldestAt is the completion time of the oldest unsent or pending top-up;
	// zero (null on the wire) when there is none.
	OldestAt time.Time `json:"oldest_at"`
}

// MarshalJSON writes oldest_at as null when the queue is empty.
func (q HeartbeatQueue) MarshalJSON() ([]byte, error) {
	return json.Marshal(struct {
		Unsent   int     `json:"unsent"`
		Pending  int     `json:"pending"`
		OldestAt *string `json:"oldest_at"`
	}{q.Unsent, q.Pending, optTime(q.OldestAt)})
}

// UnmarshalJSON reads the wire form.
func (q *HeartbeatQueue) UnmarshalJSON(data []byte) error {
	var w struct {
		Unsent   int     `json:"unsent"`
		Pending  int     `json:"pending"`
		OldestAt *string `json:"oldest_at"`
	}
	if err := json.Unmarshal(data, &w); err != nil {
		return err
	}
	at, err := parseOptTime("oldest_at", w.OldestAt)
	if err != nil {
		return err
	}
	*q = HeartbeatQueue{Unsent: w.Unsent, Pending: w.Pending, OldestAt: at}
	return nil
}

// wireChain is the optional "chain" object as read off the wire.
type wireChain struct {
	Count *int64  `json:"count"`
	Head  *string `json:"head"`
}

func (w wireChain) head() (kiosk.ChainHead, error) {
	if missing := missingFields(map[string]bool{"count": w.Count == nil, "head": w.Head == nil}); missing != "" {
		return kiosk.ChainHead{}, fmt.Errorf("%w: chain: missing %s", ErrInvalidBody, missing)
	}
	return kiosk.ChainHead{Count: *w.Count, Head: *w.Head}, nil
}

// ValidChainHead checks a chain head as the bank does: a count of entries
// and the lowercase hex SHA-256 of the last one ("" when there is none).
func ValidChainHead(h kiosk.ChainHead) error {
	switch {
	case h.Count < 0:
		return fmt.Errorf("%w: chain: negative count %d", ErrInvalidBody, h.Count)
	case h.Count == 0 && h.Head != "":
		return fmt.Errorf("%w: chain: a head with no entries", ErrInvalidBody)
	case h.Count > 0 && !isSHA256Hex(h.Head):
		return fmt.Errorf("%w: chain: head %q is not a lowercase hex SHA-256", ErrInvalidBody, h.Head)
	}
	return nil
}

func isSHA256Hex(s string) bool {
	if len(s) != 64 {
		return false
	}
	for _, r := range s {
		if (r < '0' || r > '9') && (r < 'a' || r > 'f') {
			return false
		}
	}
	return true
}
