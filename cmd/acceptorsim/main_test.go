package main

import (
	"bufio"
	"bytes"
	"context"
	"io"
	"net"
	"path/filepath"
	"strings"
	"sync"
	"testing"
	"time"

	"tolem/devices/ccnet"
	"tolem/devices/id003"
	"tolem/devices/id003/id003test"
	"tolem/kiosk"
)

type syncBuffer struct {
	mu sync.Mutex
	b  bytes.Buffer
}

func (s *syncBuffer) Write(p []byte) (int, error) {
	s.mu.Lock()
	defer s.mu.Unlock()
	return s.b.Write(p)
}

func (s *syncBuffer) String() string {
	s.mu.Lock()
	defer s.mu.Unlock()
	return s.b.String()
}

// The simulator end to end, for each protocol: the driver on its link, a
// customer's bill fed through the control socket, the cassette's count asked
// the same way.
func TestSimulatorDrivesTheDriver(t *testing.T) {
	for _, p := range []struct {
		name string
		open func(link string) (kiosk.Acceptor, error)
	}{
		{"ccnet", func(link string) (kiosk.Acceptor, error) {
			return ccnet.New(link, &ccnet.Opts{PollInterval: 100 * time.Millisecond})
		}},
		{"id003", func(link string) (kiosk.Acceptor, error) {
			return id003.New(link, &id003.Opts{PollInterval: 100 * time.Millisecond})
		}},
	} {
		t.Run(p.name, func(t *testing.T) { testSimulator(t, p.name, p.open) })
	}
}

func testSimulator(t *testing.T, protocol string, open func(string) (kiosk.Acceptor, error)) {
	dir := t.TempDir()
	link, sock := filepath.Join(dir, "tty"), filepath.Join(dir, "sim.sock")
	stdin, closeStdin := io.Pipe()
	defer closeStdin.Close()
	out := &syncBuffer{}
	done := make(chan error, 1)
	go func() { done <- run([]string{"-protocol", protocol, "-link", link, "-socket", sock}, stdin, out) }()
	deadline := time.Now().Add(30 * time.Second)
	for !strings.Contains(out.String(), "socket: ") {
		select {
		case err := <-done:
			t.Skipf("simulator did not start (no pseudo-terminals?): %v", err)
		default:
		}
		if time.Now().After(deadline) {
			t.Fatalf("no socket line in %q", out.String())
		}
		time.Sleep(10 * time.Millisecond)
	}
	if !strings.Contains(out.String(), "pty: /dev/pts/") || !strings.Contains(out.String(), "link: "+link) {
		t.Errorf("start-up lines %q", out.String())
	}

	conn, err := net.Dial("unix", sock)
	if err != nil {
		t.Fatal(err)
	}
	defer conn.Close()
	rd := bufio.NewReader(conn)
	say := func(cmd string) string {
		t.Helper()
		conn.SetDeadline(time.Now().Add(30 * time.Second))
		if _, err := conn.Write([]byte(cmd + "\n")); err != nil {
			t.Fatal(err)
		}
		line, err := rd.ReadString('\n')
		if err != nil {
			t.Fatalf("%s: %v", cmd, err)
		}
		return strings.TrimSpace(line)
	}

	dev, err := open(link)
	if err != nil {
		t.Fatal(err)
	}
	defer dev.Close()
	next := func(kind kiosk.AcceptorEventKind) kiosk.AcceptorEvent {
		t.Helper()
		timeout := time.After(30 * time.Second)
		for {
			select {
			case e := <-dev.Events():
				if e.Kind == kind {
					return e
				}
			case <-timeout:
				t.Fatalf("no %s event", kind)
			}
		}
	}
	next(kiosk.EventReady)
	if got := say("bill 1000"); !strings.HasPrefix(got, "error: ") {
		t.Errorf("bill into a disabled unit: %q", got)
	}
	dev.Enable(context.Background(), []kiosk.Money{kiosk.Tenge(1000)})
	for strings.HasPrefix(say("bill 1000"), "error: ") {
		time.Sleep(20 * time.Millisecond)
	}
	if e := next(kiosk.EventEscrow); e.Value != kiosk.Tenge(1000) {
		t.Errorf("escrow %s", e.Value)
	}
	dev.Stack(context.Background())
	next(kiosk.EventStacked)
	if got := say("stacked"); !strings.Contains(got, "1 000 ₸ × 1") {
		t.Errorf("stacked: %q", got)
	}
	if total, _ := rd.ReadString('\n'); !strings.HasPrefix(total, "total 1 000 ₸ in 1 bills") {
		t.Errorf("stacked total: %q", total)
	}
	if got := say("bogus"); !strings.Contains(got, "unknown command") {
		t.Errorf("bogus: %q", got)
	}
	if got := say("cassette full"); got != "cassette full" {
		t.Errorf("cassette full: %q", got)
	}
	if e := next(kiosk.EventFault); e.Fault != kiosk.FaultCassetteFull {
		t.Errorf("fault %s", e.Fault)
	}
	if got := say("quit"); got != "bye" {
		t.Errorf("quit: %q", got)
	}
	select {
	case err := <-done:
		if err != nil {
			t.Fatal(err)
		}
	case <-time.After(30 * time.Second):
		t.Fatal("quit did not stop the simulator")
	}
}

func TestCommandErrors(t *testing.T) {
	c := &console{}
	for _, line := range []string{"bill", "bill x", "bill -5", "cassette", "power sideways", "corrupt x", "silence", "busy -1",
		"busy 1", "fail A2", "cheat on", "drop 1", "corrupt vend 1", "jam stacker"} {
		if got, _ := c.exec(line); !strings.HasPrefix(got, "error: ") {
			t.Errorf("%q answered %q, want an error", line, got)
		}
	}
	j := &console{emu: &id003test.Emulator{}}
	for _, line := range []string{"fail", "fail zz", "cheat maybe", "pause", "drop x", "damage -1"} {
		if got, _ := j.exec(line); !strings.HasPrefix(got, "error: ") {
			t.Errorf("id003: %q answered %q, want an error", line, got)
		}
	}
	if got, _ := c.exec("help"); !strings.Contains(got, "cassette remove|insert|full") {
		t.Errorf("help: %q", got)
	}
}
