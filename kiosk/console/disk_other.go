//go:build !linux

package console

import "errors"

// diskSpace is only known on Linux, where the kiosk runs.
func diskSpace(string) (free, total uint64, err error) {
	return 0, 0, errors.New("free disk space is only known on Linux")
}
