// Command kioskctl is the technician's and the fleet's tool on the kiosk
// itself (over SSH): it talks to kioskd over its control socket.
//
//	kioskctl [--socket PATH] status [--json]
//
// Exit codes: 0 success; 1 the daemon could not be reached or answered an
// error; 2 bad usage.
package main

import (
	"context"
	"encoding/json"
	"errors"
	"flag"
	"fmt"
	"io"
	"net"
	"net/http"
	"os"
	"strings"
	"time"
)

var version = "dev"

const defaultSocket = "/run/tolem/control.sock"

func main() { os.Exit(run(os.Args[1:], os.Stdout, os.Stderr)) }

func run(args []string, stdout, stderr io.Writer) int {
	fs := flag.NewFlagSet("kioskctl", flag.ContinueOnError)
	fs.SetOutput(stderr)
	socket := fs.String("socket", envOr("TOLEM_CONTROL_SOCKET", defaultSocket), "kioskd's control `socket`")
	showVersion := fs.Bool("version", false, "print the version and exit")
	fs.Usage = func() {
		fmt.Fprintln(stderr, "usage: kioskctl [--socket PATH] <command> [--json]\n\ncommands:\n  status   service state, acceptor, queue, version")
		fs.PrintDefaults()
	}
	if err := fs.Parse(args); err != nil {
		return 2
	}
	if *showVersion {
		fmt.Fprintf(stdout, "kioskctl %s\n", version)
		return 0
	}
	rest := fs.Args()
	if len(rest) == 0 {
		fs.Usage()
		return 2
	}
	jsonOut := false
	var words []string
	for _, a := range rest {
		if a == "--json" || a == "-json" {
			jsonOut = true
			continue
		}
		words = append(words, a)
	}
	c := newClient(*socket)
	switch words[0] {
	case "status":
		var st map[string]any
		raw, err := c.get("/v1/status", &st)
		if err != nil {
			fmt.Fprintf(stderr, "kioskctl: %v\n", err)
			return 1
		}
		if jsonOut {
			stdout.Write(raw)
			return 0
		}
		printStatus(stdout, st)
		return 0
	default:
		fmt.Fprintf(stderr, "kioskctl: unknown command %q\n", words[0])
		fs.Usage()
		return 2
	}
}

func envOr(key, def string) string {
	if v := os.Getenv(key); v != "" {
		return v
	}
	return def
}

type client struct {
	socket string
	http   *http.Client
}

func newClient(socket string) *client {
	return &client{socket: socket, http: &http.Client{
		Timeout: 10 * time.Second,
		Transport: &http.Transport{DialContext: func(ctx context.Context, _, _ string) (net.Conn, error) {
			var d net.Dialer
			return d.DialContext(ctx, "unix", socket)
		}},
	}}
}

func (c *client) get(path string, v any) ([]byte, error) {
	resp, err := c.http.Get("http://kioskd" + path)
	if err != nil {
		if errors.Is(err, os.ErrNotExist) || strings.Contains(err.Error(), "no such file") || strings.Contains(err.Error(), "connection refused") {
			return nil, fmt.Errorf("kioskd is not running, or its control socket is not %s (set --socket): %w", c.socket, err)
		}
		return nil, err
	}
	defer resp.Body.Close()
	raw, err := io.ReadAll(io.LimitReader(resp.Body, 1<<20))
	if err != nil {
		return nil, err
	}
	if resp.StatusCode != http.StatusOK {
		return nil, fmt.Errorf("kioskd answered %s: %s", resp.Status, strings.TrimSpace(string(raw)))
	}
	return raw, json.Unmarshal(raw, v)
}

func printStatus(w io.Writer, st map[string]any) {
	fmt.Fprintf(w, "state     %v\n", st["state"])
	if r, ok := st["reasons"].([]any); ok && len(r) > 0 {
		fmt.Fprintf(w, "reasons   %v\n", r)
	}
	fmt.Fprintf(w, "version   %v (up %vs)\n", st["version"], st["uptime_s"])
	fmt.Fprintf(w, "ledger    %v\n", st["ledger"])
	if a, ok := st["acceptor"].(map[string]any); ok {
		fmt.Fprintf(w, "acceptor  %v %v serial %v, %v, ready=%v\n", a["protocol"], a["model"], a["serial"], a["state"], a["ready"])
	}
	if q, ok := st["queue"].(map[string]any); ok {
		fmt.Fprintf(w, "queue     unsent %v, pending %v, review %v\n", q["unsent"], q["pending"], q["review"])
	}
	if s, ok := st["screen"].([]any); ok {
		fmt.Fprintln(w, "screen")
		for _, l := range s {
			fmt.Fprintf(w, "  |%-20v|\n", l)
		}
	}
}
