//go:build !unix

package printertest

import (
	"errors"
	"os"
)

func openPTY() (master, slave *os.File, err error) { return nil, nil, errors.ErrUnsupported }
