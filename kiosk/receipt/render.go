package receipt

import (
	"fmt"
	"strconv"
	"strings"
	"time"
	"unicode/utf8"

	"tolem/kiosk"
)

// Widths a receipt is laid out for: characters per line of the printer's
// normal font on 58 mm paper (32) and on 80 mm paper (42 with a 12×24 font
// on a 512-dot head, 48 on a 576-dot head).
var Widths = []int{32, 42, 48}

// Layout is what every receipt of the kiosk shares.
type Layout struct {
	// TerminalID is the kiosk's id at the bank.
	TerminalID string
	// Header are the first lines, centred: the bank's and the kiosk's
	// names and the kiosk's address.
	Header []string
	// CheckURL is the QR code's text, with {terminal}, {receipt} and {code}
	// filled in; empty prints no QR code.
	CheckURL string
	// Width is the paper's columns (one of Widths).
	Width int
	// Location is the time zone of the printed date; nil is time.Local.
	Location *time.Location
}

// Receipt is one receipt to lay out.
type Receipt struct {
	TopUp kiosk.TopUp
	Code  string
	Lang  kiosk.Lang
	// Copy marks a receipt printed again on a technician's request.
	Copy bool
}

type words struct {
	service, serviceName, terminal, date, receiptNo, account, bills, amount,
	commission, total, state, credited, accepted, code, check, copy string
}

var dict = map[kiosk.Lang]words{
	kiosk.LangRU: {
		service: "Услуга", serviceName: "Пополнение кошелька", terminal: "Терминал", date: "Дата",
		receiptNo: "Чек №", account: "Счёт", bills: "Купюры", amount: "Сумма", commission: "Комиссия",
		total: "Итого", state: "Статус", credited: "зачислено",
		accepted: "принято, зачисление в течение 30 мин", code: "Код проверки",
		check: "Проверить чек", copy: "КОПИЯ",
	},
	kiosk.LangKK: {
		service: "Қызмет", serviceName: "Әмиянды толтыру", terminal: "Терминал", date: "Күні",
		receiptNo: "Чек №", account: "Шот", bills: "Банкноттар", amount: "Сома", commission: "Комиссия",
		total: "Барлығы", state: "Күйі", credited: "есептелді",
		accepted: "қабылданды, 30 минут ішінде есептеледі", code: "Тексеру коды",
		check: "Чекті тексеру", copy: "КӨШІРМЕ",
	},
	kiosk.LangEN: {
		service: "Service", serviceName: "Wallet top-up", terminal: "Terminal", date: "Date",
		receiptNo: "Receipt No", account: "Account", bills: "Bills", amount: "Amount", commission: "Commission",
		total: "Total", state: "Status", credited: "credited",
		accepted: "accepted, credited within 30 min", code: "Verification code",
		check: "Check the receipt", copy: "COPY",
	},
}

// Words returns the receipt's label of a few fields, for tests and the
// screens that show a code instead of a receipt.
func Words(l kiosk.Lang) (code, copy string) {
	w := dict[l]
	return w.code, w.copy
}

// CheckURL fills the {terminal}, {receipt} and {code} of a check URL.
func CheckURL(tmpl, terminalID string, receiptNo int64, code string) string {
	return strings.NewReplacer("{terminal}", terminalID, "{receipt}", strconv.FormatInt(receiptNo, 10),
		"{code}", code).Replace(tmpl)
}

// Render lays out a receipt for the paper's width.
func (lay Layout) Render(r Receipt) kiosk.ReceiptDoc {
	w, ok := dict[r.Lang]
	if !ok {
		w = dict[kiosk.LangRU]
	}
	width := lay.Width
	if width <= 0 {
		width = 42
	}
	loc := lay.Location
	if loc == nil {
		loc = time.Local
	}
	t := r.TopUp
	var out []kiosk.ReceiptLine
	add := func(l kiosk.ReceiptLine) { out = append(out, l) }
	centre := func(s string, bold bool) {
		for _, part := range wrap(s, width) {
			add(kiosk.ReceiptLine{Text: part, Align: kiosk.AlignCenter, Bold: bold})
		}
	}
	line := func(label, value string) {
		for _, l := range pairLines(label, value, width) {
			add(kiosk.ReceiptLine{Text: l})
		}
	}
	pair := func(label, value string) { line(label+":", value) }
	rule := strings.Repeat("-", width)

	if r.Copy {
		centre(w.copy, true)
	}
	for i, h := range lay.Header {
		centre(h, i == 0)
	}
	add(kiosk.ReceiptLine{Text: rule})
	pair(w.terminal, lay.TerminalID)
	pair(w.date, t.CompletedAt.In(loc).Format("02.01.2006 15:04:05"))
	pair(w.receiptNo, strconv.FormatInt(t.ReceiptNo, 10))
	service := w.serviceName
	if t.ServiceName() != kiosk.WalletServiceID {
		// The catalog's id: the receipt stays printable whatever catalog
		// the kiosk holds when it is reprinted.
		service = t.ServiceName()
	}
	pair(w.service, service)
	pair(w.account, kiosk.MaskAccount(t.Payee()))
	add(kiosk.ReceiptLine{Text: rule})
	add(kiosk.ReceiptLine{Text: w.bills + ":"})
	for _, b := range t.Bills {
		line(fmt.Sprintf("  %s x %d", b.Value, b.Count), kiosk.Money(int64(b.Value)*int64(b.Count)).String())
	}
	add(kiosk.ReceiptLine{Text: rule})
	pair(w.amount, t.Amount.String())
	pair(w.commission, kiosk.Money(0).String())
	add(kiosk.ReceiptLine{Text: fitPair(w.total+":", t.Amount.String(), width/2), Bold: true, Double: true})
	state := w.accepted
	if t.Sync == kiosk.SyncCredited {
		state = w.credited
	}
	pair(w.state, state)
	add(kiosk.ReceiptLine{Text: rule})
	add(kiosk.ReceiptLine{Text: fitPair(w.code+":", r.Code, width), Bold: true})
	doc := kiosk.ReceiptDoc{ReceiptNo: t.ReceiptNo, TopUpID: t.ID, Code: r.Code}
	if lay.CheckURL != "" {
		doc.QR = CheckURL(lay.CheckURL, lay.TerminalID, t.ReceiptNo, r.Code)
		centre(w.check, false)
	}
	if r.Copy {
		centre(w.copy, true)
	}
	doc.Lines = out
	return doc
}

// pairLines sets label left and value right on one line when both fit,
// else the label on its line and the value, wrapped, right-aligned below.
func pairLines(label, value string, width int) []string {
	if utf8.RuneCountInString(label)+1+utf8.RuneCountInString(value) <= width {
		return []string{fitPair(label, value, width)}
	}
	out := wrap(label, width)
	for _, v := range wrap(value, width) {
		out = append(out, strings.Repeat(" ", width-utf8.RuneCountInString(v))+v)
	}
	return out
}

// fitPair pads between label and value to width; when they do not fit the
// label is cut, never the value.
func fitPair(label, value string, width int) string {
	ln, vn := utf8.RuneCountInString(label), utf8.RuneCountInString(value)
	if ln+1+vn > width {
		keep := max(width-1-vn, 0)
		label = string([]rune(label)[:min(keep, ln)])
		ln = utf8.RuneCountInString(label)
	}
	return label + strings.Repeat(" ", max(width-ln-vn, 1)) + value
}

// wrap breaks s into lines of at most width characters at spaces.
func wrap(s string, width int) []string {
	var out []string
	var cur []rune
	for _, word := range strings.Fields(s) {
		wr := []rune(word)
		for len(wr) > width {
			if len(cur) > 0 {
				out = append(out, string(cur))
				cur = nil
			}
			out = append(out, string(wr[:width]))
			wr = wr[width:]
		}
		switch {
		case len(cur) == 0:
			cur = wr
		case len(cur)+1+len(wr) <= width:
			cur = append(append(cur, ' '), wr...)
		default:
			out = append(out, string(cur))
			cur = wr
		}
	}
	if len(cur) > 0 || len(out) == 0 {
		out = append(out, string(cur))
	}
	return out
}
