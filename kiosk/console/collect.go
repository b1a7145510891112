package console

import (
	"context"
	"errors"
	"fmt"
	"io"
	"strings"
	"sync"
	"text/tabwriter"
	"unicode"

	"tolem/kiosk"
)

const maxSealLength = 64

// collect: the encashment.

func runCollect(x *invocation) int {
	seal, yes := "", false
	var counted []kiosk.BillCount
	countGiven := false
	for i := 0; i < len(x.args); i++ {
		a := x.args[i]
		switch {
		case a == "--yes" || a == "-y":
			yes = true
		case a == "--count" && i+1 < len(x.args), strings.HasPrefix(a, "--count="):
			v := strings.TrimPrefix(a, "--count=")
			if a == "--count" {
				i++
				v = x.args[i]
			}
			var err error
			if counted, err = kiosk.ParseBillCounts(v); err != nil {
				return x.usage(err)
			}
			countGiven = true
		case a == "--seal" && i+1 < len(x.args):
			i++
			seal = x.args[i]
		case strings.HasPrefix(a, "--seal="):
			seal = strings.TrimPrefix(a, "--seal=")
		default:
			return x.badUsage()
		}
	}
	if seal != "" {
		var err error
		if seal, err = checkSeal(seal); err != nil {
			return x.usage(err)
		}
	}
	ctx := x.ctx
	// Without a ledger nothing could be recorded: say so before taking the
	// kiosk out of service for nothing.
	if _, err := x.c.b.Cassette(ctx); err != nil {
		return x.fail(fmt.Errorf("collect: %w", err))
	}
	ended, code := x.enterMaintenance("collect")
	if ended == nil {
		return code
	}
	defer ended()

	cas, err := x.c.b.Cassette(ctx)
	if err != nil {
		return x.fail(fmt.Errorf("collect: %w", err))
	}
	if !x.json {
		printPeriod(x, cas)
	}
	if seal == "" {
		x.say("Take the cassette out and put an empty one in.")
		for seal == "" {
			line, err := x.t.ReadLine(ctx, "Bag or seal number: ", true)
			switch {
			case errors.Is(err, ErrNotInteractive):
				return x.usage(errors.New("collect asks for the bag or seal number: give --seal NUMBER --yes, or run it from a terminal"))
			case errors.Is(err, io.EOF):
				return x.fail(errNoAnswer)
			case err != nil:
				return x.interrupted("collect cancelled: nothing was recorded")
			}
			if seal, err = checkSeal(line); err != nil {
				x.say("%v", err)
			}
		}
	}
	if !countGiven && !yes && cas.Uncertain > 0 {
		// The physical count settles the bills a power cut left uncertain;
		// it may also come later from the count centre (reconcile).
		x.say("%s may or may not be in the cassette: count the bills to settle them.", plural(cas.Uncertain, "uncertain bill"))
		for !countGiven {
			line, err := x.t.ReadLine(ctx, "Physical count (value:count, e.g. 1000:3,5000:2), or Enter to count later: ", true)
			switch {
			case errors.Is(err, ErrNotInteractive), errors.Is(err, io.EOF):
				countGiven = true // later, with reconcile
			case err != nil:
				return x.interrupted("collect cancelled: nothing was recorded")
			case strings.TrimSpace(line) == "":
				countGiven = true
			default:
				if counted, err = kiosk.ParseBillCounts(line); err != nil {
					x.say("%v", err)
					continue
				}
				countGiven = true
			}
		}
	}
	if !yes {
		q := fmt.Sprintf("Record the collection of %s, %s, seal %s? [y/N] ", plural(cas.Count, "bill"), cas.Amount, seal)
		ans, err := x.t.ReadLine(ctx, q, true)
		switch {
		case errors.Is(err, ErrNotInteractive):
			return x.usage(errors.New("collect asks for a confirmation: add --yes, or run it from a terminal"))
		case errors.Is(err, io.EOF):
			return x.fail(errNoAnswer)
		case err != nil:
			return x.interrupted("collect cancelled: nothing was recorded")
		}
		if a := strings.ToLower(strings.TrimSpace(ans)); a != "y" && a != "yes" {
			x.report(errors.New("collect cancelled: nothing was recorded; run collect again when ready"))
			return ExitFailed
		}
	}
	// Confirmed: a Ctrl-C from here on must not cut the write in two (it is
	// one transaction anyway, but the technician should see its outcome).
	col, err := x.c.b.CloseCollection(context.WithoutCancel(ctx), seal)
	if err != nil {
		return x.fail(fmt.Errorf("the collection was not recorded: %w; run collect again", err))
	}
	x.c.audit(ctx, x.actor, "collect", fmt.Sprintf("seal %s: %d bills, %s, collection %s", clean(seal, maxSealLength), col.Period.Count, col.Period.Amount, col.ID))
	x.c.log.Info("collection recorded", "technician", x.actor, "seal", seal, "bills", col.Period.Count, "amount", col.Period.Amount.String(), "collection", col.ID)
	var rec *Reconciliation
	if len(counted) > 0 {
		r, err := x.c.b.Reconcile(context.WithoutCancel(ctx), col.ID, counted, x.actor)
		if err != nil {
			x.report(fmt.Errorf("the collection is recorded, but the count was not: %w; run reconcile %s %s", err, col.ID, kiosk.FormatBillCounts(counted)))
		} else {
			rec = &r
		}
	}
	if x.json {
		p := col.Period
		p.Bills = nonNil(p.Bills)
		out := map[string]any{"recorded": true, "collection": map[string]any{
			"id": col.ID, "seal": col.Seal, "closed_at": col.ClosedAt.UTC(), "period": p,
		}}
		if rec != nil {
			out["reconciliation"] = rec
		}
		return x.emitJSON(out)
	}
	x.say("Collection recorded: %s, %s, seal %s.", plural(col.Period.Count, "bill"), col.Period.Amount, col.Seal)
	x.say("Collection id %s is queued for the bank; a new cassette period has started.", col.ID)
	if rec != nil {
		printReconciliation(x, *rec)
	}
	return ExitOK
}

// reconcile: the physical count of a collection, after the fact.

func runReconcile(x *invocation) int {
	if len(x.args) < 2 {
		return x.badUsage()
	}
	ref := x.args[0]
	counted, err := kiosk.ParseBillCounts(strings.Join(x.args[1:], ","))
	if err != nil {
		return x.usage(err)
	}
	r, err := x.c.b.Reconcile(x.ctx, ref, counted, x.actor)
	if err != nil {
		return x.fail(fmt.Errorf("reconcile: %w", err))
	}
	x.c.log.Info("collection reconciled", "technician", x.actor, "collection", r.Collection,
		"stacked", len(r.Stacked), "returned", len(r.Returned), "unmatched", len(r.Unmatched))
	if x.json {
		r.Stacked, r.Returned, r.Unmatched = nonNil(r.Stacked), nonNil(r.Returned), nonNil(r.Unmatched)
		r.TopUps = nonNil(r.TopUps)
		return x.emitJSON(r)
	}
	printReconciliation(x, r)
	if len(r.Unmatched) > 0 {
		return ExitFailed
	}
	return ExitOK
}

func printReconciliation(x *invocation, r Reconciliation) {
	x.say("Count of collection %s: %s (the ledger had %s).", r.Collection, kiosk.FormatBillCounts(r.Counted), kiosk.FormatBillCounts(r.Recorded))
	if len(r.Stacked)+len(r.Returned) == 0 && len(r.Unmatched) == 0 {
		x.say("No uncertain bill to settle: the count matches.")
	}
	if n := len(r.Stacked); n > 0 {
		x.say("%s found in the cassette:", plural(n, "uncertain bill"))
		for _, t := range r.TopUps {
			x.say("  receipt %d: %s to %s (follow-up top-up, queued for the bank)", t.ReceiptNo, t.Amount, kiosk.MaskAccount(t.Payee()))
		}
	}
	if n := len(r.Returned); n > 0 {
		x.say("%s not in the cassette: recorded as given back.", plural(n, "uncertain bill"))
	}
	for _, u := range r.Unmatched {
		x.say("NOT SETTLED: %s", u)
	}
	if len(r.Unmatched) > 0 {
		x.say("Nothing was guessed: check the journal (txn, log) and count again, then run reconcile.")
	}
}

// errNoAnswer: the input ended (Ctrl-D, or a script's stdin) before the
// question was answered; nothing was pressed to stop it, so it is a failure,
// not an interruption.
var errNoAnswer = errors.New("collect cancelled: the input ended before an answer; nothing was recorded")

// checkSeal trims a typed seal number and refuses what cannot be one.
func checkSeal(s string) (string, error) {
	s = strings.TrimSpace(s)
	switch {
	case s == "":
		return "", errors.New("type the bag or seal number (Ctrl-C cancels)")
	case len([]rune(s)) > maxSealLength:
		return "", fmt.Errorf("a seal number has at most %d characters", maxSealLength)
	}
	for _, r := range s {
		if !unicode.IsPrint(r) {
			return "", errors.New("a seal number has printable characters only")
		}
	}
	return s, nil
}

// enterMaintenance waits for the customer, if any, and puts the kiosk in
// maintenance for what. It returns the function that ends maintenance (a
// no-op when the kiosk was already in maintenance, so that the drain of an
// update is not lifted under it), or nil and the exit code.
func (x *invocation) enterMaintenance(what string) (func(), int) {
	svc := x.c.b.Service(x.ctx)
	already := svc.State == kiosk.StateMaintenance
	if svc.InSession {
		x.say("Waiting for the customer to finish… (Ctrl-C cancels)")
	}
	if err := x.c.b.RequestMaintenance(x.ctx); err != nil {
		if x.ctx.Err() != nil {
			return nil, x.interrupted(what + " cancelled while waiting for the customer; nothing was changed")
		}
		return nil, x.fail(fmt.Errorf("%s: maintenance: %w", what, err))
	}
	x.say("Kiosk in maintenance: the acceptor is disabled.")
	if already {
		return func() {}, ExitOK
	}
	return func() {
		x.c.b.EndMaintenance()
		x.say("Maintenance ended.")
	}, ExitOK
}

// printPeriod is the collection report of a cassette period.
func printPeriod(x *invocation, c Cassette) {
	x.printf("Cassette since %s:\n", fmtTime(c.OpenedAt))
	tw := tabwriter.NewWriter(x.t, 0, 0, 2, ' ', tabwriter.AlignRight)
	for _, b := range c.Bills {
		v := b.Value.String()
		if b.Value == 0 {
			v = "value unknown"
		}
		fmt.Fprintf(tw, "  %s\t× %d\t%s\t\n", v, b.Count, (b.Value * kiosk.Money(b.Count)).String())
	}
	fmt.Fprintf(tw, "  total\t%s\t%s\t\n", plural(c.Count, "bill"), c.Amount)
	tw.Flush()
	receipts := "none"
	if c.TopUps > 0 {
		receipts = fmt.Sprintf("receipts %d to %d", c.FirstReceipt, c.LastReceipt)
	}
	x.printf("  top-ups    %d (%s)\n", c.TopUps, receipts)
	for i, s := range c.Services {
		label := ""
		if i == 0 {
			label = "by service"
		}
		x.printf("  %-10s %s: %s in %s\n", label, s.Service, s.Amount, plural(s.TopUps, "top-up"))
	}
	x.printf("  suspense   %s (in the cassette, owner unknown)\n", plural(c.Suspense, "bill"))
	x.printf("  uncertain  %s (may or may not be in the cassette; see review)\n", plural(c.Uncertain, "bill"))
}

// test

func runTest(x *invocation) int {
	if !x.wantArgs(1, 1) {
		return x.badUsage()
	}
	switch x.args[0] {
	case "display":
		return testDisplay(x)
	case "keys":
		return testKeys(x)
	case "acceptor":
		return testAcceptor(x)
	}
	return x.badUsage()
}

// simulatedPanel answers a panel test on a kiosk without panel hardware.
func simulatedPanel(x *invocation, what string) int {
	if x.json {
		return x.emitJSON(map[string]any{"test": what, "simulated": true})
	}
	x.say("Simulated panel: no hardware to test. Its screen and keys are in the terminal running kioskd --sim (and on its panel socket).")
	return ExitOK
}

// panelFree refuses a panel test while a customer uses the panel.
func (x *invocation) panelFree() bool {
	if x.c.b.Service(x.ctx).InSession {
		x.report(errors.New("a customer is using the kiosk: run the test when the attract screen is back"))
		return false
	}
	return true
}

func testDisplay(x *invocation) int {
	st := x.c.b.SelfTester()
	if st == nil {
		return simulatedPanel(x, "display")
	}
	if !x.panelFree() {
		return ExitFailed
	}
	x.say("Showing the test pages on the display…")
	if err := st.TestPattern(x.ctx); err != nil {
		if x.ctx.Err() != nil {
			return x.interrupted("display test stopped; the kiosk's screen is back")
		}
		return x.fail(fmt.Errorf("display test: %w", err))
	}
	if x.json {
		return x.emitJSON(map[string]any{"test": "display", "ok": true})
	}
	x.say("Display test done: every dot should have lit, then every character of the ROM.")
	return ExitOK
}

func testKeys(x *invocation) int {
	st := x.c.b.SelfTester()
	if st == nil {
		return simulatedPanel(x, "keys")
	}
	if !x.panelFree() {
		return ExitFailed
	}
	ctx, cancel := context.WithCancel(x.ctx)
	defer cancel()
	// Armed before the technician is told the test runs, so the 30 s count
	// from what they see.
	timer := x.c.opts.Clock.NewTimer(x.c.opts.KeyTestFor)
	defer timer.Stop()
	x.say("Press the kiosk's keys; each one shows here. Ctrl-C or %s ends the test.", fmtDur(x.c.opts.KeyTestFor))
	timedOut := make(chan struct{})
	go func() {
		select {
		case <-timer.C():
			close(timedOut)
			cancel()
		case <-ctx.Done():
		}
	}()
	var (
		mu   sync.Mutex
		keys = []string{}
	)
	err := st.KeyEcho(ctx, func(k kiosk.Key) {
		mu.Lock()
		keys = append(keys, string(k))
		mu.Unlock()
		x.say("key %s", k)
	})
	cancel()
	if err != nil && ctx.Err() == nil {
		return x.fail(fmt.Errorf("key test: %w", err))
	}
	ended := "interrupted"
	select {
	case <-timedOut:
		ended = "timeout"
	default:
	}
	mu.Lock()
	defer mu.Unlock()
	if x.json {
		return x.emitJSON(map[string]any{"test": "keys", "keys": keys, "ended": ended})
	}
	x.say("Key test ended (%s): %d keys pressed.", ended, len(keys))
	return ExitOK
}

func testAcceptor(x *invocation) int {
	info := x.c.b.Acceptor()
	if !x.json {
		printAcceptor(x, info)
	}
	ended, code := x.enterMaintenance("test acceptor")
	if ended == nil {
		return code
	}
	defer ended()
	x.say("Enabling every bill, then disabling the acceptor again…")
	if err := x.c.b.CycleAcceptor(x.ctx); err != nil {
		if x.ctx.Err() != nil {
			return x.interrupted("acceptor test stopped")
		}
		if x.json {
			x.emitJSON(map[string]any{"test": "acceptor", "acceptor": acceptorView(info), "ok": false, "error": err.Error()})
			return ExitFailed
		}
		return x.fail(fmt.Errorf("acceptor test: %w; see acceptor for its faults and last errors", err))
	}
	if x.json {
		return x.emitJSON(map[string]any{"test": "acceptor", "acceptor": acceptorView(x.c.b.Acceptor()), "ok": true})
	}
	x.say("Acceptor test passed: it took the enable and the disable.")
	return ExitOK
}
