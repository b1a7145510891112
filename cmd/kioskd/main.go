// Command kioskd is the tolem kiosk daemon: it reads the bill acceptor, the
// keypad and the display, runs the top-up flow, journals every bill and top-up
// in the SQLite ledger and (with the sync loop) delivers them to the bank.
//
//	kioskd --config /etc/tolem/kiosk.yaml   a kiosk on its hardware
//	kioskd --sim                            the whole kiosk simulated in this terminal
//	kioskd --check-config FILE              validate a config and exit
//	kioskd --check-config FILE --keys-only  validate its keys and values only
//	kioskd -version                         print the version
//
// Exit codes: 0 clean stop; 1 runtime failure (systemd restarts it);
// 2 bad flags or a bad config (systemd must not restart it in a loop:
// RestartPreventExitStatus=2); 3 another kioskd already runs on the same
// data dir (the message names its pid; nothing was touched).
package main

import (
	"context"
	"errors"
	"flag"
	"fmt"
	"io"
	"net"
	"os"
	"os/signal"
	"syscall"

	"tolem/kiosk/config"
)

// version is stamped by the Makefile with -ldflags "-X main.version=…".
var version = "dev"

// Exit codes, the contract with the supervisor.
const (
	exitOK             = 0
	exitFailure        = 1
	exitBadConfig      = 2
	exitAlreadyRunning = 3
)

func main() {
	os.Exit(run(os.Args[1:], os.Stdin, os.Stdout, os.Stderr))
}

func run(args []string, stdin *os.File, stdout, stderr io.Writer) int {
	// First of all: a stop that comes while kioskd is still starting must
	// be a clean stop, not the signal's default of dying on the spot.
	ctx, stop := signal.NotifyContext(context.Background(), os.Interrupt, syscall.SIGTERM)
	defer stop()
	fs := flag.NewFlagSet("kioskd", flag.ContinueOnError)
	fs.SetOutput(stderr)
	var (
		configPath  = fs.String("config", "", "the kiosk's config `file` (YAML)")
		checkConfig = fs.String("check-config", "", "check the config `file` and what it names on this machine (data dir, serial ports, socket dirs), then exit")
		keysOnly    = fs.Bool("keys-only", false, "with --check-config: the keys and values only, not this machine (what a package upgrade checks: an unplugged acceptor must not hold a release back)")
		sim         = fs.Bool("sim", false, "run the whole kiosk simulated on this machine: acceptor on a pty, bank sandbox on loopback, front panel in the terminal")
		dataDir     = fs.String("data-dir", "", "with --sim: the data `dir` (default: the user cache dir's tolem-sim)")
		headless    = fs.Bool("headless", false, "with --sim: no terminal panel, only the panel socket")
		showVersion = fs.Bool("version", false, "print the version and exit")
		simAcc      = fs.String("sim-acceptor", "ccnet", "with --sim: `kind` of simulated acceptor: ccnet (a CCNET validator emulated on a pty, driven by the real driver), id003 (the same with a JCM unit) or inproc")
		ledgerMax   = fs.Int64("ledger-max-bytes", 0, "cap the ledger file at `n` bytes (0: no cap); simulates a full disk in tests")
		metricsAt   *string
	)
	fs.Func("metrics-listen", "serve /metrics at `host:port` instead of metrics.listen (\"\" turns metrics off; port 0 picks a free one)",
		func(s string) error {
			if s != "" {
				if _, _, err := net.SplitHostPort(s); err != nil {
					return fmt.Errorf("want host:port, e.g. 127.0.0.1:9417: %w", err)
				}
			}
			metricsAt = &s
			return nil
		})
	if err := fs.Parse(args); err != nil {
		if errors.Is(err, flag.ErrHelp) {
			return exitOK
		}
		return exitBadConfig
	}
	if *showVersion {
		fmt.Fprintf(stdout, "kioskd %s\n", version)
		return exitOK
	}
	if *checkConfig != "" {
		return runCheckConfig(*checkConfig, *keysOnly, stdout, stderr)
	}

	opts := daemonOptions{
		Stdin:          stdin,
		Stdout:         stdout,
		Stderr:         stderr,
		Headless:       *headless,
		LedgerMaxBytes: *ledgerMax,
		SimAcceptor:    *simAcc,
	}
	var simDir string
	switch {
	case *sim && *configPath != "":
		fmt.Fprintln(stderr, "kioskd: --sim and --config exclude each other")
		return exitBadConfig
	case *sim:
		cfg, dir, err := simConfig(*dataDir, *simAcc)
		if err != nil {
			fmt.Fprintf(stderr, "kioskd: %v\n", err)
			return exitFailure
		}
		opts.Config, opts.Sim, simDir = cfg, true, dir
	case *configPath != "":
		cfg, err := config.Load(*configPath)
		if err != nil {
			fmt.Fprintf(stderr, "kioskd: %v\n", err)
			return exitBadConfig
		}
		opts.Config = cfg
	default:
		fmt.Fprintln(stderr, "kioskd: give --config FILE, or --sim to try the kiosk on this machine")
		fs.Usage()
		return exitBadConfig
	}

	if metricsAt != nil {
		opts.Config.Metrics.Listen = *metricsAt
	}
	// Before anything opens, creates or removes a file in the data dir.
	lock, err := lockDataDir(opts.Config.DataDir)
	var held *lockHeldError
	switch {
	case errors.As(err, &held):
		fmt.Fprintf(stderr, "kioskd: %v\n", err)
		return exitAlreadyRunning
	case err != nil && !errors.Is(err, errLockUnsupported):
		// The ledger in the same dir fails too and keeps the kiosk out of
		// service, where the technician sees why; a restart loop would not.
		fmt.Fprintf(stderr, "kioskd: data dir %s cannot be locked against a second kioskd: %v\n", opts.Config.DataDir, err)
	}
	defer lock.Release()
	if opts.Sim {
		fmt.Fprintf(stderr, "kioskd %s: simulated kiosk, data in %s\n", version, simDir)
		// The terminal panel covers the line above: say it again at the end.
		defer fmt.Fprintf(stderr, "kioskd: the simulated kiosk's data stays in %s (its log: kioskd.log there); kioskd --sim --data-dir %s starts it again\n", simDir, simDir)
	}

	if err := runDaemon(ctx, opts); err != nil {
		fmt.Fprintf(stderr, "kioskd: %v\n", err)
		if errors.As(err, new(configError)) {
			return exitBadConfig
		}
		return exitFailure
	}
	return exitOK
}
