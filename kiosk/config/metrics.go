package config

import (
	"net"
	"strconv"
)

// DefaultMetricsListen keeps /metrics on the kiosk itself: the fleet's
// Prometheus reaches it through an SSH tunnel or a reverse proxy.
const DefaultMetricsListen = "127.0.0.1:9417"

// Metrics is the Prometheus endpoint (SPEC §9).
type Metrics struct {
	// Listen is the host:port that serves /metrics; empty turns metrics off.
	Listen string `yaml:"listen"`
}

func (m Metrics) check(add addFunc) {
	if m.Listen == "" {
		return
	}
	const want = `want host:port, e.g. 127.0.0.1:9417, or "" to turn metrics off`
	host, port, err := net.SplitHostPort(m.Listen)
	if err != nil {
		add("metrics.listen", "got %q: %s", m.Listen, want)
		return
	}
	if n, err := strconv.Atoi(port); err != nil || n < 1 || n > 65535 {
		add("metrics.listen", "got %q: the port must be 1 to 65535; %s", m.Listen, want)
	}
	if host != "" && host != "localhost" && net.ParseIP(host) == nil {
		add("metrics.listen", "got %q: the host must be an IP address (or empty for every interface); %s", m.Listen, want)
	}
}
