package banksim_test

import (
	"bytes"
	"context"
	"crypto/rand"
	"encoding/json"
	"fmt"
	"io"
	"net/http"
	"net/http/httptest"
	"path/filepath"
	"strings"
	"sync"
	"testing"
	"time"

	"tolem/kiosk"
	"tolem/sync/bankapi"
	"tolem/sync/bankapi/banksim"
)

const (
	terminal = "KZ-TEST-0001"
	secret   = "test-secret"
	phone    = kiosk.Phone("+77011234567")
)

func newUUID(t testing.TB) string {
	var b [16]byte
	if _, err := rand.Read(b[:]); err != nil {
		t.Fatal(err)
	}
	return fmt.Sprintf("%x-%x-%x-%x-%x", b[0:4], b[4:6], b[6:8], b[8:10], b[10:16])
}

func body(t *testing.T, id string) []byte {
	t.Helper()
	at := time.Date(2026, 3, 1, 9, 0, 0, 0, time.UTC)
	raw, err := bankapi.BodyFromTopUp(kiosk.TopUp{ID: id, ReceiptNo: 1, Phone: phone, Amount: kiosk.Tenge(1000),
		Bills: []kiosk.BillCount{{Value: kiosk.Tenge(1000), Count: 1}}, CreatedAt: at, CompletedAt: at}).Marshal()
	if err != nil {
		t.Fatal(err)
	}
	return raw
}

func newServer(t *testing.T, opts banksim.Options) (*banksim.Server, *httptest.Server) {
	t.Helper()
	if opts.Terminals == nil {
		opts.Terminals = map[string][]byte{terminal: []byte(secret)}
	}
	if opts.Wallets == nil {
		opts.Wallets = map[kiosk.Phone]string{phone: "Нурлан К."}
	}
	s, err := banksim.New(opts)
	if err != nil {
		t.Fatal(err)
	}
	ts := httptest.NewServer(s.Handler())
	t.Cleanup(func() {
		ts.Close()
		s.Close()
	})
	return s, ts
}

// do sends a request signed by hand (or not at all), so that the bank is
// tested on what it receives rather than through the client's habits.
func do(t *testing.T, ts *httptest.Server, method, path string, b []byte, sign bool, hdr map[string]string) (*http.Response, []byte) {
	t.Helper()
	req, err := http.NewRequest(method, ts.URL+path, bytes.NewReader(b))
	if err != nil {
		t.Fatal(err)
	}
	for k, v := range hdr {
		req.Header.Set(k, v)
	}
	if sign {
		bankapi.Sign(req, b, terminal, []byte(secret), time.Now())
	}
	resp, err := ts.Client().Do(req)
	if err != nil {
		t.Fatal(err)
	}
	defer resp.Body.Close()
	data, _ := io.ReadAll(resp.Body)
	return resp, data
}

func errorCode(t *testing.T, data []byte) string {
	t.Helper()
	e, err := bankapi.DecodeError(data)
	if err != nil {
		t.Fatalf("error body %s: %v", data, err)
	}
	return e.Error
}

func TestAnswers(t *testing.T) {
	_, ts := newServer(t, banksim.Options{})
	id := newUUID(t)
	tests := []struct {
		name       string
		method     string
		path       string
		body       []byte
		sign       bool
		hdr        map[string]string
		code       int
		errorCode  string
		bodyPrefix string
	}{
		{"unsigned", "GET", "/v1/ping", nil, false, nil, 401, bankapi.CodeBadSignature, ""},
		{"ping", "GET", "/v1/ping", nil, true, nil, 200, "", `{"time":"`},
		{"wrong method", "POST", "/v1/ping", nil, true, nil, 405, "method_not_allowed", ""},
		{"unknown endpoint", "GET", "/v1/nothing", nil, true, nil, 404, bankapi.CodeNotFound, ""},
		{"outside the API", "GET", "/", nil, false, nil, 404, bankapi.CodeNotFound, ""},
		{"no Idempotency-Key", "POST", "/v1/topups", body(t, id), true, nil, 422, bankapi.CodeInvalid, ""},
		{"Idempotency-Key of another id", "POST", "/v1/topups", body(t, id), true,
			map[string]string{bankapi.HeaderIdempotencyKey: newUUID(t)}, 422, bankapi.CodeInvalid, ""},
		{"top-up", "POST", "/v1/topups", body(t, id), true,
			map[string]string{bankapi.HeaderIdempotencyKey: id}, 201, "", `{"id":"` + id + `","status":"credited"`},
		{"status", "GET", "/v1/topups/" + id, nil, true, nil, 200, "", `{"id":"` + id + `","status":"credited"`},
		{"lookup of a bad number", "POST", "/v1/wallets/lookup", []byte(`{"phone":"12345"}`), true, nil, 422, bankapi.CodeInvalid, ""},
		{"empty batch", "POST", "/v1/topups/batch", []byte(`{"topups":[]}`), true, nil, 422, bankapi.CodeInvalid, ""},
		{"batch that is not one", "POST", "/v1/topups/batch", []byte(`[1]`), true, nil, 422, bankapi.CodeInvalid, ""},
		{"heartbeat without state", "POST", "/v1/heartbeat", []byte(`{}`), true, nil, 422, bankapi.CodeInvalid, ""},
		{"heartbeat", "POST", "/v1/heartbeat", []byte(`{"state":"idle"}`), true, nil, 204, "", ""},
	}
	for _, tc := range tests {
		t.Run(tc.name, func(t *testing.T) {
			resp, data := do(t, ts, tc.method, tc.path, tc.body, tc.sign, tc.hdr)
			if resp.StatusCode != tc.code {
				t.Fatalf("code %d, want %d: %s", resp.StatusCode, tc.code, data)
			}
			if resp.Header.Get(bankapi.HeaderBankTime) == "" {
				t.Error("no X-Bank-Time")
			}
			if tc.errorCode != "" && errorCode(t, data) != tc.errorCode {
				t.Errorf("error %s, want %s", data, tc.errorCode)
			}
			if !strings.HasPrefix(string(data), tc.bodyPrefix) {
				t.Errorf("body %s, want it to start with %s", data, tc.bodyPrefix)
			}
		})
	}
}

func TestBatchLimit(t *testing.T) {
	_, ts := newServer(t, banksim.Options{})
	items := make([]json.RawMessage, bankapi.MaxBatch+1)
	for i := range items {
		items[i] = body(t, newUUID(t))
	}
	b, _ := json.Marshal(bankapi.BatchRequest{TopUps: items})
	resp, data := do(t, ts, "POST", "/v1/topups/batch", b, true, nil)
	if resp.StatusCode != 422 {
		t.Errorf("101 items: %d %s", resp.StatusCode, data)
	}
	b, _ = json.Marshal(bankapi.BatchRequest{TopUps: items[:bankapi.MaxBatch]})
	resp, data = do(t, ts, "POST", "/v1/topups/batch", b, true, nil)
	if resp.StatusCode != 200 {
		t.Fatalf("100 items: %d %s", resp.StatusCode, data)
	}
	br, err := bankapi.DecodeBatchResult(data)
	if err != nil || len(br.Results) != bankapi.MaxBatch {
		t.Errorf("results: %v", err)
	}
}

func TestSameBodyInBatchAndAlone(t *testing.T) {
	// A top-up first sent in a batch, then alone with the whitespace of
	// another encoder, is the same body.
	_, ts := newServer(t, banksim.Options{})
	id := newUUID(t)
	b := body(t, id)
	batch := []byte(`{"topups":[` + string(b) + `]}`)
	if resp, data := do(t, ts, "POST", "/v1/topups/batch", batch, true, nil); resp.StatusCode != 200 {
		t.Fatalf("batch: %d %s", resp.StatusCode, data)
	}
	var pretty bytes.Buffer
	json.Indent(&pretty, b, "", "  ")
	resp, data := do(t, ts, "POST", "/v1/topups", pretty.Bytes(), true, map[string]string{bankapi.HeaderIdempotencyKey: id})
	if resp.StatusCode != 200 {
		t.Errorf("alone: %d %s", resp.StatusCode, data)
	}
}

func TestRestartKeepsIDs(t *testing.T) {
	path := filepath.Join(t.TempDir(), "bank.db")
	id := newUUID(t)
	hdr := map[string]string{bankapi.HeaderIdempotencyKey: id}
	s1, ts1 := newServer(t, banksim.Options{DBPath: path})
	if resp, data := do(t, ts1, "POST", "/v1/topups", body(t, id), true, hdr); resp.StatusCode != 201 {
		t.Fatalf("first: %d %s", resp.StatusCode, data)
	}
	ts1.Close()
	if err := s1.Close(); err != nil {
		t.Fatal(err)
	}

	s2, ts2 := newServer(t, banksim.Options{DBPath: path})
	resp, data := do(t, ts2, "POST", "/v1/topups", body(t, id), true, hdr)
	if resp.StatusCode != 200 || !strings.Contains(string(data), `"credited"`) {
		t.Errorf("after restart: %d %s", resp.StatusCode, data)
	}
	st, err := s2.Stats()
	if err != nil || st.Credits[id] != 1 || st.TopUps != 1 {
		t.Errorf("stats after restart: %+v, %v", st, err)
	}
}

func TestAdmin(t *testing.T) {
	s, ts := newServer(t, banksim.Options{Faults: banksim.Faults{Latency: time.Millisecond}})
	resp, data := do(t, ts, "POST", "/_admin/faults", []byte(`{"drop_rate":0.25,"credit_delay":"2m","clock_skew":-30}`), false, nil)
	if resp.StatusCode != 200 {
		t.Fatalf("set faults: %d %s", resp.StatusCode, data)
	}
	want := banksim.Faults{Latency: time.Millisecond, DropRate: 0.25, CreditDelay: 2 * time.Minute, ClockSkew: -30 * time.Second}
	if got := s.Faults(); got != want {
		t.Errorf("faults %+v, want %+v (unnamed fields kept)", got, want)
	}
	resp, data = do(t, ts, "POST", "/_admin/faults", []byte(`{"fail_rate":2}`), false, nil)
	if resp.StatusCode != 422 || s.Faults() != want {
		t.Errorf("a rate of 2: %d %s", resp.StatusCode, data)
	}
	resp, data = do(t, ts, "GET", "/_admin/faults", nil, false, nil)
	if resp.StatusCode != 200 || !strings.Contains(string(data), `"credit_delay":"2m0s"`) {
		t.Errorf("get faults: %s", data)
	}
	if resp, data = do(t, ts, "POST", "/_admin/wallets", []byte(`{"phone":"+77770001122","name":"Айгуль С."}`), false, nil); resp.StatusCode != 204 {
		t.Errorf("add wallet: %d %s", resp.StatusCode, data)
	}
	resp, data = do(t, ts, "POST", "/v1/wallets/lookup", []byte(`{"phone":"+77770001122"}`), true, nil)
	if !strings.Contains(string(data), "Айгуль С.") {
		t.Errorf("lookup of the added wallet: %d %s", resp.StatusCode, data)
	}
	for _, path := range []string{"/_admin/stats", "/_admin/topups", "/_admin/heartbeats"} {
		if resp, data := do(t, ts, "GET", path, nil, false, nil); resp.StatusCode != 200 || !json.Valid(data) {
			t.Errorf("%s: %d %s", path, resp.StatusCode, data)
		}
	}

	// From another host: refused.
	req := httptest.NewRequest("GET", "/_admin/stats", nil)
	req.RemoteAddr = "192.0.2.7:40000"
	rec := httptest.NewRecorder()
	s.Handler().ServeHTTP(rec, req)
	if rec.Code != 403 {
		t.Errorf("admin from afar: %d", rec.Code)
	}
}

func TestAdminTopUpsList(t *testing.T) {
	s, ts := newServer(t, banksim.Options{})
	id := newUUID(t)
	do(t, ts, "POST", "/v1/topups", body(t, id), true, map[string]string{bankapi.HeaderIdempotencyKey: id})
	list, err := s.TopUps()
	if err != nil || len(list) != 1 {
		t.Fatalf("%+v, %v", list, err)
	}
	r := list[0]
	if r.ID != id || r.Terminal != terminal || r.Amount != kiosk.Tenge(1000) || r.Status != bankapi.StatusCredited || r.Credits != 1 || r.CreditedAt == nil {
		t.Errorf("record %+v", r)
	}
}

func TestParseFlags(t *testing.T) {
	if id, sec, err := banksim.ParseTerminal("KZ-1=s=x"); err != nil || id != "KZ-1" || string(sec) != "s=x" {
		t.Errorf("ParseTerminal: %q %q %v", id, sec, err)
	}
	for _, bad := range []string{"KZ-1", "=s", "KZ-1="} {
		if _, _, err := banksim.ParseTerminal(bad); err == nil {
			t.Errorf("ParseTerminal(%q) accepted", bad)
		}
	}
	if p, n, err := banksim.ParseWallet("+77011234567=Нурлан К."); err != nil || p != phone || n != "Нурлан К." {
		t.Errorf("ParseWallet: %q %q %v", p, n, err)
	}
	if _, _, err := banksim.ParseWallet("87011234567=X"); err == nil {
		t.Error("ParseWallet accepted a number without +7")
	}
	m, err := banksim.ReadWallets(strings.NewReader("# wallets\n\n+77011234567 Нурлан К.\n+77770001122   Айгуль С.\n"))
	if err != nil || len(m) != 2 || m["+77770001122"] != "Айгуль С." {
		t.Errorf("ReadWallets: %v %v", m, err)
	}
	if _, err := banksim.ReadWallets(strings.NewReader("+7701 X\n")); err == nil || !strings.Contains(err.Error(), "line 1") {
		t.Errorf("ReadWallets of a bad line: %v", err)
	}
}

type syncBuffer struct {
	mu sync.Mutex
	b  bytes.Buffer
}

func (s *syncBuffer) Write(p []byte) (int, error) {
	s.mu.Lock()
	defer s.mu.Unlock()
	return s.b.Write(p)
}

func (s *syncBuffer) String() string {
	s.mu.Lock()
	defer s.mu.Unlock()
	return s.b.String()
}

func TestRun(t *testing.T) {
	ctx, cancel := context.WithCancel(context.Background())
	defer cancel()
	var out, errOut syncBuffer
	done := make(chan error, 1)
	go func() {
		done <- banksim.Run(ctx, []string{"-listen", "127.0.0.1:0", "-terminal", terminal + "=" + secret,
			"-wallet", "+77011234567=Нурлан К.", "-db", filepath.Join(t.TempDir(), "bank.db")}, &out, &errOut)
	}()
	deadline := time.Now().Add(20 * time.Second)
	var url string
	for url == "" && time.Now().Before(deadline) {
		if line := out.String(); strings.Contains(line, "\n") {
			f := strings.Fields(line)
			url = f[3]
			break
		}
		time.Sleep(10 * time.Millisecond)
	}
	if url == "" {
		t.Fatalf("no URL printed; stderr: %s", errOut.String())
	}
	c, err := bankapi.New(bankapi.Options{BaseURL: url, TerminalID: terminal, Secret: []byte(secret)})
	if err != nil {
		t.Fatal(err)
	}
	w, err := c.LookupWallet(ctx, phone)
	if err != nil || w.Name != "Нурлан К." {
		t.Errorf("lookup: %+v, %v", w, err)
	}
	cancel()
	select {
	case err := <-done:
		if err != nil {
			t.Errorf("Run: %v", err)
		}
	case <-time.After(20 * time.Second):
		t.Fatal("Run did not stop")
	}
}

// With PendingEvery 3 the first top-up and every third after it are
// answered pending, the others credited: the demo's share, every time.
func TestPendingEvery(t *testing.T) {
	s, ts := newServer(t, banksim.Options{})
	if err := s.SetFaults(banksim.Faults{PendingEvery: 3, CreditDelay: time.Hour}); err != nil {
		t.Fatal(err)
	}
	var got []string
	for receipt := int64(1); receipt <= 7; receipt++ {
		id := newUUID(t)
		at := time.Date(2026, 3, 1, 9, 0, 0, 0, time.UTC)
		raw, err := bankapi.BodyFromTopUp(kiosk.TopUp{ID: id, ReceiptNo: receipt, Phone: phone, Amount: kiosk.Tenge(1000),
			Bills: []kiosk.BillCount{{Value: kiosk.Tenge(1000), Count: 1}}, CreatedAt: at, CompletedAt: at}).Marshal()
		if err != nil {
			t.Fatal(err)
		}
		_, data := do(t, ts, "POST", "/v1/topups", raw, true, map[string]string{bankapi.HeaderIdempotencyKey: id})
		var st struct {
			Status string `json:"status"`
		}
		json.Unmarshal(data, &st)
		got = append(got, st.Status)
	}
	want := []string{"pending", "credited", "credited", "pending", "credited", "credited", "pending"}
	if strings.Join(got, " ") != strings.Join(want, " ") {
		t.Errorf("receipts 1…7 answered %v, want %v", got, want)
	}
	if err := s.SetFaults(banksim.Faults{PendingEvery: -1}); err == nil {
		t.Error("a negative pending_every was accepted")
	}
}
