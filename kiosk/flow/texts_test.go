package flow

import (
	"fmt"
	"strings"
	"testing"
	"time"
	"unicode"
	"unicode/utf8"

	"tolem/kiosk"
	"tolem/kiosk/kiosktest"
)

var langs = []kiosk.Lang{kiosk.LangRU, kiosk.LangKK, kiosk.LangEN}

// note is the notice the flow would show now.
func note(f *Flow, lines ...text) notice {
	n := notice{state: f.state, lines: lines, sess: f.sess}
	if f.sess != nil {
		n.seq, n.total = f.sess.seq, f.sess.total
	}
	return n
}

// TestScreensFit renders every state in every language with the widest
// content a customer can meet, and checks that no line passes 20
// characters and nothing is left unfilled.
func TestScreensFit(t *testing.T) {
	longName := "Абдурахмангаджиева Гүлнәр Н."
	sess := func(total kiosk.Money) *session {
		return &session{Session: kiosk.Session{ID: "s", Phone: "+77011234567"}, total: total, counts: map[kiosk.Money]int{}}
	}
	type variant struct {
		name string
		set  func(f *Flow)
	}
	variants := map[kiosk.State][]variant{
		kiosk.StateIdle: {{"plain", func(*Flow) {}}},
		kiosk.StateEnterPhone: {
			{"empty", func(f *Flow) {}},
			{"full", func(f *Flow) { f.digits = "7011234567" }},
			{"need ten", func(f *Flow) { f.digits = "701"; f.notice = note(f, tNeedTen) }},
			{"bad number", func(f *Flow) { f.digits = "7271234567"; f.notice = note(f, tBadNumber) }},
			{"not found", func(f *Flow) { f.digits = "7011234567"; f.notice = note(f, tNotFound) }},
			{"mismatch", func(f *Flow) { f.notice = note(f, tMismatch) }},
		},
		kiosk.StateLookup: {{"plain", func(f *Flow) { f.phone = "+77011234567" }}},
		kiosk.StateConfirm: {
			{"short name", func(f *Flow) {
				f.phone = "+77011234567"
				f.wallet = kiosk.Wallet{Found: true, Name: "Нурлан К."}
			}},
			{"long name", func(f *Flow) { f.phone = "+77011234567"; f.wallet = kiosk.Wallet{Found: true, Name: longName} }},
			{"no receipt", func(f *Flow) {
				f.phone = "+77011234567"
				f.wallet = kiosk.Wallet{Found: true, Name: longName}
				f.d.Receipts = &fakeReceipts{}
			}},
		},
		kiosk.StateConfirmOffline: {
			{"empty", func(f *Flow) {}},
			{"full", func(f *Flow) { f.digits2 = "7011234567" }},
			{"need ten", func(f *Flow) { f.notice = note(f, tNeedTen) }},
			{"no receipt", func(f *Flow) { f.digits2 = "7011234567"; f.d.Receipts = &fakeReceipts{} }},
		},
		kiosk.StateInsertCash: {
			{"empty", func(f *Flow) { f.sess = sess(0) }},
			{"some", func(f *Flow) { f.sess = sess(kiosk.Tenge(12500)) }},
			{"199 800", func(f *Flow) { f.sess = sess(kiosk.Tenge(199800)) }},
			{"max", func(f *Flow) { f.sess = sess(kiosk.Tenge(200000)); f.noRoom = true }},
			{"rejected", func(f *Flow) { f.sess = sess(kiosk.Tenge(200000)); f.notice = note(f, tRejected) }},
			{"over max", func(f *Flow) { f.sess = sess(kiosk.Tenge(195000)); f.notice = note(f, tOverMax) }},
			{"refused, 19 800 more fits", func(f *Flow) {
				f.cfg.MaxAmount = kiosk.Tenge(200000)
				f.d.Acceptor = kiosktest.NewFakeAcceptor(kiosktest.NewFakeClock(time.Time{}))
				f.sess = sess(kiosk.Tenge(180200))
				f.notice = note(f, tRejected)
			}},
			{"no refund", func(f *Flow) {
				f.sess = sess(kiosk.Tenge(195000))
				f.notice = note(f, tNoRefund, tPressPay)
			}},
		},
		kiosk.StateCompleting: {{"max", func(f *Flow) { f.sess = sess(kiosk.Tenge(200000)) }}},
		kiosk.StateDone: {
			{"small", func(f *Flow) { f.lastTop = kiosk.TopUp{ID: "t", ReceiptNo: 1, Amount: kiosk.Tenge(200)} }},
			{"max", func(f *Flow) { f.lastTop = kiosk.TopUp{ID: "t", ReceiptNo: 999_999_999, Amount: kiosk.Tenge(200000)} }},
			{"code", func(f *Flow) {
				f.lastTop = kiosk.TopUp{ID: "t", ReceiptNo: 999_999_999, Amount: kiosk.Tenge(200000)}
				f.lastCode = "ABCDEFGHIJ"
			}},
		},
		kiosk.StateOutOfService: {
			{"plain", func(f *Flow) {}},
			{"starting", func(f *Flow) { f.reasons[ReasonStarting] = "x" }},
			{"payment saved", func(f *Flow) { f.sess = sess(kiosk.Tenge(200000)) }},
		},
		kiosk.StateMaintenance: {{"plain", func(*Flow) {}}},
		kiosk.StateSelectService: {
			{"wallet only", func(*Flow) {}},
			{"long names, page 2", func(f *Flow) {
				f.d.Catalog = func() kiosk.Catalog { return wideCatalog() }
				f.page = 1
			}},
		},
		kiosk.StateEnterAccount: {
			{"empty", func(f *Flow) { f.svc = wideCatalog().Services[2] }},
			{"full", func(f *Flow) { f.svc = wideCatalog().Services[2]; f.account = "12345678901234567890" }},
			{"bad", func(f *Flow) { f.svc = wideCatalog().Services[2]; f.notice = note(f, tBadAccount) }},
		},
		kiosk.StateEnterReceipt: {
			{"empty", func(*Flow) {}},
			{"full", func(f *Flow) { f.receiptDigits = "999999999" }},
		},
		kiosk.StateReceiptStatus: {
			{"waiting", func(f *Flow) { f.receiptNo = 999_999_999 }},
			{"missing", func(f *Flow) { f.receiptNo = 999_999_999; f.receiptMissing = true }},
			{"found", func(f *Flow) {
				f.d.Catalog = func() kiosk.Catalog { return wideCatalog() }
				f.receipt = &kiosk.ReceiptInfo{ReceiptNo: 999_999_999, Amount: kiosk.Tenge(200000), Service: "alseco",
					Payee: "***7890", State: kiosk.ReceiptRejected, CompletedAt: time.Date(2026, 12, 4, 10, 0, 0, 0, time.UTC)}
			}},
		},
	}
	variants[kiosk.StateConfirm] = append(variants[kiosk.StateConfirm],
		variant{"utility with debt", func(f *Flow) {
			f.svc = wideCatalog().Services[2]
			f.account = "12345678901234567890"
			f.acct = kiosk.Account{Found: true, Holder: longName, Address: longName, Debt: kiosk.Tenge(200000), HasDebt: true}
		}})
	for _, st := range kiosk.States() {
		vs, ok := variants[st]
		if !ok {
			t.Errorf("no screen variants for state %s", st)
			continue
		}
		for _, l := range langs {
			for _, v := range vs {
				f := New(Config{}, Deps{})
				f.state, f.lang = st, l
				v.set(f)
				scr := f.render()
				if scr.State != st || scr.Lang != l {
					t.Errorf("%s/%s/%s: screen labelled %s/%s", st, l, v.name, scr.State, scr.Lang)
				}
				blank := 0
				for i, line := range scr.Lines {
					if n := utf8.RuneCountInString(line); n > lineWidth {
						t.Errorf("%s/%s/%s line %d has %d characters: %q", st, l, v.name, i+1, n, line)
					}
					if strings.Contains(line, "%!") || strings.Contains(line, "%s") || strings.Contains(line, "%d") {
						t.Errorf("%s/%s/%s line %d badly formatted: %q", st, l, v.name, i+1, line)
					}
					if line == "" {
						blank++
					}
				}
				if blank == len(scr.Lines) {
					t.Errorf("%s/%s/%s: blank screen", st, l, v.name)
				}
			}
		}
	}
}

// wideCatalog has names longer than a line.
func wideCatalog() kiosk.Catalog {
	long := map[string]string{"ru": "Очень длинное название услуги", "kk": "Өте ұзын қызмет атауы бар", "en": "A very long service name indeed"}
	return kiosk.Catalog{Version: "w", Services: []kiosk.Service{
		{ID: "wallet", Kind: kiosk.KindWallet, Name: long, Account: kiosk.AccountRule{Kind: kiosk.AccountPhone}, Lookup: true},
		{ID: "m", Kind: kiosk.KindMobile, Name: long, Account: kiosk.AccountRule{Kind: kiosk.AccountPhone}},
		{ID: "alseco", Kind: kiosk.KindUtility, Name: long, Account: kiosk.AccountRule{Kind: kiosk.AccountDigits, MinLen: 6, MaxLen: 20}, Lookup: true},
		{ID: "l", Kind: kiosk.KindLoan, Name: long, Account: kiosk.AccountRule{Kind: kiosk.AccountDigits, MinLen: 10, MaxLen: 16}},
	}}
}

func TestScreenContent(t *testing.T) {
	f := New(Config{}, Deps{})
	f.state, f.lang = kiosk.StateConfirm, kiosk.LangEN
	f.phone = "+77011234567"
	f.wallet = kiosk.Wallet{Found: true, Name: "Абдурахмангаджиева Гүлнәр Н."}
	scr := f.render()
	if scr.Lines[1] != "Абдурахмангаджиева Г" {
		t.Errorf("long name shown as %q, want its first 20 characters", scr.Lines[1])
	}
	if scr.Lines[2] != "+7 (701) 123-45-67" {
		t.Errorf("number shown as %q", scr.Lines[2])
	}

	f.state = kiosk.StateDone
	f.lastTop = kiosk.TopUp{ID: "t", ReceiptNo: 1234, Amount: kiosk.Tenge(12500)}
	for _, l := range langs {
		f.lang = l
		scr := f.render()
		if !strings.Contains(scr.Lines[0], "12 500 ₸") || !strings.Contains(scr.Lines[1], "1234") {
			t.Errorf("%s done screen %q lacks the amount or receipt", l, scr.Lines)
		}
		if !strings.Contains(strings.Join(scr.Lines[2:], " "), "30") {
			t.Errorf("%s done screen %q lacks the 30 minutes", l, scr.Lines)
		}
	}
}

// TestTextsTable checks the translator's table itself: every line in all
// three languages, within the width once filled, and each word in one
// script (a Latin "a" or "o" inside a Cyrillic word looks right on a
// terminal and wrong on the display).
func TestTextsTable(t *testing.T) {
	kazakh := "әғқңөұүһіӘҒҚҢӨҰҮҺІ"
	usedKazakh := map[rune]bool{}
	for id := tIdleTitle; id <= tService; id++ {
		row, ok := texts[id]
		if !ok {
			t.Errorf("text %d has no row", id)
			continue
		}
		for li, s := range row {
			l := kiosk.Lang(li)
			if s == "" {
				t.Errorf("text %d has no %s", id, l)
			}
			filled := s
			switch {
			case strings.Contains(s, "%s"):
				filled = fmt.Sprintf(s, kiosk.Tenge(200000))
			case strings.Contains(s, "%d"):
				filled = fmt.Sprintf(s, 999_999_999)
			}
			if n := utf8.RuneCountInString(filled); n > lineWidth {
				t.Errorf("text %d in %s is %d characters filled: %q", id, l, n, filled)
			}
			for _, w := range strings.Fields(s) {
				latin, cyr := false, false
				for _, r := range w {
					latin = latin || unicode.Is(unicode.Latin, r)
					cyr = cyr || unicode.Is(unicode.Cyrillic, r)
				}
				if latin && cyr {
					t.Errorf("text %d in %s mixes scripts in %q", id, l, w)
				}
			}
			if l == kiosk.LangKK {
				for _, r := range s {
					if strings.ContainsRune(kazakh, r) {
						usedKazakh[unicode.ToLower(r)] = true
					}
				}
			}
			if l == kiosk.LangEN {
				for _, r := range s {
					if unicode.Is(unicode.Cyrillic, r) {
						t.Errorf("English text %d has Cyrillic: %q", id, s)
						break
					}
				}
			}
		}
	}
	if len(usedKazakh) < 6 {
		t.Errorf("the Kazakh texts use only %d of the Kazakh letters: are they typed with Russian look-alikes?", len(usedKazakh))
	}
	if _, ok := texts[tService+1]; ok {
		t.Error("texts has a row past tService; extend the loop above")
	}
}

func TestFit(t *testing.T) {
	for in, want := range map[string]string{
		"":                       "",
		"Нурлан К.":              "Нурлан К.",
		"a\nb\tc":                "a b c",
		"12345678901234567890":   "12345678901234567890",
		"1234567890123456789 12": "1234567890123456789",
		"Абдурахмангаджиева Гүлнәр": "Абдурахмангаджиева Г",
	} {
		if got := fit(in); got != want {
			t.Errorf("fit(%q) = %q, want %q", in, got, want)
		}
	}
}

// A note refused near the maximum says how much more fits, in each
// language; the notice is gone once the next bill is taken or the total
// changes, so it never stands over an accepted note.
func TestRefusalNotice(t *testing.T) {
	f := New(Config{MaxAmount: kiosk.Tenge(200000)}, Deps{Acceptor: kiosktest.NewFakeAcceptor(kiosktest.NewFakeClock(time.Time{}))})
	f.state = kiosk.StateInsertCash
	f.sess = &session{Session: kiosk.Session{ID: "s"}, total: kiosk.Tenge(190000), counts: map[kiosk.Money]int{}}
	f.notice = note(f, tRejected)
	for _, tc := range []struct {
		lang   kiosk.Lang
		l2, l3 string
	}{
		{kiosk.LangRU, "Купюра не принята", "Можно ещё " + kiosk.Tenge(10000).String()},
		{kiosk.LangKK, "Банкнот қабылданбады", "Тағы " + kiosk.Tenge(10000).String() + " сыяды"},
		{kiosk.LangEN, "Bill not accepted", "Up to " + kiosk.Tenge(10000).String() + " more"},
	} {
		f.lang = tc.lang
		scr := f.render()
		if scr.Lines[2] != tc.l2 || scr.Lines[3] != tc.l3 {
			t.Errorf("%s: refused at 190 000 shows %q, want %q / %q", tc.lang, scr.Lines, tc.l2, tc.l3)
		}
	}

	// Far from the maximum a refusal is only a refusal.
	f.lang = kiosk.LangEN
	f.sess.total = kiosk.Tenge(5000)
	f.notice = note(f, tRejected)
	if scr := f.render(); scr.Lines[2] != "Bill not accepted" || scr.Lines[3] != "OK - PAY" {
		t.Errorf("refused at 5 000 shows %q", scr.Lines)
	}

	// The next bill taken, then the total changing, each end the notice.
	f.sess.seq++
	if scr := f.render(); scr.Lines[2] == "Bill not accepted" {
		t.Errorf("refusal still shown after the next bill was taken: %q", scr.Lines)
	}
	f.notice = note(f, tRejected)
	f.sess.total += kiosk.Tenge(1000)
	if scr := f.render(); scr.Lines[2] == "Bill not accepted" {
		t.Errorf("refusal still shown after the total changed: %q", scr.Lines)
	}
}
