package bankapi

import (
	"crypto/hmac"
	"crypto/sha256"
	"encoding/hex"
	"errors"
	"fmt"
	"net/http"
	"net/http/httptest"
	"testing"
	"time"
)

// referenceSignature builds the X-Signature value straight from the words of
// SPEC §2, without Canonical or Signature, so that a slip in either shows.
func referenceSignature(secret, method, target string, ts int64, body []byte) string {
	bodyHash := sha256.New()
	bodyHash.Write(body)
	msg := fmt.Sprintf("%s\n%s\n%d\n%x", method, target, ts, bodyHash.Sum(nil))
	mac := hmac.New(sha256.New, []byte(secret))
	mac.Write([]byte(msg))
	return "v1=" + hex.EncodeToString(mac.Sum(nil))
}

func TestSignatureGolden(t *testing.T) {
	// The hex values were computed outside Go (Python's hmac and hashlib).
	tests := []struct {
		method, target string
		body           []byte
		want           string
	}{
		{"POST", "/v1/topups?x=1", []byte(`{"a":1}`),
			"v1=ea01cd6b125da8df0af5d6325990d3ea821f56e072f1d2c1167c8bddc503f809"},
		{"GET", "/v1/ping", nil,
			"v1=4f2eee2ce4f67c108c53ab9c7f8b13c6ca7456a7cb4cbbcfae2fbd5fcb638c29"},
	}
	for _, tc := range tests {
		t.Run(tc.method+" "+tc.target, func(t *testing.T) {
			got := Signature([]byte("s3cret"), Canonical(tc.method, tc.target, 1700000000, tc.body))
			if got != tc.want {
				t.Errorf("Signature = %s, want %s", got, tc.want)
			}
			if ref := referenceSignature("s3cret", tc.method, tc.target, 1700000000, tc.body); ref != tc.want {
				t.Errorf("reference = %s, want %s", ref, tc.want)
			}
		})
	}
}

func TestSignSetsHeaders(t *testing.T) {
	body := []byte(`{"phone":"+77011234567"}`)
	req := httptest.NewRequest("POST", "https://bank.example/api/v1/wallets/lookup?trace=1", nil)
	now := time.Unix(1700000123, 999_000_000)
	Sign(req, body, "KZ-ALA-0001", []byte("k"), now)
	if got := req.Header.Get(HeaderTerminalID); got != "KZ-ALA-0001" {
		t.Errorf("terminal id = %q", got)
	}
	if got := req.Header.Get(HeaderTimestamp); got != "1700000123" {
		t.Errorf("timestamp = %q, want whole unix seconds", got)
	}
	want := referenceSignature("k", "POST", "/api/v1/wallets/lookup?trace=1", 1700000123, body)
	if got := req.Header.Get(HeaderSignature); got != want {
		t.Errorf("signature = %q, want %q", got, want)
	}
}

func TestVerify(t *testing.T) {
	secrets := map[string][]byte{"T1": []byte("secret-1"), "T2": []byte("secret-2")}
	secretFor := func(id string) ([]byte, bool) { s, ok := secrets[id]; return s, ok }
	bankNow := time.Unix(1700000000, 500_000_000)
	body := []byte(`{"id":"x"}`)

	signed := func(terminal, secret string, ts time.Time) *http.Request {
		r := httptest.NewRequest("POST", "/v1/topups?a=b", nil)
		Sign(r, body, terminal, []byte(secret), ts)
		return r
	}
	tests := []struct {
		name string
		req  func() *http.Request
		body []byte
		want error
	}{
		{"good", func() *http.Request { return signed("T1", "secret-1", bankNow) }, body, nil},
		{"second terminal", func() *http.Request { return signed("T2", "secret-2", bankNow) }, body, nil},
		{"300 s behind is still fresh", func() *http.Request { return signed("T1", "secret-1", bankNow.Add(-300*time.Second)) }, body, nil},
		{"300 s ahead is still fresh", func() *http.Request { return signed("T1", "secret-1", bankNow.Add(300*time.Second)) }, body, nil},
		{"301 s behind is stale", func() *http.Request { return signed("T1", "secret-1", bankNow.Add(-301*time.Second)) }, body, ErrStaleTimestamp},
		{"301 s ahead is stale", func() *http.Request { return signed("T1", "secret-1", bankNow.Add(301*time.Second)) }, body, ErrStaleTimestamp},
		{"wrong secret", func() *http.Request { return signed("T1", "secret-2", bankNow) }, body, ErrBadSignature},
		{"wrong secret and stale says bad signature", func() *http.Request { return signed("T1", "nope", bankNow.Add(time.Hour)) }, body, ErrBadSignature},
		{"unknown terminal", func() *http.Request { return signed("T9", "secret-1", bankNow) }, body, ErrBadSignature},
		{"body changed", func() *http.Request { return signed("T1", "secret-1", bankNow) }, []byte(`{"id":"y"}`), ErrBadSignature},
		{"query changed", func() *http.Request {
			r := signed("T1", "secret-1", bankNow)
			r2 := httptest.NewRequest("POST", "/v1/topups?a=c", nil)
			r2.Header = r.Header
			return r2
		}, body, ErrBadSignature},
		{"method changed", func() *http.Request {
			r := signed("T1", "secret-1", bankNow)
			r2 := httptest.NewRequest("PUT", "/v1/topups?a=b", nil)
			r2.Header = r.Header
			return r2
		}, body, ErrBadSignature},
		{"no signature", func() *http.Request {
			r := signed("T1", "secret-1", bankNow)
			r.Header.Del(HeaderSignature)
			return r
		}, body, ErrBadSignature},
		{"no timestamp", func() *http.Request {
			r := signed("T1", "secret-1", bankNow)
			r.Header.Del(HeaderTimestamp)
			return r
		}, body, ErrBadSignature},
		{"timestamp not a number", func() *http.Request {
			r := signed("T1", "secret-1", bankNow)
			r.Header.Set(HeaderTimestamp, "soon")
			return r
		}, body, ErrBadSignature},
		{"signature not hex", func() *http.Request {
			r := signed("T1", "secret-1", bankNow)
			r.Header.Set(HeaderSignature, "v1=zz")
			return r
		}, body, ErrBadSignature},
		{"another version", func() *http.Request {
			r := signed("T1", "secret-1", bankNow)
			r.Header.Set(HeaderSignature, "v2="+r.Header.Get(HeaderSignature)[3:])
			return r
		}, body, ErrBadSignature},
	}
	for _, tc := range tests {
		t.Run(tc.name, func(t *testing.T) {
			err := Verify(tc.req(), tc.body, secretFor, bankNow, Window)
			if !errors.Is(err, tc.want) || (tc.want == nil && err != nil) {
				t.Errorf("Verify = %v, want %v", err, tc.want)
			}
		})
	}
}

func TestSignatureEmptyBodyIsHashOfNothing(t *testing.T) {
	// An empty body and a nil body are the same zero bytes.
	a := Canonical("GET", "/v1/ping", 1, nil)
	b := Canonical("GET", "/v1/ping", 1, []byte{})
	if a != b || a != "GET\n/v1/ping\n1\ne3b0c44298fc1c149afbf4c8996fb92427ae41e4649b934ca495991b7852b855" {
		t.Errorf("canonical of an empty body = %q", a)
	}
}
