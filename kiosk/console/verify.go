package console

import (
	"context"
	"errors"
	"fmt"
	"sort"

	"tolem/kiosk"
)

// Verifier is the ledger's tamper check behind `verify`. A Backend offers it
// when its ledger keeps a hash chain; the command says so when it does not.
type Verifier interface {
	// VerifyChain walks the chain, recomputes every hash and checks every
	// chained row against its last entry.
	VerifyChain(ctx context.Context) (kiosk.ChainReport, error)
}

const verifyHelp = `Walks the ledger's hash chain: recomputes the hash of every entry, and checks
every bill, top-up, collection and audit line against the last entry the
chain holds for it. Names the first row changed, removed or added behind the
ledger's back (table, id, the field, both values), and prints the chain head
(entry count and hash) to compare with the heads the bank received in the
heartbeats. Exits 1 when anything is broken. Reads only; takes a few seconds
on a large ledger.`

func runVerify(x *invocation) int {
	if !x.wantArgs(0, 0) {
		return x.badUsage()
	}
	v, ok := x.c.b.(Verifier)
	if !ok {
		return x.fail(errors.New("verify: this kiosk's ledger keeps no hash chain"))
	}
	r, err := v.VerifyChain(x.ctx)
	if err != nil {
		return x.fail(fmt.Errorf("verify: %w", err))
	}
	code := ExitOK
	if !r.OK() {
		code = ExitFailed
	}
	if x.json {
		if r.Breaks == nil {
			r.Breaks = []kiosk.ChainBreak{}
		}
		x.emitJSON(map[string]any{"ok": r.OK(), "head": r.Head, "rows": r.Rows, "breaks": r.Breaks, "more": r.More})
		return code
	}
	tables := make([]string, 0, len(r.Rows))
	for t := range r.Rows {
		tables = append(tables, t)
	}
	sort.Strings(tables)
	checked := ""
	for i, t := range tables {
		if i > 0 {
			checked += ", "
		}
		checked += fmt.Sprintf("%d %s", r.Rows[t], t)
	}
	x.say("chain   %d entries, head %s", r.Head.Count, orDash(r.Head.Head))
	x.say("rows    %s", checked)
	if r.OK() {
		x.say("OK      every entry and every row checks out")
		return code
	}
	x.say("BROKEN  %s", clean(r.Breaks[0].String(), 300))
	for _, b := range r.Breaks[1:] {
		x.say("        %s", clean(b.String(), 300))
	}
	if r.More {
		x.say("        … and more")
	}
	x.say("Keep the file as it is (copy %s away) and tell the bank's security officer.", "the data directory")
	return code
}

func orDash(s string) string {
	if s == "" {
		return "-"
	}
	return s
}
