package console

import (
	"bytes"
	"context"
	"os"
	"strings"
	"sync"
	"testing"
	"time"

	"github.com/creack/pty"
	"golang.org/x/crypto/bcrypt"
	"golang.org/x/term"

	"tolem/kiosk/kiosktest"
)

// waitLimit bounds every wait for the console: far above what anything
// takes, so a busy machine never fails a test.
const waitLimit = 20 * time.Second

const (
	techID  = "t01"
	techPIN = "482916"
)

var techHash = sync.OnceValue(func() string {
	h, err := bcrypt.GenerateFromPassword([]byte(techPIN), bcrypt.MinCost)
	if err != nil {
		panic(err)
	}
	return string(h)
})

func testOptions(clock *kiosktest.FakeClock) Options {
	return Options{
		Technicians: []Technician{{ID: techID, PinHash: techHash()}, {ID: "t02", PinHash: techHash()}},
		Clock:       clock,
	}
}

// terminal is the technician's end of a real pty whose other end, raw as a
// serial line is, runs Serve.
type terminal struct {
	t      *testing.T
	master *os.File
	mu     sync.Mutex
	buf    []byte
	seen   int
	notify chan struct{}
	done   chan error
	cancel context.CancelFunc
	closed bool
}

func openTerminal(t *testing.T, c *Console) *terminal {
	t.Helper()
	master, slave, err := pty.Open()
	if err != nil {
		t.Skipf("no pty on this machine: %v", err)
	}
	if _, err := term.MakeRaw(int(slave.Fd())); err != nil {
		t.Fatal(err)
	}
	ctx, cancel := context.WithCancel(context.Background())
	tm := &terminal{t: t, master: master, notify: make(chan struct{}, 1), done: make(chan error, 1), cancel: cancel}
	go func() { tm.done <- c.Serve(ctx, slave) }()
	go tm.readLoop()
	t.Cleanup(func() {
		tm.close()
		slave.Close()
		master.Close()
	})
	return tm
}

// close stops Serve, as a kioskd stopping does.
func (tm *terminal) close() {
	if tm.closed {
		return
	}
	tm.closed = true
	tm.cancel()
	select {
	case <-tm.done:
	case <-time.After(waitLimit):
		tm.t.Error("Serve did not return after its context ended")
	}
}

func (tm *terminal) readLoop() {
	b := make([]byte, 4096)
	for {
		n, err := tm.master.Read(b)
		if n > 0 {
			tm.mu.Lock()
			tm.buf = append(tm.buf, b[:n]...)
			tm.mu.Unlock()
			select {
			case tm.notify <- struct{}{}:
			default:
			}
		}
		if err != nil {
			return
		}
	}
}

// expect waits until the console has written want and returns everything
// it wrote since the last expect, up to and including want.
func (tm *terminal) expect(want string) string {
	tm.t.Helper()
	deadline := time.After(waitLimit)
	for {
		tm.mu.Lock()
		i := bytes.Index(tm.buf[tm.seen:], []byte(want))
		if i >= 0 {
			out := string(tm.buf[tm.seen : tm.seen+i+len(want)])
			tm.seen += i + len(want)
			tm.mu.Unlock()
			return out
		}
		got := string(tm.buf[tm.seen:])
		tm.mu.Unlock()
		select {
		case <-tm.notify:
		case <-deadline:
			tm.t.Fatalf("the console never wrote %q; it wrote:\n%s", want, got)
		}
	}
}

// all returns everything the console wrote so far.
func (tm *terminal) all() string {
	tm.mu.Lock()
	defer tm.mu.Unlock()
	return string(tm.buf)
}

// typ types s on the terminal's keyboard.
func (tm *terminal) typ(s string) {
	tm.t.Helper()
	if _, err := tm.master.Write([]byte(s)); err != nil {
		tm.t.Fatal(err)
	}
}

// login logs techID in and waits for the shell prompt.
func (tm *terminal) login() {
	tm.t.Helper()
	tm.expect(PromptID)
	tm.typ(techID + "\r")
	tm.expect(PromptPIN)
	tm.typ(techPIN + "\r")
	tm.expect("Logged in as " + techID)
	tm.expect(PromptShell)
}

// run types a command and returns its output: what came between the echo of
// the line and the next prompt.
func (tm *terminal) run(line string) string {
	tm.t.Helper()
	tm.typ(line + "\r")
	out := tm.expect(PromptShell)
	out = strings.TrimSuffix(out, PromptShell)
	_, out, _ = strings.Cut(out, "\r\n")
	return out
}
