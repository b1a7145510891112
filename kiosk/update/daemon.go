package update

import (
	"context"
	"encoding/json"
	"errors"
	"fmt"
	"io"
	"net"
	"net/http"
	"sort"
	"strings"
	"syscall"
)

// Daemon is what an update needs of the running kioskd, over its control
// socket.
type Daemon interface {
	// Drain returns once no customer is mid-session and the kiosk shows
	// maintenance, or with the context's error. ErrNotRunning when kioskd
	// does not answer at all.
	Drain(ctx context.Context) error
	// Resume undoes Drain when the update goes no further.
	Resume(ctx context.Context) error
	// Health reports the daemon's health and version.
	Health(ctx context.Context) (Health, error)
}

// Health is the answer of GET /v1/health.
type Health struct {
	Healthy bool           `json:"healthy"`
	Version string         `json:"version"`
	Checks  map[string]any `json:"checks,omitempty"`
}

// String summarises h for a technician: the version and the failing checks.
func (h Health) String() string {
	var failing []string
	for name, v := range h.Checks {
		if !checkOK(v) {
			b, _ := json.Marshal(v)
			failing = append(failing, name+"="+string(b))
		}
	}
	sort.Strings(failing)
	s := fmt.Sprintf("version %s, healthy=%t", h.Version, h.Healthy)
	if len(failing) > 0 {
		s += ", failing: " + strings.Join(failing, " ")
	}
	return s
}

// checkOK reads a check as "ok", true, {"ok": true} or {"healthy": true};
// kioskd answers "ok" or what is wrong ("not ready: jammed").
func checkOK(v any) bool {
	switch c := v.(type) {
	case string:
		return strings.EqualFold(c, "ok")
	case bool:
		return c
	case map[string]any:
		for _, k := range []string{"ok", "healthy"} {
			if b, ok := c[k].(bool); ok {
				return b
			}
		}
		return true
	}
	return true
}

// SocketDaemon talks HTTP to kioskd over its unix control socket.
type SocketDaemon struct {
	path   string
	client *http.Client
}

// NewSocketDaemon returns a client of the control socket at path.
func NewSocketDaemon(path string) *SocketDaemon {
	return &SocketDaemon{path: path, client: &http.Client{
		// No client timeout: a drain lasts as long as a customer's session;
		// every call is bounded by its context instead.
		Transport: &http.Transport{
			DialContext: func(ctx context.Context, _, _ string) (net.Conn, error) {
				var d net.Dialer
				return d.DialContext(ctx, "unix", path)
			},
			DisableKeepAlives: true,
		},
	}}
}

// Drain is POST /v1/drain; 200 means drained.
func (d *SocketDaemon) Drain(ctx context.Context) error {
	_, err := d.do(ctx, http.MethodPost, "/v1/drain", http.StatusOK)
	return err
}

// Resume is DELETE /v1/drain.
func (d *SocketDaemon) Resume(ctx context.Context) error {
	_, err := d.do(ctx, http.MethodDelete, "/v1/drain", http.StatusOK, http.StatusNoContent)
	return err
}

// Health is GET /v1/health. A 503 with a JSON body is an answer (not
// healthy), not an error.
func (d *SocketDaemon) Health(ctx context.Context) (Health, error) {
	body, err := d.do(ctx, http.MethodGet, "/v1/health", http.StatusOK, http.StatusServiceUnavailable)
	if err != nil {
		return Health{}, err
	}
	var h Health
	if err := json.Unmarshal(body, &h); err != nil {
		return Health{}, fmt.Errorf("kioskd health: not JSON: %w", err)
	}
	return h, nil
}

func (d *SocketDaemon) do(ctx context.Context, method, path string, ok ...int) ([]byte, error) {
	req, err := http.NewRequestWithContext(ctx, method, "http://kioskd"+path, nil)
	if err != nil {
		return nil, err
	}
	resp, err := d.client.Do(req)
	if err != nil {
		if errors.Is(err, syscall.ENOENT) || errors.Is(err, syscall.ECONNREFUSED) {
			return nil, fmt.Errorf("%w (no answer on %s): %v", ErrNotRunning, d.path, err)
		}
		return nil, fmt.Errorf("kioskd %s %s: %w", method, path, err)
	}
	defer resp.Body.Close()
	body, err := io.ReadAll(io.LimitReader(resp.Body, 1<<20))
	if err != nil {
		return nil, fmt.Errorf("kioskd %s %s: %w", method, path, err)
	}
	for _, code := range ok {
		if resp.StatusCode == code {
			return body, nil
		}
	}
	return nil, fmt.Errorf("kioskd %s %s answered %s: %s", method, path, resp.Status, strings.TrimSpace(string(body)))
}
