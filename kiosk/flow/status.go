package flow

import (
	"encoding/json"
	"slices"
	"time"

	"tolem/kiosk"
)

// Reasons the flow itself raises for being out of service. SetCondition adds
// its own names beside them.
const (
	// ReasonStarting: the acceptor has not reported ready since start, or
	// the recovery of an interrupted session is not done.
	ReasonStarting = "starting"
	// ReasonAcceptor: the acceptor reported a fault, or refused a command.
	ReasonAcceptor = "acceptor"
	// ReasonLedger: a ledger write failed; probed every 30 s.
	ReasonLedger = "ledger"
	// ReasonOfflineCap: too many or too much unsent top-ups.
	ReasonOfflineCap = "offline_cap"
	// ReasonUnsettled: a session with money could not be committed yet.
	ReasonUnsettled = "unsettled"
	// ReasonAcceptorGone: the acceptor's driver closed its events.
	ReasonAcceptorGone = "acceptor_gone"
)

// ConditionManual is the condition name a technician's manual out-of-service
// uses; Status reports it as Manual.
const ConditionManual = "manual"

// Status is a snapshot of the flow for the console, the heartbeat and the
// sim panel.
type Status struct {
	State  kiosk.State
	Lang   kiosk.Lang
	Screen kiosk.Screen
	// Reasons say why the kiosk is (or, after the current customer, will
	// be) out of service, sorted.
	Reasons []string
	// Fault is the acceptor's last fault while ReasonAcceptor stands.
	Fault kiosk.Fault
	// AcceptorEnabled and Enabled say whether cash may go in now, and which
	// denominations.
	AcceptorEnabled bool
	Enabled         []kiosk.Money
	// Session is the customer's session while one is open.
	Session *SessionStatus
	// LastTopUp is the top-up completed last since start.
	LastTopUp *kiosk.TopUp
	// Maintenance is set while the kiosk is in maintenance or a request for
	// it waits for the customer to finish.
	Maintenance bool
	// Manual is set while the "manual" condition stands.
	Manual bool
}

// SessionStatus is the open session, with the phone number masked.
type SessionStatus struct {
	ID    string `json:"id"`
	Phone string `json:"phone"`
	// Service is the catalog service paid ("wallet" for the wallet) and
	// Account the masked account paid.
	Service  string            `json:"service"`
	Account  string            `json:"account"`
	Offline  bool              `json:"offline"`
	OpenedAt time.Time         `json:"opened_at"`
	Total    kiosk.Money       `json:"total"`
	Bills    []kiosk.BillCount `json:"bills"`
	// InFlight counts bills recorded and told to stack, not yet reported.
	InFlight int `json:"in_flight"`
}

func (s Status) clone() Status {
	s.Reasons = slices.Clone(s.Reasons)
	s.Enabled = slices.Clone(s.Enabled)
	if s.Session != nil {
		c := *s.Session
		c.Bills = slices.Clone(c.Bills)
		s.Session = &c
	}
	if s.LastTopUp != nil {
		t := *s.LastTopUp
		t.Bills = slices.Clone(t.Bills)
		s.LastTopUp = &t
	}
	return s
}

// MarshalJSON writes state and language by name, as the console's --json
// and the heartbeat show them.
func (s Status) MarshalJSON() ([]byte, error) {
	type topUp struct {
		ReceiptNo int64       `json:"receipt_no"`
		Amount    kiosk.Money `json:"amount"`
		Phone     string      `json:"phone"`
		Service   string      `json:"service"`
		Account   string      `json:"account"`
		Offline   bool        `json:"offline"`
		At        time.Time   `json:"completed_at"`
	}
	out := struct {
		State           string         `json:"state"`
		Lang            string         `json:"lang"`
		Lines           [4]string      `json:"lines"`
		Reasons         []string       `json:"reasons"`
		Fault           kiosk.Fault    `json:"fault,omitempty"`
		AcceptorEnabled bool           `json:"acceptor_enabled"`
		Enabled         []kiosk.Money  `json:"enabled"`
		Session         *SessionStatus `json:"session"`
		LastTopUp       *topUp         `json:"last_topup"`
		Maintenance     bool           `json:"maintenance"`
		Manual          bool           `json:"manual"`
	}{
		State: s.State.String(), Lang: s.Lang.String(), Lines: s.Screen.Lines,
		Reasons: s.Reasons, Fault: s.Fault, AcceptorEnabled: s.AcceptorEnabled,
		Enabled: s.Enabled, Session: s.Session, Maintenance: s.Maintenance, Manual: s.Manual,
	}
	if out.Reasons == nil {
		out.Reasons = []string{}
	}
	if t := s.LastTopUp; t != nil {
		out.LastTopUp = &topUp{ReceiptNo: t.ReceiptNo, Amount: t.Amount, Phone: t.Phone.Masked(), Offline: t.Offline, At: t.CompletedAt,
			Service: t.ServiceName(), Account: kiosk.MaskAccount(t.Payee())}
	}
	return json.Marshal(out)
}
