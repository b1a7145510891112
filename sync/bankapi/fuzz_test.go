package bankapi

import (
	"bytes"
	"encoding/json"
	"errors"
	"testing"
	"time"
)

// The decoders read what comes over the network. Whatever the bytes, they
// must not panic, must call a refusal garbage, and what they accept must
// survive being written and read again. Seeds: testdata/fuzz/<FuzzName>/.

func FuzzDecodeStatus(f *testing.F) {
	f.Add([]byte(`{"id":"a","status":"credited","credited_at":"2026-03-01T10:05:07Z","reason":""}`))
	f.Fuzz(func(t *testing.T, data []byte) {
		st, err := DecodeStatus(data)
		if err != nil {
			if !errors.Is(err, ErrGarbage) {
				t.Fatalf("refusal %v is not ErrGarbage", err)
			}
			return
		}
		if st.ID == "" || !st.Status.Valid() {
			t.Fatalf("accepted %+v", st)
		}
		raw, err := json.Marshal(st)
		if err != nil {
			t.Fatal(err)
		}
		back, err := DecodeStatus(raw)
		st.CreditedAt = st.CreditedAt.Truncate(time.Second)
		if err != nil || back != st {
			t.Fatalf("round trip %s: %+v, %v; want %+v", raw, back, err, st)
		}
	})
}

func FuzzDecodeBatchResult(f *testing.F) {
	f.Add([]byte(`{"results":[{"id":"a","code":201,"status":"credited","credited_at":"2026-03-01T10:05:07Z"},{"id":"b","code":409,"error":"idempotency_conflict"}]}`))
	f.Fuzz(func(t *testing.T, data []byte) {
		br, err := DecodeBatchResult(data)
		if err != nil {
			if !errors.Is(err, ErrGarbage) {
				t.Fatalf("refusal %v is not ErrGarbage", err)
			}
			return
		}
		for _, it := range br.Results {
			if it.Accepted() && (it.ID == "" || it.Status.ID != it.ID || !it.Status.Status.Valid()) {
				t.Fatalf("accepted item %+v", it)
			}
		}
		raw, err := json.Marshal(br)
		if err != nil {
			t.Fatal(err)
		}
		back, err := DecodeBatchResult(raw)
		if err != nil || len(back.Results) != len(br.Results) {
			t.Fatalf("round trip %s: %v", raw, err)
		}
		for i, it := range br.Results {
			if it.Accepted() {
				it.Status.CreditedAt = it.Status.CreditedAt.Truncate(time.Second)
				if back.Results[i].Status != it.Status {
					t.Fatalf("item %d: %+v, want %+v", i, back.Results[i].Status, it.Status)
				}
			}
		}
	})
}

func FuzzDecodeLookup(f *testing.F) {
	f.Add([]byte(`{"found":true,"name":"Нурлан К."}`))
	f.Fuzz(func(t *testing.T, data []byte) {
		r, err := DecodeLookup(data)
		if err != nil {
			if !errors.Is(err, ErrGarbage) {
				t.Fatalf("refusal %v is not ErrGarbage", err)
			}
			return
		}
		if r.Found == (r.Name == "") {
			t.Fatalf("accepted %+v", r)
		}
		raw, _ := json.Marshal(r)
		if back, err := DecodeLookup(raw); err != nil || back != r {
			t.Fatalf("round trip %s: %+v, %v", raw, back, err)
		}
	})
}

func FuzzDecodeError(f *testing.F) {
	f.Add([]byte(`{"error":"invalid","message":"amount"}`))
	f.Fuzz(func(t *testing.T, data []byte) {
		e, err := DecodeError(data)
		if err != nil {
			if !errors.Is(err, ErrGarbage) {
				t.Fatalf("refusal %v is not ErrGarbage", err)
			}
			return
		}
		raw, _ := json.Marshal(e)
		if back, err := DecodeError(raw); err != nil || back != e {
			t.Fatalf("round trip %s: %+v, %v", raw, back, err)
		}
	})
}

func FuzzDecodePing(f *testing.F) {
	f.Add([]byte(`{"time":"2026-03-01T10:05:07Z"}`))
	f.Add([]byte(`{"time":1772359507}`))
	f.Fuzz(func(t *testing.T, data []byte) {
		p, err := DecodePing(data)
		if err != nil {
			if !errors.Is(err, ErrGarbage) {
				t.Fatalf("refusal %v is not ErrGarbage", err)
			}
			return
		}
		if p.Time.Year() < 1 || p.Time.Year() > 9999 {
			// Unix seconds may name any year; only RFC 3339 text must round-trip.
			return
		}
		raw, _ := json.Marshal(p)
		if back, err := DecodePing(raw); err != nil || !back.Time.Equal(p.Time.Truncate(time.Second)) {
			t.Fatalf("round trip %s: %+v, %v", raw, back, err)
		}
	})
}

func FuzzParseTopUpBody(f *testing.F) {
	raw, _ := BodyFromTopUp(sampleTopUp()).Marshal()
	f.Add(raw)
	util := sampleTopUp()
	util.Phone, util.Service, util.Account = "", "alseco", "123456789"
	raw, _ = BodyFromTopUp(util).Marshal()
	f.Add(raw)
	mobile := sampleTopUp()
	mobile.Service = "beeline"
	raw, _ = BodyFromTopUp(mobile).Marshal()
	f.Add(raw)
	f.Fuzz(func(t *testing.T, data []byte) {
		b, err := ParseTopUpBody(data)
		if err != nil {
			if !errors.Is(err, ErrInvalidBody) {
				t.Fatalf("refusal %v is not ErrInvalidBody", err)
			}
			return
		}
		raw, err := b.Marshal()
		if err != nil {
			t.Fatal(err)
		}
		back, err := ParseTopUpBody(raw)
		if err != nil {
			t.Fatalf("re-parse of %s: %v", raw, err)
		}
		again, _ := back.Marshal()
		if !bytes.Equal(raw, again) {
			t.Fatalf("bytes changed:\n%s\n%s", raw, again)
		}
	})
}

func FuzzParseCollectionBody(f *testing.F) {
	f.Add([]byte(`{"id":"` + testID + `","cassette_id":"CC-1","opened_at":"2026-03-01T08:00:00Z","closed_at":"2026-03-02T08:00:00Z","bills":[{"value":100000,"count":3}],"amount":300000,"topups":2,"first_receipt_no":10,"last_receipt_no":11}`))
	f.Fuzz(func(t *testing.T, data []byte) {
		c, err := ParseCollectionBody(data)
		if err != nil {
			if !errors.Is(err, ErrInvalidBody) {
				t.Fatalf("refusal %v is not ErrInvalidBody", err)
			}
			return
		}
		raw, _ := c.Marshal()
		if _, err := ParseCollectionBody(raw); err != nil {
			t.Fatalf("re-parse of %s: %v", raw, err)
		}
	})
}

func FuzzDecodeAccountLookup(f *testing.F) {
	f.Add([]byte(`{"found":true,"holder":"Н***н К.","address":"ул. А***, 1*","debt":1234500}`))
	f.Add([]byte(`{"found":false}`))
	f.Fuzz(func(t *testing.T, data []byte) {
		a, err := DecodeAccountLookup(data)
		if err != nil {
			if !errors.Is(err, ErrGarbage) {
				t.Fatalf("refusal %v is not ErrGarbage", err)
			}
			return
		}
		if a.Found == (a.Holder == "") || a.Debt < 0 || (!a.HasDebt && a.Debt != 0) {
			t.Fatalf("accepted %+v", a)
		}
	})
}
