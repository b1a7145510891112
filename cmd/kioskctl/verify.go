package main

import (
	"context"
	"encoding/json"
	"fmt"
	"io"
	"sort"
	"strings"

	"tolem/kiosk/ledger"
)

// verifyFileUsage is `kioskctl verify --db FILE`: the console's verify run
// here, on a copy of a ledger, without kioskd.
const verifyFileUsage = `usage: kioskctl verify [--db FILE [--integrity]] [--json]
  checks the ledger's hash chain and names the first row changed, removed or
  added behind the ledger's back. Without --db it asks the running kioskd;
  with --db it reads FILE (an auditor's copy of the data directory's
  ledger.db, with its -wal file beside it) read-only, without kioskd.
  --integrity first runs SQLite's integrity_check on FILE: every page and
  index (the full check kioskd leaves to the background on a big ledger;
  seconds to minutes, and safe while kioskd runs).
  Exit 0: intact; 1: broken (or the file cannot be read).`

// verifyDB reports whether args (after "verify") ask for a file, and which.
func verifyDB(args []string) (string, bool) {
	for i, a := range args {
		if v, ok := strings.CutPrefix(a, "--db="); ok {
			return v, true
		}
		if a == "--db" && i+1 < len(args) {
			return args[i+1], true
		}
	}
	return "", false
}

func verifyFile(path string, asJSON, integrity bool, stdout, stderr io.Writer) int {
	if integrity {
		if err := ledger.IntegrityCheckFile(context.Background(), path); err != nil {
			fmt.Fprintf(stderr, "kioskctl: %v\n", err)
			return ctlFailed
		}
		if !asJSON {
			fmt.Fprintln(stdout, "file    integrity_check ok")
		}
	}
	r, err := ledger.VerifyFile(context.Background(), path)
	if err != nil {
		fmt.Fprintf(stderr, "kioskctl: %v\n", err)
		return ctlFailed
	}
	code := ctlOK
	if !r.OK() {
		code = ctlFailed
	}
	if asJSON {
		var breaks any = r.Breaks
		if r.Breaks == nil {
			breaks = []struct{}{}
		}
		b, _ := json.MarshalIndent(map[string]any{"ok": r.OK(), "head": r.Head, "rows": r.Rows, "breaks": breaks, "more": r.More}, "", "  ")
		fmt.Fprintf(stdout, "%s\n", b)
		return code
	}
	tables := make([]string, 0, len(r.Rows))
	for t := range r.Rows {
		tables = append(tables, fmt.Sprintf("%d %s", r.Rows[t], t))
	}
	sort.Slice(tables, func(i, j int) bool { return strings.Fields(tables[i])[1] < strings.Fields(tables[j])[1] })
	head := r.Head.Head
	if head == "" {
		head = "-"
	}
	fmt.Fprintf(stdout, "chain   %d entries, head %s\n", r.Head.Count, head)
	fmt.Fprintf(stdout, "rows    %s\n", strings.Join(tables, ", "))
	if r.OK() {
		fmt.Fprintln(stdout, "OK      every entry and every row checks out")
		return code
	}
	for i, b := range r.Breaks {
		label := "        "
		if i == 0 {
			label = "BROKEN  "
		}
		fmt.Fprintf(stdout, "%s%s\n", label, b)
	}
	if r.More {
		fmt.Fprintln(stdout, "        … and more")
	}
	return code
}
