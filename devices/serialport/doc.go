// Package serialport opens and configures serial lines (USB-serial adapters,
// UARTs and pseudo-terminals alike) for the device drivers.
//
// It is the only package that imports github.com/tarm/serial, so that a change
// of serial library touches one place. Ports are opened 8N1 (or 8E1 with OpenParity), raw, with a read
// timeout: a Read that sees no byte within the timeout returns ErrTimeout,
// which drivers use to pace their own answer timeouts.
//
// A line that went away (a USB-serial adapter pulled out, the far end of a pty
// closed) makes the kernel hang the tty up: reads then return at once with no
// data. Port tells that apart from a timeout by how fast the empty read came
// back, and reports it as ErrHangup, so a driver can reconnect instead of
// polling a dead file forever.
package serialport
