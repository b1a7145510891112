package banksim_test

import (
	"encoding/json"
	"net/http"
	"net/url"
	"testing"
	"time"

	"tolem/sync/bankapi/banksim"
)

// The code of the vectors in docs/integration.md.
func TestReceiptCodeVectors(t *testing.T) {
	at := time.Date(2026, 12, 4, 9, 30, 0, 0, time.UTC)
	if c := banksim.ReceiptCode([]byte("s3cret"), "KZ-ALA-0001", 1234, "7f1c2a9e-4b3d-4c5e-8f60-1a2b3c4d5e6f", 1_250_000, at); c != "XEMNEPOTFW" {
		t.Fatalf("code %s, want XEMNEPOTFW", c)
	}
}

// A receipt of a top-up the bank received verifies with its code, and only
// with it; one the bank has not received is unknown, not forged.
func TestVerifyReceipt(t *testing.T) {
	_, ts := newServer(t, banksim.Options{})
	id := newUUID(t)
	if resp, data := do(t, ts, http.MethodPost, "/v1/topups", body(t, id), true, map[string]string{"Idempotency-Key": id}); resp.StatusCode >= 300 {
		t.Fatalf("submit: %d %s", resp.StatusCode, data)
	}
	at := time.Date(2026, 3, 1, 9, 0, 0, 0, time.UTC)
	code := banksim.ReceiptCode([]byte(secret), terminal, 1, id, 100_000, at)
	check := func(receipt, code string) (int, banksim.ReceiptCheck) {
		t.Helper()
		q := url.Values{"terminal": {terminal}, "receipt": {receipt}, "code": {code}}
		resp, data := do(t, ts, http.MethodGet, "/v1/receipts/verify?"+q.Encode(), nil, false, nil)
		var c banksim.ReceiptCheck
		if resp.StatusCode != http.StatusBadRequest {
			if err := json.Unmarshal(data, &c); err != nil {
				t.Fatalf("%s: %v", data, err)
			}
		}
		return resp.StatusCode, c
	}
	if st, c := check("1", code); st != 200 || !c.Valid || c.ID != id || c.Amount != 100_000 || c.CompletedAt != "2026-03-01T09:00:00Z" {
		t.Fatalf("valid receipt: %d %+v", st, c)
	}
	if st, c := check("1", "AAAAAAAAAA"); st != 200 || c.Valid || c.Reason != "wrong_code" {
		t.Fatalf("wrong code: %d %+v", st, c)
	}
	if st, c := check("2", code); st != 404 || c.Valid || c.Reason != "unknown_receipt" {
		t.Fatalf("unknown receipt: %d %+v", st, c)
	}
	if st, _ := check("x", code); st != 400 {
		t.Fatalf("bad receipt number: %d", st)
	}
	if resp, _ := do(t, ts, http.MethodPost, "/v1/receipts/verify", nil, false, nil); resp.StatusCode != http.StatusMethodNotAllowed {
		t.Fatalf("POST: %d", resp.StatusCode)
	}
}
