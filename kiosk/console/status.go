package console

import (
	"context"
	"errors"
	"fmt"
	"strconv"
	"strings"
	"text/tabwriter"
	"time"

	"tolem/kiosk"
)

// Thresholds of the status warnings.
const (
	// clockWarnAt: the bank refuses requests whose timestamp is more than
	// 300 s off, so a clock drifting past a minute wants a look.
	clockWarnAt = time.Minute
	// diskWarnAt: below this the ledger may soon fail to write, which takes
	// the kiosk out of service.
	diskWarnAt = 100 << 20
)

// StatusReport is the document of `status --json` and GET /v1/status.
type StatusReport struct {
	Version     string             `json:"version"`
	TerminalID  string             `json:"terminal_id"`
	Sim         bool               `json:"sim"`
	StartedAt   time.Time          `json:"started_at"`
	UptimeS     int64              `json:"uptime_s"`
	State       string             `json:"state"`
	Reasons     []string           `json:"reasons"`
	Maintenance bool               `json:"maintenance"`
	Manual      bool               `json:"manual"`
	InSession   bool               `json:"in_session"`
	Payment     string             `json:"payment,omitempty"`
	Screen      [4]string          `json:"screen"`
	Door        DoorReport         `json:"door"`
	Acceptor    kiosk.AcceptorInfo `json:"acceptor"`
	Cassette    *CassetteReport    `json:"cassette"`
	Queue       *QueueReport       `json:"queue"`
	Bank        BankReport         `json:"bank"`
	Disk        DiskReport         `json:"disk"`
	// Ledger is "ok", or why the ledger cannot be read.
	Ledger string `json:"ledger"`
	// ClockJump is the last jump of the wall clock since kioskd started;
	// absent when there was none or the backend does not watch the clock.
	ClockJump *ClockJump `json:"clock_jump,omitempty"`
	// Printer is the receipt printer; nil without one.
	Printer *PrinterReport `json:"printer,omitempty"`
	// Recovered are the top-ups completed at start-up after a power cut in
	// the last recoveredWithin, newest first: the customer saw no receipt.
	Recovered []topUpView `json:"recovered"`
	Warnings  []string    `json:"warnings"`
}

// ClockJump is a jump of the kiosk's wall clock against its monotonic
// clock: a Pi without a real-time clock boots at an old time and NTP moves
// it forward later, and a clock can be set back. Times stamped just before
// it (receipts, audit lines) are off by Delta.
type ClockJump struct {
	// From is the time the wall clock should have shown, To what it showed.
	From time.Time `json:"from"`
	To   time.Time `json:"to"`
	// DeltaS is To - From in seconds: positive forward, negative back.
	DeltaS int64 `json:"delta_s"`
}

// ClockWatcher is the part of a Backend that watches the wall clock;
// Status shows its last jump.
type ClockWatcher interface {
	LastClockJump() (ClockJump, bool)
}

// Recovered top-ups in the status: how recent, and how many at most.
const (
	recoveredWithin = 7 * 24 * time.Hour
	recoveredListed = 5
)

// DoorReport is the service door in the status.
type DoorReport struct {
	Open    bool       `json:"open"`
	Alarm   bool       `json:"alarm"`
	AlarmAt *time.Time `json:"alarm_at,omitempty"`
}

// CassetteReport is the cassette in the status, with its fill.
type CassetteReport struct {
	Cassette
	// FillPercent is null when the capacity is unknown.
	FillPercent *int `json:"fill_percent"`
}

// QueueReport is the queue in the status.
type QueueReport struct {
	Unsent       int         `json:"unsent"`
	UnsentAmount kiosk.Money `json:"unsent_amount"`
	Pending      int         `json:"pending"`
	Review       int         `json:"review"`
	OldestAt     *time.Time  `json:"oldest_at"`
	// Overdue: the oldest has waited longer than the alarm time (20 min).
	Overdue bool `json:"overdue"`
}

// BankReport is the bank in the status.
type BankReport struct {
	Known         bool       `json:"known"`
	Reachable     bool       `json:"reachable"`
	LastSuccess   *time.Time `json:"last_success"`
	LastError     string     `json:"last_error,omitempty"`
	ClockOffsetMS int64      `json:"clock_offset_ms"`
	Alarms        []string   `json:"alarms"`
}

// DiskReport is the free space of the data directory.
type DiskReport struct {
	Path       string `json:"path"`
	FreeBytes  uint64 `json:"free_bytes"`
	TotalBytes uint64 `json:"total_bytes"`
	Error      string `json:"error,omitempty"`
}

func optTime(t time.Time) *time.Time {
	if t.IsZero() {
		return nil
	}
	u := t.UTC()
	return &u
}

// Status gathers the status report: what `status` shows and the control
// socket's GET /v1/status answers.
func (c *Console) Status(ctx context.Context) StatusReport {
	now := c.now()
	sys := c.b.System()
	svc := c.b.Service(ctx)
	r := StatusReport{
		Version: sys.Version, TerminalID: sys.Terminal, Sim: sys.Sim,
		StartedAt: sys.Started.UTC(), UptimeS: int64(now.Sub(sys.Started) / time.Second),
		State: svc.State.String(), Reasons: nonNil(svc.Reasons), Maintenance: svc.Maintenance, Manual: svc.Manual,
		InSession: svc.InSession, Screen: svc.Screen, Payment: svc.Payment,
		Acceptor: acceptorView(c.b.Acceptor()),
		Ledger:   "ok",
		Warnings: []string{},
	}
	warn := func(format string, a ...any) { r.Warnings = append(r.Warnings, fmt.Sprintf(format, a...)) }

	alarmAt, alarm := c.DoorAlarm()
	r.Door = DoorReport{Open: svc.DoorOpen, Alarm: alarm}
	if alarm {
		r.Door.AlarmAt = optTime(alarmAt)
		warn("ALARM: the service door was opened at %s with nobody logged in", fmtTime(alarmAt))
	}
	if !r.Acceptor.Ready {
		warn("acceptor not ready (%s): see acceptor", r.Acceptor.State)
	}
	if p, ok := c.b.(Printer); ok {
		pr := p.PrinterStatus()
		r.Printer = &pr
		r.Warnings = append(r.Warnings, printerWarnings(pr)...)
	}

	ledgerErr := func(err error) {
		if r.Ledger == "ok" {
			r.Ledger = err.Error()
			warn("ledger: %v", err)
		}
	}
	if cas, err := c.b.Cassette(ctx); err != nil {
		ledgerErr(err)
	} else {
		cr := &CassetteReport{Cassette: cas}
		cr.Bills = nonNil(cr.Bills)
		if p := fillPercent(cas); p >= 0 {
			cr.FillPercent = &p
			if p >= cassetteWarnAt {
				warn("cassette %d %% full (%d of %d bills): plan a collection", p, cas.Count, cas.Capacity)
			}
		}
		if cas.Suspense+cas.Uncertain > 0 {
			warn("%d bills in suspense, %d uncertain: see review", cas.Suspense, cas.Uncertain)
		}
		r.Cassette = cr
	}
	if q, err := c.b.Queue(ctx, 0); err != nil {
		ledgerErr(err)
	} else {
		qr := &QueueReport{Unsent: q.Unsent, UnsentAmount: q.UnsentAmount, Pending: q.Pending, Review: q.Review, OldestAt: optTime(q.OldestAt)}
		if !q.OldestAt.IsZero() && now.Sub(q.OldestAt) >= c.opts.AlarmAfter {
			qr.Overdue = true
			warn("ALARM: a top-up has waited for the bank since %s (over %s): see queue and bank", fmtTime(q.OldestAt), fmtDur(c.opts.AlarmAfter))
		}
		if q.Review > 0 {
			warn("%d top-ups in review: see review", q.Review)
		}
		r.Queue = qr
	}

	r.Recovered = []topUpView{}
	if rec, err := c.b.Recovered(ctx, recoveredListed); err != nil {
		ledgerErr(err)
	} else {
		for _, t := range rec {
			if now.Sub(t.CompletedAt) <= recoveredWithin {
				r.Recovered = append(r.Recovered, viewTopUp(t, Delivery{}))
			}
		}
	}

	bank := c.b.Bank()
	r.Bank = BankReport{
		Known: bank.Known, Reachable: bank.Reachable, LastSuccess: optTime(bank.LastSuccess),
		LastError: bank.LastError, ClockOffsetMS: bank.ClockOffset.Milliseconds(), Alarms: nonNil(bank.Alarms),
	}
	if bank.Known {
		if !bank.Reachable {
			warn("bank unreachable (last success %s): %s", ago(now, bank.LastSuccess), bank.LastError)
		}
		if bank.ClockOffset > clockWarnAt || bank.ClockOffset < -clockWarnAt {
			warn("the kiosk's clock is %s off the bank's: check NTP", fmtDur(bank.ClockOffset))
		}
	}

	if cw, ok := c.b.(ClockWatcher); ok {
		if j, ok := cw.LastClockJump(); ok {
			j.From, j.To = j.From.UTC(), j.To.UTC()
			r.ClockJump = &j
		}
	}

	r.Disk.Path = sys.DataDir
	if free, total, err := diskSpace(sys.DataDir); err != nil {
		r.Disk.Error = err.Error()
	} else {
		r.Disk.FreeBytes, r.Disk.TotalBytes = free, total
		if free < diskWarnAt {
			warn("only %s free for the ledger in %s: free space, or the kiosk stops taking cash", fmtBytes(free), sys.DataDir)
		} else if DiskNearlyFull(free, total) {
			warn("the file system of %s is %d %% full (%s free of %s): plan a bigger card or archive old collections",
				sys.DataDir, (total-free)*100/total, fmtBytes(free), fmtBytes(total))
		}
	}
	return r
}

func runStatus(x *invocation) int {
	if !x.wantArgs(0, 0) {
		return x.badUsage()
	}
	r := x.c.Status(x.ctx)
	if x.json {
		return x.emitJSON(r)
	}
	now := x.c.now()
	tw := tabwriter.NewWriter(x.t, 0, 0, 2, ' ', 0)
	line := func(label, format string, a ...any) { fmt.Fprintf(tw, label+"\t"+format+"\n", a...) }
	kind := ""
	if r.Sim {
		kind = " (simulated)"
	}
	line("kiosk", "%s%s, version %s, up %s", r.TerminalID, kind, r.Version, fmtDur(time.Duration(r.UptimeS)*time.Second))
	svc := r.State
	if r.InSession {
		svc += ", customer in session"
		if r.Payment != "" {
			svc += " (" + r.Payment + ")"
		}
	}
	if r.Maintenance && r.State != kiosk.StateMaintenance.String() {
		svc += ", maintenance after the customer"
	}
	line("service", "%s", svc)
	if len(r.Reasons) > 0 {
		line("", "out of service for: %s", strings.Join(r.Reasons, ", "))
	}
	door := "closed"
	if r.Door.Open {
		door = "open"
	}
	line("door", "%s", door)
	a := r.Acceptor
	line("acceptor", "%s", acceptorSummary(a, r.StartedAt))
	if n := len(a.LastErrors); n > 0 {
		line("", "last error: %s", clean(a.LastErrors[n-1], 90))
	}
	if cas := r.Cassette; cas != nil {
		fill := "capacity unknown"
		if cas.FillPercent != nil {
			fill = fmt.Sprintf("%d %% of %d", *cas.FillPercent, cas.Capacity)
		}
		line("cassette", "%d bills, %s (%s), since %s", cas.Count, cas.Amount, fill, fmtTime(cas.OpenedAt))
	} else {
		line("cassette", "unknown")
	}
	if q := r.Queue; q != nil {
		line("queue", "unsent %d (%s), pending %d, review %d", q.Unsent, q.UnsentAmount, q.Pending, q.Review)
		if q.OldestAt != nil {
			line("", "oldest waiting since %s (%s)", fmtTime(*q.OldestAt), ago(now, *q.OldestAt))
		}
	} else {
		line("queue", "unknown")
	}
	switch b := r.Bank; {
	case !b.Known:
		line("bank", "no report yet")
	default:
		reach := "reachable"
		if !b.Reachable {
			reach = "UNREACHABLE"
		}
		last := "never"
		if b.LastSuccess != nil {
			last = fmtTime(*b.LastSuccess) + " (" + ago(now, *b.LastSuccess) + ")"
		}
		line("bank", "%s, last success %s, clock offset %+.1fs", reach, last, float64(b.ClockOffsetMS)/1000)
		if !b.Reachable && b.LastError != "" {
			line("", "last error: %s", clean(b.LastError, 90))
		}
	}
	if r.Disk.Error != "" {
		line("disk", "%s: %s", r.Disk.Path, r.Disk.Error)
	} else {
		line("disk", "%s free of %s in %s", fmtBytes(r.Disk.FreeBytes), fmtBytes(r.Disk.TotalBytes), r.Disk.Path)
	}
	line("ledger", "%s", r.Ledger)
	if r.Printer != nil {
		line("printer", "%s", printerSummary(*r.Printer))
	}
	for i, t := range r.Recovered {
		label := ""
		if i == 0 {
			label = "recovered"
		}
		line(label, "receipt %d, %s to %s, completed at start-up at %s after a power cut",
			t.ReceiptNo, t.Amount, t.Account, fmtTime(t.CompletedAt))
	}
	if j := r.ClockJump; j != nil {
		sign := "+"
		if j.DeltaS < 0 {
			sign = "-"
		}
		line("clock", "jumped %s%s at %s (it read %s)", sign, fmtDur(time.Duration(j.DeltaS)*time.Second), fmtTime(j.To), fmtTime(j.From))
	}
	tw.Flush()
	for _, w := range r.Warnings {
		x.printf("WARNING: %s\n", w)
	}
	return ExitOK
}

// neverAnswered reports an acceptor that has not told its model or serial
// since kioskd started: the driver learns both at the first answer.
func neverAnswered(a kiosk.AcceptorInfo) bool {
	return !a.Ready && a.Model == "" && a.Serial == ""
}

// acceptorSummary is the acceptor in one line of status: what it is and
// how it is, or, for one that never answered, since when it is silent.
func acceptorSummary(a kiosk.AcceptorInfo, started time.Time) string {
	port := a.Port
	if port == "" {
		port = "its port"
	}
	if neverAnswered(a) {
		return fmt.Sprintf("%s: no answer from %s since %s (kioskd's start): check its cable and power, and acceptor.port", a.Protocol, port, fmtTime(started))
	}
	parts := []string{strings.TrimSpace(a.Protocol + " " + a.Model)}
	if a.Serial != "" {
		parts = append(parts, "serial "+a.Serial)
	}
	if a.State != "" {
		parts = append(parts, a.State)
	}
	if a.Ready {
		parts = append(parts, "ready")
	} else {
		parts = append(parts, "not ready")
	}
	s := strings.Join(parts, ", ")
	if a.Port != "" {
		s += " on " + a.Port
	}
	return s
}

// queue

const queueListed = 20

func runQueue(x *invocation) int {
	if !x.wantArgs(0, 0) {
		return x.badUsage()
	}
	q, err := x.c.b.Queue(x.ctx, queueListed)
	if err != nil {
		return x.fail(fmt.Errorf("queue: %w", err))
	}
	now := x.c.now()
	overdue := !q.OldestAt.IsZero() && now.Sub(q.OldestAt) >= x.c.opts.AlarmAfter
	if x.json {
		list := make([]topUpView, len(q.Oldest))
		for i, t := range q.Oldest {
			list[i] = viewTopUp(t.TopUp, t.Delivery)
		}
		return x.emitJSON(map[string]any{
			"unsent": q.Unsent, "unsent_amount": q.UnsentAmount, "pending": q.Pending, "review": q.Review,
			"oldest_at": optTime(q.OldestAt), "overdue": overdue, "oldest": list, "held_since": optTime(q.HeldSince),
		})
	}
	x.printf("unsent   %d (%s)\npending  %d\nreview   %d\n", q.Unsent, q.UnsentAmount, q.Pending, q.Review)
	if !q.OldestAt.IsZero() {
		x.printf("oldest   %s (%s)\n", fmtTime(q.OldestAt), ago(now, q.OldestAt))
	}
	if overdue {
		x.printf("ALARM: waiting for over %s: check the bank link (status)\n", fmtDur(x.c.opts.AlarmAfter))
	}
	if !q.HeldSince.IsZero() {
		x.printf("held     since %s (%s): a customer is paying; delivery goes on when they finish\n", fmtTime(q.HeldSince), ago(now, q.HeldSince))
	}
	if len(q.Oldest) == 0 {
		x.printf("Nothing waits for the bank.\n")
		return ExitOK
	}
	x.printf("\n")
	tw := tabwriter.NewWriter(x.t, 0, 0, 2, ' ', tabwriter.AlignRight)
	fmt.Fprintf(tw, "receipt\tamount\tservice\tstate\ttries\tcompleted\t\n")
	for _, t := range q.Oldest {
		fmt.Fprintf(tw, "%d\t%s\t%s\t%s\t%d\t%s\t\n", t.TopUp.ReceiptNo, t.TopUp.Amount, t.TopUp.ServiceName(), t.TopUp.Sync,
			t.Delivery.Attempts, ago(now, t.TopUp.CompletedAt))
	}
	tw.Flush()
	for _, t := range q.Oldest {
		if t.Delivery.LastError != "" {
			x.printf("receipt %d: last error: %s\n", t.TopUp.ReceiptNo, clean(t.Delivery.LastError, 100))
		}
	}
	return ExitOK
}

// topUpView is a top-up as the console shows it: the phone masked.
type topUpView struct {
	ID          string            `json:"id"`
	ReceiptNo   int64             `json:"receipt_no"`
	Phone       string            `json:"phone"`
	Service     string            `json:"service"`
	Account     string            `json:"account"`
	Amount      kiosk.Money       `json:"amount"`
	Bills       []kiosk.BillCount `json:"bills"`
	Offline     bool              `json:"offline"`
	Recovered   bool              `json:"recovered"`
	CreatedAt   time.Time         `json:"created_at"`
	CompletedAt time.Time         `json:"completed_at"`
	Sync        kiosk.SyncState   `json:"sync"`
	Delivery    Delivery          `json:"delivery"`
}

func viewTopUp(t kiosk.TopUp, d Delivery) topUpView {
	return topUpView{
		ID: t.ID, ReceiptNo: t.ReceiptNo, Phone: kiosk.MaskAccount(string(t.Phone)), Amount: t.Amount, Bills: nonNil(t.Bills),
		Service: t.ServiceName(), Account: kiosk.MaskAccount(t.Payee()),
		Offline: t.Offline, Recovered: t.Recovered, CreatedAt: t.CreatedAt.UTC(), CompletedAt: t.CompletedAt.UTC(),
		Sync: t.Sync, Delivery: d,
	}
}

type billView struct {
	ID    string          `json:"id"`
	Seq   int             `json:"seq"`
	Value kiosk.Money     `json:"value"`
	State kiosk.BillState `json:"state"`
	At    time.Time       `json:"at"`
}

func viewBills(bs []kiosk.BillRecord) []billView {
	out := make([]billView, len(bs))
	for i, b := range bs {
		out[i] = billView{ID: b.ID, Seq: b.Seq, Value: b.Value, State: b.State, At: b.At.UTC()}
	}
	return out
}

// txn

func runTxn(x *invocation) int {
	if !x.wantArgs(1, 1) {
		return x.badUsage()
	}
	n, err := strconv.ParseInt(strings.TrimPrefix(x.args[0], "#"), 10, 64)
	if err != nil || n < 1 {
		return x.usage(fmt.Errorf("txn: %q is not a receipt number", clean(x.args[0], 40)))
	}
	d, err := x.c.b.TopUp(x.ctx, n)
	if errors.Is(err, kiosk.ErrNotFound) {
		return x.fail(fmt.Errorf("no top-up has receipt number %d", n))
	}
	if err != nil {
		return x.fail(fmt.Errorf("txn %d: %w", n, err))
	}
	if x.json {
		return x.emitJSON(map[string]any{"topup": viewTopUp(d.TopUp, d.Delivery), "bills": viewBills(d.Bills)})
	}
	t, dl := d.TopUp, d.Delivery
	tw := tabwriter.NewWriter(x.t, 0, 0, 2, ' ', 0)
	fmt.Fprintf(tw, "receipt\t%d\n", t.ReceiptNo)
	fmt.Fprintf(tw, "id\t%s\n", t.ID)
	fmt.Fprintf(tw, "service\t%s\n", t.ServiceName())
	fmt.Fprintf(tw, "account\t%s\n", kiosk.MaskAccount(t.Payee()))
	fmt.Fprintf(tw, "amount\t%s\n", t.Amount)
	fmt.Fprintf(tw, "bills\t%s\n", fmtBills(t.Bills))
	fmt.Fprintf(tw, "offline\t%s\n", yesNo(t.Offline))
	if t.Recovered {
		fmt.Fprintf(tw, "recovered\tyes: completed at start-up after a power cut\n")
	}
	fmt.Fprintf(tw, "created\t%s\n", fmtTime(t.CreatedAt))
	fmt.Fprintf(tw, "completed\t%s\n", fmtTime(t.CompletedAt))
	sync := string(t.Sync)
	if !dl.CreditedAt.IsZero() {
		sync += " at " + fmtTime(dl.CreditedAt)
	}
	fmt.Fprintf(tw, "bank\t%s, %s\n", sync, plural(dl.Attempts, "attempt"))
	if dl.Note != "" {
		fmt.Fprintf(tw, "note\t%s\n", clean(dl.Note, 100))
	}
	if dl.LastError != "" && dl.LastError != dl.Note {
		fmt.Fprintf(tw, "last error\t%s\n", clean(dl.LastError, 100))
	}
	if !dl.NextAttemptAt.IsZero() {
		fmt.Fprintf(tw, "next try\t%s\n", fmtTime(dl.NextAttemptAt))
	}
	tw.Flush()
	if len(d.Bills) > 0 {
		x.printf("\n")
		tw = tabwriter.NewWriter(x.t, 0, 0, 2, ' ', 0)
		fmt.Fprintf(tw, "bill\tvalue\tstate\tat\n")
		for _, b := range d.Bills {
			fmt.Fprintf(tw, "%d\t%s\t%s\t%s\n", b.Seq, b.Value, b.State, fmtTime(b.At))
		}
		tw.Flush()
	}
	return ExitOK
}

// review

func runReview(x *invocation) int {
	if !x.wantArgs(0, 0) {
		return x.badUsage()
	}
	rv, err := x.c.b.Review(x.ctx)
	if err != nil {
		return x.fail(fmt.Errorf("review: %w", err))
	}
	if x.json {
		tops := make([]topUpView, len(rv.TopUps))
		for i, t := range rv.TopUps {
			tops[i] = viewTopUp(t.TopUp, t.Delivery)
		}
		sessions := make([]map[string]any, len(rv.Sessions))
		for i, u := range rv.Sessions {
			var top any
			if u.TopUp != nil {
				v := viewTopUp(*u.TopUp, Delivery{})
				top = &v
			}
			sessions[i] = map[string]any{"session_id": u.SessionID, "phone": u.Phone.Masked(), "opened_at": u.OpenedAt.UTC(),
				"topup": top, "uncertain": viewBills(u.Uncertain)}
		}
		return x.emitJSON(map[string]any{"bills": viewBills(rv.Bills), "topups": tops, "sessions": sessions})
	}
	if len(rv.Bills) == 0 && len(rv.TopUps) == 0 && len(rv.Sessions) == 0 {
		x.printf("Nothing to review.\n")
		return ExitOK
	}
	if len(rv.Bills) > 0 {
		x.printf("Bills (suspense: in the cassette, owner unknown; uncertain: a power cut\nleft them unsettled, they may or may not be in the cassette):\n")
		tw := tabwriter.NewWriter(x.t, 0, 0, 2, ' ', 0)
		for _, b := range rv.Bills {
			v := b.Value.String()
			if b.Value == 0 {
				v = "value unknown"
			}
			fmt.Fprintf(tw, "  %s\t%s\t%s\t%s\n", b.ID, v, b.State, fmtTime(b.At))
		}
		tw.Flush()
	}
	if len(rv.Sessions) > 0 {
		x.printf("Customers' sessions a power cut left with uncertain bills (the customer may\nask about them; the bills are counted at the next collection):\n")
		tw := tabwriter.NewWriter(x.t, 0, 0, 2, ' ', 0)
		for _, u := range rv.Sessions {
			top := "no top-up"
			if u.TopUp != nil {
				top = fmt.Sprintf("receipt %d, %s", u.TopUp.ReceiptNo, u.TopUp.Amount)
				if u.TopUp.Recovered {
					top += " recovered at start-up"
				}
			}
			vals := make([]string, len(u.Uncertain))
			for i, b := range u.Uncertain {
				vals[i] = b.Value.String()
			}
			fmt.Fprintf(tw, "  %s\t%s\topened %s\t%s\tuncertain: %s\n", u.SessionID, u.Phone.Masked(), fmtTime(u.OpenedAt), top, strings.Join(vals, ", "))
		}
		tw.Flush()
	}
	if len(rv.TopUps) > 0 {
		x.printf("Top-ups the bank did not credit (retry <receipt_no> sends one in review again):\n")
		tw := tabwriter.NewWriter(x.t, 0, 0, 2, ' ', 0)
		for _, t := range rv.TopUps {
			note := t.Delivery.Note
			if note == "" {
				note = t.Delivery.LastError
			}
			fmt.Fprintf(tw, "  receipt %d\t%s\t%s\t%s\t%s\n", t.TopUp.ReceiptNo, t.TopUp.Amount, kiosk.MaskAccount(t.TopUp.Payee()), t.TopUp.Sync, clean(note, 60))
		}
		tw.Flush()
	}
	return ExitOK
}

// retry

func runRetry(x *invocation) int {
	if !x.wantArgs(1, 1) {
		return x.badUsage()
	}
	arg := x.args[0]
	id, what := "", "every waiting top-up"
	if arg != "all" {
		if n, err := strconv.ParseInt(strings.TrimPrefix(arg, "#"), 10, 64); err == nil {
			d, err := x.c.b.TopUp(x.ctx, n)
			if errors.Is(err, kiosk.ErrNotFound) {
				return x.fail(fmt.Errorf("no top-up has receipt number %d", n))
			}
			if err != nil {
				return x.fail(fmt.Errorf("retry %d: %w", n, err))
			}
			id, what = d.TopUp.ID, fmt.Sprintf("top-up %d", n)
		} else {
			d, err := x.c.b.TopUpByID(x.ctx, arg)
			if errors.Is(err, kiosk.ErrNotFound) {
				return x.fail(fmt.Errorf("no top-up has id %q (give a receipt number, a top-up id, or all)", clean(arg, 40)))
			}
			if err != nil {
				return x.fail(fmt.Errorf("retry %s: %w", clean(arg, 40), err))
			}
			id, what = d.TopUp.ID, fmt.Sprintf("top-up %d", d.TopUp.ReceiptNo)
		}
	}
	n, err := x.c.b.Retry(x.ctx, id)
	if err != nil {
		return x.fail(fmt.Errorf("retry %s: %w", what, err))
	}
	if x.json {
		return x.emitJSON(map[string]any{"retried": n, "id": id})
	}
	switch {
	case id == "" && n == 0:
		x.printf("Nothing was waiting for a later try.\n")
	case id == "":
		x.printf("%d top-ups are due now; the outbox sends them at once.\n", n)
	default:
		x.printf("%s is due now; the outbox sends it at once.\n", what)
	}
	return ExitOK
}
