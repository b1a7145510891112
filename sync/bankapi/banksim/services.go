package banksim

import (
	"encoding/json"
	"errors"
	"fmt"
	"net/http"
	"strings"

	"tolem/kiosk"
	"tolem/sync/bankapi"
)

// DefaultServices is the sandbox's catalog (SPEC §2): the wallet, a mobile
// operator, a utility whose accounts are looked up with their debt, and a
// loan; beeline and the wallet take cash offline, the utility does not.
const DefaultServices = `{"version":"2026-12-01.1","services":[
 {"id":"wallet","kind":"wallet","name":{"ru":"Kaspi кошелёк","kk":"Kaspi әмиян","en":"Kaspi wallet"},
  "account":{"kind":"phone"},"lookup":true,"offline":true},
 {"id":"beeline","kind":"mobile","name":{"ru":"Beeline","kk":"Beeline","en":"Beeline"},
  "account":{"kind":"phone","prefixes":["705","771","776","777"]},"lookup":false,"offline":true,
  "min_amount":10000,"max_amount":5000000},
 {"id":"alseco","kind":"utility","name":{"ru":"Алсеко: коммунальные","kk":"Алсеко: коммуналдық","en":"Alseco utilities"},
  "account":{"kind":"digits","min_len":6,"max_len":12},"lookup":true,"offline":false},
 {"id":"kaspi_loan","kind":"loan","name":{"ru":"Погашение кредита","kk":"Несиені өтеу","en":"Loan repayment"},
  "account":{"kind":"digits","min_len":10,"max_len":16},"lookup":true,"offline":false,"min_amount":100000}]}`

// AccountRecord is an account the sandbox knows for a looked-up service.
type AccountRecord struct {
	Holder  string       `json:"holder"`
	Address string       `json:"address,omitempty"`
	Debt    *kiosk.Money `json:"debt,omitempty"`
}

func debt(t int64) *kiosk.Money { m := kiosk.Tenge(t); return &m }

// DefaultAccounts are the sandbox's looked-up accounts, by service then
// account: type one of these to see the holder, the address and the debt.
var DefaultAccounts = map[string]map[string]AccountRecord{
	"alseco": {
		"123456789": {Holder: "Н***н К.", Address: "ул. А***, 1*", Debt: debt(12345)},
		"987654":    {Holder: "А***л С.", Address: "пр. Д***, 5*"},
	},
	"kaspi_loan": {
		"1234567890": {Holder: "Б***к Т.", Debt: debt(250000)},
	},
}

// SetServices replaces the catalog GET /v1/services answers with, as raw
// bytes: the sandbox serves even a catalog the kiosk must refuse, so that
// the refusal can be tested.
func (s *Server) SetServices(body []byte) {
	s.smu.Lock()
	defer s.smu.Unlock()
	s.services = append([]byte(nil), body...)
	s.catalog, s.catalogErr = kiosk.ParseCatalog(body)
}

func (s *Server) servicesBody() ([]byte, kiosk.Catalog, error) {
	s.smu.RLock()
	defer s.smu.RUnlock()
	return s.services, s.catalog, s.catalogErr
}

// service is the catalog's service with that id, as the bank decides by it.
func (s *Server) service(id string) (kiosk.Service, bool) {
	_, c, err := s.servicesBody()
	if err != nil {
		return kiosk.Service{}, false
	}
	return c.Lookup(id)
}

// AddAccount registers an account of a service.
func (s *Server) AddAccount(service, account string, r AccountRecord) error {
	if service == "" || !bankapi.ValidAccount(account) && !bankapi.ValidPhone(kiosk.Phone(account)) || r.Holder == "" {
		return errors.New("banksim: an account needs a service, digits or +7 and 10 digits, and a holder")
	}
	s.smu.Lock()
	defer s.smu.Unlock()
	if s.accounts[service] == nil {
		s.accounts[service] = map[string]AccountRecord{}
	}
	s.accounts[service][account] = r
	return nil
}

func (s *Server) account(service, account string) (AccountRecord, bool) {
	s.smu.RLock()
	defer s.smu.RUnlock()
	r, ok := s.accounts[service][account]
	return r, ok
}

func (s *Server) serveServices(w http.ResponseWriter) {
	body, _, _ := s.servicesBody()
	w.Header().Set("Content-Type", "application/json")
	w.WriteHeader(http.StatusOK)
	w.Write(body) //nolint:errcheck // the client sees a short body
}

func (s *Server) lookupAccount(w http.ResponseWriter, body []byte) {
	var req struct {
		Service *string `json:"service"`
		Account *string `json:"account"`
	}
	if err := json.Unmarshal(body, &req); err != nil || req.Service == nil || req.Account == nil {
		s.writeError(w, http.StatusUnprocessableEntity, bankapi.CodeInvalid, `the body must be {"service":…,"account":…}`)
		return
	}
	svc, ok := s.service(*req.Service)
	if !ok {
		s.writeError(w, http.StatusUnprocessableEntity, CodeUnknownService, fmt.Sprintf("no service %q", *req.Service))
		return
	}
	if msg := checkAccount(svc, *req.Account); msg != "" || !svc.Lookup {
		if msg == "" {
			msg = "service " + svc.ID + " has no account lookup"
		}
		s.writeError(w, http.StatusUnprocessableEntity, bankapi.CodeInvalid, msg)
		return
	}
	if svc.Account.Kind == kiosk.AccountPhone {
		if name, ok := s.wallet(kiosk.Phone(*req.Account)); ok && svc.IsWallet() {
			s.writeJSON(w, http.StatusOK, bankapi.AccountLookupResult{Found: true, Holder: name})
			return
		}
	}
	r, ok := s.account(svc.ID, *req.Account)
	if !ok {
		s.writeJSON(w, http.StatusOK, bankapi.AccountLookupResult{})
		return
	}
	s.writeJSON(w, http.StatusOK, bankapi.AccountLookupResult{Found: true, Holder: r.Holder, Address: r.Address, Debt: r.Debt})
}

// CodeUnknownService is the bank's 422 error code for a service it does not
// have.
const CodeUnknownService = "unknown_service"

// checkAccount is the bank's check of an account for a service; "" when it
// is well formed.
func checkAccount(svc kiosk.Service, account string) string {
	switch svc.Account.Kind {
	case kiosk.AccountPhone:
		if !bankapi.ValidPhone(kiosk.Phone(account)) {
			return "a phone account is +7 and 10 digits"
		}
		if len(svc.Account.Prefixes) > 0 {
			if _, err := kiosk.ParsePhone(account[2:], svc.Account.Prefixes); err != nil {
				return "the number is not one of the operator's"
			}
		}
	case kiosk.AccountDigits:
		if err := svc.CheckAccount(account); err != nil {
			return err.Error()
		}
	}
	return ""
}

// serviceDecision is what the bank makes of a service's top-up: "" when it
// takes it, else the 422 code and message; notFound names a reason for a
// looked-up account the bank does not know (taken now, rejected later).
func (s *Server) serviceDecision(b bankapi.TopUpBody) (code, msg, notFound string) {
	svc, ok := s.service(b.Service)
	if !ok {
		return CodeUnknownService, fmt.Sprintf("no service %q", b.Service), ""
	}
	account := b.Account
	if svc.Account.Kind == kiosk.AccountPhone {
		if b.Account != "" {
			return bankapi.CodeInvalid, "service " + svc.ID + " takes a phone, not an account", ""
		}
		account = string(b.Phone)
	} else if b.Phone != "" {
		return bankapi.CodeInvalid, "service " + svc.ID + " takes an account, not a phone", ""
	}
	if m := checkAccount(svc, account); m != "" {
		return bankapi.CodeInvalid, m, ""
	}
	if svc.IsWallet() {
		if _, ok := s.wallet(b.Phone); !ok {
			return "", "", "wallet_not_found"
		}
		return "", "", ""
	}
	if svc.Lookup {
		if _, ok := s.account(svc.ID, account); !ok {
			return "", "", "account_not_found"
		}
	}
	return "", "", ""
}

func trimCatalog(body []byte) string { return strings.TrimSpace(string(body)) }
