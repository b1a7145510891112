package bankapi

import (
	"bytes"
	"encoding/json"
	"errors"
	"strings"
	"testing"
	"time"

	"tolem/kiosk"
)

const testID = "0b9f5c1e-6a7d-4c2e-9f10-3d2a1b0c9e8f"

func sampleTopUp() kiosk.TopUp {
	almaty := time.FixedZone("ALMT", 5*3600)
	return kiosk.TopUp{
		ID: testID, ReceiptNo: 1234, SessionID: "s1", Phone: "+77011234567",
		Amount: kiosk.Tenge(3000),
		// Out of order and split, as a session may list them.
		Bills: []kiosk.BillCount{
			{Value: kiosk.Tenge(2000), Count: 1}, {Value: kiosk.Tenge(500), Count: 1}, {Value: kiosk.Tenge(500), Count: 1},
		},
		CreatedAt:   time.Date(2026, 3, 1, 15, 4, 5, 123456789, almaty),
		CompletedAt: time.Date(2026, 3, 1, 15, 5, 6, 987654321, almaty),
		Sync:        kiosk.SyncUnsent,
	}
}

func TestBodyFromTopUpGolden(t *testing.T) {
	b, err := BodyFromTopUp(sampleTopUp()).Marshal()
	if err != nil {
		t.Fatal(err)
	}
	want := `{"id":"` + testID + `","receipt_no":1234,"phone":"+77011234567","amount":300000,"currency":"KZT",` +
		`"bills":[{"value":50000,"count":2},{"value":200000,"count":1}],` +
		`"created_at":"2026-03-01T10:04:05Z","completed_at":"2026-03-01T10:05:06Z","offline":false}`
	if string(b) != want {
		t.Errorf("body\n got %s\nwant %s", b, want)
	}
}

func TestBodyBytesDoNotDependOnStoredPrecision(t *testing.T) {
	// A retry after a restart rebuilds the body from the ledger, which may keep
	// times to the millisecond only: the bytes must not change.
	tp := sampleTopUp()
	a, _ := BodyFromTopUp(tp).Marshal()
	tp.CreatedAt = tp.CreatedAt.Truncate(time.Millisecond).UTC()
	tp.CompletedAt = tp.CompletedAt.Truncate(time.Second)
	tp.Bills = []kiosk.BillCount{{Value: kiosk.Tenge(500), Count: 2}, {Value: kiosk.Tenge(2000), Count: 1}}
	b, _ := BodyFromTopUp(tp).Marshal()
	if !bytes.Equal(a, b) {
		t.Errorf("bytes differ:\n%s\n%s", a, b)
	}
}

func TestParseTopUpBodyRoundTrip(t *testing.T) {
	body := BodyFromTopUp(sampleTopUp())
	raw, _ := body.Marshal()
	got, err := ParseTopUpBody(raw)
	if err != nil {
		t.Fatal(err)
	}
	again, _ := got.Marshal()
	if !bytes.Equal(raw, again) {
		t.Errorf("round trip changed the bytes:\n%s\n%s", raw, again)
	}
}

func TestParseTopUpBodyRefuses(t *testing.T) {
	good := func() map[string]any {
		var m map[string]any
		raw, _ := BodyFromTopUp(sampleTopUp()).Marshal()
		json.Unmarshal(raw, &m)
		return m
	}
	tests := []struct {
		name   string
		change func(m map[string]any)
		want   string
	}{
		{"amount is not the sum", func(m map[string]any) { m["amount"] = 300001 }, "sum of the bills"},
		{"amount as a float", func(m map[string]any) { m["amount"] = 3000.5 }, "invalid body"},
		{"amount as a string", func(m map[string]any) { m["amount"] = "300000" }, "invalid body"},
		{"no bills", func(m map[string]any) { m["bills"] = []any{}; m["amount"] = 0 }, "at least one bill"},
		{"bill without count", func(m map[string]any) { m["bills"] = []any{map[string]any{"value": 300000}} }, "value and count"},
		{"negative count", func(m map[string]any) {
			m["bills"] = []any{map[string]any{"value": 300000, "count": -1}}
		}, "positive"},
		{"phone without +7", func(m map[string]any) { m["phone"] = "87011234567" }, "phone"},
		{"phone too short", func(m map[string]any) { m["phone"] = "+7701123456" }, "phone"},
		{"currency", func(m map[string]any) { m["currency"] = "USD" }, "currency"},
		{"id not a uuid", func(m map[string]any) { m["id"] = "topup-1" }, "UUID"},
		{"receipt zero", func(m map[string]any) { m["receipt_no"] = 0 }, "receipt_no"},
		{"bad time", func(m map[string]any) { m["created_at"] = "yesterday" }, "created_at"},
		{"completed before created", func(m map[string]any) { m["completed_at"] = "2020-01-01T00:00:00Z" }, "before"},
		{"missing offline", func(m map[string]any) { delete(m, "offline") }, "missing offline"},
		{"missing id and phone", func(m map[string]any) { delete(m, "id"); delete(m, "phone") }, "missing id, phone"},
	}
	for _, tc := range tests {
		t.Run(tc.name, func(t *testing.T) {
			m := good()
			tc.change(m)
			raw, _ := json.Marshal(m)
			_, err := ParseTopUpBody(raw)
			if !errors.Is(err, ErrInvalidBody) || !strings.Contains(err.Error(), tc.want) {
				t.Errorf("ParseTopUpBody = %v, want ErrInvalidBody mentioning %q", err, tc.want)
			}
		})
	}
	for _, raw := range []string{"", "null", "[]", "{", `{"id":1}`} {
		if _, err := ParseTopUpBody([]byte(raw)); !errors.Is(err, ErrInvalidBody) {
			t.Errorf("ParseTopUpBody(%q) = %v, want ErrInvalidBody", raw, err)
		}
	}
}

func TestDecodeStatus(t *testing.T) {
	tests := []struct {
		in      string
		want    TopUpStatus
		garbage bool
	}{
		{`{"id":"a","status":"credited","credited_at":"2026-03-01T10:05:07Z","reason":null}`,
			TopUpStatus{ID: "a", Status: StatusCredited, CreditedAt: time.Date(2026, 3, 1, 10, 5, 7, 0, time.UTC)}, false},
		{`{"id":"a","status":"pending"}`, TopUpStatus{ID: "a", Status: StatusPending}, false},
		{`{"id":"a","status":"rejected","credited_at":null,"reason":"wallet_not_found","extra":{"new":"field"}}`,
			TopUpStatus{ID: "a", Status: StatusRejected, Reason: "wallet_not_found"}, false},
		{`{"id":"a","status":"done"}`, TopUpStatus{}, true},
		{`{"status":"credited"}`, TopUpStatus{}, true},
		{`{"id":"a"}`, TopUpStatus{}, true},
		{`{"id":"a","status":"credited","credited_at":"now"}`, TopUpStatus{}, true},
		{`{"id":"a","status":1}`, TopUpStatus{}, true},
		{`<html>502 Bad Gateway</html>`, TopUpStatus{}, true},
		{`{"id":"a","status":"credited"} trailing`, TopUpStatus{}, true},
		{``, TopUpStatus{}, true},
	}
	for _, tc := range tests {
		got, err := DecodeStatus([]byte(tc.in))
		if tc.garbage {
			if !errors.Is(err, ErrGarbage) || !strings.HasPrefix(err.Error(), "bank answered garbage: ") {
				t.Errorf("DecodeStatus(%s) = %v, want garbage", tc.in, err)
			}
			continue
		}
		if err != nil || got != tc.want {
			t.Errorf("DecodeStatus(%s) = %+v, %v; want %+v", tc.in, got, err, tc.want)
		}
	}
}

func TestDecodeLookup(t *testing.T) {
	tests := []struct {
		in   string
		want LookupResult
		ok   bool
	}{
		{`{"found":true,"name":"Нурлан К."}`, LookupResult{true, "Нурлан К."}, true},
		{`{"found":false}`, LookupResult{}, true},
		{`{"found":false,"name":null}`, LookupResult{}, true},
		{`{"found":true}`, LookupResult{}, false},
		{`{"found":"yes","name":"x"}`, LookupResult{}, false},
		{`{"name":"x"}`, LookupResult{}, false},
		{`OK`, LookupResult{}, false},
	}
	for _, tc := range tests {
		got, err := DecodeLookup([]byte(tc.in))
		if tc.ok != (err == nil) || got != tc.want {
			t.Errorf("DecodeLookup(%s) = %+v, %v", tc.in, got, err)
		}
		if err != nil && !errors.Is(err, ErrGarbage) {
			t.Errorf("DecodeLookup(%s) error %v is not ErrGarbage", tc.in, err)
		}
	}
}

func TestDecodeBatchResult(t *testing.T) {
	in := `{"results":[
		{"id":"a","code":201,"status":"credited","credited_at":"2026-03-01T10:05:07Z","reason":""},
		{"id":"b","code":202,"status":{"id":"b","status":"pending","credited_at":null}},
		{"id":"c","code":409,"error":"idempotency_conflict","message":"another body"},
		{"code":422,"error":"invalid"}]}`
	got, err := DecodeBatchResult([]byte(in))
	if err != nil {
		t.Fatal(err)
	}
	want := []ItemResult{
		{ID: "a", Code: 201, Status: TopUpStatus{ID: "a", Status: StatusCredited, CreditedAt: time.Date(2026, 3, 1, 10, 5, 7, 0, time.UTC)}},
		{ID: "b", Code: 202, Status: TopUpStatus{ID: "b", Status: StatusPending}},
		{ID: "c", Code: 409, Error: "idempotency_conflict", Message: "another body"},
		{Code: 422, Error: "invalid"},
	}
	if len(got.Results) != len(want) {
		t.Fatalf("got %d results", len(got.Results))
	}
	for i := range want {
		if got.Results[i] != want[i] {
			t.Errorf("result %d = %+v, want %+v", i, got.Results[i], want[i])
		}
	}
	for _, bad := range []string{
		`{}`, `{"results":null}`, `{"results":[{"id":"a"}]}`, `{"results":[{"id":"a","code":201}]}`,
		`{"results":[{"id":"a","code":201,"status":"lost"}]}`, `{"results":[{"code":200,"status":"credited"}]}`,
		`{"results":[{"id":"a","code":200,"status":{"id":"b","status":"credited"}}]}`,
	} {
		if _, err := DecodeBatchResult([]byte(bad)); !errors.Is(err, ErrGarbage) {
			t.Errorf("DecodeBatchResult(%s) = %v, want garbage", bad, err)
		}
	}
}

func TestDecodePingAndError(t *testing.T) {
	for _, in := range []string{`{"time":"2026-03-01T10:05:07Z"}`, `{"time":1772359507}`} {
		p, err := DecodePing([]byte(in))
		if err != nil || !p.Time.Equal(time.Date(2026, 3, 1, 10, 5, 7, 0, time.UTC)) {
			t.Errorf("DecodePing(%s) = %v, %v", in, p.Time, err)
		}
	}
	if _, err := DecodePing([]byte(`{"time":"teatime"}`)); !errors.Is(err, ErrGarbage) {
		t.Errorf("bad ping time: %v", err)
	}
	e, err := DecodeError([]byte(`{"error":"invalid","message":"amount"}`))
	if err != nil || e != (ErrorBody{"invalid", "amount"}) {
		t.Errorf("DecodeError = %+v, %v", e, err)
	}
	if _, err := DecodeError([]byte(`{"message":"x"}`)); !errors.Is(err, ErrGarbage) {
		t.Errorf("error without code: %v", err)
	}
}

func TestCollectionBody(t *testing.T) {
	c := CollectionBody{
		ID: testID, CassetteID: "CC-1", OpenedAt: time.Date(2026, 3, 1, 8, 0, 0, 0, time.UTC),
		ClosedAt: time.Date(2026, 3, 2, 8, 0, 0, 0, time.UTC),
		Bills:    []kiosk.BillCount{{Value: kiosk.Tenge(1000), Count: 3}}, Amount: kiosk.Tenge(3000),
		TopUps: 2, FirstReceiptNo: 10, LastReceiptNo: 11,
	}
	raw, err := c.Marshal()
	if err != nil {
		t.Fatal(err)
	}
	want := `{"id":"` + testID + `","cassette_id":"CC-1","opened_at":"2026-03-01T08:00:00Z","closed_at":"2026-03-02T08:00:00Z",` +
		`"bills":[{"value":100000,"count":3}],"amount":300000,"topups":2,"first_receipt_no":10,"last_receipt_no":11}`
	if string(raw) != want {
		t.Errorf("collection\n got %s\nwant %s", raw, want)
	}
	back, err := ParseCollectionBody(raw)
	if err != nil {
		t.Fatal(err)
	}
	if again, _ := back.Marshal(); !bytes.Equal(again, raw) {
		t.Errorf("round trip changed the bytes: %s", again)
	}
	c.Amount++
	raw, _ = c.Marshal()
	if _, err := ParseCollectionBody(raw); !errors.Is(err, ErrInvalidBody) {
		t.Errorf("wrong amount accepted: %v", err)
	}
}

func TestHeartbeatWire(t *testing.T) {
	hb := Heartbeat{State: "idle", Version: "1.2.3", Cassette: Cassette{Count: 3, Amount: kiosk.Tenge(3000), Capacity: 1000}}
	raw, err := json.Marshal(hb)
	if err != nil {
		t.Fatal(err)
	}
	if !bytes.Contains(raw, []byte(`"queue":{"unsent":0,"pending":0,"oldest_at":null}`)) {
		t.Errorf("empty queue: %s", raw)
	}
	hb.Queue.OldestAt = time.Date(2026, 3, 1, 8, 0, 0, 0, time.UTC)
	raw, _ = json.Marshal(hb)
	var back Heartbeat
	if err := json.Unmarshal(raw, &back); err != nil || !back.Queue.OldestAt.Equal(hb.Queue.OldestAt) {
		t.Errorf("heartbeat round trip: %v %+v", err, back.Queue)
	}
}

func TestChainHeadOnTheWire(t *testing.T) {
	head := &kiosk.ChainHead{Count: 12, Head: strings.Repeat("0f", 32)}
	raw, err := json.Marshal(Heartbeat{State: "idle", Chain: head})
	if err != nil || !bytes.Contains(raw, []byte(`"chain":{"count":12,"head":"0f0f`)) {
		t.Fatalf("heartbeat with a chain: %s, %v", raw, err)
	}
	if raw, _ := json.Marshal(Heartbeat{State: "idle"}); bytes.Contains(raw, []byte(`chain`)) {
		t.Errorf("a heartbeat without a chain names one: %s", raw)
	}

	c := CollectionBody{ID: "0b5e2f7c-3c52-4d5b-9a3e-1f2d3c4b5a69", CassetteID: "BAG-1",
		OpenedAt: time.Date(2026, 3, 1, 8, 0, 0, 0, time.UTC), ClosedAt: time.Date(2026, 3, 2, 8, 0, 0, 0, time.UTC),
		Bills: []kiosk.BillCount{{Value: kiosk.Tenge(1000), Count: 2}}, Amount: kiosk.Tenge(2000), Chain: head}
	raw, _ = c.Marshal()
	back, err := ParseCollectionBody(raw)
	if err != nil || back.Chain == nil || *back.Chain != *head {
		t.Fatalf("collection round trip: %v, %+v\n%s", err, back.Chain, raw)
	}
	c.Chain = nil
	raw, _ = c.Marshal()
	if back, err := ParseCollectionBody(raw); err != nil || back.Chain != nil || bytes.Contains(raw, []byte("chain")) {
		t.Errorf("collection without a chain: %v %+v\n%s", err, back.Chain, raw)
	}
	for _, bad := range []string{`{"count":1,"head":"XYZ"}`, `{"count":-1,"head":""}`, `{"count":0,"head":"00"}`, `{"head":""}`} {
		raw := bytes.Replace(raw, []byte(`"last_receipt_no":0`), []byte(`"last_receipt_no":0,"chain":`+bad), 1)
		if _, err := ParseCollectionBody(raw); !errors.Is(err, ErrInvalidBody) {
			t.Errorf("chain %s accepted: %v", bad, err)
		}
	}
}
