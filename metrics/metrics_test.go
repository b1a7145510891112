package metrics_test

import (
	"context"
	"errors"
	"net/http/httptest"
	"testing"
	"time"

	dto "github.com/prometheus/client_model/go"
	"github.com/prometheus/common/expfmt"
	"github.com/prometheus/common/model"

	"tolem/kiosk"
	"tolem/metrics"
)

type fakeSource struct {
	state    kiosk.State
	info     kiosk.AcceptorInfo
	cassette metrics.Cassette
	queue    kiosk.QueueStats
	bank     metrics.Bank
	door     bool
	alarm    bool
	review   metrics.Review
	ledgerOK bool
	ledgerEr error
}

func (f *fakeSource) State() kiosk.State           { return f.state }
func (f *fakeSource) Acceptor() kiosk.AcceptorInfo { return f.info }
func (f *fakeSource) Cassette(context.Context) (metrics.Cassette, error) {
	return f.cassette, f.ledgerEr
}
func (f *fakeSource) Queue(context.Context) (kiosk.QueueStats, error) { return f.queue, f.ledgerEr }
func (f *fakeSource) Bank() metrics.Bank                              { return f.bank }
func (f *fakeSource) DoorOpen() bool                                  { return f.door }
func (f *fakeSource) DoorAlarm() bool                                 { return f.alarm }
func (f *fakeSource) Review(context.Context) (metrics.Review, error)  { return f.review, f.ledgerEr }
func (f *fakeSource) LedgerOK(context.Context) bool                   { return f.ledgerOK }
func (f *fakeSource) Disk() (free, total uint64, err error)           { return 150 << 20, 1000 << 20, nil }

type fakePrinter struct{ active []string }

func (p fakePrinter) Faults() ([]string, []string) {
	return []string{"paper_low", "paper_out", "cover_open"}, p.active
}

// scrape fetches /metrics as Prometheus would and parses the text format.
func scrape(t *testing.T, m *metrics.Metrics) map[string]*dto.MetricFamily {
	t.Helper()
	srv := httptest.NewServer(m.Handler())
	defer srv.Close()
	resp, err := srv.Client().Get(srv.URL)
	if err != nil {
		t.Fatal(err)
	}
	defer resp.Body.Close()
	parser := expfmt.NewTextParser(model.UTF8Validation)
	fams, err := parser.TextToMetricFamilies(resp.Body)
	if err != nil {
		t.Fatalf("the exposition does not parse: %v", err)
	}
	return fams
}

// value is the sample of name whose labels include want (name=value pairs).
func value(t *testing.T, fams map[string]*dto.MetricFamily, name string, want ...string) float64 {
	t.Helper()
	f, ok := fams[name]
	if !ok {
		t.Fatalf("%s is not exported", name)
	}
next:
	for _, m := range f.GetMetric() {
		labels := map[string]string{}
		for _, l := range m.GetLabel() {
			labels[l.GetName()] = l.GetValue()
		}
		for i := 0; i+1 < len(want); i += 2 {
			if labels[want[i]] != want[i+1] {
				continue next
			}
		}
		switch {
		case m.Gauge != nil:
			return m.Gauge.GetValue()
		case m.Counter != nil:
			return m.Counter.GetValue()
		case m.Histogram != nil:
			return float64(m.Histogram.GetSampleCount())
		case m.Untyped != nil:
			return m.Untyped.GetValue()
		}
	}
	t.Fatalf("%s has no sample with %v", name, want)
	return 0
}

func TestScrapeReadsTheKiosk(t *testing.T) {
	src := &fakeSource{
		state:    kiosk.StateInsertCash,
		info:     kiosk.AcceptorInfo{Ready: true, Faults: []kiosk.Fault{kiosk.FaultJammed}},
		cassette: metrics.Cassette{Bills: 920, Amount: kiosk.Tenge(1_840_000), Capacity: 1000},
		queue:    kiosk.QueueStats{Unsent: 2, Pending: 1, Review: 1, UnsentAmount: kiosk.Tenge(3000), OldestAt: time.Now().Add(-25 * time.Minute)},
		bank: metrics.Bank{Known: true, Up: true, ClockOffset: -90 * time.Second, Credited: 7, Rejected: 1, Retries: 3, Requests: 12,
			CreditedBy: map[string]int{"wallet": 5, "alseco": 2}, RejectedBy: map[string]int{"wallet": 1}},
		door:     true,
		alarm:    true,
		review:   metrics.Review{TopUps: 1, Rejected: 2, Bills: 3},
		ledgerOK: true,
	}
	m := metrics.New(metrics.Options{Source: src})
	m.TopUpCompleted(metrics.ServiceWallet)
	m.TopUpCompleted("alseco")
	m.BillStacked(kiosk.Tenge(1000))
	m.BillStacked(kiosk.Tenge(1000))
	m.EscrowToStack(30 * time.Millisecond)
	m.LedgerCommit("record_escrow", time.Millisecond)
	m.BankRequest("POST /v1/topups", 201, 80*time.Millisecond)
	m.ConsoleLogin("failed")
	m.ConsoleLockout()

	f := scrape(t, m)
	checks := []struct {
		name   string
		labels []string
		want   float64
	}{
		{"tolem_state", []string{"state", "insert_cash"}, 1},
		{"tolem_state", []string{"state", "idle"}, 0},
		{"tolem_acceptor_fault", []string{"fault", "jammed"}, 1},
		{"tolem_acceptor_fault", []string{"fault", "cassette_full"}, 0}, // exported while clear
		{"tolem_acceptor_fault", []string{"fault", "disconnected"}, 0},
		{"tolem_cassette_bills", nil, 920},
		{"tolem_cassette_amount_tiyn", nil, 184_000_000},
		{"tolem_cassette_capacity_bills", nil, 1000},
		{"tolem_queue_topups", []string{"sync", "unsent"}, 2},
		{"tolem_queue_topups", []string{"sync", "pending"}, 1},
		{"tolem_queue_topups", []string{"sync", "review"}, 1},
		{"tolem_topups_total", []string{"service", "wallet"}, 1},
		{"tolem_topups_total", []string{"service", "alseco"}, 1},
		{"tolem_topups_settled_total", []string{"service", "wallet", "status", "credited"}, 5},
		{"tolem_topups_settled_total", []string{"service", "alseco", "status", "credited"}, 2},
		{"tolem_topups_settled_total", []string{"service", "wallet", "status", "rejected"}, 1},
		{"tolem_bills_stacked_total", []string{"value", "100000"}, 2},
		{"tolem_bank_up", nil, 1},
		{"tolem_clock_offset_seconds", nil, -90},
		{"tolem_outbox_retries_total", nil, 3},
		{"tolem_door_open", nil, 1},
		{"tolem_door_alarm", nil, 1},
		{"tolem_review_items", []string{"kind", "topups"}, 1},
		{"tolem_review_items", []string{"kind", "rejected"}, 2},
		{"tolem_review_items", []string{"kind", "bills"}, 3},
		{"tolem_ledger_ok", nil, 1},
		{"tolem_escrow_to_stack_seconds", nil, 1},
		{"tolem_ledger_commit_seconds", []string{"op", "record_escrow"}, 1},
		{"tolem_bank_request_seconds", []string{"endpoint", "POST /v1/topups", "code", "201"}, 1},
		{"tolem_console_logins_total", []string{"result", "failed"}, 1},
		{"tolem_console_logins_total", []string{"result", "ok"}, 0},
		{"tolem_console_lockouts_total", nil, 1},
	}
	for _, c := range checks {
		if got := value(t, f, c.name, c.labels...); got != c.want {
			t.Errorf("%s%v = %v, want %v", c.name, c.labels, got, c.want)
		}
	}
	if age := value(t, f, "tolem_queue_oldest_age_seconds"); age < 25*60 || age > 26*60 {
		t.Errorf("oldest age %v s, want about 1500", age)
	}
	for _, name := range []string{"go_goroutines", "process_cpu_seconds_total"} {
		if _, ok := f[name]; !ok {
			t.Errorf("%s (runtime and process collectors) missing", name)
		}
	}
	if _, ok := f["tolem_printer_fault"]; ok {
		t.Error("tolem_printer_fault exported by a kiosk without a printer")
	}
}

func TestScrapeWithPrinterAndBrokenLedger(t *testing.T) {
	src := &fakeSource{state: kiosk.StateOutOfService, ledgerEr: errors.New("disk I/O error")}
	m := metrics.New(metrics.Options{Source: src, Printer: fakePrinter{active: []string{"paper_low"}}})
	f := scrape(t, m)
	if v := value(t, f, "tolem_printer_fault", "fault", "paper_low"); v != 1 {
		t.Errorf("paper_low = %v", v)
	}
	if v := value(t, f, "tolem_printer_fault", "fault", "paper_out"); v != 0 {
		t.Errorf("paper_out = %v", v)
	}
	if v := value(t, f, "tolem_ledger_ok"); v != 0 {
		t.Errorf("ledger_ok = %v with a broken ledger", v)
	}
	for _, name := range []string{"tolem_cassette_bills", "tolem_queue_topups", "tolem_bank_up"} {
		if _, ok := f[name]; ok {
			t.Errorf("%s exported without a source for it", name)
		}
	}
}

// The hooks are called from the flow and the console whether or not
// metrics are on.
func TestHooksOnNilMetrics(t *testing.T) {
	var m *metrics.Metrics
	m.TopUpCompleted("wallet")
	m.BillStacked(1)
	m.EscrowToStack(time.Second)
	m.LedgerCommit("x", time.Second)
	m.BankRequest("GET /v1/ping", 200, time.Second)
	m.ConsoleLogin("ok")
	m.ConsoleLockout()
}
