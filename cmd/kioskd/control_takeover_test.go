package main

import (
	"net"
	"path/filepath"
	"strings"
	"testing"
)

// A second kioskd does not take the control socket from one that still
// answers on it, and does take over a socket its dead owner left behind.
func TestControlSocketNotTakenFromALiveKioskd(t *testing.T) {
	path := filepath.Join(t.TempDir(), "control.sock")
	live, err := net.Listen("unix", path)
	if err != nil {
		t.Skipf("no unix sockets here: %v", err)
	}
	go func() {
		for {
			c, err := live.Accept()
			if err != nil {
				return
			}
			c.Close()
		}
	}()
	if s, err := startControl(path, &control{}); err == nil {
		s.Close()
		t.Fatal("took the control socket from a live owner")
	} else if !strings.Contains(err.Error(), "served by another process") {
		t.Fatalf("error %q does not say the socket is in use", err)
	}
	if c, err := net.Dial("unix", path); err != nil {
		t.Fatalf("the live owner lost its socket: %v", err)
	} else {
		c.Close()
	}

	// The owner dies without removing its socket file.
	live.(*net.UnixListener).SetUnlinkOnClose(false)
	live.Close()
	s, err := startControl(path, &control{})
	if err != nil {
		t.Fatalf("a stale socket was not taken over: %v", err)
	}
	s.Close()
}
