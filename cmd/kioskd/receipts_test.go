package main

import (
	"bufio"
	"context"
	"crypto/hmac"
	"crypto/sha256"
	"encoding/json"
	"fmt"
	"log/slog"
	"net"
	"net/http"
	"path/filepath"
	"strings"
	"sync"
	"testing"
	"time"

	"tolem/devices/panel/simpanel"
	"tolem/devices/printer/printertest"
	"tolem/kiosk"
	"tolem/kiosk/config"
	"tolem/kiosk/ledger"
)

const receiptSecret = "s3cret"

// printerRig is the kiosk's receipt path as kioskd wires it, on a real
// ledger and the ESC/POS driver talking to the emulator on a pty.
type printerRig struct {
	t    *testing.T
	path string
	emu  *printertest.Emulator
	cfg  *config.Config
	led  *ledger.Ledger
	rc   *receipts
	cond *condRecorder
	stop context.CancelFunc
}

type condRecorder struct {
	mu  sync.Mutex
	set map[string]bool
}

func (c *condRecorder) SetCondition(name string, on bool) {
	c.mu.Lock()
	defer c.mu.Unlock()
	c.set[name] = on
}

func (c *condRecorder) ReceiptsChanged() {}

func (c *condRecorder) get(name string) bool {
	c.mu.Lock()
	defer c.mu.Unlock()
	return c.set[name]
}

func newPrinterRig(t *testing.T, required bool) *printerRig {
	emu, err := printertest.Start()
	if err != nil {
		t.Skipf("no pty: %v", err)
	}
	t.Cleanup(func() { emu.Close() })
	cfg := config.Default()
	cfg.TerminalID = "KZ-ALA-0001"
	cfg.Bank.Secret = receiptSecret
	cfg.Printer.Kind = config.PrinterESCPOS
	cfg.Printer.Port = emu.Path()
	cfg.Printer.Columns = 48
	cfg.Printer.Required = required
	cfg.Printer.Header = []string{"АО «Банк»", "Терминал у входа", "Алматы, пр. Абая 1"}
	cfg.Printer.CheckURL = "https://bank.example/check?t={terminal}&r={receipt}&c={code}"
	r := &printerRig{t: t, path: filepath.Join(t.TempDir(), "ledger.db"), emu: emu, cfg: cfg}
	r.start()
	return r
}

// start is a kioskd start: the ledger opened, the printer's service run.
func (r *printerRig) start() {
	r.t.Helper()
	led, err := ledger.Open(context.Background(), r.path, ledger.Options{})
	if err != nil {
		r.t.Fatal(err)
	}
	r.led = led
	w := &wiring{cfg: r.cfg, log: slog.New(slog.DiscardHandler), ledger: led}
	rc, err := newReceipts(w, &frontPanel{})
	if err != nil {
		r.t.Fatal(err)
	}
	r.rc = rc
	r.cond = &condRecorder{set: map[string]bool{}}
	ctx, cancel := context.WithCancel(context.Background())
	r.stop = cancel
	rc.start(ctx, r.cond)
	r.wait()
	r.t.Cleanup(r.kill)
}

// kill stops everything at once, as a power cut would: no more writes.
func (r *printerRig) kill() {
	if r.stop == nil {
		return
	}
	r.stop()
	r.rc.Close()
	r.led.Close()
	r.stop = nil
}

func (r *printerRig) wait() {
	r.t.Helper()
	ctx, cancel := context.WithTimeout(context.Background(), 30*time.Second)
	defer cancel()
	if err := r.rc.svc.Wait(ctx); err != nil {
		r.t.Fatal(err)
	}
}

// topUp commits a top-up of the given bills, as the flow does.
func (r *printerRig) topUp(session string, values ...kiosk.Money) kiosk.TopUp {
	r.t.Helper()
	ctx := context.Background()
	now := time.Now()
	must := func(err error) {
		r.t.Helper()
		if err != nil {
			r.t.Fatal(err)
		}
	}
	must(r.led.OpenSession(ctx, kiosk.Session{ID: session, Phone: "+77011234567", OpenedAt: now}))
	for i, v := range values {
		must(r.led.RecordEscrow(ctx, kiosk.BillRecord{SessionID: session, Seq: i + 1, Value: v, At: now}))
		must(r.led.MarkStacked(ctx, kiosk.BillID(session, i+1), now))
	}
	t, err := r.led.CompleteTopUp(ctx, session, now)
	must(err)
	return t
}

// scratchCode is SPEC §8's formula written out again, base32 included.
func scratchCode(secret, terminal string, t kiosk.TopUp) string {
	m := hmac.New(sha256.New, []byte(secret))
	fmt.Fprintf(m, "receipt\n%s\n%d\n%s\n%d\n%s", terminal, t.ReceiptNo, t.ID, int64(t.Amount), t.CompletedAt.UTC().Format(time.RFC3339))
	sum := m.Sum(nil)
	const alphabet = "ABCDEFGHIJKLMNOPQRSTUVWXYZ234567"
	var out strings.Builder
	var acc, bits uint
	for _, c := range sum {
		acc, bits = acc<<8|uint(c), bits+8
		for bits >= 5 && out.Len() < 10 {
			out.WriteByte(alphabet[(acc>>(bits-5))&31])
			bits -= 5
		}
	}
	return out.String()
}

// A top-up's receipt printed through the ESC/POS driver and read back from
// the emulator holds every field of SPEC §8, the check URL as its QR code,
// and the code the formula gives; in Kazakh too, where the letters CP866
// lacks come out of the raster lines.
func TestReceiptThroughEmulator(t *testing.T) {
	r := newPrinterRig(t, false)
	for i, lang := range []kiosk.Lang{kiosk.LangRU, kiosk.LangKK} {
		tu := r.topUp(fmt.Sprintf("s%d", i), kiosk.Tenge(500), kiosk.Tenge(2000), kiosk.Tenge(10000))
		printing, code := r.rc.svc.Issue(tu, lang)
		r.wait()
		if !printing {
			t.Fatal("a printer with paper does not print")
		}
		if want := scratchCode(receiptSecret, "KZ-ALA-0001", tu); code != want {
			t.Fatalf("code %s, the formula gives %s", code, want)
		}
		rs, err := r.emu.WaitReceipts(i+1, 10*time.Second)
		if err != nil {
			t.Fatal(err)
		}
		got := rs[i]
		text := printertest.Fold(strings.Join(strings.Fields(strings.Join(got.Text(), "\n")), " "))
		local := tu.CompletedAt.In(r.cfg.Printer.Location()).Format("02.01.2006 15:04:05")
		fields := []string{"АО «Банк»", "Терминал у входа", "Алматы, пр. Абая 1", "KZ-ALA-0001", local,
			fmt.Sprintf("№: %d", tu.ReceiptNo), "+7701***4567", "500 ₸ x 1 500 ₸", "2 000 ₸ x 1 2 000 ₸",
			"10 000 ₸ x 1 10 000 ₸", "12 500 ₸", "0 ₸", code}
		if lang == kiosk.LangRU {
			fields = append(fields, "Пополнение кошелька", "Комиссия:", "принято, зачисление в течение 30 мин", "Код проверки:")
		} else {
			fields = append(fields, "Қызмет:", "Әмиянды толтыру", "қабылданды, 30 минут ішінде есептеледі", "Тексеру коды:")
		}
		for _, f := range fields {
			if !strings.Contains(text, printertest.Fold(f)) {
				t.Errorf("%s: %q not on the receipt:\n%s", lang, f, strings.Join(got.Text(), "\n"))
			}
		}
		wantQR := fmt.Sprintf("https://bank.example/check?t=KZ-ALA-0001&r=%d&c=%s", tu.ReceiptNo, code)
		if got.QR != wantQR || !got.Cut {
			t.Errorf("QR %q (cut %v), want %q", got.QR, got.Cut, wantQR)
		}
	}
}

// Killed after the receipt printed: the restart prints nothing. Killed
// between the commit and the printer: a quick restart prints it, once. An
// old one is not printed for the next customer.
func TestReceiptOnceAcrossRestart(t *testing.T) {
	r := newPrinterRig(t, false)
	a := r.topUp("a", kiosk.Tenge(1000))
	r.rc.svc.Issue(a, kiosk.LangRU)
	r.wait()
	r.kill()
	r.start()
	if n := len(r.emu.Receipts()); n != 1 {
		t.Fatalf("%d receipts after a restart following a printed one, want 1", n)
	}

	b := r.topUp("b", kiosk.Tenge(2000)) // committed; the power fails before the printer
	r.kill()
	r.start()
	rs, err := r.emu.WaitReceipts(2, 10*time.Second)
	if err != nil {
		t.Fatal(err)
	}
	if !strings.Contains(strings.Join(rs[1].Text(), " "), fmt.Sprint(b.ReceiptNo)) {
		t.Fatalf("the receipt printed at restart is not receipt %d:\n%s", b.ReceiptNo, strings.Join(rs[1].Text(), "\n"))
	}
	r.kill()
	r.start()
	if n := len(r.emu.Receipts()); n != 2 {
		t.Fatalf("%d receipts after a second restart, want 2", n)
	}

	old := r.topUp("c", kiosk.Tenge(5000))
	r.kill()
	r.cfg.Printer.ResumeWithin = time.Nanosecond // the customer left long ago
	r.start()
	if n := len(r.emu.Receipts()); n != 2 {
		t.Fatalf("receipt %d of a top-up older than the resume window printed", old.ReceiptNo)
	}
	if st, _ := r.led.ReceiptState(context.Background(), a.ID); st != "printed" {
		t.Fatalf("receipt %d state %q", a.ReceiptNo, st)
	}

	// reprint prints a copy marked as one, and the audit says who.
	if err := r.rc.svc.Reprint(context.Background(), a.ReceiptNo, "t01"); err != nil {
		t.Fatal(err)
	}
	rs, err = r.emu.WaitReceipts(3, 10*time.Second)
	if err != nil {
		t.Fatal(err)
	}
	if !strings.Contains(strings.Join(rs[2].Text(), " "), "КОПИЯ") {
		t.Fatalf("copy not marked:\n%s", strings.Join(rs[2].Text(), "\n"))
	}
	tail, _ := r.led.AuditTail(context.Background(), 1)
	if len(tail) != 1 || tail[0].Actor != "t01" || tail[0].Action != "reprint" {
		t.Fatalf("audit %+v", tail)
	}
}

// Paper out: the confirm screen's readiness says no and the top-up's
// receipt is recorded skipped; with printer.required the kiosk is out of
// service until the paper is back.
func TestPaperOutRequired(t *testing.T) {
	r := newPrinterRig(t, true)
	if r.cond.get(conditionPrinter) {
		t.Fatal("out of service with paper in")
	}
	r.emu.SetPaperOut(true)
	r.rc.svc.Refresh()
	r.wait()
	if r.rc.flowSide().Ready() || !r.cond.get(conditionPrinter) {
		t.Fatal("paper out: still ready, or not out of service with printer.required")
	}
	tu := r.topUp("p", kiosk.Tenge(1000))
	printing, code := r.rc.flowSide().Issue(tu, kiosk.LangEN)
	r.wait()
	if printing || code == "" || len(r.emu.Receipts()) != 0 {
		t.Fatalf("printing %v code %q with no paper", printing, code)
	}
	if st, _ := r.led.ReceiptState(context.Background(), tu.ID); st != "skipped" {
		t.Fatalf("state %q, want skipped", st)
	}
	r.emu.SetPaperOut(false)
	r.rc.svc.Refresh()
	r.wait()
	if r.cond.get(conditionPrinter) {
		t.Fatal("still out of service with paper back")
	}
	if all, active := (printerMetrics{&wiring{receipts: r.rc}}).Faults(); len(all) != 6 || len(active) != 0 {
		t.Fatalf("metrics faults %v %v", all, active)
	}
}

// kioskd --sim prints each receipt on the panel socket as a RECEIPT line,
// and the QR code's URL, the sandbox's verify endpoint, says the code is
// valid once the top-up reached the bank.
func TestSimReceiptLineVerifiesAtTheBank(t *testing.T) {
	dir := shortDir(t)
	k := startSim(t, dir, "--sim-acceptor", "ccnet")
	watcher, err := net.Dial("unix", filepath.Join(dir, "panel.sock"))
	if err != nil {
		t.Fatal(err)
	}
	defer watcher.Close()
	k.toInsertCash()
	k.insertBill(1000, "1 000 ₸ inserted", func(s screenMsg) bool { return screenHas(s, "1 000 ₸") })
	k.send("KEY OK")
	k.waitState("done")

	rd := bufio.NewReader(watcher)
	watcher.SetReadDeadline(time.Now().Add(30 * time.Second))
	var line string
	for !strings.HasPrefix(line, "RECEIPT ") {
		if line, err = rd.ReadString('\n'); err != nil {
			t.Fatalf("no RECEIPT line: %v", err)
		}
	}
	no, id, code, lines, err := simpanel.DecodeReceipt(line)
	if err != nil || no != 1 || id == "" || len(code) != 10 {
		t.Fatalf("RECEIPT %q: %v", line, err)
	}
	var qr string
	for _, l := range lines {
		if u, ok := strings.CutPrefix(l, "[QR] "); ok {
			qr = u
		}
	}
	if !strings.Contains(qr, "/v1/receipts/verify?") || !strings.Contains(qr, "code="+code) {
		t.Fatalf("QR %q", qr)
	}
	deadline := time.Now().Add(30 * time.Second)
	for {
		resp, err := http.Get(qr)
		if err != nil {
			t.Fatal(err)
		}
		var c struct {
			Valid  bool   `json:"valid"`
			ID     string `json:"id"`
			Reason string `json:"reason"`
		}
		json.NewDecoder(resp.Body).Decode(&c)
		resp.Body.Close()
		if c.Valid && c.ID == id {
			break
		}
		if c.Reason != "unknown_receipt" || time.Now().After(deadline) {
			t.Fatalf("verify %s: %+v", qr, c)
		}
		time.Sleep(200 * time.Millisecond) // the outbox has not delivered it yet
	}
	k.stop()
}

// The paper running out in the middle of a receipt loses nothing: the
// top-up was committed before printing began; the receipt is recorded
// failed, and a copy is printed once the roll is changed.
func TestPaperEndsMidReceipt(t *testing.T) {
	r := newPrinterRig(t, false)
	r.emu.SetPaperLines(5)
	tu := r.topUp("m", kiosk.Tenge(2000))
	if printing, _ := r.rc.svc.Issue(tu, kiosk.LangRU); !printing {
		t.Fatal("not printing with paper in")
	}
	r.wait()
	if st, _ := r.led.ReceiptState(context.Background(), tu.ID); st != "failed" {
		t.Fatalf("receipt state %q, want failed", st)
	}
	got, _, err := r.led.TopUpByReceipt(context.Background(), tu.ReceiptNo)
	if err != nil || got.Amount != kiosk.Tenge(2000) || got.Sync != kiosk.SyncUnsent {
		t.Fatalf("top-up after the printer failed: %+v %v", got, err)
	}
	if r.rc.svc.Ready() || r.emu.Current().Lost == 0 {
		t.Fatal("the paper end was not noticed")
	}
	r.emu.SetPaperOut(false)
	r.emu.SetPaperLines(0)
	r.rc.svc.Refresh()
	r.wait()
	if err := r.rc.svc.Reprint(context.Background(), tu.ReceiptNo, "t01"); err != nil {
		t.Fatal(err)
	}
	rs, err := r.emu.WaitReceipts(1, 10*time.Second)
	if err != nil {
		t.Fatal(err)
	}
	if !strings.Contains(strings.Join(rs[0].Text(), " "), "КОПИЯ") {
		t.Fatalf("copy:\n%s", strings.Join(rs[0].Text(), "\n"))
	}
}
