package serialport

import "github.com/tarm/serial"

// flushTarm discards the tty's queues. serial.Port keeps its file to itself, so
// its own Flush is the way to the fd: it is tcflush(TCIOFLUSH), an ioctl through
// golang.org/x/sys/unix. Dropping unsent output as well is harmless, because
// drivers flush only before they write a command.
func flushTarm(p *serial.Port) error { return p.Flush() }
