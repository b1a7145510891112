package main

import (
	"context"
	"io"
)

// startDoors opens the technician's ways in: the control socket for kioskctl
// and, when configured, the serial console.
func startDoors(ctx context.Context, w *wiring) (io.Closer, error) {
	return startControl(w.cfg.Control.Socket, &controlState{flow: w.flow, ledger: w.ledger, acceptor: w.acceptor, log: w.log, started: w.started})
}
