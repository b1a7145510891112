package main

import (
	"fmt"
	"strings"
)

// globals are the options kioskctl itself takes. They may stand anywhere on
// the line, before or after the command, as a technician types them
// (`kioskctl status --json`, `kioskctl --json status`).
type globals struct {
	socket  string
	json    bool
	help    bool
	version bool
}

// splitArgs takes kioskctl's own options out of args and returns the
// command with its arguments. After `--` nothing is an option of kioskctl.
// The update and panel commands keep everything after their name: they
// parse their own options (update has a --socket of its own).
func splitArgs(args []string, g *globals) ([]string, error) {
	var rest []string
	for i := 0; i < len(args); i++ {
		a := args[i]
		if len(rest) > 0 && (rest[0] == "update" || rest[0] == "pin-hash") {
			rest = append(rest, a)
			continue
		}
		if a == "--" {
			return append(rest, args[i+1:]...), nil
		}
		name, value, hasValue := strings.Cut(strings.TrimLeft(a, "-"), "=")
		if !strings.HasPrefix(a, "-") || a == "-" {
			rest = append(rest, a)
			continue
		}
		switch name {
		case "socket":
			if !hasValue {
				if i+1 >= len(args) {
					return nil, fmt.Errorf("%s needs the path of kioskd's control socket", a)
				}
				i++
				value = args[i]
			}
			g.socket = value
		case "json":
			g.json = true
		case "h", "help":
			g.help = true
		case "version":
			if len(rest) > 0 {
				rest = append(rest, a)
				continue
			}
			g.version = true
		default:
			if len(rest) == 0 {
				return nil, fmt.Errorf("unknown option %s", a)
			}
			// The command's own option (collect --seal N --yes).
			rest = append(rest, a)
		}
	}
	return rest, nil
}
