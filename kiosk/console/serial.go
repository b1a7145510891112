package console

import (
	"context"
	"errors"
	"fmt"
	"io"
	"os"
	"strings"
	"sync"
	"time"

	"tolem/kiosk"
)

// The prompts of SPEC §6.
const (
	PromptID    = "ID: "
	PromptPIN   = "PIN: "
	PromptShell = "tolem> "
)

// Serve runs the serial console on rw, a raw tty (115200 8N1): the login
// prompt, then the technician's commands until logout, again and again, until
// ctx ends or rw fails. It returns ctx's error, or the read or write error
// (a serial line that hung up), after which the caller reopens the port.
//
// A Read that times out (os.ErrDeadlineExceeded, as a serial port's read
// timeout reports) is not a failure. When Serve returns, a Read still under
// way is ended by the caller closing rw; if rw has SetReadDeadline it is
// ended at once.
func (c *Console) Serve(ctx context.Context, rw io.ReadWriter) error {
	s := &serial{
		c:    c,
		w:    &ttyWriter{w: rw},
		in:   make(chan []byte, 16),
		rerr: make(chan error, 1),
		done: make(chan struct{}),
	}
	go s.read(rw)
	defer func() {
		close(s.done)
		if d, ok := rw.(interface{ SetReadDeadline(time.Time) error }); ok {
			_ = d.SetReadDeadline(time.Now())
		}
	}()
	fmt.Fprintf(s.w, "\ntolem technician console\n")
	for {
		user, err := s.login(ctx)
		if err != nil {
			return err
		}
		err = s.shell(ctx, user)
		c.mu.Lock()
		c.sessions--
		c.mu.Unlock()
		if err != nil {
			c.audit(ctx, user, "logout", "line lost: "+err.Error())
			return err
		}
	}
}

// serial is one serial console: a reader goroutine hands the bytes to the
// goroutine running Serve, which alone edits lines; a command runs in a
// goroutine of its own and asks Serve's for the lines it needs.
type serial struct {
	c       *Console
	w       *ttyWriter
	in      chan []byte
	rerr    chan error
	done    chan struct{}
	pending []byte
	lastCR  bool
}

func (s *serial) read(r io.Reader) {
	buf := make([]byte, 256)
	for {
		n, err := r.Read(buf)
		if n > 0 {
			select {
			case s.in <- append([]byte(nil), buf[:n]...):
			case <-s.done:
				return
			}
		}
		if err != nil {
			if errors.Is(err, os.ErrDeadlineExceeded) {
				select {
				case <-s.done:
					return
				default:
					continue
				}
			}
			select {
			case s.rerr <- err:
			case <-s.done:
			}
			return
		}
	}
}

// next returns the next byte typed, or errIdle when idle fires first.
func (s *serial) next(ctx context.Context, idle <-chan time.Time) (byte, error) {
	for len(s.pending) == 0 {
		select {
		case <-ctx.Done():
			return 0, ctx.Err()
		case err := <-s.rerr:
			s.rerr <- err // every later read fails the same way
			return 0, fmt.Errorf("console line: %w", err)
		case <-idle:
			return 0, errIdle
		case b := <-s.in:
			s.pending = b
		}
	}
	b := s.pending[0]
	s.pending = s.pending[1:]
	return b, nil
}

// readLine shows prompt and edits a line until Enter. With idle, nothing
// typed for the idle logout time returns errIdle.
func (s *serial) readLine(ctx context.Context, prompt string, echo, idle bool) (string, error) {
	var t kiosk.Timer
	arm := func() {
		if idle {
			if t != nil {
				t.Stop()
			}
			t = s.c.opts.Clock.NewTimer(s.c.opts.IdleLogout)
		}
	}
	// Armed before the prompt is shown: whoever sees the prompt can count
	// on the idle time running.
	arm()
	defer func() {
		if t != nil {
			t.Stop()
		}
	}()
	if _, err := io.WriteString(s.w, prompt); err != nil {
		return "", fmt.Errorf("console line: %w", err)
	}
	ed := editor{echo: echo}
	for {
		var tc <-chan time.Time
		if t != nil {
			tc = t.C()
		}
		b, err := s.next(ctx, tc)
		if err != nil {
			return "", err
		}
		arm()
		// CR LF from a terminal is one Enter, not an Enter and an empty line.
		if s.lastCR && b == '\n' {
			s.lastCR = false
			continue
		}
		s.lastCR = b == '\r'
		out, ev := ed.feed(b)
		if len(out) > 0 {
			if _, err := s.w.Write(out); err != nil {
				return "", fmt.Errorf("console line: %w", err)
			}
		}
		switch ev {
		case lineEnter:
			return ed.line(), nil
		case lineInterrupt:
			return "", ErrInterrupted
		case lineEOF:
			return "", io.EOF
		}
	}
}

// login asks for an id and a PIN until a technician logs in.
func (s *serial) login(ctx context.Context) (string, error) {
	c := s.c
	for {
		if until := c.lockedUntil(ctx); !until.IsZero() {
			s.say("Console locked until %s after too many wrong PINs.", until.UTC().Format("15:04 UTC"))
		}
		id, err := s.readLine(ctx, PromptID, true, false)
		if err != nil {
			if errors.Is(err, ErrInterrupted) || errors.Is(err, io.EOF) {
				continue
			}
			return "", err
		}
		id = strings.TrimSpace(id)
		if id == "" {
			continue
		}
		if until := c.lockedUntil(ctx); !until.IsZero() {
			c.audit(ctx, clean(id, 32), "login_refused", "console locked until "+until.UTC().Format(time.RFC3339))
			s.say("Console locked for %s more: too many wrong PINs. Try again later.", roundUp(until.Sub(c.now())))
			continue
		}
		pin, err := s.readLine(ctx, PromptPIN, false, true)
		if err != nil {
			if errors.Is(err, ErrInterrupted) || errors.Is(err, io.EOF) || errors.Is(err, errIdle) {
				if errors.Is(err, errIdle) {
					s.say("")
				}
				continue
			}
			return "", err
		}
		user, err := c.login(ctx, id, pin)
		var wrong wrongPINError
		var locked lockedError
		switch {
		case err == nil:
		case errors.As(err, &wrong) && wrong.left == 0:
			s.say("Wrong ID or PIN. Console locked until %s.", wrong.until.UTC().Format("15:04 UTC"))
			continue
		case errors.As(err, &wrong):
			s.say("Wrong ID or PIN. %d more tries before the console locks.", wrong.left)
			continue
		case errors.As(err, &locked):
			s.say("%v.", err)
			continue
		default:
			return "", err
		}
		c.mu.Lock()
		c.sessions++
		c.mu.Unlock()
		s.say("Logged in as %s. Type help for the commands; logout or Ctrl-D ends.", user)
		if at, ok := c.ackAlarm(ctx, user); ok {
			s.say("ALARM cleared: the service door was opened at %s with nobody logged in.", at.UTC().Format("2006-01-02 15:04:05 UTC"))
		}
		return user, nil
	}
}

// shell runs commands for user until logout; nil means logged out.
func (s *serial) shell(ctx context.Context, user string) error {
	c := s.c
	for {
		line, err := s.readLine(ctx, PromptShell, true, true)
		switch {
		case err == nil:
		case errors.Is(err, ErrInterrupted):
			continue
		case errors.Is(err, io.EOF):
			s.say("Logged out.")
			c.audit(ctx, user, "logout", "")
			return nil
		case errors.Is(err, errIdle):
			s.idleOut(ctx, user)
			return nil
		default:
			return err
		}
		args, err := Parse(line)
		if err != nil {
			s.say("error: %v", err)
			continue
		}
		if len(args) == 0 {
			continue
		}
		logout, idled, err := s.run(ctx, user, args)
		switch {
		case err != nil:
			return err
		case idled:
			s.idleOut(ctx, user)
			return nil
		case logout:
			s.say("Logged out.")
			c.audit(ctx, user, "logout", "")
			return nil
		}
	}
}

func (s *serial) idleOut(ctx context.Context, user string) {
	s.say("\nNo input for %s: logged out.", s.c.opts.IdleLogout)
	s.c.audit(ctx, user, "logout", "idle for "+s.c.opts.IdleLogout.String())
}

// lineReq is a command's question to the goroutine that edits lines.
type lineReq struct {
	ctx    context.Context
	prompt string
	echo   bool
	reply  chan lineReply
}

type lineReply struct {
	line string
	err  error
}

// run runs one command while this goroutine keeps reading the line: Ctrl-C
// cancels the command's context, and the command's questions are answered
// here. It reports whether the command was logout and whether the
// technician went idle at one of its questions.
func (s *serial) run(ctx context.Context, user string, args []string) (logout, idled bool, err error) {
	cmdCtx, cancel := context.WithCancel(ctx)
	defer cancel()
	t := &serialTerm{w: s.w, reqs: make(chan lineReq)}
	type result struct {
		code   int
		logout bool
	}
	done := make(chan result, 1)
	go func() {
		code, logout := s.c.exec(cmdCtx, &invocation{actor: user, t: t, serial: true}, args)
		done <- result{code, logout}
	}()
	var lineErr error
	for {
		select {
		case r := <-done:
			if lineErr != nil && !idled {
				return false, false, lineErr
			}
			return r.logout, idled, nil
		case req := <-t.reqs:
			line, err := s.readLine(req.ctx, req.prompt, req.echo, true)
			switch {
			case errors.Is(err, errIdle):
				idled = true
				cancel()
			case err != nil && !errors.Is(err, ErrInterrupted) && !errors.Is(err, io.EOF) && req.ctx.Err() == nil:
				// The line itself failed: stop the command, then Serve.
				lineErr = err
				cancel()
			}
			req.reply <- lineReply{line, err}
		case b := <-s.in:
			// Typed while the command works: Ctrl-C stops it, anything else
			// waits for the next prompt.
			for i, ch := range b {
				if ch == keyCtrlC {
					io.WriteString(s.w, "^C\n")
					cancel()
					b = append(b[:i:i], b[i+1:]...)
					break
				}
			}
			s.pending = append(s.pending, b...)
		case err := <-s.rerr:
			s.rerr <- err
			lineErr = fmt.Errorf("console line: %w", err)
			cancel()
		}
	}
}

// serialTerm is the Term of a command run at the serial console.
type serialTerm struct {
	w    io.Writer
	reqs chan lineReq
}

func (t *serialTerm) Write(p []byte) (int, error) { return t.w.Write(p) }

func (t *serialTerm) ReadLine(ctx context.Context, prompt string, echo bool) (string, error) {
	r := lineReq{ctx: ctx, prompt: prompt, echo: echo, reply: make(chan lineReply, 1)}
	select {
	case t.reqs <- r:
	case <-ctx.Done():
		return "", ErrInterrupted
	}
	rep := <-r.reply
	if rep.err != nil {
		if errors.Is(rep.err, io.EOF) || ctx.Err() != nil || errors.Is(rep.err, errIdle) {
			return "", ErrInterrupted
		}
		return "", rep.err
	}
	return rep.line, nil
}

func (s *serial) say(format string, a ...any) {
	fmt.Fprintf(s.w, format+"\n", a...)
}

// roundUp shows a remaining time in whole minutes, never "0m".
func roundUp(d time.Duration) string {
	m := (d + time.Minute - 1) / time.Minute
	if m < 1 {
		m = 1
	}
	return fmt.Sprintf("%d min", m)
}

// ttyWriter turns "\n" into "\r\n", which a raw tty does not do by itself,
// and keeps the writes of the echo and of a command from interleaving.
type ttyWriter struct {
	mu     sync.Mutex
	w      io.Writer
	lastCR bool
}

func (t *ttyWriter) Write(p []byte) (int, error) {
	t.mu.Lock()
	defer t.mu.Unlock()
	out := make([]byte, 0, len(p)+8)
	for _, b := range p {
		if b == '\n' && !t.lastCR {
			out = append(out, '\r')
		}
		out = append(out, b)
		t.lastCR = b == '\r'
	}
	if _, err := t.w.Write(out); err != nil {
		return 0, err
	}
	return len(p), nil
}
