// Command kioskctl is the technician's and the fleet's tool on the kiosk
// itself (over SSH). It runs the technician console's commands in kioskd over
// its control socket, without the PIN: whoever may use the socket (mode
// 0660, the kiosk's group) is trusted, and the audit names their unix user.
//
//	kioskctl [--socket PATH] [--json] <command> [args]   a console command (kioskctl help lists them)
//	kioskctl panel [PATH]                                be the customer at a simulated panel
//	kioskctl pin-hash                                    hash a technician's PIN for the config
//	kioskctl update apply|verify|status|recover|arch …   signed release updates
//
// kioskctl's own options (--socket, --json, --help) may stand before or
// after the command; `kioskctl help` and `kioskctl <command> --help` answer
// without kioskd.
//
// Exit codes: the command's own (0 success, 1 failed, 2 bad usage, 130
// stopped by Ctrl-C); 1 also when kioskd cannot be reached.
package main

import (
	"bufio"
	"bytes"
	"context"
	"encoding/json"
	"errors"
	"fmt"
	"io"
	"net"
	"net/http"
	"os"
	"os/signal"
	"os/user"
	"slices"
	"strings"
	"syscall"
	"time"

	"golang.org/x/term"

	"tolem/kiosk/console"
)

var version = "dev"

const defaultSocket = "/run/tolem/control.sock"

// Exit codes of kioskctl itself; a console command's exit code is passed on.
const (
	ctlOK          = 0
	ctlFailed      = 1
	ctlUsage       = 2
	ctlInterrupted = 130
)

// streamProtocol is the Upgrade token of kioskd's interactive commands.
const streamProtocol = "tolem-console"

func main() { os.Exit(run(os.Args[1:], os.Stdin, os.Stdout, os.Stderr)) }

func usage(w io.Writer) {
	fmt.Fprint(w, `usage: kioskctl [--socket PATH] [--json] <command> [args]

console commands, run in kioskd:
`)
	console.WriteHelp(w, "", false)
	fmt.Fprint(w, `
on this machine, without kioskd:
  panel [PATH]                   be the customer of a simulated kiosk: print its screens,
                                 send what you type (KEY OK, BILL 1000; panel --help)
  pin-hash                       read a PIN twice and print its hash for console.technicians
  update …                       signed release updates (update --help)
  version                        kioskctl's version

for scripts (the package's upgrade), over kioskd's control socket:
  drain [--timeout 10m]          wait until no customer is mid-session, then hold the kiosk
                                 in maintenance until kioskd restarts (exit 9: still busy)
  undrain                        back in service after a drain

options, before or after the command:
  --socket PATH                  kioskd's control socket (default $TOLEM_CONTROL_SOCKET,
                                 else `+defaultSocket+`)
  --json                         the command's answer as JSON
  --help                         this text; kioskctl <command> --help explains one command
  --version                      kioskctl's version
`)
}

func run(args []string, stdin *os.File, stdout, stderr io.Writer) int {
	g := globals{socket: envOr("TOLEM_CONTROL_SOCKET", defaultSocket)}
	rest, err := splitArgs(args, &g)
	if err != nil {
		fmt.Fprintf(stderr, "kioskctl: %v; kioskctl help lists the commands and options\n", err)
		return ctlUsage
	}
	if g.version {
		fmt.Fprintf(stdout, "kioskctl %s\n", version)
		return ctlOK
	}
	if len(rest) == 0 {
		if g.help {
			usage(stdout)
			return ctlOK
		}
		usage(stderr)
		return ctlUsage
	}
	cmd := rest[0]
	if cmd == "help" || g.help {
		// Help is kioskctl's own: it works with kioskd stopped.
		name := ""
		if cmd != "help" {
			name = cmd
		} else if len(rest) > 1 {
			name = rest[1]
		}
		return help(name, g.json, stdout, stderr)
	}
	switch cmd {
	case "update":
		uargs := rest[1:]
		if g.json && len(uargs) > 0 && (uargs[0] == "apply" || uargs[0] == "verify" || uargs[0] == "status") {
			uargs = append(uargs, "--json")
		}
		return runUpdate(uargs, stdout, stderr)
	case "pin-hash":
		return pinHash(rest[1:], stdin, stdout, stderr)
	case "panel":
		return runPanel(rest[1:], g.socket, stdin, stdout, stderr)
	case "drain":
		return runDrain(g.socket, rest[1:], stdout, stderr)
	case "undrain":
		return runUndrain(g.socket, rest[1:], stdout, stderr)
	case "version":
		fmt.Fprintf(stdout, "kioskctl %s\n", version)
		return ctlOK
	case "verify":
		if path, ok := verifyDB(rest[1:]); ok {
			return verifyFile(path, g.json || slices.Contains(rest, "--json"), slices.Contains(rest, "--integrity"), stdout, stderr)
		}
	}
	if g.json {
		rest = append(rest, "--json")
	}
	ctx, stop := context.WithCancel(context.Background())
	defer stop()
	code, err := newClient(g.socket).command(ctx, rest, stdin, stdout)
	if err != nil {
		fmt.Fprintf(stderr, "kioskctl: %v\n", err)
		return ctlFailed
	}
	return code
}

// help explains kioskctl or one of its commands.
func help(name string, asJSON bool, stdout, stderr io.Writer) int {
	switch name {
	case "":
		if asJSON {
			console.WriteHelp(stdout, "", true)
		} else {
			usage(stdout)
		}
		return ctlOK
	case "update":
		updateUsage(stdout)
		return ctlOK
	case "pin-hash":
		fmt.Fprintln(stdout, pinHashUsage)
		return ctlOK
	case "panel":
		fmt.Fprint(stdout, panelUsage)
		return ctlOK
	case "drain", "undrain":
		fmt.Fprint(stdout, drainUsage)
		return ctlOK
	case "version":
		fmt.Fprintln(stdout, "usage: kioskctl version\n  prints kioskctl's version")
		return ctlOK
	case "verify":
		fmt.Fprintln(stdout, verifyFileUsage)
		return ctlOK
	}
	if err := console.WriteHelp(stdout, name, asJSON); err != nil {
		fmt.Fprintf(stderr, "kioskctl: %v\n", err)
		return ctlUsage
	}
	return ctlOK
}

func envOr(key, def string) string {
	if v := os.Getenv(key); v != "" {
		return v
	}
	return def
}

// sshUser is who the request says runs it; kioskd trusts the socket's peer
// credentials over it, and uses it only to name the person behind sudo.
func sshUser() string {
	for _, k := range []string{"SUDO_USER", "USER", "LOGNAME"} {
		if v := os.Getenv(k); v != "" {
			return v
		}
	}
	if u, err := user.Current(); err == nil {
		return u.Username
	}
	return "unknown"
}

type client struct {
	socket string
	http   *http.Client
}

func newClient(socket string) *client {
	return &client{socket: socket, http: &http.Client{
		// No overall timeout: a collect waits for a customer, then for the
		// technician; Ctrl-C ends it.
		Transport: &http.Transport{
			DialContext: func(ctx context.Context, _, _ string) (net.Conn, error) {
				d := net.Dialer{Timeout: 5 * time.Second}
				return d.DialContext(ctx, "unix", socket)
			},
			DisableKeepAlives: true,
		},
	}}
}

func (c *client) unreachable(err error) error {
	if errors.Is(err, syscall.ENOENT) || errors.Is(err, syscall.ECONNREFUSED) {
		return fmt.Errorf("kioskd is not running, or its control socket is not %s (set --socket or TOLEM_CONTROL_SOCKET): %w", c.socket, err)
	}
	if errors.Is(err, syscall.EACCES) {
		return fmt.Errorf("no permission on %s: log in as a member of the kiosk's group: %w", c.socket, err)
	}
	return err
}

// frame is one line of kioskd's command stream.
type frame struct {
	Out       string  `json:"out,omitempty"`
	Prompt    string  `json:"prompt,omitempty"`
	Echo      bool    `json:"echo,omitempty"`
	Exit      *int    `json:"exit,omitempty"`
	Line      *string `json:"line,omitempty"`
	Interrupt bool    `json:"interrupt,omitempty"`
	EOF       bool    `json:"eof,omitempty"`
}

// command runs args in kioskd and returns its exit code. The command's
// questions are answered from stdin; Ctrl-C is passed on (a second one
// gives up at once).
func (c *client) command(ctx context.Context, args []string, stdin *os.File, stdout io.Writer) (int, error) {
	body, _ := json.Marshal(map[string]any{"args": args, "actor": "ssh:" + sshUser()})
	req, err := http.NewRequestWithContext(ctx, http.MethodPost, "http://kioskd/v1/command", bytes.NewReader(body))
	if err != nil {
		return 0, err
	}
	req.Header.Set("Content-Type", "application/json")
	req.Header.Set("Connection", "Upgrade")
	req.Header.Set("Upgrade", streamProtocol)
	resp, err := c.http.Do(req)
	if err != nil {
		return 0, c.unreachable(err)
	}
	defer resp.Body.Close()
	switch resp.StatusCode {
	case http.StatusSwitchingProtocols:
	case http.StatusOK:
		// A kioskd that answers in one piece.
		var r struct {
			Output string `json:"output"`
			Exit   int    `json:"exit"`
		}
		if err := json.NewDecoder(io.LimitReader(resp.Body, 8<<20)).Decode(&r); err != nil {
			return 0, fmt.Errorf("kioskd's answer: %w", err)
		}
		io.WriteString(stdout, r.Output)
		return r.Exit, nil
	default:
		raw, _ := io.ReadAll(io.LimitReader(resp.Body, 1<<16))
		return 0, fmt.Errorf("kioskd answered %s: %s", resp.Status, strings.TrimSpace(string(raw)))
	}
	rwc, ok := resp.Body.(io.ReadWriteCloser)
	if !ok {
		return 0, errors.New("kioskd's stream cannot be written to")
	}
	return stream(rwc, stdin, stdout)
}

// stream plays kioskd's side of a command to the technician and theirs
// back.
func stream(rwc io.ReadWriteCloser, stdin *os.File, stdout io.Writer) (int, error) {
	enc := json.NewEncoder(rwc)
	frames := make(chan frame)
	readErr := make(chan error, 1)
	go func() {
		dec := json.NewDecoder(rwc)
		for {
			var f frame
			if err := dec.Decode(&f); err != nil {
				readErr <- err
				return
			}
			frames <- f
		}
	}()
	sigs := make(chan os.Signal, 2)
	signal.Notify(sigs, os.Interrupt, syscall.SIGTERM)
	defer signal.Stop(sigs)

	in := newLineReader(stdin)
	var answers <-chan lineResult
	interrupts := 0
	for {
		select {
		case f := <-frames:
			switch {
			case f.Exit != nil:
				return *f.Exit, nil
			case f.Prompt != "":
				io.WriteString(stdout, f.Prompt)
				answers = in.ask(f.Echo)
			default:
				io.WriteString(stdout, f.Out)
			}
		case a := <-answers:
			answers = nil
			in.pending = false
			if a.err != nil {
				// The question stays unanswered: end its line, so what
				// kioskd says next starts on a line of its own.
				io.WriteString(stdout, "\n")
				enc.Encode(frame{EOF: true})
				continue
			}
			if !in.terminal() {
				// Nobody saw it typed: show the answer after its question.
				io.WriteString(stdout, a.line+"\n")
			}
			enc.Encode(frame{Line: &a.line})
		case <-sigs:
			interrupts++
			if interrupts > 1 {
				rwc.Close()
				return ctlInterrupted, nil
			}
			if answers != nil {
				// The read under way answers the next question, if any.
				io.WriteString(stdout, "^C\n")
				answers = nil
			}
			enc.Encode(frame{Interrupt: true})
		case err := <-readErr:
			if interrupts > 0 {
				return ctlInterrupted, nil
			}
			return 0, fmt.Errorf("kioskd ended the command without an exit code: %w", err)
		}
	}
}

type lineResult struct {
	line string
	err  error
}

// lineReader reads the technician's answers in a goroutine of its own, so
// that a Ctrl-C or the end of the command is seen while it waits.
type lineReader struct {
	f   *os.File
	rd  *bufio.Reader
	req chan bool
	res chan lineResult
	// pending is set while a read is under way.
	pending bool
}

func newLineReader(f *os.File) *lineReader {
	return &lineReader{f: f, rd: bufio.NewReader(f)}
}

func (l *lineReader) terminal() bool { return term.IsTerminal(int(l.f.Fd())) }

func (l *lineReader) ask(echo bool) <-chan lineResult {
	if l.req == nil {
		l.req, l.res = make(chan bool), make(chan lineResult, 1)
		go l.loop()
	}
	if !l.pending {
		l.req <- echo
		l.pending = true
	}
	return l.res
}

func (l *lineReader) loop() {
	for echo := range l.req {
		if !echo && term.IsTerminal(int(l.f.Fd())) {
			b, err := term.ReadPassword(int(l.f.Fd()))
			fmt.Fprintln(os.Stdout)
			l.res <- lineResult{string(b), err}
			continue
		}
		s, err := l.rd.ReadString('\n')
		if err != nil && s == "" {
			l.res <- lineResult{err: err}
			continue
		}
		l.res <- lineResult{line: strings.TrimRight(s, "\r\n")}
	}
}

const pinHashUsage = "usage: kioskctl pin-hash   (the PIN is read from the terminal, or from stdin)"

// pinHash reads a PIN twice (without echo on a terminal; from stdin's
// lines otherwise) and prints its bcrypt hash, the pin_hash of a
// technician in the config.
func pinHash(args []string, stdin *os.File, stdout, stderr io.Writer) int {
	if len(args) == 1 && (args[0] == "-h" || args[0] == "--help") {
		fmt.Fprintln(stdout, pinHashUsage)
		return ctlOK
	}
	if len(args) > 0 {
		fmt.Fprintln(stderr, pinHashUsage)
		return ctlUsage
	}
	var pin, again string
	if term.IsTerminal(int(stdin.Fd())) {
		read := func(prompt string) (string, error) {
			fmt.Fprint(stderr, prompt)
			b, err := term.ReadPassword(int(stdin.Fd()))
			fmt.Fprintln(stderr)
			return string(b), err
		}
		var err error
		if pin, err = read("PIN: "); err == nil {
			again, err = read("PIN again: ")
		}
		if err != nil {
			fmt.Fprintf(stderr, "kioskctl: read PIN: %v\n", err)
			return ctlFailed
		}
	} else {
		sc := bufio.NewScanner(stdin)
		if sc.Scan() {
			pin = strings.TrimRight(sc.Text(), "\r")
		}
		again = pin
		if sc.Scan() {
			again = strings.TrimRight(sc.Text(), "\r")
		}
		if err := sc.Err(); err != nil {
			fmt.Fprintf(stderr, "kioskctl: read PIN: %v\n", err)
			return ctlFailed
		}
	}
	if pin != again {
		fmt.Fprintln(stderr, "kioskctl: the two PINs differ; nothing printed")
		return ctlFailed
	}
	h, err := console.HashPIN(pin)
	if err != nil {
		fmt.Fprintf(stderr, "kioskctl: %v\n", err)
		return ctlUsage
	}
	fmt.Fprintln(stdout, h)
	if f, ok := stdout.(*os.File); ok && term.IsTerminal(int(f.Fd())) {
		fmt.Fprintf(stderr, "Put it in console.technicians, quoted: pin_hash: \"%s\"\n", h)
	}
	return ctlOK
}
