package main

import (
	"bufio"
	"fmt"
	"io"
	"net"
	"path/filepath"
	"time"
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
(--socket). It ends at Ctrl-D or at the end of its input once the kiosk has
been quiet for a second, so a script can pipe its lines in.
`

// panelQuiet is how long kioskctl panel keeps printing after its input
// ended: the screens the last lines caused.
const panelQuiet = time.Second

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
	lines := make(chan struct{}, 1)
	closed := make(chan struct{})
	go func() {
		defer close(closed)
		sc := bufio.NewScanner(conn)
		sc.Buffer(make([]byte, 0, 4096), 1<<20)
		for sc.Scan() {
			fmt.Fprintln(stdout, sc.Text())
			select {
			case lines <- struct{}{}:
			default:
			}
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
	for {
		select {
		case <-closed:
			return ctlOK
		case <-lines:
		case <-time.After(panelQuiet):
			return ctlOK
		}
	}
}
