package bankapi

import (
	"strings"
	"testing"
	"time"

	"tolem/kiosk"
)

func TestServiceTopUpBody(t *testing.T) {
	at := time.Date(2026, 12, 4, 10, 0, 0, 0, time.UTC)
	base := kiosk.TopUp{ID: "0b7d3c1e-2f4a-4c5b-9d6e-7f8a9b0c1d2e", ReceiptNo: 7, Amount: kiosk.Tenge(3000),
		Bills: []kiosk.BillCount{{Value: kiosk.Tenge(1000), Count: 3}}, CreatedAt: at, CompletedAt: at}

	util := base
	util.Service, util.Account = "alseco", "123456789"
	raw, err := BodyFromTopUp(util).Marshal()
	if err != nil {
		t.Fatal(err)
	}
	s := string(raw)
	if !strings.Contains(s, `"service":"alseco"`) || !strings.Contains(s, `"account":"123456789"`) || strings.Contains(s, `"phone"`) {
		t.Errorf("utility body %s: want service and account, no phone", s)
	}
	back, err := ParseTopUpBody(raw)
	if err != nil || back.Service != "alseco" || back.Account != "123456789" {
		t.Errorf("parse back = %+v, %v", back, err)
	}

	mobile := base
	mobile.Service, mobile.Phone = "beeline", "+77051234567"
	raw, _ = BodyFromTopUp(mobile).Marshal()
	s = string(raw)
	if !strings.Contains(s, `"phone":"+77051234567"`) || strings.Contains(s, `"account"`) {
		t.Errorf("mobile body %s: want phone, no account", s)
	}
	if _, err := ParseTopUpBody(raw); err != nil {
		t.Errorf("mobile body refused: %v", err)
	}

	wallet := base
	wallet.Phone = "+77011234567"
	raw, _ = BodyFromTopUp(wallet).Marshal()
	if strings.Contains(string(raw), "service") || strings.Contains(string(raw), "account") {
		t.Errorf("wallet body %s names a service", raw)
	}

	for name, body := range map[string]string{
		"account without service": `{"id":"0b7d3c1e-2f4a-4c5b-9d6e-7f8a9b0c1d2e","receipt_no":1,"account":"123","amount":100000,"currency":"KZT","bills":[{"value":100000,"count":1}],"created_at":"2026-12-04T10:00:00Z","completed_at":"2026-12-04T10:00:00Z","offline":false}`,
		"phone and account":       `{"id":"0b7d3c1e-2f4a-4c5b-9d6e-7f8a9b0c1d2e","receipt_no":1,"service":"x","phone":"+77011234567","account":"123","amount":100000,"currency":"KZT","bills":[{"value":100000,"count":1}],"created_at":"2026-12-04T10:00:00Z","completed_at":"2026-12-04T10:00:00Z","offline":false}`,
		"letters in account":      `{"id":"0b7d3c1e-2f4a-4c5b-9d6e-7f8a9b0c1d2e","receipt_no":1,"service":"x","account":"12a","amount":100000,"currency":"KZT","bills":[{"value":100000,"count":1}],"created_at":"2026-12-04T10:00:00Z","completed_at":"2026-12-04T10:00:00Z","offline":false}`,
	} {
		if _, err := ParseTopUpBody([]byte(body)); err == nil {
			t.Errorf("%s: accepted", name)
		}
	}
}

func TestDecodeAccountLookup(t *testing.T) {
	a, err := DecodeAccountLookup([]byte(`{"found":true,"holder":"Н***н К.","address":"ул. А***, 1*","debt":1234500}`))
	if err != nil || !a.Found || a.Holder != "Н***н К." || !a.HasDebt || a.Debt != 1234500 || a.Address == "" {
		t.Errorf("full answer = %+v, %v", a, err)
	}
	a, err = DecodeAccountLookup([]byte(`{"found":true,"holder":"A."}`))
	if err != nil || a.HasDebt || a.Address != "" {
		t.Errorf("holder only = %+v, %v", a, err)
	}
	for _, bad := range []string{`{}`, `{"found":true}`, `{"found":true,"holder":"A.","debt":-1}`, `nope`} {
		if _, err := DecodeAccountLookup([]byte(bad)); err == nil {
			t.Errorf("%s accepted", bad)
		}
	}
}
