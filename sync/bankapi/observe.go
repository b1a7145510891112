package bankapi

import (
	"net/http"
	"strings"
	"time"

	"tolem/kiosk"
)

// observed is hc with every round trip reported to fn. The caller's client
// is copied, not changed.
func observed(hc *http.Client, clock kiosk.Clock, fn func(endpoint string, code int, took time.Duration)) *http.Client {
	c := *hc
	base := c.Transport
	if base == nil {
		base = http.DefaultTransport
	}
	c.Transport = observer{base: base, clock: clock, fn: fn}
	return &c
}

type observer struct {
	base  http.RoundTripper
	clock kiosk.Clock
	fn    func(string, int, time.Duration)
}

func (o observer) RoundTrip(r *http.Request) (*http.Response, error) {
	start := o.clock.Now()
	resp, err := o.base.RoundTrip(r)
	code := 0
	if err == nil {
		code = resp.StatusCode
	}
	o.fn(Endpoint(r.Method, r.URL.Path), code, o.clock.Now().Sub(start))
	return resp, err
}

// Endpoint names a request of the bank API without the ids in its path:
// "GET /v1/topups/{id}".
func Endpoint(method, path string) string {
	if rest, ok := strings.CutPrefix(path, "/v1/topups/"); ok && rest != "batch" {
		path = "/v1/topups/{id}"
	}
	return method + " " + path
}
