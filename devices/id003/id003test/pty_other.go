//go:build !unix

package id003test

import (
	"errors"
	"os"
)

func openPTY() (master, slave *os.File, err error) { return nil, nil, errors.ErrUnsupported }
