package console

import (
	"context"
	"encoding/json"
	"errors"
	"fmt"
	"io"
	"slices"
	"strconv"
	"strings"
	"text/tabwriter"

	"tolem/kiosk"
)

// invocation is one command being run: who runs it, through which door,
// with which arguments.
type invocation struct {
	c      *Console
	ctx    context.Context
	actor  string
	t      Term
	serial bool // at the serial console, where logout ends the session
	json   bool
	name   string
	args   []string // after the command name, without --json
	logout bool
}

// command is one entry of the command set.
type command struct {
	name    string
	usage   string
	summary string
	// help is the longer text of `help <command>`.
	help string
	run  func(x *invocation) int
}

// commands is the command set, in the order `help` lists it.
var commands []command

func init() {
	commands = []command{
		{name: "help", usage: "help [command]", summary: "list the commands, or explain one", run: runHelp},
		{name: "status", usage: "status", summary: "service state, acceptor, cassette, queue, bank, version, disk", run: runStatus,
			help: "Shows why the kiosk is or is not taking cash, the acceptor, the cassette's fill\n(warning from 90 %), the top-ups waiting for the bank (alarm after 20 min),\nthe bank's reachability and clock offset, the version, uptime and free disk."},
		{name: "acceptor", usage: "acceptor", summary: "the bill acceptor: model, serial, state, faults, last errors", run: runAcceptor},
		{name: "queue", usage: "queue", summary: "top-ups waiting for the bank, oldest first", run: runQueue},
		{name: "txn", usage: "txn <receipt_no>", summary: "one top-up by its receipt number, with its bills", run: runTxn},
		{name: "reprint", usage: "reprint <receipt_no>", summary: "print a receipt again, marked as a copy", run: runReprint,
			help: "Prints the receipt of a top-up again, with its verification code, marked as a\ncopy (КОПИЯ), and writes it to the audit log with your id."},
		{name: "review", usage: "review", summary: "what needs a look: uncertain and suspense bills, refused top-ups", run: runReview},
		{name: "retry", usage: "retry <receipt_no|id|all>", summary: "send a top-up (or every waiting one) to the bank again now", run: runRetry,
			help: "A top-up in review goes back to the queue. One the bank credited or rejected\ncannot be retried: the bank has decided it."},
		{name: "service", usage: "service [on|off]", summary: "take the kiosk out of service (off) or back in (on)", run: runService,
			help: "service off takes the kiosk out of service after the current customer, and\nkeeps it out across restarts; service on puts it back. Without an argument,\nshows which it is."},
		{name: "reconcile", usage: "reconcile <collection|seal|last> <value:count>...", summary: "settle uncertain bills with a collection's physical count", run: runReconcile,
			help: "The count, in tenge: reconcile last 1000:3 5000:2. Per value, when the count\nshows every uncertain bill in the cassette, each is credited to its customer's\nphone as a follow-up top-up (new receipt number); when it shows none, each is\nrecorded given back. A count that would need a guess, or that the ledger cannot\naccount for, is reported and settles nothing."},
		{name: "collect", usage: "collect [--seal NUMBER --yes] [--count value:count,...]", summary: "encashment: report, swap the cassette, record the seal", run: runCollect,
			help: "Waits for the customer to finish, puts the kiosk in maintenance (acceptor\ndisabled), shows what the cassette holds, asks for the bag or seal number and\na confirmation, records the collection for the bank and starts a new cassette\nperiod, then puts the kiosk back in service. Ctrl-C before the confirmation\nrecords nothing. Over kioskctl without a terminal: --seal NUMBER --yes.\nWith bills a power cut left uncertain, it asks for the physical count\n(--count 1000:3,5000:2), which settles them as reconcile does."},
		{name: "test", usage: "test display|keys|acceptor", summary: "hardware self-tests", run: runTest,
			help: "test display  shows test pages on the display\ntest keys     echoes each key pressed until Ctrl-C or 30 s\ntest acceptor shows the acceptor and enables then disables it (in maintenance)"},
		{name: "log", usage: "log [n]", summary: "the last n lines of the audit log (20)", run: runLog},
		{name: "config", usage: "config", summary: "the running config, secrets as ***", run: runConfig},
		{name: "verify", usage: "verify", summary: "check the ledger's hash chain: name any row changed behind its back", help: verifyHelp, run: runVerify},
		{name: "door", usage: "door", summary: "the service door and its alarm", run: runDoor},
		{name: "logout", usage: "logout", summary: "end the console session (also Ctrl-D)", run: runLogout},
	}
}

func (c *Console) lookup(name string) *command {
	for i := range commands {
		if commands[i].name == name {
			return &commands[i]
		}
	}
	return nil
}

// dispatch runs args[0] with the rest.
func (c *Console) dispatch(x *invocation, args []string) int {
	x.name = args[0]
	for _, a := range args[1:] {
		if a == "--json" || a == "-json" {
			x.json = true
			continue
		}
		x.args = append(x.args, a)
	}
	cmd := c.lookup(x.name)
	if cmd == nil {
		return x.usage(fmt.Errorf("unknown command %q: type help for the list", clean(x.name, 32)))
	}
	return cmd.run(x)
}

// Output helpers.

func (x *invocation) printf(format string, a ...any) {
	fmt.Fprintf(x.t, format, a...)
}

// say prints a line in human output only.
func (x *invocation) say(format string, a ...any) {
	if !x.json {
		fmt.Fprintf(x.t, format+"\n", a...)
	}
}

func (x *invocation) emitJSON(v any) int {
	b, err := json.MarshalIndent(v, "", "  ")
	if err != nil {
		return x.fail(fmt.Errorf("encode JSON: %w", err))
	}
	x.t.Write(append(b, '\n'))
	return ExitOK
}

// fail reports err and returns ExitFailed.
func (x *invocation) fail(err error) int {
	x.report(err)
	return ExitFailed
}

// usage reports a usage error and returns ExitUsage.
func (x *invocation) usage(err error) int {
	x.report(err)
	return ExitUsage
}

func (x *invocation) report(err error) {
	msg := err.Error()
	if errors.Is(err, ErrNoLedger) {
		msg += ": nothing can be read or recorded; see the log (journalctl -u tolem), repair the data directory, restart kioskd"
	}
	if x.json {
		b, _ := json.Marshal(map[string]string{"error": msg})
		x.t.Write(append(b, '\n'))
		return
	}
	fmt.Fprintf(x.t, "error: %s\n", msg)
}

// interrupted reports a command stopped by Ctrl-C.
func (x *invocation) interrupted(what string) int {
	x.report(errors.New(what))
	return ExitInterrupted
}

func (x *invocation) wantArgs(min, max int) bool {
	return len(x.args) >= min && len(x.args) <= max
}

func (x *invocation) badUsage() int {
	cmd := x.c.lookup(x.name)
	return x.usage(fmt.Errorf("usage: %s", cmd.usage))
}

// help

func runHelp(x *invocation) int {
	if !x.wantArgs(0, 1) {
		return x.badUsage()
	}
	name := ""
	if len(x.args) == 1 {
		name = x.args[0]
	}
	if err := writeHelp(x.t, name, x.json, x.c.opts.SimDoor); err != nil {
		return x.usage(err)
	}
	return ExitOK
}

// WriteHelp writes what `help` (name "") or `help name` shows, as text or
// JSON, so that a tool can explain a command without asking kioskd.
func WriteHelp(w io.Writer, name string, asJSON bool) error {
	return writeHelp(w, name, asJSON, false)
}

func writeHelp(w io.Writer, name string, asJSON, simDoor bool) error {
	emit := func(v any) error {
		b, err := json.MarshalIndent(v, "", "  ")
		if err != nil {
			return err
		}
		_, err = w.Write(append(b, '\n'))
		return err
	}
	if name != "" {
		var cmd *command
		for i := range commands {
			if commands[i].name == name {
				cmd = &commands[i]
			}
		}
		if cmd == nil {
			return fmt.Errorf("no command %q: type help for the list", clean(name, 32))
		}
		if asJSON {
			return emit(map[string]string{"name": cmd.name, "usage": cmd.usage, "summary": cmd.summary, "help": cmd.help})
		}
		fmt.Fprintf(w, "%s\n  %s\n", cmd.usage, cmd.summary)
		if cmd.help != "" {
			fmt.Fprintf(w, "\n%s\n", cmd.help)
		}
		fmt.Fprintf(w, "\nEvery command takes --json.\n")
		return nil
	}
	if asJSON {
		type entry struct {
			Name    string `json:"name"`
			Usage   string `json:"usage"`
			Summary string `json:"summary"`
		}
		var out []entry
		for _, cmd := range commands {
			out = append(out, entry{cmd.name, cmd.usage, cmd.summary})
		}
		return emit(map[string]any{"commands": out})
	}
	tw := tabwriter.NewWriter(w, 0, 0, 2, ' ', 0)
	for _, cmd := range commands {
		if cmd.name == "door" && simDoor {
			cmd.usage, cmd.summary = "door [open|close]", "the service door; a simulated kiosk's opens and closes"
		}
		fmt.Fprintf(tw, "  %s\t%s\n", cmd.usage, cmd.summary)
	}
	tw.Flush()
	fmt.Fprintf(w, "Every command takes --json. help <command> explains one.\n")
	return nil
}

// logout

func runLogout(x *invocation) int {
	if !x.wantArgs(0, 0) {
		return x.badUsage()
	}
	if !x.serial {
		if x.json {
			return x.emitJSON(map[string]any{"logged_out": false})
		}
		x.say("kioskctl has no session to end; log out of SSH instead.")
		return ExitOK
	}
	x.logout = true
	if x.json {
		return x.emitJSON(map[string]any{"logged_out": true})
	}
	return ExitOK
}

// config

func runConfig(x *invocation) int {
	if !x.wantArgs(0, 0) {
		return x.badUsage()
	}
	b, err := x.c.b.Config(x.json)
	if err != nil {
		return x.fail(fmt.Errorf("config: %w", err))
	}
	if len(b) > 0 && b[len(b)-1] != '\n' {
		b = append(b, '\n')
	}
	x.t.Write(b)
	return ExitOK
}

// log

const (
	defaultLogLines = 20
	maxLogLines     = 1000
)

func runLog(x *invocation) int {
	if !x.wantArgs(0, 1) {
		return x.badUsage()
	}
	n := defaultLogLines
	if len(x.args) == 1 {
		v, err := strconv.Atoi(x.args[0])
		if err != nil || v < 1 {
			return x.usage(fmt.Errorf("log: %q is not a number of lines (1 to %d)", clean(x.args[0], 16), maxLogLines))
		}
		n = min(v, maxLogLines)
	}
	entries, err := x.c.b.AuditTail(x.ctx, n)
	if err != nil {
		return x.fail(fmt.Errorf("log: %w", err))
	}
	if x.json {
		if entries == nil {
			entries = []kiosk.AuditEntry{}
		}
		return x.emitJSON(map[string]any{"entries": entries})
	}
	if len(entries) == 0 {
		x.say("The audit log is empty.")
		return ExitOK
	}
	tw := tabwriter.NewWriter(x.t, 0, 0, 2, ' ', 0)
	for _, e := range entries {
		fmt.Fprintf(tw, "%s\t%s\t%s\t%s\n", e.At.UTC().Format("2006-01-02 15:04:05"), clean(e.Actor, 32), e.Action, clean(e.Detail, 120))
	}
	tw.Flush()
	return ExitOK
}

// door

func runDoor(x *invocation) int {
	if !x.wantArgs(0, 1) {
		return x.badUsage()
	}
	if len(x.args) == 1 {
		if !x.c.opts.SimDoor {
			return x.usage(errors.New("door: the door is a switch on this kiosk; only a simulated kiosk takes door open|close"))
		}
		switch x.args[0] {
		case "open":
			x.c.DoorChanged(true)
		case "close", "closed":
			x.c.DoorChanged(false)
		default:
			return x.usage(errors.New("usage: door open|close"))
		}
	}
	x.c.mu.Lock()
	open, alarmAt := x.c.doorOpen, x.c.alarmAt
	x.c.mu.Unlock()
	if x.json {
		v := map[string]any{"open": open, "alarm": !alarmAt.IsZero()}
		if !alarmAt.IsZero() {
			v["alarm_at"] = alarmAt.UTC()
		}
		return x.emitJSON(v)
	}
	state := "closed"
	if open {
		state = "open: the kiosk takes no cash until it is closed"
	}
	x.say("door   %s", state)
	if !alarmAt.IsZero() {
		x.say("ALARM  opened at %s with nobody logged in", fmtTime(alarmAt))
	}
	return ExitOK
}

// acceptor

func runAcceptor(x *invocation) int {
	if !x.wantArgs(0, 0) {
		return x.badUsage()
	}
	info := x.c.b.Acceptor()
	if x.json {
		return x.emitJSON(acceptorView(info))
	}
	printAcceptor(x, info)
	return ExitOK
}

// acceptorView makes empty lists [] rather than null in JSON.
func acceptorView(info kiosk.AcceptorInfo) kiosk.AcceptorInfo {
	if info.Denominations == nil {
		info.Denominations = []kiosk.Money{}
	}
	if info.Faults == nil {
		info.Faults = []kiosk.Fault{}
	}
	if info.LastErrors == nil {
		info.LastErrors = []string{}
	}
	return info
}

func printAcceptor(x *invocation, info kiosk.AcceptorInfo) {
	tw := tabwriter.NewWriter(x.t, 0, 0, 2, ' ', 0)
	port := info.Port
	if port == "" {
		port = "-"
	}
	fmt.Fprintf(tw, "protocol\t%s on %s\n", info.Protocol, port)
	if neverAnswered(info) {
		fmt.Fprintf(tw, "model\tunknown: no answer from %s since kioskd started at %s; check its cable and power, and acceptor.port\n", port, fmtTime(x.c.b.System().Started))
	} else {
		fmt.Fprintf(tw, "model\t%s\n", info.Model)
		if info.Firmware != "" {
			fmt.Fprintf(tw, "firmware\t%s\n", info.Firmware)
		}
		fmt.Fprintf(tw, "serial\t%s\n", info.Serial)
	}
	ready := "not ready"
	if info.Ready {
		ready = "ready"
	}
	fmt.Fprintf(tw, "state\t%s (%s)\n", info.State, ready)
	fmt.Fprintf(tw, "currency\t%s\n", info.Currency)
	fmt.Fprintf(tw, "bills\t%s\n", fmtMoneyList(info.Denominations))
	faults := make([]string, len(info.Faults))
	for i, f := range info.Faults {
		faults[i] = string(f)
	}
	fmt.Fprintf(tw, "faults\t%s\n", orNone(faults))
	if len(info.LastErrors) == 0 {
		fmt.Fprintf(tw, "last errors\tnone\n")
	}
	for i, e := range info.LastErrors {
		label := ""
		if i == 0 {
			label = "last errors"
		}
		fmt.Fprintf(tw, "%s\t%s\n", label, clean(e, 100))
	}
	tw.Flush()
}

// service

const keyManualNote = "service off: kept across restarts until service on"

func runService(x *invocation) int {
	if !x.wantArgs(0, 1) {
		return x.badUsage()
	}
	if len(x.args) == 1 {
		var on bool
		switch x.args[0] {
		case "on":
			on = true
		case "off":
		default:
			return x.badUsage()
		}
		if err := x.c.b.SetManual(x.ctx, !on); err != nil {
			return x.fail(fmt.Errorf("service %s: %w", x.args[0], err))
		}
		if on {
			x.say("Manual out-of-service cleared.")
		} else {
			x.say("Kiosk out of service (%s).", keyManualNote)
		}
	}
	svc := x.c.b.Service(x.ctx)
	if len(x.args) == 1 && x.args[0] == "off" && svc.InSession {
		x.say("The customer at the kiosk finishes first.")
	}
	if x.json {
		return x.emitJSON(map[string]any{
			"state": svc.State, "manual": svc.Manual, "reasons": nonNil(svc.Reasons), "maintenance": svc.Maintenance,
		})
	}
	x.say("state    %s", svc.State)
	if svc.Manual {
		x.say("manual   out of service (service on puts it back)")
	} else {
		x.say("manual   no")
	}
	if others := slices.DeleteFunc(slices.Clone(svc.Reasons), func(r string) bool { return r == "manual" }); len(others) > 0 {
		x.say("also     out of service for: %s", strings.Join(others, ", "))
	}
	return ExitOK
}

func nonNil[T any](s []T) []T {
	if s == nil {
		return []T{}
	}
	return s
}
