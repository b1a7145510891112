package main

import (
	"bytes"
	"context"
	"errors"
	"net/http"
	"net/http/httptest"
	"strings"
	"testing"
	"time"

	"tolem/kiosk"
	"tolem/sync/bankapi"
	"tolem/sync/outbox"
)

// The bank's answers, as the real client reads them, land in the outbox's
// classes: review for 409/422, "submit again" for a status 404, a retry for
// everything else, a hold for every request only on a 429.
func TestOutboxAdapterClassifiesTheBanksAnswers(t *testing.T) {
	const id = "0f8fad5b-d9cb-469f-a165-70867728950e"
	for _, c := range []struct {
		name      string
		code      int
		header    string // Retry-After
		body      string
		status    bool // a GET status rather than a submit
		wantKind  outbox.Kind
		wantState kiosk.SyncState // when the bank took it
		wantRA    time.Duration
		throttled bool
	}{
		{name: "201 credited", code: 201, body: `{"id":"` + id + `","status":"credited","credited_at":"2026-01-05T09:00:00Z","reason":""}`, wantState: kiosk.SyncCredited},
		{name: "202 pending", code: 202, body: `{"id":"` + id + `","status":"pending","credited_at":null,"reason":""}`, wantState: kiosk.SyncPending},
		{name: "200 rejected", code: 200, body: `{"id":"` + id + `","status":"rejected","credited_at":null,"reason":"wallet_not_found"}`, wantState: kiosk.SyncRejected},
		{name: "409 conflict", code: 409, body: `{"error":"idempotency_conflict","message":"same id, other body"}`, wantKind: outbox.KindReview},
		{name: "422 invalid", code: 422, body: `{"error":"invalid","message":"amount is not the sum of the bills"}`, wantKind: outbox.KindReview},
		{name: "503 with Retry-After", code: 503, header: "3", body: `{"error":"unavailable"}`, wantKind: outbox.KindRetry, wantRA: 3 * time.Second},
		{name: "429", code: 429, header: "2", body: `{"error":"rate_limited"}`, wantKind: outbox.KindRetry, wantRA: 2 * time.Second, throttled: true},
		{name: "401", code: 401, body: `{"error":"bad_signature"}`, wantKind: outbox.KindRetry},
		{name: "404 on a submit: wrong bank.url", code: 404, body: `not here`, wantKind: outbox.KindRetry},
		{name: "garbage", code: 201, body: `<html>proxy</html>`, wantKind: outbox.KindRetry},
		{name: "status 404", code: 404, status: true, body: `{"error":"not_found"}`, wantKind: outbox.KindUnknown},
		{name: "status credited", code: 200, status: true, body: `{"id":"` + id + `","status":"credited","credited_at":"2026-01-05T09:00:00Z","reason":""}`, wantState: kiosk.SyncCredited},
	} {
		t.Run(c.name, func(t *testing.T) {
			srv := httptest.NewServer(http.HandlerFunc(func(w http.ResponseWriter, r *http.Request) {
				if c.header != "" {
					w.Header().Set("Retry-After", c.header)
				}
				w.WriteHeader(c.code)
				w.Write([]byte(c.body))
			}))
			defer srv.Close()
			b := bankAdapter{newTestClient(t, srv.URL)}
			var (
				ans outbox.Answer
				err error
			)
			if c.status {
				ans, err = b.TopUpStatus(context.Background(), id)
			} else {
				ans, err = b.SubmitTopUp(context.Background(), id, []byte(`{"id":"`+id+`"}`))
			}
			if c.wantState != "" {
				if err != nil || ans.State != c.wantState {
					t.Fatalf("answer %+v, %v; want %s", ans, err, c.wantState)
				}
				if c.wantState == kiosk.SyncRejected && ans.Reason != "wallet_not_found" {
					t.Errorf("reason %q", ans.Reason)
				}
				return
			}
			var oe *outbox.Error
			if !errors.As(err, &oe) {
				t.Fatalf("error %v is not classified", err)
			}
			if oe.Kind != c.wantKind || oe.RetryAfter != c.wantRA || oe.Throttled != c.throttled {
				t.Errorf("classified %s, Retry-After %s, throttled %v; want %s, %s, %v",
					oe.Kind, oe.RetryAfter, oe.Throttled, c.wantKind, c.wantRA, c.throttled)
			}
			if c.wantKind == outbox.KindReview && !strings.Contains(oe.Note, "bank answered") {
				t.Errorf("review note %q lacks the bank's answer", oe.Note)
			}
		})
	}
}

func TestOutboxAdapterUnreachableIsRetried(t *testing.T) {
	srv := httptest.NewServer(http.NotFoundHandler())
	url := srv.URL
	srv.Close()
	b := bankAdapter{newTestClient(t, url)}
	err := b.Ping(context.Background())
	var oe *outbox.Error
	if !errors.As(err, &oe) || oe.Kind != outbox.KindRetry {
		t.Fatalf("ping to a closed port: %v, want a retry", err)
	}
}

// The body is the wire body of SPEC §2, the same bytes for the same top-up
// whatever precision the ledger's times have.
func TestOutboxAdapterEncodesTheWireBody(t *testing.T) {
	at := time.Date(2026, 1, 5, 9, 0, 0, 123456789, time.UTC)
	tu := kiosk.TopUp{
		ID: "0f8fad5b-d9cb-469f-a165-70867728950e", ReceiptNo: 12, Phone: "+77011234567",
		Amount: kiosk.Tenge(3000), CreatedAt: at, CompletedAt: at.Add(time.Minute),
		Bills: []kiosk.BillCount{{Value: kiosk.Tenge(2000), Count: 1}, {Value: kiosk.Tenge(1000), Count: 1}},
	}
	b := bankAdapter{}
	one, err := b.EncodeTopUp(tu)
	if err != nil {
		t.Fatal(err)
	}
	tu.CompletedAt = tu.CompletedAt.Truncate(time.Second)
	two, _ := b.EncodeTopUp(tu)
	if !bytes.Equal(one, two) {
		t.Errorf("the same top-up gave two bodies:\n%s\n%s", one, two)
	}
	body, err := bankapi.ParseTopUpBody(one)
	if err != nil || body.Amount != kiosk.Tenge(3000) || body.ReceiptNo != 12 {
		t.Errorf("body %s: %+v, %v", one, body, err)
	}
}

func TestOutboxSimEnvironment(t *testing.T) {
	f, tune, err := simOutboxEnv("", "")
	if err != nil || f != simDefaultFaults || tune != nil {
		t.Fatalf("defaults: %+v, %v", f, err)
	}
	if f.PendingEvery != 3 || f.PendingRate != 0 || f.CreditDelay != 20*time.Second {
		t.Errorf("the demo's faults are %+v, want every third top-up pending, credited 20 s late", f)
	}
	f, tune, err = simOutboxEnv(`{"fail_rate":0.2,"credit_delay":"1s"}`, `{"batch_size":7,"min_backoff":"50ms"}`)
	if err != nil {
		t.Fatal(err)
	}
	if f.FailRate != 0.2 || f.CreditDelay != time.Second || f.PendingEvery != 3 {
		t.Errorf("faults %+v: the named fields change, the others keep the demo's", f)
	}
	// pending_rate alone is the whole pending share; with pending_every both hold.
	if f, _, _ := simOutboxEnv(`{"pending_rate":0}`, ""); f.PendingEvery != 0 || f.PendingRate != 0 {
		t.Errorf("pending_rate 0: %+v, want no pending top-up", f)
	}
	if f, _, _ := simOutboxEnv(`{"pending_rate":0.5,"pending_every":2}`, ""); f.PendingEvery != 2 || f.PendingRate != 0.5 {
		t.Errorf("pending_rate and pending_every: %+v", f)
	}
	var o outbox.Options
	tune(&o)
	if o.BatchSize != 7 || o.MinBackoff != 50*time.Millisecond || o.MaxBackoff != 0 {
		t.Errorf("tuned options %+v", o)
	}
	for _, bad := range [][2]string{{`{"fail_rate":2}`, ""}, {`nope`, ""}, {"", `{"min_backoff":5}`}} {
		if _, _, err := simOutboxEnv(bad[0], bad[1]); err == nil {
			t.Errorf("simOutboxEnv(%q, %q) accepted", bad[0], bad[1])
		}
	}
}
