//go:build !linux

package panel

import (
	"errors"
	"log/slog"
)

// Open is only available on Linux, where the GPIO and I²C drivers are.
func Open(cfg GPIOConfig, log *slog.Logger) (*Panel, error) {
	return nil, errors.New("panel: the GPIO front panel needs Linux; use panel.kind: sim on this machine")
}
