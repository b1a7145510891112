package simpanel

import (
	"bufio"
	"errors"
	"fmt"
	"net"
	"os"
	"path/filepath"
	"strings"
	"sync"
	"testing"
	"time"

	"tolem/kiosk"
)

const wait = 20 * time.Second

// socketPath is short: a unix socket path must fit in about 108 bytes, and
// t.TempDir() names can be longer than that.
func socketPath(t *testing.T) string {
	t.Helper()
	dir, err := os.MkdirTemp("", "sp")
	if err != nil {
		t.Fatal(err)
	}
	t.Cleanup(func() { os.RemoveAll(dir) })
	return filepath.Join(dir, "panel.sock")
}

func newServer(t *testing.T) *Server {
	t.Helper()
	s, err := NewServer(socketPath(t), nil)
	if err != nil {
		t.Fatal(err)
	}
	t.Cleanup(func() { s.Close() })
	return s
}

type testClient struct {
	t    *testing.T
	conn net.Conn
	r    *bufio.Reader
}

func dial(t *testing.T, s *Server) *testClient {
	t.Helper()
	conn, err := net.Dial("unix", s.Path())
	if err != nil {
		t.Fatal(err)
	}
	t.Cleanup(func() { conn.Close() })
	return &testClient{t: t, conn: conn, r: bufio.NewReader(conn)}
}

func (c *testClient) send(line string) {
	c.t.Helper()
	if _, err := fmt.Fprint(c.conn, line+"\n"); err != nil {
		c.t.Fatal(err)
	}
}

func (c *testClient) line() string {
	c.t.Helper()
	c.conn.SetReadDeadline(time.Now().Add(wait))
	l, err := c.r.ReadString('\n')
	if err != nil {
		c.t.Fatalf("read from the panel socket: %v", err)
	}
	return l
}

func (c *testClient) screen() kiosk.Screen {
	c.t.Helper()
	l := c.line()
	s, err := DecodeScreen(l)
	if err != nil {
		c.t.Fatalf("%v (line %q)", err, l)
	}
	return s
}

func screenOf(state kiosk.State, lines ...string) kiosk.Screen {
	s := kiosk.Screen{State: state}
	copy(s.Lines[:], lines)
	return s
}

func nextKey(t *testing.T, s *Server) kiosk.Key {
	t.Helper()
	select {
	case k := <-s.Keys():
		return k
	case <-time.After(wait):
		t.Fatal("no key from the panel")
	}
	return ""
}

func TestConnectGetsCurrentScreen(t *testing.T) {
	s := newServer(t)
	fi, err := os.Stat(s.Path())
	if err != nil {
		t.Fatal(err)
	}
	if fi.Mode().Perm() != 0o660 {
		t.Errorf("socket mode = %v, want 0660", fi.Mode().Perm())
	}
	idle := screenOf(kiosk.StateIdle, "Пополнить кошелёк", "", "нажмите OK")
	s.Show(screenOf(kiosk.StateMaintenance, "старый экран"))
	s.Show(idle)
	c := dial(t, s)
	if got := c.screen(); got.State != idle.State || got.Lines != idle.Lines {
		t.Errorf("on connect got %+v, want %+v", got, idle)
	}
}

func TestEveryClientGetsEveryScreen(t *testing.T) {
	s := newServer(t)
	s.Show(screenOf(kiosk.StateIdle, "a"))
	clients := []*testClient{dial(t, s), dial(t, s), dial(t, s)}
	for _, c := range clients {
		c.screen() // the current one; also proves the client is registered
	}
	shown := []kiosk.Screen{
		screenOf(kiosk.StateEnterPhone, "Телефон нөмірі:", "+7 (7__) ___-__-__"),
		screenOf(kiosk.StateEnterPhone, "Телефон нөмірі:", "+7 (70_) ___-__-__"),
		screenOf(kiosk.StateInsertCash, "Салынды: 1 000 ₸", "Ең көбі: 200 000 ₸"),
	}
	for _, sc := range shown {
		if err := s.Show(sc); err != nil {
			t.Fatal(err)
		}
	}
	for i, c := range clients {
		for _, want := range shown {
			if got := c.screen(); got.State != want.State || got.Lines != want.Lines {
				t.Errorf("client %d got %+v, want %+v", i, got, want)
			}
		}
	}
}

func TestKeysDelivered(t *testing.T) {
	s := newServer(t)
	a, b := dial(t, s), dial(t, s)
	for _, k := range []string{"7", "0", "1"} {
		a.send("KEY " + k)
	}
	b.send("KEY BACK")
	a.send("KEY OK")
	var got []kiosk.Key
	for range 5 {
		got = append(got, nextKey(t, s))
	}
	// Each client's keys keep their order; the two clients interleave freely.
	var fromA []kiosk.Key
	sawBack := false
	for _, k := range got {
		if k == kiosk.KeyBack {
			sawBack = true
		} else {
			fromA = append(fromA, k)
		}
	}
	if !sawBack || fmt.Sprint(fromA) != "[7 0 1 OK]" {
		t.Errorf("keys = %v", got)
	}
}

func TestBadLineGetsErrAndKeepsConnection(t *testing.T) {
	s := newServer(t)
	c := dial(t, s)
	for _, bad := range []string{"KEY PAY", "HELLO", "BILL lots", strings.Repeat("x", 3000)} {
		c.send(bad)
		if l := c.line(); !strings.HasPrefix(l, "ERR ") {
			t.Errorf("after %.20q got %q, want an ERR line", bad, l)
		}
	}
	c.send("")
	c.send("KEY 9")
	if k := nextKey(t, s); k != "9" {
		t.Errorf("key after errors = %q, want 9", k)
	}
}

type feeder struct {
	mu    sync.Mutex
	bills []kiosk.Money
	fakes int
	err   error
}

func (f *feeder) Insert(v kiosk.Money) error {
	f.mu.Lock()
	defer f.mu.Unlock()
	if f.err != nil {
		return f.err
	}
	f.bills = append(f.bills, v)
	return nil
}

func (f *feeder) InsertFake() error {
	f.mu.Lock()
	defer f.mu.Unlock()
	f.fakes++
	return nil
}

func (f *feeder) got() ([]kiosk.Money, int) {
	f.mu.Lock()
	defer f.mu.Unlock()
	return append([]kiosk.Money(nil), f.bills...), f.fakes
}

func TestBillFeedsAcceptor(t *testing.T) {
	s := newServer(t)
	c := dial(t, s)

	c.send("BILL 1000")
	if l := c.line(); !strings.Contains(l, "ERR no bill acceptor") {
		t.Errorf("BILL without a feeder: %q", l)
	}

	f := &feeder{}
	s.SetFeeder(f)
	c.send("BILL 1000")
	c.send("FAKE")
	c.send("BILL 20000")
	c.send("KEY 1") // a marker: lines are handled in order
	nextKey(t, s)
	bills, fakes := f.got()
	if fmt.Sprint(bills) != "[1 000 ₸ 20 000 ₸]" || fakes != 1 {
		t.Errorf("feeder got bills %v, %d fakes", bills, fakes)
	}

	f.mu.Lock()
	f.err = errors.New("jammed\nreally")
	f.mu.Unlock()
	c.send("BILL 500")
	if l := c.line(); l != "ERR jammed really\n" {
		t.Errorf("feeder error reply = %q", l)
	}
}

func TestSlowClientDoesNotBlockShow(t *testing.T) {
	s := newServer(t)
	slow, err := net.Dial("unix", s.Path()) // never reads
	if err != nil {
		t.Fatal(err)
	}
	defer slow.Close()
	fast := dial(t, s)

	// Wait until both are registered, so the slow one really is in the way.
	s.Show(screenOf(kiosk.StateIdle, "0"))
	fast.screen()
	deadline := time.Now().Add(wait)
	for {
		s.mu.Lock()
		n := len(s.clients)
		s.mu.Unlock()
		if n == 2 {
			break
		}
		if time.Now().After(deadline) {
			t.Fatalf("%d clients registered, want 2", n)
		}
		time.Sleep(10 * time.Millisecond)
	}

	// Far more than the socket buffers and the client's queue hold.
	long := strings.Repeat("ж", 2000)
	done := make(chan struct{})
	const shows = 2000
	go func() {
		defer close(done)
		for i := range shows {
			s.Show(screenOf(kiosk.StateInsertCash, fmt.Sprint(i), long))
		}
		s.Show(screenOf(kiosk.StateDone, "last"))
	}()
	// The fast client keeps up (it may be dropped too if it falls behind,
	// which is fine; what matters is that Show never waits).
	go func() {
		for {
			fast.conn.SetReadDeadline(time.Now().Add(wait))
			if _, err := fast.r.ReadString('\n'); err != nil {
				return
			}
		}
	}()
	select {
	case <-done:
	case <-time.After(wait):
		t.Fatal("Show blocked behind a client that does not read")
	}

	// The slow client has been cut off: reading drains what was sent, then EOF.
	slow.SetReadDeadline(time.Now().Add(wait))
	buf := make([]byte, 64<<10)
	for {
		if _, err := slow.Read(buf); err != nil {
			if errors.Is(err, os.ErrDeadlineExceeded) {
				t.Fatal("the slow client was never disconnected")
			}
			break
		}
	}
	// A newcomer still gets the latest screen.
	c := dial(t, s)
	if got := c.screen(); got.Lines[0] != "last" {
		t.Errorf("newcomer got %q, want the last screen", got.Lines[0])
	}
}

func TestCloseRemovesSocketAndClosesKeys(t *testing.T) {
	path := socketPath(t)
	s, err := NewServer(path, nil)
	if err != nil {
		t.Fatal(err)
	}
	c := dial(t, s)
	s.Show(screenOf(kiosk.StateIdle))
	c.screen()
	if err := s.Close(); err != nil {
		t.Fatal(err)
	}
	if _, err := os.Lstat(path); !errors.Is(err, os.ErrNotExist) {
		t.Errorf("socket file still there after Close: %v", err)
	}
	if _, ok := <-s.Keys(); ok {
		t.Error("Keys not closed")
	}
	c.conn.SetReadDeadline(time.Now().Add(wait))
	if _, err := c.r.ReadString('\n'); err == nil {
		t.Error("client still connected after Close")
	}
	if err := s.Show(screenOf(kiosk.StateIdle)); !errors.Is(err, ErrClosed) {
		t.Errorf("Show after Close = %v, want ErrClosed", err)
	}
}

func TestStaleSocketReplacedLiveOneRefused(t *testing.T) {
	path := socketPath(t)
	// A socket file nobody listens on, as a killed daemon leaves it.
	ln, err := net.ListenUnix("unix", &net.UnixAddr{Name: path, Net: "unix"})
	if err != nil {
		t.Fatal(err)
	}
	ln.SetUnlinkOnClose(false)
	ln.Close()
	s, err := NewServer(path, nil)
	if err != nil {
		t.Fatalf("stale socket not replaced: %v", err)
	}
	defer s.Close()
	if _, err := NewServer(path, nil); err == nil {
		t.Fatal("a second server took over a live socket")
	}

	file := filepath.Join(filepath.Dir(path), "not-a-socket")
	os.WriteFile(file, []byte("keep me"), 0o600)
	if _, err := NewServer(file, nil); err == nil {
		t.Fatal("NewServer replaced a regular file")
	}
}
