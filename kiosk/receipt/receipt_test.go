package receipt_test

import (
	"context"
	"crypto/hmac"
	"crypto/sha256"
	"errors"
	"fmt"
	"strings"
	"sync"
	"testing"
	"time"
	"unicode/utf8"

	"tolem/kiosk"
	"tolem/kiosk/kiosktest"
	"tolem/kiosk/receipt"
)

var (
	secret    = []byte("s3cret")
	completed = time.Date(2026, 12, 4, 9, 30, 0, 0, time.UTC)
	topUp     = kiosk.TopUp{
		ID: "7f1c2a9e-4b3d-4c5e-8f60-1a2b3c4d5e6f", ReceiptNo: 1234, SessionID: "s1",
		Phone: "+77011234567", Amount: kiosk.Tenge(12_500),
		Bills:     []kiosk.BillCount{{Value: kiosk.Tenge(500), Count: 1}, {Value: kiosk.Tenge(2000), Count: 1}, {Value: kiosk.Tenge(10000), Count: 1}},
		CreatedAt: completed.Add(-time.Minute), CompletedAt: completed, Sync: kiosk.SyncUnsent,
	}
)

// base32Upper is RFC 4648 base32 without padding, written out here so that
// the test checks the formula, not the library the code uses.
func base32Upper(b []byte) string {
	const alphabet = "ABCDEFGHIJKLMNOPQRSTUVWXYZ234567"
	var out strings.Builder
	var acc, bits uint
	for _, c := range b {
		acc = acc<<8 | uint(c)
		bits += 8
		for bits >= 5 {
			out.WriteByte(alphabet[(acc>>(bits-5))&31])
			bits -= 5
		}
	}
	if bits > 0 {
		out.WriteByte(alphabet[(acc<<(5-bits))&31])
	}
	return out.String()
}

func scratchCode(secret []byte, terminal string, no int64, id string, amount int64, at string) string {
	m := hmac.New(sha256.New, secret)
	fmt.Fprintf(m, "receipt\n%s\n%d\n%s\n%d\n%s", terminal, no, id, amount, at)
	return base32Upper(m.Sum(nil))[:10]
}

// The code agrees with SPEC §8's formula computed from scratch, and with
// the vectors docs/integration.md gives the bank.
func TestCodeVectors(t *testing.T) {
	got := receipt.TopUpCode(secret, "KZ-ALA-0001", topUp)
	want := scratchCode(secret, "KZ-ALA-0001", 1234, topUp.ID, 1_250_000, "2026-12-04T09:30:00Z")
	if got != want {
		t.Fatalf("code %s, the formula gives %s", got, want)
	}
	vectors := []struct {
		secret, terminal, id, at string
		no, amount               int64
		code                     string
	}{
		{"s3cret", "KZ-ALA-0001", topUp.ID, "2026-12-04T09:30:00Z", 1234, 1_250_000, "XEMNEPOTFW"},
		{"sandbox-secret", "KZ-ALA-0002", "c0ffee00-0000-4000-8000-000000000001", "2026-01-31T23:59:59Z", 1, 20_000, "OOXMRQCL4N"},
	}
	for _, v := range vectors {
		at, _ := time.Parse(time.RFC3339, v.at)
		c := receipt.Code([]byte(v.secret), v.terminal, v.no, v.id, kiosk.Money(v.amount), at)
		if s := scratchCode([]byte(v.secret), v.terminal, v.no, v.id, v.amount, v.at); c != s || c != v.code {
			t.Errorf("vector %+v: code %s, from scratch %s", v, c, s)
		}
		if !receipt.Verify([]byte(v.secret), v.terminal, v.no, v.id, kiosk.Money(v.amount), at, v.code) {
			t.Errorf("vector %+v does not verify", v)
		}
		if receipt.Verify([]byte(v.secret), v.terminal, v.no+1, v.id, kiosk.Money(v.amount), at, v.code) {
			t.Errorf("vector %+v verifies for another receipt number", v)
		}
	}
	// A local time is the same instant: the code does not depend on the
	// kiosk's time zone.
	almaty := time.FixedZone("ALMT", 5*3600)
	if receipt.Code(secret, "KZ-ALA-0001", 1234, topUp.ID, topUp.Amount, completed.In(almaty)) != got {
		t.Fatal("the code depends on the time zone")
	}
}

var layout = receipt.Layout{
	TerminalID: "KZ-ALA-0001",
	Header:     []string{"АО «Банк»", "Терминал у входа", "Алматы, пр. Абая 1"},
	CheckURL:   "https://bank.example/check?t={terminal}&r={receipt}&c={code}",
	Location:   time.FixedZone("ALMT", 5*3600),
}

// Every field of SPEC §8 is on the receipt, in every language and width,
// and no line passes the paper's width.
func TestRenderHasEveryField(t *testing.T) {
	code := receipt.TopUpCode(secret, layout.TerminalID, topUp)
	for _, w := range receipt.Widths {
		for _, l := range []kiosk.Lang{kiosk.LangRU, kiosk.LangKK, kiosk.LangEN} {
			lay := layout
			lay.Width = w
			d := lay.Render(receipt.Receipt{TopUp: topUp, Code: code, Lang: l})
			text := strings.Join(d.Text(), "\n")
			fields := []string{"АО «Банк»", "Терминал у входа", "Алматы, пр. Абая 1", "KZ-ALA-0001",
				"04.12.2026 14:30:00", "1234", "+7701***4567", "500 ₸ x 1", "2 000 ₸ x 1", "10 000 ₸ x 1",
				"12 500 ₸", "0 ₸", code}
			switch l {
			case kiosk.LangRU:
				fields = append(fields, "Пополнение кошелька", "Комиссия", "принято, зачисление в течение 30 мин")
			case kiosk.LangKK:
				fields = append(fields, "Әмиянды толтыру", "Комиссия")
			case kiosk.LangEN:
				fields = append(fields, "Wallet top-up", "Commission", "accepted, credited within 30 min")
			}
			flat := strings.Join(strings.Fields(text), " ")
			for _, f := range fields {
				if !strings.Contains(flat, f) {
					t.Errorf("%s/%d: %q missing from\n%s", l, w, f, text)
				}
			}
			for _, line := range d.Lines {
				limit := w
				if line.Double {
					limit = w / 2
				}
				if n := utf8.RuneCountInString(line.Text); n > limit {
					t.Errorf("%s/%d: line %q is %d characters", l, w, line.Text, n)
				}
			}
			wantQR := "https://bank.example/check?t=KZ-ALA-0001&r=1234&c=" + code
			if d.QR != wantQR || d.Code != code || d.ReceiptNo != 1234 {
				t.Errorf("%s/%d: QR %q code %q", l, w, d.QR, d.Code)
			}
		}
	}
	credited := topUp
	credited.Sync = kiosk.SyncCredited
	d := layout.Render(receipt.Receipt{TopUp: credited, Code: code, Lang: kiosk.LangEN, Copy: true})
	text := strings.Join(d.Text(), "\n")
	if !strings.Contains(text, "credited") || strings.Contains(text, "within 30 min") || !strings.Contains(text, "COPY") {
		t.Errorf("credited copy:\n%s", text)
	}
}

// fakePrinter prints into a slice; it can be out of paper.
type fakePrinter struct {
	mu      sync.Mutex
	faults  []kiosk.PrinterFault
	printed []kiosk.ReceiptDoc
	failAll bool
}

func (p *fakePrinter) set(f ...kiosk.PrinterFault) {
	p.mu.Lock()
	p.faults = f
	p.mu.Unlock()
}

func (p *fakePrinter) Status(context.Context) (kiosk.PrinterStatus, error) {
	p.mu.Lock()
	defer p.mu.Unlock()
	return kiosk.PrinterStatus{Faults: append([]kiosk.PrinterFault(nil), p.faults...)}, nil
}

func (p *fakePrinter) Print(_ context.Context, d kiosk.ReceiptDoc) error {
	p.mu.Lock()
	defer p.mu.Unlock()
	if len(p.faults) > 0 || p.failAll {
		return fmt.Errorf("%w: paper end", kiosk.ErrPrinter)
	}
	p.printed = append(p.printed, d)
	return nil
}

func (p *fakePrinter) docs() []kiosk.ReceiptDoc {
	p.mu.Lock()
	defer p.mu.Unlock()
	return append([]kiosk.ReceiptDoc(nil), p.printed...)
}

// fakeStore is the ledger's receipts table in memory.
type fakeStore struct {
	mu     sync.Mutex
	topUps []kiosk.TopUp
	states map[string]string
	copies map[string]int
	audit  []kiosk.AuditEntry
}

func newStore(ts ...kiosk.TopUp) *fakeStore {
	return &fakeStore{topUps: ts, states: map[string]string{}, copies: map[string]int{}}
}

func (s *fakeStore) ReceiptState(_ context.Context, id string) (string, error) {
	s.mu.Lock()
	defer s.mu.Unlock()
	return s.states[id], nil
}

func (s *fakeStore) RecordReceipt(_ context.Context, id, st, _ string, _ time.Time) error {
	s.mu.Lock()
	defer s.mu.Unlock()
	if s.states[id] == "" || st == "printed" {
		s.states[id] = st
	}
	return nil
}

func (s *fakeStore) RecordCopy(_ context.Context, id string, _ time.Time) error {
	s.mu.Lock()
	defer s.mu.Unlock()
	s.copies[id]++
	return nil
}

func (s *fakeStore) Unprinted(_ context.Context, since time.Time) ([]kiosk.TopUp, error) {
	s.mu.Lock()
	defer s.mu.Unlock()
	var out []kiosk.TopUp
	for _, t := range s.topUps {
		if s.states[t.ID] == "" && !t.CompletedAt.Before(since) {
			out = append(out, t)
		}
	}
	return out, nil
}

func (s *fakeStore) TopUpByReceipt(_ context.Context, n int64) (kiosk.TopUp, []kiosk.BillRecord, error) {
	s.mu.Lock()
	defer s.mu.Unlock()
	for _, t := range s.topUps {
		if t.ReceiptNo == n {
			return t, nil, nil
		}
	}
	return kiosk.TopUp{}, nil, kiosk.ErrNotFound
}

func (s *fakeStore) Audit(_ context.Context, e kiosk.AuditEntry) error {
	s.mu.Lock()
	defer s.mu.Unlock()
	s.audit = append(s.audit, e)
	return nil
}

func (s *fakeStore) state(id string) string {
	s.mu.Lock()
	defer s.mu.Unlock()
	return s.states[id]
}

type rig struct {
	t     *testing.T
	clock *kiosktest.FakeClock
	p     *fakePrinter
	st    *fakeStore
	s     *receipt.Service
	ctx   context.Context
}

func newRig(t *testing.T, p *fakePrinter, st *fakeStore) *rig {
	clock := kiosktest.NewFakeClock(completed.Add(time.Minute))
	s := receipt.New(receipt.Config{Layout: layout, Secret: secret}, p, st, clock, nil)
	ctx, cancel := context.WithCancel(context.Background())
	done := make(chan error, 1)
	go func() { done <- s.Run(ctx) }()
	t.Cleanup(func() { cancel(); <-done })
	r := &rig{t: t, clock: clock, p: p, st: st, s: s, ctx: ctx}
	r.wait()
	return r
}

func (r *rig) wait() {
	r.t.Helper()
	ctx, cancel := context.WithTimeout(r.ctx, 10*time.Second)
	defer cancel()
	if err := r.s.Wait(ctx); err != nil {
		r.t.Fatal(err)
	}
}

// A committed top-up is printed once; handing it again prints nothing.
func TestIssuePrintsOnce(t *testing.T) {
	r := newRig(t, &fakePrinter{}, newStore(topUp))
	if !r.s.Ready() {
		t.Fatal("a printer with paper is not ready")
	}
	r.wait()
	if n := len(r.p.docs()); n != 1 {
		t.Fatalf("%d receipts printed at start for an unprinted recent top-up, want 1", n)
	}
	printing, code := r.s.Issue(topUp, kiosk.LangRU)
	r.wait()
	if !printing || code != receipt.TopUpCode(secret, "KZ-ALA-0001", topUp) {
		t.Fatalf("issue: %v %q", printing, code)
	}
	if n := len(r.p.docs()); n != 1 || r.st.state(topUp.ID) != "printed" {
		t.Fatalf("%d receipts, state %q: printed twice", n, r.st.state(topUp.ID))
	}
}

// Out of paper: not ready, the receipt is recorded skipped (so a restart
// does not print it for the next customer), the near end is only a warning.
func TestPaperOutSkips(t *testing.T) {
	p := &fakePrinter{}
	p.set(kiosk.PrinterPaperEnd)
	var changes []receipt.Status
	r := newRig(t, p, newStore())
	r.s.OnChange(func(s receipt.Status) { changes = append(changes, s) })
	if r.s.Ready() {
		t.Fatal("ready without paper")
	}
	printing, code := r.s.Issue(topUp, kiosk.LangKK)
	r.wait()
	if printing || code == "" || r.st.state(topUp.ID) != "skipped" || len(p.docs()) != 0 {
		t.Fatalf("printing %v code %q state %q", printing, code, r.st.state(topUp.ID))
	}
	p.set(kiosk.PrinterPaperNearEnd)
	r.s.Refresh()
	r.wait()
	r.clock.Advance(receipt.DefaultPollEvery)
	r.wait()
	if !r.s.Ready() {
		t.Fatal("paper near its end stops printing")
	}
	if all, active := r.s.Faults(); len(all) != len(kiosk.PrinterFaults()) || len(active) != 1 || active[0] != "paper_near_end" {
		t.Fatalf("faults %v %v", all, active)
	}
}

// A restart prints the recent receipt a power cut kept from printing, and
// not an old one, a printed one, or a collection's follow-up top-up.
func TestResumeAtStart(t *testing.T) {
	old := topUp
	old.ID, old.ReceiptNo, old.CompletedAt = "old", 1000, completed.Add(-time.Hour)
	printed := topUp
	printed.ID, printed.ReceiptNo = "printed", 1233
	followUp := topUp
	followUp.ID, followUp.ReceiptNo, followUp.Reconciled = "follow-up", 1235, true
	st := newStore(old, printed, topUp, followUp)
	st.states["printed"] = "printed"
	r := newRig(t, &fakePrinter{}, st)
	docs := r.p.docs()
	if len(docs) != 1 || docs[0].ReceiptNo != 1234 {
		t.Fatalf("printed at start %+v, want receipt 1234 only", docs)
	}
}

// A printer that fails mid-receipt leaves the top-up alone and the receipt
// failed, for a reprint; reprint prints a copy and audits it.
func TestFailedThenReprint(t *testing.T) {
	p := &fakePrinter{failAll: true}
	st := newStore(topUp)
	st.states[topUp.ID] = ""
	r := newRig(t, p, st)
	if s := st.state(topUp.ID); s != "failed" {
		t.Fatalf("state %q, want failed", s)
	}
	err := r.s.Reprint(r.ctx, 1234, "t01")
	if !errors.Is(err, receipt.ErrNotPrinted) {
		t.Fatalf("reprint on a failing printer: %v", err)
	}
	p.mu.Lock()
	p.failAll = false
	p.mu.Unlock()
	if err := r.s.Reprint(r.ctx, 1234, "t01"); err != nil {
		t.Fatal(err)
	}
	docs := p.docs()
	if len(docs) != 1 || !strings.Contains(strings.Join(docs[0].Text(), "\n"), "КОПИЯ") {
		t.Fatalf("copy %+v", docs)
	}
	if len(st.audit) != 2 || st.audit[1].Actor != "t01" || st.audit[1].Action != "reprint" || st.copies[topUp.ID] != 1 {
		t.Fatalf("audit %+v copies %d", st.audit, st.copies[topUp.ID])
	}
	if err := r.s.Reprint(r.ctx, 99, "t01"); !errors.Is(err, kiosk.ErrNotFound) {
		t.Fatalf("reprint of an unknown receipt: %v", err)
	}
}

// A session a power cut interrupted long ago is completed at start, but its
// receipt is not printed: the customer has gone.
func TestRecoveredOldSessionNotPrinted(t *testing.T) {
	rec := topUp
	rec.Recovered, rec.CreatedAt, rec.CompletedAt = true, completed.Add(-time.Hour), completed.Add(time.Minute)
	r := newRig(t, &fakePrinter{}, newStore(rec))
	printing, code := r.s.Issue(rec, kiosk.LangRU)
	r.wait()
	if printing || code == "" || len(r.p.docs()) != 0 {
		t.Fatalf("printing %v, %d printed", printing, len(r.p.docs()))
	}
	fresh := topUp
	fresh.ID, fresh.ReceiptNo, fresh.Recovered, fresh.CreatedAt = "fresh", 1235, true, completed
	if printing, _ := r.s.Issue(fresh, kiosk.LangRU); !printing {
		t.Fatal("a recovered session of a minute ago is not printed")
	}
	r.wait()
	if len(r.p.docs()) != 1 {
		t.Fatal("recent recovered receipt not printed")
	}
}

// changingPrinter reports changes by itself, as one with automatic status
// back does.
type changingPrinter struct {
	*fakePrinter
	ch chan struct{}
}

func (p changingPrinter) Changed() <-chan struct{} { return p.ch }

// A printer that says it changed is asked at once, not at the next poll.
func TestPrinterChangeAskedAtOnce(t *testing.T) {
	p := changingPrinter{&fakePrinter{}, make(chan struct{}, 1)}
	clock := kiosktest.NewFakeClock(completed)
	s := receipt.New(receipt.Config{Layout: layout, Secret: secret}, p, newStore(), clock, nil)
	changed := make(chan receipt.Status, 4)
	s.OnChange(func(st receipt.Status) { changed <- st })
	ctx, cancel := context.WithCancel(context.Background())
	defer cancel()
	go s.Run(ctx)
	if st := <-changed; !st.Ready {
		t.Fatal("not ready at start")
	}
	p.set(kiosk.PrinterCoverOpen)
	p.ch <- struct{}{}
	select {
	case st := <-changed:
		if st.Ready || len(st.Faults) != 1 || st.Faults[0] != kiosk.PrinterCoverOpen {
			t.Fatalf("status %+v", st)
		}
	case <-time.After(10 * time.Second):
		t.Fatal("the change was not asked about")
	}
}
