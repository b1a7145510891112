package config

import (
	"strings"
	"testing"
)

func TestMetricsListen(t *testing.T) {
	base := "terminal_id: KZ-ALA-0001\ndata_dir: /var/lib/tolem\nbank: {url: 'https://api.bank.kz', secret: s3cret}\nacceptor: {protocol: ccnet, port: /dev/ttyUSB0}\n"
	c, err := Parse([]byte(base))
	if err != nil {
		t.Fatal(err)
	}
	if c.Metrics.Listen != DefaultMetricsListen {
		t.Errorf("default metrics.listen %q, want %q", c.Metrics.Listen, DefaultMetricsListen)
	}
	for _, ok := range []string{`""`, "'0.0.0.0:9417'", "'[::1]:9100'", "':9417'", "'localhost:9417'"} {
		c, err := Parse([]byte(base + "metrics: {listen: " + ok + "}\n"))
		if err != nil {
			t.Errorf("metrics.listen %s refused: %v", ok, err)
		} else if ok == `""` && c.Metrics.Listen != "" {
			t.Errorf("an empty metrics.listen does not turn metrics off: %q", c.Metrics.Listen)
		}
	}
	for _, bad := range []string{"'9417'", "'127.0.0.1:99999'", "'kiosk.local:9417'", "'127.0.0.1:http'"} {
		_, err := Parse([]byte(base + "metrics: {listen: " + bad + "}\n"))
		if err == nil || !strings.Contains(err.Error(), "metrics.listen") {
			t.Errorf("metrics.listen %s: %v, want a problem naming the key", bad, err)
		}
	}
	if _, err := Parse([]byte(base + "metrics: {port: 1}\n")); err == nil || !strings.Contains(err.Error(), "metrics.port") {
		t.Errorf("unknown key under metrics: %v", err)
	}
}
