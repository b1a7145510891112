//go:build !(linux || darwin || freebsd || netbsd || openbsd || dragonfly)

package update

// lockRoot is a no-op where flock(2) is missing; kiosks run Linux.
func lockRoot(string) (func(), error) { return func() {}, nil }
