//go:build !(linux || darwin || freebsd || netbsd || openbsd || dragonfly)

package main

import "os"

func flockExclusive(*os.File) (bool, error) { return false, errLockUnsupported }
