package main

import (
	"bufio"
	"encoding/json"
	"fmt"
	"net"
	"net/http"
	"os"
	"path/filepath"
	"strings"
	"testing"

	"tolem/kiosk/console"
)

// ctlStdin is a file holding s, as a pipe into kioskctl would be.
func ctlStdin(t *testing.T, s string) *os.File {
	t.Helper()
	p := filepath.Join(t.TempDir(), "stdin")
	if err := os.WriteFile(p, []byte(s), 0o600); err != nil {
		t.Fatal(err)
	}
	f, err := os.Open(p)
	if err != nil {
		t.Fatal(err)
	}
	t.Cleanup(func() { f.Close() })
	return f
}

func TestCtlPinHash(t *testing.T) {
	tests := []struct {
		name, stdin string
		code        int
	}{
		{"twice", "735190\n735190\n", 0},
		{"once", "735190\n", 0},
		{"differ", "735190\n735191\n", ctlFailed},
		{"too short", "123\n123\n", ctlUsage},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			var out, errb strings.Builder
			code := run([]string{"pin-hash"}, ctlStdin(t, tt.stdin), &out, &errb)
			if code != tt.code {
				t.Fatalf("exit %d, want %d: %s", code, tt.code, errb.String())
			}
			if code != 0 {
				if out.Len() != 0 {
					t.Errorf("printed %q on failure", out.String())
				}
				return
			}
			h := strings.TrimSpace(out.String())
			if ok, err := console.VerifyPIN(h, "735190"); !ok || err != nil {
				t.Errorf("printed %q, which does not verify the PIN: %v", h, err)
			}
		})
	}
}

// fakeDaemon serves /v1/command on a unix socket: a stream that asks one
// question and exits with 0 when the answer is "yes", a plain answer when
// the request does not ask to upgrade.
func fakeDaemon(t *testing.T) string {
	t.Helper()
	dir, err := os.MkdirTemp("", "ctl")
	if err != nil {
		t.Fatal(err)
	}
	t.Cleanup(func() { os.RemoveAll(dir) })
	sock := filepath.Join(dir, "c.sock")
	ln, err := net.Listen("unix", sock)
	if err != nil {
		t.Fatal(err)
	}
	srv := &http.Server{Handler: http.HandlerFunc(func(w http.ResponseWriter, r *http.Request) {
		var req struct {
			Args  []string `json:"args"`
			Actor string   `json:"actor"`
		}
		json.NewDecoder(r.Body).Decode(&req)
		if r.Header.Get("Upgrade") != streamProtocol {
			json.NewEncoder(w).Encode(map[string]any{"output": "plain " + strings.Join(req.Args, " ") + "\n", "exit": 3})
			return
		}
		conn, brw, err := http.NewResponseController(w).Hijack()
		if err != nil {
			return
		}
		defer conn.Close()
		fmt.Fprintf(brw, "HTTP/1.1 101 Switching Protocols\r\nUpgrade: %s\r\nConnection: Upgrade\r\n\r\n", streamProtocol)
		enc := json.NewEncoder(brw)
		send := func(f frame) { enc.Encode(f); brw.Flush() }
		send(frame{Out: "hello " + req.Actor + " " + strings.Join(req.Args, " ") + "\n"})
		send(frame{Prompt: "Sure? ", Echo: true})
		var ans frame
		if err := json.NewDecoder(bufio.NewReader(brw)).Decode(&ans); err != nil {
			return
		}
		code := 1
		switch {
		case ans.Line != nil && *ans.Line == "yes":
			code = 0
		case ans.EOF:
			code = 130
		}
		send(frame{Out: "done\n"})
		send(frame{Exit: &code})
	})}
	go srv.Serve(ln)
	t.Cleanup(func() { srv.Close() })
	return sock
}

func TestCtlCommandStream(t *testing.T) {
	sock := fakeDaemon(t)
	t.Setenv("SUDO_USER", "")
	t.Setenv("USER", "anna")
	var out, errb strings.Builder
	code := run([]string{"--socket", sock, "collect", "--json"}, ctlStdin(t, "yes\n"), &out, &errb)
	if code != 0 {
		t.Fatalf("exit %d: %s", code, errb.String())
	}
	if want := "hello ssh:anna collect --json\nSure? yes\ndone\n"; out.String() != want {
		t.Errorf("output %q, want %q", out.String(), want)
	}
	out.Reset()
	if code := run([]string{"--socket", sock, "collect"}, ctlStdin(t, "no\n"), &out, &errb); code != 1 {
		t.Errorf("answer no: exit %d, want the command's 1", code)
	}
	// stdin at its end answers nothing: the command is told.
	if code := run([]string{"--socket", sock, "collect"}, ctlStdin(t, ""), &out, &errb); code != 130 {
		t.Errorf("no answer: exit %d, want 130", code)
	}
}

func TestCtlUnreachableAndUsage(t *testing.T) {
	var out, errb strings.Builder
	missing := filepath.Join(t.TempDir(), "none.sock")
	if code := run([]string{"--socket", missing, "status"}, ctlStdin(t, ""), &out, &errb); code != ctlFailed {
		t.Errorf("no daemon: exit %d, want %d", code, ctlFailed)
	}
	if !strings.Contains(errb.String(), "kioskd is not running") {
		t.Errorf("no daemon: %q", errb.String())
	}
	errb.Reset()
	if code := run(nil, ctlStdin(t, ""), &out, &errb); code != ctlUsage || !strings.Contains(errb.String(), "usage: kioskctl") {
		t.Errorf("no command: exit %d, %q", code, errb.String())
	}
	out.Reset()
	if code := run([]string{"--version"}, ctlStdin(t, ""), &out, &errb); code != 0 || !strings.HasPrefix(out.String(), "kioskctl ") {
		t.Errorf("--version: exit %d, %q", code, out.String())
	}
}

// kioskctl's options stand before or after the command, and help needs no
// kioskd: a technician types them in whatever order comes to mind.
func TestCtlOptionsAnywhereAndHelpWithoutDaemon(t *testing.T) {
	sock := fakeDaemon(t)
	t.Setenv("SUDO_USER", "")
	t.Setenv("USER", "anna")
	for _, args := range [][]string{
		{"--json", "--socket", sock, "collect"},
		{"--socket=" + sock, "collect", "--json"},
		{"collect", "--json", "--socket", sock},
	} {
		var out, errb strings.Builder
		code := run(args, ctlStdin(t, "yes\n"), &out, &errb)
		if want := "hello ssh:anna collect --json\nSure? yes\ndone\n"; code != 0 || out.String() != want {
			t.Errorf("kioskctl %q: exit %d, output %q, want %q (%s)", args, code, out.String(), want, errb.String())
		}
	}

	missing := filepath.Join(t.TempDir(), "none.sock")
	for _, tc := range []struct {
		args []string
		want string
	}{
		{[]string{"--socket", missing, "help"}, "encashment: report, swap the cassette, record the seal\n"},
		{[]string{"--socket", missing, "--help"}, "usage: kioskctl [--socket PATH] [--json] <command> [args]\n"},
		{[]string{"--socket", missing, "status", "--help"}, "status\n  service state, acceptor, cassette, queue, bank, version, disk\n"},
		{[]string{"--socket", missing, "help", "review"}, "review\n  what needs a look"},
		{[]string{"--socket", missing, "update", "--help"}, "usage: kioskctl update <command> [flags]\n"},
		{[]string{"--socket", missing, "panel", "-h"}, "usage: kioskctl panel [PATH]\n"},
		{[]string{"--socket", missing, "--json", "help", "queue"}, `"name": "queue"`},
	} {
		var out, errb strings.Builder
		if code := run(tc.args, ctlStdin(t, ""), &out, &errb); code != 0 || !strings.Contains(out.String(), tc.want) {
			t.Errorf("kioskctl %q: exit %d, output %q, want it to contain %q (stderr %q)", tc.args, code, out.String(), tc.want, errb.String())
		}
	}

	var out, errb strings.Builder
	if code := run([]string{"--jsn", "status"}, ctlStdin(t, ""), &out, &errb); code != ctlUsage ||
		errb.String() != "kioskctl: unknown option --jsn; kioskctl help lists the commands and options\n" {
		t.Errorf("unknown option: exit %d, %q", code, errb.String())
	}
	errb.Reset()
	if code := run([]string{"help", "nosuch"}, ctlStdin(t, ""), &out, &errb); code != ctlUsage ||
		errb.String() != "kioskctl: no command \"nosuch\": type help for the list\n" {
		t.Errorf("help nosuch: exit %d, %q", code, errb.String())
	}
}
