package main

import (
	"fmt"
	"io"
	"strings"

	"tolem/kiosk/config"
)

// runCheckConfig is `kioskd --check-config FILE`: the config's keys and
// values, then what it names on this machine, each problem once with the
// file named once at the top; and what could not be checked without
// starting the kiosk. Exit 2 (exitBadConfig) when kioskd would refuse it.
// keysOnly leaves the machine out: a package upgrade asks only whether the
// new kioskd takes the config, and a kiosk whose acceptor is away for repair
// must still get the release (kioskd starts without it and waits).
func runCheckConfig(path string, keysOnly bool, stdout, stderr io.Writer) int {
	cfg, probs, err := config.LoadForCheck(path)
	if err != nil {
		// Not read at all: the error says why, and names the file.
		fmt.Fprintf(stderr, "kioskd: %v\n", err)
		return exitBadConfig
	}
	var b strings.Builder
	fmt.Fprintf(&b, "%s:\n", path)
	n := 0
	if len(probs) == 0 {
		fmt.Fprintf(&b, "  %-8s %s\n", config.CheckOK, "keys and values")
	}
	for _, p := range probs {
		n++
		line := ""
		if p.Line > 0 {
			line = fmt.Sprintf("line %d: ", p.Line)
		}
		fmt.Fprintf(&b, "  %-8s %s%s\n", config.CheckProblem, line, p.Msg)
	}
	var found []config.Finding
	switch {
	case keysOnly:
		found = []config.Finding{{Outcome: config.CheckSkipped, Text: "the machine: not looked at (--keys-only)"}}
	case cfg != nil:
		found = cfg.CheckMachine()
	default:
		found = []config.Finding{{Outcome: config.CheckSkipped, Text: "the machine: the file must parse first"}}
	}
	for _, f := range found {
		if f.Outcome == config.CheckProblem {
			n++
		}
		fmt.Fprintf(&b, "  %-8s %s\n", f.Outcome, f.Text)
	}
	if n > 0 {
		fmt.Fprintf(&b, "%s: fix them before this config goes on a kiosk\n", plural(n, "problem"))
		io.WriteString(stderr, b.String())
		return exitBadConfig
	}
	b.WriteString("ok: kioskd can start with this config; what is skipped above is checked when it does\n")
	io.WriteString(stdout, b.String())
	return exitOK
}

func plural(n int, what string) string {
	if n == 1 {
		return "1 " + what
	}
	return fmt.Sprintf("%d %ss", n, what)
}
