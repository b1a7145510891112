package update

import (
	"context"
	"errors"
	"path/filepath"
	"strings"
	"testing"
)

func TestSocketDaemonWithoutDaemon(t *testing.T) {
	d := NewSocketDaemon(filepath.Join(t.TempDir(), "none.sock"))
	if err := d.Drain(context.Background()); !errors.Is(err, ErrNotRunning) {
		t.Errorf("drain: err = %v, want ErrNotRunning", err)
	}
	if _, err := d.Health(context.Background()); !errors.Is(err, ErrNotRunning) {
		t.Errorf("health: err = %v, want ErrNotRunning", err)
	}
}

func TestSocketDaemonReadsUnhealthyAnswers(t *testing.T) {
	r := newRig(t)
	r.install("1.0.0")
	r.daemon.setSick("1.0.0", true)
	h, err := NewSocketDaemon(r.daemon.path).Health(context.Background())
	if err != nil {
		t.Fatalf("a 503 with a body is an answer: %v", err)
	}
	if h.Healthy || h.Version != "1.0.0" {
		t.Errorf("health = %+v", h)
	}
	if s := h.String(); !strings.Contains(s, "failing: acceptor=") || strings.Contains(s, "ledger") {
		t.Errorf("summary %q should name the failing check only", s)
	}
}

func TestHealthSummaryNamesFailingChecks(t *testing.T) {
	h := Health{Version: "1.4.2", Checks: map[string]any{
		"ledger":   "ok",
		"acceptor": "not ready: jammed",
		"flow":     true,
		"sync":     map[string]any{"ok": false},
	}}
	want := `version 1.4.2, healthy=false, failing: acceptor="not ready: jammed" sync={"ok":false}`
	if got := h.String(); got != want {
		t.Errorf("got  %s\nwant %s", got, want)
	}
}
