package simpanel

import (
	"bufio"
	"errors"
	"fmt"
	"io"
	"io/fs"
	"log/slog"
	"net"
	"os"
	"path/filepath"
	"sync"
	"time"

	"tolem/kiosk"
)

const (
	// clientBuffer is how many lines a client may lag behind before it is
	// dropped: far more than a person or a test ever falls behind, few enough
	// that a stuck client costs nothing.
	clientBuffer = 64
	// maxLine bounds a client line; a longer one is answered with ERR.
	maxLine = 1024
	// writeTimeout lets a client that stopped reading free its writer even
	// when its buffer never fills.
	writeTimeout = 10 * time.Second
)

// ErrClosed is returned by Show after Close.
var ErrClosed = errors.New("sim panel is closed")

// Server is the sim panel socket (SPEC §5). It is a kiosk.Display, and the
// keys its clients send arrive on Keys.
type Server struct {
	path string
	log  *slog.Logger
	ln   *net.UnixListener
	keys chan kiosk.Key
	done chan struct{}
	wg   sync.WaitGroup

	mu      sync.Mutex
	clients map[*client]struct{}
	current []byte // the latest SCREEN line; nil before the first Show
	feeder  BillFeeder
	pace    *pacer
	closed  bool
	nextID  int
}

var _ kiosk.Display = (*Server)(nil)

type client struct {
	id   int // for logs: unix socket peers have no address
	conn net.Conn
	out  chan []byte
	gone chan struct{}
	once sync.Once
	// finish asks the writer to send what is queued, then disconnect.
	finish chan struct{}
}

// NewServer listens on the unix socket path (mode 0660). A socket file left
// by a daemon that died is removed first; a live one, or any other file at
// path, is an error rather than something to delete.
func NewServer(path string, log *slog.Logger) (*Server, error) {
	if log == nil {
		log = slog.New(slog.NewTextHandler(io.Discard, nil))
	}
	if err := clearStale(path); err != nil {
		return nil, err
	}
	if err := os.MkdirAll(filepath.Dir(path), 0o750); err != nil {
		return nil, fmt.Errorf("sim panel: create the socket's directory: %w", err)
	}
	ln, err := net.ListenUnix("unix", &net.UnixAddr{Name: path, Net: "unix"})
	if err != nil {
		return nil, fmt.Errorf("sim panel: listen on %s: %w", path, err)
	}
	if err := os.Chmod(path, 0o660); err != nil {
		ln.Close()
		return nil, fmt.Errorf("sim panel: set mode of %s: %w", path, err)
	}
	s := &Server{
		path:    path,
		log:     log,
		ln:      ln,
		keys:    make(chan kiosk.Key, 32),
		done:    make(chan struct{}),
		clients: map[*client]struct{}{},
		pace:    newPacer(),
	}
	s.wg.Add(1)
	go s.accept()
	log.Info("sim panel listening", "socket", path)
	return s, nil
}

func clearStale(path string) error {
	fi, err := os.Lstat(path)
	if errors.Is(err, fs.ErrNotExist) {
		return nil
	}
	if err != nil {
		return fmt.Errorf("sim panel: %w", err)
	}
	if fi.Mode().Type() != fs.ModeSocket {
		return fmt.Errorf("sim panel: %s exists and is not a socket; move it away or set panel.socket to another path", path)
	}
	if c, err := net.DialTimeout("unix", path, time.Second); err == nil {
		c.Close()
		return fmt.Errorf("sim panel: another process is serving %s; stop it (is a second kioskd running?)", path)
	}
	if err := os.Remove(path); err != nil {
		return fmt.Errorf("sim panel: remove stale socket: %w", err)
	}
	return nil
}

// Path is the socket's file name.
func (s *Server) Path() string { return s.path }

// Keys delivers the keys clients send, in order. It is closed by Close.
func (s *Server) Keys() <-chan kiosk.Key { return s.keys }

// SetFeeder names the acceptor that BILL and FAKE lines feed; nil makes them
// answer ERR.
func (s *Server) SetFeeder(f BillFeeder) {
	s.mu.Lock()
	s.feeder = f
	s.mu.Unlock()
}

// Show sends the screen to every client and keeps it for clients that
// connect later. It never waits for a client: one that has fallen
// clientBuffer lines behind is disconnected.
func (s *Server) Show(sc kiosk.Screen) error {
	line := EncodeScreen(sc)
	s.mu.Lock()
	defer s.mu.Unlock()
	if s.closed {
		return ErrClosed
	}
	s.current = line
	s.pace.show(sc.State)
	for c := range s.clients {
		if !c.send(line) {
			s.log.Warn("sim panel client is not reading; disconnecting it", "client", c.id)
			s.dropLocked(c)
		}
	}
	return nil
}

// Close stops listening, disconnects every client, removes the socket file
// and closes Keys.
func (s *Server) Close() error {
	s.mu.Lock()
	if s.closed {
		s.mu.Unlock()
		return nil
	}
	s.closed = true
	err := s.ln.Close()
	for c := range s.clients {
		s.dropLocked(c)
	}
	s.mu.Unlock()
	close(s.done)
	s.wg.Wait()
	close(s.keys)
	if rerr := os.Remove(s.path); rerr != nil && !errors.Is(rerr, fs.ErrNotExist) && err == nil {
		err = rerr
	}
	if err != nil {
		return fmt.Errorf("sim panel: close: %w", err)
	}
	return nil
}

func (s *Server) accept() {
	defer s.wg.Done()
	for {
		conn, err := s.ln.Accept()
		if err != nil {
			select {
			case <-s.done:
				return
			default:
			}
			s.mu.Lock()
			closed := s.closed
			s.mu.Unlock()
			if closed {
				return
			}
			// Out of file descriptors and the like: wait for it to pass
			// instead of spinning.
			s.log.Error("sim panel: accept failed", "err", err)
			select {
			case <-time.After(100 * time.Millisecond):
			case <-s.done:
				return
			}
			continue
		}
		c := &client{conn: conn, out: make(chan []byte, clientBuffer), gone: make(chan struct{}), finish: make(chan struct{})}
		s.mu.Lock()
		if s.closed {
			s.mu.Unlock()
			conn.Close()
			return
		}
		s.nextID++
		c.id = s.nextID
		s.clients[c] = struct{}{}
		if s.current != nil {
			c.send(s.current)
		}
		s.mu.Unlock()
		s.log.Debug("sim panel client connected", "client", c.id)
		s.wg.Add(2)
		go s.writeLoop(c)
		go s.readLoop(c)
	}
}

// send queues a line without waiting; false means the client's buffer is full.
func (c *client) send(line []byte) bool {
	select {
	case c.out <- line:
		return true
	default:
		return false
	}
}

func (c *client) close() {
	c.once.Do(func() {
		close(c.gone)
		c.conn.Close()
	})
}

func (s *Server) drop(c *client) {
	s.mu.Lock()
	s.dropLocked(c)
	s.mu.Unlock()
}

func (s *Server) dropLocked(c *client) {
	delete(s.clients, c)
	c.close()
}

func (s *Server) writeLoop(c *client) {
	defer s.wg.Done()
	write := func(line []byte) bool {
		c.conn.SetWriteDeadline(time.Now().Add(writeTimeout))
		if _, err := c.conn.Write(line); err != nil {
			s.drop(c)
			return false
		}
		return true
	}
	for {
		select {
		case line := <-c.out:
			if !write(line) {
				return
			}
		case <-c.finish:
			for {
				select {
				case line := <-c.out:
					if !write(line) {
						return
					}
				default:
					s.drop(c)
					return
				}
			}
		case <-c.gone:
			return
		}
	}
}

// finishLinger is how long a client that ended its input still gets the
// screens its last lines caused, before the kiosk closes the connection.
const finishLinger = time.Second

func (s *Server) readLoop(c *client) {
	defer s.wg.Done()
	ended := false
	defer func() {
		if !ended {
			s.drop(c)
		}
	}()
	r := bufio.NewReaderSize(c.conn, maxLine)
	for {
		line, err := r.ReadSlice('\n')
		if errors.Is(err, bufio.ErrBufferFull) {
			s.reply(c, fmt.Sprintf("ERR line longer than %d bytes", maxLine))
			// Skip the rest of the overlong line.
			for errors.Is(err, bufio.ErrBufferFull) {
				_, err = r.ReadSlice('\n')
			}
			if err != nil {
				return
			}
			continue
		}
		if len(line) > 0 && !s.handle(c, string(line)) {
			return
		}
		if errors.Is(err, io.EOF) {
			// The client is done typing (a script's input ended) and
			// every line of it has been acted on: it gets what those
			// lines caused, then the kiosk hangs up, which tells it
			// that it may go.
			select {
			case <-time.After(finishLinger):
			case <-c.gone:
			case <-s.done:
			}
			s.mu.Lock()
			delete(s.clients, c)
			s.mu.Unlock()
			ended = true
			close(c.finish)
			return
		}
		if err != nil {
			return
		}
	}
}

// handle acts on one client line; false means stop reading.
func (s *Server) handle(c *client, line string) bool {
	cmd, err := ParseLine(line)
	if errors.Is(err, errBlank) {
		return true
	}
	if err != nil {
		s.reply(c, "ERR "+err.Error())
		return true
	}
	switch cmd.Kind {
	case CmdKey:
		// Lines after a key wait for the screen to answer it, as the
		// customer would look before the next press.
		pressed := s.pace.key(cmd.Key, func() bool {
			select {
			case s.keys <- cmd.Key:
				return true
			case <-s.done:
				return false
			case <-c.gone:
				return false
			}
		}, s.done, c.gone)
		if !pressed {
			return false
		}
	case CmdBill, CmdFake:
		s.mu.Lock()
		f := s.feeder
		s.mu.Unlock()
		if err := feed(f, cmd); err != nil {
			s.reply(c, "ERR "+err.Error())
		}
	}
	return true
}

// feed offers a BILL or FAKE to the acceptor.
func feed(f BillFeeder, cmd Command) error {
	if f == nil {
		return errors.New("no bill acceptor to feed: BILL and FAKE work with the simulated acceptor only")
	}
	if cmd.Kind == CmdFake {
		ff, ok := f.(FakeFeeder)
		if !ok {
			return errors.New("this bill acceptor cannot be fed a fake bill")
		}
		return ff.InsertFake()
	}
	return f.Insert(cmd.Value)
}

func (s *Server) reply(c *client, msg string) {
	s.mu.Lock()
	defer s.mu.Unlock()
	if _, ok := s.clients[c]; !ok {
		return
	}
	if !c.send([]byte(oneLine(msg) + "\n")) {
		s.dropLocked(c)
	}
}

// oneLine keeps an error from a feeder from breaking the line protocol.
func oneLine(s string) string {
	b := []byte(s)
	for i, ch := range b {
		if ch == '\n' || ch == '\r' {
			b[i] = ' '
		}
	}
	return string(b)
}
