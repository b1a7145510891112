package main

import (
	"database/sql"
	"encoding/json"
	"fmt"
	"net/http"
	"path/filepath"
	"regexp"
	"strings"
	"testing"
	"time"

	dto "github.com/prometheus/client_model/go"
	"github.com/prometheus/common/expfmt"
	"github.com/prometheus/common/model"

	"tolem/kiosk"
)

var metricsAddrLine = regexp.MustCompile(`metrics listening".* addr=(\S+)`)

// metricsURL waits for kioskd to log where it serves /metrics.
func metricsURL(t *testing.T, k *simKiosk) string {
	t.Helper()
	deadline := time.Now().Add(30 * time.Second)
	for {
		if m := metricsAddrLine.FindStringSubmatch(k.logs.String()); m != nil {
			return "http://" + m[1] + "/metrics"
		}
		if time.Now().After(deadline) {
			t.Fatal("kioskd never logged the metrics address")
		}
		time.Sleep(20 * time.Millisecond)
	}
}

// scrapeMetrics reads /metrics as Prometheus does and parses the text
// exposition with Prometheus's own parser.
func scrapeMetrics(t *testing.T, url string) map[string]*dto.MetricFamily {
	t.Helper()
	resp, err := http.Get(url)
	if err != nil {
		t.Fatalf("scrape %s: %v", url, err)
	}
	defer resp.Body.Close()
	if resp.StatusCode != http.StatusOK {
		t.Fatalf("scrape %s: %s", url, resp.Status)
	}
	p := expfmt.NewTextParser(model.UTF8Validation)
	fams, err := p.TextToMetricFamilies(resp.Body)
	if err != nil {
		t.Fatalf("the exposition does not parse: %v", err)
	}
	return fams
}

// sample is the value of name's sample whose labels include the pairs of
// labels; ok is false when there is none.
func sample(fams map[string]*dto.MetricFamily, name string, labels ...string) (float64, bool) {
next:
	for _, m := range fams[name].GetMetric() {
		have := map[string]string{}
		for _, l := range m.GetLabel() {
			have[l.GetName()] = l.GetValue()
		}
		for i := 0; i+1 < len(labels); i += 2 {
			if have[labels[i]] != labels[i+1] {
				continue next
			}
		}
		switch {
		case m.Gauge != nil:
			return m.Gauge.GetValue(), true
		case m.Counter != nil:
			return m.Counter.GetValue(), true
		case m.Histogram != nil:
			return float64(m.Histogram.GetSampleCount()), true
		}
	}
	return 0, false
}

// The operator's view of a real top-up: kioskd --sim serves /metrics, a
// customer pays 3 000 ₸ through the panel socket, and the scrape shows the
// cassette, the top-up, the bills and the bank's credit. The bank's
// heartbeats carry the ledger's chain head, and a bill edited in the SQLite
// file behind kioskd's back is named by kioskctl verify.
func TestSimMetricsChainAndVerify(t *testing.T) {
	kioskdBinary(t)
	dir := shortDir(t)
	t.Setenv(envSimFaults, `{"pending_rate":0}`)
	t.Setenv(envSimOutbox, `{"heartbeat_interval":"500ms","check_interval":"100ms"}`)
	k := startSim(t, dir, "--metrics-listen", "127.0.0.1:0")
	url := metricsURL(t, k)

	before := scrapeMetrics(t, url)
	for _, f := range kiosk.Faults() {
		if v, ok := sample(before, "tolem_acceptor_fault", "fault", string(f)); !ok || v != 0 {
			t.Errorf("tolem_acceptor_fault{fault=%q} = %v, %v before any fault; want 0", f, v, ok)
		}
	}

	k.toInsertCash()
	k.insertBill(1000, "1 000 ₸ inserted", func(s screenMsg) bool { return screenHas(s, "1 000 ₸") })
	k.insertBill(2000, "3 000 ₸ inserted", func(s screenMsg) bool { return screenHas(s, "3 000 ₸") })
	k.send("KEY OK")
	k.waitState("done")

	var after map[string]*dto.MetricFamily
	deadline := time.Now().Add(30 * time.Second)
	for {
		after = scrapeMetrics(t, url)
		// The credit is counted as the outbox learns it and the queue read
		// from the ledger once the batch's outcomes commit: wait for both.
		v, _ := sample(after, "tolem_topups_settled_total", "service", "wallet", "status", "credited")
		unsent, _ := sample(after, "tolem_queue_topups", "sync", "unsent")
		if v == 1 && unsent == 0 {
			break
		}
		if time.Now().After(deadline) {
			t.Fatal("the bank's credit never showed in tolem_topups_settled_total")
		}
		time.Sleep(200 * time.Millisecond)
	}
	for _, c := range []struct {
		name   string
		labels []string
		want   float64
	}{
		{"tolem_cassette_bills", nil, 2},
		{"tolem_cassette_amount_tiyn", nil, 300_000},
		{"tolem_topups_total", []string{"service", "wallet"}, 1},
		{"tolem_bills_stacked_total", []string{"value", "100000"}, 1},
		{"tolem_bills_stacked_total", []string{"value", "200000"}, 1},
		{"tolem_ledger_commit_seconds", []string{"op", "record_escrow"}, 2},
		{"tolem_ledger_commit_seconds", []string{"op", "complete_topup"}, 1},
		{"tolem_queue_topups", []string{"sync", "unsent"}, 0},
		{"tolem_ledger_ok", nil, 1},
		{"tolem_bank_up", nil, 1},
		{"tolem_door_open", nil, 0},
	} {
		if v, ok := sample(after, c.name, c.labels...); !ok || v != c.want {
			t.Errorf("%s%v = %v (exported: %v), want %v", c.name, c.labels, v, ok, c.want)
		}
	}
	// Observed when the flow records the STACK taken (MarkStacking), once
	// the driver reports it (kiosk.EventStacking).
	if _, ok := after["tolem_escrow_to_stack_seconds"]; !ok {
		t.Error("tolem_escrow_to_stack_seconds is not exported")
	}
	if v, ok := sample(after, "tolem_bank_request_seconds", "endpoint", "POST /v1/wallets/lookup", "code", "200"); !ok || v < 1 {
		t.Errorf("no bank request latency for the wallet lookup: %v %v", v, ok)
	}

	// The heartbeat tells the bank where the chain stands.
	bank := simBankURL(t, k)
	var head kiosk.ChainHead
	deadline = time.Now().Add(30 * time.Second)
	for {
		var hbs []struct {
			Body struct {
				Chain *kiosk.ChainHead `json:"chain"`
			} `json:"body"`
		}
		resp, err := http.Get(bank + "/_admin/heartbeats")
		if err == nil {
			json.NewDecoder(resp.Body).Decode(&hbs)
			resp.Body.Close()
		}
		// Wait for a heartbeat sent after the top-up: its chain holds the
		// credited top-up (entries for the session's bills and top-up).
		if len(hbs) == 1 && hbs[0].Body.Chain != nil && hbs[0].Body.Chain.Count >= 8 {
			head = *hbs[0].Body.Chain
			break
		}
		if time.Now().After(deadline) {
			t.Fatalf("no heartbeat with the chain head after the top-up: %+v", hbs)
		}
		time.Sleep(200 * time.Millisecond)
	}
	db, err := sql.Open("sqlite", "file:"+filepath.Join(dir, "ledger.db")+"?_pragma=busy_timeout(5000)")
	if err != nil {
		t.Fatal(err)
	}
	defer db.Close()
	var hash string
	if err := db.QueryRow(`SELECT hash FROM chain WHERE seq = ?`, head.Count).Scan(&hash); err != nil || hash != head.Head {
		t.Errorf("the heartbeat's head %+v is not entry %d of the ledger's chain (%q, %v)", head, head.Count, hash, err)
	}

	out, errOut, code := ctl(t, dir, "", "verify")
	if code != 0 || !strings.Contains(out, "OK") {
		t.Fatalf("kioskctl verify on an untouched ledger: exit %d\n%s%s", code, out, errOut)
	}
	// Someone with the sqlite3 shell makes the 2 000 ₸ bill a 20 000 ₸ one.
	var billID string
	if err := db.QueryRow(`SELECT id FROM bills WHERE value = 200000`).Scan(&billID); err != nil {
		t.Fatal(err)
	}
	if _, err := db.Exec(`UPDATE bills SET value = 2000000 WHERE id = ?`, billID); err != nil {
		t.Fatal(err)
	}
	out, errOut, code = ctl(t, dir, "", "verify")
	if code != 1 || !strings.Contains(out, fmt.Sprintf("BROKEN  bills %s", billID)) ||
		!strings.Contains(out, "value: chain has 200000, row has 2000000") {
		t.Errorf("kioskctl verify after the edit: exit %d, want 1 naming bills %s and its value\n%s%s", code, billID, out, errOut)
	}
	k.stop()
}
