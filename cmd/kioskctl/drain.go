package main

// kioskctl drain: wait until no customer is mid-session and hold the kiosk
// in maintenance, for whatever restarts kioskd next (the package's
// postinstall script). kioskctl undrain lets the kiosk take cash again.
//
// Exit codes: 0 drained; 1 kioskd not reachable or another failure; 2 bad
// usage; 9 a customer was still mid-session when the time ran out (the
// request is withdrawn: the kiosk keeps serving).

import (
	"context"
	"errors"
	"flag"
	"fmt"
	"io"
	"os/signal"
	"syscall"
	"time"

	"tolem/kiosk/update"
)

const drainUsage = `usage: kioskctl drain [--timeout 10m]
       kioskctl undrain
  drain waits until no customer is mid-session, then holds the kiosk in
  maintenance until kioskd restarts or undrain; the package's upgrade runs it
  before restarting kioskd. Exit 0 drained, 1 kioskd not reachable, 9 a
  customer was still there at the timeout (the kiosk keeps serving).
`

// exitDrainBusy is update apply's "kiosk busy", so that scripts read one code.
const exitDrainBusy = exitBusy

func runDrain(socket string, args []string, stdout, stderr io.Writer) int {
	fs := flag.NewFlagSet("kioskctl drain", flag.ContinueOnError)
	fs.SetOutput(stderr)
	timeout := fs.Duration("timeout", update.DefaultDrainTimeout, "how long to wait for a customer to finish")
	if err := fs.Parse(args); err != nil {
		if errors.Is(err, flag.ErrHelp) {
			return ctlOK
		}
		return ctlUsage
	}
	if fs.NArg() != 0 || *timeout <= 0 {
		fmt.Fprint(stderr, drainUsage)
		return ctlUsage
	}
	ctx, stop := signal.NotifyContext(context.Background(), syscall.SIGINT, syscall.SIGTERM)
	defer stop()
	d := update.NewSocketDaemon(socket)
	fmt.Fprintf(stdout, "kioskctl: waiting up to %s for any customer to finish…\n", *timeout)
	dctx, cancel := context.WithTimeout(ctx, *timeout)
	defer cancel()
	err := d.Drain(dctx)
	switch {
	case err == nil:
		fmt.Fprintln(stdout, "kioskctl: drained: the kiosk shows maintenance and takes no cash until kioskd restarts or `kioskctl undrain`")
		return ctlOK
	case errors.Is(err, update.ErrNotRunning):
		fmt.Fprintf(stderr, "kioskctl drain: %v\n", err)
		return ctlFailed
	case ctx.Err() != nil:
		// Giving up withdraws the request in kioskd, as update apply's does.
		fmt.Fprintln(stderr, "kioskctl drain: stopped; the kiosk keeps serving")
		return ctlInterrupted
	case dctx.Err() != nil:
		fmt.Fprintf(stderr, "kioskctl drain: a customer was still mid-session after %s; the kiosk keeps serving, try again later\n", *timeout)
		return exitDrainBusy
	}
	fmt.Fprintf(stderr, "kioskctl drain: %v\n", err)
	return ctlFailed
}

func runUndrain(socket string, args []string, stdout, stderr io.Writer) int {
	if len(args) != 0 {
		fmt.Fprintln(stderr, "usage: kioskctl undrain")
		return ctlUsage
	}
	ctx, cancel := context.WithTimeout(context.Background(), 30*time.Second)
	defer cancel()
	if err := update.NewSocketDaemon(socket).Resume(ctx); err != nil {
		fmt.Fprintf(stderr, "kioskctl undrain: %v\n", err)
		return ctlFailed
	}
	fmt.Fprintln(stdout, "kioskctl: the kiosk is back in service")
	return ctlOK
}
