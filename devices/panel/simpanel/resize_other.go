//go:build !unix

package simpanel

import "os"

// notifyResize has no signal to watch here; Ctrl-L redraws by hand.
func notifyResize() (<-chan os.Signal, func()) { return nil, func() {} }
