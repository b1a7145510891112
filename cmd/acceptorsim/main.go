// Command acceptorsim runs a bill acceptor emulator on a pseudo-terminal,
// for running the kiosk or a driver without the hardware: a CashCode
// validator speaking CCNET (the default) or, with -protocol id003, a JCM unit
// speaking ID-003.
//
// It prints the pty's path (and the stable link's, with -link); point the
// kiosk's acceptor.port at it. Control commands come on stdin and, with
// -socket, on a unix socket, one per line; "help" lists them.
package main

import (
	"bufio"
	"context"
	"errors"
	"flag"
	"fmt"
	"io"
	"log/slog"
	"net"
	"os"
	"os/signal"
	"slices"
	"strconv"
	"strings"
	"sync"
	"syscall"
	"time"

	"tolem/devices/ccnet/ccnettest"
	"tolem/devices/id003"
	"tolem/devices/id003/id003test"
	"tolem/kiosk"
)

const usage = `commands:
  bill TENGE               insert a genuine bill (e.g. bill 1000)
  fake                     insert something that is not a banknote
  jam | clear              jam the validator's head | free it
  cassette remove|insert|full
                           pull the drop cassette | put an empty one in | fill it
  power [escrow|stacking]  cut the power and restore it; the bill in flight is
                           caught in the head (escrow) or half-way into the
                           cassette (stacking); without a word, where it is now
  corrupt N                damage the next N answers (bad CRC)
  silence SECONDS          stop answering for a while
  unplug | replug          pull the USB-serial adapter out | plug it back
  stacked                  bills the unit put in cassettes, by value
  status                   the unit's state
  help | quit
ccnet only:
  busy SECONDS             answer DEVICE BUSY for a while
id003 only:
  jam stacker              jam the stacker (clear frees it)
  fail CODE | fail clear   report FAILURE with a hex code (e.g. fail A2) | end it
  cheat on|off             report CHEATED
  pause on|off             report PAUSE while a bill is in the unit
  corrupt vend N           damage the next N VEND VALID answers
  drop N                   lose the next N answers
  damage N                 the next N commands arrive damaged`

// emulator is what both protocols' emulators offer the console.
type emulator interface {
	InsertBill(kiosk.Money) error
	InsertFake() error
	Jam()
	ClearJam()
	RemoveCassette()
	InsertCassette()
	FillCassette()
	PowerCycle(kiosk.BillPosition) error
	BillInFlight() kiosk.BillPosition
	CorruptNext(int)
	Silence(time.Duration)
	Unplug()
	Replug() error
	Path() string
	Stacked() map[kiosk.Money]int
	Status() string
	Close() error
}

func main() {
	if err := run(os.Args[1:], os.Stdin, os.Stdout); err != nil {
		fmt.Fprintln(os.Stderr, "acceptorsim:", err)
		os.Exit(1)
	}
}

func run(args []string, stdin io.Reader, stdout io.Writer) error {
	fs := flag.NewFlagSet("acceptorsim", flag.ContinueOnError)
	link := fs.String("link", "", "keep a symlink at `PATH` to the current pty (it survives unplug/replug)")
	state := fs.String("state", "", "keep the unit's bill in flight and cassette in `FILE` across restarts")
	sock := fs.String("socket", "", "also take commands on a unix socket at `PATH`")
	protocol := fs.String("protocol", "ccnet", "the unit: `ccnet` (CashCode) or id003 (JCM)")
	repeat := fs.Bool("repeat-unacked", false, "ccnet: repeat STACKED/RETURNED until the controller ACKs them")
	echo := fs.Bool("echo", false, "id003: the line echoes the controller's bytes")
	badFrame := fs.String("bad-frame", "silent", "id003: answer to a damaged frame: `silent`, error (COMMUNICATION ERROR) or invalid (INVALID COMMAND)")
	vend := fs.Bool("vend-after-power-up", false, "id003: report VEND VALID for the bill found in the stacker at power-up")
	repeatInvalid := fs.Bool("repeat-invalid", false, "id003: answer a repeated STACK or RETURN with INVALID COMMAND")
	comesUpEnabled := fs.Bool("comes-up-enabled", false, "id003: leave INITIALIZE accepting bills")
	escrow := fs.Duration("escrow-limit", 10*time.Second, "how long a bill waits in escrow before the unit returns it")
	verbose := fs.Bool("v", false, "log every command the unit receives")
	fs.Usage = func() {
		fmt.Fprintf(fs.Output(), "usage: acceptorsim [flags]\n\n%s\n\nflags:\n", usage)
		fs.PrintDefaults()
	}
	if err := fs.Parse(args); err != nil {
		if errors.Is(err, flag.ErrHelp) {
			return nil
		}
		return err
	}
	level := slog.LevelInfo
	if *verbose {
		level = slog.LevelDebug
	}
	log := slog.New(slog.NewTextHandler(os.Stderr, &slog.HandlerOptions{Level: level}))
	var emu emulator
	switch *protocol {
	case "ccnet":
		e, err := ccnettest.Start(ccnettest.EmuOptions{LinkPath: *link, StateFile: *state,
			RepeatUnACKed: *repeat, EscrowLimit: *escrow, Log: log})
		if err != nil {
			return err
		}
		emu = e
	case "id003":
		bad := map[string]byte{"silent": 0, "error": id003.StCommError, "invalid": id003.StInvalidCommand}
		b, ok := bad[*badFrame]
		if !ok {
			return fmt.Errorf("-bad-frame %q: use silent, error or invalid", *badFrame)
		}
		e, err := id003test.Start(id003test.EmuOptions{LinkPath: *link, StateFile: *state, EscrowLimit: *escrow,
			Echo: *echo, OnBadFrame: b, VendAfterPowerUp: *vend, RepeatInvalid: *repeatInvalid,
			ComesUpEnabled: *comesUpEnabled, Log: log})
		if err != nil {
			return err
		}
		emu = e
	default:
		return fmt.Errorf("-protocol %q: use ccnet or id003", *protocol)
	}
	defer emu.Close()
	fmt.Fprintf(stdout, "protocol: %s\npty: %s\n", *protocol, emu.Path())
	if *link != "" {
		fmt.Fprintf(stdout, "link: %s\n", *link)
	}

	ctx, stop := signal.NotifyContext(context.Background(), os.Interrupt, syscall.SIGTERM)
	defer stop()
	sim := &console{emu: emu, quit: stop}
	if *sock != "" {
		ln, err := listen(*sock)
		if err != nil {
			return err
		}
		defer os.Remove(*sock)
		defer ln.Close()
		go sim.serve(ln)
		fmt.Fprintf(stdout, "socket: %s\n", *sock)
	}
	go func() {
		sim.converse(stdin, stdout)
		if *sock == "" {
			stop() // stdin was the only way in
		}
	}()
	<-ctx.Done()
	return nil
}

// listen opens the control socket, replacing one a killed run left behind.
func listen(path string) (net.Listener, error) {
	if fi, err := os.Lstat(path); err == nil && fi.Mode()&os.ModeSocket != 0 {
		os.Remove(path)
	}
	ln, err := net.Listen("unix", path)
	if err != nil {
		return nil, fmt.Errorf("control socket: %w", err)
	}
	if err := os.Chmod(path, 0o660); err != nil {
		ln.Close()
		return nil, fmt.Errorf("control socket: %w", err)
	}
	return ln, nil
}

// console executes control commands from any number of sources.
type console struct {
	emu  emulator
	quit func()
	mu   sync.Mutex // one command at a time, whoever sends it
}

func (c *console) serve(ln net.Listener) {
	for {
		conn, err := ln.Accept()
		if err != nil {
			return
		}
		go func() {
			defer conn.Close()
			c.converse(conn, conn)
		}()
	}
}

// converse reads commands from r until EOF or quit, answering on w.
func (c *console) converse(r io.Reader, w io.Writer) {
	sc := bufio.NewScanner(r)
	for sc.Scan() {
		line := strings.TrimSpace(sc.Text())
		if line == "" {
			continue
		}
		c.mu.Lock()
		reply, quit := c.exec(line)
		c.mu.Unlock()
		fmt.Fprintln(w, reply)
		if quit {
			c.quit()
			return
		}
	}
}

// exec runs one command line and returns the reply.
func (c *console) exec(line string) (reply string, quit bool) {
	f := strings.Fields(line)
	cmd, args := f[0], f[1:]
	result := func(err error, ok string) string {
		if err != nil {
			return "error: " + err.Error()
		}
		return ok
	}
	seconds := func() (time.Duration, error) {
		if len(args) != 1 {
			return 0, fmt.Errorf("%s needs SECONDS", cmd)
		}
		s, err := strconv.ParseFloat(args[0], 64)
		if err != nil || s < 0 || s > 3600 {
			return 0, fmt.Errorf("bad number of seconds %q", args[0])
		}
		return time.Duration(s * float64(time.Second)), nil
	}
	switch cmd {
	case "bill":
		if len(args) != 1 {
			return "error: bill needs a value in tenge, e.g. bill 1000", false
		}
		t, err := strconv.ParseInt(args[0], 10, 64)
		if err != nil || t <= 0 {
			return fmt.Sprintf("error: bad value %q", args[0]), false
		}
		return result(c.emu.InsertBill(kiosk.Tenge(t)), "bill inserted: "+kiosk.Tenge(t).String()), false
	case "fake":
		return result(c.emu.InsertFake(), "fake inserted"), false
	case "jam":
		if strings.Join(args, " ") == "stacker" {
			if j, ok := c.emu.(*id003test.Emulator); ok {
				j.JamStacker()
				return "stacker jammed", false
			}
			return "error: this unit has no stacker jam (id003 only)", false
		}
		c.emu.Jam()
		return "validator jammed", false
	case "clear":
		c.emu.ClearJam()
		return "jam cleared", false
	case "cassette":
		switch strings.Join(args, " ") {
		case "remove":
			c.emu.RemoveCassette()
			return "cassette removed", false
		case "insert":
			c.emu.InsertCassette()
			return "empty cassette inserted", false
		case "full":
			c.emu.FillCassette()
			return "cassette full", false
		}
		return "error: cassette remove|insert|full", false
	case "power":
		var at kiosk.BillPosition
		switch strings.Join(args, " ") {
		case "":
			at = c.emu.BillInFlight()
		case "escrow":
			at = kiosk.BillInValidator
		case "stacking":
			at = kiosk.BillInStacker
		default:
			return "error: power [escrow|stacking]", false
		}
		return result(c.emu.PowerCycle(at), "power cycled, bill "+at.String()), false
	case "corrupt":
		if len(args) == 2 && args[0] == "vend" {
			j, ok := c.emu.(*id003test.Emulator)
			n, err := strconv.Atoi(args[1])
			if !ok || err != nil || n < 0 {
				return "error: corrupt vend N (id003 only)", false
			}
			j.CorruptVendValid(n)
			return fmt.Sprintf("next %d VEND VALID answers damaged", n), false
		}
		n, err := strconv.Atoi(strings.Join(args, ""))
		if err != nil || n < 0 {
			return "error: corrupt N", false
		}
		c.emu.CorruptNext(n)
		return fmt.Sprintf("next %d answers damaged", n), false
	case "silence", "busy":
		d, err := seconds()
		if err != nil {
			return "error: " + err.Error(), false
		}
		if cmd == "busy" {
			b, ok := c.emu.(*ccnettest.Emulator)
			if !ok {
				return "error: busy is a CCNET answer (ccnet only)", false
			}
			b.Busy(d)
			return fmt.Sprintf("busy for %v", d), false
		}
		c.emu.Silence(d)
		return fmt.Sprintf("silent for %v", d), false
	case "unplug":
		c.emu.Unplug()
		return "unplugged", false
	case "replug":
		return result(c.emu.Replug(), "plugged in: "+c.emu.Path()), false
	case "stacked":
		return stackedReport(c.emu.Stacked()), false
	case "status":
		return c.emu.Status(), false
	case "fail", "cheat", "pause", "drop", "damage":
		j, ok := c.emu.(*id003test.Emulator)
		if !ok {
			return fmt.Sprintf("error: %s is an ID-003 control (id003 only)", cmd), false
		}
		return id003Control(j, cmd, strings.Join(args, " ")), false
	case "help", "?":
		return usage, false
	case "quit", "exit":
		return "bye", true
	}
	return fmt.Sprintf("error: unknown command %q (try help)", cmd), false
}

func stackedReport(m map[kiosk.Money]int) string {
	if len(m) == 0 {
		return "no bills stacked"
	}
	values := make([]kiosk.Money, 0, len(m))
	for v := range m {
		values = append(values, v)
	}
	slices.Sort(values)
	var b strings.Builder
	var total kiosk.Money
	count := 0
	for _, v := range values {
		fmt.Fprintf(&b, "%10s × %d\n", v, m[v])
		total += v * kiosk.Money(m[v])
		count += m[v]
	}
	fmt.Fprintf(&b, "total %s in %d bills", total, count)
	return b.String()
}

// id003Control runs the controls only a JCM unit has.
func id003Control(e *id003test.Emulator, cmd, arg string) string {
	switch cmd {
	case "fail":
		if arg == "clear" {
			e.ClearFailure()
			return "failure cleared"
		}
		code, err := strconv.ParseUint(strings.TrimPrefix(strings.ToLower(arg), "0x"), 16, 8)
		if err != nil || code == 0 {
			return "error: fail CODE (hex, e.g. A2) | fail clear"
		}
		e.Fail(byte(code))
		return "failure: " + id003.FailureDetail(byte(code))
	case "cheat", "pause":
		if arg != "on" && arg != "off" {
			return fmt.Sprintf("error: %s on|off", cmd)
		}
		if cmd == "cheat" {
			e.Cheat(arg == "on")
		} else {
			e.Pause(arg == "on")
		}
		return cmd + " " + arg
	}
	n, err := strconv.Atoi(arg)
	if err != nil || n < 0 {
		return fmt.Sprintf("error: %s N", cmd)
	}
	if cmd == "drop" {
		e.DropNext(n)
		return fmt.Sprintf("next %d answers lost", n)
	}
	e.DamageCommands(n)
	return fmt.Sprintf("next %d commands arrive damaged", n)
}
