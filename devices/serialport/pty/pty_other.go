//go:build !unix

package pty

import (
	"errors"
	"os"
)

// Open reports errors.ErrUnsupported: pseudo-terminals are a unix thing.
func Open() (master, slave *os.File, err error) { return nil, nil, errors.ErrUnsupported }
