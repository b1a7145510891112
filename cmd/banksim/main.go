// Command banksim is the bank sandbox: the bank's API v1 on loopback, with
// fault knobs, for kioskd --sim, the tests and benchmarks. See package
// tolem/sync/bankapi/banksim.
package main

import (
	"context"
	"errors"
	"flag"
	"fmt"
	"os"
	"os/signal"
	"syscall"

	"tolem/sync/bankapi/banksim"
)

func main() {
	ctx, stop := signal.NotifyContext(context.Background(), os.Interrupt, syscall.SIGTERM)
	defer stop()
	if err := banksim.Run(ctx, os.Args[1:], os.Stdout, os.Stderr); err != nil {
		if errors.Is(err, flag.ErrHelp) {
			os.Exit(0)
		}
		fmt.Fprintln(os.Stderr, "banksim:", err)
		os.Exit(1)
	}
}
