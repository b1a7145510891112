package console

import (
	"context"
	"errors"
	"io"
	"log/slog"
	"strconv"
	"strings"
	"sync"
	"time"
	"unicode"

	"tolem/kiosk"
)

// Technician is one person who may log in at the serial console.
type Technician struct {
	ID string
	// PinHash is a bcrypt ($2a$, $2b$) or argon2id PHC hash of the PIN.
	PinHash string
}

// Options configure a Console. Zero fields take the defaults of SPEC §6.
type Options struct {
	Technicians []Technician
	// IdleLogout logs a technician out after this long without a key
	// (10 min).
	IdleLogout time.Duration
	// LockoutAfter wrong PINs in a row lock the console for LockoutFor
	// (5, 30 min).
	LockoutAfter int
	LockoutFor   time.Duration
	// AlarmAfter is how long a top-up may wait unsent or pending before the
	// status shows an alarm (20 min).
	AlarmAfter time.Duration
	// KeyTestFor ends `test keys` by itself (30 s).
	KeyTestFor time.Duration
	// SimDoor adds `door open|close`, which stands in for the service-door
	// switch of a simulated kiosk.
	SimDoor bool
	Clock   kiosk.Clock
	Log     *slog.Logger
}

// Defaults of Options.
const (
	DefaultIdleLogout   = 10 * time.Minute
	DefaultLockoutAfter = 5
	DefaultLockoutFor   = 30 * time.Minute
	DefaultAlarmAfter   = 20 * time.Minute
	DefaultKeyTestFor   = 30 * time.Second
)

// Exit codes of a command, as kioskctl passes them on.
const (
	ExitOK          = 0
	ExitFailed      = 1
	ExitUsage       = 2
	ExitInterrupted = 130
)

// Errors of a Term's ReadLine.
var (
	// ErrInterrupted: the technician pressed Ctrl-C.
	ErrInterrupted = errors.New("interrupted")
	// ErrNotInteractive: nobody can answer a question (a plain request on
	// the control socket); the command needs its answers as options.
	ErrNotInteractive = errors.New("this command asks questions: run it from a terminal, or give the answers as options")
	// errIdle: nothing was typed for the idle logout time.
	errIdle = errors.New("idle")
)

// Term is the technician's side of a running command: its output, and the
// answers to the questions a command asks (collect's seal number).
type Term interface {
	io.Writer
	// ReadLine shows prompt and returns the line typed, without its end.
	// echo false hides what is typed. It returns ErrInterrupted when the
	// technician presses Ctrl-C, ErrNotInteractive where nobody can answer.
	ReadLine(ctx context.Context, prompt string, echo bool) (string, error)
}

// Output is a Term that writes to w and cannot ask anything: what a plain
// request on the control socket gets.
func Output(w io.Writer) Term { return outputTerm{w} }

type outputTerm struct{ io.Writer }

func (outputTerm) ReadLine(context.Context, string, bool) (string, error) {
	return "", ErrNotInteractive
}

// Console is the command set with its login and door logic. It is safe for
// use from several goroutines: the serial console and any number of
// kioskctl requests run commands at once.
type Console struct {
	b    Backend
	opts Options
	log  *slog.Logger

	mu sync.Mutex
	// sessions counts technicians logged in at the serial console.
	sessions int
	// lastRemote is when a kioskctl command last ran: a technician on SSH
	// counts as present for IdleLogout after it.
	lastRemote time.Time
	lock       lockState
	doorOpen   bool
	alarmAt    time.Time // when the door alarm was raised; zero when none
}

// New makes the console over b.
func New(b Backend, opts Options) *Console {
	if opts.IdleLogout <= 0 {
		opts.IdleLogout = DefaultIdleLogout
	}
	if opts.LockoutAfter <= 0 {
		opts.LockoutAfter = DefaultLockoutAfter
	}
	if opts.LockoutFor <= 0 {
		opts.LockoutFor = DefaultLockoutFor
	}
	if opts.AlarmAfter <= 0 {
		opts.AlarmAfter = DefaultAlarmAfter
	}
	if opts.KeyTestFor <= 0 {
		opts.KeyTestFor = DefaultKeyTestFor
	}
	if opts.Clock == nil {
		opts.Clock = kiosk.SystemClock{}
	}
	log := opts.Log
	if log == nil {
		log = slog.New(slog.DiscardHandler)
	}
	return &Console{b: b, opts: opts, log: log}
}

func (c *Console) now() time.Time { return c.opts.Clock.Now() }

// Exec runs one command for a technician who came in over the control
// socket (actor "ssh:<user>") and returns its exit code. The command's
// output, and its questions, go through t; ending ctx aborts it as Ctrl-C
// does.
func (c *Console) Exec(ctx context.Context, actor string, args []string, t Term) int {
	c.mu.Lock()
	c.lastRemote = c.now()
	c.mu.Unlock()
	c.ackAlarm(ctx, actor)
	code, _ := c.exec(ctx, &invocation{actor: actor, t: t}, args)
	return code
}

// exec runs args and audits it; it reports whether the command was logout.
func (c *Console) exec(ctx context.Context, x *invocation, args []string) (int, bool) {
	if len(args) == 0 {
		return ExitOK, false
	}
	x.ctx = ctx
	x.c = c
	code := c.dispatch(x, args)
	detail := auditLine(args)
	if code != ExitOK {
		detail += " (exit " + strconv.Itoa(code) + ")"
	}
	c.audit(ctx, x.actor, "command", detail)
	return code, x.logout
}

// audit writes to the audit table; a failure is logged, never shown as the
// command's failure (the ledger's own state shows in `status`).
func (c *Console) audit(ctx context.Context, actor, action, detail string) {
	// A command cut by Ctrl-C still gets its line.
	ctx = context.WithoutCancel(ctx)
	err := c.b.Audit(ctx, kiosk.AuditEntry{At: c.now(), Actor: actor, Action: action, Detail: detail})
	if err != nil {
		c.log.Warn("console: audit line not recorded", "actor", actor, "action", action, "err", err)
	}
}

// auditLine is the command as typed, bounded and with control characters
// dropped, so that the audit table stays one readable line per command.
func auditLine(args []string) string {
	s := strings.Join(args, " ")
	return clean(s, 200)
}

// clean keeps the printable runes of s, at most n of them.
func clean(s string, n int) string {
	var b strings.Builder
	i := 0
	for _, r := range s {
		if i >= n {
			b.WriteString("…")
			break
		}
		if !unicode.IsPrint(r) {
			r = '?'
		}
		b.WriteRune(r)
		i++
	}
	return b.String()
}

// present reports whether a technician is there: logged in at the serial
// console, or active over SSH within the idle logout time.
func (c *Console) present() bool {
	c.mu.Lock()
	defer c.mu.Unlock()
	if c.sessions > 0 {
		return true
	}
	return !c.lastRemote.IsZero() && c.now().Sub(c.lastRemote) < c.opts.IdleLogout
}

// DoorChanged is told each change of the service-door switch. Open or
// closed, the flow is told (no cash is taken while the door is open). A door
// opened with no technician present raises the alarm: a log line, an audit
// line and the heartbeat's flag, which stays until a technician logs in.
func (c *Console) DoorChanged(open bool) {
	ctx := context.Background()
	c.b.SetDoorOpen(open)
	c.mu.Lock()
	changed := c.doorOpen != open
	c.doorOpen = open
	c.mu.Unlock()
	if !changed {
		return
	}
	if !open {
		c.log.Info("service door closed")
		c.audit(ctx, "system", "door_closed", "")
		return
	}
	if c.present() {
		c.log.Info("service door opened by a technician")
		c.audit(ctx, "system", "door_open", "technician present")
		return
	}
	c.mu.Lock()
	c.alarmAt = c.now()
	c.mu.Unlock()
	c.b.SetDoorAlarm(true)
	c.log.Error("ALARM: service door opened with no technician logged in; the kiosk takes no cash until it is closed")
	c.audit(ctx, "system", "door_alarm", "service door opened with no technician logged in")
}

// DoorAlarm reports whether the door alarm stands, and since when.
func (c *Console) DoorAlarm() (time.Time, bool) {
	c.mu.Lock()
	defer c.mu.Unlock()
	return c.alarmAt, !c.alarmAt.IsZero()
}

// ackAlarm clears the door alarm once a technician has come in.
func (c *Console) ackAlarm(ctx context.Context, actor string) (time.Time, bool) {
	c.mu.Lock()
	at := c.alarmAt
	c.alarmAt = time.Time{}
	c.mu.Unlock()
	if at.IsZero() {
		return at, false
	}
	c.b.SetDoorAlarm(false)
	c.log.Info("door alarm acknowledged", "technician", actor)
	c.audit(ctx, actor, "door_alarm_ack", "alarm of "+at.UTC().Format(time.RFC3339))
	return at, true
}
