// Command acceptorsim runs a CashCode bill validator emulator (CCNET) on a
// pseudo-terminal, for running the kiosk or the driver without the hardware.
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
  busy SECONDS             answer DEVICE BUSY for a while
  unplug | replug          pull the USB-serial adapter out | plug it back
  stacked                  bills the unit put in cassettes, by value
  status                   the unit's state
  help | quit`

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
	repeat := fs.Bool("repeat-unacked", false, "repeat STACKED/RETURNED until the controller ACKs them")
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
	emu, err := ccnettest.Start(ccnettest.EmuOptions{LinkPath: *link, StateFile: *state,
		RepeatUnACKed: *repeat, EscrowLimit: *escrow, Log: log})
	if err != nil {
		return err
	}
	defer emu.Close()
	fmt.Fprintf(stdout, "pty: %s\n", emu.Path())
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
	emu  *ccnettest.Emulator
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
			c.emu.Busy(d)
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
