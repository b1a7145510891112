package config

import (
	"testing"
	"time"
)

func TestSyncBackoffKeys(t *testing.T) {
	base := "terminal_id: K\ndata_dir: /d\nbank: {url: 'http://127.0.0.1:1', secret: s}\nacceptor: {protocol: sim}\n"
	c, err := Parse([]byte(base + "sync: {min_backoff: 2s, poll_after: 30s}\n"))
	if err != nil {
		t.Fatal(err)
	}
	if c.Sync.MinBackoff != 2*time.Second || c.Sync.PollAfter != 30*time.Second || c.Sync.MaxBackoff != 5*time.Minute {
		t.Errorf("sync = %+v", c.Sync)
	}
	_, err = Parse([]byte(base + "sync: {min_backoff: 10m, max_backoff: 5m}\n"))
	found := false
	for _, p := range problemsOf(err) {
		found = found || p.Key == "sync.min_backoff"
	}
	if !found {
		t.Errorf("a first wait above the cap was accepted: %v", err)
	}
}
