package main

import (
	"context"
	"encoding/json"
	"errors"
	"fmt"
	"io"
	"log/slog"
	"net"
	"net/http"
	"os"
	"path/filepath"
	"strings"
	"sync"
	"time"

	"tolem/kiosk"
	"tolem/kiosk/console"
)

// The control socket's HTTP API, for kioskctl and the updater:
//
//	GET    /v1/status    the status document (what `status --json` prints)
//	GET    /v1/health    200 or 503 {"healthy":…,"version":…,"checks":{…}}
//	POST   /v1/drain     waits for the customer, enters maintenance: 200 {"drained":true}
//	POST   /v1/undrain   leaves maintenance (DELETE /v1/drain too)
//	POST   /v1/command   {"args":["status","--json"],"actor":"ssh:anna"}
//	                     → 200 {"output":"…","exit":0}, or, with
//	                     "Upgrade: tolem-console", a two-way stream (console_stream.go)
//
// The actor of a command is the unix user at the other end of the socket
// (SO_PEERCRED), not what the request claims.

// maxCommandBody bounds a command request: a command line is short.
const maxCommandBody = 16 << 10

// commandRequest is the body of POST /v1/command.
type commandRequest struct {
	Args  []string `json:"args"`
	Actor string   `json:"actor"`
}

// commandResult is the answer of a plain POST /v1/command.
type commandResult struct {
	Output string `json:"output"`
	Exit   int    `json:"exit"`
}

// healthReport is the answer of GET /v1/health.
type healthReport struct {
	Healthy bool              `json:"healthy"`
	Version string            `json:"version"`
	Checks  map[string]string `json:"checks"`
}

// control is what the control socket serves.
type control struct {
	// base ends when the doors close: it stops the streamed commands, which
	// the HTTP server no longer tracks once their connection is hijacked.
	base    context.Context
	w       *wiring
	con     *console.Console
	backend *consoleBackend
	log     *slog.Logger
}

type controlServer struct {
	srv  *http.Server
	path string
}

// startControl serves the control API on a unix socket of mode 0660:
// whoever may SSH in as the kiosk's group may run kioskctl, nobody else.
func startControl(path string, c *control) (*controlServer, error) {
	if err := os.MkdirAll(filepath.Dir(path), 0o750); err != nil {
		return nil, fmt.Errorf("control socket dir: %w", err)
	}
	// A socket someone still answers on is not stale: taking it over would
	// leave technicians talking to one kioskd about another's kiosk.
	if conn, err := net.DialTimeout("unix", path, time.Second); err == nil {
		conn.Close()
		return nil, fmt.Errorf("control socket %s is served by another process (another kioskd?): stop it, or give this kioskd its own control.socket", path)
	}
	if err := os.Remove(path); err != nil && !errors.Is(err, os.ErrNotExist) {
		return nil, fmt.Errorf("remove stale control socket: %w", err)
	}
	ln, err := net.Listen("unix", path)
	if err != nil {
		return nil, fmt.Errorf("control socket %s: %w", path, err)
	}
	if err := os.Chmod(path, 0o660); err != nil {
		ln.Close()
		return nil, fmt.Errorf("control socket mode: %w", err)
	}
	mux := http.NewServeMux()
	mux.HandleFunc("GET /v1/status", c.handleStatus)
	mux.HandleFunc("GET /v1/health", c.handleHealth)
	mux.HandleFunc("POST /v1/drain", c.handleDrain)
	mux.HandleFunc("POST /v1/undrain", c.handleUndrain)
	mux.HandleFunc("DELETE /v1/drain", c.handleUndrain)
	mux.HandleFunc("POST /v1/command", c.handleCommand)
	cs := &controlServer{
		srv: &http.Server{
			Handler:           mux,
			ReadHeaderTimeout: 5 * time.Second,
			ConnContext:       withPeer,
		},
		path: path,
	}
	go func() {
		if err := cs.srv.Serve(ln); err != nil && !errors.Is(err, http.ErrServerClosed) {
			c.log.Error("control socket stopped", "err", err)
		}
	}()
	return cs, nil
}

// Close stops taking requests and waits a little for those under way; a
// long one (a drain waiting for a customer) is cut.
func (s *controlServer) Close() error {
	ctx, cancel := context.WithTimeout(context.Background(), 2*time.Second)
	defer cancel()
	err := s.srv.Shutdown(ctx)
	if errors.Is(err, context.DeadlineExceeded) {
		err = s.srv.Close()
	}
	os.Remove(s.path)
	return err
}

func writeJSON(w http.ResponseWriter, code int, v any) {
	w.Header().Set("Content-Type", "application/json")
	w.WriteHeader(code)
	enc := json.NewEncoder(w)
	enc.SetIndent("", "  ")
	_ = enc.Encode(v)
}

func (c *control) handleStatus(w http.ResponseWriter, r *http.Request) {
	writeJSON(w, http.StatusOK, c.con.Status(r.Context()))
}

// health is healthy when the ledger is open and takes a write, the
// acceptor is ready, the flow's loop answers and the outbox's loop, when
// there is one, makes progress. An updater polls it to decide whether a new
// release stays.
func (c *control) health(ctx context.Context) healthReport {
	ctx, cancel := context.WithTimeout(ctx, 5*time.Second)
	defer cancel()
	checks := map[string]string{}
	if c.w.ledger == nil {
		checks["ledger"] = fmt.Sprintf("unusable: %v", c.w.ledgerErr)
	} else if err := c.w.ledger.SetSetting(ctx, settingHealthProbe, time.Now().UTC().Format(time.RFC3339)); err != nil {
		checks["ledger"] = "not writable: " + err.Error()
	} else {
		checks["ledger"] = "ok"
	}
	if info := c.w.acceptor.Info(); info.Ready {
		checks["acceptor"] = "ok"
	} else {
		detail := info.State
		if n := len(info.LastErrors); n > 0 {
			detail += ": " + info.LastErrors[n-1]
		}
		checks["acceptor"] = "not ready: " + detail
	}
	if err := c.w.flow.Alive(ctx); err != nil {
		checks["flow"] = "not answering: " + err.Error()
	} else {
		checks["flow"] = "ok"
	}
	checks["sync"] = "ok"
	if a, ok := c.w.outbox.(interface{ Alive(context.Context) error }); ok {
		if err := a.Alive(ctx); err != nil {
			checks["sync"] = "not running: " + err.Error()
		}
	}
	h := healthReport{Healthy: true, Version: version, Checks: checks}
	for _, v := range checks {
		if v != "ok" {
			h.Healthy = false
		}
	}
	return h
}

func (c *control) handleHealth(w http.ResponseWriter, r *http.Request) {
	h := c.health(r.Context())
	code := http.StatusOK
	if !h.Healthy {
		code = http.StatusServiceUnavailable
	}
	writeJSON(w, code, h)
}

func (c *control) audit(ctx context.Context, actor, action, detail string) {
	if c.w.ledger == nil {
		return
	}
	if err := c.w.ledger.Audit(context.WithoutCancel(ctx), kiosk.AuditEntry{Actor: actor, Action: action, Detail: detail}); err != nil {
		c.log.Warn("control: audit line not recorded", "action", action, "err", err)
	}
}

// handleDrain waits until no customer is mid-session and puts the kiosk in
// maintenance; a client that gives up withdraws the request.
func (c *control) handleDrain(w http.ResponseWriter, r *http.Request) {
	actor := actorOf(r, "")
	c.log.Info("drain asked: waiting for any customer to finish", "actor", actor)
	if err := c.w.flow.RequestMaintenance(r.Context()); err != nil {
		writeJSON(w, http.StatusServiceUnavailable, map[string]any{"drained": false, "error": err.Error()})
		return
	}
	c.audit(r.Context(), actor, "drain", "maintenance for an update")
	writeJSON(w, http.StatusOK, map[string]any{"drained": true})
}

func (c *control) handleUndrain(w http.ResponseWriter, r *http.Request) {
	actor := actorOf(r, "")
	c.w.flow.EndMaintenance()
	c.audit(r.Context(), actor, "undrain", "maintenance ended")
	writeJSON(w, http.StatusOK, map[string]any{"drained": false})
}

func (c *control) handleCommand(w http.ResponseWriter, r *http.Request) {
	var req commandRequest
	dec := json.NewDecoder(io.LimitReader(r.Body, maxCommandBody))
	if err := dec.Decode(&req); err != nil {
		writeJSON(w, http.StatusBadRequest, map[string]string{"error": "the body must be {\"args\":[…]}: " + err.Error()})
		return
	}
	if len(req.Args) == 0 {
		writeJSON(w, http.StatusBadRequest, map[string]string{"error": "args is empty: give a command, e.g. [\"status\"]"})
		return
	}
	actor := actorOf(r, req.Actor)
	if strings.EqualFold(r.Header.Get("Upgrade"), streamProtocol) {
		c.stream(w, r, actor, req.Args)
		return
	}
	var out strings.Builder
	code := c.con.Exec(r.Context(), actor, req.Args, console.Output(&lockedWriter{w: &out}))
	writeJSON(w, http.StatusOK, commandResult{Output: out.String(), Exit: code})
}

// stream runs a command over the hijacked connection (see streamTerm).
func (c *control) stream(w http.ResponseWriter, r *http.Request, actor string, args []string) {
	conn, brw, err := http.NewResponseController(w).Hijack()
	if err != nil {
		writeJSON(w, http.StatusInternalServerError, map[string]string{"error": "cannot stream: " + err.Error()})
		return
	}
	defer conn.Close()
	// The server's deadlines do not apply to a hijacked connection: a
	// collect may wait for a customer and then for the technician.
	conn.SetDeadline(time.Time{})
	fmt.Fprintf(brw, "HTTP/1.1 101 Switching Protocols\r\nUpgrade: %s\r\nConnection: Upgrade\r\n\r\n", streamProtocol)
	if err := brw.Flush(); err != nil {
		return
	}
	ctx, cancel := context.WithCancel(c.base)
	defer cancel()
	t := newStreamTerm(brw.Writer, cancel)
	go t.readFrames(brw.Reader)
	code := c.con.Exec(ctx, actor, args, t)
	t.exit(code)
}

// lockedWriter keeps the writes of a command's goroutines (the key test
// echoes from the panel's) from interleaving.
type lockedWriter struct {
	mu sync.Mutex
	w  io.Writer
}

func (l *lockedWriter) Write(p []byte) (int, error) {
	l.mu.Lock()
	defer l.mu.Unlock()
	return l.w.Write(p)
}
