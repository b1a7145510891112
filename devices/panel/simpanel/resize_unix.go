//go:build unix

package simpanel

import (
	"os"
	"os/signal"
	"syscall"
)

// notifyResize reports window size changes, after which the frame is drawn
// anew: terminals leave a resized screen half-wrapped.
func notifyResize() (<-chan os.Signal, func()) {
	ch := make(chan os.Signal, 1)
	signal.Notify(ch, syscall.SIGWINCH)
	return ch, func() { signal.Stop(ch) }
}
