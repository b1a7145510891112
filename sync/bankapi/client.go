package bankapi

import (
	"bytes"
	"context"
	"crypto/tls"
	"crypto/x509"
	"encoding/json"
	"errors"
	"fmt"
	"io"
	"log/slog"
	"net"
	"net/http"
	"net/url"
	"os"
	"strconv"
	"strings"
	"sync"
	"time"

	"tolem/kiosk"
)

// DefaultTimeout bounds one request when Options.Timeout is zero.
const DefaultTimeout = 15 * time.Second

// Options configure a Client.
type Options struct {
	// BaseURL is bank.url: https://, or http:// to a loopback address only
	// (the sandbox), since the signature protects integrity, not privacy.
	BaseURL    string
	TerminalID string
	Secret     []byte
	// CAFile is bank.ca_file: a PEM bundle that replaces the system roots.
	CAFile string
	// Timeout bounds one request; DefaultTimeout when zero.
	Timeout time.Duration
	// HTTPClient replaces the client New builds (CAFile is then ignored).
	HTTPClient *http.Client
	// Clock is the kiosk's clock; kiosk.SystemClock when nil.
	Clock kiosk.Clock
	// Log gets one debug line per request; discarded when nil.
	Log *slog.Logger
	// Observe, when set, is told of every request: its endpoint ("POST
	// /v1/topups", "GET /v1/topups/{id}": no ids, so that it can label a
	// metric), the answer's HTTP status (0 when none came) and how long the
	// bank took to answer.
	Observe func(endpoint string, code int, took time.Duration)
}

// Client is the kiosk's side of the bank API. It is safe for concurrent use.
type Client struct {
	// base is the URL without a trailing slash; paths are appended escaped.
	base     string
	terminal string
	secret   []byte
	hc       *http.Client
	clock    kiosk.Clock
	log      *slog.Logger
	timeout  time.Duration

	mu     sync.Mutex
	offset time.Duration
}

// New checks opts and builds a Client. It makes no request.
func New(opts Options) (*Client, error) {
	u, err := url.Parse(opts.BaseURL)
	if err != nil || u.Host == "" {
		return nil, fmt.Errorf("bank.url %q is not a URL like https://bank.example/api", opts.BaseURL)
	}
	switch u.Scheme {
	case "https":
	case "http":
		if !isLoopback(u.Hostname()) {
			return nil, fmt.Errorf("bank.url %q: http:// is allowed only to a loopback address; use https://", opts.BaseURL)
		}
	default:
		return nil, fmt.Errorf("bank.url %q: the scheme must be https://", opts.BaseURL)
	}
	if u.RawQuery != "" || u.Fragment != "" {
		return nil, fmt.Errorf("bank.url %q: no query or fragment allowed", opts.BaseURL)
	}
	u.Path = strings.TrimSuffix(u.Path, "/")
	u.RawPath = ""
	if opts.TerminalID == "" {
		return nil, errors.New("bank client: terminal_id is empty")
	}
	if len(opts.Secret) == 0 {
		return nil, errors.New("bank client: the secret is empty; set bank.secret or bank.secret_file")
	}
	c := &Client{
		base:     u.String(),
		terminal: opts.TerminalID,
		secret:   bytes.Clone(opts.Secret),
		hc:       opts.HTTPClient,
		clock:    opts.Clock,
		log:      opts.Log,
		timeout:  opts.Timeout,
	}
	if c.clock == nil {
		c.clock = kiosk.SystemClock{}
	}
	if c.log == nil {
		c.log = slog.New(slog.DiscardHandler)
	}
	if c.timeout <= 0 {
		c.timeout = DefaultTimeout
	}
	if c.hc == nil {
		c.hc, err = newHTTPClient(opts.CAFile)
		if err != nil {
			return nil, err
		}
	}
	if opts.Observe != nil {
		c.hc = observed(c.hc, c.clock, opts.Observe)
	}
	return c, nil
}

func isLoopback(host string) bool {
	if host == "localhost" {
		return true
	}
	ip := net.ParseIP(host)
	return ip != nil && ip.IsLoopback()
}

func newHTTPClient(caFile string) (*http.Client, error) {
	tr := http.DefaultTransport.(*http.Transport).Clone()
	tr.TLSClientConfig = &tls.Config{MinVersion: tls.VersionTLS12}
	if caFile != "" {
		pem, err := os.ReadFile(caFile)
		if err != nil {
			return nil, fmt.Errorf("bank.ca_file: %w", err)
		}
		pool := x509.NewCertPool()
		if !pool.AppendCertsFromPEM(pem) {
			return nil, fmt.Errorf("bank.ca_file %s holds no PEM certificate", caFile)
		}
		tr.TLSClientConfig.RootCAs = pool
	}
	return &http.Client{
		Transport: tr,
		// A redirect would be followed unsigned, and a bank API never
		// redirects: surface it as an HTTPError instead.
		CheckRedirect: func(*http.Request, []*http.Request) error { return http.ErrUseLastResponse },
	}, nil
}

// Offset is the bank's clock minus the kiosk's, as last learned from
// X-Bank-Time. Requests are signed with the kiosk's time plus Offset.
func (c *Client) Offset() time.Duration {
	c.mu.Lock()
	defer c.mu.Unlock()
	return c.offset
}

// BankNow is the kiosk's clock corrected to the bank's.
func (c *Client) BankNow() time.Time { return c.clock.Now().Add(c.Offset()) }

func (c *Client) learnOffset(h http.Header, local time.Time) {
	v := h.Get(HeaderBankTime)
	if v == "" {
		return
	}
	sec, err := strconv.ParseInt(v, 10, 64)
	if err != nil {
		return
	}
	// X-Bank-Time is floored to the second: its midpoint is the best guess,
	// within half a second, against a window of 300.
	off := time.Unix(sec, 0).Add(500 * time.Millisecond).Sub(local)
	c.mu.Lock()
	old := c.offset
	c.offset = off
	c.mu.Unlock()
	if d := off - old; d > 2*time.Second || d < -2*time.Second {
		c.log.Info("bank clock offset changed", "offset", off.String(), "was", old.String())
	}
}

// response is an answer read in full.
type response struct {
	code   int
	header http.Header
	body   []byte
}

// do sends one request, signed, and reads the answer. A 401 stale_timestamp
// is re-signed and sent once more at once, with the offset its answer taught.
func (c *Client) do(ctx context.Context, method, path string, body []byte, idemKey string) (*response, error) {
	resp, err := c.once(ctx, method, path, body, idemKey)
	if err != nil {
		return nil, err
	}
	if resp.code == http.StatusUnauthorized {
		if eb, err := DecodeError(resp.body); err == nil && eb.Error == CodeStaleTimestamp {
			c.log.Info("bank said our timestamp is stale; signing again", "path", path, "offset", c.Offset().String())
			return c.once(ctx, method, path, body, idemKey)
		}
	}
	return resp, nil
}

func (c *Client) once(ctx context.Context, method, path string, body []byte, idemKey string) (*response, error) {
	ctx, cancel := context.WithTimeout(ctx, c.timeout)
	defer cancel()
	var rd io.Reader
	if body != nil {
		rd = bytes.NewReader(body)
	}
	req, err := http.NewRequestWithContext(ctx, method, c.base+path, rd)
	if err != nil {
		return nil, fmt.Errorf("%s %s: %w", method, path, err)
	}
	req.Header.Set("Accept", "application/json")
	req.Header.Set("User-Agent", "tolem-bankapi/1")
	if body != nil {
		req.Header.Set("Content-Type", "application/json")
	}
	if idemKey != "" {
		req.Header.Set(HeaderIdempotencyKey, idemKey)
	}
	Sign(req, body, c.terminal, c.secret, c.BankNow())
	start := c.clock.Now()
	hr, err := c.hc.Do(req)
	if err != nil {
		c.log.Debug("bank request failed", "method", method, "path", path, "err", err)
		if errors.Is(err, context.Canceled) {
			return nil, fmt.Errorf("%s %s: %w", method, path, err)
		}
		return nil, fmt.Errorf("%s %s: %w", method, path, &unreachableError{err})
	}
	defer hr.Body.Close()
	c.learnOffset(hr.Header, c.clock.Now())
	data, err := io.ReadAll(io.LimitReader(hr.Body, MaxBody+1))
	if err != nil {
		if errors.Is(err, context.Canceled) {
			return nil, fmt.Errorf("%s %s: reading the answer: %w", method, path, err)
		}
		return nil, fmt.Errorf("%s %s: reading the answer: %w", method, path, &unreachableError{err})
	}
	if len(data) > MaxBody {
		return nil, fmt.Errorf("%s %s: %w: answer longer than %d bytes", method, path, ErrGarbage, MaxBody)
	}
	c.log.Debug("bank request", "method", method, "path", path, "code", hr.StatusCode,
		"took", c.clock.Now().Sub(start).String())
	return &response{code: hr.StatusCode, header: hr.Header, body: data}, nil
}

// httpError is the typed error of an unexpected answer.
func httpError(method, path string, r *response) *HTTPError {
	e := &HTTPError{Method: method, Path: path, Code: r.code, RetryAfter: parseRetryAfter(r.header.Get("Retry-After"))}
	if eb, err := DecodeError(r.body); err == nil {
		e.ErrorCode, e.Message = eb.Error, eb.Message
	} else if len(r.body) > 0 {
		e.Message = snippet(r.body)
	}
	return e
}

// snippet is the start of a body that is not an API error (a proxy's page),
// printable, for a technician reading the log.
func snippet(b []byte) string {
	const max = 80
	s := strings.ToValidUTF8(string(b), "?")
	s = strings.Join(strings.Fields(s), " ")
	if r := []rune(s); len(r) > max {
		s = string(r[:max]) + "…"
	}
	return s
}

func parseRetryAfter(v string) time.Duration {
	if v == "" {
		return 0
	}
	if n, err := strconv.ParseInt(v, 10, 64); err == nil && n >= 0 {
		return time.Duration(n) * time.Second
	}
	if t, err := http.ParseTime(v); err == nil {
		if d := time.Until(t); d > 0 {
			return d
		}
	}
	return 0
}

// Ping asks the bank for its time; it also teaches the client the offset.
func (c *Client) Ping(ctx context.Context) (time.Time, error) {
	const path = "/v1/ping"
	r, err := c.do(ctx, http.MethodGet, path, nil, "")
	if err != nil {
		return time.Time{}, err
	}
	if r.code != http.StatusOK {
		return time.Time{}, httpError(http.MethodGet, path, r)
	}
	p, err := DecodePing(r.body)
	if err != nil {
		return time.Time{}, fmt.Errorf("GET %s: %w", path, err)
	}
	return p.Time, nil
}

// LookupWallet asks whose wallet phone is. Every error wraps
// kiosk.ErrBankUnavailable: whatever went wrong, the customer takes the
// offline path.
func (c *Client) LookupWallet(ctx context.Context, phone kiosk.Phone) (kiosk.Wallet, error) {
	const path = "/v1/wallets/lookup"
	fail := func(err error) (kiosk.Wallet, error) {
		if errors.Is(err, kiosk.ErrBankUnavailable) {
			return kiosk.Wallet{}, fmt.Errorf("look up wallet %s: %w", phone.Masked(), err)
		}
		return kiosk.Wallet{}, fmt.Errorf("look up wallet %s: %w: %w", phone.Masked(), kiosk.ErrBankUnavailable, err)
	}
	body, err := json.Marshal(LookupRequest{Phone: phone})
	if err != nil {
		return fail(err)
	}
	r, err := c.do(ctx, http.MethodPost, path, body, "")
	if err != nil {
		return fail(err)
	}
	if r.code != http.StatusOK {
		return fail(httpError(http.MethodPost, path, r))
	}
	res, err := DecodeLookup(r.body)
	if err != nil {
		return fail(err)
	}
	return kiosk.Wallet{Found: res.Found, Name: res.Name}, nil
}

var _ kiosk.WalletLookup = (*Client)(nil)

// LookupAccount asks the bank about a service's account. Every error wraps
// kiosk.ErrBankUnavailable but an unknown service or an account the bank
// calls invalid (422), which no retry would change.
func (c *Client) LookupAccount(ctx context.Context, service, account string) (kiosk.Account, error) {
	const path = "/v1/accounts/lookup"
	what := fmt.Sprintf("look up %s account %s", service, kiosk.MaskAccount(account))
	body, err := json.Marshal(AccountLookupRequest{Service: service, Account: account})
	if err != nil {
		return kiosk.Account{}, fmt.Errorf("%s: %w", what, err)
	}
	r, err := c.do(ctx, http.MethodPost, path, body, "")
	if err != nil {
		return kiosk.Account{}, fmt.Errorf("%s: %w: %w", what, kiosk.ErrBankUnavailable, err)
	}
	if r.code == http.StatusUnprocessableEntity {
		return kiosk.Account{}, fmt.Errorf("%s: %w", what, httpError(http.MethodPost, path, r))
	}
	if r.code != http.StatusOK {
		return kiosk.Account{}, fmt.Errorf("%s: %w: %w", what, kiosk.ErrBankUnavailable, httpError(http.MethodPost, path, r))
	}
	a, err := DecodeAccountLookup(r.body)
	if err != nil {
		return kiosk.Account{}, fmt.Errorf("%s: %w: %w", what, kiosk.ErrBankUnavailable, err)
	}
	return a, nil
}

var _ kiosk.AccountLookup = (*Client)(nil)

// Services fetches the catalog (GET /v1/services) and returns the body as
// the bank sent it, for kiosk.ParseCatalog and the ledger.
func (c *Client) Services(ctx context.Context) ([]byte, error) {
	const path = "/v1/services"
	r, err := c.do(ctx, http.MethodGet, path, nil, "")
	if err != nil {
		return nil, fmt.Errorf("GET %s: %w", path, err)
	}
	if r.code != http.StatusOK {
		return nil, httpError(http.MethodGet, path, r)
	}
	return r.body, nil
}

// Result is the bank's acceptance of a top-up.
type Result struct {
	// Code is 201 (credited now), 202 (accepted, crediting delayed) or 200
	// (this id was seen with the same body).
	Code   int
	Status TopUpStatus
}

// SubmitTopUp posts a top-up body (TopUpBody.Marshal) under its id. A 409 or
// 422 is an *HTTPError for which Review is true; everything else that fails
// is Retryable, and must be retried with the same body bytes.
func (c *Client) SubmitTopUp(ctx context.Context, id string, body []byte) (Result, error) {
	const path = "/v1/topups"
	r, err := c.do(ctx, http.MethodPost, path, body, id)
	if err != nil {
		return Result{}, fmt.Errorf("submit top-up %s: %w", id, err)
	}
	switch r.code {
	case http.StatusOK, http.StatusCreated, http.StatusAccepted:
	default:
		return Result{}, fmt.Errorf("submit top-up %s: %w", id, httpError(http.MethodPost, path, r))
	}
	st, err := DecodeStatus(r.body)
	if err != nil {
		return Result{}, fmt.Errorf("submit top-up %s: %w", id, err)
	}
	if st.ID != id {
		return Result{}, fmt.Errorf("submit top-up %s: %w: the answer is for id %q", id, ErrGarbage, st.ID)
	}
	return Result{Code: r.code, Status: st}, nil
}

// SubmitBatch posts up to MaxBatch top-up bodies at once. The results are in
// the order of bodies, one per body; each carries Err for the outbox to
// classify like the error of a single submit. The returned error is for the
// batch as a whole (nothing was decided for any item).
func (c *Client) SubmitBatch(ctx context.Context, bodies [][]byte) ([]ItemResult, error) {
	const path = "/v1/topups/batch"
	if len(bodies) == 0 {
		return nil, nil
	}
	if len(bodies) > MaxBatch {
		return nil, fmt.Errorf("submit batch: %d top-ups, the bank takes at most %d", len(bodies), MaxBatch)
	}
	ids := make([]string, len(bodies))
	var buf bytes.Buffer
	buf.WriteString(`{"topups":[`)
	for i, b := range bodies {
		var head struct {
			ID string `json:"id"`
		}
		if err := json.Unmarshal(b, &head); err != nil || head.ID == "" {
			return nil, fmt.Errorf("submit batch: body %d is not a top-up body with an id", i)
		}
		ids[i] = head.ID
		if i > 0 {
			buf.WriteByte(',')
		}
		buf.Write(b)
	}
	buf.WriteString(`]}`)
	r, err := c.do(ctx, http.MethodPost, path, buf.Bytes(), "")
	if err != nil {
		return nil, fmt.Errorf("submit batch of %d: %w", len(bodies), err)
	}
	if r.code != http.StatusOK {
		return nil, fmt.Errorf("submit batch of %d: %w", len(bodies), httpError(http.MethodPost, path, r))
	}
	br, err := DecodeBatchResult(r.body)
	if err != nil {
		return nil, fmt.Errorf("submit batch of %d: %w", len(bodies), err)
	}
	byID := make(map[string][]ItemResult, len(br.Results))
	for _, it := range br.Results {
		byID[it.ID] = append(byID[it.ID], it)
	}
	out := make([]ItemResult, len(bodies))
	for i, id := range ids {
		q := byID[id]
		if len(q) == 0 {
			out[i] = ItemResult{ID: id, Err: fmt.Errorf("submit top-up %s in a batch: %w: no result for it", id, ErrGarbage)}
			continue
		}
		// The same id twice in one batch gets its answers in order.
		it := q[0]
		byID[id] = q[1:]
		if !it.Accepted() {
			it.Err = fmt.Errorf("submit top-up %s in a batch: %w", id, &HTTPError{
				Method: http.MethodPost, Path: path, Code: it.Code, ErrorCode: it.Error, Message: it.Message,
			})
		}
		out[i] = it
	}
	return out, nil
}

// TopUpStatus asks where a top-up stands. An id the bank does not know is
// ErrUnknownTopUp: submit the top-up again.
func (c *Client) TopUpStatus(ctx context.Context, id string) (TopUpStatus, error) {
	path := "/v1/topups/" + url.PathEscape(id)
	r, err := c.do(ctx, http.MethodGet, path, nil, "")
	if err != nil {
		return TopUpStatus{}, fmt.Errorf("top-up %s status: %w", id, err)
	}
	switch r.code {
	case http.StatusOK:
	case http.StatusNotFound:
		return TopUpStatus{}, fmt.Errorf("top-up %s status: %w: %w", id, ErrUnknownTopUp, httpError(http.MethodGet, path, r))
	default:
		return TopUpStatus{}, fmt.Errorf("top-up %s status: %w", id, httpError(http.MethodGet, path, r))
	}
	st, err := DecodeStatus(r.body)
	if err != nil {
		return TopUpStatus{}, fmt.Errorf("top-up %s status: %w", id, err)
	}
	if st.ID != id {
		return TopUpStatus{}, fmt.Errorf("top-up %s status: %w: the answer is for id %q", id, ErrGarbage, st.ID)
	}
	return st, nil
}

// PostCollection posts a collection body (CollectionBody.Marshal) under its
// id and returns the code: 201 recorded, 200 already recorded with the same
// body. 409 is an *HTTPError for which Review is true.
func (c *Client) PostCollection(ctx context.Context, id string, body []byte) (int, error) {
	const path = "/v1/collections"
	r, err := c.do(ctx, http.MethodPost, path, body, id)
	if err != nil {
		return 0, fmt.Errorf("post collection %s: %w", id, err)
	}
	if r.code != http.StatusOK && r.code != http.StatusCreated {
		return 0, fmt.Errorf("post collection %s: %w", id, httpError(http.MethodPost, path, r))
	}
	return r.code, nil
}

// Heartbeat tells the bank how the kiosk is.
func (c *Client) Heartbeat(ctx context.Context, hb Heartbeat) error {
	const path = "/v1/heartbeat"
	body, err := json.Marshal(hb)
	if err != nil {
		return fmt.Errorf("heartbeat: %w", err)
	}
	r, err := c.do(ctx, http.MethodPost, path, body, "")
	if err != nil {
		return fmt.Errorf("heartbeat: %w", err)
	}
	if r.code != http.StatusNoContent && r.code != http.StatusOK {
		return fmt.Errorf("heartbeat: %w", httpError(http.MethodPost, path, r))
	}
	return nil
}
