// Package pty opens pseudo-terminal pairs for the device emulators, so that a
// driver under test talks to its emulator through a real tty and the real
// serialport code, as it would to a device on a USB-serial adapter.
//
// It lives under serialport because every emulator (the bill acceptors'
// and the printer's) needs the same pair, opened the same way; a fix to how
// the master is polled or put in raw mode is made here once.
package pty
