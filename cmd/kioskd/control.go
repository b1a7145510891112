package main

import (
	"context"
	"encoding/json"
	"errors"
	"fmt"
	"log/slog"
	"net"
	"net/http"
	"os"
	"path/filepath"
	"time"

	"tolem/kiosk"
	"tolem/kiosk/flow"
	"tolem/kiosk/ledger"
)

// controlState is what the control socket reads; it holds no state of its own.
type controlState struct {
	flow     *flow.Flow
	ledger   *ledger.Ledger // nil when the ledger could not be opened
	acceptor kiosk.Acceptor
	log      *slog.Logger
	started  time.Time
}

// statusReport is the answer of GET /v1/status and `kioskctl status --json`.
type statusReport struct {
	Version  string             `json:"version"`
	UptimeS  int64              `json:"uptime_s"`
	State    string             `json:"state"`
	Lang     string             `json:"lang"`
	Reasons  []string           `json:"reasons"`
	Screen   [4]string          `json:"screen"`
	Acceptor kiosk.AcceptorInfo `json:"acceptor"`
	Queue    *kiosk.QueueStats  `json:"queue,omitempty"`
	Ledger   string             `json:"ledger"`
}

type controlServer struct {
	srv  *http.Server
	path string
}

// startControl serves the technician's commands on a unix socket of mode
// 0660: whoever may SSH in as the kiosk's group may run kioskctl, nobody else.
func startControl(path string, st *controlState) (*controlServer, error) {
	if st.started.IsZero() {
		st.started = time.Now()
	}
	if err := os.MkdirAll(filepath.Dir(path), 0o750); err != nil {
		return nil, fmt.Errorf("control socket dir: %w", err)
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
	mux.HandleFunc("GET /v1/status", func(w http.ResponseWriter, r *http.Request) {
		writeJSON(w, st.status(r.Context()))
	})
	cs := &controlServer{srv: &http.Server{Handler: mux, ReadHeaderTimeout: 5 * time.Second}, path: path}
	go func() {
		if err := cs.srv.Serve(ln); err != nil && !errors.Is(err, http.ErrServerClosed) {
			st.log.Error("control socket stopped", "err", err)
		}
	}()
	return cs, nil
}

func (c *controlServer) Close() error {
	ctx, cancel := context.WithTimeout(context.Background(), 2*time.Second)
	defer cancel()
	err := c.srv.Shutdown(ctx)
	os.Remove(c.path)
	return err
}

func (st *controlState) status(ctx context.Context) statusReport {
	fs := st.flow.Status()
	rep := statusReport{
		Version:  version,
		UptimeS:  int64(time.Since(st.started) / time.Second),
		State:    fs.State.String(),
		Lang:     fs.Lang.String(),
		Reasons:  fs.Reasons,
		Screen:   fs.Screen.Lines,
		Acceptor: st.acceptor.Info(),
		Ledger:   "ok",
	}
	if st.ledger == nil {
		rep.Ledger = "unusable"
	} else if q, err := st.ledger.Queue(ctx); err == nil {
		rep.Queue = &q
	} else {
		rep.Ledger = err.Error()
	}
	return rep
}

func writeJSON(w http.ResponseWriter, v any) {
	w.Header().Set("Content-Type", "application/json")
	enc := json.NewEncoder(w)
	enc.SetIndent("", "  ")
	_ = enc.Encode(v)
}
