package flow

import "tolem/kiosk"

// text names one line of a screen. Every line the customer can see is in
// the table below, in Russian, Kazakh and English, so that a translator
// works on this file alone.
//
// Rules for translators: a line holds at most 20 characters once %s or %d
// is filled (an amount is at most "200 000 ₸", 9 characters; a receipt
// number at most 9 digits); TestScreensFit checks every screen. Use the
// Kazakh letters (ә ғ қ ң ө ұ ү һ і), never Latin or Cyrillic look-alikes:
// the display maps them to its own character set. The key names OK,
// CANCEL, BACK and LANG are printed on the keys and stay in Latin.
type text int

const (
	tIdleTitle text = iota + 1
	tPressOK
	tLangHint

	tEnterPhone
	tHintNext
	tNeedTen
	tBadNumber
	tNotFound
	tMismatch

	tChecking
	tPleaseWait

	tRecipient
	tConfirmHint
	tNoReceipt

	tBankOffline
	tTypeAgain

	tInsertBills
	tInserted // %s: the total
	tMax      // %s: the maximum
	tPayHint
	tCancelHint
	tMaxReached
	tPressPay
	tRejected
	tOverMax
	tNoRefund
	tCanAdd // %s: how much more fits under the maximum

	tCompleting
	tProcessing

	tPaid    // %s: the amount
	tReceipt // %d: the receipt number
	tDelayed1
	tDelayed2
	tCode // %s: the receipt's verification code
	tDelayedShort

	tOOS1
	tOOS2
	tStarting
	tPaymentSaved

	tMenuNav // then " page/pages"
	tStatusEntry
	tAccountIs // %s: the digits typed
	tDigits    // %s: "min-max"
	tBadAccount
	tAccountNotFound
	tNoBank1
	tNoBank2
	tUnavailable
	tDebt // %s: the debt
	tMin  // %s: the service's minimum
	tBelowMin
	tReceiptPrompt
	tReceiptNo // %d: the receipt number
	tNotHere1
	tNotHere2
	tStCredited
	tStPending
	tStRejected

	tService
)

// texts holds each line in kiosk.LangRU, kiosk.LangKK and kiosk.LangEN order.
var texts = map[text][3]string{
	// idle: the attract screen.
	tIdleTitle: {"Пополнение кошелька", "Әмиянды толтыру", "Top up your wallet"},
	tPressOK:   {"Нажмите OK", "OK басыңыз", "Press OK"},
	tLangHint:  {"Язык: LANG", "Тіл: LANG", "Language: LANG"},

	// enter_phone; the number itself is "+7 (___) ___-__-__".
	tEnterPhone: {"Введите номер:", "Нөмірді енгізіңіз:", "Enter phone number:"},
	tHintNext:   {"OK - далее", "OK - жалғастыру", "OK - continue"},
	tNeedTen:    {"Нужно 10 цифр", "10 цифр қажет", "Enter all 10 digits"},
	tBadNumber:  {"Неверный номер", "Нөмір қате", "Invalid number"},
	tNotFound:   {"Кошелёк не найден", "Әмиян табылмады", "Wallet not found"},
	tMismatch:   {"Номера не совпали", "Нөмірлер сәйкес емес", "Numbers differ"},

	// lookup.
	tChecking:   {"Проверка номера...", "Нөмір тексерілуде...", "Checking number..."},
	tPleaseWait: {"Подождите", "Күте тұрыңыз", "Please wait"},

	// confirm: the recipient's name as the bank sent it, then the number.
	tRecipient:   {"Получатель:", "Алушы:", "Recipient:"},
	tConfirmHint: {"OK да / CANCEL нет", "OK иә / CANCEL жоқ", "OK yes / CANCEL no"},
	// In place of tRecipient while the printer cannot print: the customer
	// learns it before any cash goes in.
	tNoReceipt: {"Чек не будет выдан", "Түбіртек берілмейді", "No receipt printed"},

	// confirm_offline: the bank is out of reach, the number is typed twice.
	tBankOffline: {"Банк недоступен", "Банк қолжетімсіз", "Bank offline"},
	tTypeAgain:   {"Введите номер снова", "Нөмірді қайталаңыз", "Type number again"},

	// insert_cash.
	tInsertBills: {"Вставьте купюры", "Банкнот салыңыз", "Insert banknotes"},
	tInserted:    {"Внесено: %s", "Салынды: %s", "Inserted: %s"},
	tMax:         {"Максимум: %s", "Ең көбі: %s", "Max: %s"},
	tPayHint:     {"OK - оплатить", "OK - төлеу", "OK - PAY"},
	tCancelHint:  {"CANCEL - отмена", "CANCEL - бас тарту", "CANCEL - cancel"},
	tMaxReached:  {"Максимум внесён", "Шекке жеттіңіз", "Maximum reached"},
	tPressPay:    {"Нажмите OK - оплата", "OK басып төлеңіз", "Press OK to PAY"},
	tRejected:    {"Купюра не принята", "Банкнот қабылданбады", "Bill not accepted"},
	tOverMax:     {"Сверх максимума", "Шектен асады", "Over the maximum"},
	tNoRefund:    {"Возврат невозможен", "Қайтару мүмкін емес", "No cash refunds"},
	tCanAdd:      {"Можно ещё %s", "Тағы %s сыяды", "Up to %s more"},

	// completing.
	tCompleting: {"Подождите...", "Күте тұрыңыз...", "Please wait..."},
	tProcessing: {"Идёт зачисление", "Төлем өтуде", "Processing payment"},

	// done.
	tPaid:     {"Оплачено: %s", "Төленді: %s", "Paid: %s"},
	tReceipt:  {"Чек № %d", "Түбіртек № %d", "Receipt No %d"},
	tDelayed1: {"При задержке", "Кешіксе, 30 минут", "If delayed, credited"},
	tDelayed2: {"зачислим за 30 мин", "ішінде түседі", "within 30 minutes"},
	// done without a printed receipt: the code the bank can check, in its
	// place.
	tCode:         {"Код: %s", "Код: %s", "Code: %s"},
	tDelayedShort: {"Зачислим за 30 мин", "30 минутта түседі", "Credited in 30 min"},

	// out_of_service.
	tOOS1:         {"Терминал временно", "Терминал уақытша", "Temporarily"},
	tOOS2:         {"не работает", "жұмыс істемейді", "out of service"},
	tStarting:     {"Запуск...", "Іске қосылуда...", "Starting..."},
	tPaymentSaved: {"Ваш платёж сохранён", "Төлеміңіз сақталды", "Your payment is safe"},

	// select_service: entries numbered 1-3 on each page, then this hint.
	tMenuNav:     {"OK > BACK <", "OK > BACK <", "OK > BACK <"},
	tStatusEntry: {"Статус платежа", "Төлем күйі", "Payment status"},

	// enter_account: the service's name, the digits typed, the lengths.
	tAccountIs:       {"Счёт: %s", "Шот: %s", "Acct: %s"},
	tDigits:          {"%s цифр", "%s цифр", "%s digits"},
	tBadAccount:      {"Неверный номер счёта", "Шот нөмірі қате", "Invalid account"},
	tAccountNotFound: {"Счёт не найден", "Шот табылмады", "Account not found"},

	// a service that takes no cash while the bank is out of reach.
	tNoBank1:     {"Нет связи с банком", "Банкпен байланыс жоқ", "Bank offline"},
	tNoBank2:     {"Попробуйте позже", "Кейінірек көріңіз", "Please try later"},
	tUnavailable: {"Услуга недоступна", "Қызмет қолжетімсіз", "Service unavailable"},

	// confirm of an account; insert_cash of a service with a minimum.
	tDebt:     {"Долг: %s", "Қарыз: %s", "Debt: %s"},
	tMin:      {"Минимум: %s", "Ең азы: %s", "Min: %s"},
	tBelowMin: {"Меньше минимума", "Ең аздан аз", "Below the minimum"},

	// enter_receipt, receipt_status.
	tReceiptPrompt: {"Номер чека:", "Түбіртек нөмірі:", "Receipt number:"},
	tReceiptNo:     {"Чек № %d", "Түбіртек № %d", "Receipt No %d"},
	tNotHere1:      {"не найден", "бұл терминалда", "not found"},
	tNotHere2:      {"на этом терминале", "табылмады", "at this kiosk"},
	tStCredited:    {"✓ Зачислен", "✓ Түсті", "✓ Credited"},
	tStPending:     {"! В обработке", "! Өңделуде", "! Pending"},
	tStRejected:    {"✗ Отклонён", "✗ Қабылданбады", "✗ Rejected"},

	// maintenance.
	tService: {"Идёт обслуживание", "Қызмет көрсетілуде", "Service in progress"},
}

// tr returns line t in language l.
func tr(l kiosk.Lang, t text) string {
	row, ok := texts[t]
	if !ok || l < 0 || int(l) >= len(row) {
		return ""
	}
	return row[l]
}
