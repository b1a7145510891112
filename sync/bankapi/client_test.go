package bankapi_test

import (
	"context"
	"crypto/rand"
	"encoding/pem"
	"errors"
	"fmt"
	"net"
	"net/http"
	"net/http/httptest"
	"os"
	"path/filepath"
	"strings"
	"sync"
	"sync/atomic"
	"testing"
	"time"

	"tolem/kiosk"
	"tolem/sync/bankapi"
	"tolem/sync/bankapi/banksim"
)

const (
	terminal   = "KZ-TEST-0001"
	secret     = "test-secret"
	knownPhone = kiosk.Phone("+77011234567")
	otherPhone = kiosk.Phone("+77770000000")
)

// fakeClock is a kiosk.Clock that moves only when told.
type fakeClock struct {
	mu sync.Mutex
	t  time.Time
}

func newFakeClock() *fakeClock { return &fakeClock{t: time.Date(2026, 3, 1, 10, 0, 0, 0, time.UTC)} }

func (c *fakeClock) Now() time.Time {
	c.mu.Lock()
	defer c.mu.Unlock()
	return c.t
}

func (c *fakeClock) Advance(d time.Duration) {
	c.mu.Lock()
	c.t = c.t.Add(d)
	c.mu.Unlock()
}

func (c *fakeClock) NewTimer(time.Duration) kiosk.Timer { return idleTimer{} }

type idleTimer struct{}

func (idleTimer) C() <-chan time.Time { return nil }
func (idleTimer) Stop() bool          { return true }

func newUUID(t testing.TB) string {
	var b [16]byte
	if _, err := rand.Read(b[:]); err != nil {
		t.Fatal(err)
	}
	return fmt.Sprintf("%x-%x-%x-%x-%x", b[0:4], b[4:6], b[6:8], b[8:10], b[10:16])
}

type bank struct {
	sim   *banksim.Server
	url   string
	clock *fakeClock
}

// newBank starts the sandbox on loopback, on a fake clock shared with the
// kiosk so that crediting delays are stepped, not waited for.
func newBank(t *testing.T, f banksim.Faults) *bank {
	t.Helper()
	clock := newFakeClock()
	sim, err := banksim.New(banksim.Options{
		DBPath:    filepath.Join(t.TempDir(), "bank.db"),
		Terminals: map[string][]byte{terminal: []byte(secret)},
		Wallets:   map[kiosk.Phone]string{knownPhone: "Нурлан К."},
		Faults:    f,
		Seed:      1,
		Clock:     clock,
	})
	if err != nil {
		t.Fatal(err)
	}
	ts := httptest.NewServer(sim.Handler())
	t.Cleanup(func() {
		ts.Close()
		sim.Close()
	})
	return &bank{sim: sim, url: ts.URL, clock: clock}
}

func (b *bank) client(t *testing.T, change ...func(*bankapi.Options)) *bankapi.Client {
	t.Helper()
	opts := bankapi.Options{BaseURL: b.url, TerminalID: terminal, Secret: []byte(secret), Clock: b.clock, Timeout: 20 * time.Second}
	for _, f := range change {
		f(&opts)
	}
	c, err := bankapi.New(opts)
	if err != nil {
		t.Fatal(err)
	}
	return c
}

func (b *bank) stats(t *testing.T) banksim.Stats {
	t.Helper()
	st, err := b.sim.Stats()
	if err != nil {
		t.Fatal(err)
	}
	return st
}

func topUpBody(t *testing.T, id string, phone kiosk.Phone, bills ...kiosk.BillCount) []byte {
	t.Helper()
	if len(bills) == 0 {
		bills = []kiosk.BillCount{{Value: kiosk.Tenge(1000), Count: 2}, {Value: kiosk.Tenge(5000), Count: 1}}
	}
	var sum kiosk.Money
	for _, b := range bills {
		sum += b.Value * kiosk.Money(b.Count)
	}
	at := time.Date(2026, 3, 1, 9, 58, 0, 0, time.UTC)
	raw, err := bankapi.BodyFromTopUp(kiosk.TopUp{
		ID: id, ReceiptNo: 7, Phone: phone, Amount: sum, Bills: bills,
		CreatedAt: at, CompletedAt: at.Add(time.Minute),
	}).Marshal()
	if err != nil {
		t.Fatal(err)
	}
	return raw
}

func httpErr(t *testing.T, err error) *bankapi.HTTPError {
	t.Helper()
	var he *bankapi.HTTPError
	if !errors.As(err, &he) {
		t.Fatalf("error %v is not an *HTTPError", err)
	}
	return he
}

func ctx(t *testing.T) context.Context {
	c, cancel := context.WithTimeout(context.Background(), 30*time.Second)
	t.Cleanup(cancel)
	return c
}

func TestPing(t *testing.T) {
	b := newBank(t, banksim.Faults{})
	got, err := b.client(t).Ping(ctx(t))
	if err != nil {
		t.Fatal(err)
	}
	if !got.Equal(b.clock.Now()) {
		t.Errorf("ping time %v, want the bank's %v", got, b.clock.Now())
	}
}

func TestLookupWallet(t *testing.T) {
	b := newBank(t, banksim.Faults{})
	var lookup kiosk.WalletLookup = b.client(t)
	w, err := lookup.LookupWallet(ctx(t), knownPhone)
	if err != nil || !w.Found || w.Name != "Нурлан К." {
		t.Errorf("known wallet: %+v, %v", w, err)
	}
	w, err = lookup.LookupWallet(ctx(t), otherPhone)
	if err != nil || w.Found || w.Name != "" {
		t.Errorf("unknown wallet: %+v, %v", w, err)
	}
}

func TestSubmitTopUpCreditedThenSeen(t *testing.T) {
	b := newBank(t, banksim.Faults{})
	c := b.client(t)
	id := newUUID(t)
	body := topUpBody(t, id, knownPhone)

	res, err := c.SubmitTopUp(ctx(t), id, body)
	if err != nil {
		t.Fatal(err)
	}
	if res.Code != 201 || res.Status.Status != bankapi.StatusCredited || res.Status.ID != id || !res.Status.CreditedAt.Equal(b.clock.Now()) {
		t.Errorf("first submit: %+v", res)
	}
	b.clock.Advance(time.Minute)
	again, err := c.SubmitTopUp(ctx(t), id, body)
	if err != nil {
		t.Fatal(err)
	}
	if again.Code != 200 || again.Status != res.Status {
		t.Errorf("same body again: %+v, want 200 with %+v", again, res.Status)
	}
	st, err := c.TopUpStatus(ctx(t), id)
	if err != nil || st != res.Status {
		t.Errorf("status: %+v, %v", st, err)
	}
	if s := b.stats(t); s.Credits[id] != 1 || s.CreditedAmount != kiosk.Tenge(7000) {
		t.Errorf("stats: credits %d, amount %v", s.Credits[id], s.CreditedAmount)
	}
}

func TestSubmitTopUpConflictAndInvalidGoToReview(t *testing.T) {
	b := newBank(t, banksim.Faults{})
	c := b.client(t)
	id := newUUID(t)
	if _, err := c.SubmitTopUp(ctx(t), id, topUpBody(t, id, knownPhone)); err != nil {
		t.Fatal(err)
	}

	_, err := c.SubmitTopUp(ctx(t), id, topUpBody(t, id, knownPhone, kiosk.BillCount{Value: kiosk.Tenge(200), Count: 1}))
	he := httpErr(t, err)
	if he.Code != 409 || he.ErrorCode != bankapi.CodeIdempotencyConflict || !bankapi.Review(err) || bankapi.Retryable(err) {
		t.Errorf("other body: %v", err)
	}

	bad := newUUID(t)
	raw := strings.Replace(string(topUpBody(t, bad, knownPhone)), `"amount":700000`, `"amount":700001`, 1)
	_, err = c.SubmitTopUp(ctx(t), bad, []byte(raw))
	he = httpErr(t, err)
	if he.Code != 422 || he.ErrorCode != bankapi.CodeInvalid || !bankapi.Review(err) || bankapi.Retryable(err) {
		t.Errorf("amount not the sum: %v", err)
	}
	if !strings.Contains(err.Error(), "sum of the bills") {
		t.Errorf("the technician should read why: %v", err)
	}
	if s := b.stats(t); s.TopUps != 1 || s.MaxCredits != 1 {
		t.Errorf("stats after refusals: %+v", s)
	}
}

func TestPendingThenCredited(t *testing.T) {
	b := newBank(t, banksim.Faults{PendingRate: 1, CreditDelay: 10 * time.Minute})
	c := b.client(t)
	id := newUUID(t)
	body := topUpBody(t, id, knownPhone)
	res, err := c.SubmitTopUp(ctx(t), id, body)
	if err != nil || res.Code != 202 || res.Status.Status != bankapi.StatusPending || !res.Status.CreditedAt.IsZero() {
		t.Fatalf("submit: %+v, %v", res, err)
	}
	b.clock.Advance(9 * time.Minute)
	if st, err := c.TopUpStatus(ctx(t), id); err != nil || st.Status != bankapi.StatusPending {
		t.Errorf("before the delay: %+v, %v", st, err)
	}
	b.clock.Advance(time.Minute)
	st, err := c.TopUpStatus(ctx(t), id)
	if err != nil || st.Status != bankapi.StatusCredited || st.CreditedAt.IsZero() {
		t.Errorf("after the delay: %+v, %v", st, err)
	}
	again, err := c.SubmitTopUp(ctx(t), id, body)
	if err != nil || again.Code != 200 || again.Status.Status != bankapi.StatusCredited {
		t.Errorf("resubmit: %+v, %v", again, err)
	}
	if s := b.stats(t); s.Credits[id] != 1 {
		t.Errorf("credited %d times", s.Credits[id])
	}
}

func TestUnknownWalletPendingThenRejected(t *testing.T) {
	b := newBank(t, banksim.Faults{CreditDelay: time.Minute})
	c := b.client(t)
	id := newUUID(t)
	res, err := c.SubmitTopUp(ctx(t), id, topUpBody(t, id, otherPhone))
	if err != nil || res.Code != 202 || res.Status.Status != bankapi.StatusPending {
		t.Fatalf("submit: %+v, %v", res, err)
	}
	b.clock.Advance(time.Minute)
	st, err := c.TopUpStatus(ctx(t), id)
	if err != nil || st.Status != bankapi.StatusRejected || st.Reason != "wallet_not_found" || !st.CreditedAt.IsZero() {
		t.Errorf("status: %+v, %v", st, err)
	}
	if st.Status.Sync() != kiosk.SyncRejected {
		t.Errorf("sync state %v", st.Status.Sync())
	}
	if s := b.stats(t); s.Credits[id] != 0 || s.Rejected != 1 {
		t.Errorf("stats: %+v", s)
	}
}

func TestStatusUnknownID(t *testing.T) {
	b := newBank(t, banksim.Faults{})
	_, err := b.client(t).TopUpStatus(ctx(t), newUUID(t))
	if !errors.Is(err, bankapi.ErrUnknownTopUp) || bankapi.Retryable(err) || bankapi.Review(err) {
		t.Errorf("unknown id: %v", err)
	}
	if he := httpErr(t, err); he.Code != 404 {
		t.Errorf("code %d", he.Code)
	}
}

func TestBatchMixed(t *testing.T) {
	b := newBank(t, banksim.Faults{})
	c := b.client(t)
	seen, conflict, fresh, unknown, invalid := newUUID(t), newUUID(t), newUUID(t), newUUID(t), newUUID(t)
	for _, id := range []string{seen, conflict} {
		if _, err := c.SubmitTopUp(ctx(t), id, topUpBody(t, id, knownPhone)); err != nil {
			t.Fatal(err)
		}
	}
	bodies := [][]byte{
		topUpBody(t, fresh, knownPhone),
		topUpBody(t, seen, knownPhone),
		topUpBody(t, conflict, knownPhone, kiosk.BillCount{Value: kiosk.Tenge(500), Count: 1}),
		topUpBody(t, unknown, otherPhone),
		[]byte(strings.Replace(string(topUpBody(t, invalid, knownPhone)), `"KZT"`, `"RUB"`, 1)),
		topUpBody(t, fresh, knownPhone),
	}
	res, err := c.SubmitBatch(ctx(t), bodies)
	if err != nil {
		t.Fatal(err)
	}
	want := []struct {
		id     string
		code   int
		status bankapi.Status
		review bool
	}{
		{fresh, 201, bankapi.StatusCredited, false},
		{seen, 200, bankapi.StatusCredited, false},
		{conflict, 409, "", true},
		{unknown, 202, bankapi.StatusPending, false},
		{invalid, 422, "", true},
		{fresh, 200, bankapi.StatusCredited, false},
	}
	if len(res) != len(want) {
		t.Fatalf("%d results for %d bodies", len(res), len(want))
	}
	for i, w := range want {
		r := res[i]
		if r.ID != w.id || r.Code != w.code || r.Status.Status != w.status || bankapi.Review(r.Err) != w.review {
			t.Errorf("item %d: %+v, want %+v", i, r, w)
		}
		if (r.Err == nil) != r.Accepted() {
			t.Errorf("item %d: Err %v with code %d", i, r.Err, r.Code)
		}
	}
	if s := b.stats(t); s.Credits[fresh] != 1 || s.MaxCredits != 1 {
		t.Errorf("fresh credited %d times, max %d", s.Credits[fresh], s.MaxCredits)
	}

	tooMany := make([][]byte, bankapi.MaxBatch+1)
	for i := range tooMany {
		tooMany[i] = topUpBody(t, newUUID(t), knownPhone)
	}
	if _, err := c.SubmitBatch(ctx(t), tooMany); err == nil {
		t.Error("a batch over 100 was sent")
	}
}

func TestCollections(t *testing.T) {
	b := newBank(t, banksim.Faults{})
	c := b.client(t)
	id := newUUID(t)
	coll := bankapi.CollectionBody{
		ID: id, CassetteID: "CC-0042", OpenedAt: time.Date(2026, 2, 28, 9, 0, 0, 0, time.UTC),
		ClosedAt: time.Date(2026, 3, 1, 9, 0, 0, 0, time.UTC),
		Bills:    []kiosk.BillCount{{Value: kiosk.Tenge(1000), Count: 5}}, Amount: kiosk.Tenge(5000),
		TopUps: 3, FirstReceiptNo: 100, LastReceiptNo: 102,
	}
	body, _ := coll.Marshal()
	if code, err := c.PostCollection(ctx(t), id, body); err != nil || code != 201 {
		t.Errorf("first: %d, %v", code, err)
	}
	if code, err := c.PostCollection(ctx(t), id, body); err != nil || code != 200 {
		t.Errorf("again: %d, %v", code, err)
	}
	coll.CassetteID = "CC-0043"
	other, _ := coll.Marshal()
	_, err := c.PostCollection(ctx(t), id, other)
	if he := httpErr(t, err); he.Code != 409 || !bankapi.Review(err) {
		t.Errorf("other body: %v", err)
	}
}

func TestHeartbeat(t *testing.T) {
	b := newBank(t, banksim.Faults{})
	c := b.client(t)
	hb := bankapi.Heartbeat{State: "idle", Version: "1.0.0",
		Acceptor: kiosk.AcceptorInfo{Protocol: "ccnet", Ready: true},
		Cassette: bankapi.Cassette{Count: 12, Amount: kiosk.Tenge(24000), Capacity: 600},
		Queue:    bankapi.HeartbeatQueue{Unsent: 1, OldestAt: b.clock.Now()}}
	if err := c.Heartbeat(ctx(t), hb); err != nil {
		t.Fatal(err)
	}
	hb.State = "insert_cash"
	if err := c.Heartbeat(ctx(t), hb); err != nil {
		t.Fatal(err)
	}
	list, err := b.sim.Heartbeats()
	if err != nil || len(list) != 1 || list[0].Count != 2 || !strings.Contains(string(list[0].Body), `"state":"insert_cash"`) {
		t.Errorf("stored heartbeats: %+v, %v", list, err)
	}
	if s := b.stats(t); s.ByCode[204] != 2 {
		t.Errorf("answers: %v", s.ByCode)
	}
}

func TestBadSignature(t *testing.T) {
	b := newBank(t, banksim.Faults{})
	c := b.client(t, func(o *bankapi.Options) { o.Secret = []byte("not-the-secret") })
	_, err := c.Ping(ctx(t))
	he := httpErr(t, err)
	if he.Code != 401 || he.ErrorCode != bankapi.CodeBadSignature || !bankapi.Retryable(err) {
		t.Errorf("wrong secret: %v", err)
	}
	if !strings.Contains(err.Error(), "bank.secret") {
		t.Errorf("the message should say what to check: %v", err)
	}
	if _, err := c.LookupWallet(ctx(t), knownPhone); !errors.Is(err, kiosk.ErrBankUnavailable) {
		t.Errorf("lookup with a wrong secret must take the offline path: %v", err)
	}
}

func TestStaleTimestampRecoversWithBankTime(t *testing.T) {
	for _, skew := range []time.Duration{time.Hour, -time.Hour} {
		t.Run(skew.String(), func(t *testing.T) {
			b := newBank(t, banksim.Faults{ClockSkew: skew})
			c := b.client(t)
			id := newUUID(t)
			// The very first request is signed with the kiosk's own clock,
			// an hour off; the 401's X-Bank-Time teaches the offset.
			res, err := c.SubmitTopUp(ctx(t), id, topUpBody(t, id, knownPhone))
			if err != nil || res.Code != 201 {
				t.Fatalf("submit: %+v, %v", res, err)
			}
			if off := c.Offset(); off < skew-2*time.Second || off > skew+2*time.Second {
				t.Errorf("offset %v, want about %v", off, skew)
			}
			s := b.stats(t)
			if s.ByCode[401] != 1 || s.ByCode[201] != 1 {
				t.Errorf("answers %v: want one 401 then one 201", s.ByCode)
			}
			// Known now: no more 401.
			if _, err := c.Ping(ctx(t)); err != nil {
				t.Fatal(err)
			}
			if s := b.stats(t); s.ByCode[401] != 1 {
				t.Errorf("answers %v", s.ByCode)
			}
		})
	}
}

func TestStaleTimestampRetriedOnlyOnce(t *testing.T) {
	var calls atomic.Int32
	srv := httptest.NewServer(http.HandlerFunc(func(w http.ResponseWriter, r *http.Request) {
		calls.Add(1)
		w.Header().Set(bankapi.HeaderBankTime, "1700000000")
		w.WriteHeader(401)
		fmt.Fprint(w, `{"error":"stale_timestamp"}`)
	}))
	defer srv.Close()
	c, err := bankapi.New(bankapi.Options{BaseURL: srv.URL, TerminalID: terminal, Secret: []byte(secret)})
	if err != nil {
		t.Fatal(err)
	}
	_, err = c.Ping(ctx(t))
	if he := httpErr(t, err); he.ErrorCode != bankapi.CodeStaleTimestamp || !bankapi.Retryable(err) {
		t.Errorf("err %v", err)
	}
	if n := calls.Load(); n != 2 {
		t.Errorf("%d requests, want the first and one re-signed", n)
	}
}

func TestRateLimited(t *testing.T) {
	b := newBank(t, banksim.Faults{RateLimit: 0.5})
	c := b.client(t)
	if _, err := c.Ping(ctx(t)); err != nil {
		t.Fatal(err)
	}
	// The fake clock stands still: the bucket cannot refill.
	_, err := c.Ping(ctx(t))
	he := httpErr(t, err)
	if he.Code != 429 || he.RetryAfter != 2*time.Second || bankapi.RetryAfter(err) != 2*time.Second || !bankapi.Retryable(err) {
		t.Errorf("429: %+v", he)
	}
	if _, err := c.LookupWallet(ctx(t), knownPhone); !errors.Is(err, kiosk.ErrBankUnavailable) {
		t.Errorf("lookup under a rate limit: %v", err)
	}
	b.clock.Advance(2 * time.Second)
	if _, err := c.Ping(ctx(t)); err != nil {
		t.Errorf("after Retry-After: %v", err)
	}
}

func TestBankFailing(t *testing.T) {
	b := newBank(t, banksim.Faults{FailRate: 1})
	c := b.client(t)
	id := newUUID(t)
	_, err := c.SubmitTopUp(ctx(t), id, topUpBody(t, id, knownPhone))
	if he := httpErr(t, err); he.Code != 503 || !bankapi.Retryable(err) || !errors.Is(err, kiosk.ErrBankUnavailable) {
		t.Errorf("503: %v", err)
	}
	_, err = c.LookupWallet(ctx(t), knownPhone)
	if !errors.Is(err, kiosk.ErrBankUnavailable) {
		t.Errorf("lookup: %v", err)
	}
	if strings.Contains(err.Error(), string(knownPhone)) {
		t.Errorf("the error shows the whole number: %v", err)
	}
	if s := b.stats(t); s.TopUps != 0 {
		t.Errorf("a 503 committed a top-up")
	}
}

func TestGarbageAnswers(t *testing.T) {
	answers := map[string]string{
		"/v1/ping":           `<html><body>502 Bad Gateway</body></html>`,
		"/v1/wallets/lookup": `{"found":"maybe"}`,
		"/v1/topups":         `{"id":"x","status":"teleported"}`,
		"/v1/topups/batch":   `{"results":[{"id":"x"}]}`,
	}
	srv := httptest.NewServer(http.HandlerFunc(func(w http.ResponseWriter, r *http.Request) {
		code := 200
		if r.URL.Path == "/v1/topups" {
			code = 201
		}
		w.WriteHeader(code)
		fmt.Fprint(w, answers[r.URL.Path])
	}))
	defer srv.Close()
	c, err := bankapi.New(bankapi.Options{BaseURL: srv.URL, TerminalID: terminal, Secret: []byte(secret)})
	if err != nil {
		t.Fatal(err)
	}
	id := newUUID(t)
	_, errPing := c.Ping(ctx(t))
	_, errLookup := c.LookupWallet(ctx(t), knownPhone)
	_, errSubmit := c.SubmitTopUp(ctx(t), "x", topUpBody(t, id, knownPhone))
	_, errBatch := c.SubmitBatch(ctx(t), [][]byte{topUpBody(t, id, knownPhone)})
	for name, err := range map[string]error{"ping": errPing, "lookup": errLookup, "submit": errSubmit, "batch": errBatch} {
		if !errors.Is(err, bankapi.ErrGarbage) || !strings.Contains(err.Error(), "bank answered garbage: ") || !bankapi.Retryable(err) {
			t.Errorf("%s: %v", name, err)
		}
	}
	if !errors.Is(errLookup, kiosk.ErrBankUnavailable) {
		t.Errorf("lookup garbage must take the offline path: %v", errLookup)
	}
}

func TestAnswerOverOneMiBRefused(t *testing.T) {
	srv := httptest.NewServer(http.HandlerFunc(func(w http.ResponseWriter, r *http.Request) {
		fmt.Fprintf(w, `{"time":"2026-03-01T10:00:00Z","pad":"%s"}`, strings.Repeat("x", bankapi.MaxBody))
	}))
	defer srv.Close()
	c, _ := bankapi.New(bankapi.Options{BaseURL: srv.URL, TerminalID: terminal, Secret: []byte(secret)})
	_, err := c.Ping(ctx(t))
	if !errors.Is(err, bankapi.ErrGarbage) || !strings.Contains(err.Error(), "longer than") {
		t.Errorf("oversized answer: %v", err)
	}
}

func TestCommitThenDropIsRetryableAndCreditsOnce(t *testing.T) {
	b := newBank(t, banksim.Faults{DropRate: 1})
	// A fresh client: its first request goes on a new connection, so the
	// transport reports the drop instead of resending on its own.
	c := b.client(t)
	id := newUUID(t)
	body := topUpBody(t, id, knownPhone)
	_, err := c.SubmitTopUp(ctx(t), id, body)
	if err == nil || !bankapi.Retryable(err) || !errors.Is(err, bankapi.ErrUnreachable) || bankapi.Review(err) {
		t.Fatalf("dropped answer: %v", err)
	}
	batchID := newUUID(t)
	if _, err := c.SubmitBatch(ctx(t), [][]byte{topUpBody(t, batchID, knownPhone)}); !bankapi.Retryable(err) {
		t.Fatalf("dropped batch: %v", err)
	}
	if err := b.sim.SetFaults(banksim.Faults{}); err != nil {
		t.Fatal(err)
	}
	res, err := c.SubmitTopUp(ctx(t), id, body)
	if err != nil || res.Code != 200 || res.Status.Status != bankapi.StatusCredited {
		t.Errorf("resubmit: %+v, %v", res, err)
	}
	items, err := c.SubmitBatch(ctx(t), [][]byte{topUpBody(t, batchID, knownPhone)})
	if err != nil || items[0].Code != 200 {
		t.Errorf("batch resubmit: %+v, %v", items, err)
	}
	s := b.stats(t)
	if s.Credits[id] != 1 || s.Credits[batchID] != 1 || s.MaxCredits != 1 || s.Dropped != 2 {
		t.Errorf("stats: %+v", s)
	}
}

func TestTimeoutIsRetryable(t *testing.T) {
	b := newBank(t, banksim.Faults{Latency: time.Minute})
	c := b.client(t, func(o *bankapi.Options) { o.Timeout = 50 * time.Millisecond })
	_, err := c.Ping(ctx(t))
	if !bankapi.Retryable(err) || !errors.Is(err, kiosk.ErrBankUnavailable) {
		t.Errorf("timeout: %v", err)
	}
}

func TestCancelledIsNotRetryable(t *testing.T) {
	b := newBank(t, banksim.Faults{})
	c := b.client(t)
	cctx, cancel := context.WithCancel(context.Background())
	cancel()
	if _, err := c.Ping(cctx); err == nil || bankapi.Retryable(err) {
		t.Errorf("cancelled: %v", err)
	}
}

func TestConnectionRefused(t *testing.T) {
	ln, err := net.Listen("tcp", "127.0.0.1:0")
	if err != nil {
		t.Fatal(err)
	}
	url := "http://" + ln.Addr().String()
	ln.Close()
	c, _ := bankapi.New(bankapi.Options{BaseURL: url, TerminalID: terminal, Secret: []byte(secret)})
	_, err = c.Ping(ctx(t))
	if !errors.Is(err, bankapi.ErrUnreachable) || !errors.Is(err, kiosk.ErrBankUnavailable) || !bankapi.Retryable(err) {
		t.Errorf("refused: %v", err)
	}
	if !strings.Contains(err.Error(), "bank.url") {
		t.Errorf("the message should say what to check: %v", err)
	}
}

func TestNewChecksOptions(t *testing.T) {
	tests := []struct {
		url    string
		secret string
		ok     bool
	}{
		{"https://bank.example/api", secret, true},
		{"http://127.0.0.1:8700", secret, true},
		{"http://localhost:8700/", secret, true},
		{"http://[::1]:8700", secret, true},
		{"http://bank.example", secret, false},
		{"http://10.0.0.5:8700", secret, false},
		{"ftp://bank.example", secret, false},
		{"bank.example", secret, false},
		{"https://bank.example", "", false},
	}
	for _, tc := range tests {
		_, err := bankapi.New(bankapi.Options{BaseURL: tc.url, TerminalID: terminal, Secret: []byte(tc.secret)})
		if (err == nil) != tc.ok {
			t.Errorf("New(%q) = %v, want ok=%v", tc.url, err, tc.ok)
		}
	}
	if _, err := bankapi.New(bankapi.Options{BaseURL: "https://bank.example", TerminalID: terminal, Secret: []byte(secret),
		CAFile: filepath.Join(t.TempDir(), "missing.pem")}); err == nil {
		t.Error("a missing ca_file was accepted")
	}
}

func TestHTTPSWithCAFile(t *testing.T) {
	clock := newFakeClock()
	sim, err := banksim.New(banksim.Options{Terminals: map[string][]byte{terminal: []byte(secret)}, Clock: clock})
	if err != nil {
		t.Fatal(err)
	}
	defer sim.Close()
	srv := httptest.NewTLSServer(sim.Handler())
	defer srv.Close()
	ca := filepath.Join(t.TempDir(), "bank-ca.pem")
	pemBytes := pem.EncodeToMemory(&pem.Block{Type: "CERTIFICATE", Bytes: srv.Certificate().Raw})
	if err := os.WriteFile(ca, pemBytes, 0o600); err != nil {
		t.Fatal(err)
	}
	// httptest's certificate is for 127.0.0.1 and example.com; the address
	// is the loopback one.
	c, err := bankapi.New(bankapi.Options{BaseURL: srv.URL, TerminalID: terminal, Secret: []byte(secret), CAFile: ca, Clock: clock})
	if err != nil {
		t.Fatal(err)
	}
	if _, err := c.Ping(ctx(t)); err != nil {
		t.Errorf("ping over TLS with ca_file: %v", err)
	}
	noCA, _ := bankapi.New(bankapi.Options{BaseURL: srv.URL, TerminalID: terminal, Secret: []byte(secret), Clock: clock})
	if _, err := noCA.Ping(ctx(t)); !errors.Is(err, bankapi.ErrUnreachable) {
		t.Errorf("an unknown authority was trusted: %v", err)
	}
}

func TestRequestOverOneMiBRefusedByBank(t *testing.T) {
	b := newBank(t, banksim.Faults{})
	id := newUUID(t)
	huge := append([]byte(`{"pad":"`), append([]byte(strings.Repeat("x", bankapi.MaxBody)), `"}`...)...)
	_, err := b.client(t).SubmitTopUp(ctx(t), id, huge)
	if he := httpErr(t, err); he.Code != 413 || he.ErrorCode != bankapi.CodeTooLarge {
		t.Errorf("huge body: %v", err)
	}
}

func TestConcurrentSubmitsCreditOnce(t *testing.T) {
	b := newBank(t, banksim.Faults{})
	c := b.client(t)
	id := newUUID(t)
	body := topUpBody(t, id, knownPhone)
	var wg sync.WaitGroup
	codes := make([]int, 16)
	for i := range codes {
		wg.Add(1)
		go func() {
			defer wg.Done()
			res, err := c.SubmitTopUp(ctx(t), id, body)
			if err != nil {
				t.Error(err)
				return
			}
			codes[i] = res.Code
		}()
	}
	wg.Wait()
	created := 0
	for _, code := range codes {
		if code == 201 {
			created++
		} else if code != 200 {
			t.Errorf("code %d", code)
		}
	}
	if created != 1 {
		t.Errorf("%d answers 201, want exactly one", created)
	}
	if s := b.stats(t); s.Credits[id] != 1 {
		t.Errorf("credited %d times", s.Credits[id])
	}
}

func TestObserveNamesEndpointsWithoutIDs(t *testing.T) {
	for _, c := range [][3]string{
		{"GET", "/v1/topups/0b5e2f7c-3c52-4d5b-9a3e-1f2d3c4b5a69", "GET /v1/topups/{id}"},
		{"POST", "/v1/topups/batch", "POST /v1/topups/batch"},
		{"POST", "/v1/topups", "POST /v1/topups"},
		{"GET", "/v1/ping", "GET /v1/ping"},
	} {
		if got := bankapi.Endpoint(c[0], c[1]); got != c[2] {
			t.Errorf("Endpoint(%s %s) = %q, want %q", c[0], c[1], got, c[2])
		}
	}
}
