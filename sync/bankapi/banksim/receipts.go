package banksim

import (
	"context"
	"crypto/hmac"
	"crypto/sha256"
	"database/sql"
	"encoding/base32"
	"encoding/json"
	"errors"
	"net/http"
	"strconv"
	"time"

	"tolem/sync/bankapi"
)

// ReceiptCode is the receipt verification code as the bank computes it
// (SPEC §8), from the top-up it received: the first 10 characters of the
// upper-case, unpadded base32 of HMAC-SHA256(terminal secret, canonical).
// It is written here from the formula, not shared with the kiosk's code,
// as the bank's integrators would write it.
func ReceiptCode(secret []byte, terminal string, receiptNo int64, id string, amountTiyn int64, completedAt time.Time) string {
	canonical := "receipt\n" + terminal + "\n" + strconv.FormatInt(receiptNo, 10) + "\n" + id + "\n" +
		strconv.FormatInt(amountTiyn, 10) + "\n" + completedAt.UTC().Format(time.RFC3339)
	m := hmac.New(sha256.New, secret)
	m.Write([]byte(canonical))
	return base32.StdEncoding.WithPadding(base32.NoPadding).EncodeToString(m.Sum(nil))[:10]
}

// ReceiptCheck is the answer of GET /v1/receipts/verify.
type ReceiptCheck struct {
	Valid       bool           `json:"valid"`
	Terminal    string         `json:"terminal"`
	ReceiptNo   int64          `json:"receipt_no"`
	ID          string         `json:"id,omitempty"`
	Amount      int64          `json:"amount,omitempty"`
	CompletedAt string         `json:"completed_at,omitempty"`
	Status      bankapi.Status `json:"status,omitempty"`
	// Reason says why a receipt is not valid: unknown_receipt (the bank
	// has not received the top-up: an offline kiosk sends it later) or
	// wrong_code.
	Reason string `json:"reason,omitempty"`
}

// verifyReceipt serves GET /v1/receipts/verify?terminal=…&receipt=…&code=…,
// the check a customer's QR code points at. It needs no signature: the
// code is the proof, and the answer tells no more than the receipt does.
func (s *Server) verifyReceipt(w http.ResponseWriter, r *http.Request) {
	s.requests.Add(1)
	if r.Method != http.MethodGet {
		w.Header().Set("Allow", http.MethodGet)
		s.writeError(w, http.StatusMethodNotAllowed, "method_not_allowed", "GET only")
		return
	}
	q := r.URL.Query()
	terminal, code := q.Get("terminal"), q.Get("code")
	no, err := strconv.ParseInt(q.Get("receipt"), 10, 64)
	if terminal == "" || code == "" || err != nil || no <= 0 {
		s.writeError(w, http.StatusBadRequest, bankapi.CodeInvalid,
			"want terminal, receipt (a positive number) and code, e.g. ?terminal=KZ-ALA-0001&receipt=1234&code=ABCDEFGHIJ")
		return
	}
	out := ReceiptCheck{Terminal: terminal, ReceiptNo: no}
	secret, known := s.secretFor(terminal)
	var id string
	var body []byte
	var status string
	if known {
		s.mu.Lock()
		if s.db == nil {
			s.mu.Unlock()
			s.internal(w, errors.New("banksim is closed"))
			return
		}
		err = s.db.QueryRowContext(context.WithoutCancel(r.Context()),
			`SELECT id, body, status FROM topups WHERE terminal = ? AND receipt_no = ?`, terminal, no).Scan(&id, &body, &status)
		s.mu.Unlock()
		if err != nil && !errors.Is(err, sql.ErrNoRows) {
			s.internal(w, err)
			return
		}
	}
	if !known || id == "" {
		out.Reason = "unknown_receipt"
		s.writeJSON(w, http.StatusNotFound, out)
		return
	}
	var t bankapi.TopUpBody
	if err := json.Unmarshal(body, &t); err != nil {
		s.internal(w, err)
		return
	}
	want := ReceiptCode(secret, terminal, no, t.ID, int64(t.Amount), t.CompletedAt)
	if !hmac.Equal([]byte(want), []byte(code)) {
		out.Reason = "wrong_code"
		s.writeJSON(w, http.StatusOK, out)
		return
	}
	out.Valid, out.ID, out.Amount = true, t.ID, int64(t.Amount)
	out.CompletedAt, out.Status = t.CompletedAt.UTC().Format(time.RFC3339), bankapi.Status(status)
	s.writeJSON(w, http.StatusOK, out)
}
