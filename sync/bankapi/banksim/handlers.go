package banksim

import (
	"bytes"
	"context"
	"encoding/json"
	"errors"
	"fmt"
	"io"
	"net"
	"net/http"
	"strconv"
	"strings"
	"time"

	"tolem/kiosk"
	"tolem/sync/bankapi"
)

// Handler serves the API under /v1/ and the sandbox's admin endpoints under
// /_admin/ (loopback clients only).
func (s *Server) Handler() http.Handler {
	mux := http.NewServeMux()
	mux.HandleFunc("/v1/", s.serveAPI)
	mux.HandleFunc("/v1/receipts/verify", s.verifyReceipt)
	mux.HandleFunc("/_admin/", s.serveAdmin)
	mux.HandleFunc("/", func(w http.ResponseWriter, r *http.Request) {
		s.writeError(w, http.StatusNotFound, bankapi.CodeNotFound, "no such endpoint")
	})
	return mux
}

// recorder remembers the status code for the counters.
type recorder struct {
	http.ResponseWriter
	code int
}

func (r *recorder) WriteHeader(code int) {
	if r.code == 0 {
		r.code = code
	}
	r.ResponseWriter.WriteHeader(code)
}

func (r *recorder) Write(b []byte) (int, error) {
	if r.code == 0 {
		r.code = http.StatusOK
	}
	return r.ResponseWriter.Write(b)
}

func (r *recorder) Unwrap() http.ResponseWriter { return r.ResponseWriter }

func (s *Server) writeJSON(w http.ResponseWriter, code int, v any) {
	w.Header().Set(bankapi.HeaderBankTime, strconv.FormatInt(s.bankNow().Unix(), 10))
	w.Header().Set("Content-Type", "application/json; charset=utf-8")
	w.WriteHeader(code)
	enc := json.NewEncoder(w)
	enc.SetEscapeHTML(false)
	enc.Encode(v) //nolint:errcheck // the client went away; nothing to do
}

func (s *Server) writeError(w http.ResponseWriter, code int, errCode, msg string) {
	s.writeJSON(w, code, bankapi.ErrorBody{Error: errCode, Message: msg})
}

func (s *Server) writeStatusOnly(w http.ResponseWriter, code int) {
	w.Header().Set(bankapi.HeaderBankTime, strconv.FormatInt(s.bankNow().Unix(), 10))
	w.WriteHeader(code)
}

// drop withholds the answer of a request already committed: the connection
// closes as if the network had failed after the bank's commit.
func (s *Server) drop(w http.ResponseWriter) {
	s.dropped.Add(1)
	conn, _, err := http.NewResponseController(w).Hijack()
	if err == nil {
		conn.Close()
		return
	}
	// HTTP/2 cannot be hijacked; aborting the handler resets the stream.
	panic(http.ErrAbortHandler)
}

func (s *Server) serveAPI(w0 http.ResponseWriter, r *http.Request) {
	s.requests.Add(1)
	w := &recorder{ResponseWriter: w0}
	defer func() {
		if w.code != 0 {
			s.cmu.Lock()
			s.byCode[w.code]++
			s.cmu.Unlock()
			s.log.Debug("banksim answer", "method", r.Method, "path", r.URL.Path,
				"terminal", r.Header.Get(bankapi.HeaderTerminalID), "code", w.code)
		}
	}()
	f := s.Faults()
	if f.Latency > 0 {
		t := time.NewTimer(f.Latency)
		select {
		case <-t.C:
		case <-r.Context().Done():
			t.Stop()
			return
		}
	}
	body, err := io.ReadAll(http.MaxBytesReader(w, r.Body, bankapi.MaxBody))
	if err != nil {
		var tooLarge *http.MaxBytesError
		if errors.As(err, &tooLarge) {
			s.writeError(w, http.StatusRequestEntityTooLarge, bankapi.CodeTooLarge, "a body is at most 1 MiB")
			return
		}
		s.writeError(w, http.StatusBadRequest, "bad_request", "the body could not be read")
		return
	}
	if ok, wait := s.take(); !ok {
		w.Header().Set("Retry-After", retryAfter(wait))
		s.writeError(w, http.StatusTooManyRequests, bankapi.CodeRateLimited, "too many requests")
		return
	}
	if s.roll(f.FailRate) {
		w.Header().Set("Retry-After", "1")
		s.writeError(w, http.StatusServiceUnavailable, bankapi.CodeUnavailable, "the bank is temporarily unavailable")
		return
	}
	now := s.bankNow()
	if err := bankapi.Verify(r, body, s.secretFor, now, s.window); err != nil {
		msg := "signature missing or wrong"
		if errors.Is(err, bankapi.ErrStaleTimestamp) {
			msg = fmt.Sprintf("timestamp %s is more than %d s from the bank's clock %d",
				r.Header.Get(bankapi.HeaderTimestamp), int(s.window.Seconds()), now.Unix())
		}
		s.writeError(w, http.StatusUnauthorized, err.Error(), msg)
		return
	}
	terminal := r.Header.Get(bankapi.HeaderTerminalID)
	// The work runs to its end even if the client hangs up: a commit is a commit.
	ctx := context.WithoutCancel(r.Context())

	path := r.URL.Path
	route := func(method string, h func()) {
		if r.Method != method {
			w.Header().Set("Allow", method)
			s.writeError(w, http.StatusMethodNotAllowed, "method_not_allowed", method+" only")
			return
		}
		h()
	}
	switch {
	case path == "/v1/ping":
		route(http.MethodGet, func() { s.writeJSON(w, http.StatusOK, bankapi.PingResult{Time: now}) })
	case path == "/v1/wallets/lookup":
		route(http.MethodPost, func() { s.lookup(w, body) })
	case path == "/v1/services":
		route(http.MethodGet, func() { s.serveServices(w) })
	case path == "/v1/accounts/lookup":
		route(http.MethodPost, func() { s.lookupAccount(w, body) })
	case path == "/v1/topups":
		route(http.MethodPost, func() { s.postTopUp(ctx, w, terminal, body, r.Header.Get(bankapi.HeaderIdempotencyKey)) })
	case path == "/v1/topups/batch":
		route(http.MethodPost, func() { s.postBatch(ctx, w, terminal, body) })
	case strings.HasPrefix(path, "/v1/topups/") && !strings.Contains(path[len("/v1/topups/"):], "/"):
		route(http.MethodGet, func() { s.getTopUp(ctx, w, terminal, path[len("/v1/topups/"):]) })
	case path == "/v1/collections":
		route(http.MethodPost, func() { s.postCollection(ctx, w, terminal, body, r.Header.Get(bankapi.HeaderIdempotencyKey)) })
	case path == "/v1/heartbeat":
		route(http.MethodPost, func() { s.heartbeat(ctx, w, terminal, body) })
	default:
		s.writeError(w, http.StatusNotFound, bankapi.CodeNotFound, "no such endpoint")
	}
}

func (s *Server) internal(w http.ResponseWriter, err error) {
	s.log.Error("banksim internal error", "err", err)
	s.writeError(w, http.StatusInternalServerError, "internal", err.Error())
}

func (s *Server) lookup(w http.ResponseWriter, body []byte) {
	var req struct {
		Phone *string `json:"phone"`
	}
	if err := json.Unmarshal(body, &req); err != nil || req.Phone == nil || !bankapi.ValidPhone(kiosk.Phone(*req.Phone)) {
		s.writeError(w, http.StatusUnprocessableEntity, bankapi.CodeInvalid, `the body must be {"phone":"+7XXXXXXXXXX"}`)
		return
	}
	name, ok := s.wallet(kiosk.Phone(*req.Phone))
	s.writeJSON(w, http.StatusOK, bankapi.LookupResult{Found: ok, Name: name})
}

func (s *Server) postTopUp(ctx context.Context, w http.ResponseWriter, terminal string, body []byte, key string) {
	res, err := s.submitTopUp(ctx, terminal, body, key, true)
	if err != nil {
		s.internal(w, err)
		return
	}
	if s.roll(s.Faults().DropRate) {
		s.drop(w)
		return
	}
	if res.Accepted() {
		s.writeJSON(w, res.Code, res.Status)
		return
	}
	s.writeError(w, res.Code, res.Error, res.Message)
}

func (s *Server) postBatch(ctx context.Context, w http.ResponseWriter, terminal string, body []byte) {
	var req struct {
		TopUps *[]json.RawMessage `json:"topups"`
	}
	if err := json.Unmarshal(body, &req); err != nil || req.TopUps == nil {
		s.writeError(w, http.StatusUnprocessableEntity, bankapi.CodeInvalid, `the body must be {"topups":[…]}`)
		return
	}
	if n := len(*req.TopUps); n == 0 || n > bankapi.MaxBatch {
		s.writeError(w, http.StatusUnprocessableEntity, bankapi.CodeInvalid,
			fmt.Sprintf("a batch holds 1 to %d top-ups, not %d", bankapi.MaxBatch, n))
		return
	}
	out := bankapi.BatchResult{Results: make([]bankapi.ItemResult, 0, len(*req.TopUps))}
	for _, raw := range *req.TopUps {
		res, err := s.submitTopUp(ctx, terminal, raw, "", false)
		if err != nil {
			s.internal(w, err)
			return
		}
		out.Results = append(out.Results, res)
	}
	if s.roll(s.Faults().DropRate) {
		s.drop(w)
		return
	}
	s.writeJSON(w, http.StatusOK, out)
}

func peekID(raw []byte) string {
	var h struct {
		ID string `json:"id"`
	}
	json.Unmarshal(raw, &h) //nolint:errcheck // best effort, for the answer's id only
	return h.ID
}

// submitTopUp decides one top-up, alone or in a batch. The error is the
// sandbox's own failure; the bank's refusals are in the result.
func (s *Server) submitTopUp(ctx context.Context, terminal string, raw []byte, key string, single bool) (bankapi.ItemResult, error) {
	id := peekID(raw)
	invalid := func(msg string) (bankapi.ItemResult, error) {
		return bankapi.ItemResult{ID: id, Code: http.StatusUnprocessableEntity, Error: bankapi.CodeInvalid, Message: msg}, nil
	}
	b, err := bankapi.ParseTopUpBody(raw)
	if err != nil {
		return invalid(err.Error())
	}
	if single && key == "" {
		return invalid("the Idempotency-Key header is missing")
	}
	if single && key != b.ID {
		return invalid("the Idempotency-Key header differs from the body's id")
	}
	var compact bytes.Buffer
	if err := json.Compact(&compact, raw); err != nil {
		return invalid(err.Error())
	}

	s.mu.Lock()
	defer s.mu.Unlock()
	if s.db == nil {
		return bankapi.ItemResult{}, errors.New("banksim is closed")
	}
	f := s.Faults()
	now := s.clock.Now()
	if err := settle(ctx, s.db, now, f.ClockSkew); err != nil {
		return bankapi.ItemResult{}, err
	}
	tx, err := s.db.BeginTx(ctx, nil)
	if err != nil {
		return bankapi.ItemResult{}, err
	}
	defer tx.Rollback()
	old, found, err := getTopUp(ctx, tx, b.ID)
	if err != nil {
		return bankapi.ItemResult{}, err
	}
	if found {
		if old.terminal == terminal && bytes.Equal(old.body, compact.Bytes()) {
			return bankapi.ItemResult{ID: b.ID, Code: http.StatusOK, Status: old.wire(b.ID)}, nil
		}
		return bankapi.ItemResult{ID: b.ID, Code: http.StatusConflict, Error: bankapi.CodeIdempotencyConflict,
			Message: "this id was received with another body"}, nil
	}

	status, decision, decisionReason := bankapi.StatusCredited, bankapi.StatusCredited, ""
	notFound := ""
	if b.Service != "" {
		code, msg, nf := s.serviceDecision(b)
		if code != "" {
			return bankapi.ItemResult{ID: b.ID, Code: http.StatusUnprocessableEntity, Error: code, Message: msg}, nil
		}
		notFound = nf
	} else if _, ok := s.wallet(b.Phone); !ok {
		notFound = "wallet_not_found"
	}
	if notFound != "" {
		// Taken now, refused later: the contract lets only the bank's later
		// decision reject a top-up.
		status, decision, decisionReason = bankapi.StatusPending, bankapi.StatusRejected, notFound
	} else if (f.PendingEvery > 0 && b.ReceiptNo%int64(f.PendingEvery) == 1%int64(f.PendingEvery)) || s.roll(f.PendingRate) {
		status = bankapi.StatusPending
	}
	bankNow := now.Add(f.ClockSkew)
	var creditedAt int64
	if status == bankapi.StatusCredited {
		creditedAt = bankNow.Unix()
	}
	if _, err := tx.ExecContext(ctx, `
		INSERT INTO topups (id, terminal, body, phone, amount, receipt_no, status, decision,
		                    decision_reason, received_at, due_at, credited_at, service, account)
		VALUES (?, ?, ?, ?, ?, ?, ?, ?, ?, ?, ?, ?, ?, ?)`,
		b.ID, terminal, compact.Bytes(), string(b.Phone), int64(b.Amount), b.ReceiptNo, string(status),
		string(decision), decisionReason, bankNow.UnixNano(), now.Add(f.CreditDelay).UnixNano(), creditedAt,
		b.Service, b.Account); err != nil {
		return bankapi.ItemResult{}, err
	}
	if status == bankapi.StatusCredited {
		if _, err := tx.ExecContext(ctx, `INSERT INTO credits (id, at) VALUES (?, ?)`, b.ID, creditedAt); err != nil {
			return bankapi.ItemResult{}, err
		}
	}
	if err := tx.Commit(); err != nil {
		return bankapi.ItemResult{}, err
	}
	code := http.StatusCreated
	if status == bankapi.StatusPending {
		code = http.StatusAccepted
	}
	st := storedTopUp{status: status, creditedAt: creditedAt}
	return bankapi.ItemResult{ID: b.ID, Code: code, Status: st.wire(b.ID)}, nil
}

func (s *Server) getTopUp(ctx context.Context, w http.ResponseWriter, terminal, id string) {
	s.mu.Lock()
	if s.db == nil {
		s.mu.Unlock()
		s.internal(w, errors.New("banksim is closed"))
		return
	}
	err := settle(ctx, s.db, s.clock.Now(), s.Faults().ClockSkew)
	var t storedTopUp
	var found bool
	if err == nil {
		t, found, err = getTopUp(ctx, s.db, id)
	}
	s.mu.Unlock()
	switch {
	case err != nil:
		s.internal(w, err)
	case !found || t.terminal != terminal:
		s.writeError(w, http.StatusNotFound, bankapi.CodeNotFound, "unknown top-up id: submit it again")
	default:
		s.writeJSON(w, http.StatusOK, t.wire(id))
	}
}

func (s *Server) postCollection(ctx context.Context, w http.ResponseWriter, terminal string, body []byte, key string) {
	c, err := bankapi.ParseCollectionBody(body)
	if err != nil {
		s.writeError(w, http.StatusUnprocessableEntity, bankapi.CodeInvalid, err.Error())
		return
	}
	if key != c.ID {
		s.writeError(w, http.StatusUnprocessableEntity, bankapi.CodeInvalid, "the Idempotency-Key header must be the body's id")
		return
	}
	var compact bytes.Buffer
	if err := json.Compact(&compact, body); err != nil {
		s.writeError(w, http.StatusUnprocessableEntity, bankapi.CodeInvalid, err.Error())
		return
	}
	code, err := s.recordCollection(ctx, terminal, c, compact.Bytes())
	if err != nil {
		s.internal(w, err)
		return
	}
	if s.roll(s.Faults().DropRate) {
		s.drop(w)
		return
	}
	if code == http.StatusConflict {
		s.writeError(w, code, bankapi.CodeIdempotencyConflict, "this id was received with another body")
		return
	}
	s.writeJSON(w, code, map[string]string{"id": c.ID})
}

func (s *Server) recordCollection(ctx context.Context, terminal string, c bankapi.CollectionBody, body []byte) (int, error) {
	s.mu.Lock()
	defer s.mu.Unlock()
	if s.db == nil {
		return 0, errors.New("banksim is closed")
	}
	var oldTerminal string
	var oldBody []byte
	err := s.db.QueryRowContext(ctx, `SELECT terminal, body FROM collections WHERE id = ?`, c.ID).Scan(&oldTerminal, &oldBody)
	switch {
	case err == nil:
		if oldTerminal == terminal && bytes.Equal(oldBody, body) {
			return http.StatusOK, nil
		}
		return http.StatusConflict, nil
	case !errors.Is(err, errNoRows):
		return 0, err
	}
	_, err = s.db.ExecContext(ctx, `INSERT INTO collections (id, terminal, body, amount, received_at) VALUES (?, ?, ?, ?, ?)`,
		c.ID, terminal, body, int64(c.Amount), s.bankNow().UnixNano())
	if err != nil {
		return 0, err
	}
	return http.StatusCreated, nil
}

func (s *Server) heartbeat(ctx context.Context, w http.ResponseWriter, terminal string, body []byte) {
	var hb struct {
		State *string          `json:"state"`
		Chain *kiosk.ChainHead `json:"chain"`
	}
	if err := json.Unmarshal(body, &hb); err != nil || hb.State == nil {
		s.writeError(w, http.StatusUnprocessableEntity, bankapi.CodeInvalid, "a heartbeat is a JSON object with a state")
		return
	}
	if hb.Chain != nil {
		if err := bankapi.ValidChainHead(*hb.Chain); err != nil {
			s.writeError(w, http.StatusUnprocessableEntity, bankapi.CodeInvalid, err.Error())
			return
		}
	}
	var compact bytes.Buffer
	json.Compact(&compact, body) //nolint:errcheck // already parsed
	s.mu.Lock()
	var err error
	if s.db == nil {
		err = errors.New("banksim is closed")
	} else {
		_, err = s.db.ExecContext(ctx, `
			INSERT INTO heartbeats (terminal, body, at, count) VALUES (?, ?, ?, 1)
			ON CONFLICT (terminal) DO UPDATE SET body = excluded.body, at = excluded.at, count = count + 1`,
			terminal, compact.Bytes(), s.bankNow().UnixNano())
	}
	s.mu.Unlock()
	if err != nil {
		s.internal(w, err)
		return
	}
	s.writeStatusOnly(w, http.StatusNoContent)
}

func isLoopbackAddr(remote string) bool {
	host, _, err := net.SplitHostPort(remote)
	if err != nil {
		host = remote
	}
	ip := net.ParseIP(host)
	return ip != nil && ip.IsLoopback()
}

func (s *Server) serveAdmin(w http.ResponseWriter, r *http.Request) {
	if !isLoopbackAddr(r.RemoteAddr) {
		s.writeError(w, http.StatusForbidden, "forbidden", "the admin endpoints answer loopback clients only")
		return
	}
	switch r.Method + " " + r.URL.Path {
	case "GET /_admin/faults":
		s.writeJSON(w, http.StatusOK, s.Faults())
	case "POST /_admin/faults":
		body, err := io.ReadAll(http.MaxBytesReader(w, r.Body, 64<<10))
		if err != nil {
			s.writeError(w, http.StatusBadRequest, bankapi.CodeInvalid, err.Error())
			return
		}
		f := s.Faults()
		if err := json.Unmarshal(body, &f); err != nil {
			s.writeError(w, http.StatusUnprocessableEntity, bankapi.CodeInvalid, err.Error())
			return
		}
		if err := s.SetFaults(f); err != nil {
			s.writeError(w, http.StatusUnprocessableEntity, bankapi.CodeInvalid, err.Error())
			return
		}
		s.log.Info("banksim faults changed", "faults", f)
		s.writeJSON(w, http.StatusOK, f)
	case "GET /_admin/stats":
		st, err := s.Stats()
		if err != nil {
			s.internal(w, err)
			return
		}
		s.writeJSON(w, http.StatusOK, st)
	case "GET /_admin/topups":
		list, err := s.TopUps()
		if err != nil {
			s.internal(w, err)
			return
		}
		if list == nil {
			list = []TopUpRecord{}
		}
		s.writeJSON(w, http.StatusOK, list)
	case "GET /_admin/heartbeats":
		list, err := s.Heartbeats()
		if err != nil {
			s.internal(w, err)
			return
		}
		if list == nil {
			list = []Heartbeat{}
		}
		s.writeJSON(w, http.StatusOK, list)
	case "GET /_admin/services":
		s.serveServices(w)
	case "POST /_admin/services":
		body, err := io.ReadAll(http.MaxBytesReader(w, r.Body, bankapi.MaxBody))
		if err != nil {
			s.writeError(w, http.StatusBadRequest, bankapi.CodeInvalid, err.Error())
			return
		}
		s.SetServices(body)
		s.log.Info("banksim catalog changed", "catalog", trimCatalog(body))
		s.writeStatusOnly(w, http.StatusNoContent)
	case "POST /_admin/wallets":
		var req struct {
			Phone string `json:"phone"`
			Name  string `json:"name"`
		}
		body, err := io.ReadAll(http.MaxBytesReader(w, r.Body, 64<<10))
		if err == nil {
			err = json.Unmarshal(body, &req)
		}
		if err == nil {
			err = s.AddWallet(kiosk.Phone(req.Phone), req.Name)
		}
		if err != nil {
			s.writeError(w, http.StatusUnprocessableEntity, bankapi.CodeInvalid, err.Error())
			return
		}
		s.writeStatusOnly(w, http.StatusNoContent)
	default:
		s.writeError(w, http.StatusNotFound, bankapi.CodeNotFound,
			"admin endpoints: GET/POST /_admin/faults, GET /_admin/stats, GET /_admin/topups, GET /_admin/heartbeats, POST /_admin/wallets, GET/POST /_admin/services")
	}
}
