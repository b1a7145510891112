package main

import (
	"bufio"
	"fmt"
	"io"
	"net"
	"path/filepath"
)

const panelUsage = `usage: kioskctl panel [PATH]

Be the customer at a simulated kiosk (kioskd --sim, or panel.kind: sim):
prints every line the kiosk sends on its panel socket (SCREEN {...} after
each change of the screen, ERR ... for a line it could not use) and sends
each line you type:

  KEY 0 … KEY 9, KEY OK, KEY CANCEL, KEY BACK, KEY LANG   a key press
  BILL 1000                                               a 1 000 ₸ note into the slot
  FAKE                                                    a counterfeit into the slot

PATH is the panel socket; without it, panel.sock beside the control socket
(--socket). Lines may be typed or piped in as fast as you like: the kiosk
takes each when a customer could (a key once the screen answered the last
one, a note once the slot draws it in). At Ctrl-D or the end of its input it
ends, once the kiosk has acted on every line and shown what they caused.
`

// runPanel is a line-by-line client of the panel socket, so that a newcomer
// needs no socat to drive the simulated kiosk.
func runPanel(args []string, controlSocket string, stdin io.Reader, stdout, stderr io.Writer) int {
	if len(args) > 1 {
		fmt.Fprint(stderr, panelUsage)
		return ctlUsage
	}
	path := filepath.Join(filepath.Dir(controlSocket), "panel.sock")
	if len(args) == 1 {
		path = args[0]
	}
	conn, err := net.Dial("unix", path)
	if err != nil {
		fmt.Fprintf(stderr, "kioskctl panel: cannot connect to the panel socket %s: %v; is kioskd running with a simulated panel? (kioskd --sim keeps it in its data dir, beside control.sock)\n", path, err)
		return ctlFailed
	}
	defer conn.Close()
	closed := make(chan struct{})
	go func() {
		defer close(closed)
		sc := bufio.NewScanner(conn)
		sc.Buffer(make([]byte, 0, 4096), 1<<20)
		for sc.Scan() {
			fmt.Fprintln(stdout, sc.Text())
		}
	}()
	inputDone := make(chan error, 1)
	go func() {
		_, err := io.Copy(conn, stdin)
		inputDone <- err
	}()
	select {
	case <-closed:
		fmt.Fprintf(stderr, "kioskctl panel: kioskd closed the panel socket %s\n", path)
		return ctlFailed
	case err := <-inputDone:
		if err != nil {
			fmt.Fprintf(stderr, "kioskctl panel: %v\n", err)
			return ctlFailed
		}
	}
	// The end of input is passed on; kioskd acts on every line sent,
	// sends the screens they caused and then hangs up.
	if uc, ok := conn.(*net.UnixConn); ok {
		uc.CloseWrite()
	}
	<-closed
	return ctlOK
}
